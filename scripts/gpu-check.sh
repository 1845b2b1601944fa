#!/usr/bin/env bash
# GPU check: everything that needs a real NVIDIA GPU, in two halves (see GPU.md).
#
#   scripts/gpu-check.sh --build   HERE (with cargo): builds release binaries and the test
#                                  binaries of the GPU tests into target/gpu-bundle/
#                                  (git-ignored, stripped, < 64 MiB, carried to the GPU
#                                  machine with the working tree).
#   scripts/gpu-check.sh           THERE (no cargo needed): runs the bundle: every test
#                                  that needs a GPU (with GPUFAULT_REQUIRE_GPU=1, so a
#                                  missing GPU fails instead of skipping), every workload
#                                  and benchmark with a GPU mode, the GPU-vs-virtual-GPU
#                                  comparisons; prints a short table last and writes the
#                                  full logs under $OUT (or target/gpu-check/ without it).
#
# Exit status of the run half: 0 when no step failed (skips are fine), 1 otherwise,
# 2 when there is no bundle. Every step's time limit is GPU_CHECK_STEP_LIMIT (default 180 s)
# or what is left of GPU_CHECK_BUDGET (default 400 s), whichever is less, so the whole run
# ends within the budget plus a 10 s kill grace, inside 7 minutes; the summary table is
# rewritten after every step, so a run cut short still leaves one.
#
# Adding a step (later issues): append one `step NAME COMMAND…` line to run_steps below.
# A step whose binary or subcommand does not exist yet is skipped with the reason, via
# `need_bin` / `need_subcommand`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUNDLE=${GPUFAULT_BUNDLE:-target/gpu-bundle}
# Packages whose test binaries go into the bundle (later issues append theirs).
TEST_PACKAGES=(gpufault-gpu)
# Binaries of the workspace that go into the bundle.
BIN_PACKAGES=(gpufault gpufault-gpu)
MAX_BUNDLE_MIB=60

