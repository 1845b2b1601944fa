//! Record sets for the tests (and the `sample_report` example): a tiny and a small
//! hand-written one for snapshots, and a seeded larger one that covers every outcome kind
//! and every cause.

#![allow(dead_code)]

use reports::{CampaignMeta, DueCause, HangCause, Outcome, RunRecord, SdcMagnitude, Shard};

/// Campaign metadata with every field filled.
pub fn meta(id: &str, models: &[&str], workloads: &[&str], per_cell: u64) -> CampaignMeta {
    let mut m = CampaignMeta {
        campaign_id: id.into(),
        seed: 42,
        device: "sim:h100".into(),
        device_name: "gpufault virtual GPU (h100 profile, 132 SMs)".into(),
        device_uuid: Some("GPU-00000000-0000-0000-0000-000000000084".into()),
        tool_version: "0.1.0".into(),
        created: "2025-01-31T12:00:00Z".into(),
        sampling: "exercised".into(),
        sampling_rules: "faithful + iat.mask=uniform:1..1024".into(),
        site_selection: String::new(),
        workloads: workloads.iter().map(|s| s.to_string()).collect(),
        models: models.iter().map(|s| s.to_string()).collect(),
        injections_per_cell: per_cell,
        hang_factor: 10.0,
        slow_factor: Some(3.0),
        shard: None,
        host: Some("node-07".into()),
        command: Some(format!("gpufault campaign run --seed 42 --id {id}")),
        extra: Default::default(),
    };
    m.extra.insert("driver".into(), "580.65".into());
    m
}

fn rec(model: &str, workload: &str, n: usize, outcome: Outcome) -> RunRecord {
    RunRecord {
        workload: workload.into(),
        model: model.into(),
        spec: format!(
            "{model}:sm={},sp={},lanes=0x{:08x}",
            n % 132,
            n % 4,
            1u32 << (n % 32)
        ),
        activations: match outcome {
            Outcome::NotActivated => Some(0),
            Outcome::Hang { .. } | Outcome::Due { .. } => None,
            _ => Some(1 + (n as u64 * 37) % 500),
        },
        instructions: Some(100_000 + n as u64 * 13),
        elapsed_us: 800 + (n as u64 * 97) % 4000,
        error: match outcome {
            Outcome::Due { cause } => Some(format!("CUDA_ERROR_{}", cause.name().to_uppercase())),
            _ => None,
        },
        fault_sm: Some((n % 132) as u32),
        outcome,
    }
}

fn sdc(elements: u64, total: u64, max_abs: f64, nan_inf: u64) -> Outcome {
    Outcome::Sdc {
        magnitude: SdcMagnitude {
            elements,
            total,
            max_abs,
            max_rel: max_abs / 4.0,
            flipped_bits: elements * 2 + 1,
            nan_inf,
        },
    }
}

/// One model × one workload, one run of each kind: the JSON snapshot.
pub fn tiny() -> (CampaignMeta, Vec<RunRecord>) {
    let meta = CampaignMeta {
        shard: Some(Shard { index: 2, count: 8 }),
        ..meta("tiny", &["iat"], &["vector_add"], 8)
    };
    let outcomes = [
        Outcome::NotActivated,
        Outcome::Masked { slow: false },
        Outcome::Masked { slow: true },
        sdc(3, 1024, 2.5, 0),
        sdc(1024, 1024, f64::INFINITY, 1024),
        Outcome::Due {
            cause: DueCause::IllegalAddress,
        },
        Outcome::Hang {
            cause: HangCause::Deadlock,
        },
        Outcome::Detected {
            sm: Some(4),
            unit: "sreg".into(),
        },
        Outcome::Escaped,
    ];
    let records = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| rec("iat", "vector_add", i + 4, o))
        .collect();
    (meta, records)
}

/// Three models × two workloads (one planned cell never ran), hand-written counts: the
/// table, CSV and Markdown snapshots.
pub fn small() -> (CampaignMeta, Vec<RunRecord>) {
    let meta = meta(
        "small-1",
        &["iat", "ioc", "wdrop"],
        &["vector_add", "gemm"],
        10,
    );
    let mut rs = Vec::new();
    let mut push = |model: &str, workload: &str, count: usize, outcome: Outcome| {
        for _ in 0..count {
            let n = rs.len();
            rs.push(rec(model, workload, n, outcome.clone()));
        }
    };
    use DueCause::*;
    use HangCause::*;
    // iat: mostly SDC.
    push("iat", "vector_add", 1, Outcome::NotActivated);
    push("iat", "vector_add", 3, Outcome::Masked { slow: false });
    push("iat", "vector_add", 5, sdc(4, 4096, 1.0, 0));
    push(
        "iat",
        "vector_add",
        1,
        Outcome::Due {
            cause: IllegalAddress,
        },
    );
    push("iat", "gemm", 2, Outcome::NotActivated);
    push("iat", "gemm", 2, Outcome::Masked { slow: true });
    push("iat", "gemm", 4, sdc(64, 4096, 3.5e3, 2));
    push("iat", "gemm", 1, Outcome::Hang { cause: Budget });
    push(
        "iat",
        "gemm",
        1,
        Outcome::Due {
            cause: MisalignedAddress,
        },
    );
    // ioc: mostly DUE.
    push("ioc", "vector_add", 1, Outcome::Masked { slow: false });
    push(
        "ioc",
        "vector_add",
        6,
        Outcome::Due {
            cause: IllegalInstruction,
        },
    );
    push("ioc", "vector_add", 2, Outcome::Due { cause: Trap });
    push("ioc", "vector_add", 1, sdc(1, 4096, 0.25, 0));
    push("ioc", "gemm", 10, Outcome::NotActivated);
    // wdrop: a detector campaign on gemm only; vector_add planned but never ran.
    push(
        "wdrop",
        "gemm",
        7,
        Outcome::Detected {
            sm: Some(3),
            unit: "sched".into(),
        },
    );
    push(
        "wdrop",
        "gemm",
        1,
        Outcome::Detected {
            sm: None,
            unit: "sched".into(),
        },
    );
    push("wdrop", "gemm", 1, Outcome::Escaped);
    push("wdrop", "gemm", 1, Outcome::Hang { cause: Deadlock });
    // The faults sat on SM 3, except in the last two detected runs (one misattributed).
    for (i, r) in rs.iter_mut().filter(|r| r.model == "wdrop").enumerate() {
        r.fault_sm = Some(if i == 6 { 5 } else { 3 });
    }
    (meta, rs)
}

