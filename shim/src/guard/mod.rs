//! `gpufault guard -- CMD…`: runs a training job with only healthy GPUs, and restarts it
//! from its checkpoint on the healthy ones when a GPU turns faulty.
//!
//! ```text
//!  pre-flight ──► start ──► watch ─────────────────────────────► done ──► exit 0
//!  check the       CMD in    progress file (completion marker),
//!  devices;        its own   periodic short checks, XID events
//!  quarantine      process      │ fault                │ the job ended, not done
//!  the faulty      group,       ▼                      ▼
//!  ones            healthy   quarantine, SIGTERM,    check the devices it used,
//!                  UUIDs     grace, SIGKILL the      quarantine the faulty ones
//!                  only      whole tree                │
//!                    ▲          └──────────┬───────────┘
//!                    └── restart (budget, minimum devices; else exit 1 / 3) ◄┘
//! ```
//!
//! Success is the job's own completion marker (its progress file, [`JobProgress`] with
//! `done`), never the exit code of the command: launchers report their own codes for
//! steps they killed (srun 137). Every step is an event line ([`EventLog`]), so a
//! recovery's timeline can be measured.

mod events;
pub mod launcher;
pub mod process;
pub mod resume_limit;
pub mod timeline;

pub use events::EventLog;
pub use process::{become_subreaper, Job, Stop};

use crate::env;
use crate::ledger::{Ledger, Quarantine};
use detector::CheckOptions;
use gpu::{DeviceKind, DeviceSpec, Platform};
use reports::check::{DeviceCheck, Verdict};
use reports::exit::GuardExit;
use reports::guard::{CheckedDevice, GuardEvent, JobProgress};
use reports::ledger::Evidence;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// Findings kept as a quarantine's evidence (the first ones: most serious, the fault's
/// own slot first).
const EVIDENCE_FINDINGS: usize = 8;

/// How the guard runs a job.
pub struct GuardConfig {
    /// The command and its arguments.
    pub command: Vec<OsString>,
    /// The devices the job may use, one per GPU (nodes expanded), in order.
    pub devices: Vec<DeviceSpec>,
    /// The platform the devices are opened on (with the node config of faulty virtual
    /// GPUs, if any).
    pub platform: Platform,
    /// The node config file, passed on to the job ([`env::NODE_CONFIG`]).
    pub node_config: Option<PathBuf>,
    /// The quarantine ledger.
    pub ledger: Ledger,
    /// Fewest devices the job may run on.
    pub min_devices: usize,
    /// Restarts allowed after the first start.
    pub max_restarts: u32,
    /// How long the job gets to checkpoint and stop after SIGTERM.
    pub grace: Duration,
    /// Time between periodic checks of the devices in use (`None`: none).
    pub check_every: Option<Duration>,
    /// How the devices are checked (pre-flight, periodic, after an unfinished exit).
    pub check: CheckOptions,
    /// The job's progress file.
    pub progress_file: PathBuf,
    /// How often the guard looks at the job.
    pub poll: Duration,
    /// After a fault, restrict the restart to checkpoints that predate the last clean
    /// check ([`env::RESUME_AT_MOST`]); `false`: the job resumes from its newest
    /// checkpoint (fewer steps lost; trusts the job not to have checkpointed state the
    /// fault corrupted).
    pub trusted_checkpoints: bool,
    /// The job's shared resume-limit file ([`resume_limit`]): after a quarantine the
    /// guard lowers it to the checkpoint it trusts, so that the ranks on other nodes
    /// resume at or below it too; named to the job in [`env::RESUME_LIMIT_FILE`].
    pub resume_limit_file: Option<PathBuf>,
}

/// How the guard ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code.
    pub exit: GuardExit,
    /// Why, in words.
    pub reason: String,
    /// Restarts made.
    pub restarts: u32,
}

/// A device the guard manages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dev {
    spec: DeviceSpec,
    name: String,
    uuid: String,
    cuda: bool,
}