build() {
    set -e
    echo "== building release binaries: ${BIN_PACKAGES[*]}"
    local pkgs=()
    for p in "${BIN_PACKAGES[@]}"; do pkgs+=(-p "$p"); done
    cargo build --release --locked "${pkgs[@]}" --bins
    cargo build --release --locked -p gpufault-workloads --example bench
    echo "== building release test binaries: ${TEST_PACKAGES[*]}"
    pkgs=()
    for p in "${TEST_PACKAGES[@]}"; do pkgs+=(-p "$p"); done
    local json
    json=$(mktemp)
    cargo test --release --locked "${pkgs[@]}" --no-run --message-format=json >"$json"
    rm -rf "$BUNDLE"
    mkdir -p "$BUNDLE/bin" "$BUNDLE/tests"
    # Test executables: "<package>.<target>" (lib unit tests are "<package>.lib").
    python3 - "$json" "$BUNDLE/tests" <<'PY'
import json, shutil, sys
src, dest = sys.argv[1], sys.argv[2]
for line in open(src):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    if not m.get("profile", {}).get("test"):
        continue
    pkg = m["package_id"].split("#")[-1].split("@")[0].split("/")[-1]
    kind = m["target"]["kind"][0]
    name = pkg + "." + ("lib" if kind == "lib" else m["target"]["name"])
    shutil.copy2(m["executable"], f"{dest}/{name}")
    print(f"   test binary {name}")
PY
    rm -f "$json"
    for b in target/release/gpufault target/release/gpufault-gpu-worker; do
        cp "$b" "$BUNDLE/bin/"
        echo "   binary $(basename "$b")"
    done
    cp target/release/examples/bench "$BUNDLE/bin/workloads-bench"
    echo "   binary workloads-bench (workloads/examples/bench.rs)"
    strip --strip-debug "$BUNDLE"/bin/* "$BUNDLE"/tests/*
    cp scripts/gpu-check.sh "$BUNDLE/"
    local glibc
    glibc=$(objdump -T "$BUNDLE"/bin/* "$BUNDLE"/tests/* 2>/dev/null |
        grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -n 1)
    {
        echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty')"
        echo "rustc: $(rustc --version)"
        echo "needs: $glibc or newer (x86-64 Linux)"
    } >"$BUNDLE/MANIFEST"
    local mib
    mib=$(du -sm "$BUNDLE" | cut -f1)
    cat "$BUNDLE/MANIFEST"
    echo "== bundle $BUNDLE: ${mib} MiB"
    if [ "$mib" -gt "$MAX_BUNDLE_MIB" ]; then
        echo "gpu-check: the bundle is ${mib} MiB, over the ${MAX_BUNDLE_MIB} MiB that can be carried" >&2
        exit 1
    fi
}

# ---------------------------------------------------------------- the run half
LOGDIR=${OUT:-target/gpu-check}
mkdir -p "$LOGDIR" && LOGDIR=$(cd "$LOGDIR" && pwd) # absolute: steps may cd
LOG=$LOGDIR/gpu-check.log
BUDGET=${GPU_CHECK_BUDGET:-400}
STEP_LIMIT=${GPU_CHECK_STEP_LIMIT:-180}
START=$(date +%s)
ROWS=()
FAILED=0

# Reasons a step cannot run; set by need_* and consumed by step.
SKIP_REASON=""
need_bin() { [ -x "$1" ] || SKIP_REASON=${SKIP_REASON:-"$1 not in the bundle"}; }
# need_cli "SUBCOMMAND WORDS" FLAG…: the bundled gpufault has that subcommand and flags.
need_cli() {
    local words=$1 help
    shift
    # shellcheck disable=SC2086 # the words are meant to split
    if ! help=$("$BUNDLE/bin/gpufault" $words --help 2>/dev/null); then
        SKIP_REASON=${SKIP_REASON:-"gpufault has no \`$words\` subcommand yet"}
        return
    fi
    local f
    for f in "$@"; do
        grep -q -- "$f" <<<"$help" ||
            SKIP_REASON=${SKIP_REASON:-"\`gpufault $words\` has no $f flag yet"}
    done
}

# GPU_DEVICE (default cuda:0) names the device the GPU steps use; GPU_DEVICE=sim:h100
# exercises the script logic on a machine without a GPU.
# step NAME COMMAND…: runs COMMAND with a time limit, logs everything, records a row.
step() {
    local name=$1
    shift
    local now elapsed
    now=$(date +%s)
    elapsed=$((now - START))
    if [ -n "$SKIP_REASON" ]; then
        ROWS+=("$name|skip|-|$SKIP_REASON")
        echo "== $name: SKIP ($SKIP_REASON)" | tee -a "$LOG"
        SKIP_REASON=""
        return
    fi
    local limit=$((BUDGET - elapsed))
    [ "$limit" -le "$STEP_LIMIT" ] || limit=$STEP_LIMIT
    if [ "$limit" -lt 10 ]; then
        ROWS+=("$name|skip|-|time budget of ${BUDGET}s spent")
        echo "== $name: SKIP (time budget spent)" | tee -a "$LOG"
        summary >/dev/null
        return
    fi
    echo "== $name (limit ${limit}s): $*" | tee -a "$LOG"
    local t0 rc out
    t0=$(date +%s)
    out=$(mktemp)
    timeout --kill-after=10 "$limit" "$@" >"$out" 2>&1
    rc=$?
    cat "$out" >>"$LOG"
    local secs=$(($(date +%s) - t0))
    local note
    note=$(grep -E '^test result:|SKIP:|^FAILED:|^all [0-9]+ workloads|^RESULT:' "$out" | tail -n 1 | sed 's/^RESULT: //' | cut -c1-90)
    rm -f "$out"
    if [ "$rc" -eq 0 ]; then
        ROWS+=("$name|pass|${secs}s|$note")
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        ROWS+=("$name|FAIL|${secs}s|timed out after ${limit}s")
        FAILED=1
    else
        ROWS+=("$name|FAIL|${secs}s|exit $rc ${note}")
        FAILED=1
    fi
    echo "== $name: exit $rc after ${secs}s" >>"$LOG"
    summary >/dev/null
}

# Writes the table of the steps so far to $LOGDIR/summary.txt and prints it.
summary() {
    local total=$(($(date +%s) - START))
    {
        echo
        printf '%-34s %-5s %-6s %s\n' STEP RESULT TIME NOTE
        local r n res secs note
        for r in "${ROWS[@]}"; do
            IFS='|' read -r n res secs note <<<"$r"
            printf '%-34s %-5s %-6s %s\n' "$n" "$res" "$secs" "$note"
        done
        echo "total ${total}s; full log: $LOG"
    } | tee "$LOGDIR/summary.txt"
}

# workloads_on_gpu [default|gpu]: `gpufault run NAME --device $GPU_DEVICE` for every
# workload `gpufault workloads` lists, at its default size or at its GPU size (from the
# listing); fails when any run fails.
workloads_on_gpu() {
    local which=${1:-default} dev=${GPU_DEVICE:-cuda:0} rows w size n=0 failed=()
    rows=$("$BUNDLE/bin/gpufault" workloads --json |
        python3 -c 'import json, sys; [print(w["name"], w["size"][sys.argv[1]]) for w in json.load(sys.stdin)]' "$which") ||
        return 1
    [ -n "$rows" ] || { echo "FAILED: no workloads listed"; return 1; }
    while read -r w size; do
        echo "-- $w (size $size)"
        n=$((n + 1))
        "$BUNDLE/bin/gpufault" run "$w" --device "$dev" --size "$size" </dev/null || failed+=("$w")
    done <<<"$rows"
    if [ "${#failed[@]}" -gt 0 ]; then
        echo "FAILED: ${#failed[@]} of $n workloads: ${failed[*]}"
        return 1
    fi
    echo "all $n workloads match their CPU reference on $dev at their $which size"
}
export -f workloads_on_gpu

# Every workload on cuda:0 with `--against sim:h100`; prints one RESULT line.
workloads_vs_sim() {
    local names w dir
    dir=$(mktemp -d)
    names=$("$BUNDLE/bin/gpufault" workloads --json |
        python3 -c 'import json, sys; print(" ".join(w["name"] for w in json.load(sys.stdin)))') ||
        return 1
    for w in $names; do
        "$BUNDLE/bin/gpufault" run "$w" --device "${GPU_DEVICE:-cuda:0}" --against sim:h100 --json >"$dir/$w.json"
        echo "-- $w: exit $?"
        cat "$dir/$w.json"
    done
    python3 - "$dir" <<'PY'
import glob, json, os, sys
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    try:
        rows.append(json.load(open(f)))
    except ValueError:
        rows.append({"workload": os.path.basename(f)[:-5], "verdict": "error", "against": None})
ref_ok = sum(r.get("verdict") in ("identical", "within_tolerance") for r in rows)
vs = [((r.get("against") or {}).get("verdict") or "error") for r in rows]
for r, v in zip(rows, vs):
    print(f"{r.get('workload'):<14} vs reference: {r.get('verdict'):<17} vs sim:h100: {v}")
print(f"RESULT: {ref_ok}/{len(rows)} match reference; vs sim: {vs.count('identical')} identical, "
      f"{vs.count('within_tolerance')} within tol, {vs.count('different')} different, {vs.count('error')} error")
sys.exit(0 if ref_ok == len(rows) and vs.count("different") + vs.count("error") == 0 else 1)
PY
}
export -f workloads_vs_sim

# A campaign on cuda:0 (stopped gracefully after GPU_CAMPAIGN_SECONDS, what finished
# stays in the store), the same plan on sim:h100, and the outcome agreement of every
# injection both ran. Prints one RESULT line.
injections_vs_sim() {
    local dir=$LOGDIR/campaign g=$BUNDLE/bin/gpufault
    local plan=(--workloads vecadd,gemm_tiled,bfs,reduction --models all --injections 70 --seed 7 --profile sim:h100)
    rm -rf "$dir"
    mkdir -p "$dir"
    "$g" campaign plan "${plan[@]}" --device "${GPU_DEVICE:-cuda:0}" --out "$dir/gpu.db" || return 1
    timeout -s INT -k 20 "${GPU_CAMPAIGN_SECONDS:-120}" "$g" campaign run "$dir/gpu.db" --jobs 4 2>&1 | tee "$dir/gpu-run.txt"
    "$g" campaign plan "${plan[@]}" --device sim:h100 --out "$dir/sim.db" || return 1
    "$g" campaign run "$dir/sim.db" 2>&1 | tail -n 2
    "$g" report "$dir/gpu.db" --format jsonl -o "$dir/gpu.jsonl" || return 1
    "$g" report "$dir/sim.db" --format jsonl -o "$dir/sim.jsonl" || return 1
    "$g" report "$dir/gpu.db" --format md -o "$dir/gpu-report.md"
    "$g" report "$dir/gpu.db" --format html -o "$dir/gpu-report.html"
    python3 - "$dir" <<'PY'
import json, os, re, sys
d = sys.argv[1]
def load(name):
    rows = {}
    for line in open(os.path.join(d, name)):
        r = json.loads(line)
        rows[(r["workload"], r["model"], r["spec"])] = r
    return rows
gpu, sim = load("gpu.jsonl"), load("sim.jsonl")
both = [k for k in gpu if k in sim]
def kind(r):
    o = r["outcome"]["kind"]
    # trap: CUDA reports a launch failure where the virtual GPU says trap
    if o == "due" and r["outcome"].get("cause") in ("trap", "launch_failure"):
        return "due:trap"
    return o if o != "due" else "due:" + r["outcome"].get("cause", "")
same = sum(kind(gpu[k]) == kind(sim[k]) for k in both)
coarse = sum(gpu[k]["outcome"]["kind"] == sim[k]["outcome"]["kind"] for k in both)
rate = ""
for line in open(os.path.join(d, "gpu-run.txt")):
    m = re.search(r"\(([0-9.]+)/s\)", line)
    if m:
        rate = m.group(1)
print(f"gpu injections done: {len(gpu)}; matched with sim: {len(both)}")
print(f"RESULT: {len(gpu)} injections on GPU at {rate}/s; outcome agreement with sim {coarse}/{len(both)} "
      f"(with DUE cause {same}/{len(both)})")
# Agreement is measured, not required: a real GPU legitimately differs where the virtual
# GPU is stricter (an out-of-bounds access inside an allocation's granule is not a fault
# there) or timing-dependent (hang versus deadline). The step fails when no injection
# completed on the GPU.
sys.exit(0 if gpu else 1)
PY
}
export -f injections_vs_sim

# The health check of $GPU_DEVICE (`gpufault check DEV --json`, GPUFAULT_REQUIRE_GPU=1
# from run_steps), its report in $LOGDIR/check.json; prints one RESULT line: verdict,
# duration, coverage, findings, rules not evaluated. Fails when the output is not the
# report, the GPU could not be inspected, or the GPU is judged faulty (on a machine lent
# as healthy: a false alarm to look into, or a real fault to report). `unknown` passes
# with its reason in the log (an SM the hardware scheduler gave no CTA of the suite, a
# reading NVML does not give): the first runs on a GPU are there to learn such cases.
health_check_gpu() {
    local dev=${GPU_DEVICE:-cuda:0} rc
    "$BUNDLE/bin/gpufault" check "$dev" --json --timeout 120 >"$LOGDIR/check.json"
    rc=$?
    cat "$LOGDIR/check.json"
    python3 - "$LOGDIR/check.json" "$rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    report = json.load(open(path))
    d = report["devices"][0]
except (ValueError, KeyError, IndexError) as e:
    print(f"FAILED: gpufault check wrote no report ({e}), exit {rc}")
    sys.exit(1)
codes = {"healthy": 0, "faulty": 1, "degraded": 2, "unknown": 3}
c = d["coverage"]
print(f"verdict {d['verdict']} (exit {rc}); reason: {d.get('reason')}")
for f in d["findings"]:
    print(f"finding: {json.dumps(f)}")
for r in d["rules_not_evaluated"]:
    print(f"rule not evaluated: {r['rule']}: {r['reason']} (not supported: {r['not_supported']})")
missing = [r["rule"] for r in d["rules_not_evaluated"] if not r["not_supported"]]
print(f"RESULT: {d['device']} {d['verdict']} in {d['duration_ms'] / 1000:.2f} s; "
      f"{c['sms_observed']}/{c['sms']} SMs; {len(d['findings'])} findings; "
      f"rules not evaluated: {','.join(missing) or 'none'}")
ok = d["uuid"] != "" and codes[report["verdict"]] == rc and d["verdict"] != "faulty"
sys.exit(0 if ok else 1)
PY
}
export -f health_check_gpu

# Issue 17, item 4: the health check on the real GPU with faults injected by the
# instrumentation (`gpufault check DEV --inject SPEC`: the same instrumented suite and
# descriptors a faulty virtual GPU runs), against the virtual GPU. The faults are those a
# coverage campaign draws on sim:h100 (H100 geometry: 132 SMs, 64 warp slots) with a seed
# of its own, INJECT_FAULTS per model (default 1: 14 faults); each is checked on the GPU
# and the verdicts compared with the virtual GPU's: detected on both, and the faulty SM
# named first. A fault the GPU cannot carry (an SM it lacks) is counted as not applicable.
# Agreement is measured, not required (the real scheduler places warps its own way).
injected_checks_gpu() {
    local G=$BUNDLE/bin/gpufault dev=${GPU_DEVICE:-cuda:0} db=$LOGDIR/inject-coverage.db
    rm -f "$db"
    "$G" coverage --models all --faults "${INJECT_FAULTS:-1}" --device sim:h100 --seed 20261207 \
        --jobs 4 --out "$db" >"$LOGDIR/inject-coverage.txt" 2>&1 || { cat "$LOGDIR/inject-coverage.txt"; return 1; }
    "$G" report "$db" --format jsonl >"$LOGDIR/inject-sim.jsonl" || return 1
    python3 - "$G" "$dev" "$LOGDIR/inject-sim.jsonl" "$LOGDIR/inject-gpu.jsonl" <<'PY'
import json, subprocess, sys, time
g, dev, sim_rows, out = sys.argv[1:5]
rows = [json.loads(l) for l in open(sim_rows) if l.strip()]
both = det_agree = sm_agree = na = 0
secs = []
with open(out, "w") as f:
    for r in rows:
        t = time.time()
        p = subprocess.run([g, "check", dev, "--inject", r["spec"], "--json", "--timeout", "60"],
                           capture_output=True, text=True)
        secs.append(time.time() - t)
        try:
            d = json.loads(p.stdout)["devices"][0]
        except (ValueError, KeyError, IndexError):
            na += 1
            print(f"n/a {r['spec']}: exit {p.returncode}: {p.stderr.strip()[:200]}")
            continue
        sms = [x.get("sm") for x in d["findings"] if x.get("sm") is not None]
        gpu_detected = d["verdict"] == "faulty"
        gpu_sm_first = bool(sms) and sms[0] == r["fault_sm"]
        both += 1
        det_agree += gpu_detected == r["detected"]
        sm_agree += gpu_detected and r["detected"] and gpu_sm_first == r["sm_first"]
        f.write(json.dumps({"spec": r["spec"], "model": r["model"], "sim_detected": r["detected"],
                            "gpu_verdict": d["verdict"], "sim_sm_first": r["sm_first"],
                            "gpu_sm_first": gpu_sm_first, "gpu_reason": d.get("reason"),
                            "seconds": round(secs[-1], 2)}) + "\n")
        print(f"{r['model']:5} sim {'detected' if r['detected'] else 'ESCAPED'} / gpu {d['verdict']}"
              f"{'' if gpu_sm_first else ' (SM not first)'} {secs[-1]:.1f} s  {r['spec']}")
detected_both = sum(1 for l in open(out) for x in [json.loads(l)] if x["sim_detected"] and x["gpu_verdict"] == "faulty")
print(f"RESULT: {both} injected faults checked on {dev} ({na} not applicable); detection agrees with "
      f"sim:h100 on {det_agree}/{both}; faulty SM named first on both in {sm_agree}/{detected_both}; "
      f"median {sorted(secs)[len(secs)//2] if secs else 0:.1f} s per check")
sys.exit(0 if both > 0 else 1)
PY
}
export -f injected_checks_gpu

# The Kubernetes modes on the real GPU: `gpufault npd` (the passive check: NVML telemetry
# rules and the ledger, no GPU work) on an empty ledger must say ok (exit 0, one line of
# at most 256 characters); then the GPU quarantined by hand in a scratch ledger: npd says
# problem (exit 1) naming its UUID, and `gpufault k8s taint-advice --format json` gives a
# DeviceTaintRule whose DRA device name comes from the driver's minor number
# (/proc/driver/nvidia/gpus/<bus>/information). Prints one RESULT line.
k8s_on_gpu() {
    local B=$BUNDLE/bin/gpufault dev=${GPU_DEVICE:-cuda:0} L=$LOGDIR/k8s-ledger.json line rc uuid
    rm -f "$L" "$L.lock"
    line=$("$B" npd --devices "$dev" --ledger "$L"); rc=$?
    echo "npd, empty ledger: exit $rc: $line"
    [[ $rc == 0 && ${#line} -le 256 ]] || { echo "FAILED: npd on a healthy GPU"; return 1; }
    uuid=$("$B" devices "$dev" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d["devices"]; print(d[0]["uuid"])') || return 1
    "$B" quarantine add "$uuid" --reason "gpu-check: taint advice on a real GPU" --ledger "$L" || return 1
    line=$("$B" npd --devices "$dev" --ledger "$L"); rc=$?
    echo "npd, GPU quarantined: exit $rc: $line"
    [[ $rc == 1 && $line == *"$uuid"* && ${#line} -le 256 ]] || { echo "FAILED: npd with the GPU quarantined"; return 1; }
    "$B" k8s taint-advice --devices "$dev" --ledger "$L" --node gpu-check --format json >"$LOGDIR/taint-advice.json"; rc=$?
    cat "$LOGDIR/taint-advice.json"
    python3 - "$LOGDIR/taint-advice.json" "$rc" "$uuid" <<'PY'
import json, sys
path, rc, uuid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
advice = json.load(open(path))
q = [g for g in advice["quarantined"] if g["uuid"] == uuid]
device = q[0].get("dra_device") if q else None
rules = [r for r in advice["device_taint_rules"] if r["spec"]["deviceSelector"].get("device") == device]
print(f"RESULT: taint-advice exit {rc}; the GPU listed: {bool(q)}; DRA device {device} "
      f"(from the driver's minor number); rules for it: {len(rules)}")
sys.exit(0 if rc == 0 and q and device and len(rules) == 1 else 1)
PY
}
export -f k8s_on_gpu

run_steps() {
    local B=$BUNDLE
    export BUNDLE
    export GPUFAULT_REQUIRE_GPU=1
    export GPUFAULT_WORKER_BIN=$B/bin/gpufault-gpu-worker
    export RUST_BACKTRACE=1

    need_bin "$B/bin/gpufault"
    step "devices (table)" sh -c "'$B/bin/gpufault' devices | tee '$LOGDIR/devices.txt'"
    need_bin "$B/bin/gpufault"
    step "devices (json)" sh -c "'$B/bin/gpufault' devices --json >'$LOGDIR/devices.json'"

    # Every bundled test binary, whole: GPU tests fail without a GPU here, the others
    # must pass on any machine.
    local t
    for t in "$B"/tests/*; do
        [ -x "$t" ] || continue
        step "tests $(basename "$t")" "$t" --test-threads=4
    done

    # Every workload on the GPU, checked against its CPU reference (which the virtual
    # GPU matches too), at its default size.
    need_cli workloads --json
    need_cli run --device
    step "workloads on gpu" bash -c "workloads_on_gpu default"

    # Every workload on the GPU and on the virtual H100: bit-identical where the
    # arithmetic is exact, within the documented tolerance where it is not.
    need_cli run --against
    step "workloads gpu vs sim" bash -c workloads_vs_sim

    # Fault injection on the GPU: instrumented modules loaded once per (workload, model)
    # per worker process, a campaign of every model over four workloads, then the same
    # plan (same seed, faults drawn on the sim:h100 site profile) on the virtual H100:
    # outcome agreement per injection.
    need_cli "campaign plan" --device --profile
    step "injections gpu vs sim" bash -c injections_vs_sim

    # The workload benchmark in its GPU mode (JSON next to the logs).
    need_bin "$B/bin/workloads-bench"
    step "workload bench on gpu" "$B/bin/workloads-bench" --runs 3 --profile "${GPU_DEVICE:-cuda:0}" --json "$LOGDIR/bench-workloads-gpu.json"

    # The health check of the GPU (`gpufault check cuda:0 --json`): its verdict and how
    # long it took (the goal: 5 s per GPU), the JSON in $OUT/check.json.
    need_cli check --json --timeout
    step "health check gpu" bash -c health_check_gpu

    # The health check with faults injected by the instrumentation, gpu vs sim (issue 17).
    need_cli check --inject
    step "injected faults: check on gpu vs sim" bash -c injected_checks_gpu

    # The training job on the GPU (its kernels through the CUDA driver, the replica check,
    # the eval loss, ms per step) and the guard around it (pre-flight check of the GPU by
    # UUID, CUDA_VISIBLE_DEVICES by UUID, NVML XID watch, the completion marker).
    need_cli train --json --keep-checkpoints
    step "train on gpu" sh -c "'$B/bin/gpufault' train --devices '${GPU_DEVICE:-cuda:0}' --steps 200 --json >'$LOGDIR/train-gpu.json'"
    need_cli guard --resume --check-every
    step "guard + train on gpu" sh -c "cd '$LOGDIR' && '$B/bin/gpufault' guard --devices '${GPU_DEVICE:-cuda:0}' --ledger '$LOGDIR/ledger.json' --events '$LOGDIR/guard-events.jsonl' --check-every 5 -- '$B/bin/gpufault' train --steps 200 --checkpoint-every 25 --checkpoint '$LOGDIR/ckpt.json' --json >'$LOGDIR/guard-train-gpu.json'"

    # The Kubernetes modes on the GPU (NVML through the passive check, the DRA device
    # name from the driver's /proc entry).
    need_cli npd --ledger
    step "npd + taint-advice on gpu" bash -c k8s_on_gpu

    # Every workload at its GPU size (large grids, the host drivers at scale; the CPU
    # references are single-threaded, so this step comes last and takes what is left).
    step "workloads on gpu, gpu size" bash -c "workloads_on_gpu gpu"
}

run() {
    if [ ! -f "$BUNDLE/MANIFEST" ]; then
        echo "gpu-check: no bundle at $BUNDLE: run scripts/gpu-check.sh --build first (on a machine with cargo) and carry $BUNDLE (see GPU.md)" >&2
        exit 2
    fi
    BUNDLE=$(cd "$BUNDLE" && pwd) # absolute: steps may cd
    export BUNDLE
    mkdir -p "$LOGDIR"
    : >"$LOG"
    {
        echo "== bundle"
        cat "$BUNDLE/MANIFEST"
        echo "== machine"
        uname -a
        ldd --version 2>&1 | head -n 1
        nvidia-smi --query-gpu=name,uuid,pci.bus_id,driver_version,memory.total --format=csv 2>&1 || true
        ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvidia-ml\.so' || echo "ldconfig shows no libcuda / libnvidia-ml"
    } >>"$LOG" 2>&1
    run_steps
    summary
    exit "$FAILED"
}

case "${1:-}" in
--build) build ;;
"") run ;;
*)
    echo "usage: scripts/gpu-check.sh [--build]" >&2
    exit 2
    ;;
esac
