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
//! - [`passive`]: the passive check of a node's GPUs (the ledger and NVML telemetry
//!   rules, no GPU work) that the Slurm health check and the Kubernetes plugin decide
//!   from.
//! - [`k8s`]: Kubernetes: `gpufault npd` (a node-problem-detector custom plugin) and
//!   `gpufault k8s taint-advice` (a node taint and DRA `DeviceTaintRule`s for the
//!   quarantined GPUs).
//! - [`env`]: the environment variables between the guard and its job.
//! - [`sys`]: the all-or-nothing file write and the host name they share.
#![deny(missing_docs)]

pub mod env;
pub mod guard;
pub mod k8s;
pub mod ledger;
pub mod passive;
pub mod slurm;
pub mod sys;
pub mod train;
