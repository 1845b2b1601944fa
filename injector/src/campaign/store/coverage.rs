//! The rows of coverage campaigns: each fault's `results` row (outcome `detected` or
//! `escaped`) and its `coverage` row (what the health check named), committed together.

use super::{now, CampaignStore};
use crate::campaign::error::CampaignError;
use crate::campaign::plan::PlanRow;
use reports::{CoverageRecord, Outcome};
use rusqlite::params;

impl CampaignStore {
    /// Commits the check's result on one fault (its `results` and `coverage` rows) in
    /// one transaction. `false` when the row already had a result (it is then left as
    /// it was: nothing is stored twice).
    pub(crate) fn insert_coverage(
        &self,
        session: i64,
        worker: u32,
        row: &PlanRow,
        record: &CoverageRecord,
    ) -> Result<bool, CampaignError> {
        let outcome = outcome_of(record);
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let n = tx
            .execute(
                "INSERT INTO results (subject, model, idx, outcome, slow, instructions,
                    elapsed_us, outcome_json, session, worker, finished)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT DO NOTHING",
                params![
                    row.subject,
                    row.model.id(),
                    row.index as i64,
                    outcome.kind().name(),
                    record.instructions.map(|n| n as i64),
                    record.duration_us as i64,
                    serde_json::to_string(&outcome).expect("outcomes serialize"),
                    session,
                    worker,
                    now()
                ],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Ok(false); // dropped: rolled back
        }
        tx.execute(
            "INSERT INTO coverage (subject, model, idx, scheduling_seed, detected, verdict,
                reason, sms, units, kernels, findings, expected_unit, sm_named, sm_first,
                unit_correct, baseline, features)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                row.subject,
                row.model.id(),
                row.index as i64,
                record.scheduling_seed as i64,
                record.detected,
                record.verdict,
                record.reason,
                json(&record.sms),
                json(&record.units),
                json(&record.kernels),
                record.findings as i64,
                record.expected_unit,
                record.sm_named,
                record.sm_first,
                record.unit_correct,
                record.baseline.as_ref().map(json),
                json(&record.features)
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(true)
    }

    /// Every coverage result, in campaign order (empty for an injection campaign).
    pub fn coverage_records(&self) -> Result<Vec<CoverageRecord>, CampaignError> {
        type Row = (
            String,
            i64,
            String,
            i64,
            i64,
            bool,
            String,
            Option<String>,
            (String, String, String),
            i64,
            String,
            (bool, bool, bool),
            (Option<i64>, i64),
            Option<String>,
            String,
        );
        let rows: Vec<Row> = self.query(
            "SELECT v.model, v.idx, p.spec, p.sm, v.scheduling_seed, v.detected, v.verdict,
                    v.reason, v.sms, v.units, v.kernels, v.findings, v.expected_unit,
                    v.sm_named, v.sm_first, v.unit_correct, r.instructions, r.elapsed_us,
                    v.baseline, v.features
             FROM coverage v
             JOIN results r ON r.subject = v.subject AND r.model = v.model AND r.idx = v.idx
             JOIN plan p ON p.subject = v.subject AND p.model = v.model AND p.idx = v.idx
             JOIN cells c ON c.subject = v.subject AND c.model = v.model
             ORDER BY c.ord, v.idx",
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    (r.get(8)?, r.get(9)?, r.get(10)?),
                    r.get(11)?,
                    r.get(12)?,
                    (r.get(13)?, r.get(14)?, r.get(15)?),
                    (r.get(16)?, r.get(17)?),
                    r.get(18)?,
                    r.get(19)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(
                |(
                    model,
                    idx,
                    spec,
                    sm,
                    seed,
                    detected,
                    verdict,
                    reason,
                    (sms, units, kernels),
                    findings,
                    expected_unit,
                    (sm_named, sm_first, unit_correct),
                    (instructions, elapsed_us),
                    baseline,
                    features,
                )| {
                    let bad = |what: &str, e: serde_json::Error| {
                        self.bad(format!("coverage row {model}/{idx}: bad `{what}`: {e}"))
                    };
                    let baseline = baseline
                        .map(|b| serde_json::from_str(&b).map_err(|e| bad("baseline", e)))
                        .transpose()?;
                    let features =
                        serde_json::from_str(&features).map_err(|e| bad("features", e))?;
                    Ok(CoverageRecord {
                        features,
                        sms: serde_json::from_str(&sms).map_err(|e| bad("sms", e))?,
                        units: serde_json::from_str(&units).map_err(|e| bad("units", e))?,
                        kernels: serde_json::from_str(&kernels).map_err(|e| bad("kernels", e))?,
                        model,
                        index: idx as u64,
                        spec,
                        fault_sm: sm as u32,
                        expected_unit,
                        scheduling_seed: seed as u64,
                        detected,
                        verdict,
                        reason,
                        findings: findings as u64,
                        sm_named,
                        sm_first,
                        unit_correct,
                        instructions: instructions.map(|n| n as u64),
                        duration_us: elapsed_us as u64,
                        baseline,
                        diagnosis: None,
                    })
                },
            )
            .collect()
    }
}

