//! Running a plan: worker threads inject, one writer commits.
//!
//! The campaign's subjects are built once per session (through a [`SubjectSource`],
//! which checks each is the one planned) and shared by the workers. The pending rows of
//! the store (of the shard) are handed out in campaign order from a shared counter, so
//! each worker meets each (subject, model) cell at most once: on meeting a cell it
//! prepares a [`Target`] (golden run, instrumented dry run, hang limits) on its own
//! device, then runs the cell's rows it draws. Results flow over a
//! channel to the calling thread, the only one that writes the store: each result is
//! committed on its own before the next is read, and a row that already has a result
//! is never run (pending rows only) nor stored twice (`ON CONFLICT DO NOTHING`).
//!
//! Isolation, and why outcomes do not depend on jobs, shards or interruptions: on the
//! virtual GPU with [`Isolation::Threads`] every injection runs on a fresh virtual GPU
//! with the original and instrumented modules loaded (the same state for every
//! injection), and the per-injection fault comes from the plan; with
//! [`Isolation::Processes`] (CUDA devices) each worker serves its device from a
//! subprocess that is replaced when a launch hangs or poisons its context, opened anew
//! for every cell, so each module is loaded once per (cell, worker).
//!
//! Coverage campaigns ([`CampaignKind::Coverage`]) run the same way, row by row, but a
//! row is not an injection into a program: its subject's [`CoverageProbe`] (the health
//! check) runs on a fresh faulty virtual GPU carrying the row's fault
//! ([`crate::faulty_gpu`]) under the row's own scheduling seed
//! ([`crate::scheduling_seed`]), and the store commits the check's result with its
//! `results` row in one transaction.

use super::config::{shard_name, CampaignConfig, CampaignKind};
use super::error::CampaignError;
use super::plan::open_subjects;
use super::plan::PlanRow;
use super::store::{CampaignStore, Durability, Session};
use crate::instrument::instrument;
use crate::model::Model;
use crate::run::{InjectError, Injection, Target};
use crate::subject::{CoverageProbe, Subject, SubjectSource};
use gpu::{Device, DeviceSpec, NodeConfig, Platform, SimSpec, WorkerCommand, WorkerOptions};
use reports::{CoverageRecord, OutcomeKind, RunRecord, Shard};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// Where each worker's device lives.
#[derive(Debug, Clone)]
pub enum Isolation {
    /// In this process, one device per worker thread (the virtual GPU's default).
    Threads,
    /// In a child process per worker ([`gpu::WorkerDevice`], started with this command),
    /// killed and replaced when a launch hangs or poisons the device (CUDA's default).
    Processes(WorkerCommand),
}

impl Isolation {
    fn name(&self) -> &'static str {
        match self {
            Isolation::Threads => "thread",
            Isolation::Processes(_) => "process",
        }
    }
}

/// How to run a campaign store.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// Run only this shard's rows (`index % count == index`).
    pub shard: Option<Shard>,
    /// Where devices live.
    pub isolation: Isolation,
    /// How hard each commit is pushed to disk.
    pub durability: Durability,
    /// Host name recorded in the session.
    pub host: String,
    /// Command line recorded in the session.
    pub command: Option<String>,
}

/// What the runner reports, in order: one `Started`, then `Result`s and `Failed`s as
/// they are committed or given up, then one `Finished`.
#[derive(Debug)]
#[non_exhaustive]
pub enum CampaignEvent<'a> {
    /// The session started.
    Started {
        /// Its number in the store.
        session: i64,
        /// Planned injections (of the shard).
        planned: u64,
        /// Of which already done.
        done: u64,
        /// Worker threads.
        jobs: usize,
        /// The device.
        device: &'a str,
    },
    /// A result was committed.
    Result {
        /// The plan row.
        row: &'a PlanRow,
        /// The record as stored.
        record: &'a RunRecord,
        /// Done so far (of the shard).
        done: u64,
        /// Planned (of the shard).
        planned: u64,
    },
    /// A cell (or one row, `index`) could not run; its rows stay pending.
    Failed {
        /// The subject.
        subject: &'a str,
        /// The model.
        model: Model,
        /// The row, when only one row failed.
        index: Option<u64>,
        /// Why.
        reason: &'a str,
    },
    /// The session ended.
    Finished(&'a RunSummary),
}

