//! Coverage campaigns: what the health check made of each injected fault, and the
//! coverage per fault model with its 95% Wilson interval (issue 17, `docs/coverage.md`).
//!
//! A coverage campaign puts each planned fault on a faulty virtual GPU, runs the health
//! check on it and stores one [`CoverageRecord`]; [`summarize_coverage`] turns the
//! records into a [`CoverageReport`] (per model: injected, detected, coverage with its
//! interval, how often the faulty SM and the model's unit were named, and the
//! escapes), which `render_coverage_*` print as a terminal table, JSON or HTML.

use crate::summary::Rate;
use crate::CampaignMeta;
use serde::{Deserialize, Serialize};

/// Version of the coverage report's JSON ([`render_coverage_json`](crate::render_coverage_json)).
pub const COVERAGE_SCHEMA_VERSION: u32 = 1;

/// The health check's result on one faulty GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageRecord {
    /// The fault model (`iat`).
    pub model: String,
    /// The fault's index in its model's cell.
    pub index: u64,
    /// The fault (compact spec).
    pub spec: String,
    /// The SM the fault sits on.
    pub fault_sm: u32,
    /// The unit of the check's findings the model belongs to (`warp-scheduler`,
    /// `control-flow`, `decode`, `memory`).
    pub expected_unit: String,
    /// The virtual GPU's scheduling seed for this fault (CTA placement, order, warp
    /// turns), derived from the campaign seed and the fault.
    pub scheduling_seed: u64,
    /// The check's verdict was `faulty`.
    pub detected: bool,
    /// The check's verdict (`faulty`, `healthy`, `degraded`, `unknown`).
    pub verdict: String,
    /// Why the check was incomplete, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The SMs the findings name, the most named first.
    pub sms: Vec<u32>,
    /// The units the findings name, in order of first mention.
    pub units: Vec<String>,
    /// The signature kernels the findings name, in order of first mention.
    pub kernels: Vec<String>,
    /// Findings in all.
    pub findings: u64,
    /// What the findings look like (kernels and words that disagreed, lane counts,
    /// kernel failures; `detector`'s features), for the fault dictionary.
    #[serde(default)]
    pub features: Vec<String>,
    /// The faulty SM is among [`sms`](Self::sms).
    pub sm_named: bool,
    /// The faulty SM is the first of [`sms`](Self::sms).
    pub sm_first: bool,
    /// [`expected_unit`](Self::expected_unit) is among [`units`](Self::units).
    pub unit_correct: bool,
    /// Thread-instructions the check executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<u64>,
    /// Wall time of the check, microseconds.
    pub duration_us: u64,
    /// What the baseline detector (the method of today's tools) made of the same faulty
    /// GPU, when the campaign asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineRecord>,
    /// The fault model a fault dictionary names from the features (filled when a
    /// report is made, from the dictionary of that build; not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
}

/// A diagnosis of a failing check: the most likely fault model and its unit, with a
/// confidence, and the runner-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The model (`iat`).
    pub model: String,
    /// Its unit of the check's findings (`warp-scheduler`, …).
    pub unit: String,
    /// Its probability under the dictionary, 0..=1.
    pub confidence: f64,
    /// The second most likely model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_up: Option<String>,
    /// Its probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_up_confidence: Option<f64>,
}

/// The gpu-burn / DCGM-diag method on one faulty GPU: repeated GEMMs, each compared
/// with the first result on the same GPU, and (a variant) with a result computed on the
/// CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineRecord {
    /// The baseline (`gpu-burn`).
    pub name: String,
    /// Some later GEMM differed from the first beyond the tolerance (or held a NaN), or
    /// the GEMM failed: what gpu-burn and DCGM diag report.
    pub detected_vs_first: bool,
    /// Some GEMM differed from the CPU's product beyond the tolerance, or failed.
    pub detected_vs_cpu: bool,
    /// Elements that differed from the first result (all iterations).
    pub faulty_elements_vs_first: u64,
    /// Elements that differed from the CPU's product (all iterations).
    pub faulty_elements_vs_cpu: u64,
    /// GEMMs that completed.
    pub iterations: u32,
    /// The device error that stopped the GEMMs, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A baseline's coverage of one model: detected / injected for both comparisons, with
