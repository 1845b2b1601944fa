//! Identity and telemetry of a device: the records `gpufault devices --json` prints and
//! the health rules of the detector read.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the JSON layout of [`Enumeration`], [`DeviceInfo`] and [`Telemetry`].
/// Raised when a field is removed or changes meaning; new fields do not raise it.
pub const INFO_SCHEMA_VERSION: u32 = 1;

/// Whether a device is a real GPU or a virtual one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A real GPU driven through the CUDA driver API.
    Cuda,
    /// A virtual GPU (the `sim` crate's PTX emulator).
    Sim,
}

/// Identity and telemetry of one device.
///
/// JSON (one element of `devices` in `gpufault devices --json`), field by field:
///
/// | field | type | meaning |
/// |---|---|---|
/// | `device` | string | the name that selects this device: `cuda:0`, `sim:h100#3` |
/// | `kind` | `"cuda"` \| `"sim"` | real or virtual GPU |
/// | `name` | string | product name: `NVIDIA H200`, `gpufault virtual H100` |
/// | `uuid` | string | `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`; for virtual GPUs derived from profile and position, so the same on every run and machine |
/// | `pci_bus_id` | string | `DDDDDDDD:BB:DD.F`, NVML's format (virtual GPUs get distinct made-up ids) |
/// | `compute_capability` | string | `9.0` |
/// | `sm_count` | integer | streaming multiprocessors |
/// | `memory_bytes` | integer | device memory |
/// | `driver` | object \| null | [`DriverInfo`]; `null` for virtual GPUs |
/// | `fault` | string \| null | the fault a node config gives this virtual GPU (the fault spec, uninterpreted) |
/// | `fault_arrives_at` | number, absent when none | when that fault arrives (Unix time in seconds; before it the GPU is healthy); absent: there from the start |
/// | `scheduling_seed` | integer \| null | the seed a virtual GPU schedules its launches from (from its name, `sim:h100#3@7`, or the node config); `null`: the fixed scheduling, and for real GPUs |
/// | `telemetry` | object | [`Telemetry`] |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The name that selects this device (`cuda:0`, `sim:h100#3`).
    pub device: String,
    /// Real or virtual.
    pub kind: DeviceKind,
    /// Product name.
    pub name: String,
    /// `GPU-…` UUID (stable and deterministic for virtual GPUs).
    pub uuid: String,
    /// PCI bus id in NVML's `DDDDDDDD:BB:DD.F` format.
    pub pci_bus_id: String,
    /// Compute capability, `major.minor`.
    pub compute_capability: String,
    /// Number of streaming multiprocessors.
    pub sm_count: u32,
    /// Device memory in bytes.
    pub memory_bytes: u64,
    /// Driver versions (real GPUs only).
    pub driver: Option<DriverInfo>,
    /// The fault a node config marks this virtual GPU with, or the fault injected into
    /// this real GPU by instrumentation (`Platform::with_injected_fault`), if any.
    pub fault: Option<String>,
    /// When the fault arrives (Unix time in seconds; `None`: there from the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_arrives_at: Option<f64>,
    /// The scheduling seed of a virtual GPU (`None`: the fixed scheduling).
    #[serde(default)]
    pub scheduling_seed: Option<u64>,
    /// Health and operating telemetry.
    pub telemetry: Telemetry,
}

impl DeviceInfo {
    /// Resident warps per SM (warp slots): from the virtual GPU's profile, or for a real
    /// GPU from its compute capability (CUDA C Programming Guide, "Technical
    /// Specifications per Compute Capability": 64 on 7.0, 8.0 and 9.0 and later
    /// datacenter parts, 32 on 7.5, 48 on 8.6–8.9 and 12.x).
    pub fn warp_slots(&self) -> u32 {
        if self.kind == DeviceKind::Sim {
            if let Ok(crate::DeviceSpec::Sim(spec)) = self.device.parse() {
                return crate::sim_device::sim_profile(&spec).warp_slots;
            }
        }
        match self.compute_capability.as_str() {
            "7.5" => 32,
            "8.6" | "8.7" | "8.9" => 48,
            cc if cc.starts_with("12.") => 48,
            _ => 64,
        }
    }
}

/// Versions of the driver behind a real GPU.
///
/// | field | type | meaning |
/// |---|---|---|
/// | `version` | string \| null | kernel driver version (`580.159.03`), from NVML |
/// | `cuda_version` | string | CUDA version of the driver API (`13.0`) |
/// | `max_ptx_version` | string \| null | newest PTX ISA this driver loads (`9.0`), `null` when the driver is newer than this build knows |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverInfo {
    /// Kernel driver version, from NVML (`None` when NVML is unavailable).
    pub version: Option<String>,
    /// CUDA version of the driver (`cuDriverGetVersion`), `major.minor`.
    pub cuda_version: String,
    /// Newest PTX ISA version the driver JIT-compiles, `major.minor`.
    pub max_ptx_version: Option<String>,
}

