//! NVRTC, NVIDIA's run-time CUDA C++ compiler, loaded at run time: CUDA source in, PTX
//! text out, on a machine without a GPU or a CUDA install.
//!
//! [`Nvrtc::find`] opens `libnvrtc` (the `GPUFAULT_NVRTC` environment variable, a path;
//! then the dynamic loader's own search for `libnvrtc.so.12` and `libnvrtc.so`) and
//! resolves every symbol it uses before it returns, so a missing library or symbol is
//! an [`NvrtcError`] naming the library and the symbol, never a panic at the first call.
//! [`Nvrtc::compile`] compiles one source with options ([`DEFAULT_OPTIONS`]: those of
//! the bundled workloads, `--gpu-architecture=compute_80`) and returns the PTX and the
//! compiler's log; a source that does not compile is [`NvrtcError::Compile`] with the
//! log (`name.cu(LINE): error: …`).
//!
//! ```no_run
//! let nvrtc = ptx::nvrtc::Nvrtc::find()?;
//! let src = "extern \"C\" __global__ void k(int *p) { p[threadIdx.x] = 1; }";
//! let out = nvrtc.compile(src, "k.cu", &ptx::nvrtc::default_options())?;
//! assert!(out.ptx.contains(".entry k"));
//! println!("NVRTC {}.{}", nvrtc.version().0, nvrtc.version().1);
//! # Ok::<(), ptx::nvrtc::NvrtcError>(())
//! ```

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};

/// The options the bundled workloads are compiled with (`scripts/gen-workload-ptx.py`):
/// a real build's defaults (fused multiply-add contraction on, IEEE division and square
/// root), PTX for compute capability 8.0.
pub const DEFAULT_OPTIONS: &[&str] = &["--gpu-architecture=compute_80"];

/// [`DEFAULT_OPTIONS`] as owned strings.
pub fn default_options() -> Vec<String> {
    DEFAULT_OPTIONS.iter().map(|s| s.to_string()).collect()
}

/// The environment variable naming the library's path.
pub const ENV: &str = "GPUFAULT_NVRTC";

/// Library names the dynamic loader is asked for when [`ENV`] is not set.
pub const LIBRARY_NAMES: &[&str] = &["libnvrtc.so.12", "libnvrtc.so"];

const INSTALL: &str = "install it with scripts/install-tools.sh (then set GPUFAULT_NVRTC to \
                       the path it prints) or `pip install nvidia-cuda-nvrtc-cu12==12.9.86` \
                       (then set GPUFAULT_NVRTC to .../nvidia/cuda_nvrtc/lib/libnvrtc.so.12)";

/// Why NVRTC could not be opened or did not compile a source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NvrtcError {
    /// No library could be opened.
    #[error("NVRTC not found (tried: {searched}); {INSTALL}")]
    NotFound {
        /// Each place tried, with the loader's reason.
        searched: String,
    },
    /// The library opened but lacks a function gpufault calls.
    #[error("{library} has no symbol `{symbol}`: not an NVRTC library, or too old ({detail})")]
    Symbol {
        /// The library.
        library: String,
        /// The missing symbol.
        symbol: &'static str,
        /// The loader's message.
        detail: String,
    },
    /// An NVRTC call failed outside compilation proper.
    #[error("{call} failed: {message} (NVRTC error {code})")]
    Call {
        /// The function.
        call: &'static str,
        /// Its result code.
        code: i32,
        /// `nvrtcGetErrorString` of the code.
        message: String,
    },
    /// The source, its name or an option contains a NUL byte.
    #[error("{what} contains a NUL byte")]
    Nul {
        /// Which input.
        what: String,
    },
    /// The source does not compile.
    #[error("{name} does not compile:\n{log}")]
    Compile {
        /// The source's name (as the log's lines start with it).
        name: String,
        /// The compiler's log: `NAME(LINE): error: …` lines.
        log: String,
    },
}

type Result<T> = std::result::Result<T, NvrtcError>;

