//! `gpufault train`: data-parallel training of the `mlp_train` workload's MLP (64-64-10)
//! on N devices, with atomic checkpoints and its own numerical checks — the job the
//! guard's tests guard.
//!
//! ```text
//!  step t:  batch = MlpBatch::synthetic_with_noise(seed, t, B, DATA_NOISE) ─cut─▶ S shards
//!           shard i ──▶ device i mod N  (each device: one `gradients` call per shard)
//!           host: mean of the S losses and of the S gradients, summed in shard order
//!                 ──▶ non-finite? exit 4 · loss > jump × recent mean? exit 5
//!                 v ← momentum·v + g            (optimiser state on the host)
//!           every device: p ← p − lr·v          (each device keeps its own replica)
//!  every K steps and at the end: every replica downloaded; all equal, bit for bit?
//!           yes ──▶ checkpoint (atomic, durable)   no ──▶ exit 3 naming the odd device
//! ```
//!
//! **Determinism independent of the device count.** The global batch of a step is cut
//! into a fixed number of micro-shards `S` (`--shards`, dividing `B`); each shard's
//! gradient is computed by one device exactly as it would be on any other (same kernels,
//! same launch geometry), and the host averages the `S` results in shard order. So the
//! loss curve and the parameters are the same bits on 1, 2, 4 or `S` devices, and a run
//! restarted from a checkpoint on fewer devices continues bit for bit.
//!
//! **Which replica is checkpointed.** Every device applies the same update to its own
//! replica (as DDP does), so healthy replicas are bit-identical. At each checkpoint all
//! replicas are downloaded and compared: when they agree, that value is written; when
//! they do not, a device computed its update wrong (a fault in `sgd_update`, or a
//! corrupted replica), nothing is written (the last good checkpoint stays) and the run
//! stops with exit 3 naming the device that differs from the majority. A cheap check (one
//! download per device per checkpoint) that catches what a loss curve may not show.
//!
//! Exit codes: [`reports::exit::TrainExit`]; the end of a run as JSON:
//! [`reports::train::TrainSummary`]; the checkpoint file: [`Checkpoint`]; the progress
//! file: [`reports::guard::JobProgress`].

mod checkpoint;
mod checks;
mod replicas;

pub use checkpoint::{Checkpoint, CHECKPOINT_FORMAT};
pub use checks::{SelfChecks, DEFAULT_MAX_LOSS_JUMP, LOSS_WARMUP, LOSS_WINDOW};
pub use replicas::LAUNCH_BUDGET;

use checks::{combine, first_non_finite, momentum_update, LossWindow};
use gpu::{DeviceSpec, GpuError, Platform};
use replicas::{DeviceFailure, Replicas};
use reports::exit::TrainExit;
use reports::guard::JobProgress;
use reports::train::{TrainOutcomeKind, TrainSummary, TRAIN_SCHEMA_VERSION};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use workloads::{mlp_initial_params, mlp_reference_gradients, MlpBatch, MLP_PARAMS};

/// `--batch`'s default: the global batch of a step.
pub const DEFAULT_BATCH: usize = 64;
/// `--shards`'s default: micro-shards per batch (8 samples each with the default batch).
pub const DEFAULT_SHARDS: usize = 8;
/// `--lr`'s default.
pub const DEFAULT_LR: f32 = 0.02;
/// `--momentum`'s default.
pub const DEFAULT_MOMENTUM: f32 = 0.9;
/// `--checkpoint-every`'s default.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 25;
/// Samples of the held-out batch the final model is evaluated on (on the CPU).
pub const EVAL_BATCH: usize = 1024;
/// The spread of the trainer's data around its cluster centres
/// ([`MlpBatch::synthetic_with_noise`]). The workload's own batches (spread 1) are
/// separated perfectly within 50 steps: the loss falls to 10⁻³, where one batch's loss
/// is often 10–20× the mean of the ones before, so no loss-jump check could tell a fault
/// from noise, and a held-out loss of 10⁻³ says little about a model. At this spread the
/// classes overlap, the loss settles at a plateau and the held-out loss measures the
/// model (`shim/examples/loss_jump.rs`).
pub const DATA_NOISE: f32 = 2.5;

