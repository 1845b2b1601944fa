//! The job's shared resume limit: the newest checkpoint step that every rank of a job,
//! on every node, may resume from after a guard of the job quarantined a GPU.
//!
//! ```text
//!  n2's guard: fault found, GPU quarantined          n1's trainer (restarted in place
//!  ─────────────────────────────────────────         by its torchrun, or by its guard)
//!  lock <file>.lock ──────────────────────┐          ─────────────────────────────────
//!  │ read <file> (missing: no limit)      │          read <file> (no lock: it is only
//!  │ add this guard's record; step: the   │          ever replaced by a rename);
//!  │ minimum of every record's            │          resume from the newest checkpoint
//!  │ write .<file>.<pid>-<n>.tmp, rename  │          at or below min(step,
//!  release (also when killed) ────────────┘          GPUFAULT_RESUME_AT_MOST)
//! ```
//!
//! Only the guard that finds a fault knows which checkpoints predate it; in a job of
//! several nodes the others restart their ranks without it (torchrun re-rendezvous), so
//! the guard writes its limit to a file on the file system the job shares (its
//! checkpoint directory's), `gpufault guard --resume-limit-file FILE`, and every guard
//! of the job tells its trainers where the file is ([`crate::env::RESUME_LIMIT_FILE`]).
//! The limit only ever goes down: when several guards write, the lowest step wins.
//! A file that cannot be read is an error naming it, never an absent limit: resuming from
//! a checkpoint the fault may have corrupted is what the file exists to prevent.
//!
//! ```
//! use shim::guard::resume_limit::{lower, read, ResumeLimit};
//! let dir = std::env::temp_dir().join(format!("resume-limit-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let file = dir.join("resume-limit.json");
//! let limit = |step| ResumeLimit { step, uuids: vec!["GPU-1".into()], node: "n2".into(),
//!     time: "2026-12-06T11:00:00Z".into(), reason: "xid 79".into() };
//! assert_eq!(lower(&file, limit(140))?.step, 140);
//! assert_eq!(lower(&file, limit(300))?.step, 140); // never up
//! assert_eq!(read(&file)?.map(|f| f.limits.len()), Some(2));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::env;
use crate::sys::{lock_exclusive, write_atomic};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// The resume-limit file (JSON, one object), documented in `docs/guard.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeLimitFile {
    /// The newest checkpoint step any rank of the job may resume from: the lowest step
    /// of `limits` (0: start over).
    pub step: u64,
    /// Every limit a guard wrote, oldest first.
    pub limits: Vec<ResumeLimit>,
}

/// One guard's limit, written when it quarantined GPUs of the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeLimit {
    /// The newest checkpoint step written before the last clean check of the GPUs.
    pub step: u64,
    /// The UUIDs of the GPUs it quarantined.
    pub uuids: Vec<String>,
    /// The node it runs on (`SLURMD_NODENAME`, else the host name).
    pub node: String,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// Why: the quarantine's reason line(s).
    pub reason: String,
}

impl ResumeLimitFile {
    /// Parses and checks a file's text (`step` must be the lowest of `limits`).
    pub fn parse(text: &str) -> Result<ResumeLimitFile, String> {
        let file: ResumeLimitFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match file.limits.iter().map(|l| l.step).min() {
            None => Err("`limits` is empty".into()),
            Some(min) if min != file.step => Err(format!(
                "`step` {} is not the lowest step of `limits` ({min})",
                file.step
            )),
            Some(_) => Ok(file),
        }
    }
}

/// What can go wrong with the resume-limit file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeLimitError {
    /// A file operation failed.
    #[error("resume-limit file {}: cannot {op}: {error}", path.display())]
    Io {
        /// The file (or its lock file or directory).
        path: PathBuf,
        /// What was being done (`read`, `lock`, `write`, `create the directory`).
        op: &'static str,
        /// The error (part of the message, so not also a `source`).
        error: io::Error,
    },
    /// The file is not a resume-limit file; it is left as it is.
    #[error("resume-limit file {}: {detail}; refusing to resume without knowing the limit (repair or remove it)", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line and column when it is not JSON).
        detail: String,
    },
    /// `GPUFAULT_RESUME_AT_MOST` is not a step number.
    #[error("{}={value}: not a step number", env::RESUME_AT_MOST)]
    BadStep {
        /// Its value.
        value: String,
    },
}

/// Reads the file; a missing file is no limit (`None`). Takes no lock: writers replace
/// it whole by a rename.
pub fn read(path: &Path) -> Result<Option<ResumeLimitFile>, ResumeLimitError> {
    let text = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ResumeLimitError::Io {
                path: path.to_path_buf(),
                op: "read",
                error,
            })
        }
    };
    let unreadable = |detail| ResumeLimitError::Unreadable {
        path: path.to_path_buf(),
        detail,
    };
    let text = String::from_utf8(text).map_err(|_| unreadable("not UTF-8 text".into()))?;
    ResumeLimitFile::parse(&text).map(Some).map_err(unreadable)
}

