//! The check of one GPU, and of all GPUs of a node in parallel.
//!
//! ```text
//! check_node(platform, [gpu0, gpu1, …], options)
//!   ├─ one thread per GPU ───────────────────────────────────────────────────────────┐
//!   │   identity and telemetry         Platform::info            (cannot: unknown)   │
//!   │   watch XID events               Platform::xid_watch       (cannot: xid rule   │
//!   │                                                              not evaluated)    │
//!   │   open the GPU                   a worker process (Platform::open_worker), or  │
//!   │                                  in this process without a worker command     │
//!   │   load the signature suite, run it with a wall limit of the time left         │
//!   │   telemetry again (right after the kernels), XIDs seen, health rules          │
//!   │   verdict: faulty > unknown > degraded > healthy                              │
//!   └─ wait for every GPU until the timeout; a GPU that did not finish is unknown ──┘
//! ```
//!
//! A GPU is opened in a worker process when the caller gives a [`WorkerCommand`]
//! (`gpufault check` does, for every device): a kernel that hangs or a sticky CUDA error
//! then poisons only that process, which is killed. Without one the device is opened in
//! this process — fine for virtual GPUs (they cannot be poisoned, and their instruction
//! budget ends any runaway kernel), which is how the library's own tests run, since they
//! have no `gpufault` binary to start.

use crate::geometry::{Geometry, Level};
use crate::rules::{self, RuleInput};
use crate::suite::{Suite, SuiteRun};
use gpu::{Device, DeviceInfo, DeviceKind, DeviceSpec, Limits, Platform, WorkerCommand};
use reports::check::{
    Coverage, DeviceCheck, Evidence, Finding, RuleNotEvaluated, Severity, Verdict,
};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a GPU's check may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Time for a worker killed at the deadline to be reaped and its thread to report.
const WORKER_REAP: Duration = Duration::from_secs(1);

/// How to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// How thorough.
    pub level: Level,
    /// How long one GPU's check may take (all GPUs run at once, so also the node's);
    /// a GPU not done by then is `unknown`.
    pub timeout: Duration,
    /// The worker process each GPU is opened in (`gpufault __worker`); `None` opens
    /// devices in this process (see the module documentation).
    pub worker: Option<WorkerCommand>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            level: Level::Quick,
            timeout: DEFAULT_TIMEOUT,
            worker: None,
        }
    }
}

/// What [`check_node`] reports while it runs (to draw progress).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// The check of a GPU started.
    Started {
        /// The device name.
        device: &'a str,
    },
    /// The check of a GPU ended (also by its timeout).
    Finished {
        /// Its result.
        check: &'a DeviceCheck,
        /// GPUs done so far.
        done: usize,
        /// GPUs in all.
        total: usize,
    },
}

/// Checks one GPU (with the timeout of `options`).
pub fn check_device(platform: &Platform, spec: &DeviceSpec, options: &CheckOptions) -> DeviceCheck {
    check_node(platform, std::slice::from_ref(spec), options, &mut |_| {})
        .pop()
        .expect("one device, one result")
}

