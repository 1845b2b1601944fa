//! `tbf1`, `tbf2`: transient faults, NVBitFI's bit flips. One dynamic thread-level
//! instance of one static instruction gets one (`tbf1`) or two adjacent (`tbf2`) bits of
//! its destination flipped after it executes; every other instance is untouched.
//!
//! ```text
//! every warp (descriptor enabled)         the copy, cut at its labels into segments:
//!   prologue: enabled? else original        site in this segment?   else its plain twin
//!   setup: lane, masks, site, dest, inst    at each site K:  <the instruction>
//!   copy of the body (segmented)              site == K?             else skip
//!                                             lanes whose guard holds:
//!                                               c = atom.add(desc.counter, 1)
//!                                               c == inst?  xor dest with the mask,
//!                                                           count the activation
//!                                           skip:
//! ```
//!
//! The counter lives in the descriptor, which the host writes (counter 0) before each
//! run: it counts the site's thread-level executions over every launch of the module in
//! the run, in the order the device performs the atomics — on the virtual GPU a
//! property of the run order, deterministic for a scheduling seed.

use super::{FaultModel, Sampler};
use crate::descriptor::{DescField, Descriptor};
use crate::instrument::{code, name_op, r, with_inst, InstrumentError, Pass, Site, COUNT_SYMBOL};
use crate::model::{Model, Params};
use crate::params::{out_of_range, param_set, parse_u64, Codec, Mask};
use crate::rules::{Draw, LaneRule, ModelRules, WarpRule};
use crate::sample::{below, SiteProfile};
use crate::spec::{FaultSpec, SpecError};
use ptx::{Instruction, Opcode, Operand, Statement, Type};
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use serde_json::Value;
use std::fmt;

/// A count or an index up to `MAX`, written in decimal.
pub(crate) struct Number<const MAX: u64>;

impl<const MAX: u64> Codec for Number<MAX> {
    type Value = u64;
    fn parse(key: &str, v: &str) -> Result<u64, SpecError> {
        parse_u64(key, v)
    }
    fn from_json(v: &Value) -> Option<u64> {
        v.as_u64()
    }
    fn json_expected() -> String {
        format!("an integer 0..{MAX}")
    }
    fn check(key: &str, v: &u64) -> Result<(), SpecError> {
        if *v > MAX {
            return Err(out_of_range(key, v, &format!("0..{MAX}")));
        }
        Ok(())
    }
    fn write(v: &u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{v}")
    }
}

const U32: u64 = u32::MAX as u64;

param_set! {
    /// The parameters of `tbf1` and `tbf2`.
    pub struct TbfParams {
        /// The site's number: its index in the module's candidate sites
        /// ([`crate::Instrumented::sites`]), required.
        site: u64 as Number<U32>,
        /// Which thread-level execution of the site is flipped, counting from 0 over
        /// the run, required.
        inst: u64 as Number<{ u64::MAX }>,
        /// Which destination register: 0 for a scalar, the element of a vector.
        dest: u64 as Number<U32>,
        /// The bits flipped (one bit for `tbf1`, two for `tbf2`), required.
        mask: u64 as Mask,
    }
}

/// `tbf1` (`bits` = 1) or `tbf2` (`bits` = 2).
pub(crate) struct Tbf {
    bits: u32,
}

pub(crate) const TBF1: Tbf = Tbf { bits: 1 };
pub(crate) const TBF2: Tbf = Tbf { bits: 2 };

impl Tbf {
    fn model(&self) -> Model {
        if self.bits == 1 {
            Model::Tbf1
        } else {
            Model::Tbf2
        }
    }
}

/// The register destinations of a site of the model: every destination of `i` that is
/// a 16-, 32- or 64-bit register (predicates excluded, as NVBitFI's injector does);
/// `None` when `i` is no site.
fn dests(cx: &Pass<'_>, i: &Instruction) -> Option<Vec<(String, u32)>> {
    if i.dest_count() != 1
        || matches!(i.opcode, Opcode::Call | Opcode::Other(_))
        || cx.moves_call_param(i)
    {
        return None;
    }
    let all: Vec<(String, Type, u32)> = match &i.operands[0] {
        Operand::Vector(v) => v.iter().map(|e| cx.reg_width(e)).collect::<Option<_>>()?,
        Operand::Pair(a, b) => [a, b]
            .iter()
            .filter(|n| n.as_str() != "_")
            .filter_map(|n| cx.reg_width(&name_op(n)))
            .collect(),
        o => vec![cx.reg_width(o)?],
    };
    let d: Vec<(String, u32)> = all
        .into_iter()
        .filter(|(_, t, _)| *t != Type::Pred)
        .map(|(n, _, w)| (n, w))
        .collect();
    (!d.is_empty() && d.iter().all(|(_, w)| matches!(w, 16 | 32 | 64))).then_some(d)
}

