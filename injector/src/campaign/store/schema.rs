//! The store's tables, the upgrade of older stores, and the damage check on open.
//!
//! Schema 2 (this build) keys everything by *subject* (a bundled workload, a kernel
//! manifest, …): `subjects` lists them with kind, source and digest, and `cells`,
//! `plan`, `targets` and `results` name the subject in a `subject` column. Schema 1
//! (gpufault 0.1.0 up to the subject redesign) named workloads only, in `workload`
//! columns; [`upgrade_v1`] rewrites such a store to schema 2 in one transaction
//! (rows, results and sessions unchanged; the configuration gets its `subjects` and the
//! plan hash is recomputed from it).
//!
//! Schema 3 adds the `coverage` table ([`COVERAGE_TABLE`]): one row per result of a
//! coverage campaign (what the health check made of the fault); [`upgrade_v2`] adds it
//! to a schema-2 store (nothing else changes, so injection campaigns read as before).
//!
//! Schema 4 adds the `kernel` column to `plan`: the kernel of the site each fault was
//! drawn at (the per-kernel breakdown of reports); [`upgrade_v3`] adds it, empty, to an
//! older store, whose reports then show its faults under `(not recorded)`.

use super::super::config::CampaignConfig;
use super::super::plan::plan_hash;
use crate::model::Model;
use crate::subject::{SubjectRef, WorkloadSubject};
use rusqlite::{params, Connection};

/// Version of the store's tables; older versions are upgraded, newer ones refused.
pub const STORE_SCHEMA_VERSION: u32 = 4;

/// The tables of schema 2 (a new store has these and [`COVERAGE_TABLE`]).
pub(super) const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE subjects (
    name   TEXT PRIMARY KEY,
    ord    INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    source TEXT,
    digest TEXT NOT NULL
);
CREATE TABLE cells (
    subject         TEXT NOT NULL REFERENCES subjects (name),
    model           TEXT NOT NULL,
    ord             INTEGER NOT NULL,
    size            INTEGER,
    candidate_sites INTEGER NOT NULL,
    exercised_sites INTEGER NOT NULL,
    planned         INTEGER NOT NULL,
    note            TEXT,
    PRIMARY KEY (subject, model)
);
CREATE TABLE plan (
    subject   TEXT NOT NULL,
    model     TEXT NOT NULL,
    idx       INTEGER NOT NULL,
    spec      TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    sm        INTEGER NOT NULL,
    kernel    TEXT,
    PRIMARY KEY (subject, model, idx),
    FOREIGN KEY (subject, model) REFERENCES cells (subject, model)
);
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    started      TEXT NOT NULL,
    finished     TEXT,
    status       TEXT NOT NULL,
    command      TEXT,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    shard        TEXT,
    jobs         INTEGER NOT NULL,
    isolation    TEXT NOT NULL,
    device       TEXT NOT NULL,
    device_name  TEXT NOT NULL,
    device_uuid  TEXT,
    tool_version TEXT NOT NULL,
    completed    INTEGER NOT NULL DEFAULT 0,
    reason       TEXT
);
CREATE TABLE targets (
    session             INTEGER NOT NULL REFERENCES sessions (id),
    worker              INTEGER NOT NULL,
    subject             TEXT NOT NULL,
    model               TEXT NOT NULL,
    golden_instructions INTEGER,
    dry_instructions    INTEGER,
    dry_wall_us         INTEGER NOT NULL,
    hang_instructions   INTEGER,
    hang_wall_us        INTEGER,
    created             TEXT NOT NULL
);
CREATE TABLE results (
    subject      TEXT NOT NULL,
    model        TEXT NOT NULL,
    idx          INTEGER NOT NULL,
    outcome      TEXT NOT NULL,
    cause        TEXT,
    slow         INTEGER NOT NULL DEFAULT 0,
    activations  INTEGER,
    instructions INTEGER,
    elapsed_us   INTEGER NOT NULL,
    error        TEXT,
    sdc_elements INTEGER,
    sdc_total    INTEGER,
    sdc_bits     INTEGER,
    sdc_max_abs  REAL,
    sdc_max_rel  REAL,
    sdc_nan_inf  INTEGER,
    outcome_json TEXT NOT NULL,
    session      INTEGER NOT NULL REFERENCES sessions (id),
    worker       INTEGER NOT NULL,
    finished     TEXT NOT NULL,
    PRIMARY KEY (subject, model, idx),
    FOREIGN KEY (subject, model, idx) REFERENCES plan (subject, model, idx)
);
";

