//! Decoding one function: scopes, registers, labels, declarations and operands. The
//! instructions themselves are decoded in `inst` (dispatch, comparisons, moves,
//! conversions, warp and control instructions), `arith` (integer and floating-point
//! arithmetic) and `mem` (memory, tensor, barrier, call and video instructions).

use super::*;
use crate::error::DecodeError;
use crate::float::Rnd;
use ptx::{AddrBase, Component, Function, Imm, Instruction, Operand};

pub(super) type DResult<T> = Result<T, DecodeError>;

/// A [`DecodeError::Invalid`].
pub(super) fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::Invalid {
        message: message.into(),
    }
}

/// A [`DecodeError::Unsupported`].
pub(super) fn unsupported(message: impl Into<String>) -> DecodeError {
    DecodeError::Unsupported {
        message: message.into(),
    }
}

/// A [`DecodeError::Undeclared`].
fn undeclared(kind: &'static str, name: &str) -> DecodeError {
    DecodeError::Undeclared {
        kind,
        name: name.to_string(),
    }
}

/// A [`DecodeError::WrongKind`].
fn not_a(name: &str, expected: &'static str) -> DecodeError {
    DecodeError::WrongKind {
        name: name.to_string(),
        expected,
    }
}

/// Largest per-thread `.param` space of a function (its parameters and call-site
/// `.param` variables).
const MAX_PARAM_FRAME: u32 = 64 * 1024;

/// Most registers a function may declare.
const MAX_REGS: u32 = 1 << 16;

/// Largest local memory of one function per thread (as on NVIDIA GPUs).
const MAX_LOCAL_FRAME: u32 = 512 * 1024;

/// Decodes the body of one function into `prog`.
pub(crate) struct FnDecoder<'a> {
    pub(super) prog: &'a mut Program,
    pub(super) fidx: u32,
    pub(super) module_scope: &'a HashMap<String, Sym>,
    pub(super) scopes: Vec<HashMap<String, Sym>>,
    pub(super) labels: HashMap<String, u32>,
    pub(super) branch_tables: HashMap<String, Vec<String>>,
    pub(super) nregs: u32,
    pub(super) npreds: u32,
    pub(super) local: u64,
    pub(super) tparam: u64,
    pub(super) reg_ty: Vec<Type>,
    pub(super) cc: P,
    pub(super) is_kernel: bool,
    pub(super) callees: Vec<u32>,
    pub(super) calls_indirect: bool,
}

pub(super) fn comp_index(c: Component) -> u8 {
    match c {
        Component::X | Component::R => 0,
        Component::Y | Component::G => 1,
        Component::Z | Component::B => 2,
        Component::W | Component::A => 3,
    }
}

/// The integer type of a PTX type (`.bN` as unsigned).
pub(crate) fn int_ty(t: Type) -> Option<IT> {
    Some(match t {
        Type::B8 | Type::U8 => IT::U8,
        Type::B16 | Type::U16 => IT::U16,
        Type::B32 | Type::U32 => IT::U32,
        Type::B64 | Type::U64 => IT::U64,
        Type::S8 => IT::S8,
        Type::S16 => IT::S16,
        Type::S32 => IT::S32,
        Type::S64 => IT::S64,
        _ => return None,
    })
}

pub(super) fn float_ty(t: Type) -> Option<FT> {
    Some(match t {
        Type::F16 => FT::F16,
        Type::F16x2 => FT::F16x2,
        Type::Bf16 => FT::Bf16,
        Type::Bf16x2 => FT::Bf16x2,
        Type::F32 => FT::F32,
        Type::F64 => FT::F64,
        _ => return None,
    })
}

pub(super) fn value_ty(t: Type) -> Option<VT> {
    int_ty(t).map(VT::I).or_else(|| float_ty(t).map(VT::F))
}

pub(super) fn rnd_of(i: &Instruction) -> Option<Rnd> {
    i.modifiers.iter().find_map(|m| match m {
        "rn" => Some(Rnd::Rn),
        "rz" => Some(Rnd::Rz),
        "rm" => Some(Rnd::Rm),
        "rp" => Some(Rnd::Rp),
        "rna" => Some(Rnd::Rna),
        _ => None,
    })
}

