//! `gpufault train`: data-parallel training of the `mlp_train` workload's MLP on N
//! devices with atomic checkpoints and its own numerical checks (`shim::train`), the job
//! the training guard's tests guard. Exit codes: `reports::exit::TrainExit`.

use anyhow::Context;
use clap::Args;
use shim::train::{SelfChecks, TrainConfig, TrainOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `gpufault train`.
#[derive(Args)]
pub struct TrainArgs {
    /// Devices, comma-separated (`sim:h100*4`, a node: its visible GPUs;
    /// `sim:h100#0,sim:h100#2`; `cuda:0,cuda:1`). Default: `GPUFAULT_DEVICES` (the guard
    /// sets it), else `sim`.
    #[arg(long, value_name = "LIST")]
    devices: Option<String>,
    /// A virtual node config (JSON) whose GPUs may carry faults; see `gpu::NodeConfig`.
    /// Default: the file `GPUFAULT_NODE_CONFIG` names, when set.
    #[arg(long, value_name = "FILE")]
    node_config: Option<PathBuf>,
    /// Steps in all (a resumed run continues to this many).
    #[arg(long)]
    steps: u64,
    /// The global batch of a step (the same whatever the device count).
    #[arg(long, default_value_t = shim::train::DEFAULT_BATCH)]
    batch: usize,
    /// Micro-shards the batch is cut into (must divide it); shard i runs on device i mod
    /// N, so the result does not depend on the device count as long as N ≤ shards.
    #[arg(long, default_value_t = shim::train::DEFAULT_SHARDS)]
    shards: usize,
    /// Steps between checkpoints (0: only at the end and on SIGTERM/SIGINT).
    #[arg(long, value_name = "K", default_value_t = shim::train::DEFAULT_CHECKPOINT_EVERY)]
    checkpoint_every: u64,
    /// Older checkpoints kept beside the newest (FILE.step-N), so that a restart after a
    /// fault can resume from one written before the fault (the guard's
    /// GPUFAULT_RESUME_AT_MOST, and the job's GPUFAULT_RESUME_LIMIT_FILE: the lower wins).
    #[arg(long, value_name = "N", default_value_t = 8)]
    keep_checkpoints: usize,
    /// The checkpoint file: resumed from when it exists, written atomically every K steps,
    /// at the end and on SIGTERM/SIGINT. Default: no checkpoints.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Seed of the data and of the initial parameters.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Learning rate.
    #[arg(long, default_value_t = shim::train::DEFAULT_LR, allow_negative_numbers = true)]
    lr: f32,
    /// Momentum (0: plain SGD).
    #[arg(long, default_value_t = shim::train::DEFAULT_MOMENTUM, allow_negative_numbers = true)]
    momentum: f32,
    /// Stop (exit 5) when a step's loss exceeds this many times the mean of the last 20
    /// (from step 51 on); `inf` turns the check off.
    #[arg(long, value_name = "X", default_value_t = shim::train::DEFAULT_MAX_LOSS_JUMP)]
    max_loss_jump: f64,
    /// The progress file (`reports::guard::JobProgress`, rewritten after every step).
    /// Default: `GPUFAULT_PROGRESS_FILE`, else none.
    #[arg(long, value_name = "FILE")]
    progress: Option<PathBuf>,
    /// Print the summary as JSON (`reports::train::TrainSummary`).
    #[arg(long)]
    json: bool,
}

/// Runs `gpufault train`.
pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let stop = shim::train::stop_on_signals().context("installing the signal handlers")?;
    let platform = super::subjects::platform(args.node_config.as_deref())?;
    let devices = shim::train::devices(args.devices.as_deref(), &platform)?;
    let config = TrainConfig {
        steps: args.steps,
        batch: args.batch,
        shards: args.shards,
        seed: args.seed,
        lr: args.lr,
        momentum: args.momentum,
    };
    let options = TrainOptions {
        checkpoint: args.checkpoint.clone(),
        checkpoint_every: args.checkpoint_every,
        progress: args.progress.clone().or_else(|| {
            std::env::var_os(shim::env::PROGRESS_FILE)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        }),
        checks: SelfChecks {
            max_loss_jump: args.max_loss_jump,
            ..SelfChecks::default()
        },
        keep_checkpoints: args.keep_checkpoints,
        resume_at_most: shim::guard::resume_limit::from_env()?,
        ..TrainOptions::default()
    };
    let report = shim::train::train(&platform, &devices, &config, &options, &stop, &mut |_| {})?;
    let s = &report.summary;
    if args.json {
        println!("{}", serde_json::to_string_pretty(s)?);
    } else {
        let devices = s.devices.join(", ");
        let n = s.devices.len();
        match &s.detail {
            None => println!(
                "finished: step {} of {} on {n} device{} ({devices})",
                s.step,
                s.steps,
                if n == 1 { "" } else { "s" }
            ),
            Some(d) => println!("stopped at step {} of {}: {d}", s.step, s.steps),
        }
        if let Some(r) = s.resumed_from {
            println!("resumed from the checkpoint of step {r}");
        }
        if let Some(l) = s.final_train_loss {
            println!("final train loss {l:.6}");
        }
        if let Some(l) = s.eval_loss {
            println!(
                "eval loss {l:.6} (CPU, {} held-out samples)",
                shim::train::EVAL_BATCH
            );
        }
        let speed = s
            .ms_per_step
            .map(|m| format!(", {m:.1} ms/step"))
            .unwrap_or_default();
        println!("{} steps run in {:.2} s{speed}", s.steps_run, s.wall_s);
        if let (Some(c), Some(path)) = (s.checkpoint_step, &args.checkpoint) {
            println!("checkpoint {} at step {c}", path.display());
        }
    }
    Ok(report.exit.into())
}
