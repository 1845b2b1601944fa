//! The training guard's records: the progress file a guarded job writes, which the guard
//! reads (to judge completion, never by a launcher's exit code, and to time a recovery).
//!
//! A job under `gpufault guard` finds the file's path in `GPUFAULT_PROGRESS_FILE`
//! (`shim::env::PROGRESS_FILE`) and rewrites it whole (write a temporary file, rename)
//! after each step it finishes; the guard reads it whenever it looks. Only `step` is
//! required; a job that never writes `"done": true` has not completed, whatever its
//! exit code.
//!
//! ```
//! let p: reports::guard::JobProgress = serde_json::from_str(r#"{"step": 25}"#).unwrap();
//! assert_eq!(p.step, 25);
//! assert!(!p.done);
//! ```

use serde::{Deserialize, Serialize};

/// The progress file of a guarded job (JSON, one object).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobProgress {
    /// Steps finished (the last finished step's number, counting from 1).
    pub step: u64,
    /// The steps the job will run in all, when it knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_steps: Option<u64>,
    /// The step of the newest checkpoint on disk (durable: written and synced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_step: Option<u64>,
    /// The loss of the last finished step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// The completion marker: every step ran and the final checkpoint is written.
    #[serde(default)]
    pub done: bool,
    /// When this process of the job started (Unix time, seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_started_unix: Option<f64>,
    /// The checkpoint step this process resumed from (absent: it started from scratch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<u64>,
    /// When this process had loaded its checkpoint and its devices were ready (Unix time,
    /// seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_loaded_unix: Option<f64>,
    /// How long loading the checkpoint took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_load_ms: Option<f64>,
    /// When this process finished its first step (Unix time, seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_step_unix: Option<f64>,
    /// The devices this process trains on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
}
