//! `fu`: a functional unit of one lane flips bits of one opcode group's results.

use super::FaultModel;
use crate::descriptor::{op_group_id, Descriptor};
use crate::instrument::{code, count, name_op, r, with_inst, InstrumentError, Pass, Site};
use crate::model::Params;
use crate::params::{param_set, Mask, OpGroup, Policy};
use crate::rules::{Draw, LaneRule, MaskRule, ModelRules, WarpRule};
use ptx::{Instruction, Opcode, Operand, Statement, Type};
use rand_chacha::ChaCha8Rng;

param_set! {
    /// The parameters of `fu`.
    pub struct FuParams {
        /// Bits flipped in the result.
        mask: u64 as Mask,
        /// Opcode group (`fma.f32`), required.
        op: String as OpGroup,
    }
}

pub(crate) struct Fu;

impl FaultModel for Fu {
    fn id(&self) -> &'static str {
        "fu"
    }
    fn unit(&self) -> &'static str {
        "functional unit of one lane (NVBitFI permanent mode)"
    }
    fn check_unit(&self) -> &'static str {
        "decode"
    }
    fn definition(&self) -> &'static str {
        "Functional-unit fault: every instruction of opcode group `op` executed in the \
         selected lanes (NVBitFI: one lane of every warp of the SM sub-partition) has \
         its register result xor-ed with `mask`."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "op",
                "opcode group, e.g. fma.rn.f32 (required; campaigns: an executed one)",
            ),
            (
                "mask",
                "1..2^64-1, bits flipped in the result (default 1; campaigns: one bit of \
                 the result width)",
            ),
        ]
    }
    fn required(&self) -> &'static [&'static str] {
        &["op"]
    }

    fn encode(&self, params: &Params, d: &mut Descriptor) {
        let Params::Fu(p) = params else { return };
        d.set_masks(p.mask.unwrap_or(1), Policy::Xor);
        d.op = p.op.as_deref().map_or(0, op_group_id);
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if i.dest_count() != 1 || matches!(i.opcode, Opcode::Call | Opcode::Other(_)) {
            return Ok(None);
        }
        let dests: Vec<(String, Type, u32)> = match &i.operands[0] {
            Operand::Vector(v) => match v.iter().map(|e| cx.reg_width(e)).collect() {
                Some(d) => d,
                None => return Ok(None),
            },
            Operand::Pair(a, b) => match [a, b]
                .iter()
                .filter(|n| n.as_str() != "_")
                .map(|n| cx.reg_width(&name_op(n)))
                .collect()
            {
                Some(d) => d,
                None => return Ok(None),
            },
            o => match cx.reg_width(o) {
                Some(d) => vec![d],
                None => return Ok(None),
            },
        };
        cx.info.width = dests.iter().map(|d| d.2).max().unwrap_or(0);
        let p1 = r("p1");
        let p3 = r("p3");
        let mut post = cx.op_match(i, &r("sel"));
        post += &format!("setp.ne.and.u32 {p3}, {u0}, {u0}, {p1};\n", u0 = r("u0"));
        for (d, t, w) in &dests {
            if *t == Type::Pred {
                // A one-bit result flips when the mask's bit 0 is set.
                let p2 = r("p2");
                post += &format!(
                    "and.b32 {u1}, {x32}, 1;\nsetp.ne.and.u32 {p2}, {u1}, 0, {p1};\nxor.pred {d}, {d}, {p2};\nor.pred {p3}, {p3}, {p2};\n",
                    u1 = r("u1"),
                    x32 = r("xor32")
                );
            } else {
                post += &format!(
                    "@{p1} xor.b{w} {d}, {d}, {x};\nand.pred {p2}, {p1}, {nz};\nor.pred {p3}, {p3}, {p2};\n",
                    p2 = r("p2"),
                    x = r(&format!("xor{w}")),
                    nz = r(&format!("nz{w}")),
                );
            }
        }
        post += &count(&p3);
        Ok(Some(with_inst(vec![], i.clone(), code(&post)?)))
    }

    /// NVBitFI's permanent mode: one lane of every warp of the SM (here: every warp
    /// slot of the sub-partition), a mask the user gives (no distribution defined; ours: one bit of the result).
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            mask: Some(MaskRule::SiteBit),
            pol: None,
            lanes: LaneRule::One,
            warps: WarpRule::All,
            fixed: Vec::new(),
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, _lane_on: bool, cx: &Draw<'_>) -> Params {
        let w = site.info.width;
        let op = Some(site.op_group.clone());
        Params::Fu(FuParams {
            mask: Some(cx.mask(rng, w, 0)),
            op,
        })
    }
}
