//! What a campaign is: the validated configuration a plan is drawn from.

use super::error::CampaignError;
use crate::filter::{SiteSelection, SiteWeight};
use crate::model::Model;
use crate::rules::SamplingRules;
use crate::run::HangPolicy;
use crate::sample::Sampling;
use crate::subject::{SubjectOptions, SubjectRef};
use reports::Shard;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How many injections each (subject, model) cell gets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Injections {
    /// Exactly `n` per cell (`--injections N`).
    Fixed {
        /// Injections per cell.
        n: u64,
    },
    /// As many as a worst-case (p = ½) confidence interval of half-width `margin` at
    /// `confidence` needs ([`reports::sample_size`]; `--margin`, `--confidence`).
    Margin {
        /// Half-width of the interval (0.03 is ±3%).
        margin: f64,
        /// Confidence level (0.95).
        confidence: f64,
    },
}

impl Injections {
    /// Injections per cell.
    pub fn per_cell(&self) -> u64 {
        match *self {
            Injections::Fixed { n } => n,
            Injections::Margin { margin, confidence } => reports::sample_size(margin, confidence),
        }
    }

    /// Checks the numbers (flags named in the error).
    pub fn validate(&self) -> Result<(), CampaignError> {
        match *self {
            Injections::Fixed { n } if n > 10_000_000 => Err(CampaignError::config(
                "--injections",
                format!("{n} per cell is more than the 10,000,000 a store accepts"),
            )),
            Injections::Fixed { .. } => Ok(()),
            Injections::Margin { margin, confidence } => {
                if !(margin > 0.0 && margin < 0.5) {
                    return Err(CampaignError::config(
                        "--margin",
                        format!("{margin} is not in (0, 0.5)"),
                    ));
                }
                if !(confidence > 0.0 && confidence < 1.0) {
                    return Err(CampaignError::config(
                        "--confidence",
                        format!("{confidence} is not in (0, 1)"),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// What a campaign measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignKind {
    /// Fault injections into programs: outcomes (masked, SDC, DUE, hang) against a
    /// fault-free run (`gpufault campaign`).
    #[default]
    Injection,
    /// The coverage of a detector (the health check): each fault put on a faulty
    /// virtual GPU, the detector run on it, detected or escaped (`gpufault coverage`).
    /// Faults are drawn over hardware sites without a profiling run, and a fault the
    /// detector never activates is an escape.
    Coverage,
}

impl CampaignKind {
    /// The lower-case name (`injection`, `coverage`).
    pub fn name(self) -> &'static str {
        match self {
            CampaignKind::Injection => "injection",
            CampaignKind::Coverage => "coverage",
        }
    }

    fn is_injection(&self) -> bool {
        *self == CampaignKind::Injection
    }
}

/// The configuration a campaign is planned from; stored in the campaign's meta table
/// and hashed into its plan hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignConfig {
    /// What the campaign measures (absent in the stored JSON of injection campaigns, so
    /// stores and plan hashes from before coverage campaigns read unchanged).
    #[serde(default, skip_serializing_if = "CampaignKind::is_injection")]
    pub kind: CampaignKind,
    /// What the injections run (bundled workloads, kernel manifests, …), in campaign
    /// order; names are unique (they key the store).
    pub subjects: Vec<SubjectRef>,
    /// Fault models, in campaign order.
    pub models: Vec<Model>,
    /// Injections per (subject, model) cell.
    pub injections: Injections,
    /// The seed of every fault drawn ([`crate::injection_rng`]).
    pub seed: u64,
    /// Where faults are drawn from.
    pub sampling: Sampling,
    /// How each model's lanes, warp slots and parameters are drawn (absent in the
    /// stored JSON when `v1`, the rules of every store from before rules existed, so
    /// those read, resume and hash unchanged).
    #[serde(default, skip_serializing_if = "SamplingRules::is_v1")]
    pub rules: SamplingRules,
    /// Which sites faults are drawn at (instruction groups, kernels) and how they are
    /// weighted (absent in the stored JSON when the default, every site with static
    /// weight, so stores from before it read, resume and hash unchanged).
    #[serde(default, skip_serializing_if = "SiteSelection::is_default")]
    pub sites: SiteSelection,
    /// The device injections run on (`sim`, `sim:h100`, `cuda:0`, …), `auto` resolved
    /// when planning.
    pub device: String,
    /// The virtual GPU profile fault sites were profiled on (`sim`, `sim:a100`,
    /// `sim:h100`): the device's own for a virtual GPU, the closest one for a CUDA GPU.
    pub profile: String,
    /// Problem size of every bundled workload; `None`: each workload's default.
    pub size: Option<usize>,
    /// The seed of every bundled workload's generated inputs.
    pub input_seed: u64,
    /// Hang deadline: this many times the dry run's instructions (virtual GPU) or wall
    /// time (real GPU) …
    pub hang_factor: u64,
    /// … but at least this many thread-instructions per launch (virtual GPU) …
    pub hang_floor_instructions: u64,
    /// … or this many milliseconds (real GPU).
    pub hang_floor_wall_ms: u64,
    /// The node config the device was opened with (its JSON text), when its virtual
    /// GPUs carry faults or telemetry of their own (`--node-config`): every session
    /// opens the device with it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_config: Option<String>,
    /// Coverage campaigns: a baseline detector also run on each faulty GPU (its name,
    /// `gpu-burn`; the subject's probe knows it), when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

impl CampaignConfig {
    /// A campaign on the default virtual GPU (`sim`) with every other setting at the
    /// default of `gpufault campaign`: seed 1, exercised sampling, default sizes, input
    /// seed 1, the default hang policy, no node config — except the sampling rules,
    /// which are `v1` here (the library's default, what coverage campaigns draw with)
    /// and `faithful` in `gpufault campaign`.
    pub fn new(subjects: Vec<SubjectRef>, models: Vec<Model>, injections: Injections) -> Self {
        CampaignConfig {
            kind: CampaignKind::Injection,
            subjects,
            models,
            injections,
            seed: 1,
            sampling: Sampling::Exercised,
            rules: SamplingRules::v1(),
            sites: SiteSelection::default(),
            device: "sim".into(),
            profile: "sim".into(),
            size: None,
            input_seed: 1,
            hang_factor: crate::run::HANG_FACTOR,
            hang_floor_instructions: crate::run::HANG_FLOOR_INSTRUCTIONS,
            hang_floor_wall_ms: crate::run::HANG_FLOOR_WALL.as_millis() as u64,
            node_config: None,
            baseline: None,
        }
    }

    /// The hang policy of the configuration.
    pub fn hang_policy(&self) -> HangPolicy {
        HangPolicy {
            factor: self.hang_factor,
            floor_instructions: self.hang_floor_instructions,
            floor_wall: Duration::from_millis(self.hang_floor_wall_ms),
        }
    }

    /// How to build the bundled workloads of the campaign.
    pub fn subject_options(&self) -> SubjectOptions {
        SubjectOptions {
            size: self.size,
            input_seed: self.input_seed,
        }
    }

    /// Checks every field that a flag sets (the error names the flag).
    pub fn validate(&self) -> Result<(), CampaignError> {
        if self.subjects.is_empty() {
            return Err(CampaignError::config(
                "--workloads/--kernels",
                "no workload or kernel selected",
            ));
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if let Some(other) = self.subjects[..i].iter().find(|o| o.name == s.name) {
                return Err(CampaignError::config(
                    "--workloads/--kernels",
                    format!(
                        "two subjects are called `{}` ({} and {}); names key the store, rename one",
                        s.name,
                        describe(other),
                        describe(s)
                    ),
                ));
            }
        }
        if self.models.is_empty() {
            return Err(CampaignError::config("--models", "no model selected"));
        }
        self.injections.validate()?;
        if self.kind == CampaignKind::Coverage && self.sampling != Sampling::Physical {
            return Err(CampaignError::config(
                "--sampling",
                "a coverage campaign draws its faults over hardware sites (physical sampling)",
            ));
        }
        if let Some(m) = self
            .models
            .iter()
            .find(|m| self.kind == CampaignKind::Coverage && m.is_transient())
        {
            return Err(CampaignError::config(
                "--models",
                format!(
                    "`{m}` is a transient fault model: a coverage campaign measures the health check against permanent faults of hardware sites; leave it out"
                ),
            ));
        }
        if self.kind == CampaignKind::Coverage && !self.rules.is_v1() {
            return Err(CampaignError::config(
                "--sampling-rules",
                "a coverage campaign draws its faults with the v1 rules (its figures were measured with them)",
            ));
        }
        if self.sites.weight == SiteWeight::Dynamic && self.sampling == Sampling::Physical {
            return Err(CampaignError::config(
                "--site-weight",
                "dynamic weighting draws sites by the counts of the profiled run, which physical sampling does not use (its SMs and warp slots are uniform over the device); use --sampling exercised",
            ));
        }
        if self.kind == CampaignKind::Coverage && !self.sites.is_default() {
            return Err(CampaignError::config(
                "--groups/--kernel/--site-weight",
                "a coverage campaign draws its faults over every site of the suite",
            ));
        }
        for k in &self.sites.kernels {
            if k.trim().is_empty() {
                return Err(CampaignError::config("--kernel", "an empty kernel name"));
            }
        }
        if self.hang_factor == 0 {
            return Err(CampaignError::config("--hang-factor", "must be at least 1"));
        }
        Ok(())
    }
}

fn describe(s: &SubjectRef) -> String {
    match &s.source {
        Some(src) => format!("{} {src}", s.kind),
        None => format!("{} `{}`", s.kind, s.name),
    }
}

fn check_workload(name: &str) -> Result<(), CampaignError> {
    if workloads::by_name(name).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = workloads::all().iter().map(|w| w.meta().name).collect();
    Err(CampaignError::config(
        "--workloads",
        format!("unknown workload `{name}` (known: {})", known.join(", ")),
    ))
}

fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses `--workloads`: comma-separated names, or `all` (every workload in the suite's
/// order). Duplicates are dropped.
pub fn parse_workloads(text: &str) -> Result<Vec<String>, CampaignError> {
    let mut out: Vec<String> = Vec::new();
    for name in list(text) {
        if name == "all" {
            for w in workloads::all() {
                push_unique(&mut out, w.meta().name.to_string());
            }
        } else {
            check_workload(name)?;
            push_unique(&mut out, name.to_string());
        }
    }
    if out.is_empty() {
        return Err(CampaignError::config("--workloads", "no workload given"));
    }
    Ok(out)
}

/// Parses `--models`: comma-separated model ids, or `all` (the permanent models;
/// transient ones are named). Duplicates are dropped.
pub fn parse_models(text: &str) -> Result<Vec<Model>, CampaignError> {
    let mut out: Vec<Model> = Vec::new();
    for id in list(text) {
        if id == "all" {
            for m in Model::ALL {
                push_unique(&mut out, m);
            }
        } else {
            let m = Model::from_id(id).ok_or_else(|| {
                let known: Vec<&str> = Model::EVERY.iter().map(|m| m.id()).collect();
                CampaignError::config(
                    "--models",
                    format!("unknown model `{id}` (known: {}, all)", known.join(", ")),
                )
            })?;
            push_unique(&mut out, m);
        }
    }
    if out.is_empty() {
        return Err(CampaignError::config("--models", "no model given"));
    }
    Ok(out)
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Parses `--shard I/N` (0 ≤ I < N).
pub fn parse_shard(text: &str) -> Result<Shard, CampaignError> {
    let bad = |reason: &str| CampaignError::config("--shard", format!("`{text}`: {reason}"));
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| bad("expected INDEX/COUNT, e.g. 0/4"))?;
    let index: u32 = i.trim().parse().map_err(|_| bad("INDEX is not a number"))?;
    let count: u32 = n.trim().parse().map_err(|_| bad("COUNT is not a number"))?;
    if count == 0 {
        return Err(bad("COUNT must be at least 1"));
    }
    if index >= count {
        return Err(bad(
            "INDEX must be below COUNT (shards are numbered from 0)",
        ));
    }
    Ok(Shard { index, count })
}

/// Whether plan row `index` of a cell belongs to `shard`: `index % count == index`.
/// Every shard gets an equal share of every cell, and the partition never changes.
pub fn in_shard(shard: Option<Shard>, index: u64) -> bool {
    shard.is_none_or(|s| index % u64::from(s.count) == u64::from(s.index))
}

/// `I/N`.
pub fn shard_name(shard: Shard) -> String {
    format!("{}/{}", shard.index, shard.count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_accept_all_and_reject_unknown_names() {
        assert_eq!(
            parse_models("iat, wv,iat").unwrap(),
            [Model::Iat, Model::Wv]
        );
        assert_eq!(parse_models("all").unwrap().len(), Model::ALL.len());
        let e = parse_models("iat,nope").unwrap_err().to_string();
        assert!(e.starts_with("--models: unknown model `nope`"), "{e}");
        assert_eq!(parse_workloads("vecadd,bfs").unwrap(), ["vecadd", "bfs"]);
        assert_eq!(
            parse_workloads("all").unwrap().len(),
            workloads::all().len()
        );
        let e = parse_workloads("vecadd,gemm").unwrap_err().to_string();
        assert!(e.starts_with("--workloads: unknown workload `gemm`"), "{e}");
        assert!(parse_workloads(" , ").is_err());
    }

    #[test]
    fn shards_parse_and_partition_every_index_once() {
        let s = parse_shard("2/3").unwrap();
        assert_eq!((s.index, s.count), (2, 3));
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
        for i in 0..20u64 {
            let owners = (0..3)
                .filter(|&k| in_shard(Some(Shard { index: k, count: 3 }), i))
                .count();
            assert_eq!(owners, 1);
            assert!(in_shard(None, i));
        }
    }

    #[test]
    fn margin_gives_the_documented_sample_size() {
        let m = Injections::Margin {
            margin: 0.031,
            confidence: 0.95,
        };
        assert_eq!(m.per_cell(), 1000);
        assert!(Injections::Margin {
            margin: 0.0,
            confidence: 0.95
        }
        .validate()
        .is_err());
    }

    #[test]
    fn v1_rules_keep_the_stored_configuration_of_stores_from_before_rules() {
        let c = CampaignConfig::new(
            crate::workload_refs(&["vecadd"], &SubjectOptions::default()).unwrap(),
            vec![Model::Iat],
            Injections::Fixed { n: 2 },
        );
        assert!(c.rules.is_v1());
        // v1 is not written, so a plan hash from before rules is the same ...
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("rules"), "{json}");
        // ... and a stored configuration without rules reads as v1
        assert_eq!(serde_json::from_str::<CampaignConfig>(&json).unwrap(), c);
        let faithful = CampaignConfig {
            rules: SamplingRules::faithful(),
            ..c.clone()
        };
        let json = serde_json::to_string(&faithful).unwrap();
        assert!(json.contains(r#""rules":{"preset":"faithful"}"#), "{json}");
        assert_eq!(
            serde_json::from_str::<CampaignConfig>(&json).unwrap(),
            faithful
        );
        // coverage campaigns keep the v1 faults
        let coverage = CampaignConfig {
            kind: CampaignKind::Coverage,
            sampling: Sampling::Physical,
            ..faithful
        };
        assert_eq!(
            coverage.validate().unwrap_err().to_string(),
            "--sampling-rules: a coverage campaign draws its faults with the v1 rules (its figures were measured with them)"
        );
    }
}
