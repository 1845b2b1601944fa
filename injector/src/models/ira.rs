//! `ira`: a register-address decode fault — one register field names a neighbouring
//! register.

use super::FaultModel;
use crate::descriptor::Descriptor;
use crate::instrument::{code, name_op, r, variants, Change, InstrumentError, Pass, Site, Variant};
use crate::model::Params;
use crate::params::{param_set, Upto};
use crate::rules::{Draw, LaneRule, ModelRules};
use crate::sample::pick;
use crate::types::width;
use ptx::{AddrBase, Address, Class, Instruction, Opcode, Operand, Statement, Type};
use rand_chacha::ChaCha8Rng;

param_set! {
    /// The parameters of `ira`.
    pub struct IraParams {
        /// Register field: 0 = destination, k = k-th register source.
        field: u8 as Upto<3>,
        /// Register-index bit.
        bit: u8 as Upto<1>,
    }
}

pub(crate) struct Ira;

impl FaultModel for Ira {
    fn id(&self) -> &'static str {
        "ira"
    }
    fn unit(&self) -> &'static str {
        "decoder: register address (operation/resource management)"
    }
    fn check_unit(&self) -> &'static str {
        "decode"
    }
    fn definition(&self) -> &'static str {
        "Register-address decode fault: in every instruction, register field `field` \
         (0 = destination, k = k-th register source) addresses the register whose index \
         differs in bit `bit` (%r12 -> %r13 for bit 0) when that register exists with \
         the same type. A wrong source reads the other register's value; a wrong \
         destination writes the other register and leaves the intended one unchanged. \
         Applies to the selected lanes (NVBitPERfi: all lanes)."
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "field",
                "0..3: 0 = destination, k = k-th register source (default 0; campaigns: \
                 one the site has)",
            ),
            (
                "bit",
                "0..1: the register-index bit that is wrong (default 0; campaigns: one the \
                 site has)",
            ),
        ]
    }

    /// Variant = field * 4 + bit.
    fn encode(&self, params: &Params, d: &mut Descriptor) {
        if let Params::Ira(p) = params {
            d.variant = u32::from(p.field.unwrap_or(0)) * 4 + u32::from(p.bit.unwrap_or(0));
        }
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        // Variants are guarded instructions, which a call argument cannot be.
        if matches!(
            i.class(),
            Class::Control | Class::Barrier | Class::Other | Class::Tensor
        ) || matches!(i.opcode, Opcode::Other(_))
            || cx.moves_call_param(i)
        {
            return Ok(None);
        }
        // Register fields: 0 = destination, then register sources (address bases too).
        let mut fields: Vec<(u8, usize, bool)> = Vec::new(); // (field, operand, is_addr)
        let d = i.dest_count();
        if d == 1 && cx.reg_width(&i.operands[0]).is_some() {
            fields.push((0, 0, false));
        }
        let mut k = 1u8;
        for (n, op) in i.operands.iter().enumerate().skip(d) {
            if k > 3 {
                break;
            }
            let is_reg = match op {
                Operand::Name { name, comp: None } => cx.regs.contains_key(name.as_str()),
                Operand::Addr(Address {
                    base: AddrBase::Name(b),
                    ..
                }) => cx.regs.contains_key(b.as_str()),
                _ => false,
            };
            if is_reg {
                fields.push((k, n, matches!(op, Operand::Addr(_))));
                k += 1;
            }
        }
        let mut vs = Vec::new();
        for (field, n, is_addr) in fields {
            let name = match &i.operands[n] {
                Operand::Name { name, .. } => name.to_string(),
                Operand::Addr(Address {
                    base: AddrBase::Name(b),
                    ..
                }) => b.to_string(),
                _ => continue,
            };
            let Some(ty) = cx.regs.get(&name).copied() else {
                continue;
            };
            for bit in 0..2u8 {
                let Some(alt) = flip_register_bit(&name, bit) else {
                    continue;
                };
                if cx.regs.get(&alt) != Some(&ty) {
                    continue;
                }
                let mut v = i.clone();
                v.operands[n] = if is_addr {
                    match &i.operands[n] {
                        Operand::Addr(a) => Operand::Addr(Address {
                            base: AddrBase::Name(alt.as_str().into()),
                            offset: a.offset,
                        }),
                        _ => continue,
                    }
                } else {
                    name_op(&alt)
                };
                let w = if ty == Type::Pred {
                    1
                } else {
                    width(ty).unwrap_or(0)
                };
                let change = match (Change::checkable(w), field) {
                    (false, _) => Change::Always,
                    (true, 0) => Change::Dest {
                        alt,
                        orig: name.clone(),
                        w,
                    },
                    (true, _) => Change::Source {
                        alt,
                        orig: name.clone(),
                        w,
                    },
                };
                vs.push(Variant {
                    id: u32::from(field) * 4 + u32::from(bit),
                    inst: v,
                    change,
                });
            }
        }
        cx.info.variants = vs.iter().map(|v| v.id).collect();
        let (qcode, q) = cx.q(i, &r("sel"));
        variants(code(&qcode)?, i, &q, vs)
    }

    /// All lanes (NVBitPERfi).
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            lanes: LaneRule::All,
            ..super::base_rules(false)
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, _lane_on: bool, _cx: &Draw<'_>) -> Params {
        let v = pick(rng, &site.info.variants).unwrap_or(0);
        Params::Ira(IraParams {
            field: Some((v / 4) as u8),
            bit: Some((v % 4) as u8),
        })
    }
}

/// The register whose index differs from `name`'s in `bit` (`%r12` → `%r13`).
fn flip_register_bit(name: &str, bit: u8) -> Option<String> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let (prefix, num) = name.split_at(name.len() - digits);
    let n: u64 = num.parse().ok()?;
    Some(format!("{prefix}{}", n ^ (1u64 << bit)))
}
