//! Lowering a parsed PTX module into the executor's [`Program`]: module variables laid
//! out in their state spaces, functions flattened into one instruction array with
//! registers and labels resolved to indices, every instruction decoded once.
//!
//! An instruction the decoder cannot lower does not fail the load: it becomes
//! [`Op::Illegal`] with a [`Diagnostic`] naming its line, so a module with one exotic
//! instruction still runs every kernel that does not reach it (reaching it is an
//! illegal-instruction fault, as on hardware).

mod arith;
mod func;
mod inst;
mod mem;

use crate::error::{Diagnostic, LoadError};
use crate::ir::*;
use ptx::{FunctionKind, Init, Item, Module, StateSpace, Statement, Type, VarDecl};
use std::collections::HashMap;

/// Deepest call nesting a launch supports (recursion is cut off here with a fault).
pub(crate) const MAX_CALL_DEPTH: u32 = 64;

/// Base of the generic-address window of the constant bank.
pub(crate) const CONST_WINDOW: u64 = 0x0100_0000;
/// Base of the generic-address window of kernel parameters.
pub(crate) const PARAM_WINDOW: u64 = 0x0200_0000;
/// Base of the generic-address window of shared memory.
pub(crate) const SHARED_WINDOW: u64 = 0x0300_0000;
/// Size of the shared window.
pub(crate) const SHARED_WINDOW_SIZE: u64 = 0x0100_0000;
/// Base of the generic-address window of local memory.
pub(crate) const LOCAL_WINDOW: u64 = 0x0400_0000;
/// Size of the local window.
pub(crate) const LOCAL_WINDOW_SIZE: u64 = 0x0b00_0000;
/// Function addresses (`mov.u64 %rd, func`): this base plus 16 × function index.
pub(crate) const FUNC_BASE: u64 = 0x0f00_0000;
/// Tag bit of per-thread parameter addresses (kernel parameters have it clear).
pub(crate) const THREAD_PARAM_TAG: u64 = 0x8000_0000;

/// A parameter of a kernel, as the host must pass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelParam {
    /// The parameter's name.
    pub name: String,
    /// Byte offset in the parameter buffer.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// The declared element type name (`u64`, `f32`, `b8` for byte arrays…).
    pub ty: &'static str,
}

/// A builtin function the module may call without defining it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    /// `vprintf(fmt, args)`: prints nothing, returns 0.
    Vprintf,
    /// `__assertfail(...)`: a trap.
    AssertFail,
}

/// A decoded function.
#[derive(Debug, Clone)]
pub(crate) struct FuncInfo {
    pub name: String,
    pub is_kernel: bool,
    pub defined: bool,
    pub builtin: Option<Builtin>,
    /// First instruction (global pc) and one past the last.
    pub entry: u32,
    pub end: u32,
    /// Formal parameters and return slots (device functions).
    pub params: Vec<Slot>,
    pub rets: Vec<Slot>,
    /// Kernel parameters (kernels).
    pub kparams: Vec<KernelParam>,
    pub kparam_size: u32,
    pub nregs: u32,
    pub npreds: u32,
    pub local_size: u32,
    pub tparam_size: u32,
    pub callees: Vec<u32>,
    pub calls_indirect: bool,
}

/// Where a module variable lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarSpace {
    /// Global memory at this address (in the module's data segment).
    Global,
    /// The constant bank at this offset.
    Const,
    /// Static shared memory at this offset (per CTA; not host accessible).
    Shared,
}

/// A module-scope variable visible to the host by name.
#[derive(Debug, Clone)]
pub(crate) struct VarInfo {
    pub name: String,
    pub space: VarSpace,
    pub addr: u64,
    pub size: u64,
}

/// A decoded module.
#[derive(Debug, Clone, Default)]
pub(crate) struct Program {
    pub insts: Vec<Inst>,
    /// Source line per instruction.
    pub lines: Vec<u32>,
    /// Function index per instruction.
    pub func_of: Vec<u32>,
    pub funcs: Vec<FuncInfo>,
    pub vars: Vec<VarInfo>,
    /// Static shared bytes (all `.shared` variables of the module).
    pub shared_static: u32,
    /// Offset of dynamic (`.extern .shared`) memory.
    pub dyn_shared_base: u32,
    /// The initial constant bank.
    pub const_init: Vec<u8>,
    /// Initial contents of `.global` variables (address, bytes).
    pub global_inits: Vec<(u64, Vec<u8>)>,
    pub diags: Vec<Diagnostic>,
    /// Frame sizes: the largest over all functions.
    pub frame_regs: u32,
    pub frame_preds: u32,
    pub frame_local: u32,
    pub frame_tparam: u32,
}

