#!/usr/bin/env bash
# A rank per node: the training guard around the real torchrun on the real local Slurm
# (docs/slurm.md, "A rank per node"). `sbatch -N2`, one `srun` task per node, each
# `gpufault guard --devices <its GPU> -- torchrun --nnodes 1:2 --rdzv-backend c10d
# --rdzv-endpoint <n1's address>:PORT … ddp_train.py`: the two nodes' torchrun agents join
# one elastic rendezvous and their workers form one gloo world. n2's virtual GPU turns
# faulty mid-run; n2's guard finds it, quarantines it, stops n2's torchrun and worker and
# exits 3 (too few GPUs), after writing the checkpoint it trusts to the job's resume-limit
# file (`--resume-limit-file`, in the shared checkpoint directory); the health check drains
# n2; n1's side goes on alone from the newest checkpoint at or below that limit and
# finishes with the fault-free loss. Runs every scenario and ends with one
# line `N passed, M failed` (exit 1 when M > 0).
#
#   scripts/slurm-torchrun-e2e.sh                # installs PyTorch once, builds, runs
#   GPUFAULT=target/release/gpufault scripts/slurm-torchrun-e2e.sh
#
# Needs root (slurmd; mknod). Install step: scripts/lib/torch.sh (the venv of
# scripts/torchrun-e2e.sh, reused; ~5 GB, never part of scripts/test.sh), the Slurm
# packages as scripts/slurm-e2e.sh installs them (scripts/lib/slurm.sh), then `cargo build
# --release` of gpufault and of the `guard_log` example. The cluster is its own: a
# temporary directory, its own munged and three random ports, so it should be able to
# run while scripts/slurm-e2e.sh runs (not tried; both would then run slower).
#
# Both "nodes" are this machine: the checkpoint directory is shared the way a cluster's
# shared file system is; the rendezvous endpoint is n1's NodeAddr (127.0.0.1), so n1's
# agent is told to host the store (`--rdzv-conf is_host=1`; n2 `is_host=0`): on a
# cluster the endpoint's host does it by matching its own address.
#
# Scenarios, each line of output `PASS`/`FAIL` with the scenario's name:
#   baseline   no fault, no Slurm: `torchrun --standalone --nproc-per-node 2`; the
#              reference loss
#   elastic    torchrun --max-restarts 1: when n2's worker is gone, n1's worker fails
#              in its next all-reduce and n1's agent restarts it in place after a new
#              rendezvous round with n1 alone (elastic scale-down); n1's guard only
#              watches (0 restarts)
#   fresh      torchrun --max-restarts 0: n1's agent exits when its worker fails, and
#              n1's guard starts a fresh torchrun (a new agent, hosting a new store)
# Each prints a `timing:` line (fault arrives → n2's guard detects → n2 drained → n2's
# rank gone → n1's worker fails → n1 re-rendezvous → first resumed step → job complete).
#
# E2E_KEEP=1 keeps the temporary directory; E2E_STEPS (default 1100) and E2E_STEP_MS
# (default 60: each step takes at least that long); E2E_FAULT_AFTER (default 45: seconds
# from the submission to the fault's arrival; the job must be training by then);
# E2E_LAST_CALL (default 5: torchrun's last_call_timeout, which must cover the nodes'
# start skew); E2E_SCENARIOS (default "elastic fresh"; baseline always runs).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD

# shellcheck source=lib/e2e.sh
source "$REPO/scripts/lib/e2e.sh" # pass, fail, check, note, summary
abort() { # abort WHY [DETAIL]: a setup step failed; nothing else can run
    fail "setup: $1" "${2:-}"
    exit 1
}
trap summary EXIT

if [[ $(id -u) != 0 ]]; then
    abort "needs root (slurmd runs the hooks and jobs as root; mknod)"
fi

# --- install -----------------------------------------------------------------------------
# shellcheck source=lib/torch.sh
source "$REPO/scripts/lib/torch.sh"
torch_venv # sets VENV, TORCHRUN
# shellcheck source=lib/slurm.sh
source "$REPO/scripts/lib/slurm.sh" # slurm_packages, slurm_dir, slurm_start, slurm_stop, helpers
slurm_packages || abort "apt-get install slurmctld slurmd slurm-client munge"

torch_binaries # sets GPUFAULT (built unless given), GUARD_LOG

STEPS=${E2E_STEPS:-1100}
STEP_MS=${E2E_STEP_MS:-60}
FAULT_AFTER=${E2E_FAULT_AFTER:-45}
LAST_CALL=${E2E_LAST_CALL:-5}
SCENARIOS=" ${E2E_SCENARIOS:-elastic fresh} "
TRAINER=$REPO/scripts/torchrun/ddp_train.py
export OMP_NUM_THREADS=1 # per rank