/// What a session did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The session's number in the store.
    pub session: i64,
    /// Results this session committed.
    pub ran: u64,
    /// Results in the store (of the shard), this session's included.
    pub done: u64,
    /// Planned injections (of the shard).
    pub planned: u64,
    /// Outcome kinds of this session's results.
    pub counts: BTreeMap<OutcomeKind, u64>,
    /// Why cells or rows could not run (they stay pending).
    pub failures: Vec<String>,
    /// Stopped by the caller's stop flag before every row ran.
    pub interrupted: bool,
    /// Wall time of the session.
    pub elapsed: Duration,
}

impl RunSummary {
    /// Every planned row (of the shard) has a result.
    pub fn complete(&self) -> bool {
        self.done == self.planned
    }

    /// Counts a result this session committed and reports it.
    fn commit(
        &mut self,
        row: &PlanRow,
        record: &RunRecord,
        on_event: &mut dyn FnMut(&CampaignEvent<'_>),
    ) {
        self.ran += 1;
        self.done += 1;
        *self.counts.entry(record.outcome.kind()).or_default() += 1;
        on_event(&CampaignEvent::Result {
            row,
            record,
            done: self.done,
            planned: self.planned,
        });
    }
}

enum Msg {
    Result {
        worker: u32,
        row: usize,
        injection: Injection,
    },
    Coverage {
        worker: u32,
        row: usize,
        record: Box<CoverageRecord>,
    },
    Target {
        worker: u32,
        row: usize,
        golden: Option<u64>,
        dry: Option<u64>,
        dry_wall: Duration,
        limits: gpu::Limits,
    },
    Failed {
        row: usize,
        whole_cell: bool,
        reason: String,
    },
}

/// Runs the pending rows of the store at `path` until all ran or `stop` is set (then
/// in-flight injections finish and are committed). The subjects are rebuilt through
/// `source` (an error when one changed since planning). Events go to `on_event` on the
/// calling thread.
pub fn run_campaign(
    path: &Path,
    opts: &RunOptions,
    source: &SubjectSource,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&CampaignEvent<'_>),
) -> Result<RunSummary, CampaignError> {
    let t0 = Instant::now();
    let mut store = CampaignStore::open(path)?;
    store.set_durability(opts.durability)?;
    let config = store.meta().config.clone();
    let device: DeviceSpec =
        config
            .device
            .parse()
            .map_err(|e: gpu::SpecError| CampaignError::Format {
                path: path.to_path_buf(),
                reason: format!("meta `device`: {e}"),
            })?;
    let platform = platform_of(&config).map_err(|reason| CampaignError::Format {
        path: path.to_path_buf(),
        reason,
    })?;
    let info = platform
        .info(&device)
        .map_err(|source| CampaignError::Device {
            device: config.device.clone(),
            error: source,
        })?;
    let subjects: HashMap<String, Arc<dyn Subject>> = open_subjects(&config, source)?
        .into_iter()
        .map(|s| (s.id().name.clone(), s))
        .collect();
    let shard = opts.shard.or(store.meta().shard);
    let session = store.begin_session(&Session {
        id: 0,
        started: super::store::rfc3339(std::time::SystemTime::now()),
        finished: None,
        status: "running".into(),
        command: opts.command.clone(),
        host: opts.host.clone(),
        pid: std::process::id(),
        shard,
        jobs: opts.jobs.max(1) as u32,
        isolation: opts.isolation.name().into(),
        device: config.device.clone(),
        device_name: info.name.clone(),
        device_uuid: (!info.uuid.is_empty()).then(|| info.uuid.clone()),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        completed: 0,
        reason: None,
    })?;
    // Room to record why the session stopped if the disk fills up meanwhile.
    let reserve = store.reserve(RESERVE_BYTES);
    let ctx = Context {
        store: &store,
        session,
        config: &config,
        device: &device,
        platform: &platform,
        subjects: &subjects,
        shard,
        opts,
    };
    let result = run_session(&ctx, stop, on_event, t0);
    let (status, reason) = match &result {
        Ok(s) if s.complete() => ("finished", None),
        Ok(s) if s.interrupted => ("interrupted", Some("stopped by a signal".to_string())),
        Ok(s) => (
            "incomplete",
            Some(format!("{} injections could not run", s.planned - s.done)),
        ),
        Err(e) => ("failed", Some(e.to_string())),
    };
    drop(reserve); // frees room on a full disk to record the end
    let ended = store.end_session(session, status, reason.as_deref());
    let summary = result?;
    ended?;
    on_event(&CampaignEvent::Finished(&summary));
    Ok(summary)
}

/// The platform a campaign's device is opened on: the machine's, with the stored node
/// config (faulty virtual GPUs armed by [`crate::InjectorFaults`]).
pub(crate) fn platform_of(config: &CampaignConfig) -> Result<Platform, String> {
    let platform = Platform::new().with_fault_factory(Arc::new(crate::faulty::InjectorFaults));
    match &config.node_config {
        None => Ok(platform),
        Some(text) => NodeConfig::parse(text, "(the campaign's stored node config)")
            .map(|n| platform.with_node_config(n))
            .map_err(|e| e.to_string()),
    }
}

/// What one session works with.
struct Context<'a> {
    store: &'a CampaignStore,
    session: i64,
    config: &'a CampaignConfig,
    device: &'a DeviceSpec,
    platform: &'a Platform,
    subjects: &'a HashMap<String, Arc<dyn Subject>>,
    shard: Option<Shard>,
    opts: &'a RunOptions,
}

