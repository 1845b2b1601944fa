//! Kernel manifests: any CUDA kernel as a campaign subject, described in a TOML file
//! instead of Rust (the format, field by field: `docs/kernels.md`).
//!
//! ```text
//!  saxpy.toml ──load──▶ code: .ptx file, or .cu compiled by NVRTC (ptx::nvrtc)
//!                       buffers: name, type, length, initial data (file, generator, zeros)
//!                       launches: kernel, grid, block, shared bytes, arguments checked
//!                                 against the kernel's PTX parameters
//!                       outputs: buffers to compare, tolerance, NaN rule, reference file
//!                       digest: SHA-256 of the text, every file it names, NVRTC version
//!                               and options
//!  run(dev, module) ──▶ allocate + upload every buffer, launch in order, download the
//!                       outputs, free everything (also on error)
//! ```
//!
//! A manifest is validated completely when it loads: every error names the manifest
//! file and a line:column, and the field (`launches[1].args[2]`) where it is about
//! one. A loaded manifest cannot fail to run for a reason the manifest gives; its runs
//! fail only as the device does.
//!
//! ```no_run
//! # fn demo(dev: &mut dyn gpu::Device) -> Result<(), Box<dyn std::error::Error>> {
//! let m = workloads::Manifest::load("examples/kernels/saxpy/saxpy.toml")?;
//! let module = dev.load(m.ptx())?;
//! let golden = m.run(dev, module)?;
//! if let Some(c) = m.check_reference(&golden) {
//!     assert!(!c.is_different(), "{c}");
//! }
//! # Ok(()) }
//! ```

mod args;
mod init;
mod load;
mod npy;
mod schema;

use std::path::{Path, PathBuf};

use gpu::{Device, KernelArg, LaunchConfig, ModuleHandle};
use ptx::nvrtc::{Nvrtc, NvrtcError};

use crate::compare::{compare_arrays, Comparison, Rule, Tolerance};
use crate::data::{Arrays, DType, Data, Outputs};
use crate::error::RunError;
use crate::session::Session;

pub use npy::write_npy;

/// Largest buffer a manifest may declare, in bytes (4 GiB).
pub const MAX_BUFFER_BYTES: u64 = 1 << 32;

/// A loaded, validated kernel manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    path: PathBuf,
    name: String,
    ptx: String,
    code: Code,
    buffers: Vec<BufferSpec>,
    launches: Vec<Launch>,
    outputs: Vec<OutputSpec>,
    digest: String,
}

/// Where the PTX came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// A `.ptx` file (the path as the manifest writes it).
    Ptx(String),
    /// A `.cu` file compiled by NVRTC.
    Cu {
        /// The path as the manifest writes it.
        file: String,
        /// The NVRTC options.
        options: Vec<String>,
        /// The NVRTC version that compiled it.
        nvrtc: (u32, u32),
    },
}

/// One device buffer of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferSpec {
    /// Its name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Length in elements.
    pub len: usize,
    /// The initial bytes (little-endian elements); `None`: zeros.
    init: Option<Vec<u8>>,
}

