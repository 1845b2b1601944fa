//! What `gpufault k8s taint-advice` prints: the Kubernetes node taint and the DRA
//! `DeviceTaintRule` objects that keep a node's quarantined GPUs out of new pods, as one
//! typed model ([`TaintAdvice`]) rendered as JSON ([`render_taint_advice_json`]) or as a
//! YAML stream of the rules that `kubectl apply -f -` takes
//! ([`render_taint_advice_yaml`]). Also the Kubernetes name rules the advice obeys
//! ([`is_dns1123_subdomain`], [`is_label_name`], [`is_label_value`]).
//!
//! ```text
//! TaintAdvice { schema_version, node, kubernetes, quarantined: [AdvisedGpu …],
//!               node_taint: Taint?, kubectl, device_taint_rules: [DeviceTaintRule …],
//!               unresolved: [uuid …] }
//! DeviceTaintRule { apiVersion: resource.k8s.io/…, kind, metadata { name, labels,
//!                   annotations }, spec { deviceSelector { driver, pool, device |
//!                   selectors: [{ cel: { expression } }] }, taint { key, value, effect } } }
//! ```
//!
//! The field names of [`DeviceTaintRule`] and [`Taint`] are Kubernetes' own (camelCase);
//! `docs/kubernetes.md` says which Kubernetes release serves which form, and the tests
//! validate the output against the published schemas of those releases.
//!
//! ```
//! use reports::k8s::{is_dns1123_subdomain, is_label_name, is_label_value};
//! assert!(is_dns1123_subdomain("gpufault-gpu-48793a87-8bc2-2290-87c2-1ad1800320a7"));
//! assert!(!is_dns1123_subdomain("GPU-48793A87"));
//! assert!(is_label_name("gpufault.io/gpu-faulty"));
//! assert!(is_label_value("quarantined") && !is_label_value("-x"));
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the `taint-advice --format json` document.
pub const TAINT_ADVICE_SCHEMA_VERSION: u32 = 1;

/// The advice for one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaintAdvice {
    /// [`TAINT_ADVICE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The Kubernetes node (also the DRA pool of the node's GPUs).
    pub node: String,
    /// The Kubernetes release the rules are written for (`1.37`).
    pub kubernetes: String,
    /// The node's quarantined GPUs.
    pub quarantined: Vec<AdvisedGpu>,
    /// The taint for the whole node; `None` when no GPU is quarantined.
    pub node_taint: Option<Taint>,
    /// The `kubectl taint nodes …` command that applies the node taint, or, when no GPU
    /// is quarantined and every GPU was inspected, the one that removes it; `None` when
    /// nothing is quarantined among the GPUs that could be inspected but some could not
    /// (no taint may be lifted on such advice).
    pub kubectl: Option<String>,
    /// One rule per quarantined GPU whose DRA device could be named.
    pub device_taint_rules: Vec<DeviceTaintRule>,
    /// UUIDs of quarantined GPUs left without a rule (their DRA device name is unknown).
    pub unresolved: Vec<String>,
    /// GPUs of the node that could not be inspected (`cuda:0: …`): the advice does not
    /// cover them.
    pub uninspected: Vec<String>,
}

/// A quarantined GPU of the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisedGpu {
    /// Its UUID.
    pub uuid: String,
    /// Its device name here (`cuda:0`, `sim:h100#2`).
    pub device: String,
    /// The DRA device name its driver publishes (`gpu-0`), when known.
    pub dra_device: Option<String>,
    /// The ledger's reason line.
    pub reason: String,
}

/// A node taint (`core/v1` `Taint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taint {
    /// A label name (`gpufault.io/gpu-faulty`).
    pub key: String,
    /// A label value.
    pub value: String,
    /// `NoSchedule` (pods running on the node stay).
    pub effect: String,
}

/// A DRA `DeviceTaintRule` (`resource.k8s.io`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceTaintRule {
    /// `resource.k8s.io/v1alpha3`, `…/v1beta2` or `…/v1`.
    pub api_version: String,
    /// `DeviceTaintRule`.
    pub kind: String,
    /// Its name, labels and annotations.
    pub metadata: ObjectMeta,
    /// The devices and the taint.
    pub spec: DeviceTaintRuleSpec,
}

/// The part of an object's metadata gpufault writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMeta {
    /// A DNS-1123 subdomain.
    pub name: String,
    /// Labels (valid label names and values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `spec` of a [`DeviceTaintRule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceTaintRuleSpec {
    /// Which devices.
    pub device_selector: DeviceTaintSelector,
    /// The taint they get.
    pub taint: DeviceTaint,
}

/// Which devices a rule taints; every field set must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceTaintSelector {
    /// The DRA driver (`gpu.nvidia.com`).
    pub driver: String,
    /// The pool (the node's name, for node-local devices).
    pub pool: String,
    /// The device's name in its ResourceSlice (`gpu-0`); Kubernetes ≥ 1.35.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// CEL selectors; Kubernetes 1.33 and 1.34 only (removed in 1.35).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<DeviceSelector>,
}

