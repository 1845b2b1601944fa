//! Outcomes of one fault injection (design.md §4).

use serde::{Deserialize, Serialize};

/// Why a run ended in a detected unrecoverable error (DUE, a crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueCause {
    /// Access outside any allocation or state space.
    IllegalAddress,
    /// Access not aligned to its size.
    MisalignedAddress,
    /// An invalid instruction (e.g. the `ir` model's invalid register).
    IllegalInstruction,
    /// The kernel executed `trap`.
    Trap,
    /// The launch itself failed.
    LaunchFailure,
    /// Any other driver error.
    OtherDriverError,
    /// The host program stopped on an impossible value read back from the device (a
    /// real host program would crash or assert).
    HostAbort,
}

impl DueCause {
    /// All causes in a fixed order (report columns).
    pub const ALL: [DueCause; 7] = [
        DueCause::IllegalAddress,
        DueCause::MisalignedAddress,
        DueCause::IllegalInstruction,
        DueCause::Trap,
        DueCause::LaunchFailure,
        DueCause::OtherDriverError,
        DueCause::HostAbort,
    ];

    /// The snake_case name used in JSON, CSV and the store.
    pub fn name(self) -> &'static str {
        match self {
            DueCause::IllegalAddress => "illegal_address",
            DueCause::MisalignedAddress => "misaligned_address",
            DueCause::IllegalInstruction => "illegal_instruction",
            DueCause::Trap => "trap",
            DueCause::LaunchFailure => "launch_failure",
            DueCause::OtherDriverError => "other_driver_error",
            DueCause::HostAbort => "host_abort",
        }
    }

    /// Parses [`DueCause::name`].
    pub fn from_name(s: &str) -> Option<DueCause> {
        DueCause::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Why a run was declared hung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangCause {
    /// Virtual GPU: the instruction budget was exhausted.
    Budget,
    /// Virtual GPU: every live warp waits at a barrier that can never complete.
    Deadlock,
    /// Real GPU: the wall-clock deadline passed.
    Deadline,
}

impl HangCause {
    /// All causes in a fixed order (report columns).
    pub const ALL: [HangCause; 3] = [HangCause::Budget, HangCause::Deadlock, HangCause::Deadline];

    /// Parses [`HangCause::name`].
    pub fn from_name(s: &str) -> Option<HangCause> {
        HangCause::ALL.into_iter().find(|c| c.name() == s)
    }

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            HangCause::Budget => "budget",
            HangCause::Deadlock => "deadlock",
            HangCause::Deadline => "deadline",
        }
    }
}

/// How far a silent data corruption is from the golden output: the one magnitude type
/// of gpufault (the workloads' comparators compute it, outcome records store it).
///
/// It covers the elements judged different (outside tolerance). `max_abs` and
/// `max_rel` cover the different elements whose expected and actual values are both
/// finite; elements that became NaN or infinite are counted in `nan_inf` instead.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SdcMagnitude {
    /// Output elements that differ (for exact comparisons: with any bit different),
    /// including elements missing from or added to an array of the wrong length.
    pub elements: u64,
    /// Output elements compared (the expected outputs' element count).
    pub total: u64,
    /// Largest absolute error over differing elements (for integer outputs the absolute
    /// integer difference). May be infinite (the relative error of an element whose
    /// expected value is zero is); JSON writes non-finite values as `"inf"`, `"-inf"`,
    /// `"nan"`.
    #[serde(with = "crate::nonfinite")]
    pub max_abs: f64,
    /// Largest relative error |got - expected| / |expected| (infinite where expected is
    /// 0). Non-finite values as for `max_abs`.
    #[serde(with = "crate::nonfinite")]
    pub max_rel: f64,
    /// Total number of bits that differ over all differing elements.
    pub flipped_bits: u64,
    /// Differing elements whose actual value is NaN or ±Inf.
    pub nan_inf: u64,
}

/// The coarse kind of an [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The fault site was never reached.
    NotActivated,
    /// Activated, output equals golden.
    Masked,
    /// Activated, output differs from golden, no error reported.
    Sdc,
    /// Detected unrecoverable error (crash).
    Due,
    /// Did not finish.
    Hang,
    /// Detector campaigns: the health check flagged the fault.
    Detected,
    /// Detector campaigns: the health check passed despite an activated fault.
    Escaped,
}