/// Checks every GPU of `devices` at once, one thread (and worker process) each, and
/// returns their checks in the same order. Each GPU's work gets `options.timeout` (a
/// launch still running then is a hang; with worker processes, their 2 s launch grace and
/// 1 s to reap a killed worker are waited for too). A GPU whose check has not ended by
/// then is `unknown` (with its identity when it was read); the others are reported as
/// they are. A check that panics is `unknown` with the panic's message.
pub fn check_node(
    platform: &Platform,
    devices: &[DeviceSpec],
    options: &CheckOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Vec<DeviceCheck> {
    enum Msg {
        Identity(usize, Box<DeviceInfo>),
        Done(usize, Box<DeviceCheck>),
    }
    let start = Instant::now();
    let deadline = start + options.timeout;
    // A worker whose launch is past the deadline reports the hang itself within its
    // launch grace, or is killed then; results that come that late are still taken (a
    // hung kernel is a finding), and the threads get to kill their workers before this
    // process may exit.
    let report_by = match options.worker {
        Some(_) => deadline + gpu::WorkerOptions::default().launch_grace + WORKER_REAP,
        None => deadline,
    };
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut results: Vec<Option<DeviceCheck>> = vec![None; devices.len()];
    let mut identities: Vec<Option<DeviceInfo>> = vec![None; devices.len()];
    for (i, spec) in devices.iter().enumerate() {
        let name = spec.to_string();
        let (tx, platform, spec, options) =
            (tx.clone(), platform.clone(), spec.clone(), options.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("check {name}"))
            .spawn(move || {
                let seen = std::cell::RefCell::new(None);
                let identity = |info: &DeviceInfo| {
                    *seen.borrow_mut() = Some(info.clone());
                    let _ = tx.send(Msg::Identity(i, Box::new(info.clone())));
                };
                let check = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    check_one(&platform, &spec, &options, deadline, &identity)
                }))
                .unwrap_or_else(|panic| {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    unknown(
                        &spec.to_string(),
                        seen.borrow().as_ref(),
                        format!("the check of {spec} failed: panic: {what}"),
                        start,
                    )
                });
                let _ = tx.send(Msg::Done(i, Box::new(check)));
            });
        if let Err(e) = spawned {
            results[i] = Some(unknown(
                &name,
                None,
                format!("cannot start the check of {name}: {e}"),
                start,
            ));
        }
        progress(Progress::Started { device: &name });
    }
    drop(tx);
    let total = devices.len();
    let mut done = results.iter().filter(|r| r.is_some()).count();
    let mut stopped = None;
    while done < total {
        match rx.recv_timeout(report_by.saturating_duration_since(Instant::now())) {
            Ok(Msg::Identity(i, info)) => identities[i] = Some(*info),
            Ok(Msg::Done(i, check)) => {
                let check = *check;
                done += 1;
                progress(Progress::Finished {
                    check: &check,
                    done,
                    total,
                });
                results[i] = Some(check);
            }
            Err(RecvTimeoutError::Timeout) => {
                stopped = Some(format!(
                    "the check did not finish within {} (--timeout)",
                    seconds(options.timeout)
                ));
                break;
            }
            Err(RecvTimeoutError::Disconnected) => {
                stopped = Some("the check ended without a result (its thread stopped)".into());
                break;
            }
        }
    }
    let why = stopped.unwrap_or_default();
    results
        .into_iter()
        .zip(identities)
        .zip(devices)
        .map(|((r, info), spec)| {
            r.unwrap_or_else(|| {
                let check = unknown(&spec.to_string(), info.as_ref(), why.clone(), start);
                done += 1;
                progress(Progress::Finished {
                    check: &check,
                    done,
                    total,
                });
                check
            })
        })
        .collect()
}

