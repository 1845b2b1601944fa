//! The campaign store: one SQLite file holding the plan, every result, and who ran it.
//!
//! Tables (schema version [`STORE_SCHEMA_VERSION`], documented in `docs/campaigns.md`):
//! `meta` (key/value: configuration, plan hash, seed, tool version, …), `subjects` (what
//! the injections run: kind, name, source, digest), `cells` (one row per (subject,
//! model) with its planned count and why it may be short), `plan` (one row per
//! injection: the fault in compact and JSON form), `results` (at most one per plan row:
//! outcome, cause, activations, instructions, SDC magnitude, timing, session),
//! `sessions` (one per `run`/`resume`: host, process, device identity, tool version,
//! status) and `targets` (the calibration of every golden + dry run: hang limits).
//! `coverage` (schema 3: the health check's result on each fault of a coverage campaign).
//! Stores of schema 1 (workloads only) and 2 are upgraded on open ([`schema`]); every open
//! first runs SQLite's `quick_check`, so a damaged file is reported, never read.
//!
//! Durability: the journal is a write-ahead log (`journal_mode=WAL`); each result is
//! one autocommit `INSERT`, i.e. its own transaction, so a process killed at any moment
//! (SIGKILL included) leaves every committed result and no partial one. With the default
//! `synchronous=NORMAL` a commit reaches the operating system before the next starts,
//! which survives the death of the process but not necessarily a power loss of the host
//! (the last commits may be lost, never corrupted: they are simply run again);
//! [`Durability::Full`] also syncs every commit to disk.

mod coverage;
mod merge;
mod schema;

pub(crate) use coverage::outcome_of as coverage_outcome;
pub use merge::{merge_stores, MergeSummary};
pub use schema::{COVERAGE_COLUMNS, RESULT_COLUMNS, STORE_SCHEMA_VERSION};
use schema::{COVERAGE_TABLE, SCHEMA};

use super::config::{in_shard, shard_name, CampaignConfig};
use super::error::CampaignError;
use super::plan::{CampaignPlan, CellPlan, PlanRow};
use crate::model::Model;
use crate::run::{Injection, SLOW_FACTOR};
use crate::spec::FaultSpec;
use reports::{CampaignMeta, Outcome, RunRecord, Shard};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// How hard each commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives the process being killed (the default).
    #[default]
    Normal,
    /// `synchronous=FULL`: also survives a power loss, at the cost of a disk sync per
    /// result.
    Full,
}

/// A run of `campaign run`/`resume` as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Its number in the store (1, 2, …).
    pub id: i64,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// End time, when it ended normally.
    pub finished: Option<String>,
    /// `running` (or killed: a dead process leaves it so), `finished`, `interrupted`,
    /// `incomplete` (some rows could not run), `stale` (found dead by a later session).
    pub status: String,
    /// The command line.
    pub command: Option<String>,
    /// The host.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The shard it ran.
    pub shard: Option<Shard>,
    /// Worker threads.
    pub jobs: u32,
    /// `thread` (in-process device per worker) or `process` (worker subprocesses).
    pub isolation: String,
    /// The device as selected.
    pub device: String,
    /// The device's product name.
    pub device_name: String,
    /// The device's UUID.
    pub device_uuid: Option<String>,
    /// The tool version that ran it.
    pub tool_version: String,
    /// Results it committed.
    pub completed: u64,
    /// Why it ended as it did, when not `finished` (the store write that failed, …).
    pub reason: Option<String>,
}

/// One stored result with its plan position.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResult {
    /// Index of the injection in its cell.
    pub index: u64,
    /// The record (`reports` form).
    pub record: RunRecord,
    /// The session that ran it.
    pub session: i64,
    /// The worker thread that ran it.
    pub worker: u32,
    /// When it was committed, RFC 3339 UTC.
    pub finished: String,
    /// The kernel of the fault's site ([`PlanRow::kernel`]); `None` in stores from
    /// before it was recorded.
    pub kernel: Option<String>,
}

/// The header of a store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreMeta {
    /// The configuration.
    pub config: CampaignConfig,
    /// The plan hash ([`CampaignPlan::hash`]).
    pub plan_hash: String,
    /// The tool version that planned it.
    pub tool_version: String,
    /// When it was planned, RFC 3339 UTC.
    pub created: String,
    /// The planning command line.
    pub command: Option<String>,
    /// The shard this store is bound to (by its first sharded run).
    pub shard: Option<Shard>,
    /// The stores a merged store was joined from.
    pub merged_from: Vec<String>,
}

