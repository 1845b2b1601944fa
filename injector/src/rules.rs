//! Sampling rules: how a campaign draws the lanes, warp slots and parameters of each
//! model's faults, as plan parameters.
//!
//! Where a fault sits (site, SM, warp slot, one lane that ran it) is drawn by the
//! sampler ([`crate::sample_with`]); everything else is drawn by a rule of the model's
//! [`ModelRules`]:
//!
//! ```text
//!   key     applies to                       values
//!   mask    iat iaw iac ims imd iio fu        bit | bit:LO..HI | uniform:LO..HI |
//!                                            blockdim | griddim | a fixed mask (0x4)
//!   pol     iat iaw iac wv                    stuck | sa0 | sa1 | xor
//!   lanes   every model not all-lanes by     all | one | subset:LO..HI
//!           definition (not iaw iac ir wdrop)
//!   warps   every model                      all | one | subset
//!   any other parameter key of the model     a fixed value (imd.mode=addr, iio.var=result)
//! ```
//!
//! Two presets name whole tables ([`RulePreset`]): `faithful`, NVBitPERfi's choices where
//! its public code makes one (the default of `gpufault campaign`), and `v1`, the
//! choices of gpufault before rules existed (single-bit masks; what [`crate::sample`]
//! draws, and what the health check's coverage figures were measured with). Overrides
//! (`iat.mask=uniform:1..1024`) change one key of one model on top of a preset.
//! `docs/fault-models.md` says, model by model, where each faithful choice comes from.

use crate::model::{Model, Params};
use crate::sample::{below, single_bit, stuck, subset};
use crate::spec::Policy;
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A sampling rule that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The text is not `MODEL.KEY=VALUE`.
    #[error("`{text}` is not MODEL.KEY=VALUE (e.g. iat.mask=uniform:1..1024)")]
    Form {
        /// What was given.
        text: String,
    },
    /// The model id is unknown.
    #[error("unknown model `{model}` in `{text}` (known: {known})")]
    Model {
        /// The model part.
        model: String,
        /// The whole rule.
        text: String,
        /// The known ids.
        known: String,
    },
    /// The key is neither a rule nor a parameter of the model.
    #[error("`{key}` is not a sampling key of {model} in `{text}` (its keys: {keys})")]
    Key {
        /// The key part.
        key: String,
        /// The model.
        model: Model,
        /// The whole rule.
        text: String,
        /// The keys the model takes.
        keys: String,
    },
    /// The value does not fit the key.
    #[error("bad value `{value}` for {model}.{key} in `{text}`: {why}")]
    Value {
        /// The model.
        model: Model,
        /// The key.
        key: String,
        /// The value part.
        value: String,
        /// The whole rule.
        text: String,
        /// What the key takes.
        why: String,
    },
    /// The preset name is unknown.
    #[error("unknown sampling-rule preset `{name}` (known: faithful, v1)")]
    Preset {
        /// What was given.
        name: String,
    },
}

/// How the corruption mask of a fault is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskRule {
    /// One bit of the site's value width (`bit`).
    SiteBit,
    /// One bit in `lo..hi` (`bit:0..10`: one of the low ten bits).
    Bit {
        /// Lowest bit.
        lo: u32,
        /// One past the highest bit.
        hi: u32,
    },
    /// An integer uniform in `lo..=hi` (`uniform:1..1024`).
    Uniform {
        /// Smallest mask (at least 1).
        lo: u64,
        /// Largest mask.
        hi: u64,
    },
    /// Uniform in `1..=` the largest block dimension the workload launched in the
    /// dimension the site reads (`blockdim`, NVBitPERfi's IAT/IAW).
    BlockDim,
    /// Uniform in `1..=` the largest grid dimension (`griddim`, NVBitPERfi's IAC).
    GridDim,
    /// Always this mask.
    Fixed(u64),
}

/// Which lanes a drawn fault selects; the lane the sampler picked is always among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneRule {
    /// All 32 lanes (`all`).
    All,
    /// The picked lane alone (`one`).
    One,
    /// A random subset of `lo..=hi` lanes (`subset:1..31`).
    Subset {
        /// Fewest lanes.
        lo: u32,
        /// Most lanes.
        hi: u32,
    },
}

