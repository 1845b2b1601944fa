//! `ioc`: an operation-code decode fault — one opcode group computes a substitute
//! operation on the same operands.

use super::FaultModel;
use crate::descriptor::{op_group_id, Descriptor};
use crate::instrument::{code, name_op, r, variants, Change, InstrumentError, Pass, Site, Variant};
use crate::model::Params;
use crate::params::{param_set, OpGroup, Subst};
use crate::rules::{Draw, LaneRule, ModelRules};
use crate::sample::pick;
use crate::spec::SUBSTITUTES;
use crate::types::width;
use ptx::{Guard, Instruction, Opcode, Operand, Statement, Type};
use rand_chacha::ChaCha8Rng;

param_set! {
    /// The parameters of `ioc`.
    pub struct IocParams {
        /// Opcode group (`add.s32`), required.
        op: String as OpGroup,
        /// Substitute operation, one of [`SUBSTITUTES`](crate::SUBSTITUTES), required.
        subst: String as Subst,
    }
}

pub(crate) struct Ioc;

impl FaultModel for Ioc {
    fn id(&self) -> &'static str {
        "ioc"
    }
    fn unit(&self) -> &'static str {
        "fetch/decode/scheduler: operation code (operation management)"
    }
    fn check_unit(&self) -> &'static str {
        "decode"
    }
    fn definition(&self) -> &'static str {
        "Operation-code decode fault: every ALU/FP instruction of opcode group `op` \
         (e.g. add.s32) computes the substitute operation `subst` on the same operands \
         (add<->sub, mul, and/or/xor, min/max, shl<->shr; mad/fma -> mul or add) in the selected \
         lanes."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "op",
                "opcode group, e.g. add.s32 (required; campaigns: an executed ALU/FP one)",
            ),
            (
                "subst",
                "substitute operation, e.g. sub (required; campaigns: any valid one)",
            ),
        ]
    }
    fn required(&self) -> &'static [&'static str] {
        &["op", "subst"]
    }

    /// Variant = the substitute's index in [`SUBSTITUTES`].
    fn encode(&self, params: &Params, d: &mut Descriptor) {
        let Params::Ioc(p) = params else { return };
        d.op = p.op.as_deref().map_or(0, op_group_id);
        d.variant = p
            .subst
            .as_deref()
            .and_then(|s| SUBSTITUTES.iter().position(|x| *x == s))
            .unwrap_or(0) as u32;
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        // The original's result goes to a scratch register first (sources are read
        // before the destination is written), so the counter sees whether the
        // substitute's result differs. Carry-chain instructions cannot run twice.
        let dest = i
            .operands
            .first()
            .and_then(|d| cx.reg_width(d))
            .filter(|(_, _, w)| Change::checkable(*w) && !i.has_modifier("cc"));
        let change = || match &dest {
            Some((d, _, w)) => Change::Result {
                dest: d.clone(),
                w: *w,
            },
            None => Change::Always,
        };
        let vs: Vec<Variant> = SUBSTITUTES
            .iter()
            .enumerate()
            .filter_map(|(k, s)| {
                let inst = substitute(i, s)?;
                Some(Variant {
                    id: k as u32,
                    change: change(),
                    inst,
                })
            })
            .collect();
        if vs.is_empty() {
            return Ok(None);
        }
        cx.info.variants = vs.iter().map(|v| v.id).collect();
        let p1 = r("p1");
        let pre = cx.op_match(i, &r("sel"));
        let mut out = code(&pre)?;
        if let Some((_, _, w)) = &dest {
            let mut orig = i.clone();
            orig.operands[0] = name_op(&Change::scratch(*w));
            orig.guard = Some(Guard {
                negated: false,
                pred: p1.as_str().into(),
            });
            out.push(Statement::Inst(orig));
        }
        variants(out, i, &p1, vs)
    }

    /// All lanes (NVBitPERfi).
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            lanes: LaneRule::All,
            ..super::base_rules(false)
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, _lane_on: bool, _cx: &Draw<'_>) -> Params {
        let op = Some(site.op_group.clone());
        let k = pick(rng, &site.info.variants).unwrap_or(0) as usize;
        Params::Ioc(IocParams {
            op,
            subst: Some(SUBSTITUTES[k.min(SUBSTITUTES.len() - 1)].to_string()),
        })
    }
}

