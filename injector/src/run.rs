//! Single injections: arm an instrumented module with a fault, run a subject, classify
//! the outcome (design.md §4).

use crate::instrument::{Instrumented, COUNT_SYMBOL, DESC_SYMBOL};
use crate::spec::{Descriptor, FaultSpec};
use crate::subject::Subject;
use gpu::{Device, GpuError, HangKind, Limits, ModuleHandle};
use reports::{DueCause, HangCause, Outcome};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::{Outputs, RunError, Verdict};

/// A run is flagged `slow` (still masked) when it executes more than this many times the
/// golden run's instructions (virtual GPU) or takes this many times its wall time.
pub const SLOW_FACTOR: u64 = 3;

/// Hang deadline: this many times the instrumented dry run's instructions (virtual GPU)
/// or wall time (real GPU) …
pub const HANG_FACTOR: u64 = 10;
/// … but at least this many thread-instructions per launch (virtual GPU) …
pub const HANG_FLOOR_INSTRUCTIONS: u64 = 2_000_000;
/// … or this long (real GPU).
pub const HANG_FLOOR_WALL: Duration = Duration::from_secs(2);

/// How the hang limits of injections are derived from the instrumented dry run:
/// `factor` times its thread-instructions (virtual GPU) or wall time (real GPU), but at
/// least the floors. The default is [`HANG_FACTOR`], [`HANG_FLOOR_INSTRUCTIONS`] and
/// [`HANG_FLOOR_WALL`]; campaigns may override it ([`Target::with_hang_policy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HangPolicy {
    /// Multiple of the dry run's instructions or wall time.
    pub factor: u64,
    /// Smallest instruction budget per launch (virtual GPU).
    pub floor_instructions: u64,
    /// Smallest wall-clock deadline per launch (real GPU).
    pub floor_wall: Duration,
}

impl Default for HangPolicy {
    fn default() -> Self {
        HangPolicy {
            factor: HANG_FACTOR,
            floor_instructions: HANG_FLOOR_INSTRUCTIONS,
            floor_wall: HANG_FLOOR_WALL,
        }
    }
}

impl HangPolicy {
    /// The limits for a dry run of `dry_instructions` (virtual GPU) taking `dry_wall`.
    pub fn limits(&self, dry_instructions: Option<u64>, dry_wall: Duration) -> Limits {
        Limits {
            instructions: dry_instructions
                .map(|n| n.saturating_mul(self.factor).max(self.floor_instructions)),
            wall: Some(
                dry_wall
                    .saturating_mul(u32::try_from(self.factor).unwrap_or(u32::MAX))
                    .max(self.floor_wall),
            ),
        }
    }
}

/// Errors that stop an injection from running at all (as opposed to outcomes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InjectError {
    /// The device failed outside the faulty run (loading, golden run, descriptor); its
    /// error is part of the message, so not also a `source`.
    #[error("device: {0}")]
    Device(GpuError),
    /// The golden or dry run of the subject failed.
    #[error("the fault-free run of `{subject}` failed: {error}")]
    Golden {
        /// The subject.
        subject: String,
        /// Why (part of the message, so not also a `source`).
        error: RunError,
    },
    /// The instrumented module with a disabled descriptor does not reproduce the golden
    /// output: the instrumentation changed the program (a bug).
    #[error("instrumented `{subject}` ({model}) with the fault disabled differs from the original: {detail}")]
    DryRunMismatch {
        /// The subject.
        subject: String,
        /// The model.
        model: String,
        /// What differs.
        detail: String,
    },
    /// The spec names an opcode group that no candidate site of the module has.
    #[error("no `{op}` instruction is a `{model}` site in this module (groups that are: {known})")]
    UnknownOp {
        /// The group asked for.
        op: String,
        /// The model.
        model: String,
        /// The groups the module has.
        known: String,
    },
    /// The spec's model is not the one the module was instrumented for.
    #[error("the module is instrumented for `{module}`, the fault is `{fault}`")]
    WrongModel {
        /// The module's model.
        module: String,
        /// The spec's model.
        fault: String,
    },
}

impl From<GpuError> for InjectError {
    fn from(e: GpuError) -> Self {
        InjectError::Device(e)
    }
}

