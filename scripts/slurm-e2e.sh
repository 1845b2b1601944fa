#!/usr/bin/env bash
# gpufault's Slurm hooks on a real Slurm (docs/slurm.md): a controller and two compute
# nodes, n1 and n2, on this machine — no systemd, no GPUs — whose GPUs are virtual
# (each node its own virtual GPUs and node config). Runs every scenario against it,
# tears it all down (also on failure or Ctrl-C) and ends with one line:
# `N passed, M failed` (exit 1 when M > 0).
#
#   scripts/slurm-e2e.sh                          # builds target/debug/gpufault first
#   GPUFAULT=target/release/gpufault scripts/slurm-e2e.sh
#
# Needs root (slurmd runs jobs and hooks as root; fake GRES device files are made with
# mknod) and installs what is missing with apt-get: slurmctld slurmd slurm-client munge.
# Everything else lives in one temporary directory: a private munged (its own key and
# socket), slurm.conf and gres.conf, the state, spool and logs, the quarantine ledger,
# the hooks' configuration and log. Every daemon is stopped by the PID in its pidfile.
#
# Scenarios (docs/slurm.md, "The end-to-end test"), each line of output `PASS`/`FAIL`
# with the scenario's name:
#   prolog       a faulty virtual GPU on n2 → n2 drained with the check's `gpufault:`
#                reason, then the GPU in the ledger, exit 1; the job requeued (not held:
#                nohold_on_prolog_fail) and run on n1
#   healthcheck  keeps that drain while the GPU is quarantined, lifts it after the
#                release; drains n1 for a GPU quarantined by hand; never re-drains or
#                undrains an operator's drain
#   hostile      a quarantine reason with quotes, `;`, `$(…)`, backquotes, a line break
#                and a tab reaches scontrol as one argument: stored as sent, nothing runs
#   unknown      a GPU that cannot be opened: the prolog exits 3 without draining; Slurm
#                drains with its own reason, which the health check leaves alone
#   unrecorded   the ledger cannot be written after a drain (chattr +i): the reason
#                becomes `gpufault-unrecorded:`, which no health check lifts
#   epilog       a fault that arrives while a job runs → the node drained after the job
#   campaign     scripts/slurm-campaign.sh as an array job, merged: the rows of the same
#                campaign run on one machine
#   training-standin  sbatch -N2: n2's GPU turns faulty mid-run → n2 drained, the
#                training resumed from its checkpoint on n1 and finished, nothing left on
#                n2 (a stand-in: the trainer is one process on n1 and n2's rank a
#                placeholder; a real rank per node with torchrun:
#                scripts/slurm-torchrun-e2e.sh)
#   timings      verdict → drained, prolog and health-check durations, fault → resumed
#   processes    no job, step or hook process left behind
# E2E_KEEP=1 keeps the temporary directory (logs, ledger, hook records) after a pass;
# E2E_TRAIN_STEPS sets the training job's steps (default 4000: the fault arrives 18 s after
# submission, and the job must still be training then on a fast, idle machine — 1200 steps
# of the debug build finished in 13 s on an idle 2-core VM).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD

# shellcheck source=lib/e2e.sh
source "$REPO/scripts/lib/e2e.sh" # pass, fail, check, note, summary
# abort WHY: a setup step failed; nothing else can run.
abort() {
    fail "setup: $1" "${2:-}"
    exit 1
}

if [[ $(id -u) != 0 ]]; then
    fail "setup: needs root (slurmd runs the hooks as root; mknod)"
    summary
    exit 1
fi

# --- the binary --------------------------------------------------------------------
if [[ -z ${GPUFAULT:-} ]]; then
    note "building gpufault (debug)"
    cargo build --quiet --locked -p gpufault || { fail "setup: cargo build"; summary; exit 1; }
    GPUFAULT=$REPO/target/debug/gpufault
fi
GPUFAULT=$(realpath -- "$GPUFAULT")
[[ -x $GPUFAULT ]] || { fail "setup: no gpufault binary at $GPUFAULT"; summary; exit 1; }