/// What defines a training run: a checkpoint of a run with another configuration is
/// refused. The device count is not part of it (the result does not depend on it), nor
/// the checkpoint interval or the checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Steps in all (`--steps`).
    pub steps: u64,
    /// The global batch of a step (`--batch`).
    pub batch: usize,
    /// Micro-shards the batch is cut into (`--shards`, divides `batch`).
    pub shards: usize,
    /// Seed of the data and of the initial parameters (`--seed`).
    pub seed: u64,
    /// Learning rate (`--lr`).
    pub lr: f32,
    /// Momentum (`--momentum`, 0 = plain SGD).
    pub momentum: f32,
}

impl TrainConfig {
    /// `steps` steps with the default batch, shards, seed 1, learning rate and momentum.
    pub fn new(steps: u64) -> TrainConfig {
        TrainConfig {
            steps,
            batch: DEFAULT_BATCH,
            shards: DEFAULT_SHARDS,
            seed: 1,
            lr: DEFAULT_LR,
            momentum: DEFAULT_MOMENTUM,
        }
    }

    /// An error naming the flag whose value cannot work.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |field: &'static str, detail: String| Err(TrainError::Config { field, detail });
        if self.steps == 0 {
            return bad("steps", "must be at least 1".into());
        }
        if self.batch == 0 || self.batch > 1 << 20 {
            return bad(
                "batch",
                format!("must be 1..={}, got {}", 1 << 20, self.batch),
            );
        }
        if self.shards == 0 || !self.batch.is_multiple_of(self.shards) {
            return bad(
                "shards",
                format!(
                    "must divide the batch ({}) into equal micro-shards, got {}",
                    self.batch, self.shards
                ),
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", format!("must be a positive number, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(
                "momentum",
                format!("must be in [0, 1), got {}", self.momentum),
            );
        }
        Ok(())
    }

    /// Samples per micro-shard.
    pub fn shard_size(&self) -> usize {
        self.batch / self.shards.max(1)
    }
}

/// How a run checkpoints, reports and checks itself (not part of the run's identity).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainOptions {
    /// The checkpoint file: resumed from when it exists, written every
    /// `checkpoint_every` steps, at the end and on SIGTERM/SIGINT. `None`: no checkpoints.
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints (0: only at the end and on a signal).
    pub checkpoint_every: u64,
    /// The progress file ([`JobProgress`]), rewritten after every step.
    pub progress: Option<PathBuf>,
    /// The loss-jump check.
    pub checks: SelfChecks,
    /// Which replica a checkpoint takes.
    pub replicas: ReplicaPolicy,
    /// Older checkpoints kept beside the newest (`FILE.step-N`), for a restart that must
    /// go back further than the newest ([`resume_at_most`](TrainOptions::resume_at_most)).
    pub keep_checkpoints: usize,
    /// Resume from the newest kept checkpoint at or below this step (`None`: the newest;
    /// `Some(0)`: from the start). The guard sets it after a fault
    /// ([`crate::env::RESUME_AT_MOST`]): checkpoints written after the last clean check
    /// may hold state the fault corrupted; a guard of the job on another node sets it
    /// through the job's resume-limit file ([`crate::guard::resume_limit::from_env`]
    /// gives the lower of both).
    pub resume_at_most: Option<u64>,
}

/// Which parameter replica a checkpoint (and the final model) takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicaPolicy {
    /// Every replica is downloaded and compared bit for bit; when they differ nothing is
    /// written and the run stops (exit 3, [`TrainOutcomeKind::ReplicasDisagree`]). What
    /// `gpufault train` does.
    #[default]
    Agree,
    /// Device 0's replica, unchecked: what a plain data-parallel job does (PyTorch DDP
    /// saves rank 0's model). For measuring what the check catches
    /// (`shim/examples/unguarded.rs`).
    FirstDevice,
}

/// One finished step, as the observer of [`train`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepEvent {
    /// Steps finished (counting from 1).
    pub step: u64,
    /// The step's mean loss.
    pub loss: f32,
}

