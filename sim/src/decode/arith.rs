//! Decoding integer and floating-point arithmetic: `add` to `prmt` and the
//! approximate functions (`rcp`, `sqrt`, `sin`, …).

use super::func::*;
use super::*;
use crate::error::DecodeError;
use crate::float::Rnd;
use ptx::{Instruction, Opcode, Operand};

impl FnDecoder<'_> {
    /// Decodes an arithmetic instruction (the opcodes [`FnDecoder::inst`] routes here).
    pub(super) fn arith(&mut self, i: &Instruction) -> DResult<Op> {
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
                    return Err(invalid(
                        "saturating integer add/sub is only defined for .s32",
                    ));
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
                        return Err(invalid("mul.wide is not defined for 64-bit types"));
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
                    return Err(invalid("mul24/mad24 are defined for 32-bit types"));
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
                        return Err(invalid(
                            "mad with carry is defined for 32- and 64-bit types",
                        ));
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
                        return Err(invalid("mad.wide is not defined for 64-bit types"));
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
                        _ => return Err(invalid("rem is not defined for floating-point types")),
                    };
                    if has("xorsign") || has("abs") {
                        return Err(unsupported("min/max .xorsign.abs is not supported"));
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
                    _ => return Err(invalid("copysign is defined for floating-point types")),
                };
                if has("relu") {
                    return Err(unsupported("min/max .relu is not supported"));
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
                    return Err(invalid("dp4a/dp2a need two types"));
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
                    return Err(unsupported("lop3 with a predicate output is not supported"));
                }
                let lut = match &o[4] {
                    Operand::Imm(imm) => imm.bits() as u8,
                    _ => return Err(invalid("lop3 needs an immediate lookup table")),
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
                let ft = float_ty(t).ok_or_else(|| invalid("floating-point type expected"))?;
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
            op => Err(DecodeError::UnsupportedInstruction {
                name: op.name().to_string(),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn carry(
        &self,
        sub: bool,
        cin: bool,
        cout: bool,
        it: IT,
        d: R,
        a: Src,
        b: Src,
    ) -> DResult<Op> {
        if it.bits() < 32 {
            return Err(invalid(
                "carry arithmetic is defined for 32- and 64-bit types",
            ));
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
}
