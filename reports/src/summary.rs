//! Campaign statistics: [`summarize`] turns [`RunRecord`]s into a [`CampaignReport`].
//!
//! Shares of outcomes are taken over *activated* runs (every run but
//! [`Outcome::NotActivated`]); not-activated runs are counted separately and give the
//! activation rate. Every share carries a 95% Wilson score interval.

use crate::outcome::{DueCause, HangCause, Outcome};
use crate::record::{CampaignMeta, RunRecord};
use crate::stats::wilson;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The version of the JSON report format ([`CampaignReport`]); bumped on any change that
/// an existing reader could misread. Documented in `docs/report-format.md`.
pub const SCHEMA_VERSION: u32 = 1;

/// The confidence level of every interval in a report.
pub const CONFIDENCE: f64 = 0.95;

/// The normal quantile for [`CONFIDENCE`] (two-sided 95%).
const Z95: f64 = 1.959_963_984_540_054;

/// A count out of a total, with its share and 95% Wilson interval.
///
/// When `of` is 0 the share is undefined: `share` is 0 and the interval is [0, 1];
/// renderers print `–`. Check [`Rate::is_defined`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Runs counted.
    pub count: u64,
    /// Runs in the denominator.
    pub of: u64,
    /// `count / of` (0 when `of` is 0).
    pub share: f64,
    /// Lower bound of the 95% Wilson score interval.
    pub lo: f64,
    /// Upper bound of the 95% Wilson score interval.
    pub hi: f64,
}

impl Rate {
    /// `count` out of `of` with its 95% Wilson interval.
    pub fn new(count: u64, of: u64) -> Rate {
        let ci = wilson(count, of, Z95);
        Rate {
            count,
            of,
            share: ci.p,
            lo: ci.lo,
            hi: ci.hi,
        }
    }

    /// Whether the denominator is non-zero (the share means something).
    pub fn is_defined(&self) -> bool {
        self.of > 0
    }
}

/// What a [`Summary`] aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One (workload, model) cell.
    Cell,
    /// One model over all workloads.
    Model,
    /// One workload over all models.
    Workload,
    /// The whole campaign.
    Total,
    /// One kernel of one workload over all models: the faults drawn at its sites.
    Kernel,
}

impl Scope {
    /// The snake_case name (JSON, CSV).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Cell => "cell",
            Scope::Model => "model",
            Scope::Workload => "workload",
            Scope::Total => "total",
            Scope::Kernel => "kernel",
        }
    }
}

/// How far the silent data corruptions of a group were from the golden outputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SdcStats {
    /// SDC runs summarized.
    pub count: u64,
    /// Median over SDC runs of the share of output elements that differ
    /// (`elements / total`; runs with `total` 0 are left out).
    pub differing_share_median: f64,
    /// Largest share of differing output elements of any SDC run.
    pub differing_share_max: f64,
    /// Largest absolute error of any SDC run (NaN values ignored; may be infinite).
    #[serde(with = "crate::nonfinite")]
    pub max_abs: f64,
    /// Largest relative error of any SDC run (NaN values ignored; may be infinite).
    #[serde(with = "crate::nonfinite")]
    pub max_rel: f64,
    /// Differing bits summed over all SDC runs.
    pub flipped_bits: u64,
    /// SDC runs whose faulty output holds NaN or ±Inf where the golden one does not,
    /// out of `count`: how many a NaN/Inf check would have caught.
    pub nan_inf: Rate,
}

/// Detection results of a detector campaign (runs whose outcome is
/// [`Outcome::Detected`] or [`Outcome::Escaped`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Detection coverage: detected out of detected + escaped (the activated faults the
    /// check saw).
    pub coverage: Rate,
    /// Detected out of all injections, not-activated ones included: a fault the check's
    /// kernels never activate is a fault it misses.
    pub coverage_of_injections: Rate,
    /// Detected runs where the check named an SM, out of detected runs.
    pub sm_attributed: Rate,
    /// Detected runs whose named SM is the faulty one, out of detected runs whose
    /// record carries the fault's SM ([`RunRecord::fault_sm`]).
    pub sm_correct: Rate,
}

