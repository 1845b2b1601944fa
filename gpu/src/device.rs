//! The `Device` interface every higher layer runs kernels through.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A device memory allocation: its device address and length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Buffer {
    /// Device address of the first byte.
    pub ptr: u64,
    /// Length in bytes.
    pub len: usize,
}

/// A module loaded on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModuleHandle(pub u32);

/// Launch geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchConfig {
    /// Grid dimensions in CTAs.
    pub grid: [u32; 3],
    /// Block dimensions in threads.
    pub block: [u32; 3],
    /// Dynamic shared memory per CTA in bytes.
    pub shared_bytes: u32,
}

impl LaunchConfig {
    /// A one-dimensional launch: `grid` CTAs of `block` threads, no dynamic shared memory.
    pub fn linear(grid: u32, block: u32) -> LaunchConfig {
        LaunchConfig {
            grid: [grid, 1, 1],
            block: [block, 1, 1],
            shared_bytes: 0,
        }
    }
}

/// A kernel argument, in kernel parameter order: the virtual GPU's type, the one
/// definition every device takes (scalars, a device address, raw bytes of a by-value
/// aggregate such as `.param .align 8 .b8 p[56]`). A [`Buffer`] converts to its address
/// (`KernelArg::from(buf)`, or `KernelArg::Ptr(buf.ptr)`).
pub use sim::KernelArg;

impl From<Buffer> for KernelArg {
    fn from(buf: Buffer) -> KernelArg {
        KernelArg::Ptr(buf.ptr)
    }
}

/// What a completed launch reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LaunchStats {
    /// Thread-instructions executed (virtual GPU only).
    pub instructions: Option<u64>,
    /// Wall time of the launch including synchronisation.
    pub elapsed: Duration,
}

/// Limits that turn a runaway kernel into a `Hang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Limits {
    /// Virtual GPU: thread-instruction budget per launch.
    pub instructions: Option<u64>,
    /// Real GPU: wall-clock deadline per launch.
    pub wall: Option<Duration>,
}

/// Why a kernel did not finish ([`GpuError::Hang`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HangKind {
    /// The wall-clock deadline passed (on a GPU also the driver's watchdog).
    Deadline,
    /// The virtual GPU's instruction budget ran out.
    Budget,
    /// Warps wait at a barrier that can never complete (virtual GPU).
    Deadlock,
}

/// Errors of the device layer. Each kernel-fault variant maps one-to-one to an outcome
/// cause of a fault campaign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GpuError {
    /// A kernel accessed an address outside any allocation or state space.
    #[error("illegal address: {detail}")]
    IllegalAddress {
        /// Where and what (address, space, kernel, line, thread).
        detail: String,
    },
    /// A kernel accessed memory at an address not aligned to the access size.
    #[error("misaligned address: {detail}")]
    MisalignedAddress {
        /// Where and what.
        detail: String,
    },
    /// A kernel executed an invalid instruction.
    #[error("illegal instruction: {detail}")]
    IllegalInstruction {
        /// Where and what.
        detail: String,
    },
    /// A kernel executed `trap`.
    #[error("trap: {detail}")]
    Trap {
        /// Where.
        detail: String,
    },
    /// The launch did not start or failed in the driver.
    #[error("launch failed: {detail}")]
    LaunchFailed {
        /// Why.
        detail: String,
    },
    /// The kernel did not finish: deadline, instruction budget or barrier deadlock.
    #[error("hang: {detail}")]
    Hang {
        /// Which limit, or a deadlock.
        kind: HangKind,
        /// Where and which limit.
        detail: String,
    },
    /// The PTX's `.version` is newer than the driver supports.
    #[error("unsupported PTX version {ptx_version}: the driver supports up to {driver_max}")]
    UnsupportedPtxVersion {
        /// The module's `.version`.
        ptx_version: String,
        /// Highest version the driver accepts.
        driver_max: String,
    },
    /// The module could not be parsed, decoded or JIT-compiled.
    #[error("module load failed: {detail}")]
    ModuleLoad {
        /// The loader's message (with line numbers where known).
        detail: String,
    },
    /// Device memory is exhausted.
    #[error("out of device memory allocating {bytes} bytes")]
    OutOfMemory {
        /// The requested size.
        bytes: usize,
    },
    /// The device or its driver library is not available.
    #[error("device unavailable: {detail}")]
    Unavailable {
        /// What was searched and not found.
        detail: String,
    },
    /// A host-side usage error (unknown kernel or global, size mismatch, bad argument).
    #[error("invalid request: {detail}")]
    Invalid {
        /// What was wrong.
        detail: String,
    },
    /// Any other driver error.
    #[error("driver error: {detail}")]
    Driver {
        /// The driver's message.
        detail: String,
    },
}

/// One interface over the virtual GPU and real GPUs. Launches are synchronous: `launch`
/// returns when the kernel has finished, faulted, or hit the device's [`Limits`].
pub trait Device {
    /// The device's name as selected (`sim`, `sim:h100#3`, `cuda:0`).
    fn name(&self) -> &str;
    /// Loads a module from PTX text.
    fn load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError>;
    /// Allocates `len` bytes of zeroed device memory.
    fn alloc(&mut self, len: usize) -> Result<Buffer, GpuError>;
    /// Frees an allocation.
    fn free(&mut self, buf: Buffer) -> Result<(), GpuError>;
    /// Copies `data` to the start of `buf` (`data.len() <= buf.len`).
    fn write(&mut self, buf: Buffer, data: &[u8]) -> Result<(), GpuError>;
    /// Copies the first `out.len()` bytes of `buf` to `out`.
    fn read(&mut self, buf: Buffer, out: &mut [u8]) -> Result<(), GpuError>;
    /// Writes a module-scope variable by name.
    fn write_global(&mut self, m: ModuleHandle, name: &str, data: &[u8]) -> Result<(), GpuError>;
    /// Reads a module-scope variable by name.
    fn read_global(&mut self, m: ModuleHandle, name: &str, out: &mut [u8]) -> Result<(), GpuError>;
    /// Launches `kernel` of module `m` and waits for it.
    fn launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError>;
    /// Sets the limits applied to every following launch.
    fn set_limits(&mut self, limits: Limits);
    /// Whether an earlier error left the device unusable until it is replaced (a CUDA
    /// context after a sticky kernel error or a hang). The worker uses it to replace its
    /// child process; devices that recover by themselves (the virtual GPU) keep the
    /// default `false`.
    fn poisoned(&self) -> bool {
        false
    }
}

