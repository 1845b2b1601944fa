#!/usr/bin/env python3
"""A small data-parallel (DDP) training job for `gpufault guard -- torchrun …`.

What `scripts/torchrun-e2e.sh` runs under the training guard, with the real torchrun:
CPU only, the `gloo` backend, one process per (virtual) GPU. It is the guard's side of
the contract in `docs/guard.md`, written the way a PyTorch user would write it:

- **Devices.** Rank `LOCAL_RANK` runs on the `LOCAL_RANK`-th GPU the guard made visible
  (`GPUFAULT_VISIBLE_DEVICES` for virtual GPUs, `CUDA_VISIBLE_DEVICES` for real ones,
  both by UUID). Here it only *reports* which one: the virtual GPUs are checked by the
  guard, the maths runs on the CPU.
- **The same global batch on any world size.** Every step draws `--global-batch`
  samples of a fixed data set (seeded by the step number, not by the rank) and rank r
  takes the r-th contiguous slice; DDP averages the ranks' gradients, so the update is
  the mean over the same global batch whatever the world size (which must divide the
  global batch). The parameters are float64, so a run restarted on fewer ranks differs
  from an uninterrupted one only by the summation order of an all-reduce (measured in
  `docs/guard.md`).
- **Checkpoints** every `--checkpoint-every` steps by rank 0: `ckpt-STEP.pt` written to
  a temporary file, fsynced, renamed, the directory fsynced; the last `--keep` are kept.
- **Resume** from the newest checkpoint at or below the lower of `GPUFAULT_RESUME_AT_MOST`
  (set by this node's guard after a fault: checkpoints written after the last clean check
  of the faulty GPU are not trusted) and the `step` of the job's resume-limit file
  (`GPUFAULT_RESUME_LIMIT_FILE`: what a guard on *another* node that quarantined a GPU
  trusts; a file that does not parse is an error), else from the newest; rank 0 chooses (and deletes the newer ones:
  they belong to the abandoned run), every rank loads the same.
- **Progress** (`GPUFAULT_PROGRESS_FILE`, `reports::guard::JobProgress`): local rank 0
  of every node rewrites its node's file whole (temporary file, rename) after every
  step, with the completion marker `"done": true` after the final checkpoint: on several
  nodes each node's guard watches its own file, and every guard must see the marker
  (a guard that does not, restarts the job). On one node, local rank 0 is rank 0.
- **Several nodes** (`--nnodes 1:2`, one guard and one torchrun per node): the ranks of
  every node form one gloo world; the checkpoint directory must be one all nodes see (a
  shared file system). When a node leaves, the others' workers fail in their next
  collective and their torchrun agents re-rendezvous with the nodes left (or their
  guards start a fresh torchrun): the workers start again and resume from the newest
  checkpoint on the smaller world.

It also writes, for the end-to-end script, one pid file per rank and attempt under
`--pids` (to check that no worker of a stopped torchrun survives; a worker restarted in
place by its torchrun agent adds `-restart-N`, torchrun's `TORCHELASTIC_RESTART_COUNT`),
and prints one line when it finishes its first step (`first step` with the step, the
world size, what it resumed from and the time: the multi-node timeline), and with
`--stray-helper` rank 0 starts a helper that calls `os.setsid()` and ignores SIGTERM
(what a careless data loader or logging daemon does): the guard must still kill it.

Exit codes: 0 done, 2 bad arguments or checkpoint.
"""

import argparse
import json
import os
import signal
import sys
import time


def process_started_unix():
    """When this process started (Unix seconds), from /proc: before `import torch`."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat, counting from 1
        with open("/proc/stat") as f:
            btime = next(int(l.split()[1]) for l in f if l.startswith("btime "))
        return btime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


STARTED = process_started_unix()

import torch  # noqa: E402  (after STARTED: the import is part of a restart's cost)
import torch.distributed as dist  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

FORMAT = 1


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, required=True, help="steps in all")
    p.add_argument("--checkpoint-dir", required=True, help="where checkpoints go")
    p.add_argument("--checkpoint-every", type=int, default=25)
    p.add_argument("--keep", type=int, default=20, help="checkpoints kept (the newest)")
    p.add_argument("--global-batch", type=int, default=48, help="samples per step, all ranks together")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--min-step-ms", type=float, default=0.0,
                   help="pace: each step takes at least this long (so that a fault can arrive mid-run)")
    p.add_argument("--pids", help="directory for one pid file per rank and attempt")
    p.add_argument("--stray-helper", action="store_true",
                   help="rank 0 starts a helper that calls setsid() and ignores SIGTERM")
    p.add_argument("--summary", help="rank 0 writes the final loss and parameters' checksum here (JSON)")
    a = p.parse_args()
    for name in ("steps", "global_batch"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be more than 0")
    if a.checkpoint_every < 0 or a.keep < 1:
        p.error("--checkpoint-every must be at least 0 and --keep at least 1")
    return a


# --- the model and the data --------------------------------------------------------------

IN, HIDDEN, CLASSES, SAMPLES = 16, 32, 4, 4096


def model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(IN, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, CLASSES)
    ).double()


def dataset(seed):
    """Four overlapping Gaussian clusters in 16 dimensions: fixed by the seed."""
    g = torch.Generator().manual_seed(seed + 1000)
    centres = torch.randn(CLASSES, IN, generator=g, dtype=torch.float64)
    y = torch.randint(0, CLASSES, (SAMPLES,), generator=g)
    x = centres[y] + 1.5 * torch.randn(SAMPLES, IN, generator=g, dtype=torch.float64)
    return x, y


def batch_indices(seed, step, global_batch):
    """The global batch of `step` (1-based): the same for every rank and world size."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(0, SAMPLES, (global_batch,), generator=g)


