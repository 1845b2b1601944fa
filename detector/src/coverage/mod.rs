//! Measured coverage of the health check (issue 17, `docs/coverage.md`): the check as a
//! subject of the injector's campaign engine.
//!
//! ```text
//! gpufault coverage --models all --faults N --device sim:h100 --seed S --out F.db
//!   plan   (injector)  per model, N faults drawn over hardware sites: SM, sub-partition,
//!                      warp slot and lanes uniform over the device, parameters from a
//!                      candidate site of the suite; no profiling run
//!   run    (injector)  per fault, a fresh virtual GPU carrying it (faulty_gpu) under its
//!                      own scheduling seed ──▶ SuiteSubject::probe (here):
//!                        check_device (quick level, in process) → DeviceCheck
//!                        → CoverageRecord: detected (verdict faulty) or escaped, the SMs
//!                          named (ranked), units and kernels named, SM/unit correct
//!   store  (injector)  `results` row (detected / escaped) + `coverage` row, one commit
//!   report (reports)   coverage per model with 95% Wilson intervals, escapes
//! ```
//!
//! [`SuiteSubject`] is the suite as a campaign subject of kind [`SUITE_KIND`];
//! [`register`] adds it to a [`SubjectSource`] so coverage stores can be run, resumed and
//! merged like any campaign; [`coverage_config`] is the configuration of a coverage
//! campaign.

pub mod baseline;
pub mod diagnosis;
pub mod features;

use crate::check::{check_device, CheckOptions};
use crate::suite::{Suite, SuiteRun};
use gpu::{Device, DeviceSpec, GpuError, ModuleHandle, Platform};
use injector::{
    CampaignConfig, CampaignKind, CoverageProbe, Injections, Model, PlanRow, Sampling, Subject,
    SubjectRef, SubjectSource,
};
use reports::check::{Evidence, Verdict};
use reports::CoverageRecord;
use std::sync::Arc;
use workloads::{Outputs, RunError};

/// The subject kind of the health check's signature suite in campaign stores.
pub const SUITE_KIND: &str = "suite";

/// The signature suite as a campaign subject: the detector coverage campaigns measure.
pub struct SuiteSubject {
    id: SubjectRef,
}

impl Default for SuiteSubject {
    fn default() -> Self {
        SuiteSubject::new()
    }
}

impl SuiteSubject {
    /// The suite of this build (its digest is the suite's PTX: a coverage store planned
    /// with another suite cannot be resumed with this one).
    pub fn new() -> SuiteSubject {
        SuiteSubject {
            id: SubjectRef {
                kind: SUITE_KIND.into(),
                name: SUITE_KIND.into(),
                source: None,
                digest: injector::digest_of([Suite.ptx().as_bytes()]),
            },
        }
    }
}

impl Subject for SuiteSubject {
    fn id(&self) -> &SubjectRef {
        &self.id
    }

    fn ptx(&self) -> &str {
        Suite.ptx()
    }

    /// The suite is a detector, not a program with outputs: it runs through
    /// [`SuiteSubject::probe`] (coverage campaigns), never as an injection campaign's
    /// workload.
    fn run(&self, _dev: &mut dyn Device, _module: ModuleHandle) -> Result<Outputs, RunError> {
        Err(RunError::Device(GpuError::Invalid {
            detail: "the signature suite is a detector: measure it with `gpufault coverage`, \
                     not as a campaign workload"
                .into(),
        }))
    }

    fn probe(&self) -> Option<&dyn CoverageProbe> {
        Some(self)
    }
}

impl CoverageProbe for SuiteSubject {
    fn probe(
        &self,
        platform: &Platform,
        device: &DeviceSpec,
        row: &PlanRow,
        scheduling_seed: u64,
        config: &CampaignConfig,
    ) -> Result<CoverageRecord, String> {
        let check = check_device(platform, device, &CheckOptions::default());
        if check.findings.is_empty() && check.coverage.sms_observed == 0 {
            // The check could not run at all (the device did not open, the suite did not
            // load): not an escape; the row stays pending.
            let why = check.reason.as_deref().unwrap_or("no reason given");
            return Err(format!("the health check could not run on {device}: {why}"));
        }
        // The suite's own ranking of the SMs its findings name.
        let sms = SuiteRun {
            findings: check.findings.clone(),
            ..SuiteRun::default()
        }
        .sms_named();
        let mut units: Vec<String> = Vec::new();
        let mut kernels: Vec<String> = Vec::new();
        for f in &check.findings {
            let (unit, kernel) = match &f.evidence {
                Evidence::Signature { unit, kernel, .. }
                | Evidence::KernelError { unit, kernel, .. } => (unit, kernel),
                Evidence::Rule { .. } => continue,
            };
            if !units.contains(unit) {
                units.push(unit.clone());
            }
            if !kernels.contains(kernel) {
                kernels.push(kernel.clone());
            }
        }
        let baseline = match config.baseline.as_deref() {
            None => None,
            Some(baseline::GPU_BURN) => Some(baseline::gpu_burn(platform, device)?),
            Some(other) => return Err(format!("unknown baseline `{other}` (known: gpu-burn)")),
        };
        let expected_unit = row.model.check_unit();
        let detected = check.verdict == Verdict::Faulty;
        Ok(CoverageRecord {
            model: row.model.id().to_string(),
            index: row.index,
            spec: row.spec.to_string(),
            fault_sm: row.spec.sm,
            expected_unit: expected_unit.to_string(),
            scheduling_seed,
            detected,
            verdict: check.verdict.name().to_string(),
            reason: check.reason.clone(),
            sm_named: detected && sms.contains(&row.spec.sm),
            sm_first: detected && sms.first() == Some(&row.spec.sm),
            unit_correct: detected && units.iter().any(|u| u == expected_unit),
            sms,
            units,
            kernels,
            findings: check.findings.len() as u64,
            features: features::features(&check.findings),
            instructions: check.instructions,
            duration_us: (check.duration_ms * 1e3) as u64,
            baseline,
            diagnosis: None,
        })
    }
}

/// Adds the suite's kind to `source`, so coverage stores open, run, resume and merge.
pub fn register(source: &mut SubjectSource) {
    source.register(SUITE_KIND, |_, _| {
        Ok(Arc::new(SuiteSubject::new()) as Arc<dyn Subject>)
    });
}

/// The configuration of a coverage campaign: `faults` per model of `models`, drawn with
/// `seed` over the hardware of `device` (a virtual GPU, `sim`, `sim:a100`, `sim:h100`),
/// with the `baseline` detector ([`baseline::GPU_BURN`]) run on each faulty GPU too
/// when given.
pub fn coverage_config(
    models: Vec<Model>,
    faults: u64,
    device: &gpu::SimSpec,
    seed: u64,
    baseline: Option<&str>,
) -> CampaignConfig {
    let name = DeviceSpec::Sim(device.clone()).to_string();
    CampaignConfig {
        kind: CampaignKind::Coverage,
        seed,
        sampling: Sampling::Physical,
        device: name.clone(),
        profile: name,
        baseline: baseline.map(str::to_string),
        ..CampaignConfig::new(
            vec![SuiteSubject::new().id().clone()],
            models,
            Injections::Fixed { n: faults },
        )
    }
}