/// The table schema 3 adds: the health check's result on each fault of a coverage
/// campaign, beside its `results` row (outcome `detected` or `escaped`, timing,
/// session), committed in the same transaction.
pub(super) const COVERAGE_TABLE: &str = "
CREATE TABLE coverage (
    subject         TEXT NOT NULL,
    model           TEXT NOT NULL,
    idx             INTEGER NOT NULL,
    scheduling_seed INTEGER NOT NULL,
    detected        INTEGER NOT NULL,
    verdict         TEXT NOT NULL,
    reason          TEXT,
    sms             TEXT NOT NULL,
    units           TEXT NOT NULL,
    kernels         TEXT NOT NULL,
    findings        INTEGER NOT NULL,
    features        TEXT NOT NULL,
    expected_unit   TEXT NOT NULL,
    sm_named        INTEGER NOT NULL,
    sm_first        INTEGER NOT NULL,
    unit_correct    INTEGER NOT NULL,
    baseline        TEXT,
    PRIMARY KEY (subject, model, idx),
    FOREIGN KEY (subject, model, idx) REFERENCES results (subject, model, idx)
);
";

/// The columns of the `coverage` table that say what the check made of a fault: two
/// results of one fault must agree on all of them (and on [`RESULT_COLUMNS`]).
pub const COVERAGE_COLUMNS: [&str; 14] = [
    "scheduling_seed",
    "detected",
    "verdict",
    "reason",
    "sms",
    "units",
    "kernels",
    "findings",
    "features",
    "expected_unit",
    "sm_named",
    "sm_first",
    "unit_correct",
    "baseline",
];

/// The columns of the store's `results` table that say what an injection gave
/// (everything but when, where and how long): two results of one injection must agree
/// on all of them.
pub const RESULT_COLUMNS: [&str; 13] = [
    "outcome",
    "cause",
    "slow",
    "activations",
    "instructions",
    "error",
    "sdc_elements",
    "sdc_total",
    "sdc_bits",
    "sdc_max_abs",
    "sdc_max_rel",
    "sdc_nan_inf",
    "outcome_json",
];

/// Runs SQLite's `quick_check` (every page, index and constraint that can be checked
/// without a full scan of each index); `Err` holds its first complaints, or the error
/// SQLite raised reading a damaged file.
pub(super) fn quick_check(conn: &Connection) -> Result<(), String> {
    let mut st = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| e.to_string())?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| e.to_string())?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(rows.join("; "))
    }
}

/// Adds the `coverage` table to a schema-2 store (in one transaction).
pub(super) fn upgrade_v2(conn: &mut Connection) -> Result<(), String> {
    let result = (|| -> Result<(), rusqlite::Error> {
        let tx = conn.transaction()?;
        tx.execute_batch(COVERAGE_TABLE)?;
        tx.execute(
            "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
            [],
        )?;
        tx.commit()
    })();
    result.map_err(|e| format!("upgrading the store from schema 2: {e}"))
}

/// Adds the `kernel` column to the `plan` of a schema-3 store (a store upgraded from
/// schema 1 has it already: its tables were made anew).
pub(super) fn upgrade_v3(conn: &mut Connection) -> Result<(), String> {
    let result = (|| -> Result<(), rusqlite::Error> {
        let tx = conn.transaction()?;
        let has: bool = tx.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('plan') WHERE name = 'kernel'",
            [],
            |r| r.get(0),
        )?;
        if !has {
            tx.execute_batch("ALTER TABLE plan ADD COLUMN kernel TEXT;")?;
        }
        tx.execute(
            "UPDATE meta SET value = '4' WHERE key = 'schema_version'",
            [],
        )?;
        tx.commit()
    })();
    result.map_err(|e| format!("upgrading the store from schema 3: {e}"))
}

/// Upgrades a store of schema `from` (1, 2 or 3) to [`STORE_SCHEMA_VERSION`].
pub(super) fn upgrade(conn: &mut Connection, from: u32) -> Result<(), String> {
    if from == 1 {
        upgrade_v1(conn)?;
    }
    if from <= 2 {
        upgrade_v2(conn)?;
    }
    upgrade_v3(conn)
}

