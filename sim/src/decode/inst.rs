//! Decoding one instruction: the dispatch over opcodes, comparisons and selection,
//! moves and conversions, address-space conversions, warp-level and control
//! instructions. Arithmetic is in `arith`, memory and the rest in `mem`.

use super::func::*;
use super::*;
use crate::error::DecodeError;
use crate::float::Rnd;
use ptx::{Instruction, Opcode, Operand};

impl FnDecoder<'_> {
    pub(super) fn inst(&mut self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        match &i.opcode {
            Opcode::Add
            | Opcode::Sub
            | Opcode::Addc
            | Opcode::Subc
            | Opcode::Mul
            | Opcode::Mul24
            | Opcode::Mad24
            | Opcode::Mad
            | Opcode::Fma
            | Opcode::Madc
            | Opcode::Sad
            | Opcode::Div
            | Opcode::Rem
            | Opcode::Min
            | Opcode::Max
            | Opcode::Copysign
            | Opcode::Abs
            | Opcode::Neg
            | Opcode::Popc
            | Opcode::Clz
            | Opcode::Brev
            | Opcode::Bfind
            | Opcode::Cnot
            | Opcode::Not
            | Opcode::And
            | Opcode::Or
            | Opcode::Xor
            | Opcode::Shl
            | Opcode::Shr
            | Opcode::Bfe
            | Opcode::Bfi
            | Opcode::Bmsk
            | Opcode::Szext
            | Opcode::Dp4a
            | Opcode::Dp2a
            | Opcode::Lop3
            | Opcode::Shf
            | Opcode::Prmt
            | Opcode::Rcp
            | Opcode::Sqrt
            | Opcode::Rsqrt
            | Opcode::Sin
            | Opcode::Cos
            | Opcode::Lg2
            | Opcode::Ex2
            | Opcode::Tanh => self.arith(i),
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
                .ok_or_else(|| invalid("testp needs an operation"))? as u8;
                if !matches!(t, Type::F32 | Type::F64) {
                    return Err(invalid("testp is defined for .f32 and .f64"));
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
                let vt =
                    value_ty(t).ok_or_else(|| invalid("setp needs an integer or float type"))?;
                let cmp = cmp_of(i).ok_or_else(|| invalid("setp needs a comparison"))?;
                let (d, dn) = match &o[0] {
                    Operand::Pair(p, q) => (self.pred(p)?, Some(self.pred(q)?)),
                    x => (self.pdst(x)?, None),
                };
                let comb = match boolop_of(i) {
                    Some(b) => Some((
                        b,
                        self.psrc(o.get(3).ok_or_else(|| {
                            invalid("setp with a combine op needs a predicate c")
                        })?)?,
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
                    return Err(invalid("set needs a destination and a source type"));
                }
                let st = ts[1];
                let vt = value_ty(st)
                    .ok_or_else(|| invalid("set needs an integer or float source type"))?;
                let cmp = cmp_of(i).ok_or_else(|| invalid("set needs a comparison"))?;
                let packed = matches!(st, Type::F16x2 | Type::Bf16x2);
                let dt = match (ts[0], packed) {
                    (Type::U32 | Type::S32 | Type::B32, false) => SetDst::Mask32,
                    (Type::F32, false) => SetDst::F32,
                    (Type::F16, false) => SetDst::F16,
                    (Type::Bf16, false) => SetDst::Bf16,
                    (Type::U32 | Type::S32 | Type::B32, true) => SetDst::Mask16x2,
                    (Type::F16x2, true) => SetDst::F16x2,
                    (Type::Bf16x2, true) => SetDst::Bf16x2,
                    (t, _) => {
                        return Err(invalid(format!("set with destination type .{}", t.name())))
                    }
                };
                let comb = match boolop_of(i) {
                    Some(b) => Some((
                        b,
                        self.psrc(o.get(3).ok_or_else(|| {
                            invalid("set with a combine op needs a predicate c")
                        })?)?,
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
                    return Err(invalid("slct needs two types"));
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
                    Space::Generic => return Err(invalid("cvta needs a state space")),
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
                    return Err(invalid("shfl needs a mode"));
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
                    return Err(invalid("vote needs a mode"));
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
                    return Err(invalid("redux needs an operation"));
                };
                if t.size() != 4 || t.is_float() {
                    return Err(DecodeError::UnsupportedType {
                        opcode: "redux.sync".into(),
                        ty: t.name(),
                    });
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
                    return Err(invalid("brx without .idx"));
                }
                let Operand::Name { name, .. } = &o[1] else {
                    return Err(invalid("brx.idx needs a .branchtargets label"));
                };
                let table = self
                    .branch_tables
                    .get(name.as_str())
                    .ok_or_else(|| invalid(format!("no .branchtargets list at `{name}`")))?;
                let targets = table
                    .iter()
                    .map(|l| {
                        self.labels
                            .get(l)
                            .copied()
                            .ok_or_else(|| DecodeError::Undeclared {
                                kind: "label",
                                name: l.clone(),
                            })
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
            Opcode::Vadd
            | Opcode::Vsub
            | Opcode::Vabsdiff
            | Opcode::Vmin
            | Opcode::Vmax
            | Opcode::Vshl
            | Opcode::Vshr => self.video(i, i.opcode.name()),
            op => Err(DecodeError::UnsupportedInstruction {
                name: op.name().to_string(),
            }),
        }
    }

    pub(super) fn mov(&mut self, i: &Instruction) -> DResult<Op> {
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
                    return Err(invalid("vector unpack does not split the type evenly"));
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
                    return Err(invalid("vector pack does not fill the type evenly"));
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
                    return Err(invalid("mov into a vector register needs a .vN type"));
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
                            return Err(invalid("mov of a vector register needs a .vN type"));
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
    pub(super) fn expand_vec(&self, op: &Operand, n: u8) -> DResult<Vec<R>> {
        match op {
            Operand::Vector(parts) if parts.len() == n as usize => {
                parts.iter().map(|p| self.dst(p)).collect()
            }
            Operand::Name { name, comp: None } => match self.lookup(name) {
                Some(Sym::Reg { r, len, .. }) if len == n => Ok((r..r + n as u32).collect()),
                _ => Err(invalid(format!("`{name}` is not a .v{n} register"))),
            },
            _ => Err(invalid(format!("expected a vector of {n} registers"))),
        }
    }

    pub(super) fn expand_src_vec(&self, op: &Operand, n: u8, t: Type) -> DResult<Vec<Src>> {
        match op {
            Operand::Vector(parts) if parts.len() == n as usize => {
                parts.iter().map(|p| self.src(p, t)).collect()
            }
            _ => Ok(self.expand_vec(op, n)?.into_iter().map(Src::Reg).collect()),
        }
    }

    pub(super) fn parallel_copy(&self, d: &Operand, s: &Operand, n: u8, t: Type) -> DResult<Op> {
        let ds = self.expand_vec(d, n)?;
        let ss = self.expand_src_vec(s, n, t)?;
        Ok(Op::MovN {
            d: ds.into(),
            s: ss.into(),
        })
    }

    pub(super) fn cvt(&self, i: &Instruction) -> DResult<Op> {
        let has = |m: &str| i.has_modifier(m);
        let ts: Vec<Type> = i.types().collect();
        if has("pack") {
            // cvt.pack.sat.convertType.abType{.cType} d, a, b{, c}
            let o = self.ops(i, 3)?;
            let it =
                int_ty(ts[0]).ok_or_else(|| invalid("cvt.pack needs an integer destination"))?;
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
            return Err(invalid("cvt needs a destination and a source type"));
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
                t => CT::I(int_ty(t).ok_or_else(|| DecodeError::UnsupportedType {
                    opcode: "cvt".into(),
                    ty: t.name(),
                })?),
            })
        };
        let (cd, cs) = (ct(dt)?, ct(st)?);
        let irnd = irnd_of(i);
        let is_f = |c: CT| !matches!(c, CT::I(_));
        if irnd.is_some() && !is_f(cs) {
            return Err(invalid(
                "integer rounding modifier on a conversion from an integer",
            ));
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
                    return Err(unsupported(format!(
                        "special register `{name}{}` in cvt is not supported",
                        comp.map(|_| ".c").unwrap_or("")
                    )))
                }
                x => self.src(x, src_ty)?,
            },
        })
    }
}
