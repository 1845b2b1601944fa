//! Exit codes of every `gpufault` command — a documented API (also in
//! `docs/exit-codes.md`).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: the command did what was asked and found nothing wrong |
//! | 1 | the command ran and found a problem (PTX errors, a workload mismatch, a failed launch, a faulty GPU) |
//! | 2 | usage or environment error: the command could not run (bad flag, unreadable file, no such device) |
//!
//! The health check (`gpufault check`) refines 1–3 by verdict: see its documentation.

/// Success.
pub const OK: u8 = 0;
/// The command ran and found a problem.
pub const FOUND_PROBLEM: u8 = 1;
/// Usage or environment error.
pub const USAGE: u8 = 2;
