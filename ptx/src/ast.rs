//! The PTX syntax tree.
//!
//! One uniform representation for every instruction ([`Instruction`]: guard, opcode,
//! dot-modifiers, operands) so that any instruction parses and prints, whether or not
//! the rest of gpufault knows its semantics. Directives that carry no semantics for us
//! (unknown module directives, `.section` contents, `.callprototype`) are kept as token
//! text so that printing gives them back.

use crate::opcodes::Opcode;

/// A short string of the tree: an identifier (register, label, symbol, function name), a
/// dot-modifier or a token's text.
///
/// It is [`compact_str::CompactString`]: 24 bytes like a `String`, but up to 24 bytes of
/// text are stored inline, without a heap allocation, which holds nearly every PTX name
/// and modifier (longer text goes to the heap). It dereferences to `str`, compares with
/// `str`, `&str` and `String`, prints with `Display`, and is built with `Name::from`,
/// `.into()` or [`Name::new`]; `String::from(name)` or `name.to_string()` give a `String`.
pub type Name = compact_str::CompactString;

/// A parsed PTX module: the top-level items in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Module {
    /// Module items in source order.
    pub items: Vec<Item>,
}

/// One top-level item of a module.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `.version major.minor`
    Version {
        /// Major ISA version.
        major: u32,
        /// Minor ISA version.
        minor: u32,
    },
    /// `.target sm_80, texmode_independent, debug` — the list of target words.
    Target(Vec<Name>),
    /// `.address_size 32|64`
    AddressSize(u32),
    /// `.file index "name" [, timestamp, size]`
    File(FileDirective),
    /// `.section name { ... }` (debug information); kept as raw lines.
    Section(Section),
    /// A module-scope variable (`.global`, `.const`, `.shared`, `.extern ...`).
    Var(VarDecl),
    /// A kernel (`.entry`) or device function (`.func`), declaration or definition.
    Function(Function),
    /// `.pragma "...";` at module scope.
    Pragma(Vec<String>),
    /// Any other directive, kept verbatim as its tokens (without the final `;`).
    Raw(RawDirective),
}

/// A `.file` debug directive.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDirective {
    /// File index used by `.loc`.
    pub index: u32,
    /// File name (without the quotes, escapes kept as written).
    pub name: String,
    /// Optional `, timestamp, size` tail, as written.
    pub extra: Vec<Name>,
}

/// A `.section` block. Its contents are lines of tokens, printed back one per line.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Section name, e.g. `.debug_info`.
    pub name: Name,
    /// Content lines, each the source text from its first token to its last.
    pub lines: Vec<Name>,
}

/// A directive the tree does not model, kept as its token texts.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDirective {
    /// The tokens of the directive, starting with the directive name (e.g. `.callprototype`).
    pub tokens: Vec<Name>,
    /// Whether the directive was terminated with `;` in the source.
    pub semicolon: bool,
    /// 1-based source line.
    pub line: u32,
}

/// Linkage and visibility attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Linkage {
    /// `.visible`
    Visible,
    /// `.extern`
    Extern,
    /// `.weak`
    Weak,
    /// `.common`
    Common,
}

/// A PTX state space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateSpace {
    /// `.reg`
    Reg,
    /// `.sreg`
    Sreg,
    /// `.const`
    Const,
    /// `.global`
    Global,
    /// `.local`
    Local,
    /// `.param`
    Param,
    /// `.shared` (also `.shared::cta`)
    Shared,
    /// `.tex`
    Tex,
}

/// A scalar PTX type (also used for the element type of vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Type {
    B8,
    B16,
    B32,
    B64,
    B128,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    F16,
    F16x2,
    Bf16,
    Bf16x2,
    Tf32,
    F32,
    F64,
    E4m3,
    E5m2,
    E4m3x2,
    E5m2x2,
    Pred,
    Texref,
    Samplerref,
    Surfref,
}

/// A register range or array declaration suffix and an optional initialiser for one
/// declared name.
#[derive(Debug, Clone, PartialEq)]
pub struct Declarator {
    /// The declared name (`%r`, `smem`, `param0`).
    pub name: Name,
    /// `<N>`: a parameterised register range `%r<N>` declaring `%r0`…`%r{N-1}`.
    pub range: Option<u32>,
    /// Array dimensions; `None` is an unsized dimension `[]`.
    pub dims: Vec<Option<u64>>,
    /// `= initialiser` (boxed: only module variables have one, and boxing keeps every
    /// declaration 40 bytes smaller).
    pub init: Option<Box<Init>>,
}

