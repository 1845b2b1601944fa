//! `gpufault sim run`: run one kernel of a PTX file on the virtual GPU.
//!
//! ```text
//! gpufault sim run FILE.ptx --kernel NAME --grid X[,Y[,Z]] --block X[,Y[,Z]]
//!     [--shared BYTES] [--profile sim|sim:a100|sim:h100 | --device sim:P#I
//!     [--node-config FILE]] [--budget N] [--arg SPEC]... [--dump DIR] [--json]
//! ```
//!
//! Each `--arg` is one kernel argument, in parameter order: `u8:V`, `u16:V`, `u32:V`,
//! `u64:V`, `i32:V`, `i64:V`, `f32:V`, `f64:V` (integers in decimal or `0x` hex), `buf:FILE`
//! (a device buffer holding the bytes of FILE; the parameter gets its address) or
//! `zeros:N` (a device buffer of N zero bytes). With `--dump DIR`, every buffer argument
//! is written to `DIR/arg<index>.bin` after the launch (also after a fault).
//!
//! A launch that runs longer than two seconds shows a progress bar on stderr (CTAs
//! finished, thread-instructions against the budget, an estimate of the time left) when
//! stderr is a terminal and `CI` is not set; `docs/virtual-gpu.md` says what wall time
//! to expect.
//!
//! Exit codes (`docs/exit-codes.md`): 0 when the launch completed, 1 when the kernel
//! faulted (the message names the fault, kernel, line and thread), 2 on a usage error
//! (bad flag or argument, unreadable file, PTX that does not load, arguments that do not
//! match the kernel).
//!
//! JSON output (`--json`): one [`SimRun`] object on stdout, documented field by field in
//! `reports::output`.

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reports::exit::Exit;
use reports::output::{SimDiagnostic, SimFault, SimRun};
use serde_json::Value;
use sim::{
    FaultKind, Gpu, GpuProfile, KernelArg, LaunchConfig, LaunchProgress, LaunchReport, Outcome,
};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Virtual GPU subcommands.
#[derive(Subcommand)]
pub enum SimCommand {
    /// Run one kernel of a PTX file on the virtual GPU.
    Run(RunArgs),
}

/// Arguments of `gpufault sim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The PTX file.
    file: PathBuf,
    /// The kernel (`.entry`) to launch.
    #[arg(long)]
    kernel: String,
    /// Grid dimensions in CTAs: X[,Y[,Z]].
    #[arg(long, value_name = "X[,Y[,Z]]")]
    grid: String,
    /// Block dimensions in threads: X[,Y[,Z]].
    #[arg(long, value_name = "X[,Y[,Z]]")]
    block: String,
    /// Dynamic shared memory per CTA in bytes.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    shared: u32,
    /// GPU profile: sim (8 SMs), sim:a100 (108 SMs) or sim:h100 (132 SMs).
    #[arg(long, default_value = "sim", conflicts_with = "device")]
    profile: String,
    /// A virtual GPU of a node instead of a profile (`sim:h100#3`); with
    /// `--node-config`, the fault the node config gives it is armed (the module is
    /// instrumented as the faulty GPU would run it).
    #[arg(long, value_name = "sim[:P][#I]")]
    device: Option<String>,
    /// A virtual node config (JSON) whose GPUs may carry faults; see `gpu::NodeConfig`.
    /// Default: the file `GPUFAULT_NODE_CONFIG` names, when set.
    #[arg(long, value_name = "FILE", requires = "device")]
    node_config: Option<PathBuf>,
    /// Instruction budget in thread-instructions (a launch that needs more is a hang).
    #[arg(long, value_name = "N", default_value_t = sim::DEFAULT_BUDGET, allow_negative_numbers = true)]
    budget: u64,
    /// A kernel argument, in parameter order: u8:V, u16:V, u32:V, u64:V, i32:V, i64:V,
    /// f32:V, f64:V, buf:FILE or zeros:N. Repeat for each parameter.
    #[arg(long = "arg", value_name = "SPEC")]
    args: Vec<String>,
    /// Write every buffer argument to DIR/arg<index>.bin after the launch.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Print the launch report as JSON (fields documented in the module docs).
    #[arg(long)]
    json: bool,
}