/// Plain-old-data element types that cross the host/device boundary as little-endian
/// bytes.
pub trait Pod: Copy + Default + 'static {
    /// Size in bytes.
    const SIZE: usize;
    /// Appends the little-endian bytes.
    fn put(self, out: &mut Vec<u8>);
    /// Reads from exactly `SIZE` little-endian bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! pod {
    ($($t:ty),*) => {$(
        impl Pod for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&bytes[..Self::SIZE]);
                <$t>::from_le_bytes(a)
            }
        }
    )*};
}
pod!(u8, u16, u32, u64, i8, i16, i32, i64, f32, f64);

/// Typed convenience methods on every [`Device`].
pub trait DeviceExt: Device {
    /// Allocates a buffer holding `data`.
    fn upload<T: Pod>(&mut self, data: &[T]) -> Result<Buffer, GpuError> {
        let mut bytes = Vec::with_capacity(data.len() * T::SIZE);
        for &x in data {
            x.put(&mut bytes);
        }
        let buf = self.alloc(bytes.len().max(1))?;
        self.write(buf, &bytes)?;
        Ok(buf)
    }

    /// Allocates a zeroed buffer of `n` elements of `T`.
    fn alloc_zeroed<T: Pod>(&mut self, n: usize) -> Result<Buffer, GpuError> {
        self.alloc((n * T::SIZE).max(1))
    }

    /// Reads `n` elements of `T` from the start of `buf`.
    fn download<T: Pod>(&mut self, buf: Buffer, n: usize) -> Result<Vec<T>, GpuError> {
        let mut bytes = vec![0u8; n * T::SIZE];
        self.read(buf, &mut bytes)?;
        Ok(bytes.chunks_exact(T::SIZE).map(T::get).collect())
    }
}

impl<D: Device + ?Sized> DeviceExt for D {}

/// A device that wraps another one: implement this instead of [`Device`], and the
/// blanket impl below hands every call to [`wrapped_mut`](DeviceWrapper::wrapped_mut).
/// A wrapper changes what it loads, what reads return or what happens around a launch by
/// overriding [`on_load`](DeviceWrapper::on_load), [`on_read`](DeviceWrapper::on_read)
/// or [`on_launch`](DeviceWrapper::on_launch), whose defaults forward too.
///
/// `Box<D>` is one; [`Transformed`](crate::Transformed) rewrites every module in
/// `on_load` (and arms a fault that arrives later in `on_launch`).
pub trait DeviceWrapper {
    /// The type of the wrapped device.
    type Inner: Device + ?Sized;
    /// The wrapped device.
    fn wrapped(&self) -> &Self::Inner;
    /// The wrapped device, to call.
    fn wrapped_mut(&mut self) -> &mut Self::Inner;
    /// [`Device::load`]; by default the wrapped device loads `ptx` unchanged.
    fn on_load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError> {
        self.wrapped_mut().load(ptx)
    }
    /// [`Device::read`]; by default a read of the wrapped device.
    fn on_read(&mut self, buf: Buffer, out: &mut [u8]) -> Result<(), GpuError> {
        self.wrapped_mut().read(buf, out)
    }
    /// [`Device::launch`]; by default a launch on the wrapped device.
    fn on_launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError> {
        self.wrapped_mut().launch(m, kernel, cfg, args)
    }
}

impl<W: DeviceWrapper> Device for W {
    fn name(&self) -> &str {
        self.wrapped().name()
    }
    fn load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError> {
        self.on_load(ptx)
    }
    fn alloc(&mut self, len: usize) -> Result<Buffer, GpuError> {
        self.wrapped_mut().alloc(len)
    }
    fn free(&mut self, buf: Buffer) -> Result<(), GpuError> {
        self.wrapped_mut().free(buf)
    }
    fn write(&mut self, buf: Buffer, data: &[u8]) -> Result<(), GpuError> {
        self.wrapped_mut().write(buf, data)
    }
    fn read(&mut self, buf: Buffer, out: &mut [u8]) -> Result<(), GpuError> {
        self.on_read(buf, out)
    }
    fn write_global(&mut self, m: ModuleHandle, name: &str, data: &[u8]) -> Result<(), GpuError> {
        self.wrapped_mut().write_global(m, name, data)
    }
    fn read_global(&mut self, m: ModuleHandle, name: &str, out: &mut [u8]) -> Result<(), GpuError> {
        self.wrapped_mut().read_global(m, name, out)
    }
    fn launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError> {
        self.on_launch(m, kernel, cfg, args)
    }
    fn set_limits(&mut self, limits: Limits) {
        self.wrapped_mut().set_limits(limits)
    }
    fn poisoned(&self) -> bool {
        self.wrapped().poisoned()
    }
}

impl<D: Device + ?Sized> DeviceWrapper for Box<D> {
    type Inner = D;
    fn wrapped(&self) -> &D {
        self
    }
    fn wrapped_mut(&mut self) -> &mut D {
        self
    }
}
