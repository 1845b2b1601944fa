//! Builds the fault dictionary of the diagnosis from coverage stores (run on
//! development seeds, never on a seed coverage is reported on) and prints it as JSON:
//! the generator of `detector/src/coverage/dictionary.json` (commands in
//! `docs/coverage.md`, "Diagnosis").
//!
//!     cargo run --release -p gpufault-detector --example fault_dictionary -- \
//!         dev8.db dev1717.db > detector/src/coverage/dictionary.json
//!
//! `--cv K` prints instead (to stdout) the K-fold cross-validated share of correct
//! diagnoses per model and the most frequent confusions: how features and classifier
//! are compared on development data. Inputs ending in `.jsonl` are findings dumped by
//! the `diag_dump` example (the features are computed from the findings here).

use detector::FaultDictionary;
use std::collections::BTreeMap;

fn main() {
    let mut cv: Option<usize> = None;
    let mut inputs: Vec<String> = Vec::new();
    let mut tests: Vec<String> = Vec::new();
    let mut testing = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cv" => {
                cv = Some(
                    args.next()
                        .and_then(|k| k.parse().ok())
                        .expect("--cv K: K ≥ 2"),
                )
            }
            "--test" => testing = true,
            _ if testing => tests.push(a),
            _ => inputs.push(a),
        }
    }
    assert!(
        !inputs.is_empty(),
        "usage: fault_dictionary [--cv K] COVERAGE.db|FINDINGS.jsonl…"
    );
    let (samples, sources) = load(&inputs);
    if !tests.is_empty() {
        let (test, _) = load(&tests);
        let refs: Vec<(&str, &[String])> = samples
            .iter()
            .map(|(m, f)| (m.as_str(), f.as_slice()))
            .collect();
        let d = FaultDictionary::train("train", &refs);
        score(
            test.iter()
                .map(|(m, f)| (m, d.diagnose(f).map(|g| g.model))),
        );
        return;
    }
    match cv {
        None => {
            let source = format!(
                "gpufault coverage on development seeds: {}",
                sources.join(", ")
            );
            let refs: Vec<(&str, &[String])> = samples
                .iter()
                .map(|(m, f)| (m.as_str(), f.as_slice()))
                .collect();
            let d = FaultDictionary::train(&source, &refs);
            println!("{}", serde_json::to_string_pretty(&d).expect("serializes"));
        }
        Some(k) => {
            assert!(k >= 2, "--cv K: K ≥ 2");
            let mut got = Vec::new();
            for fold in 0..k {
                let train: Vec<(&str, &[String])> = samples
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % k != fold)
                    .map(|(_, (m, f))| (m.as_str(), f.as_slice()))
                    .collect();
                let d = FaultDictionary::train("cv", &train);
                for (m, f) in samples.iter().skip(fold).step_by(k) {
                    got.push((m, d.diagnose(f).map(|g| g.model)));
                }
            }
            println!("{k}-fold cross-validation:");
            score(got.into_iter());
        }
    }
}

/// Prints the share of correct diagnoses per model and the most frequent confusions.
fn score<'a>(got: impl Iterator<Item = (&'a String, Option<String>)>) {
    let mut per: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut confusions: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (m, g) in got {
        let g = g.unwrap_or_default();
        let e = per.entry(m.as_str()).or_default();
        e.1 += 1;
        if &g == m {
            e.0 += 1;
        } else {
            *confusions.entry((m.clone(), g)).or_default() += 1;
        }
    }
    let (ok, n) = per.values().fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    println!("{ok}/{n} correct ({:.1}%)", 100.0 * ok as f64 / n as f64);
    for (m, (c, t)) in &per {
        println!(
            "  {m:<6} {c:>4}/{t:<4} {:>5.1}%",
            100.0 * *c as f64 / *t as f64
        );
    }
    let mut conf: Vec<_> = confusions.into_iter().collect();
    conf.sort_by_key(|c| std::cmp::Reverse(c.1));
    for ((m, g), n) in conf.iter().take(12) {
        println!("  {m} → {g}: {n}");
    }
}

/// The detected faults of coverage stores and findings dumps: (model, features), and a
/// line per input saying what it was.
fn load(inputs: &[String]) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let mut samples: Vec<(String, Vec<String>)> = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    for path in inputs {
        if path.ends_with(".jsonl") {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            for (i, line) in text.lines().enumerate() {
                let v: serde_json::Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1));
                if v["verdict"] != "faulty" {
                    continue;
                }
                let findings: Vec<reports::check::Finding> =
                    serde_json::from_value(v["findings"].clone())
                        .unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1));
                let model = v["model"].as_str().expect("model").to_string();
                samples.push((model, detector::diagnosis_features(&findings)));
            }
            sources.push(format!("findings of {path}"));
            continue;
        }
        let store = injector::CampaignStore::open_read_only(std::path::Path::new(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let c = &store.meta().config;
        let records = store
            .coverage_records()
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        samples.extend(
            records
                .into_iter()
                .filter(|r| r.detected)
                .map(|r| (r.model, r.features)),
        );
        sources.push(format!(
            "{} seed {} ({} faults per model)",
            c.device,
            c.seed,
            c.injections.per_cell()
        ));
    }
    (samples, sources)
}