/// Pointer attributes of a kernel parameter: `.ptr [.space] [.align N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtrAttr {
    /// The state space the pointer points into, if given.
    pub space: Option<StateSpace>,
    /// The alignment of the pointee, if given.
    pub align: Option<u32>,
}

/// A variable or parameter declaration: `[linkage] .space [.align N] [.vN] .type names;`.
#[derive(Debug, Clone, PartialEq)]
pub struct VarDecl {
    /// Linkage attributes in source order.
    pub linkage: Vec<Linkage>,
    /// State space.
    pub space: StateSpace,
    /// `.align N`
    pub align: Option<u32>,
    /// `.v2` / `.v4` / `.v8` vector width.
    pub vector: Option<u8>,
    /// Element type.
    pub ty: Type,
    /// `.ptr` attributes (kernel parameters only).
    pub ptr: Option<PtrAttr>,
    /// The declared names (one for parameters, one or more for variables).
    pub names: Vec<Declarator>,
    /// 1-based source line.
    pub line: u32,
}

/// An initialiser of a module-scope variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// A scalar: an immediate, a symbol address or `symbol+offset`.
    Value(Operand),
    /// `generic(symbol)` optionally `+ offset`.
    Generic {
        /// The symbol converted to a generic address.
        symbol: Name,
        /// Byte offset added.
        offset: i64,
    },
    /// `{ a, b, ... }` (possibly nested).
    List(Vec<Init>),
}

/// `.entry` or `.func`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    /// A kernel.
    Entry,
    /// A device function.
    Func,
}

/// A performance-tuning or attribute directive of a function.
#[derive(Debug, Clone, PartialEq)]
pub enum FuncDirective {
    /// `.maxntid x[, y[, z]]`
    MaxNtid(Vec<u32>),
    /// `.reqntid x[, y[, z]]`
    ReqNtid(Vec<u32>),
    /// `.minnctapersm n`
    MinNctaPerSm(u32),
    /// `.maxnctapersm n`
    MaxNctaPerSm(u32),
    /// `.maxnreg n`
    MaxNReg(u32),
    /// `.pragma "..."[, "..."];`
    Pragma(Vec<String>),
    /// `.noreturn`
    NoReturn,
    /// Any other directive in the function header, kept as its tokens.
    Other(Vec<Name>),
}

/// A kernel or device function.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Linkage attributes in source order.
    pub linkage: Vec<Linkage>,
    /// `.entry` or `.func`.
    pub kind: FunctionKind,
    /// Return parameters (`.func` only).
    pub returns: Vec<VarDecl>,
    /// Function name.
    pub name: Name,
    /// Parameters, each a declaration with one name.
    pub params: Vec<VarDecl>,
    /// Header directives between the parameter list and the body.
    pub directives: Vec<FuncDirective>,
    /// The body; `None` for a declaration (`;`).
    pub body: Option<Vec<Statement>>,
    /// 1-based source line of the `.entry`/`.func` keyword.
    pub line: u32,
}

/// One statement of a function body.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `name:`
    Label(Name),
    /// An instruction.
    Inst(Instruction),
    /// A declaration inside the body (`.reg`, `.local`, `.shared`, `.param`, `.const`).
    Var(VarDecl),
    /// `.loc file line col [, ...]`
    Loc(Loc),
    /// `.pragma "...";`
    Pragma(Vec<String>),
    /// A nested `{ ... }` scope.
    Block(Vec<Statement>),
    /// Any other directive (e.g. `.callprototype`, `.branchtargets`), kept as tokens.
    Raw(RawDirective),
}

/// A `.loc` debug directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Loc {
    /// File index.
    pub file: u32,
    /// Source line.
    pub line: u32,
    /// Source column.
    pub col: u32,
    /// Remaining tokens (e.g. `, function_name ..., inlined_at ...`) as written.
    pub extra: Vec<Name>,
}

/// An instruction guard `@p` / `@!p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// `true` for `@!p`.
    pub negated: bool,
    /// The predicate register name.
    pub pred: Name,
}

/// One PTX instruction in uniform form.
#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    /// `@p` / `@!p`
    pub guard: Option<Guard>,
    /// The opcode (base name, e.g. `ld`, `setp`); unknown opcodes are [`Opcode::Other`].
    pub opcode: Opcode,
    /// Dot-modifiers in source order, without the dot (`global`, `v4`, `u32`).
    pub modifiers: Modifiers,
    /// Operands in source order.
    pub operands: Vec<Operand>,
    /// 1-based source line (0 for instructions created by a pass).
    pub line: u32,
}

