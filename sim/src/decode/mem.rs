//! Decoding memory instructions (`ld`, `st`, atomics, `cp.async`), tensor-core
//! instructions (`ldmatrix`, `mma`), barriers, calls and video instructions.

use super::func::*;
use super::*;
use ptx::{Instruction, Opcode, Operand};

impl FnDecoder<'_> {
    pub(super) fn mem_ty(&self, i: &Instruction) -> DResult<MemTy> {
        let t = self.ty(i)?;
        if t.size() > 8 {
            return Err(unsupported(format!(
                "{}-byte accesses (.{}) are not supported",
                t.size(),
                t.name()
            )));
        }
        Ok(MemTy {
            size: t.size() as u8,
            signed: t.is_signed(),
        })
    }

    pub(super) fn ld(&self, i: &Instruction) -> DResult<Op> {
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

    pub(super) fn st(&self, i: &Instruction) -> DResult<Op> {
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

    pub(super) fn atom(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let red = i.opcode == Opcode::Red;
        let space = space_of(i);
        if !matches!(space, Space::Global | Space::Shared | Space::Generic) {
            return Err(invalid(
                "atomics are defined on global, shared and generic addresses",
            ));
        }
        let t = self.ty(i)?;
        if i.vector().is_some() {
            return Err(unsupported("vector atomics are not supported"));
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
                _ => {
                    return Err(unsupported(format!(
                        "atomic min/max of .{} is not supported",
                        t.name()
                    )))
                }
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
            return Err(invalid("atom needs an operation"));
        };
        if t.size() > 8 || t.size() < 2 {
            return Err(unsupported(format!(
                "{}-byte atomics are not supported",
                t.size()
            )));
        }
        if t.size() == 2 && !matches!(op, AtomOp::AddF16 | AtomOp::AddBf16 | AtomOp::Cas) {
            return Err(unsupported(
                "16-bit atomics other than f16/bf16 add and cas are not supported",
            ));
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

    pub(super) fn cp(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        if !has("async") {
            return Err(unsupported("unsupported cp variant"));
        }
        if has("commit_group") || has("wait_group") || has("wait_all") {
            return Ok(Op::Nop);
        }
        if has("bulk") || has("mbarrier") {
            return Err(unsupported(
                "cp.async.bulk / mbarrier forms are not supported",
            ));
        }
        let o = self.ops(i, 3)?;
        let size = match &o[2] {
            Operand::Imm(x) => x.bits(),
            _ => return Err(invalid("cp.async size must be an immediate")),
        };
        if !matches!(size, 4 | 8 | 16) {
            return Err(invalid("cp.async size must be 4, 8 or 16"));
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

    pub(super) fn ldmatrix(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let o = self.ops(i, 2)?;
        if !has("m8n8") || i.ty() != Some(Type::B16) {
            return Err(invalid("only ldmatrix .m8n8 .b16 is supported"));
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
            _ => {
                return Err(invalid(format!(
                    "ldmatrix .x{n} needs {n} destination registers"
                )))
            }
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

    pub(super) fn mma(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let o = self.ops(i, 4)?;
        let shape = i
            .modifiers
            .iter()
            .find(|m| m.starts_with('m') && m.contains('n') && m.contains('k'))
            .ok_or_else(|| invalid("mma needs a shape"))?;
        let k: u8 = match shape {
            "m16n8k16" => 16,
            "m16n8k8" => 8,
            "m16n8k32" => 32,
            s => return Err(unsupported(format!("mma shape {s} is not supported"))),
        };
        if !(has("row") && has("col")) {
            return Err(invalid("mma needs .row.col layouts"));
        }
        let ts: Vec<Type> = i.types().collect();
        if ts.len() != 4 {
            return Err(invalid("mma needs .dtype.atype.btype.ctype"));
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
                t => {
                    return Err(unsupported(format!(
                        "mma element type .{} is not supported",
                        t.name()
                    )))
                }
            })
        };
        let (dty, aty, bty, cty) = (mt(ts[0])?, mt(ts[1])?, mt(ts[2])?, mt(ts[3])?);
        if aty != bty
            && !(matches!(aty, MmaTy::S8 | MmaTy::U8) && matches!(bty, MmaTy::S8 | MmaTy::U8))
        {
            return Err(unsupported(
                "mma with different A and B types is not supported",
            ));
        }
        if dty != cty {
            return Err(unsupported(
                "mma with different C and D types is not supported",
            ));
        }
        let supported = matches!(
            (k, aty, cty),
            (16, MmaTy::F16 | MmaTy::Bf16, MmaTy::F32)
                | (8, MmaTy::F16 | MmaTy::Bf16, MmaTy::F32)
                | (32, MmaTy::S8 | MmaTy::U8, MmaTy::S32)
        );
        if !supported || aty != bty {
            return Err(unsupported(format!(
                "mma {shape} with these types is not supported"
            )));
        }
        let regs = |op: &Operand| -> DResult<Vec<Src>> {
            match op {
                Operand::Vector(p) => p.iter().map(|x| self.src(x, Type::B32)).collect(),
                _ => Err(invalid("mma operands must be register vectors")),
            }
        };
        let d: Vec<R> = match &o[0] {
            Operand::Vector(p) => p.iter().map(|x| self.dst(x)).collect::<DResult<_>>()?,
            _ => return Err(invalid("mma destination must be a register vector")),
        };
        let (a, b, c) = (regs(&o[1])?, regs(&o[2])?, regs(&o[3])?);
        let (na, nb) = match (k, aty) {
            (16, MmaTy::F16 | MmaTy::Bf16) => (4, 2),
            (8, _) => (2, 1),
            (32, _) => (4, 2),
            _ => (0, 0),
        };
        if a.len() != na || b.len() != nb || c.len() != 4 || d.len() != 4 {
            return Err(invalid(
                "mma operand vectors have the wrong number of registers",
            ));
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

    pub(super) fn bar(&self, i: &Instruction) -> DResult<Op> {
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
                return Err(invalid("bar.red needs popc, and or or"));
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
            return Err(invalid("bar needs a barrier number"));
        }
        let count = match o.get(1) {
            Some(x) => Some(self.src(x, Type::U32)?),
            None if kind == BarKind::Arrive => {
                return Err(invalid("bar.arrive needs a thread count"))
            }
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

    pub(super) fn call(&mut self, i: &Instruction) -> DResult<Op> {
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
        let target = o.get(k).ok_or_else(|| invalid("call needs a target"))?;
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
                    _ => {
                        return Err(invalid(format!(
                            "call operand `{name}` is not a register or .param"
                        )))
                    }
                },
                Operand::Imm(x) if !is_ret => out.push(Slot::Imm(x.bits())),
                _ => return Err(unsupported("unsupported call operand")),
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
                        return Err(invalid(format!("call to kernel `{name}`")));
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
                _ => Err(invalid(format!("call target `{name}` is not a function"))),
            },
            _ => Err(invalid("call target must be a function name or register")),
        }
    }

    pub(super) fn video(&self, i: &Instruction, name: &str) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let ts: Vec<Type> = i.types().collect();
        if ts.len() != 3 || ts.iter().any(|t| t.size() != 4) {
            return Err(invalid(format!(
                "{name} is supported with three 32-bit types only"
            )));
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
            return Err(unsupported(format!(
                "{name} needs {need} operands (byte selectors are not supported)"
            )));
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
