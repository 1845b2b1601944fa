//! What happens without the guard (issue 18, must-show 2): `gpufault train` on a virtual
//! node of four H100s where one GPU carries a permanent fault from the first step, for
//! every fault model, and how its final model compares with the fault-free run's.
//!
//! ```sh
//! cargo run --release -p gpufault-shim --example unguarded -- [--faults N] [--steps S] [--seed X] [--out FILE]
//! ```
//!
//! - Faults: per model, `N` (default 10) drawn by the campaign planner
//!   (`injector::plan_campaign`, the draw of `gpufault campaign`) with seed `X` over the
//!   hardware sites that one training shard exercises on `sim:h100` (the `mlp_train`
//!   workload at 8 samples, the trainer's shard: same kernels, same launch geometry):
//!   SM, sub-partition, warp slots and lanes where the job's code runs, so every fault
//!   meets the job (uniform over the 132 SMs, most would sit where this small job never
//!   runs and say nothing).
//! - Training: the default configuration (batch 64, 8 shards, lr 0.02, momentum 0.9,
//!   seed 1) for `S` steps (default 400) on `sim:h100*4`, GPU 1 faulty, the replica
//!   check every 25 steps, exactly as `gpufault train` runs it — no guard.
//! - Classes, against the fault-free run's held-out loss `E0` (CPU, 1,024 samples):
//!   **crashed**: a device error stopped it (exit 3: a kernel fault or hang);
//!   **diverged**: its own checks stopped it (non-finite loss or gradient, exit 4; a
//!   loss jump, exit 5; parameter replicas that disagree, exit 3) or it finished with a
//!   held-out loss no better than chance (≥ ln 10) or not finite;
//!   **degraded**: finished, held-out loss above `E0` by more than 1%;
//!   **tolerated**: finished within 1% of `E0` (of which **identical**: the very same
//!   held-out loss, bit for bit).
//! - A run stopped by the replica check (the faulty GPU's parameter replica differed
//!   from the others' at a checkpoint) runs again without it, taking device 0's replica
//!   as plain data-parallel training does (PyTorch DDP has no such check and saves rank
//!   0's model): what the fault does to a job that does not look.
//!
//! Prints a Markdown table (per model) and writes every run as JSON (`--out`, default
//! `unguarded.json`).

use gpu::{DeviceSpec, NodeConfig, Platform};
use injector::{
    plan_campaign, workload_refs, CampaignConfig, Injections, InjectorFaults, Model, Sampling,
    SubjectOptions, SubjectSource,
};
use reports::train::TrainOutcomeKind;
use serde::Serialize;
use shim::train::{devices, train, ReplicaPolicy, TrainConfig, TrainOptions, TrainReport};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

/// The node, and which of its GPUs is faulty.
const NODE: &str = "sim:h100*4";
const FAULTY: &str = "sim:h100#1";
/// A finished run within this relative distance of the fault-free held-out loss is
/// tolerated.
const TOLERANCE: f64 = 0.01;

#[derive(Serialize)]
struct Row {
    model: &'static str,
    index: u64,
    spec: String,
    class: &'static str,
    outcome: TrainOutcomeKind,
    exit_code: u8,
    detail: Option<String>,
    step: u64,
    eval_loss: Option<f64>,
    /// eval_loss / fault-free eval loss.
    ratio: Option<f64>,
    identical: bool,
    /// For a run the replica check stopped: the same run without the check (device 0's
    /// replica taken, as plain data-parallel training does).
    without_replica_check: Option<Box<Row>>,
    wall_s: f64,
}

/// What the runs of one model became: the first group as `gpufault train` runs (its
/// checks on), the `unchecked_*` group for the runs the replica check stopped, run again
/// without it.
#[derive(Serialize, Default)]
struct ModelCounts {
    model: &'static str,
    faults: usize,
    crashed: usize,
    non_finite: usize,
    loss_jump: usize,
    replicas_disagree: usize,
    /// Finished with a held-out loss no better than chance (or not finite).
    finished_diverged: usize,
    degraded: usize,
    tolerated: usize,
    identical: usize,
    unchecked_crashed: usize,
    /// Stopped by the non-finite or loss-jump check, or finished no better than chance.
    unchecked_diverged: usize,
    unchecked_degraded: usize,
    unchecked_tolerated: usize,
    worst_finished_ratio: Option<f64>,
}

impl ModelCounts {
    fn add(&mut self, o: &ModelCounts) {
        self.faults += o.faults;
        self.crashed += o.crashed;
        self.non_finite += o.non_finite;
        self.loss_jump += o.loss_jump;
        self.replicas_disagree += o.replicas_disagree;
        self.finished_diverged += o.finished_diverged;
        self.degraded += o.degraded;
        self.tolerated += o.tolerated;
        self.identical += o.identical;
        self.unchecked_crashed += o.unchecked_crashed;
        self.unchecked_diverged += o.unchecked_diverged;
        self.unchecked_degraded += o.unchecked_degraded;
        self.unchecked_tolerated += o.unchecked_tolerated;
    }
}

