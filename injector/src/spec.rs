//! Fault specs (what the user writes) and fault descriptors (what the host writes into
//! an instrumented module before each launch).
//!
//! # Compact form
//!
//! `MODEL:key=value,key=value,…`, e.g.
//! `iat:sm=3,sp=1,warps=0x5,lanes=0xff,dim=x,mask=0x4,pol=sa1`. Keys:
//!
//! | key | models | value |
//! |---|---|---|
//! | `sm` | all | SM index (decimal or 0x-hex) |
//! | `sp` | all | sub-partition 0..3 (`%warpid % 4`) |
//! | `warps` | all | 32-bit mask over warp slots of the sub-partition (bit k = `%warpid / 4 == k`) |
//! | `lanes` | all | 32-bit lane mask (forced to all lanes for iaw, iac, ir, wdrop) |
//! | `dim` | iat, iaw, iac | `x`, `y`, `z` or a combination (`xy`) |
//! | `mask` | iat, iaw, iac, ims, imd, iio, fu | bits to corrupt |
//! | `pol` | iat, iaw, iac, wv | `sa0`, `sa1`, `xor` |
//! | `force` | iat, iaw, iac | `0`/`1` |
//! | `mode` | ial (`off`/`on`), imd (`data`/`addr`) | |
//! | `spaces` | imd | letters of `s` (shared), `l` (local), `g` (global/generic) |
//! | `field`, `bit` | ira | 0..3 and 0..1 |
//! | `op` | ir, ioc, fu | opcode group (`add.s32`, `fma.f32`, `setp.s32`) |
//! | `subst` | ioc | substitute operation (`sub`, `mul`, `xor`, …) |
//! | `site`, `inst`, `dest` | tbf1, tbf2 | the site's number, the instance (0-based), the destination register |
//!
//! A transient model (`tbf1`, `tbf2`) has no hardware site: its compact form has no
//! `sm`, `sp`, `warps` or `lanes` (`tbf1:site=12,inst=4711,dest=0,mask=0x100`), and its
//! spec holds the neutral values 0, 0, `0xffffffff`, `0xffffffff` there ("any thread").
//!
//! Keys a model does not use are errors. The JSON form is the serde form of
//! [`FaultSpec`]: `{"model":"iat","sm":3,"sp":1,"warps":5,"lanes":255,
//! "params":{"dim":1,"mask":4,"pol":"sa1"}}` (`dim` as its number, `force` a boolean,
//! `params` left out when empty); its errors name the field.

use crate::model::{Model, Params};
use crate::params::{describe, json_type, parse_u32};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::fmt;

pub use crate::params::Policy;
// the descriptor's older home, for the crate's own paths
pub(crate) use crate::descriptor::Descriptor;

/// A complete, reproducible fault: the model, the faulty hardware site and the model's
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultSpec {
    /// The model.
    pub model: Model,
    /// SM index.
    pub sm: u32,
    /// Sub-partition (`%warpid % 4`).
    pub sp: u32,
    /// Warp-slot mask within the sub-partition (bit k = `%warpid / 4 == k`).
    pub warps: u32,
    /// Lane mask.
    pub lanes: u32,
    /// Model parameters: the variant of `model` ([`FaultSpec::validate`] checks it).
    #[serde(skip_serializing_if = "Params::is_empty")]
    pub params: Params,
}

/// Errors in a fault spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The model id is unknown.
    #[error("unknown fault model `{model}` (known: {known})")]
    UnknownModel {
        /// What was given.
        model: String,
        /// The known ids.
        known: String,
    },
    /// A `key=value` item is malformed or names an unknown key.
    #[error("bad fault spec item `{item}`: {why}")]
    BadItem {
        /// The item.
        item: String,
        /// Why.
        why: String,
    },
    /// A key does not apply to the model.
    #[error("`{key}` does not apply to model `{model}` (it takes: {takes})")]
    NotForModel {
        /// The key.
        key: String,
        /// The model.
        model: Model,
        /// The keys it takes.
        takes: String,
    },
    /// A value is out of its range.
    #[error("`{key}={value}` is out of range: {why}")]
    OutOfRange {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// The allowed range.
        why: String,
    },
    /// A required key is missing.
    #[error("model `{model}` needs `{key}`")]
    Missing {
        /// The model.
        model: Model,
        /// The key.
        key: String,
    },
    /// The parameters are another model's.
    #[error("the parameters are for model `{params}`, the spec's model is `{model}`")]
    ParamsOfOtherModel {
        /// The spec's model.
        model: Model,
        /// The model of its parameters.
        params: Model,
    },
    /// The JSON form did not parse.
    #[error("bad fault spec JSON: {0}")]
    Json(String),
    /// A field of the JSON form is missing, unknown or of the wrong type.
    #[error("bad fault spec JSON: field `{field}`: {why}")]
    JsonField {
        /// The field (`model`, `params.mask`).
        field: String,
        /// What is wrong with it.
        why: String,
    },
}

