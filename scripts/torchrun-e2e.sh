#!/usr/bin/env bash
# The training guard around the real torchrun (docs/guard.md, "torchrun"): PyTorch from
# PyPI, a small DDP trainer on the CPU (gloo backend, scripts/torchrun/ddp_train.py), one
# worker per virtual GPU of a virtual node of four H100s, GPU 2 turning faulty mid-run.
# Runs every scenario and ends with one line `N passed, M failed` (exit 1 when M > 0).
#
#   scripts/torchrun-e2e.sh                      # installs PyTorch once, builds, runs
#   GPUFAULT=target/release/gpufault scripts/torchrun-e2e.sh
#
# Install step (its own, never part of scripts/test.sh): a Python venv with `torch` from
# PyPI — the CUDA wheels, ~5.3 GB on disk, ~4 min to install here — in
# $GPUFAULT_TORCH_VENV (default ${XDG_CACHE_HOME:-~/.cache}/gpufault/torch-venv), reused
# when a previous install completed (a marker file says so; a partial one is removed and
# made again). The trainer computes on the CPU; the virtual GPUs are what the guard
# checks. Then `cargo build --release` of gpufault and of the `guard_log` example (which
# reads the guard's event log back with shim::guard::timeline and lists the processes
# still carrying its run id with shim::guard::process::live_with_run_id).
#
# Scenarios, each line of output `PASS`/`FAIL` with the scenario's name:
#   baseline      no fault: 4 ranks, `torchrun --standalone`; completes; the reference loss
#   fault         GPU 2's fault arrives mid-run (`fault_arrives_at`): the guard's periodic
#                 check finds it, quarantines its UUID, stops torchrun and all 4 workers
#                 (each in its own session: torchrun starts workers with setsid), starts a
#                 fresh torchrun with --nproc-per-node 3 (a new agent and store: with
#                 --standalone a new port), the trainer resumes from the checkpoint the
#                 guard allows (GPUFAULT_RESUME_AT_MOST) on 3 ranks and ends with the
#                 baseline's loss; the guard exits 0; no process of the job left
#   setsid        a helper of rank 0 calls setsid() and ignores SIGTERM: still killed
#   rdzv-default  the fault with an elastic c10d rendezvous on a fixed endpoint
#                 (--nnodes 1:2, --rdzv-endpoint 127.0.0.1:PORT, the same on the restart),
#                 torchrun's default rendezvous settings (last_call_timeout 30 s)
#   rdzv-tuned    the same with --rdzv-conf last_call_timeout=1,keep_alive_interval=1,
#                 keep_alive_max_attempt=2
# Each fault scenario prints a `timing:` line: the recovery's phases from the guard's log.
#
# E2E_KEEP=1 keeps the work directory; E2E_STEPS (default 700) and E2E_STEP_MS (default
# 60: a step takes at least that long, so that the fault arrives while the job trains);
# E2E_SCENARIOS (default all: "baseline fault setsid rdzv-default rdzv-tuned"; baseline
# always runs, the others place their fault from its times).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD

