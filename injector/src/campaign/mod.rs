//! Fault campaigns: plan, run, resume, shard and merge thousands of injections, with
//! every result in one SQLite store (design.md §2.5, `docs/campaigns.md`).
//!
//! - [`plan_campaign`] profiles the fault sites of each (workload, model) cell on a
//!   virtual GPU ([`site_profile_for`] picks the profile closest to a CUDA GPU) and draws
//!   each cell's faults from the campaign seed — only over exercised sites, or over the
//!   whole physical space ([`crate::Sampling`]). [`CampaignConfig`] is what a plan is
//!   drawn from; [`Injections`] says how many per cell (a number, or a margin and a
//!   confidence).
//! - [`CampaignStore`] keeps the plan, every result and every session in one file; each
//!   result is its own transaction in a write-ahead log, so a killed process loses no
//!   committed result.
//! - [`run_campaign`] executes the pending rows of a store (of one [`reports::Shard`])
//!   on `jobs` worker threads and commits each result as it completes; called again on
//!   the same store it resumes, whatever interrupted it. [`CampaignEvent`]s feed
//!   progress reporters.
//! - [`merge_stores`] joins the stores of a sharded campaign.
//!
//! ```no_run
//! use injector::{
//!     plan_campaign, run_campaign, CampaignConfig, CampaignStore, Injections, Isolation,
//!     Model, RunOptions, SubjectSource,
//! };
//! use std::sync::atomic::AtomicBool;
//! let config = CampaignConfig::new(
//!     injector::workload_refs(&["vecadd"], &Default::default())?,
//!     vec![Model::Iat],
//!     Injections::Fixed { n: 100 },
//! );
//! let source = SubjectSource::standard();
//! let plan = plan_campaign(&config, &source, 2, &mut |_| {})?;
//! let path = std::path::Path::new("campaign.db");
//! CampaignStore::create(path, &plan, None)?;
//! let opts = RunOptions {
//!     jobs: 2,
//!     shard: None,
//!     isolation: Isolation::Threads,
//!     durability: Default::default(),
//!     host: "localhost".into(),
//!     command: None,
//! };
//! let summary = run_campaign(path, &opts, &source, &AtomicBool::new(false), &mut |_| {})?;
//! assert!(summary.complete());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
mod plan;
mod runner;
mod store;

pub use config::{
    in_shard, parse_models, parse_shard, parse_workloads, shard_name, CampaignConfig, CampaignKind,
    Injections,
};
pub use error::CampaignError;
pub use plan::{plan_campaign, site_profile_for, CampaignPlan, CellPlan, PlanProgress, PlanRow};
pub use runner::{run_campaign, shard_label, CampaignEvent, Isolation, RunOptions, RunSummary};
pub use store::{
    merge_stores, rfc3339, CampaignStore, Durability, MergeSummary, Session, StoreMeta,
    StoredResult, COVERAGE_COLUMNS, RESULT_COLUMNS, STORE_SCHEMA_VERSION,
};
