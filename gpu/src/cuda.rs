//! Real GPUs through the CUDA driver API (cudarc's `result`/`sys` layers, with libcuda
//! opened at run time).
//!
//! Nothing here calls into libcuda before [`probe`] has checked that it can be loaded
//! and has every symbol we call ([`CUDA_SYMBOLS`]): cudarc panics on a missing library or
//! symbol, we return [`GpuError::Unavailable`] naming what was searched or which symbol
//! the library lacks.

use crate::device::{
    Buffer, Device, GpuError, HangKind, KernelArg, LaunchConfig, LaunchStats, Limits, ModuleHandle,
};
use cudarc::driver::result::{self, DriverError};
use cudarc::driver::sys::{self, CUresult};
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Runs driver code, turning a cudarc panic (a missing library or symbol) into
/// `Unavailable`.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, GpuError>) -> Result<T, GpuError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(GpuError::Unavailable {
                detail: format!("CUDA driver failed during {what}: {msg}"),
            })
        }
    }
}

/// The library names cudarc tries for libcuda, in order.
pub(crate) fn libcuda_candidates() -> Vec<String> {
    let mut names = cudarc::get_lib_name_candidates("cuda");
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Every libcuda entry point this module reaches through cudarc. cudarc resolves each
/// one on its first call and panics when the library lacks it (a stub or a broken
/// install), so [`probe`] checks them all before the first call. A test keeps this list
/// in step with the calls in this file.
pub(crate) const CUDA_SYMBOLS: &[&str] = &[
    "cuInit",
    "cuDriverGetVersion",
    "cuGetErrorString",
    "cuDeviceGetCount",
    "cuDeviceGet",
    "cuDeviceGetAttribute",
    "cuDeviceGetName",
    "cuDeviceGetUuid",
    "cuDeviceGetPCIBusId",
    "cuDeviceTotalMem_v2",
    "cuDevicePrimaryCtxRetain",
    "cuDevicePrimaryCtxRelease_v2",
    "cuCtxSetCurrent",
    "cuEventCreate",
    "cuEventRecord",
    "cuEventQuery",
    "cuEventDestroy_v2",
    "cuModuleLoadDataEx",
    "cuModuleGetFunction",
    "cuModuleGetGlobal_v2",
    "cuModuleUnload",
    "cuFuncSetAttribute",
    "cuLaunchKernel",
    "cuMemAlloc_v2",
    "cuMemFree_v2",
    "cuMemsetD8_v2",
    "cuMemcpyHtoD_v2",
    "cuMemcpyDtoH_v2",
];

/// Opens the first of `candidates` that loads (the one cudarc opens too: it tries the
/// same names in the same order) and checks that it has every symbol of
/// [`CUDA_SYMBOLS`].
fn check_libcuda(candidates: &[String]) -> Result<(), GpuError> {
    let found = candidates.iter().find_map(|name| {
        // SAFETY: loading a library runs its initialisers; libcuda's are what every CUDA
        // program runs. The handle is dropped (unloaded) right away.
        unsafe { libloading::Library::new(name) }
            .ok()
            .map(|lib| (name, lib))
    });
    let Some((name, lib)) = found else {
        return Err(GpuError::Unavailable {
            detail: format!(
                "libcuda not found (searched {}); no NVIDIA driver is installed or it is not on the library path",
                candidates.join(", ")
            ),
        });
    };
    check_symbols(&lib, name, "CUDA driver", CUDA_SYMBOLS)
}

/// `Unavailable`, naming the library and the first missing symbol, unless `lib` (opened
/// as `name`) has every one of `symbols` (those of `api`: "CUDA driver", "NVML").
pub(crate) fn check_symbols(
    lib: &libloading::Library,
    name: &str,
    api: &str,
    symbols: &[&str],
) -> Result<(), GpuError> {
    let missing: Vec<&str> = symbols
        .iter()
        .copied()
        // SAFETY: only looks the symbol up; the pointer is never called or read.
        .filter(|s| unsafe { lib.get::<*const std::ffi::c_void>(s.as_bytes()) }.is_err())
        .collect();
    let Some(first) = missing.first() else {
        return Ok(());
    };
    let more = match missing.len() - 1 {
        0 => String::new(),
        n => format!(" (and {n} more of the {} gpufault calls)", symbols.len()),
    };
    Err(GpuError::Unavailable {
        detail: format!(
            "{name} lacks the {api} symbol `{first}`{more}: not a usable NVIDIA driver library (a stub, or an incomplete or mismatched install on the library path)"
        ),
    })
}

/// Checks that libcuda can be loaded and initialised and has a device.
pub(crate) fn probe() -> Result<(), GpuError> {
    probe_with(&libcuda_candidates())
}

fn probe_with(candidates: &[String]) -> Result<(), GpuError> {
    let usable = check_libcuda(candidates);
    if candidates == libcuda_candidates().as_slice() {
        let _ = LIBCUDA_LOADABLE.set(usable.is_ok());
    }
    usable?;
    guarded("initialisation", || {
        result::init().map_err(|e| GpuError::Unavailable {
            detail: format!("cuInit failed: {}", describe(e)),
        })?;
        let n = result::device::get_count().map_err(|e| GpuError::Unavailable {
            detail: format!("cuDeviceGetCount failed: {}", describe(e)),
        })?;
        if n == 0 {
            return Err(GpuError::Unavailable {
                detail: "the CUDA driver reports no device".into(),
            });
        }
        Ok(())
    })
}

/// Whether libcuda was found, with every symbol we call, by [`probe`] (only then may the
/// driver be asked anything).
static LIBCUDA_LOADABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// `CUDA_ERROR_NAME (code): the driver's description` (the name alone when libcuda
/// was never found).
fn describe(e: DriverError) -> String {
    let text = match LIBCUDA_LOADABLE.get() {
        Some(true) => e
            .error_string()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    };
    if text.is_empty() {
        format!("{:?} ({})", e.0, e.0 as i32)
    } else {
        format!("{:?} ({}): {text}", e.0, e.0 as i32)
    }
}

/// Whether a driver error leaves the context unusable (a "sticky" error: the process
/// must exit before the device can be used again).
fn is_sticky(code: CUresult) -> bool {
    use CUresult::*;
    matches!(
        code,
        CUDA_ERROR_ILLEGAL_ADDRESS
            | CUDA_ERROR_LAUNCH_TIMEOUT
            | CUDA_ERROR_ASSERT
            | CUDA_ERROR_HARDWARE_STACK_ERROR
            | CUDA_ERROR_ILLEGAL_INSTRUCTION
            | CUDA_ERROR_MISALIGNED_ADDRESS
            | CUDA_ERROR_INVALID_ADDRESS_SPACE
            | CUDA_ERROR_INVALID_PC
            | CUDA_ERROR_LAUNCH_FAILED
            | CUDA_ERROR_ECC_UNCORRECTABLE
            | CUDA_ERROR_CONTEXT_IS_DESTROYED
    )
}

/// Maps a driver error to the device error of the campaign outcome it stands for.
/// `during` says what was being done, for the message.
pub(crate) fn map_error(code: CUresult, during: &str) -> GpuError {
    use CUresult::*;
    let detail = format!("{during}: {}", describe(DriverError(code)));
    match code {
        CUDA_ERROR_ILLEGAL_ADDRESS | CUDA_ERROR_INVALID_ADDRESS_SPACE => {
            GpuError::IllegalAddress { detail }
        }
        CUDA_ERROR_MISALIGNED_ADDRESS => GpuError::MisalignedAddress { detail },
        CUDA_ERROR_ILLEGAL_INSTRUCTION | CUDA_ERROR_INVALID_PC => {
            GpuError::IllegalInstruction { detail }
        }
        // A device-side assert ends in a trap; a bare `trap` instruction is reported as
        // CUDA_ERROR_LAUNCH_FAILED by current drivers (mapped below).
        CUDA_ERROR_ASSERT => GpuError::Trap { detail },
        CUDA_ERROR_LAUNCH_FAILED
        | CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
        | CUDA_ERROR_HARDWARE_STACK_ERROR
        | CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE
        | CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING => GpuError::LaunchFailed { detail },
        CUDA_ERROR_LAUNCH_TIMEOUT => GpuError::Hang {
            kind: HangKind::Deadline,
            detail,
        },
        CUDA_ERROR_OUT_OF_MEMORY => GpuError::OutOfMemory { bytes: 0 },
        CUDA_ERROR_UNSUPPORTED_PTX_VERSION => GpuError::UnsupportedPtxVersion {
            ptx_version: "(see module)".into(),
            driver_max: detail,
        },
        CUDA_ERROR_INVALID_PTX
        | CUDA_ERROR_INVALID_IMAGE
        | CUDA_ERROR_NO_BINARY_FOR_GPU
        | CUDA_ERROR_JIT_COMPILER_NOT_FOUND
        | CUDA_ERROR_JIT_COMPILATION_DISABLED => GpuError::ModuleLoad { detail },
        CUDA_ERROR_NOT_FOUND | CUDA_ERROR_INVALID_VALUE | CUDA_ERROR_INVALID_HANDLE => {
            GpuError::Invalid { detail }
        }
        CUDA_ERROR_NO_DEVICE
        | CUDA_ERROR_INVALID_DEVICE
        | CUDA_ERROR_NOT_INITIALIZED
        | CUDA_ERROR_DEINITIALIZED
        | CUDA_ERROR_STUB_LIBRARY
        | CUDA_ERROR_SYSTEM_DRIVER_MISMATCH
        | CUDA_ERROR_DEVICE_UNAVAILABLE => GpuError::Unavailable { detail },
        _ => GpuError::Driver { detail },
    }
}

/// The CUDA version of the installed driver as `cuDriverGetVersion` reports it
/// (13.0 is `13000`).
pub(crate) fn driver_version() -> Result<i32, GpuError> {
    probe()?;
    guarded("cuDriverGetVersion", || {
        let mut v = 0;
        // SAFETY: `v` is a valid out-pointer.
        unsafe { sys::cuDriverGetVersion(&mut v) }
            .result()
            .map_err(|e| map_error(e.0, "cuDriverGetVersion"))?;
        Ok(v)
    })
}

/// `13000` → `"13.0"`.
pub(crate) fn cuda_version_string(v: i32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

/// The newest PTX ISA version a driver of CUDA version `v` (`cuDriverGetVersion`) loads,
/// from NVIDIA's PTX release history. `None` for a driver newer than this table (it then
/// decides itself) or older than CUDA 11.
pub(crate) fn max_ptx_for_driver(v: i32) -> Option<(u32, u32)> {
    let (major, minor) = (v / 1000, (v % 1000) / 10);
    let minor = minor as u32;
    match major {
        11 if minor <= 8 => Some((7, minor)),
        12 => match minor {
            0..=5 => Some((8, minor)),
            6 => Some((8, 5)),
            7 => Some((8, 6)),
            8 => Some((8, 7)),
            _ => Some((8, 8)),
        },
        13 if minor <= 5 => Some((9, minor)),
        _ => None,
    }
}

/// The `.version` directive of a PTX module: its first directive, after comments.
pub(crate) fn ptx_version(ptx: &str) -> Option<(u32, u32)> {
    let mut rest = ptx.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.split_once('\n').map_or("", |x| x.1).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/")?.1.trim_start();
        } else {
            break;
        }
    }
    let line = rest.strip_prefix(".version")?.lines().next()?;
    let line = line.split("//").next()?.trim();
    let (a, b) = line.split_once('.')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Fails with a clear message when `ptx` needs a newer driver than CUDA version `driver`.
pub(crate) fn check_ptx_version(ptx: &str, driver: i32) -> Result<(), GpuError> {
    let Some((maj, min)) = ptx_version(ptx) else {
        return Err(GpuError::ModuleLoad {
            detail: "the module has no `.version` directive at its start".into(),
        });
    };
    if let Some((dmaj, dmin)) = max_ptx_for_driver(driver) {
        if (maj, min) > (dmaj, dmin) {
            return Err(GpuError::UnsupportedPtxVersion {
                ptx_version: format!("{maj}.{min}"),
                driver_max: format!(
                    "{dmaj}.{dmin} (driver CUDA {}); regenerate the PTX for an older ISA or update the driver",
                    cuda_version_string(driver)
                ),
            });
        }
    }
    Ok(())
}

/// Identity of one CUDA device as the driver API reports it.
#[derive(Debug, Clone)]
pub(crate) struct CudaIdentity {
    pub ordinal: u32,
    pub name: String,
    pub uuid: String,
    pub pci_bus_id: String,
    pub compute_capability: (i32, i32),
    pub sm_count: u32,
    pub memory_bytes: u64,
}

fn format_uuid(bytes: &[std::ffi::c_char; 16]) -> String {
    let b: Vec<u8> = bytes.iter().map(|&c| c as u8).collect();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `0000:3b:00.0` (CUDA) → `00000000:3B:00.0` (NVML).
fn normalize_bus_id(id: &str) -> String {
    match id.split_once(':') {
        Some((domain, rest)) => match u32::from_str_radix(domain, 16) {
            Ok(d) => format!("{d:08X}:{}", rest.to_ascii_uppercase()),
            Err(_) => id.to_ascii_uppercase(),
        },
        None => id.to_ascii_uppercase(),
    }
}

fn attribute(dev: sys::CUdevice, attr: sys::CUdevice_attribute) -> Result<i32, GpuError> {
    // SAFETY: `dev` came from `cuDeviceGet`.
    unsafe { result::device::get_attribute(dev, attr) }
        .map_err(|e| map_error(e.0, "cuDeviceGetAttribute"))
}

fn identity(ordinal: u32) -> Result<(sys::CUdevice, CudaIdentity), GpuError> {
    let dev = result::device::get(ordinal as i32)
        .map_err(|e| map_error(e.0, &format!("cuDeviceGet({ordinal})")))?;
    let name = result::device::get_name(dev).map_err(|e| map_error(e.0, "cuDeviceGetName"))?;
    let uuid = result::device::get_uuid(dev).map_err(|e| map_error(e.0, "cuDeviceGetUuid"))?;
    let mut bus = [0 as std::ffi::c_char; 32];
    // SAFETY: the buffer is writable for its stated length.
    unsafe { sys::cuDeviceGetPCIBusId(bus.as_mut_ptr(), bus.len() as i32, dev) }
        .result()
        .map_err(|e| map_error(e.0, "cuDeviceGetPCIBusId"))?;
    // SAFETY: the driver NUL-terminates within the buffer.
    let bus = unsafe { std::ffi::CStr::from_ptr(bus.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    use sys::CUdevice_attribute::*;
    let major = attribute(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
    let minor = attribute(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
    let sms = attribute(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?;
    // SAFETY: `dev` came from `cuDeviceGet`.
    let mem = unsafe { result::device::total_mem(dev) }
        .map_err(|e| map_error(e.0, "cuDeviceTotalMem"))?;
    Ok((
        dev,
        CudaIdentity {
            ordinal,
            name,
            uuid: format_uuid(&uuid.bytes),
            pci_bus_id: normalize_bus_id(&bus),
            compute_capability: (major, minor),
            sm_count: sms.max(0) as u32,
            memory_bytes: mem as u64,
        },
    ))
}

/// Every CUDA device the driver shows, in ordinal order.
pub(crate) fn list_devices() -> Result<Vec<CudaIdentity>, GpuError> {
    probe()?;
    guarded("device enumeration", || {
        let n = result::device::get_count().map_err(|e| map_error(e.0, "cuDeviceGetCount"))?;
        (0..n.max(0) as u32)
            .map(|i| identity(i).map(|x| x.1))
            .collect()
    })
}

/// The ordinal of the device a selector names.
pub(crate) fn resolve(sel: &crate::spec::CudaSelector) -> Result<CudaIdentity, GpuError> {
    let devices = list_devices()?;
    let found = match sel {
        crate::spec::CudaSelector::Ordinal(n) => devices.iter().find(|d| d.ordinal == *n),
        crate::spec::CudaSelector::Uuid(u) => {
            devices.iter().find(|d| d.uuid.eq_ignore_ascii_case(u))
        }
    };
    found.cloned().ok_or_else(|| GpuError::Unavailable {
        detail: format!(
            "no CUDA device {} (the driver shows {}: {})",
            match sel {
                crate::spec::CudaSelector::Ordinal(n) => format!("with ordinal {n}"),
                crate::spec::CudaSelector::Uuid(u) => format!("with UUID {u}"),
            },
            devices.len(),
            devices
                .iter()
                .map(|d| format!("cuda:{} {}", d.ordinal, d.uuid))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

struct CudaModule {
    module: sys::CUmodule,
    functions: HashMap<String, sys::CUfunction>,
}

/// A real GPU through the CUDA driver API: one primary context, modules JIT-compiled
/// from PTX, synchronous launches polled against [`Limits::wall`].
///
/// A kernel fault (illegal address, trap, …) or a hang leaves the CUDA context unusable
/// ([`Device::poisoned`]); run such kernels through a [`WorkerDevice`](crate::WorkerDevice),
/// which replaces its process. [`Limits::instructions`] does not apply to real GPUs.
pub struct CudaDevice {
    name: String,
    identity: CudaIdentity,
    dev: sys::CUdevice,
    ctx: sys::CUcontext,
    event: sys::CUevent,
    driver: i32,
    modules: Vec<CudaModule>,
    allocations: BTreeMap<u64, usize>,
    limits: Limits,
    /// Set after a sticky error or a hang: why the context is unusable.
    poisoned: Option<String>,
}

// SAFETY: the raw handles belong to the primary context, which every method makes
// current on the calling thread before use; `&mut self` serialises all use.
unsafe impl Send for CudaDevice {}

impl CudaDevice {
    /// Opens the CUDA device a selector names (`cuda:0`, `cuda:GPU-…`).
    pub fn open(sel: &crate::spec::CudaSelector) -> Result<CudaDevice, GpuError> {
        let id = resolve(sel)?;
        let driver = driver_version()?;
        guarded("context creation", || {
            let (dev, identity) = identity(id.ordinal)?;
            // SAFETY: `dev` came from `cuDeviceGet`.
            let ctx = unsafe { result::primary_ctx::retain(dev) }
                .map_err(|e| map_error(e.0, "cuDevicePrimaryCtxRetain"))?;
            // SAFETY: `ctx` is the live primary context just retained.
            unsafe { result::ctx::set_current(ctx) }
                .map_err(|e| map_error(e.0, "cuCtxSetCurrent"))?;
            let event = result::event::create(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING)
                .map_err(|e| map_error(e.0, "cuEventCreate"))?;
            Ok(CudaDevice {
                name: format!("cuda:{}", identity.ordinal),
                identity,
                dev,
                ctx,
                event,
                driver,
                modules: Vec::new(),
                allocations: BTreeMap::new(),
                limits: Limits::default(),
                poisoned: None,
            })
        })
    }

    /// The device's UUID (`GPU-…`).
    pub fn uuid(&self) -> &str {
        &self.identity.uuid
    }

    /// The CUDA version of the driver, e.g. `13000` for 13.0.
    pub fn driver_version(&self) -> i32 {
        self.driver
    }

    fn enter(&self) -> Result<(), GpuError> {
        if let Some(why) = &self.poisoned {
            return Err(GpuError::Driver {
                detail: format!(
                    "the CUDA context of {} is unusable after {why}; open the device again in a new process (a worker)",
                    self.name
                ),
            });
        }
        // SAFETY: `ctx` is the retained primary context of this device.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(|e| map_error(e.0, "cuCtxSetCurrent"))
    }

    /// Maps an error and remembers a sticky one.
    fn fail(&mut self, code: CUresult, during: &str) -> GpuError {
        let e = map_error(code, during);
        if is_sticky(code) {
            self.poisoned = Some(e.to_string());
        }
        e
    }

    fn module(&mut self, m: ModuleHandle) -> Result<&mut CudaModule, GpuError> {
        let name = self.name.clone();
        self.modules
            .get_mut(m.0 as usize)
            .ok_or_else(|| GpuError::Invalid {
                detail: format!("no module {} on {name}", m.0),
            })
    }

    fn function(&mut self, m: ModuleHandle, kernel: &str) -> Result<sys::CUfunction, GpuError> {
        let module = self.module(m)?;
        if let Some(f) = module.functions.get(kernel) {
            return Ok(*f);
        }
        let cname = CString::new(kernel).map_err(|_| GpuError::Invalid {
            detail: format!("kernel name {kernel:?} contains a NUL byte"),
        })?;
        // SAFETY: the module is loaded and not unloaded while `self` lives.
        let f = unsafe { result::module::get_function(module.module, cname) }.map_err(|e| {
            GpuError::Invalid {
                detail: format!("no kernel `{kernel}` in module {}: {}", m.0, describe(e)),
            }
        })?;
        module.functions.insert(kernel.to_string(), f);
        Ok(f)
    }

    fn global(&mut self, m: ModuleHandle, name: &str) -> Result<(u64, usize), GpuError> {
        let module = self.module(m)?.module;
        let cname = CString::new(name).map_err(|_| GpuError::Invalid {
            detail: format!("global name {name:?} contains a NUL byte"),
        })?;
        // SAFETY: the module is loaded.
        unsafe { result::module::get_global(module, cname) }.map_err(|e| GpuError::Invalid {
            detail: format!("no global `{name}` in module {}: {}", m.0, describe(e)),
        })
    }

    fn check_range(&self, buf: Buffer, len: usize, what: &str) -> Result<(), GpuError> {
        let inside =
            self.allocations
                .range(..=buf.ptr)
                .next_back()
                .is_some_and(|(&start, &size)| {
                    buf.ptr - start + (len as u64) <= size as u64 && len <= buf.len
                });
        if inside {
            Ok(())
        } else {
            Err(GpuError::Invalid {
                detail: format!(
                    "{what} of {len} bytes at {:#x} (buffer of {} bytes) is outside every allocation on {}",
                    buf.ptr, buf.len, self.name
                ),
            })
        }
    }
}

impl Device for CudaDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError> {
        check_ptx_version(ptx, self.driver)?;
        self.enter()?;
        let image = CString::new(ptx).map_err(|_| GpuError::ModuleLoad {
            detail: "the PTX text contains a NUL byte".into(),
        })?;
        let mut log = vec![0u8; 16 * 1024];
        let mut options = [
            sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER,
            sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        ];
        let mut values = [log.as_mut_ptr() as *mut c_void, log.len() as *mut c_void];
        let mut module = std::ptr::null_mut();
        // SAFETY: `image` is NUL-terminated PTX; the option arrays have equal lengths and
        // the log buffer outlives the call.
        let r = unsafe {
            sys::cuModuleLoadDataEx(
                &mut module,
                image.as_ptr() as *const c_void,
                options.len() as u32,
                options.as_mut_ptr(),
                values.as_mut_ptr(),
            )
        };
        if r != CUresult::CUDA_SUCCESS {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let jit = String::from_utf8_lossy(&log[..end]).trim().to_string();
            let mut e = self.fail(r, &format!("loading a module on {}", self.name));
            if !jit.is_empty() {
                if let GpuError::ModuleLoad { detail } = &mut e {
                    detail.push_str(&format!("; JIT log: {jit}"));
                }
            }
            return Err(e);
        }
        self.modules.push(CudaModule {
            module,
            functions: HashMap::new(),
        });
        Ok(ModuleHandle(self.modules.len() as u32 - 1))
    }

    fn alloc(&mut self, len: usize) -> Result<Buffer, GpuError> {
        self.enter()?;
        let len = len.max(1);
        // SAFETY: the context is current.
        let ptr = match unsafe { result::malloc_sync(len) } {
            Ok(p) => p,
            Err(DriverError(CUresult::CUDA_ERROR_OUT_OF_MEMORY)) => {
                return Err(GpuError::OutOfMemory { bytes: len })
            }
            Err(e) => return Err(self.fail(e.0, "cuMemAlloc")),
        };
        // SAFETY: `ptr` is a fresh allocation of `len` bytes.
        if let Err(e) = unsafe { result::memset_d8_sync(ptr, 0, len) } {
            return Err(self.fail(e.0, "cuMemsetD8"));
        }
        self.allocations.insert(ptr, len);
        Ok(Buffer { ptr, len })
    }

    fn free(&mut self, buf: Buffer) -> Result<(), GpuError> {
        self.enter()?;
        if self.allocations.remove(&buf.ptr).is_none() {
            return Err(GpuError::Invalid {
                detail: format!("{:#x} is not an allocation on {}", buf.ptr, self.name),
            });
        }
        // SAFETY: the pointer is a live allocation of this context, freed once.
        unsafe { result::free_sync(buf.ptr) }.map_err(|e| self.fail(e.0, "cuMemFree"))
    }

    fn write(&mut self, buf: Buffer, data: &[u8]) -> Result<(), GpuError> {
        self.enter()?;
        self.check_range(buf, data.len(), "write")?;
        // SAFETY: the destination range lies inside a live allocation (checked above).
        unsafe { result::memcpy_htod_sync(buf.ptr, data) }
            .map_err(|e| self.fail(e.0, "cuMemcpyHtoD"))
    }

    fn read(&mut self, buf: Buffer, out: &mut [u8]) -> Result<(), GpuError> {
        self.enter()?;
        self.check_range(buf, out.len(), "read")?;
        // SAFETY: the source range lies inside a live allocation (checked above).
        unsafe { result::memcpy_dtoh_sync(out, buf.ptr) }
            .map_err(|e| self.fail(e.0, "cuMemcpyDtoH"))
    }

    fn write_global(&mut self, m: ModuleHandle, name: &str, data: &[u8]) -> Result<(), GpuError> {
        self.enter()?;
        let (ptr, size) = self.global(m, name)?;
        if data.len() > size {
            return Err(GpuError::Invalid {
                detail: format!(
                    "global `{name}` has {size} bytes, {} were written",
                    data.len()
                ),
            });
        }
        // SAFETY: the range lies inside the global (checked above).
        unsafe { result::memcpy_htod_sync(ptr, data) }
            .map_err(|e| self.fail(e.0, "cuMemcpyHtoD (global)"))
    }

    fn read_global(&mut self, m: ModuleHandle, name: &str, out: &mut [u8]) -> Result<(), GpuError> {
        self.enter()?;
        let (ptr, size) = self.global(m, name)?;
        if out.len() > size {
            return Err(GpuError::Invalid {
                detail: format!("global `{name}` has {size} bytes, {} were read", out.len()),
            });
        }
        // SAFETY: the range lies inside the global (checked above).
        unsafe { result::memcpy_dtoh_sync(out, ptr) }
            .map_err(|e| self.fail(e.0, "cuMemcpyDtoH (global)"))
    }

    fn launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError> {
        self.enter()?;
        let f = self.function(m, kernel)?;
        if cfg.shared_bytes > 48 * 1024 {
            // SAFETY: `f` is a function of a loaded module.
            unsafe {
                result::function::set_function_attribute(
                    f,
                    sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    cfg.shared_bytes as i32,
                )
            }
            .map_err(|e| map_error(e.0, "setting the dynamic shared memory size"))?;
        }
        // Each scalar in its own 8-byte slot; the driver copies as many bytes as the
        // parameter has from the slot's start (little-endian). An aggregate's bytes are
        // passed where they are.
        let mut slots: Vec<u64> = args
            .iter()
            .map(|a| match *a {
                KernelArg::U8(v) => u64::from(v),
                KernelArg::U16(v) => u64::from(v),
                KernelArg::U32(v) => u64::from(v),
                KernelArg::U64(v) => v,
                KernelArg::I32(v) => u64::from(v as u32),
                KernelArg::I64(v) => v as u64,
                KernelArg::F32(v) => u64::from(v.to_bits()),
                KernelArg::F64(v) => v.to_bits(),
                KernelArg::Ptr(p) => p,
                KernelArg::Bytes(_) => 0,
            })
            .collect();
        let mut params: Vec<*mut c_void> = slots
            .iter_mut()
            .zip(args)
            .map(|(s, a)| match a {
                // The driver only reads through parameter pointers.
                KernelArg::Bytes(b) => b.as_ptr() as *mut c_void,
                _ => s as *mut u64 as *mut c_void,
            })
            .collect();
        let start = Instant::now();
        let during = format!("launch of `{kernel}` on {}", self.name);
        // SAFETY: `f` belongs to a loaded module; `params` points to one live slot (or
        // the aggregate's bytes, borrowed from `args`) per kernel parameter, read by the
        // driver during this call.
        unsafe {
            result::launch_kernel(
                f,
                (cfg.grid[0], cfg.grid[1], cfg.grid[2]),
                (cfg.block[0], cfg.block[1], cfg.block[2]),
                cfg.shared_bytes,
                result::stream::null(),
                &mut params,
            )
        }
        .map_err(|e| match e.0 {
            // Bad geometry or arguments are reported at launch, before the kernel runs.
            CUresult::CUDA_ERROR_INVALID_VALUE => GpuError::LaunchFailed {
                detail: format!("{during}: {}", describe(e)),
            },
            code => self.fail(code, &during),
        })?;
        // SAFETY: the event was created in this context.
        unsafe { result::event::record(self.event, result::stream::null()) }
            .map_err(|e| self.fail(e.0, &during))?;
        let deadline = self.limits.wall.map(|w| start + w);
        let mut nap = Duration::from_micros(20);
        loop {
            // SAFETY: the event was recorded above.
            match unsafe { result::event::query(self.event) } {
                Ok(()) => break,
                Err(DriverError(CUresult::CUDA_ERROR_NOT_READY)) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        let detail = format!(
                            "{during} did not finish within {:?}",
                            self.limits.wall.unwrap_or_default()
                        );
                        self.poisoned = Some(format!("a hang ({detail})"));
                        return Err(GpuError::Hang {
                            kind: HangKind::Deadline,
                            detail,
                        });
                    }
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(2));
                }
                Err(e) => return Err(self.fail(e.0, &during)),
            }
        }
        Ok(LaunchStats {
            instructions: None,
            elapsed: start.elapsed(),
        })
    }

    fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    fn poisoned(&self) -> bool {
        self.poisoned.is_some()
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        if self.poisoned.is_some() {
            // A hung or faulted context cannot be torn down cleanly; the process exit
            // releases it.
            return;
        }
        // SAFETY: every handle below belongs to this context and is released once.
        unsafe {
            if result::ctx::set_current(self.ctx).is_err() {
                return;
            }
            for &ptr in self.allocations.keys() {
                let _ = result::free_sync(ptr);
            }
            for m in &self.modules {
                let _ = result::module::unload(m.module);
            }
            let _ = result::event::destroy(self.event);
            let _ = result::primary_ctx::release(self.dev);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Compiles `c_source` with `cc` into the shared library `name` in a fresh
    /// directory: a stand-in for a broken driver library.
    pub(crate) fn fake_library(name: &str, c_source: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "gpufault-fake-{}-{}",
            std::process::id(),
            name.replace('.', "_")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (src, lib) = (dir.join("lib.c"), dir.join(name));
        std::fs::write(&src, c_source).unwrap();
        let status = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(&src)
            .status()
            .expect("cc (gcc or clang) builds the fake driver library");
        assert!(status.success(), "cc failed on {}", src.display());
        lib
    }

    /// C functions named `symbols`, each returning 999 (the signatures do not matter:
    /// they are looked up, never called).
    fn c_functions(symbols: &[&str]) -> String {
        symbols
            .iter()
            .map(|s| format!("int {s}(void) {{ return 999; }}\n"))
            .collect()
    }

    #[test]
    fn a_libcuda_without_our_symbols_is_unavailable_naming_the_first_missing() {
        let empty = fake_library("libcuda.so.1", "");
        let path = empty.display().to_string();
        let Err(GpuError::Unavailable { detail }) = probe_with(std::slice::from_ref(&path)) else {
            panic!("an empty library is no driver")
        };
        assert!(
            detail.starts_with(&format!(
                "{path} lacks the CUDA driver symbol `cuInit` (and {} more",
                CUDA_SYMBOLS.len() - 1
            )),
            "{detail}"
        );
        // one missing: named, and nothing else
        let all_but_launch: Vec<&str> = CUDA_SYMBOLS
            .iter()
            .copied()
            .filter(|s| *s != "cuLaunchKernel")
            .collect();
        let partial = fake_library("libcuda-partial.so", &c_functions(&all_but_launch));
        let Err(GpuError::Unavailable { detail }) = check_libcuda(&[partial.display().to_string()])
        else {
            panic!("cuLaunchKernel is missing")
        };
        assert!(
            detail.contains("lacks the CUDA driver symbol `cuLaunchKernel`: not a usable"),
            "{detail}"
        );
        let complete = fake_library("libcuda-complete.so", &c_functions(CUDA_SYMBOLS));
        check_libcuda(&[complete.display().to_string()]).unwrap();
        for lib in [empty, partial, complete] {
            let _ = std::fs::remove_dir_all(lib.parent().unwrap());
        }
    }

    /// The symbol behind each cudarc `result::` function this file calls (cudarc 0.19
    /// with `cuda-12080`); `None`: no driver call.
    const RESULT_SYMBOLS: &[(&str, Option<&str>)] = &[
        ("init", Some("cuInit")),
        ("device::get", Some("cuDeviceGet")),
        ("device::get_count", Some("cuDeviceGetCount")),
        ("device::get_attribute", Some("cuDeviceGetAttribute")),
        ("device::get_name", Some("cuDeviceGetName")),
        ("device::get_uuid", Some("cuDeviceGetUuid")),
        ("device::total_mem", Some("cuDeviceTotalMem_v2")),
        ("primary_ctx::retain", Some("cuDevicePrimaryCtxRetain")),
        ("primary_ctx::release", Some("cuDevicePrimaryCtxRelease_v2")),
        ("ctx::set_current", Some("cuCtxSetCurrent")),
        ("event::create", Some("cuEventCreate")),
        ("event::record", Some("cuEventRecord")),
        ("event::query", Some("cuEventQuery")),
        ("event::destroy", Some("cuEventDestroy_v2")),
        ("module::get_function", Some("cuModuleGetFunction")),
        ("module::get_global", Some("cuModuleGetGlobal_v2")),
        ("module::unload", Some("cuModuleUnload")),
        (
            "function::set_function_attribute",
            Some("cuFuncSetAttribute"),
        ),
        ("launch_kernel", Some("cuLaunchKernel")),
        ("malloc_sync", Some("cuMemAlloc_v2")),
        ("free_sync", Some("cuMemFree_v2")),
        ("memset_d8_sync", Some("cuMemsetD8_v2")),
        ("memcpy_htod_sync", Some("cuMemcpyHtoD_v2")),
        ("memcpy_dtoh_sync", Some("cuMemcpyDtoH_v2")),
        ("stream::null", None),
    ];

    #[test]
    fn the_probed_symbols_are_the_ones_this_file_calls() {
        let src = include_str!("cuda.rs");
        let code = &src[..src.find("#[cfg(test)]").unwrap()];
        let ident = |rest: &str| -> String {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect::<String>()
                .trim_end_matches(':')
                .to_string()
        };
        let mut called = std::collections::BTreeSet::new();
        for (i, _) in code.match_indices("result::") {
            let path = ident(&code[i + "result::".len()..]);
            if path.is_empty() || !path.starts_with(|c: char| c.is_ascii_lowercase()) {
                continue; // `result::{…}` in a `use`, a type
            }
            let Some((_, symbol)) = RESULT_SYMBOLS.iter().find(|(p, _)| *p == path) else {
                panic!(
                    "`result::{path}` is called: add its symbol to CUDA_SYMBOLS and RESULT_SYMBOLS"
                )
            };
            called.extend(symbol.map(String::from));
        }
        for (i, _) in code.match_indices("sys::cu") {
            let name = ident(&code[i + "sys::".len()..]);
            if name[2..].starts_with(|c: char| c.is_ascii_uppercase()) {
                called.insert(name);
            }
        }
        if code.contains(".error_string()") {
            called.insert("cuGetErrorString".to_string());
        }
        let listed: std::collections::BTreeSet<String> =
            CUDA_SYMBOLS.iter().map(|s| s.to_string()).collect();
        assert_eq!(listed, called, "CUDA_SYMBOLS against the calls in cuda.rs");
    }

    #[test]
    fn a_library_that_cannot_exist_gives_unavailable_naming_what_was_searched() {
        let e = probe_with(&["libcuda-gpufault-test-missing.so.7".into()]).unwrap_err();
        let GpuError::Unavailable { detail } = e else {
            panic!("{e:?}")
        };
        assert!(
            detail.contains("libcuda not found (searched libcuda-gpufault-test-missing.so.7)"),
            "{detail}"
        );
    }

    #[test]
    fn the_real_probe_agrees_with_cudarc_and_never_panics() {
        // On a machine without libcuda this is the path every CUDA call takes first; on
        // a GPU machine the probe must pass.
        // SAFETY: loading libcuda (if present) is what any CUDA program does.
        let present = unsafe { sys::is_culib_present() };
        match probe() {
            Ok(()) => assert!(present),
            Err(GpuError::Unavailable { detail }) if !present => {
                assert!(detail.contains("libcuda.so"), "{detail}");
                assert!(detail.contains("searched"), "{detail}");
            }
            Err(e) => assert!(present, "no libcuda but {e:?}"),
        }
    }

    #[test]
    fn opening_and_listing_without_a_driver_is_an_error_not_a_panic() {
        // SAFETY: as above.
        if unsafe { sys::is_culib_present() } {
            eprintln!("SKIP: libcuda is present; the no-driver path is not reachable here");
            return;
        }
        for sel in [
            crate::spec::CudaSelector::Ordinal(0),
            crate::spec::CudaSelector::Uuid("GPU-00000000-0000-0000-0000-000000000000".into()),
        ] {
            let e = CudaDevice::open(&sel).err().expect("no driver, no device");
            assert!(matches!(e, GpuError::Unavailable { .. }), "{e:?}");
        }
        assert!(matches!(list_devices(), Err(GpuError::Unavailable { .. })));
        assert!(matches!(
            driver_version(),
            Err(GpuError::Unavailable { .. })
        ));
    }

    #[test]
    fn ptx_version_is_read_from_the_first_directive() {
        assert_eq!(ptx_version(".version 8.8\n.target sm_80\n"), Some((8, 8)));
        assert_eq!(
            ptx_version("//\n// Generated by NVIDIA NVVM Compiler\n/* multi\nline */\n\n.version 7.0 // x\n"),
            Some((7, 0))
        );
        assert_eq!(ptx_version("/* a */ .version 9.1\n"), Some((9, 1)));
        assert_eq!(ptx_version(".target sm_80\n.version 8.0\n"), None);
        assert_eq!(ptx_version(""), None);
        assert_eq!(ptx_version(".version eight\n"), None);
    }

    #[test]
    fn the_driver_table_follows_nvidias_ptx_release_history() {
        for (driver, ptx) in [
            (11080, Some((7, 8))),
            (12000, Some((8, 0))),
            (12040, Some((8, 4))),
            (12060, Some((8, 5))),
            (12080, Some((8, 7))),
            (12090, Some((8, 8))),
            (13000, Some((9, 0))),
            (13010, Some((9, 1))),
            (15000, None),
            (10020, None),
        ] {
            assert_eq!(max_ptx_for_driver(driver), ptx, "driver {driver}");
        }
        assert_eq!(cuda_version_string(13000), "13.0");
        assert_eq!(cuda_version_string(12090), "12.9");
    }

    #[test]
    fn a_module_newer_than_the_driver_is_refused_with_both_versions() {
        let ptx = ".version 8.8\n.target sm_80\n.address_size 64\n";
        assert!(check_ptx_version(ptx, 12090).is_ok());
        assert!(check_ptx_version(ptx, 13000).is_ok());
        let e = check_ptx_version(ptx, 12080).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported PTX version 8.8: the driver supports up to 8.7 (driver CUDA 12.8); \
             regenerate the PTX for an older ISA or update the driver"
        );
        assert!(
            check_ptx_version(ptx, 14000).is_ok(),
            "unknown newer driver decides itself"
        );
        assert!(matches!(
            check_ptx_version(".target sm_80\n", 13000),
            Err(GpuError::ModuleLoad { .. })
        ));
    }

    #[test]
    fn driver_errors_map_to_outcome_causes() {
        use CUresult::*;
        type Case = (CUresult, fn(&GpuError) -> bool, bool);
        let cases: [Case; 10] = [
            (
                CUDA_ERROR_ILLEGAL_ADDRESS,
                |e| matches!(e, GpuError::IllegalAddress { .. }),
                true,
            ),
            (
                CUDA_ERROR_MISALIGNED_ADDRESS,
                |e| matches!(e, GpuError::MisalignedAddress { .. }),
                true,
            ),
            (
                CUDA_ERROR_ILLEGAL_INSTRUCTION,
                |e| matches!(e, GpuError::IllegalInstruction { .. }),
                true,
            ),
            (
                CUDA_ERROR_ASSERT,
                |e| matches!(e, GpuError::Trap { .. }),
                true,
            ),
            (
                CUDA_ERROR_LAUNCH_FAILED,
                |e| matches!(e, GpuError::LaunchFailed { .. }),
                true,
            ),
            (
                CUDA_ERROR_LAUNCH_TIMEOUT,
                |e| matches!(e, GpuError::Hang { .. }),
                true,
            ),
            (
                CUDA_ERROR_OUT_OF_MEMORY,
                |e| matches!(e, GpuError::OutOfMemory { .. }),
                false,
            ),
            (
                CUDA_ERROR_UNSUPPORTED_PTX_VERSION,
                |e| matches!(e, GpuError::UnsupportedPtxVersion { .. }),
                false,
            ),
            (
                CUDA_ERROR_INVALID_PTX,
                |e| matches!(e, GpuError::ModuleLoad { .. }),
                false,
            ),
            (
                CUDA_ERROR_NO_DEVICE,
                |e| matches!(e, GpuError::Unavailable { .. }),
                false,
            ),
        ];
        for (code, is, sticky) in cases {
            let e = map_error(code, "test");
            assert!(is(&e), "{code:?} → {e:?}");
            assert_eq!(is_sticky(code), sticky, "{code:?}");
            assert!(
                e.to_string().contains(&format!("{code:?}"))
                    || matches!(e, GpuError::OutOfMemory { .. }),
                "{e}"
            );
        }
        assert!(matches!(
            map_error(CUDA_ERROR_UNKNOWN, "x"),
            GpuError::Driver { .. }
        ));
    }

    #[test]
    fn bus_ids_and_uuids_take_nvml_shape() {
        assert_eq!(normalize_bus_id("0000:3b:00.0"), "00000000:3B:00.0");
        assert_eq!(normalize_bus_id("0001:c1:00.0"), "00000001:C1:00.0");
        let mut raw = [0 as std::ffi::c_char; 16];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (i as u8 * 17) as std::ffi::c_char;
        }
        assert_eq!(
            format_uuid(&raw),
            "GPU-00112233-4455-6677-8899-aabbccddeeff"
        );
    }
}
