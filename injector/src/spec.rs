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
//!
//! Keys a model does not use are errors. The JSON form is the serde form of
//! [`FaultSpec`].

use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a value is corrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Stuck-at-0 on the mask bits.
    Sa0,
    /// Stuck-at-1 on the mask bits.
    Sa1,
    /// Bit flip of the mask bits.
    Xor,
}

impl Policy {
    fn name(self) -> &'static str {
        match self {
            Policy::Sa0 => "sa0",
            Policy::Sa1 => "sa1",
            Policy::Xor => "xor",
        }
    }
}

/// A complete, reproducible fault: the model, the faulty hardware site and the model's
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Model parameters.
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub params: Params,
}

/// Model-specific parameters; which ones apply depends on the model (see the module
/// docs). Unset parameters take the model's neutral default when encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Dimension mask: bit 0 = x, bit 1 = y, bit 2 = z.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<u8>,
    /// Corruption mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<u64>,
    /// Corruption policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pol: Option<Policy>,
    /// NVBitPERfi's forced flip when a stuck-at changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// `ial`: `off`/`on`; `imd`: `data`/`addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `imd`: store spaces, letters of `slg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spaces: Option<String>,
    /// `ira`: register field (0 = destination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<u8>,
    /// `ira`: register-index bit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit: Option<u8>,
    /// `ir`/`ioc`/`fu`: opcode group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// `ioc`: substitute operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subst: Option<String>,
}

impl Params {
    fn is_empty(&self) -> bool {
        *self == Params::default()
    }
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
    /// The JSON form did not parse.
    #[error("bad fault spec JSON: {0}")]
    Json(String),
}

const COMMON_KEYS: [&str; 4] = ["sm", "sp", "warps", "lanes"];

fn model_keys(m: Model) -> &'static [&'static str] {
    match m {
        Model::Iat | Model::Iaw | Model::Iac => &["dim", "mask", "pol", "force"],
        Model::Ial => &["mode"],
        Model::Wv => &["pol"],
        Model::Ira => &["field", "bit"],
        Model::Ir => &["op"],
        Model::Ims => &["mask"],
        Model::Imd => &["mask", "mode", "spaces"],
        Model::Ioc => &["op", "subst"],
        Model::Iio => &["mask"],
        Model::Fu => &["op", "mask"],
        Model::Wdrop | Model::Brx => &[],
    }
}

/// Substitute operations `ioc` knows, by name.
pub const SUBSTITUTES: [&str; 10] = [
    "add", "sub", "mul", "and", "or", "xor", "min", "max", "shl", "shr",
];

fn parse_u64(key: &str, v: &str) -> Result<u64, SpecError> {
    let r = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u64::from_str_radix(&h.replace('_', ""), 16)
    } else if let Some(b) = v.strip_prefix("0b") {
        u64::from_str_radix(&b.replace('_', ""), 2)
    } else {
        v.replace('_', "").parse::<u64>()
    };
    r.map_err(|e| SpecError::BadItem {
        item: format!("{key}={v}"),
        why: format!("not an integer ({e})"),
    })
}

fn parse_u32(key: &str, v: &str) -> Result<u32, SpecError> {
    let x = parse_u64(key, v)?;
    u32::try_from(x).map_err(|_| SpecError::OutOfRange {
        key: key.into(),
        value: v.into(),
        why: "must fit in 32 bits".into(),
    })
}

/// A small number; out of `u8` range is reported with the key's own range `why`.
fn parse_u8(key: &str, v: &str, why: &str) -> Result<u8, SpecError> {
    let x = parse_u64(key, v)?;
    u8::try_from(x).map_err(|_| SpecError::OutOfRange {
        key: key.into(),
        value: v.into(),
        why: why.into(),
    })
}

fn parse_dim(v: &str) -> Result<u8, SpecError> {
    let mut d = 0u8;
    for c in v.chars() {
        d |= match c {
            'x' => 1,
            'y' => 2,
            'z' => 4,
            _ => {
                return Err(SpecError::OutOfRange {
                    key: "dim".into(),
                    value: v.into(),
                    why: "letters of x, y, z".into(),
                })
            }
        };
    }
    if d == 0 {
        return Err(SpecError::OutOfRange {
            key: "dim".into(),
            value: v.into(),
            why: "at least one of x, y, z".into(),
        });
    }
    Ok(d)
}

fn dim_name(d: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(1, 'x'), (2, 'y'), (4, 'z')] {
        if d & bit != 0 {
            s.push(c);
        }
    }
    s
}

impl FaultSpec {
    /// A spec for `model` at the given site with no model parameters set.
    pub fn new(model: Model, sm: u32, sp: u32, warps: u32, lanes: u32) -> FaultSpec {
        FaultSpec {
            model,
            sm,
            sp,
            warps,
            lanes,
            params: Params::default(),
        }
    }

