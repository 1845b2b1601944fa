//! A recovery's timeline, read back from the guard's event log: from the moment a fault
//! was detected to the job's first finished step after its restart, broken down into
//! phases.
//!
//! ```text
//!  check that found it │ quarantine │ stop (SIGTERM, grace, SIGKILL) │ start │ setup + checkpoint load │ first step
//!  ──── detect ───────►│            │                                │       │                         │
//!                 fault_detected  quarantined…                   stopped  process_started  checkpoint_loaded  first_step
//! ```

use reports::guard::{GuardEvent, GuardEventLine};
use serde::Serialize;

/// One recovery: a fault detected while the job ran, and the restart after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// What found the fault (`periodic_check`, `xid`, `after_exit`).
    pub source: String,
    /// The faulty devices.
    pub devices: Vec<String>,
    /// The check that found it, ms (absent for an XID).
    pub detect_ms: Option<f64>,
    /// Writing the quarantine ledger, ms.
    pub quarantine_ms: f64,
    /// From SIGTERM to the last process of the job gone, ms.
    pub stop_ms: f64,
    /// From then to the new job process running (its `process_started_unix`, which
    /// `gpufault train` reads from the kernel in 10 ms ticks: may come out a few ms
    /// negative), ms.
    pub start_ms: f64,
    /// Of which: from the job stopped to the guard's start of the new command (its
    /// `job_started` event), ms; the rest of `start_ms` is the launcher's own start (for
    /// torchrun: the agent's start and rendezvous, the workers spawned).
    pub relaunch_ms: f64,
    /// From its start to its checkpoint loaded and devices ready, ms.
    pub setup_ms: f64,
    /// Of which: from its start to every rank joined (a distributed job that reports
    /// `ranks_joined_unix`: process start, imports, process group formed), ms.
    pub ranks_joined_ms: Option<f64>,
    /// Of which reading the checkpoint, ms (as the job reported; 0 for a restart from
    /// scratch).
    pub checkpoint_load_ms: f64,
    /// From then to its first finished step, ms.
    pub first_step_ms: f64,
    /// From the start of the detection (the start of the check that found the fault; the
    /// job's exit when it stopped by itself; the XID event) to the first resumed step, ms.
    pub total_ms: f64,
    /// [`total_ms`](Recovery::total_ms) without the checkpoint load.
    pub total_without_checkpoint_ms: f64,
    /// The step the job had reached when it was stopped.
    pub stopped_at_step: Option<u64>,
    /// The checkpoint step it resumed from.
    pub resumed_from: Option<u64>,
}

impl Recovery {
    /// Steps computed again after the restart (`stopped_at_step - resumed_from`).
    pub fn steps_lost(&self) -> Option<u64> {
        Some(
            self.stopped_at_step?
                .saturating_sub(self.resumed_from.unwrap_or(0)),
        )
    }
}

/// The run id of the guard that wrote `events` (its `guard_started` line).
pub fn run_id(events: &[GuardEventLine]) -> Option<&str> {
    events.iter().find_map(|e| match &e.event {
        GuardEvent::GuardStarted { run_id, .. } => Some(run_id.as_str()),
        _ => None,
    })
}

