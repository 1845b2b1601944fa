//! The fault injector: permanent-fault models of GPU control units as PTX
//! instrumentation passes, fault descriptors, site enumeration and single injections.
//!
//! It reproduces and extends the error models of the SC'23 study of permanent faults in
//! GPU parallelism-management and control units (NVBitPERfi) at the PTX level, on any
//! driver and on the virtual GPU, reproducibly:
//!
//! - [`Model`]: the fault models (`iat`, `iaw`, `iac`, `ial`, `wv`, `ira`, `ir`, `ims`,
//!   `imd`, `ioc`, `iio`, `fu`, `wdrop`, `brx`), each with a precise definition.
//! - [`FaultSpec`]: one reproducible fault (model, SM, sub-partition, warp slots, lanes,
//!   parameters typed by the model, [`Params`]), written
//!   `iat:sm=3,sp=1,warps=0x5,lanes=0xff,dim=x,mask=0x4,pol=sa1` or as JSON;
//!   [`Descriptor`]: its 64-byte encoding for the device (layout: [`DescField`]).
//! - [`instrument`]: instruments a module **once per model**; the fault site is chosen
//!   at run time by the descriptor the host writes before each launch, and an
//!   activation counter tells "not activated" from "masked". See the module docs of
//!   [`instrument`] for the code it adds. PTX older than the instrumentation needs is
//!   raised ([`Instrumented::raised`]).
//! - [`Subject`]: what an injection runs (a bundled workload, [`WorkloadSubject`], any
//!   user's kernel described by a TOML manifest, [`KernelSubject`], or any program a
//!   higher crate describes); [`Target`]: a subject prepared for
//!   injections (golden run, dry run, hang limits); [`Target::inject`] runs one fault
//!   and classifies its [`reports::Outcome`].
//!
//! - Campaigns ([`plan_campaign`], [`run_campaign`], [`CampaignStore`],
//!   [`merge_stores`]): many injections into any [`Subject`] planned from one seed, run
//!   in parallel, each result committed to a SQLite store as it completes, resumable and
//!   shardable; each model's faults drawn by [`SamplingRules`] (presets `faithful`,
//!   NVBitPERfi's choices, and `v1`, gpufault's earlier single-bit ones, with per-model
//!   overrides; [`sample_with`]); the sites they are drawn at restricted by NVBitFI's
//!   instruction groups ([`InstGroup`], [`group_of`]) and kernels, and weighted
//!   statically or by dynamic count ([`SiteSelection`]).
//! - [`InjectorFaults`]: the [`gpu::FaultFactory`] that makes virtual GPUs of a node
//!   config permanently faulty (every module they load instrumented and armed).
//!
//! It does not execute PTX (the `gpu` crate's devices do) and does not judge GPU health
//! (the detector does).
//!
//! ```
//! use injector::{instrument, FaultSpec, Model};
//! let src = ".version 8.0\n.target sm_80\n.address_size 64\n\
//!            .visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<2>;\nmov.u32 %r1, %tid.x;\nret;\n}\n";
//! let module = ptx::parse(src)?;
//! let inst = instrument(&module, Model::Iat)?;
//! assert_eq!(inst.sites.len(), 1); // the one read of %tid.x
//! assert!(inst.ptx().contains("__gpufault_desc"));
//! let spec = FaultSpec::parse("iat:sm=0,sp=1,warps=0x1,lanes=0xf,dim=x,mask=0x4,pol=sa1")?;
//! assert_eq!(spec.to_string(), "iat:sm=0,sp=1,warps=0x1,lanes=0xf,dim=x,mask=0x4,pol=sa1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod campaign;
mod descriptor;
mod faulty;
mod filter;
mod groups;
mod instrument;
mod kernel;
mod model;
mod models;
mod params;
mod rules;
mod run;
mod sample;
mod spec;
mod subject;
mod types;

pub use campaign::{
    in_shard, merge_stores, parse_models, parse_shard, parse_workloads, plan_campaign, rfc3339,
    run_campaign, shard_label, shard_name, site_profile_for, CampaignConfig, CampaignError,
    CampaignEvent, CampaignKind, CampaignPlan, CampaignStore, CellPlan, Durability, Injections,
    Isolation, MergeSummary, PlanProgress, PlanRow, RunOptions, RunSummary, Session, StoreMeta,
    StoredResult, COVERAGE_COLUMNS, RESULT_COLUMNS, STORE_SCHEMA_VERSION,
};
pub use descriptor::{op_group_id, DescField, Descriptor, DESCRIPTOR_BYTES};
pub use faulty::{faulty_gpu, platform_with_fault, InjectorFaults, PermanentFault};
pub use filter::{
    callers, glob_match, kernel_of_site, kernels_of, parse_groups, restrict, SelectionError,
    SiteSelection, SiteWeight, ALL_KERNELS,
};
pub use groups::{group_of, GroupError, InstGroup};
pub use instrument::{
    instrument, sites, InstrumentError, Instrumented, Site, SiteInfo, COUNT_SYMBOL, DESC_SYMBOL,
};
pub use kernel::{KernelSubject, KERNEL_KIND};
pub use model::{
    FuParams, IalMode, IalParams, IdParams, IioParams, IioVar, ImdMode, ImdParams, ImsParams,
    ImsSrc, IocParams, IrParams, IraParams, Model, NoParams, Params, TbfParams, WvParams,
};
pub use rules::{
    rule_keys, LaneRule, LaunchDims, MaskRule, ModelRules, PolRule, RuleError, RuleOverride,
    RulePreset, SamplingRules, WarpRule,
};
pub use run::{
    activations, arm, outcome_of_error, HangPolicy, InjectError, Injection, Target, HANG_FACTOR,
    HANG_FLOOR_INSTRUCTIONS, HANG_FLOOR_WALL, SLOW_FACTOR,
};
pub use sample::{
    injection_rng, profile_sites, sample, sample_at, sample_with, scheduling_seed, ExercisedSite,
    Sampling, SiteProfile, SlotLanes,
};
pub use spec::{FaultSpec, Policy, SpecError, SUBSTITUTES};
pub use subject::{
    digest_of, workload_names, workload_refs, CoverageProbe, Subject, SubjectError, SubjectOpener,
    SubjectOptions, SubjectRef, SubjectSource, WorkloadSubject, WORKLOAD_KIND,
};
pub use types::{op_group, operand_types};