/// Outcome statistics of one group of runs: a cell, a model, a workload or the whole
/// campaign ([`Scope`]).
///
/// Every outcome [`Rate`] is over `activated` runs; `activation` is over `injections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// What this summary aggregates.
    pub scope: Scope,
    /// The model (`None` when the summary spans all models).
    pub model: Option<String>,
    /// The workload (`None` when the summary spans all workloads).
    pub workload: Option<String>,
    /// The kernel ([`Scope::Kernel`] only; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Runs recorded.
    pub injections: u64,
    /// Runs whose fault never activated (excluded from every outcome share).
    pub not_activated: u64,
    /// Runs whose fault activated: `injections - not_activated`, the denominator of every
    /// outcome share.
    pub activated: u64,
    /// Activated out of injections.
    pub activation: Rate,
    /// Masked runs (output equals golden), out of activated.
    pub masked: Rate,
    /// Masked runs flagged slow (a subset of `masked`).
    pub masked_slow: u64,
    /// Silent data corruptions, out of activated.
    pub sdc: Rate,
    /// Detected unrecoverable errors (crashes), out of activated.
    pub due: Rate,
    /// DUEs by cause, each out of activated; every cause is present (zeros too), keyed
    /// by [`DueCause::name`].
    pub due_by_cause: BTreeMap<DueCause, Rate>,
    /// Hangs, out of activated.
    pub hang: Rate,
    /// Hangs by cause, each out of activated; every cause present, keyed by
    /// [`HangCause::name`].
    pub hang_by_cause: BTreeMap<HangCause, Rate>,
    /// Detector campaigns: runs the check flagged, out of activated.
    pub detected: Rate,
    /// Detector campaigns: activated runs the check passed, out of activated.
    pub escaped: Rate,
    /// SDC magnitudes; `None` when there was no SDC.
    pub sdc_magnitude: Option<SdcStats>,
    /// Detection coverage; `None` when no run was detected or escaped.
    pub detection: Option<Detection>,
    /// Runs whose record carries an error text.
    pub with_error: u64,
    /// Wall time of all runs, summed, in microseconds.
    pub elapsed_us: u64,
}

/// Everything a campaign's report shows: statistics per cell, per model, per workload and
/// in total, with the campaign's metadata. The JSON report is this type, serialized.
///
/// Ordering is deterministic: models and workloads in the order of
/// [`CampaignMeta::models`] / [`CampaignMeta::workloads`], then any others found in the
/// records, sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    /// The format version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The confidence level of every interval ([`CONFIDENCE`]).
    pub confidence: f64,
    /// The campaign.
    pub meta: CampaignMeta,
    /// The whole campaign.
    pub total: Summary,
    /// One summary per model, over all workloads, in model order.
    pub by_model: Vec<Summary>,
    /// One summary per workload, over all models, in workload order.
    pub by_workload: Vec<Summary>,
    /// One summary per (model, workload) cell: model-major, each in order. Every
    /// combination of the metadata's models and workloads is present (with zero
    /// injections when none ran), plus every other combination found in the records.
    pub cells: Vec<Summary>,
    /// One summary per (workload, kernel) over all models: the faults drawn at the
    /// sites of each kernel (and of the device functions it calls), in workload order
    /// and then by kernel name; faults not tied to a site (`wdrop`) under
    /// `(all kernels)`. Absent when the records carry no kernel (reports from JSON
    /// Lines, stores from before kernels were recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_kernel: Vec<Summary>,
}

impl Summary {
    /// Not-activated runs out of injections (the complement of `activation`).
    pub fn not_activated_rate(&self) -> Rate {
        Rate::new(self.not_activated, self.injections)
    }
}

impl CampaignReport {
    /// The cell of `model` × `workload`, if present.
    pub fn cell(&self, model: &str, workload: &str) -> Option<&Summary> {
        self.cells
            .iter()
            .find(|c| c.model.as_deref() == Some(model) && c.workload.as_deref() == Some(workload))
    }

    /// The cells of `model`, in workload order.
    pub fn cells_of_model<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a Summary> {
        self.cells
            .iter()
            .filter(move |c| c.model.as_deref() == Some(model))
    }

