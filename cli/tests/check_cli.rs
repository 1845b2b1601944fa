//! `gpufault check` end to end (issue 16): exit codes (a device that cannot be opened, a
//! usage error: 3), every NVML health rule from a node config with its severity, verdict
//! and exit code, the JSON validated against `docs/health-check.schema.json`, the
//! Prometheus file, the reason line. The healthy and faulty must-shows run the
//! signature suite on virtual GPUs, healthy and with one fault per model.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{gpufault, scratch, stderr};

/// The JSON Schema of the check's report.
fn validator() -> jsonschema::Validator {
    let text = include_str!("../../docs/health-check.schema.json");
    let schema: Value = serde_json::from_str(text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// `doc`'s violations of the schema, one line each (empty: valid).
fn violations(doc: &Value) -> Vec<String> {
    validator()
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Stdout as JSON, checked against the schema.
fn report(o: &Output) -> Value {
    let doc: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&o.stdout), stderr(o)));
    let bad = violations(&doc);
    assert!(bad.is_empty(), "schema violations: {bad:#?}\n{doc:#}");
    doc
}

/// A node config file in `dir` with `gpus` (the JSON object of `gpus`).
fn node_config(dir: &Path, gpus: &str) -> PathBuf {
    let path = dir.join("node.json");
    std::fs::write(&path, format!(r#"{{"gpus": {gpus}}}"#)).unwrap();
    path
}

/// `gpufault check DEVICES… --node-config CONFIG ARGS…` in `dir`.
fn check_node(dir: &Path, devices: &str, config: &Path, args: &[&str]) -> Output {
    let mut all = vec!["check", devices, "--node-config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    gpufault(dir, &all)
}

/// The exit code the verdict of a device's check means.
fn code_of(verdict: &str) -> i32 {
    match verdict {
        "healthy" => 0,
        "faulty" => 1,
        "degraded" => 2,
        "unknown" => 3,
        v => panic!("no verdict `{v}`"),
    }
}

/// Whether the signature kernels covered every SM and warp slot of a checked device.
fn covered(device: &Value) -> bool {
    let c = &device["coverage"];
    c["sms"].as_u64().unwrap() > 0
        && c["sms_observed"] == c["sms"]
        && c["slots_observed"].as_u64()
            == Some(c["sms"].as_u64().unwrap() * c["warp_slots"].as_u64().unwrap())
}

#[test]
fn a_device_that_cannot_be_opened_is_unknown_exit_3() {
    let dir = scratch("check-unopenable");
    let mut names = vec!["cuda:99"];
    // cuda:0 itself on a machine without a driver (as here)
    let devices = gpufault(&dir, &["devices", "--json"]);
    let listing: Value = serde_json::from_slice(&devices.stdout).unwrap();
    if !listing["cuda_unavailable"].is_null() {
        names.push("cuda:0");
    }
    for name in names {
        let o = gpufault(&dir, &["check", name, "--json"]);
        assert_eq!(o.status.code(), Some(3), "{name}: {}", stderr(&o));
        let doc = report(&o);
        assert_eq!(doc["verdict"], "unknown");
        let d = &doc["devices"][0];
        assert_eq!(d["device"], name);
        assert_eq!(d["verdict"], "unknown");
        let why = d["reason"].as_str().unwrap();
        assert!(
            why.starts_with(&format!("cannot inspect {name}: ")),
            "{why}"
        );
    }
    // one GPU that cannot be opened does not hide the others' results
    let o = gpufault(&dir, &["check", "cuda:99", "sim", "--json"]);
    let doc = report(&o);
    assert_eq!(doc["devices"][1]["device"], "sim");
    assert!(doc["devices"][1]["uuid"]
        .as_str()
        .unwrap()
        .starts_with("GPU-"));
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn usage_errors_exit_3_naming_what_is_wrong() {
    let dir = scratch("check-usage");
    for (args, needle) in [
        (&["check", "--bogus"][..], "--bogus"),
        (&["check", "sim:nope"], "invalid device name `sim:nope`"),
        (&["check", "--level", "slow"], "slow"),
        (&["check", "--timeout", "0"], "--timeout"),
        (&["check", "--timeout", "soon"], "soon"),
        (&["check", "--json", "--reason"], "--reason"),
        (
            &["check", "--node-config", "missing.json"],
            "--node-config missing.json",
        ),
        (&["check", "sim", "--prometheus", "."], "--prometheus ."),
    ] {
        let o = gpufault(&dir, args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    let bad_config = node_config(
        &dir,
        r#"{"sim#1": {"telemetry": {"pcie": {"width": "x8"}}}}"#,
    );
    let o = check_node(&dir, "sim", &bad_config, &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("invalid node config"), "{}", stderr(&o));
    // help is no error; other commands keep clap's usage code
    assert_eq!(gpufault(&dir, &["check", "--help"]).status.code(), Some(0));
    assert_eq!(
        gpufault(&dir, &["devices", "--bogus"]).status.code(),
        Some(2)
    );
}

/// Each rule, the bad telemetry that fires it, and its severity.
const RULES: &[(&str, &str, &str)] = &[
    (
        "remapped_rows_failure",
        r#"{"remapped_rows": {"failure": true}}"#,
        "faulty",
    ),
    (
        "remapped_rows_pending",
        r#"{"remapped_rows": {"pending": true}}"#,
        "faulty",
    ),
    (
        "retired_pages_pending",
        r#"{"retired_pages": {"pending": true}}"#,
        "faulty",
    ),
    (
        "retired_pages",
        r#"{"retired_pages": {"single_bit_ecc": 50, "double_bit_ecc": 13}}"#,
        "faulty",
    ),
    (
        "retired_pages_dbe",
        r#"{"retired_pages": {"double_bit_ecc": 16}}"#,
        "degraded",
    ),
    (
        "volatile_dbe",
        r#"{"ecc": {"volatile": {"uncorrected": 1}}}"#,
        "faulty",
    ),
    ("xid", r#"{"xid_events": [13, 48]}"#, "faulty"),
    (
        "recovery_action",
        r#"{"recovery_action": "node_reboot"}"#,
        "faulty",
    ),
    ("pcie_link", r#"{"pcie": {"width": 8}}"#, "degraded"),
    (
        "clocks_throttled",
        r#"{"throttle_reasons": ["sw_power_cap", "hw_thermal_slowdown"]}"#,
        "degraded",
    ),
];

#[test]
fn each_health_rule_fires_from_a_node_config_with_its_severity_verdict_and_exit_code() {
    let dir = scratch("check-rules");
    for (rule, telemetry, severity) in RULES {
        let config = node_config(&dir, &format!(r#"{{"sim": {{"telemetry": {telemetry}}}}}"#));
        let o = check_node(&dir, "sim", &config, &["--json"]);
        let doc = report(&o);
        let d = &doc["devices"][0];
        let findings = d["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{rule}: {d:#}");
        assert_eq!(findings[0]["kind"], "rule", "{rule}");
        assert_eq!(findings[0]["rule"], *rule);
        assert_eq!(findings[0]["severity"], *severity, "{rule}");
        // faulty whatever else; degraded only once the suite covered the GPU (until
        // then the check is incomplete: unknown)
        let verdict = match (*severity, covered(d)) {
            ("faulty", _) => "faulty",
            (_, true) => "degraded",
            (_, false) => "unknown",
        };
        assert_eq!(d["verdict"], verdict, "{rule}: {d:#}");
        assert_eq!(doc["verdict"], verdict);
        assert_eq!(
            o.status.code(),
            Some(code_of(verdict)),
            "{rule}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_reading_that_failed_is_not_a_pass_one_the_gpu_lacks_does_not_count() {
    let dir = scratch("check-unevaluated");
    let config = node_config(
        &dir,
        r#"{"sim#0": {"telemetry": {"pcie": null, "unavailable": {"pcie": "Unknown Error"}}},
            "sim#1": {"telemetry": {"retired_pages": null,
                "unavailable": {"retired_pages": "the requested operation is not available on the target device"}}}}"#,
    );
    let o = check_node(&dir, "sim*2", &config, &["--json"]);
    let doc = report(&o);
    let failed = &doc["devices"][0];
    assert_eq!(
        failed["rules_not_evaluated"],
        serde_json::json!([{"rule": "pcie_link", "reason": "pcie: Unknown Error", "not_supported": false}])
    );
    assert_eq!(failed["verdict"], "unknown");
    assert!(failed["reason"]
        .as_str()
        .unwrap()
        .contains("health rule not evaluated (a reading failed): pcie_link"));
    let lacking = &doc["devices"][1];
    let rules: Vec<&str> = lacking["rules_not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["not_supported"], true);
            r["rule"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        rules,
        [
            "retired_pages_pending",
            "retired_pages",
            "retired_pages_dbe"
        ]
    );
    assert!(!lacking["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("health rule"));
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn the_example_faulty_node_flags_every_gpu_it_describes_and_validates() {
    let dir = scratch("check-example-node");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nodes/faulty-node.json");
    let o = check_node(&dir, "sim:h100*12", &example, &["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc = report(&o);
    assert_eq!(doc["verdict"], "faulty");
    let devices = doc["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 12);
    let rules: Vec<String> = devices
        .iter()
        .map(|d| {
            d["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["kind"] == "rule")
                .map(|f| f["rule"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(
        rules,
        [
            "",
            "remapped_rows_failure",
            "remapped_rows_pending",
            "retired_pages_pending",
            "retired_pages",
            "retired_pages_dbe",
            "volatile_dbe",
            "xid",
            "recovery_action",
            "pcie_link",
            "clocks_throttled",
            "" // GPU 11 carries a fault the signature kernels find
        ]
    );
    for d in devices {
        assert_eq!(d["coverage"]["sms"], 132);
        assert_eq!(d["coverage"]["warp_slots"], 64);
    }
}

#[test]
fn json_of_every_kind_of_finding_validates_and_the_schema_rejects_what_is_wrong() {
    use reports::check::{
        CheckReport, Coverage, DeviceCheck, Evidence, Finding, RuleNotEvaluated, Severity, Verdict,
    };
    let finding = |severity, evidence| Finding { severity, evidence };
    let device = DeviceCheck {
        device: "cuda:0".into(),
        uuid: "GPU-0123abcd-4567-89ab-cdef-0123456789ab".into(),
        pci_bus_id: "00000000:17:00.0".into(),
        name: "NVIDIA H200".into(),
        verdict: Verdict::Faulty,
        reason: Some("2 of 132 SMs not observed".into()),
        findings: vec![
            finding(
                Severity::Faulty,
                Evidence::Signature {
                    unit: "warp-scheduler".into(),
                    kernel: "ids".into(),
                    sm: 17,
                    sp: 2,
                    warp_slot: 6,
                    lanes: 0x7,
                    word: "tid.x".into(),
                    expected: 0x11,
                    actual: u64::MAX,
                    words: 3,
                    majority: None,
                    disagreed: vec![reports::check::WordDisagreement {
                        word: "tid.x".into(),
                        lanes: 0x7,
                        expected: 0x11,
                        actual: 0x15,
                    }],
                },
            ),
            finding(
                Severity::Faulty,
                Evidence::KernelError {
                    unit: "control-flow".into(),
                    kernel: "paths".into(),
                    sm: None,
                    error: "hang".into(),
                },
            ),
            finding(
                Severity::Degraded,
                Evidence::Rule {
                    rule: "pcie_link".into(),
                    value: "gen4 x16".into(),
                    limit: "gen5 x16".into(),
                },
            ),
        ],
        coverage: Coverage {
            sms: 132,
            warp_slots: 64,
            sms_observed: 130,
            slots_observed: 130 * 64,
            sms_unobserved: vec![3, 77],
        },
        rules_not_evaluated: vec![RuleNotEvaluated {
            rule: "retired_pages".into(),
            reason: "not supported".into(),
            not_supported: true,
        }],
        instructions: Some(1 << 40),
        duration_ms: 812.5,
    };
    let r = CheckReport::new(
        "0.1.0",
        "node-7",
        "2026-12-05T10:20:30.456Z",
        "full",
        vec![device],
    );
    let doc = serde_json::to_value(&r).unwrap();
    assert!(violations(&doc).is_empty(), "{:#?}", violations(&doc));
    for (path, value, what) in [
        ("/schema_version", serde_json::json!(2), "a newer schema"),
        ("/verdict", serde_json::json!("sick"), "an unknown verdict"),
        (
            "/devices/0/findings/0/sp",
            serde_json::json!(-1),
            "a negative sub-partition",
        ),
        (
            "/devices/0/findings/1/kind",
            serde_json::json!("crash"),
            "an unknown finding kind",
        ),
        (
            "/devices/0/coverage/sms",
            serde_json::json!("132"),
            "a count as a string",
        ),
        (
            "/started",
            serde_json::json!("yesterday"),
            "a time that is not RFC 3339",
        ),
    ] {
        let mut bad = doc.clone();
        *bad.pointer_mut(path).unwrap() = value;
        assert!(!violations(&bad).is_empty(), "{what} must not validate");
    }
    let mut unexplained = doc.clone();
    unexplained["devices"][0]["verdict"] = "unknown".into();
    unexplained["devices"][0]
        .as_object_mut()
        .unwrap()
        .remove("reason");
    assert!(
        !violations(&unexplained).is_empty(),
        "unknown without a reason"
    );
    let mut extra = doc;
    extra["devices"][0]["findings"][2]["sm"] = 3.into();
    assert!(!violations(&extra).is_empty(), "a rule finding has no SM");
}

#[test]
fn the_example_in_docs_health_check_validates() {
    let doc = include_str!("../../docs/health-check.md");
    let start = doc.find("```json\n").expect("a JSON example") + "```json\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let example: Value = serde_json::from_str(&doc[start..end]).expect("the example is JSON");
    assert!(
        violations(&example).is_empty(),
        "{:#?}",
        violations(&example)
    );
    serde_json::from_value::<reports::check::CheckReport>(example).expect("a CheckReport");
}

#[test]
fn the_prometheus_file_is_written_whole_with_one_sample_per_line() {
    let dir = scratch("check-prometheus");
    let config = node_config(&dir, r#"{"sim#1": {"telemetry": {"xid_events": [79]}}}"#);
    let prom = dir.join("gpufault.prom");
    std::fs::write(&prom, "old contents\n").unwrap();
    let o = check_node(
        &dir,
        "sim*2",
        &config,
        &["--prometheus", "gpufault.prom", "--reason"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.starts_with("# HELP gpufault_check_verdict "), "{text}");
    assert!(text.ends_with('\n'));
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    for s in &samples {
        let (series, value) = s.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{s}");
        assert!(series.ends_with('}'), "{s}");
    }
    let verdicts: Vec<&&str> = samples
        .iter()
        .filter(|s| s.starts_with("gpufault_check_verdict{"))
        .collect();
    assert_eq!(verdicts.len(), 2, "{text}");
    assert!(
        verdicts[0].contains("gpu=\"0\",UUID=\"GPU-")
            && verdicts[0].contains("gpufault_device=\"sim#0\"")
    );
    assert!(
        verdicts[1].ends_with(" 1"),
        "the faulty GPU: {}",
        verdicts[1]
    );
    assert!(text.contains(&format!(
        "gpufault_check_node_verdict{{Hostname=\"{}\"}} 1\n",
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into())
    )));
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        assert!(line.ends_with(" gauge"), "{line}");
    }
    // nothing left beside it
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["gpufault.prom", "node.json"]);
    // a directory that does not exist: an error, exit 3, nothing written
    let o = gpufault(
        &dir,
        &["check", "sim", "--prometheus", "no/such/dir/x.prom"],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("--prometheus no/such/dir/x.prom"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_reason_line_is_one_line_within_256_characters_naming_the_faulty_gpu() {
    let dir = scratch("check-reason");
    let config = node_config(
        &dir,
        r#"{"sim#1": {"telemetry": {"xid_events": [79]}},
            "sim#2": {"telemetry": {"pcie": {"width": 1}, "recovery_action": "drain_and_reset"}}}"#,
    );
    let o = check_node(&dir, "sim*3", &config, &["--reason"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "quiet on stderr when not on a terminal");
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.ends_with('\n'));
    let line = text.trim_end();
    assert!(line.len() <= 256, "{} characters: {line}", line.len());
    assert!(line.starts_with("gpufault: faulty: GPU-"), "{line}");
    assert!(line.contains(" xid=79"), "{line}");
    assert!(
        line.contains(" recovery_action=drain_and_reset (+1 more)"),
        "{line}"
    );
}

#[test]
fn the_human_table_has_a_row_per_gpu_and_the_node_verdict() {
    let dir = scratch("check-table");
    let o = gpufault(&dir, &["check", "sim:a100*2", "--level", "full"]);
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("DEVICE "), "{text}");
    assert!(lines[1].starts_with("sim:a100#0  GPU-"), "{text}");
    assert!(lines[2].starts_with("sim:a100#1  GPU-"), "{text}");
    let node = lines.last().unwrap();
    assert!(node.starts_with("node: "), "{text}");
    assert!(
        node.ends_with(&format!("exit {})", o.status.code().unwrap())),
        "{text}"
    );
    assert_eq!(stderr(&o), "", "no progress bar when not on a terminal");
}

/// Must-show 1: a healthy virtual node exits 0,
/// every SM and warp slot of each GPU covered, and validates.
#[test]
fn healthy_virtual_gpus_exit_0_covering_every_sm_and_warp_slot() {
    let dir = scratch("check-healthy");
    let o = gpufault(&dir, &["check", "sim:h100*2", "--json", "--timeout", "600"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = report(&o);
    assert_eq!(doc["verdict"], "healthy");
    for d in doc["devices"].as_array().unwrap() {
        assert_eq!(d["verdict"], "healthy", "{d:#}");
        assert!(d["findings"].as_array().unwrap().is_empty());
        assert_eq!(d["coverage"]["sms"], 132);
        assert_eq!(d["coverage"]["warp_slots"], 64);
        assert_eq!(d["coverage"]["sms_observed"], 132);
        assert_eq!(d["coverage"]["slots_observed"], 132 * 64);
    }
}

/// Must-show 2: a node with one faulty virtual GPU
/// per model (fault sites drawn at random, seeded, over SMs, sub-partitions, warp slots
/// and lanes) and one healthy GPU: each faulty GPU is faulty with its SM named, the
/// healthy one healthy, in the same run.
#[test]
fn one_faulty_gpu_per_model_is_faulty_with_its_sm_named_and_the_healthy_one_passes() {
    use injector::{injection_rng, sample, ExercisedSite, Model, Sampling, SiteProfile};
    let dir = scratch("check-faulty-models");
    let suite = ptx::parse(detector::Suite.ptx()).expect("the suite's PTX parses");
    let mut gpus = Vec::new();
    let mut faults = Vec::new();
    for (i, model) in Model::ALL.into_iter().enumerate() {
        let sites = injector::sites(&suite, model).expect("the suite instruments");
        let profile = SiteProfile {
            model,
            sms: 132,
            warp_slots: 64,
            sites: sites
                .into_iter()
                .map(|site| ExercisedSite {
                    site,
                    slots: Vec::new(),
                    warp_instructions: 0,
                    thread_instructions: 0,
                })
                .collect(),
            launch: Default::default(),
        };
        let spec = sample(
            &profile,
            Sampling::Physical,
            &mut injection_rng(16, "check", model, 0),
        )
        .unwrap_or_else(|| panic!("the suite has no {model} site"));
        gpus.push(format!(r#""sim:h100#{}": {{"fault": "{spec}"}}"#, i + 1));
        faults.push(spec);
    }
    let config = node_config(&dir, &format!("{{{}}}", gpus.join(",")));
    let node = format!("sim:h100*{}", faults.len() + 1);
    let o = check_node(&dir, &node, &config, &["--json", "--timeout", "600"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc = report(&o);
    let devices = doc["devices"].as_array().unwrap();
    assert_eq!(devices[0]["verdict"], "healthy", "{:#}", devices[0]);
    for (d, spec) in devices[1..].iter().zip(&faults) {
        assert_eq!(d["verdict"], "faulty", "{spec}: {d:#}");
        let sms: Vec<u64> = d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["sm"].as_u64())
            .collect();
        assert!(
            sms.contains(&u64::from(spec.sm)),
            "{spec}: SM {} not named ({sms:?})",
            spec.sm
        );
    }
}

#[test]
fn an_injected_fault_is_the_node_config_fault_and_bad_injections_are_clear_errors() {
    let dir = scratch("check-inject");
    let fault = "wv:sm=9,sp=2,warps=0x1,lanes=0xffff,pol=sa1";
    // --inject on a virtual GPU gives what the same fault in a node config gives
    let injected = gpufault(&dir, &["check", "sim:h100#1", "--inject", fault, "--json"]);
    let config = node_config(
        &dir,
        &format!(r#"{{"sim:h100#1": {{"fault": "{fault}"}}}}"#),
    );
    let configured = check_node(&dir, "sim:h100#1", &config, &["--json"]);
    assert_eq!(injected.status.code(), Some(1), "{}", stderr(&injected));
    let (a, b) = (report(&injected), report(&configured));
    let (a, b) = (&a["devices"][0], &b["devices"][0]);
    assert_eq!(a["verdict"], "faulty");
    assert_eq!(a["findings"], b["findings"]);
    assert_eq!(a["findings"][0]["sm"], 9, "{a:#}");
    // a real GPU carries it too; without CUDA here the check is unknown, with the reason
    let cuda = gpufault(&dir, &["check", "cuda:0", "--inject", fault, "--reason"]);
    assert_eq!(cuda.status.code(), Some(3), "{}", stderr(&cuda));
    // what cannot carry a fault, or is not one, is an error naming --inject (exit 3)
    for (args, what) in [
        (
            &["check", "sim:h100*2", "--inject", fault][..],
            "exactly one GPU",
        ),
        (
            &[
                "check",
                "sim:h100#1",
                "--inject",
                "wv:sm=900,sp=0,warps=0x1,lanes=0x1,pol=sa1",
            ][..],
            "sm=900",
        ),
        (&["check", "sim", "--inject", "nope"][..], "--inject nope"),
    ] {
        let o = gpufault(&dir, args);
        assert_eq!(o.status.code(), Some(3), "{args:?}");
        assert!(stderr(&o).contains(what), "{args:?}: {}", stderr(&o));
    }
}
