//! `wv`: stuck-at or inverted predicates written by `setp`.

use super::{base_rules, FaultModel};
use crate::descriptor::Descriptor;
use crate::instrument::{code, count, r, with_inst, InstrumentError, Pass, Site};
use crate::model::Params;
use crate::params::{param_set, Name, Policy};
use crate::rules::{Draw, ModelRules, PolRule};
use ptx::{Instruction, Opcode, Operand, Statement};
use rand_chacha::ChaCha8Rng;

param_set! {
    /// The parameters of `wv`.
    pub struct WvParams {
        /// Corruption policy.
        pol: Policy as Name<Policy>,
    }
}

pub(crate) struct Wv;

impl FaultModel for Wv {
    fn id(&self) -> &'static str {
        "wv"
    }
    fn unit(&self) -> &'static str {
        "control flow: predicate values (control flow)"
    }
    fn check_unit(&self) -> &'static str {
        "control-flow"
    }
    fn definition(&self) -> &'static str {
        "Every predicate written by setp (both of a p|q pair) is corrupted in the \
         selected lanes: stuck-at-0 (`pol=sa0`), stuck-at-1 (`pol=sa1`) or inverted \
         (`pol=xor`); branch decisions and selects follow the wrong value."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "pol",
            "sa0|sa1|xor (default xor; campaigns: faithful xor, v1 sa0 or sa1)",
        )]
    }

    /// Variant 0 = sa0, 1 = sa1, 2 = flip (the masks, unused, follow the policy on
    /// bit 0).
    fn encode(&self, params: &Params, d: &mut Descriptor) {
        let Params::Wv(p) = params else { return };
        let pol = p.pol.unwrap_or(Policy::Xor);
        d.set_masks(1, pol);
        d.variant = match pol {
            Policy::Sa0 => 0,
            Policy::Sa1 => 1,
            Policy::Xor => 2,
        };
    }

    // m0 = sa0, m1 = sa1, m2 = flip
    fn setup(&self) -> String {
        let (var, sel) = (r("var"), r("sel"));
        (0..3)
            .map(|v| {
                format!(
                    "setp.eq.and.u32 {}, {var}, {v}, {sel};\n",
                    r(&format!("m{v}"))
                )
            })
            .collect()
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if i.opcode != Opcode::Setp {
            return Ok(None);
        }
        let preds: Vec<String> = match i.operands.first() {
            Some(Operand::Name { name, comp: None }) => vec![name.to_string()],
            Some(Operand::Pair(a, b)) => vec![a.to_string(), b.to_string()],
            _ => return Ok(None),
        };
        let (qcode, q) = cx.q(i, &r("true"));
        let (p1, p2, p3) = (r("p1"), r("p2"), r("p3"));
        // p3: some predicate of the instruction changed (counted once per warp-instruction).
        let mut post = format!("not.pred {p3}, {};\n", r("true"));
        if i.guard.is_some() {
            post += &qcode;
        }
        for p in preds.iter().filter(|p| p.as_str() != "_") {
            post += &format!(
                "and.pred {p1}, {m0}, {p};\n\
                 not.pred {p2}, {p};\n\
                 and.pred {p2}, {p2}, {m1};\n\
                 or.pred {p1}, {p1}, {p2};\n\
                 or.pred {p1}, {p1}, {m2};\n",
                m0 = r("m0"),
                m1 = r("m1"),
                m2 = r("m2"),
            );
            if i.guard.is_some() {
                post += &format!("and.pred {p1}, {p1}, {q};\n");
            }
            post += &format!("xor.pred {p}, {p}, {p1};\nor.pred {p3}, {p3}, {p1};\n");
        }
        post += &count(&p3);
        Ok(Some(with_inst(vec![], i.clone(), code(&post)?)))
    }

    /// v1: stuck-at 0 or 1.
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            pol: Some(PolRule::Stuck),
            ..base_rules(false)
        }
    }
    /// NVBitPERfi's WV flips (XORs) predicate bits.
    fn faithful_rules(&self) -> ModelRules {
        ModelRules {
            pol: Some(PolRule::Fixed(Policy::Xor)),
            ..self.v1_rules()
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng, _site: &Site, _lane_on: bool, cx: &Draw<'_>) -> Params {
        Params::Wv(WvParams {
            pol: Some(cx.pol(rng)),
        })
    }
}
