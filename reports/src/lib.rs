//! The records every gpufault tool writes, their statistics and their renderers.
//!
//! This is the ground floor of the workspace: it depends on no other gpufault crate, and
//! the injector, detector, guard and CLI all write its types, so that every outcome,
//! machine-readable format and exit code is defined once.
//!
//! - [`Outcome`], [`DueCause`], [`SdcMagnitude`]: what one fault injection did
//!   (design.md §4).
//! - [`wilson`]: 95% Wilson score intervals for outcome shares.
//! - [`exit`]: the documented exit codes of every `gpufault` command.
//!
//! ```
//! use reports::{wilson, Outcome, DueCause};
//! let o = Outcome::Due { cause: DueCause::IllegalAddress };
//! assert_eq!(o.kind(), reports::OutcomeKind::Due);
//! let ci = wilson(45, 100, 1.96);
//! assert!(ci.lo < 0.45 && 0.45 < ci.hi);
//! ```
#![deny(missing_docs)]

pub mod exit;
mod outcome;
mod stats;

pub use outcome::*;
pub use stats::*;