pub(super) fn irnd_of(i: &Instruction) -> Option<IRnd> {
    i.modifiers.iter().find_map(|m| match m {
        "rni" => Some(IRnd::Rni),
        "rzi" => Some(IRnd::Rzi),
        "rmi" => Some(IRnd::Rmi),
        "rpi" => Some(IRnd::Rpi),
        _ => None,
    })
}

pub(super) fn space_of(i: &Instruction) -> Space {
    match i.space() {
        Some(StateSpace::Global) => Space::Global,
        Some(StateSpace::Shared) => Space::Shared,
        Some(StateSpace::Local) => Space::Local,
        Some(StateSpace::Const) => Space::Const,
        Some(StateSpace::Param) => Space::Param,
        _ => Space::Generic,
    }
}

pub(super) fn cmp_of(i: &Instruction) -> Option<Cmp> {
    i.modifiers.iter().find_map(|m| {
        Some(match m {
            "eq" => Cmp::Eq,
            "ne" => Cmp::Ne,
            "lt" => Cmp::Lt,
            "le" => Cmp::Le,
            "gt" => Cmp::Gt,
            "ge" => Cmp::Ge,
            "lo" => Cmp::Lo,
            "ls" => Cmp::Ls,
            "hi" => Cmp::Hi,
            "hs" => Cmp::Hs,
            "equ" => Cmp::Equ,
            "neu" => Cmp::Neu,
            "ltu" => Cmp::Ltu,
            "leu" => Cmp::Leu,
            "gtu" => Cmp::Gtu,
            "geu" => Cmp::Geu,
            "num" => Cmp::Num,
            "nan" => Cmp::Nan,
            _ => return None,
        })
    })
}

pub(super) fn boolop_of(i: &Instruction) -> Option<BoolOp> {
    i.modifiers.iter().find_map(|m| match m {
        "and" => Some(BoolOp::And),
        "or" => Some(BoolOp::Or),
        "xor" => Some(BoolOp::Xor),
        _ => None,
    })
}

pub(super) fn sreg_of(name: &str, comp: Option<Component>) -> DResult<Sreg> {
    let c = comp.map(comp_index).unwrap_or(0);
    let need = |s: fn(u8) -> Sreg| -> DResult<Sreg> {
        match comp {
            Some(_) if c < 3 => Ok(s(c)),
            _ => Err(invalid(format!(
                "special register `{name}` needs a .x, .y or .z component"
            ))),
        }
    };
    Ok(match name {
        "%tid" => need(Sreg::Tid)?,
        "%ntid" => need(Sreg::Ntid)?,
        "%ctaid" => need(Sreg::Ctaid)?,
        "%nctaid" => need(Sreg::Nctaid)?,
        "%laneid" => Sreg::Laneid,
        "%warpid" => Sreg::Warpid,
        "%nwarpid" => Sreg::Nwarpid,
        "%smid" => Sreg::Smid,
        "%nsmid" => Sreg::Nsmid,
        "%gridid" => Sreg::Gridid,
        "%lanemask_eq" => Sreg::LanemaskEq,
        "%lanemask_le" => Sreg::LanemaskLe,
        "%lanemask_lt" => Sreg::LanemaskLt,
        "%lanemask_ge" => Sreg::LanemaskGe,
        "%lanemask_gt" => Sreg::LanemaskGt,
        "%clock" => Sreg::Clock,
        "%clock_hi" => Sreg::ClockHi,
        "%clock64" => Sreg::Clock64,
        "%globaltimer" => Sreg::Globaltimer,
        "%globaltimer_lo" => Sreg::GlobaltimerLo,
        "%globaltimer_hi" => Sreg::GlobaltimerHi,
        "%dynamic_smem_size" => Sreg::DynamicSmemSize,
        "%total_smem_size" => Sreg::TotalSmemSize,
        n if n.starts_with("%envreg") => Sreg::Zero,
        _ => {
            return Err(DecodeError::UnsupportedSpecialRegister {
                name: name.to_string(),
            })
        }
    })
}

