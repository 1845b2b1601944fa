//! NVML health rules: DCGM diagnostic level-1 parity over a device's [`Telemetry`] and the
//! XID events seen during the check.
//!
//! Each rule is a named function of [`RuleInput`] with a severity; [`RULES`] lists them
//! and [`apply`] runs them all. A rule whose reading is missing is *not evaluated* —
//! never a pass: it says which field and why ([`RuleNotEvaluated`]); a reading the GPU
//! does not support at all (NVML's "not supported", e.g. retired pages on GPUs that
//! remap rows instead) is marked so and does not keep the verdict from being healthy.
//!
//! | rule | severity | fires when | source |
//! |---|---|---|---|
//! | `remapped_rows_failure` | faulty | a row remap failed (no spare rows) | DCGM `DCGM_FR_ROW_REMAP_FAILURE` (health watch "mem") |
//! | `remapped_rows_pending` | faulty | a row remap waits for a GPU reset | DCGM `DCGM_FR_PENDING_ROW_REMAP` |
//! | `retired_pages_pending` | faulty | a page retirement waits for a driver reload | DCGM `DCGM_FR_PENDING_PAGE_RETIREMENTS` |
//! | `retired_pages` | faulty | single-bit + double-bit retired pages ≥ [`RETIRED_PAGES_LIMIT`] (63) | DCGM `DCGM_LIMIT_MAX_RETIRED_PAGES` |
//! | `retired_pages_dbe` | degraded | double-bit retired pages > [`RETIRED_PAGES_DBE_SOFT_LIMIT`] (15) | DCGM `DCGM_LIMIT_MAX_RETIRED_PAGES_SOFT_LIMIT` |
//! | `volatile_dbe` | faulty | a volatile double-bit (uncorrected) ECC error since the driver loaded | DCGM `DCGM_FR_VOLATILE_DBE_DETECTED` |
//! | `xid` | faulty | a hardware-class XID ([`HARDWARE_XIDS`]) seen | NVIDIA's XID catalog; DCGM's fatal XIDs |
//! | `pcie_link` | degraded | PCIe generation or width below the link's maximum | DCGM `DCGM_FR_PCIE_GENERATION` / `DCGM_FR_PCIE_WIDTH` |
//! | `recovery_action` | faulty | NVML's recovery action is not `none` | NVML `NVML_FI_DEV_GET_GPU_RECOVERY_ACTION` |
//! | `clocks_throttled` | degraded | clocks held down for a hardware reason ([`HARDWARE_THROTTLE_REASONS`]) | NVML clock event reasons; DCGM `DCGM_FR_CLOCKS_EVENT_THERMAL`/`_POWER` |
//!
//! Sources: DCGM's limits are in `common/DcgmGPUHardwareLimits.h` of NVIDIA/DCGM (63
//! retired pages since "updated to match the field diag"; 60 before), its memory health
//! watch in `modules/health/DcgmHealthWatch.cpp`; the XIDs in NVIDIA's XID catalog
//! (<https://docs.nvidia.com/deploy/xid-errors/>). DCGM's soft limit of 15 double-bit
//! retired pages fails only when pages keep being retired at more than one a week after
//! it; that needs a history this check does not keep, so crossing it is `degraded` here.

use gpu::Telemetry;
use reports::check::{Evidence, Finding, RuleNotEvaluated, Severity};

/// DCGM's limit of retired pages (single-bit and double-bit together) at which a GPU
/// fails (`DCGM_LIMIT_MAX_RETIRED_PAGES`).
pub const RETIRED_PAGES_LIMIT: u64 = 63;

/// DCGM's soft limit of pages retired for double-bit errors
/// (`DCGM_LIMIT_MAX_RETIRED_PAGES_SOFT_LIMIT`).
pub const RETIRED_PAGES_DBE_SOFT_LIMIT: u64 = 15;

