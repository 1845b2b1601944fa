//! The records every gpufault tool writes, their statistics and their renderers.
//!
//! This is the ground floor of the workspace: it depends on no other gpufault crate, and
//! the injector, detector, guard and CLI all write its types, so that every outcome,
//! machine-readable format and exit code is defined once. It reads no clock and no
//! environment, and performs no I/O beyond the writer it is handed.
//!
//! - [`Outcome`], [`DueCause`], [`SdcMagnitude`]: what one fault injection did
//!   (design.md §4).
//! - [`RunRecord`], [`CampaignMeta`]: the rows a campaign stores (one per injection) and
//!   its header.
//! - [`summarize`] / [`Summarizer`] → [`CampaignReport`]: outcome shares per (model,
//!   workload) cell, per model, per workload and in total, over activated runs, with 95%
//!   Wilson intervals ([`wilson`]), SDC magnitude and detection coverage.
//! - Renderers of a report: [`render_table`] (terminal, [`TableStyle`]), [`render_json`]
//!   (with `schema_version`, read back by [`parse_json`]), [`render_csv`],
//!   [`render_markdown`], [`render_html`] (one self-contained page with SVG charts); and
//!   [`render_jsonl`] / [`write_jsonl`] / [`parse_jsonl`] for the raw records. [`Format`]
//!   picks one by name.
//! - [`CoverageRecord`] → [`summarize_coverage`] → [`CoverageReport`]: what the health
//!   check made of each fault of a coverage campaign, and the coverage per fault model
//!   with its 95% Wilson interval; [`render_coverage_table`], [`render_coverage_json`],
//!   [`render_coverage_html`].
//! - [`output`]: the JSON documents the other commands print with `--json` (`run`,
//!   `sim run`, `ptx stats`, `models`, `workloads`, `campaign status`).
//! - [`exit`]: the documented exit codes of every `gpufault` command.
//! - [`train`]: what the training job (`gpufault train --json`) prints when it ends.
//! - [`check`]: the health check's records (verdicts, findings, coverage per GPU), and
//!   their renderers: [`render_check_table`], [`render_check_json`],
//!   [`render_check_prometheus`] (text exposition format, dcgm-exporter's labels) and
//!   [`render_check_reason`] (one line of at most [`REASON_MAX_LEN`] characters).
//! - [`ledger`]: the quarantine ledger's file (GPUs kept out of jobs, by UUID, with
//!   evidence and history), read by [`ledger::LedgerFile::parse`].
//! - [`slurm`]: the Slurm hooks' record, one JSON line per prolog, epilog or health-check
//!   run.
//! - [`k8s`]: what `gpufault k8s taint-advice` prints (a node taint and DRA
//!   `DeviceTaintRule`s), as JSON or YAML, and Kubernetes' name rules.
//!
//! The formats are documented field by field in `docs/report-format.md`.
//!
//! ```
//! use reports::{summarize, wilson, CampaignMeta, DueCause, Outcome, RunRecord};
//! let o = Outcome::Due { cause: DueCause::IllegalAddress };
//! assert_eq!(o.kind(), reports::OutcomeKind::Due);
//! let ci = wilson(45, 100, 1.96);
//! assert!(ci.lo < 0.45 && 0.45 < ci.hi);
//!
//! let run = |outcome| RunRecord {
//!     workload: "gemm".into(), model: "ioc".into(), spec: "ioc:…".into(), outcome,
//!     activations: Some(1), instructions: None, elapsed_us: 120, error: None, fault_sm: None,
//! };
//! let records = vec![run(o), run(Outcome::Masked { slow: false })];
//! let meta = CampaignMeta { campaign_id: "demo".into(), ..Default::default() };
//! let report = summarize(&meta, &records);
//! assert_eq!(report.total.due.share, 0.5);
//! let text = reports::render_table(&report, reports::TableStyle::Compact);
//! assert!(text.contains("50.0% [9.5, 90.5]"));
//! ```
#![deny(missing_docs)]

pub mod check;
mod coverage;
mod error;
pub mod exit;
mod format;
pub mod guard;
pub mod k8s;
pub mod ledger;
mod nonfinite;
mod outcome;
pub mod output;
mod record;
mod render;
pub mod slurm;
mod stats;
mod summary;
pub mod train;

pub use coverage::{
    summarize_coverage, BaselineCoverage, BaselineRecord, CoverageRecord, CoverageReport,
    Diagnosis, Escape, ModelCoverage, COVERAGE_SCHEMA_VERSION,
};
pub use error::ReportError;
pub use format::Format;
pub use outcome::*;
pub use record::{CampaignMeta, RunRecord, Shard};
pub use render::check::{render_check_json, render_check_table};
pub use render::coverage::{render_coverage_html, render_coverage_json, render_coverage_table};
pub use render::csv::render_csv;
pub use render::html::render_html;
pub use render::json::{parse_json, render_json};
pub use render::jsonl::{parse_jsonl, render_jsonl, write_jsonl};
pub use render::markdown::render_markdown;
pub use render::prometheus::render_check_prometheus;
pub use render::reason::{render_check_reason, REASON_MAX_LEN};
pub use render::table::{render_table, TableStyle};
pub use stats::*;
pub use summary::{
    summarize, CampaignReport, Detection, Rate, Scope, SdcStats, Summarizer, Summary, CONFIDENCE,
    SCHEMA_VERSION,
};