# --- files ---------------------------------------------------------------------------------

def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, write, durable):
    """`write(file)` into a temporary file beside `path`, then rename over it."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        write(f)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(os.path.dirname(os.path.abspath(path)))


def checkpoints(directory):
    """The checkpoint steps on disk, oldest first."""
    steps = []
    for name in os.listdir(directory):
        if name.startswith("ckpt-") and name.endswith(".pt"):
            try:
                steps.append(int(name[5:-3]))
            except ValueError:
                pass
    return sorted(steps)


def ckpt_path(directory, step):
    return os.path.join(directory, f"ckpt-{step:06d}.pt")


def env_step(name):
    v = os.environ.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        sys.exit(f"ddp_train.py: {name}={v}: not a step number")


def shared_limit():
    """The step of the job's resume-limit file (`GPUFAULT_RESUME_LIMIT_FILE`, written by any
    guard of the job that quarantined a GPU: `shim::guard::resume_limit`); None: no file
    named, or none written yet. A file that does not parse stops the job: resuming from a
    checkpoint the fault may have corrupted is what it prevents."""
    path = os.environ.get("GPUFAULT_RESUME_LIMIT_FILE")
    if not path:
        return None
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        sys.exit(f"ddp_train.py: resume-limit file {path}: {e}; refusing to resume without knowing the limit")
    limits = doc.get("limits") if isinstance(doc, dict) else None
    steps = [l.get("step") if isinstance(l, dict) else None for l in limits] if isinstance(limits, list) else []
    if not steps or not all(type(v) is int and v >= 0 for v in steps) or doc.get("step") != min(steps):
        sys.exit(f"ddp_train.py: resume-limit file {path}: not a resume-limit file (`step` must be the "
                 "lowest step of a non-empty `limits`); refusing to resume without knowing the limit")
    return doc["step"]


# --- the job -------------------------------------------------------------------------------

def stray_helper(pids_dir):
    """A helper process that leaves the worker's session and ignores SIGTERM."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if pids_dir:
                with open(os.path.join(pids_dir, f"stray-{os.getpid()}.pid"), "w") as f:
                    f.write(str(os.getpid()))
            while True:
                time.sleep(0.2)
        finally:
            os._exit(0)
    return pid