/// Why a training run could not start or could not keep its files (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A flag's value cannot work.
    #[error("--{field}: {detail}")]
    Config {
        /// The flag, without `--`.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A device name does not parse.
    #[error("--devices: {detail}")]
    Devices {
        /// What is wrong.
        detail: String,
    },
    /// A device could not be opened.
    #[error("cannot open device {device}: {error}")]
    Open {
        /// The device's name.
        device: String,
        /// The device layer's error.
        error: GpuError,
    },
    /// The checkpoint cannot be read, parsed or written.
    #[error("checkpoint {}: {detail}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint belongs to a run with another configuration.
    #[error(
        "checkpoint {} belongs to another run: its `{field}` is {theirs}, this run's is {ours} (remove it, or run with --{field} {theirs})",
        path.display()
    )]
    ForeignCheckpoint {
        /// The file.
        path: PathBuf,
        /// The configuration field that differs.
        field: &'static str,
        /// Its value in the checkpoint.
        theirs: String,
        /// Its value in this run.
        ours: String,
    },
    /// The progress file cannot be written.
    #[error("progress file {}: {error}", path.display())]
    Progress {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// How a run ended: its summary, its exit code and (when it finished) the final model.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The summary `--json` prints.
    pub summary: TrainSummary,
    /// The exit code.
    pub exit: TrainExit,
    /// The final parameters (the replicas agreed), when the run finished.
    pub params: Option<Vec<f32>>,
}

/// The devices of `--devices` (a comma-separated list of names; a node such as
/// `sim:h100*4` stands for its visible GPUs), or when it is not given of the environment
/// variable `GPUFAULT_DEVICES` ([`crate::env::DEVICES`], set by the guard), else `sim`.
pub fn devices(flag: Option<&str>, platform: &Platform) -> Result<Vec<DeviceSpec>, TrainError> {
    let from_env = std::env::var(crate::env::DEVICES).ok();
    let list = flag
        .or(from_env.as_deref().filter(|s| !s.trim().is_empty()))
        .unwrap_or("sim");
    let mut out: Vec<DeviceSpec> = Vec::new();
    for name in list.split(',').map(str::trim) {
        let spec: DeviceSpec = name.parse().map_err(|e| TrainError::Devices {
            detail: format!("{e}"),
        })?;
        for one in platform.expand(&spec) {
            if out.contains(&one) {
                return Err(TrainError::Devices {
                    detail: format!("{one} is named twice (in `{list}`)"),
                });
            }
            out.push(one);
        }
    }
    if out.is_empty() {
        return Err(TrainError::Devices {
            detail: format!("`{list}` names no visible device"),
        });
    }
    Ok(out)
}

/// The signal number [`train`] stops on is stored here by SIGTERM and SIGINT handlers
/// ([`stop_on_signals`]); 0: keep going.
pub type StopFlag = Arc<AtomicUsize>;

/// Installs handlers that store SIGTERM's or SIGINT's number in the returned flag (a
/// second signal while the flag is set ends the process at once, with the default
/// action), so that [`train`] finishes its step, checkpoints and returns.
pub fn stop_on_signals() -> std::io::Result<StopFlag> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag: StopFlag = Arc::new(AtomicUsize::new(0));
    for sig in [SIGTERM, SIGINT] {
        let set = Arc::new(std::sync::atomic::AtomicBool::new(false));
        signal_hook::flag::register_conditional_default(sig, set.clone())?;
        signal_hook::flag::register(sig, set.clone())?;
        signal_hook::flag::register_usize(sig, flag.clone(), sig as usize)?;
    }
    Ok(flag)
}

