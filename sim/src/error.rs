//! Typed errors of the library API (loading modules, memory, launch configuration).
//! Faults of a running kernel are not errors: they are [`crate::Outcome::Faulted`].

/// A module could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The PTX text does not parse.
    #[error("ptx does not parse:\n{0}")]
    Parse(#[from] ptx::ParseErrors),
    /// A function is defined twice.
    #[error("line {line}: function `{name}` is defined twice")]
    Duplicate {
        /// The function.
        name: String,
        /// Line of the second definition.
        line: u32,
    },
    /// A declaration or initialiser is malformed.
    #[error("line {line}: {message}")]
    Invalid {
        /// Source line.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// A memory area of the module exceeds what the virtual GPU supports.
    #[error("{what} is too large")]
    TooLarge {
        /// Which area.
        what: String,
    },
    /// Global memory for the module's variables could not be allocated.
    #[error("out of device memory allocating {requested} bytes for module variables")]
    OutOfMemory {
        /// Bytes requested.
        requested: u64,
    },
}

/// An instruction the decoder could not lower (it faults as an illegal instruction if
/// executed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based source line (0 for instructions created by a pass).
    pub line: u32,
    /// The function it is in.
    pub function: String,
    /// What is unsupported or invalid, lower-case.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} in `{}`: {}",
            self.line, self.function, self.message
        )
    }
}

/// A misuse of the library API: unknown names, bad pointers, bad launch parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The module handle does not belong to this GPU or was unloaded.
    #[error("unknown module handle {0}")]
    UnknownModule(u32),
    /// No kernel of this name in the module.
    #[error("no kernel `{name}` in the module (kernels: {available})")]
    UnknownKernel {
        /// The requested name.
        name: String,
        /// The kernels the module defines, comma-separated.
        available: String,
    },
    /// No module variable of this name.
    #[error("no module variable `{name}`")]
    UnknownSymbol {
        /// The requested name.
        name: String,
    },
    /// The variable is in shared memory, which exists only during a launch.
    #[error("module variable `{name}` is in shared memory and not host accessible")]
    NotHostAccessible {
        /// The variable.
        name: String,
    },
    /// A host access to a module variable does not fit the variable.
    #[error("{len} bytes at offset {offset} do not fit module variable `{name}` of {size} bytes")]
    SymbolRange {
        /// The variable.
        name: String,
        /// Its size.
        size: u64,
        /// Requested offset.
        offset: u64,
        /// Requested length.
        len: u64,
    },
    /// The number of kernel arguments does not match the kernel's parameters.
    #[error("kernel `{kernel}` takes {expected} arguments, {got} given")]
    ArgCount {
        /// Kernel name.
        kernel: String,
        /// Parameters declared.
        expected: usize,
        /// Arguments given.
        got: usize,
    },
    /// An argument's size does not match its parameter.
    #[error("argument {index} of kernel `{kernel}` (parameter `{param}`, {expected} bytes) given {got} bytes")]
    ArgSize {
        /// Kernel name.
        kernel: String,
        /// 0-based argument index.
        index: usize,
        /// Parameter name.
        param: String,
        /// Parameter size.
        expected: u32,
        /// Argument size.
        got: u32,
    },
    /// Grid, block or shared-memory size is not launchable on this GPU profile.
    #[error("invalid launch configuration: {reason}")]
    InvalidLaunch {
        /// Why.
        reason: String,
    },
    /// Device memory is exhausted.
    #[error("out of device memory allocating {requested} bytes")]
    OutOfMemory {
        /// Bytes requested.
        requested: u64,
    },
    /// The pointer is not the base of a live allocation.
    #[error("{ptr:#x} is not the base of a live allocation")]
    InvalidPointer {
        /// The pointer.
        ptr: u64,
    },
    /// A host copy touches bytes outside any allocation.
    #[error("host copy of {len} bytes at {ptr:#x} is outside device memory")]
    OutOfBounds {
        /// Start address.
        ptr: u64,
        /// Length.
        len: u64,
    },
}