/// XIDs that mean the hardware (not the program) failed, with their meaning, from NVIDIA's
/// XID catalog (<https://docs.nvidia.com/deploy/xid-errors/>); 48, 74, 79, 94, 95, 119,
/// 120 and 140 are also the XIDs DCGM's health watch fails a GPU for. XIDs a program can
/// cause by itself (13 graphics engine exception, 31 MMU fault, 43 channel reset, 45
/// preemptive cleanup) are not in the list: a crashing job must not drain a node.
pub const HARDWARE_XIDS: &[(u64, &str)] = &[
    (48, "double-bit ECC error"),
    (63, "ECC page retirement or row remapping recording event"),
    (64, "ECC page retirement or row remapper recording failure"),
    (74, "NVLink error"),
    (79, "GPU has fallen off the bus"),
    (92, "high single-bit ECC error rate"),
    (94, "contained ECC error"),
    (95, "uncontained ECC error"),
    (119, "GSP RPC timeout"),
    (120, "GSP error"),
    (140, "unrecovered ECC error"),
];

/// Clock throttle reasons (NVML's names, as `Telemetry::throttle_reasons` holds them)
/// that mean the hardware holds the clocks down: `hw_slowdown` (factor 2 or more:
/// temperature, power brake or power draw too high), `hw_thermal_slowdown`,
/// `hw_power_brake_slowdown` (an external power brake) and `sw_thermal_slowdown` (GPU
/// or memory above its maximum operating temperature). Power capping, idling,
/// application-clock settings and sync boost are not hardware trouble.
pub const HARDWARE_THROTTLE_REASONS: &[&str] = &[
    "hw_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
    "sw_thermal_slowdown",
];

/// NVML's message for `NVML_ERROR_NOT_SUPPORTED` (nvml-wrapper's `NvmlError::NotSupported`),
/// as `Telemetry::unavailable` records it: the device has no such reading.
pub const NVML_NOT_SUPPORTED: &str =
    "the requested operation is not available on the target device";

/// What the rules judge: a device's telemetry and the XID events seen during its check.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    /// The device's telemetry (read after the signature kernels ran).
    pub telemetry: &'a Telemetry,
    /// The XID events seen for the device during the check (with those its telemetry
    /// lists), or why XID events could not be watched.
    pub xids: Result<&'a [u64], &'a str>,
}

/// The judgement of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eval {
    /// The reading is within the rule's limit.
    Pass,
    /// The rule fired.
    Fired {
        /// The value read.
        value: String,
        /// What the reading should have been, in words.
        limit: String,
    },
    /// The reading is missing.
    NotEvaluated {
        /// Which field and why.
        reason: String,
        /// The device does not support the reading at all.
        not_supported: bool,
    },
}

/// A health rule: a name, a severity and the function that judges.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The rule's name (`Evidence::Rule::rule` of its findings).
    pub name: &'static str,
    /// The severity of its findings.
    pub severity: Severity,
    /// What it checks, in words.
    pub description: &'static str,
    /// The function that judges.
    pub eval: fn(&RuleInput<'_>) -> Eval,
}

/// Every health rule, in the order findings are reported.
pub const RULES: &[Rule] = &[
    Rule {
        name: "remapped_rows_failure",
        severity: Severity::Faulty,
        description: "a row remap failed: the GPU has no spare rows left",
        eval: remapped_rows_failure,
    },
    Rule {
        name: "remapped_rows_pending",
        severity: Severity::Faulty,
        description: "a row remap waits for a GPU reset",
        eval: remapped_rows_pending,
    },
    Rule {
        name: "retired_pages_pending",
        severity: Severity::Faulty,
        description: "a page retirement waits for a driver reload",
        eval: retired_pages_pending,
    },
    Rule {
        name: "retired_pages",
        severity: Severity::Faulty,
        description: "retired pages (single- and double-bit) at DCGM's limit",
        eval: retired_pages,
    },
    Rule {
        name: "retired_pages_dbe",
        severity: Severity::Degraded,
        description: "pages retired for double-bit errors above DCGM's soft limit",
        eval: retired_pages_dbe,
    },
    Rule {
        name: "volatile_dbe",
        severity: Severity::Faulty,
        description: "an uncorrected (double-bit) ECC error since the driver loaded",
        eval: volatile_dbe,
    },
    Rule {
        name: "xid",
        severity: Severity::Faulty,
        description: "a hardware-class XID during the check",
        eval: xid,
    },
    Rule {
        name: "recovery_action",
        severity: Severity::Faulty,
        description: "NVML asks for a recovery action (reset, reboot, drain)",
        eval: recovery_action,
    },
    Rule {
        name: "pcie_link",
        severity: Severity::Degraded,
        description: "the PCIe link runs below its maximum generation or width",
        eval: pcie_link,
    },
    Rule {
        name: "clocks_throttled",
        severity: Severity::Degraded,
        description: "clocks held down for a hardware reason (slowdown, thermal, power brake)",
        eval: clocks_throttled,
    },
];

