//! Planning: profile the fault sites of every (subject, model) cell on a virtual GPU and
//! draw each cell's faults from the campaign seed.

use super::config::{CampaignConfig, CampaignKind};
use super::error::CampaignError;
use crate::instrument::instrument;
use crate::model::Model;
use crate::sample::{injection_rng, profile_sites, sample_with, ExercisedSite, SiteProfile};
use crate::spec::FaultSpec;
use crate::subject::{Subject, SubjectSource};
use gpu::{DeviceSpec, SimDevice, SimSpec};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

/// One planned injection: the `index`-th fault of its (subject, model) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    /// The subject's name.
    pub subject: String,
    /// The model.
    pub model: Model,
    /// Its index in the cell (0-based); with the campaign seed it determines the fault.
    pub index: u64,
    /// The fault.
    pub spec: FaultSpec,
}

/// What the plan decided for one (subject, model) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellPlan {
    /// The subject's name.
    pub subject: String,
    /// The model.
    pub model: Model,
    /// The subject's problem size (bundled workloads; `None` for others).
    pub size: Option<usize>,
    /// Candidate sites of the model in the subject (instructions the pass guards).
    pub candidate_sites: u64,
    /// Candidate sites the profiled run executed.
    pub exercised_sites: u64,
    /// Injections planned.
    pub planned: u64,
    /// Why fewer injections than asked were planned (none when all were).
    pub note: Option<String>,
}

/// A campaign plan: its configuration, cells and rows (cell by cell in campaign order,
/// by index within a cell).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignPlan {
    /// The configuration it was drawn from.
    pub config: CampaignConfig,
    /// Every (subject, model) cell, subject-major in campaign order.
    pub cells: Vec<CellPlan>,
    /// Every planned injection.
    pub rows: Vec<PlanRow>,
}

impl CampaignPlan {
    /// A hex SHA-256 of the configuration and every row: two stores hold the same plan
    /// exactly when their hashes are equal (what `merge` checks).
    pub fn hash(&self) -> String {
        plan_hash(
            &self.config,
            self.rows
                .iter()
                .map(|r| (r.subject.as_str(), r.model, r.index, r.spec.to_string())),
        )
    }
}

pub(crate) fn plan_hash<'a>(
    config: &CampaignConfig,
    rows: impl Iterator<Item = (&'a str, Model, u64, String)>,
) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_string(config).expect("config serializes"));
    h.update(b"\n");
    for (w, m, i, spec) in rows {
        h.update(format!("{w}\t{m}\t{i}\t{spec}\n"));
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The virtual GPU profiles sites can be profiled on, with their SM counts.
fn sim_profiles() -> Vec<(String, u32)> {
    [None, Some("a100"), Some("h100")]
        .into_iter()
        .filter_map(|p| {
            let spec = SimSpec {
                profile: p.map(String::from),
                count: None,
                index: None,
                scheduling_seed: None,
            };
            let mut dev = SimDevice::open(&spec).ok()?;
            let sms = dev.gpu().profile().sms;
            Some((DeviceSpec::Sim(spec).to_string(), sms))
        })
        .collect()
}

/// The virtual GPU profile whose sites stand for `device`'s: a virtual GPU's own
/// profile; for a CUDA GPU the profile with the SM count closest to `sm_count` (an
/// H100 or H200, 132 SMs, gets `sim:h100`), and `sim:h100` when the GPU could not be
/// inspected.
pub fn site_profile_for(device: &DeviceSpec, sm_count: Option<u32>) -> String {
    match device {
        DeviceSpec::Sim(s) => DeviceSpec::Sim(SimSpec {
            profile: s.profile.clone(),
            count: None,
            index: None,
            scheduling_seed: None,
        })
        .to_string(),
        _ => {
            let Some(sms) = sm_count else {
                return "sim:h100".into();
            };
            sim_profiles()
                .into_iter()
                .min_by_key(|(_, n)| n.abs_diff(sms))
                .map(|(name, _)| name)
                .unwrap_or_else(|| "sim:h100".into())
        }
    }
}

/// Parses a profile name (`sim`, `sim:a100`, `sim:h100`) into the spec to open.
pub(crate) fn profile_spec(profile: &str) -> Result<SimSpec, CampaignError> {
    let bad = || {
        let known: Vec<String> = sim_profiles().into_iter().map(|(n, _)| n).collect();
        CampaignError::config(
            "--profile",
            format!(
                "`{profile}` is not a virtual GPU profile (known: {})",
                known.join(", ")
            ),
        )
    };
    match profile.parse::<DeviceSpec>() {
        Ok(DeviceSpec::Sim(s)) if s.count.is_none() && s.index.is_none() => {
            SimDevice::open(&s).map_err(|_| bad())?;
            Ok(s)
        }
        _ => Err(bad()),
    }
}

/// What planning reports as it goes.
#[derive(Debug, Clone)]
pub struct PlanProgress<'a> {
    /// Cells profiled so far.
    pub done: usize,
    /// Cells in all.
    pub total: usize,
    /// The cell just profiled.
    pub cell: &'a CellPlan,
}