/// Which warp slots of the fault's sub-partition a drawn fault selects; the slot the
/// sampler picked is always among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarpRule {
    /// Every slot of the GPU's sub-partition (`all`).
    All,
    /// The picked slot alone (`one`).
    One,
    /// A random subset of the sub-partition's slots, of size uniform in 1..=all
    /// (`subset`).
    Subset,
}

/// How the corruption policy of a fault is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolRule {
    /// Stuck-at 0 or 1, evenly (`stuck`).
    Stuck,
    /// Always this policy (`sa0`, `sa1`, `xor`).
    Fixed(Policy),
}

/// The sampling choices of one model (see the module docs for the keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRules {
    /// The mask; `None` for models that draw none.
    pub mask: Option<MaskRule>,
    /// The policy; `None` for models that draw none.
    pub pol: Option<PolRule>,
    /// The lanes.
    pub lanes: LaneRule,
    /// The warp slots.
    pub warps: WarpRule,
    /// Parameters every drawn fault gets, as `key=value` of the spec's compact form.
    pub fixed: Vec<(String, String)>,
}

/// A named table of rules for every model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RulePreset {
    /// NVBitPERfi's choices where its public code makes one, gpufault's elsewhere.
    Faithful,
    /// gpufault's choices before rules existed (single-bit masks).
    V1,
}

impl RulePreset {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            RulePreset::Faithful => "faithful",
            RulePreset::V1 => "v1",
        }
    }

    /// The preset called `name`.
    pub fn parse(name: &str) -> Result<RulePreset, RuleError> {
        match name {
            "faithful" => Ok(RulePreset::Faithful),
            "v1" => Ok(RulePreset::V1),
            _ => Err(RuleError::Preset { name: name.into() }),
        }
    }

    /// The preset's rules of `model`.
    pub fn rules(self, model: Model) -> ModelRules {
        match self {
            RulePreset::V1 => model.kind().v1_rules(),
            RulePreset::Faithful => model.kind().faithful_rules(),
        }
    }
}

/// One override: `model.key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOverride {
    /// The model.
    pub model: Model,
    /// The key (`mask`, `lanes`, `warps`, `pol` or a parameter of the model).
    pub key: String,
    /// The value, as given.
    pub value: String,
}

impl fmt::Display for RuleOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}={}", self.model, self.key, self.value)
    }
}

impl FromStr for RuleOverride {
    type Err = RuleError;

    /// Reads `model.key=value` and checks the value against the model.
    fn from_str(text: &str) -> Result<Self, RuleError> {
        let form = || RuleError::Form { text: text.into() };
        let (lhs, value) = text.split_once('=').ok_or_else(form)?;
        let (model, key) = lhs.split_once('.').ok_or_else(form)?;
        let (model, key, value) = (model.trim(), key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(form());
        }
        let m = Model::from_id(model).ok_or_else(|| RuleError::Model {
            model: model.into(),
            text: text.into(),
            known: Model::known_ids(),
        })?;
        let o = RuleOverride {
            model: m,
            key: key.into(),
            value: value.into(),
        };
        let mut rules = m.kind().v1_rules();
        o.apply(&mut rules, text)?;
        Ok(o)
    }
}

