//! NVML telemetry of real GPUs (nvml-wrapper, libnvidia-ml opened at run time) and the
//! XID event subscription.

use crate::device::GpuError;
use crate::info::{Clocks, Ecc, EccCounts, Pcie, RemappedRows, RetiredPages, Telemetry};
use nvml_wrapper::bitmasks::event::EventTypes;
use nvml_wrapper::enum_wrappers::device::{
    Clock, EccCounter, MemoryError, RetirementCause, TemperatureSensor,
};
use nvml_wrapper::enums::event::XidError;
use nvml_wrapper::error::{nvml_try, NvmlError};
use nvml_wrapper::struct_wrappers::device::FieldValueSample;
use nvml_wrapper::structs::device::FieldId;
use nvml_wrapper::{EventSet, Nvml};
use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The library name nvml-wrapper loads on Linux.
pub(crate) const NVML_LIBRARY: &str = "libnvidia-ml.so.1";

/// NVML, initialised once per process (it is reference-counted process state anyway).
static NVML: OnceLock<Result<Nvml, String>> = OnceLock::new();

/// The process's NVML handle, or `Unavailable` saying why there is none.
pub(crate) fn nvml() -> Result<&'static Nvml, GpuError> {
    NVML.get_or_init(|| init_at(OsStr::new(NVML_LIBRARY)).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|detail| GpuError::Unavailable {
            detail: detail.clone(),
        })
}

/// The NVML entry points nvml-wrapper calls without checking that it has them: it
/// panics when one is missing (`Nvml`'s drop calls `nvmlShutdown`, an `EventSet`'s drop
/// `nvmlEventSetFree`; `nvmlInit_v2` first of all). Every other call returns an error,
/// which telemetry records as an unavailable field.
const NVML_SYMBOLS: &[&str] = &["nvmlInit_v2", "nvmlShutdown", "nvmlEventSetFree"];

/// Initialises NVML from a given library file or name, after checking that the library
/// has [`NVML_SYMBOLS`].
fn init_at(library: &OsStr) -> Result<Nvml, GpuError> {
    // SAFETY: loading the library runs its initialisers, as nvml-wrapper's loading does
    // right after; the handle is dropped (unloaded) at the end of this block.
    if let Ok(lib) = unsafe { libloading::Library::new(library) } {
        crate::cuda::check_symbols(&lib, &library.to_string_lossy(), "NVML", NVML_SYMBOLS)?;
    }
    Nvml::builder()
        .lib_path(library)
        .init()
        .map_err(|e| GpuError::Unavailable {
            detail: match e {
                NvmlError::LibloadingError(e) => format!(
                    "NVML not found (searched {}): {e}",
                    library.to_string_lossy()
                ),
                e => format!(
                    "NVML ({}) failed to initialise: {e}",
                    library.to_string_lossy()
                ),
            },
        })
}

/// The kernel driver version (`580.159.03`).
pub(crate) fn driver_version(nvml: &Nvml) -> Option<String> {
    nvml.sys_driver_version().ok()
}

/// Stores `r`'s value, or records why `field` is unavailable.
fn take<T>(
    unavailable: &mut BTreeMap<String, String>,
    field: &str,
    r: Result<T, NvmlError>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            unavailable.insert(field.to_string(), e.to_string());
            None
        }
    }
}

