//! Slurm's `scontrol`, run as a program with its arguments as a vector (never through a
//! shell), and the drain reasons gpufault writes.
//!
//! ```text
//! scontrol show node n2                                   → NodeState { state: "IDLE+DRAIN",
//!                                                                       reason: "gpufault: …" }
//! scontrol update NodeName=n2 State=DRAIN Reason=gpufault: faulty: GPU-… SM17 …   (one argument)
//! scontrol update NodeName=n2 State=RESUME                (only when the reason is gpufault's)
//! ```

use super::SlurmError;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every drain reason gpufault writes starts with this; a node drained with any other
/// reason is someone else's and is never drained again or undrained by gpufault.
pub const REASON_PREFIX: &str = "gpufault:";

/// The longest drain reason gpufault writes, in bytes (ASCII characters): the health
/// check's reason line limit (`reports::check` `REASON_MAX_LEN`).
pub const REASON_MAX_LEN: usize = reports::REASON_MAX_LEN;

/// How long one `scontrol` call may take before it is killed (slurmctld not answering:
/// scontrol itself retries for `MessageTimeout`, 10 s by default).
pub const SCONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where `scontrol` is looked for when the configuration does not name it and `PATH`
/// does not have it (Slurm runs prologs and health checks without a `PATH`).
const SCONTROL_DIRS: &[&str] = &[
    "/usr/bin",
    "/usr/local/bin",
    "/opt/slurm/bin",
    "/usr/local/slurm/bin",
];

/// The prefix of a drain whose evidence gpufault could not record in the ledger (a
/// prolog drained the node, then the ledger write failed). It does not start with
/// [`REASON_PREFIX`], so no health check lifts it: without a ledger entry nothing would
/// keep the faulty GPU out once the drain is gone. A person resumes the node.
pub const UNRECORDED_PREFIX: &str = "gpufault-unrecorded:";

/// A drain reason as gpufault writes it: `text` on one line of printable ASCII — control
/// characters (line breaks, tabs) become spaces and runs of spaces one space, other
/// non-ASCII characters `?`, double quotes `'` (scontrol strips a leading and a trailing
/// `"` from a reason, so the stored reason would differ from the one sent) — starting
/// with [`REASON_PREFIX`] (added when missing) and cut to [`REASON_MAX_LEN`] bytes,
/// ending in `...` when cut. Everything else (`;`, `$(…)`, backquotes, `'`) is kept as
/// it is: the reason is one argument of `scontrol`, never shell text.
pub fn drain_reason(text: &str) -> String {
    reason_with(REASON_PREFIX, text)
}

/// The reason of a drain whose ledger entry could not be written: `text` (a
/// [`drain_reason`]) with [`UNRECORDED_PREFIX`] in place of [`REASON_PREFIX`], formed as
/// [`drain_reason`] forms its reasons.
pub fn unrecorded_reason(text: &str) -> String {
    let text = text.strip_prefix(REASON_PREFIX).unwrap_or(text);
    reason_with(UNRECORDED_PREFIX, text)
}

fn reason_with(prefix: &str, text: &str) -> String {
    let mut line = String::with_capacity(text.len().min(2 * REASON_MAX_LEN));
    for ch in text.chars() {
        let ch = match ch {
            c if c.is_control() => ' ',
            '"' => '\'',
            c if !c.is_ascii() => '?',
            c => c,
        };
        if ch == ' ' && (line.is_empty() || line.ends_with(' ')) {
            continue;
        }
        line.push(ch);
    }
    let line = line.trim_end();
    let mut line = if line.starts_with(prefix) {
        line.to_string()
    } else {
        format!("{prefix} {line}").trim_end().to_string()
    };
    if line.len() > REASON_MAX_LEN {
        line.truncate(REASON_MAX_LEN - 3);
        line.push_str("...");
    }
    line
}

/// A node as `scontrol show node` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// The state with its flags: `IDLE`, `IDLE+DRAIN`, `MIXED+DRAIN`, `DOWN+DRAIN`, …
    pub state: String,
    /// The reason, without the `[user@time]` Slurm appends; `None` when there is none.
    pub reason: Option<String>,
}

