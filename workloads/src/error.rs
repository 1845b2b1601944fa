//! Errors of input generation and of device runs.

use crate::data::DType;

/// Inputs that a workload cannot use: a size out of range, a missing or mistyped array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The size parameter is outside what the workload supports.
    #[error("size {size} is not valid for workload `{workload}`: {requirement}")]
    Size {
        /// The workload.
        workload: &'static str,
        /// The requested size.
        size: usize,
        /// What a valid size looks like.
        requirement: String,
    },
    /// An input array the workload needs is absent.
    #[error("input array `{name}` is missing")]
    MissingArray {
        /// The array's name.
        name: String,
    },
    /// An input array has the wrong element type.
    #[error("input array `{name}` holds {found}, expected {expected}")]
    WrongType {
        /// The array's name.
        name: String,
        /// The type the workload needs.
        expected: DType,
        /// The type it holds.
        found: DType,
    },
    /// An input array has a length inconsistent with the size or the other arrays.
    #[error("input array `{name}` has {len} elements, expected {expected}")]
    Length {
        /// The array's name.
        name: String,
        /// Its length.
        len: usize,
        /// The length the workload needs.
        expected: usize,
    },
    /// An input array's contents violate the workload's invariants.
    #[error("input array `{name}` is invalid: {reason}")]
    Invalid {
        /// The array's name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Why a device run of a workload produced no outputs.
///
/// For fault campaigns: [`RunError::Device`] carries the device's own fault (illegal
/// address, trap, hang…); [`RunError::HostLoopLimit`] is a hang of a host-driven loop;
/// [`RunError::BadControlValue`] is what a real host program would turn into a crash
/// (a count read back from the device that cannot be right).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The device reported an error (a kernel fault, a hang, a driver error).
    #[error(transparent)]
    Device(#[from] gpu::GpuError),
    /// The inputs do not fit the workload.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A host loop driven by device results (BFS levels, sort passes) did not finish.
    #[error("workload `{workload}`: {what} did not finish within {limit} iterations")]
    HostLoopLimit {
        /// The workload.
        workload: &'static str,
        /// Which loop.
        what: &'static str,
        /// The iteration limit.
        limit: usize,
    },
    /// A control value read back from the device is impossible for any correct run.
    #[error("workload `{workload}`: device returned {what} = {value}, which is out of range")]
    BadControlValue {
        /// The workload.
        workload: &'static str,
        /// Which value.
        what: &'static str,
        /// The value read.
        value: u64,
    },
}

impl RunError {
    /// The device error, if the device reported one.
    pub fn device_error(&self) -> Option<&gpu::GpuError> {
        match self {
            RunError::Device(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the run hung: a device hang or a host loop that did not finish.
    pub fn is_hang(&self) -> bool {
        matches!(
            self,
            RunError::Device(gpu::GpuError::Hang { .. }) | RunError::HostLoopLimit { .. }
        )
    }
}