/// A parsed `--arg`.
#[derive(Debug, Clone, PartialEq)]
enum ArgSpec {
    Value(KernelArg),
    /// A buffer with these initial bytes.
    Buffer(Vec<u8>),
}

/// Runs a `sim` subcommand.
pub fn run(cmd: SimCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SimCommand::Run(a) => run_kernel(&a),
    }
}

/// Parses `X[,Y[,Z]]` into three positive dimensions.
fn parse_dims(flag: &str, s: &str) -> anyhow::Result<[u32; 3]> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.is_empty() || parts.len() > 3 {
        bail!("{flag}: expected X[,Y[,Z]], got `{s}`");
    }
    let mut d = [1u32; 3];
    for (i, p) in parts.iter().enumerate() {
        d[i] = parse_int::<u32>(p)
            .filter(|v| *v > 0)
            .ok_or_else(|| anyhow!("{flag}: `{p}` in `{s}` is not a positive integer"))?;
    }
    Ok(d)
}

/// Parses a decimal or `0x` hexadecimal integer (with an optional `-` for signed
/// types).
fn parse_int<T: TryFrom<i128>>(s: &str) -> Option<T> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) => i128::from_str_radix(h, 16).ok()?,
        None => body.parse::<i128>().ok()?,
    };
    T::try_from(if neg { -v } else { v }).ok()
}

fn parse_arg(spec: &str) -> anyhow::Result<ArgSpec> {
    let (kind, value) = spec
        .split_once(':')
        .ok_or_else(|| anyhow!("expected KIND:VALUE (u32:7, buf:FILE, zeros:N, …)"))?;
    let int_err = || anyhow!("`{value}` is not a valid {kind} value");
    Ok(ArgSpec::Value(match kind {
        "u8" => KernelArg::U8(parse_int(value).ok_or_else(int_err)?),
        "u16" => KernelArg::U16(parse_int(value).ok_or_else(int_err)?),
        "u32" => KernelArg::U32(parse_int(value).ok_or_else(int_err)?),
        "u64" => KernelArg::U64(parse_int(value).ok_or_else(int_err)?),
        "i32" => KernelArg::I32(parse_int(value).ok_or_else(int_err)?),
        "i64" => KernelArg::I64(parse_int(value).ok_or_else(int_err)?),
        "f32" => KernelArg::F32(value.parse().map_err(|_| int_err())?),
        "f64" => KernelArg::F64(value.parse().map_err(|_| int_err())?),
        "buf" => {
            let bytes =
                std::fs::read(value).with_context(|| format!("reading buffer file `{value}`"))?;
            return Ok(ArgSpec::Buffer(bytes));
        }
        "zeros" => {
            let n: u64 = parse_int(value).ok_or_else(int_err)?;
            if n > 1 << 34 {
                bail!("zeros:{value} is larger than the virtual GPU's memory");
            }
            return Ok(ArgSpec::Buffer(vec![0; n as usize]));
        }
        other => bail!(
            "unknown kind `{other}` (expected u8, u16, u32, u64, i32, i64, f32, f64, buf or zeros)"
        ),
    }))
}

/// The validated configuration of one run.
struct RunConfig {
    src: String,
    kernel: String,
    launch: LaunchConfig,
    profile: GpuProfile,
    args: Vec<ArgSpec>,
    dump: Option<PathBuf>,
    json: bool,
    /// Draw a progress bar on stderr when the launch takes a while.
    progress: bool,
}