# shellcheck source=lib/e2e.sh
source "$REPO/scripts/lib/e2e.sh" # pass, fail, check, note, summary
abort() { # abort WHY [DETAIL]: a setup step failed; nothing else can run
    fail "setup: $1" "${2:-}"
    summary
    exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
is() { awk "BEGIN { exit !($1) }"; }

# --- install: PyTorch from PyPI in a venv of its own -----------------------------------
# shellcheck source=lib/torch.sh
source "$REPO/scripts/lib/torch.sh"
torch_venv # sets VENV, TORCHRUN

# --- the binaries -----------------------------------------------------------------------
torch_binaries # sets GPUFAULT (built unless given), GUARD_LOG

D=$(mktemp -d "${TMPDIR:-/tmp}/gpufault-torchrun-e2e.XXXXXX")
GUARD_PID=
cleanup() {
    if [[ -n $GUARD_PID ]] && kill -0 "$GUARD_PID" 2>/dev/null; then
        kill -TERM "$GUARD_PID" 2>/dev/null # the guard stops its job
        wait "$GUARD_PID" 2>/dev/null
    fi
    if [[ ${E2E_KEEP:-} == 1 || $FAILED -gt 0 ]]; then
        echo "(work directory kept: $D)"
    else
        rm -rf "$D"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STEPS=${E2E_STEPS:-700}
STEP_MS=${E2E_STEP_MS:-60}
SCENARIOS=" ${E2E_SCENARIOS:-baseline fault setsid rdzv-default rdzv-tuned} "
FAULT="iat:sm=5,sp=1,warps=0x1,lanes=0xffffffff,dim=x,mask=0x4,pol=sa1"
export OMP_NUM_THREADS=1 # per rank: 4 ranks on 2 cores
U2=$("$GPUFAULT" devices sim:h100#2 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["uuid"])') ||
    abort "the UUID of sim:h100#2"

# guarded NAME [--node-config FILE]: the guard around torchrun around the trainer, in
# $D/NAME, with the rendezvous flags in RDZV and the trainer's extra flags in TRAIN_EXTRA.
# Sets RC (the guard's exit code) and W (the directory).
guarded() {
    W=$D/$1
    shift
    mkdir -p "$W"
    timeout -k 10 600 "$GPUFAULT" guard --devices 'sim:h100*4' "$@" --ledger "$W/ledger.json" \
        --check-every 3 --grace 5 --max-restarts 2 --events "$W/events.jsonl" \
        --progress "$W/progress.json" -- \
        "$TORCHRUN" "${RDZV[@]}" --nproc-per-node 4 --max-restarts 0 \
        "$REPO/scripts/torchrun/ddp_train.py" --steps "$STEPS" --checkpoint-every 20 \
        --min-step-ms "$STEP_MS" --checkpoint-dir "$W/ckpt" --pids "$W/pids" \
        --summary "$W/summary.json" "${TRAIN_EXTRA[@]}" >"$W/job.out" 2>&1 &
    GUARD_PID=$!
    wait "$GUARD_PID"
    RC=$?
    GUARD_PID=
    "$GUARD_LOG" "$W/events.jsonl" >"$W/log.json" 2>"$W/log.err"
}
# ev CONDITION EXPR: EXPR of the first event `e` of $W's log where CONDITION holds
ev() {
    python3 - "$W/events.jsonl" "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if eval(sys.argv[2]):
        print(eval(sys.argv[3]))
        break
PY
}
# log EXPR: EXPR of guard_log's reading `g` of $W's log (run_id, recoveries, live)
log() { python3 -c "import json,sys; g=json.load(open(sys.argv[1])); print($1)" "$W/log.json"; }
alive() { [[ -d /proc/$1 ]] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# dead_pids FILE…: none of the pids in FILEs is alive
dead_pids() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || return 1
        alive "$(cat "$f")" && return 1
    done
    return 0
}
summary_of() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print($1)" "$2"; }

# --- baseline: no fault -------------------------------------------------------------------
note "baseline: 4 ranks, torchrun --standalone, no fault ($STEPS steps, >= $STEP_MS ms each)"
RDZV=(--standalone)
TRAIN_EXTRA=()
guarded baseline
BASE=$W
check "baseline: the guard exited 0 (completed)" test "$RC" == 0
check "baseline: trained on 4 ranks without a restart" \
    test "$(summary_of 's["world_size"], s["resumed_from"]' "$W/summary.json" 2>/dev/null)" == "4 None"
check "baseline: no process of the job left ($(log 'g["live"]'))" test "$(log 'g["live"]')" == "[]"
BASE_LOSS=$(summary_of 's["full_loss"]' "$W/summary.json" 2>/dev/null)
# the times to place the faults: first step after the start, training time
read -r STARTUP TRAIN_S <<<"$(python3 - "$W/events.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
started = next(e["unix"] for e in ev if e["event"] == "job_started")
first = next(e["first_step_unix"] for e in ev if e["event"] == "job_first_step")
done = next(e["unix"] for e in ev if e["event"] == "job_exited")
print(f"{first - started:.1f} {done - first:.1f}")
PY
)"
note "baseline: first step ${STARTUP:-?} s after the start, ${TRAIN_S:-?} s of training, loss on the data set ${BASE_LOSS:-?}"
[[ -n ${TRAIN_S:-} && -n ${BASE_LOSS:-} ]] || abort "baseline: no times or loss" "$(tail -5 "$BASE/job.out")"

# fault_run NAME EXTRA_STARTUP_S: GPU 2's fault arrives at ~35% of the training (the
# start-up, which varies most with the load, counted 1.5 times: a clean periodic check
# must begin after a checkpoint and before the arrival for the restart to resume from
# one), then the recovery is checked and timed
fault_run() {
    local name=$1 arrives node
    arrives=$(calc "$(now) + 1.5 * $STARTUP + $2 + 0.35 * $TRAIN_S")
    node=$D/$name.node.json
    echo "{\"gpus\": {\"sim:h100#2\": {\"fault\": \"$FAULT\", \"fault_arrives_at\": $arrives}}}" >"$node"
    guarded "$name" --node-config "$node"
    local first0 found_t
    first0=$(ev "e['event']=='job_first_step' and e['attempt']==0" "e['first_step_unix']")
    found_t=$(ev "e['event']=='fault_detected'" "e['unix']")
    # the placement depends on this machine's speed and load: say which way it missed
    if ! { [[ -n $first0 ]] && is "$first0 < $arrives"; }; then
        fail "$name: the fault arrived while the job trained" \
            "it arrived at $arrives, before the first step (${first0:-none}): the start-up took longer than the baseline's"
        return
    fi
    pass "$name: the fault arrived while the job trained (step 1 done $(calc "$arrives - $first0") s before)"
    if [[ -z $found_t ]]; then
        fail "$name: the guard found the fault before the job finished" \
            "the job completed first ($(ev "e['event']=='job_exited'" "e['unix']")): checks too slow for the training left; raise E2E_STEPS"
        return
    fi
    local found
    found=$(ev "e['event']=='fault_detected'" "' '.join([e['source'], *e['devices']])")
    check "$name: the periodic check found GPU 2 ($found)" test "$found" == "periodic_check sim:h100#2"
    check "$name: its UUID quarantined in the ledger" grep -q "$U2" "$W/ledger.json"
    check "$name: torchrun and its 4 workers (setsid) were all stopped" \
        dead_pids "$W"/pids/attempt-0-rank-{0,1,2,3}.pid
    check "$name: ... and the torchrun agent too" \
        bash -c "! [[ -d /proc/$(ev "e['event']=='job_started' and e['attempt']==0" "e['pid']") ]]"
    local cmd
    cmd=$(ev "e['event']=='job_started' and e['attempt']==1" "' '.join(e.get('command') or [])")
    check "$name: a fresh torchrun started with --nproc-per-node 3" \
        grep -q -- "--nproc-per-node 3 " <<<"$cmd"
    check "$name: on GPUs 0, 1 and 3" \
        test "$(ev "e['event']=='job_started' and e['attempt']==1" "e['devices']")" == "['sim:h100#0', 'sim:h100#1', 'sim:h100#3']"
    local resumed at_most
    resumed=$(ev "e['event']=='job_first_step' and e['attempt']==1" "e.get('resumed_from')")
    at_most=$(ev "e['event']=='job_started' and e['attempt']==1" "e.get('resume_at_most')")
    check "$name: the trainer resumed from checkpoint ${resumed:-none}, the newest the guard allowed (GPUFAULT_RESUME_AT_MOST=$at_most)" \
        bash -c "[[ '$resumed' =~ ^[1-9][0-9]*\$ && '$resumed' == '$at_most' ]]"
    check "$name: ... and finished on 3 ranks" \
        test "$(summary_of 's["world_size"]' "$W/summary.json" 2>/dev/null)" == 3
    check "$name: the guard exited 0 (the completion marker)" test "$RC" == 0
    local loss
    loss=$(summary_of 's["full_loss"]' "$W/summary.json" 2>/dev/null)
    check "$name: final loss $loss, the fault-free run's $BASE_LOSS (|diff| <= 1e-9)" \
        is "${loss:-99} - $BASE_LOSS <= 1e-9 && $BASE_LOSS - ${loss:-99} <= 1e-9"
    check "$name: no process of the job left ($(log 'g["live"]'))" test "$(log 'g["live"]')" == "[]"
    python3 - "$W/log.json" "$W/events.jsonl" "$name" "$arrives" <<'PY' || fail "$name: the timeline"
import json, sys
g = json.load(open(sys.argv[1]))
r = g["recoveries"][0]
ev = [json.loads(l) for l in open(sys.argv[2])]
stopped = next(e for e in ev if e["event"] == "stopped")
found = next(e for e in ev if e["event"] == "fault_detected")
began = found["unix"] - r["detect_ms"] / 1e3
r["arrival_to_detection_ms"] = (began - float(sys.argv[4])) * 1e3
parts = [
    ("fault arrived -> the check that found it began", r["arrival_to_detection_ms"]),
    ("detect (the periodic check that found it)", r["detect_ms"]),
    ("quarantine", r["quarantine_ms"]),
    (f"stop (torchrun + workers gone, {'in grace' if stopped['within_grace'] else 'killed'})", r["stop_ms"]),
    ("new torchrun started", r["relaunch_ms"]),
    ("agent start + rendezvous + spawn -> rank 0 started", r["start_ms"] - r["relaunch_ms"]),
    ("import torch, rendezvous of the workers -> all ranks joined", r["ranks_joined_ms"]),
    ("checkpoint loaded", r["setup_ms"] - r["ranks_joined_ms"]),
    ("first step", r["first_step_ms"]),
]
print(f"timing: {sys.argv[3]}: " + "; ".join(f"{n} {v:.0f} ms" for n, v in parts)
      + f"; detection -> first resumed step {r['total_ms']:.0f} ms"
      + f" (stopped at step {r['stopped_at_step']}, resumed from {r['resumed_from']})")
json.dump({"scenario": sys.argv[3], "recovery": r}, open(sys.argv[1] + ".timeline", "w"))
PY
}

if [[ $SCENARIOS == *" fault "* ]]; then
    note "fault: GPU 2 turns faulty mid-run; torchrun --standalone"
    RDZV=(--standalone)
    TRAIN_EXTRA=()
    fault_run fault 0
fi

if [[ $SCENARIOS == *" setsid "* ]]; then
    note "setsid: a helper of rank 0 calls setsid() and ignores SIGTERM"
    RDZV=(--standalone)
    TRAIN_EXTRA=(--stray-helper)
    guarded setsid
    # the helper writes its pid file after setsid() succeeded
    STRAY=$(ls "$W"/pids/stray-*.pid 2>/dev/null | head -1)
    check "setsid: the helper left the worker's session (${STRAY:+pid $(cat "$STRAY")})" test -s "$STRAY"
    check "setsid: the guard exited 0" test "$RC" == 0
    KILLED=$(ev "e['event']=='stopped'" "' '.join(map(str, e['killed']))")
    check "setsid: the helper ignored SIGTERM and was killed after the grace period (killed: $KILLED)" \
        bash -c "[[ ' $KILLED ' == *' $(cat "$STRAY" 2>/dev/null) '* ]]"
    check "setsid: ... and is gone" dead_pids "$STRAY"
    check "setsid: no process of the job left ($(log 'g["live"]'))" test "$(log 'g["live"]')" == "[]"
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ELASTIC=(--nnodes 1:2 --rdzv-backend c10d --rdzv-endpoint "127.0.0.1:$PORT" --rdzv-id gpufault-e2e)
if [[ $SCENARIOS == *" rdzv-default "* ]]; then
    note "rdzv-default: an elastic c10d rendezvous on 127.0.0.1:$PORT (the same on the restart), default settings"
    RDZV=("${ELASTIC[@]}")
    TRAIN_EXTRA=()
    fault_run rdzv-default 30 # last_call_timeout: 30 s after the minimum of nodes joined
fi
if [[ $SCENARIOS == *" rdzv-tuned "* ]]; then
    note "rdzv-tuned: the same with --rdzv-conf last_call_timeout=1,keep_alive_interval=1,keep_alive_max_attempt=2"
    RDZV=("${ELASTIC[@]}" --rdzv-conf last_call_timeout=1,keep_alive_interval=1,keep_alive_max_attempt=2)
    TRAIN_EXTRA=()
    fault_run rdzv-tuned 1
fi

summary
((FAILED == 0))
