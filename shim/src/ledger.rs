//! The quarantine ledger (design.md §2.7): the GPUs kept out of jobs, keyed by GPU UUID,
//! in one JSON file ([`reports::ledger::LedgerFile`], documented in `docs/ledger.md`)
//! that several processes — guards of several jobs, an operator's `gpufault quarantine`
//! — change at once, and that a crash at any moment never tears or loses.
//!
//! ```text
//!  writer (quarantine, release, any update)            reader (read, quarantined)
//!  ───────────────────────────────────────             ──────────────────────────
//!  create the ledger's directory                        read the ledger, no lock:
//!  open <ledger>.lock, take its exclusive lock ─┐       the file is only ever
//!  │ read the ledger (missing: empty)           │       replaced by a rename, so
//!  │ change it in memory                        │       a reader sees the old or
//!  │ unchanged: done                            │       the new document whole
//!  │ write .<ledger>.<pid>-<n>.tmp, fsync it    │
//!  │ rename it over the ledger, fsync the dir   │
//!  │ remove temporaries of killed writers       │
//!  release the lock (also when killed: the kernel does) ┘
//! ```
//!
//! The lock is `flock(2)` through std's [`File::lock`] on a separate, never-removed file
//! beside the ledger: the ledger itself is replaced by each write, and a lock on the
//! replaced inode would exclude nobody. Every change is a read-modify-write under that
//! lock ([`Ledger::update`]), so concurrent writers never lose each other's entries; the
//! write is [`crate::sys::write_atomic`], so a kill -9 at any moment leaves the old or the
//! new document. A ledger that cannot be read (not JSON, a newer schema, a field this
//! version does not know) is an error naming the file and is never replaced: an empty
//! ledger in its place would release every GPU.
//!
//! ```
//! use reports::ledger::Evidence;
//! use shim::ledger::{Ledger, Quarantine, Release};
//! let dir = std::env::temp_dir().join(format!("ledger-doc-{}", std::process::id()));
//! let ledger = Ledger::at(dir.join("quarantine.json"));
//! ledger.quarantine(Quarantine {
//!     uuid: "GPU-48793A87-8BC2-2290-87C2-1AD1800320A7".into(),
//!     device: "sim:h100#0".into(),
//!     reason: "xid 79".into(),
//!     evidence: Evidence::Xid { xid: 79 },
//! })?;
//! assert!(ledger.quarantined()?.contains("GPU-48793a87-8bc2-2290-87c2-1ad1800320a7"));
//! ledger.release("gpu-48793a87-8bc2-2290-87c2-1ad1800320a7", Release::Forced { reason: "reseated".into() })?;
//! assert!(ledger.quarantined()?.is_empty());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), shim::ledger::LedgerError>(())
//! ```

use crate::sys::{host_name, write_atomic};
use reports::ledger::{check_uuid, Action, Evidence, GpuEntry, HistoryEvent, LedgerFile, State};
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where root keeps the ledger when neither `--ledger` nor `GPUFAULT_LEDGER` says.
pub const SYSTEM_PATH: &str = "/var/lib/gpufault/quarantine.json";

/// A quarantine ledger file (nothing is read or written until an operation is called).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    path: PathBuf,
}

/// A GPU to quarantine (or to record as seen bad again).
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantine {
    /// Its UUID (`GPU-…`, any case).
    pub uuid: String,
    /// The device name it has here (`cuda:0`, `sim:h100#2`); empty if unknown.
    pub device: String,
    /// Why, one line (line breaks become spaces).
    pub reason: String,
    /// What showed it.
    pub evidence: Evidence,
}

/// How a GPU is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// A full health check of the GPU passed now.
    Validated {
        /// The clean check's summary (verdict, device, host, time, coverage).
        check: String,
    },
    /// Without a check, by a person, for a reason.
    Forced {
        /// Why (required: recorded in the history).
        reason: String,
    },
}

