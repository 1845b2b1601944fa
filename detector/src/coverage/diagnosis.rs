//! Diagnosis: from a failing check's findings, the fault model (and so the unit) most
//! likely behind them, with a confidence and the runner-up.
//!
//! A [`FaultDictionary`] is built by coverage campaigns themselves, on development
//! seeds: for each model, in how many of its detected faults each feature of the
//! findings appeared ([`super::features`]: the kernels and words that disagreed, in how
//! many lanes and how, how kernels failed, one SM or several), and the weights of a
//! multinomial logistic regression (softmax) trained on those faults.
//! [`FaultDictionary::diagnose`] adds, per model, its bias and the weights of the
//! features present, and turns the scores into probabilities (softmax).
//!
//! ```text
//! features of a failing check ──▶ score(model) = bias + Σ weight(model, feature)
//!                                  ──▶ softmax ──▶ best model, its probability, runner-up
//! ```
//!
//! Why not naive Bayes (the first dictionary): the features are strongly correlated (a
//! corrupted thread id disturbs a dozen words together), and naive Bayes counts each
//! again; the regression weighs them jointly. On development data (560 faults of seed
//! 8 on `sim:h100`, 5-fold, the first dictionary's features) it names the right model
//! in 83.8% of detections, naive Bayes in 78.9%.
//! The training is plain stochastic gradient descent in a fixed order (no randomness:
//! the same coverage stores give the same dictionary, bit for bit).
//!
//! The bundled dictionary ([`FaultDictionary::bundled`], `dictionary.json` beside this
//! file) comes from development seeds, never from the seed coverage is reported on;
//! regenerate it with the commands of `docs/coverage.md` ("Diagnosis").

use injector::Model;
use reports::{CoverageRecord, Diagnosis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What each model's detected faults showed, and the classifier's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultDictionary {
    /// Where it was built from (the coverage campaigns' devices, seeds, faults).
    pub source: String,
    /// Per model id: its detected faults, per feature how many of them showed it, and
    /// the weights.
    pub models: BTreeMap<String, ModelEntry>,
}

/// One model's entry of a [`FaultDictionary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Detected faults counted.
    pub faults: u64,
    /// Feature → faults that showed it (what the model looks like to the check; the
    /// features seen in at least a tenth of them).
    pub features: BTreeMap<String, u64>,
    /// The model's score before any feature.
    pub bias: f64,
    /// Feature → what its presence adds to the model's score (rounded to 0.01; those
    /// below 0.05 in magnitude are left out).
    pub weights: BTreeMap<String, f64>,
}

/// A feature seen in fewer of the training faults gets no weight (it would be noise).
const MIN_FAULTS: usize = 3;
/// Passes over the training faults.
const EPOCHS: u32 = 60;
/// Step size of the first pass; pass `e` takes `STEP / (1 + e / 10)`.
const STEP: f64 = 0.5;
/// L2 penalty on the weights a fault's features touch.
const L2: f64 = 1e-3;
/// Weights are stored rounded to 1 / ROUND.
const ROUND: f64 = 100.0;
/// Weights smaller than this in magnitude are left out of the dictionary.
const SMALLEST: f64 = 0.05;

impl FaultDictionary {
    /// The dictionary of the detected faults among `records`.
    pub fn build(source: &str, records: &[CoverageRecord]) -> FaultDictionary {
        let samples: Vec<(&str, &[String])> = records
            .iter()
            .filter(|r| r.detected)
            .map(|r| (r.model.as_str(), r.features.as_slice()))
            .collect();
        FaultDictionary::train(source, &samples)
    }

