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
                unit_correct)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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
                record.unit_correct
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
        );
        let rows: Vec<Row> = self.query(
            "SELECT v.model, v.idx, p.spec, p.sm, v.scheduling_seed, v.detected, v.verdict,
                    v.reason, v.sms, v.units, v.kernels, v.findings, v.expected_unit,
                    v.sm_named, v.sm_first, v.unit_correct, r.instructions, r.elapsed_us
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
                )| {
                    let bad = |what: &str, e: serde_json::Error| {
                        self.bad(format!("coverage row {model}/{idx}: bad `{what}`: {e}"))
                    };
                    Ok(CoverageRecord {
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