/// SplitMix64: a tiny seeded generator, so the sample is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The models of the seeded sample with (not-activated, masked, SDC, DUE, hang) weights
/// shaped like the SC'23 results; `wdrop` is scored by a detector instead.
const SAMPLE_MODELS: [(&str, [f64; 5]); 8] = [
    ("iat", [0.10, 0.30, 0.55, 0.10, 0.05]),
    ("iaw", [0.05, 0.35, 0.42, 0.15, 0.08]),
    ("iac", [0.08, 0.45, 0.35, 0.15, 0.05]),
    ("wv", [0.20, 0.55, 0.22, 0.13, 0.10]),
    ("ioc", [0.15, 0.05, 0.06, 0.87, 0.02]),
    ("ira", [0.12, 0.04, 0.05, 0.88, 0.03]),
    ("ims", [0.30, 0.10, 0.08, 0.80, 0.02]),
    ("wdrop", [0.02, 0.0, 0.0, 0.0, 0.0]),
];

/// The workloads of the seeded sample (one name with markup characters, to prove
/// escaping).
pub const SAMPLE_WORKLOADS: [&str; 7] = [
    "vector_add",
    "gemm_tiled",
    "reduction",
    "histogram",
    "bfs",
    "needleman_wunsch",
    "conv<3x3>&pool",
];

/// A seeded campaign over 8 models × 7 workloads, `per_cell` runs per cell, covering
/// every outcome kind, every DUE and hang cause, NaN/Inf SDCs, slow masked runs and
/// detector outcomes with and without SM attribution. The cell `wdrop` × the last
/// workload is planned but has no runs.
pub fn seeded(seed: u64, per_cell: usize) -> (CampaignMeta, Vec<RunRecord>) {
    let models: Vec<&str> = SAMPLE_MODELS.iter().map(|(m, _)| *m).collect();
    let meta = meta(
        &format!("sample-{seed}"),
        &models,
        &SAMPLE_WORKLOADS,
        per_cell as u64,
    );
    let mut rng = Rng(seed);
    let mut rs = Vec::new();
    for (mi, (model, w)) in SAMPLE_MODELS.iter().enumerate() {
        for (wi, workload) in SAMPLE_WORKLOADS.iter().enumerate() {
            if *model == "wdrop" && wi + 1 == SAMPLE_WORKLOADS.len() {
                continue;
            }
            // Workloads shift the SDC/DUE balance a little.
            let tilt = (wi as f64 - 3.0) * 0.04;
            let weights = [
                w[0],
                w[1],
                (w[2] + tilt).max(0.0),
                (w[3] - tilt).max(0.0),
                w[4],
            ];
            let sum: f64 = weights.iter().sum();
            for _ in 0..per_cell {
                let n = rs.len();
                let outcome = if *model == "wdrop" {
                    let u = rng.unit();
                    if u < 0.03 {
                        Outcome::NotActivated
                    } else if u < 0.08 {
                        Outcome::Escaped
                    } else {
                        let sm = (n % 132) as u32;
                        let named = match rng.below(20) {
                            0 => None,
                            1 => Some((sm + 1) % 132),
                            _ => Some(sm),
                        };
                        Outcome::Detected {
                            sm: named,
                            unit: "sched".into(),
                        }
                    }
                } else {
                    let mut u = rng.unit() * sum;
                    let mut k = 0;
                    while k < 4 && u >= weights[k] {
                        u -= weights[k];
                        k += 1;
                    }
                    match k {
                        0 => Outcome::NotActivated,
                        1 => Outcome::Masked {
                            slow: rng.below(25) == 0,
                        },
                        2 => {
                            let total = 4096;
                            let elements = 1 + rng.below(if mi % 2 == 0 { 64 } else { 4096 });
                            let nan = rng.below(12) == 0;
                            sdc(
                                elements,
                                total,
                                if nan {
                                    f64::INFINITY
                                } else {
                                    rng.unit() * 10f64.powi(rng.below(6) as i32)
                                },
                                if nan { elements.min(8) } else { 0 },
                            )
                        }
                        3 => Outcome::Due {
                            cause: DueCause::ALL[rng.below(DueCause::ALL.len() as u64) as usize],
                        },
                        _ => Outcome::Hang {
                            cause: HangCause::ALL[rng.below(HangCause::ALL.len() as u64) as usize],
                        },
                    }
                };
                rs.push(rec(model, workload, n, outcome));
            }
        }
    }
    (meta, rs)
}