/// Adds `limit` to the file under its exclusive lock (`<file>.lock`) and writes it back
/// atomically (its directory created if needed); the file's `step` becomes the lowest of every limit in it (it never goes
/// up). A file that cannot be read is an error and is left as it is. Returns the file
/// as written.
pub fn lower(path: &Path, limit: ResumeLimit) -> Result<ResumeLimitFile, ResumeLimitError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| ResumeLimitError::Io {
            path: dir.to_path_buf(),
            op: "create the directory",
            error,
        })?;
    }
    let mut lock_name = path.as_os_str().to_os_string();
    lock_name.push(".lock");
    let lock_path = PathBuf::from(lock_name);
    let _lock = lock_exclusive(&lock_path).map_err(|error| ResumeLimitError::Io {
        path: lock_path.clone(),
        op: "lock",
        error,
    })?;
    let mut file = read(path)?.unwrap_or(ResumeLimitFile {
        step: limit.step,
        limits: Vec::new(),
    });
    file.step = file.step.min(limit.step);
    file.limits.push(limit);
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    write_atomic(path, text.as_bytes()).map_err(|error| ResumeLimitError::Io {
        path: path.to_path_buf(),
        op: "write",
        error,
    })?;
    Ok(file)
}

/// The newest checkpoint step this start of a trainer may resume from: the lower of
/// `GPUFAULT_RESUME_AT_MOST` (its own guard's limit) and the step of the file named by
/// `GPUFAULT_RESUME_LIMIT_FILE` (any guard's of the job); `None`: no limit.
pub fn from_env() -> Result<Option<u64>, ResumeLimitError> {
    let own = match std::env::var(env::RESUME_AT_MOST) {
        Ok(v) if !v.trim().is_empty() => Some(
            v.trim()
                .parse::<u64>()
                .map_err(|_| ResumeLimitError::BadStep { value: v.clone() })?,
        ),
        _ => None,
    };
    let shared = match std::env::var_os(env::RESUME_LIMIT_FILE).filter(|v| !v.is_empty()) {
        Some(path) => read(Path::new(&path))?.map(|f| f.step),
        None => None,
    };
    Ok(min_limit(own, shared))
}

/// The lower of two limits (`None`: no limit).
pub fn min_limit(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "gpufault-resume-limit-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    fn limit(step: u64, node: &str) -> ResumeLimit {
        ResumeLimit {
            step,
            uuids: vec![format!("GPU-{node}")],
            node: node.into(),
            time: "2026-12-06T11:00:00.000Z".into(),
            reason: format!("gpufault: GPU-{node} faulty"),
        }
    }

    #[test]
    fn the_lowest_limit_wins_in_any_order_and_every_record_is_kept() {
        let dir = scratch("min");
        let file = dir.join("ckpt/resume-limit.json"); // its directory is made
        assert_eq!(read(&file).expect("no file"), None);
        assert_eq!(lower(&file, limit(300, "n1")).expect("written").step, 300);
        assert_eq!(lower(&file, limit(140, "n2")).expect("written").step, 140);
        assert_eq!(lower(&file, limit(220, "n3")).expect("written").step, 140);
        let back = read(&file).expect("readable").expect("a file");
        assert_eq!(back.step, 140);
        let nodes: Vec<&str> = back.limits.iter().map(|l| l.node.as_str()).collect();
        assert_eq!(nodes, ["n1", "n2", "n3"]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn concurrent_guards_lose_no_record_and_the_minimum_wins() {
        let dir = scratch("race");
        let file = dir.join("resume-limit.json");
        let threads: Vec<_> = (0..8u64)
            .map(|i| {
                let file = file.clone();
                std::thread::spawn(move || {
                    for j in 0..5u64 {
                        lower(&file, limit(1000 - i * 10 - j, &format!("n{i}"))).expect("written");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a writer");
        }
        let back = read(&file).expect("readable").expect("a file");
        assert_eq!(back.limits.len(), 40);
        assert_eq!(back.step, 1000 - 70 - 4);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_write_is_atomic_and_leaves_no_temporary() {
        let dir = scratch("atomic");
        let file = dir.join("resume-limit.json");
        lower(&file, limit(60, "n2")).expect("written");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("the directory")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["resume-limit.json", "resume-limit.json.lock"]);
        let text = std::fs::read_to_string(&file).expect("the file");
        assert!(text.ends_with("}\n"), "{text}");
        assert_eq!(ResumeLimitFile::parse(&text).expect("parses").step, 60);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_bad_file_is_an_error_naming_it_and_is_never_replaced() {
        let dir = scratch("bad");
        let file = dir.join("resume-limit.json");
        for (text, says) in [
            ("{\"step\": 4", "EOF while parsing"),
            ("{\"step\": 4, \"limits\": []}", "`limits` is empty"),
            ("{\"step\": -1, \"limits\": []}", "invalid value"),
            (
                "{\"step\": 4, \"limits\": [], \"x\": 1}",
                "unknown field `x`",
            ),
        ] {
            std::fs::write(&file, text).expect("written");
            let e = read(&file).expect_err(text).to_string();
            assert!(
                e.contains(&file.display().to_string()) && e.contains(says),
                "{e}"
            );
            let e = lower(&file, limit(10, "n2")).expect_err(text).to_string();
            assert!(e.contains(says), "{e}");
            assert_eq!(std::fs::read_to_string(&file).expect("kept"), text);
        }
        let mut f = ResumeLimitFile {
            step: 50,
            limits: vec![limit(60, "n1"), limit(80, "n2")],
        };
        let e = ResumeLimitFile::parse(&serde_json::to_string(&f).expect("json")).expect_err("50");
        assert!(
            e.contains("`step` 50 is not the lowest step of `limits` (60)"),
            "{e}"
        );
        f.step = 60;
        assert!(ResumeLimitFile::parse(&serde_json::to_string(&f).expect("json")).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_lower_of_two_limits() {
        assert_eq!(min_limit(None, None), None);
        assert_eq!(min_limit(Some(5), None), Some(5));
        assert_eq!(min_limit(None, Some(7)), Some(7));
        assert_eq!(min_limit(Some(9), Some(7)), Some(7));
    }
}
