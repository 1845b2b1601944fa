//! Joining the stores of a sharded campaign.

use super::schema::{COVERAGE_COLUMNS, COVERAGE_TABLE, RESULT_COLUMNS, SCHEMA};
use super::CampaignStore;
use crate::campaign::error::CampaignError;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// What a merge did.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeSummary {
    /// Results in the merged store.
    pub results: u64,
    /// Planned injections.
    pub planned: u64,
    /// Results found in more than one input (identical; kept once).
    pub duplicates: u64,
}

/// The identity of a file: device and inode, so two names of one file (another path, a
/// symbolic or hard link) compare equal.
#[cfg(unix)]
fn file_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(p: &Path) -> Option<(u64, u64)> {
    let _ = p;
    None
}

/// Joins stores holding shards of one plan (equal plan hashes) into a new store at
/// `out`: the plan once, every result once, every session (renumbered). A result found
/// in two inputs must agree in every column that says what the injection gave (outcome,
/// cause, activations, instructions, error text, SDC magnitude; not its timing or
/// session) and is kept once; a disagreement is an error. The same store given twice
/// (one file under two names, or a copy with the same sessions) is refused: its rows
/// would count twice. Inputs are only read; on error `out` is not left behind.
pub fn merge_stores(inputs: &[PathBuf], out: &Path) -> Result<MergeSummary, CampaignError> {
    let Some(first) = inputs.first() else {
        return Err(CampaignError::config("merge", "no input store given"));
    };
    if out.exists() {
        return Err(CampaignError::Exists {
            path: out.to_path_buf(),
        });
    }
    let stores: Vec<CampaignStore> = inputs
        .iter()
        .map(|p| CampaignStore::open_read_only(p))
        .collect::<Result<_, _>>()?;
    let hash = &stores[0].meta.plan_hash;
    for (k, s) in stores.iter().enumerate().skip(1) {
        if &s.meta.plan_hash != hash {
            return Err(CampaignError::Merge {
                path: s.path.clone(),
                reason: format!(
                    "its plan (hash {}) is not the plan of {} (hash {})",
                    &s.meta.plan_hash[..12.min(s.meta.plan_hash.len())],
                    first.display(),
                    &hash[..12.min(hash.len())]
                ),
            });
        }
        for earlier in &stores[..k] {
            if let Some(reason) = same_store(earlier, s)? {
                return Err(CampaignError::Merge {
                    path: s.path.clone(),
                    reason,
                });
            }
        }
    }
    let sources: Vec<PathBuf> = stores.iter().map(|s| s.data_path().to_path_buf()).collect();
    let r = merge_into(inputs, &sources, out);
    drop(stores);
    if r.is_err() {
        let _ = std::fs::remove_file(out);
        for ext in ["-wal", "-shm"] {
            let mut p = out.as_os_str().to_owned();
            p.push(ext);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
    r
}

/// Why `b` is the same store as `a` (which merging would count twice), if it is.
fn same_store(a: &CampaignStore, b: &CampaignStore) -> Result<Option<String>, CampaignError> {
    if let (Some(x), Some(y)) = (file_id(&a.path), file_id(&b.path)) {
        if x == y {
            return Ok(Some(format!(
                "it is the same file as {} (given twice)",
                a.path.display()
            )));
        }
    }
    let sessions = |s: &CampaignStore| -> Result<Vec<(String, String, u32)>, CampaignError> {
        Ok(s.sessions()?
            .into_iter()
            .map(|x| (x.started, x.host, x.pid))
            .collect())
    };
    let (sa, sb) = (sessions(a)?, sessions(b)?);
    if let Some(shared) = sb.iter().find(|x| sa.contains(x)) {
        return Ok(Some(format!(
            "it holds the same session as {} (started {} on {}, process {}): it is a copy of that store, and its results would count twice",
            a.path.display(),
            shared.0,
            shared.1,
            shared.2
        )));
    }
    Ok(None)
}

fn merge_into(
    inputs: &[PathBuf],
    sources: &[PathBuf],
    out: &Path,
) -> Result<MergeSummary, CampaignError> {
    let e_out = |source| CampaignError::CampaignStore {
        path: out.to_path_buf(),
        error: source,
    };
    let conn = Connection::open_with_flags(
        out,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )
    .map_err(e_out)?;
    conn.execute_batch(SCHEMA).map_err(e_out)?;
    conn.execute_batch(COVERAGE_TABLE).map_err(e_out)?;
    let mut duplicates = 0u64;
    let mut merged_from = Vec::new();
    let differs = |columns: &[&str]| {
        columns
            .iter()
            .map(|c| format!("m.{c} IS NOT s.{c}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let conflicting = [
        ("results", differs(&RESULT_COLUMNS)),
        ("coverage", differs(&COVERAGE_COLUMNS)),
    ];
    for (k, (input, source)) in inputs.iter().zip(sources).enumerate() {
        let e_in = |source| CampaignError::CampaignStore {
            path: input.clone(),
            error: source,
        };
        let uri = format!(
            "file:{}?mode=ro",
            source
                .to_string_lossy()
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23")
        );
        conn.execute("ATTACH DATABASE ?1 AS src", [uri])
            .map_err(e_in)?;
        let result = (|| -> Result<(), CampaignError> {
            if k == 0 {
                conn.execute_batch(
                    "INSERT INTO meta SELECT key, value FROM src.meta WHERE key NOT IN ('shard', 'merged_from');
                     INSERT INTO subjects SELECT * FROM src.subjects;
                     INSERT INTO cells SELECT * FROM src.cells;
                     INSERT INTO plan SELECT * FROM src.plan;",
                )
                .map_err(e_in)?;
            }
            let offset: i64 = conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM main.sessions", [], |r| {
                    r.get(0)
                })
                .map_err(e_out)?;
            conn.execute(
                "INSERT INTO main.sessions SELECT id + ?1, started, finished, status, command, host,
                    pid, shard, jobs, isolation, device, device_name, device_uuid, tool_version,
                    completed, reason FROM src.sessions",
                [offset],
            )
            .map_err(e_in)?;
            conn.execute(
                "INSERT INTO main.targets SELECT session + ?1, worker, subject, model,
                    golden_instructions, dry_instructions, dry_wall_us, hang_instructions,
                    hang_wall_us, created FROM src.targets",
                [offset],
            )
            .map_err(e_in)?;
            let mut conflict: Option<(String, String, i64)> = None;
            for (table, differs) in &conflicting {
                conflict = conflict.or(conn
                    .query_row(
                        &format!(
                            "SELECT s.subject, s.model, s.idx FROM src.{table} s
                             JOIN main.{table} m ON m.subject = s.subject AND m.model = s.model AND m.idx = s.idx
                             WHERE {differs} LIMIT 1"
                        ),
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()
                    .map_err(e_in)?);
            }
            if let Some((w, m, i)) = conflict {
                return Err(CampaignError::Merge {
                    path: input.clone(),
                    reason: format!(
                        "its result of {w}/{m} injection {i} differs from the one already merged (the same injection ran twice with different results)"
                    ),
                });
            }
            let dup: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM src.results s JOIN main.results m
                     ON m.subject = s.subject AND m.model = s.model AND m.idx = s.idx",
                    [],
                    |r| r.get(0),
                )
                .map_err(e_in)?;
            duplicates += dup as u64;
            conn.execute(
                "INSERT INTO main.results SELECT subject, model, idx, outcome, cause, slow,
                    activations, instructions, elapsed_us, error, sdc_elements, sdc_total, sdc_bits,
                    sdc_max_abs, sdc_max_rel, sdc_nan_inf, outcome_json, session + ?1, worker, finished
                 FROM src.results WHERE true ON CONFLICT DO NOTHING",
                [offset],
            )
            .map_err(e_in)?;
            conn.execute(
                "INSERT INTO main.coverage SELECT * FROM src.coverage WHERE true ON CONFLICT DO NOTHING",
                [],
            )
            .map_err(e_in)?;
            let shard: Option<String> = conn
                .query_row("SELECT value FROM src.meta WHERE key = 'shard'", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(e_in)?;
            merged_from.push(match shard {
                Some(s) => format!("{} (shard {s})", input.display()),
                None => input.display().to_string(),
            });
            Ok(())
        })();
        conn.execute("DETACH DATABASE src", []).map_err(e_out)?;
        result?;
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('merged_from', ?1)",
        [merged_from.join("\n")],
    )
    .map_err(e_out)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(e_out)?;
    let results: i64 = conn
        .query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
        .map_err(e_out)?;
    let planned: i64 = conn
        .query_row("SELECT COUNT(*) FROM plan", [], |r| r.get(0))
        .map_err(e_out)?;
    conn.close().map_err(|(_, source)| e_out(source))?;
    // check that the result reads back as a store
    CampaignStore::open_read_only(out)?;
    Ok(MergeSummary {
        results: results as u64,
        planned: planned as u64,
        duplicates,
    })
}