/// The check of one GPU, in the calling thread; `identity` gets the device's identity as
/// soon as it is read (so a timeout can still name the GPU).
fn check_one(
    platform: &Platform,
    spec: &DeviceSpec,
    options: &CheckOptions,
    deadline: Instant,
    identity: &dyn Fn(&DeviceInfo),
) -> DeviceCheck {
    let start = Instant::now();
    let name = spec.to_string();
    let info = match platform.info(spec) {
        Ok(i) => i,
        Err(e) => return unknown(&name, None, format!("cannot inspect {name}: {e}"), start),
    };
    identity(&info);
    let mut watch = platform.xid_watch(std::slice::from_ref(spec));
    let geometry = Geometry::of(&info);
    let mut incomplete = Vec::new();
    let run = match run_suite(platform, spec, options, &geometry, deadline) {
        Ok(run) => run,
        Err(why) => {
            incomplete.push(why);
            SuiteRun {
                coverage: nothing_observed(&geometry),
                ..SuiteRun::default()
            }
        }
    };
    // Telemetry right after the kernels (an idle GPU may lower its PCIe link speed).
    let telemetry = platform
        .info(spec)
        .map(|i| i.telemetry)
        .unwrap_or_else(|_| info.telemetry.clone());
    let xids: Result<Vec<u64>, String> = match &mut watch {
        Ok(w) => w
            .poll(Duration::ZERO)
            .map(|events| events.into_iter().map(|e| e.xid).collect())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let rules = rules::apply(&RuleInput {
        telemetry: &telemetry,
        xids: xids.as_deref().map_err(String::as_str),
    });
    let mut findings = run.findings;
    findings.extend(rules.findings);
    // Most serious first; among signature findings, the warp slots with the most
    // disturbed words first: a fault's own slot usually disturbs more words than the
    // slots that only exchange data with it, and the reason line shows the first.
    findings.sort_by_key(|f| {
        let words = match &f.evidence {
            Evidence::Signature { words, .. } => *words,
            _ => u32::MAX,
        };
        (std::cmp::Reverse(f.severity), std::cmp::Reverse(words))
    }); // stable
    let (verdict, reason) = judge(&findings, &run.coverage, &incomplete, &rules.not_evaluated);
    DeviceCheck {
        device: name,
        uuid: info.uuid,
        pci_bus_id: info.pci_bus_id,
        name: info.name,
        verdict,
        reason,
        findings,
        coverage: run.coverage,
        rules_not_evaluated: rules.not_evaluated,
        instructions: run.instructions,
        duration_ms: start.elapsed().as_secs_f64() * 1e3,
    }
}

/// Opens the GPU, loads the suite and runs it; `Err` says what could not be done.
fn run_suite(
    platform: &Platform,
    spec: &DeviceSpec,
    options: &CheckOptions,
    geometry: &Geometry,
    deadline: Instant,
) -> Result<SuiteRun, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    let mut dev: Box<dyn Device> = match &options.worker {
        Some(command) => Box::new(
            platform
                .open_worker(
                    spec,
                    command.clone(),
                    gpu::WorkerOptions {
                        request_timeout: left.max(Duration::from_millis(1)),
                        ..gpu::WorkerOptions::default()
                    },
                )
                .map_err(|e| format!("cannot open {spec}: {e}"))?,
        ),
        None => platform
            .open(spec)
            .map_err(|e| format!("cannot open {spec}: {e}"))?,
    };
    dev.set_limits(Limits {
        instructions: None,
        wall: Some(left),
    });
    let suite = Suite;
    let module = dev
        .load(suite.ptx())
        .map_err(|e| format!("the signature suite could not be loaded on {spec}: {e}"))?;
    suite
        .run_on(&mut *dev, module, geometry, options.level)
        .map_err(|e| format!("the signature suite could not run on {spec}: {e}"))
}

/// The verdict on a GPU from what its check found and what it could not do, with the
/// reason the check is incomplete (if it is):
///
/// - faulty: any finding of severity faulty (whatever else could not run);
/// - else unknown: something could not run (`incomplete`), the signature kernels did not
///   cover every SM and warp slot, or a health rule could not be evaluated because a
///   reading failed (a reading the GPU does not support does not count);
/// - else degraded: any finding of severity degraded;
/// - else healthy.
pub fn judge(
    findings: &[Finding],
    coverage: &Coverage,
    incomplete: &[String],
    not_evaluated: &[RuleNotEvaluated],
) -> (Verdict, Option<String>) {
    let mut why: Vec<String> = incomplete.to_vec();
    if !coverage.complete() {
        why.push(coverage_gap(coverage));
    }
    let failed: Vec<&str> = not_evaluated
        .iter()
        .filter(|r| !r.not_supported)
        .map(|r| r.rule.as_str())
        .collect();
    if !failed.is_empty() {
        why.push(format!(
            "health rule{} not evaluated (a reading failed): {}",
            if failed.len() == 1 { "" } else { "s" },
            failed.join(", ")
        ));
    }
    let has = |s: Severity| findings.iter().any(|f| f.severity == s);
    let verdict = if has(Severity::Faulty) {
        Verdict::Faulty
    } else if !why.is_empty() {
        Verdict::Unknown
    } else if has(Severity::Degraded) {
        Verdict::Degraded
    } else {
        Verdict::Healthy
    };
    let reason = (!why.is_empty()).then(|| why.join("; "));
    (verdict, reason)
}