/// What [`apply`] found: the findings of the rules that fired, and the rules that could
/// not be evaluated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleResults {
    /// One finding per rule that fired, in [`RULES`] order.
    pub findings: Vec<Finding>,
    /// The rules whose reading was missing.
    pub not_evaluated: Vec<RuleNotEvaluated>,
}

/// Runs every rule of [`RULES`] on `input`.
pub fn apply(input: &RuleInput<'_>) -> RuleResults {
    let mut out = RuleResults::default();
    for rule in RULES {
        match (rule.eval)(input) {
            Eval::Pass => {}
            Eval::Fired { value, limit } => out.findings.push(Finding {
                severity: rule.severity,
                evidence: Evidence::Rule {
                    rule: rule.name.to_string(),
                    value,
                    limit,
                },
            }),
            Eval::NotEvaluated {
                reason,
                not_supported,
            } => out.not_evaluated.push(RuleNotEvaluated {
                rule: rule.name.to_string(),
                reason,
                not_supported,
            }),
        }
    }
    out
}

/// The reading `value` of telemetry field `field`, or the rule's `NotEvaluated` saying
/// why it is missing (the field's own NVML error, or why NVML could not be used at all).
fn reading<'a, T>(t: &Telemetry, field: &str, value: &'a Option<T>) -> Result<&'a T, Eval> {
    if let Some(v) = value {
        return Ok(v);
    }
    let (why, not_supported) = match t.unavailable.get(field) {
        Some(e) => (e.clone(), e == NVML_NOT_SUPPORTED),
        None => match t.unavailable.get("nvml") {
            Some(e) => (format!("NVML unavailable: {e}"), false),
            None => ("not reported by the device".to_string(), false),
        },
    };
    Err(Eval::NotEvaluated {
        reason: format!("{field}: {why}"),
        not_supported,
    })
}

/// Fired with `value` and `limit` when `cond`, else Pass.
fn fire_if(cond: bool, value: impl Into<String>, limit: impl Into<String>) -> Eval {
    if cond {
        Eval::Fired {
            value: value.into(),
            limit: limit.into(),
        }
    } else {
        Eval::Pass
    }
}

/// `remapped_rows_failure` (faulty): `remapped_rows.failure` — a row remap failed
/// because the bank has no spare rows left; the GPU needs service (DCGM:
/// `DCGM_FR_ROW_REMAP_FAILURE`, isolate).
pub fn remapped_rows_failure(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "remapped_rows", &t.remapped_rows) {
        Ok(r) => fire_if(
            r.failure,
            "failure",
            "no row remap may fail (the GPU has no spare rows left)",
        ),
        Err(e) => e,
    }
}

/// `remapped_rows_pending` (faulty): `remapped_rows.pending` — a row was marked for
/// remapping and the GPU must be reset before the remap takes effect (DCGM:
/// `DCGM_FR_PENDING_ROW_REMAP`, isolate; XID 63 announces it).
pub fn remapped_rows_pending(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "remapped_rows", &t.remapped_rows) {
        Ok(r) => fire_if(
            r.pending,
            format!(
                "pending ({} correctable, {} uncorrectable rows remapped)",
                r.correctable, r.uncorrectable
            ),
            "no row remap may wait for a GPU reset",
        ),
        Err(e) => e,
    }
}

/// `retired_pages_pending` (faulty): `retired_pages.pending` — a page is marked for
/// retirement and the driver must be reloaded before it is retired (DCGM:
/// `DCGM_FR_PENDING_PAGE_RETIREMENTS`).
pub fn retired_pages_pending(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "retired_pages", &t.retired_pages) {
        Ok(r) => fire_if(
            r.pending,
            "pending",
            "no page retirement may wait for a driver reload",
        ),
        Err(e) => e,
    }
}