#[derive(Serialize)]
struct Report {
    command: String,
    seed: u64,
    steps: u64,
    node: &'static str,
    faulty_gpu: &'static str,
    faults_per_model: u64,
    sampling: &'static str,
    baseline_eval_loss: f64,
    baseline_train_loss: Option<f64>,
    tolerance: f64,
    notes: Vec<String>,
    models: Vec<ModelCounts>,
    runs: Vec<Row>,
    wall_s: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut faults = 10u64;
    let mut steps = 400u64;
    let mut seed = 20261206u64;
    let mut out = std::path::PathBuf::from("unguarded.json");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--faults" => faults = value()?.parse()?,
            "--steps" => steps = value()?.parse()?,
            "--seed" => seed = value()?.parse()?,
            "--out" => out = value()?.into(),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let start = Instant::now();
    let config = TrainConfig::new(steps);
    let options = TrainOptions {
        checkpoint_every: shim::train::DEFAULT_CHECKPOINT_EVERY,
        ..TrainOptions::default()
    };

    // The fault-free run.
    let healthy = Platform::new();
    let specs = devices(Some(NODE), &healthy)?;
    let baseline = run(&healthy, &specs, &config, &options)?;
    let e0 = baseline
        .summary
        .eval_loss
        .ok_or("the fault-free run did not finish")?;
    eprintln!(
        "fault-free: held-out loss {e0:.6}, {:.1} ms/step",
        baseline.summary.ms_per_step.unwrap_or(0.0)
    );

    // The faults, drawn as a campaign draws them.
    let shard = config.shard_size();
    let subject_options = SubjectOptions {
        size: Some(shard),
        input_seed: 1,
    };
    let mut plan_config = CampaignConfig::new(
        workload_refs(&["mlp_train"], &subject_options)?,
        Model::ALL.to_vec(),
        Injections::Fixed { n: faults },
    );
    plan_config.seed = seed;
    plan_config.sampling = Sampling::Exercised;
    plan_config.device = "sim:h100".into();
    plan_config.profile = "sim:h100".into();
    plan_config.size = Some(shard);
    let plan = plan_campaign(&plan_config, &SubjectSource::standard(), 2, &mut |_| {})?;
    let notes: Vec<String> = plan.cells.iter().filter_map(|c| c.note.clone()).collect();
    for n in &notes {
        eprintln!("note: {n}");
    }

    let mut rows = Vec::new();
    for (i, r) in plan.rows.iter().enumerate() {
        let spec = r.spec.to_string();
        let text = serde_json::json!({ "gpus": { FAULTY: { "fault": spec } } }).to_string();
        let platform = Platform::new()
            .with_node_config(NodeConfig::parse(&text, "(unguarded example)")?)
            .with_fault_factory(Arc::new(InjectorFaults));
        let t = Instant::now();
        let mut row = fault_run(&platform, &specs, &config, &options, e0)?;
        if row.outcome == TrainOutcomeKind::ReplicasDisagree {
            let plain = TrainOptions {
                replicas: ReplicaPolicy::FirstDevice,
                ..options.clone()
            };
            row.without_replica_check =
                Some(Box::new(fault_run(&platform, &specs, &config, &plain, e0)?));
        }
        row.model = r.model.id();
        row.index = r.index;
        row.spec = spec.clone();
        row.wall_s = t.elapsed().as_secs_f64();
        let unchecked = row
            .without_replica_check
            .as_ref()
            .map(|u| format!("; without the replica check: {} (step {})", u.class, u.step))
            .unwrap_or_default();
        eprintln!(
            "[{}/{}] {spec}: {} ({:?}, step {}{}){unchecked}",
            i + 1,
            plan.rows.len(),
            row.class,
            row.outcome,
            row.step,
            row.ratio
                .map(|r| format!(", held-out ×{r:.4}"))
                .unwrap_or_default()
        );
        rows.push(row);
    }