impl RuleOverride {
    /// Applies the override to `rules` (`text`: the rule as given, for errors).
    fn apply(&self, rules: &mut ModelRules, text: &str) -> Result<(), RuleError> {
        let m = self.model;
        let bad = |why: &str| RuleError::Value {
            model: m,
            key: self.key.clone(),
            value: self.value.clone(),
            text: text.into(),
            why: why.into(),
        };
        let v = self.value.as_str();
        match self.key.as_str() {
            "mask" if rules.mask.is_some() => {
                rules.mask = Some(parse_mask(v).map_err(|w| bad(&w))?);
            }
            "pol" if rules.pol.is_some() => {
                rules.pol = Some(match v {
                    "stuck" => PolRule::Stuck,
                    "sa0" => PolRule::Fixed(Policy::Sa0),
                    "sa1" => PolRule::Fixed(Policy::Sa1),
                    "xor" => PolRule::Fixed(Policy::Xor),
                    _ => return Err(bad("takes stuck, sa0, sa1 or xor")),
                });
            }
            "lanes" if !m.kind().all_lanes() => {
                rules.lanes = parse_lanes(v).map_err(|w| bad(&w))?;
            }
            "warps" => {
                rules.warps = match v {
                    "all" => WarpRule::All,
                    "one" => WarpRule::One,
                    "subset" => WarpRule::Subset,
                    _ => return Err(bad("takes all, one or subset")),
                };
            }
            key if !matches!(key, "mask" | "pol" | "lanes" | "warps")
                && Params::none(m).keys().contains(&key) =>
            {
                let mut p = Params::none(m);
                p.set_text(key, v).map_err(|e| bad(&e.to_string()))?;
                rules.fixed.retain(|(k, _)| k != key);
                rules.fixed.push((key.into(), v.into()));
            }
            key => {
                return Err(RuleError::Key {
                    key: key.into(),
                    model: m,
                    text: text.into(),
                    keys: rule_keys(m).join(", "),
                })
            }
        }
        Ok(())
    }
}

/// The keys `--sampling-rule` takes for `model`: its rules, then its other parameters.
pub fn rule_keys(model: Model) -> Vec<&'static str> {
    let r = model.kind().v1_rules();
    let mut keys = Vec::new();
    if r.mask.is_some() {
        keys.push("mask");
    }
    if r.pol.is_some() {
        keys.push("pol");
    }
    if !model.kind().all_lanes() {
        keys.push("lanes");
    }
    keys.push("warps");
    keys.extend(
        Params::none(model)
            .keys()
            .iter()
            .filter(|k| !matches!(**k, "mask" | "pol")),
    );
    keys
}

fn range<T: FromStr>(text: &str) -> Option<(T, T)> {
    let (lo, hi) = text.split_once("..")?;
    Some((parse_num(lo)?, parse_num(hi)?))
}

fn parse_num<T: FromStr>(text: &str) -> Option<T> {
    let t = text.trim().replace('_', "");
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()?.to_string().parse().ok(),
        None => t.parse().ok(),
    }
}

fn parse_mask(v: &str) -> Result<MaskRule, String> {
    let why = "takes bit, bit:LO..HI (0 <= LO < HI <= 64), uniform:LO..HI (1 <= LO <= HI), \
               blockdim, griddim or a non-zero mask";
    Ok(match v {
        "bit" => MaskRule::SiteBit,
        "blockdim" => MaskRule::BlockDim,
        "griddim" => MaskRule::GridDim,
        _ => {
            if let Some(r) = v.strip_prefix("bit:") {
                match range::<u32>(r) {
                    Some((lo, hi)) if lo < hi && hi <= 64 => MaskRule::Bit { lo, hi },
                    _ => return Err(why.into()),
                }
            } else if let Some(r) = v.strip_prefix("uniform:") {
                match range::<u64>(r) {
                    Some((lo, hi)) if lo >= 1 && lo <= hi => MaskRule::Uniform { lo, hi },
                    _ => return Err(why.into()),
                }
            } else {
                match parse_num::<u64>(v) {
                    Some(m) if m != 0 => MaskRule::Fixed(m),
                    _ => return Err(why.into()),
                }
            }
        }
    })
}

fn parse_lanes(v: &str) -> Result<LaneRule, String> {
    let why = "takes all, one or subset:LO..HI (1 <= LO <= HI <= 32)";
    match v {
        "all" => Ok(LaneRule::All),
        "one" => Ok(LaneRule::One),
        _ => match v.strip_prefix("subset:").and_then(range::<u32>) {
            Some((lo, hi)) if 1 <= lo && lo <= hi && hi <= 32 => Ok(LaneRule::Subset { lo, hi }),
            _ => Err(why.into()),
        },
    }
}