# --- the cluster -------------------------------------------------------------------------
slurm_dir gpufault-slurm-torchrun
trap 'slurm_teardown "logs in $D/log, each scenario'"'"'s in $D/<scenario>"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- baseline: no fault, no Slurm --------------------------------------------------------
note "baseline: torchrun --standalone --nproc-per-node 2, no fault ($STEPS steps, unpaced)"
B=$D/baseline
mkdir -p "$B"
timeout -k 10 300 "$TORCHRUN" --standalone --nproc-per-node 2 --max-restarts 0 "$TRAINER" \
    --steps "$STEPS" --checkpoint-every 20 --checkpoint-dir "$B/ckpt" \
    --summary "$B/summary.json" >"$B/job.out" 2>&1
summary_of() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print($1)" "$2" 2>/dev/null; }
BASE_LOSS=$(summary_of 's["full_loss"]' "$B/summary.json")
check "baseline: 2 ranks, $STEPS steps, loss on the data set ${BASE_LOSS:-none}" \
    test "$(summary_of 's["world_size"], s["steps"]' "$B/summary.json")" == "2 $STEPS"
[[ -n $BASE_LOSS ]] || abort "baseline: no loss" "$(tail -5 "$B/job.out")"

slurm_start gpufault-torchrun
note "n1 and n2 idle"
U2=$(uuid_of sim:h100#2 "$D/n2.json")
FAULT="iat:sm=5,sp=1,warps=0x1,lanes=0xffffffff,dim=x,mask=0x4,pol=sa1"
echo '{"gpus": {}}' >"$D/n2.json" # n2's GPUs: #2 turns faulty in each scenario below

# The job: one srun task per node, each this node's guard around its torchrun.
cat >"$D/job.sh" <<'JOB'
#!/bin/bash
# job.sh WORK PORT TORCHRUN_RESTARTS: a guarded torchrun on every node of the job. The
# job completed if a node's guard saw the trainer's completion marker (exit 0): a node
# whose GPU failed leaves with exit 3 while the others finish.
set -u
work=$1
head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -1)
RDZV_HEAD=$head RDZV_ADDR=$(scontrol show node "$head" | grep -o 'NodeAddr=[^ ]*' | cut -d= -f2)
export RDZV_HEAD RDZV_ADDR
srun --kill-on-bad-exit=0 "$E2E_DIR/node.sh" "$@"
rc=$?
codes=$(for f in "$work"/rc-*; do printf '%s=%s ' "${f##*/rc-}" "$(cat "$f")"; done)
echo "srun exit $rc; guards: $codes"
grep -qx 0 "$work"/rc-* 2>/dev/null
JOB
cat >"$D/node.sh" <<'NODE'
#!/bin/bash
# node.sh WORK PORT TORCHRUN_RESTARTS: this node's guard around its torchrun agent.
set -u
work=$1 port=$2 restarts=$3
node=$SLURMD_NODENAME
# this node's GPU: the GRES index Slurm gave the step, among the node's virtual GPUs
read -r -a gpus <<<"$(eval echo "\$GPUS_$node")"
idx=${SLURM_STEP_GPUS:-${SLURM_JOB_GPUS:-0}}
dev=${gpus[${idx%%,*}]}
is_host=0
[[ $node == "$RDZV_HEAD" ]] && is_host=1
echo "$node: GRES $idx -> $dev, rendezvous $RDZV_ADDR:$port (is_host=$is_host)" >"$work/node-$node.txt"
LOGLEVEL=INFO "$GPUFAULT" guard --devices "$dev" --node-config "$E2E_DIR/$node.json" \
    --ledger "$LEDGER" --check-every 2 --grace 5 --max-restarts 1 \
    --events "$work/guard-$node.jsonl" --progress "$work/progress-$node.json" \
    --resume-limit-file "$work/ckpt/resume-limit.json" -- \
    "$TORCHRUN" --nnodes 1:2 --nproc-per-node 1 --max-restarts "$restarts" \
    --rdzv-backend c10d --rdzv-endpoint "$RDZV_ADDR:$port" --rdzv-id "gpufault-$SLURM_JOB_ID" \
    --rdzv-conf "is_host=$is_host,last_call_timeout=$LAST_CALL,keep_alive_interval=1,keep_alive_max_attempt=2" \
    "$TRAINER" --steps "$STEPS" --checkpoint-every 20 --min-step-ms "$STEP_MS" \
    --checkpoint-dir "$work/ckpt" --pids "$work/pids" --summary "$work/summary.json" \
    >"$work/torchrun-$node.out" 2>&1
