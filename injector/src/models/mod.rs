//! One module per fault model (iat, iaw and iac share [`ids`]), each behind
//! [`FaultModel`]: what the model is (id, unit, definition, parameters), how a spec of
//! it is encoded into the descriptor, the code it adds to an instrumented module (setup
//! and per-site code, and the facts it records about each site), and how campaigns draw
//! its lanes and parameters.
//!
//! The registry that names every model is in `model.rs`: adding a model is one module
//! here and one line there.

use crate::descriptor::Descriptor;
use crate::instrument::{InstrumentError, Pass, Site};
use crate::model::Params;
use crate::sample::{subset, ExercisedSite};
use ptx::{Instruction, Statement};
use rand_chacha::ChaCha8Rng;

pub(crate) mod brx;
pub(crate) mod fu;
pub(crate) mod ial;
pub(crate) mod ids;
pub(crate) mod iio;
pub(crate) mod imd;
pub(crate) mod ims;
pub(crate) mod ioc;
pub(crate) mod ir;
pub(crate) mod ira;
pub(crate) mod wdrop;
pub(crate) mod wv;

/// Which lanes a drawn fault selects; the lane the sampler picked is always among them.
pub(crate) enum LaneRule {
    /// All 32 lanes.
    All,
    /// The picked lane alone.
    One,
    /// A random subset of `lo..=hi` lanes.
    Subset { lo: u32, hi: u32 },
}

impl LaneRule {
    /// The lanes of a fault with lane `must`.
    pub(crate) fn draw(&self, rng: &mut ChaCha8Rng, must: u32) -> u32 {
        match *self {
            LaneRule::All => u32::MAX,
            LaneRule::One => 1 << must,
            LaneRule::Subset { lo, hi } => subset(rng, 32, lo, hi, must),
        }
    }
}

/// Everything one fault model knows. The shared parts live elsewhere: the site
/// selection and its encoding (`FaultSpec`, `Descriptor`), the pass that copies bodies
/// and adds the prologue and the activation counter (`instrument`), and the sampler
/// that picks a site, SM, warp slot and lane (`sample`).
pub(crate) trait FaultModel: Sync {
    /// The id (`iat`).
    fn id(&self) -> &'static str;
    /// The unit the model stands for, with the SC'23 class in parentheses.
    fn unit(&self) -> &'static str;
    /// The unit of the health check's findings that a fault of the model belongs to:
    /// the `unit` of the signature kernel aimed at it (`warp-scheduler`,
    /// `control-flow`, `decode`, `memory`; `docs/signature-suite.md`). Coverage
    /// campaigns count a detection's unit as correct when its findings name this one.
    fn check_unit(&self) -> &'static str;
    /// The precise definition (printed by `gpufault models`).
    fn definition(&self) -> &'static str;
    /// The parameters with their ranges and defaults, for documentation; their keys are
    /// the keys of the model's parameter struct.
    fn parameters(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Whether the model always affects all 32 lanes of a selected warp.
    fn all_lanes(&self) -> bool {
        false
    }

    /// Keys a spec of the model must give.
    fn required(&self) -> &'static [&'static str] {
        &[]
    }
    /// Writes the model's parameters into a descriptor that already holds the site
    /// selection and the neutral defaults (mask 1 flipped, dimension x).
    fn encode(&self, _params: &Params, _d: &mut Descriptor) {}

    /// Model-specific setup code of a faulty warp, after the common setup (lane
    /// predicate, masks, opcode group, variant).
    fn setup(&self) -> String {
        String::new()
    }
    /// The model's code for one instruction of the instrumented copy (recording the
    /// site's facts in `cx.info`), or `None` when the instruction is not a site.
    fn site(
        &self,
        cx: &mut Pass<'_>,
        i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError>;
    /// Code after the instrumented copy, reached only by branches of the model's sites.
    fn epilogue(&self) -> Result<Vec<Statement>, InstrumentError> {
        Ok(Vec::new())
    }
    /// Whether device functions get instrumented twins.
    fn copies_bodies(&self) -> bool {
        true
    }
    /// Code a faulty warp runs instead of the instrumented copy of the kernel `body`
    /// (`None`: the copy, the default); it records its own sites.
    fn faulty_warp(
        &self,
        _cx: &mut Pass<'_>,
        _body: &[Statement],
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        Ok(None)
    }

    /// The warp slots of a drawn fault in a sub-partition of `per_sp` slots, with the
    /// slot `slot` among them.
    fn warps(&self, rng: &mut ChaCha8Rng, per_sp: u32, slot: u32) -> u32 {
        subset(rng, per_sp, 1, per_sp, slot / 4)
    }
    /// Which lanes campaigns draw (NVBitPERfi's choices where it made them).
    fn lane_rule(&self) -> LaneRule {
        if self.all_lanes() {
            LaneRule::All
        } else {
            LaneRule::Subset { lo: 1, hi: 31 }
        }
    }
    /// Whether a fault drawn at an exercised site acts on lanes whose guard was false
    /// (the sampler then draws those lanes).
    fn lane_on_exercised(&self, _site: &ExercisedSite, _rng: &mut ChaCha8Rng) -> bool {
        false
    }
    /// The same for a fault drawn over the whole device.
    fn lane_on_physical(&self, _site: &Site, _rng: &mut ChaCha8Rng) -> bool {
        false
    }
    /// The parameters of a fault drawn at `site`.
    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, lane_on: bool) -> Params;
}

#[cfg(test)]
mod tests {
    use crate::model::{Model, Params};
    use std::collections::BTreeSet;

    #[test]
    fn documented_parameters_are_the_keys_each_model_takes() {
        for m in Model::ALL {
            let documented: BTreeSet<&str> = m.parameters().iter().map(|(k, _)| *k).collect();
            let taken: BTreeSet<&str> = Params::none(m).keys().iter().copied().collect();
            assert_eq!(documented, taken, "{m}");
            for key in m.kind().required() {
                assert!(taken.contains(key), "{m} requires `{key}` it does not take");
            }
        }
    }

    #[test]
    fn every_model_draws_valid_parameters_of_its_own() {
        use crate::instrument::{Site, SiteInfo};
        use crate::spec::FaultSpec;
        use rand_core::SeedableRng;
        let site = Site {
            function: "k".into(),
            index: 0,
            line: 1,
            op_group: "add.s32".into(),
            info: SiteInfo {
                dims: 2,
                width: 32,
                guarded: true,
                lane_off: true,
                space: Some('g'),
                variants: vec![1],
            },
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for m in Model::ALL {
            for lane_on in [false, true] {
                let spec = FaultSpec {
                    params: m.kind().draw(&mut rng, &site, lane_on),
                    ..FaultSpec::new(m, 0, 0, 1, 1)
                };
                assert_eq!(spec.params.model(), m);
                spec.validate().unwrap_or_else(|e| panic!("{spec}: {e}"));
                assert_eq!(FaultSpec::parse(&spec.to_string()).unwrap(), spec);
                assert_eq!(FaultSpec::parse(&spec.to_json()).unwrap(), spec);
            }
        }
    }

    #[test]
    fn ids_are_the_serde_names() {
        for m in Model::ALL {
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.id())
            );
            assert_eq!(
                serde_json::from_str::<Model>(&format!("\"{}\"", m.id())).unwrap(),
                m
            );
        }
        assert!(serde_json::from_str::<Model>("\"xyz\"").is_err());
    }
}