/// `retired_pages` (faulty): single-bit plus double-bit retired pages ≥
/// [`RETIRED_PAGES_LIMIT`] (DCGM: `DCGM_LIMIT_MAX_RETIRED_PAGES`,
/// `DCGM_FR_RETIRED_PAGES_LIMIT`).
pub fn retired_pages(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "retired_pages", &t.retired_pages) {
        Ok(r) => {
            let total = r.single_bit_ecc + r.double_bit_ecc;
            fire_if(
                total >= RETIRED_PAGES_LIMIT,
                format!(
                    "{total} ({} single-bit, {} double-bit)",
                    r.single_bit_ecc, r.double_bit_ecc
                ),
                format!("fewer than {RETIRED_PAGES_LIMIT} retired pages (DCGM's limit)"),
            )
        }
        Err(e) => e,
    }
}

/// `retired_pages_dbe` (degraded): pages retired for double-bit errors >
/// [`RETIRED_PAGES_DBE_SOFT_LIMIT`] (DCGM's soft limit; DCGM fails the GPU only when
/// retirements continue at more than one a week after it, a rate this check cannot
/// measure).
pub fn retired_pages_dbe(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "retired_pages", &t.retired_pages) {
        Ok(r) => fire_if(
            r.double_bit_ecc > RETIRED_PAGES_DBE_SOFT_LIMIT,
            r.double_bit_ecc.to_string(),
            format!(
                "at most {RETIRED_PAGES_DBE_SOFT_LIMIT} pages retired for double-bit errors (DCGM's soft limit)"
            ),
        ),
        Err(e) => e,
    }
}

/// `volatile_dbe` (faulty): `ecc.volatile.uncorrected` > 0 — an uncorrected
/// (double-bit) ECC error since the driver was loaded (DCGM:
/// `DCGM_FR_VOLATILE_DBE_DETECTED`).
pub fn volatile_dbe(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "ecc", &t.ecc) {
        Ok(e) => fire_if(
            e.volatile.uncorrected > 0,
            e.volatile.uncorrected.to_string(),
            "no uncorrected (double-bit) ECC error since the driver loaded",
        ),
        Err(e) => e,
    }
}

/// `xid` (faulty): an XID of [`HARDWARE_XIDS`] among those seen during the check (and
/// those the telemetry lists). Not evaluated when XID events could not be watched and
/// the telemetry lists none.
pub fn xid(input: &RuleInput<'_>) -> Eval {
    let listed = &input.telemetry.xid_events;
    let seen: Vec<u64> = match input.xids {
        Ok(watched) => watched.iter().chain(listed).copied().collect(),
        Err(_) if !listed.is_empty() => listed.clone(),
        Err(why) => {
            return Eval::NotEvaluated {
                reason: format!("XID events could not be watched: {why}"),
                not_supported: false,
            }
        }
    };
    let hits: Vec<(u64, &str)> = HARDWARE_XIDS
        .iter()
        .filter(|(x, _)| seen.contains(x))
        .copied()
        .collect();
    if hits.is_empty() {
        return Eval::Pass;
    }
    let value = hits
        .iter()
        .map(|(x, _)| x.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let what = hits
        .iter()
        .map(|(x, name)| format!("{x}: {name}"))
        .collect::<Vec<_>>()
        .join("; ");
    Eval::Fired {
        value,
        limit: format!("no hardware-class XID ({what})"),
    }
}

/// `recovery_action` (faulty): NVML's recovery action is not `none` (`gpu_reset`,
/// `node_reboot`, `drain_p2p`, `drain_and_reset`: the driver asks for it before the GPU
/// is used again).
pub fn recovery_action(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "recovery_action", &t.recovery_action) {
        Ok(a) => fire_if(a != "none", a.clone(), "recovery action `none`"),
        Err(e) => e,
    }
}

/// `pcie_link` (degraded): the PCIe link's current generation or width is below its
/// maximum (DCGM: `DCGM_FR_PCIE_GENERATION`, `DCGM_FR_PCIE_WIDTH`). The telemetry is
/// read right after the signature kernels, since an idle GPU may lower its link
/// generation to save power.
pub fn pcie_link(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "pcie", &t.pcie) {
        Ok(p) => fire_if(
            p.generation < p.max_generation || p.width < p.max_width,
            format!("gen{} x{}", p.generation, p.width),
            format!(
                "gen{} x{} (the link's maximum)",
                p.max_generation, p.max_width
            ),
        ),
        Err(e) => e,
    }
}

