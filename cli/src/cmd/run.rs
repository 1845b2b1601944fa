//! `gpufault run`: run one workload on a device and check it against its CPU
//! reference; with `--fault`, run one fault injection and report its outcome.
//!
//! Exit codes: without `--fault`, 0 when the outputs match the CPU reference (within
//! the workload's documented tolerance), 1 when they do not or the run failed; with
//! `--fault`, 0 when the injection ran and its outcome is reported (whatever the
//! outcome), 1 when the fault-free runs failed; 2 on usage errors (unknown workload,
//! bad spec, bad device).
//!
//! JSON output (`--json`) of a plain run: `{ "workload", "device", "size", "seed",
//! "launches", "instructions" (virtual GPU, else null), "elapsed_ms", "verdict"
//! ("identical" | "within_tolerance" | "different" | "error"), "magnitude" (the SDC
//! magnitude against the reference, or null), "error", "against" (with `--against`:
//! `{ "device", "verdict", "magnitude" (bit differences, or null), "error" }`, else
//! null) }`. With `--fault`: `{ "workload",
//! "device", "size", "seed", "fault" (compact spec), "outcome" (`reports::Outcome`),
//! "comparator" ("identical" | "different" | "no_output": the faulty outputs against
//! the golden run's),
//! "activations", "golden_instructions", "instructions", "elapsed_ms", "error" }`.

use anyhow::{anyhow, Context};
use clap::Args;
use gpu::{DeviceSpec, Platform};
use injector::{instrument, FaultSpec, Target};
use serde::Serialize;
use std::process::ExitCode;
use std::time::Instant;
use workloads::{Verdict, Workload};

/// Arguments of `gpufault run`.
#[derive(Args)]
pub struct RunArgs {
    /// The workload (see `gpufault workloads`).
    workload: String,
    /// Device: auto, sim, sim:a100, sim:h100, cuda:N, cuda:GPU-<uuid>.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Problem size (default: the workload's small default).
    #[arg(long)]
    size: Option<usize>,
    /// Seed of the generated inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Inject this fault (compact spec such as
    /// `iat:sm=0,sp=1,warps=0x1,lanes=0xf,dim=x,mask=0x4,pol=sa1`, or JSON).
    #[arg(long, value_name = "SPEC")]
    fault: Option<String>,
    /// Also run on this device and compare the two outputs (bit for bit, and within the
    /// workload's documented tolerance), e.g. `--device cuda:0 --against sim:h100`.
    #[arg(long, value_name = "DEVICE", conflicts_with = "fault")]
    against: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct PlainReport<'a> {
    workload: &'a str,
    device: String,
    size: usize,
    seed: u64,
    launches: u32,
    instructions: Option<u64>,
    elapsed_ms: f64,
    verdict: &'static str,
    magnitude: Option<reports::SdcMagnitude>,
    error: Option<String>,
    against: Option<Against>,
}

/// The comparison with a second device (`--against`).
#[derive(Serialize)]
struct Against {
    device: String,
    /// "identical" | "within_tolerance" | "different" | "error"
    verdict: &'static str,
    magnitude: Option<reports::SdcMagnitude>,
    error: Option<String>,
}

#[derive(Serialize)]
struct FaultReport<'a> {
    workload: &'a str,
    device: String,
    size: usize,
    seed: u64,
    fault: String,
    outcome: reports::Outcome,
    /// The comparator's verdict on the faulty run's outputs against the golden run's:
    /// "identical", "different", or "no_output" (the run crashed or hung).
    comparator: &'static str,
    activations: Option<u64>,
    golden_instructions: Option<u64>,
    instructions: Option<u64>,
    elapsed_ms: f64,
    error: Option<String>,
}

trait WithAgainst: Sized {
    fn with_against(
        self,
        platform: &Platform,
        args: &RunArgs,
        w: &dyn Workload,
        inputs: &workloads::Inputs,
        out: &workloads::Outputs,
    ) -> anyhow::Result<Self>;
}