impl BufferSpec {
    /// Its initial contents (zeros when the manifest gives no `init`).
    pub fn initial(&self) -> Data {
        match &self.init {
            Some(bytes) => Data::from_le_bytes(self.dtype, bytes).expect("whole elements"),
            None => Data::zeros(self.dtype, self.len),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Launch {
    kernel: String,
    config: LaunchConfig,
    args: Vec<Arg>,
}

/// An argument as bound at load time; buffer addresses are filled in per run.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Value(KernelArg),
    Buffer(usize),
}

/// One output of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    /// The buffer's name (the name in [`Outputs`]).
    pub name: String,
    /// Index into the manifest's buffers.
    buffer: usize,
    /// How it is compared (with the golden run and with the reference).
    pub rule: Rule,
    /// The expected values from the reference file, if any.
    pub reference: Option<Data>,
}

/// Why a manifest did not load. Every variant names the manifest file; positions are
/// 1-based line and column in it (of the value or table the error is about).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The manifest itself cannot be read.
    #[error("{file}: cannot read the manifest: {detail}")]
    Read {
        /// The manifest.
        file: String,
        /// The OS error (part of the message, so not also a `source`).
        detail: String,
    },
    /// Not TOML, an unknown key, a value of the wrong TOML type, a missing key.
    #[error("{file}:{line}:{col}: {message}")]
    Syntax {
        /// The manifest.
        file: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// The TOML reader's message.
        message: String,
    },
    /// A field's value is not valid (an unknown type, a bad dimension, an argument that
    /// does not fit its parameter).
    #[error("{file}:{line}:{col}: {field}: {message}")]
    Invalid {
        /// The manifest.
        file: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// The field (`launches[1].args[2]`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A file the manifest names is missing, unreadable, malformed or does not fit
    /// (an `.npy` of another dtype or length than its buffer).
    #[error("{file}:{line}:{col}: {field}: `{path}`: {detail}")]
    DataFile {
        /// The manifest.
        file: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// The field naming the file.
        field: String,
        /// The file as the manifest writes it.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// NVRTC is missing or the `.cu` does not compile (the log has the lines).
    #[error("{file}:{line}:{col}: code.cu: {error}")]
    Compile {
        /// The manifest.
        file: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// NVRTC's error (part of the message, so not also a `source`).
        error: NvrtcError,
    },
    /// The PTX does not parse.
    #[error("{file}: {code}:{line}:{col}: {message}")]
    Ptx {
        /// The manifest.
        file: String,
        /// The code file as the manifest writes it.
        code: String,
        /// Line in the PTX.
        line: u32,
        /// Column in the PTX.
        col: u32,
        /// The parser's message.
        message: String,
    },
}

impl Manifest {
    /// Loads and validates the manifest at `path`; a `.cu` is compiled with the NVRTC
    /// that [`ptx::nvrtc::find_in_workspace`] opens (once per process).
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest, ManifestError> {
        load::load(path.as_ref(), None)
    }

    /// As [`Manifest::load`], compiling a `.cu` with `nvrtc`.
    pub fn load_with(path: impl AsRef<Path>, nvrtc: &Nvrtc) -> Result<Manifest, ManifestError> {
        load::load(path.as_ref(), Some(nvrtc))
    }

    /// The manifest's path, as given to [`Manifest::load`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its name (the `name` key, else the file name without `.toml`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PTX module its launches run.
    pub fn ptx(&self) -> &str {
        &self.ptx
    }

    /// Where the PTX came from.
    pub fn code(&self) -> &Code {
        &self.code
    }

    /// Hex SHA-256 of the manifest text, every file it names (code, initial data,
    /// references), and for a `.cu` the NVRTC version and options.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Its buffers, in declaration order.
    pub fn buffers(&self) -> &[BufferSpec] {
        &self.buffers
    }

    /// The kernels it launches, in launch order (with repeats).
    pub fn kernels(&self) -> impl Iterator<Item = &str> {
        self.launches.iter().map(|l| l.kernel.as_str())
    }

    /// Its outputs, in declaration order.
    pub fn outputs(&self) -> &[OutputSpec] {
        &self.outputs
    }

    /// Whether any output has a reference file.
    pub fn has_reference(&self) -> bool {
        self.outputs.iter().any(|o| o.reference.is_some())
    }

    /// Runs it: allocates and initialises every buffer, launches the kernels of `module`
    /// (its [`ptx`](Manifest::ptx) or an instrumented copy) in order, reads the
    /// outputs back. Frees every buffer, also on error.
    pub fn run(&self, dev: &mut dyn Device, module: ModuleHandle) -> Result<Outputs, RunError> {
        let mut s = Session::new(dev, module);
        let mut bufs = Vec::with_capacity(self.buffers.len());
        for b in &self.buffers {
            let init = b.init.as_deref().unwrap_or(&[]);
            bufs.push(s.alloc_bytes(b.len * b.dtype.size(), init)?);
        }
        for l in &self.launches {
            let args: Vec<KernelArg> = l
                .args
                .iter()
                .map(|a| match a {
                    Arg::Value(v) => v.clone(),
                    Arg::Buffer(i) => KernelArg::Ptr(bufs[*i].ptr),
                })
                .collect();
            s.launch(&l.kernel, l.config, &args)?;
        }
        let mut arrays = Arrays::new();
        for o in &self.outputs {
            let b = &self.buffers[o.buffer];
            let bytes = s.read_bytes(bufs[o.buffer], b.len * b.dtype.size())?;
            let data = Data::from_le_bytes(b.dtype, &bytes).expect("whole elements read");
            arrays.insert(&o.name, data);
        }
        Ok(s.finish(arrays))
    }

    /// The comparison rule of output `name` (exact, NaN bits, for names it lacks).
    pub fn rule(&self, name: &str) -> Rule {
        self.outputs
            .iter()
            .find(|o| o.name == name)
            .map_or(Tolerance::Exact.into(), |o| o.rule)
    }

    /// Compares a run with a golden run, each output with its rule.
    pub fn compare(&self, golden: &Outputs, got: &Outputs) -> Comparison {
        compare_arrays(&golden.arrays, &got.arrays, |n| self.rule(n))
    }

    /// Compares a (fault-free) run with the reference files, over the outputs that have
    /// one; `None` when none has (the fault-free run is then the only golden).
    pub fn check_reference(&self, got: &Outputs) -> Option<Comparison> {
        let mut expected = Arrays::new();
        let mut actual = Arrays::new();
        for o in &self.outputs {
            if let Some(r) = &o.reference {
                expected.insert(&o.name, r.clone());
                if let Some(d) = got.arrays.get(&o.name) {
                    actual.insert(&o.name, d.clone());
                }
            }
        }
        (!expected.is_empty()).then(|| compare_arrays(&expected, &actual, |n| self.rule(n)))
    }
}
