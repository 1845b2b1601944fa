//! Launchers the guard knows: for torchrun (`torchrun …`, `python -m torch.distributed.run
//! …`), each start's command line gets `--nproc-per-node` set to the number of healthy
//! devices, so that a restart after a quarantine runs one worker per remaining GPU.
//!
//! Every spelling torchrun accepts is rewritten: `--nproc-per-node N`,
//! `--nproc_per_node N`, `--nproc-per-node=N`, `--nproc_per_node=N`; with none of them,
//! `--nproc-per-node N` is inserted right after the launcher (before the training
//! script, whose own arguments are never touched). Other commands are left as they are:
//! they read the device count from `GPUFAULT_DEVICE_COUNT`.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// `command` as started with `devices` devices: rewritten for torchrun, else unchanged.
pub fn for_devices(command: &[OsString], devices: usize) -> Vec<OsString> {
    let Some(start) = torchrun_args_start(command) else {
        return command.to_vec();
    };
    let n = OsString::from(devices.to_string());
    let mut out: Vec<OsString> = command[..start].to_vec();
    let mut rewritten = false;
    let mut i = start;
    while i < command.len() {
        let arg = command[i].to_string_lossy();
        if !arg.starts_with('-') {
            break; // the training script: it and its arguments are the job's
        }
        if arg == "--" {
            break;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, _)) => (name.to_string(), true),
            None => (arg.to_string(), false),
        };
        if name == "--nproc-per-node" || name == "--nproc_per_node" {
            out.push(command[i].clone());
            if inline {
                let last = out.last_mut().expect("just pushed");
                *last = OsString::from(format!("{name}={devices}"));
            } else {
                out.push(n.clone());
                i += 1; // skip the old value
            }
            rewritten = true;
        } else {
            out.push(command[i].clone());
            // torchrun's options that take a separate value: keep the value with them
            if !inline && takes_value(&name) && i + 1 < command.len() {
                i += 1;
                out.push(command[i].clone());
            }
        }
        i += 1;
    }
    if !rewritten {
        out.insert(start, OsString::from("--nproc-per-node"));
        out.insert(start + 1, n);
    }
    out.extend_from_slice(&command[i.min(command.len())..]);
    out
}

/// Where torchrun's own arguments begin, if `command` runs torchrun: after `torchrun`,
/// or after `python -m torch.distributed.run` / `torch.distributed.launch`.
fn torchrun_args_start(command: &[OsString]) -> Option<usize> {
    let base = |a: &OsStr| {
        Path::new(a)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let first = base(command.first()?);
    if first == "torchrun" {
        return Some(1);
    }
    if first.starts_with("python") {
        let m = command.iter().position(|a| a == "-m")?;
        let module = command.get(m + 1)?.to_string_lossy();
        if module == "torch.distributed.run" || module == "torch.distributed.launch" {
            return Some(m + 2);
        }
    }
    None
}

/// torchrun options written `--name VALUE` (the flags that take none are the others).
fn takes_value(name: &str) -> bool {
    !matches!(
        name,
        "--standalone"
            | "--no-python"
            | "--no_python"
            | "--run-path"
            | "--run_path"
            | "-m"
            | "--module"
            | "--help"
            | "-h"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    fn text(v: &[OsString]) -> String {
        v.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn every_spelling_is_rewritten_and_the_script_is_left_alone() {
        for (given, want) in [
            (
                "torchrun --nproc-per-node 4 --rdzv-backend c10d train.py --nproc-per-node 9",
                "torchrun --nproc-per-node 3 --rdzv-backend c10d train.py --nproc-per-node 9",
            ),
            (
                "/usr/bin/torchrun --nproc_per_node=8 --standalone train.py",
                "/usr/bin/torchrun --nproc_per_node=3 --standalone train.py",
            ),
            (
                "torchrun train.py --lr 0.1",
                "torchrun --nproc-per-node 3 train.py --lr 0.1",
            ),
            (
                "python3 -m torch.distributed.run --nnodes 1 --nproc-per-node=4 t.py",
                "python3 -m torch.distributed.run --nnodes 1 --nproc-per-node=3 t.py",
            ),
            (
                "python train.py --nproc-per-node 4",
                "python train.py --nproc-per-node 4",
            ),
            ("sh -c 'torchrun x'", "sh -c 'torchrun x'"),
        ] {
            assert_eq!(text(&for_devices(&cmd(given), 3)), want, "{given}");
        }
    }

    #[test]
    fn a_multi_node_rendezvous_passes_through_unchanged() {
        // one guard per node: only this node's worker count changes; the node range,
        // the rendezvous (endpoint, id, its settings) and torchrun's own restarts are
        // the same for every node and are never rewritten
        let given = "torchrun --nnodes 1:2 --nproc-per-node 4 --max-restarts 1 \
                     --rdzv-backend c10d --rdzv-endpoint 10.0.0.1:29400 --rdzv-id job-7 \
                     --rdzv-conf is_host=0,last_call_timeout=5,keep_alive_interval=1 \
                     train.py --nnodes 9";
        let want = "torchrun --nnodes 1:2 --nproc-per-node 1 --max-restarts 1 \
                    --rdzv-backend c10d --rdzv-endpoint 10.0.0.1:29400 --rdzv-id job-7 \
                    --rdzv-conf is_host=0,last_call_timeout=5,keep_alive_interval=1 \
                    train.py --nnodes 9";
        assert_eq!(text(&for_devices(&cmd(given), 1)), text(&cmd(want)));
        let given = "torchrun --nnodes=1:2 --rdzv-endpoint=10.0.0.1:29400 train.py";
        assert_eq!(
            text(&for_devices(&cmd(given), 2)),
            "torchrun --nproc-per-node 2 --nnodes=1:2 --rdzv-endpoint=10.0.0.1:29400 train.py"
        );
    }
}