/// NVBitFI's mask for a destination register of `width` bits: it flips bits of one
/// 32-bit register (a 64-bit value is two, drawn uniformly: `half`), one bit
/// (`FLIP_SINGLE_BIT`: `1 << (32·seed)`) or two adjacent ones (`FLIP_TWO_BITS`:
/// `3 << (31·seed)`); a 16-bit value has 16 bits to flip.
fn mask(rng: &mut ChaCha8Rng, bits: u32, width: u32, half: u32) -> u64 {
    let w = width.min(32);
    let shift = if bits == 1 {
        below(rng, w)
    } else {
        below(rng, w - 1)
    };
    let m = if bits == 1 { 1u64 } else { 3u64 } << shift;
    m << (32 * half)
}

/// Draws a transient fault: the site with probability proportional to its thread-level
/// executions in the profiled run, the instance uniformly within the site (together:
/// uniform over every thread-instruction of the run), the destination register (32-bit
/// register of a 64-bit value) uniformly, the bit(s) by NVBitFI's bit-flip model.
fn sample(bits: u32, profile: &SiteProfile, rng: &mut ChaCha8Rng) -> Option<(FaultSpec, usize)> {
    let total: u64 = profile
        .sites
        .iter()
        .map(|s| s.thread_instructions)
        .fold(0u64, u64::saturating_add);
    if total == 0 {
        return None;
    }
    let mut x = ((u128::from(rng.next_u64()) * u128::from(total)) >> 64) as u64;
    let (site, es) = profile.sites.iter().enumerate().find(|(_, s)| {
        if x < s.thread_instructions {
            true
        } else {
            x -= s.thread_instructions;
            false
        }
    })?;
    let widths = &es.site.info.variants;
    let regs: Vec<(u32, u32)> = widths
        .iter()
        .enumerate()
        .flat_map(|(j, &w)| (0..w.div_ceil(32)).map(move |h| (j as u32, h)))
        .collect();
    let (dest, half) = *regs.get(below(rng, regs.len() as u32) as usize)?;
    let width = widths[dest as usize];
    let model = if bits == 1 { Model::Tbf1 } else { Model::Tbf2 };
    let spec = FaultSpec {
        params: Params::from_tbf(
            model,
            TbfParams {
                site: Some(site as u64),
                inst: Some(x),
                dest: Some(u64::from(dest)),
                mask: Some(mask(rng, bits, width, half)),
            },
        ),
        ..FaultSpec::any_thread(model)
    };
    Some((spec, site))
}

fn sample1(
    profile: &SiteProfile,
    _: &ModelRules,
    rng: &mut ChaCha8Rng,
) -> Option<(FaultSpec, usize)> {
    sample(1, profile, rng)
}

fn sample2(
    profile: &SiteProfile,
    _: &ModelRules,
    rng: &mut ChaCha8Rng,
) -> Option<(FaultSpec, usize)> {
    sample(2, profile, rng)
}

impl Params {
    /// The parameters of transient `model`.
    fn from_tbf(model: Model, p: TbfParams) -> Params {
        if model == Model::Tbf1 {
            Params::Tbf1(p)
        } else {
            Params::Tbf2(p)
        }
    }
}

