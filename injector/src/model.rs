//! The fault models (design.md §3) and their definitions.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A permanent-fault model of a GPU control unit, by its SC'23 / NVBitPERfi id.
///
/// Every model shares the *site selection* of a permanent fault: the faulty hardware is
/// one SM (`sm`), one of its four sub-partitions (`sp` = `%warpid % 4`, the warp
/// scheduler), a set of warp slots in that sub-partition (`warps`, bit `k` = warp slot
/// `4k + sp`, i.e. `%warpid / 4 == k`) and a set of lanes (`lanes`, bit `l` = `%laneid
/// == l`). A thread is *selected* when all four match. What the fault does to a
/// selected thread is the model's own; see [`Model::definition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Warp scheduler, thread ids.
    Iat,
    /// Warp scheduler, warp-wide thread ids.
    Iaw,
    /// CTA dispatch, CTA ids.
    Iac,
    /// Active-mask control (lane-off / lane-on variants).
    Ial,
    /// Control flow, predicate values.
    Wv,
    /// Decoder, register address.
    Ira,
    /// Decoder, invalid register.
    Ir,
    /// Memory source (constant bank / kernel parameters).
    Ims,
    /// Memory destination (store data or address).
    Imd,
    /// Fetch/decode, operation code.
    Ioc,
    /// Decoder, immediate operand.
    Iio,
    /// Functional unit (NVBitFI permanent mode).
    Fu,
    /// Warp scheduler never issues a warp slot.
    Wdrop,
    /// Branch unit, inverted branch direction.
    Brx,
}

impl Model {
    /// Every model, in the order of design.md §3.
    pub const ALL: [Model; 14] = [
        Model::Iat,
        Model::Iaw,
        Model::Iac,
        Model::Ial,
        Model::Wv,
        Model::Ira,
        Model::Ir,
        Model::Ims,
        Model::Imd,
        Model::Ioc,
        Model::Iio,
        Model::Fu,
        Model::Wdrop,
        Model::Brx,
    ];