impl OutcomeKind {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::NotActivated => "not_activated",
            OutcomeKind::Masked => "masked",
            OutcomeKind::Sdc => "sdc",
            OutcomeKind::Due => "due",
            OutcomeKind::Hang => "hang",
            OutcomeKind::Detected => "detected",
            OutcomeKind::Escaped => "escaped",
        }
    }
}

/// What one fault injection did (design.md §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The activation counter stayed 0: the fault never touched an executed instruction.
    /// Excluded from rates, reported separately.
    NotActivated,
    /// Activated, and the output equals the golden output.
    Masked {
        /// The run took much longer than the golden run (factor documented by the runner).
        slow: bool,
    },
    /// Activated, finished without error, output differs from golden.
    Sdc {
        /// How far from golden.
        magnitude: SdcMagnitude,
    },
    /// A detected unrecoverable error.
    Due {
        /// Its cause.
        cause: DueCause,
    },
    /// The run did not finish.
    Hang {
        /// Which watchdog fired.
        cause: HangCause,
    },
    /// Detector campaigns: the check flagged the fault and attributed it to `sm`.
    Detected {
        /// The SM the check named (None when it could not attribute).
        sm: Option<u32>,
        /// The unit the check blamed (signature kernel name).
        unit: String,
    },
    /// Detector campaigns: the check passed although the fault was activated.
    Escaped,
}

impl Outcome {
    /// The coarse kind.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::NotActivated => OutcomeKind::NotActivated,
            Outcome::Masked { .. } => OutcomeKind::Masked,
            Outcome::Sdc { .. } => OutcomeKind::Sdc,
            Outcome::Due { .. } => OutcomeKind::Due,
            Outcome::Hang { .. } => OutcomeKind::Hang,
            Outcome::Detected { .. } => OutcomeKind::Detected,
            Outcome::Escaped => OutcomeKind::Escaped,
        }
    }

    /// A short human description (`SDC (12/4096 elements)`, `DUE: illegal_address`).
    pub fn describe(&self) -> String {
        match self {
            Outcome::NotActivated => "not activated".into(),
            Outcome::Masked { slow: false } => "masked".into(),
            Outcome::Masked { slow: true } => "masked (slow)".into(),
            Outcome::Sdc { magnitude: m } => format!(
                "SDC ({}/{} elements, {} bits, max abs err {:.3e}, {} NaN/Inf)",
                m.elements, m.total, m.flipped_bits, m.max_abs, m.nan_inf
            ),
            Outcome::Due { cause } => format!("DUE: {}", cause.name()),
            Outcome::Hang { cause } => format!("hang: {}", cause.name()),
            Outcome::Detected { sm: Some(sm), unit } => format!("detected on SM {sm} by {unit}"),
            Outcome::Detected { sm: None, unit } => format!("detected by {unit} (no SM)"),
            Outcome::Escaped => "escaped".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_json_is_tagged_and_round_trips() {
        let o = Outcome::Due {
            cause: DueCause::MisalignedAddress,
        };
        let s = serde_json::to_string(&o).unwrap();
        assert_eq!(s, r#"{"kind":"due","cause":"misaligned_address"}"#);
        assert_eq!(serde_json::from_str::<Outcome>(&s).unwrap(), o);
        let h = Outcome::Hang {
            cause: HangCause::Deadlock,
        };
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#"{"kind":"hang","cause":"deadlock"}"#
        );
    }

    #[test]
    fn infinite_sdc_errors_survive_json() {
        let o = Outcome::Sdc {
            magnitude: SdcMagnitude {
                elements: 1,
                total: 4,
                max_abs: f64::INFINITY,
                max_rel: 0.5,
                flipped_bits: 9,
                nan_inf: 1,
            },
        };
        let s = serde_json::to_string(&o).unwrap();
        assert!(s.contains(r#""max_abs":"inf""#), "{s}");
        assert_eq!(serde_json::from_str::<Outcome>(&s).unwrap(), o);
    }

    #[test]
    fn cause_names_round_trip() {
        for c in DueCause::ALL {
            assert_eq!(DueCause::from_name(c.name()), Some(c));
        }
        assert_eq!(DueCause::from_name("bogus"), None);
        for c in HangCause::ALL {
            assert_eq!(HangCause::from_name(c.name()), Some(c));
        }
        assert_eq!(HangCause::from_name("bogus"), None);
    }
}