impl Program {
    /// The frame sizes a launch of `kernel` needs: `[regs, preds, local, tparam]`, the
    /// largest over the kernel and every device function (what it may call; a kernel
    /// cannot call another kernel). Smaller than the module-wide `frame_*` when another
    /// kernel of the module has more registers: each warp of each CTA gets a zeroed
    /// frame, so a small kernel beside a large unrolled one (`mlp_train`'s `sgd_update`
    /// beside `mlp_hidden_forward`) would otherwise zero the large one's frame every CTA.
    pub(crate) fn frame_of(&self, kernel: u32) -> [u32; 4] {
        let mut frame = [0u32; 4];
        for (i, f) in self.funcs.iter().enumerate() {
            if f.is_kernel && i as u32 != kernel {
                continue;
            }
            frame[0] = frame[0].max(f.nregs);
            frame[1] = frame[1].max(f.npreds);
            frame[2] = frame[2].max(align_up(f.local_size as u64, 16) as u32);
            frame[3] = frame[3].max(align_up(f.tparam_size as u64, 16) as u32);
        }
        frame
    }

    /// The function index of a kernel by name.
    pub(crate) fn kernel(&self, name: &str) -> Option<u32> {
        self.funcs
            .iter()
            .position(|f| f.is_kernel && f.defined && f.name == name)
            .map(|i| i as u32)
    }

    /// The deepest call nesting reachable from `f` (1 for a function that calls
    /// nothing), capped at [`MAX_CALL_DEPTH`] (recursion and indirect calls reach it).
    pub(crate) fn max_depth(&self, f: u32) -> u32 {
        fn go(p: &Program, f: u32, on_path: &mut Vec<bool>, memo: &mut Vec<u32>, len: u32) -> u32 {
            if memo[f as usize] != 0 {
                return memo[f as usize];
            }
            let fi = &p.funcs[f as usize];
            if on_path[f as usize] || fi.calls_indirect || len >= MAX_CALL_DEPTH {
                return MAX_CALL_DEPTH;
            }
            on_path[f as usize] = true;
            let mut d = 1;
            for &c in &fi.callees {
                d = d.max(go(p, c, on_path, memo, len + 1).saturating_add(1));
            }
            on_path[f as usize] = false;
            let d = d.min(MAX_CALL_DEPTH);
            memo[f as usize] = d;
            d
        }
        let n = self.funcs.len();
        go(self, f, &mut vec![false; n], &mut vec![0; n], 0)
    }
}

/// A name in scope while decoding a function.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sym {
    /// A value register (vector registers: `len` consecutive registers).
    Reg { r: R, ty: Type, len: u8 },
    /// A predicate register.
    Pred(P),
    /// A variable in a state space.
    Var(VarLoc),
    /// A function.
    Func(u32),
}

/// The location of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarLoc {
    Global(u64),
    Const(u64),
    Shared(u64),
    /// Offset in the current local frame.
    Local(u64),
    /// Offset in the kernel parameter buffer.
    KParam(u64),
    /// Offset in the current per-thread parameter frame.
    TParam(u64),
}

/// Size and alignment of a declaration (all names of it share them).
fn decl_layout(v: &VarDecl, d: &ptx::Declarator) -> (u64, u64) {
    let elem = v.ty.size() as u64 * v.vector.unwrap_or(1) as u64;
    let mut count: u64 = 1;
    for dim in &d.dims {
        match dim {
            Some(n) => count = count.saturating_mul(*n),
            None => {
                // An unsized array takes its size from its initialiser, else 0.
                count = match d.init.as_deref() {
                    Some(Init::List(l)) => count.saturating_mul(flat_len(l) as u64),
                    _ => 0,
                };
            }
        }
    }
    let align = v.align.map(u64::from).unwrap_or(elem).max(1);
    (elem.saturating_mul(count), align)
}

fn flat_len(l: &[Init]) -> usize {
    l.iter()
        .map(|i| match i {
            Init::List(x) => flat_len(x),
            _ => 1,
        })
        .sum()
}