/// The outcome a coverage result is stored under in `results`: detected (with the SM
/// and unit named first) or escaped.
pub(crate) fn outcome_of(r: &CoverageRecord) -> Outcome {
    if r.detected {
        Outcome::Detected {
            sm: r.sms.first().copied(),
            unit: r.units.first().cloned().unwrap_or_default(),
        }
    } else {
        Outcome::Escaped
    }
}

/// JSON text of a list column.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("lists serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::config::{CampaignConfig, CampaignKind, Injections};
    use crate::campaign::plan::{CampaignPlan, CellPlan};
    use crate::campaign::store::{Session, STORE_SCHEMA_VERSION};
    use crate::model::Model;
    use crate::spec::FaultSpec;
    use crate::subject::SubjectRef;
    use rusqlite::Connection;
    use std::path::{Path, PathBuf};

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "gpufault-coverage-store-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn plan() -> CampaignPlan {
        let subject = SubjectRef {
            kind: "suite".into(),
            name: "suite".into(),
            source: None,
            digest: "d".into(),
        };
        let config = CampaignConfig {
            kind: CampaignKind::Coverage,
            sampling: crate::Sampling::Physical,
            ..CampaignConfig::new(vec![subject], vec![Model::Iat], Injections::Fixed { n: 2 })
        };
        let spec = |sm| {
            FaultSpec::parse(&format!(
                "iat:sm={sm},sp=1,warps=0x1,lanes=0x3,dim=x,mask=0x4,pol=sa1"
            ))
            .unwrap()
        };
        let rows: Vec<PlanRow> = (0..2)
            .map(|i| PlanRow {
                subject: "suite".into(),
                model: Model::Iat,
                index: i,
                spec: spec(i as u32 + 2),
                kernel: None,
            })
            .collect();
        CampaignPlan {
            cells: vec![CellPlan {
                subject: "suite".into(),
                model: Model::Iat,
                size: None,
                candidate_sites: 3,
                exercised_sites: 0,
                planned: 2,
                note: None,
            }],
            rows,
            config,
        }
    }

    fn record(row: &PlanRow, detected: bool) -> CoverageRecord {
        CoverageRecord {
            model: "iat".into(),
            index: row.index,
            spec: row.spec.to_string(),
            fault_sm: row.spec.sm,
            expected_unit: "warp-scheduler".into(),
            scheduling_seed: u64::MAX - row.index, // above i64::MAX: stored as its bits
            detected,
            verdict: if detected { "faulty" } else { "healthy" }.into(),
            reason: None,
            sms: if detected {
                vec![row.spec.sm, 9]
            } else {
                vec![]
            },
            units: if detected {
                vec!["warp-scheduler".into()]
            } else {
                vec![]
            },
            kernels: if detected {
                vec!["sig_ids".into()]
            } else {
                vec![]
            },
            findings: if detected { 2 } else { 0 },
            features: if detected {
                vec!["sms:1".into(), "word:sig_ids/tid.x".into()]
            } else {
                vec![]
            },
            sm_named: detected,
            sm_first: detected,
            unit_correct: detected,
            instructions: Some(1234),
            duration_us: 5678,
            diagnosis: None,
            baseline: detected.then(|| reports::BaselineRecord {
                name: "gpu-burn".into(),
                detected_vs_first: false,
                detected_vs_cpu: true,
                faulty_elements_vs_first: 0,
                faulty_elements_vs_cpu: 12,
                iterations: 3,
                error: None,
            }),
        }
    }

    fn session(store: &mut CampaignStore) -> i64 {
        store
            .begin_session(&Session {
                id: 0,
                started: now(),
                finished: None,
                status: "running".into(),
                command: None,
                host: "h".into(),
                pid: 1,
                shard: None,
                jobs: 1,
                isolation: "thread".into(),
                device: "sim".into(),
                device_name: "sim".into(),
                device_uuid: None,
                tool_version: "t".into(),
                completed: 0,
                reason: None,
            })
            .unwrap()
    }

    fn version(path: &Path) -> String {
        Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn coverage_results_round_trip_once_each_with_their_outcome() {
        let dir = scratch("round-trip");
        let path = dir.join("c.db");
        let plan = plan();
        let mut store = CampaignStore::create(&path, &plan, None).unwrap();
        let s = session(&mut store);
        let (a, b) = (record(&plan.rows[0], true), record(&plan.rows[1], false));
        assert!(store.insert_coverage(s, 0, &plan.rows[0], &a).unwrap());
        assert!(store.insert_coverage(s, 1, &plan.rows[1], &b).unwrap());
        // a second result of a row is dropped, the first kept
        assert!(!store.insert_coverage(s, 0, &plan.rows[0], &b).unwrap());
        assert_eq!(store.coverage_records().unwrap(), vec![a.clone(), b]);
        let results = store.results().unwrap();
        assert_eq!(
            results[0].record.outcome,
            Outcome::Detected {
                sm: Some(2),
                unit: "warp-scheduler".into()
            }
        );
        assert_eq!(results[1].record.outcome, Outcome::Escaped);
        assert_eq!(store.progress(None).unwrap(), (2, 2));
        assert!(store.pending(None).unwrap().is_empty());
        assert_eq!(version(&path), STORE_SCHEMA_VERSION.to_string());
    }

    #[test]
    fn a_schema_3_store_reads_without_kernels_and_gets_the_column_when_written() {
        let dir = scratch("v3");
        let path = dir.join("c.db");
        let mut plan = plan();
        for r in &mut plan.rows {
            r.kernel = Some("k".into());
        }
        drop(CampaignStore::create(&path, &plan, None).unwrap());
        assert_eq!(
            CampaignStore::open_read_only(&path)
                .unwrap()
                .plan_rows(None)
                .unwrap(),
            plan.rows
        );
        // what gpufault wrote before schema 4: no kernel column in `plan`
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "ALTER TABLE plan DROP COLUMN kernel; UPDATE meta SET value = '3' WHERE key = 'schema_version';
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
        drop(c);
        let before = std::fs::read(&path).unwrap();
        let old: Vec<PlanRow> = plan
            .rows
            .iter()
            .map(|r| PlanRow {
                kernel: None,
                ..r.clone()
            })
            .collect();
        let store = CampaignStore::open_read_only(&path).unwrap();
        assert_eq!(store.plan_rows(None).unwrap(), old);
        drop(store);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "a read changed the file"
        );
        let store = CampaignStore::open(&path).unwrap();
        assert_eq!(version(&path), "4");
        assert_eq!(store.plan_rows(None).unwrap(), old);
        assert_eq!(store.meta().config, plan.config);
    }

    #[test]
    fn a_schema_2_store_is_read_unchanged_and_upgraded_when_written() {
        let dir = scratch("v2");
        let path = dir.join("c.db");
        let plan = plan();
        drop(CampaignStore::create(&path, &plan, None).unwrap());
        // what gpufault wrote before schema 3: no coverage table
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE coverage; UPDATE meta SET value = '2' WHERE key = 'schema_version';
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
        drop(c);
        let before = std::fs::read(&path).unwrap();
        let store = CampaignStore::open_read_only(&path).unwrap();
        assert!(store.coverage_records().unwrap().is_empty());
        assert_eq!(store.plan_rows(None).unwrap(), plan.rows);
        drop(store);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "a read changed the file"
        );
        assert_eq!(version(&path), "2");

        let mut store = CampaignStore::open(&path).unwrap();
        assert_eq!(version(&path), STORE_SCHEMA_VERSION.to_string());
        let s = session(&mut store);
        let a = record(&plan.rows[0], true);
        assert!(store.insert_coverage(s, 0, &plan.rows[0], &a).unwrap());
        assert_eq!(store.coverage_records().unwrap(), vec![a]);
        assert_eq!(store.meta().config, plan.config);
    }
}