/// The schema-1 configuration: workload names instead of subjects.
#[derive(serde::Deserialize)]
struct ConfigV1 {
    workloads: Vec<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// Rewrites a schema-1 store to schema 2 in one transaction (nothing changes if any step
/// fails). The bundled workloads are built again to record their digests. Returns the
/// upgraded configuration.
pub(super) fn upgrade_v1(conn: &mut Connection) -> Result<CampaignConfig, String> {
    let text: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'config'", [], |r| {
            r.get(0)
        })
        .map_err(|e| format!("meta `config`: {e}"))?;
    let v1: ConfigV1 = serde_json::from_str(&text)
        .map_err(|e| format!("meta `config` is not a schema-1 configuration: {e}"))?;
    let size = v1
        .rest
        .get("size")
        .and_then(|v| v.as_u64())
        .map(|s| s as usize);
    let input_seed = v1
        .rest
        .get("input_seed")
        .and_then(|v| v.as_u64())
        .unwrap_or(1);
    let subjects: Vec<SubjectRef> = v1
        .workloads
        .iter()
        .map(|name| {
            WorkloadSubject::new(name, size, input_seed)
                .map(|w| crate::subject::Subject::id(&w).clone())
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let mut value = serde_json::Value::Object(v1.rest);
    value["subjects"] = serde_json::to_value(&subjects).map_err(|e| e.to_string())?;
    let config: CampaignConfig =
        serde_json::from_value(value).map_err(|e| format!("upgrading meta `config`: {e}"))?;

    conn.execute_batch("PRAGMA foreign_keys = OFF;")
        .map_err(|e| e.to_string())?;
    let result = (|| -> Result<(), rusqlite::Error> {
        let tx = conn.transaction()?;
        // New tables beside the old ones, then swap: SQLite's recommended way to change
        // a table's columns and constraints.
        let renamed = SCHEMA
            .replace("CREATE TABLE meta (", "CREATE TABLE meta_unused (")
            .replace("CREATE TABLE sessions (", "CREATE TABLE sessions_unused (")
            .replace("CREATE TABLE cells (", "CREATE TABLE cells_v2 (")
            .replace("CREATE TABLE plan (", "CREATE TABLE plan_v2 (")
            .replace("CREATE TABLE targets (", "CREATE TABLE targets_v2 (")
            .replace("CREATE TABLE results (", "CREATE TABLE results_v2 (");
        tx.execute_batch(&renamed)?;
        tx.execute_batch(
            "DROP TABLE meta_unused; DROP TABLE sessions_unused;
             INSERT INTO cells_v2 SELECT workload, model, ord, size, candidate_sites,
                 exercised_sites, planned, note FROM cells;
             INSERT INTO plan_v2 (subject, model, idx, spec, spec_json, sm)
                 SELECT workload, model, idx, spec, spec_json, sm FROM plan;
             INSERT INTO targets_v2 SELECT session, worker, workload, model, golden_instructions,
                 dry_instructions, dry_wall_us, hang_instructions, hang_wall_us, created FROM targets;
             INSERT INTO results_v2 SELECT workload, model, idx, outcome, cause, slow, activations,
                 instructions, elapsed_us, error, sdc_elements, sdc_total, sdc_bits, sdc_max_abs,
                 sdc_max_rel, sdc_nan_inf, outcome_json, session, worker, finished FROM results;
             DROP TABLE results; DROP TABLE targets; DROP TABLE plan; DROP TABLE cells;
             ALTER TABLE cells_v2 RENAME TO cells;
             ALTER TABLE plan_v2 RENAME TO plan;
             ALTER TABLE targets_v2 RENAME TO targets;
             ALTER TABLE results_v2 RENAME TO results;
             ALTER TABLE sessions ADD COLUMN reason TEXT;",
        )?;
        for (ord, s) in subjects.iter().enumerate() {
            tx.execute(
                "INSERT INTO subjects (name, ord, kind, source, digest) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.name, ord as i64, s.kind, s.source, s.digest],
            )?;
        }
        let rows: Vec<(String, String, i64, String)> = {
            let mut st = tx.prepare(
                "SELECT p.subject, p.model, p.idx, p.spec FROM plan p
                 JOIN cells c ON c.subject = p.subject AND c.model = p.model
                 ORDER BY c.ord, p.idx",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let hash = plan_hash(
            &config,
            rows.iter().filter_map(|(s, m, i, spec)| {
                Some((s.as_str(), Model::from_id(m)?, *i as u64, spec.clone()))
            }),
        );
        let old_hash: String =
            tx.query_row("SELECT value FROM meta WHERE key = 'plan_hash'", [], |r| {
                r.get(0)
            })?;
        let config_text = serde_json::to_string(&config).expect("config serializes");
        for (k, v) in [
            ("config", config_text.as_str()),
            ("plan_hash", hash.as_str()),
            ("schema_version", "2"),
        ] {
            tx.execute("UPDATE meta SET value = ?2 WHERE key = ?1", params![k, v])?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('upgraded_from', ?1)",
            [format!("schema 1 (plan hash {old_hash})")],
        )?;
        tx.commit()
    })();
    conn.execute_batch("PRAGMA foreign_keys = ON;")
        .map_err(|e| e.to_string())?;
    result.map_err(|e| format!("upgrading the store from schema 1: {e}"))?;
    Ok(config)
}
