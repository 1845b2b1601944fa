//! The training job's summary: what `gpufault train --json` prints when it ends, however
//! it ends (finished, stopped by a signal, stopped by one of its own checks, a device
//! failure). The exit code says the same ([`crate::exit::TrainExit`]); the summary adds
//! the numbers.
//!
//! ```
//! let s: reports::train::TrainSummary = serde_json::from_str(r#"{
//!     "schema_version": 1, "outcome": "finished", "exit_code": 0, "detail": null,
//!     "steps": 400, "step": 400, "resumed_from": null, "checkpoint_step": 400,
//!     "final_train_loss": 0.061, "eval_loss": 0.074, "devices": ["sim:h100#0"],
//!     "batch": 64, "shards": 8, "seed": 1, "lr": 0.05, "momentum": 0.9,
//!     "steps_run": 400, "wall_s": 6.2, "ms_per_step": 15.1}"#).unwrap();
//! assert_eq!(s.outcome, reports::train::TrainOutcomeKind::Finished);
//! ```

use serde::{Deserialize, Serialize};

/// Version of the [`TrainSummary`] layout; raised when a field is removed or changes
/// meaning.
pub const TRAIN_SCHEMA_VERSION: u32 = 1;

/// How a training process ended (one per exit code of `gpufault train`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainOutcomeKind {
    /// Every step ran; the final checkpoint and the completion marker are written (exit 0).
    Finished,
    /// A device failed: a launch faulted or hung, or the parameter replicas of the
    /// devices disagreed at a checkpoint (a device computed its update wrong); the last
    /// checkpoint stays (exit 3).
    DeviceFailed,
    /// The loss or a gradient was not finite; nothing of that step is kept (exit 4).
    NonFinite,
    /// The loss jumped beyond `--max-loss-jump` times its recent mean (exit 5).
    LossJump,
    /// Stopped by SIGINT after a checkpoint of the last finished step (exit 130).
    Interrupted,
    /// Stopped by SIGTERM after a checkpoint of the last finished step (exit 143).
    Terminated,
}

/// `gpufault train --json`: the end of one training process.
///
/// | field | type | meaning |
/// |---|---|---|
/// | `schema_version` | integer | [`TRAIN_SCHEMA_VERSION`] |
/// | `outcome` | string | [`TrainOutcomeKind`]: `finished`, `device_failed`, `non_finite`, `loss_jump`, `interrupted`, `terminated` |
/// | `exit_code` | integer | the process's exit code (`docs/exit-codes.md`) |
/// | `detail` | string \| null | what went wrong (the device and its error, the step and loss), `null` when finished |
/// | `steps` | integer | the steps the run is configured for (`--steps`) |
/// | `step` | integer | steps finished (counting from 1; includes those before a resume) |
/// | `resumed_from` | integer \| null | the checkpoint step this process resumed from |
/// | `checkpoint_step` | integer \| null | the step of the newest checkpoint on disk |
/// | `final_train_loss` | number \| null | mean loss of the last finished step's batch |
/// | `eval_loss` | number \| null | loss of the final parameters on a fixed held-out batch, computed on the CPU (only when finished) |
/// | `devices` | array of strings | the devices it trained on, in shard order |
/// | `batch`, `shards`, `seed`, `lr`, `momentum` | | the run's configuration |
/// | `steps_run` | integer | steps this process ran |
/// | `wall_s` | number | wall time of the training (devices opened to the end), seconds |
/// | `ms_per_step` | number \| null | mean wall time per step this process ran |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// [`TRAIN_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// How it ended.
    pub outcome: TrainOutcomeKind,
    /// The exit code.
    pub exit_code: u8,
    /// What went wrong (`None` when finished).
    pub detail: Option<String>,
    /// Steps configured.
    pub steps: u64,
    /// Steps finished.
    pub step: u64,
    /// The checkpoint step this process resumed from.
    pub resumed_from: Option<u64>,
    /// The step of the newest checkpoint on disk.
    pub checkpoint_step: Option<u64>,
    /// Mean loss of the last finished step.
    pub final_train_loss: Option<f64>,
    /// Loss of the final parameters on the held-out batch (CPU).
    pub eval_loss: Option<f64>,
    /// Devices, in shard order.
    pub devices: Vec<String>,
    /// Global batch.
    pub batch: usize,
    /// Micro-shards per batch.
    pub shards: usize,
    /// Data and initialisation seed.
    pub seed: u64,
    /// Learning rate.
    pub lr: f32,
    /// Momentum.
    pub momentum: f32,
    /// Steps this process ran.
    pub steps_run: u64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Mean wall time per step this process ran, milliseconds.
    pub ms_per_step: Option<f64>,
}