# --- packages ----------------------------------------------------------------------
# shellcheck source=lib/slurm.sh
source "$REPO/scripts/lib/slurm.sh" # slurm_packages, slurm_dir, slurm_start, slurm_stop, helpers
slurm_packages || { fail "setup: apt-get install slurmctld slurmd slurm-client munge"; summary; exit 1; }

# --- the cluster -------------------------------------------------------------------
slurm_dir gpufault-slurm-e2e
mkdir -p "$D"/{jobs,camp}
trap 'slurm_teardown "logs in $D/log"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
slurm_start gpufault-e2e
T=$(now)
note "n1 and n2 idle"

U0=$(uuid_of sim:h100#0 "$D/n1.json")
U3=$(uuid_of sim:h100#3 "$D/n2.json")

# --- prolog: a faulty GPU ----------------------------------------------------------
note "prolog: a job on n2 (both GPUs) meets the faulty sim:h100#3"
T_SUBMIT=$(now)
JOB_A=$(sbatch --parsable --gres=gpu:2 --chdir="$D/jobs" -o "$D/jobs/%j.out" \
    --wrap 'echo "ran on $SLURMD_NODENAME"') || abort "sbatch"
if wait_for 60 drained n2; then
    T_DRAINED=$(now)
    R=$(reason n2)
    if [[ $R == "gpufault: faulty: $U3 SM5 "* ]]; then
        pass "prolog: the prolog drained n2 with the check's reason ($R)"
    else
        fail "prolog: the prolog drained n2 with the check's reason" "reason: $R"
    fi
else
    fail "prolog: the prolog drained n2" "$(state n2); $(tail -5 "$D/log/slurmd-n2.log")"
fi
PROLOG_A=$(records "r['hook']=='prolog' and r['node']=='n2' and r.get('job_id')=='$JOB_A'" | head -1)
check "prolog: the prolog exited 1 after drain and ledger (its record: drained, exit 1, ledger written)" \
    test "$(field "r['action'], r['exit'], 'ledger_ms' in r['timings']" <<<"$PROLOG_A")" == "drained 1 True"
in_ledger_with_check_evidence() { # UUID SM
    gf quarantine list --ledger "$LEDGER" --json | python3 -c '
import json, sys
g = {e["uuid"]: e for e in json.load(sys.stdin)["gpus"]}[sys.argv[1]]
assert g["state"] == "quarantined" and g["evidence"]["kind"] == "check", g
assert g["evidence"]["findings"][0]["sm"] == int(sys.argv[2]), g
' "$1" "$2"
}
check "prolog: the faulty GPU is quarantined in the ledger with the check's evidence" \
    in_ledger_with_check_evidence "$U3" 5
if wait_for 90 job_done "$JOB_A"; then
    T_DONE=$(now)
    OUT=$(cat "$D/jobs/$JOB_A.out" 2>/dev/null)
    RESTARTS=$(scontrol show job "$JOB_A" | grep -o 'Restarts=[0-9]*')
    check "prolog: the job was requeued (not held) and ran on n1 ($OUT, $RESTARTS)" \
        test "$OUT $RESTARTS" == "ran on n1 Restarts=1"
else
    fail "prolog: the requeued job ran on n1" "$(scontrol show job "$JOB_A" | head -5)"
fi
PROLOG_N1=$(records "r['hook']=='prolog' and r['node']=='n1' and r.get('job_id')=='$JOB_A'" | head -1)
N1_UUIDS=$(field "' '.join(sorted(g['uuid'] for g in r['gpus']))" <<<"$PROLOG_N1")
N2_UUIDS=$(field "' '.join(sorted(g['uuid'] for g in r['gpus']))" <<<"$PROLOG_A")
distinct_gpus() { [[ -n $N1_UUIDS && -n $N2_UUIDS && $N1_UUIDS != *"$U3"* && $N2_UUIDS == *"$U3"* && $N2_UUIDS != *"$U0"* ]]; }
check "prolog: n1's virtual GPUs are not n2's (per-node GPUs and node configs)" distinct_gpus

# --- healthcheck ----------------------------------------------------------------------
note "healthcheck: the health check (every ${HC_INTERVAL} s)"
sleep $((2 * HC_INTERVAL + 1))
kept_prolog_drain() { [[ $(state n2) == IDLE+DRAIN && $(reason n2) == "gpufault: faulty: $U3 SM5 "* ]]; }
check "healthcheck: the health check keeps n2 drained with the prolog's reason while its GPU is quarantined" \
    kept_prolog_drain
# The GPU is repaired (its node config loses the fault); a full check then releases it.
echo '{"gpus": {}}' >"$D/n2.json"
T_RELEASE=$(now)
if gf quarantine release "$U3" --ledger "$LEDGER" --node-config "$D/n2.json" >"$D/log/release.out" 2>&1; then
    T_RELEASED=$(now)
    if wait_for $((3 * HC_INTERVAL + 5)) idle n2; then
        T_UNDRAINED=$(now)
        pass "healthcheck: after a validated release the health check undrained n2 ($(ms_since "$T_RELEASED") ms after the release)"
    else
        fail "healthcheck: the health check undrained n2 after the release" "$(state n2) $(reason n2)"
    fi
else
    fail "healthcheck: quarantine release after a clean full check" "$(cat "$D/log/release.out")"
fi

T_ADD=$(now)
gf quarantine add sim:h100#0 --ledger "$LEDGER" --node-config "$D/n1.json" --reason "fan failure" >/dev/null
if wait_for $((3 * HC_INTERVAL + 5)) drained n1; then
    T_ADD_DRAINED=$(now)
    check "healthcheck: a GPU quarantined by hand drains n1 within one interval ($(reason n1))" \
        test "$(reason n1)" == "gpufault: quarantined: $U0 manual: fan failure"
else
    fail "healthcheck: a GPU quarantined by hand drains n1" "$(state n1)"
fi
gf quarantine release "$U0" --ledger "$LEDGER" --force --reason "fan replaced" >/dev/null
check "healthcheck: released by force, n1 is undrained" wait_for $((3 * HC_INTERVAL + 5)) idle n1

scontrol update NodeName=n1 State=DRAIN Reason="operator: disk replaced"
gf quarantine add sim:h100#0 --ledger "$LEDGER" --node-config "$D/n1.json" --reason "fan failure" >/dev/null
T_OP=$(now)
sleep $((2 * HC_INTERVAL + 1))
check "healthcheck: an operator's drain is not re-drained while a GPU is quarantined" \
    test "$(reason n1)" == "operator: disk replaced"
gf quarantine release "$U0" --ledger "$LEDGER" --force --reason "fan replaced" >/dev/null
sleep $((2 * HC_INTERVAL + 1))
operator_drain_kept() { drained n1 && [[ $(reason n1) == "operator: disk replaced" ]]; }
check "healthcheck: an operator's drain is never undrained (after the release, still drained with its reason)" \
    operator_drain_kept
LEFT=$(records "r['hook']=='healthcheck' and r['node']=='n1' and r['unix']>$T_OP and r['action']=='left_alone'" | wc -l)
check "healthcheck: the health check recorded that it left the operator's drain alone ($LEFT runs)" test "$LEFT" -ge 1
scontrol update NodeName=n1 State=RESUME
wait_for 10 idle n1 || fail "healthcheck: operator resumes n1"

# --- hostile reasons ------------------------------------------------------------------
note "hostile: a hostile reason"
CANARY=$D/canary
touch "$CANARY"
# Quotes, `;`, `$(…)`, backquotes, `|`, a line break and a tab, and long enough to be cut.
HOSTILE="x \"q\"; \$(touch $D/p1) \`touch $D/p2\`;rm $CANARY|
State=RESUME	'\$HOME' $(printf 'y%.0s' $(seq 150))"
# What the ledger keeps (a line break: a space) and gpufault writes (" → ', a tab: a
# space, cut to 256 characters ending in ...).
WANT="gpufault: quarantined: $U0 manual: x 'q'; \$(touch $D/p1) \`touch $D/p2\`;rm $CANARY| State=RESUME '\$HOME' $(printf 'y%.0s' $(seq 150))"
WANT="${WANT:0:253}..."
gf quarantine add sim:h100#0 --ledger "$LEDGER" --node-config "$D/n1.json" --reason "$HOSTILE" >/dev/null
if wait_for $((3 * HC_INTERVAL + 5)) drained n1; then
    SENT=$(records "r['hook']=='healthcheck' and r['node']=='n1' and r['action']=='drained'" | tail -1 | field "r['reason']")
    STORED=$(reason n1)
    check "hostile: Slurm stores the reason exactly as gpufault sent it" test "$STORED" == "$SENT"
    check "hostile: the reason is the documented sanitised form (\" → ', line break and tab → space, cut to 256)" \
        test "$STORED" == "$WANT"
    nothing_ran() { [[ ! -e $D/p1 && ! -e $D/p2 && -e $CANARY ]]; }
    check "hostile: nothing in the reason ran (no files touched, the canary is there)" nothing_ran
else
    fail "hostile: a hostile reason drains n1" "$(state n1); $(tail -3 "$D/log/slurmd-n1.log")"
fi
gf quarantine release "$U0" --ledger "$LEDGER" --force --reason "test over" >/dev/null
wait_for $((3 * HC_INTERVAL + 5)) idle n1 || fail "hostile: n1 undrained after the release"

# --- unknown: a check that cannot run -----------------------------------------------
note "unknown: a GPU that cannot be opened (n1's GRES 0 a CUDA GPU no machine has)"
NOGPU="cuda:GPU-00000000-0000-0000-0000-000000000000"
sed -i "s/^gpus = \\[\"sim:h100#0\", \"sim:h100#1\"\\]$/gpus = [\"$NOGPU\", \"sim:h100#1\"]/" "$HOOKS"
grep -q "$NOGPU" "$HOOKS" || fail "unknown: the hooks' configuration edited"
JOB_U=$(sbatch --parsable -w n1 --gres=gpu:1 --chdir="$D/jobs" -o "$D/jobs/%j.out" --wrap 'echo ran')
if wait_for 60 drained n1; then
    PRO_U=$(records "r['hook']=='prolog' and r.get('job_id')=='$JOB_U'" | head -1)
    check "unknown: the prolog says unknown, exits 3 and drains nothing itself" \
        test "$(field "r['verdict'], r['action'], r['exit']" <<<"$PRO_U")" == "unknown none 3"
    R_U=$(reason n1)
    not_ours() { [[ -n $R_U && $R_U != gpufault:* ]]; }
    check "unknown: Slurm drained n1 with its own reason ($R_U)" not_ours
    sleep $((2 * HC_INTERVAL + 1))
    slurms_drain_kept() { drained n1 && [[ $(reason n1) == "$R_U" ]]; }
    check "unknown: the health check never undrains Slurm's own drain" slurms_drain_kept
    check "unknown: nothing was quarantined" test "$(gf quarantine list --ledger "$LEDGER" | head -1 | cut -d' ' -f1)" == 0
else
    fail "unknown: the failing prolog drained n1" "$(state n1); $(tail -3 "$D/log/slurmd-n1.log")"
fi
sed -i "s/^gpus = \\[\"$NOGPU\", \"sim:h100#1\"\\]$/gpus = [\"sim:h100#0\", \"sim:h100#1\"]/" "$HOOKS"
scancel "$JOB_U" 2>/dev/null
scontrol update NodeName=n1 State=RESUME
wait_for 20 idle n1 || fail "unknown: n1 resumed by the operator" "$(state n1)"

# --- unrecorded: the ledger cannot be written after the drain -------------------------
note "unrecorded: a faulty GPU on n1 while the ledger cannot be replaced (chattr +i)"
if command -v chattr >/dev/null 2>&1 && chattr +i "$LEDGER" 2>/dev/null; then
    echo "{\"gpus\": {\"sim:h100#0\": {\"fault\": \"$FAULT\"}}}" >"$D/n1.json"
    JOB_R=$(sbatch --parsable -w n1 --gres=gpu:1 --chdir="$D/jobs" -o "$D/jobs/%j.out" --wrap 'echo ran')
    unrecorded() { drained n1 && [[ $(reason n1) == gpufault-unrecorded:* ]]; }
    if wait_for 60 unrecorded; then
        pass "unrecorded: the drain's reason became $(reason n1 | cut -c1-60)…"
        PRO_R=$(records "r['hook']=='prolog' and r.get('job_id')=='$JOB_R'" | head -1)
        check "unrecorded: the prolog exited 2 with the ledger's error" \
            test "$(field "r['exit'], 'ledger' in r.get('error', '')" <<<"$PRO_R")" == "2 True"
        sleep $((2 * HC_INTERVAL + 1))
        check "unrecorded: no health check lifts a drain no ledger entry backs" unrecorded
    else
        fail "unrecorded: the drain's reason became gpufault-unrecorded:" "$(state n1) $(reason n1)"
    fi
    chattr -i "$LEDGER"
    echo '{"gpus": {}}' >"$D/n1.json"
    scancel "$JOB_R" 2>/dev/null
    scontrol update NodeName=n1 State=RESUME
    wait_for 20 idle n1 || fail "unrecorded: n1 resumed by the operator" "$(state n1)"
else
    echo "SKIP unrecorded: chattr +i does not work on $LEDGER's file system"
fi

# --- epilog -------------------------------------------------------------------------
note "epilog: a fault that arrives while the job runs on n1"
ARRIVES=$(($(date +%s) + 12))
echo "{\"gpus\": {\"sim:h100#0\": {\"fault\": \"$FAULT\", \"fault_arrives_at\": $ARRIVES}}}" >"$D/n1.json"
JOB_D=$(sbatch --parsable -w n1 --gres=gpu:1 --chdir="$D/jobs" -o "$D/jobs/%j.out" \
    --wrap "sleep \$(( $ARRIVES - \$(date +%s) + 1 )); echo done")
if wait_for 60 drained n1; then
    EPI=$(records "r['hook']=='epilog' and r.get('job_id')=='$JOB_D'" | head -1)
    PRO=$(records "r['hook']=='prolog' and r.get('job_id')=='$JOB_D'" | head -1)
    check "epilog: the prolog passed before the fault arrived" test "$(field "r['verdict']" <<<"$PRO")" == healthy
    epilog_drained() { [[ $(field "r['action']" <<<"$EPI") == drained && $(reason n1) == "gpufault: faulty: $U0 SM5 "* ]]; }
    check "epilog: the epilog found it and drained n1 ($(reason n1))" epilog_drained
    check "epilog: the job itself completed" wait_for 10 job_done "$JOB_D"
else
    fail "epilog: the epilog drained n1" "$(state n1); $(tail -3 "$D/log/slurmd-n1.log")"
fi
echo '{"gpus": {}}' >"$D/n1.json"
gf quarantine release "$U0" --ledger "$LEDGER" --force --reason "test over" >/dev/null
wait_for $((3 * HC_INTERVAL + 5)) idle n1 || fail "epilog: n1 undrained after the release"

# --- campaign: an array job -----------------------------------------------------------
note "campaign: a campaign as a Slurm array job"
CAMP=$D/camp
gf campaign plan --workloads vecadd,reduction,bfs --models iat,wv,wdrop --injections 6 \
    --device sim --out "$CAMP/plan.db" >/dev/null 2>&1 || fail "campaign: campaign plan"
cp "$CAMP/plan.db" "$D/single.db"
gf campaign run "$D/single.db" --jobs 2 >/dev/null 2>&1 || fail "campaign: the single-machine campaign"
export GPUFAULT
ARRAY=$(sbatch --parsable --array=0-3 --cpus-per-task=1 --chdir="$CAMP" \
    --output="$CAMP/%A_%a.out" scripts/slurm-campaign.sh "$CAMP/plan.db")
MERGE=$(sbatch --parsable --dependency=afterok:"$ARRAY" --cpus-per-task=1 --chdir="$CAMP" \
    --output="$CAMP/merge.out" scripts/slurm-campaign.sh --merge "$CAMP/plan.db")
if wait_for 150 job_done "$MERGE"; then
    pass "campaign: 4 array tasks ran their shards, the merge job merged them"
    rows() { gf report "$1" --format jsonl | sed 's/"elapsed_us":[0-9]*,//' | sort; }
    if diff <(rows "$D/single.db") <(rows "$CAMP/plan-merged.db") >"$D/log/campaign.diff"; then
        pass "campaign: the merged store has the rows of the single-machine campaign ($(rows "$D/single.db" | wc -l) rows)"
    else
        fail "campaign: the merged store has the rows of the single-machine campaign" "$(head -5 "$D/log/campaign.diff")"
    fi
else
    fail "campaign: the array campaign" "$(squeue 2>&1 | tail -5); $(cat "$CAMP"/*.out 2>/dev/null | tail -5)"
fi

# --- training-standin: a guarded two-node job, its trainer on n1 ----------------------
note "training-standin: sbatch -N2, one GPU per node; n2's GPU turns faulty while it trains"
# A stand-in for a rank per node: gpufault train is one process, so its data-parallel
# replicas run on the first node (n1) over both nodes' virtual GPUs, under n1's guard;
# n2 runs a placeholder (`sleep`) for its rank under n2's own guard — no training rank
# runs on n2. It shows the Slurm side (n2 drained with the reason, the job finished on
# n1 from its checkpoint, nothing left on n2) without PyTorch. The real thing, a torchrun
# agent and worker per node in one gloo world: scripts/slurm-torchrun-e2e.sh (outside
# this test: it needs the 5 GB PyTorch venv). The fault arrives at one instant for every
# process that loads n2's node config.
U2=$(uuid_of sim:h100#2 "$D/n2.json")
TRAIN=$D/train
mkdir -p "$TRAIN"
T_ARRIVES=$(calc "$(now) + 18")
echo "{\"gpus\": {\"sim:h100#2\": {\"fault\": \"$FAULT\", \"fault_arrives_at\": $T_ARRIVES}}}" >"$D/n2.json"
cp "$D/n2.json" "$TRAIN/nodes.json" # the virtual GPUs of both nodes the job uses
cat >"$TRAIN/job.sh" <<'JOB'
#!/bin/bash
# A guarded data-parallel training job on two nodes, one GPU each.
set -u
gpus=$1 nodes=$2 ledger=$3 work=$4 steps=$5
mine=${gpus%%,*} theirs=${gpus#*,}
other=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | grep -vx "$SLURMD_NODENAME")
# the other node's rank: its guard stops it and exits 3 when its GPU is quarantined
srun -N1 -n1 -w "$other" "$GPUFAULT" guard --devices "$theirs" --node-config "$nodes" \
    --ledger "$ledger" --check-every 2 --max-restarts 1 --grace 5 \
    --events "$work/guard-$other.jsonl" -- sleep 600 &
# this node: the trainer over both GPUs, restarted from its checkpoint on the healthy one
# (`--resume newest`: the trainer stops on the faulty GPU's first bad launch and writes
# no checkpoint after it; the default `trusted` would restart from scratch here, since no
# periodic check finishes between the start and the fault)
"$GPUFAULT" guard --devices "$mine,$theirs" --node-config "$nodes" --ledger "$ledger" \
    --check-every 2 --grace 10 --resume newest --events "$work/guard-$SLURMD_NODENAME.jsonl" -- \
    "$GPUFAULT" train --steps "$steps" --batch 32 --shards 4 --checkpoint-every 50 \
    --checkpoint "$work/ckpt.json" --max-loss-jump inf >"$work/train.out" 2>&1
rc=$?
kill %1 2>/dev/null
wait
echo "guard exit $rc on $SLURMD_NODENAME"
exit $rc
JOB
JOB_T=$(sbatch --parsable -N2 --ntasks-per-node=1 --gres=gpu:1 --chdir="$TRAIN" \
    -o "$TRAIN/job.out" "$TRAIN/job.sh" "sim:h100#0,sim:h100#2" "$TRAIN/nodes.json" "$LEDGER" "$TRAIN" "${E2E_TRAIN_STEPS:-4000}")
T_N2_DRAINED=
job_over() {
    if [[ -z $T_N2_DRAINED ]] && drained n2; then T_N2_DRAINED=$(now); fi
    [[ $(job_state "$JOB_T") =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL)$ ]]
}
# ev NODE CONDITION EXPR: EXPR of the first event of NODE's guard where CONDITION holds
# (Python, over the event `e`)
ev() { first_event "$TRAIN/guard-$1.jsonl" "$2" "$3"; }
# a wait, not a time limit: 4,000 steps of the debug build take ~200 s on a loaded 2-core
# machine; the job's own times are judged from its logs
if wait_for 480 job_over; then
    check "training-standin: the job completed ($(tail -1 "$TRAIN/job.out" 2>/dev/null))" job_done "$JOB_T"
    FOUND=$(ev n1 "e['event']=='fault_detected'" "' '.join([e['source'], *e['devices'], str(e['unix'] > $T_ARRIVES)])")
    found_after_arrival() { [[ $FOUND == *" sim:h100#2 True" ]]; }
    check "training-standin: n1's guard found n2's GPU faulty after the fault arrived ($FOUND)" found_after_arrival
    check "training-standin: the trainer was restarted on n1's GPU alone" \
        test "$(ev n1 "e['event']=='job_started' and e['attempt']==1" "e['devices']")" == "['sim:h100#0']"
    RESUMED=$(ev n1 "e['event']=='job_first_step' and e['attempt']==1" "e.get('resumed_from')")
    resumed() { [[ $RESUMED =~ ^[1-9][0-9]*$ ]]; }
    check "training-standin: it resumed from its checkpoint (step $RESUMED)" resumed
    check "training-standin: the guard judged the job complete by its completion marker (exit 0)" \
        test "$(ev n1 "e['event']=='guard_finished'" "e['exit_code']")" == 0
    n2_reason_ok() { drained n2 && [[ $(reason n2) == "gpufault: "*"$U2"* ]]; }
    check "training-standin: n2 drained with a gpufault: reason naming its GPU ($(reason n2))" n2_reason_ok
    check "training-standin: n2's guard stopped its rank and exited 3 (too few GPUs: requeue elsewhere)" \
        test "$(ev n2 "e['event']=='guard_finished'" "e['exit_code']")" == 3
    LEFT=$(comm -12 <(strays | sort) <(sleep 1; strays | sort))
    check "training-standin: nothing of the job left running on n1 or n2" test -z "$LEFT"
    [[ -z $LEFT ]] || echo "     $LEFT"
    python3 - "$TRAIN/guard-n1.jsonl" "$T_ARRIVES" "${T_N2_DRAINED:-0}" <<'PY' || fail "training-standin: the timeline"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
arrives, drained = float(sys.argv[2]), float(sys.argv[3])
first = lambda cond: next((e for e in ev if cond(e)), None)
det = first(lambda e: e["event"] == "fault_detected")
steps = [("fault arrives", arrives)]
exited = first(lambda e: e["event"] == "job_exited" and e["attempt"] == 0 and e["unix"] <= det["unix"])
if exited:
    steps.append((f"the trainer stopped by itself (exit {exited.get('code')}, step {exited.get('step')})", exited["unix"]))
steps.append((f"found ({det['source']})", det["unix"]))
for name, cond in [
    ("quarantined", lambda e: e["event"] == "quarantined"),
    ("the job stopped", lambda e: e["event"] == "stopped" and e["unix"] >= det["unix"]),
    ("restarted on n1", lambda e: e["event"] == "job_started" and e["attempt"] == 1),
]:
    e = first(cond)
    if e:
        steps.append((name, e["unix"]))
step = first(lambda e: e["event"] == "job_first_step" and e["attempt"] == 1)
steps.append((f"first step resumed from checkpoint {step.get('resumed_from')}", step["first_step_unix"]))
parts = [f"{name} +{round((t - prev) * 1000)} ms" for (name, t), (_, prev) in zip(steps[1:], steps)]
total = round((step["first_step_unix"] - arrives) * 1000)
line = "timing: training-standin: " + "; ".join(parts) + f"; fault -> resumed on the healthy node {total} ms"
if drained:
    line += f"; fault -> n2 seen drained {round((drained - arrives) * 1000)} ms"
print(line)
PY
else
    fail "training-standin: the job ended" "$(scontrol show job "$JOB_T" | grep -E 'JobState'); $(tail -3 "$TRAIN/train.out" 2>/dev/null)"
    scancel "$JOB_T" 2>/dev/null
fi

# --- timings --------------------------------------------------------------------------
note "timings: timings (this machine: $(nproc) cores, the debug build unless GPUFAULT says otherwise)"
# the health check's own time: its whole run less its wait for slurmctld (`scontrol`
# calls, which answer in ~1 s while slurmctld is busy, e.g. as both nodes register)
HC_MS=$(records "r['hook']=='healthcheck'" | python3 -c '
import json, sys
rs = [json.loads(l)["timings"] for l in sys.stdin]
t = sorted(r["total_ms"] for r in rs)
own = sorted(r["total_ms"] - r.get("scontrol_ms", 0) - r.get("drain_ms", 0) for r in rs)
wait = max(r.get("scontrol_ms", 0) + r.get("drain_ms", 0) for r in rs)
print(f"{len(t)} {t[len(t)//2]:.0f} {t[-1]:.0f} {own[len(own)//2]:.0f} {own[-1]:.0f} {wait:.0f}")')
read -r HC_N HC_MED HC_MAX HC_OWN_MED HC_OWN_MAX HC_WAIT_MAX <<<"$HC_MS"
PRO_CHECK=$(field "round(r['timings']['check_ms'])" <<<"$PROLOG_A")
PRO_DRAIN=$(field "round(r['timings']['drain_ms'])" <<<"$PROLOG_A")
PRO_TOTAL=$(field "round(r['timings']['total_ms'])" <<<"$PROLOG_A")
PRO_N1=$(field "round(r['timings']['total_ms'])" <<<"$PROLOG_N1")
T0=$(now)
SLURMD_NODENAME=n2 GPUFAULT_SLURM_CONFIG=$HOOKS "$GPUFAULT" slurm healthcheck >/dev/null 2>&1
HC_WALL=$(ms_since "$T0")
echo "timing: prolog on n2 (2 virtual H100, one faulty): check ${PRO_CHECK} ms, verdict -> n2 drained (scontrol update returned) ${PRO_DRAIN} ms, prolog total ${PRO_TOTAL} ms"
echo "timing: prolog on n1 (2 healthy virtual H100): total ${PRO_N1} ms"
echo "timing: healthcheck: median ${HC_MED} ms, max ${HC_MAX} ms over ${HC_N} runs by slurmd (without the wait for slurmctld: median ${HC_OWN_MED} ms, max ${HC_OWN_MAX} ms; that wait at most ${HC_WAIT_MAX} ms); one run from outside: ${HC_WALL} ms wall"
if [[ -n ${T_DRAINED:-} && -n ${T_DONE:-} ]]; then
    echo "timing: job a: submitted -> n2 seen drained $(ms "$T_DRAINED - $T_SUBMIT") ms; -> completed on n1 $(ms "$T_DONE - $T_SUBMIT") ms (Slurm holds a requeued job back for cred_expire = 10 s)"
fi
if [[ -n ${T_UNDRAINED:-} && -n ${T_RELEASED:-} ]]; then
    echo "timing: validated release (full check) $(ms "$T_RELEASED - $T_RELEASE") ms; release -> n2 undrained $(ms "$T_UNDRAINED - $T_RELEASED") ms (HealthCheckInterval=$HC_INTERVAL)"
fi
if [[ -n ${T_ADD_DRAINED:-} ]]; then
    echo "timing: quarantine add -> n1 drained by the health check $(ms "$T_ADD_DRAINED - $T_ADD") ms"
fi
check "timings: the health check's own work takes under 1 s (median ${HC_OWN_MED} ms, max ${HC_OWN_MAX} ms; with the wait for slurmctld max ${HC_MAX} ms)" \
    is "${HC_OWN_MAX:-99999} < 1000"
check "timings: the prolog takes at most its check + 1 s (${PRO_TOTAL} ms, check ${PRO_CHECK} ms)" \
    is "${PRO_TOTAL:-99999} <= ${PRO_CHECK:-0} + 1000"

# --- processes: nothing left behind ---------------------------------------------------
note "processes: processes"
no_jobs() { [[ -z $(squeue -h 2>/dev/null) ]]; }
wait_for 20 no_jobs || fail "processes: every job ended" "$(squeue)"
# twice, a second apart: a health check that happens to run now is not left behind
LEFT=$(comm -12 <(strays | sort) <(sleep 1; strays | sort))
check "processes: no job, step or hook process left on the nodes" test -z "$LEFT"
[[ -z $LEFT ]] || echo "     $LEFT"
echo "(elapsed $(ms "$(now) - $T") ms since the nodes were up)"
((FAILED == 0))