impl NodeState {
    /// Whether the node is drained or draining (its state has the DRAIN flag).
    pub fn drained(&self) -> bool {
        self.flags().any(|f| f == "DRAIN")
    }

    /// Whether its reason is one gpufault wrote (starts with [`REASON_PREFIX`]).
    pub fn reason_is_ours(&self) -> bool {
        self.reason
            .as_deref()
            .is_some_and(|r| r.starts_with(REASON_PREFIX))
    }

    /// Drained by gpufault: drained, with a `gpufault:` reason, and not also down,
    /// failed or powered off for some other cause (then it is not gpufault's to resume).
    pub fn drained_by_us(&self) -> bool {
        self.drained()
            && self.reason_is_ours()
            && !self.flags().chain([self.base()]).any(|f| {
                matches!(
                    f.trim_end_matches('*'),
                    "DOWN" | "FAIL" | "FAILING" | "FUTURE" | "POWERED_DOWN" | "POWERING_DOWN"
                )
            })
    }

    /// Drained by someone else: drained with a reason that is not gpufault's.
    pub fn drained_by_others(&self) -> bool {
        self.drained() && !self.reason_is_ours()
    }

    fn base(&self) -> &str {
        self.state.split('+').next().unwrap_or("")
    }

    fn flags(&self) -> impl Iterator<Item = &str> {
        self.state.split('+').skip(1)
    }
}

/// Reads the output of `scontrol show node NAME` (the multi-line form): the `State=`
/// word and the `Reason=` line (which Slurm prints last on its own line, followed by
/// ` [user@time]`). Errors name what is missing.
pub fn parse_show_node(node: &str, text: &str) -> Result<NodeState, SlurmError> {
    let bad = |detail: &str| SlurmError::Scontrol {
        command: format!("scontrol show node {node}"),
        detail: detail.to_string(),
    };
    let first = text.split_whitespace().next().unwrap_or("");
    if first != format!("NodeName={node}") {
        return Err(bad(&format!(
            "expected `NodeName={node}` first, got `{}`",
            first.chars().take(80).collect::<String>()
        )));
    }
    let state = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("State="))
        .ok_or_else(|| bad("no `State=` in its output"))?
        .to_string();
    let reason = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Reason="))
        .map(|r| {
            let r = r.trim_end();
            // `reason [user@time]`: Slurm's own suffix, the last ` [` of the line.
            match r.rfind(" [") {
                Some(i) if r.ends_with(']') => &r[..i],
                _ => r,
            }
            .to_string()
        })
        .filter(|r| !r.is_empty() && r != "(null)");
    Ok(NodeState { state, reason })
}

/// The `scontrol` program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scontrol {
    program: PathBuf,
}

impl Scontrol {
    /// `scontrol` at `program`.
    pub fn at(program: impl Into<PathBuf>) -> Scontrol {
        Scontrol {
            program: program.into(),
        }
    }

    /// `scontrol` found on `path` (the `PATH` variable's value), else in the usual
    /// directories (`/usr/bin`, `/usr/local/bin`, `/opt/slurm/bin`,
    /// `/usr/local/slurm/bin`), else plain `scontrol` (whose failure to start says so).
    pub fn find(path: Option<&std::ffi::OsStr>) -> Scontrol {
        let dirs = path
            .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
            .unwrap_or_default();
        dirs.into_iter()
            .chain(SCONTROL_DIRS.iter().map(PathBuf::from))
            .map(|d| d.join("scontrol"))
            .find(|p| is_executable(p))
            .map(Scontrol::at)
            .unwrap_or_else(|| Scontrol::at("scontrol"))
    }

    /// The program run.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The node's state and reason (`scontrol show node NAME`).
    pub fn node(&self, node: &str) -> Result<NodeState, SlurmError> {
        let out = self.run(&["show", "node", node])?;
        parse_show_node(node, &out)
    }

