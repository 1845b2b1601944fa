//! The fault injector: permanent-fault models of GPU control units as PTX
//! instrumentation (work in progress).
#![deny(missing_docs)]

mod instrument;
mod model;
mod spec;
mod types;

pub use model::Model;
pub use spec::{op_group_id, Descriptor, FaultSpec, Params, Policy, SpecError, DESCRIPTOR_BYTES, SUBSTITUTES};
pub use instrument::{instrument, sites, InstrumentError, Instrumented, Site, COUNT_SYMBOL, DESC_SYMBOL};
pub use types::{op_group, operand_types};