/// Writes the descriptor for `spec` (or the disabled one) and zeroes the counter.
pub fn arm(
    dev: &mut dyn Device,
    m: ModuleHandle,
    spec: Option<&FaultSpec>,
) -> Result<(), GpuError> {
    let d = spec
        .map(Descriptor::from_spec)
        .unwrap_or_else(Descriptor::disabled);
    dev.write_global(m, DESC_SYMBOL, &d.to_bytes())?;
    dev.write_global(m, COUNT_SYMBOL, &0u64.to_le_bytes())
}

/// Reads the activation counter.
pub fn activations(dev: &mut dyn Device, m: ModuleHandle) -> Result<u64, GpuError> {
    let mut b = [0u8; 8];
    dev.read_global(m, COUNT_SYMBOL, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// What one injection gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    /// The fault.
    pub spec: FaultSpec,
    /// The outcome.
    pub outcome: Outcome,
    /// Warp-instructions the fault corrupted (`None` when the counter could not be read
    /// back, e.g. after a sticky CUDA error).
    pub activations: Option<u64>,
    /// The device's or host's error message, for DUE and hang outcomes.
    pub error: Option<String>,
    /// Thread-instructions of the run (virtual GPU).
    pub instructions: Option<u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Maps a device error to an outcome.
pub fn outcome_of_error(e: &GpuError) -> Outcome {
    match e {
        GpuError::IllegalAddress { .. } => Outcome::Due {
            cause: DueCause::IllegalAddress,
        },
        GpuError::MisalignedAddress { .. } => Outcome::Due {
            cause: DueCause::MisalignedAddress,
        },
        GpuError::IllegalInstruction { .. } => Outcome::Due {
            cause: DueCause::IllegalInstruction,
        },
        GpuError::Trap { .. } => Outcome::Due {
            cause: DueCause::Trap,
        },
        GpuError::LaunchFailed { .. } => Outcome::Due {
            cause: DueCause::LaunchFailure,
        },
        GpuError::Hang { kind, .. } => Outcome::Hang {
            cause: match kind {
                HangKind::Deadlock => HangCause::Deadlock,
                HangKind::Budget => HangCause::Budget,
                HangKind::Deadline => HangCause::Deadline,
            },
        },
        _ => Outcome::Due {
            cause: DueCause::OtherDriverError,
        },
    }
}

/// A subject prepared for injections of one model on one device: the instrumented
/// module loaded once, the golden output and the calibrated hang limits.
pub struct Target {
    subject: Arc<dyn Subject>,
    golden: Outputs,
    instrumented: Instrumented,
    module: ModuleHandle,
    limits: Limits,
    dry_instructions: Option<u64>,
    dry_wall: Duration,
}

impl Target {
    /// Runs the original module once (golden run), loads the instrumented module, runs
    /// it once with the fault disabled (dry run: must equal the golden output), and
    /// derives the hang limits from the dry run.
    pub fn new(
        dev: &mut dyn Device,
        subject: Arc<dyn Subject>,
        instrumented: Instrumented,
    ) -> Result<Target, InjectError> {
        let name = subject.id().name.clone();
        dev.set_limits(Limits::default());
        let original = dev.load(subject.ptx())?;
        let golden = subject
            .run(dev, original)
            .map_err(|source| InjectError::Golden {
                subject: name.clone(),
                error: source,
            })?;
        let module = dev.load(&instrumented.ptx())?;
        arm(dev, module, None)?;
        let t = Instant::now();
        let dry = subject
            .run(dev, module)
            .map_err(|source| InjectError::Golden {
                subject: name.clone(),
                error: source,
            })?;
        let dry_wall = t.elapsed();
        let cmp = subject.compare_golden(&golden, &dry);
        if cmp.verdict != Verdict::Identical {
            return Err(InjectError::DryRunMismatch {
                subject: name,
                model: instrumented.model.to_string(),
                detail: format!("{cmp:?}"),
            });
        }
        let dry_instructions = dry.stats.instructions;
        let limits = HangPolicy::default().limits(dry_instructions, dry_wall);
        Ok(Target {
            subject,
            golden,
            instrumented,
            module,
            limits,
            dry_instructions,
            dry_wall,
        })
    }

    /// The subject.
    pub fn subject(&self) -> &Arc<dyn Subject> {
        &self.subject
    }

    /// The golden (fault-free, uninstrumented) outputs.
    pub fn golden(&self) -> &Outputs {
        &self.golden
    }

    /// The instrumented module.
    pub fn instrumented(&self) -> &Instrumented {
        &self.instrumented
    }

    /// The hang limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the hang limits by those `policy` derives from the dry run.
    pub fn with_hang_policy(mut self, policy: HangPolicy) -> Self {
        self.limits = policy.limits(self.dry_instructions, self.dry_wall);
        self
    }

    /// Wall time of the dry run.
    pub fn dry_wall(&self) -> Duration {
        self.dry_wall
    }

    /// The handle of the instrumented module on the device it was prepared on: loaded
    /// right after the original module (so `ModuleHandle(1)` on a fresh device).
    pub fn module(&self) -> ModuleHandle {
        self.module
    }

    /// Thread-instructions of the dry run (virtual GPU).
    pub fn dry_instructions(&self) -> Option<u64> {
        self.dry_instructions
    }

    /// Runs one injection.
    pub fn inject(&self, dev: &mut dyn Device, spec: &FaultSpec) -> Result<Injection, InjectError> {
        if spec.model != self.instrumented.model {
            return Err(InjectError::WrongModel {
                module: self.instrumented.model.to_string(),
                fault: spec.model.to_string(),
            });
        }
        if let Some(op) = spec.params.op() {
            if !self.instrumented.sites.iter().any(|s| &s.op_group == op) {
                let mut known: Vec<&str> = self
                    .instrumented
                    .sites
                    .iter()
                    .map(|s| s.op_group.as_str())
                    .collect();
                known.sort_unstable();
                known.dedup();
                return Err(InjectError::UnknownOp {
                    op: op.clone(),
                    model: spec.model.to_string(),
                    known: known.join(", "),
                });
            }
        }
        arm(dev, self.module, Some(spec))?;
        dev.set_limits(self.limits);
        let t = Instant::now();
        let result = self.subject.run(dev, self.module);
        let elapsed = t.elapsed();
        dev.set_limits(Limits::default());
        let activations = activations(dev, self.module).ok();
        let (outcome, error, instructions) = match result {
            Ok(out) => {
                let slow = match (out.stats.instructions, self.dry_instructions) {
                    (Some(n), Some(g)) => n > g.saturating_mul(SLOW_FACTOR),
                    _ => elapsed > self.dry_wall * SLOW_FACTOR as u32,
                };
                let outcome = self.subject.judge(&self.golden, &out, activations, slow);
                (outcome, None, out.stats.instructions)
            }
            Err(RunError::Device(e)) => (outcome_of_error(&e), Some(e.to_string()), None),
            Err(e @ RunError::HostLoopLimit { .. }) => (
                Outcome::Hang {
                    cause: HangCause::Budget,
                },
                Some(e.to_string()),
                None,
            ),
            Err(e) => (
                Outcome::Due {
                    cause: DueCause::HostAbort,
                },
                Some(e.to_string()),
                None,
            ),
        };
        Ok(Injection {
            spec: spec.clone(),
            outcome,
            activations,
            error,
            instructions,
            elapsed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_device_error_maps_to_its_outcome() {
        let d = || "x".to_string();
        let due = |cause| Outcome::Due { cause };
        let hang = |cause| Outcome::Hang { cause };
        let cases = [
            (
                GpuError::IllegalAddress { detail: d() },
                due(DueCause::IllegalAddress),
            ),
            (
                GpuError::MisalignedAddress { detail: d() },
                due(DueCause::MisalignedAddress),
            ),
            (
                GpuError::IllegalInstruction { detail: d() },
                due(DueCause::IllegalInstruction),
            ),
            (GpuError::Trap { detail: d() }, due(DueCause::Trap)),
            (
                GpuError::LaunchFailed { detail: d() },
                due(DueCause::LaunchFailure),
            ),
            // the kind decides, never the message
            (
                GpuError::Hang {
                    kind: HangKind::Deadlock,
                    detail: "budget".into(),
                },
                hang(HangCause::Deadlock),
            ),
            (
                GpuError::Hang {
                    kind: HangKind::Budget,
                    detail: "deadlock".into(),
                },
                hang(HangCause::Budget),
            ),
            (
                GpuError::Hang {
                    kind: HangKind::Deadline,
                    detail: "deadlock".into(),
                },
                hang(HangCause::Deadline),
            ),
        ];
        for (e, want) in cases {
            assert_eq!(outcome_of_error(&e), want, "{e}");
        }
    }
}
