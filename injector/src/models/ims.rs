//! `ims`: flipped bits in values loaded from the constant bank and kernel parameters.

use super::FaultModel;
use crate::descriptor::Descriptor;
use crate::instrument::{code, count, r, with_inst, InstrumentError, Pass, Site};
use crate::model::Params;
use crate::params::{param_set, Mask, Name, Named, Policy};
use crate::rules::{Draw, MaskRule, ModelRules};
use ptx::{Instruction, Opcode, Operand, StateSpace, Statement, Type};
use rand_chacha::ChaCha8Rng;

/// Which reads an `ims` fault corrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImsSrc {
    /// Loads from the constant bank: `ld.const` and kernel `ld.param` (default).
    Cbank,
    /// Those and the reads of `%ntid` and `%nctaid`, which SASS also loads from
    /// constant bank 0.
    All,
}

impl Named for ImsSrc {
    const NAMES: &'static [(&'static str, Self)] =
        &[("cbank", ImsSrc::Cbank), ("all", ImsSrc::All)];
    const WHY: &'static str = "cbank or all";
}

param_set! {
    /// The parameters of `ims`.
    pub struct ImsParams {
        /// Bits flipped.
        mask: u64 as Mask,
        /// Which reads: constant-bank loads (default) or also `%ntid`/`%nctaid`.
        src: ImsSrc as Name<ImsSrc>,
    }
}

pub(crate) struct Ims;

/// A read of `%ntid`/`%nctaid` into a 32-bit register, corrupted when `src=all`.
fn sreg_site(
    cx: &mut Pass<'_>,
    i: &Instruction,
) -> Result<Option<Vec<Statement>>, InstrumentError> {
    let reads = i.opcode == Opcode::Mov
        && i.operands.len() == 2
        && matches!(&i.operands[1], Operand::Name { name, comp: Some(_) }
            if name == "%ntid" || name == "%nctaid");
    if !reads {
        return Ok(None);
    }
    let Some((d, t, 32)) = cx.reg_width(&i.operands[0]) else {
        return Ok(None);
    };
    if t == Type::Pred {
        return Ok(None);
    }
    cx.info.width = 32;
    cx.info.sreg = true;
    let (qcode, q) = cx.q(i, &r("m0"));
    let (p1, s) = (r("p1"), r("s32"));
    let post = format!(
        "{qcode}xor.b32 {s}, {d}, {x};\n\
         setp.ne.and.b32 {p1}, {s}, {d}, {q};\n\
         @{p1} mov.b32 {d}, {s};\n{cnt}",
        x = r("xor32"),
        cnt = count(&p1),
    );
    Ok(Some(with_inst(vec![], i.clone(), code(&post)?)))
}

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
         xor-ed with `mask` (every element of a vector load). With `src=all` the reads \
         of %ntid.{x,y,z} and %nctaid.{x,y,z}, which PTX spells as special registers \
         and SASS loads from constant bank 0 like the parameters, are xor-ed too."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "mask",
                "1..2^64-1, bits flipped (default 1; campaigns: one bit of the loaded width)",
            ),
            (
                "src",
                "cbank|all, constant-bank loads only (default: PTX's constant bank) or also \
                 the %ntid/%nctaid reads SASS makes from it (campaigns: cbank)",
            ),
        ]
    }

    fn encode(&self, params: &Params, d: &mut Descriptor) {
        if let Params::Ims(p) = params {
            d.set_masks(p.mask.unwrap_or(1), Policy::Xor);
            d.variant = u32::from(p.src == Some(ImsSrc::All));
        }
    }

    // m0 = selected and src=all
    fn setup(&self) -> String {
        format!(
            "setp.ne.and.u32 {m0}, {var}, 0, {sel};\n",
            m0 = r("m0"),
            var = r("var"),
            sel = r("sel")
        )
    }

    fn enabled(&self, site: &Site, rules: &ModelRules) -> bool {
        !site.info.sreg || rules.fixed.iter().any(|(k, v)| k == "src" && v == "all")
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if let Some(sreg) = sreg_site(cx, i)? {
            return Ok(Some(sreg));
        }
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
            src: None,
        })
    }
}