/// Trains `config` on `devices` (nodes expanded by [`devices`] or
/// [`Platform::expand`]): resumes from `options.checkpoint` when it exists, runs to
/// `config.steps`, checkpoints, writes progress, checks itself. `stop` (see
/// [`stop_on_signals`]) is read between steps; `on_step` sees every finished step.
///
/// `Err` only for what exits 2 (a bad flag, a device that cannot be opened, a foreign or
/// unreadable checkpoint, a file that cannot be written); every other end, a device
/// failure included, is a [`TrainReport`] with its exit code.
pub fn train(
    platform: &Platform,
    devices: &[DeviceSpec],
    config: &TrainConfig,
    options: &TrainOptions,
    stop: &AtomicUsize,
    on_step: &mut dyn FnMut(&StepEvent),
) -> Result<TrainReport, TrainError> {
    config.validate()?;
    let jump = options.checks.max_loss_jump;
    if jump.is_nan() || jump < 1.0 {
        return Err(TrainError::Config {
            field: "max-loss-jump",
            detail: format!("must be at least 1 (or inf: no check), got {jump}"),
        });
    }
    let started = Instant::now();
    let mut progress = Progress::new(options.progress.clone());
    progress.state.total_steps = Some(config.steps);
    progress.state.process_started_unix = Some(process_started_unix());

    let mut state = State::fresh(config);
    if let Some(path) = &options.checkpoint {
        let read_start = Instant::now();
        if let Some(c) = Checkpoint::read_at_most(path, options.resume_at_most)? {
            c.check_config(config, path)?;
            state = State::from_checkpoint(c);
            progress.state.resumed_from = Some(state.step);
            progress.state.checkpoint_step = Some(state.step);
            state.load_started = Some(read_start);
        }
    }
    let mut opened = Vec::with_capacity(devices.len());
    for spec in devices {
        let dev = platform.open(spec).map_err(|error| TrainError::Open {
            device: spec.to_string(),
            error,
        })?;
        opened.push(dev);
    }
    if opened.is_empty() {
        return Err(TrainError::Devices {
            detail: "no device to train on".into(),
        });
    }
    let names: Vec<String> = opened.iter().map(|d| d.name().to_string()).collect();
    progress.state.devices = names.clone();

    let run = std::thread::scope(|scope| {
        let replicas = match Replicas::start(scope, opened, config.shard_size(), &state.params) {
            Ok(r) => r,
            Err(f) => return Ok(Run::ended(Ending::device(&f, state.step))),
        };
        if let Some(t) = state.load_started {
            progress.state.checkpoint_load_ms = Some(t.elapsed().as_secs_f64() * 1e3);
        }
        // ready to train (checkpoint loaded, if any; devices open, modules loaded): also
        // on a fresh start, so a restart from scratch can be timed as well
        progress.state.checkpoint_loaded_unix = Some(unix_now());
        Trainer {
            config,
            options,
            replicas: &replicas,
            state: &mut state,
            progress: &mut progress,
        }
        .run(stop, on_step)
    })?;

    let steps_run = state.step - progress.state.resumed_from.unwrap_or(0);
    let exit = run.ending.exit();
    let finished = exit == TrainExit::Finished;
    let eval_loss = run.params.as_ref().filter(|_| finished).map(|p| {
        f64::from(
            mlp_reference_gradients(p, &MlpBatch::held_out(config.seed, EVAL_BATCH, DATA_NOISE)).1,
        )
    });
    let summary = TrainSummary {
        schema_version: TRAIN_SCHEMA_VERSION,
        outcome: run.ending.kind(),
        exit_code: exit.code(),
        detail: run.ending.detail(),
        suspects: run.ending.suspects(),
        steps: config.steps,
        step: state.step,
        resumed_from: progress.state.resumed_from,
        checkpoint_step: progress.state.checkpoint_step,
        final_train_loss: state.last_loss.map(f64::from),
        eval_loss,
        devices: names,
        batch: config.batch,
        shards: config.shards,
        seed: config.seed,
        lr: config.lr,
        momentum: config.momentum,
        steps_run,
        wall_s: started.elapsed().as_secs_f64(),
        ms_per_step: run
            .loop_time
            .filter(|_| steps_run > 0)
            .map(|t| t * 1e3 / steps_run as f64),
    };
    Ok(TrainReport {
        summary,
        exit,
        params: run.params.filter(|_| finished),
    })
}

/// The same training on the CPU, single-threaded, with the workload's CPU reference of
/// the gradient kernels ([`mlp_reference_gradients`]) and of the update: the losses of
/// the steps and the final parameters. The device run agrees with it within the
/// tolerance of CUDA's `expf`/`logf` (`mlp_train`'s documented tolerance), not bit for
/// bit. Used to check the trainer and to calibrate its loss-jump check.
pub fn train_on_cpu(config: &TrainConfig) -> (Vec<f32>, Vec<f32>) {
    let mut params = mlp_initial_params(config.seed);
    let mut velocity = vec![0.0f32; MLP_PARAMS];
    let size = config.shard_size();
    let mut losses = Vec::with_capacity(config.steps as usize);
    for t in 0..config.steps {
        let batch = MlpBatch::synthetic_with_noise(config.seed, t, config.batch, DATA_NOISE);
        let shards: Vec<(usize, f32, Vec<f32>)> = (0..config.shards)
            .map(|i| {
                let (g, l) =
                    mlp_reference_gradients(&params, &batch.slice(i * size..(i + 1) * size));
                (i, l, g)
            })
            .collect();
        let (loss, grad) = combine(&shards);
        velocity = momentum_update(&velocity, &grad, config.momentum);
        workloads::mlp_reference_sgd(&mut params, &velocity, config.lr);
        losses.push(loss);
    }
    (losses, params)
}

