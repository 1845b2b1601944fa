//! The fault models (design.md §3): the registry.
//!
//! Each model lives in its own module under `models/` behind one trait
//! (`models::FaultModel`): its definition and parameters, its descriptor encoding, the
//! code it adds to an instrumented module, and how campaigns draw it. The registry below
//! names every model once — its [`Model`] variant, its typed parameters ([`Params`]) and
//! its module — so adding a model is one new module and one line here, in the list of
//! permanent or of transient models.

use crate::models::{self, FaultModel};
use crate::params::ParamSet;
use crate::spec::SpecError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

pub use crate::models::fu::FuParams;
pub use crate::models::ial::{IalMode, IalParams};
pub use crate::models::ids::IdParams;
pub use crate::models::iio::{IioParams, IioVar};
pub use crate::models::imd::{ImdMode, ImdParams};
pub use crate::models::ims::{ImsParams, ImsSrc};
pub use crate::models::ioc::IocParams;
pub use crate::models::ir::IrParams;
pub use crate::models::ira::IraParams;
pub use crate::models::tbf::TbfParams;
pub use crate::models::wv::WvParams;

/// Generates [`Model`], [`Model::ALL`], the dispatch to each model's module and
/// [`Params`] from the registry: one line per model.
macro_rules! registry {
    (
        permanent { $( $(#[$pdoc:meta])* $pvariant:ident($pparams:ty) => $pkind:expr, )* }
        transient { $( $(#[$tdoc:meta])* $tvariant:ident($tparams:ty) => $tkind:expr, )* }
    ) => {
        registry!(@gen
            [$( $pvariant )*] [$( $tvariant )*]
            $( $(#[$pdoc])* $pvariant($pparams) => $pkind, )*
            $( $(#[$tdoc])* $tvariant($tparams) => $tkind, )*
        );
    };
    (@gen [$( $perm:ident )*] [$( $trans:ident )*]
        $( $(#[$doc:meta])* $variant:ident($params:ty) => $kind:expr, )*) => {
        /// A fault model, by its id: a permanent fault of a GPU control unit (its SC'23 /
        /// NVBitPERfi id; [`Model::ALL`]) or a transient bit flip (NVBitFI's;
        /// [`Model::TRANSIENT`]).
        ///
        /// Every permanent model shares the *site selection* of a permanent fault: the faulty
        /// hardware is one SM (`sm`), one of its four sub-partitions (`sp` = `%warpid %
        /// 4`, the warp scheduler), a set of warp slots in that sub-partition (`warps`,
        /// bit `k` = warp slot `4k + sp`, i.e. `%warpid / 4 == k`) and a set of lanes
        /// (`lanes`, bit `l` = `%laneid == l`). A thread is *selected* when all four
        /// match. What the fault does to a selected thread is the model's own; see
        /// [`Model::definition`]. A transient model has no hardware site: its fault is
        /// one dynamic instance of one instruction ([`Model::is_transient`]).
        ///
        /// Its serde form is its id (`"iat"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Model {
            $( $(#[$doc])* $variant, )*
        }

        impl Model {
            /// Every permanent-fault model, in the order of design.md §3: what `--models
            /// all` selects and what the health check targets.
            pub const ALL: [Model; [$(Model::$perm),*].len()] = [$(Model::$perm),*];

            /// The transient-fault models (NVBitFI's bit flips; `docs/fault-models.md`).
            pub const TRANSIENT: [Model; [$(Model::$trans),*].len()] = [$(Model::$trans),*];

            /// Every model: the permanent ones, then the transient ones.
            pub const EVERY: [Model; [$(Model::$variant),*].len()] = [$(Model::$variant),*];

            /// The module that knows the model.
            pub(crate) fn kind(self) -> &'static dyn FaultModel {
                match self {
                    $( Model::$variant => &$kind, )*
                }
            }
        }

        /// A fault's model-specific parameters, typed by its model: the variant of
        /// [`FaultSpec::model`](crate::FaultSpec::model). Each key is an `Option`: `None`
        /// is a key the spec leaves out (the model's default applies, see
        /// [`Model::parameters`]). The JSON form is the inner struct's fields.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Params {
            $(
                #[doc = concat!("Parameters of [`Model::", stringify!($variant), "`].")]
                $variant($params),
            )*
        }

        impl Params {
            /// The parameters of `model` with every key left out.
            pub fn none(model: Model) -> Params {
                match model {
                    $( Model::$variant => Params::$variant(Default::default()), )*
                }
            }

            /// The model these parameters belong to.
            pub fn model(&self) -> Model {
                match self {
                    $( Params::$variant(_) => Model::$variant, )*
                }
            }

            /// The keys of the model's parameters, in the order the compact and JSON
            /// forms write them.
            pub fn keys(&self) -> &'static [&'static str] {
                self.inner().keys()
            }

            /// Whether no key is given.
            pub fn is_empty(&self) -> bool {
                match self {
                    $( Params::$variant(p) => *p == <$params>::default(), )*
                }
            }

            fn inner_mut(&mut self) -> &mut dyn ParamSet {
                match self {
                    $( Params::$variant(p) => p, )*
                }
            }

            fn inner(&self) -> &dyn ParamSet {
                match self {
                    $( Params::$variant(p) => p, )*
                }
            }
        }

        impl Serialize for Params {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Params::$variant(p) => p.serialize(s), )*
                }
            }
        }
    };
}

registry! {
    permanent {
    /// Warp scheduler, thread ids.
    Iat(IdParams) => models::ids::IAT,
    /// Warp scheduler, warp-wide thread ids.
    Iaw(IdParams) => models::ids::IAW,
    /// CTA dispatch, CTA ids.
    Iac(IdParams) => models::ids::IAC,
    /// Active-mask control (lane-off / lane-on variants).
    Ial(IalParams) => models::ial::Ial,
    /// Control flow, predicate values.
    Wv(WvParams) => models::wv::Wv,
    /// Decoder, register address.
    Ira(IraParams) => models::ira::Ira,
    /// Decoder, invalid register.
    Ir(IrParams) => models::ir::Ir,
    /// Memory source (constant bank / kernel parameters).
    Ims(ImsParams) => models::ims::Ims,
    /// Memory destination (store data or address).
    Imd(ImdParams) => models::imd::Imd,
    /// Fetch/decode, operation code.
    Ioc(IocParams) => models::ioc::Ioc,
    /// Decoder, immediate operand.
    Iio(IioParams) => models::iio::Iio,
    /// Functional unit (NVBitFI permanent mode).
    Fu(FuParams) => models::fu::Fu,
    /// Warp scheduler never issues a warp slot.
    Wdrop(NoParams) => models::wdrop::Wdrop,
    /// Branch unit, inverted branch direction.
    Brx(NoParams) => models::brx::Brx,
    }
    transient {
    /// Transient single-bit flip in the destination of one dynamic instruction (NVBitFI).
    Tbf1(TbfParams) => models::tbf::TBF1,
    /// Transient flip of two adjacent bits in the destination of one dynamic instruction
    /// (NVBitFI).
    Tbf2(TbfParams) => models::tbf::TBF2,
    }
}

crate::params::param_set! {
    /// The parameters of a model that takes none (`wdrop`, `brx`).
    pub struct NoParams {}
}

impl Params {
    /// Sets `key` from the compact form (`Ok(false)`: not a key of the model).
    pub(crate) fn set_text(&mut self, key: &str, text: &str) -> Result<bool, SpecError> {
        self.inner_mut().set(key, text)
    }

    /// Sets `key` from the JSON form (`Ok(false)`: not a key of the model).
    pub(crate) fn set_json(&mut self, key: &str, v: &serde_json::Value) -> Result<bool, SpecError> {
        self.inner_mut().set_json(key, v)
    }

    /// Whether `key` is given.
    pub fn has(&self, key: &str) -> bool {
        self.inner().has(key)
    }

    /// Checks the range of every given value.
    pub(crate) fn check(&self) -> Result<(), SpecError> {
        self.inner().check()
    }

    /// The opcode group of `ir`, `ioc` and `fu` faults, when given.
    pub fn op(&self) -> Option<&String> {
        match self {
            Params::Ir(p) => p.op.as_ref(),
            Params::Ioc(p) => p.op.as_ref(),
            Params::Fu(p) => p.op.as_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for Params {
    /// `,key=value` for every given key, as the compact form of a spec ends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner().write(f)
    }
}

impl Model {
    /// The id (`iat`, `wdrop`, …).
    pub fn id(self) -> &'static str {
        self.kind().id()
    }

    /// Parses an id (of any model, permanent or transient).
    pub fn from_id(s: &str) -> Option<Model> {
        Model::EVERY.into_iter().find(|m| m.id() == s)
    }

    /// Whether the model is a transient fault (one dynamic instance of one instruction,
    /// no hardware site): its spec's `sm`, `sp`, `warps` and `lanes` are unused, and
    /// coverage campaigns of the health check do not take it.
    pub fn is_transient(self) -> bool {
        self.kind().transient()
    }

    /// The unit the model stands for, with the SC'23 class in parentheses.
    pub fn unit(self) -> &'static str {
        self.kind().unit()
    }

    /// The unit of the health check's findings a fault of the model belongs to
    /// (`warp-scheduler`, `control-flow`, `decode`, `memory`): the unit of the
    /// signature kernel aimed at it, which coverage campaigns expect the findings of a
    /// detected fault to name.
    pub fn check_unit(self) -> &'static str {
        self.kind().check_unit()
    }

    /// The precise definition: which instructions it touches and what happens to a
    /// selected thread. Also printed by `gpufault models`.
    pub fn definition(self) -> &'static str {
        self.kind().definition()
    }

    /// Whether the model always affects all 32 lanes of a selected warp.
    pub fn all_lanes(self) -> bool {
        self.kind().all_lanes()
    }

    /// The model-specific parameters and their ranges, for documentation. Each says
    /// the default of a hand-written spec (the key left out) and what campaigns draw.
    pub fn parameters(self) -> &'static [(&'static str, &'static str)] {
        self.kind().parameters()
    }

    /// Every id, comma-separated (for messages).
    pub(crate) fn known_ids() -> String {
        Model::EVERY.map(Model::id).join(", ")
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Model {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Model::from_id(&id).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown fault model `{id}` (known: {})",
                Model::known_ids()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_every_model_is_documented() {
        for m in Model::EVERY {
            assert_eq!(Model::from_id(m.id()), Some(m));
            assert!(m.definition().len() > 60, "{m} needs a real definition");
            assert!(!m.unit().is_empty());
            assert_eq!(Params::none(m).model(), m);
        }
        assert_eq!(Model::from_id("xyz"), None);
        assert_eq!(
            Model::ALL.len() + Model::TRANSIENT.len(),
            Model::EVERY.len()
        );
        assert!(Model::ALL.iter().all(|m| !m.is_transient()));
        assert!(Model::TRANSIENT.iter().all(|m| m.is_transient()));
    }
}