/// One selector of a [`DeviceTaintSelector`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSelector {
    /// A CEL expression over the device.
    pub cel: CelDeviceSelector,
}

/// A CEL expression selecting devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CelDeviceSelector {
    /// `device.attributes["gpu.nvidia.com"].uuid == "GPU-…"`.
    pub expression: String,
}

/// The taint of a [`DeviceTaintRule`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceTaint {
    /// A label name.
    pub key: String,
    /// A label value.
    pub value: String,
    /// `NoSchedule` or `NoExecute`.
    pub effect: String,
}

/// The advice as pretty JSON with a final newline.
pub fn render_taint_advice_json(advice: &TaintAdvice) -> String {
    let mut s = serde_json::to_string_pretty(advice).unwrap_or_default();
    s.push('\n');
    s
}

/// The advice as YAML: comment lines (the node, its quarantined GPUs, the `kubectl
/// taint` command, the GPUs left without a rule), then each [`DeviceTaintRule`] as one
/// document after `---`. Strings are written double-quoted (JSON's escapes, which YAML
/// reads the same), so no value can change meaning.
pub fn render_taint_advice_yaml(advice: &TaintAdvice) -> String {
    let mut out = String::new();
    let n = advice.quarantined.len();
    out.push_str(&comment(&format!(
        "gpufault k8s taint-advice: node {}, Kubernetes {}: {}",
        advice.node,
        advice.kubernetes,
        match n {
            0 => "no quarantined GPUs".to_string(),
            1 => "1 quarantined GPU".to_string(),
            n => format!("{n} quarantined GPUs"),
        }
    )));
    for g in &advice.quarantined {
        out.push_str(&comment(&format!(
            "  {} ({}): {}",
            g.uuid, g.device, g.reason
        )));
    }
    for u in &advice.uninspected {
        out.push_str(&comment(&format!(
            "not inspected, not covered by this advice: {u}"
        )));
    }
    match (&advice.kubectl, advice.node_taint.is_some()) {
        (Some(k), true) => {
            out.push_str(&comment("whole node (GPUs as a device-plugin resource):"));
            out.push_str(&comment(&format!("  {k}")));
        }
        (Some(k), false) => {
            out.push_str(&comment("nothing to taint; remove an earlier node taint with:"));
            out.push_str(&comment(&format!("  {k}")));
        }
        (None, _) => out.push_str(&comment(
            "nothing to taint among the GPUs inspected; keep any earlier taint: not every GPU could be inspected",
        )),
    }
    for u in &advice.unresolved {
        out.push_str(&comment(&format!(
            "no DeviceTaintRule for {u}: its DRA device name is unknown"
        )));
    }
    for rule in &advice.device_taint_rules {
        out.push_str("---\n");
        let value = serde_json::to_value(rule).unwrap_or_default();
        yaml_block(&value, 0, &mut out);
    }
    out
}

/// `# text` on one line (line breaks become spaces).
fn comment(text: &str) -> String {
    let one: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("# {}\n", one.trim_end())
}

/// Writes `value` (an object) as a YAML block mapping at `indent` spaces.
fn yaml_block(value: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value;
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push_str(&format!("{pad}{}:", yaml_key(k)));
                yaml_value(v, indent, out);
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(other));
            out.push('\n');
        }
    }
}

/// Writes the value of a mapping entry (after `key:`) or of a sequence item (after
/// `-`).
fn yaml_value(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            yaml_block(v, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            let pad = " ".repeat(indent + 2);
            for item in items {
                out.push_str(&format!("{pad}-"));
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        // the first entry on the dash's line, the rest under it
                        let mut inner = String::new();
                        yaml_block(item, indent + 4, &mut inner);
                        out.push(' ');
                        out.push_str(inner.trim_start());
                    }
                    _ => yaml_value(item, indent + 2, out),
                }
            }
        }
        Value::Object(_) => out.push_str(" {}\n"),
        Value::Array(_) => out.push_str(" []\n"),
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn yaml_scalar(v: &serde_json::Value) -> String {
    // JSON's scalars are YAML's (strings double-quoted with JSON's escapes).
    v.to_string()
}

/// A mapping key: plain when it is letters, digits and `.-_/` starting with a letter,
/// else double-quoted.
fn yaml_key(k: &str) -> String {
    let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
    if plain {
        k.to_string()
    } else {
        serde_json::Value::String(k.to_string()).to_string()
    }
}

/// A DNS-1123 subdomain (the names of most Kubernetes objects, nodes included): at most
/// 253 characters, dot-separated labels of lower-case letters, digits and `-`, each
/// starting and ending with a letter or digit.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A label (or taint) key: an optional DNS-1123 subdomain prefix and `/`, then a name
/// of at most 63 letters, digits, `-`, `_`, `.`, starting and ending with a letter or
/// digit.
pub fn is_label_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns1123_subdomain) && !name.is_empty() && is_label_value(name)
}