fn align_up(x: u64, a: u64) -> u64 {
    let a = a.max(1);
    x.div_ceil(a).saturating_mul(a)
}

/// Decodes a module. `alloc(size, align)` reserves global memory for the data segment
/// of the `.global` variables and returns its address.
pub(crate) fn decode(
    module: &Module,
    alloc: &mut dyn FnMut(u64, u64) -> Result<u64, LoadError>,
) -> Result<Program, LoadError> {
    // Names defined twice (functions or module variables) make the module ambiguous.
    for e in ptx::validate(module, "") {
        if let ptx::Invalid::Duplicate {
            what,
            name,
            first_line,
            ..
        } = e.kind
        {
            return Err(LoadError::Duplicate {
                what,
                name,
                line: e.line,
                first_line,
            });
        }
    }
    let mut prog = Program::default();
    let mut scope: HashMap<String, Sym> = HashMap::new();

    // Functions first, so that calls and function addresses resolve in any order.
    let mut func_index: HashMap<String, u32> = HashMap::new();
    for f in module.functions() {
        let idx = match func_index.get(f.name.as_str()) {
            Some(&i) => i,
            None => {
                let i = prog.funcs.len() as u32;
                func_index.insert(f.name.to_string(), i);
                prog.funcs.push(FuncInfo {
                    name: f.name.to_string(),
                    is_kernel: f.kind == FunctionKind::Entry,
                    defined: false,
                    builtin: None,
                    entry: 0,
                    end: 0,
                    params: Vec::new(),
                    rets: Vec::new(),
                    kparams: Vec::new(),
                    kparam_size: 0,
                    nregs: 0,
                    npreds: 0,
                    local_size: 0,
                    tparam_size: 0,
                    callees: Vec::new(),
                    calls_indirect: false,
                });
                i
            }
        };
        if f.body.is_some() {
            prog.funcs[idx as usize].defined = true;
        }
        scope.insert(f.name.to_string(), Sym::Func(idx));
    }
    for fi in &mut prog.funcs {
        if !fi.defined {
            fi.builtin = match fi.name.as_str() {
                "vprintf" => Some(Builtin::Vprintf),
                "__assertfail" | "__assert_fail" => Some(Builtin::AssertFail),
                _ => None,
            };
        }
    }

    // Lay out every static variable (module scope and function scope) in walk order.
    let mut layout = Layout::default();
    for item in &module.items {
        match item {
            Item::Var(v) => {
                for d in &v.names {
                    let loc = layout.place(v, d, &mut prog)?;
                    if let Some(loc) = loc {
                        scope.insert(d.name.to_string(), Sym::Var(loc));
                    }
                }
            }
            Item::Function(f) => {
                if let Some(body) = &f.body {
                    layout.walk_body(body, &mut prog)?;
                }
            }
            _ => {}
        }
    }
    // The `.global` variables share one data segment, padded to whole 4 KiB pages like a
    // loaded module's data on a GPU: an access a little past a variable reads its
    // neighbour or padding instead of faulting.
    if layout.globals > 0 {
        let size = align_up(layout.globals, 4096);
        let base = alloc(size, 4096)?;
        let fix = |l: &mut VarLoc| {
            if let VarLoc::Global(a) = l {
                *a += base;
            }
        };
        for s in scope.values_mut() {
            if let Sym::Var(l) = s {
                fix(l);
            }
        }
        layout.in_functions.iter_mut().for_each(fix);
        layout.inits.iter_mut().for_each(|p| fix(&mut p.loc));
        for v in &mut prog.vars {
            if v.space == VarSpace::Global {
                v.addr += base;
            }
        }
    }
    // Dynamic shared memory follows the static part.
    prog.shared_static = u32::try_from(layout.shared).map_err(|_| LoadError::TooLarge {
        what: "static shared memory".into(),
    })?;
    prog.dyn_shared_base = align_up(layout.shared, 16) as u32;
    let dyn_base = prog.dyn_shared_base as u64;
    for s in scope.values_mut() {
        if let Sym::Var(VarLoc::Shared(o)) = s {
            if *o == DYN_SHARED {
                *o = dyn_base;
            }
        }
    }
    for l in &mut layout.in_functions {
        if let VarLoc::Shared(o) = l {
            if *o == DYN_SHARED {
                *o = dyn_base;
            }
        }
    }
    for v in &mut prog.vars {
        if v.space == VarSpace::Shared && v.addr == DYN_SHARED {
            v.addr = dyn_base;
        }
    }

    // Initialisers (they may name any variable or function).
    let mut pending = std::mem::take(&mut layout.inits);
    for p in &mut pending {
        let bytes = init_bytes(&p.decl, &p.init, p.size, &scope)?;
        match p.loc {
            VarLoc::Global(a) => prog.global_inits.push((a, bytes)),
            VarLoc::Const(o) => {
                let o = o as usize;
                prog.const_init[o..o + bytes.len()].copy_from_slice(&bytes);
            }
            _ => {}
        }
    }

    // Decode function bodies.
    let mut in_fn = layout.in_functions.into_iter();
    for f in module.functions() {
        let Some(body) = &f.body else { continue };
        let idx = func_index[f.name.as_str()];
        func::FnDecoder::run(&mut prog, idx, f, body, &scope, &mut in_fn)?;
    }
    prog.frame_regs = prog.funcs.iter().map(|f| f.nregs).max().unwrap_or(0);
    prog.frame_preds = prog.funcs.iter().map(|f| f.npreds).max().unwrap_or(0);
    prog.frame_local = prog
        .funcs
        .iter()
        .map(|f| align_up(f.local_size as u64, 16) as u32)
        .max()
        .unwrap_or(0);
    prog.frame_tparam = prog
        .funcs
        .iter()
        .map(|f| align_up(f.tparam_size as u64, 16) as u32)
        .max()
        .unwrap_or(0);
    Ok(prog)
}