/// Every complete recovery of an event log, in order. A fault after which the job was
/// not restarted (or never finished a step again) gives none.
pub fn recoveries(events: &[GuardEventLine]) -> Vec<Recovery> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let GuardEvent::FaultDetected {
            source, devices, ..
        } = &events[i].event
        else {
            i += 1;
            continue;
        };
        let detect_ms = events[..i].iter().rev().find_map(|e| match &e.event {
            GuardEvent::Checked { duration_ms, .. } if source != "xid" => Some(*duration_ms),
            _ => None,
        });
        // Where the recovery begins: the start of the check that found the fault; for a
        // fault found after the job stopped by itself (its own numerical or replica check),
        // the moment it exited; for an XID, the event.
        let detected = match source.as_str() {
            "after_exit" => events[..i]
                .iter()
                .rev()
                .find_map(|e| match &e.event {
                    GuardEvent::JobExited { .. } => Some(e.unix),
                    _ => None,
                })
                .unwrap_or(events[i].unix),
            _ => events[i].unix - detect_ms.unwrap_or(0.0) / 1e3,
        };
        let mut r = Recovery {
            source: source.clone(),
            devices: devices.clone(),
            detect_ms,
            quarantine_ms: 0.0,
            stop_ms: 0.0,
            start_ms: 0.0,
            relaunch_ms: 0.0,
            setup_ms: 0.0,
            ranks_joined_ms: None,
            checkpoint_load_ms: 0.0,
            first_step_ms: 0.0,
            total_ms: 0.0,
            total_without_checkpoint_ms: 0.0,
            stopped_at_step: None,
            resumed_from: None,
        };
        let mut stopped = events[i].unix;
        if source == "after_exit" {
            r.stopped_at_step = events[..i]
                .iter()
                .rev()
                .find_map(|e| match &e.event {
                    GuardEvent::JobExited { step, .. } => Some(*step),
                    _ => None,
                })
                .flatten();
        }
        let mut complete = false;
        let mut relaunched = None;
        let mut j = i + 1;
        while j < events.len() {
            match &events[j].event {
                GuardEvent::Quarantined { duration_ms, .. } => r.quarantine_ms += duration_ms,
                GuardEvent::Stopped { duration_ms, .. } => {
                    r.stop_ms += duration_ms;
                    stopped = events[j].unix;
                }
                GuardEvent::JobExited { step, .. } if r.stopped_at_step.is_none() => {
                    r.stopped_at_step = *step;
                }
                GuardEvent::JobStarted { .. } => relaunched = Some(events[j].unix),
                GuardEvent::JobFirstStep {
                    resumed_from,
                    process_started_unix: Some(started),
                    ranks_joined_unix,
                    checkpoint_loaded_unix: Some(loaded),
                    checkpoint_load_ms,
                    first_step_unix: Some(first),
                    ..
                } => {
                    r.resumed_from = *resumed_from;
                    r.start_ms = (started - stopped) * 1e3;
                    r.relaunch_ms = (relaunched.unwrap_or(stopped) - stopped) * 1e3;
                    r.setup_ms = (loaded - started) * 1e3;
                    r.ranks_joined_ms = ranks_joined_unix.map(|t| (t - started) * 1e3);
                    r.checkpoint_load_ms = checkpoint_load_ms.unwrap_or(0.0);
                    r.first_step_ms = (first - loaded) * 1e3;
                    r.total_ms = (first - detected) * 1e3;
                    r.total_without_checkpoint_ms = r.total_ms - r.checkpoint_load_ms;
                    complete = true;
                    break;
                }
                GuardEvent::FaultDetected { .. } | GuardEvent::GuardFinished { .. } => break,
                _ => {}
            }
            j += 1;
        }
        if complete {
            out.push(r);
        }
        i = j.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(unix: f64, event: GuardEvent) -> GuardEventLine {
        GuardEventLine {
            t: String::new(),
            unix,
            event,
        }
    }

    #[test]
    fn a_recovery_is_broken_down_into_its_phases() {
        let events = vec![
            line(
                10.0,
                GuardEvent::Checked {
                    purpose: "periodic".into(),
                    devices: vec![],
                    duration_ms: 700.0,
                },
            ),
            line(
                10.0,
                GuardEvent::FaultDetected {
                    source: "periodic_check".into(),
                    devices: vec!["sim:h100#2".into()],
                    reasons: vec![],
                },
            ),
            line(
                10.01,
                GuardEvent::Quarantined {
                    device: "sim:h100#2".into(),
                    uuid: "GPU-x".into(),
                    reason: String::new(),
                    duration_ms: 10.0,
                },
            ),
            line(
                10.5,
                GuardEvent::Stopped {
                    within_grace: true,
                    killed: vec![],
                    duration_ms: 490.0,
                },
            ),
            line(
                10.5,
                GuardEvent::JobExited {
                    attempt: 0,
                    code: Some(143),
                    signal: None,
                    done: false,
                    step: Some(130),
                },
            ),
            line(
                10.52,
                GuardEvent::JobStarted {
                    attempt: 1,
                    pid: 7,
                    devices: vec![],
                    command: None,
                    resume_at_most: Some(125),
                },
            ),
            line(
                12.0,
                GuardEvent::JobFirstStep {
                    attempt: 1,
                    step: 126,
                    resumed_from: Some(125),
                    process_started_unix: Some(10.6),
                    ranks_joined_unix: Some(10.9),
                    checkpoint_loaded_unix: Some(11.0),
                    checkpoint_load_ms: Some(50.0),
                    first_step_unix: Some(11.2),
                },
            ),
        ];
        let r = &recoveries(&events)[0];
        assert_eq!(r.detect_ms, Some(700.0));
        assert_eq!(r.quarantine_ms, 10.0);
        assert_eq!(r.stop_ms, 490.0);
        assert!((r.start_ms - 100.0).abs() < 1e-6, "{r:?}");
        assert!((r.relaunch_ms - 20.0).abs() < 1e-6, "{r:?}");
        assert!((r.setup_ms - 400.0).abs() < 1e-6);
        assert!((r.ranks_joined_ms.unwrap() - 300.0).abs() < 1e-6, "{r:?}");
        assert!((r.first_step_ms - 200.0).abs() < 1e-6);
        assert!((r.total_ms - 1900.0).abs() < 1e-6, "{r:?}");
        assert!((r.total_without_checkpoint_ms - 1850.0).abs() < 1e-6);
        assert_eq!(r.steps_lost(), Some(5));
        // without the restart's first step there is no complete recovery
        assert!(recoveries(&events[..6]).is_empty());
    }

    #[test]
    fn a_fault_the_job_found_itself_counts_from_its_exit() {
        let events = vec![
            line(
                20.0,
                GuardEvent::JobExited {
                    attempt: 0,
                    code: Some(3),
                    signal: None,
                    done: false,
                    step: Some(150),
                },
            ),
            line(
                24.0,
                GuardEvent::Checked {
                    purpose: "after_exit".into(),
                    devices: vec![],
                    duration_ms: 4000.0,
                },
            ),
            line(
                24.0,
                GuardEvent::FaultDetected {
                    source: "after_exit".into(),
                    devices: vec!["sim:h100#2".into()],
                    reasons: vec![],
                },
            ),
            line(
                24.1,
                GuardEvent::JobFirstStep {
                    attempt: 1,
                    step: 126,
                    resumed_from: Some(125),
                    process_started_unix: Some(24.0),
                    ranks_joined_unix: None,
                    checkpoint_loaded_unix: Some(24.06),
                    checkpoint_load_ms: Some(5.0),
                    first_step_unix: Some(24.08),
                },
            ),
        ];
        let r = &recoveries(&events)[0];
        assert_eq!(r.detect_ms, Some(4000.0));
        assert_eq!(r.stop_ms, 0.0);
        assert!((r.total_ms - 4080.0).abs() < 1e-6, "{r:?}");
        assert_eq!(
            r.relaunch_ms, 0.0,
            "no job_started line: counted in start_ms"
        );
        assert_eq!(r.ranks_joined_ms, None);
        assert_eq!(r.steps_lost(), Some(25));
    }
}