type Program = *mut c_void;
type VersionFn = unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int;
type ErrorStringFn = unsafe extern "C" fn(c_int) -> *const c_char;
type CreateFn = unsafe extern "C" fn(
    *mut Program,
    *const c_char,
    *const c_char,
    c_int,
    *const *const c_char,
    *const *const c_char,
) -> c_int;
type CompileFn = unsafe extern "C" fn(Program, c_int, *const *const c_char) -> c_int;
type SizeFn = unsafe extern "C" fn(Program, *mut usize) -> c_int;
type TextFn = unsafe extern "C" fn(Program, *mut c_char) -> c_int;
type DestroyFn = unsafe extern "C" fn(*mut Program) -> c_int;

/// The functions gpufault calls, resolved when the library is opened.
struct Api {
    version: VersionFn,
    error_string: ErrorStringFn,
    create: CreateFn,
    compile: CompileFn,
    log_size: SizeFn,
    log: TextFn,
    ptx_size: SizeFn,
    ptx: TextFn,
    destroy: DestroyFn,
}

/// An opened NVRTC library with every symbol resolved.
pub struct Nvrtc {
    api: Api,
    library: String,
    version: (u32, u32),
    // Keeps the library mapped while `api`'s function pointers are used; last field,
    // so it is dropped after them.
    _lib: libloading::Library,
}

impl std::fmt::Debug for Nvrtc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nvrtc")
            .field("library", &self.library)
            .field("version", &self.version)
            .finish()
    }
}

/// What a successful compilation gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The PTX text.
    pub ptx: String,
    /// The compiler's log (warnings), empty when it had nothing to say.
    pub log: String,
}

impl Nvrtc {
    /// Opens NVRTC: the path in `GPUFAULT_NVRTC` when it is set (and only that), else
    /// the dynamic loader's search for [`LIBRARY_NAMES`].
    pub fn find() -> Result<Nvrtc> {
        Self::find_in(&[])
    }

    /// As [`Nvrtc::find`], trying `<hint>/tools/nvrtc/libnvrtc.so.12` for each hint
    /// directory (where `scripts/install-tools.sh` puts it) before the loader's search.
    pub fn find_in(hints: &[&Path]) -> Result<Nvrtc> {
        if let Some(p) = std::env::var_os(ENV) {
            let p = PathBuf::from(p);
            return Nvrtc::open(&p).map_err(|e| match e {
                NvrtcError::NotFound { searched } => NvrtcError::NotFound {
                    searched: format!("{ENV}={searched}"),
                },
                e => e,
            });
        }
        let mut searched = Vec::new();
        let candidates = hints
            .iter()
            .map(|h| h.join("tools").join("nvrtc").join("libnvrtc.so.12"))
            .filter(|p| p.is_file())
            .chain(LIBRARY_NAMES.iter().map(PathBuf::from));
        for c in candidates {
            match Nvrtc::open(&c) {
                Ok(n) => return Ok(n),
                Err(NvrtcError::NotFound { searched: s }) => searched.push(s),
                Err(e) => return Err(e),
            }
        }
        Err(NvrtcError::NotFound {
            searched: searched.join("; "),
        })
    }