    /// The model names in report order.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.by_model.iter().filter_map(|s| s.model.as_deref())
    }

    /// The workload names in report order.
    pub fn workloads(&self) -> impl Iterator<Item = &str> {
        self.by_workload
            .iter()
            .filter_map(|s| s.workload.as_deref())
    }

    /// Whether any run is a detector outcome (`Detected` / `Escaped`).
    pub fn has_detection(&self) -> bool {
        self.total.detection.is_some()
    }
}

/// Builds a [`CampaignReport`] one record at a time, so a store can stream its rows.
///
/// ```
/// use reports::{CampaignMeta, Outcome, RunRecord, Summarizer};
/// let mut s = Summarizer::new(CampaignMeta::default());
/// s.add(&RunRecord {
///     workload: "vector_add".into(),
///     model: "iat".into(),
///     spec: "iat:sm=0".into(),
///     outcome: Outcome::NotActivated,
///     activations: Some(0),
///     instructions: None,
///     elapsed_us: 10,
///     error: None,
///     fault_sm: None,
/// });
/// let report = s.finish();
/// assert_eq!(report.total.injections, 1);
/// assert_eq!(report.total.activated, 0);
/// ```
#[derive(Debug, Clone)]
pub struct Summarizer {
    meta: CampaignMeta,
    cells: BTreeMap<(String, String), Acc>,
    kernels: BTreeMap<(String, String), Acc>,
}

impl Summarizer {
    /// An empty summary of the campaign `meta`.
    pub fn new(meta: CampaignMeta) -> Summarizer {
        Summarizer {
            meta,
            cells: BTreeMap::new(),
            kernels: BTreeMap::new(),
        }
    }

    /// Counts one run.
    pub fn add(&mut self, r: &RunRecord) {
        self.add_in_kernel(r, None);
    }

    /// Counts one run whose fault was drawn at a site of `kernel` (when known), so the
    /// report also breaks it down per (workload, kernel) ([`CampaignReport::by_kernel`]).
    pub fn add_in_kernel(&mut self, r: &RunRecord, kernel: Option<&str>) {
        self.cells
            .entry((r.model.clone(), r.workload.clone()))
            .or_default()
            .add(r);
        if let Some(k) = kernel {
            self.kernels
                .entry((r.workload.clone(), k.to_string()))
                .or_default()
                .add(r);
        }
    }

    /// The report.
    pub fn finish(self) -> CampaignReport {
        let models = order(&self.meta.models, self.cells.keys().map(|(m, _)| m));
        let workloads = order(&self.meta.workloads, self.cells.keys().map(|(_, w)| w));
        let empty = Acc::default();
        let mut cells = Vec::new();
        let mut by_model = Vec::new();
        let mut by_workload: Vec<Acc> = vec![Acc::default(); workloads.len()];
        let mut total = Acc::default();
        for m in &models {
            let mut model_acc = Acc::default();
            for (wi, w) in workloads.iter().enumerate() {
                let acc = self.cells.get(&(m.clone(), w.clone()));
                let planned = self.meta.models.contains(m) && self.meta.workloads.contains(w);
                if acc.is_none() && !planned {
                    continue;
                }
                let acc = acc.unwrap_or(&empty);
                model_acc.merge(acc);
                by_workload[wi].merge(acc);
                cells.push(acc.summary(Scope::Cell, Some(m), Some(w)));
            }
            total.merge(&model_acc);
            by_model.push(model_acc.summary(Scope::Model, Some(m), None));
        }
        let by_workload = workloads
            .iter()
            .zip(&by_workload)
            .map(|(w, acc)| acc.summary(Scope::Workload, None, Some(w)))
            .collect();
        let mut kernels: Vec<(&(String, String), &Acc)> = self.kernels.iter().collect();
        // workload order, then kernel names, `(all kernels)` (sorts first) last
        kernels.sort_by_key(|((w, k), _)| {
            let pos = workloads.iter().position(|x| x == w);
            (pos.unwrap_or(usize::MAX), k.starts_with('('), k.clone())
        });
        let by_kernel = kernels
            .into_iter()
            .map(|((w, k), acc)| Summary {
                kernel: Some(k.clone()),
                ..acc.summary(Scope::Kernel, None, Some(w))
            })
            .collect();
        CampaignReport {
            schema_version: SCHEMA_VERSION,
            confidence: CONFIDENCE,
            total: total.summary(Scope::Total, None, None),
            meta: self.meta,
            by_model,
            by_workload,
            cells,
            by_kernel,
        }
    }
}

