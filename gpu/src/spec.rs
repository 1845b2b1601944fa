//! Device names: parsing and printing of `sim`, `sim:h100*8`, `sim:h100#3`,
//! `sim:h100#3@7`, `cuda:0`, `cuda:GPU-<uuid>` and `auto`.

use std::fmt;
use std::str::FromStr;

/// Largest virtual node (`sim:PROFILE*N`) accepted.
pub const MAX_NODE_GPUS: u32 = 1024;

/// A device name as a user writes it (`--device`), parsed.
///
/// Grammar (whitespace is not allowed):
///
/// ```text
/// spec    := "auto" | sim | cuda
/// sim     := "sim" [ ":" profile ] [ "*" count ] [ "#" index ] [ "@" seed ]
/// cuda    := "cuda" [ ":" ( ordinal | uuid ) ]        "cuda" alone is "cuda:0"
/// profile := a virtual GPU profile of the `sim` crate ("a100", "h100"; none = the small default)
/// count   := 1..=1024     the size of a virtual node: `sim:h100*8` is eight virtual GPUs
/// index   := 0..count     one GPU of a virtual node: `sim:h100#3` (or `sim:h100*8#3`)
/// seed    := 0..2^64      decimal: the GPU schedules its launches from this seed
///                         (`sim::Scheduling::Seeded`); none = the fixed scheduling
/// uuid    := "GPU-" followed by the hex digits and dashes NVIDIA prints
/// ```
///
/// `sim:h100` and `sim:h100#0` are the same virtual GPU (same UUID); a lone virtual GPU
/// is GPU 0 of a one-GPU node. The seed comes last and changes only how the GPU
/// schedules (CTA placement and order, warp interleaving), not which GPU it is:
/// `sim:h100#3@7` is GPU 3 (its UUID, telemetry and node-config entry) with scheduling
/// seed 7, and every GPU of the node `sim:h100*8@7` has seed 7. A node config can give
/// each GPU its own seed instead ([`NodeConfig`](crate::NodeConfig)); a seed in the
/// name takes precedence.
///
/// ```
/// use gpu::DeviceSpec;
/// let node: DeviceSpec = "sim:h100*4".parse().unwrap();
/// let names: Vec<String> = node.expand().iter().map(|s| s.to_string()).collect();
/// assert_eq!(names, ["sim:h100#0", "sim:h100#1", "sim:h100#2", "sim:h100#3"]);
/// assert_eq!("cuda".parse::<DeviceSpec>().unwrap().to_string(), "cuda:0");
/// let seeded: DeviceSpec = "sim:h100*8#3@7".parse().unwrap();
/// assert_eq!(seeded.to_string(), "sim:h100*8#3@7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// A CUDA device when a usable driver and GPU exist, else the default virtual GPU.
    Auto,
    /// A virtual GPU or a virtual node of them.
    Sim(SimSpec),
    /// A real GPU through the CUDA driver.
    Cuda(CudaSelector),
}

/// A virtual GPU (or node) selection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimSpec {
    /// The GPU profile (`a100`, `h100`); `None` is the small default profile.
    pub profile: Option<String>,
    /// `*N`: a node of `N` virtual GPUs.
    pub count: Option<u32>,
    /// `#I`: GPU `I` of a node.
    pub index: Option<u32>,
    /// `@S`: the scheduling seed (`None`: the fixed scheduling, or the node config's
    /// seed for this GPU).
    pub scheduling_seed: Option<u64>,
}

impl SimSpec {
    /// The position of this GPU in its node (0 for a lone virtual GPU).
    pub fn position(&self) -> u32 {
        self.index.unwrap_or(0)
    }

    /// Whether this names a whole node (`*N` without `#I`).
    pub fn is_node(&self) -> bool {
        self.count.is_some() && self.index.is_none()
    }

    /// The same GPU (or node) with scheduling seed `seed` (`None`: none named).
    pub fn with_scheduling_seed(&self, seed: Option<u64>) -> SimSpec {
        SimSpec {
            scheduling_seed: seed,
            ..self.clone()
        }
    }
}

/// Which CUDA device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CudaSelector {
    /// By CUDA ordinal (after `CUDA_VISIBLE_DEVICES`).
    Ordinal(u32),
    /// By UUID, `GPU-…` as `nvidia-smi -L` prints it.
    Uuid(String),
}

/// A device name that does not follow the grammar of [`DeviceSpec`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid device name `{spec}`: {reason}")]
pub struct SpecError {
    /// The text as given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

impl From<SpecError> for crate::GpuError {
    fn from(e: SpecError) -> Self {
        crate::GpuError::Invalid {
            detail: e.to_string(),
        }
    }
}

impl DeviceSpec {
    /// The default virtual GPU, `sim`.
    pub fn sim() -> DeviceSpec {
        DeviceSpec::Sim(SimSpec {
            profile: None,
            count: None,
            index: None,
            scheduling_seed: None,
        })
    }