const COMMON_KEYS: [&str; 4] = ["sm", "sp", "warps", "lanes"];

/// Substitute operations `ioc` knows, by name.
pub const SUBSTITUTES: [&str; 10] = [
    "add", "sub", "mul", "and", "or", "xor", "min", "max", "shl", "shr",
];

/// The keys `model` takes, comma-separated: the site selection (permanent models)
/// and its parameters.
fn keys_of(model: Model) -> String {
    let common: &[&str] = if model.is_transient() {
        &[]
    } else {
        &COMMON_KEYS
    };
    common
        .iter()
        .copied()
        .chain(model.parameters().iter().map(|(k, _)| *k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for `key`, which `model` does not take: another model's key, or no key.
fn not_a_key(model: Model, key: &str, item: &str) -> SpecError {
    if COMMON_KEYS.contains(&key)
        || Model::EVERY
            .iter()
            .any(|m| m.parameters().iter().any(|(k, _)| *k == key))
    {
        return SpecError::NotForModel {
            key: key.into(),
            model,
            takes: keys_of(model),
        };
    }
    SpecError::BadItem {
        item: item.into(),
        why: format!("unknown key `{key}`"),
    }
}

impl FaultSpec {
    /// A spec for `model` at the given site with no model parameters set.
    ///
    /// A transient model takes no site: give it [`FaultSpec::any_thread`]'s values.
    pub fn new(model: Model, sm: u32, sp: u32, warps: u32, lanes: u32) -> FaultSpec {
        FaultSpec {
            model,
            sm,
            sp,
            warps,
            lanes,
            params: Params::none(model),
        }
    }

    /// A spec of a transient `model` with no parameters set: SM 0, sub-partition 0, all
    /// warp slots and lanes, the neutral site selection of a fault that can hit any
    /// thread. (For a permanent model: a fault on every warp slot and lane of SM 0,
    /// sub-partition 0.)
    pub fn any_thread(model: Model) -> FaultSpec {
        FaultSpec::new(model, 0, 0, u32::MAX, u32::MAX)
    }

    /// Parses the compact form, or JSON when the text starts with `{`.
    pub fn parse(s: &str) -> Result<FaultSpec, SpecError> {
        let s = s.trim();
        if s.starts_with('{') {
            let v: Value = serde_json::from_str(s).map_err(|e| SpecError::Json(e.to_string()))?;
            let spec = FaultSpec::from_json(&v)?;
            spec.validate()?;
            return Ok(spec);
        }
        let (model_s, rest) = s.split_once(':').unwrap_or((s, ""));
        let model = Model::from_id(model_s).ok_or_else(|| SpecError::UnknownModel {
            model: model_s.into(),
            known: Model::known_ids(),
        })?;
        let mut spec = if model.is_transient() {
            FaultSpec::any_thread(model)
        } else {
            FaultSpec::new(model, 0, 0, 1, 1)
        };
        let mut seen = Vec::new();
        for item in rest.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| SpecError::BadItem {
                item: item.into(),
                why: "expected key=value".into(),
            })?;
            if seen.contains(&k) {
                return Err(SpecError::BadItem {
                    item: item.into(),
                    why: format!("`{k}` given twice"),
                });
            }
            seen.push(k);
            match k {
                _ if model.is_transient() && COMMON_KEYS.contains(&k) => {
                    return Err(not_a_key(model, k, item))
                }
                "sm" => spec.sm = parse_u32(k, v)?,
                "sp" => spec.sp = parse_u32(k, v)?,
                "warps" => spec.warps = parse_u32(k, v)?,
                "lanes" => spec.lanes = parse_u32(k, v)?,
                _ => {
                    if !spec.params.set_text(k, v)? {
                        return Err(not_a_key(model, k, item));
                    }
                }
            }
        }
        spec.validate()?;
        Ok(spec)
    }

    /// Reads the JSON form (not validated): every error names the field.
    fn from_json(v: &Value) -> Result<FaultSpec, SpecError> {
        const FIELDS: [&str; 6] = ["model", "sm", "sp", "warps", "lanes", "params"];
        let obj = v.as_object().ok_or_else(|| {
            SpecError::Json(format!(
                "expected an object such as {{\"model\":\"iat\",\"sm\":0,…}}, got {}",
                describe(v)
            ))
        })?;
        if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(SpecError::JsonField {
                field: k.clone(),
                why: format!("unknown field (known: {})", FIELDS.join(", ")),
            });
        }
        let field = |name: &str| {
            obj.get(name).ok_or_else(|| SpecError::JsonField {
                field: name.into(),
                why: "missing (a spec has model, sm, sp, warps and lanes)".into(),
            })
        };
        let model = match field("model")? {
            Value::String(id) => Model::from_id(id).ok_or_else(|| SpecError::UnknownModel {
                model: id.clone(),
                known: Model::known_ids(),
            })?,
            other => {
                return Err(json_type(
                    "model",
                    "a model id string such as \"iat\"",
                    other,
                ))
            }
        };
        let neutral = FaultSpec::any_thread(model);
        let num = |name: &str, absent: u32| -> Result<u32, SpecError> {
            // a transient spec may leave its site selection out (it has none)
            if model.is_transient() && !obj.contains_key(name) {
                return Ok(absent);
            }
            let v = field(name)?;
            v.as_u64()
                .and_then(|x| u32::try_from(x).ok())
                .ok_or_else(|| json_type(name, "an unsigned 32-bit integer", v))
        };
        let mut spec = FaultSpec::new(
            model,
            num("sm", neutral.sm)?,
            num("sp", neutral.sp)?,
            num("warps", neutral.warps)?,
            num("lanes", neutral.lanes)?,
        );
        match obj.get("params") {
            None => {}
            Some(Value::Object(params)) => {
                for (k, v) in params {
                    if !spec.params.set_json(k, v)? {
                        return Err(match not_a_key(model, k, k) {
                            SpecError::BadItem { .. } => SpecError::JsonField {
                                field: format!("params.{k}"),
                                why: "unknown parameter".into(),
                            },
                            other => other,
                        });
                    }
                }
            }
            Some(other) => {
                return Err(json_type(
                    "params",
                    "an object of the model's parameters",
                    other,
                ))
            }
        }
        Ok(spec)
    }

    /// Checks ranges and model applicability.
    pub fn validate(&self) -> Result<(), SpecError> {
        let oor = |key: &str, value: String, why: &str| SpecError::OutOfRange {
            key: key.into(),
            value,
            why: why.into(),
        };
        if self.model.is_transient() {
            let neutral = FaultSpec::any_thread(self.model);
            for (key, v, want) in [
                ("sm", self.sm, neutral.sm),
                ("sp", self.sp, neutral.sp),
                ("warps", self.warps, neutral.warps),
                ("lanes", self.lanes, neutral.lanes),
            ] {
                if v != want {
                    return Err(SpecError::NotForModel {
                        key: format!("{key}={v:#x} (a transient fault has no hardware site)"),
                        model: self.model,
                        takes: keys_of(self.model),
                    });
                }
            }
        }
        if self.sp > 3 {
            return Err(oor("sp", self.sp.to_string(), "0..3"));
        }
        if self.warps == 0 {
            return Err(oor("warps", "0".into(), "at least one warp slot"));
        }
        if self.lanes == 0 && !self.model.all_lanes() {
            return Err(oor("lanes", "0".into(), "at least one lane"));
        }
        if self.params.model() != self.model {
            return Err(SpecError::ParamsOfOtherModel {
                model: self.model,
                params: self.params.model(),
            });
        }
        self.params.check()?;
        if let Some(key) = self
            .model
            .kind()
            .required()
            .iter()
            .find(|k| !self.params.has(k))
        {
            return Err(SpecError::Missing {
                model: self.model,
                key: (*key).into(),
            });
        }
        self.model.kind().check(&self.params)
    }

    /// Checks that the fault's site exists on a device of `sms` SMs with
    /// `warp_slots_per_sm` warp slots per SM (slot `s` is in sub-partition `s % 4`):
    /// the SM, the sub-partition and every warp slot the `warps` mask selects. A mask
    /// of all ones (`0xffffffff`) stands for every slot of the sub-partition, whatever
    /// their number.
    pub fn check_device(&self, sms: u32, warp_slots_per_sm: u32) -> Result<(), SpecError> {
        let oor = |key: &str, value: String, why: String| SpecError::OutOfRange {
            key: key.into(),
            value,
            why,
        };
        if self.sm >= sms {
            let why = match sms {
                0 => "the device has no SMs".to_string(),
                n => format!("the device has {n} SMs (0..{})", n - 1),
            };
            return Err(oor("sm", self.sm.to_string(), why));
        }
        let slots = warp_slots_per_sm.saturating_sub(self.sp).div_ceil(4);
        if slots == 0 {
            let why = match warp_slots_per_sm.min(4) {
                0 => "the device has no warp slots".to_string(),
                n => format!(
                    "the device has {warp_slots_per_sm} warp slots per SM, in sub-partitions 0..{}",
                    n - 1
                ),
            };
            return Err(oor("sp", self.sp.to_string(), why));
        }
        let allowed = if slots >= 32 {
            u32::MAX
        } else {
            (1u32 << slots) - 1
        };
        if self.warps != u32::MAX && self.warps & !allowed != 0 {
            return Err(oor(
                "warps",
                format!("{:#x}", self.warps),
                format!(
                    "the device has {warp_slots_per_sm} warp slots per SM, {slots} of them in \
                     sub-partition {} (warps bits 0..{}, mask {allowed:#x})",
                    self.sp,
                    slots - 1
                ),
            ));
        }
        Ok(())
    }

    /// The lane mask in effect (all lanes for the all-lane models).
    pub fn effective_lanes(&self) -> u32 {
        if self.model.all_lanes() {
            u32::MAX
        } else {
            self.lanes
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a fault spec always serialises")
    }
}

impl<'de> Deserialize<'de> for FaultSpec {
    /// The JSON form (as [`FaultSpec::parse`] reads it, without [`FaultSpec::validate`]).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        FaultSpec::from_json(&v).map_err(|e| {
            serde::de::Error::custom(match e {
                SpecError::JsonField { field, why } => format!("field `{field}`: {why}"),
                SpecError::Json(why) => why,
                other => other.to_string(),
            })
        })
    }
}