/// The training state the host keeps (the parameters live on the devices).
struct State {
    /// Steps finished.
    step: u64,
    /// The initial or resumed parameters (what the replicas start from).
    params: Vec<f32>,
    /// The momentum buffer.
    velocity: Vec<f32>,
    window: LossWindow,
    last_loss: Option<f32>,
    /// When reading the checkpoint began (`None`: a fresh start).
    load_started: Option<Instant>,
}

impl State {
    fn fresh(config: &TrainConfig) -> State {
        State {
            step: 0,
            params: mlp_initial_params(config.seed),
            velocity: vec![0.0; MLP_PARAMS],
            window: LossWindow::default(),
            last_loss: None,
            load_started: None,
        }
    }

    fn from_checkpoint(c: Checkpoint) -> State {
        State {
            step: c.step,
            last_loss: c.recent_losses.last().copied(),
            window: LossWindow::from_losses(&c.recent_losses),
            params: c.params,
            velocity: c.momentum_buffer,
            load_started: None,
        }
    }
}

/// How the step loop ended.
#[derive(Debug, Clone)]
enum Ending {
    Finished,
    Signal(usize),
    /// A device's error, and the device.
    DeviceFailed(String, String),
    /// The replicas disagreed; the odd devices.
    Replicas(String, Vec<String>),
    NonFinite(String),
    LossJump(String),
}

impl Ending {
    fn device(f: &DeviceFailure, step: u64) -> Ending {
        Ending::DeviceFailed(
            format!(
                "device {} failed in step {}: {}",
                f.device,
                step + 1,
                f.error
            ),
            f.device.clone(),
        )
    }

    /// The devices the ending blames.
    fn suspects(&self) -> Vec<String> {
        match self {
            Ending::DeviceFailed(_, d) => vec![d.clone()],
            Ending::Replicas(_, odd) => odd.clone(),
            _ => Vec::new(),
        }
    }

    fn exit(&self) -> TrainExit {
        match self {
            Ending::Finished => TrainExit::Finished,
            Ending::Signal(s) if *s == signal_hook::consts::SIGINT as usize => {
                TrainExit::Interrupted
            }
            Ending::Signal(_) => TrainExit::Terminated,
            Ending::DeviceFailed(..) | Ending::Replicas(..) => TrainExit::DeviceFailed,
            Ending::NonFinite(_) => TrainExit::NonFinite,
            Ending::LossJump(_) => TrainExit::LossJump,
        }
    }

    fn kind(&self) -> TrainOutcomeKind {
        if let Ending::Replicas(..) = self {
            return TrainOutcomeKind::ReplicasDisagree;
        }
        match self.exit() {
            TrainExit::Finished => TrainOutcomeKind::Finished,
            TrainExit::Interrupted => TrainOutcomeKind::Interrupted,
            TrainExit::Terminated => TrainOutcomeKind::Terminated,
            TrainExit::DeviceFailed => TrainOutcomeKind::DeviceFailed,
            TrainExit::NonFinite => TrainOutcomeKind::NonFinite,
            TrainExit::LossJump => TrainOutcomeKind::LossJump,
            TrainExit::Usage => unreachable!("a usage error is a TrainError"),
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            Ending::Finished => None,
            Ending::Signal(s) => Some(format!(
                "stopped by signal {s} after a checkpoint of the last finished step"
            )),
            Ending::DeviceFailed(d, _)
            | Ending::Replicas(d, _)
            | Ending::NonFinite(d)
            | Ending::LossJump(d) => Some(d.clone()),
        }
    }
}

/// The step loop's result.
struct Run {
    ending: Ending,
    /// The replicas' (agreed) parameters after the last checkpoint, when one was taken.
    params: Option<Vec<f32>>,
    /// Seconds the step loop ran.
    loop_time: Option<f64>,
}

impl Run {
    fn ended(ending: Ending) -> Run {
        Run {
            ending,
            params: None,
            loop_time: None,
        }
    }
}