    /// Opens the library at `path` (a path, or a bare name for the loader to search)
    /// and resolves its symbols.
    pub fn open(path: &Path) -> Result<Nvrtc> {
        let library = path.display().to_string();
        // SAFETY: loading libnvrtc runs its initialisers, which have no preconditions.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| NvrtcError::NotFound {
            searched: format!("{library} ({e})"),
        })?;
        macro_rules! sym {
            ($name:literal) => {{
                // SAFETY: the type is the documented C signature of the symbol.
                let s = unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(|e| {
                    NvrtcError::Symbol {
                        library: library.clone(),
                        symbol: $name,
                        detail: e.to_string(),
                    }
                })?;
                *s
            }};
        }
        let api = Api {
            version: sym!("nvrtcVersion"),
            error_string: sym!("nvrtcGetErrorString"),
            create: sym!("nvrtcCreateProgram"),
            compile: sym!("nvrtcCompileProgram"),
            log_size: sym!("nvrtcGetProgramLogSize"),
            log: sym!("nvrtcGetProgramLog"),
            ptx_size: sym!("nvrtcGetPTXSize"),
            ptx: sym!("nvrtcGetPTX"),
            destroy: sym!("nvrtcDestroyProgram"),
        };
        let mut n = Nvrtc {
            api,
            library,
            version: (0, 0),
            _lib: lib,
        };
        let (mut major, mut minor) = (0, 0);
        // SAFETY: two valid out-pointers.
        n.check("nvrtcVersion", unsafe {
            (n.api.version)(&mut major, &mut minor)
        })?;
        n.version = (major.max(0) as u32, minor.max(0) as u32);
        Ok(n)
    }

    /// The library as opened (path or loader name).
    pub fn library(&self) -> &str {
        &self.library
    }

    /// `(major, minor)` from `nvrtcVersion`.
    pub fn version(&self) -> (u32, u32) {
        self.version
    }

    /// Compiles `source` (named `name` in the log, e.g. `saxpy.cu`) with `options`.
    pub fn compile(&self, source: &str, name: &str, options: &[String]) -> Result<Compiled> {
        let c = |what: &str, s: &str| {
            CString::new(s).map_err(|_| NvrtcError::Nul {
                what: what.to_string(),
            })
        };
        let src = c(&format!("the source of {name}"), source)?;
        let cname = c("the source name", name)?;
        let opts = options
            .iter()
            .map(|o| c(&format!("option `{}`", o.replace('\0', "\\0")), o))
            .collect::<Result<Vec<_>>>()?;
        let opt_ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
        let mut prog: Program = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated strings, no headers.
        self.check("nvrtcCreateProgram", unsafe {
            (self.api.create)(
                &mut prog,
                src.as_ptr(),
                cname.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            )
        })?;
        let guard = ProgramGuard { nvrtc: self, prog };
        // SAFETY: `prog` is live; `opt_ptrs` holds `opts.len()` valid strings.
        let status =
            unsafe { (self.api.compile)(prog, opt_ptrs.len() as c_int, opt_ptrs.as_ptr()) };
        let log = self.text("nvrtcGetProgramLog", prog, self.api.log_size, self.api.log)?;
        if status != 0 {
            let log = if log.trim().is_empty() {
                self.message(status)
            } else {
                log.trim_end().to_string()
            };
            return Err(NvrtcError::Compile {
                name: name.to_string(),
                log,
            });
        }
        let ptx = self.text("nvrtcGetPTX", prog, self.api.ptx_size, self.api.ptx)?;
        drop(guard);
        Ok(Compiled {
            ptx,
            log: log.trim_end().to_string(),
        })
    }

    /// Reads a NUL-terminated text of a program (its log or its PTX).
    fn text(&self, call: &'static str, prog: Program, size: SizeFn, get: TextFn) -> Result<String> {
        let mut n = 0usize;
        // SAFETY: `prog` is live; one valid out-pointer.
        self.check(call, unsafe { size(prog, &mut n) })?;
        let mut buf = vec![0u8; n.max(1)];
        // SAFETY: `buf` has the size NVRTC reported.
        self.check(call, unsafe { get(prog, buf.as_mut_ptr() as *mut c_char) })?;
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        buf.truncate(end);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn check(&self, call: &'static str, code: c_int) -> Result<()> {
        if code == 0 {
            return Ok(());
        }
        Err(NvrtcError::Call {
            call,
            code,
            message: self.message(code),
        })
    }

    fn message(&self, code: c_int) -> String {
        // SAFETY: NVRTC returns a static string (or null for unknown codes).
        let p = unsafe { (self.api.error_string)(code) };
        if p.is_null() {
            return format!("unknown error {code}");
        }
        // SAFETY: non-null, NUL-terminated, static.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// Destroys a program on every path out of [`Nvrtc::compile`].
struct ProgramGuard<'a> {
    nvrtc: &'a Nvrtc,
    prog: Program,
}

impl Drop for ProgramGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: `prog` was created by nvrtcCreateProgram and is destroyed once.
        unsafe { (self.nvrtc.api.destroy)(&mut self.prog) };
    }
}

// SAFETY: NVRTC's functions are thread-safe for distinct programs (each compile
// creates its own); the struct holds only function pointers and the library handle.
unsafe impl Send for Nvrtc {}
// SAFETY: as above; `&Nvrtc` only calls thread-safe functions.
unsafe impl Sync for Nvrtc {}