/// Summarizes a campaign: statistics per (model, workload) cell, per model, per workload
/// and in total. See [`CampaignReport`] for the ordering and [`Summary`] for the
/// statistics.
///
/// ```
/// use reports::{summarize, CampaignMeta, Outcome, RunRecord};
/// let rec = |outcome| RunRecord {
///     workload: "gemm".into(), model: "iat".into(), spec: String::new(), outcome,
///     activations: None, instructions: None, elapsed_us: 0, error: None, fault_sm: None,
/// };
/// let records = [
///     rec(Outcome::NotActivated),
///     rec(Outcome::Masked { slow: false }),
///     rec(Outcome::Sdc { magnitude: Default::default() }),
/// ];
/// let report = summarize(&CampaignMeta::default(), &records);
/// let cell = report.cell("iat", "gemm").unwrap();
/// assert_eq!(cell.activated, 2);
/// assert_eq!(cell.sdc.share, 0.5); // 1 of 2 activated runs; not-activated excluded
/// ```
pub fn summarize<'a>(
    meta: &CampaignMeta,
    records: impl IntoIterator<Item = &'a RunRecord>,
) -> CampaignReport {
    let mut s = Summarizer::new(meta.clone());
    for r in records {
        s.add(r);
    }
    s.finish()
}

/// `first` in its order (deduplicated), then the other names of `found`, sorted.
fn order<'a>(first: &[String], found: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in first {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    let rest: BTreeSet<&String> = found.filter(|n| !first.contains(n)).collect();
    out.extend(rest.into_iter().cloned());
    out
}

/// Running counts of one group.
#[derive(Debug, Clone, Default)]
struct Acc {
    injections: u64,
    not_activated: u64,
    masked: u64,
    masked_slow: u64,
    sdc: u64,
    due: BTreeMap<DueCause, u64>,
    hang: BTreeMap<HangCause, u64>,
    detected: u64,
    escaped: u64,
    sm_attributed: u64,
    sm_known: u64,
    sm_correct: u64,
    with_error: u64,
    elapsed_us: u64,
    /// Per SDC run with a non-zero total: differing elements / total.
    sdc_shares: Vec<f64>,
    max_abs: f64,
    max_rel: f64,
    flipped_bits: u64,
    sdc_nan_inf: u64,
}

impl Acc {
    fn add(&mut self, r: &RunRecord) {
        self.injections += 1;
        self.elapsed_us = self.elapsed_us.saturating_add(r.elapsed_us);
        if r.error.is_some() {
            self.with_error += 1;
        }
        match &r.outcome {
            Outcome::NotActivated => self.not_activated += 1,
            Outcome::Masked { slow } => {
                self.masked += 1;
                if *slow {
                    self.masked_slow += 1;
                }
            }
            Outcome::Sdc { magnitude: m } => {
                self.sdc += 1;
                if m.total > 0 {
                    self.sdc_shares.push(m.elements as f64 / m.total as f64);
                }
                // f64::max ignores NaN.
                self.max_abs = self.max_abs.max(m.max_abs);
                self.max_rel = self.max_rel.max(m.max_rel);
                self.flipped_bits = self.flipped_bits.saturating_add(m.flipped_bits);
                if m.nan_inf > 0 {
                    self.sdc_nan_inf += 1;
                }
            }
            Outcome::Due { cause } => *self.due.entry(*cause).or_default() += 1,
            Outcome::Hang { cause } => *self.hang.entry(*cause).or_default() += 1,
            Outcome::Detected { sm, .. } => {
                self.detected += 1;
                if sm.is_some() {
                    self.sm_attributed += 1;
                }
                if let Some(fault_sm) = r.fault_sm {
                    self.sm_known += 1;
                    if *sm == Some(fault_sm) {
                        self.sm_correct += 1;
                    }
                }
            }
            Outcome::Escaped => self.escaped += 1,
        }
    }