/// Plans a campaign: opens its subjects through `source` (once each), then for every
/// cell (on up to `jobs` threads) instruments the subject once, profiles its candidate
/// sites on `config.profile`, and draws the cell's faults with
/// [`injection_rng`]`(seed, subject, model, index)`. A cell whose model has no usable
/// site (none at all, or none executed for [`crate::Sampling::Exercised`]) gets no
/// injection and a note saying why. The plan does not depend on `jobs`.
pub fn plan_campaign(
    config: &CampaignConfig,
    source: &SubjectSource,
    jobs: usize,
    on_progress: &mut (dyn FnMut(PlanProgress<'_>) + Send),
) -> Result<CampaignPlan, CampaignError> {
    config.validate()?;
    let sim = profile_spec(&config.profile)?;
    let n = config.injections.per_cell();
    let subjects = open_subjects(config, source)?;
    let cells: Vec<(usize, &Arc<dyn Subject>, Model)> = subjects
        .iter()
        .flat_map(|s| config.models.iter().map(move |&m| (s, m)))
        .enumerate()
        .map(|(i, (s, m))| (i, s, m))
        .collect();
    let next = AtomicUsize::new(0);
    type Planned = (CellPlan, Vec<PlanRow>);
    let results: Mutex<Vec<Option<Result<Planned, CampaignError>>>> =
        Mutex::new((0..cells.len()).map(|_| None).collect());
    let progress = Mutex::new((0usize, on_progress));
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, cells.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(slot, s, m)) = cells.get(i) else {
                    return;
                };
                let r = plan_cell(config, &sim, s.as_ref(), m, n);
                let failed = r.is_err();
                if let Ok((cell, _)) = &r {
                    let mut p = progress.lock().expect("progress lock");
                    p.0 += 1;
                    let done = p.0;
                    (p.1)(PlanProgress {
                        done,
                        total: cells.len(),
                        cell,
                    });
                }
                results.lock().expect("results lock")[slot] = Some(r);
                if failed {
                    // stop handing out cells; the first error in order is returned
                    next.store(cells.len(), Ordering::Relaxed);
                }
            });
        }
    });
    let mut plan = CampaignPlan {
        config: config.clone(),
        cells: Vec::with_capacity(cells.len()),
        rows: Vec::new(),
    };
    for r in results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .flatten()
    {
        let (cell, rows) = r?;
        plan.cells.push(cell);
        plan.rows.extend(rows);
    }
    Ok(plan)
}

/// Opens every subject of `config` through `source`, in campaign order, checking that
/// each is the one the configuration names (same digest).
pub(crate) fn open_subjects(
    config: &CampaignConfig,
    source: &SubjectSource,
) -> Result<Vec<Arc<dyn Subject>>, CampaignError> {
    let options = config.subject_options();
    config
        .subjects
        .iter()
        .map(|r| {
            source
                .open(r, &options)
                .map_err(|e| CampaignError::Subject {
                    name: r.name.clone(),
                    error: e,
                })
        })
        .collect()
}