/// Opens NVRTC for a test or tool inside this workspace: `GPUFAULT_NVRTC`, then
/// `<workspace>/tools/nvrtc/libnvrtc.so.12`, then the loader's search.
pub fn find_in_workspace() -> Result<Nvrtc> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    Nvrtc::find_in(&[root])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptxas;

    fn nvrtc() -> Nvrtc {
        find_in_workspace().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn compiles_a_kernel_to_ptx_that_parses_and_passes_ptxas() {
        let n = nvrtc();
        assert!(n.version() >= (12, 0), "{n:?}");
        let src = "extern \"C\" __global__ void axpy(float a, const float *x, float *y, int n) {\n\
                   \x20   int i = blockIdx.x * blockDim.x + threadIdx.x;\n\
                   \x20   if (i < n) y[i] = a * x[i] + y[i];\n}\n";
        let out = n.compile(src, "axpy.cu", &default_options()).unwrap();
        let m = crate::parse(&out.ptx).unwrap_or_else(|e| panic!("{e}\n{}", out.ptx));
        let k = m.kernels().next().unwrap();
        assert_eq!(k.name, "axpy");
        assert_eq!(k.params.len(), 4);
        assert_eq!(m.target(), Some("sm_80"));
        let px = ptxas::find_in_workspace().unwrap();
        let r = px
            .check_str(&out.ptx, &ptxas::PtxasOptions::new("sm_80"))
            .unwrap();
        assert!(r.verdict.accepted(), "{}", r.diagnostics);
    }

    #[test]
    fn a_compile_error_gives_the_log_with_the_line() {
        let src = "extern \"C\" __global__ void k(int *p) {\n\
                   \x20   p[0] = 1;\n\
                   \x20   p[1] = undeclared_thing;\n}\n";
        let e = nvrtc()
            .compile(src, "broken.cu", &default_options())
            .unwrap_err();
        let NvrtcError::Compile { name, log } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(name, "broken.cu");
        assert!(log.contains("broken.cu(3)"), "{log}");
        assert!(log.contains("undeclared_thing"), "{log}");
        assert!(e.to_string().starts_with("broken.cu does not compile:"));
    }

    #[test]
    fn options_are_passed_and_bad_ones_rejected() {
        let n = nvrtc();
        let src = "extern \"C\" __global__ void k(int *p) { p[0] = VALUE; }";
        let mut opts = default_options();
        opts.push("-DVALUE=12345".into());
        let out = n.compile(src, "k.cu", &opts).unwrap();
        assert!(out.ptx.contains("12345"), "{}", out.ptx);
        let out = n
            .compile(
                src,
                "k.cu",
                &["--gpu-architecture=compute_90".into(), "-DVALUE=1".into()],
            )
            .unwrap();
        assert!(out.ptx.contains(".target sm_90"));
        let e = n
            .compile(src, "k.cu", &["--no-such-option".into()])
            .unwrap_err();
        assert!(
            matches!(e, NvrtcError::Compile { .. } | NvrtcError::Call { .. }),
            "{e:?}"
        );
    }

    #[test]
    fn a_bogus_library_is_a_typed_error_naming_it() {
        let e = Nvrtc::open(Path::new("/nonexistent/libnvrtc.so.12")).unwrap_err();
        let NvrtcError::NotFound { searched } = &e else {
            panic!("{e:?}")
        };
        assert!(
            searched.contains("/nonexistent/libnvrtc.so.12"),
            "{searched}"
        );
        let msg = e.to_string();
        assert!(msg.contains("scripts/install-tools.sh"), "{msg}");
        assert!(msg.contains("nvidia-cuda-nvrtc-cu12==12.9.86"), "{msg}");
    }

    #[test]
    fn a_library_without_the_symbols_is_a_typed_error_naming_the_symbol() {
        // libc is loaded in every process and has no NVRTC functions.
        let e = Nvrtc::open(Path::new("libc.so.6")).unwrap_err();
        let NvrtcError::Symbol {
            library, symbol, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(library, "libc.so.6");
        assert_eq!(*symbol, "nvrtcVersion");
    }

    #[test]
    fn nul_bytes_are_refused() {
        let e = nvrtc()
            .compile("int x;\0", "k.cu", &default_options())
            .unwrap_err();
        assert!(matches!(e, NvrtcError::Nul { .. }), "{e:?}");
    }
}