/// their 95% Wilson intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineCoverage {
    /// The baseline (`gpu-burn`).
    pub name: String,
    /// Compared with the first result on the same GPU (gpu-burn, DCGM diag).
    pub vs_first: Rate,
    /// Compared with the CPU's product.
    pub vs_cpu: Rate,
}

/// Coverage of one fault model (or of all, `model` = `all`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCoverage {
    /// The model id, or `all`.
    pub model: String,
    /// Faults with a result.
    pub injected: u64,
    /// Of which the check called the GPU faulty.
    pub detected: u64,
    /// detected / injected.
    pub coverage: f64,
    /// Lower bound of the 95% Wilson interval of `coverage`.
    pub ci_low: f64,
    /// Upper bound.
    pub ci_high: f64,
    /// Share of detections whose findings name the faulty SM.
    pub sm_correct: f64,
    /// Share of detections whose findings name the faulty SM first.
    pub sm_first: f64,
    /// Share of detections whose findings name the model's unit.
    pub unit_correct: f64,
    /// Mean wall time of one check, milliseconds.
    pub mean_check_ms: f64,
    /// Share of detections whose diagnosis names this model (when diagnosed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis_correct: Option<f64>,
    /// Share of detections whose diagnosis names this model's unit (when diagnosed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis_unit_correct: Option<f64>,
    /// The baseline's coverage of the same faults (over those it ran on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineCoverage>,
}

/// An escaped fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escape {
    /// The model.
    pub model: String,
    /// The fault.
    pub spec: String,
    /// The check's verdict on it.
    pub verdict: String,
    /// The scheduling seed it ran with.
    pub scheduling_seed: u64,
}

/// The coverage of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// [`COVERAGE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The campaign's header.
    pub meta: CampaignMeta,
    /// Planned faults (of the store or shard).
    pub planned: u64,
    /// Per model, in campaign order.
    pub models: Vec<ModelCoverage>,
    /// Over every model.
    pub total: ModelCoverage,
    /// The faults whose check did not say `faulty`, as specs, in campaign order.
    pub escapes: Vec<String>,
    /// The same with the verdict and scheduling seed of each.
    pub escape_details: Vec<Escape>,
}

/// The coverage per model of `records` (models in order of first appearance).
pub fn summarize_coverage(
    meta: &CampaignMeta,
    planned: u64,
    records: &[CoverageRecord],
) -> CoverageReport {
    let mut order: Vec<&str> = Vec::new();
    for r in records {
        if !order.contains(&r.model.as_str()) {
            order.push(&r.model);
        }
    }
    let models = order
        .iter()
        .map(|m| model_coverage(m, records.iter().filter(|r| r.model == *m)))
        .collect();
    let escaped: Vec<&CoverageRecord> = records.iter().filter(|r| !r.detected).collect();
    CoverageReport {
        schema_version: COVERAGE_SCHEMA_VERSION,
        meta: meta.clone(),
        planned,
        models,
        total: model_coverage("all", records.iter()),
        escapes: escaped.iter().map(|r| r.spec.clone()).collect(),
        escape_details: escaped
            .iter()
            .map(|r| Escape {
                model: r.model.clone(),
                spec: r.spec.clone(),
                verdict: r.verdict.clone(),
                scheduling_seed: r.scheduling_seed,
            })
            .collect(),
    }
}