/// Telemetry of the GPU with `uuid`.
pub(crate) fn telemetry(nvml: &Nvml, uuid: &str) -> Result<Telemetry, GpuError> {
    let dev = nvml
        .device_by_uuid(uuid)
        .map_err(|e| GpuError::Unavailable {
            detail: format!("NVML does not know GPU {uuid}: {e}"),
        })?;
    let mut un = BTreeMap::new();
    let ecc = (|| {
        let c = |m, k| dev.total_ecc_errors(m, k);
        Ok::<_, NvmlError>(Ecc {
            volatile: EccCounts {
                corrected: c(MemoryError::Corrected, EccCounter::Volatile)?,
                uncorrected: c(MemoryError::Uncorrected, EccCounter::Volatile)?,
            },
            aggregate: EccCounts {
                corrected: c(MemoryError::Corrected, EccCounter::Aggregate)?,
                uncorrected: c(MemoryError::Uncorrected, EccCounter::Aggregate)?,
            },
        })
    })();
    let retired = (|| {
        Ok::<_, NvmlError>(RetiredPages {
            single_bit_ecc: dev
                .retired_pages(RetirementCause::MultipleSingleBitEccErrors)?
                .len() as u64,
            double_bit_ecc: dev.retired_pages(RetirementCause::DoubleBitEccError)?.len() as u64,
            pending: dev.are_pages_pending_retired()?,
        })
    })();
    let remapped = remapped_rows(nvml, &dev);
    let throttle = dev.current_throttle_reasons().map(|r| {
        r.iter_names()
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect::<Vec<_>>()
    });
    let clocks = (|| {
        Ok::<_, NvmlError>(Clocks {
            sm_mhz: dev.clock_info(Clock::SM)?,
            memory_mhz: dev.clock_info(Clock::Memory)?,
            sm_max_mhz: dev.max_clock_info(Clock::SM)?,
            memory_max_mhz: dev.max_clock_info(Clock::Memory)?,
        })
    })();
    let pcie = (|| {
        Ok::<_, NvmlError>(Pcie {
            generation: dev.current_pcie_link_gen()?,
            max_generation: dev.max_pcie_link_gen()?,
            width: dev.current_pcie_link_width()?,
            max_width: dev.max_pcie_link_width()?,
        })
    })();
    let recovery = recovery_action(&dev);
    Ok(Telemetry {
        ecc: take(&mut un, "ecc", ecc),
        retired_pages: take(&mut un, "retired_pages", retired),
        remapped_rows: take(&mut un, "remapped_rows", remapped),
        xid_events: Vec::new(),
        throttle_reasons: take(&mut un, "throttle_reasons", throttle),
        clocks: take(&mut un, "clocks", clocks),
        temperature_c: take(
            &mut un,
            "temperature_c",
            dev.temperature(TemperatureSensor::Gpu),
        ),
        power_w: take(&mut un, "power_w", dev.power_usage()).map(|mw| f64::from(mw) / 1000.0),
        power_limit_w: take(&mut un, "power_limit_w", dev.enforced_power_limit())
            .map(|mw| f64::from(mw) / 1000.0),
        pcie: take(&mut un, "pcie", pcie),
        recovery_action: take(&mut un, "recovery_action", recovery),
        unavailable: un,
    })
}

/// `nvmlDeviceGetRemappedRows`, which nvml-wrapper has no safe wrapper for.
fn remapped_rows(nvml: &Nvml, dev: &nvml_wrapper::Device<'_>) -> Result<RemappedRows, NvmlError> {
    let f = nvml
        .lib()
        .nvmlDeviceGetRemappedRows
        .as_ref()
        .map_err(|e| NvmlError::FailedToLoadSymbol(e.to_string()))?;
    let (mut corr, mut unc, mut pending, mut failure) = (0u32, 0u32, 0u32, 0u32);
    // SAFETY: the handle is a live device of this NVML instance; the four out-pointers
    // are valid `unsigned int`s.
    let ret = unsafe {
        f(
            dev.handle(),
            &mut corr,
            &mut unc,
            &mut pending,
            &mut failure,
        )
    };
    nvml_try(ret)?;
    Ok(RemappedRows {
        correctable: corr,
        uncorrectable: unc,
        pending: pending != 0,
        failure: failure != 0,
    })
}

/// NVML's recovery action field, as a name.
fn recovery_action(dev: &nvml_wrapper::Device<'_>) -> Result<String, NvmlError> {
    use nvml_wrapper::enums::device::SampleValue;
    use nvml_wrapper::sys_exports::field_id::NVML_FI_DEV_GET_GPU_RECOVERY_ACTION;
    let mut samples = dev.field_values_for(&[FieldId(NVML_FI_DEV_GET_GPU_RECOVERY_ACTION)])?;
    let sample: FieldValueSample = samples.pop().ok_or(NvmlError::Unknown)??;
    let code = match sample.value? {
        SampleValue::U32(v) => u64::from(v),
        SampleValue::U64(v) => v,
        SampleValue::I64(v) => v as u64,
        SampleValue::F64(v) => v as u64,
    };
    Ok(recovery_action_name(code))
}

/// NVML's `nvmlDeviceGpuRecoveryAction_t` values.
fn recovery_action_name(code: u64) -> String {
    match code {
        0 => "none".into(),
        1 => "gpu_reset".into(),
        2 => "node_reboot".into(),
        3 => "drain_p2p".into(),
        4 => "drain_and_reset".into(),
        n => format!("unknown_{n}"),
    }
}

/// One XID error event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct XidEvent {
    /// The device name it concerns (`cuda:0`, `sim:h100#3`).
    pub device: String,
    /// Its UUID.
    pub uuid: String,
    /// The XID number (79 = fallen off the bus, 48 = DBE, 63/64 = row remap, …); 0 when
    /// the driver did not say.
    pub xid: u64,
}

