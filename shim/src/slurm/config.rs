//! The Slurm hooks' configuration file (TOML): which GPUs a node has in GRES index
//! order, the virtual node config of virtual GPUs, the ledger, `scontrol`, the check's
//! timeout and the log of hook runs; per-node tables override the node's GPUs and node
//! config. Documented in `docs/slurm.md`:
//!
//! ```toml
//! ledger = "/var/lib/gpufault/quarantine.json"
//! log = "/var/log/gpufault/slurm.jsonl"
//! timeout = 60
//!
//! [nodes.n1]
//! gpus = ["sim:h100#0", "sim:h100#1"]
//!
//! [nodes.n2]
//! gpus = ["sim:h100#2", "sim:h100#3"]
//! node_config = "n2-faulty.json"      # relative to this file
//! ```

use super::SlurmError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The configuration file read when neither `--config` nor [`CONFIG_ENV`] names one (a
/// missing file here is no configuration: every setting at its default).
pub const SYSTEM_CONFIG: &str = "/etc/gpufault/slurm.toml";

/// The environment variable that names the configuration file (when `--config` does
/// not).
pub const CONFIG_ENV: &str = "GPUFAULT_SLURM_CONFIG";

/// The check's timeout when the configuration sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    gpus: Option<Vec<String>>,
    node_config: Option<PathBuf>,
    ledger: Option<PathBuf>,
    scontrol: Option<PathBuf>,
    timeout: Option<f64>,
    log: Option<PathBuf>,
    #[serde(default)]
    nodes: BTreeMap<String, RawNode>,
}

/// A `[nodes.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    gpus: Option<Vec<String>>,
    node_config: Option<PathBuf>,
}

/// The hooks' settings for one node, every path absolute or as given.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSettings {
    /// The node's GPUs by GRES index (device names or UUIDs); `None`: its CUDA GPUs.
    pub gpus: Option<Vec<String>>,
    /// The virtual node config of its virtual GPUs.
    pub node_config: Option<PathBuf>,
    /// The quarantine ledger (`None`: the ledger's own default).
    pub ledger: Option<PathBuf>,
    /// `scontrol` (`None`: looked for on `PATH` and in the usual directories).
    pub scontrol: Option<PathBuf>,
    /// How long the check of one GPU may take.
    pub timeout: Duration,
    /// The file each hook run appends its record to (JSON Lines); `None`: none.
    pub log: Option<PathBuf>,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            gpus: None,
            node_config: None,
            ledger: None,
            scontrol: None,
            timeout: DEFAULT_TIMEOUT,
            log: None,
        }
    }
}

/// The configuration file of `--config` (`flag`), else of [`CONFIG_ENV`] (an empty
/// value counts as unset), else [`SYSTEM_CONFIG`]; and whether it must exist (it must
/// when it was named).
pub fn config_path(flag: Option<&Path>, env: Option<std::ffi::OsString>) -> (PathBuf, bool) {
    match (flag, env.filter(|v| !v.is_empty())) {
        (Some(p), _) => (p.to_path_buf(), true),
        (None, Some(v)) => (PathBuf::from(v), true),
        (None, None) => (PathBuf::from(SYSTEM_CONFIG), false),
    }
}

/// Reads the configuration file `path` and returns the settings of node `node`; a
/// missing file is the default settings unless `required`.
pub fn load(path: &Path, required: bool, node: &str) -> Result<NodeSettings, SlurmError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(NodeSettings::default())
        }
        Err(e) => {
            return Err(SlurmError::Config {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })
        }
    };
    parse(&text, path, node)
}

/// The settings of node `node` in the configuration text `text` read from `path`
/// (relative paths in it are relative to `path`'s directory).
pub fn parse(text: &str, path: &Path, node: &str) -> Result<NodeSettings, SlurmError> {
    let bad = |detail: String| SlurmError::Config {
        path: path.to_path_buf(),
        detail,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| bad(one_line(&e.to_string())))?;
    let timeout = match raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(s) if s > 0.0 && s <= 86_400.0 => Duration::from_secs_f64(s),
        Some(s) => {
            return Err(bad(format!(
                "timeout = {s}: must be more than 0 and at most 86400 seconds"
            )))
        }
    };
    for (name, n) in &raw.nodes {
        if let Some(gpus) = &n.gpus {
            check_gpus(gpus).map_err(|d| bad(format!("nodes.{name}.gpus: {d}")))?;
        }
    }
    if let Some(gpus) = &raw.gpus {
        check_gpus(gpus).map_err(|d| bad(format!("gpus: {d}")))?;
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let abs = |p: PathBuf| if p.is_relative() { dir.join(p) } else { p };
    let own = raw.nodes.get(node);
    Ok(NodeSettings {
        gpus: own.and_then(|n| n.gpus.clone()).or(raw.gpus),
        node_config: own
            .and_then(|n| n.node_config.clone())
            .or(raw.node_config)
            .map(abs),
        ledger: raw.ledger.map(abs),
        scontrol: raw.scontrol.map(abs),
        timeout,
        log: raw.log.map(abs),
    })
}