impl fmt::Display for MaskRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MaskRule::SiteBit => f.write_str("bit"),
            MaskRule::Bit { lo, hi } => write!(f, "bit:{lo}..{hi}"),
            MaskRule::Uniform { lo, hi } => write!(f, "uniform:{lo}..{hi}"),
            MaskRule::BlockDim => f.write_str("blockdim"),
            MaskRule::GridDim => f.write_str("griddim"),
            MaskRule::Fixed(m) => write!(f, "{m:#x}"),
        }
    }
}

impl fmt::Display for LaneRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LaneRule::All => f.write_str("all"),
            LaneRule::One => f.write_str("one"),
            LaneRule::Subset { lo, hi } => write!(f, "subset:{lo}..{hi}"),
        }
    }
}

impl fmt::Display for WarpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WarpRule::All => "all",
            WarpRule::One => "one",
            WarpRule::Subset => "subset",
        })
    }
}

impl fmt::Display for PolRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolRule::Stuck => "stuck",
            PolRule::Fixed(Policy::Sa0) => "sa0",
            PolRule::Fixed(Policy::Sa1) => "sa1",
            PolRule::Fixed(Policy::Xor) => "xor",
        })
    }
}

impl fmt::Display for ModelRules {
    /// `mask=blockdim,pol=stuck,lanes=subset:1..31,warps=subset` (keys the model draws).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = self.mask {
            write!(f, "mask={m},")?;
        }
        if let Some(p) = self.pol {
            write!(f, "pol={p},")?;
        }
        write!(f, "lanes={},warps={}", self.lanes, self.warps)?;
        for (k, v) in &self.fixed {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
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

impl WarpRule {
    /// The warp slots of a fault in a sub-partition of `per_sp` slots with slot `slot`.
    pub(crate) fn draw(&self, rng: &mut ChaCha8Rng, per_sp: u32, slot: u32) -> u32 {
        match *self {
            WarpRule::All => u32::MAX,
            WarpRule::One => 1 << (slot / 4).min(31),
            WarpRule::Subset => subset(rng, per_sp, 1, per_sp, slot / 4),
        }
    }
}

/// The launch dimensions a `blockdim`/`griddim` mask is drawn under: the largest block
/// and grid the profiled run launched, per dimension (x, y, z).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LaunchDims {
    /// Largest block dimension per axis; 0 when unknown.
    pub block: [u32; 3],
    /// Largest grid dimension per axis; 0 when unknown.
    pub grid: [u32; 3],
}

impl LaunchDims {
    /// CUDA's limits, used where a profile recorded no launch (coverage campaigns).
    const BLOCK_LIMIT: [u32; 3] = [1024, 1024, 64];
    const GRID_LIMIT: [u32; 3] = [i32::MAX as u32, 65_535, 65_535];

    /// Widens to cover a launch of `grid` × `block`.
    pub fn cover(&mut self, grid: [u32; 3], block: [u32; 3]) {
        for k in 0..3 {
            self.block[k] = self.block[k].max(block[k]);
            self.grid[k] = self.grid[k].max(grid[k]);
        }
    }
}

/// What a model's `draw` needs beyond the site: its rules and the launch dimensions.
pub(crate) struct Draw<'a> {
    pub(crate) rules: &'a ModelRules,
    pub(crate) dims: LaunchDims,
}

