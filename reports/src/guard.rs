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
    /// A distributed job (torchrun): when every rank had joined its process group, so the
    /// collectives could begin (Unix time, seconds; as rank 0 saw it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranks_joined_unix: Option<f64>,
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

/// One line of the guard's event log (JSON Lines, one object per line, flushed as it
/// happens): what the guard did and when, so a recovery's timeline can be measured.
/// Every line has `t` (RFC 3339 UTC, milliseconds), `unix` (seconds, with fractions)
/// and `event` (the variant's name in snake case), then the variant's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardEventLine {
    /// When, RFC 3339 UTC.
    pub t: String,
    /// When, Unix time in seconds.
    pub unix: f64,
    /// What.
    #[serde(flatten)]
    pub event: GuardEvent,
}

/// What the guard did or saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GuardEvent {
    /// The guard started.
    GuardStarted {
        /// The run id every process of the job carries in its environment
        /// (`GPUFAULT_GUARD_RUN`).
        run_id: String,
        /// The command it guards.
        command: Vec<String>,
        /// The devices it was asked to use (nodes expanded).
        devices: Vec<String>,
        /// The quarantine ledger.
        ledger: String,
        /// The job's progress file.
        progress_file: String,
        /// Restarts allowed.
        max_restarts: u32,
        /// Fewest devices the job may run on.
        min_devices: usize,
        /// Seconds between periodic checks of the devices in use (absent: none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check_every_s: Option<f64>,
        /// The gpufault version.
        tool_version: String,
    },
    /// A device was left out of the job without a new check: quarantined already.
    Excluded {
        /// The device.
        device: String,
        /// Its UUID.
        uuid: String,
        /// Why, in words.
        reason: String,
    },
    /// A health check of devices ended (pre-flight, periodic, or after the job ended
    /// without completing).
    Checked {
        /// `preflight`, `periodic` or `after_exit`.
        purpose: String,
        /// Per device: its name, UUID, verdict and the first finding's summary.
        devices: Vec<CheckedDevice>,
        /// Wall time of the check, milliseconds.
        duration_ms: f64,
    },
    /// A fault was detected on devices in use.
    FaultDetected {
        /// What found it: `periodic_check`, `xid`, `after_exit`.
        source: String,
        /// The faulty devices.
        devices: Vec<String>,
        /// The evidence in one line each.
        reasons: Vec<String>,
    },
    /// A device was written into the quarantine ledger.
    Quarantined {
        /// The device.
        device: String,
        /// Its UUID.
        uuid: String,
        /// The reason line recorded.
        reason: String,
        /// How long the ledger update took, milliseconds.
        duration_ms: f64,
    },
    /// After a quarantine: the limit written to the job's shared resume-limit file
    /// (`gpufault guard --resume-limit-file`), which every rank of the job obeys.
    ResumeLimit {
        /// The file.
        file: String,
        /// This guard's limit: the newest checkpoint step it trusts.
        step: u64,
        /// The file's limit after the write (the lowest of every guard's); absent when
        /// the write failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job_step: Option<u64>,
        /// Why the write failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The job was started.
    JobStarted {
        /// 0 for the first start, then 1, 2, … (= the restart count it is given).
        attempt: u32,
        /// Its process id (also its process group id).
        pid: u32,
        /// The devices it was given.
        devices: Vec<String>,
        /// The command as started, when the guard rewrote it for the device count
        /// (torchrun's `--nproc-per-node`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<Vec<String>>,
        /// The newest checkpoint step it may resume from (`GPUFAULT_RESUME_AT_MOST`, set
        /// after a fault; absent: any).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_at_most: Option<u64>,
    },
    /// The job reported its first finished step since this start (from its progress
    /// file, with the times it wrote there).
    JobFirstStep {
        /// The attempt.
        attempt: u32,
        /// The step number.
        step: u64,
        /// The checkpoint step it resumed from, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resumed_from: Option<u64>,
        /// When its process started (Unix seconds), as it wrote.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        process_started_unix: Option<f64>,
        /// When every rank had joined (a distributed job; Unix seconds), as it wrote.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ranks_joined_unix: Option<f64>,
        /// When its checkpoint was loaded (Unix seconds), as it wrote.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint_loaded_unix: Option<f64>,
        /// How long loading the checkpoint took (ms), as it wrote.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint_load_ms: Option<f64>,
        /// When it finished the step (Unix seconds), as it wrote.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_step_unix: Option<f64>,
    },
    /// The job wrote a newer checkpoint.
    JobCheckpoint {
        /// The attempt.
        attempt: u32,
        /// The checkpoint's step.
        step: u64,
    },
    /// The guard asked the job to stop (SIGTERM to its process group and every process
    /// of it outside the group), to checkpoint within the grace period.
    Stopping {
        /// Why.
        reason: String,
        /// The processes signalled.
        pids: Vec<u32>,
        /// The grace period, seconds.
        grace_s: f64,
    },
    /// Every process of the job is gone.
    Stopped {
        /// Whether they all exited within the grace period (else the rest was killed).
        within_grace: bool,
        /// The processes killed with SIGKILL after the grace period.
        killed: Vec<u32>,
        /// From `stopping` to the last process gone, milliseconds.
        duration_ms: f64,
    },
    /// The job's main process ended.
    JobExited {
        /// The attempt.
        attempt: u32,
        /// Its exit code, if it exited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        /// The signal that ended it, if one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// Whether its completion marker was written.
        done: bool,
        /// The last step it reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<u64>,
    },
    /// The guard received a signal and forwarded it to the job.
    Signal {
        /// The signal's name (`SIGTERM`).
        signal: String,
    },
    /// The guard ended.
    GuardFinished {
        /// Its exit code (`reports::exit::GuardExit`).
        exit_code: u8,
        /// Why, in words.
        reason: String,
        /// Restarts made.
        restarts: u32,
    },
}

/// One device of a [`GuardEvent::Checked`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedDevice {
    /// The device.
    pub device: String,
    /// Its UUID.
    pub uuid: String,
    /// The verdict (`healthy`, `degraded`, `faulty`, `unknown`).
    pub verdict: String,
    /// The first finding's summary, or the reason of an unknown verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