impl fmt::Display for FaultSpec {
    /// The compact form; parsing it gives back the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.model.is_transient() {
            // no site selection: the parameters alone (`tbf1:site=3,inst=9,…`)
            let params = self.params.to_string();
            return write!(f, "{}:{}", self.model, params.trim_start_matches(','));
        }
        write!(
            f,
            "{}:sm={},sp={},warps={:#x},lanes={:#x}{}",
            self.model, self.sm, self.sp, self.warps, self.lanes, self.params
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_form_round_trips() {
        for s in [
            "iat:sm=3,sp=1,warps=0x5,lanes=0xff,dim=x,mask=0x4,pol=sa1",
            "iaw:sm=0,sp=0,warps=0x1,lanes=0xffffffff,dim=xy,mask=0x1,pol=xor,force=1",
            "ial:sm=1,sp=2,warps=0x3,lanes=0x1,mode=on",
            "imd:sm=1,sp=0,warps=0x1,lanes=0x10,mask=0x100,mode=addr,spaces=slg",
            "ira:sm=0,sp=0,warps=0x1,lanes=0xffffffff,field=2,bit=1",
            "ioc:sm=5,sp=3,warps=0x2,lanes=0xffffffff,op=add.s32,subst=sub",
            "wdrop:sm=0,sp=0,warps=0x1,lanes=0xffffffff",
        ] {
            let spec = FaultSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(spec.to_string(), s);
            let json = spec.to_json();
            assert_eq!(FaultSpec::parse(&json).unwrap(), spec, "{json}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let e = |s: &str| FaultSpec::parse(s).unwrap_err().to_string();
        assert!(e("zzz:sm=1").contains("unknown fault model `zzz`"));
        assert!(e("iat:sm=1,mode=on").contains("`mode` does not apply to model `iat`"));
        assert!(e("iat:sm=1,frob=2").contains("unknown key `frob`"));
        assert!(e("iat:sp=4").contains("`sp=4` is out of range"));
        assert!(e("iat:sm=x").contains("not an integer"));
        assert!(e("iat:sm=1,sm=2").contains("given twice"));
        assert!(e("ioc:sm=1").contains("needs `op`"));
        assert!(e("ioc:op=add.s32,subst=div").contains("`subst=div` is out of range"));
        assert!(e("iat:mask=0").contains("non-zero"));
        // out of u8 range is not wrapped into range (256 is not field 0)
        assert!(e("ira:field=256,bit=0").contains("`field=256` is out of range"));
        assert!(e("ira:field=4,bit=0").contains("`field=4` is out of range"));
        assert!(e("ira:field=0,bit=257").contains("`bit=257` is out of range"));
        assert!(e("{\"model\":\"iat\"}").contains("bad fault spec JSON"));
    }

    #[test]
    fn json_errors_name_the_field_and_the_type() {
        let e = |s: &str| FaultSpec::parse(s).unwrap_err().to_string();
        // issue: `{"model":5}` said "expected value"
        assert_eq!(
            e(r#"{"model":5}"#),
            "bad fault spec JSON: field `model`: expected a model id string such as \"iat\", \
             got the number 5"
        );
        assert_eq!(
            e(r#"{"model":"iat"}"#),
            "bad fault spec JSON: field `sm`: missing (a spec has model, sm, sp, warps and lanes)"
        );
        let full = |params: &str| {
            e(&format!(
                r#"{{"model":"iat","sm":1,"sp":0,"warps":1,"lanes":1,"params":{params}}}"#
            ))
        };
        assert_eq!(
            full(r#"{"mask":"4"}"#),
            "bad fault spec JSON: field `params.mask`: expected a non-zero unsigned 64-bit \
             integer, got the string \"4\""
        );
        assert_eq!(
            full(r#"{"pol":"sa2"}"#),
            "bad fault spec JSON: field `params.pol`: expected one of the strings sa0, sa1 or \
             xor, got the string \"sa2\""
        );
        assert_eq!(
            full(r#"{"frob":1}"#),
            "bad fault spec JSON: field `params.frob`: unknown parameter"
        );
        assert!(full(r#"{"mode":"on"}"#).contains("`mode` does not apply to model `iat`"));
        assert!(full(r#"{"mask":0}"#).contains("`mask=0` is out of range"));
        assert!(full("[]").contains("field `params`: expected an object"));
        assert!(e(r#"{"model":"iat","sm":-1,"sp":0,"warps":1,"lanes":1}"#)
            .contains("field `sm`: expected an unsigned 32-bit integer, got the number -1"));
        assert!(
            e(r#"{"model":"iat","sm":1,"sp":0,"warps":1,"lanes":1,"x":2}"#)
                .contains("field `x`: unknown field")
        );
        assert!(e(r#"{"model":"iat""#).starts_with("bad fault spec JSON: EOF"));
        assert!(e("{\"model\":\"zzz\",\"sm\":1}").contains("unknown fault model `zzz`"));
        // the store reads specs through serde: the same words, without the prefix
        let err = serde_json::from_str::<FaultSpec>(r#"{"model":5}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("field `model`: expected a model id"),
            "{err}"
        );
    }

    #[test]
    fn params_of_another_model_are_refused() {
        let mut spec = FaultSpec::parse("iat:sm=1").unwrap();
        spec.params = Params::none(Model::Ioc);
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "the parameters are for model `ioc`, the spec's model is `iat`"
        );
    }

    #[test]
    fn device_range_check_names_the_key_the_value_and_the_range() {
        let spec = |s: &str| FaultSpec::parse(s).unwrap();
        let e = |s: &str, sms, slots| spec(s).check_device(sms, slots).unwrap_err().to_string();
        // an H100 has 132 SMs and 64 warp slots per SM: 16 per sub-partition
        assert!(spec("iat:sm=131,sp=3,warps=0xffff")
            .check_device(132, 64)
            .is_ok());
        assert_eq!(
            e("iat:sm=99999", 132, 64),
            "`sm=99999` is out of range: the device has 132 SMs (0..131)"
        );
        assert_eq!(
            e("iat:sm=0,sp=1,warps=0x10000", 132, 64),
            "`warps=0x10000` is out of range: the device has 64 warp slots per SM, 16 of them \
             in sub-partition 1 (warps bits 0..15, mask 0xffff)"
        );
        // 6 slots: sub-partitions 0 and 1 have two, 2 and 3 one
        assert!(spec("iat:sp=1,warps=0x3").check_device(1, 6).is_ok());
        assert!(e("iat:sp=2,warps=0x3", 1, 6).contains("1 of them in sub-partition 2"));
        assert!(e("iat:sp=3", 1, 2).contains("`sp=3` is out of range"));
        // all ones selects every slot (campaigns draw `fu` faults so)
        assert!(spec("fu:sm=0,warps=0xffffffff,op=add.s32")
            .check_device(8, 8)
            .is_ok());
    }
}
