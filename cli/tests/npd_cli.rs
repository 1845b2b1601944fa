//! `gpufault npd` end to end (issue 19): the node-problem-detector custom plugin —
//! exit 0 OK, 1 problem, 2 unknown (NPD reads anything but 0 and 1 as Unknown), one line
//! of at most 256 printable ASCII characters on stdout, whatever the ledger holds — and
//! the NPD configuration shipped in docs/kubernetes/npd-gpufault.json, read the way NPD
//! reads it. No NPD runs here: the configuration is checked against NPD's own config
//! types (`pkg/custompluginmonitor/types`), mirrored below field for field.

mod support;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{command, scratch, stderr, stdout};

/// `gpufault npd ARGS` in `dir`, with none of the variables that would change it.
fn npd(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["npd"];
    all.extend_from_slice(args);
    let mut c = command(dir, &all);
    for v in [
        "GPUFAULT_NODE_CONFIG",
        "GPUFAULT_LEDGER",
        "GPUFAULT_VISIBLE_DEVICES",
    ] {
        c.env_remove(v);
    }
    c.output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

/// Stdout as NPD reads it: exactly one line, at most 256 printable ASCII characters,
/// starting `gpufault:`; returned without its line feed.
fn the_line(o: &Output) -> String {
    let out = stdout(o);
    let line = out
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no final line feed: {out:?}"));
    assert!(!line.contains('\n'), "more than one line: {out:?}");
    assert!(line.len() <= 256, "{} characters: {line}", line.len());
    assert!(
        line.chars().all(|c| c.is_ascii() && !c.is_ascii_control()),
        "{line:?}"
    );
    assert!(line.starts_with("gpufault: "), "{line}");
    line.to_string()
}

/// `gpufault quarantine add DEVICE --reason REASON` on the ledger in `dir`.
fn quarantine(dir: &Path, device: &str, reason: &str) -> String {
    let o = command(
        dir,
        &[
            "quarantine",
            "add",
            device,
            "--reason",
            reason,
            "--ledger",
            "ledger.json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    out.split_whitespace()
        .find(|w| w.starts_with("GPU-"))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
}

#[test]
fn a_healthy_node_is_ok_and_a_quarantined_gpu_a_problem_that_names_it() {
    let dir = scratch("npd-basic");
    let o = npd(
        &dir,
        &["--devices", "sim:h100*2", "--ledger", "ledger.json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        the_line(&o),
        "gpufault: ok: 2 GPUs inspected, none quarantined or faulty"
    );

    let uuid = quarantine(&dir, "sim:h100#1", "XID 79 while training");
    let o = npd(
        &dir,
        &["--devices", "sim:h100*2", "--ledger", "ledger.json"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        the_line(&o),
        format!("gpufault: quarantined: {uuid} manual: XID 79 while training")
    );
    // a GPU of another node in a shared ledger is not this node's problem
    let o = npd(
        &dir,
        &["--devices", "sim:h100#0", "--ledger", "ledger.json"],
    );
    assert_eq!(code(&o), 0, "{}", the_line(&o));
}

#[test]
fn bad_telemetry_is_a_problem_and_a_degraded_gpu_passes() {
    let dir = scratch("npd-telemetry");
    std::fs::write(
        dir.join("node.json"),
        r#"{"gpus": {"sim:h100#0": {"telemetry": {"pcie": {"generation": 3, "width": 8}}},
                     "sim:h100#2": {"telemetry": {"ecc": {"volatile": {"uncorrected": 2}}}}}}"#,
    )
    .unwrap();
    let args = [
        "--devices",
        "sim:h100*3",
        "--node-config",
        "node.json",
        "--ledger",
        "ledger.json",
    ];
    let o = npd(&dir, &args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let line = the_line(&o);
    assert!(line.starts_with("gpufault: faulty: GPU-"), "{line}");
    assert!(line.contains("volatile_dbe"), "{line}");

    let o = npd(
        &dir,
        &[
            "--devices",
            "sim:h100#0,sim:h100#1",
            "--node-config",
            "node.json",
            "--ledger",
            "ledger.json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let line = the_line(&o);
    assert!(line.contains("degraded: GPU-"), "{line}");
}

#[test]
fn what_cannot_be_told_is_unknown_never_ok() {
    let dir = scratch("npd-unknown");
    // a damaged ledger
    std::fs::write(
        dir.join("ledger.json"),
        "{\"schema_version\": 1, \"gpus\": [",
    )
    .unwrap();
    let o = npd(
        &dir,
        &["--devices", "sim:h100*2", "--ledger", "ledger.json"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let line = the_line(&o);
    assert!(
        line.starts_with("gpufault: unknown: ledger ") && line.contains("ledger.json"),
        "{line}"
    );
    // a ledger that is a directory
    std::fs::create_dir(dir.join("dir.json")).unwrap();
    let o = npd(&dir, &["--devices", "sim:h100*2", "--ledger", "dir.json"]);
    assert_eq!(code(&o), 2, "{}", the_line(&o));
    // a GPU no device of this host has
    let o = npd(
        &dir,
        &[
            "--devices",
            "sim:h100#0,cuda:GPU-00000000-0000-0000-0000-000000000000",
            "--ledger",
            "fresh.json",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        the_line(&o).starts_with("gpufault: unknown: cuda:GPU-0000"),
        "{}",
        stdout(&o)
    );
    // an unreadable node config, a bad device name, a bad flag
    for args in [
        &["--node-config", "missing.json"][..],
        &["--devices", "sim:nope*2"][..],
    ] {
        let o = npd(&dir, args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(the_line(&o).starts_with("gpufault: unknown: "));
    }
    let o = npd(&dir, &["--bogus"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn many_quarantined_gpus_with_long_hostile_evidence_still_make_one_short_line() {
    let dir = scratch("npd-long");
    let note = format!(
        "line one\nline two \"quoted\" \u{e9}t\u{e9} $(touch pwned) `x` {}",
        "y".repeat(900)
    );
    let first = quarantine(&dir, "sim:h100#0", &note);
    for i in 1..12 {
        quarantine(&dir, &format!("sim:h100#{i}"), &note);
    }
    let o = npd(
        &dir,
        &["--devices", "sim:h100*12", "--ledger", "ledger.json"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let line = the_line(&o);
    assert_eq!(line.len(), 256, "{line}");
    assert!(
        line.starts_with(&format!(
            "gpufault: quarantined: {first} manual: line one line two 'quoted' ?t? $(touch pwned)"
        )),
        "{line}"
    );
    assert!(line.ends_with("..."), "{line}");
    assert!(!dir.join("pwned").exists());
}

// --- the shipped NPD configuration -------------------------------------------------

/// NPD's `CustomPluginConfig` (node-problem-detector `pkg/custompluginmonitor/types/
/// config.go`), with the fields of every release since v0.8 that has them; unknown
/// fields are refused here (Go's decoder would ignore a misspelt one silently).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomPluginConfig {
    plugin: String,
    #[serde(rename = "pluginConfig")]
    plugin_config: PluginGlobalConfig,
    source: String,
    conditions: Vec<Condition>,
    rules: Vec<CustomRule>,
    #[serde(rename = "metricsReporting")]
    metrics_reporting: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginGlobalConfig {
    invoke_interval: Option<String>,
    timeout: Option<String>,
    max_output_length: Option<usize>,
    concurrency: Option<usize>,
    enable_message_change_based_condition_update: Option<bool>,
    #[allow(dead_code)]
    skip_initial_status: Option<bool>,
}

/// `pkg/types` `Condition` (the fields a default condition sets).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    reason: String,
    message: String,
}

/// `CustomRule` (`types.go`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomRule {
    #[serde(rename = "type")]
    kind: String,
    condition: Option<String>,
    reason: String,
    path: PathBuf,
    args: Vec<String>,
    timeout: Option<String>,
}

/// Go's `time.ParseDuration` for what a config writes: `30s`, `1m30s`, `500ms`.
fn go_duration(s: &str) -> f64 {
    let mut total = 0.0;
    let mut rest = s;
    assert!(!s.is_empty(), "an empty duration");
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or_else(|| panic!("`{s}`: a number without a unit"));
        let value: f64 = rest[..n].parse().unwrap_or_else(|_| panic!("`{s}`"));
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            unit => panic!("`{s}`: unit `{unit}` is not Go's"),
        };
        total += value * scale;
        rest = &rest[u..];
    }
    total
}

#[test]
fn the_shipped_npd_config_is_one_npd_accepts_and_its_command_runs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/kubernetes/npd-gpufault.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let c: CustomPluginConfig =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // NPD's ApplyConfiguration and Validate
    assert_eq!(c.plugin, "custom");
    assert!(!c.source.is_empty());
    let g = &c.plugin_config;
    let global_timeout = go_duration(g.timeout.as_deref().unwrap_or("5s"));
    let interval = go_duration(g.invoke_interval.as_deref().unwrap_or("30s"));
    assert!(
        interval >= global_timeout,
        "a check may not outlast its interval"
    );
    assert!(
        g.max_output_length.unwrap_or(80) >= 256,
        "NPD would cut gpufault's line (default 80)"
    );
    assert!(g.concurrency.unwrap_or(3) >= 1);
    assert_eq!(g.enable_message_change_based_condition_update, Some(true));
    assert_ne!(c.metrics_reporting, Some(false));
    let kinds: Vec<&str> = c.rules.iter().map(|r| r.kind.as_str()).collect();
    assert!(
        kinds.contains(&"permanent") && kinds.contains(&"temporary"),
        "{kinds:?}"
    );
    for r in &c.rules {
        assert!(
            matches!(r.kind.as_str(), "permanent" | "temporary"),
            "{}",
            r.kind
        );
        assert!(!r.reason.is_empty());
        if let Some(t) = &r.timeout {
            assert!(
                go_duration(t) <= global_timeout,
                "rule timeout {t} above the global one"
            );
        }
        if r.kind == "permanent" {
            let cond = r
                .condition
                .as_deref()
                .expect("a permanent rule names its condition");
            assert!(
                c.conditions.iter().any(|d| d.kind == cond),
                "permanent problem {cond} has no default condition"
            );
        }
        assert!(r.path.is_absolute(), "{}", r.path.display());
        assert_eq!(r.args.first().map(String::as_str), Some("npd"));
    }
    for d in &c.conditions {
        assert!(!d.reason.is_empty() && !d.message.is_empty() && !d.kind.is_empty());
    }

    // The rule's command line, with this build in place of `path` and the ledger in a
    // scratch directory: the flags are gpufault's, the line fits max_output_length.
    let dir = scratch("npd-config");
    let rule = &c.rules[0];
    let args: Vec<String> = rule
        .args
        .iter()
        .map(|a| {
            if a.ends_with("quarantine.json") {
                "ledger.json".into()
            } else {
                a.clone()
            }
        })
        .collect();
    assert!(
        args.iter().any(|a| a == "ledger.json"),
        "the config names the ledger: {args:?}"
    );
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(["--devices", "sim:h100*2"]);
    let o = command(&dir, &all)
        .env_remove("GPUFAULT_LEDGER")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(the_line(&o).len() <= g.max_output_length.unwrap());
}
