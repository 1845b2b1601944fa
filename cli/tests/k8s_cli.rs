//! `gpufault k8s taint-advice` end to end (issue 19): the node taint and the DRA
//! `DeviceTaintRule`s for a node's quarantined GPUs, as YAML read back by a real YAML
//! parser and as JSON, each rule validated against the published schema of the
//! Kubernetes release it is written for (docs/kubernetes/schemas/, extracted from the
//! PyPI package kubernetes-validate 1.37.0 by scripts/k8s-schemas.py; the `strict`
//! schemas refuse any field Kubernetes does not define). No cluster runs here.

mod support;

use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use support::{command, json, scratch, stderr, stdout};

const RELEASES: [&str; 5] = ["1.33", "1.34", "1.35", "1.36", "1.37"];

fn advice(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["k8s", "taint-advice", "--ledger", "ledger.json"];
    all.extend_from_slice(args);
    let mut c = command(dir, &all);
    for v in ["GPUFAULT_NODE_CONFIG", "GPUFAULT_LEDGER", "NODE_NAME"] {
        c.env_remove(v);
    }
    c.output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

/// The schema of `file` in docs/kubernetes/schemas/.
fn schema(file: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/kubernetes/schemas")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{}: not a JSON Schema: {e}", path.display()))
}

fn violations(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The documents of a YAML stream, as JSON values.
fn yaml_documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}")))
        .collect()
}

