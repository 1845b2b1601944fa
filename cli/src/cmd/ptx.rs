//! `gpufault ptx check|fmt|stats|instrument`.
//!
//! Exit codes: 0 when every file is fine, 1 when any file has errors (parse, validation
//! — unknown opcodes, names defined twice, unknown `.version`/`.target`, see
//! [`ptx::validate`] —, control flow, or a ptxas rejection with `--ptxas`), 2 on usage or
//! I/O errors (unreadable file, ptxas not found). `stats` and `instrument` refuse files
//! with parse or validation errors the same way (exit 1, the same diagnostics); `fmt`
//! refuses only files that do not parse.

use anyhow::Context;
use clap::{Args, Subcommand};
use ptx::ptxas::{gpu_name_for, Ptxas, PtxasOptions};
use ptx::{Cfg, Class, Function, FunctionKind, Module};
use reports::exit::Exit;
use reports::output::{FunctionStats, ParamStats, StatsReport};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// PTX subcommands.
#[derive(Subcommand)]
pub enum PtxCommand {
    /// Parse and validate PTX files and report every error like a compiler
    /// (file:line:col: error: ...): syntax, unknown opcodes, names defined twice, unknown
    /// .version or .target, undefined labels; with --ptxas also what ptxas rejects.
    Check(CheckArgs),
    /// Print a PTX file in gpufault's canonical layout on stdout.
    Fmt {
        /// The PTX file.
        file: PathBuf,
    },
    /// Instrument a PTX file for one fault model (see `gpufault models`) and print it.
    ///
    /// The fault site is not baked in: the host writes the fault descriptor
    /// `__gpufault_desc` before each launch and reads the activation counter
    /// `__gpufault_count` after it. With `--sites`, list the model's candidate sites
    /// instead (JSON lines: function, index, line, op_group, info).
    Instrument(InstrumentArgs),
    /// Per-function statistics: parameters, registers by type, instructions by class,
    /// basic blocks.
    Stats {
        /// The PTX file.
        file: PathBuf,
        /// Print JSON (fields documented in `reports::output::StatsReport`) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `gpufault ptx check`.
#[derive(Args)]
pub struct CheckArgs {
    /// PTX files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Also assemble each file with ptxas (found via $PTXAS, ./tools/ptxas or PATH).
    #[arg(long)]
    ptxas: bool,
    /// The GPU for ptxas (default: each file's .target, at least sm_50).
    #[arg(long, value_name = "sm_XX", requires = "ptxas")]
    gpu_name: Option<String>,
}

/// Arguments of `gpufault ptx instrument`.
#[derive(Args)]
pub struct InstrumentArgs {
    /// The fault model (`iat`, `iaw`, … — see `gpufault models`).
    #[arg(long)]
    model: String,
    /// The PTX file.
    file: PathBuf,
    /// Write the instrumented PTX here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// List the candidate sites (JSON lines) instead of printing PTX.
    #[arg(long)]
    sites: bool,
}

/// Runs a `ptx` subcommand.
pub fn run(cmd: PtxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PtxCommand::Check(args) => check(&args),
        PtxCommand::Fmt { file } => fmt(&file),
        PtxCommand::Instrument(args) => instrument(&args),
        PtxCommand::Stats { file, json } => stats(&file, json),
    }
}

/// Reads a PTX file: `Ok(None)` when it is not UTF-8 (reported like a parse error, at
/// the first invalid byte), an error when it cannot be read.
fn read(file: &Path) -> anyhow::Result<Option<String>> {
    match ptx::read_source(file) {
        Ok(src) => Ok(Some(src)),
        Err(ptx::SourceError::NotUtf8 {
            line,
            col,
            offset,
            byte,
            ..
        }) => {
            report_errors(
                file,
                [(
                    line,
                    col,
                    format!("not UTF-8 text: invalid byte {byte:#04x} (byte offset {offset})"),
                )],
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints `file:line:col: error: message` for each error and a count line.
fn report_errors(file: &Path, errors: impl IntoIterator<Item = (u32, u32, String)>) {
    let mut n = 0;
    for (line, col, message) in errors {
        eprintln!("{}:{line}:{col}: error: {message}", file.display());
        n += 1;
    }
    eprintln!(
        "{}: {n} error{}",
        file.display(),
        if n == 1 { "" } else { "s" }
    );
}

/// Parses `file`, printing every error as `file:line:col: error: message`; `None` when
/// it had errors.
fn parse_reporting(file: &Path, src: &str) -> Option<Module> {
    match ptx::parse(src) {
        Ok(m) => Some(m),
        Err(errs) => {
            report_errors(
                file,
                errs.errors.into_iter().map(|e| (e.line, e.col, e.message)),
            );
            None
        }
    }
}

/// Prints what [`ptx::validate`] finds in `module` (parsed from `src`) like parse
/// errors; whether it found nothing.
fn validate_reporting(file: &Path, src: &str, module: &Module) -> bool {
    let errs = ptx::validate(module, src);
    if errs.is_empty() {
        return true;
    }
    report_errors(
        file,
        errs.into_iter()
            .map(|e| (e.line, e.col, e.kind.to_string())),
    );
    false
}

/// [`parse_reporting`] and [`validate_reporting`]: the module when it parses and is
/// valid PTX as far as the parser can tell.
fn load_reporting(file: &Path, src: &str) -> Option<Module> {
    let module = parse_reporting(file, src)?;
    validate_reporting(file, src, &module).then_some(module)
}

/// Where to look for `tools/ptxas`: the working directory and the folders above the
/// executable (so `target/debug/gpufault` finds the workspace's tools).
fn ptxas_hints() -> Vec<PathBuf> {
    let mut hints = Vec::new();
    if let Ok(d) = std::env::current_dir() {
        hints.push(d);
    }
    if let Ok(exe) = std::env::current_exe() {
        hints.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    hints
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let ptxas = if args.ptxas {
        let hints = ptxas_hints();
        let refs: Vec<&Path> = hints.iter().map(PathBuf::as_path).collect();
        Some(Ptxas::find(&refs)?)
    } else {
        None
    };
    let mut failed = false;
    let mut io_error = false;
    let stdout = std::io::stdout();
    for file in &args.files {
        let src = match read(file) {
            Ok(Some(s)) => s,
            Ok(None) => {
                failed = true;
                continue;
            }
            Err(e) => {
                eprintln!("gpufault: error: {e:#}");
                io_error = true;
                continue;
            }
        };
        let Some(module) = parse_reporting(file, &src) else {
            failed = true;
            continue;
        };
        let mut ok = validate_reporting(file, &src, &module);
        for f in module.functions() {
            if let Err(e) = Cfg::build(f) {
                let line = match &e {
                    ptx::CfgError::UndefinedLabel { line, .. }
                    | ptx::CfgError::NotBranchTargets { line, .. } => *line,
                    _ => 0,
                };
                eprintln!("{}:{line}: error: {e}", file.display());
                ok = false;
            }
        }
        if let Some(p) = &ptxas {
            let gpu = args
                .gpu_name
                .clone()
                .unwrap_or_else(|| gpu_name_for(&module));
            let report = p.check_file(file, &PtxasOptions::new(&gpu))?;
            if report.verdict.accepted() {
                writeln!(stdout.lock(), "{}: ptxas {gpu}: accepted", file.display())?;
            } else {
                eprintln!("{}: error: ptxas {gpu}: {}", file.display(), report.verdict);
                for l in report.diagnostics.lines() {
                    eprintln!("  {l}");
                }
                ok = false;
            }
        }
        if ok {
            let kernels = module.kernels().count();
            let funcs = module.functions().filter(|f| f.body.is_some()).count() - kernels;
            writeln!(
                stdout.lock(),
                "{}: ok ({kernels} kernel{}, {funcs} device function{})",
                file.display(),
                if kernels == 1 { "" } else { "s" },
                if funcs == 1 { "" } else { "s" }
            )?;
        } else {
            failed = true;
        }
    }
    Ok(if io_error {
        ExitCode::from(Exit::Usage)
    } else if failed {
        ExitCode::from(Exit::FoundProblem)
    } else {
        ExitCode::SUCCESS
    })
}

fn fmt(file: &Path) -> anyhow::Result<ExitCode> {
    let Some(src) = read(file)? else {
        return Ok(ExitCode::from(Exit::FoundProblem));
    };
    let Some(module) = parse_reporting(file, &src) else {
        return Ok(ExitCode::from(Exit::FoundProblem));
    };
    std::io::stdout()
        .lock()
        .write_all(ptx::print(&module).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn instrument(args: &InstrumentArgs) -> anyhow::Result<ExitCode> {
    let model = injector::Model::from_id(&args.model).ok_or_else(|| {
        let known: Vec<&str> = injector::Model::EVERY.iter().map(|m| m.id()).collect();
        anyhow::anyhow!(
            "--model {}: unknown model (known: {})",
            args.model,
            known.join(", ")
        )
    })?;
    let Some(src) = read(&args.file)? else {
        return Ok(ExitCode::from(Exit::FoundProblem));
    };
    let Some(module) = load_reporting(&args.file, &src) else {
        return Ok(ExitCode::from(Exit::FoundProblem));
    };
    let inst = injector::instrument(&module, model)
        .with_context(|| format!("instrumenting {}", args.file.display()))?;
    let text = if args.sites {
        let mut t = String::new();
        for s in &inst.sites {
            t.push_str(&serde_json::to_string(s)?);
            t.push('\n');
        }
        t
    } else {
        inst.ptx()
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn param_stats(v: &ptx::VarDecl) -> Vec<ParamStats> {
    v.names
        .iter()
        .map(|d| {
            let elems: u64 = d.dims.iter().map(|x| x.unwrap_or(0)).product();
            ParamStats {
                name: d.name.to_string(),
                decl: v.to_string(),
                bytes: u64::from(v.ty.size()) * u64::from(v.vector.unwrap_or(1)) * elems,
            }
        })
        .collect()
}

fn function_stats(f: &Function) -> FunctionStats<'static> {
    let mut registers = BTreeMap::new();
    for r in ptx::declared_registers(f) {
        *registers.entry(r.ty.name().to_string()).or_insert(0) += u64::from(r.vector.unwrap_or(1));
    }
    let flat = ptx::flatten(f.body.as_deref().unwrap_or(&[]));
    let mut by_class = BTreeMap::new();
    for i in &flat.insts {
        *by_class.entry(i.class().name()).or_insert(0) += 1;
    }
    FunctionStats {
        name: f.name.to_string(),
        kind: match f.kind {
            FunctionKind::Entry => "entry",
            FunctionKind::Func => "func",
        },
        params: f.params.iter().flat_map(param_stats).collect(),
        returns: f.returns.iter().flat_map(param_stats).collect(),
        registers,
        instructions: flat.insts.len(),
        by_class,
        basic_blocks: Cfg::from_flat(&flat, &f.name).ok().map(|c| c.blocks.len()),
    }
}

fn stats(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let Some(src) = read(file)? else {
        return Ok(ExitCode::from(Exit::FoundProblem));
    };
    let Some(module) = load_reporting(file, &src) else {
        return Ok(ExitCode::from(Exit::FoundProblem));
    };
    let report = StatsReport {
        file: file.display().to_string(),
        version: module.version().map(|(a, b)| format!("{a}.{b}")),
        target: module.target().map(str::to_string),
        functions: module
            .functions()
            .filter(|f| f.body.is_some())
            .map(function_stats)
            .collect(),
    };
    super::print_json_or_text(json, &report, |out, report| {
        writeln!(
            out,
            "{}: PTX {}, target {}",
            report.file,
            report.version.as_deref().unwrap_or("?"),
            report.target.as_deref().unwrap_or("?")
        )?;
        for f in &report.functions {
            writeln!(
                out,
                "\n{} {}",
                if f.kind == "entry" {
                    "kernel"
                } else {
                    "function"
                },
                f.name
            )?;
            let params: Vec<String> = f
                .params
                .iter()
                .map(|p| format!("{} ({} B)", p.decl, p.bytes))
                .collect();
            writeln!(out, "  parameters    {}", params.len())?;
            for p in &params {
                writeln!(out, "    {p}")?;
            }
            let regs: Vec<String> = f
                .registers
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect();
            writeln!(out, "  registers     {}", regs.join(", "))?;
            let classes: Vec<String> = Class::ALL
                .iter()
                .filter_map(|c| {
                    f.by_class
                        .get(c.name())
                        .map(|n| format!("{} {n}", c.name()))
                })
                .collect();
            writeln!(
                out,
                "  instructions  {} ({})",
                f.instructions,
                classes.join(", ")
            )?;
            match f.basic_blocks {
                Some(n) => writeln!(out, "  basic blocks  {n}")?,
                None => writeln!(out, "  basic blocks  ? (undefined label)")?,
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Module {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vecadd.ptx");
        let src = std::fs::read_to_string(&path).expect("the bundled example exists");
        ptx::parse(&src).expect("the bundled example parses")
    }

    #[test]
    fn stats_of_the_bundled_example() {
        let m = example();
        let k = m.kernels().next().unwrap();
        let s = function_stats(k);
        assert_eq!(s.name, "vecadd");
        assert_eq!(s.kind, "entry");
        assert_eq!(s.params.len(), 4);
        assert_eq!(s.params[3].decl, ".param .u32 vecadd_param_3");
        assert_eq!(s.params[3].bytes, 4);
        assert_eq!(s.registers["b64"], 11, "%rd<11>");
        assert_eq!(s.registers["pred"], 2, "%p<2>");
        assert_eq!(s.instructions, 22);
        assert_eq!(s.by_class["load"], 6);
        assert_eq!(s.by_class["sreg_read"], 3);
        assert_eq!(s.basic_blocks, Some(3));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["by_class"]["fp32"], 1);
    }

    #[test]
    fn struct_parameters_count_their_bytes() {
        let m =
            ptx::parse(".entry k(.param .align 8 .b8 s[24], .param .v2 .f32 v) { ret; }").unwrap();
        let s = function_stats(m.functions().next().unwrap());
        let bytes: Vec<u64> = s.params.iter().map(|p| p.bytes).collect();
        assert_eq!(bytes, [24, 8]);
    }
}
