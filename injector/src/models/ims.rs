//! `ims`: flipped bits in values loaded from the constant bank and kernel parameters.

use super::FaultModel;
use crate::descriptor::Descriptor;
use crate::instrument::{code, count, r, with_inst, InstrumentError, Pass, Site};
use crate::model::Params;
use crate::params::{param_set, Mask, Policy};
use crate::rules::{Draw, MaskRule, ModelRules};
use ptx::{Instruction, Opcode, StateSpace, Statement, Type};
use rand_chacha::ChaCha8Rng;

param_set! {
    /// The parameters of `ims`.
    pub struct ImsParams {
        /// Bits flipped.
        mask: u64 as Mask,
    }
}

pub(crate) struct Ims;

impl FaultModel for Ims {
    fn id(&self) -> &'static str {
        "ims"
    }
    fn unit(&self) -> &'static str {
        "memory source: constant bank / parameters (resource management)"
    }
    fn check_unit(&self) -> &'static str {
        "memory"
    }
    fn definition(&self) -> &'static str {
        "Every value a selected thread loads from the constant bank - `ld.const`, and \
         `ld.param` of kernel parameters (which SASS reads from constant bank 0) - is \
         xor-ed with `mask` (every element of a vector load)."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "mask",
            "1..2^64-1, bits flipped (default 1; campaigns: one bit of the loaded width)",
        )]
    }

    fn encode(&self, params: &Params, d: &mut Descriptor) {
        if let Params::Ims(p) = params {
            d.set_masks(p.mask.unwrap_or(1), Policy::Xor);
        }
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let space = i.space();
        let is_site = matches!(i.opcode, Opcode::Ld | Opcode::Ldu)
            && (space == Some(StateSpace::Const)
                || (space == Some(StateSpace::Param) && cx.kernel && !cx.moves_call_param(i)));
        if !is_site {
            return Ok(None);
        }
        let Some(dests) = cx.load_dests(i) else {
            return Ok(None);
        };
        if dests.iter().any(|(_, t, _)| *t == Type::Pred) {
            return Ok(None);
        }
        let (qcode, q) = cx.q(i, &r("sel"));
        let (p1, p3) = (r("p1"), r("p3"));
        let mut post = format!(
            "{qcode}setp.ne.and.u32 {p3}, {u0}, {u0}, {q};\n",
            u0 = r("u0")
        );
        for (d, _, w) in &dests {
            let s = r(&format!("s{w}"));
            post += &format!(
                "xor.b{w} {s}, {d}, {x};\n\
                 setp.ne.and.b{w} {p1}, {s}, {d}, {q};\n\
                 @{p1} mov.b{w} {d}, {s};\n\
                 or.pred {p3}, {p3}, {p1};\n",
                x = r(&format!("xor{w}")),
            );
        }
        post += &count(&p3);
        Ok(Some(with_inst(vec![], i.clone(), code(&post)?)))
    }

    /// v1 and faithful: one bit of the loaded value (NVBitPERfi's public code has no IMS).
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            mask: Some(MaskRule::SiteBit),
            ..super::base_rules(false)
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, _lane_on: bool, cx: &Draw<'_>) -> Params {
        let w = site.info.width;
        Params::Ims(ImsParams {
            mask: Some(cx.mask(rng, w, 0)),
        })
    }
}