/// The candidate sites of `inst` with none marked as exercised, on the geometry of
/// `dev` (what physical sampling needs).
fn unprofiled(dev: &mut SimDevice, inst: &crate::instrument::Instrumented) -> SiteProfile {
    let p = dev.gpu().profile();
    SiteProfile {
        model: inst.model,
        sms: p.sms,
        warp_slots: p.warp_slots,
        sites: inst
            .sites
            .iter()
            .map(|site| ExercisedSite {
                site: site.clone(),
                slots: Vec::new(),
                warp_instructions: 0,
                thread_instructions: 0,
            })
            .collect(),
        launch: crate::rules::LaunchDims::default(),
    }
}

/// Why a cell gets no injection although `n` were asked (`None` when it gets them).
fn shortfall(subject: &str, model: Model, n: u64, candidates: u64, usable: u64) -> Option<String> {
    if n == 0 || usable > 0 {
        None
    } else if candidates == 0 {
        Some(format!("`{subject}` has no candidate site of {model}"))
    } else {
        Some(format!(
            "none of the {candidates} candidate sites of {model} in `{subject}` executed (exercised sampling)"
        ))
    }
}

fn plan_cell(
    config: &CampaignConfig,
    sim: &SimSpec,
    subject: &dyn Subject,
    model: Model,
    n: u64,
) -> Result<(CellPlan, Vec<PlanRow>), CampaignError> {
    let name = subject.id().name.as_str();
    let fail = |detail: String| CampaignError::Profile {
        workload: name.to_string(),
        model: model.to_string(),
        profile: config.profile.clone(),
        detail,
    };
    let instrument_error = |detail: String| CampaignError::Instrument {
        workload: name.to_string(),
        model: model.to_string(),
        detail,
    };
    let module = ptx::parse(subject.ptx()).map_err(|e| instrument_error(e.to_string()))?;
    let inst = instrument(&module, model).map_err(|e| instrument_error(e.to_string()))?;
    let mut dev = SimDevice::open(sim).map_err(|e| CampaignError::Device {
        device: config.profile.clone(),
        error: e,
    })?;
    let profile = match config.kind {
        CampaignKind::Injection => {
            profile_sites(&mut dev, subject, &inst).map_err(|e| fail(e.to_string()))?
        }
        // A detector's job is to exercise every site: faults are drawn over the
        // device's hardware (physical sampling) from the candidate sites alone, with no
        // profiling run, and one it never activates counts as an escape.
        CampaignKind::Coverage => unprofiled(&mut dev, &inst),
    };
    let candidate_sites = profile.drawn(&config.rules).count() as u64;
    let exercised_sites = profile
        .drawn(&config.rules)
        .filter(|s| !s.slots.is_empty())
        .count() as u64;
    let usable = match config.sampling {
        crate::Sampling::Exercised => exercised_sites,
        crate::Sampling::Physical => candidate_sites,
    };
    let note = shortfall(name, model, n, candidate_sites, usable);
    let mut rows = Vec::new();
    if usable > 0 {
        for index in 0..n {
            let mut rng = injection_rng(config.seed, name, model, index);
            let spec = sample_with(&profile, config.sampling, &config.rules, &mut rng)
                .expect("a profile with a usable site always yields a fault");
            rows.push(PlanRow {
                subject: name.to_string(),
                model,
                index,
                spec,
            });
        }
    }
    Ok((
        CellPlan {
            subject: name.to_string(),
            model,
            size: subject.size(),
            candidate_sites,
            exercised_sites,
            planned: rows.len() as u64,
            note,
        },
        rows,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_without_usable_sites_say_why() {
        assert_eq!(shortfall("bfs", Model::Ims, 10, 4, 2), None);
        assert_eq!(shortfall("bfs", Model::Ims, 0, 0, 0), None);
        assert_eq!(
            shortfall("bfs", Model::Ims, 10, 0, 0).unwrap(),
            "`bfs` has no candidate site of ims"
        );
        assert_eq!(
            shortfall("bfs", Model::Ims, 10, 3, 0).unwrap(),
            "none of the 3 candidate sites of ims in `bfs` executed (exercised sampling)"
        );
    }

    #[test]
    fn profiles_are_checked_by_name() {
        assert!(profile_spec("sim:h100").is_ok());
        let e = profile_spec("sim:z80").unwrap_err().to_string();
        assert!(e.starts_with("--profile: `sim:z80` is not a virtual GPU profile (known: sim, sim:a100, sim:h100)"), "{e}");
        assert!(profile_spec("cuda:0").is_err());
    }
}