    /// Drains the node (`scontrol update NodeName=NODE State=DRAIN Reason=REASON`, the
    /// reason one argument, as given: form it with [`drain_reason`]).
    pub fn drain(&self, node: &str, reason: &str) -> Result<(), SlurmError> {
        self.run(&[
            "update",
            &format!("NodeName={node}"),
            "State=DRAIN",
            &format!("Reason={reason}"),
        ])
        .map(drop)
    }

    /// Lifts the node's drain (`scontrol update NodeName=NODE State=RESUME`).
    pub fn resume(&self, node: &str) -> Result<(), SlurmError> {
        self.run(&["update", &format!("NodeName={node}"), "State=RESUME"])
            .map(drop)
    }

    /// Runs `scontrol ARGS…` (no shell; stdin empty) and returns its stdout; a failure to
    /// start, a non-zero exit (with its stderr) or no exit within [`SCONTROL_TIMEOUT`]
    /// (then it is killed) is an error.
    fn run(&self, args: &[&str]) -> Result<String, SlurmError> {
        let shown = || {
            let mut s = format!("{}", self.program.display());
            for a in args {
                s.push(' ');
                s.push_str(a);
            }
            s
        };
        let fail = |detail: String| SlurmError::Scontrol {
            command: shown(),
            detail,
        };
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let mut child = Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot start it: {e}")))?;
        let readers = [
            child.stdout.take().map(read_all),
            child.stderr.take().map(read_all),
        ];
        let deadline = Instant::now() + SCONTROL_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!(
                        "no answer within {} s (killed)",
                        SCONTROL_TIMEOUT.as_secs()
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(fail(format!("cannot wait for it: {e}"))),
            }
        };
        let [stdout, stderr] = readers.map(|r| r.and_then(|h| h.join().ok()).unwrap_or_default());
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            return Err(fail(format!(
                "{status}: {}",
                stderr.trim().lines().collect::<Vec<_>>().join(" ")
            )));
        }
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW_DRAINED: &str = "NodeName=n2 Arch=x86_64 CoresPerSocket=1 
   CPUAlloc=0 CPUEfctv=2 CPUTot=2 CPULoad=5.04
   Gres=gpu:2
   NodeAddr=127.0.0.1 NodeHostName=localhost Port=16819 Version=22.05.8
   State=IDLE+DRAIN ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A
   Partitions=debug 
   Reason=gpufault: faulty: GPU-x SM17 [a] b [root@2026-12-06T04:15:23]