/// `the signature kernels observed 130 of 132 SMs (not observed: SM 3, 77)`.
fn coverage_gap(c: &Coverage) -> String {
    if c.sms == 0 {
        return "the device reports no SMs to check".into();
    }
    let mut s = format!(
        "the signature kernels observed {} of {} SMs and {} of {} warp slots",
        c.sms_observed,
        c.sms,
        c.slots_observed,
        u64::from(c.sms) * u64::from(c.warp_slots)
    );
    if !c.sms_unobserved.is_empty() {
        s.push_str(&format!(
            " (not observed: SM {})",
            sm_list(&c.sms_unobserved)
        ));
    }
    s
}

/// `0-131`, `3, 17-19, 77`; at most 12 ranges, then `…`.
fn sm_list(sms: &[u32]) -> String {
    let mut v = sms.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for s in v {
        match ranges.last_mut() {
            Some((_, hi)) if *hi + 1 == s => *hi = s,
            _ => ranges.push((s, s)),
        }
    }
    let mut parts: Vec<String> = ranges
        .iter()
        .take(12)
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect();
    if ranges.len() > 12 {
        parts.push("…".into());
    }
    parts.join(", ")
}

/// The coverage of a device nothing ran on.
fn nothing_observed(g: &Geometry) -> Coverage {
    Coverage {
        sms: g.sms,
        warp_slots: g.warp_slots,
        sms_unobserved: (0..g.sms).collect(),
        ..Coverage::default()
    }
}

/// A GPU whose check could not run, with what is known of it.
fn unknown(device: &str, info: Option<&DeviceInfo>, reason: String, start: Instant) -> DeviceCheck {
    let geometry = info.map(Geometry::of);
    DeviceCheck {
        device: device.to_string(),
        uuid: info.map(|i| i.uuid.clone()).unwrap_or_default(),
        pci_bus_id: info.map(|i| i.pci_bus_id.clone()).unwrap_or_default(),
        name: info.map(|i| i.name.clone()).unwrap_or_default(),
        verdict: Verdict::Unknown,
        reason: Some(reason),
        findings: Vec::new(),
        coverage: geometry.as_ref().map(nothing_observed).unwrap_or_default(),
        rules_not_evaluated: Vec::new(),
        instructions: None,
        duration_ms: start.elapsed().as_secs_f64() * 1e3,
    }
}

/// `2.5 s`, `120 s`.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// The devices a check covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// One entry per GPU (nodes expanded), in the order named, each once.
    pub devices: Vec<DeviceSpec>,
    /// What `auto` chose and why (when it did not find CUDA GPUs).
    pub notes: Vec<String>,
}

