//! The quarantine ledger's records (design.md §2.7): the GPUs kept out of jobs, keyed by
//! GPU UUID, with why (a reason line and typed [`Evidence`]), when, where, and every
//! quarantine and release in their history.
//!
//! This module is the file's format: the serde types, [`LedgerFile::parse`] (which
//! refuses what it cannot fully understand, so a writer never drops what a newer
//! gpufault wrote) and [`LedgerFile::to_json`]. Reading, locking, writing atomically and
//! the operations (quarantine, seen again, release) are `shim::ledger`; the format is
//! documented field by field, with an example, in `docs/ledger.md`.
//!
//! ```text
//! LedgerFile { schema_version, gpus: [GpuEntry …] }       sorted by UUID, each UUID once
//!   GpuEntry { uuid, device, host, state, reason, evidence, first_seen, last_seen,
//!              tool_version, history: [HistoryEvent …] }   oldest first
//! ```
//!
//! UUIDs are compared without regard to case: [`canonical_uuid`] gives the one form
//! stored (`GPU-` and lower-case hex, as `nvidia-smi -L` prints it).
//!
//! ```
//! use reports::ledger::{canonical_uuid, LedgerFile};
//! let file = LedgerFile::parse(r#"{"schema_version": 1, "gpus": []}"#).unwrap();
//! assert!(file.gpus.is_empty());
//! assert_eq!(
//!     canonical_uuid("gpu-48793A87-8BC2-2290-87C2-1AD1800320A7"),
//!     "GPU-48793a87-8bc2-2290-87c2-1ad1800320a7"
//! );
//! assert!(LedgerFile::parse(r#"{"schema_version": 2, "gpus": []}"#).is_err());
//! ```

use crate::check::{one_line, Finding};
use crate::error::ReportError;
use serde::{Deserialize, Serialize};

/// Version of the ledger file's format. Any change to it — a new field too: readers
/// refuse fields they do not know, so that an older gpufault never rewrites a newer
/// ledger without them — bumps it.
pub const LEDGER_SCHEMA_VERSION: u32 = 1;

/// The longest UUID accepted (NVIDIA's are 40 characters, MIG device UUIDs 44).
pub const UUID_MAX_LEN: usize = 128;

/// The ledger file: one JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerFile {
    /// [`LEDGER_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// One entry per GPU ever quarantined, sorted by UUID (each UUID once, in its
    /// [`canonical_uuid`] form).
    pub gpus: Vec<GpuEntry>,
}

impl Default for LedgerFile {
    /// An empty ledger (what a missing file means).
    fn default() -> Self {
        LedgerFile {
            schema_version: LEDGER_SCHEMA_VERSION,
            gpus: Vec::new(),
        }
    }
}

/// One GPU of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuEntry {
    /// The GPU's UUID (`GPU-…`), the key: device indices change between boots and
    /// between `CUDA_VISIBLE_DEVICES` settings, UUIDs do not.
    pub uuid: String,
    /// The device name it was last reported under (`cuda:0`, `sim:h100#2`); empty when
    /// it was quarantined by UUID and not found on the host.
    pub device: String,
    /// The host it was last reported on.
    pub host: String,
    /// Quarantined or released.
    pub state: State,
    /// Why it was (last) quarantined, one line.
    pub reason: String,
    /// What showed it (last) to be bad.
    pub evidence: Evidence,
    /// When the current (or, once released, the last) quarantine began, RFC 3339 UTC.
    pub first_seen: String,
    /// When it was last reported bad, RFC 3339 UTC.
    pub last_seen: String,
    /// The gpufault version that last wrote this entry.
    pub tool_version: String,
    /// Every quarantine, report seen again, and release, oldest first.
    pub history: Vec<HistoryEvent>,
}

/// Whether a GPU is kept out of jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Kept out of every job until released.
    Quarantined,
    /// Released: usable again (after a clean check, or by force with a reason).
    Released,
}