impl WithAgainst for (PlainReport<'_>, bool) {
    /// Runs the workload on `--against` and compares: bit for bit first, then with the
    /// workload's tolerance.
    fn with_against(
        mut self,
        platform: &Platform,
        args: &RunArgs,
        w: &dyn Workload,
        inputs: &workloads::Inputs,
        out: &workloads::Outputs,
    ) -> anyhow::Result<Self> {
        let Some(other) = &args.against else {
            return Ok(self);
        };
        let spec: DeviceSpec = other
            .parse()
            .with_context(|| format!("--against {other}"))?;
        let mut dev = platform
            .open(&spec)
            .with_context(|| format!("--against {other}"))?;
        let device = dev.name().to_string();
        let m = dev
            .load(w.ptx())
            .context("loading the workload's PTX on --against")?;
        self.0.against = Some(match w.run(dev.as_mut(), m, inputs) {
            Ok(theirs) => {
                let exact = w.compare_golden(out, &theirs);
                if exact.verdict == Verdict::Identical {
                    Against {
                        device,
                        verdict: "identical",
                        magnitude: None,
                        error: None,
                    }
                } else {
                    let tol = w.compare(out, &theirs);
                    Against {
                        device,
                        verdict: verdict_name(tol.verdict),
                        magnitude: Some(exact.magnitude),
                        error: None,
                    }
                }
            }
            Err(e) => Against {
                device,
                verdict: "error",
                magnitude: None,
                error: Some(e.to_string()),
            },
        });
        Ok(self)
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Identical => "identical",
        Verdict::WithinTolerance => "within_tolerance",
        Verdict::Different => "different",
    }
}