rc=$?
echo "$rc" >"$work/rc-$node"
exit "$rc"
NODE
chmod 755 "$D/job.sh" "$D/node.sh"
export E2E_DIR=$D GPUFAULT TORCHRUN TRAINER LEDGER STEPS STEP_MS LAST_CALL
export GPUS_n1="sim:h100#0 sim:h100#1" GPUS_n2="sim:h100#2 sim:h100#3"

# ev NODE CONDITION EXPR: EXPR of the first event `e` of NODE's guard where CONDITION holds
ev() { first_event "$W/guard-$1.jsonl" "$2" "$3"; }
# first_steps NODE: "STEP WORLD RESUMED_FROM UNIX" of each first step the trainer printed there
first_steps() { sed -n 's/^ddp_train.py: first step \([0-9]*\) rank [0-9]* world \([0-9]*\) resumed_from \([0-9]*\) unix \([0-9.]*\) .*/\1 \2 \3 \4/p' "$W/torchrun-$1.out"; }

# two_node NAME TORCHRUN_RESTARTS: one scenario; W is its directory
two_node() {
    local name=$1 restarts=$2
    W=$D/$name
    mkdir -p "$W"
    local port arrives job
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    arrives=$(calc "$(now) + $FAULT_AFTER")
    echo "{\"gpus\": {\"sim:h100#2\": {\"fault\": \"$FAULT\", \"fault_arrives_at\": $arrives}}}" >"$D/n2.json"
    local t_submit
    t_submit=$(now)
    job=$(sbatch --parsable -N2 --ntasks-per-node=1 --gres=gpu:1 --chdir="$W" -o "$W/job.out" \
        "$D/job.sh" "$W" "$port" "$restarts") || { fail "$name: sbatch"; return; }
    T_N2_DRAINED=
    job_over() {
        if [[ -z $T_N2_DRAINED ]] && drained n2; then T_N2_DRAINED=$(now); fi
        [[ $(job_state "$job") =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL)$ ]]
    }
    if ! wait_for 400 job_over; then
        fail "$name: the job ended within 400 s" "$(job_state "$job"); $(tail -3 "$W"/torchrun-n1.out 2>/dev/null)"
        scancel "$job" 2>/dev/null
        wait_for 30 job_over
        return
    fi
    local t_end
    t_end=$(now)
    check "$name: the job completed ($(tail -1 "$W/job.out" 2>/dev/null))" job_done "$job"
    check "$name: one srun task per node, each its own GPU ($(cat "$W"/node-n1.txt "$W"/node-n2.txt 2>/dev/null | cut -d, -f1 | tr '\n' ' '))" \
        test "$(cat "$W"/node-n1.txt "$W"/node-n2.txt 2>/dev/null | cut -d' ' -f5 | tr -d , | tr '\n' ' ')" == "sim:h100#0 sim:h100#2 "
    local first0
    first0=$(first_steps n1 | awk '$2 == 2 { print $4; exit }')
    if [[ -z $first0 ]] || ! is "$first0 < $arrives"; then
        fail "$name: both nodes trained together (world 2) before the fault arrived" \
            "first world-2 step at ${first0:-never}, the fault at $arrives: raise E2E_FAULT_AFTER, or E2E_LAST_CALL if the nodes started apart"
        return
    fi
    pass "$name: both nodes trained together (world 2); the fault arrived $(calc "$arrives - $first0" | cut -d. -f1) s after the first step"
    local found
    found=$(ev n2 "e['event']=='fault_detected'" "' '.join([e['source'], *e['devices'], str(e['unix'] > $arrives)])")
    check "$name: n2's guard found its GPU faulty after the fault arrived ($found)" \
        test "$found" == "periodic_check sim:h100#2 True"
    check "$name: ... quarantined its UUID in the ledger" grep -q "$U2" "$LEDGER"
    check "$name: ... stopped n2's torchrun and worker and exited 3 (too few GPUs)" \
        test "$(ev n2 "e['event']=='stopped'" "'stopped'") $(ev n2 "e['event']=='guard_finished'" "e['exit_code']")" == "stopped 3"
    local hc
    hc=$(records "r['hook']=='healthcheck' and r['node']=='n2' and r['action']=='drained' and r['unix'] > $t_submit" | head -1)
    n2_drained() { [[ -n $hc ]] && drained n2 && [[ $(reason n2) == "gpufault: "*"$U2"* ]]; }
    check "$name: the health check drained n2 with a gpufault: reason naming the GPU ($(reason n2 | cut -c1-70)…)" n2_drained
    local resumed
    resumed=$(first_steps n1 | awk '$2 == 1 { print $3; exit }')
    resumed_ok() { [[ ${resumed%% *} =~ ^[1-9][0-9]*$ ]]; }
    check "$name: n1 went on alone (world 1), resumed from checkpoint ${resumed%% *} in the shared directory" resumed_ok
    # n2's guard trusted no checkpoint written after its last clean check began: it wrote
    # that limit to the job's resume-limit file, and n1's worker, restarted without n2's
    # guard, must resume at or below it (issue 19: it took the newest, 100-140 steps past)
    local limit at_most
    limit=$(ev n2 "e['event']=='resume_limit'" "e.get('job_step', e.get('error'))")
    at_most=$(sed -n 's/^ddp_train.py: first step [0-9]* rank [0-9]* world 1 .* at_most \([0-9a-z]*\)$/\1/p' "$W/torchrun-n1.out" | head -1)
    limited() { [[ $limit =~ ^[0-9]+$ && $at_most == "$limit" && ${resumed%% *} =~ ^[0-9]+$ ]] && ((${resumed%% *} <= limit)); }
    check "$name: ... at or below the resume limit n2's guard wrote to the job's file (resumed ${resumed%% *}, limit ${limit:-none}, n1's trainer read ${at_most:-nothing})" limited
    if [[ $restarts -gt 0 ]]; then
        check "$name: ... its worker restarted in place by n1's torchrun agent (n1's guard: 0 restarts)" \
            test "$(ev n1 "e['event']=='guard_finished'" "e['exit_code'], e['restarts']")" == "(0, 0)"
    else
        check "$name: ... in a fresh torchrun that n1's guard started (n1's guard: 1 restart, exit 0)" \
            test "$(ev n1 "e['event']=='guard_finished'" "e['exit_code'], e['restarts']")" == "(0, 1)"
    fi
    local loss
    loss=$(summary_of 's["full_loss"]' "$W/summary.json")
    check "$name: finished on 1 rank with the fault-free loss: $loss vs $BASE_LOSS (|diff| <= 1e-9)" \
        is "$(summary_of 's["world_size"]' "$W/summary.json" || echo 0) == 1 && ${loss:-99} - $BASE_LOSS <= 1e-9 && $BASE_LOSS - ${loss:-99} <= 1e-9"
    # nothing left: no process carrying either guard's run id, none working in $D
    local live
    live=$(for n in n1 n2; do "$GUARD_LOG" "$W/guard-$n.jsonl" 2>/dev/null | python3 -c 'import json,sys; print(*json.load(sys.stdin)["live"])'; done | tr -s ' \n' ' ')
    local left
    left=$(comm -12 <(strays | sort) <(sleep 1; strays | sort))
    check "$name: nothing of the job left on n1 or n2 (run ids: [${live// /}], processes in the job's directories: [$left])" \
        test -z "${live// /}$left"
    python3 - "$W" "$arrives" "${T_N2_DRAINED:-0}" "$t_end" "$hc" <<'PY' || fail "$name: the timeline"