/// A periodic check's verdicts and how long it took.
type CheckResult = (Vec<DeviceCheck>, Duration);

/// Why [`Guard::watch`] returned.
enum WatchEnd {
    /// The job wrote its completion marker.
    Completed,
    /// The guard got a signal (forwarded when the job is stopped).
    Signal(i32),
    /// Devices in use turned faulty.
    Fault {
        source: &'static str,
        faulty: Vec<(Dev, String, Evidence)>,
    },
    /// The job's main process ended without its completion marker.
    Exited,
}

/// Runs `config.command` under the guard until it completes or cannot go on; events
/// go to `log`, signals the caller receives (SIGINT, SIGTERM, SIGHUP) come in on
/// `signals`. The caller should have made this process a subreaper
/// ([`become_subreaper`]) so that the job's orphans can be found and reaped.
pub fn run(config: GuardConfig, log: &mut EventLog, signals: &Receiver<i32>) -> Outcome {
    let mut guard = Guard {
        run_id: format!("{}-{}", std::process::id(), now_nanos()),
        config,
        log,
        signals,
        restarts: 0,
        checkpoints: Vec::new(),
        resume_at_most: None,
        resumed_from: None,
        last_clean: None,
    };
    guard.run()
}

struct Guard<'a> {
    config: GuardConfig,
    log: &'a mut EventLog,
    signals: &'a Receiver<i32>,
    run_id: String,
    restarts: u32,
    /// Checkpoint steps the job reported, with when the guard first saw each.
    checkpoints: Vec<(u64, Instant)>,
    /// The newest checkpoint the current start may resume from (`None`: any).
    resume_at_most: Option<u64>,
    /// What the current start resumed from, as it reported.
    resumed_from: Option<u64>,
    /// When the last clean check of the devices in use (in this start) began.
    last_clean: Option<Instant>,
}

