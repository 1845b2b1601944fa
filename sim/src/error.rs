//! Typed errors of the library API (loading modules, memory, launch configuration).
//! Faults of a running kernel are not errors: they are [`crate::Outcome::Faulted`].

/// A module could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The PTX text does not parse (the parser's errors are part of the message, so
    /// not also a `source`).
    #[error("ptx does not parse:\n{0}")]
    Parse(ptx::ParseErrors),
    /// A kernel, device function or module variable is defined twice (see
    /// [`ptx::validate`]).
    #[error("line {line}: {what} `{name}` is defined twice (first at line {first_line})")]
    Duplicate {
        /// `kernel`, `function` or `variable`.
        what: &'static str,
        /// The name.
        name: String,
        /// Line of the second definition.
        line: u32,
        /// Line of the first definition.
        first_line: u32,
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

impl From<ptx::ParseErrors> for LoadError {
    fn from(e: ptx::ParseErrors) -> Self {
        LoadError::Parse(e)
    }
}

/// An instruction the decoder could not lower (it faults as an illegal instruction if
/// executed): where it is and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} in `{function}`: {error}")]
pub struct Diagnostic {
    /// 1-based source line (0 for instructions created by a pass).
    pub line: u32,
    /// The function it is in.
    pub function: String,
    /// What is unsupported or invalid.
    pub error: DecodeError,
}

/// Why the decoder could not lower one instruction. The messages are lower-case and
/// name the instruction's opcode, register, type or modifier; [`Diagnostic`] adds the
/// line and function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// An opcode the virtual GPU does not execute (not in the opcode table, or not
    /// implemented).
    #[error("unsupported instruction `{name}`")]
    UnsupportedInstruction {
        /// The opcode as written.
        name: String,
    },
    /// An instruction with a type the virtual GPU does not implement for it.
    #[error("`{opcode}` with type .{ty} is not supported")]
    UnsupportedType {
        /// The opcode.
        opcode: String,
        /// The type's PTX name.
        ty: &'static str,
    },
    /// A special register the virtual GPU does not provide.
    #[error("special register `{name}` is not supported")]
    UnsupportedSpecialRegister {
        /// The register as written.
        name: String,
    },
    /// Another form, modifier, type or operand combination the virtual GPU does not
    /// implement (PTX that ptxas may accept, but this emulator cannot run).
    #[error("{message}")]
    Unsupported {
        /// What is not supported.
        message: String,
    },
    /// A register, predicate, variable or label that is not declared in scope.
    #[error("undeclared {kind} `{name}`")]
    Undeclared {
        /// `register`, `predicate`, `name` or `label`.
        kind: &'static str,
        /// The name as written.
        name: String,
    },
    /// A declared name used as something it is not.
    #[error("`{name}` is not {expected}")]
    WrongKind {
        /// The name as written.
        name: String,
        /// What was needed (`a register`, `a predicate register`, `a variable`, …).
        expected: &'static str,
    },
    /// Fewer operands than the instruction needs.
    #[error("`{opcode}` needs {needed} operands, has {got}")]
    OperandCount {
        /// The opcode.
        opcode: String,
        /// Operands needed.
        needed: usize,
        /// Operands given.
        got: usize,
    },
    /// A missing modifier, an operand of the wrong form or another combination that is
    /// not valid PTX.
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
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
