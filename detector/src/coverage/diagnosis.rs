//! Diagnosis: from a failing check's findings, the fault model (and so the unit) most
//! likely behind them, with a confidence and the runner-up.
//!
//! A [`FaultDictionary`] is built by coverage campaigns themselves: for each model, in
//! how many of its detected faults each feature of the findings appeared
//! ([`super::features`]: the kernels and words that disagreed, in how many lanes, how
//! kernels failed, one SM or several). [`FaultDictionary::diagnose`] scores every model
//! as a Bernoulli naive Bayes over the dictionary's features (each present or absent,
//! add-½ smoothing, equal priors) and normalises the scores into probabilities.
//!
//! The bundled dictionary ([`FaultDictionary::bundled`], `dictionary.json` beside this
//! file) comes from a development seed, never from the seed coverage is reported on;
//! regenerate it with
//!
//! ```text
//! gpufault coverage --models all --faults 40 --device sim --seed 7 --jobs 2 --out dict.db
//! cargo run --release -p gpufault-detector --example fault_dictionary -- dict.db \
//!     > detector/src/coverage/dictionary.json
//! ```

use injector::Model;
use reports::{CoverageRecord, Diagnosis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How often each feature appeared in the detected faults of each model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultDictionary {
    /// Where it was built from (the coverage campaign's device, seed, command).
    pub source: String,
    /// Per model id: its detected faults, and per feature how many of them showed it.
    pub models: BTreeMap<String, ModelEntry>,
}

/// One model's entry of a [`FaultDictionary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Detected faults counted.
    pub faults: u64,
    /// Feature → faults that showed it.
    pub features: BTreeMap<String, u64>,
}

impl FaultDictionary {
    /// The dictionary of the detected faults among `records`.
    pub fn build(source: &str, records: &[CoverageRecord]) -> FaultDictionary {
        let mut models: BTreeMap<String, ModelEntry> = BTreeMap::new();
        for r in records.iter().filter(|r| r.detected) {
            let e = models.entry(r.model.clone()).or_insert_with(|| ModelEntry {
                faults: 0,
                features: BTreeMap::new(),
            });
            e.faults += 1;
            for f in &r.features {
                *e.features.entry(f.clone()).or_default() += 1;
            }
        }
        FaultDictionary {
            source: source.to_string(),
            models,
        }
    }

    /// The dictionary checked in with this build (`dictionary.json`).
    pub fn bundled() -> &'static FaultDictionary {
        static D: std::sync::OnceLock<FaultDictionary> = std::sync::OnceLock::new();
        D.get_or_init(|| {
            serde_json::from_str(include_str!("dictionary.json"))
                .expect("the bundled fault dictionary parses (a test checks it)")
        })
    }

    /// The most likely model behind `features` (of a failing check), with its
    /// probability and the runner-up; `None` when there are no features or no models.
    pub fn diagnose(&self, features: &[String]) -> Option<Diagnosis> {
        if features.is_empty() || self.models.is_empty() {
            return None;
        }
        let vocabulary: std::collections::BTreeSet<&String> = self
            .models
            .values()
            .flat_map(|e| e.features.keys())
            .collect();
        let mut scores: Vec<(&str, f64)> = self
            .models
            .iter()
            .map(|(model, e)| {
                let n = e.faults as f64;
                let log_p: f64 = vocabulary
                    .iter()
                    .map(|f| {
                        let k = e.features.get(*f).copied().unwrap_or(0) as f64;
                        let p = (k + 0.5) / (n + 1.0);
                        if features.contains(f) {
                            p.ln()
                        } else {
                            (1.0 - p).ln()
                        }
                    })
                    .sum();
                (model.as_str(), log_p)
            })
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let top = scores[0].1;
        let total: f64 = scores.iter().map(|(_, s)| (s - top).exp()).sum();
        let share = |s: f64| (s - top).exp() / total;
        let unit = |m: &str| Model::from_id(m).map(|m| m.check_unit().to_string());
        let (best, runner_up) = (scores[0], scores.get(1).copied());
        Some(Diagnosis {
            model: best.0.to_string(),
            unit: unit(best.0).unwrap_or_default(),
            confidence: share(best.1),
            runner_up: runner_up.map(|r| r.0.to_string()),
            runner_up_confidence: runner_up.map(|r| share(r.1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(model: &str, features: &[&str]) -> CoverageRecord {
        let mut r: CoverageRecord = serde_json::from_value(serde_json::json!({
            "model": model, "index": 0, "spec": "", "fault_sm": 0, "expected_unit": "",
            "scheduling_seed": 0, "detected": true, "verdict": "faulty", "sms": [0],
            "units": [], "kernels": [], "findings": 1, "sm_named": true, "sm_first": true,
            "unit_correct": true, "duration_us": 1,
        }))
        .unwrap();
        r.features = features.iter().map(|s| s.to_string()).collect();
        r
    }

    #[test]
    fn the_model_whose_faults_look_alike_wins_with_a_runner_up() {
        let d = FaultDictionary::build(
            "test",
            &[
                rec("iat", &["word:sig_ids/tid.x", "lanes:sig_ids:some"]),
                rec("iat", &["word:sig_ids/tid.x", "lanes:sig_ids:1"]),
                rec("iaw", &["word:sig_ids/tid.x", "lanes:sig_ids:all"]),
                rec("ioc", &["word:sig_alu/alu.add", "lanes:sig_alu:all"]),
            ],
        );
        assert_eq!(d.models["iat"].faults, 2);
        assert_eq!(d.models["iat"].features["word:sig_ids/tid.x"], 2);
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let g = d
            .diagnose(&f(&["word:sig_ids/tid.x", "lanes:sig_ids:all"]))
            .unwrap();
        assert_eq!(
            (g.model.as_str(), g.unit.as_str()),
            ("iaw", "warp-scheduler")
        );
        assert_eq!(g.runner_up.as_deref(), Some("iat"));
        assert!(g.confidence > g.runner_up_confidence.unwrap());
        let g = d.diagnose(&f(&["word:sig_alu/alu.add"])).unwrap();
        assert_eq!(g.model, "ioc");
        assert!(d.diagnose(&[]).is_none());
    }

    #[test]
    fn the_bundled_dictionary_parses_and_knows_every_model() {
        let d = FaultDictionary::bundled();
        for m in Model::ALL {
            assert!(
                d.models.contains_key(m.id()),
                "{m} missing from dictionary.json"
            );
        }
    }
}