impl Guard<'_> {
    fn run(&mut self) -> Outcome {
        let c = &self.config;
        self.log.emit(GuardEvent::GuardStarted {
            run_id: self.run_id.clone(),
            command: c
                .command
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            devices: c.devices.iter().map(|d| d.to_string()).collect(),
            ledger: c.ledger.path().display().to_string(),
            progress_file: c.progress_file.display().to_string(),
            max_restarts: c.max_restarts,
            min_devices: c.min_devices,
            check_every_s: c.check_every.map(|d| d.as_secs_f64()),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        });
        let mut in_use = match self.preflight() {
            Ok(d) => d,
            Err(outcome) => return self.finish(outcome),
        };
        let mut attempt = 0u32;
        loop {
            if in_use.len() < self.config.min_devices {
                return self.finish(Outcome {
                    exit: GuardExit::TooFewDevices,
                    reason: format!(
                        "{} usable device{}, fewer than --min-devices {}",
                        in_use.len(),
                        if in_use.len() == 1 { "" } else { "s" },
                        self.config.min_devices
                    ),
                    restarts: self.restarts,
                });
            }
            if let Ok(sig) = self.signals.try_recv() {
                let name = signal_name(sig);
                self.log.emit(GuardEvent::Signal {
                    signal: name.clone(),
                });
                return self.finish(Outcome {
                    exit: if sig == nix::libc::SIGINT {
                        GuardExit::Interrupted
                    } else {
                        GuardExit::Terminated
                    },
                    reason: format!("stopped by {name} before the job was (re)started"),
                    restarts: self.restarts,
                });
            }
            let _ = std::fs::remove_file(&self.config.progress_file);
            self.resumed_from = None;
            self.last_clean = None;
            let command = launcher::for_devices(&self.config.command, in_use.len());
            let mut job = match Job::spawn(&command, &self.job_env(&in_use, attempt), &self.run_id)
            {
                Ok(j) => j,
                Err(e) => {
                    return self.finish(Outcome {
                        exit: GuardExit::JobFailed,
                        reason: format!(
                            "cannot start `{}`: {e}",
                            self.config.command[0].to_string_lossy()
                        ),
                        restarts: self.restarts,
                    })
                }
            };
            self.log.emit(GuardEvent::JobStarted {
                attempt,
                pid: job.pid(),
                devices: in_use.iter().map(|d| d.name.clone()).collect(),
                command: (command != self.config.command).then(|| {
                    command
                        .iter()
                        .map(|a| a.to_string_lossy().into_owned())
                        .collect()
                }),
                resume_at_most: self.resume_at_most,
            });
            match self.watch(&mut job, &in_use, attempt) {
                WatchEnd::Completed => {
                    self.job_exited(&mut job, attempt);
                    return self.finish(Outcome {
                        exit: GuardExit::Completed,
                        reason: "the job wrote its completion marker".into(),
                        restarts: self.restarts,
                    });
                }
                WatchEnd::Signal(sig) => {
                    let name = signal_name(sig);
                    self.log.emit(GuardEvent::Signal {
                        signal: name.clone(),
                    });
                    self.stop(&mut job, &format!("the guard got {name}"));
                    self.job_exited(&mut job, attempt);
                    let done = self.progress().is_some_and(|p| p.done);
                    let exit = if done {
                        GuardExit::Completed
                    } else if sig == nix::libc::SIGINT {
                        GuardExit::Interrupted
                    } else {
                        GuardExit::Terminated
                    };
                    return self.finish(Outcome {
                        exit,
                        reason: format!("stopped by {name}, forwarded to the job"),
                        restarts: self.restarts,
                    });
                }
                WatchEnd::Fault { source, faulty } => {
                    self.log.emit(GuardEvent::FaultDetected {
                        source: source.into(),
                        devices: faulty.iter().map(|f| f.0.name.clone()).collect(),
                        reasons: faulty.iter().map(|f| f.1.clone()).collect(),
                    });
                    for (dev, reason, evidence) in &faulty {
                        self.quarantine(dev, reason, evidence.clone());
                    }
                    self.limit_resume(&faulty);
                    self.stop(&mut job, "a device in use is faulty");
                    self.job_exited(&mut job, attempt);
                    if self.progress().is_some_and(|p| p.done) {
                        return self.finish(Outcome {
                            exit: GuardExit::Completed,
                            reason: "the job wrote its completion marker".into(),
                            restarts: self.restarts,
                        });
                    }
                    in_use.retain(|d| !faulty.iter().any(|f| f.0.uuid == d.uuid));
                }
                WatchEnd::Exited => {
                    self.job_exited(&mut job, attempt);
                    // Not done: the job may have stopped because a device went bad (its own
                    // numerical checks, a device error). Check what it ran on.
                    let checks = self.check(&in_use, "after_exit");
                    let faulty = faulty_of(&in_use, &checks);
                    if !faulty.is_empty() {
                        self.log.emit(GuardEvent::FaultDetected {
                            source: "after_exit".into(),
                            devices: faulty.iter().map(|f| f.0.name.clone()).collect(),
                            reasons: faulty.iter().map(|f| f.1.clone()).collect(),
                        });
                        for (dev, reason, evidence) in &faulty {
                            self.quarantine(dev, reason, evidence.clone());
                        }
                        self.limit_resume(&faulty);
                    }
                    in_use.retain(|d| !faulty.iter().any(|f| f.0.uuid == d.uuid));
                }
            }
            if self.restarts >= self.config.max_restarts {
                return self.finish(Outcome {
                    exit: GuardExit::JobFailed,
                    reason: format!(
                        "the job did not complete and the restart budget ({}) is spent",
                        self.config.max_restarts
                    ),
                    restarts: self.restarts,
                });
            }
            self.restarts += 1;
            attempt += 1;
        }
    }

    /// Identifies the devices, leaves out the quarantined ones, checks the rest and
    /// quarantines the faulty ones; the usable ones (healthy or degraded) remain.
    fn preflight(&mut self) -> Result<Vec<Dev>, Outcome> {
        let quarantined = self.config.ledger.quarantined().map_err(|e| Outcome {
            exit: GuardExit::Usage,
            reason: format!("{e}"),
            restarts: 0,
        })?;
        let mut candidates = Vec::new();
        for spec in self.config.devices.clone() {
            let dev = match self.config.platform.info(&spec) {
                Ok(info) => Dev {
                    name: info.device.clone(),
                    uuid: info.uuid.clone(),
                    cuda: info.kind == DeviceKind::Cuda,
                    spec,
                },
                Err(e) => {
                    self.log.emit(GuardEvent::Excluded {
                        device: spec.to_string(),
                        uuid: String::new(),
                        reason: format!("cannot be identified: {e}"),
                    });
                    continue;
                }
            };
            if quarantined
                .iter()
                .any(|u| u.eq_ignore_ascii_case(&dev.uuid))
            {
                self.log.emit(GuardEvent::Excluded {
                    device: dev.name.clone(),
                    uuid: dev.uuid.clone(),
                    reason: format!("quarantined in {}", self.config.ledger.path().display()),
                });
                continue;
            }
            candidates.push(dev);
        }
        let checks = self.check(&candidates, "preflight");
        let faulty = faulty_of(&candidates, &checks);
        for (dev, reason, evidence) in &faulty {
            self.quarantine(dev, reason, evidence.clone());
        }
        Ok(candidates
            .into_iter()
            .zip(&checks)
            .filter(|(_, c)| matches!(c.verdict, Verdict::Healthy | Verdict::Degraded))
            .map(|(d, _)| d)
            .collect())
    }

    /// Checks `devs` at once and logs the verdicts.
    fn check(&mut self, devs: &[Dev], purpose: &str) -> Vec<DeviceCheck> {
        if devs.is_empty() {
            return Vec::new();
        }
        let started = Instant::now();
        let specs: Vec<DeviceSpec> = devs.iter().map(|d| d.spec.clone()).collect();
        let checks = detector::check_node(
            &self.config.platform,
            &specs,
            &self.config.check,
            &mut |_| {},
        );
        self.log_checks(devs, &checks, purpose, started.elapsed());
        checks
    }

    fn log_checks(&mut self, devs: &[Dev], checks: &[DeviceCheck], purpose: &str, took: Duration) {
        self.log.emit(GuardEvent::Checked {
            purpose: purpose.into(),
            devices: devs
                .iter()
                .zip(checks)
                .map(|(d, c)| CheckedDevice {
                    device: d.name.clone(),
                    uuid: d.uuid.clone(),
                    verdict: c.verdict.name().into(),
                    detail: c
                        .findings
                        .first()
                        .map(|f| f.summary())
                        .or_else(|| c.reason.clone()),
                })
                .collect(),
            duration_ms: took.as_secs_f64() * 1e3,
        });
    }

    /// Writes `dev` into the ledger (a ledger that cannot be written is logged: the job
    /// still runs without the device).
    fn quarantine(&mut self, dev: &Dev, reason: &str, evidence: Evidence) {
        let started = Instant::now();
        let result = self.config.ledger.quarantine(Quarantine {
            uuid: dev.uuid.clone(),
            device: dev.name.clone(),
            reason: reason.to_string(),
            evidence,
        });
        let reason = match result {
            Ok(()) => reason.to_string(),
            Err(e) => format!("{reason} (NOT recorded in the ledger: {e})"),
        };
        self.log.emit(GuardEvent::Quarantined {
            device: dev.name.clone(),
            uuid: dev.uuid.clone(),
            reason,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
        });
    }

    /// After quarantining `faulty`: the newest checkpoint a restart may resume from, for
    /// this guard's job ([`env::RESUME_AT_MOST`]) and, through the shared resume-limit
    /// file, for every rank of the job on every node (before the job is stopped, so
    /// that the ranks of other nodes restarted by their launchers find it).
    fn limit_resume(&mut self, faulty: &[(Dev, String, Evidence)]) {
        self.resume_at_most = self.trusted_checkpoint();
        let (Some(step), Some(path)) = (self.resume_at_most, &self.config.resume_limit_file) else {
            return;
        };
        let written = resume_limit::lower(
            path,
            resume_limit::ResumeLimit {
                step,
                uuids: faulty.iter().map(|f| f.0.uuid.clone()).collect(),
                node: std::env::var("SLURMD_NODENAME")
                    .ok()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(crate::sys::host_name),
                time: injector::rfc3339(std::time::SystemTime::now()),
                reason: faulty
                    .iter()
                    .map(|f| f.1.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            },
        );
        self.log.emit(GuardEvent::ResumeLimit {
            file: path.display().to_string(),
            step,
            job_step: written.as_ref().ok().map(|f| f.step),
            error: written.err().map(|e| e.to_string()),
        });
    }

    /// The environment of the job: its devices by name and UUID, the node config, the
    /// progress file, the restart and device counts.
    fn job_env(&self, devs: &[Dev], attempt: u32) -> Vec<(String, String)> {
        let join = |cuda: bool| {
            devs.iter()
                .filter(|d| d.cuda == cuda)
                .map(|d| d.uuid.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut env = vec![
            (
                env::DEVICES.to_string(),
                devs.iter()
                    .map(|d| {
                        if d.cuda {
                            format!("cuda:{}", d.uuid)
                        } else {
                            d.name.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (env::CUDA_VISIBLE_DEVICES.to_string(), join(true)),
            (env::VISIBLE_DEVICES.to_string(), join(false)),
            (
                env::PROGRESS_FILE.to_string(),
                self.config.progress_file.display().to_string(),
            ),
            (env::RESTART_COUNT.to_string(), attempt.to_string()),
            (env::DEVICE_COUNT.to_string(), devs.len().to_string()),
        ];
        if let Some(path) = &self.config.node_config {
            env.push((env::NODE_CONFIG.to_string(), path.display().to_string()));
        }
        if let Some(path) = &self.config.resume_limit_file {
            env.push((
                env::RESUME_LIMIT_FILE.to_string(),
                path.display().to_string(),
            ));
        }
        if let Some(step) = self.resume_at_most {
            env.push((env::RESUME_AT_MOST.to_string(), step.to_string()));
        }
        env
    }

    /// Watches the job until it completes, ends, gets a fault or the guard a signal.
    fn watch(&mut self, job: &mut Job, in_use: &[Dev], attempt: u32) -> WatchEnd {
        // the process whose first step was logged (its start time, as it reported)
        let mut first_step: Option<Option<f64>> = None;
        let mut checkpoint = None;
        let mut next_check = self.config.check_every.map(|d| Instant::now() + d);
        let mut running: Option<(Receiver<CheckResult>, Instant)> = None;
        let specs: Vec<DeviceSpec> = in_use.iter().map(|d| d.spec.clone()).collect();
        let mut xids = self.config.platform.xid_watch(&specs).ok();
        loop {
            if let Ok(sig) = self.signals.try_recv() {
                return WatchEnd::Signal(sig);
            }
            let exited = !matches!(job.try_wait(), Ok(None));
            if let Some(p) = self.progress() {
                if is_new_first_step(first_step, &p) {
                    first_step = Some(p.process_started_unix);
                    self.resumed_from = p.resumed_from;
                    self.log.emit(GuardEvent::JobFirstStep {
                        attempt,
                        step: p.step,
                        resumed_from: p.resumed_from,
                        process_started_unix: p.process_started_unix,
                        ranks_joined_unix: p.ranks_joined_unix,
                        checkpoint_loaded_unix: p.checkpoint_loaded_unix,
                        checkpoint_load_ms: p.checkpoint_load_ms,
                        first_step_unix: p.first_step_unix,
                    });
                }
                if p.checkpoint_step.is_some() && p.checkpoint_step != checkpoint {
                    checkpoint = p.checkpoint_step;
                    self.checkpoints
                        .push((checkpoint.unwrap_or_default(), Instant::now()));
                    self.log.emit(GuardEvent::JobCheckpoint {
                        attempt,
                        step: checkpoint.unwrap_or_default(),
                    });
                }
                if p.done {
                    return WatchEnd::Completed;
                }
            }
            if exited {
                return WatchEnd::Exited;
            }
            // periodic checks, one at a time, on a thread of their own
            if let Some((rx, began)) = &running {
                match rx.try_recv() {
                    Ok((checks, took)) => {
                        let began = *began;
                        running = None;
                        self.log_checks(in_use, &checks, "periodic", took);
                        let faulty = faulty_of(in_use, &checks);
                        if !faulty.is_empty() {
                            return WatchEnd::Fault {
                                source: "periodic_check",
                                faulty,
                            };
                        }
                        if checks.iter().all(|c| c.verdict != Verdict::Faulty) {
                            self.last_clean = Some(began);
                        }
                        next_check = self.config.check_every.map(|d| Instant::now() + d);
                    }
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => running = None,
                }
            } else if next_check.is_some_and(|t| Instant::now() >= t) {
                let (tx, rx) = mpsc::channel();
                let (platform, options, specs) = (
                    self.config.platform.clone(),
                    self.config.check.clone(),
                    specs.clone(),
                );
                std::thread::spawn(move || {
                    let started = Instant::now();
                    let checks = detector::check_node(&platform, &specs, &options, &mut |_| {});
                    let _ = tx.send((checks, started.elapsed()));
                });
                running = Some((rx, Instant::now()));
                next_check = None;
            }
            // XID events double as the poll's sleep
            let events = match xids.as_mut() {
                Some(w) => w.poll(self.config.poll).unwrap_or_default(),
                None => {
                    std::thread::sleep(self.config.poll);
                    Vec::new()
                }
            };
            let faulty: Vec<(Dev, String, Evidence)> = events
                .iter()
                .filter_map(|e| {
                    let meaning = detector::rules::HARDWARE_XIDS
                        .iter()
                        .find(|(x, _)| *x == e.xid)?
                        .1;
                    let dev = in_use
                        .iter()
                        .find(|d| d.uuid.eq_ignore_ascii_case(&e.uuid))?;
                    Some((
                        dev.clone(),
                        format!("gpufault: {} xid={} ({meaning})", dev.uuid, e.xid),
                        Evidence::Xid { xid: e.xid },
                    ))
                })
                .collect();
            if !faulty.is_empty() {
                return WatchEnd::Fault {
                    source: "xid",
                    faulty,
                };
            }
        }
    }

    /// SIGTERM, grace, SIGKILL of every process of the job, logged.
    fn stop(&mut self, job: &mut Job, reason: &str) {
        let pids: Vec<u32> = job.members().iter().map(|p| p.as_raw() as u32).collect();
        self.log.emit(GuardEvent::Stopping {
            reason: reason.into(),
            pids,
            grace_s: self.config.grace.as_secs_f64(),
        });
        let stop = job.stop(self.config.grace);
        self.log.emit(GuardEvent::Stopped {
            within_grace: stop.killed.is_empty(),
            killed: stop.killed,
            duration_ms: stop.duration.as_secs_f64() * 1e3,
        });
    }

    /// Logs the end of the job's main process and kills whatever of it is left (workers
    /// that outlived it).
    fn job_exited(&mut self, job: &mut Job, attempt: u32) {
        // A job that wrote its marker gets the grace period to exit by itself.
        let until = Instant::now() + self.config.grace;
        let mut status = None;
        while Instant::now() < until {
            match job.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break,
            }
        }
        if status.is_none() {
            self.stop(
                job,
                "the job's main process did not exit within the grace period",
            );
            status = job.try_wait().ok().flatten();
        }
        if !job.members().is_empty() {
            self.stop(
                job,
                "the job's main process ended; its other processes are stopped with it",
            );
        }
        use std::os::unix::process::ExitStatusExt;
        let progress = self.progress();
        self.log.emit(GuardEvent::JobExited {
            attempt,
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            done: progress.as_ref().is_some_and(|p| p.done),
            step: progress.map(|p| p.step),
        });
    }

    /// The newest checkpoint step that predates the fault for certain: the newest seen
    /// before the last clean check of this start began; without a clean check in this
    /// start, the checkpoint it resumed from (0: none, start over). The ledger's evidence
    /// says the GPU was bad at detection; it may have been bad since just after the last
    /// clean check, and every step since then averaged its gradients into every replica.
    /// (`None` when the guard is told to let the job resume from its newest checkpoint.)
    fn trusted_checkpoint(&self) -> Option<u64> {
        if !self.config.trusted_checkpoints {
            return None;
        }
        Some(match self.last_clean {
            Some(clean) => self
                .checkpoints
                .iter()
                .filter(|(_, seen)| *seen <= clean)
                .map(|(step, _)| *step)
                .max()
                .unwrap_or(0)
                .max(self.resumed_from.unwrap_or(0)),
            None => self.resumed_from.unwrap_or(0),
        })
    }

    fn progress(&self) -> Option<JobProgress> {
        let text = std::fs::read_to_string(&self.config.progress_file).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn finish(&mut self, outcome: Outcome) -> Outcome {
        self.log.emit(GuardEvent::GuardFinished {
            exit_code: outcome.exit.code(),
            reason: outcome.reason.clone(),
            restarts: outcome.restarts,
        });
        outcome
    }
}

/// The faulty devices of `checks` (in the order of `devs`), with the reason line and the
/// evidence to quarantine them with.
fn faulty_of(devs: &[Dev], checks: &[DeviceCheck]) -> Vec<(Dev, String, Evidence)> {
    devs.iter()
        .zip(checks)
        .filter(|(_, c)| c.verdict == Verdict::Faulty)
        .map(|(d, c)| {
            let first = c
                .findings
                .first()
                .map(|f| f.summary())
                .unwrap_or_else(|| "faulty".into());
            (
                d.clone(),
                format!("gpufault: {} {first}", d.uuid),
                Evidence::Check {
                    findings: c.findings.iter().take(EVIDENCE_FINDINGS).cloned().collect(),
                },
            )
        })
        .collect()
}

/// Whether `p` is the first step of a process of the job that has not been logged yet:
/// the first step of this start (`logged` is `None`), or of a process that the launcher
/// started again in place (torchrun `--max-restarts` ≥ 1 after a worker failed: the
/// guard's command never exited, but a new worker, with a new `process_started_unix`,
/// resumed from a checkpoint). Its `resumed_from` is then what the job runs from.
fn is_new_first_step(logged: Option<Option<f64>>, p: &JobProgress) -> bool {
    p.step > 0
        && match logged {
            None => true,
            Some(started) => p.process_started_unix.is_some() && p.process_started_unix != started,
        }
}

/// `SIGTERM`, `SIGINT`, …
fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(step: u64, started: Option<f64>) -> JobProgress {
        serde_json::from_value(serde_json::json!({"step": step, "process_started_unix": started}))
            .expect("a progress file")
    }

    #[test]
    fn a_process_restarted_in_place_reports_a_new_first_step() {
        // nothing logged yet: its first finished step is one, not step 0
        assert!(!is_new_first_step(None, &progress(0, Some(10.0))));
        assert!(is_new_first_step(None, &progress(1, Some(10.0))));
        assert!(is_new_first_step(None, &progress(7, None)));
        // the same process's later steps are not
        assert!(!is_new_first_step(
            Some(Some(10.0)),
            &progress(40, Some(10.0))
        ));
        assert!(!is_new_first_step(Some(None), &progress(40, None)));
        // a new worker of the same launcher (torchrun restarted it in place)
        assert!(is_new_first_step(
            Some(Some(10.0)),
            &progress(461, Some(55.5))
        ));
        // ... but only once it finished a step, and only if it says when it started
        assert!(!is_new_first_step(
            Some(Some(10.0)),
            &progress(0, Some(55.5))
        ));
        assert!(!is_new_first_step(Some(Some(10.0)), &progress(461, None)));
    }
}