impl Draw<'_> {
    /// The mask of a fault at a site of value width `width` (0: 32) that reads the
    /// dimensions `dims` (bit 0 = x).
    pub(crate) fn mask(&self, rng: &mut ChaCha8Rng, width: u32, dims: u8) -> u64 {
        let axis = (dims.trailing_zeros() as usize).min(2);
        let uniform = |rng: &mut ChaCha8Rng, lo: u64, hi: u64| {
            let n = hi - lo + 1;
            lo + ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
        };
        match self.rules.mask.unwrap_or(MaskRule::SiteBit) {
            MaskRule::SiteBit => single_bit(rng, if width == 0 { 32 } else { width }),
            MaskRule::Bit { lo, hi } => 1u64 << (lo + below(rng, hi - lo)).min(63),
            MaskRule::Uniform { lo, hi } => uniform(rng, lo, hi),
            MaskRule::BlockDim | MaskRule::GridDim => {
                let (seen, limit) = if self.rules.mask == Some(MaskRule::BlockDim) {
                    (self.dims.block, LaunchDims::BLOCK_LIMIT)
                } else {
                    (self.dims.grid, LaunchDims::GRID_LIMIT)
                };
                let max = if seen[axis] == 0 {
                    limit[axis]
                } else {
                    seen[axis]
                };
                uniform(rng, 1, u64::from(max))
            }
            MaskRule::Fixed(m) => m,
        }
    }

    /// The policy of a fault.
    pub(crate) fn pol(&self, rng: &mut ChaCha8Rng) -> Policy {
        match self.rules.pol.unwrap_or(PolRule::Stuck) {
            PolRule::Stuck => stuck(rng),
            PolRule::Fixed(p) => p,
        }
    }
}

/// The sampling rules of a campaign: a preset and overrides on top of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplingRules {
    /// The preset.
    pub preset: RulePreset,
    /// Overrides, applied in order (a later one of the same key wins).
    pub overrides: Vec<RuleOverride>,
}

impl SamplingRules {
    /// The `faithful` preset, no overrides.
    pub fn faithful() -> SamplingRules {
        SamplingRules {
            preset: RulePreset::Faithful,
            overrides: Vec::new(),
        }
    }

    /// The `v1` preset, no overrides.
    pub fn v1() -> SamplingRules {
        SamplingRules {
            preset: RulePreset::V1,
            overrides: Vec::new(),
        }
    }

    /// Whether these are exactly the `v1` rules.
    pub fn is_v1(&self) -> bool {
        *self == SamplingRules::v1()
    }

    /// The rules of `model`.
    pub fn of(&self, model: Model) -> ModelRules {
        let mut r = self.preset.rules(model);
        for o in self.overrides.iter().filter(|o| o.model == model) {
            // Overrides are checked when read; one that no longer applies is skipped.
            let _ = o.apply(&mut r, &o.to_string());
        }
        r
    }

    /// Applies the fixed parameters of `rules` to drawn parameters.
    pub(crate) fn fix(rules: &ModelRules, params: &mut Params) {
        for (k, v) in &rules.fixed {
            let _ = params.set_text(k, v);
        }
    }
}

impl Default for SamplingRules {
    /// The library's default, `v1` (what [`crate::sample`] draws).
    fn default() -> Self {
        SamplingRules::v1()
    }
}