/// `clocks_throttled` (degraded): an active clock throttle reason of
/// [`HARDWARE_THROTTLE_REASONS`].
pub fn clocks_throttled(input: &RuleInput<'_>) -> Eval {
    let t = input.telemetry;
    match reading(t, "throttle_reasons", &t.throttle_reasons) {
        Ok(reasons) => {
            let hw: Vec<&str> = reasons
                .iter()
                .map(String::as_str)
                .filter(|r| HARDWARE_THROTTLE_REASONS.contains(r))
                .collect();
            fire_if(
                !hw.is_empty(),
                hw.join(","),
                format!(
                    "no hardware throttle reason ({})",
                    HARDWARE_THROTTLE_REASONS.join(", ")
                ),
            )
        }
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu::{Clocks, Ecc, EccCounts, Pcie, RemappedRows, RetiredPages};

    /// The healthy telemetry of a virtual H100 (every field read, nothing wrong).
    fn healthy() -> Telemetry {
        Telemetry {
            ecc: Some(Ecc::default()),
            retired_pages: Some(RetiredPages::default()),
            remapped_rows: Some(RemappedRows::default()),
            xid_events: Vec::new(),
            throttle_reasons: Some(vec!["gpu_idle".into(), "sw_power_cap".into()]),
            clocks: Some(Clocks::default()),
            temperature_c: Some(35),
            power_w: Some(70.0),
            power_limit_w: Some(700.0),
            pcie: Some(Pcie {
                generation: 5,
                max_generation: 5,
                width: 16,
                max_width: 16,
            }),
            recovery_action: Some("none".into()),
            unavailable: Default::default(),
        }
    }

    fn eval(rule: &str, t: &Telemetry, xids: Result<&[u64], &str>) -> Eval {
        let r = RULES.iter().find(|r| r.name == rule).unwrap();
        (r.eval)(&RuleInput { telemetry: t, xids })
    }

    fn fired(e: Eval) -> (String, String) {
        match e {
            Eval::Fired { value, limit } => (value, limit),
            other => panic!("expected the rule to fire, got {other:?}"),
        }
    }

    #[test]
    fn healthy_telemetry_passes_every_rule() {
        let t = healthy();
        let r = apply(&RuleInput {
            telemetry: &t,
            xids: Ok(&[13, 31, 43]), // a program's own errors
        });
        assert_eq!(r, RuleResults::default());
        assert_eq!(RULES.len(), 10);
        let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len(), "rule names are unique");
    }

    #[test]
    fn remapped_rows_failure_and_pending_are_faulty() {
        let mut t = healthy();
        t.remapped_rows = Some(RemappedRows {
            failure: true,
            ..Default::default()
        });
        assert_eq!(
            fired(eval("remapped_rows_failure", &t, Ok(&[]))).0,
            "failure"
        );
        assert_eq!(eval("remapped_rows_pending", &t, Ok(&[])), Eval::Pass);
        t.remapped_rows = Some(RemappedRows {
            pending: true,
            uncorrectable: 2,
            ..Default::default()
        });
        assert_eq!(
            fired(eval("remapped_rows_pending", &t, Ok(&[]))).0,
            "pending (0 correctable, 2 uncorrectable rows remapped)"
        );
        assert_eq!(eval("remapped_rows_failure", &t, Ok(&[])), Eval::Pass);
        let r = apply(&RuleInput {
            telemetry: &t,
            xids: Ok(&[]),
        });
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].severity, Severity::Faulty);
    }

    #[test]
    fn retired_pages_limits_are_dcgms() {
        let mut t = healthy();
        let pages = |s, d| RetiredPages {
            single_bit_ecc: s,
            double_bit_ecc: d,
            pending: false,
        };
        t.retired_pages = Some(pages(40, 15));
        assert_eq!(eval("retired_pages", &t, Ok(&[])), Eval::Pass);
        assert_eq!(eval("retired_pages_dbe", &t, Ok(&[])), Eval::Pass);
        t.retired_pages = Some(pages(47, 16));
        let (value, limit) = fired(eval("retired_pages", &t, Ok(&[])));
        assert_eq!(value, "63 (47 single-bit, 16 double-bit)");
        assert!(limit.contains("fewer than 63"), "{limit}");
        assert_eq!(fired(eval("retired_pages_dbe", &t, Ok(&[]))).0, "16");
        assert_eq!(eval("retired_pages_pending", &t, Ok(&[])), Eval::Pass);
        t.retired_pages = Some(RetiredPages {
            pending: true,
            ..Default::default()
        });
        assert_eq!(
            fired(eval("retired_pages_pending", &t, Ok(&[]))).0,
            "pending"
        );
        let severities: Vec<Severity> = [
            "retired_pages",
            "retired_pages_dbe",
            "retired_pages_pending",
        ]
        .iter()
        .map(|n| RULES.iter().find(|r| r.name == *n).unwrap().severity)
        .collect();
        assert_eq!(
            severities,
            [Severity::Faulty, Severity::Degraded, Severity::Faulty]
        );
    }

    #[test]
    fn a_volatile_dbe_is_faulty_an_aggregate_one_alone_is_not() {
        let mut t = healthy();
        t.ecc = Some(Ecc {
            volatile: EccCounts::default(),
            aggregate: EccCounts {
                corrected: 100,
                uncorrected: 3,
            },
        });
        assert_eq!(eval("volatile_dbe", &t, Ok(&[])), Eval::Pass);
        t.ecc = Some(Ecc {
            volatile: EccCounts {
                corrected: 0,
                uncorrected: 2,
            },
            aggregate: EccCounts::default(),
        });
        assert_eq!(fired(eval("volatile_dbe", &t, Ok(&[]))).0, "2");
    }

    #[test]
    fn hardware_xids_fire_program_xids_do_not() {
        let t = healthy();
        assert_eq!(eval("xid", &t, Ok(&[13, 31, 43, 45])), Eval::Pass);
        for &(x, name) in HARDWARE_XIDS {
            let (value, limit) = fired(eval("xid", &t, Ok(&[13, x])));
            assert_eq!(value, x.to_string());
            assert!(limit.contains(name), "{limit}");
        }
        let (value, _) = fired(eval("xid", &t, Ok(&[95, 79, 79])));
        assert_eq!(value, "79,95");
        // XIDs the telemetry lists (a virtual GPU's configured ones) count too
        let mut listed = healthy();
        listed.xid_events = vec![64];
        assert_eq!(fired(eval("xid", &listed, Ok(&[]))).0, "64");
        assert_eq!(fired(eval("xid", &listed, Err("no NVML"))).0, "64");
        // nothing listed and no watch: not a pass
        assert_eq!(
            eval("xid", &t, Err("NVML not found")),
            Eval::NotEvaluated {
                reason: "XID events could not be watched: NVML not found".into(),
                not_supported: false
            }
        );
    }

    #[test]
    fn a_recovery_action_other_than_none_is_faulty() {
        let mut t = healthy();
        for action in [
            "gpu_reset",
            "node_reboot",
            "drain_p2p",
            "drain_and_reset",
            "unknown_7",
        ] {
            t.recovery_action = Some(action.into());
            assert_eq!(fired(eval("recovery_action", &t, Ok(&[]))).0, action);
        }
    }

    #[test]
    fn a_pcie_link_below_its_maximum_is_degraded() {
        let mut t = healthy();
        let link = |generation, width| Pcie {
            generation,
            max_generation: 5,
            width,
            max_width: 16,
        };
        t.pcie = Some(link(5, 8));
        let (value, limit) = fired(eval("pcie_link", &t, Ok(&[])));
        assert_eq!(
            (value.as_str(), limit.as_str()),
            ("gen5 x8", "gen5 x16 (the link's maximum)")
        );
        t.pcie = Some(link(4, 16));
        assert_eq!(fired(eval("pcie_link", &t, Ok(&[]))).0, "gen4 x16");
        t.pcie = Some(link(5, 16));
        assert_eq!(eval("pcie_link", &t, Ok(&[])), Eval::Pass);
        let r = apply(&RuleInput {
            telemetry: &{
                let mut d = healthy();
                d.pcie = Some(link(3, 16));
                d
            },
            xids: Ok(&[]),
        });
        assert_eq!(r.findings[0].severity, Severity::Degraded);
    }

    #[test]
    fn hardware_throttling_is_degraded_power_capping_is_not() {
        let mut t = healthy();
        t.throttle_reasons = Some(vec![
            "gpu_idle".into(),
            "sw_power_cap".into(),
            "applications_clocks_setting".into(),
            "sync_boost".into(),
        ]);
        assert_eq!(eval("clocks_throttled", &t, Ok(&[])), Eval::Pass);
        for reason in HARDWARE_THROTTLE_REASONS {
            t.throttle_reasons = Some(vec!["sw_power_cap".into(), reason.to_string()]);
            assert_eq!(fired(eval("clocks_throttled", &t, Ok(&[]))).0, *reason);
        }
    }

    #[test]
    fn a_missing_reading_is_not_a_pass_and_says_why() {
        let mut t = healthy();
        t.remapped_rows = None;
        t.unavailable
            .insert("remapped_rows".into(), "Unknown Error".into());
        t.retired_pages = None;
        t.unavailable
            .insert("retired_pages".into(), NVML_NOT_SUPPORTED.into());
        t.pcie = None; // no reason recorded
        let r = apply(&RuleInput {
            telemetry: &t,
            xids: Ok(&[]),
        });
        assert!(r.findings.is_empty());
        let got: Vec<(&str, &str, bool)> = r
            .not_evaluated
            .iter()
            .map(|n| (n.rule.as_str(), n.reason.as_str(), n.not_supported))
            .collect();
        let ns = format!("retired_pages: {NVML_NOT_SUPPORTED}");
        assert_eq!(
            got,
            [
                (
                    "remapped_rows_failure",
                    "remapped_rows: Unknown Error",
                    false
                ),
                (
                    "remapped_rows_pending",
                    "remapped_rows: Unknown Error",
                    false
                ),
                ("retired_pages_pending", ns.as_str(), true),
                ("retired_pages", ns.as_str(), true),
                ("retired_pages_dbe", ns.as_str(), true),
                ("pcie_link", "pcie: not reported by the device", false),
            ]
        );
        // NVML missing altogether: every rule names that
        let mut none = Telemetry::default();
        none.unavailable.insert(
            "nvml".into(),
            "NVML not found (searched libnvidia-ml.so.1)".into(),
        );
        let r = apply(&RuleInput {
            telemetry: &none,
            xids: Err("NVML not found"),
        });
        assert_eq!(r.not_evaluated.len(), RULES.len());
        assert!(r.not_evaluated.iter().all(|n| !n.not_supported));
        assert_eq!(
            r.not_evaluated[0].reason,
            "remapped_rows: NVML unavailable: NVML not found (searched libnvidia-ml.so.1)"
        );
    }

    #[test]
    fn docs_health_check_lists_every_rule_and_xid_as_the_code_has_them() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/health-check.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        for rule in RULES {
            let severity = match rule.severity {
                Severity::Faulty => "faulty",
                Severity::Degraded => "degraded",
            };
            let row = format!("| `{}` | {severity} |", rule.name);
            assert!(
                doc.contains(&row),
                "docs/health-check.md lacks the row `{row}`"
            );
        }
        for (xid, name) in HARDWARE_XIDS {
            let row = format!("| {xid} | {name} |");
            assert!(
                doc.contains(&row),
                "docs/health-check.md lacks the XID row `{row}`"
            );
        }
        for reason in HARDWARE_THROTTLE_REASONS {
            assert!(doc.contains(&format!("`{reason}`")), "{reason}");
        }
        assert!(doc.contains(&format!("≥ **{RETIRED_PAGES_LIMIT}**")));
        assert!(doc.contains(&format!("> **{RETIRED_PAGES_DBE_SOFT_LIMIT}**")));
    }

    #[test]
    fn the_not_supported_message_is_nvml_wrappers() {
        assert_eq!(
            nvml_wrapper::error::NvmlError::NotSupported.to_string(),
            NVML_NOT_SUPPORTED
        );
    }
}