/// Health and operating telemetry of a device, from NVML for real GPUs and from the
/// profile (plus node-config overrides) for virtual ones.
///
/// Every field a device could not report is `null` and named in `unavailable` with the
/// reason, so a health rule can tell "healthy" from "unknown".
///
/// | field | type | meaning |
/// |---|---|---|
/// | `ecc` | object \| null | [`Ecc`]: corrected/uncorrected error counts, volatile and aggregate |
/// | `retired_pages` | object \| null | [`RetiredPages`]: pages retired for ECC errors, and whether a retirement is pending |
/// | `remapped_rows` | object \| null | [`RemappedRows`]: row remapping (A100 and newer) |
/// | `xid_events` | array of integers | XID errors seen for this device: a virtual GPU's configured ones; for a real GPU those an [`XidWatch`](crate::XidWatch) collected, otherwise empty (a snapshot cannot see past events) |
/// | `throttle_reasons` | array of strings \| null | active clock throttle reasons (`sw_power_cap`, `hw_slowdown`, `sw_thermal_slowdown`, `hw_thermal_slowdown`, `hw_power_brake_slowdown`, `sync_boost`, `gpu_idle`, `applications_clocks_setting`, `display_clock_setting`); empty when none |
/// | `clocks` | object \| null | [`Clocks`] in MHz |
/// | `temperature_c` | integer \| null | GPU core temperature, °C |
/// | `power_w` | number \| null | power draw, W |
/// | `power_limit_w` | number \| null | enforced power limit, W |
/// | `pcie` | object \| null | [`Pcie`]: link generation and width, current and max |
/// | `recovery_action` | string \| null | NVML's recovery action: `none`, `gpu_reset`, `node_reboot`, `drain_p2p`, `drain_and_reset` |
/// | `unavailable` | object | field name → why it could not be read |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// ECC error counts.
    pub ecc: Option<Ecc>,
    /// Retired pages.
    pub retired_pages: Option<RetiredPages>,
    /// Remapped rows.
    pub remapped_rows: Option<RemappedRows>,
    /// XID errors seen for this device.
    #[serde(default)]
    pub xid_events: Vec<u64>,
    /// Active clock throttle reasons (empty: none).
    pub throttle_reasons: Option<Vec<String>>,
    /// Current and maximum clocks.
    pub clocks: Option<Clocks>,
    /// GPU temperature in °C.
    pub temperature_c: Option<u32>,
    /// Power draw in W.
    pub power_w: Option<f64>,
    /// Enforced power limit in W.
    pub power_limit_w: Option<f64>,
    /// PCIe link state.
    pub pcie: Option<Pcie>,
    /// NVML's recommended recovery action.
    pub recovery_action: Option<String>,
    /// Fields that could not be read → reason.
    #[serde(default)]
    pub unavailable: BTreeMap<String, String>,
}

/// ECC error counts (`corrected` = single-bit, `uncorrected` = double-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Ecc {
    /// Since the driver was loaded.
    pub volatile: EccCounts,
    /// Over the device's lifetime.
    pub aggregate: EccCounts,
}

/// One pair of ECC counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EccCounts {
    /// Corrected (single-bit) errors.
    pub corrected: u64,
    /// Uncorrected (double-bit, DBE) errors.
    pub uncorrected: u64,
}

/// Memory pages retired for ECC errors (pre-A100 mechanism; A100 and newer remap rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RetiredPages {
    /// Pages retired for multiple single-bit errors.
    pub single_bit_ecc: u64,
    /// Pages retired for a double-bit error.
    pub double_bit_ecc: u64,
    /// A retirement waits for the next driver reload.
    pub pending: bool,
}

/// Row remapping state (`nvmlDeviceGetRemappedRows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RemappedRows {
    /// Rows remapped for correctable errors.
    pub correctable: u32,
    /// Rows remapped for uncorrectable errors.
    pub uncorrectable: u32,
    /// A remap waits for the next GPU reset.
    pub pending: bool,
    /// A remap failed (no spare rows left).
    pub failure: bool,
}

/// Clocks in MHz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Clocks {
    /// Current SM clock.
    pub sm_mhz: u32,
    /// Current memory clock.
    pub memory_mhz: u32,
    /// Maximum SM clock.
    pub sm_max_mhz: u32,
    /// Maximum memory clock.
    pub memory_max_mhz: u32,
}