impl<'a> FnDecoder<'a> {
    /// Decodes `f` (index `fidx`) into `prog`.
    pub(crate) fn run(
        prog: &'a mut Program,
        fidx: u32,
        f: &Function,
        body: &[Statement],
        module_scope: &'a HashMap<String, Sym>,
        in_fn: &mut dyn Iterator<Item = VarLoc>,
    ) -> Result<(), LoadError> {
        let mut d = FnDecoder {
            prog,
            fidx,
            module_scope,
            scopes: vec![HashMap::new()],
            labels: HashMap::new(),
            branch_tables: HashMap::new(),
            nregs: 0,
            npreds: 0,
            local: 0,
            tparam: 0,
            reg_ty: Vec::new(),
            cc: 0,
            is_kernel: f.kind == FunctionKind::Entry,
            callees: Vec::new(),
            calls_indirect: false,
        };
        d.cc = d.new_pred();
        // Parameters.
        let mut kparams = Vec::new();
        let mut koff: u64 = 0;
        let mut formals = Vec::new();
        let mut rets = Vec::new();
        for (list, out) in [(&f.returns, &mut rets), (&f.params, &mut formals)] {
            for v in list.iter() {
                for dcl in &v.names {
                    let (size, align) = decl_layout(v, dcl);
                    match v.space {
                        StateSpace::Param if d.is_kernel => {
                            koff = align_up(koff, align);
                            kparams.push(KernelParam {
                                name: dcl.name.to_string(),
                                offset: koff as u32,
                                size: size as u32,
                                ty: v.ty.name(),
                            });
                            d.declare(&dcl.name, Sym::Var(VarLoc::KParam(koff)));
                            koff += size;
                        }
                        StateSpace::Param => {
                            let o = align_up(d.tparam, align);
                            d.tparam = o + size;
                            d.declare(&dcl.name, Sym::Var(VarLoc::TParam(o)));
                            out.push(Slot::Param {
                                off: o as u32,
                                size: size as u32,
                            });
                        }
                        StateSpace::Reg => {
                            if v.ty == Type::Pred {
                                let p = d.new_pred();
                                d.declare(&dcl.name, Sym::Pred(p));
                                out.push(Slot::Pred(p));
                            } else {
                                let n = v.vector.unwrap_or(1);
                                let r = d.new_regs(n as u32, v.ty);
                                d.declare(
                                    &dcl.name,
                                    Sym::Reg {
                                        r,
                                        ty: v.ty,
                                        len: n,
                                    },
                                );
                                for k in 0..n as u32 {
                                    out.push(Slot::Reg(r + k));
                                }
                            }
                        }
                        _ => {
                            return Err(LoadError::Invalid {
                                line: v.line,
                                message: format!(
                                    "parameter `{}` of `{}` must be .param or .reg",
                                    dcl.name, f.name
                                ),
                            })
                        }
                    }
                }
            }
        }
        if koff > 32 * 1024 {
            return Err(LoadError::TooLarge {
                what: format!("parameter list of kernel `{}`", f.name),
            });
        }
        // Labels (function-wide) and branch tables.
        let entry = d.prog.insts.len() as u32;
        let mut count = entry;
        d.collect_labels(body, &mut count, &mut None)?;
        // Body.
        d.walk(body, in_fn)?;
        // A body that can run off its end gets an implicit `ret` (line 0), as the
        // hardware appends an EXIT: execution never falls into the next function.
        let falls_through = match d.prog.insts.last() {
            Some(i) if d.prog.insts.len() as u32 > entry => {
                i.guard.is_some() || !matches!(i.op, Op::Ret | Op::Exit | Op::Bra { .. } | Op::Trap)
            }
            _ => true,
        };
        if falls_through {
            d.prog.insts.push(Inst {
                op: Op::Ret,
                guard: None,
            });
            d.prog.lines.push(0);
            d.prog.func_of.push(fidx);
        }
        let end = d.prog.insts.len() as u32;
        let fi = &mut d.prog.funcs[fidx as usize];
        fi.entry = entry;
        fi.end = end;
        fi.params = formals;
        fi.rets = rets;
        fi.kparams = kparams;
        fi.kparam_size = koff as u32;
        fi.nregs = d.nregs;
        fi.npreds = d.npreds;
        fi.local_size = d.local.min(u32::MAX as u64) as u32;
        fi.tparam_size = d.tparam.min(u32::MAX as u64) as u32;
        d.callees.sort_unstable();
        d.callees.dedup();
        fi.callees = d.callees;
        fi.calls_indirect = d.calls_indirect;
        if fi.local_size > MAX_LOCAL_FRAME {
            return Err(LoadError::TooLarge {
                what: format!("local memory of `{}`", f.name),
            });
        }
        if fi.tparam_size > MAX_PARAM_FRAME {
            return Err(LoadError::TooLarge {
                what: format!("parameter space of `{}`", f.name),
            });
        }
        Ok(())
    }