impl fmt::Display for SamplingRules {
    /// `faithful`, or `faithful + iat.mask=uniform:1..1024, …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.preset.name())?;
        for (k, o) in self.overrides.iter().enumerate() {
            f.write_str(if k == 0 { " + " } else { ", " })?;
            write!(f, "{o}")?;
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    preset: RulePreset,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    overrides: Vec<String>,
}

impl Serialize for SamplingRules {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Stored {
            preset: self.preset,
            overrides: self.overrides.iter().map(|o| o.to_string()).collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SamplingRules {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Stored::deserialize(d)?;
        let overrides = s
            .overrides
            .iter()
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .collect::<Result<_, _>>()?;
        Ok(SamplingRules {
            preset: s.preset,
            overrides,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        text.parse::<RuleOverride>().unwrap_err().to_string()
    }

    #[test]
    fn overrides_read_and_write_back() {
        for t in [
            "iat.mask=uniform:1..1024",
            "iac.mask=griddim",
            "ims.mask=bit:0..8",
            "imd.mask=0x10",
            "wv.pol=xor",
            "iat.lanes=subset:1..4",
            "fu.warps=one",
            "imd.mode=addr",
            "imd.spaces=sl",
        ] {
            let o: RuleOverride = t.parse().unwrap();
            assert_eq!(o.to_string(), t);
        }
    }

    #[test]
    fn bad_overrides_name_the_bad_part() {
        assert_eq!(
            err("iat.mask"),
            "`iat.mask` is not MODEL.KEY=VALUE (e.g. iat.mask=uniform:1..1024)"
        );
        assert!(err("xyz.mask=bit").starts_with("unknown model `xyz` in `xyz.mask=bit`"));
        assert_eq!(
            err("iaw.lanes=one"),
            "`lanes` is not a sampling key of iaw in `iaw.lanes=one` \
             (its keys: mask, pol, warps, dim, force)"
        );
        assert_eq!(
            err("wdrop.mask=bit"),
            "`mask` is not a sampling key of wdrop in `wdrop.mask=bit` (its keys: warps)"
        );
        let e = err("iat.mask=uniform:0..4");
        assert!(
            e.starts_with("bad value `uniform:0..4` for iat.mask"),
            "{e}"
        );
        let e = err("iat.lanes=subset:3..40");
        assert!(e.contains("takes all, one or subset:LO..HI"), "{e}");
        let e = err("imd.mode=sideways");
        assert!(e.starts_with("bad value `sideways` for imd.mode"), "{e}");
        assert_eq!(
            RulePreset::parse("v2").unwrap_err().to_string(),
            "unknown sampling-rule preset `v2` (known: faithful, v1)"
        );
    }

    #[test]
    fn overrides_change_one_key_of_one_model() {
        let rules = SamplingRules {
            preset: RulePreset::V1,
            overrides: vec![
                "iat.mask=uniform:1..1024".parse().unwrap(),
                "iat.mask=blockdim".parse().unwrap(),
                "imd.mode=addr".parse().unwrap(),
            ],
        };
        assert_eq!(rules.of(Model::Iat).mask, Some(MaskRule::BlockDim));
        assert_eq!(rules.of(Model::Iaw), SamplingRules::v1().of(Model::Iaw));
        assert_eq!(
            rules.of(Model::Imd).fixed,
            vec![("mode".to_string(), "addr".to_string())]
        );
        assert_eq!(
            rules.to_string(),
            "v1 + iat.mask=uniform:1..1024, iat.mask=blockdim, imd.mode=addr"
        );
        let json = serde_json::to_string(&rules).unwrap();
        assert_eq!(serde_json::from_str::<SamplingRules>(&json).unwrap(), rules);
        assert_eq!(
            serde_json::to_string(&SamplingRules::faithful()).unwrap(),
            r#"{"preset":"faithful"}"#
        );
    }

    #[test]
    fn masks_stay_in_their_ranges() {
        let mut rng = <ChaCha8Rng as rand_core::SeedableRng>::seed_from_u64(3);
        let dims = LaunchDims {
            block: [256, 4, 1],
            grid: [40, 0, 0],
        };
        let case = |mask| ModelRules {
            mask: Some(mask),
            pol: None,
            lanes: LaneRule::All,
            warps: WarpRule::All,
            fixed: vec![],
        };
        let mut seen_high = false;
        for _ in 0..2000 {
            let r = case(MaskRule::BlockDim);
            let d = Draw { rules: &r, dims };
            let m = d.mask(&mut rng, 32, 1);
            assert!((1..=256).contains(&m), "{m}");
            seen_high |= m > 128;
            assert!((1..=4).contains(&d.mask(&mut rng, 32, 2)));
            // z was never launched wider than 1
            assert_eq!(d.mask(&mut rng, 32, 4), 1);
            let r = case(MaskRule::GridDim);
            let d = Draw { rules: &r, dims };
            assert!((1..=40).contains(&d.mask(&mut rng, 32, 1)));
            // y unknown: CUDA's limit
            assert!((1..=65_535).contains(&d.mask(&mut rng, 32, 2)));
            let r = case(MaskRule::Bit { lo: 4, hi: 8 });
            let m = Draw { rules: &r, dims }.mask(&mut rng, 32, 1);
            assert!(m.count_ones() == 1 && (16..=128).contains(&m));
            let r = case(MaskRule::Uniform {
                lo: 1,
                hi: u64::from(u32::MAX),
            });
            let m = Draw { rules: &r, dims }.mask(&mut rng, 32, 1);
            assert!(m >= 1 && m <= u64::from(u32::MAX));
        }
        assert!(seen_high);
    }
}