/// The GPUs `specs` name (none: `auto`): nodes expanded to their GPUs, each GPU once.
/// `auto` is every CUDA GPU when CUDA works; when it does not, the virtual GPU `sim`
/// if the machine has no NVIDIA GPU (`nvidia_pci_gpus` = 0, see [`nvidia_gpus_on_pci`]),
/// but `cuda:0…` otherwise — a GPU node whose driver is broken is then checked as what
/// it is and comes out `unknown`, never as a healthy virtual GPU.
pub fn select_devices(
    platform: &Platform,
    specs: &[DeviceSpec],
    nvidia_pci_gpus: usize,
) -> Selection {
    let mut out = Selection {
        devices: Vec::new(),
        notes: Vec::new(),
    };
    let auto = [DeviceSpec::Auto];
    let specs = if specs.is_empty() { &auto[..] } else { specs };
    for spec in specs {
        let one: Vec<DeviceSpec> = match spec {
            DeviceSpec::Auto => match platform.auto() {
                (_, None) => {
                    let cuda: Vec<DeviceSpec> = platform
                        .enumerate()
                        .devices
                        .iter()
                        .filter(|d| d.kind == DeviceKind::Cuda)
                        .filter_map(|d| d.device.parse().ok())
                        .collect();
                    if cuda.is_empty() {
                        vec![DeviceSpec::Cuda(gpu::CudaSelector::Ordinal(0))]
                    } else {
                        cuda
                    }
                }
                (_, Some(why)) if nvidia_pci_gpus > 0 => {
                    out.notes.push(format!(
                        "auto: {nvidia_pci_gpus} NVIDIA GPU{} on the PCI bus but CUDA is unusable ({why}): checking them as cuda:0…",
                        if nvidia_pci_gpus == 1 { "" } else { "s" }
                    ));
                    (0..nvidia_pci_gpus as u32)
                        .map(|n| DeviceSpec::Cuda(gpu::CudaSelector::Ordinal(n)))
                        .collect()
                }
                (sim, Some(why)) => {
                    out.notes.push(format!(
                        "auto: no CUDA device ({why}): checking the virtual GPU {sim}"
                    ));
                    vec![sim]
                }
            },
            other => platform.expand(other),
        };
        for d in one {
            if !out.devices.contains(&d) {
                out.devices.push(d);
            }
        }
    }
    out
}