/// A ledger in `dir` quarantining GPUs 1 and 3 of a virtual node of four; their UUIDs.
fn two_quarantined(dir: &Path) -> Vec<String> {
    ["sim:h100#1", "sim:h100#3"]
        .iter()
        .map(|d| {
            let o = command(
                dir,
                &[
                    "quarantine",
                    "add",
                    d,
                    "--reason",
                    "gpufault: faulty: SM5 \"x\"\n#y",
                    "--ledger",
                    "ledger.json",
                ],
            )
            .output()
            .unwrap();
            assert_eq!(code(&o), 0, "{}", stderr(&o));
            stdout(&o)
                .split_whitespace()
                .find(|w| w.starts_with("GPU-"))
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn rules_for_every_release_parse_back_and_match_its_published_schema() {
    let dir = scratch("k8s-advice");
    let uuids = two_quarantined(&dir);
    let taint = schema("taint-v1.json");
    for release in RELEASES {
        let args = [
            "--devices",
            "sim:h100*4",
            "--node",
            "gpu-node-7.example.org",
            "--kubernetes",
            release,
        ];
        let y = advice(&dir, &args);
        assert_eq!(code(&y), 0, "{release}: {}", stderr(&y));
        let text = stdout(&y);
        assert!(
            text.starts_with(
                "# gpufault k8s taint-advice: node gpu-node-7.example.org, Kubernetes "
            ),
            "{text}"
        );
        assert!(text.contains("#   kubectl taint nodes gpu-node-7.example.org gpufault.io/gpu-faulty=quarantined:NoSchedule --overwrite\n"), "{text}");
        let docs = yaml_documents(&text);
        assert_eq!(docs.len(), 2, "{release}: {text}");

        let j = advice(&dir, &[&args[..], &["--format", "json"]].concat());
        assert_eq!(code(&j), 0, "{}", stderr(&j));
        let j = json(&j);
        // one model: the YAML documents are the JSON's rules
        assert_eq!(
            Value::Array(docs.clone()),
            j["device_taint_rules"],
            "{release}"
        );
        assert_eq!(violations(&taint, &j["node_taint"]), Vec::<String>::new());

        let rule_schema = schema(&format!("devicetaintrule-{release}.json"));
        for (doc, uuid) in docs.iter().zip(&uuids) {
            assert_eq!(
                violations(&rule_schema, doc),
                Vec::<String>::new(),
                "{release}: {doc}"
            );
            let name = doc["metadata"]["name"].as_str().unwrap();
            assert!(reports::k8s::is_dns1123_subdomain(name), "{name}");
            assert_eq!(name, format!("gpufault-{}", uuid.to_lowercase()));
            for (k, v) in doc["metadata"]["labels"].as_object().unwrap() {
                assert!(
                    reports::k8s::is_label_name(k)
                        && reports::k8s::is_label_value(v.as_str().unwrap()),
                    "{k}={v}"
                );
            }
            assert_eq!(
                doc["metadata"]["annotations"]["gpufault.io/uuid"],
                uuid.as_str()
            );
            let sel = &doc["spec"]["deviceSelector"];
            assert_eq!(sel["driver"], "gpu.nvidia.com");
            assert_eq!(sel["pool"], "gpu-node-7.example.org");
            if release <= "1.34" {
                assert_eq!(doc["apiVersion"], "resource.k8s.io/v1alpha3");
                assert_eq!(
                    sel["selectors"][0]["cel"]["expression"],
                    format!("device.attributes[\"gpu.nvidia.com\"].uuid == \"{uuid}\"")
                );
                assert!(sel.get("device").is_none());
            } else {
                assert!(sel.get("selectors").is_none(), "removed in 1.35: {sel}");
                assert!(
                    sel["device"] == "gpu-1" || sel["device"] == "gpu-3",
                    "{sel}"
                );
            }
            assert_eq!(doc["spec"]["taint"]["effect"], "NoSchedule");
        }
        // the schemas tell the forms apart: CEL selectors are gone in 1.35, and each
        // release from 1.35 serves its own API version
        let other = match release {
            "1.33" | "1.34" => "1.35",
            "1.35" => "1.36",
            "1.36" => "1.37",
            _ => "1.36",
        };
        assert!(
            !violations(&schema(&format!("devicetaintrule-{other}.json")), &docs[0]).is_empty(),
            "{release}'s rule also passes {other}'s schema"
        );
    }
}

#[test]
fn no_quarantined_gpu_says_so_and_gives_the_removal_line() {
    let dir = scratch("k8s-none");
    let o = advice(&dir, &["--devices", "sim:h100*2", "--node", "n1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with(
            "# gpufault k8s taint-advice: node n1, Kubernetes 1.37: no quarantined GPUs\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("kubectl taint nodes n1 gpufault.io/gpu-faulty:NoSchedule-"),
        "{text}"
    );
    assert!(yaml_documents(&text).iter().all(Value::is_null), "{text}");
    let o = advice(
        &dir,
        &[
            "--devices",
            "sim:h100*2",
            "--node",
            "n1",
            "--format",
            "json",
        ],
    );
    let j = json(&o);
    assert_eq!(j["quarantined"], serde_json::json!([]));
    assert_eq!(j["node_taint"], Value::Null);
    assert_eq!(j["device_taint_rules"], serde_json::json!([]));
    assert_eq!(
        j["kubectl"],
        "kubectl taint nodes n1 gpufault.io/gpu-faulty:NoSchedule-"
    );
}

#[test]
fn a_gpu_that_cannot_be_inspected_makes_the_advice_incomplete_and_lifts_nothing() {
    let dir = scratch("k8s-blind");
    let args = [
        "--devices",
        "sim:h100#0,cuda:GPU-00000000-0000-0000-0000-000000000000",
        "--node",
        "n1",
    ];
    let o = advice(&dir, &args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.contains("kubectl taint"), "{text}");
    assert!(
        text.contains("# not inspected, not covered by this advice: cuda:GPU-00000000"),
        "{text}"
    );
    assert!(
        stderr(&o).contains("not covered by the advice"),
        "{}",
        stderr(&o)
    );
    let j = json(&advice(&dir, &[&args[..], &["--format", "json"]].concat()));
    assert_eq!(j["kubectl"], Value::Null);
    assert_eq!(j["uninspected"].as_array().unwrap().len(), 1);
}

#[test]
fn options_kubernetes_refuses_and_a_damaged_ledger_are_errors() {
    let dir = scratch("k8s-bad");
    for (args, says) in [
        (&["--node", "Node_1"][..], "--node `Node_1`"),
        (
            &["--node", "n1", "--taint-key", "a b"][..],
            "--taint-key `a b`",
        ),
        (
            &["--node", "n1", "--effect", "PreferNoSchedule"][..],
            "--effect `PreferNoSchedule`",
        ),
        (&["--node", "n1", "--kubernetes", "1.32"][..], "1.33"),
        (&["--node", "n1", "--format", "xml"][..], "xml"),
    ] {
        let o = advice(&dir, args);
        assert_eq!(code(&o), 2, "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
    }
    std::fs::write(dir.join("ledger.json"), "not json").unwrap();
    let o = advice(&dir, &["--devices", "sim:h100*2", "--node", "n1"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("ledger.json"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}