import json, re, sys, time
w, arrives, seen_drained, t_end, hc = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ev = lambda n: [json.loads(l) for l in open(f"{w}/guard-{n}.jsonl")]
first = lambda evs, cond: next((e for e in evs if cond(e)), None)
n1, n2 = ev("n1"), ev("n2")
det = first(n2, lambda e: e["event"] == "fault_detected")
chk = [e for e in n2 if e["event"] == "checked" and e["unix"] <= det["unix"]][-1]
def glog_times(node, pattern):  # torchrun's log lines: I1206 09:46:54.149000 PID file:line] …
    out = []
    for line in open(f"{w}/torchrun-{node}.out"):
        m = re.match(r"[IWE](\d{4}) (\d\d:\d\d:\d\d)\.(\d+) .*" + pattern, line)
        if m:
            t = time.mktime(time.strptime(f"{time.gmtime(arrives).tm_year}{m[1]} {m[2]}", "%Y%m%d %H:%M:%S"))
            out.append(t + float("0." + m[3]))
    return out
steps = [("n2's check that found it began", chk["unix"] - chk["duration_ms"] / 1e3),
         ("n2's guard detects", det["unix"])]
if hc:
    r = json.loads(hc)
    steps.append(("n2 drained (health check's scontrol returned)", r["unix"] + r["timings"]["total_ms"] / 1e3))