fn check_gpus(gpus: &[String]) -> Result<(), String> {
    for (i, g) in gpus.iter().enumerate() {
        if g.trim().is_empty() {
            return Err(format!("entry {i} is empty"));
        }
        if gpus[..i].contains(g) {
            return Err(format!("`{g}` is listed twice"));
        }
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
        ledger = "/var/lib/gpufault/quarantine.json"
        log = "slurm.jsonl"
        timeout = 30
        gpus = ["cuda:0", "cuda:1"]

        [nodes.n1]
        gpus = ["sim:h100#0", "sim:h100#1"]

        [nodes.n2]
        gpus = ["sim:h100#2", "sim:h100#3"]
        node_config = "n2.json"
    "#;

    #[test]
    fn each_node_gets_its_own_gpus_and_node_config_and_the_shared_settings() {
        let path = Path::new("/etc/gpufault/slurm.toml");
        let n2 = parse(EXAMPLE, path, "n2").unwrap();
        assert_eq!(n2.gpus.as_deref().unwrap(), ["sim:h100#2", "sim:h100#3"]);
        assert_eq!(
            n2.node_config.as_deref(),
            Some(Path::new("/etc/gpufault/n2.json"))
        );
        assert_eq!(
            n2.log.as_deref(),
            Some(Path::new("/etc/gpufault/slurm.jsonl"))
        );
        assert_eq!(n2.timeout, Duration::from_secs(30));
        let n1 = parse(EXAMPLE, path, "n1").unwrap();
        assert_eq!(n1.gpus.as_deref().unwrap(), ["sim:h100#0", "sim:h100#1"]);
        assert_eq!(n1.node_config, None);
        let other = parse(EXAMPLE, path, "n9").unwrap();
        assert_eq!(other.gpus.as_deref().unwrap(), ["cuda:0", "cuda:1"]);
        assert_eq!(parse("", path, "n1").unwrap(), NodeSettings::default());
    }

    #[test]
    fn bad_files_are_errors_naming_the_file_and_the_key() {
        let path = Path::new("/etc/gpufault/slurm.toml");
        for (text, want) in [
            ("gpu = []", "unknown field `gpu`"),
            ("[nodes.n1]\nledger = \"x\"", "unknown field `ledger`"),
            ("timeout = 0", "timeout = 0"),
            ("timeout = \"60\"", "timeout"),
            (
                "[nodes.n1]\ngpus = [\"a\", \"a\"]",
                "nodes.n1.gpus: `a` is listed twice",
            ),
            ("gpus = [\"\"]", "gpus: entry 0 is empty"),
            ("gpus = [", "slurm.toml"),
        ] {
            let e = parse(text, path, "n1").unwrap_err().to_string();
            assert!(
                e.contains(want) && e.contains("/etc/gpufault/slurm.toml"),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn the_file_comes_from_the_flag_the_environment_or_the_system_location() {
        let p = Path::new("/x/s.toml");
        assert_eq!(
            config_path(Some(p), Some("/y".into())),
            (p.to_path_buf(), true)
        );
        assert_eq!(config_path(None, Some("/y".into())), ("/y".into(), true));
        assert_eq!(
            config_path(None, Some("".into())),
            (SYSTEM_CONFIG.into(), false)
        );
        assert_eq!(config_path(None, None), (SYSTEM_CONFIG.into(), false));
        assert_eq!(
            load(Path::new("/nonexistent/slurm.toml"), false, "n1").unwrap(),
            NodeSettings::default()
        );
        assert!(load(Path::new("/nonexistent/slurm.toml"), true, "n1").is_err());
    }
}