def main():
    a = parse_args()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    attempt = int(os.environ.get("GPUFAULT_RESTART_COUNT", "0"))
    elastic_restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    if a.global_batch % world:
        sys.exit(f"ddp_train.py: --global-batch {a.global_batch} is not divisible by the world size {world}")
    # the GPU this rank runs on: the LOCAL_RANK-th of those the guard made visible
    visible = [u for u in (os.environ.get("GPUFAULT_VISIBLE_DEVICES") or os.environ.get("CUDA_VISIBLE_DEVICES") or "").split(",") if u]
    names = [n for n in os.environ.get("GPUFAULT_DEVICES", "").split(",") if n]
    if visible and local_rank >= len(visible):
        sys.exit(f"ddp_train.py: LOCAL_RANK {local_rank} but only {len(visible)} visible GPUs: {visible}")
    my_gpu = visible[local_rank] if visible else "cpu"
    my_name = names[local_rank] if local_rank < len(names) else my_gpu
    if a.pids:
        os.makedirs(a.pids, exist_ok=True)
        again = f"-restart-{elastic_restart}" if elastic_restart else ""
        with open(os.path.join(a.pids, f"attempt-{attempt}{again}-rank-{rank}.pid"), "w") as f:
            f.write(str(os.getpid()))
    if a.stray_helper and rank == 0:
        stray_helper(a.pids)
    torch.set_num_threads(1)
    # the model and the optimiser first: the optimiser's first use imports torch._dynamo
    # (~2 s of CPU here), which belongs to the process's setup, not to the rendezvous
    net = model(a.seed)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=a.momentum)

    dist.init_process_group("gloo")
    dist.barrier()
    joined = time.time()  # every rank is in the process group
    gpus = [None] * world
    dist.all_gather_object(gpus, f"{my_name} ({my_gpu})")

    os.makedirs(a.checkpoint_dir, exist_ok=True)

    # resume: rank 0 picks the checkpoint, every rank loads the same one
    # the lower of this node's guard's limit and any guard's of the job (another node's)
    limits = [v for v in (env_step("GPUFAULT_RESUME_AT_MOST"), shared_limit()) if v is not None]
    at_most = min(limits) if limits else None
    choice = torch.tensor([0], dtype=torch.int64)
    if rank == 0:
        usable = [s for s in checkpoints(a.checkpoint_dir) if at_most is None or s <= at_most]
        choice[0] = usable[-1] if usable else 0
        # checkpoints after the one resumed from belong to the abandoned run (after a
        # fault: possibly corrupted); a later restart must never pick one of them
        for newer in checkpoints(a.checkpoint_dir):
            if newer > int(choice[0]):
                os.remove(ckpt_path(a.checkpoint_dir, newer))
    dist.broadcast(choice, 0)
    start, load_ms = int(choice[0]), 0.0
    if start > 0:
        t0 = time.time()
        ck = torch.load(ckpt_path(a.checkpoint_dir, start), weights_only=True)
        if ck.get("format") != FORMAT or ck.get("config") != config_of(a):
            sys.exit(f"ddp_train.py: {ckpt_path(a.checkpoint_dir, start)}: written by another run (format or config differs)")
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        load_ms = (time.time() - t0) * 1e3
    loaded = time.time()
    ddp = DDP(net)
    x_all, y_all = dataset(a.seed)
    per_rank = a.global_batch // world

    progress_file = os.environ.get("GPUFAULT_PROGRESS_FILE")
    progress = {
        "total_steps": a.steps,
        "process_started_unix": STARTED,
        "ranks_joined_unix": joined,
        "checkpoint_loaded_unix": loaded,
        "checkpoint_load_ms": load_ms,
        "devices": gpus,
    }
    if start > 0:
        progress["resumed_from"] = start
    if start > 0:
        progress["checkpoint_step"] = start  # the newest checkpoint on disk now

    def report(**fields):
        if local_rank != 0 or not progress_file:
            return
        progress.update(fields)
        write_atomic(progress_file, lambda f: f.write(json.dumps(progress).encode()), durable=False)

    def checkpoint(step):
        if rank == 0:
            state = {"format": FORMAT, "step": step, "config": config_of(a),
                     "model": net.state_dict(), "optimizer": opt.state_dict()}
            write_atomic(ckpt_path(a.checkpoint_dir, step), lambda f: torch.save(state, f), durable=True)
            for old in checkpoints(a.checkpoint_dir)[:-a.keep]:
                os.remove(ckpt_path(a.checkpoint_dir, old))
        dist.barrier()  # every rank knows it is durable before going on

    loss_value = None
    for step in range(start + 1, a.steps + 1):
        t_step = time.time()
        idx = batch_indices(a.seed, step, a.global_batch)[rank * per_rank:(rank + 1) * per_rank]
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(ddp(x_all[idx]), y_all[idx])
        loss.backward()  # DDP all-reduces (averages) the gradients here
        opt.step()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        loss_value = float(mean) / world
        if step % max(a.checkpoint_every, 1) == 0 and a.checkpoint_every > 0 and step < a.steps:
            checkpoint(step)
            progress["checkpoint_step"] = step
        fields = {"step": step, "loss": loss_value}
        if "first_step_unix" not in progress:
            fields["first_step_unix"] = time.time()
            print(f"ddp_train.py: first step {step} rank {rank} world {world} resumed_from {start} "
                  f"unix {fields['first_step_unix']:.3f} started {STARTED:.3f} joined {joined:.3f} "
                  f"at_most {'none' if at_most is None else at_most}", flush=True)
        report(**fields)
        rest = a.min_step_ms / 1e3 - (time.time() - t_step)
        if rest > 0:
            time.sleep(rest)

    checkpoint(a.steps)
    # the model's loss on the whole data set: what a fault-free run is compared with
    with torch.no_grad():
        full = float(torch.nn.functional.cross_entropy(net(x_all), y_all))
    if rank == 0 and a.summary:
        flat = torch.cat([p.detach().flatten() for p in net.parameters()])
        summary = {"steps": a.steps, "world_size": world, "resumed_from": start or None,
                   "last_loss": loss_value, "full_loss": full,
                   "params": [float(v) for v in flat]}
        write_atomic(a.summary, lambda f: f.write(json.dumps(summary).encode()), durable=True)
    dist.barrier()  # the summary is written before any node's guard sees the marker
    progress["checkpoint_step"] = a.steps
    report(step=a.steps, done=True, loss=loss_value)  # local rank 0 of every node
    if rank == 0:
        print(f"ddp_train.py: done: {a.steps} steps on {world} ranks ({', '.join(gpus)}), "
              f"resumed from {start or 'scratch'}, loss on the data set {full:.12f}", flush=True)
    dist.destroy_process_group()


def config_of(a):
    return {"steps": a.steps, "global_batch": a.global_batch, "lr": a.lr,
            "momentum": a.momentum, "seed": a.seed}


if __name__ == "__main__":
    main()