fn model_coverage<'a>(
    model: &str,
    records: impl Iterator<Item = &'a CoverageRecord>,
) -> ModelCoverage {
    let (mut n, mut d, mut named, mut first, mut unit, mut us) = (0u64, 0, 0, 0, 0, 0);
    let (mut bn, mut b_first, mut b_cpu, mut b_name) = (0u64, 0u64, 0u64, None);
    let (mut diagnosed, mut diag_model, mut diag_unit) = (0u64, 0u64, 0u64);
    for r in records {
        if let Some(g) = r.diagnosis.as_ref().filter(|_| r.detected) {
            diagnosed += 1;
            diag_model += u64::from(g.model == r.model);
            diag_unit += u64::from(g.unit == r.expected_unit);
        }
        if let Some(b) = &r.baseline {
            bn += 1;
            b_first += u64::from(b.detected_vs_first);
            b_cpu += u64::from(b.detected_vs_cpu);
            b_name.get_or_insert_with(|| b.name.clone());
        }
        n += 1;
        us += r.duration_us;
        if r.detected {
            d += 1;
            named += u64::from(r.sm_named);
            first += u64::from(r.sm_first);
            unit += u64::from(r.unit_correct);
        }
    }
    let rate = Rate::new(d, n);
    let of_detected = |k: u64| if d == 0 { 0.0 } else { k as f64 / d as f64 };
    ModelCoverage {
        model: model.to_string(),
        injected: n,
        detected: d,
        coverage: rate.share,
        ci_low: rate.lo,
        ci_high: rate.hi,
        sm_correct: of_detected(named),
        sm_first: of_detected(first),
        unit_correct: of_detected(unit),
        mean_check_ms: if n == 0 {
            0.0
        } else {
            us as f64 / n as f64 / 1e3
        },
        diagnosis_correct: (diagnosed > 0).then(|| diag_model as f64 / diagnosed as f64),
        diagnosis_unit_correct: (diagnosed > 0).then(|| diag_unit as f64 / diagnosed as f64),
        baseline: b_name.map(|name| BaselineCoverage {
            name,
            vs_first: Rate::new(b_first, bn),
            vs_cpu: Rate::new(b_cpu, bn),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(model: &str, detected: bool, sm_first: bool, unit: bool) -> CoverageRecord {
        CoverageRecord {
            model: model.into(),
            index: 0,
            spec: format!("{model}:sm=1"),
            fault_sm: 1,
            expected_unit: "decode".into(),
            scheduling_seed: 7,
            detected,
            verdict: if detected { "faulty" } else { "healthy" }.into(),
            reason: None,
            sms: if detected { vec![1] } else { vec![] },
            units: vec![],
            kernels: vec![],
            findings: u64::from(detected),
            features: vec![],
            sm_named: sm_first,
            sm_first,
            unit_correct: unit,
            instructions: None,
            duration_us: 2000,
            baseline: None,
            diagnosis: None,
        }
    }

    #[test]
    fn coverage_per_model_with_wilson_intervals_and_escapes() {
        let records = vec![
            rec("ioc", true, true, true),
            rec("ioc", true, false, true),
            rec("ioc", false, false, false),
            rec("wv", true, true, false),
        ];
        let r = summarize_coverage(&CampaignMeta::default(), 5, &records);
        assert_eq!(r.models.len(), 2);
        let ioc = &r.models[0];
        assert_eq!(
            (ioc.model.as_str(), ioc.injected, ioc.detected),
            ("ioc", 3, 2)
        );
        let w = Rate::new(2, 3);
        assert_eq!(
            (ioc.coverage, ioc.ci_low, ioc.ci_high),
            (w.share, w.lo, w.hi)
        );
        assert!(ioc.ci_low < 2.0 / 3.0 && 2.0 / 3.0 < ioc.ci_high);
        assert_eq!(ioc.sm_first, 0.5);
        assert_eq!(ioc.unit_correct, 1.0);
        assert_eq!(ioc.mean_check_ms, 2.0);
        assert_eq!(r.models[1].unit_correct, 0.0);
        assert_eq!((r.total.injected, r.total.detected), (4, 3));
        assert_eq!(r.escapes, vec!["ioc:sm=1".to_string()]);
        assert_eq!(ioc.diagnosis_correct, None);

        // diagnoses: the share of detections that name the model, and its unit
        let diagnosed = |model: &str, unit: &str| Diagnosis {
            model: model.into(),
            unit: unit.into(),
            confidence: 0.9,
            runner_up: None,
            runner_up_confidence: None,
        };
        let mut records = records;
        records[0].diagnosis = Some(diagnosed("ioc", "decode"));
        records[1].diagnosis = Some(diagnosed("iio", "decode"));
        records[2].diagnosis = Some(diagnosed("ioc", "decode")); // escaped: not counted
        let r = summarize_coverage(&CampaignMeta::default(), 5, &records);
        assert_eq!(r.models[0].diagnosis_correct, Some(0.5));
        assert_eq!(r.models[0].diagnosis_unit_correct, Some(1.0));
        assert_eq!(r.models[1].diagnosis_correct, None);
        assert_eq!(r.escape_details[0].verdict, "healthy");
    }
}