impl State {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            State::Quarantined => "quarantined",
            State::Released => "released",
        }
    }
}

/// What showed a GPU to be bad.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Evidence {
    /// The health check (`gpufault check`, or the guard's checks): its findings
    /// (signature words with SM, sub-partition, warp slot, lanes, kernel and unit;
    /// crashed or hung kernels; NVML health rules that fired), most serious first.
    Check {
        /// The findings (the guard keeps the first few).
        findings: Vec<Finding>,
    },
    /// An XID event of the GPU's driver, seen while a job ran.
    Xid {
        /// The XID number (79: fallen off the bus, 48: double-bit ECC error, …).
        xid: u64,
    },
    /// The job's own self-check.
    Job {
        /// What it found, one line: `non-finite loss, exit 4 of gpufault train`.
        detail: String,
        /// The job's exit code, when it exited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
    },
    /// A person's note (`gpufault quarantine add --reason`).
    Manual {
        /// The note.
        note: String,
    },
}

impl Evidence {
    /// One line: `check: SM17 sp2 ws6 warp-scheduler (sig_ids) 3 lanes (+2 more)`,
    /// `xid=79`, `job: non-finite loss (exit 4)`, `manual: swapped fan`.
    pub fn summary(&self) -> String {
        match self {
            Evidence::Check { findings } => match findings.first() {
                Some(f) if findings.len() > 1 => {
                    format!("check: {} (+{} more)", f.summary(), findings.len() - 1)
                }
                Some(f) => format!("check: {}", f.summary()),
                None => "check".to_string(),
            },
            Evidence::Xid { xid } => format!("xid={xid}"),
            Evidence::Job { detail, exit_code } => match exit_code {
                Some(c) => format!("job: {} (exit {c})", one_line(detail)),
                None => format!("job: {}", one_line(detail)),
            },
            Evidence::Manual { note } => format!("manual: {}", one_line(note)),
        }
    }
}

/// One event of a GPU's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEvent {
    /// When, RFC 3339 UTC.
    pub time: String,
    /// What happened.
    pub action: Action,
    /// The host that recorded it.
    pub host: String,
    /// The device name the GPU had there (empty when unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device: String,
    /// Why: the quarantine's reason, the forced release's reason, or for a validated
    /// release that it passed a check.
    pub reason: String,
    /// The evidence of a quarantine or report seen again, on one line
    /// ([`Evidence::summary`]; the entry holds the latest in full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// A validated release: the summary of the clean check that cleared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The gpufault version that recorded it.
    pub tool_version: String,
}

/// What an event of a GPU's history did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Quarantined (first, or again after a release).
    Quarantined,
    /// Reported bad again while quarantined: `last_seen`, reason and evidence updated.
    SeenAgain,
    /// Released after a clean re-validation (a full health check passed).
    Released,
    /// Released without a check, by force, with a reason.
    ForcedRelease,
}

impl Action {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quarantined => "quarantined",
            Action::SeenAgain => "seen_again",
            Action::Released => "released",
            Action::ForcedRelease => "forced_release",
        }
    }
}

/// The one stored form of a GPU UUID: the prefix before the first dash (`GPU`, `MIG`)
/// upper-case, the rest lower-case, surrounding white space removed — as `nvidia-smi -L`
/// prints it, whatever case it was typed in.
pub fn canonical_uuid(uuid: &str) -> String {
    let t = uuid.trim();
    match t.split_once('-') {
        Some((prefix, rest))
            if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            format!(
                "{}-{}",
                prefix.to_ascii_uppercase(),
                rest.to_ascii_lowercase()
            )
        }
        _ => t.to_ascii_lowercase(),
    }
}

