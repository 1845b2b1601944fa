//! The environment variables between the guard and the job it runs, defined once.
//!
//! The guard sets them for the job (and every process the job starts inherits them);
//! `gpufault train` and every `gpufault` command read the ones that concern them.

/// The devices the job may use, by name, comma-separated (`sim:h100#0,sim:h100#2`,
/// `cuda:GPU-8f3e…`): the healthy, unquarantined devices of this start. `gpufault train`
/// uses them when `--devices` is not given.
pub const DEVICES: &str = "GPUFAULT_DEVICES";
/// The virtual GPUs a process may see, by UUID, comma-separated: the virtual-GPU
/// equivalent of `CUDA_VISIBLE_DEVICES` (a node `sim:h100*4` opens only the listed ones).
pub const VISIBLE_DEVICES: &str = gpu::VISIBLE_DEVICES_ENV;
/// CUDA's own: the CUDA GPUs a process may see; the guard lists them by UUID, never by
/// index.
pub const CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";
/// A virtual node config file: every `--node-config` flag defaults to it, so a guarded
/// job sees the same (faulty) virtual GPUs as the guard.
pub const NODE_CONFIG: &str = "GPUFAULT_NODE_CONFIG";
/// Where the job writes its progress ([`reports::guard::JobProgress`], JSON, rewritten
/// whole after each step).
pub const PROGRESS_FILE: &str = "GPUFAULT_PROGRESS_FILE";
/// How many times the guard has restarted the job (0 on the first start).
pub const RESTART_COUNT: &str = "GPUFAULT_RESTART_COUNT";
/// How many devices the job was given.
pub const DEVICE_COUNT: &str = "GPUFAULT_DEVICE_COUNT";
/// The guard's run id, inherited by every process of the job: how the guard finds the
/// job's processes that left its process group (`setsid`) to stop them too.
pub const GUARD_RUN: &str = "GPUFAULT_GUARD_RUN";
/// The quarantine ledger file (`--ledger` defaults to it).
pub const LEDGER: &str = "GPUFAULT_LEDGER";
/// Set on a restart after a fault: the newest checkpoint step the job may resume from.
/// Checkpoints written after the last clean check of the now-faulty GPU may hold state
/// the fault already corrupted (its gradients went into every replica), so the guard
/// names the newest checkpoint it saw written before that check began; the job resumes
/// from the newest one it kept at or below this step (0: from the start). Absent: the
/// newest checkpoint.
pub const RESUME_AT_MOST: &str = "GPUFAULT_RESUME_AT_MOST";
/// The job's shared resume-limit file (`gpufault guard --resume-limit-file`), set by every
/// guard of the job for its children whether or not it found a fault: a trainer resumes
/// from the newest checkpoint at or below the lower of [`RESUME_AT_MOST`] and the file's
/// `step` (`shim::guard::resume_limit`; a missing file: no limit; a file that does not
/// parse: an error, never ignored).
pub const RESUME_LIMIT_FILE: &str = "GPUFAULT_RESUME_LIMIT_FILE";