    let models: Vec<ModelCounts> = Model::ALL
        .iter()
        .map(|m| {
            let mine: Vec<&Row> = rows.iter().filter(|r| r.model == m.id()).collect();
            let outcome = |o: TrainOutcomeKind| mine.iter().filter(|r| r.outcome == o).count();
            let finished = |class: &str| {
                mine.iter()
                    .filter(|r| r.outcome == TrainOutcomeKind::Finished && r.class == class)
                    .count()
            };
            let unchecked: Vec<&Row> = mine
                .iter()
                .filter_map(|r| r.without_replica_check.as_deref())
                .collect();
            let class = |class: &str| unchecked.iter().filter(|u| u.class == class).count();
            ModelCounts {
                model: m.id(),
                faults: mine.len(),
                crashed: outcome(TrainOutcomeKind::DeviceFailed),
                non_finite: outcome(TrainOutcomeKind::NonFinite),
                loss_jump: outcome(TrainOutcomeKind::LossJump),
                replicas_disagree: outcome(TrainOutcomeKind::ReplicasDisagree),
                finished_diverged: finished("diverged"),
                degraded: finished("degraded"),
                tolerated: finished("tolerated"),
                identical: mine.iter().filter(|r| r.identical).count(),
                unchecked_crashed: class("crashed"),
                unchecked_diverged: class("diverged"),
                unchecked_degraded: class("degraded"),
                unchecked_tolerated: class("tolerated"),
                worst_finished_ratio: mine
                    .iter()
                    .chain(&unchecked)
                    .filter_map(|r| r.ratio)
                    .filter(|r| r.is_finite())
                    .max_by(f64::total_cmp),
            }
        })
        .collect();
    print_table(&models, e0);
    let report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        seed,
        steps,
        node: NODE,
        faulty_gpu: FAULTY,
        faults_per_model: faults,
        sampling: "exercised",
        baseline_eval_loss: e0,
        baseline_train_loss: baseline.summary.final_train_loss,
        tolerance: TOLERANCE,
        notes,
        models,
        runs: rows,
        wall_s: start.elapsed().as_secs_f64(),
    };
    std::fs::write(&out, serde_json::to_vec_pretty(&report)?)?;
    eprintln!(
        "{} runs in {:.0} s; wrote {}",
        report.runs.len(),
        report.wall_s,
        out.display()
    );
    Ok(())
}

fn run(
    platform: &Platform,
    specs: &[DeviceSpec],
    config: &TrainConfig,
    options: &TrainOptions,
) -> Result<TrainReport, shim::train::TrainError> {
    train(
        platform,
        specs,
        config,
        options,
        &AtomicUsize::new(0),
        &mut |_| {},
    )
}

/// One training run on the faulty node, judged against the fault-free held-out loss.
fn fault_run(
    platform: &Platform,
    specs: &[DeviceSpec],
    config: &TrainConfig,
    options: &TrainOptions,
    e0: f64,
) -> Result<Row, shim::train::TrainError> {
    let report = run(platform, specs, config, options)?;
    let s = &report.summary;
    let ratio = s.eval_loss.map(|e| e / e0);
    Ok(Row {
        model: "",
        index: 0,
        spec: String::new(),
        class: classify(&report, ratio),
        outcome: s.outcome,
        exit_code: s.exit_code,
        detail: s.detail.clone(),
        step: s.step,
        eval_loss: s.eval_loss,
        ratio,
        identical: s.eval_loss == Some(e0),
        without_replica_check: None,
        wall_s: 0.0,
    })
}

/// The class of a run (see the module documentation).
fn classify(report: &TrainReport, ratio: Option<f64>) -> &'static str {
    let chance = (10.0f64).ln();
    match report.summary.outcome {
        TrainOutcomeKind::DeviceFailed => "crashed",
        TrainOutcomeKind::Finished => match (report.summary.eval_loss, ratio) {
            (Some(e), Some(r)) if e.is_finite() && e < chance => {
                if r > 1.0 + TOLERANCE {
                    "degraded"
                } else {
                    "tolerated"
                }
            }
            _ => "diverged",
        },
        _ => "diverged",
    }
}

fn print_table(models: &[ModelCounts], e0: f64) {
    println!("fault-free held-out loss: {e0:.4}\n");
    println!(
        "| model | faults | crashed | stopped: non-finite | stopped: loss jump | stopped: replicas disagree | finished, diverged | finished, degraded | finished, tolerated (identical) | replicas-stopped runs without the check: crashed / diverged / degraded / tolerated | worst finished held-out loss / fault-free |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut total = ModelCounts::default();
    let row = |name: String, m: &ModelCounts| {
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} / {} / {} / {} | {} |",
            m.faults,
            m.crashed,
            m.non_finite,
            m.loss_jump,
            m.replicas_disagree,
            m.finished_diverged,
            m.degraded,
            m.tolerated,
            m.identical,
            m.unchecked_crashed,
            m.unchecked_diverged,
            m.unchecked_degraded,
            m.unchecked_tolerated,
            m.worst_finished_ratio
                .map(|r| if r < 100.0 {
                    format!("{r:.3}")
                } else {
                    format!("{r:.1e}")
                })
                .unwrap_or_else(|| "–".into())
        );
    };
    for m in models {
        row(format!("`{}`", m.model), m);
        total.add(m);
    }
    row("**all**".into(), &total);
}
