//! `brx`: the selected lanes take the other direction at conditional branches.

use super::FaultModel;
use crate::instrument::{code, count, r, with_inst, InstrumentError, Pass, Site};
use crate::model::{NoParams, Params};
use ptx::{Guard, Instruction, Opcode, Statement};
use rand_chacha::ChaCha8Rng;

pub(crate) struct Brx;

impl FaultModel for Brx {
    fn id(&self) -> &'static str {
        "brx"
    }
    fn unit(&self) -> &'static str {
        "branch unit: branch direction"
    }
    fn check_unit(&self) -> &'static str {
        "control-flow"
    }
    fn definition(&self) -> &'static str {
        "Branch-unit fault: at every conditional branch (@p bra) the selected lanes \
         take the opposite direction."
    }

    fn site(
        &self,
        _cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let Some(g) = &i.guard else { return Ok(None) };
        if i.opcode != Opcode::Bra {
            return Ok(None);
        }
        let p1 = r("p1");
        let sel = r("sel");
        let pre = format!("xor.pred {p1}, {}, {sel};\n{}", g.pred, count(&sel));
        let mut inst = i.clone();
        inst.guard = Some(Guard {
            negated: g.negated,
            pred: p1.into(),
        });
        inst.modifiers.retain(|m| m != "uni");
        Ok(Some(with_inst(code(&pre)?, inst, vec![])))
    }

    fn draw(
        &self,
        _rng: &mut ChaCha8Rng,
        _site: &Site,
        _lane_on: bool,
        _cx: &crate::rules::Draw<'_>,
    ) -> Params {
        Params::Brx(NoParams {})
    }
}
