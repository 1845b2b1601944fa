//! `iat`, `iaw`, `iac`: stuck-at or flipped bits on reads of the thread and CTA ids.

use super::{base_rules, FaultModel};
use crate::descriptor::Descriptor;
use crate::instrument::{code, count, name_op, r, with_inst, InstrumentError, Pass, Site};
use crate::model::{Model, Params};
use crate::params::{param_set, Dims, Flag, Mask, Name, Policy};
use crate::rules::{Draw, MaskRule, ModelRules, PolRule};
use ptx::{Component, Instruction, Opcode, Operand, Statement};
use rand_chacha::ChaCha8Rng;

param_set! {
    /// The parameters of `iat`, `iaw` and `iac`.
    pub struct IdParams {
        /// Dimension mask: bit 0 = x, bit 1 = y, bit 2 = z.
        dim: u8 as Dims,
        /// Corruption mask.
        mask: u64 as Mask,
        /// Corruption policy.
        pol: Policy as Name<Policy>,
        /// NVBitPERfi's forced flip when a stuck-at changes nothing.
        force: bool as Flag,
    }
}

/// One of the three id models: which special register it corrupts and in which lanes.
pub(crate) struct Ids {
    model: Model,
    id: &'static str,
    sreg: &'static str,
    all_lanes: bool,
    unit: &'static str,
    definition: &'static str,
}

pub(crate) const IAT: Ids = Ids {
    model: Model::Iat,
    id: "iat",
    sreg: "%tid",
    all_lanes: false,
    unit: "warp scheduler: thread ids (parallelism management)",
    definition: "Every read of %tid.{x,y,z} in a selected dimension (`dim`) returns a corrupted \
                 value in the selected threads: stuck-at-0 (`pol=sa0`: v & ~mask), stuck-at-1 \
                 (`pol=sa1`: v | mask) or bit flip (`pol=xor`: v ^ mask). With `force=1` \
                 (NVBitPERfi's behaviour) a stuck-at that leaves the value unchanged flips \
                 the mask bits instead. Lanes: a subset (NVBitPERfi: 1-31 lanes).",
};

pub(crate) const IAW: Ids = Ids {
    model: Model::Iaw,
    id: "iaw",
    sreg: "%tid",
    all_lanes: true,
    unit: "warp scheduler: warp-wide thread ids (parallelism management)",
    definition: "As iat, but all 32 lanes of the selected warps read the corrupted %tid \
                 (a fault in the warp-wide id logic rather than one lane's).",
};

pub(crate) const IAC: Ids = Ids {
    model: Model::Iac,
    id: "iac",
    sreg: "%ctaid",
    all_lanes: true,
    unit: "CTA dispatch: CTA ids (parallelism management)",
    definition: "Every read of %ctaid.{x,y,z} in a selected dimension returns a corrupted value \
                 (sa0/sa1/xor on `mask`, `force` as iat) in all 32 lanes of the selected warps.",
};

impl Ids {
    fn wrap(&self, p: IdParams) -> Params {
        match self.model {
            Model::Iaw => Params::Iaw(p),
            Model::Iac => Params::Iac(p),
            _ => Params::Iat(p),
        }
    }
}