    pub(super) fn new_pred(&mut self) -> P {
        self.npreds += 1;
        self.npreds - 1
    }

    pub(super) fn new_regs(&mut self, n: u32, ty: Type) -> R {
        let r = self.nregs;
        self.nregs += n;
        for _ in 0..n {
            self.reg_ty.push(ty);
        }
        r
    }

    pub(super) fn declare(&mut self, name: &str, s: Sym) {
        if let Some(top) = self.scopes.last_mut() {
            top.insert(name.to_string(), s);
        }
    }

    pub(super) fn lookup(&self, name: &str) -> Option<Sym> {
        for s in self.scopes.iter().rev() {
            if let Some(x) = s.get(name) {
                return Some(*x);
            }
        }
        self.module_scope.get(name).copied()
    }

    pub(super) fn collect_labels(
        &mut self,
        body: &[Statement],
        count: &mut u32,
        last_label: &mut Option<String>,
    ) -> Result<(), LoadError> {
        for s in body {
            match s {
                Statement::Label(l) => {
                    if self.labels.insert(l.to_string(), *count).is_some() {
                        return Err(LoadError::Invalid {
                            line: 0,
                            message: format!("label `{l}` is defined twice"),
                        });
                    }
                    *last_label = Some(l.to_string());
                    continue;
                }
                Statement::Inst(_) => *count += 1,
                Statement::Block(b) => self.collect_labels(b, count, last_label)?,
                Statement::Raw(r)
                    if r.tokens.first().map(ptx::Name::as_str) == Some(".branchtargets") =>
                {
                    if let Some(l) = last_label.clone() {
                        let targets = r.tokens[1..]
                            .iter()
                            .filter(|t| t.as_str() != ",")
                            .map(ToString::to_string)
                            .collect();
                        self.branch_tables.insert(l, targets);
                    }
                }
                _ => {}
            }
            *last_label = None;
        }
        Ok(())
    }

