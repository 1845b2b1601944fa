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
use crate::rules::{Draw, LaneRule, ModelRules, WarpRule};
use crate::sample::{ExercisedSite, SiteProfile};
use crate::spec::{FaultSpec, SpecError};
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
pub(crate) mod tbf;
pub(crate) mod wdrop;
pub(crate) mod wv;

/// The rules every model starts from: lanes 1-31 (all for all-lanes models), a random
/// subset of warp slots, no mask or policy.
pub(crate) fn base_rules(all_lanes: bool) -> ModelRules {
    ModelRules {
        mask: None,
        pol: None,
        lanes: if all_lanes {
            LaneRule::All
        } else {
            LaneRule::Subset { lo: 1, hi: 31 }
        },
        warps: WarpRule::Subset,
        fixed: Vec::new(),
    }
}

/// A model's own sampler of whole faults: the profile, the model's rules and the
/// injection's generator give the fault and the index in `profile.sites` of the site it
/// was drawn at (`None`: nothing to draw from).
pub(crate) type Sampler =
    fn(&SiteProfile, &ModelRules, &mut ChaCha8Rng) -> Option<(FaultSpec, usize)>;

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

    /// Whether the model is a transient fault: one dynamic instance of one instruction,
    /// no hardware site. Every warp of an enabled module runs the instrumented copy.
    fn transient(&self) -> bool {
        false
    }

    /// Keys a spec of the model must give.
    fn required(&self) -> &'static [&'static str] {
        &[]
    }
    /// Checks what the parameters' own ranges cannot (run after them).
    fn check(&self, _params: &Params) -> Result<(), SpecError> {
        Ok(())
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

    /// How campaigns drew the model's faults before sampling rules existed (the `v1`
    /// preset): lanes 1-31 of 32 (all for all-lanes models), a random subset of the
    /// sub-partition's warp slots; `mask`/`pol` as each model sets them.
    fn v1_rules(&self) -> ModelRules {
        base_rules(self.all_lanes())
    }
    /// NVBitPERfi's choices where its public code makes one (the `faithful` preset);
    /// the `v1` choices elsewhere.
    fn faithful_rules(&self) -> ModelRules {
        self.v1_rules()
    }
    /// Whether campaigns under `rules` draw faults at `site` (a site of an option the
    /// rules do not fix is not drawn).
    fn enabled(&self, _site: &Site, _rules: &ModelRules) -> bool {
        true
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
    /// The model's own sampler of whole faults, replacing the shared draw of site, SM,
    /// warp slot and lanes (`None`: the shared one).
    fn sampler(&self) -> Option<Sampler> {
        None
    }
    /// The parameters of a fault drawn at `site` under the rules of `cx`.
    fn draw(&self, rng: &mut ChaCha8Rng, site: &Site, lane_on: bool, cx: &Draw<'_>) -> Params;
}

#[cfg(test)]
mod tests {
    use crate::model::{Model, Params};
    use std::collections::BTreeSet;

    #[test]
    fn documented_parameters_are_the_keys_each_model_takes() {
        for m in Model::EVERY {
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
        use crate::rules::{Draw, LaunchDims, RulePreset};
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
                sreg: false,
            },
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for (m, preset) in Model::ALL
            .into_iter()
            .filter(|m| m.kind().sampler().is_none())
            .flat_map(|m| [(m, RulePreset::V1), (m, RulePreset::Faithful)])
        {
            let rules = preset.rules(m);
            let cx = Draw {
                rules: &rules,
                dims: LaunchDims::default(),
            };
            for lane_on in [false, true] {
                let spec = FaultSpec {
                    params: m.kind().draw(&mut rng, &site, lane_on, &cx),
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
        for m in Model::EVERY {
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
