#!/usr/bin/env bash
# A gpufault fault campaign as a Slurm array job: array task I of N runs shard I/N of a
# planned campaign in its own copy of the plan; a last step merges the shards.
# (docs/campaigns.md, "Sharding on a cluster".)
#
#   # 1. plan once (on a login node: name the device, `auto` would mean this node)
#   gpufault campaign plan --workloads all --models all --margin 0.031 \
#       --device cuda:0 --out campaign.db
#   # 2. one array task per shard, numbered from 0
#   jobid=$(sbatch --parsable --array=0-7 scripts/slurm-campaign.sh campaign.db)
#   # 3. merge when every task has succeeded, then report
#   sbatch --dependency=afterok:$jobid scripts/slurm-campaign.sh --merge campaign.db
#   gpufault report campaign-merged.db --format html -o report.html
#
# Shard stores go to shards/ beside the plan: shards/campaign-I-of-N.db. A task that is
# requeued, preempted, killed or timed out continues its shard store when it runs again
# (nothing committed is lost or run twice); resubmitting the same array after a failure
# does the same. Before the time limit Slurm sends SIGINT (--signal below) and gpufault
# commits the injections in flight and exits 130.
#
# scripts/slurm-e2e.sh submits this script unchanged on a real local Slurm (adding
# --cpus-per-task=1 on the command line for its 2-CPU nodes) and checks that the merged
# store holds exactly the rows of the same plan run on one machine.
#
# Options come from Slurm (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT,
# SLURM_CPUS_PER_TASK) and the command line; GPUFAULT may name the binary (default:
# gpufault on PATH). Exit codes: gpufault's (docs/exit-codes.md); 2 for misuse.
#
#SBATCH --job-name=gpufault-campaign
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --gpus-per-task=1
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --signal=B:INT@120
#SBATCH --output=gpufault-campaign-%A_%a.out
set -euo pipefail

GPUFAULT=${GPUFAULT:-gpufault}

usage() {
    echo "usage: sbatch --array=0-(N-1) $0 PLAN.db   |   $0 --merge PLAN.db" >&2
    exit 2
}

shard_dir() { echo "$(dirname -- "$1")/shards"; }
stem() { basename -- "$1" .db; }

if [[ ${1:-} == --merge ]]; then
    [[ $# -eq 2 && -f $2 ]] || usage
    plan=$2
    dir=$(shard_dir "$plan")
    shopt -s nullglob
    shards=("$dir/$(stem "$plan")"-*-of-*.db)
    if [[ ${#shards[@]} -eq 0 ]]; then
        echo "slurm-campaign: no shard stores in $dir" >&2
        exit 2
    fi
    out="$(dirname -- "$plan")/$(stem "$plan")-merged.db"
    exec "$GPUFAULT" campaign merge "${shards[@]}" -o "$out"
fi

[[ $# -eq 1 && -f $1 ]] || usage
plan=$1
index=${SLURM_ARRAY_TASK_ID:-}
count=${SLURM_ARRAY_TASK_COUNT:-}
if [[ ! $index =~ ^[0-9]+$ || ! $count =~ ^[0-9]+$ ]]; then
    echo "slurm-campaign: not an array task: submit with sbatch --array=0-(N-1) $0 $plan" >&2
    exit 2
fi
if ((index >= count)); then
    echo "slurm-campaign: task $index of $count: number the array from 0 (--array=0-$((count - 1)))" >&2
    exit 2
fi
dir=$(shard_dir "$plan")
mkdir -p -- "$dir"
store="$dir/$(stem "$plan")-$index-of-$count.db"
if [[ ! -e $store ]]; then
    # copy, then rename: a task killed while copying leaves no half store behind
    cp -- "$plan" "$store.partial.$$"
    mv -n -- "$store.partial.$$" "$store"
    rm -f -- "$store.partial.$$"
fi
# `exec` makes gpufault the batch shell, so the SIGINT of --signal=B:INT reaches it.
exec "$GPUFAULT" campaign run "$store" --shard "$index/$count" \
    --jobs "${SLURM_CPUS_PER_TASK:-$(nproc)}"