    /// The id (`iat`, `wdrop`, …).
    pub fn id(self) -> &'static str {
        match self {
            Model::Iat => "iat",
            Model::Iaw => "iaw",
            Model::Iac => "iac",
            Model::Ial => "ial",
            Model::Wv => "wv",
            Model::Ira => "ira",
            Model::Ir => "ir",
            Model::Ims => "ims",
            Model::Imd => "imd",
            Model::Ioc => "ioc",
            Model::Iio => "iio",
            Model::Fu => "fu",
            Model::Wdrop => "wdrop",
            Model::Brx => "brx",
        }
    }

    /// Parses an id.
    pub fn from_id(s: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.id() == s)
    }

    /// The unit the model stands for, with the SC'23 class in parentheses.
    pub fn unit(self) -> &'static str {
        match self {
            Model::Iat => "warp scheduler: thread ids (parallelism management)",
            Model::Iaw => "warp scheduler: warp-wide thread ids (parallelism management)",
            Model::Iac => "CTA dispatch: CTA ids (parallelism management)",
            Model::Ial => "active-mask control (parallelism management)",
            Model::Wv => "control flow: predicate values (control flow)",
            Model::Ira => "decoder: register address (operation/resource management)",
            Model::Ir => "decoder: invalid register (operation/resource management)",
            Model::Ims => "memory source: constant bank / parameters (resource management)",
            Model::Imd => "memory destination: store data or address (resource management)",
            Model::Ioc => "fetch/decode/scheduler: operation code (operation management)",
            Model::Iio => "decoder: immediate operand (operation management)",
            Model::Fu => "functional unit of one lane (NVBitFI permanent mode)",
            Model::Wdrop => "warp scheduler: a warp slot is never issued",
            Model::Brx => "branch unit: branch direction",
        }
    }

    /// The precise definition: which instructions it touches and what happens to a
    /// selected thread. Also printed by `gpufault models`.
    pub fn definition(self) -> &'static str {
        match self {
            Model::Iat => {
                "Every read of %tid.{x,y,z} in a selected dimension (`dim`) returns a corrupted \
                 value in the selected threads: stuck-at-0 (`pol=sa0`: v & ~mask), stuck-at-1 \
                 (`pol=sa1`: v | mask) or bit flip (`pol=xor`: v ^ mask). With `force=1` \
                 (NVBitPERfi's behaviour) a stuck-at that leaves the value unchanged flips \
                 the mask bits instead. Lanes: a subset (NVBitPERfi: 1-31 lanes)."
            }
            Model::Iaw => {
                "As iat, but all 32 lanes of the selected warps read the corrupted %tid \
                 (a fault in the warp-wide id logic rather than one lane's)."
            }
            Model::Iac => {
                "Every read of %ctaid.{x,y,z} in a selected dimension returns a corrupted value \
                 (sa0/sa1/xor on `mask`, `force` as iat) in all 32 lanes of the selected warps."
            }
            Model::Ial => {
                "Active-mask fault on arithmetic, logic, conversion, comparison and \
                 special-function instructions. `mode=off` (lane wrongly inactive): the \
                 instruction's register result is dropped in the selected lanes, the \
                 destination keeps its previous value. `mode=on` (lane wrongly active): \
                 every guarded instruction (@p / @!p, any opcode) executes in the selected \
                 lanes even when its guard is false. Lanes: 1-2 (NVBitPERfi)."
            }
            Model::Wv => {
                "Every predicate written by setp (both of a p|q pair) is corrupted in the \
                 selected lanes: stuck-at-0 (`pol=sa0`), stuck-at-1 (`pol=sa1`) or inverted \
                 (`pol=xor`); branch decisions and selects follow the wrong value."
            }
            Model::Ira => {
                "Register-address decode fault: in every instruction, register field `field` \
                 (0 = destination, k = k-th register source) addresses the register whose index \
                 differs in bit `bit` (%r12 -> %r13 for bit 0) when that register exists with \
                 the same type. A wrong source reads the other register's value; a wrong \
                 destination writes the other register and leaves the intended one unchanged. \
                 Applies to the selected lanes (NVBitPERfi: all lanes)."
            }
            Model::Ir => {
                "Invalid-register decode fault: the first instruction of opcode group `op` \
                 (e.g. add.s32) that a selected thread executes raises an error (PTX `trap`; \
                 the warp and the kernel stop)."
            }
            Model::Ims => {
                "Every value a selected thread loads from the constant bank - `ld.const`, and \
                 `ld.param` of kernel parameters (which SASS reads from constant bank 0) - is \
                 xor-ed with `mask` (every element of a vector load)."
            }
            Model::Imd => {
                "Every store of a selected thread to the spaces in `spaces` (s = shared, \
                 l = local, g = global and generic) writes corrupted data (`mode=data`: the \
                 stored value xor `mask`) or to a corrupted address (`mode=addr`: the address \
                 register xor `mask`). NVBitPERfi touched shared and local stores only."
            }
            Model::Ioc => {
                "Operation-code decode fault: every ALU/FP instruction of opcode group `op` \
                 (e.g. add.s32) computes the substitute operation `subst` on the same operands \
                 (add<->sub, mul, and/or/xor, min/max, shl<->shr; mad/fma -> mul or add) in the selected \
                 lanes."
            }
            Model::Iio => {
                "Immediate-operand decode fault: every immediate operand of an arithmetic, \
                 logic, comparison, move or conversion instruction, and every address offset \
                 of a load or store outside the param space, is xor-ed with `mask` (truncated \
                 to the operand's width) in the selected lanes."
            }
            Model::Fu => {
                "Functional-unit fault: every instruction of opcode group `op` executed in the \
                 selected lanes (NVBitFI: one lane of every warp of the SM sub-partition) has \
                 its register result xor-ed with `mask`."
            }
            Model::Wdrop => {
                "The warp scheduler never issues the selected warp slots: their warps end \
                 before their first instruction (missing output, or a barrier the rest of the \
                 CTA waits at in vain)."
            }
            Model::Brx => {
                "Branch-unit fault: at every conditional branch (@p bra) the selected lanes \
                 take the opposite direction."
            }
        }
    }

    /// Whether the model always affects all 32 lanes of a selected warp.
    pub fn all_lanes(self) -> bool {
        matches!(self, Model::Iaw | Model::Iac | Model::Wdrop | Model::Ir)
    }

    /// The model-specific parameters and their ranges, for documentation. Each says
    /// the default of a hand-written spec (the key left out) and what campaigns draw.
    pub fn parameters(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Model::Iat | Model::Iaw | Model::Iac => &[
                (
                    "dim",
                    "x|y|z|xy|xyz… dimensions whose reads are corrupted (default x; campaigns: \
                     the dimensions the site reads)",
                ),
                (
                    "mask",
                    "1..2^32-1, bits to corrupt (default 1; campaigns: one of the low ten bits)",
                ),
                ("pol", "sa0|sa1|xor (default xor; campaigns: sa0 or sa1)"),
                (
                    "force",
                    "0|1, flip when a stuck-at leaves the value unchanged (default 0; \
                     campaigns: 1)",
                ),
            ],
            Model::Ial => &[("mode", "off|on (default off; campaigns: either)")],
            Model::Wv => &[("pol", "sa0|sa1|xor (default xor; campaigns: sa0 or sa1)")],
            Model::Ira => &[
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
            ],
            Model::Ir => &[(
                "op",
                "opcode group, e.g. add.s32 (required; campaigns: an executed one)",
            )],
            Model::Ims => &[(
                "mask",
                "1..2^64-1, bits flipped (default 1; campaigns: one bit of the loaded width)",
            )],
            Model::Imd => &[
                (
                    "mask",
                    "1..2^64-1, bits flipped (default 1; campaigns: one bit of the stored width)",
                ),
                ("mode", "data|addr (default data; campaigns: data)"),
                (
                    "spaces",
                    "any of s,l,g (default sl, as NVBitPERfi; campaigns: slg, since most \
                     workload stores are global)",
                ),
            ],
            Model::Ioc => &[
                (
                    "op",
                    "opcode group, e.g. add.s32 (required; campaigns: an executed ALU/FP one)",
                ),
                (
                    "subst",
                    "substitute operation, e.g. sub (required; campaigns: any valid one)",
                ),
            ],
            Model::Iio => &[(
                "mask",
                "1..2^64-1, bits flipped (default 1; campaigns: one bit in 0..31)",
            )],
            Model::Fu => &[
                (
                    "op",
                    "opcode group, e.g. fma.rn.f32 (required; campaigns: an executed one)",
                ),
                (
                    "mask",
                    "1..2^64-1, bits flipped in the result (default 1; campaigns: one bit of \
                     the result width)",
                ),
            ],
            Model::Wdrop | Model::Brx => &[],
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_every_model_is_documented() {
        for m in Model::ALL {
            assert_eq!(Model::from_id(m.id()), Some(m));
            assert!(m.definition().len() > 60, "{m} needs a real definition");
            assert!(!m.unit().is_empty());
        }
        assert_eq!(Model::from_id("xyz"), None);
    }
}