fn run_session(
    ctx: &Context<'_>,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&CampaignEvent<'_>),
    t0: Instant,
) -> Result<RunSummary, CampaignError> {
    let (store, session, config, device, opts) =
        (ctx.store, ctx.session, ctx.config, ctx.device, ctx.opts);
    let rows = store.pending(ctx.shard)?;
    let (planned, done) = store.progress(ctx.shard)?;
    let jobs = opts.jobs.clamp(1, rows.len().max(1));
    on_event(&CampaignEvent::Started {
        session,
        planned,
        done,
        jobs,
        device: &config.device,
    });
    let mut summary = RunSummary {
        session,
        ran: 0,
        done,
        planned,
        counts: BTreeMap::new(),
        failures: Vec::new(),
        interrupted: false,
        elapsed: Duration::ZERO,
    };
    let abort = AtomicBool::new(false);
    let shared = Shared {
        rows: &rows,
        next: AtomicUsize::new(0),
        stop,
        abort: &abort,
        failed: Mutex::new(HashSet::new()),
        subjects: ctx.subjects,
        config,
        device,
        platform: ctx.platform,
        isolation: &opts.isolation,
    };
    let sim = match device {
        DeviceSpec::Sim(s) => Some(s.clone()),
        _ => None,
    };
    let mut write_error = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Msg>();
        for worker in 0..jobs {
            let tx = tx.clone();
            let shared = &shared;
            let sim = sim.clone();
            scope.spawn(move || work(worker as u32, shared, sim, tx));
        }
        drop(tx);
        for msg in rx {
            if write_error.is_some() {
                continue; // draining after a store error
            }
            let r = match msg {
                Msg::Result {
                    worker,
                    row,
                    injection,
                } => {
                    let row = &rows[row];
                    store
                        .insert_result(session, worker, row, &injection)
                        .map(|inserted| {
                            if inserted {
                                let record = record_of(row, &injection);
                                summary.commit(row, &record, on_event);
                            }
                        })
                }
                Msg::Coverage {
                    worker,
                    row,
                    record,
                } => {
                    let row = &rows[row];
                    store
                        .insert_coverage(session, worker, row, &record)
                        .map(|inserted| {
                            if inserted {
                                let record = RunRecord {
                                    workload: row.subject.clone(),
                                    model: row.model.id().to_string(),
                                    spec: row.spec.to_string(),
                                    outcome: super::store::coverage_outcome(&record),
                                    activations: None,
                                    instructions: record.instructions,
                                    elapsed_us: record.duration_us,
                                    error: None,
                                    fault_sm: Some(row.spec.sm),
                                };
                                summary.commit(row, &record, on_event);
                            }
                        })
                }
                Msg::Target {
                    worker,
                    row,
                    golden,
                    dry,
                    dry_wall,
                    limits,
                } => {
                    let row = &rows[row];
                    store.insert_target(
                        session,
                        worker,
                        &row.subject,
                        row.model,
                        golden,
                        dry,
                        dry_wall.as_micros() as u64,
                        limits,
                    )
                }
                Msg::Failed {
                    row,
                    whole_cell,
                    reason,
                } => {
                    let row = &rows[row];
                    let index = (!whole_cell).then_some(row.index);
                    summary.failures.push(match index {
                        Some(i) => {
                            format!("{}/{} injection {i}: {reason}", row.subject, row.model)
                        }
                        None => format!("{}/{}: {reason}", row.subject, row.model),
                    });
                    on_event(&CampaignEvent::Failed {
                        subject: &row.subject,
                        model: row.model,
                        index,
                        reason: &reason,
                    });
                    Ok(())
                }
            };
            if let Err(e) = r {
                abort.store(true, Ordering::SeqCst);
                write_error = Some(e);
            }
        }
    });
    if let Some(e) = write_error {
        return Err(e);
    }
    summary.interrupted = stop.load(Ordering::SeqCst) && summary.done < planned;
    summary.elapsed = t0.elapsed();
    Ok(summary)
}