";

    #[test]
    fn a_drained_node_is_read_with_its_reason_without_slurms_suffix() {
        let n = parse_show_node("n2", SHOW_DRAINED).unwrap();
        assert_eq!(n.state, "IDLE+DRAIN");
        assert_eq!(
            n.reason.as_deref(),
            Some("gpufault: faulty: GPU-x SM17 [a] b")
        );
        assert!(n.drained() && n.reason_is_ours() && n.drained_by_us());
        assert!(!n.drained_by_others());
    }

    #[test]
    fn only_a_drain_with_our_prefix_is_ours() {
        let node = |state: &str, reason: Option<&str>| NodeState {
            state: state.into(),
            reason: reason.map(String::from),
        };
        // someone else's drain, and a reason that merely mentions gpufault
        for r in [
            "disk replaced",
            " gpufault: x",
            "GPUFAULT: x",
            "xgpufault: y",
        ] {
            let n = node("IDLE+DRAIN", Some(r));
            assert!(n.drained_by_others() && !n.drained_by_us(), "{r}");
        }
        // ours, while it runs a job or still drains
        for s in [
            "IDLE+DRAIN",
            "MIXED+DRAIN",
            "ALLOCATED+DRAIN",
            "IDLE+COMPLETING+DRAIN",
        ] {
            assert!(node(s, Some("gpufault: q")).drained_by_us(), "{s}");
        }
        // a reason of ours on a node that is also down is not ours to resume
        for s in [
            "DOWN+DRAIN",
            "DOWN*+DRAIN",
            "IDLE+DRAIN+FAIL",
            "IDLE+DRAIN+POWERED_DOWN",
        ] {
            assert!(!node(s, Some("gpufault: q")).drained_by_us(), "{s}");
        }
        // not drained at all
        assert!(!node("IDLE", Some("gpufault: q")).drained());
        assert!(!node("IDLE", None).drained_by_others());
    }

    #[test]
    fn a_node_without_reason_and_bad_output_are_told_apart() {
        let idle = "NodeName=n1 Arch=x86_64\n   State=IDLE ThreadsPerCore=1\n";
        let n = parse_show_node("n1", idle).unwrap();
        assert_eq!((n.state.as_str(), n.reason), ("IDLE", None));
        assert!(parse_show_node("n1", "Node n1 not found\n").is_err());
        assert!(parse_show_node("n1", "NodeName=n2 State=IDLE\n").is_err());
        assert!(parse_show_node("n1", "NodeName=n1 Arch=x\n").is_err());
    }

    #[test]
    fn reasons_are_one_line_of_ascii_with_our_prefix_and_kept_verbatim_otherwise() {
        assert_eq!(
            drain_reason("gpufault: faulty: GPU-1 SM3"),
            "gpufault: faulty: GPU-1 SM3"
        );
        assert_eq!(drain_reason("quarantined x"), "gpufault: quarantined x");
        let hostile = "gpufault: a\"; $(touch /tmp/pwned) `id` 'q' \n\r\tb\u{7f} é ;rm -rf /\"";
        assert_eq!(
            drain_reason(hostile),
            "gpufault: a'; $(touch /tmp/pwned) `id` 'q' b ? ;rm -rf /'"
        );
        assert_eq!(drain_reason(""), "gpufault:");
        // a drain without its ledger entry is not ours to lift
        let r = unrecorded_reason("gpufault: faulty: GPU-1 SM3");
        assert_eq!(r, "gpufault-unrecorded: faulty: GPU-1 SM3");
        let state = NodeState {
            state: "IDLE+DRAIN".into(),
            reason: Some(r),
        };
        assert!(state.drained_by_others() && !state.drained_by_us());
        assert_eq!(unrecorded_reason(&"x".repeat(400)).len(), REASON_MAX_LEN);
    }

    #[test]
    fn long_reasons_are_cut_to_the_limit_on_a_character_boundary() {
        let long = format!("gpufault: {}", "é".repeat(400));
        let r = drain_reason(&long);
        assert_eq!(r.len(), REASON_MAX_LEN);
        assert!(r.ends_with("?...") && r.is_ascii());
        let exact = format!("gpufault: {}", "x".repeat(REASON_MAX_LEN - 10));
        assert_eq!(drain_reason(&exact), exact);
        let over = format!("{exact}y");
        assert_eq!(drain_reason(&over).len(), REASON_MAX_LEN);
        assert!(drain_reason(&over).ends_with("xx..."));
    }

    #[test]
    fn scontrol_is_found_on_path_or_in_the_usual_places() {
        let dir = std::env::temp_dir().join(format!("gpufault-scontrol-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("scontrol");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), &dir]).unwrap();
        assert_eq!(Scontrol::find(Some(&path)).program(), fake);
        let found = Scontrol::find(None);
        assert!(
            found.program() == Path::new("scontrol")
                || SCONTROL_DIRS.iter().any(|d| found.program().starts_with(d))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_program_is_an_error_with_its_stderr_and_arguments_pass_unchanged() {
        // `sh -c` is the program under test here, standing in for scontrol: the reason
        // argument arrives as one argument, byte for byte, and nothing in it runs.
        let dir =
            std::env::temp_dir().join(format!("gpufault-scontrol-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("scontrol");
        let out = dir.join("args");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'\n[ \"$1\" = update ] || {{ echo 'no such node' >&2; exit 1; }}\n",
                out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = Scontrol::at(&fake);
        let marker = dir.join("pwned");
        let reason = format!(
            "gpufault: x; $(touch {}) `touch {}`",
            marker.display(),
            marker.display()
        );
        s.drain("n2", &reason).unwrap();
        let args = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            args,
            format!("update\nNodeName=n2\nState=DRAIN\nReason={reason}\n")
        );
        assert!(!marker.exists());
        let e = s.node("n2").unwrap_err().to_string();
        assert!(
            e.contains("no such node") && e.contains("show node n2"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