/// Runs `gpufault run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let w: &dyn Workload = workloads::by_name(&args.workload).ok_or_else(|| {
        let names: Vec<&str> = workloads::all().iter().map(|w| w.meta().name).collect();
        anyhow!(
            "unknown workload `{}` (known: {})",
            args.workload,
            names.join(", ")
        )
    })?;
    let spec: DeviceSpec = args
        .device
        .parse()
        .with_context(|| format!("--device {}", args.device))?;
    let fault = args
        .fault
        .as_deref()
        .map(FaultSpec::parse)
        .transpose()
        .context("--fault")?;
    let size = args.size.unwrap_or(w.meta().size.default);
    let inputs = w
        .generate(size, args.seed)
        .with_context(|| format!("--size {size}"))?;
    let platform = Platform::new();
    let mut dev = platform
        .open(&spec)
        .with_context(|| format!("--device {}", args.device))?;
    let device = dev.name().to_string();
    let name = w.meta().name;
    match fault {
        None => {
            let module = dev.load(w.ptx()).context("loading the workload's PTX")?;
            let t = Instant::now();
            let result = w.run(dev.as_mut(), module, &inputs);
            let elapsed = t.elapsed();
            let reference = w.reference(&inputs)?;
            let (report, ok) = match result {
                Ok(out) => {
                    let cmp = w.compare(&reference, &out);
                    let ok = cmp.verdict != Verdict::Different;
                    (
                        PlainReport {
                            workload: name,
                            device,
                            size,
                            seed: args.seed,
                            launches: out.stats.launches,
                            instructions: out.stats.instructions,
                            elapsed_ms: elapsed.as_secs_f64() * 1e3,
                            verdict: verdict_name(cmp.verdict),
                            magnitude: (cmp.verdict == Verdict::Different).then_some(cmp.magnitude),
                            error: None,
                            against: None,
                        },
                        ok,
                    )
                        .with_against(&platform, &args, w, &inputs, &out)?
                }
                Err(e) => (
                    PlainReport {
                        workload: name,
                        device,
                        size,
                        seed: args.seed,
                        launches: 0,
                        instructions: None,
                        elapsed_ms: elapsed.as_secs_f64() * 1e3,
                        verdict: "error",
                        magnitude: None,
                        error: Some(e.to_string()),
                        against: None,
                    },
                    false,
                ),
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "workload      {} (size {}, seed {})",
                    report.workload, size, args.seed
                );
                println!("device        {}", report.device);
                println!("launches      {}", report.launches);
                if let Some(n) = report.instructions {
                    println!("instructions  {n} thread-instructions");
                }
                println!("time          {:.1} ms", report.elapsed_ms);
                match &report.error {
                    Some(e) => println!("verdict       FAILED: {e}"),
                    None => println!(
                        "verdict       {} vs the CPU reference{}",
                        if ok { "PASS" } else { "MISMATCH" },
                        match report.verdict {
                            "identical" => " (bit-identical)",
                            "within_tolerance" => " (within the documented tolerance)",
                            _ => "",
                        }
                    ),
                }
                if let Some(m) = &report.magnitude {
                    println!(
                        "difference    {}/{} elements, {} bits, max abs err {:.3e}",
                        m.elements, m.total, m.flipped_bits, m.max_abs
                    );
                }
                if let Some(a) = &report.against {
                    match &a.error {
                        Some(e) => println!("against       {}: FAILED: {e}", a.device),
                        None => println!(
                            "against       {}: {}",
                            a.device,
                            a.verdict.replace('_', " ")
                        ),
                    }
                    if let Some(m) = &a.magnitude {
                        println!(
                            "              {}/{} elements differ, {} bits, max abs err {:.3e}",
                            m.elements, m.total, m.flipped_bits, m.max_abs
                        );
                    }
                }
            }
            let against_ok = report
                .against
                .as_ref()
                .is_none_or(|a| a.verdict != "different" && a.verdict != "error");
            Ok(ExitCode::from(if ok && against_ok { 0 } else { 1 }))
        }
        Some(fault) => {
            let module = ptx::parse(w.ptx()).map_err(|e| anyhow!("{e}"))?;
            let inst = instrument(&module, fault.model)?;
            let subject = injector::WorkloadSubject::of(w, Some(size), args.seed)?;
            let target = match Target::new(dev.as_mut(), std::sync::Arc::new(subject), inst) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("gpufault: the fault-free runs failed: {e}");
                    return Ok(ExitCode::from(1));
                }
            };
            let inj = target.inject(dev.as_mut(), &fault)?;
            let report = FaultReport {
                workload: name,
                device,
                size,
                seed: args.seed,
                fault: fault.to_string(),
                outcome: inj.outcome.clone(),
                comparator: match inj.outcome.kind() {
                    reports::OutcomeKind::Sdc => "different",
                    reports::OutcomeKind::Due | reports::OutcomeKind::Hang => "no_output",
                    _ => "identical",
                },
                activations: inj.activations,
                golden_instructions: target.golden().stats.instructions,
                instructions: inj.instructions,
                elapsed_ms: inj.elapsed.as_secs_f64() * 1e3,
                error: inj.error.clone(),
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("workload      {} (size {}, seed {})", name, size, args.seed);
                println!("device        {}", report.device);
                println!("fault         {}", report.fault);
                println!("outcome       {}", inj.outcome.describe());
                println!(
                    "comparator    {}",
                    match report.comparator {
                        "different" => "outputs differ from the golden run",
                        "no_output" => "no outputs to compare (the run did not complete)",
                        _ => "outputs bit-identical to the golden run",
                    }
                );
                match inj.activations {
                    Some(n) => println!("activations   {n} warp-instructions corrupted"),
                    None => println!("activations   unknown (counter unreadable after the error)"),
                }
                if let (Some(g), Some(n)) = (report.golden_instructions, report.instructions) {
                    println!("instructions  {n} (golden {g})");
                }
                println!("time          {:.1} ms", report.elapsed_ms);
                if let Some(e) = &report.error {
                    println!("error         {e}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