    fn merge(&mut self, o: &Acc) {
        self.injections += o.injections;
        self.not_activated += o.not_activated;
        self.masked += o.masked;
        self.masked_slow += o.masked_slow;
        self.sdc += o.sdc;
        for (c, n) in &o.due {
            *self.due.entry(*c).or_default() += n;
        }
        for (c, n) in &o.hang {
            *self.hang.entry(*c).or_default() += n;
        }
        self.detected += o.detected;
        self.escaped += o.escaped;
        self.sm_attributed += o.sm_attributed;
        self.sm_known += o.sm_known;
        self.sm_correct += o.sm_correct;
        self.with_error += o.with_error;
        self.elapsed_us = self.elapsed_us.saturating_add(o.elapsed_us);
        self.sdc_shares.extend_from_slice(&o.sdc_shares);
        self.max_abs = self.max_abs.max(o.max_abs);
        self.max_rel = self.max_rel.max(o.max_rel);
        self.flipped_bits = self.flipped_bits.saturating_add(o.flipped_bits);
        self.sdc_nan_inf += o.sdc_nan_inf;
    }

    fn summary(&self, scope: Scope, model: Option<&str>, workload: Option<&str>) -> Summary {
        let activated = self.injections - self.not_activated;
        let of_act = |k| Rate::new(k, activated);
        let due_total: u64 = self.due.values().sum();
        let hang_total: u64 = self.hang.values().sum();
        let sdc_magnitude = (self.sdc > 0).then(|| {
            let mut shares = self.sdc_shares.clone();
            shares.sort_by(f64::total_cmp);
            SdcStats {
                count: self.sdc,
                differing_share_median: median(&shares),
                differing_share_max: shares.last().copied().unwrap_or(0.0),
                max_abs: self.max_abs,
                max_rel: self.max_rel,
                flipped_bits: self.flipped_bits,
                nan_inf: Rate::new(self.sdc_nan_inf, self.sdc),
            }
        });
        let detection = (self.detected + self.escaped > 0).then(|| Detection {
            coverage: Rate::new(self.detected, self.detected + self.escaped),
            coverage_of_injections: Rate::new(self.detected, self.injections),
            sm_attributed: Rate::new(self.sm_attributed, self.detected),
            sm_correct: Rate::new(self.sm_correct, self.sm_known),
        });
        Summary {
            scope,
            model: model.map(str::to_owned),
            workload: workload.map(str::to_owned),
            kernel: None,
            injections: self.injections,
            not_activated: self.not_activated,
            activated,
            activation: Rate::new(activated, self.injections),
            masked: of_act(self.masked),
            masked_slow: self.masked_slow,
            sdc: of_act(self.sdc),
            due: of_act(due_total),
            due_by_cause: DueCause::ALL
                .iter()
                .map(|c| (*c, of_act(self.due.get(c).copied().unwrap_or(0))))
                .collect(),
            hang: of_act(hang_total),
            hang_by_cause: HangCause::ALL
                .iter()
                .map(|c| (*c, of_act(self.hang.get(c).copied().unwrap_or(0))))
                .collect(),
            detected: of_act(self.detected),
            escaped: of_act(self.escaped),
            sdc_magnitude,
            detection,
            with_error: self.with_error,
            elapsed_us: self.elapsed_us,
        }
    }
}