impl FaultModel for Tbf {
    fn id(&self) -> &'static str {
        if self.bits == 1 {
            "tbf1"
        } else {
            "tbf2"
        }
    }
    fn unit(&self) -> &'static str {
        if self.bits == 1 {
            "transient single-bit flip in an instruction's destination (NVBitFI)"
        } else {
            "transient flip of two adjacent bits in an instruction's destination (NVBitFI)"
        }
    }
    fn check_unit(&self) -> &'static str {
        // no signature kernel aims at transient faults; coverage campaigns refuse them
        "none"
    }
    fn definition(&self) -> &'static str {
        if self.bits == 1 {
            "Transient fault (NVBitFI FLIP_SINGLE_BIT): exactly one dynamic thread-level \
             instance of one instruction with a register destination — the `inst`-th \
             execution (from 0, lanes whose guard holds, over every launch of the run) \
             of candidate site `site` — has destination register `dest` xor-ed with a \
             one-bit `mask` after it executes; every other instance is untouched. \
             Predicate destinations are not flipped (NVBitFI does not either)."
        } else {
            "Transient fault (NVBitFI FLIP_TWO_BITS): as tbf1, with a two-bit `mask` \
             (campaigns: two adjacent bits of one 32-bit register, as NVBitFI)."
        }
    }
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "site",
                "0..2^32-1, the site's number in the module (`gpufault ptx instrument \
                 --model tbf1 --sites` lists them; required; campaigns: drawn with \
                 probability proportional to its thread-level executions)",
            ),
            (
                "inst",
                "0..2^64-1, which thread-level execution of the site, counted from 0 over \
                 the run (required; campaigns: uniform over the site's executions)",
            ),
            (
                "dest",
                "the destination register: 0 for a scalar, the element of a vector \
                 (default 0; campaigns: uniform over its 32-bit registers)",
            ),
            (
                "mask",
                "the bits flipped: one bit (tbf1) or two (tbf2) (required; campaigns: \
                 NVBitFI's: one bit, or two adjacent bits, of one 32-bit register)",
            ),
        ]
    }
    fn transient(&self) -> bool {
        true
    }
    fn all_lanes(&self) -> bool {
        true
    }
    fn required(&self) -> &'static [&'static str] {
        &["site", "inst", "mask"]
    }
    fn check(&self, params: &Params) -> Result<(), SpecError> {
        let (Params::Tbf1(p) | Params::Tbf2(p)) = params else {
            return Ok(());
        };
        match p.mask {
            Some(m) if m.count_ones() != self.bits => Err(out_of_range(
                "mask",
                format!("{m:#x}"),
                if self.bits == 1 {
                    "tbf1 flips one bit"
                } else {
                    "tbf2 flips two bits"
                },
            )),
            _ => Ok(()),
        }
    }

    fn encode(&self, params: &Params, d: &mut Descriptor) {
        let (Params::Tbf1(p) | Params::Tbf2(p)) = params else {
            return;
        };
        d.xor = p.mask.unwrap_or(1);
        d.site = u32::try_from(p.site.unwrap_or(0)).unwrap_or(u32::MAX);
        d.dest = u32::try_from(p.dest.unwrap_or(0)).unwrap_or(u32::MAX);
        d.instance = p.inst.unwrap_or(0);
    }

    fn setup(&self) -> String {
        format!(
            "{}{}{}",
            DescField::Site.load(&r("site")),
            DescField::Dest.load(&r("dest")),
            DescField::Instance.load(&r("inst")),
        )
    }

    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let Some(dests) = dests(cx, i) else {
            return Ok(None);
        };
        cx.info.width = dests.iter().map(|d| d.1).max().unwrap_or(0);
        cx.info.variants = dests.iter().map(|d| d.1).collect();
        cx.info.guarded = i.guard.is_some();
        let k = cx.site_number();
        let skip = format!("$__gf_t{k}");
        let (p1, p2, p3) = (r("p1"), r("p2"), r("p3"));
        let (qcode, q) = cx.q(i, &r("true"));
        let counter = DescField::Counter.offset();
        let mut post = format!(
            "setp.ne.u32 {p1}, {site}, {k};\n\
             @{p1} bra.uni {skip};\n\
             {qcode}\
             @{q} atom.global.add.u64 {ctr}, [{desc}+{counter}], 1;\n\
             setp.eq.and.u64 {p2}, {ctr}, {inst}, {q};\n",
            site = r("site"),
            ctr = r("ctr"),
            inst = r("inst"),
            desc = crate::DESC_SYMBOL,
        );
        for (j, (d, w)) in dests.iter().enumerate() {
            post += &format!(
                "setp.eq.and.u32 {p3}, {dest}, {j}, {p2};\n@{p3} xor.b{w} {d}, {d}, {x};\n",
                dest = r("dest"),
                x = r(&format!("xor{w}")),
            );
        }
        // one thread of the whole run flips: its increment is the one warp-instruction
        post += &format!("@{p2} red.global.add.u64 [{COUNT_SYMBOL}], 1;\n{skip}:\n");
        Ok(Some(with_inst(vec![], i.clone(), code(&post)?)))
    }

    /// Every warp runs the copy; nothing of lanes or warp slots is drawn.
    fn v1_rules(&self) -> ModelRules {
        ModelRules {
            mask: None,
            pol: None,
            lanes: LaneRule::All,
            warps: WarpRule::All,
            fixed: Vec::new(),
        }
    }

    fn sampler(&self) -> Option<Sampler> {
        Some(if self.bits == 1 { sample1 } else { sample2 })
    }

    /// Not used by campaigns, which draw whole faults with [`Tbf::sampler`] (a site's
    /// number and execution count are not in a [`Site`]): the first instance of site 0
    /// with a mask of the site's width.
    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, _lane_on: bool, _cx: &Draw<'_>) -> Params {
        let width = site.info.variants.first().copied().unwrap_or(32);
        Params::from_tbf(
            self.model(),
            TbfParams {
                site: Some(0),
                inst: Some(0),
                dest: Some(0),
                mask: Some(mask(rng, self.bits, width, 0)),
            },
        )
    }
}