/// An open campaign store.
pub struct CampaignStore {
    conn: Connection,
    path: PathBuf,
    meta: StoreMeta,
    /// A read-only open of an older schema reads an upgraded copy (removed on drop).
    copy: Option<UpgradedCopy>,
}

/// Space set aside beside a store during a session; removed when dropped.
pub(crate) struct Reserve {
    path: Option<PathBuf>,
}

impl Drop for Reserve {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A temporary upgraded copy of a store opened read-only; removed when dropped.
struct UpgradedCopy {
    dir: PathBuf,
    file: PathBuf,
}

impl Drop for UpgradedCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// RFC 3339 UTC with milliseconds (`2025-01-31T12:00:00.123Z`) of `t`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (H. Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

fn now() -> String {
    rfc3339(SystemTime::now())
}

fn shard_text(s: Option<Shard>) -> Option<String> {
    s.map(shard_name)
}

fn parse_shard_text(s: Option<String>) -> Option<Shard> {
    s.and_then(|t| super::config::parse_shard(&t).ok())
}

fn model_of(id: &str) -> Option<Model> {
    Model::from_id(id)
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    false
}

impl CampaignStore {
    fn err(&self, source: rusqlite::Error) -> CampaignError {
        CampaignError::CampaignStore {
            path: self.path.clone(),
            error: source,
        }
    }