fn record_of(row: &PlanRow, inj: &Injection) -> RunRecord {
    RunRecord {
        workload: row.subject.clone(),
        model: row.model.id().to_string(),
        spec: row.spec.to_string(),
        outcome: inj.outcome.clone(),
        activations: inj.activations,
        instructions: inj.instructions,
        elapsed_us: inj.elapsed.as_micros() as u64,
        error: inj.error.clone(),
        // a transient fault has no SM: its thread is whichever reaches the instance
        fault_sm: (!row.model.is_transient()).then_some(row.spec.sm),
    }
}

struct Shared<'a> {
    rows: &'a [PlanRow],
    next: AtomicUsize,
    stop: &'a AtomicBool,
    abort: &'a AtomicBool,
    failed: Mutex<HashSet<(String, Model)>>,
    subjects: &'a HashMap<String, Arc<dyn Subject>>,
    config: &'a CampaignConfig,
    device: &'a DeviceSpec,
    platform: &'a Platform,
    isolation: &'a Isolation,
}

/// A worker's prepared cell.
struct Prepared {
    key: (String, Model),
    target: Target,
    /// The device the target was prepared on (injections run on it, except on the
    /// virtual GPU in threads mode).
    dev: Box<dyn Device + Send>,
    original: String,
    instrumented: String,
    /// Consecutive injections that failed outside the workload.
    failures_in_a_row: u32,
}

/// Bytes set aside beside the store during a session (see `CampaignStore::reserve`):
/// enough for SQLite to record the session's end after the disk filled up.
const RESERVE_BYTES: usize = 1 << 20;

/// After this many consecutive injection errors (not outcomes: device errors outside
/// the workload's run) a worker gives the cell up; its rows stay pending.
const MAX_FAILURES_IN_A_ROW: u32 = 3;