/// The step loop over running replicas.
struct Trainer<'a> {
    config: &'a TrainConfig,
    options: &'a TrainOptions,
    replicas: &'a Replicas,
    state: &'a mut State,
    progress: &'a mut Progress,
}

impl Trainer<'_> {
    fn run(
        mut self,
        stop: &AtomicUsize,
        on_step: &mut dyn FnMut(&StepEvent),
    ) -> Result<Run, TrainError> {
        let loop_start = Instant::now();
        let mut params = None;
        let ending = loop {
            let signal = stop.load(Ordering::SeqCst);
            if signal != 0 {
                match self.checkpoint()? {
                    Ok(p) => params = p.or(params),
                    Err(e) => break e,
                }
                break Ending::Signal(signal);
            }
            if self.state.step >= self.config.steps {
                match self.checkpoint()? {
                    Ok(p) => params = p.or(params),
                    Err(e) => break e,
                }
                break Ending::Finished;
            }
            if let Err(e) = self.step()? {
                break e;
            }
            on_step(&StepEvent {
                step: self.state.step,
                loss: self.state.last_loss.unwrap_or(f32::NAN),
            });
            let every = self.options.checkpoint_every;
            if every > 0
                && self.state.step.is_multiple_of(every)
                && self.state.step < self.config.steps
            {
                match self.checkpoint()? {
                    Ok(p) => params = p.or(params),
                    Err(e) => break e,
                }
            }
        };
        if matches!(ending, Ending::Finished) {
            self.progress.state.done = true;
            self.progress.write()?;
        }
        Ok(Run {
            ending,
            params,
            loop_time: Some(loop_start.elapsed().as_secs_f64()),
        })
    }

    /// One step: `Ok(Err(ending))` when it cannot be kept.
    fn step(&mut self) -> Result<Result<(), Ending>, TrainError> {
        let config = self.config;
        let t = self.state.step;
        let batch = MlpBatch::synthetic_with_noise(config.seed, t, config.batch, DATA_NOISE);
        let size = config.shard_size();
        let shards = (0..config.shards)
            .map(|i| batch.slice(i * size..(i + 1) * size))
            .collect();
        let results = match self.replicas.gradients(shards) {
            Ok(r) => r,
            Err(f) => return Ok(Err(Ending::device(&f, t))),
        };
        let (loss, grad) = combine(&results);
        let step = t + 1;
        if !loss.is_finite() {
            return Ok(Err(Ending::NonFinite(format!(
                "the loss of step {step} is {loss}; nothing of the step is kept"
            ))));
        }
        if let Some(i) = first_non_finite(&grad) {
            let shard = results
                .iter()
                .find(|(_, _, g)| !g[i].is_finite())
                .map(|(s, _, _)| *s)
                .unwrap_or(0);
            return Ok(Err(Ending::NonFinite(format!(
                "gradient {i} of step {step} is {} (shard {shard}, device {}); nothing of the step is kept",
                grad[i],
                self.device_of(shard)
            ))));
        }
        if let Some(mean) = self.state.window.jump(&self.options.checks, step, loss) {
            return Ok(Err(Ending::LossJump(format!(
                "the loss of step {step} is {loss}, above {} × the mean {mean:.6} of the last {} steps; nothing of the step is kept",
                self.options.checks.max_loss_jump,
                self.options.checks.window
            ))));
        }
        let velocity = momentum_update(&self.state.velocity, &grad, config.momentum);
        if let Err(f) = self.replicas.apply(velocity.clone(), config.lr) {
            return Ok(Err(Ending::device(&f, t)));
        }
        self.state.velocity = velocity;
        self.state.window.push(loss, self.options.checks.window);
        self.state.step = step;
        self.state.last_loss = Some(loss);
        let p = &mut self.progress.state;
        p.step = step;
        p.loss = Some(f64::from(loss));
        p.first_step_unix.get_or_insert_with(unix_now);
        self.progress.write()?;
        Ok(Ok(()))
    }

    /// The device that computes shard `shard`.
    fn device_of(&self, shard: usize) -> String {
        self.replicas.names()[shard % self.replicas.len()].clone()
    }

    /// Downloads every replica; when they agree (and are finite) writes the checkpoint of
    /// the last finished step (unless it is on disk already) and returns the parameters.
    fn checkpoint(&mut self) -> Result<Result<Option<Vec<f32>>, Ending>, TrainError> {
        let step = self.state.step;
        let all = match self.replicas.params() {
            Ok(a) => a,
            Err(f) => return Ok(Err(Ending::device(&f, step))),
        };
        let names = self.replicas.names();
        let checked = self.options.replicas == ReplicaPolicy::Agree;
        if let Some((detail, odd)) = disagreement(&all, &names).filter(|_| checked) {
            return Ok(Err(Ending::Replicas(
                format!(
                    "at the checkpoint of step {step} {detail}; no checkpoint written, the last one stays"
                ),
                odd,
            )));
        }
        let params = all.into_iter().next().unwrap_or_default();
        if let Some(i) = first_non_finite(&params) {
            return Ok(Err(Ending::NonFinite(format!(
                "parameter {i} is {} at the checkpoint of step {step}; no checkpoint written",
                params[i]
            ))));
        }
        if let Some(path) = &self.options.checkpoint {
            if self.progress.state.checkpoint_step != Some(step) {
                Checkpoint {
                    format: CHECKPOINT_FORMAT,
                    step,
                    config: self.config.clone(),
                    params: params.clone(),
                    momentum_buffer: self.state.velocity.clone(),
                    recent_losses: self.state.window.losses(),
                    devices: names,
                    written_unix: unix_now(),
                }
                .write_keeping(path, self.options.keep_checkpoints)?;
                self.progress.state.checkpoint_step = Some(step);
                self.progress.write()?;
            }
        }
        Ok(Ok(Some(params)))
    }
}