/// What can go wrong with the ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A file operation failed.
    #[error("ledger {}: cannot {op}: {error}", path.display())]
    Io {
        /// The file or directory (the ledger, its lock file or its directory).
        path: PathBuf,
        /// What was being done (`read`, `lock`, `write`, `create the directory`).
        op: &'static str,
        /// The error (part of the message, so not also a `source`).
        error: io::Error,
    },
    /// The ledger is not a ledger this version can read; it is left as it is.
    #[error("ledger {}: {error}; left as it is (a damaged ledger is never replaced: that would release every GPU in it): repair it, or move it away to start an empty one", path.display())]
    Unreadable {
        /// The ledger.
        path: PathBuf,
        /// What is wrong: not JSON (with line and column), a newer schema, … (part of
        /// the message, so not also a `source`).
        error: reports::ReportError,
    },
    /// The GPU is not in the ledger.
    #[error("ledger {}: {uuid} is not in it", path.display())]
    NotFound {
        /// The ledger.
        path: PathBuf,
        /// The UUID asked for.
        uuid: String,
    },
    /// The GPU is in the ledger but not quarantined (released before).
    #[error("ledger {}: {uuid} is not quarantined (released already)", path.display())]
    NotQuarantined {
        /// The ledger.
        path: PathBuf,
        /// The UUID asked for.
        uuid: String,
    },
    /// A release on condition that nothing reported the GPU bad since a time, and
    /// something did ([`Ledger::release_if_unchanged`]).
    #[error("ledger {}: {uuid} was reported bad again at {last_seen} (while it was being checked); not released", path.display())]
    SeenAgain {
        /// The ledger.
        path: PathBuf,
        /// The GPU.
        uuid: String,
        /// When it was last reported.
        last_seen: String,
    },
    /// An argument that cannot be recorded.
    #[error("{field}: {detail}")]
    Invalid {
        /// The field (`uuid`, `reason`).
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// When, where and by which version a change is made.
struct Stamp {
    time: String,
    host: String,
    tool_version: String,
}

impl Stamp {
    fn now() -> Stamp {
        Stamp {
            time: injector::rfc3339(SystemTime::now()),
            host: host_name(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

impl Ledger {
    /// The ledger in file `path` (which need not exist yet).
    pub fn at(path: impl Into<PathBuf>) -> Ledger {
        Ledger { path: path.into() }
    }

    /// Where the ledger is when no `--ledger` flag says: `GPUFAULT_LEDGER`
    /// ([`crate::env::LEDGER`]) when set and not empty; else, for root,
    /// [`SYSTEM_PATH`]; else `$XDG_STATE_HOME/gpufault/quarantine.json`
    /// (`XDG_STATE_HOME` when absolute, else `~/.local/state`; without a home,
    /// [`SYSTEM_PATH`]).
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os(crate::env::LEDGER).filter(|p| !p.is_empty()) {
            return p.into();
        }
        default_location(
            nix::unistd::geteuid().is_root(),
            std::env::var_os("XDG_STATE_HOME"),
            std::env::var_os("HOME"),
        )
    }

    /// The ledger's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the ledger (a missing file is an empty ledger). Takes no lock: writers
    /// replace the file by a rename, so what is read is one whole version of it.
    pub fn read(&self) -> Result<LedgerFile, LedgerError> {
        read_file(&self.path)
    }

    /// Quarantines a GPU; one already quarantined is recorded as seen again (its
    /// `last_seen`, device, host, reason and evidence updated, `first_seen` kept); one
    /// released before is quarantined anew. Errors: a malformed UUID, an empty reason, a
    /// ledger that cannot be read or written.
    pub fn quarantine(&self, q: Quarantine) -> Result<(), LedgerError> {
        self.record_quarantine(q).map(drop)
    }

    /// [`Ledger::quarantine`], returning what was recorded: [`Action::Quarantined`] or
    /// [`Action::SeenAgain`].
    pub fn record_quarantine(&self, q: Quarantine) -> Result<Action, LedgerError> {
        let uuid = check_uuid(&q.uuid).map_err(|detail| LedgerError::Invalid {
            field: "uuid",
            detail,
        })?;
        let reason = one_line(&q.reason);
        if reason.is_empty() {
            return Err(LedgerError::Invalid {
                field: "reason",
                detail: "a quarantine needs a reason".into(),
            });
        }
        let device = one_line(&q.device);
        self.update(|file| {
            let s = Stamp::now();
            let event = |action| HistoryEvent {
                time: s.time.clone(),
                action,
                host: s.host.clone(),
                device: device.clone(),
                reason: reason.clone(),
                evidence: Some(q.evidence.summary()),
                check: None,
                tool_version: s.tool_version.clone(),
            };
            let action = match file.get_mut(&uuid) {
                Some(g) => {
                    let action = match g.state {
                        State::Quarantined => Action::SeenAgain,
                        State::Released => {
                            g.first_seen = s.time.clone();
                            Action::Quarantined
                        }
                    };
                    if !device.is_empty() {
                        g.device = device.clone();
                    }
                    g.host = s.host.clone();
                    g.state = State::Quarantined;
                    g.reason = reason.clone();
                    g.evidence = q.evidence.clone();
                    g.last_seen = s.time.clone();
                    g.tool_version = s.tool_version.clone();
                    g.history.push(event(action));
                    action
                }
                None => {
                    file.insert(GpuEntry {
                        uuid: uuid.clone(),
                        device: device.clone(),
                        host: s.host.clone(),
                        state: State::Quarantined,
                        reason: reason.clone(),
                        evidence: q.evidence.clone(),
                        first_seen: s.time.clone(),
                        last_seen: s.time.clone(),
                        tool_version: s.tool_version.clone(),
                        history: vec![event(Action::Quarantined)],
                    });
                    Action::Quarantined
                }
            };
            Ok(action)
        })
    }

    /// Releases a quarantined GPU (UUID in any case). Errors: not in the ledger
    /// ([`LedgerError::NotFound`]), not quarantined ([`LedgerError::NotQuarantined`]), a
    /// forced release without a reason.
    pub fn release(&self, uuid: &str, how: Release) -> Result<(), LedgerError> {
        self.release_checked(uuid, how, None)
    }

    /// [`Ledger::release`], unless the GPU was reported bad again after `last_seen` (its
    /// `last_seen` when the re-validation began): then [`LedgerError::SeenAgain`] and
    /// nothing changes — a check that began before a new report does not clear it.
    pub fn release_if_unchanged(
        &self,
        uuid: &str,
        how: Release,
        last_seen: &str,
    ) -> Result<(), LedgerError> {
        self.release_checked(uuid, how, Some(last_seen))
    }

    fn release_checked(
        &self,
        uuid: &str,
        how: Release,
        last_seen: Option<&str>,
    ) -> Result<(), LedgerError> {
        let uuid = check_uuid(uuid).map_err(|detail| LedgerError::Invalid {
            field: "uuid",
            detail,
        })?;
        let (action, reason, check) = match how {
            Release::Validated { check } => (
                Action::Released,
                "passed a full health check".to_string(),
                Some(one_line(&check)),
            ),
            Release::Forced { reason } => {
                let reason = one_line(&reason);
                if reason.is_empty() {
                    return Err(LedgerError::Invalid {
                        field: "reason",
                        detail: "a forced release needs a reason".into(),
                    });
                }
                (Action::ForcedRelease, reason, None)
            }
        };
        self.update(|file| {
            let path = self.path.clone();
            let Some(g) = file.get_mut(&uuid) else {
                return Err(LedgerError::NotFound { path, uuid });
            };
            if g.state != State::Quarantined {
                return Err(LedgerError::NotQuarantined { path, uuid });
            }
            if let Some(seen) = last_seen {
                if g.last_seen != seen {
                    return Err(LedgerError::SeenAgain {
                        path,
                        uuid,
                        last_seen: g.last_seen.clone(),
                    });
                }
            }
            let s = Stamp::now();
            g.state = State::Released;
            g.tool_version = s.tool_version.clone();
            g.history.push(HistoryEvent {
                time: s.time,
                action,
                host: s.host,
                device: g.device.clone(),
                reason,
                evidence: None,
                check,
                tool_version: s.tool_version,
            });
            Ok(())
        })
    }

    /// The UUIDs quarantined now, in their canonical form
    /// ([`reports::ledger::canonical_uuid`]: compare yours in that form, or use
    /// [`LedgerFile::is_quarantined`], which ignores case).
    pub fn quarantined(&self) -> Result<BTreeSet<String>, LedgerError> {
        Ok(self.read()?.quarantined().map(|g| g.uuid.clone()).collect())
    }

    /// Reads the ledger, lets `f` change it, and writes it back if `f` changed it — all
    /// under the ledger's exclusive lock, so no other writer's change is lost; the write
    /// is atomic, so the file holds the old or the new document whatever happens. When
    /// `f` fails nothing is written. Creates the ledger's directory; removes temporary
    /// files that killed writers left beside it.
    pub fn update<T>(
        &self,
        f: impl FnOnce(&mut LedgerFile) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let dir = parent(&self.path);
        fs::create_dir_all(dir).map_err(|error| LedgerError::Io {
            path: dir.to_path_buf(),
            op: "create the directory",
            error,
        })?;
        let target = resolved(&self.path);
        let _lock = lock(&target)?;
        let before = read_file(&target)?;
        let mut file = before.clone();
        let out = f(&mut file)?;
        if file != before {
            write_atomic(&target, file.to_json().as_bytes()).map_err(|error| LedgerError::Io {
                path: target.clone(),
                op: "write",
                error,
            })?;
        }
        remove_stale_temporaries(&target);
        Ok(out)
    }
}

/// The default location (see [`Ledger::default_path`]) for a user who is root or not,
/// with these `XDG_STATE_HOME` and `HOME`.
fn default_location(root: bool, xdg_state: Option<OsString>, home: Option<OsString>) -> PathBuf {
    if root {
        return SYSTEM_PATH.into();
    }
    let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    match (absolute(xdg_state), absolute(home)) {
        (Some(state), _) => state.join("gpufault/quarantine.json"),
        (None, Some(home)) => home.join(".local/state/gpufault/quarantine.json"),
        (None, None) => SYSTEM_PATH.into(),
    }
}

/// `text` on one line: control characters become spaces, surrounding space trimmed.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The directory `path` is in (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The file the ledger at `path` really is — symlinks and `..` resolved, so that every
/// name of one ledger shares one lock file — once its directory exists.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    match (fs::canonicalize(parent(path)), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// `<ledger>.lock`, opened (created if needed) and exclusively locked; the lock goes with
/// the returned file (when it is dropped, or the process dies).
fn lock(ledger: &Path) -> Result<File, LedgerError> {
    let mut name = ledger.as_os_str().to_os_string();
    name.push(".lock");
    let path = PathBuf::from(name);
    let io = |op, error| LedgerError::Io {
        path: path.clone(),
        op,
        error,
    };
    crate::sys::lock_exclusive(&path).map_err(|e| io("lock", e))
}

/// The ledger in `path`; a missing file is an empty ledger.
fn read_file(path: &Path) -> Result<LedgerFile, LedgerError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LedgerFile::default()),
        Err(error) => {
            return Err(LedgerError::Io {
                path: path.to_path_buf(),
                op: "read",
                error,
            })
        }
    };
    let unreadable = |error| LedgerError::Unreadable {
        path: path.to_path_buf(),
        error,
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        unreadable(reports::ReportError::LedgerInvalid {
            detail: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })
    })?;
    LedgerFile::parse(&text).map_err(unreadable)
}

/// Removes the temporary files of writers killed between creating and renaming them
/// (`.<ledger name>.<pid>-<n>.tmp`, as [`write_atomic`] names them). Called under the
/// exclusive lock, when no writer of this ledger can be writing one.
fn remove_stale_temporaries(ledger: &Path) {
    let (Some(name), Ok(entries)) = (ledger.file_name(), fs::read_dir(parent(ledger))) else {
        return;
    };
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    for e in entries.flatten() {
        if is_temporary(&e.file_name(), &prefix) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Whether `name` is `<prefix><pid>-<n>.tmp`.
fn is_temporary(name: &OsStr, prefix: &OsStr) -> bool {
    let (Some(name), Some(prefix)) = (name.to_str(), prefix.to_str()) else {
        return false;
    };
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .and_then(|id| id.split_once('-'))
        .is_some_and(|(pid, n)| {
            !pid.is_empty()
                && !n.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
                && n.bytes().all(|b| b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests;