/// The dot-modifiers of an instruction, in source order, without their dots:
/// `ld.global.nc.v4.u32` has `global`, `nc`, `v4`, `u32`.
///
/// Kept as one [`Name`], the modifiers joined by dots as written (`global.nc.v4.u32`,
/// see [`Modifiers::as_str`]): up to 24 bytes, which holds the modifiers of nearly every
/// instruction, take no heap allocation (a vector of names took one per instruction).
/// [`Modifiers::iter`] (also `for m in &inst.modifiers`) yields each modifier as a
/// `&str`; a modifier is never empty and never contains a dot.
///
/// ```
/// let mut m = ptx::Modifiers::from(["global", "nc", "u32"]);
/// assert_eq!(m.as_str(), "global.nc.u32");
/// assert_eq!(m.len(), 3);
/// assert!(m.contains("nc"));
/// m.retain(|x| x != "nc");
/// assert_eq!(m, ["global", "u32"]);
/// assert_eq!(m.iter().last(), Some("u32"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Modifiers(Name);

impl Modifiers {
    /// No modifiers.
    pub const fn new() -> Modifiers {
        Modifiers(Name::const_new(""))
    }

    /// The modifiers joined by dots, without a leading dot (`global.nc.u32`; empty when
    /// there are none).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The modifiers in order.
    pub fn iter(&self) -> ModifierIter<'_> {
        ModifierIter { rest: &self.0 }
    }

    /// How many modifiers there are.
    pub fn len(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            1 + self.0.bytes().filter(|&b| b == b'.').count()
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first modifier.
    pub fn first(&self) -> Option<&str> {
        self.iter().next()
    }

    /// The last modifier.
    pub fn last(&self) -> Option<&str> {
        self.iter().next_back()
    }

    /// The modifier at `index`.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.iter().nth(index)
    }

    /// Whether `m` (without the dot) is one of the modifiers.
    pub fn contains(&self, m: &str) -> bool {
        self.iter().any(|x| x == m)
    }

    /// Appends the modifier `m` (without the dot).
    ///
    /// # Panics
    ///
    /// If `m` is empty or contains a `.`.
    pub fn push(&mut self, m: &str) {
        assert!(
            !m.is_empty() && !m.contains('.'),
            "a modifier is one non-empty word without dots, not {m:?}"
        );
        self.push_dotted(m);
    }

    /// Appends `dotted`: one or more modifiers joined by dots (the caller has checked
    /// that none is empty).
    pub(crate) fn push_dotted(&mut self, dotted: &str) {
        if self.0.is_empty() {
            self.0 = Name::new(dotted);
        } else {
            self.0.push('.');
            self.0.push_str(dotted);
        }
    }

    /// Keeps only the modifiers for which `keep` returns `true`, in order (`keep` is
    /// called once per modifier, first to last).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let mut kept = Modifiers::new();
        let mut removed = false;
        for m in self.iter() {
            if keep(m) {
                kept.push_dotted(m);
            } else {
                removed = true;
            }
        }
        if removed {
            *self = kept;
        }
    }
}

/// The iterator of [`Modifiers::iter`].
#[derive(Debug, Clone)]
pub struct ModifierIter<'a> {
    /// The modifiers not yet yielded, joined by dots.
    rest: &'a str,
}

impl<'a> Iterator for ModifierIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let (m, rest) = self.rest.split_once('.').unwrap_or((self.rest, ""));
        self.rest = rest;
        Some(m)
    }
}

impl DoubleEndedIterator for ModifierIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (rest, m) = self.rest.rsplit_once('.').unwrap_or(("", self.rest));
        self.rest = rest;
        Some(m)
    }
}

impl std::iter::FusedIterator for ModifierIter<'_> {}

impl<'a> IntoIterator for &'a Modifiers {
    type Item = &'a str;
    type IntoIter = ModifierIter<'a>;