    /// The dictionary of `samples`: (model id, features of one detected fault).
    pub fn train(source: &str, samples: &[(&str, &[String])]) -> FaultDictionary {
        let mut models: BTreeMap<String, ModelEntry> = BTreeMap::new();
        for (m, fs) in samples {
            let e = models.entry(m.to_string()).or_insert_with(|| ModelEntry {
                faults: 0,
                features: BTreeMap::new(),
                bias: 0.0,
                weights: BTreeMap::new(),
            });
            e.faults += 1;
            for f in fs.iter() {
                *e.features.entry(f.clone()).or_default() += 1;
            }
        }
        let names: Vec<String> = models.keys().cloned().collect();
        let (bias, weights) = softmax_regression(&names, samples);
        for (c, e) in models.values_mut().enumerate() {
            e.bias = round(bias[c]);
            e.weights = weights[c]
                .iter()
                .map(|(f, w)| (f.to_string(), round(*w)))
                .filter(|(_, w)| w.abs() >= SMALLEST)
                .collect();
            // counts only of the features seen in a tenth of the model's faults or more
            let least = e.faults.div_ceil(10);
            e.features.retain(|_, n| *n >= least);
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
        let mut scores: Vec<(&str, f64)> = self
            .models
            .iter()
            .map(|(model, e)| {
                let s: f64 = features.iter().filter_map(|f| e.weights.get(f)).sum();
                (model.as_str(), e.bias + s)
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

fn round(w: f64) -> f64 {
    (w * ROUND).round() / ROUND
}

/// Per model of `names` (sorted), its bias and its weight per feature, trained by
/// stochastic gradient descent on the cross-entropy of the softmax over `samples`.
#[allow(clippy::type_complexity)]
fn softmax_regression<'a>(
    names: &[String],
    samples: &[(&str, &'a [String])],
) -> (Vec<f64>, Vec<BTreeMap<&'a str, f64>>) {
    // the features seen in at least MIN_FAULTS faults, numbered
    let mut vocabulary: BTreeMap<&'a str, usize> = BTreeMap::new();
    for (_, fs) in samples {
        for f in fs.iter() {
            *vocabulary.entry(f.as_str()).or_default() += 1;
        }
    }
    vocabulary.retain(|_, n| *n >= MIN_FAULTS);
    for (i, v) in vocabulary.values_mut().enumerate() {
        *v = i;
    }
    // each sample: its model's index, its features' indices (distinct)
    let xs: Vec<(usize, Vec<usize>)> = samples
        .iter()
        .map(|(m, fs)| {
            let mut x: Vec<usize> = fs
                .iter()
                .filter_map(|f| vocabulary.get(f.as_str()).copied())
                .collect();
            x.sort_unstable();
            x.dedup();
            (names.iter().position(|n| n == m).unwrap_or(0), x)
        })
        .collect();
    let (c, v) = (names.len(), vocabulary.len());
    let mut w = vec![vec![0.0f64; v]; c];
    let mut b = vec![0.0f64; c];
    let mut order: Vec<usize> = (0..xs.len()).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut p = vec![0.0f64; c];
    for epoch in 0..EPOCHS {
        // a fixed pseudo-random order per pass (xorshift, Fisher–Yates)
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let eta = STEP / (1.0 + f64::from(epoch) / 10.0);
        for &i in &order {
            let (y, x) = &xs[i];
            for (k, pk) in p.iter_mut().enumerate() {
                *pk = b[k] + x.iter().map(|&j| w[k][j]).sum::<f64>();
            }
            let top = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut z = 0.0;
            for pk in p.iter_mut() {
                *pk = (*pk - top).exp();
                z += *pk;
            }
            for k in 0..c {
                let g = p[k] / z - if k == *y { 1.0 } else { 0.0 };
                if g.abs() < 1e-4 {
                    continue;
                }
                for &j in x {
                    w[k][j] -= eta * (g + L2 * w[k][j]);
                }
                b[k] -= eta * (g + L2 * b[k]);
            }
        }
    }
    let weights = w
        .into_iter()
        .map(|wk| vocabulary.iter().map(|(f, &j)| (*f, wk[j])).collect())
        .collect();
    (b, weights)
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

    /// `faults`, MIN_FAULTS times over.
    fn thrice(faults: &[CoverageRecord]) -> Vec<CoverageRecord> {
        let n = faults.len() * MIN_FAULTS;
        faults.iter().cycle().take(n).cloned().collect()
    }

    #[test]
    fn the_model_whose_faults_look_alike_wins_with_a_runner_up() {
        // each fault three times: a feature seen in fewer than MIN_FAULTS gets no weight
        let faults = [
            rec("iat", &["word:sig_ids/tid.x", "lanes:sig_ids:some"]),
            rec("iat", &["word:sig_ids/tid.x", "lanes:sig_ids:1"]),
            rec("iaw", &["word:sig_ids/tid.x", "lanes:sig_ids:all"]),
            rec("ioc", &["word:sig_alu/alu.add", "lanes:sig_alu:all"]),
        ];
        let d = FaultDictionary::build("test", &thrice(&faults));
        assert_eq!(d.models["iat"].faults, 6);
        assert_eq!(d.models["iat"].features["word:sig_ids/tid.x"], 6);
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
    fn the_same_faults_give_the_same_dictionary() {
        let recs = [
            rec("iat", &["a", "b"]),
            rec("iaw", &["a", "c"]),
            rec("iac", &["c", "d"]),
            rec("iat", &["b"]),
        ];
        let recs = thrice(&recs);
        let (d1, d2) = (
            FaultDictionary::build("x", &recs),
            FaultDictionary::build("x", &recs),
        );
        assert_eq!(d1, d2);
        // a feature only one model shows weighs for it, against the others
        assert!(d1.models["iac"].weights["d"] > 0.0);
        assert!(d1.models["iat"].weights.get("d").copied().unwrap_or(0.0) < 0.0);
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