/// Marker offset of `.extern .shared` arrays until the dynamic base is known.
const DYN_SHARED: u64 = u64::MAX;

struct PendingInit {
    decl: VarDecl,
    init: Init,
    size: u64,
    loc: VarLoc,
}

#[derive(Default)]
struct Layout {
    /// Bytes of the `.global` data segment.
    globals: u64,
    shared: u64,
    consts: u64,
    /// Locations of function-scope static variables in walk order.
    in_functions: Vec<VarLoc>,
    inits: Vec<PendingInit>,
}

impl Layout {
    fn place(
        &mut self,
        v: &VarDecl,
        d: &ptx::Declarator,
        prog: &mut Program,
    ) -> Result<Option<VarLoc>, LoadError> {
        let (size, align) = decl_layout(v, d);
        let external = v.linkage.contains(&ptx::Linkage::Extern);
        let loc = match v.space {
            StateSpace::Global => {
                // An offset in the module's data segment until it is allocated.
                let a = align_up(self.globals, align);
                self.globals = a.saturating_add(size);
                prog.vars.push(VarInfo {
                    name: d.name.to_string(),
                    space: VarSpace::Global,
                    addr: a,
                    size,
                });
                VarLoc::Global(a)
            }
            StateSpace::Const => {
                let o = align_up(self.consts, align);
                self.consts = o.saturating_add(size);
                if self.consts > 64 * 1024 * 16 {
                    return Err(LoadError::TooLarge {
                        what: format!("constant bank (variable `{}`)", d.name),
                    });
                }
                prog.const_init.resize(self.consts as usize, 0);
                prog.vars.push(VarInfo {
                    name: d.name.to_string(),
                    space: VarSpace::Const,
                    addr: o,
                    size,
                });
                VarLoc::Const(o)
            }
            StateSpace::Shared => {
                let o = if external && size == 0 {
                    DYN_SHARED
                } else {
                    let o = align_up(self.shared, align);
                    self.shared = o.saturating_add(size);
                    if self.shared > SHARED_WINDOW_SIZE {
                        return Err(LoadError::TooLarge {
                            what: format!("static shared memory (variable `{}`)", d.name),
                        });
                    }
                    o
                };
                prog.vars.push(VarInfo {
                    name: d.name.to_string(),
                    space: VarSpace::Shared,
                    addr: o,
                    size,
                });
                VarLoc::Shared(o)
            }
            _ => return Ok(None),
        };
        if let Some(init) = &d.init {
            if matches!(loc, VarLoc::Global(_) | VarLoc::Const(_)) {
                self.inits.push(PendingInit {
                    decl: v.clone(),
                    init: (**init).clone(),
                    size,
                    loc,
                });
            }
        }
        Ok(Some(loc))
    }