fn work(worker: u32, sh: &Shared<'_>, sim: Option<SimSpec>, tx: mpsc::Sender<Msg>) {
    let mut current: Option<Prepared> = None;
    loop {
        if sh.stop.load(Ordering::SeqCst) || sh.abort.load(Ordering::SeqCst) {
            return;
        }
        let i = sh.next.fetch_add(1, Ordering::SeqCst);
        let Some(row) = sh.rows.get(i) else {
            return;
        };
        let key = (row.subject.clone(), row.model);
        if sh.failed.lock().expect("failed lock").contains(&key) {
            continue;
        }
        if sh.config.kind == CampaignKind::Coverage {
            let msg = match probe(sh, sim.as_ref(), row) {
                Ok(record) => Msg::Coverage {
                    worker,
                    row: i,
                    record: Box::new(record),
                },
                Err(reason) => Msg::Failed {
                    row: i,
                    whole_cell: false,
                    reason,
                },
            };
            if tx.send(msg).is_err() {
                return;
            }
            continue;
        }
        if current.as_ref().is_none_or(|p| p.key != key) {
            current = None; // drop the previous device (a worker process exits)
            match prepare(sh, &key) {
                Ok(p) => {
                    let _ = tx.send(Msg::Target {
                        worker,
                        row: i,
                        golden: p.target.golden().stats.instructions,
                        dry: p.target.dry_instructions(),
                        dry_wall: p.target.dry_wall(),
                        limits: p.target.limits(),
                    });
                    current = Some(p);
                }
                Err(reason) => {
                    let first = sh.failed.lock().expect("failed lock").insert(key);
                    if first {
                        let _ = tx.send(Msg::Failed {
                            row: i,
                            whole_cell: true,
                            reason,
                        });
                    }
                    continue;
                }
            }
        }
        let p = current.as_mut().expect("prepared");
        let result = match (&sim, sh.isolation) {
            (Some(_), Isolation::Threads) => inject_fresh(sh, p, row),
            _ => p.target.inject(p.dev.as_mut(), &row.spec),
        };
        let msg = match result {
            Ok(injection) => {
                p.failures_in_a_row = 0;
                Msg::Result {
                    worker,
                    row: i,
                    injection,
                }
            }
            Err(e) => {
                p.failures_in_a_row += 1;
                if p.failures_in_a_row < MAX_FAILURES_IN_A_ROW {
                    Msg::Failed {
                        row: i,
                        whole_cell: false,
                        reason: e.to_string(),
                    }
                } else {
                    // a broken device: give the cell up instead of failing row by row
                    sh.failed.lock().expect("failed lock").insert(key);
                    current = None;
                    Msg::Failed {
                        row: i,
                        whole_cell: true,
                        reason: format!(
                            "{MAX_FAILURES_IN_A_ROW} injections in a row failed outside the workload; the last: {e}"
                        ),
                    }
                }
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// One row of a coverage campaign: the subject's detector on a fresh faulty virtual GPU
/// of the campaign's profile, under the row's scheduling seed.
fn probe(sh: &Shared<'_>, sim: Option<&SimSpec>, row: &PlanRow) -> Result<CoverageRecord, String> {
    let subject = sh.subjects.get(&row.subject).ok_or_else(|| {
        format!(
            "the store plans `{}`, which its configuration does not name",
            row.subject
        )
    })?;
    let probe: &dyn CoverageProbe = subject.probe().ok_or_else(|| {
        format!(
            "{} `{}` is not a detector; a coverage campaign measures one",
            subject.id().kind,
            row.subject
        )
    })?;
    let sim = sim.ok_or_else(|| {
        format!(
            "coverage campaigns run on virtual GPUs; the store names {}",
            sh.config.device
        )
    })?;
    let seed = crate::sample::scheduling_seed(sh.config.seed, &row.subject, row.model, row.index);
    let (platform, device) = crate::faulty::faulty_gpu(sim, &row.spec, Some(seed))?;
    probe.probe(&platform, &device, row, seed, sh.config)
}

/// One injection on a fresh virtual GPU holding the original and the instrumented
/// module, loaded in the order [`Target::new`] loads them.
fn inject_fresh(sh: &Shared<'_>, p: &Prepared, row: &PlanRow) -> Result<Injection, InjectError> {
    let mut dev = sh.platform.open(sh.device)?;
    dev.load(&p.original)?;
    let m = dev.load(&p.instrumented)?;
    if m != p.target.module() {
        return Err(InjectError::Device(gpu::GpuError::Invalid {
            detail: format!(
                "fresh device gave module handle {:?}, the target expects {:?}",
                m,
                p.target.module()
            ),
        }));
    }
    p.target.inject(dev.as_mut(), &row.spec)
}

fn prepare(sh: &Shared<'_>, key: &(String, Model)) -> Result<Prepared, String> {
    let (name, model) = (key.0.as_str(), key.1);
    let subject = sh.subjects.get(name).cloned().ok_or_else(|| {
        format!("the store plans `{name}`, which its configuration does not name")
    })?;
    let module = ptx::parse(subject.ptx()).map_err(|e| format!("parsing the PTX: {e}"))?;
    let inst = instrument(&module, model).map_err(|e| format!("instrumenting: {e}"))?;
    let instrumented = inst.ptx();
    let mut dev: Box<dyn Device + Send> = match sh.isolation {
        Isolation::Threads => sh.platform.open(sh.device),
        Isolation::Processes(cmd) => sh
            .platform
            .open_worker(sh.device, cmd.clone(), WorkerOptions::default())
            .map(|d| Box::new(d) as Box<dyn Device + Send>),
    }
    .map_err(|e| format!("opening {}: {e}", sh.device))?;
    let original = subject.ptx().to_string();
    let target = Target::new(dev.as_mut(), subject, inst)
        .map_err(|e| e.to_string())?
        .with_hang_policy(sh.config.hang_policy());
    Ok(Prepared {
        key: key.clone(),
        target,
        dev,
        original,
        instrumented,
        failures_in_a_row: 0,
    })
}

/// `I/N` of a shard, or `all`.
pub fn shard_label(shard: Option<Shard>) -> String {
    shard.map(shard_name).unwrap_or_else(|| "all".into())
}
