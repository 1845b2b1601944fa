//! `iio`: flipped bits in immediate operands and address offsets.

use super::FaultModel;
use crate::descriptor::Descriptor;
use crate::instrument::{
    bits_of_imm, code, count, name_op, r, slot_reg, with_inst, InstrumentError, Pass, Site,
};
use crate::model::Params;
use crate::params::{param_set, Mask, Name, Named, Policy};
use crate::rules::{Draw, LaneRule, MaskRule, ModelRules};
use crate::types::{operand_types, width};
use ptx::{AddrBase, Address, Class, Instruction, Opcode, Operand, StateSpace, Statement, Type};
use rand_chacha::ChaCha8Rng;

/// What an `iio` fault corrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IioVar {
    /// The immediate operands and address offsets themselves (the SC'23 text: a fault
    /// in the decoding of the immediate field).
    Imm,
    /// The register result of every instruction with an immediate operand
    /// (NVBitPERfi's code: destination XOR mask).
    Result,
}

impl Named for IioVar {
    const NAMES: &'static [(&'static str, Self)] =
        &[("imm", IioVar::Imm), ("result", IioVar::Result)];
    const WHY: &'static str = "imm or result";
}

param_set! {
    /// The parameters of `iio`.
    pub struct IioParams {
        /// Bits flipped.
        mask: u64 as Mask,
        /// What is corrupted: the immediate (default) or the result.
        var: IioVar as Name<IioVar>,
    }
}

pub(crate) struct Iio;

