//! The campaign's one error type.

use std::path::PathBuf;

/// What can go wrong planning, running, merging or reading a campaign. Outcomes of
/// injections (crashes, hangs) are not errors: they are results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CampaignError {
    /// A configuration value is invalid (the message names the flag or field).
    #[error("{what}: {reason}")]
    Config {
        /// The flag or field (`--workloads`, `--shard`, …).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The site selection (`--groups`, `--kernel`) does not fit a subject: a kernel it
    /// lacks, or a cell left without a site.
    #[error(transparent)]
    Selection(#[from] crate::filter::SelectionError),
    /// The store file exists and would be overwritten.
    #[error("{}: already exists; choose another file or remove it (a campaign store is never overwritten)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The store file does not exist.
    #[error("{}: no such campaign store", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// SQLite failed on the store.
    #[error("{}: {error}", path.display())]
    CampaignStore {
        /// The file.
        path: PathBuf,
        /// SQLite's error (part of the message, so not also a `source`).
        error: rusqlite::Error,
    },
    /// The store's file is damaged (SQLite's integrity check failed): nothing is read
    /// from it.
    #[error("{}: the campaign store is damaged ({detail}); restore it from a copy, or merge the intact shards again", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What SQLite's check found.
        detail: String,
    },
    /// The store was opened to be written but the file (or its directory, where SQLite
    /// keeps its journal) is read-only for this user.
    #[error("{}: the campaign store is read-only for this user (the file, or the directory SQLite keeps its journal in); make both writable, or run on a copy", path.display())]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// The store is not a campaign store this build can read.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        reason: String,
    },
    /// The stores given to a merge are not shards of one plan, or disagree on a result.
    #[error("cannot merge {}: {reason}", path.display())]
    Merge {
        /// The input that does not fit.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another process is running the same store (and shard).
    #[error("{}: already being run by process {pid} on {host} (session {session}); wait for it or stop it first", path.display())]
    Busy {
        /// The file.
        path: PathBuf,
        /// The other process.
        pid: u32,
        /// Its host.
        host: String,
        /// Its session number in the store.
        session: i64,
    },
    /// A subject's fault-free run failed while planning (profiling its sites).
    #[error("profiling `{workload}` ({model}) on {profile} failed: {detail}")]
    Profile {
        /// The subject.
        workload: String,
        /// The model.
        model: String,
        /// The virtual GPU profile.
        profile: String,
        /// The run error.
        detail: String,
    },
    /// A subject of the campaign could not be built (or is not the one planned).
    #[error("{error}")]
    Subject {
        /// The subject's name.
        name: String,
        /// Why (the whole message).
        error: crate::subject::SubjectError,
    },
    /// The device could not be opened or inspected.
    #[error("device {device}: {error}")]
    Device {
        /// The device name.
        device: String,
        /// The device layer's error (part of the message, so not also a `source`).
        error: gpu::GpuError,
    },
    /// Instrumenting a subject failed.
    #[error("instrumenting `{workload}` for {model}: {detail}")]
    Instrument {
        /// The subject.
        workload: String,
        /// The model.
        model: String,
        /// Why.
        detail: String,
    },
}

impl CampaignError {
    pub(crate) fn config(what: impl Into<String>, reason: impl Into<String>) -> CampaignError {
        CampaignError::Config {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