stopped = first(n2, lambda e: e["event"] == "stopped")
steps.append((f"n2's rank gone (its torchrun and worker stopped in {stopped['duration_ms'] / 1e3:.1f} s)", stopped["unix"]))
failed = [t for t in glog_times("n1", r"failed \(exitcode") if t >= arrives]
if failed:
    steps.append(("n1's worker failed (peer gone)", failed[0]))
# design "fresh": n1's torchrun exits, n1's guard checks its GPU and starts a new one
for name, cond in [
    ("n1's torchrun exited", lambda e: e["event"] == "job_exited" and e["attempt"] == 0 and not e.get("done")),
    ("n1's guard checked its GPU (after_exit)", lambda e: e["event"] == "checked" and e["purpose"] == "after_exit"),
    ("n1's guard started a fresh torchrun", lambda e: e["event"] == "job_started" and e["attempt"] == 1),
]:
    e = first(n1, cond)
    if e:
        steps.append((name, e["unix"]))
rdzv = [t for t in glog_times("n1", r"Rendezvous complete for workers") if t >= arrives]
if rdzv:
    steps.append(("n1 re-rendezvous complete (world 1)", rdzv[0]))
fs = None
for line in open(f"{w}/torchrun-n1.out"):
    m = re.match(r"ddp_train.py: first step (\d+) rank \d+ world 1 resumed_from (\d+) unix ([\d.]+) started ([\d.]+) joined ([\d.]+)", line)
    if m:
        fs = m
        break
# (its process start, from /proc, is off by up to 1 s: the kernel's boot time is whole seconds)
steps.append(("n1's new worker joined its process group (import torch, init_process_group)", float(fs[5])))
steps.append((f"first resumed step on n1 (step {fs[1]}, from checkpoint {fs[2]})", float(fs[3])))
done = first(n1, lambda e: e["event"] == "guard_finished")
steps.append(("job complete (n1's guard saw the marker)", done["unix"]))
# the newest checkpoint n2's guard trusted (seen before its last clean check began), as
# it wrote it to the job's resume-limit file, which n1's trainer obeys
lim = first(n2, lambda e: e["event"] == "resume_limit")
trusted = lim["step"] if lim else None
if lim:
    steps.append(("n2's guard wrote the resume limit", lim["unix"]))
# what n1 would have resumed from without the limit: the newest checkpoint by then
newest = max((e["step"] for e in n1 + n2 if e["event"] == "job_checkpoint"
              and lim and e["unix"] <= lim["unix"]), default=None)
steps.sort(key=lambda s: round(s[1], 1))  # the nodes overlap: in the order they happened (to 0.1 s)
parts = "; ".join(f"{n} +{t - arrives:.1f} s" for n, t in steps)
print(f"timing: {sys.argv[1].rsplit('/', 1)[1]}: after the fault arrived: {parts}; "
      f"from n2's detection to the first resumed step on n1 {float(fs[3]) - det['unix']:.1f} s; "
      f"resumed from checkpoint {fs[2]}, n2's guard's resume limit {trusted} (the newest checkpoint then: {newest})"
      + (f" (n2 seen drained by the script +{seen_drained - arrives:.1f} s)" if seen_drained else ""))
json.dump({"arrives": arrives, "steps": steps, "resumed_from": int(fs[2]), "n2_trusted": trusted, "newest_then": newest}, open(f"{w}/timeline.json", "w"))
PY
}

# between scenarios: n2's GPU repaired and released, n2 undrained by the health check
reset_n2() {
    echo '{"gpus": {}}' >"$D/n2.json"
    gf quarantine release "$U2" --ledger "$LEDGER" --force --reason "scenario over" >/dev/null 2>&1
    wait_for $((3 * HC_INTERVAL + 10)) idle n2 || fail "reset: n2 undrained after the release" "$(state n2) $(reason n2)"
}

if [[ $SCENARIOS == *" elastic "* ]]; then
    note "elastic: torchrun --max-restarts 1 on both nodes; n2's GPU turns faulty ${FAULT_AFTER} s after the submission"
    two_node elastic 1
    reset_n2
fi
if [[ $SCENARIOS == *" fresh "* ]]; then
    note "fresh: torchrun --max-restarts 0 on both nodes (n1's guard restarts it); the same fault"
    two_node fresh 0
    reset_n2
fi

no_jobs() { [[ -z $(squeue -h 2>/dev/null) ]]; }
wait_for 20 no_jobs || fail "processes: every job ended" "$(squeue)"
((FAILED == 0))