/// The median of sorted values (mean of the two middle ones for an even count; 0 for none).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::SdcMagnitude;

    fn rec(model: &str, workload: &str, outcome: Outcome) -> RunRecord {
        RunRecord {
            workload: workload.into(),
            model: model.into(),
            spec: format!("{model}:test"),
            outcome,
            activations: None,
            instructions: None,
            elapsed_us: 100,
            error: None,
            fault_sm: None,
        }
    }

    #[test]
    fn kernels_break_down_per_workload_in_order_with_unsited_faults_last() {
        let meta = CampaignMeta {
            workloads: vec!["bfs".into(), "vecadd".into()],
            models: vec!["iat".into(), "wdrop".into()],
            ..Default::default()
        };
        let mut s = Summarizer::new(meta.clone());
        let masked = || Outcome::Masked { slow: false };
        let sdc = || Outcome::Sdc {
            magnitude: Default::default(),
        };
        for (m, w, k, o) in [
            ("iat", "vecadd", Some("vecadd"), sdc()),
            ("iat", "bfs", Some("bfs_expand"), sdc()),
            ("iat", "bfs", Some("bfs_expand"), masked()),
            ("iat", "bfs", Some("bfs_init"), masked()),
            ("wdrop", "bfs", Some("(all kernels)"), Outcome::NotActivated),
            ("iat", "bfs", None, masked()),
        ] {
            s.add_in_kernel(&rec(m, w, o), k);
        }
        let r = s.finish();
        let rows: Vec<(&str, &str, u64, u64)> = r
            .by_kernel
            .iter()
            .map(|k| {
                assert_eq!((k.scope, k.model.as_deref()), (Scope::Kernel, None));
                (
                    k.workload.as_deref().unwrap(),
                    k.kernel.as_deref().unwrap(),
                    k.injections,
                    k.sdc.count,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("bfs", "bfs_expand", 2, 1),
                ("bfs", "bfs_init", 1, 0),
                ("bfs", "(all kernels)", 1, 0),
                ("vecadd", "vecadd", 1, 1),
            ]
        );
        // the record without a kernel counts in its cell only
        assert_eq!(r.cell("iat", "bfs").unwrap().injections, 4);
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.contains(
                r#""scope":"kernel","model":null,"workload":"bfs","kernel":"bfs_expand""#
            ),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<CampaignReport>(&json).unwrap(), r);
        // without kernels the JSON is what it was
        let plain = summarize(&meta, &[rec("iat", "bfs", masked())]);
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("kernel"), "{json}");
    }

    fn sdc(elements: u64, total: u64, max_abs: f64, nan_inf: u64) -> Outcome {
        Outcome::Sdc {
            magnitude: SdcMagnitude {
                elements,
                total,
                max_abs,
                max_rel: max_abs / 2.0,
                flipped_bits: elements * 3,
                nan_inf,
            },
        }
    }

    fn repeat(n: usize, r: RunRecord) -> impl Iterator<Item = RunRecord> {
        std::iter::repeat_n(r, n)
    }

    #[test]
    fn shares_exclude_not_activated_and_carry_wilson_bounds() {
        let mut rs: Vec<RunRecord> = Vec::new();
        rs.extend(repeat(20, rec("iat", "gemm", Outcome::NotActivated)));
        rs.extend(repeat(81, rec("iat", "gemm", sdc(1, 10, 1.0, 0))));
        rs.extend(repeat(
            182,
            rec("iat", "gemm", Outcome::Masked { slow: false }),
        ));
        let r = summarize(&CampaignMeta::default(), &rs);
        let c = r.cell("iat", "gemm").unwrap();
        assert_eq!((c.injections, c.not_activated, c.activated), (283, 20, 263));
        // 81 of 263 activated, Newcombe (1998) Table I: (0.2553, 0.3662).
        assert_eq!((c.sdc.count, c.sdc.of), (81, 263));
        assert!((c.sdc.share - 81.0 / 263.0).abs() < 1e-12);
        assert!((c.sdc.lo - 0.2553).abs() < 5e-4, "{:?}", c.sdc);
        assert!((c.sdc.hi - 0.3662).abs() < 5e-4, "{:?}", c.sdc);
        assert_eq!((c.masked.count, c.masked.of), (182, 263));
        assert_eq!((c.activation.count, c.activation.of), (263, 283));
        assert_eq!(c.due.count, 0);
        assert_eq!(c.due.of, 263);
    }

    #[test]
    fn causes_sum_to_their_kind_and_shares_sum_to_one() {
        let rs = vec![
            rec(
                "ioc",
                "w",
                Outcome::Due {
                    cause: DueCause::IllegalAddress,
                },
            ),
            rec(
                "ioc",
                "w",
                Outcome::Due {
                    cause: DueCause::IllegalAddress,
                },
            ),
            rec(
                "ioc",
                "w",
                Outcome::Due {
                    cause: DueCause::Trap,
                },
            ),
            rec(
                "ioc",
                "w",
                Outcome::Hang {
                    cause: HangCause::Deadlock,
                },
            ),
            rec(
                "ioc",
                "w",
                Outcome::Hang {
                    cause: HangCause::Budget,
                },
            ),
            rec("ioc", "w", Outcome::Masked { slow: true }),
            rec("ioc", "w", Outcome::Masked { slow: false }),
            rec("ioc", "w", sdc(2, 8, 0.5, 0)),
            rec("ioc", "w", Outcome::NotActivated),
        ];
        let r = summarize(&CampaignMeta::default(), &rs);
        let c = r.cell("ioc", "w").unwrap();
        assert_eq!(c.activated, 8);
        assert_eq!(c.due.count, 3);
        assert_eq!(c.due_by_cause[&DueCause::IllegalAddress].count, 2);
        assert_eq!(c.due_by_cause[&DueCause::Trap].count, 1);
        assert_eq!(c.due_by_cause[&DueCause::HostAbort].count, 0);
        assert_eq!(c.due_by_cause.len(), DueCause::ALL.len());
        let by_cause: u64 = c.due_by_cause.values().map(|r| r.count).sum();
        assert_eq!(by_cause, c.due.count);
        assert_eq!(c.hang.count, 2);
        assert_eq!(c.hang_by_cause[&HangCause::Deadline].count, 0);
        assert_eq!(c.masked_slow, 1);
        let sum = c.masked.share + c.sdc.share + c.due.share + c.hang.share;
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");
        assert!(c.detection.is_none());
    }

    #[test]
    fn sdc_magnitudes_median_max_and_nan_share() {
        let rs = vec![
            rec("m", "w", sdc(1, 100, 2.0, 0)),
            rec("m", "w", sdc(50, 100, f64::NAN, 3)),
            rec("m", "w", sdc(10, 100, 7.5, 0)),
            rec("m", "w", sdc(30, 100, 1.0, 1)),
            rec("m", "w", sdc(4, 0, 0.0, 0)), // no total: not in the shares
        ];
        let r = summarize(&CampaignMeta::default(), &rs);
        let m = r.cell("m", "w").unwrap().sdc_magnitude.unwrap();
        assert_eq!(m.count, 5);
        // shares 0.01, 0.10, 0.30, 0.50 → median (0.10 + 0.30) / 2.
        assert!((m.differing_share_median - 0.2).abs() < 1e-12, "{m:?}");
        assert_eq!(m.differing_share_max, 0.5);
        assert_eq!(m.max_abs, 7.5, "NaN must not win the max");
        assert_eq!(m.max_rel, 3.75);
        assert_eq!(m.flipped_bits, (1 + 50 + 10 + 30 + 4) * 3);
        assert_eq!((m.nan_inf.count, m.nan_inf.of), (2, 5));
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn detection_coverage_and_sm_attribution() {
        let det = |sm: Option<u32>, fault_sm: Option<u32>| RunRecord {
            fault_sm,
            ..rec(
                "wdrop",
                "suite",
                Outcome::Detected {
                    sm,
                    unit: "sched".into(),
                },
            )
        };
        let rs = vec![
            det(Some(3), Some(3)),
            det(Some(4), Some(3)),
            det(None, Some(3)),
            det(Some(1), None),
            rec("wdrop", "suite", Outcome::Escaped),
            rec("wdrop", "suite", Outcome::NotActivated),
        ];
        let r = summarize(&CampaignMeta::default(), &rs);
        let c = r.cell("wdrop", "suite").unwrap();
        let d = c.detection.unwrap();
        assert_eq!((d.coverage.count, d.coverage.of), (4, 5));
        assert_eq!(
            (d.coverage_of_injections.count, d.coverage_of_injections.of),
            (4, 6)
        );
        assert_eq!((d.sm_attributed.count, d.sm_attributed.of), (3, 4));
        assert_eq!((d.sm_correct.count, d.sm_correct.of), (1, 3));
        assert_eq!((c.detected.count, c.escaped.count, c.activated), (4, 1, 5));
        assert!(r.has_detection());
    }

    #[test]
    fn totals_are_sums_of_cells_in_meta_order() {
        let meta = CampaignMeta {
            models: vec!["iaw".into(), "iat".into()],
            workloads: vec!["vector_add".into(), "gemm".into(), "never_ran".into()],
            ..Default::default()
        };
        let mut rs = Vec::new();
        let outcomes = [
            Outcome::NotActivated,
            Outcome::Masked { slow: false },
            sdc(1, 4, 1.0, 0),
            Outcome::Due {
                cause: DueCause::MisalignedAddress,
            },
            Outcome::Hang {
                cause: HangCause::Deadline,
            },
        ];
        for (i, (m, w)) in [
            ("iat", "gemm"),
            ("iaw", "vector_add"),
            ("iat", "vector_add"),
            ("iaw", "gemm"),
            ("zzz", "extra"),
            ("aaa", "gemm"),
        ]
        .into_iter()
        .enumerate()
        {
            for k in 0..(i + 3) * 7 {
                rs.push(rec(m, w, outcomes[(k * (i + 1)) % outcomes.len()].clone()));
            }
        }
        let r = summarize(&meta, &rs);
        let models: Vec<&str> = r.models().collect();
        assert_eq!(models, ["iaw", "iat", "aaa", "zzz"]);
        let workloads: Vec<&str> = r.workloads().collect();
        assert_eq!(workloads, ["vector_add", "gemm", "never_ran", "extra"]);
        // The planned cell that never ran is present and empty; unplanned empty ones are not.
        let never = r.cell("iat", "never_ran").unwrap();
        assert_eq!(
            (never.injections, never.activation.is_defined()),
            (0, false)
        );
        assert!(r.cell("aaa", "vector_add").is_none());
        assert!(r.cell("zzz", "extra").is_some());
        // Model-major cell order.
        let first: Vec<(&str, &str)> = r
            .cells
            .iter()
            .take(4)
            .map(|c| (c.model.as_deref().unwrap(), c.workload.as_deref().unwrap()))
            .collect();
        assert_eq!(
            first,
            [
                ("iaw", "vector_add"),
                ("iaw", "gemm"),
                ("iaw", "never_ran"),
                ("iat", "vector_add")
            ]
        );

        type Get = fn(&Summary) -> u64;
        let fields: [(&str, Get); 7] = [
            ("injections", |s| s.injections),
            ("not_activated", |s| s.not_activated),
            ("masked", |s| s.masked.count),
            ("sdc", |s| s.sdc.count),
            ("due", |s| s.due.count),
            ("hang", |s| s.hang.count),
            ("elapsed", |s| s.elapsed_us),
        ];
        for (name, get) in fields {
            for m in &r.by_model {
                let sum: u64 = r.cells_of_model(m.model.as_deref().unwrap()).map(get).sum();
                assert_eq!(get(m), sum, "{name} of model {:?}", m.model);
            }
            for w in &r.by_workload {
                let sum: u64 = r
                    .cells
                    .iter()
                    .filter(|c| c.workload == w.workload)
                    .map(get)
                    .sum();
                assert_eq!(get(w), sum, "{name} of workload {:?}", w.workload);
            }
            let cells: u64 = r.cells.iter().map(get).sum();
            let models: u64 = r.by_model.iter().map(get).sum();
            let workloads: u64 = r.by_workload.iter().map(get).sum();
            assert_eq!((get(&r.total), get(&r.total)), (cells, models), "{name}");
            assert_eq!(get(&r.total), workloads, "{name}");
        }
        assert_eq!(r.total.injections as usize, rs.len());
        assert_eq!(r.total.scope, Scope::Total);
        assert_eq!(r.by_model[0].scope, Scope::Model);
    }

    #[test]
    fn report_json_round_trips_with_cause_keys() {
        let rs = vec![
            rec(
                "ioc",
                "w",
                Outcome::Due {
                    cause: DueCause::Trap,
                },
            ),
            rec("ioc", "w", sdc(1, 2, f64::INFINITY, 1)),
        ];
        let r = summarize(&CampaignMeta::default(), &rs);
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains(r#""due_by_cause":{"illegal_address":"#), "{s}");
        assert!(s.contains(r#""max_abs":"inf""#), "{s}");
        let back: CampaignReport = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
    }
}
