//! Decoding one function: scopes, registers, labels, and every instruction.

use super::*;
use crate::float::Rnd;
use ptx::{AddrBase, Component, Function, Imm, Instruction, Opcode, Operand};

type DResult<T> = Result<T, String>;

/// Largest per-thread `.param` space of a function (its parameters and call-site
/// `.param` variables).
const MAX_PARAM_FRAME: u32 = 64 * 1024;

/// Most registers a function may declare.
const MAX_REGS: u32 = 1 << 16;

/// Largest local memory of one function per thread (as on NVIDIA GPUs).
const MAX_LOCAL_FRAME: u32 = 512 * 1024;

/// Decodes the body of one function into `prog`.
pub(crate) struct FnDecoder<'a> {
    prog: &'a mut Program,
    fidx: u32,
    module_scope: &'a HashMap<String, Sym>,
    scopes: Vec<HashMap<String, Sym>>,
    labels: HashMap<String, u32>,
    branch_tables: HashMap<String, Vec<String>>,
    nregs: u32,
    npreds: u32,
    local: u64,
    tparam: u64,
    reg_ty: Vec<Type>,
    cc: P,
    is_kernel: bool,
    callees: Vec<u32>,
    calls_indirect: bool,
}

fn comp_index(c: Component) -> u8 {
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

fn float_ty(t: Type) -> Option<FT> {
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

fn value_ty(t: Type) -> Option<VT> {
    int_ty(t).map(VT::I).or_else(|| float_ty(t).map(VT::F))
}

fn rnd_of(i: &Instruction) -> Option<Rnd> {
    i.modifiers.iter().find_map(|m| match m {
        "rn" => Some(Rnd::Rn),
        "rz" => Some(Rnd::Rz),
        "rm" => Some(Rnd::Rm),
        "rp" => Some(Rnd::Rp),
        "rna" => Some(Rnd::Rna),
        _ => None,
    })
}

fn irnd_of(i: &Instruction) -> Option<IRnd> {
    i.modifiers.iter().find_map(|m| match m {
        "rni" => Some(IRnd::Rni),
        "rzi" => Some(IRnd::Rzi),
        "rmi" => Some(IRnd::Rmi),
        "rpi" => Some(IRnd::Rpi),
        _ => None,
    })
}

fn space_of(i: &Instruction) -> Space {
    match i.space() {
        Some(StateSpace::Global) => Space::Global,
        Some(StateSpace::Shared) => Space::Shared,
        Some(StateSpace::Local) => Space::Local,
        Some(StateSpace::Const) => Space::Const,
        Some(StateSpace::Param) => Space::Param,
        _ => Space::Generic,
    }
}

fn cmp_of(i: &Instruction) -> Option<Cmp> {
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

fn boolop_of(i: &Instruction) -> Option<BoolOp> {
    i.modifiers.iter().find_map(|m| match m {
        "and" => Some(BoolOp::And),
        "or" => Some(BoolOp::Or),
        "xor" => Some(BoolOp::Xor),
        _ => None,
    })
}

fn sreg_of(name: &str, comp: Option<Component>) -> DResult<Sreg> {
    let c = comp.map(comp_index).unwrap_or(0);
    let need = |s: fn(u8) -> Sreg| -> DResult<Sreg> {
        match comp {
            Some(_) if c < 3 => Ok(s(c)),
            _ => Err(format!(
                "special register `{name}` needs a .x, .y or .z component"
            )),
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
        _ => return Err(format!("special register `{name}` is not supported")),
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

    fn new_pred(&mut self) -> P {
        self.npreds += 1;
        self.npreds - 1
    }

    fn new_regs(&mut self, n: u32, ty: Type) -> R {
        let r = self.nregs;
        self.nregs += n;
        for _ in 0..n {
            self.reg_ty.push(ty);
        }
        r
    }

    fn declare(&mut self, name: &str, s: Sym) {
        if let Some(top) = self.scopes.last_mut() {
            top.insert(name.to_string(), s);
        }
    }

    fn lookup(&self, name: &str) -> Option<Sym> {
        for s in self.scopes.iter().rev() {
            if let Some(x) = s.get(name) {
                return Some(*x);
            }
        }
        self.module_scope.get(name).copied()
    }

    fn collect_labels(
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

    fn walk(
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
                        Err(message) => {
                            let idx = self.prog.diags.len() as u32;
                            self.prog.diags.push(Diagnostic {
                                line: i.line,
                                function: self.prog.funcs[self.fidx as usize].name.clone(),
                                message,
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

    fn var(
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

    fn reg_of(&self, name: &str, comp: Option<Component>) -> DResult<(R, Type)> {
        match self.lookup(name) {
            Some(Sym::Reg { r, ty, len }) => {
                let c = comp.map(comp_index).unwrap_or(0);
                if comp.is_some() && c >= len {
                    return Err(format!("`{name}` has no component {c}"));
                }
                Ok((r + c as u32, ty))
            }
            Some(Sym::Pred(_)) => Err(format!("predicate `{name}` used as a value register")),
            Some(_) => Err(format!("`{name}` is not a register")),
            None => Err(format!("undeclared register `{name}`")),
        }
    }

    fn dst(&self, op: &Operand) -> DResult<R> {
        match op {
            Operand::Name { name, comp } => self.reg_of(name, *comp).map(|x| x.0),
            _ => Err("destination must be a register".into()),
        }
    }

    fn dst_opt(&self, op: &Operand) -> DResult<Option<R>> {
        match op {
            Operand::Sink => Ok(None),
            o => self.dst(o).map(Some),
        }
    }

    fn pred(&self, name: &str) -> DResult<P> {
        match self.lookup(name) {
            Some(Sym::Pred(p)) => Ok(p),
            Some(_) => Err(format!("`{name}` is not a predicate register")),
            None => Err(format!("undeclared predicate `{name}`")),
        }
    }

    fn pdst(&self, op: &Operand) -> DResult<P> {
        match op {
            Operand::Name { name, comp: None } => self.pred(name),
            _ => Err("destination must be a predicate register".into()),
        }
    }

    fn psrc(&self, op: &Operand) -> DResult<PSrc> {
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
            _ => Err("expected a predicate operand".into()),
        }
    }

    /// The address of a variable as a value in its own space (`mov r, var`).
    fn var_value(&self, loc: VarLoc) -> DResult<u64> {
        Ok(match loc {
            VarLoc::Global(a) => a,
            VarLoc::Const(o) | VarLoc::Shared(o) | VarLoc::KParam(o) => o,
            VarLoc::Local(_) | VarLoc::TParam(_) => {
                return Err("address of a local or parameter variable used as an operand".into())
            }
        })
    }

    fn src(&self, op: &Operand, ty: Type) -> DResult<Src> {
        match op {
            Operand::Name { name, comp } => {
                if name == "WARP_SZ" {
                    return Ok(Src::Imm(32));
                }
                match self.lookup(name) {
                    Some(Sym::Reg { .. }) => Ok(Src::Reg(self.reg_of(name, *comp)?.0)),
                    Some(Sym::Var(loc)) => Ok(Src::Imm(self.var_value(loc)?)),
                    Some(Sym::Func(i)) => Ok(Src::Imm(FUNC_BASE + 16 * i as u64)),
                    Some(Sym::Pred(_)) => Err(format!("predicate `{name}` used as a value")),
                    None if ptx::is_special_register(name) => Err(format!(
                        "special register `{name}` as an operand is only supported in mov"
                    )),
                    None => Err(format!("undeclared name `{name}`")),
                }
            }
            Operand::Imm(imm) => Ok(Src::Imm(imm_bits(imm, ty))),
            Operand::SymOffset { name, offset } => match self.lookup(name) {
                Some(Sym::Var(loc)) => {
                    Ok(Src::Imm(self.var_value(loc)?.wrapping_add(*offset as u64)))
                }
                Some(Sym::Reg { .. }) => Ok(Src::RegOff(self.reg_of(name, None)?.0, *offset)),
                _ => Err(format!("`{name}` is not a variable")),
            },
            _ => Err("unexpected operand form".into()),
        }
    }

    fn addr(&self, op: &Operand, space: Space) -> DResult<Addr> {
        let Operand::Addr(a) = op else {
            return Err("expected an address operand `[...]`".into());
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
                        return Err(format!(
                            "variable `{name}` ({loc:?}) accessed in the {space:?} space"
                        ))
                    }
                },
                Some(_) => return Err(format!("`{name}` cannot be used as an address")),
                None => return Err(format!("undeclared name `{name}` in an address")),
            },
        };
        Ok(Addr { base, off })
    }

    fn label(&self, op: &Operand) -> DResult<u32> {
        match op {
            Operand::Name { name, comp: None } => self
                .labels
                .get(name.as_str())
                .copied()
                .ok_or_else(|| format!("unknown label `{name}`")),
            _ => Err("expected a label".into()),
        }
    }

    fn ops<'i>(&self, i: &'i Instruction, n: usize) -> DResult<&'i [Operand]> {
        if i.operands.len() < n {
            return Err(format!(
                "`{}` needs {n} operands, has {}",
                i.opcode.name(),
                i.operands.len()
            ));
        }
        Ok(&i.operands)
    }

    fn ty(&self, i: &Instruction) -> DResult<Type> {
        i.ty()
            .ok_or_else(|| format!("`{}` has no type modifier", i.opcode.name()))
    }

    fn ity(&self, i: &Instruction) -> DResult<IT> {
        let t = self.ty(i)?;
        int_ty(t).ok_or_else(|| {
            format!(
                "`{}` with type .{} is not supported",
                i.opcode.name(),
                t.name()
            )
        })
    }

    // ----- instructions -----------------------------------------------------------

    fn inst(&mut self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        match &i.opcode {
            Opcode::Add | Opcode::Sub => {
                let o = self.ops(i, 3)?;
                let t = self.ty(i)?;
                let sub = i.opcode == Opcode::Sub;
                let d = self.dst(&o[0])?;
                let (a, b) = (self.src(&o[1], t)?, self.src(&o[2], t)?);
                if let Some(ft) = float_ty(t) {
                    return Ok(Op::FBin {
                        op: if sub { FBin::Sub } else { FBin::Add },
                        t: ft,
                        rnd: rnd_of(i).unwrap_or(Rnd::Rn),
                        ftz: has("ftz"),
                        sat: has("sat"),
                        d,
                        a,
                        b,
                    });
                }
                let it = self.ity(i)?;
                if has("cc") {
                    return self.carry(sub, false, true, it, d, a, b);
                }
                let op = match (sub, has("sat")) {
                    (false, false) => IBin::Add,
                    (true, false) => IBin::Sub,
                    (false, true) => IBin::AddSat,
                    (true, true) => IBin::SubSat,
                };
                if has("sat") && it != IT::S32 {
                    return Err("saturating integer add/sub is only defined for .s32".into());
                }
                Ok(Op::IBin { op, t: it, d, a, b })
            }
            Opcode::Addc | Opcode::Subc => {
                let o = self.ops(i, 3)?;
                let it = self.ity(i)?;
                let t = self.ty(i)?;
                let d = self.dst(&o[0])?;
                let (a, b) = (self.src(&o[1], t)?, self.src(&o[2], t)?);
                self.carry(i.opcode == Opcode::Subc, true, has("cc"), it, d, a, b)
            }
            Opcode::Mul => {
                let o = self.ops(i, 3)?;
                let t = self.ty(i)?;
                let d = self.dst(&o[0])?;
                let (a, b) = (self.src(&o[1], t)?, self.src(&o[2], t)?);
                if let Some(ft) = float_ty(t) {
                    return Ok(Op::FBin {
                        op: FBin::Mul,
                        t: ft,
                        rnd: rnd_of(i).unwrap_or(Rnd::Rn),
                        ftz: has("ftz"),
                        sat: has("sat"),
                        d,
                        a,
                        b,
                    });
                }
                let it = self.ity(i)?;
                let op = if has("hi") {
                    IBin::MulHi
                } else if has("wide") {
                    if it.bits() == 64 {
                        return Err("mul.wide is not defined for 64-bit types".into());
                    }
                    IBin::MulWide
                } else {
                    IBin::MulLo
                };
                Ok(Op::IBin { op, t: it, d, a, b })
            }
            Opcode::Mul24 | Opcode::Mad24 => {
                let mad = i.opcode == Opcode::Mad24;
                let o = self.ops(i, if mad { 4 } else { 3 })?;
                let it = self.ity(i)?;
                if it.bits() != 32 {
                    return Err("mul24/mad24 are defined for 32-bit types".into());
                }
                let t = self.ty(i)?;
                let d = self.dst(&o[0])?;
                let (a, b) = (self.src(&o[1], t)?, self.src(&o[2], t)?);
                let hi = has("hi");
                if mad {
                    let c = self.src(&o[3], t)?;
                    Ok(Op::ITer {
                        op: if hi { ITer::Mad24Hi } else { ITer::Mad24Lo },
                        t: it,
                        d,
                        a,
                        b,
                        c,
                    })
                } else {
                    Ok(Op::IBin {
                        op: if hi { IBin::Mul24Hi } else { IBin::Mul24Lo },
                        t: it,
                        d,
                        a,
                        b,
                    })
                }
            }
            Opcode::Mad | Opcode::Fma | Opcode::Madc => {
                let o = self.ops(i, 4)?;
                let t = self.ty(i)?;
                let d = self.dst(&o[0])?;
                let (a, b, c) = (
                    self.src(&o[1], t)?,
                    self.src(&o[2], t)?,
                    self.src(&o[3], t)?,
                );
                if let Some(ft) = float_ty(t) {
                    return Ok(Op::Fma {
                        t: ft,
                        rnd: rnd_of(i).unwrap_or(Rnd::Rn),
                        ftz: has("ftz"),
                        sat: has("sat"),
                        relu: has("relu"),
                        d,
                        a,
                        b,
                        c,
                    });
                }
                let it = self.ity(i)?;
                let madc = i.opcode == Opcode::Madc;
                if madc || has("cc") {
                    if it.bits() < 32 {
                        return Err("mad with carry is defined for 32- and 64-bit types".into());
                    }
                    return Ok(Op::MadCarry {
                        hi: has("hi"),
                        cin: madc,
                        cout: has("cc"),
                        wide: it.bits() == 64,
                        signed: it.signed(),
                        d,
                        a,
                        b,
                        c,
                        cc: self.cc,
                    });
                }
                let op = if has("hi") {
                    ITer::MadHi
                } else if has("wide") {
                    if it.bits() == 64 {
                        return Err("mad.wide is not defined for 64-bit types".into());
                    }
                    ITer::MadWide
                } else {
                    ITer::MadLo
                };
                Ok(Op::ITer {
                    op,
                    t: it,
                    d,
                    a,
                    b,
                    c,
                })
            }
            Opcode::Sad => {
                let o = self.ops(i, 4)?;
                let it = self.ity(i)?;
                let t = self.ty(i)?;
                Ok(Op::ITer {
                    op: ITer::Sad,
                    t: it,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                    b: self.src(&o[2], t)?,
                    c: self.src(&o[3], t)?,
                })
            }
            Opcode::Div | Opcode::Rem | Opcode::Min | Opcode::Max | Opcode::Copysign => {
                let o = self.ops(i, 3)?;
                let t = self.ty(i)?;
                let d = self.dst(&o[0])?;
                let (a, b) = (self.src(&o[1], t)?, self.src(&o[2], t)?);
                if let Some(ft) = float_ty(t) {
                    let op = match &i.opcode {
                        Opcode::Div if has("approx") => FBin::DivApprox,
                        Opcode::Div => FBin::Div,
                        Opcode::Min if has("NaN") => FBin::MinNan,
                        Opcode::Max if has("NaN") => FBin::MaxNan,
                        Opcode::Min => FBin::Min,
                        Opcode::Max => FBin::Max,
                        Opcode::Copysign => FBin::Copysign,
                        _ => return Err("rem is not defined for floating-point types".into()),
                    };
                    if has("xorsign") || has("abs") {
                        return Err("min/max .xorsign.abs is not supported".into());
                    }
                    return Ok(Op::FBin {
                        op,
                        t: ft,
                        rnd: rnd_of(i).unwrap_or(Rnd::Rn),
                        ftz: has("ftz"),
                        sat: false,
                        d,
                        a,
                        b,
                    });
                }
                let it = self.ity(i)?;
                let op = match &i.opcode {
                    Opcode::Div => IBin::Div,
                    Opcode::Rem => IBin::Rem,
                    Opcode::Min => IBin::Min,
                    Opcode::Max => IBin::Max,
                    _ => return Err("copysign is defined for floating-point types".into()),
                };
                if has("relu") {
                    return Err("min/max .relu is not supported".into());
                }
                Ok(Op::IBin { op, t: it, d, a, b })
            }
            Opcode::Abs | Opcode::Neg => {
                let o = self.ops(i, 2)?;
                let t = self.ty(i)?;
                let d = self.dst(&o[0])?;
                let a = self.src(&o[1], t)?;
                let neg = i.opcode == Opcode::Neg;
                if let Some(ft) = float_ty(t) {
                    return Ok(Op::FUn {
                        op: if neg { FUn::Neg } else { FUn::Abs },
                        t: ft,
                        rnd: Rnd::Rn,
                        ftz: has("ftz"),
                        sat: false,
                        d,
                        a,
                    });
                }
                Ok(Op::IUn {
                    op: if neg { IUn::Neg } else { IUn::Abs },
                    t: self.ity(i)?,
                    d,
                    a,
                })
            }
            Opcode::Popc | Opcode::Clz | Opcode::Brev | Opcode::Bfind | Opcode::Cnot => {
                let o = self.ops(i, 2)?;
                let it = self.ity(i)?;
                let t = self.ty(i)?;
                let op = match &i.opcode {
                    Opcode::Popc => IUn::Popc,
                    Opcode::Clz => IUn::Clz,
                    Opcode::Brev => IUn::Brev,
                    Opcode::Bfind if has("shiftamt") => IUn::BfindShiftAmt,
                    Opcode::Bfind => IUn::Bfind,
                    _ => IUn::Cnot,
                };
                Ok(Op::IUn {
                    op,
                    t: it,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                })
            }
            Opcode::Not => {
                let o = self.ops(i, 2)?;
                let t = self.ty(i)?;
                if t == Type::Pred {
                    return Ok(Op::PredNot {
                        d: self.pdst(&o[0])?,
                        a: self.psrc(&o[1])?,
                    });
                }
                Ok(Op::IUn {
                    op: IUn::Not,
                    t: self.ity(i)?,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                })
            }
            Opcode::And | Opcode::Or | Opcode::Xor => {
                let o = self.ops(i, 3)?;
                let t = self.ty(i)?;
                if t == Type::Pred {
                    return Ok(Op::PredBin {
                        op: match &i.opcode {
                            Opcode::And => BoolOp::And,
                            Opcode::Or => BoolOp::Or,
                            _ => BoolOp::Xor,
                        },
                        d: self.pdst(&o[0])?,
                        a: self.psrc(&o[1])?,
                        b: self.psrc(&o[2])?,
                    });
                }
                Ok(Op::IBin {
                    op: match &i.opcode {
                        Opcode::And => IBin::And,
                        Opcode::Or => IBin::Or,
                        _ => IBin::Xor,
                    },
                    t: self.ity(i)?.unsigned(),
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                    b: self.src(&o[2], t)?,
                })
            }
            Opcode::Shl | Opcode::Shr => {
                let o = self.ops(i, 3)?;
                let it = self.ity(i)?;
                let t = self.ty(i)?;
                Ok(Op::IBin {
                    op: if i.opcode == Opcode::Shl {
                        IBin::Shl
                    } else {
                        IBin::Shr
                    },
                    t: it,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                    b: self.src(&o[2], Type::U32)?,
                })
            }
            Opcode::Bfe => {
                let o = self.ops(i, 4)?;
                let it = self.ity(i)?;
                let t = self.ty(i)?;
                Ok(Op::ITer {
                    op: ITer::Bfe,
                    t: it,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                    b: self.src(&o[2], Type::U32)?,
                    c: self.src(&o[3], Type::U32)?,
                })
            }
            Opcode::Bfi => {
                let o = self.ops(i, 5)?;
                let it = self.ity(i)?;
                let t = self.ty(i)?;
                Ok(Op::Bfi {
                    t: it,
                    d: self.dst(&o[0])?,
                    f: self.src(&o[1], t)?,
                    b: self.src(&o[2], t)?,
                    pos: self.src(&o[3], Type::U32)?,
                    len: self.src(&o[4], Type::U32)?,
                })
            }
            Opcode::Bmsk | Opcode::Szext => {
                let o = self.ops(i, 3)?;
                let it = self.ity(i)?;
                let wrap = has("wrap");
                let op = match (i.opcode == Opcode::Bmsk, wrap) {
                    (true, false) => IBin::BmskClamp,
                    (true, true) => IBin::BmskWrap,
                    (false, false) => IBin::SzextClamp,
                    (false, true) => IBin::SzextWrap,
                };
                Ok(Op::IBin {
                    op,
                    t: it,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], Type::U32)?,
                    b: self.src(&o[2], Type::U32)?,
                })
            }
            Opcode::Dp4a | Opcode::Dp2a => {
                let o = self.ops(i, 4)?;
                let ts: Vec<Type> = i.types().collect();
                if ts.len() != 2 {
                    return Err("dp4a/dp2a need two types".into());
                }
                let four = i.opcode == Opcode::Dp4a;
                let (sa, sb) = (ts[0].is_signed(), ts[1].is_signed());
                let ct = if sa || sb { Type::S32 } else { Type::U32 };
                Ok(Op::Dp {
                    four,
                    hi: has("hi"),
                    sa,
                    sb,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], ts[0])?,
                    b: self.src(&o[2], ts[1])?,
                    c: self.src(&o[3], ct)?,
                })
            }
            Opcode::Lop3 => {
                let o = self.ops(i, 5)?;
                if i.operands.len() != 5 {
                    return Err("lop3 with a predicate output is not supported".into());
                }
                let lut = match &o[4] {
                    Operand::Imm(imm) => imm.bits() as u8,
                    _ => return Err("lop3 needs an immediate lookup table".into()),
                };
                Ok(Op::Lop3 {
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], Type::B32)?,
                    b: self.src(&o[2], Type::B32)?,
                    c: self.src(&o[3], Type::B32)?,
                    lut,
                })
            }
            Opcode::Shf => {
                let o = self.ops(i, 4)?;
                let op = match (has("l"), has("wrap")) {
                    (true, false) => ITer::ShfLClamp,
                    (true, true) => ITer::ShfLWrap,
                    (false, false) => ITer::ShfRClamp,
                    (false, true) => ITer::ShfRWrap,
                };
                Ok(Op::ITer {
                    op,
                    t: IT::U32,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], Type::B32)?,
                    b: self.src(&o[2], Type::B32)?,
                    c: self.src(&o[3], Type::U32)?,
                })
            }
            Opcode::Prmt => {
                let o = self.ops(i, 4)?;
                let op = if has("f4e") {
                    ITer::PrmtF4e
                } else if has("b4e") {
                    ITer::PrmtB4e
                } else if has("rc8") {
                    ITer::PrmtRc8
                } else if has("ecl") {
                    ITer::PrmtEcl
                } else if has("ecr") {
                    ITer::PrmtEcr
                } else if has("rc16") {
                    ITer::PrmtRc16
                } else {
                    ITer::Prmt
                };
                Ok(Op::ITer {
                    op,
                    t: IT::U32,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], Type::B32)?,
                    b: self.src(&o[2], Type::B32)?,
                    c: self.src(&o[3], Type::B32)?,
                })
            }
            Opcode::Rcp
            | Opcode::Sqrt
            | Opcode::Rsqrt
            | Opcode::Sin
            | Opcode::Cos
            | Opcode::Lg2
            | Opcode::Ex2
            | Opcode::Tanh => {
                let o = self.ops(i, 2)?;
                let t = self.ty(i)?;
                let ft = float_ty(t).ok_or("floating-point type expected")?;
                let approx = has("approx");
                let op = match &i.opcode {
                    Opcode::Rcp if approx => FUn::RcpApprox,
                    Opcode::Rcp => FUn::Rcp,
                    Opcode::Sqrt if approx => FUn::SqrtApprox,
                    Opcode::Sqrt => FUn::Sqrt,
                    Opcode::Rsqrt => FUn::Rsqrt,
                    Opcode::Sin => FUn::Sin,
                    Opcode::Cos => FUn::Cos,
                    Opcode::Lg2 => FUn::Lg2,
                    Opcode::Ex2 => FUn::Ex2,
                    _ => FUn::Tanh,
                };
                Ok(Op::FUn {
                    op,
                    t: ft,
                    rnd: rnd_of(i).unwrap_or(Rnd::Rn),
                    ftz: has("ftz"),
                    sat: false,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                })
            }
            Opcode::Testp => {
                let o = self.ops(i, 2)?;
                let t = self.ty(i)?;
                let op = [
                    "finite",
                    "infinite",
                    "number",
                    "notanumber",
                    "normal",
                    "subnormal",
                ]
                .iter()
                .position(|m| has(m))
                .ok_or("testp needs an operation")? as u8;
                if !matches!(t, Type::F32 | Type::F64) {
                    return Err("testp is defined for .f32 and .f64".into());
                }
                Ok(Op::Testp {
                    op,
                    wide: t == Type::F64,
                    d: self.pdst(&o[0])?,
                    a: self.src(&o[1], t)?,
                })
            }
            Opcode::Setp => {
                let o = self.ops(i, 3)?;
                let t = self.ty(i)?;
                let vt = value_ty(t).ok_or("setp needs an integer or float type")?;
                let cmp = cmp_of(i).ok_or("setp needs a comparison")?;
                let (d, dn) = match &o[0] {
                    Operand::Pair(p, q) => (self.pred(p)?, Some(self.pred(q)?)),
                    x => (self.pdst(x)?, None),
                };
                let comb = match boolop_of(i) {
                    Some(b) => Some((
                        b,
                        self.psrc(
                            o.get(3)
                                .ok_or("setp with a combine op needs a predicate c")?,
                        )?,
                    )),
                    None => None,
                };
                Ok(Op::Setp {
                    cmp,
                    t: vt,
                    ftz: has("ftz"),
                    d,
                    dn,
                    a: self.src(&o[1], t)?,
                    b: self.src(&o[2], t)?,
                    comb,
                })
            }
            Opcode::Set => {
                let o = self.ops(i, 3)?;
                let ts: Vec<Type> = i.types().collect();
                if ts.len() != 2 {
                    return Err("set needs a destination and a source type".into());
                }
                let st = ts[1];
                let vt = value_ty(st).ok_or("set needs an integer or float source type")?;
                let cmp = cmp_of(i).ok_or("set needs a comparison")?;
                let packed = matches!(st, Type::F16x2 | Type::Bf16x2);
                let dt = match (ts[0], packed) {
                    (Type::U32 | Type::S32 | Type::B32, false) => SetDst::Mask32,
                    (Type::F32, false) => SetDst::F32,
                    (Type::F16, false) => SetDst::F16,
                    (Type::Bf16, false) => SetDst::Bf16,
                    (Type::U32 | Type::S32 | Type::B32, true) => SetDst::Mask16x2,
                    (Type::F16x2, true) => SetDst::F16x2,
                    (Type::Bf16x2, true) => SetDst::Bf16x2,
                    (t, _) => return Err(format!("set with destination type .{}", t.name())),
                };
                let comb = match boolop_of(i) {
                    Some(b) => Some((
                        b,
                        self.psrc(
                            o.get(3)
                                .ok_or("set with a combine op needs a predicate c")?,
                        )?,
                    )),
                    None => None,
                };
                Ok(Op::Set {
                    cmp,
                    t: vt,
                    ftz: has("ftz"),
                    dt,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], st)?,
                    b: self.src(&o[2], st)?,
                    comb,
                })
            }
            Opcode::Selp => {
                let o = self.ops(i, 4)?;
                let t = self.ty(i)?;
                Ok(Op::Selp {
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                    b: self.src(&o[2], t)?,
                    p: self.psrc(&o[3])?,
                })
            }
            Opcode::Slct => {
                let o = self.ops(i, 4)?;
                let ts: Vec<Type> = i.types().collect();
                if ts.len() != 2 {
                    return Err("slct needs two types".into());
                }
                Ok(Op::Slct {
                    float_c: ts[1] == Type::F32,
                    ftz: has("ftz"),
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], ts[0])?,
                    b: self.src(&o[2], ts[0])?,
                    c: self.src(&o[3], ts[1])?,
                })
            }
            Opcode::Mov => self.mov(i),
            Opcode::Cvt => self.cvt(i),
            Opcode::Cvta => {
                let o = self.ops(i, 2)?;
                let to = has("to");
                let space = match space_of(i) {
                    Space::Generic => return Err("cvta needs a state space".into()),
                    s => s,
                };
                let t = self.ty(i).unwrap_or(Type::U64);
                Ok(Op::Cvta {
                    to,
                    space,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                })
            }
            Opcode::Isspacep => {
                let o = self.ops(i, 2)?;
                Ok(Op::Isspacep {
                    space: space_of(i),
                    d: self.pdst(&o[0])?,
                    a: self.src(&o[1], Type::U64)?,
                })
            }
            Opcode::Ld | Opcode::Ldu => self.ld(i),
            Opcode::St => self.st(i),
            Opcode::Atom | Opcode::Red => self.atom(i),
            Opcode::Cp => self.cp(i),
            Opcode::Ldmatrix => self.ldmatrix(i),
            Opcode::Mma => self.mma(i),
            Opcode::Shfl => {
                let sync = has("sync");
                let o = self.ops(i, if sync { 5 } else { 4 })?;
                let mode = if has("up") {
                    ShflMode::Up
                } else if has("down") {
                    ShflMode::Down
                } else if has("bfly") {
                    ShflMode::Bfly
                } else if has("idx") {
                    ShflMode::Idx
                } else {
                    return Err("shfl needs a mode".into());
                };
                let (d, dp) = match &o[0] {
                    Operand::Pair(r, p) => (self.reg_of(r, None)?.0, Some(self.pred(p)?)),
                    x => (self.dst(x)?, None),
                };
                Ok(Op::Shfl {
                    mode,
                    d,
                    dp,
                    a: self.src(&o[1], Type::B32)?,
                    b: self.src(&o[2], Type::B32)?,
                    c: self.src(&o[3], Type::B32)?,
                    mask: if sync {
                        self.src(&o[4], Type::B32)?
                    } else {
                        Src::Imm(0)
                    },
                })
            }
            Opcode::Vote => {
                let sync = has("sync");
                let o = self.ops(i, if sync { 3 } else { 2 })?;
                let mode = if has("all") {
                    VoteMode::All
                } else if has("any") {
                    VoteMode::Any
                } else if has("uni") {
                    VoteMode::Uni
                } else if has("ballot") {
                    VoteMode::Ballot
                } else {
                    return Err("vote needs a mode".into());
                };
                let d = if mode == VoteMode::Ballot {
                    VoteDst::Reg(self.dst(&o[0])?)
                } else {
                    VoteDst::Pred(self.pdst(&o[0])?)
                };
                Ok(Op::Vote {
                    mode,
                    d,
                    a: self.psrc(&o[1])?,
                    mask: if sync {
                        self.src(&o[2], Type::B32)?
                    } else {
                        Src::Imm(0)
                    },
                })
            }
            Opcode::Match => {
                let o = self.ops(i, 3)?;
                let t = self.ty(i)?;
                let (d, dp) = match &o[0] {
                    Operand::Pair(r, p) => (self.reg_of(r, None)?.0, Some(self.pred(p)?)),
                    x => (self.dst(x)?, None),
                };
                Ok(Op::Match {
                    all: has("all"),
                    wide: t.size() == 8,
                    d,
                    dp,
                    a: self.src(&o[1], t)?,
                    mask: self.src(&o[2], Type::B32)?,
                })
            }
            Opcode::Redux => {
                let o = self.ops(i, 3)?;
                let t = self.ty(i)?;
                let op = if has("add") {
                    ReduxOp::Add
                } else if has("min") {
                    ReduxOp::Min
                } else if has("max") {
                    ReduxOp::Max
                } else if has("and") {
                    ReduxOp::And
                } else if has("or") {
                    ReduxOp::Or
                } else if has("xor") {
                    ReduxOp::Xor
                } else {
                    return Err("redux needs an operation".into());
                };
                if t.size() != 4 || t.is_float() {
                    return Err(format!(
                        "redux.sync with type .{} is not supported",
                        t.name()
                    ));
                }
                Ok(Op::Redux {
                    op,
                    signed: t.is_signed(),
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], t)?,
                    mask: self.src(&o[2], Type::B32)?,
                })
            }
            Opcode::Activemask => {
                let o = self.ops(i, 1)?;
                Ok(Op::Activemask {
                    d: self.dst(&o[0])?,
                })
            }
            Opcode::Bar | Opcode::Barrier => self.bar(i),
            Opcode::Membar
            | Opcode::Fence
            | Opcode::Nanosleep
            | Opcode::Prefetch
            | Opcode::Prefetchu
            | Opcode::Discard
            | Opcode::Applypriority
            | Opcode::Griddepcontrol
            | Opcode::Pmevent => Ok(Op::Nop),
            Opcode::Createpolicy => {
                let o = self.ops(i, 1)?;
                // An opaque cache policy; any value is as good as another.
                Ok(Op::Mov {
                    d: self.dst(&o[0])?,
                    a: Src::Imm(0x1000_0000_0000_0000),
                })
            }
            Opcode::Bra => {
                let o = self.ops(i, 1)?;
                Ok(Op::Bra {
                    target: self.label(&o[0])?,
                })
            }
            Opcode::Brx => {
                let o = self.ops(i, 2)?;
                if !has("idx") {
                    return Err("brx without .idx".into());
                }
                let Operand::Name { name, .. } = &o[1] else {
                    return Err("brx.idx needs a .branchtargets label".into());
                };
                let table = self
                    .branch_tables
                    .get(name.as_str())
                    .ok_or_else(|| format!("no .branchtargets list at `{name}`"))?;
                let targets = table
                    .iter()
                    .map(|l| {
                        self.labels
                            .get(l)
                            .copied()
                            .ok_or_else(|| format!("unknown label `{l}`"))
                    })
                    .collect::<DResult<Vec<u32>>>()?;
                Ok(Op::Brx {
                    a: self.src(&o[0], Type::U32)?,
                    targets: targets.into(),
                })
            }
            Opcode::Call => self.call(i),
            Opcode::Ret => Ok(Op::Ret),
            Opcode::Exit => Ok(Op::Exit),
            Opcode::Trap | Opcode::Brkpt => Ok(Op::Trap),
            Opcode::Other(name) => match name.as_str() {
                "vadd" | "vsub" | "vabsdiff" | "vmin" | "vmax" | "vshl" | "vshr" => {
                    self.video(i, name)
                }
                _ => Err(format!("unsupported instruction `{name}`")),
            },
            op => Err(format!("unsupported instruction `{}`", op.name())),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn carry(&self, sub: bool, cin: bool, cout: bool, it: IT, d: R, a: Src, b: Src) -> DResult<Op> {
        if it.bits() < 32 {
            return Err("carry arithmetic is defined for 32- and 64-bit types".into());
        }
        Ok(Op::Carry {
            sub,
            cin,
            cout,
            wide: it.bits() == 64,
            d,
            a,
            b,
            cc: self.cc,
        })
    }

    fn mov(&mut self, i: &Instruction) -> DResult<Op> {
        let o = self.ops(i, 2)?;
        let t = self.ty(i)?;
        if t == Type::Pred {
            return Ok(Op::MovPred {
                d: self.pdst(&o[0])?,
                a: self.psrc(&o[1])?,
            });
        }
        if let Some(n) = i.vector() {
            // mov.vN between vector registers / braces: a parallel copy.
            return self.parallel_copy(&o[0], &o[1], n, t);
        }
        match (&o[0], &o[1]) {
            (Operand::Vector(parts), src) => {
                // Unpack: mov.b64 {lo, hi}, %rd.
                let bits = (t.size() * 8) as usize / parts.len().max(1);
                if !matches!(bits, 8 | 16 | 32) || bits * parts.len() != t.size() as usize * 8 {
                    return Err("vector unpack does not split the type evenly".into());
                }
                let ds = parts
                    .iter()
                    .map(|p| self.dst_opt(p))
                    .collect::<DResult<Vec<_>>>()?;
                Ok(Op::Unpack {
                    ds: ds.into(),
                    a: self.src(src, t)?,
                    bits: bits as u8,
                })
            }
            (dst, Operand::Vector(parts)) => {
                let bits = (t.size() * 8) as usize / parts.len().max(1);
                if !matches!(bits, 8 | 16 | 32) || bits * parts.len() != t.size() as usize * 8 {
                    return Err("vector pack does not fill the type evenly".into());
                }
                let pt = match bits {
                    8 => Type::B8,
                    16 => Type::B16,
                    _ => Type::B32,
                };
                let ps = parts
                    .iter()
                    .map(|p| self.src(p, pt))
                    .collect::<DResult<Vec<_>>>()?;
                Ok(Op::Pack {
                    d: self.dst(dst)?,
                    parts: ps.into(),
                    bits: bits as u8,
                })
            }
            (dst, Operand::Name { name, comp }) if ptx::is_special_register(name) => Ok(Op::Sreg {
                d: self.dst(dst)?,
                s: sreg_of(name, *comp)?,
            }),
            (
                Operand::Name {
                    name: dn,
                    comp: None,
                },
                src,
            ) if matches!(self.lookup(dn), Some(Sym::Reg { len, .. }) if len > 1) => {
                // mov.b32 v, %r (v a .v2 .b16 register): unpack into the components.
                let Some(Sym::Reg { r, len, ty }) = self.lookup(dn) else {
                    unreachable!()
                };
                let bits = ty.size() * 8;
                if bits * len as u32 != t.size() * 8 || !matches!(bits, 8 | 16 | 32) {
                    return Err("mov into a vector register needs a .vN type".into());
                }
                Ok(Op::Unpack {
                    ds: (r..r + len as u32).map(Some).collect(),
                    a: self.src(src, t)?,
                    bits: bits as u8,
                })
            }
            (dst, Operand::Name { name, comp: None }) => {
                let d = self.dst(dst)?;
                match self.lookup(name) {
                    Some(Sym::Var(VarLoc::Local(o))) => Ok(Op::LocalAddr { d, off: o }),
                    Some(Sym::Var(VarLoc::TParam(o))) => Ok(Op::ParamAddr { d, off: o }),
                    Some(Sym::Reg { r, len, ty }) if len > 1 => {
                        // mov.b64 d, v (a .v2 .u32 register): pack the components.
                        let bits = ty.size() * 8;
                        if bits * len as u32 != t.size() * 8 || !matches!(bits, 8 | 16 | 32) {
                            return Err("mov of a vector register needs a .vN type".into());
                        }
                        Ok(Op::Pack {
                            d,
                            parts: (r..r + len as u32).map(Src::Reg).collect(),
                            bits: bits as u8,
                        })
                    }
                    _ => Ok(Op::Mov {
                        d,
                        a: self.src(&o[1], t)?,
                    }),
                }
            }
            (dst, src) => Ok(Op::Mov {
                d: self.dst(dst)?,
                a: self.src(src, t)?,
            }),
        }
    }

    /// The registers of a vector operand: `{a, b}` or a vector register.
    fn expand_vec(&self, op: &Operand, n: u8) -> DResult<Vec<R>> {
        match op {
            Operand::Vector(parts) if parts.len() == n as usize => {
                parts.iter().map(|p| self.dst(p)).collect()
            }
            Operand::Name { name, comp: None } => match self.lookup(name) {
                Some(Sym::Reg { r, len, .. }) if len == n => Ok((r..r + n as u32).collect()),
                _ => Err(format!("`{name}` is not a .v{n} register")),
            },
            _ => Err(format!("expected a vector of {n} registers")),
        }
    }

    fn expand_src_vec(&self, op: &Operand, n: u8, t: Type) -> DResult<Vec<Src>> {
        match op {
            Operand::Vector(parts) if parts.len() == n as usize => {
                parts.iter().map(|p| self.src(p, t)).collect()
            }
            _ => Ok(self.expand_vec(op, n)?.into_iter().map(Src::Reg).collect()),
        }
    }

    fn parallel_copy(&self, d: &Operand, s: &Operand, n: u8, t: Type) -> DResult<Op> {
        let ds = self.expand_vec(d, n)?;
        let ss = self.expand_src_vec(s, n, t)?;
        Ok(Op::MovN {
            d: ds.into(),
            s: ss.into(),
        })
    }

    fn cvt(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let ts: Vec<Type> = i.types().collect();
        if has("pack") {
            // cvt.pack.sat.convertType.abType{.cType} d, a, b{, c}
            let o = self.ops(i, 3)?;
            let it = int_ty(ts[0]).ok_or("cvt.pack needs an integer destination")?;
            return Ok(Op::CvtPack {
                dt: it,
                d: self.dst(&o[0])?,
                a: self.src(&o[1], Type::S32)?,
                b: self.src(&o[2], Type::S32)?,
                c: match o.get(3) {
                    Some(c) => self.src(c, Type::B32)?,
                    None => Src::Imm(0),
                },
            });
        }
        if ts.len() != 2 {
            return Err("cvt needs a destination and a source type".into());
        }
        let o = self.ops(i, 2)?;
        let (dt, st) = (ts[0], ts[1]);
        let rnd = rnd_of(i);
        let relu = has("relu");
        let satfinite = has("satfinite");
        match (dt, st) {
            (Type::F16x2 | Type::Bf16x2 | Type::E4m3x2 | Type::E5m2x2, Type::F32) => {
                let o = self.ops(i, 3)?;
                let pd = match dt {
                    Type::F16x2 => CvtPair::F16x2,
                    Type::Bf16x2 => CvtPair::Bf16x2,
                    Type::E4m3x2 => CvtPair::E4m3x2,
                    _ => CvtPair::E5m2x2,
                };
                return Ok(Op::CvtPair {
                    dt: pd,
                    rnd: rnd.unwrap_or(Rnd::Rn),
                    relu,
                    satfinite,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], Type::F32)?,
                    b: self.src(&o[2], Type::F32)?,
                });
            }
            (Type::F16x2, Type::E4m3x2 | Type::E5m2x2) => {
                return Ok(Op::CvtFromF8x2 {
                    e5m2: st == Type::E5m2x2,
                    relu,
                    d: self.dst(&o[0])?,
                    a: self.src(&o[1], Type::B16)?,
                })
            }
            _ => {}
        }
        let ct = |t: Type| -> DResult<CT> {
            Ok(match t {
                Type::F16 => CT::F16,
                Type::Bf16 => CT::Bf16,
                Type::Tf32 => CT::Tf32,
                Type::F32 => CT::F32,
                Type::F64 => CT::F64,
                t => CT::I(int_ty(t).ok_or_else(|| format!("cvt with type .{}", t.name()))?),
            })
        };
        let (cd, cs) = (ct(dt)?, ct(st)?);
        let irnd = irnd_of(i);
        let is_f = |c: CT| !matches!(c, CT::I(_));
        if irnd.is_some() && !is_f(cs) {
            return Err("integer rounding modifier on a conversion from an integer".into());
        }
        let src_ty = if st == Type::Tf32 { Type::B32 } else { st };
        Ok(Op::Cvt {
            dt: cd,
            st: cs,
            rnd: rnd.unwrap_or(Rnd::Rn),
            irnd,
            sat: has("sat"),
            ftz: has("ftz"),
            relu,
            satfinite,
            d: self.dst(&o[0])?,
            a: match &o[1] {
                Operand::Name { name, comp } if ptx::is_special_register(name) => {
                    return Err(format!(
                        "special register `{name}{}` in cvt is not supported",
                        comp.map(|_| ".c").unwrap_or("")
                    ))
                }
                x => self.src(x, src_ty)?,
            },
        })
    }

    fn mem_ty(&self, i: &Instruction) -> DResult<MemTy> {
        let t = self.ty(i)?;
        if t.size() > 8 {
            return Err(format!(
                "{}-byte accesses (.{}) are not supported",
                t.size(),
                t.name()
            ));
        }
        Ok(MemTy {
            size: t.size() as u8,
            signed: t.is_signed(),
        })
    }

    fn ld(&self, i: &Instruction) -> DResult<Op> {
        let o = self.ops(i, 2)?;
        let space = space_of(i);
        let t = self.mem_ty(i)?;
        let addr = self.addr(&o[1], space)?;
        match i.vector() {
            None => Ok(Op::Ld1 {
                space,
                t,
                d: self.dst(&o[0])?,
                addr,
            }),
            Some(n) => {
                let ds: Vec<Option<R>> = match &o[0] {
                    Operand::Vector(parts) if parts.len() == n as usize => parts
                        .iter()
                        .map(|p| self.dst_opt(p))
                        .collect::<DResult<_>>()?,
                    x => self.expand_vec(x, n)?.into_iter().map(Some).collect(),
                };
                Ok(Op::Ld {
                    space,
                    t,
                    d: ds.into(),
                    addr,
                })
            }
        }
    }

    fn st(&self, i: &Instruction) -> DResult<Op> {
        let o = self.ops(i, 2)?;
        let space = space_of(i);
        let t = self.mem_ty(i)?;
        let ty = self.ty(i)?;
        let addr = self.addr(&o[0], space)?;
        match i.vector() {
            None => Ok(Op::St1 {
                space,
                t,
                s: self.src(&o[1], ty)?,
                addr,
            }),
            Some(n) => {
                let ss = self.expand_src_vec(&o[1], n, ty)?;
                Ok(Op::St {
                    space,
                    t,
                    s: ss.into(),
                    addr,
                })
            }
        }
    }

    fn atom(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let red = i.opcode == Opcode::Red;
        let space = space_of(i);
        if !matches!(space, Space::Global | Space::Shared | Space::Generic) {
            return Err("atomics are defined on global, shared and generic addresses".into());
        }
        let t = self.ty(i)?;
        if i.vector().is_some() {
            return Err("vector atomics are not supported".into());
        }
        let cas = has("cas");
        let n = if red { 2 } else { 3 } + cas as usize;
        let o = self.ops(i, n)?;
        let (d, rest) = if red {
            (None, o)
        } else {
            (self.dst_opt(&o[0])?, &o[1..])
        };
        let fop = |f32op: AtomOp| -> DResult<AtomOp> {
            Ok(match t {
                Type::F32 => f32op,
                _ => return Err(format!("atomic min/max of .{} is not supported", t.name())),
            })
        };
        let op = if has("add") {
            match t {
                Type::F32 => AtomOp::AddF32,
                Type::F64 => AtomOp::AddF64,
                Type::F16 => AtomOp::AddF16,
                Type::F16x2 => AtomOp::AddF16x2,
                Type::Bf16 => AtomOp::AddBf16,
                Type::Bf16x2 => AtomOp::AddBf16x2,
                _ => AtomOp::Add,
            }
        } else if has("min") {
            if t.is_float() {
                fop(AtomOp::MinF32)?
            } else {
                AtomOp::Min
            }
        } else if has("max") {
            if t.is_float() {
                fop(AtomOp::MaxF32)?
            } else {
                AtomOp::Max
            }
        } else if has("and") {
            AtomOp::And
        } else if has("or") {
            AtomOp::Or
        } else if has("xor") {
            AtomOp::Xor
        } else if has("exch") {
            AtomOp::Exch
        } else if cas {
            AtomOp::Cas
        } else if has("inc") {
            AtomOp::Inc
        } else if has("dec") {
            AtomOp::Dec
        } else {
            return Err("atom needs an operation".into());
        };
        if t.size() > 8 || t.size() < 2 {
            return Err(format!("{}-byte atomics are not supported", t.size()));
        }
        if t.size() == 2 && !matches!(op, AtomOp::AddF16 | AtomOp::AddBf16 | AtomOp::Cas) {
            return Err("16-bit atomics other than f16/bf16 add and cas are not supported".into());
        }
        Ok(Op::Atom {
            space,
            op,
            size: t.size() as u8,
            signed: t.is_signed(),
            d,
            addr: self.addr(&rest[0], space)?,
            b: self.src(&rest[1], t)?,
            c: if cas {
                self.src(&rest[2], t)?
            } else {
                Src::Imm(0)
            },
        })
    }

    fn cp(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        if !has("async") {
            return Err("unsupported cp variant".into());
        }
        if has("commit_group") || has("wait_group") || has("wait_all") {
            return Ok(Op::Nop);
        }
        if has("bulk") || has("mbarrier") {
            return Err("cp.async.bulk / mbarrier forms are not supported".into());
        }
        let o = self.ops(i, 3)?;
        let size = match &o[2] {
            Operand::Imm(x) => x.bits(),
            _ => return Err("cp.async size must be an immediate".into()),
        };
        if !matches!(size, 4 | 8 | 16) {
            return Err("cp.async size must be 4, 8 or 16".into());
        }
        let src_size = match o.get(3) {
            Some(x @ (Operand::Imm(_) | Operand::Name { .. })) => Some(self.src(x, Type::U32)?),
            _ => None,
        };
        Ok(Op::CpAsync {
            dst: self.addr(&o[0], Space::Shared)?,
            src: self.addr(&o[1], Space::Global)?,
            size: size as u8,
            src_size,
        })
    }

    fn ldmatrix(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let o = self.ops(i, 2)?;
        if !has("m8n8") || i.ty() != Some(Type::B16) {
            return Err("only ldmatrix .m8n8 .b16 is supported".into());
        }
        let n = if has("x4") {
            4
        } else if has("x2") {
            2
        } else {
            1
        };
        let ds: Vec<R> = match &o[0] {
            Operand::Vector(parts) if parts.len() == n => {
                parts.iter().map(|p| self.dst(p)).collect::<DResult<_>>()?
            }
            x if n == 1 => vec![self.dst(x)?],
            _ => return Err(format!("ldmatrix .x{n} needs {n} destination registers")),
        };
        let space = match space_of(i) {
            Space::Generic => Space::Generic,
            _ => Space::Shared,
        };
        Ok(Op::Ldmatrix {
            n: n as u8,
            trans: has("trans"),
            space,
            d: ds.into(),
            addr: self.addr(&o[1], space)?,
        })
    }

    fn mma(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let o = self.ops(i, 4)?;
        let shape = i
            .modifiers
            .iter()
            .find(|m| m.starts_with('m') && m.contains('n') && m.contains('k'))
            .ok_or("mma needs a shape")?;
        let k: u8 = match shape {
            "m16n8k16" => 16,
            "m16n8k8" => 8,
            "m16n8k32" => 32,
            s => return Err(format!("mma shape {s} is not supported")),
        };
        if !(has("row") && has("col")) {
            return Err("mma needs .row.col layouts".into());
        }
        let ts: Vec<Type> = i.types().collect();
        if ts.len() != 4 {
            return Err("mma needs .dtype.atype.btype.ctype".into());
        }
        let mt = |t: Type| -> DResult<MmaTy> {
            Ok(match t {
                Type::F16 => MmaTy::F16,
                Type::Bf16 => MmaTy::Bf16,
                Type::Tf32 => MmaTy::Tf32,
                Type::F32 => MmaTy::F32,
                Type::F64 => MmaTy::F64,
                Type::S8 => MmaTy::S8,
                Type::U8 => MmaTy::U8,
                Type::S32 => MmaTy::S32,
                t => return Err(format!("mma element type .{} is not supported", t.name())),
            })
        };
        let (dty, aty, bty, cty) = (mt(ts[0])?, mt(ts[1])?, mt(ts[2])?, mt(ts[3])?);
        if aty != bty
            && !(matches!(aty, MmaTy::S8 | MmaTy::U8) && matches!(bty, MmaTy::S8 | MmaTy::U8))
        {
            return Err("mma with different A and B types is not supported".into());
        }
        if dty != cty {
            return Err("mma with different C and D types is not supported".into());
        }
        let supported = matches!(
            (k, aty, cty),
            (16, MmaTy::F16 | MmaTy::Bf16, MmaTy::F32)
                | (8, MmaTy::F16 | MmaTy::Bf16, MmaTy::F32)
                | (32, MmaTy::S8 | MmaTy::U8, MmaTy::S32)
        );
        if !supported || aty != bty {
            return Err(format!("mma {shape} with these types is not supported"));
        }
        let regs = |op: &Operand| -> DResult<Vec<Src>> {
            match op {
                Operand::Vector(p) => p.iter().map(|x| self.src(x, Type::B32)).collect(),
                _ => Err("mma operands must be register vectors".into()),
            }
        };
        let d: Vec<R> = match &o[0] {
            Operand::Vector(p) => p.iter().map(|x| self.dst(x)).collect::<DResult<_>>()?,
            _ => return Err("mma destination must be a register vector".into()),
        };
        let (a, b, c) = (regs(&o[1])?, regs(&o[2])?, regs(&o[3])?);
        let (na, nb) = match (k, aty) {
            (16, MmaTy::F16 | MmaTy::Bf16) => (4, 2),
            (8, _) => (2, 1),
            (32, _) => (4, 2),
            _ => (0, 0),
        };
        if a.len() != na || b.len() != nb || c.len() != 4 || d.len() != 4 {
            return Err("mma operand vectors have the wrong number of registers".into());
        }
        Ok(Op::Mma(Box::new(Mma {
            k,
            ab: aty,
            satfinite: has("satfinite"),
            d: d.into(),
            a: a.into(),
            b: b.into(),
            c: c.into(),
        })))
    }

    fn bar(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let o = &i.operands;
        if has("warp") {
            let o = self.ops(i, 1)?;
            return Ok(Op::WarpSync {
                mask: self.src(&o[0], Type::B32)?,
            });
        }
        if has("red") {
            let o = self.ops(i, 3)?;
            let kind = if has("popc") {
                BarKind::RedPopc
            } else if has("and") {
                BarKind::RedAnd
            } else if has("or") {
                BarKind::RedOr
            } else {
                return Err("bar.red needs popc, and or or".into());
            };
            let d = if kind == BarKind::RedPopc {
                BarDst::Reg(self.dst(&o[0])?)
            } else {
                BarDst::Pred(self.pdst(&o[0])?)
            };
            let (count, p) = if o.len() == 4 {
                (Some(self.src(&o[2], Type::U32)?), self.psrc(&o[3])?)
            } else {
                (None, self.psrc(&o[2])?)
            };
            return Ok(Op::Bar {
                kind,
                id: self.src(&o[1], Type::U32)?,
                count,
                d: Some(d),
                p,
            });
        }
        let kind = if has("arrive") {
            BarKind::Arrive
        } else {
            BarKind::Sync
        };
        if o.is_empty() {
            return Err("bar needs a barrier number".into());
        }
        let count = match o.get(1) {
            Some(x) => Some(self.src(x, Type::U32)?),
            None if kind == BarKind::Arrive => return Err("bar.arrive needs a thread count".into()),
            None => None,
        };
        Ok(Op::Bar {
            kind,
            id: self.src(&o[0], Type::U32)?,
            count,
            d: None,
            p: PSrc::Imm(true),
        })
    }

    fn call(&mut self, i: &Instruction) -> DResult<Op> {
        // call (rets), f, (args) [, prototype];  call f, (args);  call f;
        let o = &i.operands;
        let mut k = 0;
        let rets = match o.first() {
            Some(Operand::List(l)) => {
                k = 1;
                l.clone()
            }
            _ => Vec::new(),
        };
        let target = o.get(k).ok_or("call needs a target")?;
        let args = match o.get(k + 1) {
            Some(Operand::List(l)) => l.clone(),
            _ => Vec::new(),
        };
        // A vector register stands for its components, in order.
        let slot = |op: &Operand, is_ret: bool, out: &mut Vec<Slot>| -> DResult<()> {
            match op {
                Operand::Name { name, comp } => match self.lookup(name) {
                    Some(Sym::Reg { r, len, .. }) if comp.is_none() && len > 1 => {
                        out.extend((0..len as u32).map(|k| Slot::Reg(r + k)));
                    }
                    Some(Sym::Reg { .. }) => out.push(Slot::Reg(self.reg_of(name, *comp)?.0)),
                    Some(Sym::Pred(p)) => out.push(Slot::Pred(p)),
                    Some(Sym::Var(VarLoc::TParam(off))) => out.push(Slot::Param {
                        off: off as u32,
                        size: 0,
                    }),
                    _ => return Err(format!("call operand `{name}` is not a register or .param")),
                },
                Operand::Imm(x) if !is_ret => out.push(Slot::Imm(x.bits())),
                _ => return Err("unsupported call operand".into()),
            }
            Ok(())
        };
        let mut ret_slots = Vec::new();
        for x in &rets {
            slot(x, true, &mut ret_slots)?;
        }
        let mut arg_slots = Vec::new();
        for x in &args {
            slot(x, false, &mut arg_slots)?;
        }
        let (rets, args) = (ret_slots, arg_slots);
        match target {
            Operand::Name { name, comp: None } => match self.lookup(name) {
                Some(Sym::Func(f)) => {
                    let fi = &self.prog.funcs[f as usize];
                    if fi.is_kernel {
                        return Err(format!("call to kernel `{name}`"));
                    }
                    self.callees.push(f);
                    Ok(Op::Call {
                        func: f,
                        args: args.into(),
                        rets: rets.into(),
                    })
                }
                Some(Sym::Reg { .. }) => {
                    self.calls_indirect = true;
                    Ok(Op::CallInd {
                        target: self.src(target, Type::U64)?,
                        args: args.into(),
                        rets: rets.into(),
                    })
                }
                _ => Err(format!("call target `{name}` is not a function")),
            },
            _ => Err("call target must be a function name or register".into()),
        }
    }

    fn video(&self, i: &Instruction, name: &str) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let ts: Vec<Type> = i.types().collect();
        if ts.len() != 3 || ts.iter().any(|t| t.size() != 4) {
            return Err(format!("{name} is supported with three 32-bit types only"));
        }
        let o = &i.operands;
        let op2 = if has("add") {
            Some(VideoOp2::Add)
        } else if has("min") {
            Some(VideoOp2::Min)
        } else if has("max") {
            Some(VideoOp2::Max)
        } else {
            None
        };
        let need = if op2.is_some() { 4 } else { 3 };
        if o.len() != need {
            return Err(format!(
                "{name} needs {need} operands (byte selectors are not supported)"
            ));
        }
        let op = match name {
            "vadd" => VideoOp::Add,
            "vsub" => VideoOp::Sub,
            "vabsdiff" => VideoOp::Absdiff,
            "vmin" => VideoOp::Min,
            "vmax" => VideoOp::Max,
            "vshl" => VideoOp::Shl,
            _ => VideoOp::Shr,
        };
        Ok(Op::Video(Box::new(Video {
            op,
            op2,
            sd: ts[0].is_signed(),
            sa: ts[1].is_signed(),
            sb: ts[2].is_signed(),
            sat: has("sat"),
            wrap: has("wrap"),
            d: self.dst(&o[0])?,
            a: self.src(&o[1], ts[1])?,
            b: self.src(&o[2], ts[2])?,
            c: if need == 4 {
                self.src(&o[3], ts[0])?
            } else {
                Src::Imm(0)
            },
        })))
    }
}