    /// Every row that `sql` (without parameters) selects, through `row`.
    fn query<T>(
        &self,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, CampaignError> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st.query_map([], row).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Writes `plan` into a new store at `path` (never overwriting a file): the store is
    /// built beside it and linked into place only when complete, so an interrupted plan
    /// leaves no half-written store.
    pub fn create(
        path: &Path,
        plan: &CampaignPlan,
        command: Option<&str>,
    ) -> Result<CampaignStore, CampaignError> {
        Self::check_creatable(path)?;
        let tmp = Self::partial_path(path);
        let result = Self::write_new(&tmp, plan, command).and_then(|()| {
            // a hard link never replaces an existing file; where links are not
            // supported, fall back to a rename after checking again
            let linked = std::fs::hard_link(&tmp, path).or_else(|e| {
                if e.kind() != std::io::ErrorKind::AlreadyExists && !path.exists() {
                    std::fs::rename(&tmp, path)
                } else {
                    Err(e)
                }
            });
            linked.map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    CampaignError::Exists {
                        path: path.to_path_buf(),
                    }
                } else {
                    CampaignError::Format {
                        path: path.to_path_buf(),
                        reason: format!("cannot create the store: {e}"),
                    }
                }
            })
        });
        let _ = std::fs::remove_file(&tmp);
        result?;
        CampaignStore::open(path)
    }

    /// Checks that a new store can be created at `path` (no file there, a directory that
    /// takes a new file), so a command can say so before it spends time planning.
    pub fn check_creatable(path: &Path) -> Result<(), CampaignError> {
        if path.exists() {
            return Err(CampaignError::Exists {
                path: path.to_path_buf(),
            });
        }
        let probe = Self::partial_path(path);
        let _ = std::fs::remove_file(&probe);
        // Say plainly when the directory takes no new file (SQLite would only say it
        // cannot open a hidden temporary file).
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .map_err(|e| {
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
                    _ => ".".into(),
                };
                CampaignError::Format {
                    path: path.to_path_buf(),
                    reason: match e.kind() {
                        std::io::ErrorKind::PermissionDenied => {
                            format!("cannot create the store: directory {dir} is not writable")
                        }
                        std::io::ErrorKind::NotFound => {
                            format!("cannot create the store: directory {dir} does not exist")
                        }
                        _ => format!("cannot create the store in {dir}: {e}"),
                    },
                }
            })?;
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }

    /// The hidden file a new store is built in before it is linked into place.
    fn partial_path(path: &Path) -> PathBuf {
        path.with_file_name(format!(
            ".{}.partial-{}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "campaign.db".into()),
            std::process::id()
        ))
    }

    fn write_new(
        tmp: &Path,
        plan: &CampaignPlan,
        command: Option<&str>,
    ) -> Result<(), CampaignError> {
        let e = |source| CampaignError::CampaignStore {
            path: tmp.to_path_buf(),
            error: source,
        };
        let mut conn = Connection::open(tmp).map_err(e)?;
        conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(e)?;
        let tx = conn.transaction().map_err(e)?;
        tx.execute_batch(SCHEMA).map_err(e)?;
        tx.execute_batch(COVERAGE_TABLE).map_err(e)?;
        let config = &plan.config;
        let mut meta: Vec<(&str, String)> = vec![
            ("schema_version", STORE_SCHEMA_VERSION.to_string()),
            ("plan_hash", plan.hash()),
            (
                "config",
                serde_json::to_string(config).expect("config serializes"),
            ),
            ("seed", config.seed.to_string()),
            ("sampling", config.sampling.name().to_string()),
            ("sampling_rules", config.rules.to_string()),
            ("site_selection", config.sites.to_string()),
            ("device", config.device.clone()),
            ("profile", config.profile.clone()),
            ("input_seed", config.input_seed.to_string()),
            (
                "injections_per_cell",
                config.injections.per_cell().to_string(),
            ),
            ("hang_factor", config.hang_factor.to_string()),
            (
                "hang_floor_instructions",
                config.hang_floor_instructions.to_string(),
            ),
            ("hang_floor_wall_ms", config.hang_floor_wall_ms.to_string()),
            ("slow_factor", SLOW_FACTOR.to_string()),
            ("tool_version", env!("CARGO_PKG_VERSION").to_string()),
            ("created", now()),
        ];
        if let Some(c) = command {
            meta.push(("command", c.to_string()));
        }
        for (k, v) in meta {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .map_err(e)?;
        }
        for (ord, s) in config.subjects.iter().enumerate() {
            tx.execute(
                "INSERT INTO subjects (name, ord, kind, source, digest) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.name, ord as i64, s.kind, s.source, s.digest],
            )
            .map_err(e)?;
        }
        for (ord, c) in plan.cells.iter().enumerate() {
            tx.execute(
                "INSERT INTO cells (subject, model, ord, size, candidate_sites, exercised_sites, planned, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    c.subject,
                    c.model.id(),
                    ord as i64,
                    c.size.map(|s| s as i64),
                    c.candidate_sites as i64,
                    c.exercised_sites as i64,
                    c.planned as i64,
                    c.note
                ],
            )
            .map_err(e)?;
        }
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO plan (subject, model, idx, spec, spec_json, sm, kernel)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(e)?;
            for r in &plan.rows {
                st.execute(params![
                    r.subject,
                    r.model.id(),
                    r.index as i64,
                    r.spec.to_string(),
                    r.spec.to_json(),
                    r.spec.sm,
                    r.kernel
                ])
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        conn.close().map_err(|(_, source)| e(source))?;
        Ok(())
    }

    /// Opens an existing store for reading and writing.
    pub fn open(path: &Path) -> Result<CampaignStore, CampaignError> {
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Opens an existing store for reading only (reports of stores on read-only media).
    pub fn open_read_only(path: &Path) -> Result<CampaignStore, CampaignError> {
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<CampaignStore, CampaignError> {
        if path.is_dir() {
            return Err(CampaignError::Format {
                path: path.to_path_buf(),
                reason: "is a directory, not a campaign store".into(),
            });
        }
        if !path.is_file() {
            return Err(CampaignError::Missing {
                path: path.to_path_buf(),
            });
        }
        let read_only = flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY);
        let mut conn = connect(path, flags)?;
        let bad = |reason: String| CampaignError::Format {
            path: path.to_path_buf(),
            reason,
        };
        match schema_version(&conn, path)? {
            v if v == STORE_SCHEMA_VERSION => {}
            v @ 1..=3 if !read_only => {
                schema::upgrade(&mut conn, v).map_err(bad)?;
            }
            v @ 1..=3 => {
                // Reading only: upgrade a private copy, leave the file as it is.
                drop(conn);
                let copy = upgraded_copy(path, v)?;
                let conn = connect(&copy.file, flags)?;
                let meta = read_meta(&conn, path)?;
                return Ok(CampaignStore {
                    conn,
                    path: path.to_path_buf(),
                    meta,
                    copy: Some(copy),
                });
            }
            v => {
                return Err(bad(format!(
                    "campaign store schema version {v}; this build reads versions 1 to {STORE_SCHEMA_VERSION} (a newer gpufault wrote it)"
                )))
            }
        }
        let meta = read_meta(&conn, path)?;
        Ok(CampaignStore {
            conn,
            path: path.to_path_buf(),
            meta,
            copy: None,
        })
    }

    /// The file SQLite reads (the store itself, or the upgraded copy of an older store
    /// opened read-only).
    pub(crate) fn data_path(&self) -> &Path {
        self.copy.as_ref().map_or(&self.path, |c| &c.file)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store's header.
    pub fn meta(&self) -> &StoreMeta {
        &self.meta
    }

    /// Sets how hard each commit is pushed to disk.
    pub fn set_durability(&self, d: Durability) -> Result<(), CampaignError> {
        let v = match d {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        self.conn
            .pragma_update(None, "synchronous", v)
            .map_err(|e| self.err(e))
    }

    /// The cells in campaign order.
    pub fn cells(&self) -> Result<Vec<CellPlan>, CampaignError> {
        type Row = (String, String, Option<i64>, i64, i64, i64, Option<String>);
        let rows: Vec<Row> = self.query(
            "SELECT subject, model, size, candidate_sites, exercised_sites, planned, note
             FROM cells ORDER BY ord",
            |r| r.try_into(),
        )?;
        let mut out = Vec::new();
        for (subject, model, size, cand, ex, planned, note) in rows {
            out.push(CellPlan {
                model: model_of(&model)
                    .ok_or_else(|| self.bad(format!("unknown model `{model}` in cells")))?,
                subject,
                size: size.map(|s| s as usize),
                candidate_sites: cand as u64,
                exercised_sites: ex as u64,
                planned: planned as u64,
                note,
            });
        }
        Ok(out)
    }

    fn bad(&self, reason: String) -> CampaignError {
        CampaignError::Format {
            path: self.path.clone(),
            reason,
        }
    }

    fn rows(
        &self,
        pending_only: bool,
        shard: Option<Shard>,
    ) -> Result<Vec<PlanRow>, CampaignError> {
        let sql = if pending_only {
            "SELECT p.subject, p.model, p.idx, p.spec_json, p.kernel FROM plan p
             JOIN cells c ON c.subject = p.subject AND c.model = p.model
             LEFT JOIN results r ON r.subject = p.subject AND r.model = p.model AND r.idx = p.idx
             WHERE r.idx IS NULL ORDER BY c.ord, p.idx"
        } else {
            "SELECT p.subject, p.model, p.idx, p.spec_json, p.kernel FROM plan p
             JOIN cells c ON c.subject = p.subject AND c.model = p.model
             ORDER BY c.ord, p.idx"
        };
        type Row = (String, String, i64, String, Option<String>);
        let rows: Vec<Row> = self.query(sql, |r| r.try_into())?;
        let mut out = Vec::new();
        for (subject, model, idx, json, kernel) in rows {
            let index = idx as u64;
            if !in_shard(shard, index) {
                continue;
            }
            let spec: FaultSpec = serde_json::from_str(&json).map_err(|e| {
                self.bad(format!(
                    "plan row {subject}/{model}/{index}: bad fault JSON: {e}"
                ))
            })?;
            out.push(PlanRow {
                model: model_of(&model)
                    .ok_or_else(|| self.bad(format!("unknown model `{model}` in plan")))?,
                subject,
                index,
                spec,
                kernel,
            });
        }
        Ok(out)
    }

    /// Every planned injection (of `shard`, or all), in campaign order.
    pub fn plan_rows(&self, shard: Option<Shard>) -> Result<Vec<PlanRow>, CampaignError> {
        self.rows(false, shard)
    }

    /// The planned injections (of `shard`, or all) that have no result yet, in campaign
    /// order.
    pub fn pending(&self, shard: Option<Shard>) -> Result<Vec<PlanRow>, CampaignError> {
        self.rows(true, shard)
    }

    /// (planned, done) injections of `shard` (or all).
    pub fn progress(&self, shard: Option<Shard>) -> Result<(u64, u64), CampaignError> {
        let (cond, n, i) = match shard {
            Some(s) => (
                "WHERE idx % ?1 = ?2",
                i64::from(s.count),
                i64::from(s.index),
            ),
            None => ("WHERE ?1 = ?1 AND ?2 = ?2", 1, 0),
        };
        let count = |table: &str| -> Result<u64, CampaignError> {
            self.conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {table} {cond}"),
                    params![n, i],
                    |r| r.get::<_, i64>(0),
                )
                .map(|c| c as u64)
                .map_err(|e| self.err(e))
        };
        Ok((count("plan")?, count("results")?))
    }

    /// Every result, in campaign order.
    pub fn results(&self) -> Result<Vec<StoredResult>, CampaignError> {
        let rows = self.query(
            "SELECT r.subject, r.model, r.idx, p.spec, r.outcome_json, r.activations,
                    r.instructions, r.elapsed_us, r.error, p.sm, r.session, r.worker, r.finished,
                    p.kernel
             FROM results r
             JOIN plan p ON p.subject = r.subject AND p.model = r.model AND p.idx = r.idx
             JOIN cells c ON c.subject = r.subject AND c.model = r.model
             ORDER BY c.ord, r.idx",
            |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ),
                    (
                        r.get::<_, i64>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, i64>(9)?,
                        r.get::<_, i64>(10)?,
                        r.get::<_, i64>(11)?,
                        r.get::<_, String>(12)?,
                        r.get::<_, Option<String>>(13)?,
                    ),
                ))
            },
        )?;
        let mut out = Vec::new();
        for (
            (subject, model, idx, spec, outcome_json, activations, instructions),
            (elapsed_us, error, sm, session, worker, finished, kernel),
        ) in rows
        {
            let outcome: Outcome = serde_json::from_str(&outcome_json).map_err(|e| {
                self.bad(format!(
                    "result {subject}/{model}/{idx}: bad outcome JSON: {e}"
                ))
            })?;
            // a transient fault has no SM: its thread is whichever reaches the instance
            let has_sm = Model::from_id(&model).is_none_or(|m| !m.is_transient());
            out.push(StoredResult {
                index: idx as u64,
                record: RunRecord {
                    workload: subject,
                    model,
                    spec,
                    outcome,
                    activations: activations.map(|a| a as u64),
                    instructions: instructions.map(|a| a as u64),
                    elapsed_us: elapsed_us as u64,
                    error,
                    fault_sm: has_sm.then_some(sm as u32),
                },
                session,
                worker: worker as u32,
                finished,
                kernel,
            });
        }
        Ok(out)
    }

    /// Every session, oldest first.
    pub fn sessions(&self) -> Result<Vec<Session>, CampaignError> {
        self.query(
            "SELECT id, started, finished, status, command, host, pid, shard, jobs, isolation,
                    device, device_name, device_uuid, tool_version, completed, reason
             FROM sessions ORDER BY id",
            |r| {
                Ok(Session {
                    id: r.get(0)?,
                    started: r.get(1)?,
                    finished: r.get(2)?,
                    status: r.get(3)?,
                    command: r.get(4)?,
                    host: r.get(5)?,
                    pid: r.get::<_, i64>(6)? as u32,
                    shard: parse_shard_text(r.get(7)?),
                    jobs: r.get::<_, i64>(8)? as u32,
                    isolation: r.get(9)?,
                    device: r.get(10)?,
                    device_name: r.get(11)?,
                    device_uuid: r.get(12)?,
                    tool_version: r.get(13)?,
                    completed: r.get::<_, i64>(14)? as u64,
                    reason: r.get(15)?,
                })
            },
        )
    }

    /// Starts a session: refuses when a live process on this host runs the store (a
    /// session still `running` whose process exists), marks dead ones `stale`, binds the
    /// store to `session.shard` on its first sharded run (and refuses another shard
    /// later), and records the new session.
    pub(crate) fn begin_session(&mut self, s: &Session) -> Result<i64, CampaignError> {
        let path = self.path.clone();
        let e = |source| CampaignError::CampaignStore {
            path: path.clone(),
            error: source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        let running: Vec<(i64, String, i64)> = {
            let mut st = tx
                .prepare("SELECT id, host, pid FROM sessions WHERE status = 'running'")
                .map_err(e)?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(e)?;
            rows.collect::<Result<_, _>>().map_err(e)?
        };
        for (id, host, pid) in running {
            let pid = pid as u32;
            if host == s.host && pid != std::process::id() && process_alive(pid) {
                return Err(CampaignError::Busy {
                    path: self.path.clone(),
                    pid,
                    host,
                    session: id,
                });
            }
            tx.execute("UPDATE sessions SET status = 'stale' WHERE id = ?1", [id])
                .map_err(e)?;
        }
        let bound: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'shard'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(e)?;
        match (parse_shard_text(bound), s.shard) {
            (Some(b), Some(want)) if b != want => {
                return Err(CampaignError::config(
                    "--shard",
                    format!(
                        "{} holds shard {} of its campaign, not {}; run each shard in its own copy of the plan",
                        self.path.display(),
                        shard_name(b),
                        shard_name(want)
                    ),
                ))
            }
            (Some(b), None) => {
                return Err(CampaignError::config(
                    "--shard",
                    format!(
                        "{} holds shard {} of its campaign; run it with --shard {} (or use `campaign resume`)",
                        self.path.display(),
                        shard_name(b),
                        shard_name(b)
                    ),
                ))
            }
            (None, Some(want)) => {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('shard', ?1)",
                    [shard_name(want)],
                )
                .map_err(e)?;
            }
            _ => {}
        }
        tx.execute(
            "INSERT INTO sessions (started, status, command, host, pid, shard, jobs, isolation,
                                   device, device_name, device_uuid, tool_version)
             VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                s.started,
                s.command,
                s.host,
                s.pid,
                shard_text(s.shard),
                s.jobs,
                s.isolation,
                s.device,
                s.device_name,
                s.device_uuid,
                s.tool_version
            ],
        )
        .map_err(e)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(e)?;
        self.meta.shard = self.meta.shard.or(s.shard);
        Ok(id)
    }

    /// Ends a session with `status` (and why, when it did not finish normally).
    pub(crate) fn end_session(
        &self,
        id: i64,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), CampaignError> {
        self.conn
            .execute(
                "UPDATE sessions SET status = ?2, finished = ?3, reason = ?4,
                   completed = (SELECT COUNT(*) FROM results WHERE session = ?1)
                 WHERE id = ?1",
                params![id, status, now(), reason],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Sets space aside beside the store (a file of `bytes`), so that when the disk
    /// fills during a session, freeing it ([`Reserve`]'s drop) leaves room to record
    /// why the session stopped.
    pub(crate) fn reserve(&self, bytes: usize) -> Reserve {
        let path = self.path.with_file_name(format!(
            ".{}.reserve-{}",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let ok = std::fs::write(&path, vec![0u8; bytes])
            .and_then(|()| std::fs::File::open(&path)?.sync_all())
            .is_ok();
        if !ok {
            let _ = std::fs::remove_file(&path);
        }
        Reserve {
            path: ok.then_some(path),
        }
    }

    /// Commits one result in its own transaction. `false` when the row already had a
    /// result (it is then left as it was: nothing is stored twice).
    pub(crate) fn insert_result(
        &self,
        session: i64,
        worker: u32,
        row: &PlanRow,
        inj: &Injection,
    ) -> Result<bool, CampaignError> {
        let o = &inj.outcome;
        let cause = match o {
            Outcome::Due { cause } => Some(cause.name()),
            Outcome::Hang { cause } => Some(cause.name()),
            _ => None,
        };
        let m = match o {
            Outcome::Sdc { magnitude } => Some(magnitude),
            _ => None,
        };
        let n = self
            .conn
            .execute(
                "INSERT INTO results (subject, model, idx, outcome, cause, slow, activations,
                    instructions, elapsed_us, error, sdc_elements, sdc_total, sdc_bits,
                    sdc_max_abs, sdc_max_rel, sdc_nan_inf, outcome_json, session, worker, finished)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20)
                 ON CONFLICT DO NOTHING",
                params![
                    row.subject,
                    row.model.id(),
                    row.index as i64,
                    o.kind().name(),
                    cause,
                    matches!(o, Outcome::Masked { slow: true }),
                    inj.activations.map(|a| a as i64),
                    inj.instructions.map(|a| a as i64),
                    inj.elapsed.as_micros() as i64,
                    inj.error,
                    m.map(|m| m.elements as i64),
                    m.map(|m| m.total as i64),
                    m.map(|m| m.flipped_bits as i64),
                    m.map(|m| m.max_abs),
                    m.map(|m| m.max_rel),
                    m.map(|m| m.nan_inf as i64),
                    serde_json::to_string(o).expect("outcomes serialize"),
                    session,
                    worker,
                    now()
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    /// Records the calibration of one golden + dry run.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_target(
        &self,
        session: i64,
        worker: u32,
        subject: &str,
        model: Model,
        golden_instructions: Option<u64>,
        dry_instructions: Option<u64>,
        dry_wall_us: u64,
        limits: gpu::Limits,
    ) -> Result<(), CampaignError> {
        self.conn
            .execute(
                "INSERT INTO targets (session, worker, subject, model, golden_instructions,
                    dry_instructions, dry_wall_us, hang_instructions, hang_wall_us, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    session,
                    worker,
                    subject,
                    model.id(),
                    golden_instructions.map(|n| n as i64),
                    dry_instructions.map(|n| n as i64),
                    dry_wall_us as i64,
                    limits.instructions.map(|n| n as i64),
                    limits.wall.map(|w| w.as_micros() as i64),
                    now()
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The campaign's header in `reports` form: configuration, device identities and
    /// hosts of the sessions that produced results, and in `extra` the plan hash,
    /// profile, sizes, hang floors, completion and the cells that got fewer injections.
    pub fn campaign_meta(&self) -> Result<CampaignMeta, CampaignError> {
        let c = &self.meta.config;
        let sessions = self.sessions()?;
        let used: BTreeSet<i64> = self
            .query("SELECT DISTINCT session FROM results", |r| r.get(0))?
            .into_iter()
            .collect();
        let used: Vec<&Session> = sessions.iter().filter(|s| used.contains(&s.id)).collect();
        let distinct = |f: &dyn Fn(&Session) -> Option<String>| -> Vec<String> {
            let mut v: Vec<String> = Vec::new();
            for s in &used {
                if let Some(x) = f(s) {
                    if !v.contains(&x) {
                        v.push(x);
                    }
                }
            }
            v
        };
        let names = distinct(&|s| Some(s.device_name.clone()));
        let uuids = distinct(&|s| s.device_uuid.clone());
        let hosts = distinct(&|s| Some(s.host.clone()));
        let (planned, done) = self.progress(self.meta.shard)?;
        let mut extra = std::collections::BTreeMap::new();
        extra.insert("plan_hash".into(), self.meta.plan_hash.clone());
        extra.insert("site_profile".into(), c.profile.clone());
        extra.insert("input_seed".into(), c.input_seed.to_string());
        extra.insert(
            "size".into(),
            c.size
                .map(|s| s.to_string())
                .unwrap_or_else(|| "workload default".into()),
        );
        let kernels: Vec<String> = c
            .subjects
            .iter()
            .filter(|s| s.kind != crate::subject::WORKLOAD_KIND)
            .map(|s| match &s.source {
                Some(src) => format!(
                    "{} {} ({src}, digest {})",
                    s.kind,
                    s.name,
                    &s.digest[..12.min(s.digest.len())]
                ),
                None => format!(
                    "{} {} (digest {})",
                    s.kind,
                    s.name,
                    &s.digest[..12.min(s.digest.len())]
                ),
            })
            .collect();
        if !kernels.is_empty() {
            extra.insert("subjects".into(), kernels.join("; "));
        }
        if c.node_config.is_some() {
            extra.insert(
                "node_config".into(),
                "yes (stored in the campaign's configuration)".into(),
            );
        }
        extra.insert(
            "hang_floor".into(),
            format!(
                "{} instructions, {} ms",
                c.hang_floor_instructions, c.hang_floor_wall_ms
            ),
        );
        extra.insert("completed".into(), format!("{done}/{planned}"));
        let short: Vec<String> = self
            .cells()?
            .into_iter()
            .filter_map(|cell| {
                cell.note
                    .map(|n| format!("{}/{}: {n}", cell.subject, cell.model))
            })
            .collect();
        if !short.is_empty() {
            extra.insert("not_planned".into(), short.join("; "));
        }
        if !self.meta.merged_from.is_empty() {
            extra.insert("merged_from".into(), self.meta.merged_from.join(", "));
        }
        let tools = distinct(&|s| Some(s.tool_version.clone()));
        if !tools.is_empty() {
            extra.insert("run_tool_versions".into(), tools.join(", "));
        }
        Ok(CampaignMeta {
            campaign_id: self.meta.plan_hash.chars().take(12).collect(),
            seed: c.seed,
            device: c.device.clone(),
            device_name: names.join(", "),
            device_uuid: (uuids.len() == 1).then(|| uuids[0].clone()),
            tool_version: self.meta.tool_version.clone(),
            created: self.meta.created.clone(),
            sampling: c.sampling.name().to_string(),
            sampling_rules: c.rules.to_string(),
            site_selection: if c.sites.is_default() {
                String::new()
            } else {
                c.sites.to_string()
            },
            workloads: c.subjects.iter().map(|s| s.name.clone()).collect(),
            models: c.models.iter().map(|m| m.id().to_string()).collect(),
            injections_per_cell: c.injections.per_cell(),
            hang_factor: c.hang_factor as f64,
            slow_factor: Some(SLOW_FACTOR as f64),
            shard: self.meta.shard,
            host: (!hosts.is_empty()).then(|| hosts.join(", ")),
            command: self.meta.command.clone(),
            extra,
        })
    }
}

/// Opens the SQLite file of a store and checks it is not damaged.
fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, CampaignError> {
    let mut header = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut header))
        .unwrap_or(0);
    if n > 0 && header[..n] != b"SQLite format 3\0"[..n] {
        return Err(CampaignError::Format {
            path: path.to_path_buf(),
            reason: "not a SQLite database (not a campaign store)".into(),
        });
    }
    let e = |source| CampaignError::CampaignStore {
        path: path.to_path_buf(),
        error: source,
    };
    let mut conn =
        Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(e)?;
    if !flags.contains(OpenFlags::SQLITE_OPEN_READ_WRITE) && needs_immutable(&conn, path) {
        conn = Connection::open_with_flags(
            immutable_uri(path),
            flags | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(e)?;
    }
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(e)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(e)?;
    // SQLite opens a file it may not write read-only without a word; a store opened to
    // be written says so here, before its check reads as damage.
    if flags.contains(OpenFlags::SQLITE_OPEN_READ_WRITE)
        && conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false)
    {
        return Err(CampaignError::ReadOnly {
            path: path.to_path_buf(),
        });
    }
    schema::quick_check(&conn).map_err(|detail| CampaignError::Damaged {
        path: path.to_path_buf(),
        detail,
    })?;
    Ok(conn)
}

/// Whether a store opened for reading must be opened as immutable: a WAL-mode store
/// whose directory this user may not write (read-only media, another user's results)
/// cannot be read normally, since SQLite must create its `-shm` index beside it. That
/// is safe only when no `-wal` file exists: then no writer has it open and nothing
/// sits outside the main file.
fn needs_immutable(conn: &Connection, path: &Path) -> bool {
    let failed = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .err()
        .and_then(|e| e.sqlite_error_code());
    let wal = {
        let mut p = path.as_os_str().to_owned();
        p.push("-wal");
        PathBuf::from(p)
    };
    matches!(
        failed,
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
    ) && !wal.exists()
}

/// `file:` URI of `path` with `immutable=1` (RFC 3986 escapes of what a URI reserves).
fn immutable_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for b in abs.as_os_str().as_encoded_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(*b as char)
            }
            _ => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri + "?immutable=1"
}

/// The store's schema version (its `meta` table says), or why it is not a store.
fn schema_version(conn: &Connection, path: &Path) -> Result<u32, CampaignError> {
    let bad = |reason: String| CampaignError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                bad("not a SQLite database (not a campaign store)".into())
            }
            rusqlite::Error::SqliteFailure(_, Some(m)) if m.contains("no such table") => {
                bad("not a campaign store (it has no meta table)".into())
            }
            e => CampaignError::CampaignStore {
                path: path.to_path_buf(),
                error: e,
            },
        })?;
    let v = v.ok_or_else(|| bad("not a campaign store (no schema_version)".into()))?;
    v.parse()
        .map_err(|_| bad(format!("meta `schema_version` is `{v}`, not a number")))
}