/// A label (or taint) value: at most 63 letters, digits, `-`, `_`, `.`, starting and
/// ending with a letter or digit (or empty).
pub fn is_label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advice(rules: usize) -> TaintAdvice {
        let rule = |i: usize| DeviceTaintRule {
            api_version: "resource.k8s.io/v1alpha3".into(),
            kind: "DeviceTaintRule".into(),
            metadata: ObjectMeta {
                name: format!("gpufault-gpu-{i}"),
                labels: [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "gpufault".to_string(),
                )]
                .into(),
                annotations: [(
                    "gpufault.io/reason".to_string(),
                    "a: \"b\" #c\n'd'".to_string(),
                )]
                .into(),
            },
            spec: DeviceTaintRuleSpec {
                device_selector: DeviceTaintSelector {
                    driver: "gpu.nvidia.com".into(),
                    pool: "n1".into(),
                    device: None,
                    selectors: vec![DeviceSelector {
                        cel: CelDeviceSelector {
                            expression: format!(
                                "device.attributes[\"gpu.nvidia.com\"].uuid == \"GPU-{i}\""
                            ),
                        },
                    }],
                },
                taint: DeviceTaint {
                    key: "gpufault.io/gpu-faulty".into(),
                    value: "quarantined".into(),
                    effect: "NoSchedule".into(),
                },
            },
        };
        TaintAdvice {
            schema_version: TAINT_ADVICE_SCHEMA_VERSION,
            node: "n1".into(),
            kubernetes: "1.34".into(),
            quarantined: vec![],
            node_taint: None,
            kubectl: Some("kubectl taint nodes n1 gpufault.io/gpu-faulty:NoSchedule-".into()),
            device_taint_rules: (0..rules).map(rule).collect(),
            unresolved: vec![],
            uninspected: vec![],
        }
    }

    #[test]
    fn the_yaml_is_block_style_with_quoted_strings() {
        let y = render_taint_advice_yaml(&advice(2));
        assert!(
            y.starts_with(
                "# gpufault k8s taint-advice: node n1, Kubernetes 1.34: no quarantined GPUs\n"
            ),
            "{y}"
        );
        assert_eq!(y.matches("\n---\n").count(), 2, "{y}");
        assert!(y.contains("\napiVersion: \"resource.k8s.io/v1alpha3\"\nkind: \"DeviceTaintRule\"\nmetadata:\n  annotations:\n    gpufault.io/reason: \"a: \\\"b\\\" #c\\n'd'\"\n"), "{y}");
        assert!(y.contains("    selectors:\n      - cel:\n          expression: \"device.attributes[\\\"gpu.nvidia.com\\\"].uuid == \\\"GPU-0\\\"\"\n"), "{y}");
        assert!(
            y.contains("\n  taint:\n    effect: \"NoSchedule\"\n"),
            "{y}"
        );
        let none = render_taint_advice_yaml(&advice(0));
        assert!(
            !none.contains("---") && none.lines().all(|l| l.starts_with('#')),
            "{none}"
        );
    }

    #[test]
    fn the_json_reads_back_and_refuses_unknown_fields() {
        let a = advice(1);
        let back: TaintAdvice = serde_json::from_str(&render_taint_advice_json(&a)).unwrap();
        assert_eq!(back, a);
        let j = render_taint_advice_json(&a).replace("\"pool\"", "\"pool\": \"x\", \"pol\"");
        assert!(serde_json::from_str::<TaintAdvice>(&j).is_err());
    }

    #[test]
    fn kubernetes_names_follow_its_rules() {
        for ok in ["n1", "gpu-node-7.example.org", "a", &"a".repeat(63)] {
            assert!(is_dns1123_subdomain(ok), "{ok}");
        }
        for bad in ["", "N1", "-a", "a-", "a..b", "a_b", &"a".repeat(64), "a b"] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
        assert!(is_dns1123_subdomain(
            &[
                "a".repeat(63),
                "b".repeat(63),
                "c".repeat(63),
                "d".repeat(61)
            ]
            .join(".")
        ));
        assert!(!is_dns1123_subdomain(
            &[
                "a".repeat(63),
                "b".repeat(63),
                "c".repeat(63),
                "d".repeat(62)
            ]
            .join(".")
        ));
        for ok in [
            "gpufault.io/gpu-faulty",
            "key",
            "example.com/A_b.c",
            "nvidia.com/gpu",
        ] {
            assert!(is_label_name(ok), "{ok}");
        }
        for bad in [
            "",
            "/x",
            "Example.com/x",
            "a/b/c",
            "x/",
            "-x",
            &"k".repeat(64),
        ] {
            assert!(!is_label_name(bad), "{bad}");
        }
        assert!(is_label_value("") && is_label_value("quarantined") && is_label_value("A.b_c-9"));
        assert!(
            !is_label_value("a b") && !is_label_value("x-") && !is_label_value(&"v".repeat(64))
        );
    }
}