    fn into_iter(self) -> ModifierIter<'a> {
        self.iter()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Modifiers {
    /// Collects modifiers; panics like [`Modifiers::push`].
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Modifiers {
        let mut m = Modifiers::new();
        for x in iter {
            m.push(x.as_ref());
        }
        m
    }
}

impl<S: AsRef<str>, const N: usize> From<[S; N]> for Modifiers {
    /// `Modifiers::from(["global", "u32"])`; panics like [`Modifiers::push`].
    fn from(list: [S; N]) -> Modifiers {
        list.into_iter().collect()
    }
}

impl<S: AsRef<str>> From<&[S]> for Modifiers {
    /// Panics like [`Modifiers::push`].
    fn from(list: &[S]) -> Modifiers {
        list.iter().collect()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Modifiers {
    fn eq(&self, other: &[S]) -> bool {
        self.iter().eq(other.iter().map(AsRef::as_ref))
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Modifiers {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Modifiers {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl std::fmt::Debug for Modifiers {
    /// As a list: `["global", "u32"]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A vector component / vector-register element selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Component {
    X,
    Y,
    Z,
    W,
    R,
    G,
    B,
    A,
}

/// An instruction operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A name: register, special register, variable, label or function; `comp` is a
    /// `.x`-style component (`%tid.x`, vector register element).
    Name {
        /// The identifier as written (`%r1`, `%tid`, `smem`, `$L__BB0_2`).
        name: Name,
        /// Component selector, if any.
        comp: Option<Component>,
    },
    /// `!p` — a negated predicate source operand.
    Not(Name),
    /// An immediate.
    Imm(Imm),
    /// `symbol+offset` outside brackets (address of a variable plus an offset).
    SymOffset {
        /// The variable name.
        name: Name,
        /// Byte offset (may be negative).
        offset: i64,
    },
    /// A memory address `[base+offset]`.
    Addr(Address),
    /// A vector operand `{a, b, c, d}`.
    Vector(Vec<Operand>),
    /// A predicate pair `p|q` (`setp`, `shfl`).
    Pair(Name, Name),
    /// `_` — the sink / don't-care operand.
    Sink,
    /// A parenthesised list, as in `call (ret), f, (a, b);`.
    List(Vec<Operand>),
}

/// The base of an address operand.
#[derive(Debug, Clone, PartialEq)]
pub enum AddrBase {
    /// A register or variable name.
    Name(Name),
    /// An absolute address `[0x1000]`.
    Imm(u64),
}

/// A memory address `[base + offset]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    /// Register, variable or absolute base.
    pub base: AddrBase,
    /// Byte offset (may be negative).
    pub offset: i64,
}

/// How an integer literal was written, so printing keeps its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Radix {
    /// `123`
    Dec,
    /// `0x7b`
    Hex,
    /// `0173`
    Oct,
    /// `0b1111011`
    Bin,
}

/// An immediate operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Imm {
    /// An integer literal.
    Int {
        /// Magnitude.
        value: u64,
        /// Written with a leading `-`.
        negative: bool,
        /// The radix it was written in.
        radix: Radix,
        /// Written with a `U` suffix.
        unsigned: bool,
    },
    /// `0fXXXXXXXX`: an f32 given by its bits.
    F32(u32),
    /// `0dXXXXXXXXXXXXXXXX`: an f64 given by its bits.
    F64(u64),
    /// A decimal floating-point literal (`1.5`, `1e-3`), kept as written; its value is
    /// an f64.
    Decimal(Name),
}

impl Imm {
    /// A decimal integer immediate.
    pub fn int(v: i64) -> Imm {
        Imm::Int {
            value: v.unsigned_abs(),
            negative: v < 0,
            radix: Radix::Dec,
            unsigned: false,
        }
    }

    /// A hexadecimal unsigned immediate.
    pub fn hex(v: u64) -> Imm {
        Imm::Int {
            value: v,
            negative: false,
            radix: Radix::Hex,
            unsigned: false,
        }
    }

    /// The integer value as 64 bits (two's complement for negatives); floats give their
    /// bit patterns, decimals their f64 bits.
    pub fn bits(&self) -> u64 {
        match self {
            Imm::Int {
                value, negative, ..
            } => {
                if *negative {
                    value.wrapping_neg()
                } else {
                    *value
                }
            }
            Imm::F32(b) => *b as u64,
            Imm::F64(b) => *b,
            Imm::Decimal(s) => s.parse::<f64>().map(f64::to_bits).unwrap_or(0),
        }
    }

    /// The value as an f64 (integers converted, f32 widened).
    pub fn as_f64(&self) -> f64 {
        match self {
            Imm::Int {
                value, negative, ..
            } => {
                if *negative {
                    -(*value as f64)
                } else {
                    *value as f64
                }
            }
            Imm::F32(b) => f32::from_bits(*b) as f64,
            Imm::F64(b) => f64::from_bits(*b),
            Imm::Decimal(s) => s.parse::<f64>().unwrap_or(0.0),
        }
    }

    /// Whether this is a floating-point literal.
    pub fn is_float(&self) -> bool {
        !matches!(self, Imm::Int { .. })
    }
}

impl Operand {
    /// A plain name operand (register, label, symbol).
    pub fn name(n: impl Into<Name>) -> Operand {
        Operand::Name {
            name: n.into(),
            comp: None,
        }
    }

    /// An integer immediate.
    pub fn int(v: i64) -> Operand {
        Operand::Imm(Imm::int(v))
    }

    /// `[base+offset]`
    pub fn addr(base: impl Into<Name>, offset: i64) -> Operand {
        Operand::Addr(Address {
            base: AddrBase::Name(base.into()),
            offset,
        })
    }

    /// The name if this operand is a plain or component name.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            Operand::Name { name, .. } => Some(name),
            _ => None,
        }
    }
}

impl Type {
    /// Parses a type from a modifier without the dot (`u32`, `f16x2`, `pred`).
    pub fn from_modifier(m: &str) -> Option<Type> {
        Some(match m {
            "b8" => Type::B8,
            "b16" => Type::B16,
            "b32" => Type::B32,
            "b64" => Type::B64,
            "b128" => Type::B128,
            "u8" => Type::U8,
            "u16" => Type::U16,
            "u32" => Type::U32,
            "u64" => Type::U64,
            "s8" => Type::S8,
            "s16" => Type::S16,
            "s32" => Type::S32,
            "s64" => Type::S64,
            "f16" => Type::F16,
            "f16x2" => Type::F16x2,
            "bf16" => Type::Bf16,
            "bf16x2" => Type::Bf16x2,
            "tf32" => Type::Tf32,
            "f32" => Type::F32,
            "f64" => Type::F64,
            "e4m3" => Type::E4m3,
            "e5m2" => Type::E5m2,
            "e4m3x2" => Type::E4m3x2,
            "e5m2x2" => Type::E5m2x2,
            "pred" => Type::Pred,
            "texref" => Type::Texref,
            "samplerref" => Type::Samplerref,
            "surfref" => Type::Surfref,
            _ => return None,
        })
    }

