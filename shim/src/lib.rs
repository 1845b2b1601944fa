//! The training guard (design.md §2.7): keeps faulty GPUs out of a training job, before
//! and while it runs, and restarts it from its last checkpoint on the healthy ones.
//!
//! - [`ledger`]: the quarantine ledger, keyed by GPU UUID: a JSON file updated atomically
//!   under an advisory lock (`gpufault quarantine list|add|release`).
//! - [`guard`]: `gpufault guard -- CMD…`: pre-flight check, the job in its own process
//!   group with only healthy GPUs, watching it (its progress file, XID events, periodic
//!   short checks), quarantine, SIGTERM/grace/SIGKILL of the whole process tree, restart
//!   from the checkpoint; every step a JSON event line.
//! - [`train`]: `gpufault train`: data-parallel training of the `mlp_train` workload's MLP
//!   on N devices, with atomic checkpoints and its own numerical checks: the job the
//!   guard's tests guard.
//! - [`slurm`]: `gpufault slurm prolog|epilog|healthcheck`: the job's GPUs checked before
//!   and after it, nodes drained (and undrained) with `scontrol`, only ever those gpufault
//!   marked.
//! - [`env`]: the environment variables between the guard and its job.
//! - [`sys`]: the all-or-nothing file write and the host name they share.
#![deny(missing_docs)]

pub mod env;
pub mod guard;
pub mod ledger;
pub mod slurm;
pub mod sys;
pub mod train;
