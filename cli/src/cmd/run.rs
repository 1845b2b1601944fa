//! `gpufault run`: run one workload (or a kernel manifest, `--kernel FILE.toml`) on a
//! device and check it against its reference; with `--fault`, run one fault injection
//! and report its outcome.
//!
//! Exit codes: without `--fault`, 0 when the outputs match the reference (a workload's
//! CPU reference or a manifest's reference files, within the documented tolerance; a
//! manifest without reference files passes when the run completes), 1 when they do not
//! or the run failed; with `--fault`, 0 when the injection ran and its outcome is
//! reported (whatever the outcome), 1 when the fault-free runs failed; 2 on usage errors
//! (unknown workload, unreadable manifest, bad spec, an SM the device does not have,
//! bad device).
//!
//! JSON output (`--json`): [`PlainReport`], or with `--fault` [`FaultReport`], both
//! documented field by field in `reports::output`.

use anyhow::{anyhow, bail, Context};
use clap::Args;
use gpu::{DeviceSpec, Platform};
use injector::{instrument, FaultSpec, Subject, Target, WorkloadSubject};
use reports::exit::Exit;
use reports::output::{Against, FaultReport, PlainReport};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use workloads::Verdict;

/// Arguments of `gpufault run`.
#[derive(Args)]
pub struct RunArgs {
    /// The workload (see `gpufault workloads`).
    #[arg(required_unless_present = "kernel", conflicts_with = "kernel")]
    workload: Option<String>,
    /// Run the kernel a manifest describes instead of a bundled workload (TOML; see
    /// docs/kernels.md).
    #[arg(long, value_name = "FILE.toml")]
    kernel: Option<PathBuf>,
    /// Device: auto, sim, sim:a100, sim:h100, sim:h100#I, cuda:N, cuda:GPU-<uuid>.
    #[arg(long, default_value = "auto")]
    device: String,
    /// A virtual node config (JSON) giving virtual GPUs faults or telemetry; see
    /// `gpu::NodeConfig`.
    /// Default: the file `GPUFAULT_NODE_CONFIG` names, when set.
    #[arg(long, value_name = "FILE")]
    node_config: Option<PathBuf>,
    /// Problem size of a workload (default: its small default).
    #[arg(long, allow_negative_numbers = true)]
    size: Option<usize>,
    /// Seed of a workload's generated inputs.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
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

/// Runs the subject on `--against` and compares: bit for bit first, then with the
/// subject's tolerance.
fn against(
    platform: &Platform,
    other: &str,
    subject: &dyn Subject,
    out: &workloads::Outputs,
) -> anyhow::Result<Against<'static>> {
    let spec: DeviceSpec = other
        .parse()
        .with_context(|| format!("--against {other}"))?;
    let mut dev = platform
        .open(&spec)
        .with_context(|| format!("--against {other}"))?;
    let device = dev.name().to_string();
    let m = dev
        .load(subject.ptx())
        .context("loading the PTX on --against")?;
    Ok(match subject.run(dev.as_mut(), m) {
        Ok(theirs) => {
            let exact = subject.compare_golden(out, &theirs);
            if exact.verdict == Verdict::Identical {
                Against {
                    device,
                    verdict: "identical",
                    magnitude: None,
                    error: None,
                }
            } else {
                let tol = subject.compare_reference(out, &theirs);
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
    })
}

/// The first line of the human output: the workload with its size and input seed, or
/// the kernel with its manifest.
fn subject_line(subject: &dyn Subject, seed: u64) -> String {
    let id = subject.id();
    match (subject.size(), &id.source) {
        (Some(size), _) => format!("workload      {} (size {size}, seed {seed})", id.name),
        (None, Some(src)) => format!("kernel        {} ({src})", id.name),
        (None, None) => format!("{:<14}{}", id.kind, id.name),
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
    let subject: Arc<dyn Subject> = match (&args.workload, &args.kernel) {
        (_, Some(path)) => super::subjects::kernel(path)?,
        (Some(name), None) => {
            let w = workloads::by_name(name).ok_or_else(|| {
                anyhow!(
                    "unknown workload `{name}` (known: {})",
                    injector::workload_names().join(", ")
                )
            })?;
            Arc::new(
                WorkloadSubject::of(w, args.size, args.seed).map_err(|e| match args.size {
                    Some(size) => anyhow!("--size {size}: {e}"),
                    None => anyhow!("{e}"),
                })?,
            )
        }
        (None, None) => bail!("give a workload or --kernel FILE.toml"),
    };
    let platform = super::subjects::platform(args.node_config.as_deref())?;
    if let Some(f) = &fault {
        let info = platform
            .info(&spec)
            .with_context(|| format!("--device {}", args.device))?;
        super::subjects::check_fault_on(f, &info)?;
    }
    let mut dev = platform
        .open(&spec)
        .with_context(|| format!("--device {}", args.device))?;
    let device = dev.name().to_string();
    let name = subject.id().name.clone();
    let name = name.as_str();
    let size = subject.size().unwrap_or(0);
    match fault {
        None => {
            let module = dev.load(subject.ptx()).context("loading the PTX")?;
            let t = Instant::now();
            let result = subject.run(dev.as_mut(), module);
            let elapsed = t.elapsed();
            let mut has_reference = true;
            let (report, ok) = match result {
                Ok(out) => {
                    let cmp = match subject.check_reference(&out) {
                        Some(c) => c.map_err(|e| anyhow!(e))?,
                        None => {
                            has_reference = false;
                            subject.compare_golden(&out, &out)
                        }
                    };
                    let ok = cmp.verdict != Verdict::Different;
                    let against = args
                        .against
                        .as_deref()
                        .map(|other| against(&platform, other, subject.as_ref(), &out))
                        .transpose()?;
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
                            against,
                        },
                        ok,
                    )
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
                println!("{}", subject_line(subject.as_ref(), args.seed));
                println!("device        {}", report.device);
                println!("launches      {}", report.launches);
                if let Some(n) = report.instructions {
                    println!("instructions  {n} thread-instructions");
                }
                println!("time          {:.1} ms", report.elapsed_ms);
                match &report.error {
                    Some(e) => println!("verdict       FAILED: {e}"),
                    None if !has_reference => println!(
                        "verdict       PASS: the run completed (no reference outputs to compare with; \
                         give the manifest a [reference] to check them)"
                    ),
                    None => println!(
                        "verdict       {} vs the {}{}",
                        if ok { "PASS" } else { "MISMATCH" },
                        if args.kernel.is_some() { "reference files" } else { "CPU reference" },
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
            Ok(ExitCode::from(if ok && against_ok {
                Exit::Success
            } else {
                Exit::FoundProblem
            }))
        }
        Some(fault) => {
            let module = ptx::parse(subject.ptx()).map_err(|e| anyhow!("{e}"))?;
            let inst = instrument(&module, fault.model)?;
            let target = match Target::new(dev.as_mut(), subject.clone(), inst) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("gpufault: the fault-free runs failed: {e}");
                    return Ok(Exit::FoundProblem.into());
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
                println!("{}", subject_line(subject.as_ref(), args.seed));
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
