//! `imd`: corrupted store data or store addresses.

use super::FaultModel;
use crate::descriptor::Descriptor;
use crate::instrument::{
    bits_of_imm, code, count, name_op, r, slot_reg, with_inst, InstrumentError, Pass, Site,
};
use crate::model::Params;
use crate::params::{param_set, Mask, Name, Named, Policy, Spaces};
use crate::rules::{Draw, MaskRule, ModelRules};
use crate::types::width;
use ptx::{AddrBase, Address, Instruction, Opcode, Operand, StateSpace, Statement, Type};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// What a store fault corrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImdMode {
    /// The stored value.
    Data,
    /// The address.
    Addr,
}

impl Named for ImdMode {
    const NAMES: &'static [(&'static str, Self)] =
        &[("data", ImdMode::Data), ("addr", ImdMode::Addr)];
    const WHY: &'static str = "data or addr";
}

param_set! {
    /// The parameters of `imd`.
    pub struct ImdParams {
        /// Bits flipped.
        mask: u64 as Mask,
        /// Data (default) or address.
        mode: ImdMode as Name<ImdMode>,
        /// Store spaces, letters of `slg` (default `sl`).
        spaces: String as Spaces,
    }
}

pub(crate) struct Imd;

impl FaultModel for Imd {
    fn id(&self) -> &'static str {
        "imd"
    }
    fn unit(&self) -> &'static str {
        "memory destination: store data or address (resource management)"
    }
    fn check_unit(&self) -> &'static str {
        "memory"
    }
    fn definition(&self) -> &'static str {
        "Every store of a selected thread to the spaces in `spaces` (s = shared, \
         l = local, g = global and generic) writes corrupted data (`mode=data`: the \
         stored value xor `mask`) or to a corrupted address (`mode=addr`: the address \
         register xor `mask`). NVBitPERfi touched shared and local stores only."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "mask",
                "1..2^64-1, bits flipped (default 1; campaigns: one bit of the stored width)",
            ),
            ("mode", "data|addr (default data; campaigns: data)"),
            (
                "spaces",
                "any of s,l,g (default sl, as NVBitPERfi; campaigns: slg, since most \
                 workload stores are global)",
            ),
        ]
    }

    /// Variant bits 0..2 = spaces s/l/g, bit 4 = address mode.
    fn encode(&self, params: &Params, d: &mut Descriptor) {
        let Params::Imd(p) = params else { return };
        d.set_masks(p.mask.unwrap_or(1), Policy::Xor);
        let spaces = p.spaces.as_deref().unwrap_or("sl");
        let mut v = 0;
        for (bit, c) in [(1, 's'), (2, 'l'), (4, 'g')] {
            if spaces.contains(c) {
                v |= bit;
            }
        }
        if p.mode == Some(ImdMode::Addr) {
            v |= 16;
        }
        d.variant = v;
    }

    // m0..m2 = data faults on shared/local/global, m3..m5 = address faults
    fn setup(&self) -> String {
        let (var, sel, u1, p0) = (r("var"), r("sel"), r("u1"), r("p0"));
        let mut s = String::new();
        for (cmp, first) in [("eq", 0), ("ne", 3)] {
            s += &format!("and.b32 {u1}, {var}, 16;\nsetp.{cmp}.and.u32 {p0}, {u1}, 0, {sel};\n");
            for (k, bit) in [(first, 1), (first + 1, 2), (first + 2, 4)] {
                s += &format!(
                    "and.b32 {u1}, {var}, {bit};\n\
                     setp.ne.and.u32 {m}, {u1}, 0, {p0};\n",
                    m = r(&format!("m{k}"))
                );
            }
        }
        s
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if i.opcode != Opcode::St
            || i.modifiers
                .iter()
                .any(|m| m.starts_with("async") || m == "bulk")
        {
            return Ok(None);
        }
        let (data_pred, addr_pred, space) = match i.space() {
            Some(StateSpace::Shared) => ("m0", "m3", 's'),
            Some(StateSpace::Local) => ("m1", "m4", 'l'),
            Some(StateSpace::Global) | None => ("m2", "m5", 'g'),
            _ => return Ok(None),
        };
        let Some(ty) = i.ty() else { return Ok(None) };
        cx.info.space = Some(space);
        cx.info.width = width(ty).unwrap_or(16).max(16);
        let n = i.operands.len();
        if n != 2 {
            return Ok(None);
        }
        let mut inst = i.clone();
        let mut pre = String::new();
        // data
        let (qcode, q) = cx.q(i, &r(data_pred));
        pre += &qcode;
        let p1 = r("p1");
        let p3 = r("p3");
        pre += &format!("setp.ne.and.u32 {p3}, {u0}, {u0}, {q};\n", u0 = r("u0"));
        let elems: Vec<Operand> = match &i.operands[1] {
            Operand::Vector(v) => v.clone(),
            o => vec![o.clone()],
        };
        let mut new_elems = Vec::new();
        for (k, e) in elems.iter().enumerate() {
            let (val, w) = match e {
                Operand::Imm(imm) => {
                    let w = width(ty).unwrap_or(16).max(16);
                    let wty = match w {
                        16 => Type::B16,
                        32 => Type::B32,
                        _ => Type::B64,
                    };
                    let Some(bits) = bits_of_imm(imm, if ty.is_float() { ty } else { wty }) else {
                        return Ok(None);
                    };
                    (format!("{bits:#x}"), w)
                }
                o => match cx.reg_width(o) {
                    Some((name, t, w)) if t != Type::Pred => (name, w),
                    _ => return Ok(None),
                },
            };
            let tmp = slot_reg(w, k);
            pre += &format!(
                "mov.b{w} {tmp}, {val};\n\
                 @{q} xor.b{w} {tmp}, {tmp}, {x};\n\
                 setp.ne.and.b{w} {p1}, {tmp}, {val}, {q};\n\
                 or.pred {p3}, {p3}, {p1};\n",
                x = r(&format!("xor{w}")),
            );
            new_elems.push(name_op(&tmp));
        }
        inst.operands[1] = if new_elems.len() == 1 && !matches!(i.operands[1], Operand::Vector(_)) {
            new_elems.pop().unwrap_or(Operand::Sink)
        } else {
            Operand::Vector(new_elems)
        };
        // address
        let Operand::Addr(a) = &i.operands[0] else {
            return Ok(None);
        };
        let (qa_code, qa) = cx.q(i, &r(addr_pred));
        let (base, w) = match &a.base {
            AddrBase::Name(b) => match cx.regs.get(b.as_str()) {
                Some(t) if width(*t).is_some_and(|w| w >= 32) => {
                    (b.to_string(), width(*t).unwrap_or(64))
                }
                Some(_) => return Ok(None),
                None => {
                    // a variable: take its address
                    pre += &format!("mov.u64 {a64}, {b};\n", a64 = r("a64"));
                    (r("a64"), 64)
                }
            },
            AddrBase::Imm(_) => return Ok(None),
        };
        let tmp = r(&format!("a{w}"));
        pre += &format!(
            "{qa_code}mov.b{w} {tmp}, {base};\n\
             @{qa} xor.b{w} {tmp}, {tmp}, {x};\n\
             setp.ne.and.b{w} {p1}, {tmp}, {base}, {qa};\n\
             or.pred {p3}, {p3}, {p1};\n",
            x = r(&format!("xor{w}")),
        );
        inst.operands[0] = Operand::Addr(Address {
            base: AddrBase::Name(tmp.into()),
            offset: a.offset,
        });
        pre += &count(&p3);
        Ok(Some(with_inst(code(&pre)?, inst, vec![])))
    }

    /// v1 and faithful: one bit of the stored value (NVBitPERfi's public code has no IMD).
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            mask: Some(MaskRule::SiteBit),
            ..super::base_rules(false)
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, _lane_on: bool, cx: &Draw<'_>) -> Params {
        let w = site.info.width;
        Params::Imd(ImdParams {
            mask: Some(cx.mask(rng, w, 0)),
            mode: Some(ImdMode::Data),
            spaces: Some("slg".into()),
        })
    }
}