    /// The type's name without the dot.
    pub fn name(self) -> &'static str {
        match self {
            Type::B8 => "b8",
            Type::B16 => "b16",
            Type::B32 => "b32",
            Type::B64 => "b64",
            Type::B128 => "b128",
            Type::U8 => "u8",
            Type::U16 => "u16",
            Type::U32 => "u32",
            Type::U64 => "u64",
            Type::S8 => "s8",
            Type::S16 => "s16",
            Type::S32 => "s32",
            Type::S64 => "s64",
            Type::F16 => "f16",
            Type::F16x2 => "f16x2",
            Type::Bf16 => "bf16",
            Type::Bf16x2 => "bf16x2",
            Type::Tf32 => "tf32",
            Type::F32 => "f32",
            Type::F64 => "f64",
            Type::E4m3 => "e4m3",
            Type::E5m2 => "e5m2",
            Type::E4m3x2 => "e4m3x2",
            Type::E5m2x2 => "e5m2x2",
            Type::Pred => "pred",
            Type::Texref => "texref",
            Type::Samplerref => "samplerref",
            Type::Surfref => "surfref",
        }
    }

    /// Size in bytes (predicates count as 1; opaque reference types as 8).
    pub fn size(self) -> u32 {
        match self {
            Type::B8 | Type::U8 | Type::S8 | Type::Pred | Type::E4m3 | Type::E5m2 => 1,
            Type::B16 | Type::U16 | Type::S16 | Type::F16 | Type::Bf16 => 2,
            Type::E4m3x2 | Type::E5m2x2 => 2,
            Type::B32 | Type::U32 | Type::S32 | Type::F32 | Type::Tf32 => 4,
            Type::F16x2 | Type::Bf16x2 => 4,
            Type::B64 | Type::U64 | Type::S64 | Type::F64 => 8,
            Type::Texref | Type::Samplerref | Type::Surfref => 8,
            Type::B128 => 16,
        }
    }

    /// Signed integer types.
    pub fn is_signed(self) -> bool {
        matches!(self, Type::S8 | Type::S16 | Type::S32 | Type::S64)
    }

    /// Floating-point types (scalar or packed).
    pub fn is_float(self) -> bool {
        matches!(
            self,
            Type::F16
                | Type::F16x2
                | Type::Bf16
                | Type::Bf16x2
                | Type::Tf32
                | Type::F32
                | Type::F64
                | Type::E4m3
                | Type::E5m2
                | Type::E4m3x2
                | Type::E5m2x2
        )
    }
}

