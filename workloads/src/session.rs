//! The host side of one run: buffers, launches and their statistics.

use gpu::{Buffer, Device, DeviceExt, GpuError, KernelArg, LaunchConfig, ModuleHandle, Pod};

use crate::data::{Arrays, Outputs, RunStats};

/// One run of a workload on a device: owns the buffers it allocates (freed on drop,
/// also when the run fails) and sums launch statistics.
pub(crate) struct Session<'a> {
    dev: &'a mut dyn Device,
    module: ModuleHandle,
    buffers: Vec<Buffer>,
    stats: RunStats,
}

impl<'a> Session<'a> {
    pub(crate) fn new(dev: &'a mut dyn Device, module: ModuleHandle) -> Session<'a> {
        Session {
            dev,
            module,
            buffers: Vec::new(),
            stats: RunStats {
                instructions: Some(0),
                ..RunStats::default()
            },
        }
    }

    /// Allocates a buffer holding `data`.
    pub(crate) fn upload<T: Pod>(&mut self, data: &[T]) -> Result<Buffer, GpuError> {
        let b = self.dev.upload(data)?;
        self.buffers.push(b);
        Ok(b)
    }

    /// Allocates a zeroed buffer of `n` elements.
    pub(crate) fn zeroed<T: Pod>(&mut self, n: usize) -> Result<Buffer, GpuError> {
        let b = self.dev.alloc_zeroed::<T>(n)?;
        self.buffers.push(b);
        Ok(b)
    }

    /// Allocates a buffer of `len` bytes (at least 1) holding `bytes` at its start, the
    /// rest zero.
    pub(crate) fn alloc_bytes(&mut self, len: usize, bytes: &[u8]) -> Result<Buffer, GpuError> {
        let b = self.dev.alloc(len.max(1))?;
        self.buffers.push(b);
        if !bytes.is_empty() {
            self.dev.write(b, bytes)?;
        }
        Ok(b)
    }

    /// Reads the first `n` bytes of `buf`.
    pub(crate) fn read_bytes(&mut self, buf: Buffer, n: usize) -> Result<Vec<u8>, GpuError> {
        let mut out = vec![0u8; n];
        self.dev.read(buf, &mut out)?;
        Ok(out)
    }

    /// Overwrites the start of `buf` with `data`.
    pub(crate) fn write<T: Pod>(&mut self, buf: Buffer, data: &[T]) -> Result<(), GpuError> {
        let mut bytes = Vec::with_capacity(data.len() * T::SIZE);
        for &x in data {
            x.put(&mut bytes);
        }
        self.dev.write(buf, &bytes)
    }

    /// Reads the first `n` elements of `buf`.
    pub(crate) fn read<T: Pod>(&mut self, buf: Buffer, n: usize) -> Result<Vec<T>, GpuError> {
        self.dev.download(buf, n)
    }

    /// Launches `kernel` and waits for it.
    pub(crate) fn launch(
        &mut self,
        kernel: &str,
        cfg: LaunchConfig,
        args: &[KernelArg],
    ) -> Result<(), GpuError> {
        let s = self.dev.launch(self.module, kernel, &cfg, args)?;
        self.stats.launches += 1;
        self.stats.elapsed += s.elapsed;
        self.stats.instructions = match (self.stats.instructions, s.instructions) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        Ok(())
    }

    /// The outputs of the run, with its statistics.
    pub(crate) fn finish(self, arrays: Arrays) -> Outputs {
        let mut stats = self.stats;
        if stats.launches == 0 {
            stats.instructions = None;
        }
        Outputs { arrays, stats }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        for b in self.buffers.drain(..) {
            // A device that already failed may refuse; nothing else to do about it.
            let _ = self.dev.free(b);
        }
    }
}

/// `ceil(n / per)` as a grid dimension, at least 1.
pub(crate) fn blocks(n: usize, per: usize) -> u32 {
    n.div_ceil(per).max(1) as u32
}

/// A two-dimensional launch.
pub(crate) fn grid2(gx: u32, gy: u32, bx: u32, by: u32) -> LaunchConfig {
    LaunchConfig {
        grid: [gx, gy, 1],
        block: [bx, by, 1],
        shared_bytes: 0,
    }
}

/// A buffer as a kernel pointer argument.
pub(crate) fn ptr(buf: Buffer) -> KernelArg {
    KernelArg::Ptr(buf.ptr)
}

/// A size as a kernel `int`. Sizes are bounded by their [`SizeSpec`](crate::SizeSpec),
/// far below `i32::MAX`.
pub(crate) fn int(n: usize) -> KernelArg {
    KernelArg::I32(n as i32)
}