fn validate(a: &RunArgs) -> anyhow::Result<RunConfig> {
    let (profile_name, fault) = match &a.device {
        None => (a.profile.clone(), None),
        Some(d) => device_fault(d, a.node_config.as_deref())?,
    };
    let profile = GpuProfile::by_name(&profile_name).ok_or_else(|| {
        anyhow!(
            "--profile: unknown GPU profile `{}` (expected sim, sim:a100 or sim:h100)",
            profile_name
        )
    })?;
    let grid = parse_dims("--grid", &a.grid)?;
    let block = parse_dims("--block", &a.block)?;
    let args = a
        .args
        .iter()
        .enumerate()
        .map(|(i, s)| parse_arg(s).with_context(|| format!("--arg {i} (`{s}`)")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut src = ptx::read_source(&a.file)?;
    if let Some(fault) = &fault {
        src = fault.apply(&src).map_err(|e| {
            anyhow!(
                "the fault of --device {} ({}): {e}",
                a.device.as_deref().unwrap_or(""),
                fault.spec()
            )
        })?;
    }
    Ok(RunConfig {
        src,
        kernel: a.kernel.clone(),
        launch: LaunchConfig::new(grid, block)
            .shared(a.shared)
            .budget(a.budget),
        profile,
        args,
        dump: a.dump.clone(),
        json: a.json,
        progress: super::campaign::show_progress(
            std::io::stderr().is_terminal(),
            std::env::var_os("CI").as_deref(),
        ),
    })
}

/// The profile of a virtual GPU named by `--device`, and the fault `--node-config`
/// gives it (checked against the GPU's geometry).
fn device_fault(
    device: &str,
    node_config: Option<&Path>,
) -> anyhow::Result<(String, Option<injector::PermanentFault>)> {
    let spec: gpu::DeviceSpec = device
        .parse()
        .with_context(|| format!("--device {device}"))?;
    let gpu::DeviceSpec::Sim(sim) = &spec else {
        bail!("--device {device}: `sim run` runs on virtual GPUs only (sim[:PROFILE][#I])");
    };
    let profile = match &sim.profile {
        Some(p) => format!("sim:{p}"),
        None => "sim".to_string(),
    };
    let platform = super::subjects::platform(node_config)?;
    let info = platform
        .info(&spec)
        .with_context(|| format!("--device {device}"))?;
    // A fault that has not arrived yet (`fault_arrives_at` in the future) is not there.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let fault = info
        .fault
        .as_deref()
        .filter(|_| info.fault_arrives_at.is_none_or(|at| now >= at))
        .map(|f| injector::FaultSpec::parse(f).map(injector::PermanentFault::new))
        .transpose()
        .with_context(|| format!("the fault of {device} in the node config"))?;
    Ok((profile, fault))
}

fn run_kernel(a: &RunArgs) -> anyhow::Result<ExitCode> {
    // Not locked for the whole run: the progress bar's thread writes to stderr during the
    // launch.
    run_to(a, &mut std::io::stdout(), &mut std::io::stderr())
}

/// [`run_kernel`] writing the report to `out` and warnings and the fault to `err`.
fn run_to(a: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let cfg = validate(a)?;
    let result = execute(&cfg).with_context(|| format!("`{}`", a.file.display()))?;
    if cfg.json {
        serde_json::to_writer_pretty(&mut *out, &result.json)?;
        writeln!(out)?;
    } else {
        let r = &result.report;
        writeln!(
            out,
            "{}: {} warp-instructions, {} thread-instructions on {} ({} CTAs per SM)",
            r.kernel, r.warp_instructions, r.thread_instructions, cfg.profile.name, r.ctas_per_sm
        )?;
        for d in &result.diagnostics {
            writeln!(err, "gpufault: warning: not decoded: {d}")?;
        }
        for p in &result.dumped {
            writeln!(out, "wrote {}", p.display())?;
        }
    }
    match &result.report.outcome {
        Outcome::Completed => Ok(ExitCode::SUCCESS),
        Outcome::Faulted(f) => {
            writeln!(err, "gpufault: kernel fault: {f}")?;
            Ok(Exit::FoundProblem.into())
        }
    }
}

struct Executed {
    report: LaunchReport,
    json: Value,
    diagnostics: Vec<String>,
    dumped: Vec<PathBuf>,
}

fn execute(cfg: &RunConfig) -> anyhow::Result<Executed> {
    let mut gpu = Gpu::new(cfg.profile.clone());
    let m = gpu.load(&cfg.src)?;
    let diagnostics: Vec<String> = gpu
        .diagnostics(m)?
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut kargs = Vec::with_capacity(cfg.args.len());
    let mut buffers = Vec::new();
    for (i, a) in cfg.args.iter().enumerate() {
        match a {
            ArgSpec::Value(v) => kargs.push(v.clone()),
            ArgSpec::Buffer(bytes) => {
                let p = gpu
                    .alloc(bytes.len() as u64)
                    .with_context(|| format!("--arg {i}: allocating {} bytes", bytes.len()))?;
                gpu.write(p, bytes)?;
                buffers.push((i, p, bytes.len()));
                kargs.push(KernelArg::Ptr(p));
            }
        }
    }
    let report = if cfg.progress {
        let progress = Arc::new(LaunchProgress::default());
        let launch = cfg.launch.clone().progress(progress.clone());
        let budget = cfg.launch.budget;
        with_progress_bar(&progress, budget, PROGRESS_AFTER, || {
            gpu.launch(m, &cfg.kernel, &launch, &kargs)
        })?
    } else {
        gpu.launch(m, &cfg.kernel, &cfg.launch, &kargs)?
    };
    let mut dumped = Vec::new();
    if let Some(dir) = &cfg.dump {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--dump: creating `{}`", dir.display()))?;
        for &(i, p, len) in &buffers {
            let mut bytes = vec![0u8; len];
            gpu.read(p, &mut bytes)?;
            let path = dir.join(format!("arg{i}.bin"));
            write_file(&path, &bytes)?;
            dumped.push(path);
        }
    }
    let json = report_json(cfg, &report, &diagnostics, &gpu, m, &dumped);
    Ok(Executed {
        report,
        json,
        diagnostics,
        dumped,
    })
}

/// `n` in three significant digits with an SI suffix: `20.9M`, `10G`.
fn compact(n: u64) -> String {
    let (v, unit) = match n {
        0..=9_999 => return n.to_string(),
        10_000..=999_999 => (n as f64 / 1e3, "k"),
        1_000_000..=999_999_999 => (n as f64 / 1e6, "M"),
        1_000_000_000..=999_999_999_999 => (n as f64 / 1e9, "G"),
        _ => (n as f64 / 1e12, "T"),
    };
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    let text = format!("{v:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{unit}")
}

/// How long a launch runs before its progress bar appears (shorter launches draw
/// nothing).
const PROGRESS_AFTER: Duration = Duration::from_secs(2);

/// Runs `launch` on this thread while another thread polls `progress` and, once `after`
/// has passed, draws a bar on stderr: CTAs finished of the grid, thread-instructions
/// against `budget`, elapsed time and an estimate of the rest. The bar is cleared when
/// the launch returns.
fn with_progress_bar<T>(
    progress: &LaunchProgress,
    budget: u64,
    after: Duration,
    launch: impl FnOnce() -> T,
) -> T {
    let finished = AtomicBool::new(false);
    std::thread::scope(|s| {
        let poller = s.spawn(|| {
            let start = Instant::now();
            let mut bar: Option<ProgressBar> = None;
            while !finished.load(Ordering::Acquire) {
                std::thread::park_timeout(Duration::from_millis(100));
                if start.elapsed() < after || finished.load(Ordering::Acquire) {
                    continue;
                }
                let done = progress.ctas_done();
                let msg = format!(
                    "{} of {} budget",
                    compact(progress.thread_instructions()),
                    compact(budget)
                );
                match &bar {
                    Some(b) => {
                        b.set_message(msg);
                        b.set_position(done);
                    }
                    None => {
                        // Started at the launch's elapsed time and position, so that
                        // the time and the estimate of the rest are the launch's.
                        let b = ProgressBar::with_draw_target(
                            Some(progress.ctas_total()),
                            ProgressDrawTarget::stderr(),
                        )
                        .with_style(
                            ProgressStyle::with_template(
                                "launch {elapsed_precise} {wide_bar} {pos}/{len} CTAs · {msg} \
                                 · ETA {eta}",
                            )
                            .expect("valid template"),
                        )
                        .with_elapsed(start.elapsed())
                        .with_position(done)
                        .with_message(msg);
                        b.tick();
                        bar = Some(b);
                    }
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        let result = launch();
        finished.store(true, Ordering::Release);
        poller.thread().unpark();
        result
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("--dump: writing `{}`", path.display()))
}

fn report_json(
    cfg: &RunConfig,
    r: &LaunchReport,
    diagnostics: &[String],
    gpu: &Gpu,
    m: sim::ModuleId,
    dumped: &[PathBuf],
) -> Value {
    let fault = r.fault().map(|f| {
        let (space, addr, size) = match f.kind {
            FaultKind::IllegalAddress { space, addr, size }
            | FaultKind::MisalignedAddress { space, addr, size } => (
                Some(space.name().to_string()),
                Some(format!("{addr:#x}")),
                Some(size),
            ),
            _ => (None, None, None),
        };
        SimFault {
            addr,
            cta: f.cta,
            function: f.function.clone(),
            hang: f.kind.is_hang(),
            kind: f.kind.name().to_string(),
            lane: f.lane,
            line: f.line,
            message: f.to_string(),
            pc: f.pc,
            size,
            sm: f.sm,
            space,
            thread: f.thread,
            warp_slot: f.warp_slot,
        }
    });
    let diagnostics = gpu
        .diagnostics(m)
        .map(|d| {
            d.iter()
                .map(|d| SimDiagnostic {
                    function: Some(d.function.clone()),
                    line: Some(d.line),
                    message: d.error.to_string(),
                })
                .collect()
        })
        .unwrap_or_else(|_| {
            diagnostics
                .iter()
                .map(|d| SimDiagnostic {
                    function: None,
                    line: None,
                    message: d.clone(),
                })
                .collect()
        });
    let run = SimRun {
        block: r.block,
        budget: cfg.launch.budget,
        ctas_per_sm: r.ctas_per_sm,
        diagnostics,
        dumped: dumped.iter().map(|p| p.display().to_string()).collect(),
        dynamic_shared: r.dynamic_shared,
        fault,
        grid: r.grid,
        kernel: r.kernel.clone(),
        outcome: match r.outcome {
            Outcome::Completed => "completed",
            Outcome::Faulted(_) => "faulted",
        }
        .to_string(),
        profile: cfg.profile.name.clone(),
        thread_instructions: r.thread_instructions,
        warp_instructions: r.warp_instructions,
    };
    serde_json::to_value(run).expect("a SimRun is plain data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VECADD: &str = include_str!("../../examples/vecadd.ptx");

    fn args(file: &Path, extra: &[&str]) -> RunArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: RunArgs,
        }
        let mut v = vec!["t".to_string(), file.display().to_string()];
        v.extend(extra.iter().map(|s| s.to_string()));
        T::try_parse_from(v).unwrap().a
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("gpufault-sim-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn counts_in_the_progress_bar_are_compact() {
        let got: Vec<String> = [
            0,
            9_999,
            20_887_871,
            10_000_000_000,
            2_147_483_647,
            999_999,
            150_000,
        ]
        .map(compact)
        .to_vec();
        assert_eq!(got, ["0", "9999", "20.9M", "10G", "2.15G", "1000k", "150k"]);
    }

    #[test]
    fn the_progress_poller_ends_with_the_launch() {
        // The poller draws from the start (`after` 0) and must stop and give the
        // launch's result back once the launch returns.
        let progress = LaunchProgress::default();
        let t = Instant::now();
        let r = with_progress_bar(&progress, 10, Duration::ZERO, || {
            std::thread::sleep(Duration::from_millis(300));
            42
        });
        assert_eq!(r, 42);
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn dims_and_ints_parse_and_bad_ones_name_the_flag() {
        assert_eq!(parse_dims("--grid", "4").unwrap(), [4, 1, 1]);
        assert_eq!(parse_dims("--grid", "4,2,0x3").unwrap(), [4, 2, 3]);
        let e = parse_dims("--block", "4,0").unwrap_err().to_string();
        assert!(e.starts_with("--block"), "{e}");
        assert!(parse_dims("--grid", "1,2,3,4").is_err());
        assert_eq!(parse_int::<i32>("-0x10"), Some(-16));
        assert_eq!(parse_int::<u8>("256"), None);
        assert_eq!(
            parse_arg("u64:0xff").unwrap(),
            ArgSpec::Value(KernelArg::U64(255))
        );
        assert_eq!(
            parse_arg("f32:1.5").unwrap(),
            ArgSpec::Value(KernelArg::F32(1.5))
        );
        assert_eq!(parse_arg("zeros:3").unwrap(), ArgSpec::Buffer(vec![0; 3]));
        assert!(parse_arg("u32").is_err());
        assert!(parse_arg("q7:1")
            .unwrap_err()
            .to_string()
            .contains("unknown kind"));
        assert!(parse_arg("i32:x").is_err());
    }

    #[test]
    fn runs_vecadd_and_dumps_buffers() {
        let d = tmpdir("vecadd");
        let f = d.join("vecadd.ptx");
        std::fs::write(&f, VECADD).unwrap();
        let a: Vec<u8> = (0..64u32).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let b: Vec<u8> = (0..64u32)
            .flat_map(|i| (2.0 * i as f32).to_le_bytes())
            .collect();
        std::fs::write(d.join("a.bin"), &a).unwrap();
        std::fs::write(d.join("b.bin"), &b).unwrap();
        let dump = d.join("out");
        let ra = args(
            &f,
            &[
                "--kernel",
                "vecadd",
                "--grid",
                "2",
                "--block",
                "32",
                "--arg",
                &format!("buf:{}", d.join("a.bin").display()),
                "--arg",
                &format!("buf:{}", d.join("b.bin").display()),
                "--arg",
                "zeros:256",
                "--arg",
                "i32:60",
                "--dump",
                &dump.display().to_string(),
            ],
        );
        let cfg = validate(&ra).unwrap();
        let r = execute(&cfg).unwrap();
        assert_eq!(r.report.outcome, Outcome::Completed);
        let c = std::fs::read(dump.join("arg2.bin")).unwrap();
        for i in 0..64 {
            let v = f32::from_le_bytes(c[4 * i..4 * i + 4].try_into().unwrap());
            assert_eq!(v, if i < 60 { 3.0 * i as f32 } else { 0.0 }, "element {i}");
        }
        assert!(dump.join("arg0.bin").is_file() && !dump.join("arg3.bin").exists());
        assert_eq!(r.json["outcome"], "completed");
        assert_eq!(r.json["fault"], Value::Null);
        assert_eq!(r.json["thread_instructions"], r.report.thread_instructions);
        let (mut o, mut e) = (Vec::new(), Vec::new());
        assert_eq!(run_to(&ra, &mut o, &mut e).unwrap(), ExitCode::SUCCESS);
        let text = String::from_utf8(o).unwrap();
        assert!(text.starts_with("vecadd: "), "{text}");
        assert!(text.contains("arg2.bin"), "{text}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_fault_exits_1_and_is_described_in_json() {
        let d = tmpdir("fault");
        let file = d.join("vecadd.ptx");
        std::fs::write(&file, VECADD).unwrap();
        let f = file.as_path();
        // n = 64 but the buffers hold 16 floats: thread 16 reads out of bounds.
        let ra = args(
            f,
            &[
                "--kernel", "vecadd", "--grid", "1", "--block", "64", "--arg", "zeros:64", "--arg",
                "zeros:64", "--arg", "zeros:64", "--arg", "i32:64", "--json",
            ],
        );
        let cfg = validate(&ra).unwrap();
        let r = execute(&cfg).unwrap();
        let fault = r.report.fault().expect("out of bounds");
        assert_eq!(fault.thread, [16, 0, 0]);
        assert_eq!(r.json["fault"]["kind"], "illegal_address");
        assert_eq!(r.json["fault"]["space"], "global");
        assert_eq!(r.json["fault"]["thread"], json!([16, 0, 0]));
        let (mut o, mut e) = (Vec::new(), Vec::new());
        assert_eq!(
            run_to(&ra, &mut o, &mut e).unwrap(),
            Exit::FoundProblem.into()
        );
        let j: Value = serde_json::from_slice(&o).unwrap();
        assert_eq!(j["outcome"], "faulted");
        let e = String::from_utf8(e).unwrap();
        assert!(
            e.contains("illegal address") && e.contains("vecadd") && e.contains("thread (16,0,0)"),
            "{e}"
        );
        // Usage errors are errors (exit 2 in main), naming what is wrong.
        let bad = args(f, &["--kernel", "nope", "--grid", "1", "--block", "1"]);
        let run = |a: &RunArgs| {
            format!(
                "{:#}",
                run_to(a, &mut Vec::new(), &mut Vec::new()).unwrap_err()
            )
        };
        assert!(run(&bad).contains("no kernel `nope`"));
        let bad = args(
            f,
            &[
                "--kernel", "vecadd", "--grid", "1", "--block", "1", "--arg", "u32:1",
            ],
        );
        assert!(run(&bad).contains("takes 4 arguments"));
        let bad = args(
            f,
            &[
                "--kernel",
                "vecadd",
                "--grid",
                "1",
                "--block",
                "1",
                "--profile",
                "sim:v100",
            ],
        );
        assert!(run(&bad).contains("--profile"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