    fn walk_body(&mut self, body: &[Statement], prog: &mut Program) -> Result<(), LoadError> {
        for s in body {
            match s {
                Statement::Var(v)
                    if matches!(
                        v.space,
                        StateSpace::Global | StateSpace::Const | StateSpace::Shared
                    ) =>
                {
                    for d in &v.names {
                        if let Some(loc) = self.place(v, d, prog)? {
                            self.in_functions.push(loc);
                        }
                    }
                }
                Statement::Block(b) => self.walk_body(b, prog)?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// The initial bytes of a variable.
fn init_bytes(
    v: &VarDecl,
    init: &Init,
    size: u64,
    scope: &HashMap<String, Sym>,
) -> Result<Vec<u8>, LoadError> {
    let mut out = vec![0u8; size as usize];
    let esize = v.ty.size() as usize;
    let mut scalars = Vec::new();
    flatten(init, &mut scalars);
    let sym_addr = |name: &str, line: u32| -> Result<u64, LoadError> {
        match scope.get(name) {
            Some(Sym::Var(VarLoc::Global(a))) => Ok(*a),
            Some(Sym::Var(VarLoc::Const(o))) => Ok(*o),
            Some(Sym::Var(VarLoc::Shared(o))) => Ok(*o),
            Some(Sym::Func(i)) => Ok(FUNC_BASE + 16 * *i as u64),
            _ => Err(LoadError::Invalid {
                line,
                message: format!("initialiser names unknown symbol `{name}`"),
            }),
        }
    };
    for (i, s) in scalars.iter().enumerate() {
        let off = i * esize;
        if off + esize > out.len() {
            return Err(LoadError::Invalid {
                line: v.line,
                message: "initialiser has more elements than the variable".into(),
            });
        }
        let bits: u64 = match s {
            Init::Value(ptx::Operand::Imm(imm)) => imm_bits(imm, v.ty),
            Init::Value(ptx::Operand::Name { name, .. }) => sym_addr(name, v.line)?,
            Init::Value(ptx::Operand::SymOffset { name, offset }) => {
                sym_addr(name, v.line)?.wrapping_add(*offset as u64)
            }
            Init::Generic { symbol, offset } => {
                let base = match scope.get(symbol.as_str()) {
                    Some(Sym::Var(VarLoc::Global(a))) => *a,
                    Some(Sym::Var(VarLoc::Const(o))) => CONST_WINDOW + *o,
                    Some(Sym::Var(VarLoc::Shared(o))) => SHARED_WINDOW + *o,
                    Some(Sym::Func(i)) => FUNC_BASE + 16 * *i as u64,
                    _ => {
                        return Err(LoadError::Invalid {
                            line: v.line,
                            message: format!("initialiser names unknown symbol `{symbol}`"),
                        })
                    }
                };
                base.wrapping_add(*offset as u64)
            }
            _ => {
                return Err(LoadError::Invalid {
                    line: v.line,
                    message: "unsupported initialiser".into(),
                })
            }
        };
        out[off..off + esize].copy_from_slice(&bits.to_le_bytes()[..esize]);
    }
    Ok(out)
}

fn flatten<'a>(i: &'a Init, out: &mut Vec<&'a Init>) {
    match i {
        Init::List(l) => l.iter().for_each(|x| flatten(x, out)),
        x => out.push(x),
    }
}

/// The bits of an immediate as a value of type `ty`.
pub(crate) fn imm_bits(imm: &ptx::Imm, ty: Type) -> u64 {
    use ptx::Imm;
    match ty {
        Type::F32 => match imm {
            Imm::F32(b) => *b as u64,
            _ => (imm.as_f64() as f32).to_bits() as u64,
        },
        Type::F64 => match imm {
            Imm::F64(b) => *b,
            _ => imm.as_f64().to_bits(),
        },
        Type::F16 | Type::F16x2 => match imm {
            Imm::Int { .. } => imm.bits(),
            _ => crate::float::F16.encode(imm.as_f64(), crate::float::Rnd::Rn, false, false) as u64,
        },
        Type::Bf16 | Type::Bf16x2 => match imm {
            Imm::Int { .. } => imm.bits(),
            _ => {
                crate::float::BF16.encode(imm.as_f64(), crate::float::Rnd::Rn, false, false) as u64
            }
        },
        _ => imm.bits(),
    }
}