    /// Parses the compact form, or JSON when the text starts with `{`.
    pub fn parse(s: &str) -> Result<FaultSpec, SpecError> {
        let s = s.trim();
        if s.starts_with('{') {
            let spec: FaultSpec =
                serde_json::from_str(s).map_err(|e| SpecError::Json(e.to_string()))?;
            spec.validate()?;
            return Ok(spec);
        }
        let (model_s, rest) = s.split_once(':').unwrap_or((s, ""));
        let model = Model::from_id(model_s).ok_or_else(|| SpecError::UnknownModel {
            model: model_s.into(),
            known: Model::ALL.map(Model::id).join(", "),
        })?;
        let mut spec = FaultSpec::new(model, 0, 0, 1, 1);
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
            if !COMMON_KEYS.contains(&k) && !model_keys(model).contains(&k) {
                let all: Vec<&str> = Model::ALL
                    .iter()
                    .flat_map(|m| model_keys(*m).iter().copied())
                    .collect();
                if all.contains(&k) {
                    return Err(SpecError::NotForModel {
                        key: k.into(),
                        model,
                        takes: COMMON_KEYS
                            .iter()
                            .chain(model_keys(model))
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                return Err(SpecError::BadItem {
                    item: item.into(),
                    why: format!("unknown key `{k}`"),
                });
            }
            let p = &mut spec.params;
            match k {
                "sm" => spec.sm = parse_u32(k, v)?,
                "sp" => spec.sp = parse_u32(k, v)?,
                "warps" => spec.warps = parse_u32(k, v)?,
                "lanes" => spec.lanes = parse_u32(k, v)?,
                "dim" => p.dim = Some(parse_dim(v)?),
                "mask" => p.mask = Some(parse_u64(k, v)?),
                "pol" => {
                    p.pol = Some(match v {
                        "sa0" => Policy::Sa0,
                        "sa1" => Policy::Sa1,
                        "xor" => Policy::Xor,
                        _ => {
                            return Err(SpecError::OutOfRange {
                                key: k.into(),
                                value: v.into(),
                                why: "sa0, sa1 or xor".into(),
                            })
                        }
                    })
                }
                "force" => {
                    p.force = Some(match v {
                        "0" => false,
                        "1" => true,
                        _ => {
                            return Err(SpecError::OutOfRange {
                                key: k.into(),
                                value: v.into(),
                                why: "0 or 1".into(),
                            })
                        }
                    })
                }
                "mode" => p.mode = Some(v.into()),
                "spaces" => p.spaces = Some(v.into()),
                "field" => p.field = Some(parse_u8(k, v, "0..3")?),
                "bit" => p.bit = Some(parse_u8(k, v, "0..1")?),
                "op" => p.op = Some(v.into()),
                "subst" => p.subst = Some(v.into()),
                _ => unreachable!("keys are checked above"),
            }
        }
        spec.validate()?;
        Ok(spec)
    }

    /// Checks ranges and model applicability.
    pub fn validate(&self) -> Result<(), SpecError> {
        let oor = |key: &str, value: String, why: &str| SpecError::OutOfRange {
            key: key.into(),
            value,
            why: why.into(),
        };
        if self.sp > 3 {
            return Err(oor("sp", self.sp.to_string(), "0..3"));
        }
        if self.warps == 0 {
            return Err(oor("warps", "0".into(), "at least one warp slot"));
        }
        if self.lanes == 0 && !self.model.all_lanes() {
            return Err(oor("lanes", "0".into(), "at least one lane"));
        }
        let p = &self.params;
        let keys = model_keys(self.model);
        let set: [(&str, bool); 10] = [
            ("dim", p.dim.is_some()),
            ("mask", p.mask.is_some()),
            ("pol", p.pol.is_some()),
            ("force", p.force.is_some()),
            ("mode", p.mode.is_some()),
            ("spaces", p.spaces.is_some()),
            ("field", p.field.is_some()),
            ("bit", p.bit.is_some()),
            ("op", p.op.is_some()),
            ("subst", p.subst.is_some()),
        ];
        for (k, is_set) in set {
            if is_set && !keys.contains(&k) {
                return Err(SpecError::NotForModel {
                    key: k.into(),
                    model: self.model,
                    takes: COMMON_KEYS
                        .iter()
                        .chain(keys)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        if p.mask == Some(0) {
            return Err(oor("mask", "0".into(), "a non-zero mask"));
        }
        if let Some(m) = &p.mode {
            let ok = match self.model {
                Model::Ial => m == "off" || m == "on",
                Model::Imd => m == "data" || m == "addr",
                _ => false,
            };
            if !ok {
                let why = if self.model == Model::Ial {
                    "off or on"
                } else {
                    "data or addr"
                };
                return Err(oor("mode", m.clone(), why));
            }
        }
        if let Some(s) = &p.spaces {
            if s.is_empty() || !s.chars().all(|c| matches!(c, 's' | 'l' | 'g')) {
                return Err(oor("spaces", s.clone(), "letters of s, l, g"));
            }
        }
        if p.field.is_some_and(|f| f > 3) {
            return Err(oor("field", p.field.unwrap_or(0).to_string(), "0..3"));
        }
        if p.bit.is_some_and(|b| b > 1) {
            return Err(oor("bit", p.bit.unwrap_or(0).to_string(), "0..1"));
        }
        if let Some(op) = &p.op {
            if op.is_empty()
                || op.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            {
                return Err(oor("op", op.clone(), "an opcode group such as add.s32"));
            }
        }
        if let Some(s) = &p.subst {
            if !SUBSTITUTES.contains(&s.as_str()) {
                return Err(oor("subst", s.clone(), &SUBSTITUTES.join(", ")));
            }
        }
        if matches!(self.model, Model::Ir | Model::Ioc | Model::Fu) && p.op.is_none() {
            return Err(SpecError::Missing {
                model: self.model,
                key: "op".into(),
            });
        }
        if self.model == Model::Ioc && p.subst.is_none() {
            return Err(SpecError::Missing {
                model: self.model,
                key: "subst".into(),
            });
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

impl fmt::Display for FaultSpec {
    /// The compact form; parsing it gives back the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:sm={},sp={},warps={:#x},lanes={:#x}",
            self.model, self.sm, self.sp, self.warps, self.lanes
        )?;
        let p = &self.params;
        if let Some(d) = p.dim {
            write!(f, ",dim={}", dim_name(d))?;
        }
        if let Some(m) = p.mask {
            write!(f, ",mask={m:#x}")?;
        }
        if let Some(pol) = p.pol {
            write!(f, ",pol={}", pol.name())?;
        }
        if let Some(x) = p.force {
            write!(f, ",force={}", u8::from(x))?;
        }
        if let Some(m) = &p.mode {
            write!(f, ",mode={m}")?;
        }
        if let Some(s) = &p.spaces {
            write!(f, ",spaces={s}")?;
        }
        if let Some(x) = p.field {
            write!(f, ",field={x}")?;
        }
        if let Some(x) = p.bit {
            write!(f, ",bit={x}")?;
        }
        if let Some(x) = &p.op {
            write!(f, ",op={x}")?;
        }
        if let Some(x) = &p.subst {
            write!(f, ",subst={x}")?;
        }
        Ok(())
    }
}

/// The bytes of the fault descriptor global `__gpufault_desc` (64 bytes, little-endian).
///
/// | offset | type | field |
/// |---|---|---|
/// | 0 | u32 | enabled (1) or disabled (0) |
/// | 4 | u32 | SM |
/// | 8 | u32 | sub-partition |
/// | 12 | u32 | warp-slot mask |
/// | 16 | u32 | lane mask |
/// | 20 | u32 | dimension mask (iat/iaw/iac) |
/// | 24 | u64 | AND mask (value' = ((v & and) \| or) ^ xor) |
/// | 32 | u64 | OR mask |
/// | 40 | u64 | XOR mask |
/// | 48 | u32 | opcode-group id ([`op_group_id`]) |
/// | 52 | u32 | variant (model-specific, see [`Descriptor::variant`]) |
/// | 56 | u32 | force flag |
/// | 60 | u32 | reserved (0) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Descriptor {
    /// Enabled flag.
    pub enabled: u32,
    /// SM.
    pub sm: u32,
    /// Sub-partition.
    pub sp: u32,
    /// Warp-slot mask.
    pub warps: u32,
    /// Lane mask.
    pub lanes: u32,
    /// Dimension mask.
    pub dims: u32,
    /// AND mask.
    pub and: u64,
    /// OR mask.
    pub or: u64,
    /// XOR mask.
    pub xor: u64,
    /// Opcode-group id.
    pub op: u32,
    /// Model-specific variant: ial 0 = off, 1 = on; wv 0 = sa0, 1 = sa1, 2 = flip;
    /// imd bits 0..2 = spaces s/l/g, bit 4 = address mode; ira field*4 + bit; ioc the
    /// substitute's index in [`SUBSTITUTES`].
    pub variant: u32,
    /// Force flag (iat/iaw/iac).
    pub force: u32,
}

/// Size of the descriptor global in bytes.
pub const DESCRIPTOR_BYTES: usize = 64;

/// The stable 32-bit id of an opcode group (`add.s32`): FNV-1a of its text, never 0.
pub fn op_group_id(group: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in group.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h.max(1)
}

impl Descriptor {
    /// The disabled descriptor: an instrumented module computes what the original does.
    pub fn disabled() -> Descriptor {
        Descriptor::default()
    }

    /// Encodes a validated spec.
    pub fn from_spec(spec: &FaultSpec) -> Descriptor {
        let p = &spec.params;
        let mask = p.mask.unwrap_or(1);
        let (and, or, xor) = match p.pol.unwrap_or(Policy::Xor) {
            Policy::Sa0 => (!mask, 0, 0),
            Policy::Sa1 => (u64::MAX, mask, 0),
            Policy::Xor => (u64::MAX, 0, mask),
        };
        let variant = match spec.model {
            Model::Ial => u32::from(p.mode.as_deref() == Some("on")),
            Model::Wv => match p.pol.unwrap_or(Policy::Xor) {
                Policy::Sa0 => 0,
                Policy::Sa1 => 1,
                Policy::Xor => 2,
            },
            Model::Imd => {
                let spaces = p.spaces.as_deref().unwrap_or("sl");
                let mut v = 0;
                if spaces.contains('s') {
                    v |= 1;
                }
                if spaces.contains('l') {
                    v |= 2;
                }
                if spaces.contains('g') {
                    v |= 4;
                }
                if p.mode.as_deref() == Some("addr") {
                    v |= 16;
                }
                v
            }
            Model::Ira => u32::from(p.field.unwrap_or(0)) * 4 + u32::from(p.bit.unwrap_or(0)),
            Model::Ioc => p
                .subst
                .as_deref()
                .and_then(|s| SUBSTITUTES.iter().position(|x| *x == s))
                .unwrap_or(0) as u32,
            _ => 0,
        };
        Descriptor {
            enabled: 1,
            sm: spec.sm,
            sp: spec.sp,
            warps: spec.warps,
            lanes: spec.effective_lanes(),
            dims: u32::from(p.dim.unwrap_or(1)),
            and,
            or,
            xor,
            op: p.op.as_deref().map(op_group_id).unwrap_or(0),
            variant,
            force: u32::from(p.force.unwrap_or(false)),
        }
    }

    /// The 64 little-endian bytes to write into `__gpufault_desc`.
    pub fn to_bytes(&self) -> [u8; DESCRIPTOR_BYTES] {
        let mut b = [0u8; DESCRIPTOR_BYTES];
        let w32 = |b: &mut [u8; DESCRIPTOR_BYTES], off: usize, v: u32| {
            b[off..off + 4].copy_from_slice(&v.to_le_bytes())
        };
        let w64 = |b: &mut [u8; DESCRIPTOR_BYTES], off: usize, v: u64| {
            b[off..off + 8].copy_from_slice(&v.to_le_bytes())
        };
        w32(&mut b, 0, self.enabled);
        w32(&mut b, 4, self.sm);
        w32(&mut b, 8, self.sp);
        w32(&mut b, 12, self.warps);
        w32(&mut b, 16, self.lanes);
        w32(&mut b, 20, self.dims);
        w64(&mut b, 24, self.and);
        w64(&mut b, 32, self.or);
        w64(&mut b, 40, self.xor);
        w32(&mut b, 48, self.op);
        w32(&mut b, 52, self.variant);
        w32(&mut b, 56, self.force);
        b
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
    fn descriptor_layout() {
        let spec =
            FaultSpec::parse("iat:sm=3,sp=1,warps=0x5,lanes=0xff,dim=y,mask=0x4,pol=sa0").unwrap();
        let d = Descriptor::from_spec(&spec);
        let b = d.to_bytes();
        assert_eq!(&b[0..4], &1u32.to_le_bytes());
        assert_eq!(&b[4..8], &3u32.to_le_bytes());
        assert_eq!(&b[8..12], &1u32.to_le_bytes());
        assert_eq!(&b[12..16], &5u32.to_le_bytes());
        assert_eq!(&b[16..20], &0xffu32.to_le_bytes());
        assert_eq!(&b[20..24], &2u32.to_le_bytes());
        assert_eq!(&b[24..32], &(!4u64).to_le_bytes());
        assert_eq!(&b[32..48], &[0u8; 16]);
        assert_eq!(Descriptor::disabled().to_bytes(), [0u8; 64]);
        // all-lane models ignore the lane mask
        let w = FaultSpec::parse("iaw:sm=0,lanes=0x1").unwrap();
        assert_eq!(Descriptor::from_spec(&w).lanes, u32::MAX);
        assert_ne!(op_group_id("add.s32"), op_group_id("add.u32"));
    }
}