/// NVIDIA display and 3D controllers (PCI vendor `0x10de`, class `0x0300xx` or
/// `0x0302xx`) under `sysfs_pci_devices` (`/sys/bus/pci/devices` on Linux): GPUs that are
/// there whether or not a driver works. 0 when the directory cannot be read.
pub fn nvidia_gpus_on_pci(sysfs_pci_devices: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(sysfs_pci_devices) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let read = |f: &str| {
                std::fs::read_to_string(e.path().join(f))
                    .map(|s| s.trim().to_ascii_lowercase())
                    .unwrap_or_default()
            };
            read("vendor") == "0x10de" && {
                let class = read("class");
                class.starts_with("0x0300") || class.starts_with("0x0302")
            }
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu::{FaultFactory, FaultTarget, ModuleTransform, NodeConfig};
    use std::sync::Arc;

    fn spec(s: &str) -> DeviceSpec {
        s.parse().unwrap()
    }

    fn node(json: &str) -> Platform {
        Platform::new().with_node_config(NodeConfig::parse(json, "<test>").unwrap())
    }

    fn rule_finding(name: &str, severity: Severity) -> Finding {
        Finding {
            severity,
            evidence: Evidence::Rule {
                rule: name.into(),
                value: "v".into(),
                limit: "l".into(),
            },
        }
    }

    fn complete() -> Coverage {
        Coverage {
            sms: 2,
            warp_slots: 4,
            sms_observed: 2,
            slots_observed: 8,
            sms_unobserved: Vec::new(),
        }
    }

    #[test]
    fn the_verdict_orders_faulty_unknown_degraded_healthy() {
        let full = complete();
        let partial = Coverage {
            sms_observed: 1,
            slots_observed: 4,
            sms_unobserved: vec![1],
            ..complete()
        };
        let faulty = [rule_finding("xid", Severity::Faulty)];
        let degraded = [rule_finding("pcie_link", Severity::Degraded)];
        assert_eq!(judge(&[], &full, &[], &[]), (Verdict::Healthy, None));
        assert_eq!(judge(&degraded, &full, &[], &[]).0, Verdict::Degraded);
        let (v, why) = judge(&degraded, &partial, &[], &[]);
        assert_eq!(v, Verdict::Unknown);
        assert_eq!(
            why.unwrap(),
            "the signature kernels observed 1 of 2 SMs and 4 of 8 warp slots (not observed: SM 1)"
        );
        // faulty wins over anything that could not run, which is still said
        let (v, why) = judge(&faulty, &partial, &["cannot open x".into()], &[]);
        assert_eq!(v, Verdict::Faulty);
        assert!(why
            .unwrap()
            .starts_with("cannot open x; the signature kernels observed"));
        // a rule whose reading failed keeps the verdict from healthy; one the GPU does
        // not support does not
        let failed = RuleNotEvaluated {
            rule: "volatile_dbe".into(),
            reason: "ecc: Unknown Error".into(),
            not_supported: false,
        };
        let unsupported = RuleNotEvaluated {
            rule: "retired_pages".into(),
            reason: "retired_pages: not supported".into(),
            not_supported: true,
        };
        assert_eq!(
            judge(&[], &full, &[], std::slice::from_ref(&unsupported)),
            (Verdict::Healthy, None)
        );
        let (v, why) = judge(&[], &full, &[], &[failed, unsupported]);
        assert_eq!(v, Verdict::Unknown);
        assert_eq!(
            why.unwrap(),
            "health rule not evaluated (a reading failed): volatile_dbe"
        );
    }

    #[test]
    fn sm_lists_are_ranges() {
        assert_eq!(sm_list(&[0, 1, 2, 3]), "0-3");
        assert_eq!(sm_list(&[77, 3, 17, 18, 19]), "3, 17-19, 77");
        let many: Vec<u32> = (0..40).map(|i| i * 2).collect();
        assert!(sm_list(&many).ends_with(", 22, …"), "{}", sm_list(&many));
    }

    #[test]
    fn a_healthy_virtual_gpu_is_healthy_with_every_sm_and_warp_slot_observed() {
        let c = check_device(
            &Platform::new(),
            &spec("sim:h100"),
            &CheckOptions::default(),
        );
        assert_eq!(c.device, "sim:h100");
        assert!(c.uuid.starts_with("GPU-"), "{c:?}");
        assert_eq!(c.coverage.sms, 132);
        assert_eq!(c.coverage.warp_slots, 64);
        assert!(c.findings.is_empty(), "{c:?}");
        assert!(c.rules_not_evaluated.is_empty(), "{c:?}");
        assert!(c.coverage.complete(), "{c:?}");
        assert_eq!(c.verdict, Verdict::Healthy, "{c:?}");
        assert_eq!(c.reason, None);
    }

    #[test]
    fn the_faulty_warp_slot_leads_its_gpu_s_findings() {
        // An `iat` fault in warp slot 6 of SM 3 also disturbs the CTA-membership words
        // of the slots that exchange data with it: the slot itself comes first.
        let platform = node(
            r#"{"gpus": {"sim#1": {"fault": "iat:sm=3,sp=2,warps=0x2,lanes=0x7,dim=x,mask=0x4,pol=sa1"}}}"#,
        )
        .with_fault_factory(Arc::new(injector::InjectorFaults));
        let c = check_device(&platform, &spec("sim#1"), &CheckOptions::default());
        assert_eq!(c.verdict, Verdict::Faulty, "{c:?}");
        assert!(c.findings.len() > 1, "{c:?}");
        match &c.findings[0].evidence {
            Evidence::Signature { sm, warp_slot, .. } => assert_eq!((*sm, *warp_slot), (3, 6)),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn bad_telemetry_of_a_node_config_fires_its_rule() {
        let platform = node(
            r#"{"gpus": {
                "sim#1": {"telemetry": {"remapped_rows": {"pending": true}}},
                "sim#2": {"telemetry": {"xid_events": [13, 79]}},
                "sim#3": {"telemetry": {"pcie": {"width": 4}}}
            }}"#,
        );
        let checks = check_node(
            &platform,
            &spec("sim*4").expand(),
            &CheckOptions::default(),
            &mut |_| {},
        );
        let names: Vec<&str> = checks.iter().map(|c| c.device.as_str()).collect();
        assert_eq!(names, ["sim#0", "sim#1", "sim#2", "sim#3"]);
        let rule = |c: &DeviceCheck| match c.findings.as_slice() {
            [Finding {
                severity,
                evidence: Evidence::Rule { rule, value, .. },
            }] => (*severity, rule.clone(), value.clone()),
            other => panic!("{}: {other:?}", c.device),
        };
        assert!(checks[0].findings.is_empty());
        assert_eq!(
            rule(&checks[1]),
            (
                Severity::Faulty,
                "remapped_rows_pending".into(),
                "pending (0 correctable, 0 uncorrectable rows remapped)".into()
            )
        );
        assert_eq!(checks[1].verdict, Verdict::Faulty);
        assert_eq!(
            rule(&checks[2]),
            (Severity::Faulty, "xid".into(), "79".into())
        );
        assert_eq!(checks[2].verdict, Verdict::Faulty);
        assert_eq!(
            rule(&checks[3]),
            (Severity::Degraded, "pcie_link".into(), "gen4 x4".into())
        );
        let degraded = if checks[3].coverage.complete() {
            Verdict::Degraded
        } else {
            Verdict::Unknown // the suite did not cover the GPU: not even degraded is known
        };
        assert_eq!(checks[3].verdict, degraded);
    }

    #[test]
    fn a_device_that_cannot_be_inspected_is_unknown_and_the_others_are_reported() {
        let checks = check_node(
            &Platform::new(),
            &[spec("cuda:99"), spec("sim")],
            &CheckOptions::default(),
            &mut |_| {},
        );
        assert_eq!(checks[0].device, "cuda:99");
        assert_eq!(checks[0].verdict, Verdict::Unknown);
        assert!(checks[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("cannot inspect cuda:99: "));
        assert_eq!(checks[0].uuid, "");
        assert_eq!(checks[1].device, "sim");
        assert!(checks[1].uuid.starts_with("GPU-"));
    }

    /// A fault factory whose transform takes `delay` (a slow module load, as a JIT
    /// compile on a sick GPU can be) and changes nothing.
    struct Slow(Duration);
    impl ModuleTransform for Slow {
        fn transform(&self, ptx: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
            std::thread::sleep(self.0);
            Ok(ptx.to_string())
        }
    }
    impl FaultFactory for Slow {
        fn create(
            &self,
            _fault: &str,
            _target: &FaultTarget<'_>,
        ) -> Result<Arc<dyn ModuleTransform>, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Arc::new(Slow(self.0)))
        }
    }

    #[test]
    fn a_gpu_past_its_timeout_is_unknown_with_its_identity_and_the_others_are_reported() {
        // The timeout leaves the healthy GPU's check (the whole suite, on a debug build
        // and a busy machine) ample time; the slow GPU's module load outlasts it.
        let t = Instant::now();
        let alone = check_device(&Platform::new(), &spec("sim"), &CheckOptions::default());
        assert_eq!(alone.verdict, Verdict::Healthy, "{alone:?}");
        let timeout = Duration::from_secs(t.elapsed().as_secs() * 4 + 2);
        let platform = node(r#"{"gpus": {"sim#1": {"fault": "slow"}}}"#)
            .with_fault_factory(Arc::new(Slow(timeout + Duration::from_secs(3))));
        let options = CheckOptions {
            timeout,
            ..CheckOptions::default()
        };
        let mut events = Vec::new();
        let t = Instant::now();
        let checks = check_node(&platform, &spec("sim*2").expand(), &options, &mut |p| {
            events.push(match p {
                Progress::Started { device } => format!("start {device}"),
                Progress::Finished { check, done, total } => {
                    format!("done {} {done}/{total}", check.device)
                }
            })
        });
        assert!(
            t.elapsed() < timeout + Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(
            events,
            [
                "start sim#0",
                "start sim#1",
                "done sim#0 1/2",
                "done sim#1 2/2"
            ]
        );
        let slow = &checks[1];
        assert_eq!(slow.verdict, Verdict::Unknown);
        assert_eq!(
            slow.reason.as_deref(),
            Some(
                format!(
                    "the check did not finish within {} (--timeout)",
                    seconds(timeout)
                )
                .as_str()
            )
        );
        assert!(
            slow.uuid.starts_with("GPU-"),
            "identity read before the timeout"
        );
        assert_eq!(slow.coverage.sms, 8);
        assert_eq!(checks[0].verdict, Verdict::Healthy, "{:?}", checks[0]);
    }

    /// A fault factory whose transform panics (a bug in a module hook).
    struct Panics;
    impl ModuleTransform for Panics {
        fn transform(
            &self,
            _ptx: &str,
        ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
            panic!("transform bug")
        }
    }
    impl FaultFactory for Panics {
        fn create(
            &self,
            _fault: &str,
            _target: &FaultTarget<'_>,
        ) -> Result<Arc<dyn ModuleTransform>, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Arc::new(Panics))
        }
    }

    #[test]
    fn a_check_that_panics_is_unknown_saying_so_and_the_others_are_reported() {
        let platform =
            node(r#"{"gpus": {"sim#0": {"fault": "bug"}}}"#).with_fault_factory(Arc::new(Panics));
        let checks = check_node(
            &platform,
            &spec("sim*2").expand(),
            &CheckOptions::default(),
            &mut |_| {},
        );
        assert_eq!(checks[0].verdict, Verdict::Unknown);
        assert_eq!(
            checks[0].reason.as_deref(),
            Some("the check of sim#0 failed: panic: transform bug")
        );
        assert!(
            checks[0].uuid.starts_with("GPU-"),
            "identity read before the panic"
        );
        assert_eq!(checks[1].device, "sim#1");
        assert!(checks[1].uuid.starts_with("GPU-"));
    }

    #[test]
    fn auto_prefers_cuda_gpus_and_never_passes_a_gpu_node_off_as_virtual() {
        let platform = Platform::new();
        let (_, cuda_missing) = platform.auto();
        let sel = select_devices(&platform, &[], 0);
        if cuda_missing.is_some() {
            assert_eq!(sel.devices, [DeviceSpec::sim()]);
            assert!(
                sel.notes[0].starts_with("auto: no CUDA device ("),
                "{sel:?}"
            );
            let sel = select_devices(&platform, &[DeviceSpec::Auto], 2);
            assert_eq!(sel.devices, [spec("cuda:0"), spec("cuda:1")]);
            assert!(
                sel.notes[0].starts_with("auto: 2 NVIDIA GPUs on the PCI bus but CUDA is unusable")
            );
        } else {
            assert!(sel.devices.iter().all(|d| matches!(d, DeviceSpec::Cuda(_))));
        }
        let sel = select_devices(
            &platform,
            &[spec("sim:h100*2"), spec("sim:h100#1"), spec("sim")],
            0,
        );
        assert_eq!(
            sel.devices,
            [spec("sim:h100#0"), spec("sim:h100#1"), spec("sim")]
        );
        assert!(sel.notes.is_empty());
    }

    #[test]
    fn nvidia_gpus_are_counted_from_sysfs() {
        let root = std::env::temp_dir().join(format!("gpufault-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (dev, vendor, class) in [
            ("0000:17:00.0", "0x10de", "0x030200"), // H100 (3D controller)
            ("0000:18:00.0", "0x10de", "0x030000"), // a VGA NVIDIA GPU
            ("0000:19:00.0", "0x10de", "0x068000"), // an NVSwitch bridge
            ("0000:20:00.0", "0x8086", "0x030000"), // another vendor's GPU
        ] {
            let d = root.join(dev);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(d.join("class"), format!("{class}\n")).unwrap();
        }
        assert_eq!(nvidia_gpus_on_pci(&root), 2);
        assert_eq!(nvidia_gpus_on_pci(&root.join("missing")), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