    pub(super) fn walk(
        &mut self,
        body: &[Statement],
        in_fn: &mut dyn Iterator<Item = VarLoc>,
    ) -> Result<(), LoadError> {
        for s in body {
            match s {
                Statement::Var(v) => self.var(v, in_fn)?,
                Statement::Block(b) => {
                    self.scopes.push(HashMap::new());
                    self.walk(b, in_fn)?;
                    self.scopes.pop();
                }
                Statement::Inst(i) => {
                    let guard = match &i.guard {
                        None => Ok(None),
                        Some(g) => self.pred(&g.pred).map(|p| Some((p, g.negated))),
                    };
                    let op = guard.and_then(|g| self.inst(i).map(|op| (op, g)));
                    let (op, guard) = match op {
                        Ok(x) => x,
                        Err(error) => {
                            let idx = self.prog.diags.len() as u32;
                            self.prog.diags.push(Diagnostic {
                                line: i.line,
                                function: self.prog.funcs[self.fidx as usize].name.clone(),
                                error,
                            });
                            (Op::Illegal(idx), None)
                        }
                    };
                    self.prog.insts.push(Inst { op, guard });
                    self.prog.lines.push(i.line);
                    self.prog.func_of.push(self.fidx);
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub(super) fn var(
        &mut self,
        v: &VarDecl,
        in_fn: &mut dyn Iterator<Item = VarLoc>,
    ) -> Result<(), LoadError> {
        for dcl in &v.names {
            match v.space {
                StateSpace::Reg => {
                    let count = dcl.range.unwrap_or(1) as u64 * v.vector.unwrap_or(1) as u64;
                    if self.nregs as u64 + self.npreds as u64 + count > MAX_REGS as u64 {
                        return Err(LoadError::TooLarge {
                            what: format!("register file (declaration of `{}`)", dcl.name),
                        });
                    }
                    let names: Vec<String> = match dcl.range {
                        Some(n) => (0..n).map(|k| format!("{}{k}", dcl.name)).collect(),
                        None => vec![dcl.name.to_string()],
                    };
                    for name in names {
                        if v.ty == Type::Pred {
                            let p = self.new_pred();
                            self.declare(&name, Sym::Pred(p));
                        } else {
                            let n = v.vector.unwrap_or(1);
                            let r = self.new_regs(n as u32, v.ty);
                            self.declare(
                                &name,
                                Sym::Reg {
                                    r,
                                    ty: v.ty,
                                    len: n,
                                },
                            );
                        }
                    }
                }
                StateSpace::Local => {
                    let (size, align) = decl_layout(v, dcl);
                    let o = align_up(self.local, align);
                    self.local = o.saturating_add(size);
                    self.declare(&dcl.name, Sym::Var(VarLoc::Local(o)));
                }
                StateSpace::Param => {
                    let (size, align) = decl_layout(v, dcl);
                    let o = align_up(self.tparam, align);
                    self.tparam = o.saturating_add(size);
                    self.declare(&dcl.name, Sym::Var(VarLoc::TParam(o)));
                }
                StateSpace::Global | StateSpace::Const | StateSpace::Shared => {
                    let loc = in_fn.next().ok_or_else(|| LoadError::Invalid {
                        line: v.line,
                        message: "internal: function-scope variable not laid out".into(),
                    })?;
                    self.declare(&dcl.name, Sym::Var(loc));
                }
                _ => {}
            }
        }
        Ok(())
    }

    // ----- operands -------------------------------------------------------------

    pub(super) fn reg_of(&self, name: &str, comp: Option<Component>) -> DResult<(R, Type)> {
        match self.lookup(name) {
            Some(Sym::Reg { r, ty, len }) => {
                let c = comp.map(comp_index).unwrap_or(0);
                if comp.is_some() && c >= len {
                    return Err(invalid(format!("`{name}` has no component {c}")));
                }
                Ok((r + c as u32, ty))
            }
            Some(Sym::Pred(_)) => Err(invalid(format!(
                "predicate `{name}` used as a value register"
            ))),
            Some(_) => Err(not_a(name, "a register")),
            None => Err(undeclared("register", name)),
        }
    }

    pub(super) fn dst(&self, op: &Operand) -> DResult<R> {
        match op {
            Operand::Name { name, comp } => self.reg_of(name, *comp).map(|x| x.0),
            _ => Err(invalid("destination must be a register")),
        }
    }

    pub(super) fn dst_opt(&self, op: &Operand) -> DResult<Option<R>> {
        match op {
            Operand::Sink => Ok(None),
            o => self.dst(o).map(Some),
        }
    }

    pub(super) fn pred(&self, name: &str) -> DResult<P> {
        match self.lookup(name) {
            Some(Sym::Pred(p)) => Ok(p),
            Some(_) => Err(not_a(name, "a predicate register")),
            None => Err(undeclared("predicate", name)),
        }
    }

    pub(super) fn pdst(&self, op: &Operand) -> DResult<P> {
        match op {
            Operand::Name { name, comp: None } => self.pred(name),
            _ => Err(invalid("destination must be a predicate register")),
        }
    }

    pub(super) fn psrc(&self, op: &Operand) -> DResult<PSrc> {
        match op {
            Operand::Name { name, comp: None } => Ok(PSrc::Reg {
                p: self.pred(name)?,
                neg: false,
            }),
            Operand::Not(name) => Ok(PSrc::Reg {
                p: self.pred(name)?,
                neg: true,
            }),
            Operand::Imm(Imm::Int { value, .. }) => Ok(PSrc::Imm(*value != 0)),
            _ => Err(invalid("expected a predicate operand")),
        }
    }

    /// The address of a variable as a value in its own space (`mov r, var`).
    pub(super) fn var_value(&self, loc: VarLoc) -> DResult<u64> {
        Ok(match loc {
            VarLoc::Global(a) => a,
            VarLoc::Const(o) | VarLoc::Shared(o) | VarLoc::KParam(o) => o,
            VarLoc::Local(_) | VarLoc::TParam(_) => {
                return Err(invalid(
                    "address of a local or parameter variable used as an operand",
                ))
            }
        })
    }

    pub(super) fn src(&self, op: &Operand, ty: Type) -> DResult<Src> {
        match op {
            Operand::Name { name, comp } => {
                if name == "WARP_SZ" {
                    return Ok(Src::Imm(32));
                }
                match self.lookup(name) {
                    Some(Sym::Reg { .. }) => Ok(Src::Reg(self.reg_of(name, *comp)?.0)),
                    Some(Sym::Var(loc)) => Ok(Src::Imm(self.var_value(loc)?)),
                    Some(Sym::Func(i)) => Ok(Src::Imm(FUNC_BASE + 16 * i as u64)),
                    Some(Sym::Pred(_)) => {
                        Err(invalid(format!("predicate `{name}` used as a value")))
                    }
                    None if ptx::is_special_register(name) => Err(invalid(format!(
                        "special register `{name}` as an operand is only supported in mov"
                    ))),
                    None => Err(undeclared("name", name)),
                }
            }
            Operand::Imm(imm) => Ok(Src::Imm(imm_bits(imm, ty))),
            Operand::SymOffset { name, offset } => match self.lookup(name) {
                Some(Sym::Var(loc)) => {
                    Ok(Src::Imm(self.var_value(loc)?.wrapping_add(*offset as u64)))
                }
                Some(Sym::Reg { .. }) => Ok(Src::RegOff(self.reg_of(name, None)?.0, *offset)),
                _ => Err(not_a(name, "a variable")),
            },
            _ => Err(invalid("unexpected operand form")),
        }
    }

    pub(super) fn addr(&self, op: &Operand, space: Space) -> DResult<Addr> {
        let Operand::Addr(a) = op else {
            return Err(invalid("expected an address operand `[...]`"));
        };
        let off = a.offset;
        let base = match &a.base {
            AddrBase::Imm(x) => ABase::Abs(*x),
            AddrBase::Name(name) => match self.lookup(name) {
                Some(Sym::Reg { r, ty, .. }) => ABase::Reg {
                    r,
                    narrow: ty.size() <= 4,
                },
                Some(Sym::Var(loc)) => match (loc, space) {
                    (VarLoc::Global(a), Space::Global | Space::Generic) => ABase::Abs(a),
                    (VarLoc::Shared(o), Space::Shared) => ABase::Abs(o),
                    (VarLoc::Shared(o), Space::Generic) => ABase::Abs(SHARED_WINDOW + o),
                    (VarLoc::Const(o), Space::Const) => ABase::Abs(o),
                    (VarLoc::Const(o), Space::Generic) => ABase::Abs(CONST_WINDOW + o),
                    (VarLoc::KParam(o), Space::Param) => ABase::Abs(o),
                    (VarLoc::KParam(o), Space::Generic) => ABase::Abs(PARAM_WINDOW + o),
                    (VarLoc::Local(o), Space::Local | Space::Generic) => {
                        return Ok(Addr {
                            base: ABase::LocalFrame,
                            off: (o as i64).wrapping_add(off),
                        })
                    }
                    (VarLoc::TParam(o), Space::Param) => {
                        return Ok(Addr {
                            base: ABase::ParamFrame,
                            off: (o as i64).wrapping_add(off),
                        })
                    }
                    (loc, space) => {
                        return Err(invalid(format!(
                            "variable `{name}` ({loc:?}) accessed in the {space:?} space"
                        )))
                    }
                },
                Some(_) => return Err(not_a(name, "a register or variable (in an address)")),
                None => return Err(undeclared("name (in an address)", name)),
            },
        };
        Ok(Addr { base, off })
    }

    pub(super) fn label(&self, op: &Operand) -> DResult<u32> {
        match op {
            Operand::Name { name, comp: None } => self
                .labels
                .get(name.as_str())
                .copied()
                .ok_or_else(|| undeclared("label", name)),
            _ => Err(invalid("expected a label")),
        }
    }

    pub(super) fn ops<'i>(&self, i: &'i Instruction, n: usize) -> DResult<&'i [Operand]> {
        if i.operands.len() < n {
            return Err(DecodeError::OperandCount {
                opcode: i.opcode.name().to_string(),
                needed: n,
                got: i.operands.len(),
            });
        }
        Ok(&i.operands)
    }

    pub(super) fn ty(&self, i: &Instruction) -> DResult<Type> {
        i.ty()
            .ok_or_else(|| invalid(format!("`{}` has no type modifier", i.opcode.name())))
    }

    pub(super) fn ity(&self, i: &Instruction) -> DResult<IT> {
        let t = self.ty(i)?;
        int_ty(t).ok_or_else(|| DecodeError::UnsupportedType {
            opcode: i.opcode.name().to_string(),
            ty: t.name(),
        })
    }
}