/// A subscription to XID error events of a set of devices (NVML's
/// `CRITICAL_XID_ERROR` event set for real GPUs; the node config's `xid_events` for
/// virtual ones, delivered once, at the first poll).
///
/// Made by [`Platform::xid_watch`](crate::Platform::xid_watch).
pub struct XidWatch {
    pending: VecDeque<XidEvent>,
    nvml: Option<(EventSet<'static>, BTreeMap<String, String>)>,
}

impl XidWatch {
    pub(crate) fn new(
        virtual_events: Vec<XidEvent>,
        cuda: &[(String, String)],
    ) -> Result<XidWatch, GpuError> {
        let nvml = if cuda.is_empty() {
            None
        } else {
            let nvml = nvml()?;
            let mut set = nvml.create_event_set().map_err(|e| GpuError::Driver {
                detail: format!("cannot create an NVML event set: {e}"),
            })?;
            let mut names = BTreeMap::new();
            for (name, uuid) in cuda {
                let dev =
                    nvml.device_by_uuid(uuid.as_str())
                        .map_err(|e| GpuError::Unavailable {
                            detail: format!("NVML does not know GPU {uuid} ({name}): {e}"),
                        })?;
                set = dev
                    .register_events(EventTypes::CRITICAL_XID_ERROR, set)
                    .map_err(|e| GpuError::Driver {
                        detail: format!("cannot subscribe to XID events of {name}: {e}"),
                    })?;
                names.insert(uuid.to_ascii_lowercase(), name.clone());
            }
            Some((set, names))
        };
        Ok(XidWatch {
            pending: virtual_events.into(),
            nvml,
        })
    }

    /// Waits up to `timeout` for XID events and returns those that arrived (possibly
    /// none); events already waiting return at once.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<XidEvent>, GpuError> {
        let mut out: Vec<XidEvent> = self.pending.drain(..).collect();
        let Some((set, names)) = &self.nvml else {
            if out.is_empty() {
                std::thread::sleep(timeout);
            }
            return Ok(out);
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = if out.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            match set.wait(left.as_millis().min(u128::from(u32::MAX)) as u32) {
                Ok(data) => {
                    if !data.event_type.contains(EventTypes::CRITICAL_XID_ERROR) {
                        continue;
                    }
                    let uuid = data.device.uuid().unwrap_or_default();
                    out.push(XidEvent {
                        device: names
                            .get(&uuid.to_ascii_lowercase())
                            .cloned()
                            .unwrap_or_else(|| uuid.clone()),
                        uuid,
                        xid: match data.event_data {
                            Some(XidError::Value(v)) => v,
                            _ => 0,
                        },
                    });
                }
                Err(NvmlError::Timeout) => return Ok(out),
                Err(e) => {
                    return Err(GpuError::Driver {
                        detail: format!("waiting for XID events failed: {e}"),
                    })
                }
            }
            if Instant::now() >= deadline && !out.is_empty() {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_nvml_library_gives_unavailable_naming_it() {
        let Err(e) = init_at(OsStr::new("libnvidia-ml-gpufault-test-missing.so.1")) else {
            panic!("this library cannot exist")
        };
        let GpuError::Unavailable { detail } = e else {
            panic!("{e:?}")
        };
        assert!(
            detail.starts_with("NVML not found (searched libnvidia-ml-gpufault-test-missing.so.1)"),
            "{detail}"
        );
    }

    #[test]
    fn an_nvml_without_the_symbols_wrapper_needs_is_unavailable_naming_one() {
        // `nvmlInit_v2` succeeds, but dropping the handle would call the missing
        // `nvmlShutdown` (a panic inside nvml-wrapper).
        let lib = crate::cuda::tests::fake_library(
            "libnvidia-ml.so.1",
            "int nvmlInit_v2(void) { return 0; }\n",
        );
        let Err(GpuError::Unavailable { detail }) = init_at(lib.as_os_str()) else {
            panic!("nvmlShutdown is missing")
        };
        assert!(
            detail.starts_with(&format!(
                "{} lacks the NVML symbol `nvmlShutdown` (and 1 more",
                lib.display()
            )),
            "{detail}"
        );
        let _ = std::fs::remove_dir_all(lib.parent().unwrap());
    }

    #[test]
    fn the_process_nvml_is_either_usable_or_unavailable_never_a_panic() {
        match nvml() {
            Ok(n) => assert!(n.device_count().is_ok()),
            Err(GpuError::Unavailable { detail }) => {
                assert!(detail.contains(NVML_LIBRARY), "{detail}")
            }
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn recovery_actions_have_names() {
        let names: Vec<String> = (0..6).map(recovery_action_name).collect();
        assert_eq!(
            names,
            [
                "none",
                "gpu_reset",
                "node_reboot",
                "drain_p2p",
                "drain_and_reset",
                "unknown_5"
            ]
        );
    }

    #[test]
    fn a_virtual_only_watch_delivers_its_events_once_then_waits() {
        let ev = XidEvent {
            device: "sim:h100#3".into(),
            uuid: "GPU-x".into(),
            xid: 79,
        };
        let mut w = XidWatch::new(vec![ev.clone()], &[]).unwrap();
        assert_eq!(w.poll(Duration::from_secs(5)).unwrap(), vec![ev]);
        let t = Instant::now();
        assert!(w.poll(Duration::from_millis(30)).unwrap().is_empty());
        assert!(t.elapsed() >= Duration::from_millis(30));
    }
}