/// When the replicas are not all the same bits: which devices differ from the majority
/// (or, without one, how they split), and the devices to blame (the odd ones; all of
/// them without a majority).
fn disagreement(all: &[Vec<f32>], names: &[String]) -> Option<(String, Vec<String>)> {
    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
    if all.iter().all(|p| same(p, &all[0])) {
        return None;
    }
    // groups of identical replicas, by device index
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, p) in all.iter().enumerate() {
        match groups.iter_mut().find(|g| same(&all[g[0]], p)) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    let list = |g: &[usize]| {
        g.iter()
            .map(|&i| names[i].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(match groups.iter().find(|g| 2 * g.len() > all.len()) {
        Some(m) => {
            let odd: Vec<usize> = (0..all.len()).filter(|i| !m.contains(i)).collect();
            (
                format!(
                    "the parameter replicas disagree: {} differ{} from the {} other{} ({})",
                    list(&odd),
                    if odd.len() == 1 { "s" } else { "" },
                    m.len(),
                    if m.len() == 1 { "" } else { "s" },
                    list(m)
                ),
                odd.iter().map(|&i| names[i].clone()).collect(),
            )
        }
        None => (
            format!(
                "the parameter replicas disagree with no majority: {}",
                groups
                    .iter()
                    .map(|g| format!("[{}]", list(g)))
                    .collect::<Vec<_>>()
                    .join(" vs ")
            ),
            names.to_vec(),
        ),
    })
}

/// The progress file and what it says.
struct Progress {
    path: Option<PathBuf>,
    state: JobProgress,
}

impl Progress {
    fn new(path: Option<PathBuf>) -> Progress {
        Progress {
            path,
            state: JobProgress::default(),
        }
    }

    /// Rewrites the file whole (temporary file and rename, not synced: it is rewritten
    /// after every step, and a crash loses at most the last few updates, which the
    /// checkpoint — written durably — does not depend on).
    fn write(&self) -> Result<(), TrainError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(&self.state).expect("progress serializes");
        crate::sys::write_replace(path, &bytes).map_err(|error| TrainError::Progress {
            path: path.clone(),
            error,
        })
    }
}

/// The current Unix time in seconds.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// When this process started (Unix time, seconds): from `/proc/self/stat` (clock ticks
/// since boot, 100 per second on Linux) and the boot time in `/proc/stat`; the current
/// time where they cannot be read.
fn process_started_unix() -> f64 {
    let from_proc = || -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // the fields after the command name (which may hold spaces) start after `) `
        let rest = &stat[stat.rfind(')')? + 2..];
        let ticks: f64 = rest.split(' ').nth(19)?.parse().ok()?;
        let boot: f64 = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        Some(boot + ticks / 100.0)
    };
    from_proc().unwrap_or_else(unix_now)
}

#[cfg(test)]
mod tests;