/// The substitute instruction for `subst`, if valid for `i`.
fn substitute(i: &Instruction, subst: &str) -> Option<Instruction> {
    let ty = i.ty()?;
    let own = i.opcode.name();
    let ops = &i.operands;
    let float = matches!(ty, Type::F32 | Type::F64);
    let int = !ty.is_float() && width(ty).is_some();
    let (sz, signed) = (ty.size() * 8, ty.is_signed());
    let b_ty = format!("b{sz}");
    let su_ty = if signed {
        format!("s{sz}")
    } else {
        format!("u{sz}")
    };
    let rounding: Vec<&str> = i
        .modifiers
        .iter()
        .filter(|m| matches!(*m, "rn" | "rz" | "rm" | "rp" | "ftz" | "sat"))
        .collect();
    let mk = |op: Opcode, mods: Vec<String>, operands: Vec<Operand>| Instruction {
        guard: None,
        opcode: op,
        modifiers: mods.iter().collect(),
        operands,
        line: 0,
    };
    let binary_int = ["add", "sub", "mul", "and", "or", "xor", "min", "max"];
    let binary_float = ["add", "sub", "mul", "min", "max"];
    match (own, ops.len()) {
        ("add" | "sub" | "and" | "or" | "xor" | "min" | "max", 3) | ("mul", 3)
            if int && !i.has_modifier("wide") && !i.has_modifier("hi") && !i.has_modifier("cc") =>
        {
            if subst == own || !binary_int.contains(&subst) {
                return None;
            }
            let mods = match subst {
                "add" | "sub" => vec![su_ty.clone()],
                "mul" => vec!["lo".to_string(), su_ty.clone()],
                "min" | "max" => vec![su_ty.clone()],
                _ => vec![b_ty.clone()],
            };
            Some(mk(Opcode::from_name(subst), mods, ops.clone()))
        }
        ("shl" | "shr", 3) if int => {
            if subst == own || !matches!(subst, "shl" | "shr") {
                return None;
            }
            let mods = if subst == "shl" {
                vec![b_ty.clone()]
            } else {
                vec![format!("u{sz}")]
            };
            Some(mk(Opcode::from_name(subst), mods, ops.clone()))
        }
        ("add" | "sub" | "mul" | "min" | "max", 3) if float => {
            if subst == own || !binary_float.contains(&subst) {
                return None;
            }
            let mut mods: Vec<String> = Vec::new();
            if matches!(subst, "add" | "sub" | "mul") {
                mods.push("rn".into());
            }
            if rounding.contains(&"ftz") {
                mods.push("ftz".into());
            }
            mods.push(ty.name().into());
            Some(mk(Opcode::from_name(subst), mods, ops.clone()))
        }
        ("mad", 4) if int && i.has_modifier("lo") => match subst {
            "mul" => Some(mk(
                Opcode::Mul,
                vec!["lo".into(), su_ty.clone()],
                ops[..3].to_vec(),
            )),
            "add" => Some(mk(
                Opcode::Add,
                vec![su_ty.clone()],
                vec![ops[0].clone(), ops[1].clone(), ops[3].clone()],
            )),
            _ => None,
        },
        ("fma", 4) if float => {
            let mut mods: Vec<String> = vec!["rn".into()];
            if rounding.contains(&"ftz") {
                mods.push("ftz".into());
            }
            mods.push(ty.name().into());
            match subst {
                "mul" => Some(mk(Opcode::Mul, mods, ops[..3].to_vec())),
                "add" => Some(mk(
                    Opcode::Add,
                    mods,
                    vec![ops[0].clone(), ops[1].clone(), ops[3].clone()],
                )),
                _ => None,
            }
        }
        _ => None,
    }
}