    /// Whether this names a virtual node of several GPUs rather than one device.
    pub fn is_node(&self) -> bool {
        matches!(self, DeviceSpec::Sim(s) if s.is_node())
    }

    /// The single devices this name stands for: a node `sim:h100*3` gives `sim:h100#0`,
    /// `#1`, `#2`; any other name gives itself.
    pub fn expand(&self) -> Vec<DeviceSpec> {
        match self {
            DeviceSpec::Sim(s) if s.is_node() => (0..s.count.unwrap_or(1))
                .map(|i| {
                    DeviceSpec::Sim(SimSpec {
                        profile: s.profile.clone(),
                        count: None,
                        index: Some(i),
                        scheduling_seed: s.scheduling_seed,
                    })
                })
                .collect(),
            other => vec![other.clone()],
        }
    }
}

fn err(spec: &str, reason: impl Into<String>) -> SpecError {
    SpecError {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

fn parse_number<T: FromStr>(spec: &str, what: &str, text: &str) -> Result<T, SpecError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(spec, format!("{what} `{text}` is not a number")));
    }
    text.parse()
        .map_err(|_| err(spec, format!("{what} `{text}` is too large")))
}

impl FromStr for DeviceSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<DeviceSpec, SpecError> {
        if spec == "auto" {
            return Ok(DeviceSpec::Auto);
        }
        if let Some(rest) = spec.strip_prefix("cuda") {
            let sel = match rest {
                "" => CudaSelector::Ordinal(0),
                _ => {
                    let Some(sel) = rest.strip_prefix(':') else {
                        return Err(err(spec, "expected `cuda`, `cuda:N` or `cuda:GPU-<uuid>`"));
                    };
                    if let Some(hex) = sel.strip_prefix("GPU-") {
                        let digits = hex.bytes().filter(u8::is_ascii_hexdigit).count();
                        if digits != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
                        {
                            return Err(err(
                                spec,
                                "a UUID is `GPU-` and 32 hex digits with dashes, as `nvidia-smi -L` prints it",
                            ));
                        }
                        CudaSelector::Uuid(sel.to_ascii_lowercase().replacen("gpu-", "GPU-", 1))
                    } else {
                        CudaSelector::Ordinal(parse_number(spec, "CUDA ordinal", sel)?)
                    }
                }
            };
            return Ok(DeviceSpec::Cuda(sel));
        }
        let Some(mut rest) = spec.strip_prefix("sim") else {
            return Err(err(
                spec,
                "expected `auto`, `sim[:PROFILE][*N][#I][@SEED]`, `cuda:N` or `cuda:GPU-<uuid>`",
            ));
        };
        let mut scheduling_seed = None;
        if let Some(at) = rest.find('@') {
            scheduling_seed = Some(parse_number(spec, "scheduling seed", &rest[at + 1..])?);
            rest = &rest[..at];
        }
        let mut index = None;
        if let Some(at) = rest.find('#') {
            index = Some(parse_number(spec, "GPU index", &rest[at + 1..])?);
            rest = &rest[..at];
        }
        let mut count = None;
        if let Some(at) = rest.find('*') {
            let n = parse_number(spec, "node size", &rest[at + 1..])?;
            if n == 0 || n > MAX_NODE_GPUS {
                return Err(err(
                    spec,
                    format!("node size must be 1..={MAX_NODE_GPUS}, got {n}"),
                ));
            }
            count = Some(n);
            rest = &rest[..at];
        }
        if let (Some(i), Some(n)) = (index, count) {
            if i >= n {
                return Err(err(spec, format!("GPU index {i} is outside a node of {n}")));
            }
        }
        if let Some(i) = index {
            if i >= MAX_NODE_GPUS {
                return Err(err(
                    spec,
                    format!("GPU index must be below {MAX_NODE_GPUS}, got {i}"),
                ));
            }
        }
        let profile = match rest {
            "" => None,
            _ => {
                let Some(name) = rest.strip_prefix(':') else {
                    return Err(err(spec, "expected `sim` or `sim:PROFILE`"));
                };
                if !crate::sim_device::profile_names().contains(&name) {
                    return Err(err(
                        spec,
                        format!(
                            "unknown virtual GPU profile `{name}` (known: {})",
                            crate::sim_device::profile_names().join(", ")
                        ),
                    ));
                }
                Some(name.to_string())
            }
        };
        Ok(DeviceSpec::Sim(SimSpec {
            profile,
            count,
            index,
            scheduling_seed,
        }))
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cuda(CudaSelector::Ordinal(n)) => write!(f, "cuda:{n}"),
            DeviceSpec::Cuda(CudaSelector::Uuid(u)) => write!(f, "cuda:{u}"),
            DeviceSpec::Sim(s) => {
                f.write_str("sim")?;
                if let Some(p) = &s.profile {
                    write!(f, ":{p}")?;
                }
                if let Some(n) = s.count {
                    write!(f, "*{n}")?;
                }
                if let Some(i) = s.index {
                    write!(f, "#{i}")?;
                }
                if let Some(seed) = s.scheduling_seed {
                    write!(f, "@{seed}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DeviceSpec {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn round_trips_every_form() {
        for s in [
            "auto",
            "sim",
            "sim:a100",
            "sim:h100",
            "sim:h100*8",
            "sim:h100#7",
            "sim:h100*8#7",
            "sim*2",
            "sim#1",
            "sim@0",
            "sim:h100@7",
            "sim:h100#3@7",
            "sim:h100*8@7",
            "sim:h100*8#3@18446744073709551615",
            "sim:a100*2#1@42",
            "cuda:0",
            "cuda:12",
            "cuda:GPU-0123abcd-4567-89ab-cdef-0123456789ab",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
        assert_eq!(parse("cuda").to_string(), "cuda:0");
        assert_eq!(
            parse("cuda:GPU-0123ABCD-4567-89AB-CDEF-0123456789AB").to_string(),
            "cuda:GPU-0123abcd-4567-89ab-cdef-0123456789ab"
        );
    }

    #[test]
    fn node_expands_to_its_members_and_others_to_themselves() {
        let node = parse("sim:a100*3");
        assert!(node.is_node());
        let members: Vec<String> = node.expand().iter().map(|s| s.to_string()).collect();
        assert_eq!(members, ["sim:a100#0", "sim:a100#1", "sim:a100#2"]);
        let one = parse("sim:a100*3#1");
        assert!(!one.is_node());
        assert_eq!(one.expand(), vec![one.clone()]);
        assert_eq!(parse("cuda:1").expand(), vec![parse("cuda:1")]);
        let seeded: Vec<String> = parse("sim:a100*2@9")
            .expand()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(seeded, ["sim:a100#0@9", "sim:a100#1@9"]);
    }

    #[test]
    fn the_seed_is_its_own_part_of_the_name() {
        let DeviceSpec::Sim(s) = parse("sim:h100*8#3@7") else {
            unreachable!()
        };
        assert_eq!(
            (s.profile.as_deref(), s.count, s.index, s.scheduling_seed),
            (Some("h100"), Some(8), Some(3), Some(7))
        );
        let DeviceSpec::Sim(plain) = parse("sim:h100*8#3") else {
            unreachable!()
        };
        assert_eq!(plain.scheduling_seed, None);
        assert_eq!(plain.with_scheduling_seed(Some(7)), s);
        assert_eq!(s.with_scheduling_seed(None), plain);
    }

    #[test]
    fn rejects_malformed_names_with_a_reason() {
        for (s, needle) in [
            ("", "expected `auto`"),
            ("gpu0", "expected `auto`"),
            ("sim:", "unknown virtual GPU profile ``"),
            ("sim:z900", "unknown virtual GPU profile `z900`"),
            ("sim:h100*0", "node size must be"),
            ("sim:h100*2000", "node size must be"),
            ("sim:h100*8#8", "outside a node of 8"),
            ("sim:h100#x", "GPU index `x` is not a number"),
            ("sim:h100#99999999999", "too large"),
            ("sim:h100@", "scheduling seed `` is not a number"),
            ("sim:h100@x", "scheduling seed `x` is not a number"),
            ("sim:h100@-1", "scheduling seed `-1` is not a number"),
            ("sim:h100@0x7", "scheduling seed `0x7` is not a number"),
            ("sim:h100@7@8", "scheduling seed `7@8` is not a number"),
            (
                "sim:h100@18446744073709551616",
                "scheduling seed `18446744073709551616` is too large",
            ),
            ("sim:h100@7#3", "scheduling seed `7#3` is not a number"),
            ("sim:h100@7*8", "scheduling seed `7*8` is not a number"),
            ("simh100", "expected `sim` or `sim:PROFILE`"),
            ("cuda:", "CUDA ordinal `` is not a number"),
            ("cuda:-1", "not a number"),
            ("cuda0", "expected `cuda`"),
            ("cuda:GPU-1234", "32 hex digits"),
        ] {
            let e = s.parse::<DeviceSpec>().expect_err(s);
            assert_eq!(e.spec, s);
            assert!(e.to_string().contains(needle), "{s}: {e}");
        }
    }

    #[test]
    fn a_spec_error_becomes_an_invalid_request() {
        let e: crate::GpuError = "sim:nope".parse::<DeviceSpec>().unwrap_err().into();
        assert!(matches!(e, crate::GpuError::Invalid { .. }), "{e:?}");
    }
}