impl StateSpace {
    /// The space's name without the dot.
    pub fn name(self) -> &'static str {
        match self {
            StateSpace::Reg => "reg",
            StateSpace::Sreg => "sreg",
            StateSpace::Const => "const",
            StateSpace::Global => "global",
            StateSpace::Local => "local",
            StateSpace::Param => "param",
            StateSpace::Shared => "shared",
            StateSpace::Tex => "tex",
        }
    }

    /// Parses a state space from a directive name without the dot.
    pub fn from_name(s: &str) -> Option<StateSpace> {
        Some(match s {
            "reg" => StateSpace::Reg,
            "sreg" => StateSpace::Sreg,
            "const" => StateSpace::Const,
            "global" => StateSpace::Global,
            "local" => StateSpace::Local,
            "param" => StateSpace::Param,
            "shared" => StateSpace::Shared,
            "tex" => StateSpace::Tex,
            _ => return None,
        })
    }
}

impl Module {
    /// All functions (declarations and definitions) in source order.
    pub fn functions(&self) -> impl Iterator<Item = &Function> {
        self.items.iter().filter_map(|i| match i {
            Item::Function(f) => Some(f),
            _ => None,
        })
    }

    /// All functions, mutably.
    pub fn functions_mut(&mut self) -> impl Iterator<Item = &mut Function> {
        self.items.iter_mut().filter_map(|i| match i {
            Item::Function(f) => Some(f),
            _ => None,
        })
    }

    /// The function (or kernel) named `name` that has a body, else the first declaration.
    pub fn function(&self, name: &str) -> Option<&Function> {
        let mut decl = None;
        for f in self.functions().filter(|f| f.name == name) {
            if f.body.is_some() {
                return Some(f);
            }
            decl.get_or_insert(f);
        }
        decl
    }

    /// Kernels defined in this module (`.entry` with a body).
    pub fn kernels(&self) -> impl Iterator<Item = &Function> {
        self.functions()
            .filter(|f| f.kind == FunctionKind::Entry && f.body.is_some())
    }

    /// `.version` as (major, minor), if present.
    pub fn version(&self) -> Option<(u32, u32)> {
        self.items.iter().find_map(|i| match i {
            Item::Version { major, minor } => Some((*major, *minor)),
            _ => None,
        })
    }

    /// The first word of `.target` (e.g. `sm_80`), if present.
    pub fn target(&self) -> Option<&str> {
        self.items.iter().find_map(|i| match i {
            Item::Target(t) => t.first().map(Name::as_str),
            _ => None,
        })
    }

    /// Module-scope variable declarations.
    pub fn globals(&self) -> impl Iterator<Item = &VarDecl> {
        self.items.iter().filter_map(|i| match i {
            Item::Var(v) => Some(v),
            _ => None,
        })
    }
}

impl Instruction {
    /// A new unguarded instruction created by a pass (line 0).
    pub fn new(opcode: Opcode, modifiers: &[&str], operands: Vec<Operand>) -> Instruction {
        Instruction {
            guard: None,
            opcode,
            modifiers: modifiers.iter().collect(),
            operands,
            line: 0,
        }
    }

    /// Whether the instruction carries the modifier `m` (without the dot).
    pub fn has_modifier(&self, m: &str) -> bool {
        self.modifiers.contains(m)
    }

    /// The type modifiers in source order (`cvt.rn.f32.s32` gives `[F32, S32]`).
    pub fn types(&self) -> impl Iterator<Item = Type> + '_ {
        self.modifiers.iter().filter_map(Type::from_modifier)
    }

    /// The instruction's main type: the last type modifier (for `cvt` the destination
    /// type is the first; use [`Instruction::types`] there).
    pub fn ty(&self) -> Option<Type> {
        self.types().last()
    }

    /// The state space modifier, if any (`ld.global` gives `Global`).
    pub fn space(&self) -> Option<StateSpace> {
        self.modifiers.iter().find_map(|m| {
            let base = m.split("::").next().unwrap_or(m);
            match base {
                "global" | "shared" | "local" | "param" | "const" => StateSpace::from_name(base),
                _ => None,
            }
        })
    }

    /// The vector width modifier (`v2`, `v4`, `v8`), if any.
    pub fn vector(&self) -> Option<u8> {
        self.modifiers.iter().find_map(|m| match m {
            "v2" => Some(2),
            "v4" => Some(4),
            "v8" => Some(8),
            _ => None,
        })
    }
}
