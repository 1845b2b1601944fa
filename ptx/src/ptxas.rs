//! A wrapper around NVIDIA's `ptxas`, the PTX assembler, used as the validator of
//! record: gpufault's parser accepts more than ptxas does, and everything the injector
//! writes must pass ptxas.
//!
//! [`Ptxas::find`] looks for the binary (`PTXAS` environment variable, then
//! `<hint>/tools/ptxas` for each hint the caller passes, then `PATH`);
//! [`Ptxas::check_file`] runs `ptxas --gpu-name sm_XX [-v] -o /dev/null FILE` under a
//! timeout and returns a [`PtxasReport`]: a [`Verdict`] (any non-zero exit, a crash by
//! signal, or a timeout is a failure), the diagnostics, and the per-function resource
//! usage parsed from `-v` output ([`parse_verbose`]).

use crate::ast::{Item, Module};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The lowest GPU architecture the ptxas of CUDA 12.x still assembles for.
pub const MIN_SM: u32 = 50;

/// Errors that keep ptxas from giving a verdict at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PtxasError {
    /// No ptxas binary was found.
    #[error("ptxas not found (looked in: {searched}); set PTXAS or run scripts/install-tools.sh")]
    NotFound {
        /// The places searched, comma separated.
        searched: String,
    },
    /// The binary could not be started.
    #[error("cannot run ptxas at {path}: {error}")]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// The OS error (part of the message, so not also a `source`).
        error: io::Error,
    },
    /// A temporary input file could not be written.
    #[error("cannot write temporary ptx file {path}: {error}")]
    TempFile {
        /// The file.
        path: PathBuf,
        /// The OS error (part of the message, so not also a `source`).
        error: io::Error,
    },
    /// The GPU name is not of the form `sm_NN[a|f]`.
    #[error("invalid gpu name `{name}`: expected sm_NN, e.g. sm_80")]
    GpuName {
        /// The rejected name.
        name: String,
    },
}

/// How a ptxas run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Exit status 0: the PTX is valid for the GPU.
    Accepted,
    /// A non-zero exit status (255 for PTX errors).
    Rejected {
        /// The exit status.
        code: i32,
    },
    /// ptxas was killed by a signal (it can segfault on malformed input).
    Crashed {
        /// The signal number.
        signal: i32,
    },
    /// ptxas ran past the timeout and was killed.
    TimedOut,
}

impl Verdict {
    /// Whether ptxas accepted the input.
    pub fn accepted(self) -> bool {
        self == Verdict::Accepted
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Accepted => f.write_str("accepted"),
            Verdict::Rejected { code } => write!(f, "rejected (exit status {code})"),
            Verdict::Crashed { signal } => write!(f, "crashed (signal {signal})"),
            Verdict::TimedOut => f.write_str("timed out"),
        }
    }
}

/// Resource usage of one function as reported by `ptxas -v`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KernelResources {
    /// The function name (mangled, as in the PTX).
    pub name: String,
    /// Whether it is a kernel (`.entry`).
    pub entry: bool,
    /// Registers per thread (`Used N registers`), when reported.
    pub registers: Option<u32>,
    /// Stack frame bytes.
    pub stack_frame: u32,
    /// Spill store bytes.
    pub spill_stores: u32,
    /// Spill load bytes.
    pub spill_loads: u32,
    /// Static shared memory bytes (`N bytes smem`).
    pub shared: u32,
    /// Named barriers used (`used N barriers`).
    pub barriers: u32,
}

/// The result of one ptxas run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtxasReport {
    /// How the run ended.
    pub verdict: Verdict,
    /// Everything ptxas printed (stderr, then stdout), trimmed.
    pub diagnostics: String,
    /// Per-function resources, parsed from `-v` output (empty without `-v`).
    pub functions: Vec<KernelResources>,
}

/// Options of one ptxas run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtxasOptions {
    /// `--gpu-name`, e.g. `sm_80` (see [`gpu_name_for`]).
    pub gpu_name: String,
    /// Pass `-v` and parse the resource usage.
    pub verbose: bool,
    /// Kill ptxas after this long.
    pub timeout: Duration,
    /// `--opt-level N` (`None`: ptxas' default, 3). Level 0 validates the same PTX much
    /// faster, which suits checks that only ask "is this valid PTX?".
    pub opt_level: Option<u8>,
}

