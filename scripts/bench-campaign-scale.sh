#!/usr/bin/env bash
# The SC'23 scale benchmark (issue 20, BENCHMARKS.md "A campaign at the SC'23 scale"):
# one campaign over all 16 workloads × 14 models on the virtual H100, 737 injections per
# cell = 165,088 injections (the study ran 1.65×10^5), timed as a whole (planning,
# every cell's golden and dry runs, each injection on a fresh virtual GPU, the store).
# Prints a table and writes JSON.
#
#   scripts/bench-campaign-scale.sh                         # 737 per cell, 2 jobs
#   scripts/bench-campaign-scale.sh --injections 40 --jobs 1
#   GPUFAULT=path/to/gpufault scripts/bench-campaign-scale.sh --json out.json
#
# Columns: wall and CPU (user + sys of the campaign process) seconds, injections per
# second of wall time, CPU milliseconds per injection, the virtual GPU's thread-instructions
# executed by the injections per CPU second, and the share of the workers' time spent
# inside the injections' runs (buffers, launches, read-back: `elapsed_us` in the store;
# the rest is planning, each cell's golden and dry runs, fresh devices, module loads,
# judging and the store). Where kernel execution itself goes is measured with `perf`
# (BENCHMARKS.md gives the command).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

injections=737 jobs=2 seed=2026 json=target/bench/campaign-scale.json
while [[ $# -gt 0 ]]; do
    case $1 in
    --injections) injections=$2 ;;
    --jobs) jobs=$2 ;;
    --seed) seed=$2 ;;
    --json) json=$2 ;;
    *)
        echo "bench-campaign-scale: unknown argument '$1' (--injections N, --jobs J, --seed S, --json FILE)" >&2
        exit 2
        ;;
    esac
    shift 2 || {
        echo "bench-campaign-scale: '$1' needs a value" >&2
        exit 2
    }
done

GPUFAULT=${GPUFAULT:-}
if [[ -z $GPUFAULT ]]; then
    cargo build --release -p gpufault >&2
    GPUFAULT=target/release/gpufault
fi
mkdir -p "$(dirname "$json")" target/bench
db=target/bench/campaign-scale.db
rm -f "$db" "$db-wal" "$db-shm"

# bash's `time` keyword reports the campaign's own CPU (user + sys) without /usr/bin/time
TIMEFORMAT='%R %U %S'
times=$({ time "$GPUFAULT" campaign --workloads all --models all --injections "$injections" \
    --seed "$seed" --device sim:h100 --jobs "$jobs" --out "$db" >/dev/null 2>target/bench/campaign-scale.log; } 2>&1)
read -r wall user sys <<<"$times"

python3 - "$db" "$json" "$wall" "$user" "$sys" "$jobs" "$injections" <<'PY'
import json, sqlite3, sys, os
db, out, wall, user, sys_s, jobs, per_cell = sys.argv[1:]
wall, user, sys_s = float(wall), float(user), float(sys_s)
c = sqlite3.connect(db)
n, instr, run_us = c.execute(
    "select count(*), coalesce(sum(instructions), 0), sum(elapsed_us) from results").fetchone()
cells = c.execute("select count(*) from cells").fetchone()[0]
failed = c.execute("select count(*) from plan").fetchone()[0] - n
cpu = user + sys_s
row = {
    "injections": n,
    "cells": cells,
    "per_cell": int(per_cell),
    "jobs": int(jobs),
    "not_run": failed,
    "wall_s": round(wall, 2),
    "cpu_s": round(cpu, 2),
    "injections_per_s": round(n / wall, 1),
    "cpu_ms_per_injection": round(1000 * cpu / n, 3),
    "thread_instructions": instr,
    "thread_instructions_per_cpu_s": round(instr / cpu),
    "share_in_injection_runs": round(run_us / 1e6 / (wall * int(jobs)), 3),
    "cpus": os.cpu_count(),
}
hdr = ["injections", "jobs", "wall s", "CPU s", "inj/s", "CPU ms/inj", "thread-instr/CPU s", "in runs"]
val = [f"{n:,}", jobs, f"{wall:.1f}", f"{cpu:.1f}", f"{n / wall:.1f}", f"{1000 * cpu / n:.2f}",
       f"{instr / cpu / 1e6:.0f} M", f"{100 * row['share_in_injection_runs']:.0f}%"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---:|" * len(hdr))
print("| " + " | ".join(str(v) for v in val) + " |")
if failed:
    print(f"note: {failed} planned injections did not run (see target/bench/campaign-scale.log)")
with open(out, "w") as f:
    json.dump(row, f, indent=2)
    f.write("\n")
print(f"wrote {out}")
PY