impl FaultModel for Ids {
    fn id(&self) -> &'static str {
        self.id
    }
    fn unit(&self) -> &'static str {
        self.unit
    }
    fn check_unit(&self) -> &'static str {
        "warp-scheduler"
    }
    fn definition(&self) -> &'static str {
        self.definition
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "dim",
                "x|y|z|xy|xyz… dimensions whose reads are corrupted (default x; campaigns: \
                 the dimensions the site reads)",
            ),
            (
                "mask",
                "1..2^32-1, bits to corrupt (default 1; campaigns: faithful uniform in \
                 1..=the largest block dimension, iac grid dimension; v1 one of the low ten \
                 bits)",
            ),
            ("pol", "sa0|sa1|xor (default xor; campaigns: sa0 or sa1)"),
            (
                "force",
                "0|1, flip when a stuck-at leaves the value unchanged (default 0; \
                 campaigns: 1)",
            ),
        ]
    }
    fn all_lanes(&self) -> bool {
        self.all_lanes
    }

    /// v1: one of the low ten bits (block and grid indices below 1024), stuck-at 0 or 1.
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            mask: Some(MaskRule::Bit { lo: 0, hi: 10 }),
            pol: Some(PolRule::Stuck),
            ..base_rules(self.all_lanes)
        }
    }
    /// NVBitPERfi: a mask uniform in 1..=the largest block (IAT, IAW) or grid (IAC)
    /// dimension, stuck-at 0 or 1 with the forced flip.
    fn faithful_rules(&self) -> ModelRules {
        ModelRules {
            mask: Some(if self.model == Model::Iac {
                MaskRule::GridDim
            } else {
                MaskRule::BlockDim
            }),
            ..self.v1_rules()
        }
    }

    fn encode(&self, params: &Params, d: &mut Descriptor) {
        let (Params::Iat(p) | Params::Iaw(p) | Params::Iac(p)) = params else {
            return;
        };
        d.set_masks(p.mask.unwrap_or(1), p.pol.unwrap_or(Policy::Xor));
        d.dims = u32::from(p.dim.unwrap_or(1));
        d.force = u32::from(p.force.unwrap_or(false));
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let sreg = self.sreg;
        let k0 = i.dest_count();
        let pos = i
            .operands
            .iter()
            .enumerate()
            .skip(k0)
            .find_map(|(k, o)| match o {
                Operand::Name {
                    name,
                    comp: Some(c),
                } if name == sreg => Some((k, *c)),
                _ => None,
            });
        let Some((k, comp)) = pos else {
            return Ok(None);
        };
        let (dim, bit) = match comp {
            Component::X => ("dx", 1),
            Component::Y => ("dy", 2),
            Component::Z => ("dz", 4),
            _ => return Ok(None),
        };
        cx.info.dims = bit;
        let ty = i.ty();
        let size_ok = ty.is_some_and(|t| t.size() == 4);
        if !size_ok && i.opcode != Opcode::Mov {
            return Ok(None);
        }
        let (u0, u1, p1, p2) = (r("u0"), r("u1"), r("p1"), r("p2"));
        let (qcode, q) = cx.q(i, &r(dim));
        let pre = format!(
            "mov.u32 {u0}, {sreg}.{comp};\n\
             and.b32 {u1}, {u0}, {and};\n\
             or.b32 {u1}, {u1}, {or};\n\
             xor.b32 {u1}, {u1}, {xor};\n\
             setp.eq.and.u32 {p1}, {u1}, {u0}, {force};\n\
             @{p1} xor.b32 {u1}, {u0}, {fm};\n\
             {qcode}\
             setp.ne.and.u32 {p2}, {u1}, {u0}, {q};\n\
             @!{p2} mov.b32 {u1}, {u0};\n{cnt}",
            comp = match comp {
                Component::X => "x",
                Component::Y => "y",
                _ => "z",
            },
            and = r("and32"),
            or = r("or32"),
            xor = r("xor32"),
            force = r("force"),
            fm = r("fm32"),
            cnt = count(&p2),
        );
        let mut inst = i.clone();
        if size_ok {
            inst.operands[k] = name_op(&u1);
        } else {
            // mov.u16/u64 %x, %tid.x: convert the corrupted 32-bit value instead.
            let Some(t) = ty else { return Ok(None) };
            inst = Instruction {
                guard: i.guard.clone(),
                opcode: Opcode::Cvt,
                modifiers: [t.name(), "u32"].into(),
                operands: vec![i.operands[0].clone(), name_op(&u1)],
                line: i.line,
            };
        }
        Ok(Some(with_inst(code(&pre)?, inst, vec![])))
    }

    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, _lane_on: bool, cx: &Draw<'_>) -> Params {
        let dims = site.info.dims;
        self.wrap(IdParams {
            dim: Some(if dims == 0 { 1 } else { dims }),
            mask: Some(cx.mask(rng, 32, dims)),
            pol: Some(cx.pol(rng)),
            force: Some(true),
        })
    }
}