impl PtxasOptions {
    /// Options for `gpu_name`, without `-v`, with a 60 s timeout.
    pub fn new(gpu_name: impl Into<String>) -> PtxasOptions {
        PtxasOptions {
            gpu_name: gpu_name.into(),
            verbose: false,
            timeout: Duration::from_secs(60),
            opt_level: None,
        }
    }
}

/// A located ptxas binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ptxas {
    path: PathBuf,
}

fn is_file(p: &Path) -> bool {
    p.is_file()
}

impl Ptxas {
    /// Uses the binary at `path` as is.
    pub fn at(path: impl Into<PathBuf>) -> Ptxas {
        Ptxas { path: path.into() }
    }

    /// The binary's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finds ptxas: the `PTXAS` environment variable when it names a file (one that does
    /// not is listed among the places searched if nothing else is found),
    /// then `<hint>/tools/ptxas` for each hint directory, then `ptxas` on `PATH`.
    pub fn find(hints: &[&Path]) -> Result<Ptxas, PtxasError> {
        Self::find_with(
            std::env::var_os("PTXAS").map(PathBuf::from),
            hints,
            std::env::var_os("PATH"),
        )
    }

    fn find_with(
        env: Option<PathBuf>,
        hints: &[&Path],
        path_var: Option<std::ffi::OsString>,
    ) -> Result<Ptxas, PtxasError> {
        let mut searched = Vec::new();
        if let Some(p) = env {
            if is_file(&p) {
                return Ok(Ptxas { path: p });
            }
            searched.push(format!("PTXAS={}", p.display()));
        }
        for h in hints {
            let p = h.join("tools").join("ptxas");
            if is_file(&p) {
                return Ok(Ptxas { path: p });
            }
            searched.push(p.display().to_string());
        }
        if let Some(path) = path_var {
            for dir in std::env::split_paths(&path) {
                let p = dir.join("ptxas");
                if is_file(&p) {
                    return Ok(Ptxas { path: p });
                }
            }
        }
        searched.push("PATH".to_string());
        Err(PtxasError::NotFound {
            searched: searched.join(", "),
        })
    }

    /// Assembles `file` for `opts.gpu_name` (output discarded) and reports the verdict.
    pub fn check_file(&self, file: &Path, opts: &PtxasOptions) -> Result<PtxasReport, PtxasError> {
        if !valid_gpu_name(&opts.gpu_name) {
            return Err(PtxasError::GpuName {
                name: opts.gpu_name.clone(),
            });
        }
        let mut cmd = Command::new(&self.path);
        cmd.arg("--gpu-name").arg(&opts.gpu_name);
        if opts.verbose {
            cmd.arg("-v");
        }
        if let Some(level) = opts.opt_level {
            cmd.arg("--opt-level").arg(level.to_string());
        }
        cmd.arg("-o").arg("/dev/null").arg(file);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawn_err = |source| PtxasError::Spawn {
            path: self.path.clone(),
            error: source,
        };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        let mut out = child.stdout.take().expect("stdout is piped");
        let mut err = child.stderr.take().expect("stderr is piped");
        let out_t = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err_t = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().map_err(spawn_err)? {
                break Some(st);
            }
            if start.elapsed() >= opts.timeout {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout = out_t.join().unwrap_or_default();
        let stderr = err_t.join().unwrap_or_default();
        let verdict = match status {
            None => Verdict::TimedOut,
            Some(st) => match st.code() {
                Some(0) => Verdict::Accepted,
                Some(code) => Verdict::Rejected { code },
                None => Verdict::Crashed {
                    signal: signal_of(&st),
                },
            },
        };
        let diagnostics = format!("{}{}", stderr, stdout).trim().to_string();
        let functions = if opts.verbose {
            parse_verbose(&diagnostics)
        } else {
            Vec::new()
        };
        Ok(PtxasReport {
            verdict,
            diagnostics,
            functions,
        })
    }

    /// Like [`Ptxas::check_file`] for PTX text (written to a temporary file that is
    /// removed afterwards).
    pub fn check_str(&self, ptx: &str, opts: &PtxasOptions) -> Result<PtxasReport, PtxasError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("gpufault-ptxas-{}-{n}.ptx", std::process::id()));
        std::fs::write(&path, ptx).map_err(|source| PtxasError::TempFile {
            path: path.clone(),
            error: source,
        })?;
        let r = self.check_file(&path, opts);
        let _ = std::fs::remove_file(&path);
        r
    }
}

