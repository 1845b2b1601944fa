//! `ial`: active-mask faults — a lane wrongly inactive (its result dropped) or wrongly
//! active (a guarded instruction runs although its guard is false).

use super::FaultModel;
use crate::descriptor::Descriptor;
use crate::instrument::{code, count, r, with_inst, InstrumentError, Pass, Site};
use crate::model::Params;
use crate::params::{param_set, Name, Named};
use crate::rules::{Draw, LaneRule, ModelRules};
use crate::sample::ExercisedSite;
use ptx::{Class, Guard, Instruction, Opcode, Statement, Type};
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use serde::Serialize;

/// Which way the active mask is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IalMode {
    /// The lane is wrongly inactive: results are dropped.
    Off,
    /// The lane is wrongly active: guarded instructions run anyway.
    On,
}

impl Named for IalMode {
    const NAMES: &'static [(&'static str, Self)] = &[("off", IalMode::Off), ("on", IalMode::On)];
    const WHY: &'static str = "off or on";
}

param_set! {
    /// The parameters of `ial`.
    pub struct IalParams {
        /// Lane off (default) or on.
        mode: IalMode as Name<IalMode>,
    }
}

pub(crate) struct Ial;

impl FaultModel for Ial {
    fn id(&self) -> &'static str {
        "ial"
    }
    fn unit(&self) -> &'static str {
        "active-mask control (parallelism management)"
    }
    fn check_unit(&self) -> &'static str {
        "control-flow"
    }
    fn definition(&self) -> &'static str {
        "Active-mask fault on arithmetic, logic, conversion, comparison and \
         special-function instructions. `mode=off` (lane wrongly inactive): the \
         instruction's register result is dropped in the selected lanes, the \
         destination keeps its previous value. `mode=on` (lane wrongly active): \
         every guarded instruction (@p / @!p, any opcode) executes in the selected \
         lanes even when its guard is false. Lanes: 1-2 (NVBitPERfi)."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[("mode", "off|on (default off; campaigns: either)")]
    }

    /// Variant 0 = lane off, 1 = lane on.
    fn encode(&self, params: &Params, d: &mut Descriptor) {
        if let Params::Ial(p) = params {
            d.variant = u32::from(p.mode == Some(IalMode::On));
        }
    }

    // m0 = lane off, m1 = lane on
    fn setup(&self) -> String {
        let (var, sel) = (r("var"), r("sel"));
        format!(
            "setp.eq.and.u32 {m0}, {var}, 0, {sel};\nsetp.eq.and.u32 {m1}, {var}, 1, {sel};\n",
            m0 = r("m0"),
            m1 = r("m1"),
        )
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let alu = matches!(
            i.class(),
            Class::IntAlu
                | Class::Fp32
                | Class::Fp64
                | Class::Fp16
                | Class::Sfu
                | Class::Conversion
                | Class::Compare
                | Class::SregRead
        ) && !matches!(i.opcode, Opcode::Other(_));
        let off_dest = if alu && i.dest_count() == 1 {
            cx.reg_width(&i.operands[0])
        } else {
            None
        };
        if i.guard.is_none() && off_dest.is_none() {
            return Ok(None);
        }
        cx.info.guarded = i.guard.is_some();
        cx.info.lane_off = off_dest.is_some();
        let mut pre = String::new();
        let mut inst = i.clone();
        if let Some(g) = &i.guard {
            // lane-on: lanes whose guard is false execute anyway.
            let (p1, p2, p3) = (r("p1"), r("p2"), r("p3"));
            let on = r("m1");
            let gfalse = if g.negated {
                format!("mov.pred {p1}, {};\n", g.pred)
            } else {
                format!("not.pred {p1}, {};\n", g.pred)
            };
            pre += &format!(
                "{gfalse}and.pred {p2}, {p1}, {on};\n{}not.pred {p3}, {p1};\nor.pred {p3}, {p3}, {p2};\n",
                count(&p2)
            );
            inst.guard = Some(Guard {
                negated: false,
                pred: p3.into(),
            });
            if inst.opcode == Opcode::Bra {
                inst.modifiers.retain(|m| m != "uni");
            }
        }
        let mut post = String::new();
        if let Some((dest, ty, w)) = off_dest {
            let (qcode, q) = cx.q(&inst, &r("m0"));
            let p4 = r("p4");
            if ty == Type::Pred {
                let s = r("p5");
                pre += &format!("mov.pred {s}, {dest};\n");
                post += &format!(
                    "{qcode}xor.pred {p4}, {dest}, {s};\nand.pred {p4}, {p4}, {q};\n@{p4} mov.pred {dest}, {s};\n{}",
                    count(&p4)
                );
            } else {
                let s = r(&format!("s{w}"));
                pre += &format!("mov.b{w} {s}, {dest};\n");
                post += &format!(
                    "{qcode}setp.ne.and.b{w} {p4}, {dest}, {s}, {q};\n@{p4} mov.b{w} {dest}, {s};\n{}",
                    count(&p4)
                );
            }
        }
        Ok(Some(with_inst(code(&pre)?, inst, code(&post)?)))
    }

    /// 1-2 lanes (NVBitPERfi).
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            lanes: LaneRule::Subset { lo: 1, hi: 2 },
            ..super::base_rules(false)
        }
    }

    /// Lane-on needs a lane whose guard was false, lane-off an ALU site; where both
    /// apply, either.
    fn lane_on_exercised(&self, es: &ExercisedSite, rng: &mut ChaCha8Rng) -> bool {
        let info = &es.site.info;
        let can_on = info.guarded && es.slots.iter().any(|s| s.active & !s.executed != 0);
        if can_on && info.lane_off {
            rng.next_u32() & 1 == 0
        } else {
            can_on
        }
    }

    fn lane_on_physical(&self, site: &Site, rng: &mut ChaCha8Rng) -> bool {
        site.info.guarded && (!site.info.lane_off || rng.next_u32() & 1 == 0)
    }

    fn draw(&self, _rng: &mut ChaCha8Rng, _site: &Site, lane_on: bool, _cx: &Draw<'_>) -> Params {
        Params::Ial(IalParams {
            mode: Some(if lane_on { IalMode::On } else { IalMode::Off }),
        })
    }
}