/// PCIe link state; a link below its maximum generation or width is degraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Pcie {
    /// Current link generation.
    pub generation: u32,
    /// Maximum link generation of device and system.
    pub max_generation: u32,
    /// Current link width (lanes).
    pub width: u32,
    /// Maximum link width.
    pub max_width: u32,
}

/// Everything [`enumerate`](crate::enumerate) found: the devices `auto` can see, CUDA
/// devices first, then the virtual GPU profiles.
///
/// JSON (`gpufault devices --json`):
///
/// | field | type | meaning |
/// |---|---|---|
/// | `schema_version` | integer | [`INFO_SCHEMA_VERSION`] |
/// | `devices` | array | [`DeviceInfo`] per device |
/// | `cuda_unavailable` | string \| null | why no CUDA device is listed (what was searched), `null` when CUDA works |
/// | `errors` | object | device name → error, for devices that were found but could not be inspected |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enumeration {
    /// Layout version of this record.
    pub schema_version: u32,
    /// The devices.
    pub devices: Vec<DeviceInfo>,
    /// Why no CUDA device is available, if none is.
    pub cuda_unavailable: Option<String>,
    /// Devices that were found but could not be inspected → why.
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

/// A 64-bit FNV-1a hash (stable across Rust versions and machines, unlike `std`'s hasher).
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The UUID of virtual GPU `position` of profile `profile` (`"sim"`, `"h100"`): 128 bits
/// derived from both, in NVIDIA's `GPU-8-4-4-4-12` format. The same on every run.
pub(crate) fn virtual_uuid(profile: &str, position: u32) -> String {
    let key = format!("gpufault-virtual-gpu/{profile}/{position}");
    let hi = fmix64(fnv1a(0xcbf2_9ce4_8422_2325, key.as_bytes()));
    let lo = fmix64(fnv1a(hi ^ 0x9e37_79b9_7f4a_7c15, key.as_bytes()));
    let hex = format!("{hi:016x}{lo:016x}");
    format!(
        "GPU-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A distinct PCI bus id for virtual GPU `position` of the profile with ordinal
/// `profile` (0 = `sim`): one PCI domain group per profile, bus 0x10 upwards, 240 buses
/// per domain.
pub(crate) fn virtual_pci_bus_id(profile: u32, position: u32) -> String {
    format!(
        "{:08X}:{:02X}:00.0",
        profile * 16 + position / 240,
        0x10 + position % 240
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_uuids_are_stable_distinct_and_nvidia_shaped() {
        // Pinned: a virtual GPU must keep its UUID across builds and machines
        // (quarantine ledgers key on it).
        assert_eq!(
            virtual_uuid("sim", 0),
            "GPU-b9f5b6f3-4288-70be-8989-ae8f95047ba2"
        );
        assert_eq!(
            virtual_uuid("h100", 0),
            "GPU-48793a87-8bc2-2290-87c2-1ad1800320a7"
        );
        // Neighbours differ already in the first group (what people read).
        let heads: std::collections::BTreeSet<String> = (0..64)
            .map(|i| virtual_uuid("h100", i)[..12].to_string())
            .collect();
        assert_eq!(heads.len(), 64);
        let mut seen = std::collections::BTreeSet::new();
        for profile in ["sim", "a100", "h100"] {
            for i in 0..64 {
                let u = virtual_uuid(profile, i);
                assert_eq!(u.len(), 40, "{u}");
                assert!(u.starts_with("GPU-"));
                let groups: Vec<usize> = u[4..].split('-').map(str::len).collect();
                assert_eq!(groups, [8, 4, 4, 4, 12], "{u}");
                assert!(u[4..].bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
                assert!(seen.insert(u), "duplicate UUID");
            }
        }
    }

    #[test]
    fn virtual_pci_bus_ids_are_distinct_and_nvml_shaped() {
        assert_eq!(virtual_pci_bus_id(0, 0), "00000000:10:00.0");
        assert_eq!(virtual_pci_bus_id(0, 7), "00000000:17:00.0");
        assert_eq!(virtual_pci_bus_id(0, 240), "00000001:10:00.0");
        assert_eq!(virtual_pci_bus_id(2, 3), "00000020:13:00.0");
        let ids: std::collections::BTreeSet<String> = (0..3)
            .flat_map(|p| (0..crate::MAX_NODE_GPUS).map(move |i| virtual_pci_bus_id(p, i)))
            .collect();
        assert_eq!(ids.len(), 3 * crate::MAX_NODE_GPUS as usize);
    }

    #[test]
    fn telemetry_json_rejects_unknown_fields() {
        let e = serde_json::from_str::<Telemetry>(r#"{"remaped_rows": null}"#).unwrap_err();
        assert!(e.to_string().contains("remaped_rows"), "{e}");
    }
}