#[cfg(unix)]
fn signal_of(st: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.signal().unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> i32 {
    0
}

fn valid_gpu_name(s: &str) -> bool {
    s.strip_prefix("sm_").is_some_and(|rest| {
        let digits = rest.trim_end_matches(['a', 'f']);
        !digits.is_empty()
            && digits.len() + 1 >= rest.len()
            && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The `--gpu-name` for assembling `module`: its `.target` architecture raised to at
/// least `sm_50` (the oldest that ptxas 12.x supports), keeping an `a`/`f` suffix;
/// `sm_50` when the module has no usable target.
pub fn gpu_name_for(module: &Module) -> String {
    let target = module.items.iter().find_map(|i| match i {
        Item::Target(words) => words.iter().find(|w| w.starts_with("sm_")),
        _ => None,
    });
    let Some(t) = target else {
        return format!("sm_{MIN_SM}");
    };
    let rest = &t[3..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let suffix = &rest[digits.len()..];
    match digits.parse::<u32>() {
        Ok(n) if n >= MIN_SM && matches!(suffix, "" | "a" | "f") => format!("sm_{n}{suffix}"),
        Ok(n) if n >= MIN_SM => format!("sm_{n}"),
        _ => format!("sm_{MIN_SM}"),
    }
}

fn leading_u32(s: &str) -> Option<u32> {
    let d: String = s
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    d.parse().ok()
}

/// The number right before `unit` in `line` (`"8 registers"` with unit `registers`).
fn number_before(line: &str, unit: &str) -> Option<u32> {
    let i = line.find(unit)?;
    let head = line[..i].trim_end();
    let start = head
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    head[start..].parse().ok()
}

fn quoted(line: &str) -> Option<&str> {
    let a = line.find('\'')?;
    let b = line[a + 1..].find('\'')?;
    Some(&line[a + 1..a + 1 + b])
}

/// Parses the resource lines of `ptxas -v` output into one record per function, in
/// the order ptxas reports them.
///
/// ```
/// let out = "ptxas info    : Compiling entry function 'k' for 'sm_80'\n\
///            ptxas info    : Function properties for k\n\
///            \x20   8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
///            ptxas info    : Used 12 registers, used 1 barriers, 128 bytes smem, 368 bytes cmem[0]\n";
/// let f = ptx::ptxas::parse_verbose(out);
/// assert_eq!(f[0].name, "k");
/// assert_eq!(f[0].registers, Some(12));
/// assert_eq!((f[0].stack_frame, f[0].shared, f[0].barriers), (8, 128, 1));
/// ```
pub fn parse_verbose(text: &str) -> Vec<KernelResources> {
    let mut out: Vec<KernelResources> = Vec::new();
    let mut current: Option<usize> = None;
    let index_of = |out: &mut Vec<KernelResources>, name: &str, entry: bool| -> usize {
        match out.iter().position(|k| k.name == name) {
            Some(i) => {
                out[i].entry |= entry;
                i
            }
            None => {
                out.push(KernelResources {
                    name: name.to_string(),
                    entry,
                    ..KernelResources::default()
                });
                out.len() - 1
            }
        }
    };
    for line in text.lines() {
        let body = line
            .split_once(':')
            .filter(|(head, _)| head.starts_with("ptxas"))
            .map(|(_, b)| b.trim());
        match body {
            Some(b) if b.starts_with("Compiling entry function") => {
                if let Some(n) = quoted(b) {
                    current = Some(index_of(&mut out, n, true));
                }
            }
            Some(b) if b.starts_with("Compiling function") => {
                if let Some(n) = quoted(b) {
                    current = Some(index_of(&mut out, n, false));
                }
            }
            Some(b) if b.starts_with("Function properties for") => {
                let n = b["Function properties for".len()..].trim();
                current = Some(index_of(&mut out, n, false));
            }
            Some(b) if b.starts_with("Used") => {
                if let Some(i) = current {
                    out[i].registers = leading_u32(&b[4..]);
                    out[i].barriers = number_before(b, "barriers").unwrap_or(0);
                    out[i].shared = number_before(b, "bytes smem").unwrap_or(0);
                }
            }
            _ if line.contains("bytes stack frame") => {
                if let Some(i) = current {
                    out[i].stack_frame = number_before(line, "bytes stack frame").unwrap_or(0);
                    out[i].spill_stores = number_before(line, "bytes spill stores").unwrap_or(0);
                    out[i].spill_loads = number_before(line, "bytes spill loads").unwrap_or(0);
                }
            }
            _ => {}
        }
    }
    out
}

/// Finds ptxas for a test or tool inside this workspace: `PTXAS`, then
/// `<workspace>/tools/ptxas` (the crate's parent directory), then `PATH`.
pub fn find_in_workspace() -> Result<Ptxas, PtxasError> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    Ptxas::find(&[root])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn gpu_name_is_the_target_raised_to_sm_50() {
        let m = |t: &str| parse(&format!(".version 8.0\n.target {t}\n")).unwrap();
        assert_eq!(gpu_name_for(&m("sm_30")), "sm_50");
        assert_eq!(gpu_name_for(&m("sm_80")), "sm_80");
        assert_eq!(gpu_name_for(&m("sm_90a")), "sm_90a");
        assert_eq!(gpu_name_for(&m("sm_120, texmode_independent")), "sm_120");
        assert_eq!(gpu_name_for(&parse("").unwrap()), "sm_50");
    }

    #[test]
    fn gpu_names_are_validated() {
        assert!(valid_gpu_name("sm_80"));
        assert!(valid_gpu_name("sm_90a"));
        assert!(!valid_gpu_name("sm_"));
        assert!(!valid_gpu_name("sm_8x"));
        assert!(!valid_gpu_name("compute_80"));
        assert!(!valid_gpu_name("sm_80; rm"));
    }

    #[test]
    fn verbose_output_of_entries_and_functions() {
        let out = "ptxas info    : 0 bytes gmem\n\
ptxas info    : Compiling entry function 'call' for 'sm_80'\n\
ptxas info    : Function properties for call\n\
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
ptxas info    : Used 10 registers, used 0 barriers, 368 bytes cmem[0]\n\
ptxas info    : Compile time = 15.471 ms\n\
ptxas info    : Function properties for incr\n\
    16 bytes stack frame, 4 bytes spill stores, 8 bytes spill loads\n";
        let f = parse_verbose(out);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, "call");
        assert!(f[0].entry);
        assert_eq!(f[0].registers, Some(10));
        assert_eq!(f[1].name, "incr");
        assert!(!f[1].entry);
        assert_eq!(f[1].registers, None);
        assert_eq!(
            (f[1].stack_frame, f[1].spill_stores, f[1].spill_loads),
            (16, 4, 8)
        );
    }

    #[test]
    fn missing_ptxas_is_a_typed_error() {
        let e = Ptxas::find_with(
            Some(PathBuf::from("/nonexistent/ptxas")),
            &[Path::new("/nonexistent-dir")],
            Some("/nonexistent-bin".into()),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("PTXAS=/nonexistent/ptxas"), "{msg}");
        assert!(msg.contains("/nonexistent-dir/tools/ptxas"), "{msg}");
    }

    fn real_ptxas() -> Ptxas {
        find_in_workspace().unwrap_or_else(|e| {
            panic!("this test needs ptxas: {e} (eval \"$(scripts/install-tools.sh)\")")
        })
    }

    #[test]
    fn real_ptxas_accepts_rejects_and_reports_registers() {
        let p = real_ptxas();
        let good = ".version 8.0\n.target sm_80\n.address_size 64\n\
            .visible .entry k(.param .u64 a)\n{\n.reg .b32 %r<2>;\n.reg .b64 %rd<2>;\n\
            ld.param.u64 %rd1, [a];\nmov.u32 %r1, %tid.x;\nst.global.u32 [%rd1], %r1;\nret;\n}\n";
        let mut opts = PtxasOptions::new("sm_80");
        opts.verbose = true;
        let r = p.check_str(good, &opts).unwrap();
        assert_eq!(r.verdict, Verdict::Accepted, "{}", r.diagnostics);
        assert_eq!(r.functions.len(), 1);
        assert!(r.functions[0].entry);
        assert!(r.functions[0].registers.is_some_and(|n| n > 0));
        let bad = good.replace(".reg .b32 %r<2>;", "");
        let r = p.check_str(&bad, &opts).unwrap();
        assert!(
            matches!(r.verdict, Verdict::Rejected { .. }),
            "{:?}",
            r.verdict
        );
        assert!(r.diagnostics.contains("%r1"), "{}", r.diagnostics);
        let e = p
            .check_str(good, &PtxasOptions::new("compute_80"))
            .unwrap_err();
        assert!(matches!(e, PtxasError::GpuName { .. }));
    }
}
