//! `gpufault campaign`: plan, run, resume, merge and inspect fault campaigns (design.md
//! §2.5; the full guide is `docs/campaigns.md`).
//!
//! - `campaign plan (--workloads … | --kernels a.toml,…) --models … (--injections N |
//!   --margin M) --out FILE` profiles the fault sites and stores the plan.
//! - `campaign run FILE [--jobs J] [--shard I/N]` runs the pending injections, each
//!   result committed as it completes; `campaign resume FILE` continues after any
//!   interruption with the settings of the last session.
//! - `campaign merge A.db B.db… -o all.db` joins the stores of a sharded campaign.
//! - `campaign status FILE` says how far a store is.
//! - `campaign (--workloads … | --kernels …) --models … --injections …` plans and runs
//!   in one go (rerunning the same command resumes).
//!
//! Exit codes (also in `docs/exit-codes.md`): 0 done (every planned injection of the
//! store or shard has a result); 1 the command ran but some injections could not (a
//! fault-free run failed, a device error) — they stay pending, rerun `resume`; 2 usage
//! or environment error (bad flag, missing or foreign store, unavailable device, store
//! busy, merge of different plans); 130 stopped by Ctrl-C (resumable).

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use gpu::{DeviceSpec, WorkerCommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use injector::{
    CampaignConfig, CampaignEvent, CampaignStore, Durability, Injections, Isolation, RulePreset,
    RunOptions, RunSummary, Sampling, SamplingRules, SiteSelection, SiteWeight, SubjectOptions,
};
use reports::exit::Exit;
use reports::output::{CampaignStatus, SessionStatus};
use reports::{OutcomeKind, Shard};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Arguments of `gpufault campaign`: a subcommand, or the one-shot form (plan + run).
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CampaignArgs {
    #[command(subcommand)]
    command: Option<CampaignCommand>,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    run: RunFlags,
}

/// The campaign subcommands.
#[derive(Subcommand)]
pub enum CampaignCommand {
    /// Profile fault sites and store a plan of injections.
    Plan(Box<PlanCommand>),
    /// Run the pending injections of a store (or of one shard of it).
    Run(RunCommand),
    /// Continue a store after an interruption, with the settings of its last session.
    Resume(ResumeCommand),
    /// Join the stores of a sharded campaign into one.
    Merge(MergeCommand),
    /// Show how far a store is: planned, done, sessions.
    Status(StatusCommand),
}

/// `campaign plan`.
#[derive(Args)]
pub struct PlanCommand {
    #[command(flatten)]
    plan: PlanArgs,
    /// Threads used to profile the cells (default: all cores).
    #[arg(long, allow_negative_numbers = true)]
    jobs: Option<usize>,
}

/// What a plan is drawn from.
#[derive(Args)]
pub struct PlanArgs {
    /// Workloads, comma-separated, or `all` (see `gpufault workloads`).
    #[arg(long, value_name = "W,…")]
    workloads: Option<String>,
    /// Kernel manifests (TOML, see docs/kernels.md), comma-separated: campaigns on your
    /// own kernels, beside or instead of --workloads.
    #[arg(long, value_name = "FILE.toml,…", value_delimiter = ',')]
    kernels: Vec<PathBuf>,
    /// Fault models, comma-separated, or `all` (see `gpufault models`).
    #[arg(long, value_name = "M,…")]
    models: Option<String>,
    /// Injections per (workload, model) cell.
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "margin",
        allow_negative_numbers = true
    )]
    injections: Option<u64>,
    /// Instead of --injections: as many per cell as a ±MARGIN confidence interval needs
    /// in the worst case (0.031 at 95% is 1,000).
    #[arg(long, value_name = "MARGIN", allow_negative_numbers = true)]
    margin: Option<f64>,
    /// Confidence level of --margin.
    #[arg(
        long,
        default_value_t = 0.95,
        requires = "margin",
        allow_negative_numbers = true
    )]
    confidence: f64,
    /// Seed of every fault drawn.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    seed: u64,
    /// Draw faults only over exercised sites, or over the whole physical space (many
    /// are then never activated; reported as such).
    #[arg(long, value_enum, default_value_t = SamplingArg::Exercised)]
    sampling: SamplingArg,
    /// How each model's lanes, warp slots and parameters are drawn: `faithful`
    /// (NVBitPERfi's choices where its code makes one: iat/iaw masks uniform in
    /// 1..=blockDim, iac in 1..=gridDim, wv flips, iio random 32-bit masks) or `v1`
    /// (single-bit masks, gpufault's choices before 0.2). `gpufault models` lists both.
    #[arg(long, value_name = "PRESET", default_value = "faithful")]
    sampling_rules: String,
    /// Overrides one sampling rule of one model on top of --sampling-rules, as
    /// MODEL.KEY=VALUE; repeatable. Keys: mask (bit, bit:LO..HI, uniform:LO..HI,
    /// blockdim, griddim, or a fixed mask), pol (stuck, sa0, sa1, xor), lanes (all, one,
    /// subset:LO..HI), warps (all, one, subset), or any parameter of the model as a fixed
    /// value (imd.mode=addr). E.g. --sampling-rule iat.mask=uniform:1..1024.
    #[arg(long = "sampling-rule", value_name = "MODEL.KEY=VALUE")]
    sampling_rule: Vec<String>,
    /// Draw faults only at instructions of these NVBitFI instruction groups: FP64, FP32,
    /// LD, PR, NODEST, OTHERS, GPPR (all but NODEST), GP (all but NODEST and PR); comma
    /// list. A cell left without a site is an error (see --allow-empty-cells).
    #[arg(long, alias = "instruction-group", value_name = "G,…")]
    groups: Option<String>,
    /// Draw faults only at sites of these kernels (and of the device functions they
    /// call): exact names or globs (`bfs_*`); repeatable or a comma list.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    kernel: Vec<String>,
    /// Weight of a site when its fault is drawn: `static` (every exercised site alike)
    /// or `dynamic` (in proportion to its thread-instructions in the profiled run, as
    /// NVBitFI draws a dynamic instruction; exercised sampling only).
    #[arg(long, value_enum, default_value_t = SiteWeightArg::Static)]
    site_weight: SiteWeightArg,
    /// Plan a cell that --groups or --kernel leave without a site with no injection and
    /// a note, instead of refusing the campaign.
    #[arg(long)]
    allow_empty_cells: bool,
    /// Device the injections run on: auto, sim, sim:a100, sim:h100, cuda:N,
    /// cuda:GPU-<uuid>. `auto` is resolved now, on this machine.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Virtual GPU profile the sites are profiled on (default: the device's own; for a
    /// CUDA GPU the profile with the closest SM count, sim:h100 when it cannot be
    /// inspected).
    #[arg(long, value_name = "sim[:PROFILE]")]
    profile: Option<String>,
    /// Problem size of every workload (default: each workload's default).
    #[arg(long, allow_negative_numbers = true)]
    size: Option<usize>,
    /// Seed of the workloads' generated inputs.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    input_seed: u64,
    /// A virtual node config (JSON) giving virtual GPUs faults or telemetry; it is
    /// stored with the campaign, so every session opens the device the same way.
    /// Default: the file `GPUFAULT_NODE_CONFIG` names, when set.
    #[arg(long, value_name = "FILE")]
    node_config: Option<PathBuf>,
    /// A run is a hang beyond this many times the dry run's instructions (virtual GPU)
    /// or wall time (CUDA).
    #[arg(long, default_value_t = injector::HANG_FACTOR, allow_negative_numbers = true)]
    hang_factor: u64,
    /// … but never below this many thread-instructions per launch (virtual GPU).
    #[arg(long, value_name = "INSTRUCTIONS", default_value_t = injector::HANG_FLOOR_INSTRUCTIONS, allow_negative_numbers = true)]
    hang_floor: u64,
    /// … or below this many milliseconds per launch (CUDA).
    #[arg(long, value_name = "MS", default_value_t = injector::HANG_FLOOR_WALL.as_millis() as u64, allow_negative_numbers = true)]
    hang_floor_ms: u64,
    /// The store to create (never overwritten).
    #[arg(long, short = 'o', value_name = "FILE", default_value = "campaign.db")]
    out: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SamplingArg {
    Exercised,
    Physical,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SiteWeightArg {
    Static,
    Dynamic,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IsolationArg {
    /// One device per worker thread in this process (virtual GPU default).
    Thread,
    /// One worker process per worker thread, replaced after a hang or a sticky error
    /// (CUDA default).
    Process,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SyncArg {
    /// Each commit reaches the OS: survives the process being killed.
    Normal,
    /// Each commit is synced to disk: also survives a power loss (slower).
    Full,
}

/// How to run.
#[derive(Args)]
pub struct RunFlags {
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', allow_negative_numbers = true)]
    jobs: Option<usize>,
    /// Run only shard I of N: the injections whose index in their cell is I modulo N.
    /// Run each shard in its own copy of the plan, then `campaign merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Where worker devices live (default: thread on a virtual GPU, process on CUDA).
    #[arg(long, value_enum)]
    isolation: Option<IsolationArg>,
    /// Also append every result as a JSON line (reports::RunRecord) to FILE.
    #[arg(long, value_name = "FILE")]
    jsonl: Option<PathBuf>,
    /// How hard each commit is pushed to disk.
    #[arg(long, value_enum, default_value_t = SyncArg::Normal)]
    sync: SyncArg,
}

/// `campaign run`.
#[derive(Args)]
pub struct RunCommand {
    /// The campaign store.
    store: PathBuf,
    #[command(flatten)]
    run: RunFlags,
}

/// `campaign resume`.
#[derive(Args)]
pub struct ResumeCommand {
    /// The campaign store.
    store: PathBuf,
    /// Worker threads (default: the last session's).
    #[arg(long, short = 'j', allow_negative_numbers = true)]
    jobs: Option<usize>,
    /// Also append every result as a JSON line to FILE.
    #[arg(long, value_name = "FILE")]
    jsonl: Option<PathBuf>,
    /// How hard each commit is pushed to disk.
    #[arg(long, value_enum, default_value_t = SyncArg::Normal)]
    sync: SyncArg,
}

/// `campaign merge`.
#[derive(Args)]
pub struct MergeCommand {
    /// The shard stores (of one plan).
    #[arg(required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    /// The merged store to create.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: PathBuf,
}

/// `campaign status`.
#[derive(Args)]
pub struct StatusCommand {
    /// The campaign store.
    store: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `gpufault campaign`.
pub fn run(args: CampaignArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(CampaignCommand::Plan(p)) => plan_cmd(&p.plan, p.jobs).map(|_| ExitCode::SUCCESS),
        Some(CampaignCommand::Run(r)) => run_store(&r.store, &r.run, None),
        Some(CampaignCommand::Resume(r)) => resume(r),
        Some(CampaignCommand::Merge(m)) => merge(m),
        Some(CampaignCommand::Status(s)) => status(s),
        None => one_shot(args.plan, args.run),
    }
}

fn jobs_default() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub(crate) fn check_jobs(jobs: Option<usize>) -> anyhow::Result<usize> {
    match jobs {
        Some(0) => bail!("--jobs: must be at least 1"),
        Some(j) => Ok(j),
        None => Ok(jobs_default()),
    }
}

/// The sampling rules of `--sampling-rules` and `--sampling-rule`.
fn rules_of(p: &PlanArgs) -> anyhow::Result<SamplingRules> {
    let preset = RulePreset::parse(&p.sampling_rules)
        .map_err(|e| anyhow!("--sampling-rules {}: {e}", p.sampling_rules))?;
    let overrides = p
        .sampling_rule
        .iter()
        .map(|t| t.parse().map_err(|e| anyhow!("--sampling-rule {t}: {e}")))
        .collect::<anyhow::Result<_>>()?;
    Ok(SamplingRules { preset, overrides })
}

/// The validated configuration of the plan flags.
fn config_of(p: &PlanArgs) -> anyhow::Result<CampaignConfig> {
    let options = SubjectOptions {
        size: p.size,
        input_seed: p.input_seed,
    };
    let subjects = super::subjects::subjects(p.workloads.as_deref(), &p.kernels, &options)?;
    let models = injector::parse_models(
        p.models
            .as_deref()
            .ok_or_else(|| anyhow!("--models is required (ids, or `all`)"))?,
    )?;
    let injections = match (p.injections, p.margin) {
        (Some(n), None) => Injections::Fixed { n },
        (None, Some(margin)) => Injections::Margin {
            margin,
            confidence: p.confidence,
        },
        (None, None) => bail!("--injections N or --margin M is required"),
        (Some(_), Some(_)) => bail!("--injections and --margin exclude each other"),
    };
    let spec: DeviceSpec = p
        .device
        .parse()
        .with_context(|| format!("--device {}", p.device))?;
    if spec.is_node() {
        bail!("--device {}: names a node; give one GPU of it", p.device);
    }
    let node_config = super::subjects::node_config_text(p.node_config.as_deref())?;
    let platform = super::subjects::platform(p.node_config.as_deref())?;
    let resolved = platform.resolve(&spec);
    if node_config.is_some() {
        // a fault the node config cannot place on this device is an error now
        platform
            .info(&resolved)
            .with_context(|| format!("--device {}", p.device))?;
    }
    let profile = match &p.profile {
        Some(prof) => prof.clone(),
        None => {
            let sms = match &resolved {
                DeviceSpec::Cuda(_) => match platform.info(&resolved) {
                    Ok(info) => Some(info.sm_count),
                    Err(e) => {
                        eprintln!(
                            "gpufault: note: cannot inspect {resolved} here ({e}); profiling sites on sim:h100 (override with --profile)"
                        );
                        None
                    }
                },
                _ => None,
            };
            injector::site_profile_for(&resolved, sms)
        }
    };
    let config = CampaignConfig {
        kind: injector::CampaignKind::Injection,
        subjects: subjects.iter().map(|s| s.id().clone()).collect(),
        models,
        injections,
        seed: p.seed,
        sampling: match p.sampling {
            SamplingArg::Exercised => Sampling::Exercised,
            SamplingArg::Physical => Sampling::Physical,
        },
        rules: rules_of(p)?,
        sites: SiteSelection {
            groups: match &p.groups {
                Some(g) => injector::parse_groups(g).map_err(|e| anyhow!("--groups: {e}"))?,
                None => Vec::new(),
            },
            kernels: p.kernel.iter().map(|k| k.trim().to_string()).collect(),
            weight: match p.site_weight {
                SiteWeightArg::Static => SiteWeight::Static,
                SiteWeightArg::Dynamic => SiteWeight::Dynamic,
            },
            allow_empty: p.allow_empty_cells,
        },
        device: resolved.to_string(),
        profile,
        size: p.size,
        input_seed: p.input_seed,
        hang_factor: p.hang_factor,
        hang_floor_instructions: p.hang_floor,
        hang_floor_wall_ms: p.hang_floor_ms,
        node_config,
        baseline: None,
    };
    config.validate()?;
    Ok(config)
}

/// The command line that planned the campaign, for the record. The program is written
/// as `gpufault` whatever path it was started by, so a store (and the reports made from
/// it) does not carry the planning machine's directory layout.
pub(crate) fn command_line() -> String {
    std::iter::once("gpufault".to_string())
        .chain(std::env::args().skip(1))
        .map(|a| {
            if !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&b))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The run flags of a command that runs a store (`coverage`): worker threads, shard,
/// how hard commits are synced; devices in threads (virtual GPUs), no JSON Lines.
pub(crate) fn run_flags(jobs: Option<usize>, shard: Option<String>, full_sync: bool) -> RunFlags {
    RunFlags {
        jobs,
        shard,
        isolation: None,
        jsonl: None,
        sync: if full_sync {
            SyncArg::Full
        } else {
            SyncArg::Normal
        },
    }
}

fn plan_cmd(p: &PlanArgs, jobs: Option<usize>) -> anyhow::Result<CampaignConfig> {
    let config = config_of(p)?;
    let jobs = check_jobs(jobs)?;
    CampaignStore::check_creatable(&p.out)?;
    let cells = config.subjects.len() * config.models.len();
    let bar = new_bar(cells as u64, 0, "profiling sites");
    let plan = injector::plan_campaign(&config, &super::subjects::source(), jobs, &mut |pr| {
        if let Some(b) = &bar {
            b.set_position(pr.done as u64);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    check_plan_fits_device(&config, &plan, p.node_config.as_deref())?;
    CampaignStore::create(&p.out, &plan, Some(&command_line()))?;
    eprintln!(
        "{}: planned {} injections in {} cells ({} per cell, seed {}, {} sampling, {} rules, {}, device {}, sites profiled on {})",
        p.out.display(),
        plan.rows.len(),
        plan.cells.len(),
        config.injections.per_cell(),
        config.seed,
        config.sampling.name(),
        config.rules,
        config.sites,
        config.device,
        config.profile
    );
    for c in plan.cells.iter().filter(|c| c.note.is_some()) {
        eprintln!(
            "  {}/{}: {} planned: {}",
            c.subject,
            c.model,
            c.planned,
            c.note.as_deref().unwrap_or_default()
        );
    }
    Ok(config)
}

/// Refuses a plan whose faults name SMs or warp slots the campaign's device does not
/// have (sites profiled on a virtual GPU larger than the real one): such faults would
/// never run there and would be reported as "not activated".
fn check_plan_fits_device(
    config: &CampaignConfig,
    plan: &injector::CampaignPlan,
    node_config: Option<&Path>,
) -> anyhow::Result<()> {
    let platform = super::subjects::platform(node_config)?;
    let device: DeviceSpec = config.device.parse()?;
    let Ok(info) = platform.info(&device) else {
        return Ok(()); // could not be inspected here (noted when profiling)
    };
    let slots = info.warp_slots();
    if let Some(bad) = plan
        .rows
        .iter()
        .find(|r| r.spec.check_device(info.sm_count, slots).is_err())
    {
        let why = bad
            .spec
            .check_device(info.sm_count, slots)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        bail!(
            "--profile {}: fault {} of the plan cannot run on {} ({}): {why}; profile the sites on a virtual GPU no larger than the device (--profile)",
            config.profile,
            bad.spec,
            config.device,
            info.name
        );
    }
    Ok(())
}

fn one_shot(p: PlanArgs, r: RunFlags) -> anyhow::Result<ExitCode> {
    if p.workloads.is_none() && p.kernels.is_empty() && p.models.is_none() {
        bail!("give a subcommand (plan, run, resume, merge, status) or the one-shot form: gpufault campaign --workloads … (or --kernels …) --models … --injections N [--out FILE]");
    }
    let config = config_of(&p)?;
    if p.out.exists() {
        let store = CampaignStore::open(&p.out)?;
        if store.meta().config != config {
            bail!(
                "{}: already holds a different campaign; choose another --out or run `gpufault campaign resume {}`",
                p.out.display(),
                p.out.display()
            );
        }
        eprintln!(
            "{}: same campaign already planned; continuing it",
            p.out.display()
        );
    } else {
        plan_cmd(&p, r.jobs)?;
    }
    let code = run_store(&p.out, &r, None)?;
    if code == ExitCode::SUCCESS {
        // The one-shot form ends with the statistics (`gpufault report` renders more).
        super::report::print_table(&p.out)?;
    }
    Ok(code)
}

fn resume(r: ResumeCommand) -> anyhow::Result<ExitCode> {
    let store = CampaignStore::open(&r.store)?;
    let last = store.sessions()?.pop();
    drop(store);
    let flags = RunFlags {
        jobs: r.jobs.or(last.as_ref().map(|s| s.jobs as usize)),
        shard: None, // the store remembers its shard
        isolation: last.as_ref().map(|s| {
            if s.isolation == "process" {
                IsolationArg::Process
            } else {
                IsolationArg::Thread
            }
        }),
        jsonl: r.jsonl,
        sync: r.sync,
    };
    run_store(&r.store, &flags, last.map(|s| s.id))
}

pub(crate) fn run_store(
    path: &Path,
    r: &RunFlags,
    resumed: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let jobs = check_jobs(r.jobs)?;
    let shard: Option<Shard> = r.shard.as_deref().map(injector::parse_shard).transpose()?;
    let store = CampaignStore::open(path)?;
    let device: DeviceSpec = store
        .meta()
        .config
        .device
        .parse()
        .with_context(|| format!("{}: stored device", path.display()))?;
    drop(store);
    let isolation = match r.isolation {
        Some(IsolationArg::Thread) => Isolation::Threads,
        Some(IsolationArg::Process) => Isolation::Processes(WorkerCommand::gpufault_self()?),
        None => match device {
            DeviceSpec::Sim(_) => Isolation::Threads,
            _ => Isolation::Processes(WorkerCommand::gpufault_self()?),
        },
    };
    let jsonl = r
        .jsonl
        .as_ref()
        .map(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map(BufWriter::new)
                .with_context(|| format!("--jsonl {}", p.display()))
        })
        .transpose()?;
    let opts = RunOptions {
        jobs,
        shard,
        isolation,
        durability: match r.sync {
            SyncArg::Normal => Durability::Normal,
            SyncArg::Full => Durability::Full,
        },
        host: shim::sys::host_name(),
        command: Some(command_line()),
    };
    let stop = interrupt::install()?;
    let mut reporter = Reporter::new(
        show_progress(
            std::io::stderr().is_terminal(),
            std::env::var_os("CI").as_deref(),
        ),
        jsonl,
        stop,
    );
    if let Some(id) = resumed {
        eprintln!("{}: resuming after session {id}", path.display());
    }
    let summary = injector::run_campaign(path, &opts, &super::subjects::source(), stop, &mut |e| {
        reporter.event(e)
    });
    reporter.finish();
    let summary = summary?;
    if let Some(e) = reporter.jsonl_error.take() {
        eprintln!("gpufault: warning: --jsonl: {e} (the store has every result)");
    }
    eprintln!("{}", summary_line(path, &summary));
    for f in &summary.failures {
        eprintln!("  could not run: {f}");
    }
    if summary.interrupted {
        eprintln!(
            "interrupted: every finished injection is stored; continue with `gpufault campaign resume {}`",
            path.display()
        );
        return Ok(interrupt::exit().into());
    }
    if !summary.complete() {
        eprintln!(
            "{} injections still pending; after fixing the cause, continue with `gpufault campaign resume {}`",
            summary.planned - summary.done,
            path.display()
        );
        return Ok(Exit::FoundProblem.into());
    }
    Ok(ExitCode::SUCCESS)
}

fn merge(m: MergeCommand) -> anyhow::Result<ExitCode> {
    let s = injector::merge_stores(&m.inputs, &m.out)?;
    eprintln!(
        "{}: merged {} stores: {}/{} injections done{}",
        m.out.display(),
        m.inputs.len(),
        s.results,
        s.planned,
        if s.duplicates > 0 {
            format!(
                " ({} results found in more than one input, identical, kept once)",
                s.duplicates
            )
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn status(s: StatusCommand) -> anyhow::Result<ExitCode> {
    let store = CampaignStore::open_read_only(&s.store)?;
    let meta = store.meta();
    let (planned, done) = store.progress(meta.shard)?;
    let sessions = store.sessions()?;
    if s.json {
        let v = CampaignStatus {
            done,
            plan_hash: meta.plan_hash.clone(),
            planned,
            sessions: sessions
                .iter()
                .map(|x| SessionStatus {
                    completed: x.completed,
                    device: x.device.clone(),
                    device_name: x.device_name.clone(),
                    finished: x.finished.clone(),
                    host: x.host.clone(),
                    id: x.id,
                    jobs: x.jobs,
                    pid: x.pid,
                    started: x.started.clone(),
                    status: x.status.clone(),
                })
                .collect(),
            shard: meta.shard.map(injector::shard_name),
            store: s.store.display().to_string(),
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("store      {}", s.store.display());
    println!(
        "plan       {} (seed {})",
        &meta.plan_hash[..12],
        meta.config.seed
    );
    println!("shard      {}", injector::shard_label(meta.shard));
    println!("done       {done}/{planned}");
    for x in sessions {
        println!(
            "session {:>3} {} {:<11} {} pid {} on {} ({} jobs), {} results",
            x.id, x.started, x.status, x.device_name, x.pid, x.host, x.jobs, x.completed
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether to draw a progress bar: only on a terminal, and not under CI (`CI` set to
/// anything but empty, `0` or `false`).
pub fn show_progress(stderr_is_terminal: bool, ci: Option<&std::ffi::OsStr>) -> bool {
    let under_ci = ci.is_some_and(|v| !(v.is_empty() || v == "0" || v == "false"));
    stderr_is_terminal && !under_ci
}

pub(crate) fn new_bar(len: u64, pos: u64, msg: &'static str) -> Option<ProgressBar> {
    if !show_progress(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI").as_deref(),
    ) {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta}")
            .expect("valid template"),
    );
    bar.set_position(pos);
    bar.set_message(msg);
    Some(bar)
}

fn counts_text(counts: &BTreeMap<OutcomeKind, u64>) -> String {
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{} {n}", k.name().replace('_', " ")))
        .collect();
    if parts.is_empty() {
        "no results yet".into()
    } else {
        parts.join(", ")
    }
}

/// The one-line summary of a session.
fn summary_line(path: &Path, s: &RunSummary) -> String {
    let secs = s.elapsed.as_secs_f64();
    format!(
        "{}: {}/{} injections done; this run {} in {:.1} s ({:.1}/s): {}",
        path.display(),
        s.done,
        s.planned,
        s.ran,
        secs,
        if secs > 0.0 { s.ran as f64 / secs } else { 0.0 },
        counts_text(&s.counts)
    )
}

/// What a first Ctrl-C makes the campaign do, shown once: in the progress bar, or as one
/// line of stderr at the next result without one.
const STOPPING: &str = "stopping after the injections in flight (Ctrl-C again to quit now)";

/// Turns runner events into a progress bar (on a terminal only) and JSON Lines.
struct Reporter {
    enabled: bool,
    bar: Option<ProgressBar>,
    counts: BTreeMap<OutcomeKind, u64>,
    jsonl: Option<BufWriter<File>>,
    jsonl_error: Option<std::io::Error>,
    stop: &'static AtomicBool,
    stopping_shown: bool,
}

impl Reporter {
    fn new(enabled: bool, jsonl: Option<BufWriter<File>>, stop: &'static AtomicBool) -> Self {
        Reporter {
            enabled,
            bar: None,
            counts: BTreeMap::new(),
            jsonl,
            jsonl_error: None,
            stop,
            stopping_shown: false,
        }
    }

    fn event(&mut self, e: &CampaignEvent<'_>) {
        match e {
            CampaignEvent::Started {
                planned,
                done,
                jobs,
                device,
                ..
            } if self.enabled => {
                let bar =
                    ProgressBar::with_draw_target(Some(*planned), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "[{elapsed_precise}] {wide_bar} {pos}/{len} {rate} ETA {eta}\n{msg}{stopping}",
                    )
                    .expect("valid template")
                    .with_key(
                        "rate",
                        |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{:.1}/s", s.per_sec());
                        },
                    )
                    .with_key("stopping", {
                        // Read at every redraw (the steady tick): shown at once on Ctrl-C.
                        let stop = self.stop;
                        move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            if stop.load(Ordering::SeqCst) {
                                let _ = write!(w, " — {STOPPING}");
                            }
                        }
                    }),
                );
                bar.set_position(*done);
                bar.reset_eta();
                bar.set_message(format!("{device}, {jobs} jobs"));
                bar.enable_steady_tick(Duration::from_millis(200));
                self.bar = Some(bar);
            }
            CampaignEvent::Result { record, done, .. } => {
                *self.counts.entry(record.outcome.kind()).or_default() += 1;
                if let Some(b) = &self.bar {
                    b.set_position(*done);
                    b.set_message(counts_text(&self.counts));
                }
                if let Some(w) = &mut self.jsonl {
                    let r = serde_json::to_writer(&mut *w, record)
                        .map_err(std::io::Error::from)
                        .and_then(|()| w.write_all(b"\n"))
                        .and_then(|()| w.flush());
                    if let Err(e) = r {
                        self.jsonl_error = Some(e);
                        self.jsonl = None;
                    }
                }
                if !self.enabled && self.stop.load(Ordering::SeqCst) && !self.stopping_shown {
                    self.stopping_shown = true;
                    eprintln!("{STOPPING}");
                }
            }
            CampaignEvent::Failed {
                subject,
                model,
                index,
                reason,
            } => {
                let line = match index {
                    Some(i) => format!("{subject}/{model} injection {i} could not run: {reason}"),
                    None => format!("{subject}/{model} could not run: {reason}"),
                };
                match &self.bar {
                    Some(b) => b.println(line),
                    None => eprintln!("{line}"),
                }
            }
            CampaignEvent::Finished(_) => {}
            _ => {}
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// Ctrl-C and SIGTERM: the first SIGINT or SIGTERM sets the stop flag (the runner
/// finishes and commits the injections in flight, the session is marked `interrupted`,
/// and the command exits 130 for SIGINT, 143 for SIGTERM — what a batch system's
/// `scancel` or a pod's termination sends); a second one exits at once with its code
/// (the store stays consistent: every commit is a transaction). The handlers are
/// signal-hook's: they only touch atomic flags and `_exit`. What is printed on the first
/// signal, the [`Reporter`] prints, once.
mod interrupt {
    use anyhow::anyhow;
    use reports::exit::Exit;
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;

    static STOP: AtomicBool = AtomicBool::new(false);
    static TERM: AtomicBool = AtomicBool::new(false);

    /// Installs the SIGINT and SIGTERM handlers (once per process) and returns the stop
    /// flag they set.
    pub fn install() -> anyhow::Result<&'static AtomicBool> {
        static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
        INSTALLED
            .get_or_init(|| {
                // The order matters: on the first signal the shutdown finds the flag
                // still false, then the flag is set; the second finds it set and exits.
                let term = i32::from(Exit::Terminated.code());
                flag::register_conditional_shutdown(
                    SIGINT,
                    i32::from(Exit::Interrupted.code()),
                    &STOP,
                )
                .and_then(|_| flag::register_conditional_shutdown(SIGTERM, term, &STOP))
                .and_then(|_| flag::register(SIGTERM, &TERM))
                .and_then(|_| flag::register(SIGINT, &STOP))
                .and_then(|_| flag::register(SIGTERM, &STOP))
                .map(drop)
                .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| anyhow!("cannot install the Ctrl-C/SIGTERM handlers: {e}"))?;
        Ok(&STOP)
    }

    /// The exit code of a stopped campaign: 143 after SIGTERM, else 130.
    pub fn exit() -> Exit {
        if TERM.load(Ordering::SeqCst) {
            Exit::Terminated
        } else {
            Exit::Interrupted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn progress_only_on_a_terminal_outside_ci() {
        assert!(show_progress(true, None));
        assert!(!show_progress(false, None));
        assert!(!show_progress(true, Some(OsStr::new("true"))));
        assert!(!show_progress(true, Some(OsStr::new("1"))));
        assert!(show_progress(true, Some(OsStr::new("false"))));
        assert!(show_progress(true, Some(OsStr::new(""))));
    }

    #[test]
    fn summary_line_counts_this_session() {
        let mut counts = BTreeMap::new();
        counts.insert(OutcomeKind::Masked, 3);
        counts.insert(OutcomeKind::NotActivated, 1);
        let s = RunSummary {
            session: 2,
            ran: 4,
            done: 10,
            planned: 12,
            counts,
            failures: vec![],
            interrupted: false,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(
            summary_line(Path::new("c.db"), &s),
            "c.db: 10/12 injections done; this run 4 in 2.0 s (2.0/s): not activated 1, masked 3"
        );
    }
}