impl FaultModel for Iio {
    fn id(&self) -> &'static str {
        "iio"
    }
    fn unit(&self) -> &'static str {
        "decoder: immediate operand (operation management)"
    }
    fn check_unit(&self) -> &'static str {
        "decode"
    }
    fn definition(&self) -> &'static str {
        "Immediate-operand decode fault: every immediate operand of an arithmetic, \
         logic, comparison, move or conversion instruction, and every address offset \
         of a load or store outside the param space, is xor-ed with `mask` (truncated \
         to the operand's width) in the selected lanes (`var=imm`, the default). With \
         `var=result` (NVBitPERfi's code) the immediates are intact and the register \
         result of every instruction with an immediate operand is xor-ed with `mask` \
         instead."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "mask",
                "1..2^64-1, bits flipped (default 1; campaigns: faithful a random non-zero \
                 32-bit mask, v1 one bit in 0..31)",
            ),
            (
                "var",
                "imm|result, corrupt the immediate (default; the paper's text) or the \
                 result of instructions with an immediate (NVBitPERfi's code)",
            ),
        ]
    }

    fn encode(&self, params: &Params, d: &mut Descriptor) {
        if let Params::Iio(p) = params {
            d.set_masks(p.mask.unwrap_or(1), Policy::Xor);
            d.variant = u32::from(p.var == Some(IioVar::Result));
        }
    }

    // m0 = selected and var=imm, m1 = selected and var=result
    fn setup(&self) -> String {
        let (var, sel, m0, m1) = (r("var"), r("sel"), r("m0"), r("m1"));
        format!(
            "setp.eq.and.u32 {m0}, {var}, 0, {sel};
             setp.ne.and.u32 {m1}, {var}, 0, {sel};
"
        )
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let eligible = matches!(
            i.class(),
            Class::IntAlu
                | Class::Fp32
                | Class::Fp64
                | Class::Compare
                | Class::Conversion
                | Class::Load
                | Class::Store
        ) && i.opcode != Opcode::Lop3
            && !matches!(
                i.opcode,
                Opcode::Other(_) | Opcode::Prefetch | Opcode::Prefetchu | Opcode::Cp
            );
        if !eligible {
            return Ok(None);
        }
        let types = operand_types(i);
        let (qcode, q) = cx.q(i, &r("m0"));
        let p1 = r("p1");
        let p3 = r("p3");
        let mut pre = format!(
            "{qcode}setp.ne.and.u32 {p3}, {u0}, {u0}, {q};\n",
            u0 = r("u0")
        );
        let mut inst = i.clone();
        let mut any = false;
        let d = i.dest_count();
        let mut slot = 0;
        for (k, op) in i.operands.iter().enumerate() {
            match op {
                Operand::Imm(imm) if k >= d => {
                    let Some(t) = types[k] else { continue };
                    if t == Type::Pred {
                        continue;
                    }
                    let Some(bits) = bits_of_imm(imm, t) else {
                        continue;
                    };
                    let Some(w) = width(t) else { continue };
                    if slot > 3 {
                        continue;
                    }
                    let tmp = slot_reg(w, slot);
                    slot += 1;
                    pre += &format!(
                        "mov.b{w} {tmp}, {bits:#x};\n\
                         @{q} xor.b{w} {tmp}, {tmp}, {x};\n\
                         and.pred {p1}, {q}, {nz};\n\
                         or.pred {p3}, {p3}, {p1};\n",
                        x = r(&format!("xor{w}")),
                        nz = r(&format!("nz{w}")),
                    );
                    inst.operands[k] = name_op(&tmp);
                    any = true;
                }
                Operand::Addr(a)
                    if matches!(i.class(), Class::Load | Class::Store)
                        && !matches!(i.space(), Some(StateSpace::Param)) =>
                {
                    let base = match &a.base {
                        AddrBase::Name(b) => match cx.regs.get(b.as_str()) {
                            Some(t) if t.size() == 8 => b.to_string(),
                            Some(_) => continue,
                            None => {
                                pre += &format!("mov.u64 {a64}, {b};\n", a64 = r("a64"));
                                r("a64")
                            }
                        },
                        AddrBase::Imm(_) => continue,
                    };
                    let (o64, a64) = (r("o64"), r("a64"));
                    pre += &format!(
                        "mov.b64 {o64}, {off};\n\
                         @{q} xor.b64 {o64}, {o64}, {x};\n\
                         add.s64 {a64}, {base}, {o64};\n\
                         and.pred {p1}, {q}, {nz};\n\
                         or.pred {p3}, {p3}, {p1};\n",
                        off = a.offset,
                        x = r("xor64"),
                        nz = r("nz64"),
                    );
                    inst.operands[k] = Operand::Addr(Address {
                        base: AddrBase::Name(a64.into()),
                        offset: 0,
                    });
                    any = true;
                }
                _ => {}
            }
        }
        if !any {
            return Ok(None);
        }
        pre += &count(&p3);
        // var=result: the register result of an instruction with an immediate operand
        let has_imm = i.operands[d..].iter().any(|o| matches!(o, Operand::Imm(_)));
        let dest = (d == 1)
            .then(|| cx.reg_width(&i.operands[0]))
            .flatten()
            .filter(|(_, t, _)| *t != Type::Pred);
        let mut post = String::new();
        if let (true, Some((dr, _, w))) = (has_imm, dest) {
            let (qcode, q) = cx.q(i, &r("m1"));
            let p2 = r("p2");
            post = format!(
                "{qcode}@{q} xor.b{w} {dr}, {dr}, {x};
                 and.pred {p2}, {q}, {nz};
{cnt}",
                x = r(&format!("xor{w}")),
                nz = r(&format!("nz{w}")),
                cnt = count(&p2),
            );
        }
        Ok(Some(with_inst(code(&pre)?, inst, code(&post)?)))
    }

    /// v1: one of 32 bits, all lanes (NVBitPERfi).
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            mask: Some(MaskRule::Bit { lo: 0, hi: 32 }),
            lanes: LaneRule::All,
            ..super::base_rules(false)
        }
    }
    /// NVBitPERfi's IIO: a mask uniform over the non-zero 32-bit values.
    fn faithful_rules(&self) -> ModelRules {
        ModelRules {
            mask: Some(MaskRule::Uniform {
                lo: 1,
                hi: u64::from(u32::MAX),
            }),
            ..self.v1_rules()
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng, _site: &Site, _lane_on: bool, cx: &Draw<'_>) -> Params {
        Params::Iio(IioParams {
            mask: Some(cx.mask(rng, 32, 0)),
            var: None,
        })
    }
}