/// `uuid` checked and in its [`canonical_uuid`] form, or what is wrong with it: a UUID
/// is a prefix of letters, a dash, and then letters, digits, `-`, `_` or `/` (at most
/// [`UUID_MAX_LEN`] characters in all) — never a device index or name.
pub fn check_uuid(uuid: &str) -> Result<String, String> {
    let c = canonical_uuid(uuid);
    let well_formed = c.len() <= UUID_MAX_LEN
        && c.split_once('-').is_some_and(|(prefix, rest)| {
            !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_alphabetic())
                && !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_/".contains(&b))
        });
    if well_formed {
        Ok(c)
    } else {
        Err(format!(
            "`{}` is not a GPU UUID (`GPU-` and hex digits with dashes, as `nvidia-smi -L` prints it)",
            one_line(uuid)
        ))
    }
}

impl LedgerFile {
    /// Reads a ledger from its JSON text. Refused, never guessed at: text that is not
    /// JSON or not a ledger (with the line and column), a `schema_version` newer than
    /// [`LEDGER_SCHEMA_VERSION`] (before anything else is looked at), a field this version
    /// does not know, a malformed UUID, a UUID listed twice. UUIDs are returned in their
    /// canonical form, entries sorted by it.
    pub fn parse(text: &str) -> Result<LedgerFile, ReportError> {
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<serde_json::Value>,
        }
        let version: Version =
            serde_json::from_str(text).map_err(|error| ReportError::LedgerJson { error })?;
        match version
            .schema_version
            .as_ref()
            .map(serde_json::Value::as_u64)
        {
            Some(Some(found)) if found > u64::from(LEDGER_SCHEMA_VERSION) => {
                return Err(ReportError::LedgerSchemaVersion {
                    found,
                    supported: LEDGER_SCHEMA_VERSION,
                })
            }
            Some(Some(v)) if v >= 1 => {}
            _ => {
                return Err(ReportError::LedgerInvalid {
                    detail: "no top-level `schema_version` number of 1 or more".into(),
                })
            }
        }
        let mut file: LedgerFile =
            serde_json::from_str(text).map_err(|error| ReportError::LedgerJson { error })?;
        for g in &mut file.gpus {
            g.uuid = check_uuid(&g.uuid).map_err(|detail| ReportError::LedgerInvalid {
                detail: format!("gpus: {detail}"),
            })?;
        }
        file.gpus.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        if let Some(w) = file.gpus.windows(2).find(|w| w[0].uuid == w[1].uuid) {
            return Err(ReportError::LedgerInvalid {
                detail: format!("gpus: {} is listed twice", w[0].uuid),
            });
        }
        file.schema_version = LEDGER_SCHEMA_VERSION;
        Ok(file)
    }

    /// The file's text: pretty JSON and a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a ledger serializes");
        s.push('\n');
        s
    }

    /// The entry of `uuid` (in any case), if there is one.
    pub fn get(&self, uuid: &str) -> Option<&GpuEntry> {
        let uuid = canonical_uuid(uuid);
        self.gpus
            .binary_search_by(|g| g.uuid.as_str().cmp(&uuid))
            .ok()
            .map(|i| &self.gpus[i])
    }

    /// The entry of `uuid` (in any case), to change it.
    pub fn get_mut(&mut self, uuid: &str) -> Option<&mut GpuEntry> {
        let uuid = canonical_uuid(uuid);
        match self.gpus.binary_search_by(|g| g.uuid.as_str().cmp(&uuid)) {
            Ok(i) => Some(&mut self.gpus[i]),
            Err(_) => None,
        }
    }

    /// Adds `entry` in its place by UUID (canonicalized); replaces an entry of the same
    /// UUID.
    pub fn insert(&mut self, mut entry: GpuEntry) {
        entry.uuid = canonical_uuid(&entry.uuid);
        match self
            .gpus
            .binary_search_by(|g| g.uuid.as_str().cmp(&entry.uuid))
        {
            Ok(i) => self.gpus[i] = entry,
            Err(i) => self.gpus.insert(i, entry),
        }
    }

    /// Whether `uuid` (in any case) is quarantined now.
    pub fn is_quarantined(&self, uuid: &str) -> bool {
        self.get(uuid)
            .is_some_and(|g| g.state == State::Quarantined)
    }

    /// The entries quarantined now, by UUID.
    pub fn quarantined(&self) -> impl Iterator<Item = &GpuEntry> {
        self.gpus.iter().filter(|g| g.state == State::Quarantined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Evidence as CheckEvidence, Severity};

    const UUID: &str = "GPU-48793a87-8bc2-2290-87c2-1ad1800320a7";

    fn finding() -> Finding {
        Finding {
            severity: Severity::Faulty,
            evidence: CheckEvidence::Signature {
                unit: "warp-scheduler".into(),
                kernel: "sig_ids".into(),
                sm: 17,
                sp: 2,
                warp_slot: 6,
                lanes: 0x7,
                word: "tid.x".into(),
                expected: 0,
                actual: 4,
                words: 3,
                majority: Some(0),
                disagreed: Vec::new(),
            },
        }
    }

    fn entry(uuid: &str, evidence: Evidence) -> GpuEntry {
        GpuEntry {
            uuid: uuid.into(),
            device: "sim:h100#11".into(),
            host: "node7".into(),
            state: State::Quarantined,
            reason: "SM17 tid.x wrong".into(),
            evidence,
            first_seen: "2026-12-07T10:00:00.000Z".into(),
            last_seen: "2026-12-07T10:00:00.000Z".into(),
            tool_version: "0.1.0".into(),
            history: vec![HistoryEvent {
                time: "2026-12-07T10:00:00.000Z".into(),
                action: Action::Quarantined,
                host: "node7".into(),
                device: "sim:h100#11".into(),
                reason: "SM17 tid.x wrong".into(),
                evidence: Some("check faulty".into()),
                check: None,
                tool_version: "0.1.0".into(),
            }],
        }
    }

    #[test]
    fn every_kind_of_evidence_survives_a_round_trip() {
        let mut file = LedgerFile::default();
        let kinds = [
            Evidence::Check {
                findings: vec![finding(), finding()],
            },
            Evidence::Xid { xid: 79 },
            Evidence::Job {
                detail: "non-finite loss, exit 4 of `gpufault train`".into(),
                exit_code: Some(4),
            },
            Evidence::Manual {
                note: "fan replaced".into(),
            },
        ];
        for (i, e) in kinds.into_iter().enumerate() {
            file.insert(entry(&format!("GPU-0000000{i}-aaaa"), e));
        }
        let text = file.to_json();
        assert_eq!(LedgerFile::parse(&text).unwrap(), file);
        assert!(text.ends_with("}\n"));
        assert_eq!(
            file.gpus[0].evidence.summary(),
            "check: SM17 sp2 ws6 warp-scheduler (sig_ids) 3 lanes (+1 more)"
        );
        assert_eq!(file.gpus[1].evidence.summary(), "xid=79");
        assert_eq!(
            file.gpus[2].evidence.summary(),
            "job: non-finite loss, exit 4 of `gpufault train` (exit 4)"
        );
        assert_eq!(file.gpus[3].evidence.summary(), "manual: fan replaced");
    }

    #[test]
    fn uuids_are_matched_in_any_case_and_stored_in_one() {
        assert_eq!(canonical_uuid(&UUID.to_ascii_uppercase()), UUID);
        assert_eq!(canonical_uuid(&format!("  {}\n", UUID)), UUID);
        assert_eq!(check_uuid("mig-ABC-def/1").unwrap(), "MIG-abc-def/1");
        for bad in [
            "",
            "0",
            "cuda:0",
            "GPU-",
            "-abc",
            "GPU-ab cd",
            "GPU-ab:cd",
            "1-ab",
        ] {
            assert!(check_uuid(bad).is_err(), "{bad:?}");
        }
        assert!(check_uuid(&format!("GPU-{}", "a".repeat(UUID_MAX_LEN))).is_err());
        let mut file = LedgerFile::default();
        file.insert(entry(&UUID.to_ascii_uppercase(), Evidence::Xid { xid: 48 }));
        assert_eq!(file.gpus[0].uuid, UUID);
        assert!(file.is_quarantined(&UUID.to_ascii_uppercase()));
        assert!(file.get(&UUID.to_ascii_lowercase()).is_some());
        assert!(!file.is_quarantined("GPU-00000000-0000"));
        // hand-edited upper case is read, canonicalized and sorted
        let text = file.to_json().replace(UUID, &UUID.to_ascii_uppercase());
        assert!(text.contains("GPU-48793A87"));
        assert_eq!(LedgerFile::parse(&text).unwrap().gpus[0].uuid, UUID);
    }

    #[test]
    fn what_is_not_a_ledger_of_this_version_is_refused_with_why() {
        let err = |t: &str| LedgerFile::parse(t).unwrap_err().to_string();
        assert!(err("{\"schema_version\": 1, \"gpus\": [").contains("line 1"));
        assert!(err("").contains("not a quarantine ledger"));
        assert!(err("[]").contains("not a quarantine ledger"));
        assert!(err("{\"gpus\": []}").contains("schema_version"));
        assert!(err("{\"schema_version\": 0, \"gpus\": []}").contains("schema_version"));
        let newer = err("{\"schema_version\": 7, \"gpus\": [{\"what\": 1}]}");
        assert!(newer.contains("schema_version 7"), "{newer}");
        assert!(newer.contains("reads version 1"), "{newer}");
        // a field this version does not know: refused, not dropped on the next write
        let mut file = LedgerFile::default();
        file.insert(entry(UUID, Evidence::Xid { xid: 48 }));
        let extra = file
            .to_json()
            .replacen("\"host\"", "\"owner\": \"x\", \"host\"", 1);
        assert!(
            err(&extra).contains("unknown field `owner`"),
            "{}",
            err(&extra)
        );
        // the same GPU twice, in different case
        let mut twice: serde_json::Value = serde_json::from_str(&file.to_json()).unwrap();
        let mut second = twice["gpus"][0].clone();
        second["uuid"] = UUID.to_ascii_uppercase().into();
        twice["gpus"].as_array_mut().unwrap().push(second);
        assert!(err(&twice.to_string()).contains("listed twice"));
        let mut bad_uuid: serde_json::Value = serde_json::from_str(&file.to_json()).unwrap();
        bad_uuid["gpus"][0]["uuid"] = "3".into();
        assert!(err(&bad_uuid.to_string()).contains("`3` is not a GPU UUID"));
    }

    #[test]
    fn the_example_of_the_documentation_is_a_ledger() {
        let doc = include_str!("../../docs/ledger.md");
        let start = doc
            .find("```json\n")
            .expect("docs/ledger.md has a JSON example")
            + 8;
        let end = start + doc[start..].find("```").unwrap();
        let file = LedgerFile::parse(&doc[start..end]).unwrap();
        assert_eq!(file.gpus.len(), 2);
        assert!(file.is_quarantined("GPU-48793A87-8BC2-2290-87C2-1AD1800320A7"));
        let released = &file.gpus[0];
        assert_eq!(released.state, State::Released);
        let actions: Vec<Action> = released.history.iter().map(|h| h.action).collect();
        assert_eq!(
            actions,
            [Action::Quarantined, Action::SeenAgain, Action::Released]
        );
    }

    #[test]
    fn check_evidence_without_findings_still_says_where_it_came_from() {
        let e = Evidence::Check { findings: vec![] };
        assert_eq!(e.summary(), "check");
        let one = Evidence::Check {
            findings: vec![finding()],
        };
        assert_eq!(
            one.summary(),
            "check: SM17 sp2 ws6 warp-scheduler (sig_ids) 3 lanes"
        );
    }
}
