//! Operand types of the instructions the passes rewrite, and opcode groups.

use ptx::{Instruction, Opcode, Operand, Type};

/// The opcode group of an instruction: its opcode, the size-changing modifiers
/// (`lo`, `hi`, `wide`) and its type modifiers, joined by dots (`add.s32`,
/// `mul.wide.s32`, `cvt.f32.s32`, `setp.f32`, `ld.u32`). Faults of the `ioc`, `ir` and
/// `fu` models target one group.
pub fn op_group(inst: &Instruction) -> String {
    let mut s = inst.opcode.name().to_string();
    for m in &inst.modifiers {
        if matches!(m, "lo" | "hi" | "wide") || Type::from_modifier(m).is_some() {
            s.push('.');
            s.push_str(m);
        }
    }
    s
}

fn double_width(t: Type) -> Option<Type> {
    Some(match t {
        Type::U16 => Type::U32,
        Type::U32 => Type::U64,
        Type::S16 => Type::S32,
        Type::S32 => Type::S64,
        Type::B16 => Type::B32,
        Type::B32 => Type::B64,
        _ => return None,
    })
}

/// The type of each operand of `inst` where the passes know it (`None` elsewhere:
/// addresses, labels, lists, operands of instructions the passes do not rewrite).
pub fn operand_types(inst: &Instruction) -> Vec<Option<Type>> {
    let n = inst.operands.len();
    let types: Vec<Type> = inst.types().collect();
    let mut out = vec![None; n];
    let Some(&ty) = types.last() else {
        return out;
    };
    let first = types[0];
    let set_all = |out: &mut Vec<Option<Type>>, t: Type| out.iter_mut().for_each(|o| *o = Some(t));
    match inst.opcode {
        Opcode::Add
        | Opcode::Sub
        | Opcode::Min
        | Opcode::Max
        | Opcode::Abs
        | Opcode::Neg
        | Opcode::And
        | Opcode::Or
        | Opcode::Xor
        | Opcode::Not
        | Opcode::Cnot
        | Opcode::Div
        | Opcode::Rem
        | Opcode::Fma
        | Opcode::Rcp
        | Opcode::Sqrt
        | Opcode::Rsqrt
        | Opcode::Sin
        | Opcode::Cos
        | Opcode::Lg2
        | Opcode::Ex2
        | Opcode::Tanh
        | Opcode::Copysign
        | Opcode::Mov
        | Opcode::Popc
        | Opcode::Clz
        | Opcode::Brev
        | Opcode::Addc
        | Opcode::Subc => {
            set_all(&mut out, ty);
            if matches!(inst.opcode, Opcode::Popc | Opcode::Clz) && n > 0 {
                out[0] = Some(Type::U32);
            }
        }
        Opcode::Mul | Opcode::Mad => {
            set_all(&mut out, ty);
            if inst.has_modifier("wide") {
                if let Some(w) = double_width(ty) {
                    out[0] = Some(w);
                    if inst.opcode == Opcode::Mad && n > 3 {
                        out[3] = Some(w);
                    }
                } else {
                    return vec![None; n];
                }
            }
        }
        Opcode::Shl | Opcode::Shr => {
            set_all(&mut out, ty);
            if n > 2 {
                out[2] = Some(Type::U32);
            }
        }
        Opcode::Shf => {
            set_all(&mut out, Type::B32);
            if n > 3 {
                out[3] = Some(Type::U32);
            }
        }
        Opcode::Bfe => {
            set_all(&mut out, ty);
            for slot in out.iter_mut().take(n.min(4)).skip(2) {
                *slot = Some(Type::U32);
            }
        }
        Opcode::Bfi => {
            set_all(&mut out, ty);
            for slot in out.iter_mut().take(n.min(5)).skip(3) {
                *slot = Some(Type::U32);
            }
        }
        Opcode::Prmt => set_all(&mut out, Type::B32),
        Opcode::Setp => {
            set_all(&mut out, ty);
            if n > 0 {
                out[0] = Some(Type::Pred);
            }
            if n > 3 {
                out[3] = Some(Type::Pred);
            }
        }
        Opcode::Selp => {
            set_all(&mut out, ty);
            if n > 3 {
                out[3] = Some(Type::Pred);
            }
        }
        Opcode::Slct => {
            set_all(&mut out, first);
            if n > 3 {
                out[3] = Some(ty);
            }
        }
        Opcode::Cvt => {
            set_all(&mut out, ty);
            if n > 0 {
                out[0] = Some(first);
            }
        }
        Opcode::Ld | Opcode::Ldu if n > 0 => out[0] = Some(ty),
        Opcode::St if n > 1 => out[n - 1] = Some(ty),
        _ => {}
    }
    // Operand shapes the helpers cannot retype stay unknown.
    for (o, t) in inst.operands.iter().zip(out.iter_mut()) {
        if matches!(
            o,
            Operand::Addr(_) | Operand::Vector(_) | Operand::List(_) | Operand::Pair(..)
        ) {
            *t = None;
        }
    }
    out
}

/// Bit width of a register value of type `t` as the passes handle it (16, 32 or 64;
/// `None` for predicates, 8-bit and 128-bit types).
pub fn width(t: Type) -> Option<u32> {
    match t.size() {
        2 => Some(16),
        4 => Some(32),
        8 => Some(64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(src: &str) -> Instruction {
        let m = ptx::parse(&format!(
            ".version 8.0\n.target sm_80\n.address_size 64\n.entry k()\n{{\n{src}\n}}\n"
        ))
        .unwrap();
        let f = m.kernels().next().unwrap();
        ptx::flatten(f.body.as_ref().unwrap()).insts[0].clone()
    }

    #[test]
    fn groups() {
        assert_eq!(op_group(&inst("add.s32 %r1, %r2, 4;")), "add.s32");
        assert_eq!(
            op_group(&inst("mul.wide.s32 %rd1, %r2, 4;")),
            "mul.wide.s32"
        );
        assert_eq!(op_group(&inst("cvt.rn.f32.s32 %f1, %r2;")), "cvt.f32.s32");
        assert_eq!(op_group(&inst("setp.lt.s32 %p1, %r2, 4;")), "setp.s32");
        assert_eq!(
            op_group(&inst("ld.global.nc.v4.f32 {%f1,%f2,%f3,%f4}, [%rd1];")),
            "ld.f32"
        );
    }

    #[test]
    fn types_of_operands() {
        let t = operand_types(&inst("mul.wide.s32 %rd1, %r2, 4;"));
        assert_eq!(t, vec![Some(Type::S64), Some(Type::S32), Some(Type::S32)]);
        let t = operand_types(&inst("shl.b64 %rd1, %rd2, 3;"));
        assert_eq!(t, vec![Some(Type::B64), Some(Type::B64), Some(Type::U32)]);
        let t = operand_types(&inst("setp.lt.and.f32 %p1, %f1, 0f3F800000, %p2;"));
        assert_eq!(
            t,
            vec![
                Some(Type::Pred),
                Some(Type::F32),
                Some(Type::F32),
                Some(Type::Pred)
            ]
        );
        let t = operand_types(&inst("cvt.rn.f32.s32 %f1, %r2;"));
        assert_eq!(t, vec![Some(Type::F32), Some(Type::S32)]);
        let t = operand_types(&inst("st.global.u32 [%rd1+4], 7;"));
        assert_eq!(t, vec![None, Some(Type::U32)]);
    }
}
