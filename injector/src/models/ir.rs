//! `ir`: an invalid register makes the first instruction of one opcode group trap.

use super::FaultModel;
use crate::descriptor::{op_group_id, Descriptor};
use crate::instrument::{code, count, r, with_inst, InstrumentError, Pass, Site};
use crate::model::Params;
use crate::params::{param_set, OpGroup};
use ptx::{Instruction, Statement};
use rand_chacha::ChaCha8Rng;

param_set! {
    /// The parameters of `ir`.
    pub struct IrParams {
        /// Opcode group (`add.s32`), required.
        op: String as OpGroup,
    }
}

/// The block the faulty lanes branch to.
const TRAP_LABEL: &str = "$__gf_trap";

pub(crate) struct Ir;

impl FaultModel for Ir {
    fn id(&self) -> &'static str {
        "ir"
    }
    fn unit(&self) -> &'static str {
        "decoder: invalid register (operation/resource management)"
    }
    fn check_unit(&self) -> &'static str {
        "decode"
    }
    fn definition(&self) -> &'static str {
        "Invalid-register decode fault: the first instruction of opcode group `op` \
         (e.g. add.s32) that a selected thread executes raises an error (PTX `trap`; \
         the warp and the kernel stop)."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "op",
            "opcode group, e.g. add.s32 (required; campaigns: an executed one)",
        )]
    }
    fn all_lanes(&self) -> bool {
        true
    }
    fn required(&self) -> &'static [&'static str] {
        &["op"]
    }

    fn encode(&self, params: &Params, d: &mut Descriptor) {
        if let Params::Ir(IrParams { op: Some(op) }) = params {
            d.op = op_group_id(op);
        }
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        // Lanes that hit the faulty group branch to one shared block per function that
        // counts and traps (`epilogue`): two instructions per site keep the copy small.
        let pre = format!(
            "{}@{} bra {TRAP_LABEL};\n",
            cx.op_match(i, &r("sel")),
            r("p1")
        );
        Ok(Some(with_inst(code(&pre)?, i.clone(), vec![])))
    }

    /// The block the faulty lanes branch to: count once per warp, then trap.
    fn epilogue(&self) -> Result<Vec<Statement>, InstrumentError> {
        let mut out = code("ret;")?;
        out.push(Statement::Label(TRAP_LABEL.into()));
        out.extend(code(&format!("{}trap;\n", count(&r("true"))))?);
        Ok(out)
    }

    fn draw(
        &self,
        _rng: &mut ChaCha8Rng,
        site: &Site,
        _lane_on: bool,
        _cx: &crate::rules::Draw<'_>,
    ) -> Params {
        Params::Ir(IrParams {
            op: Some(site.op_group.clone()),
        })
    }
}