/// A private, upgraded copy of the older store at `path` (for reading only).
fn upgraded_copy(path: &Path, from: u32) -> Result<UpgradedCopy, CampaignError> {
    let fail = |reason: String| CampaignError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let dir = std::env::temp_dir().join(format!(
        "gpufault-upgrade-{}-{}",
        std::process::id(),
        COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(format!("cannot make a temporary copy to upgrade: {e}")))?;
    let copy = UpgradedCopy {
        file: dir.join("store.db"),
        dir,
    };
    // VACUUM INTO writes a consistent copy including what the write-ahead log holds.
    let src = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    src.execute("VACUUM INTO ?1", [copy.file.to_string_lossy()])
        .map_err(|e| fail(format!("cannot copy the store to upgrade it: {e}")))?;
    drop(src);
    let mut conn = connect(&copy.file, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    schema::upgrade(&mut conn, from).map_err(fail)?;
    Ok(copy)
}

static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn read_meta(conn: &Connection, path: &Path) -> Result<StoreMeta, CampaignError> {
    let bad = |reason: String| CampaignError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let get = |key: &str| -> Result<Option<String>, CampaignError> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| CampaignError::CampaignStore {
                path: path.to_path_buf(),
                error: e,
            })
    };
    let need = |key: &str| get(key)?.ok_or_else(|| bad(format!("meta has no `{key}`")));
    let config: CampaignConfig = serde_json::from_str(&need("config")?).map_err(|e| {
        bad(format!(
            "meta `config` is not a campaign configuration: {e}"
        ))
    })?;
    Ok(StoreMeta {
        config,
        plan_hash: need("plan_hash")?,
        tool_version: need("tool_version")?,
        created: need("created")?,
        command: get("command")?,
        shard: parse_shard_text(get("shard")?),
        merged_from: get("merged_from")?
            .map(|s| s.split('\n').map(String::from).collect())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
    }
}
