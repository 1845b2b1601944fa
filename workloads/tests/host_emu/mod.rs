//! A [`gpu::Device`] that runs the workloads' CUDA sources compiled for the host (see
//! `cuda_host.h`): checks host drivers and CPU references end to end without a GPU or
//! the virtual GPU. Each workload's `.cu` becomes a shared library (cached under the
//! target directory by content hash); `load` recognises the workload by its PTX.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use gpu::{Buffer, Device, GpuError, KernelArg, LaunchConfig, LaunchStats, Limits, ModuleHandle};
use sha2::{Digest, Sha256};

/// Bytes after every allocation that must stay untouched: catches writes past the end.
const CANARY: usize = 4096;
const CANARY_BYTE: u8 = 0xa5;

type LaunchFn = unsafe extern "C" fn(
    *const std::ffi::c_char,
    *const u32,
    *const u32,
    *const std::ffi::c_char,
    *mut *mut std::ffi::c_void,
    *mut std::ffi::c_char,
    i32,
) -> i32;

pub struct HostEmu {
    /// Each library with the lock that serialises its launches: static `__shared__`
    /// variables are process-wide, so two tests must not run one library at once.
    libs: Vec<(libloading::Library, Arc<Mutex<()>>)>,
    buffers: HashMap<u64, Box<[u8]>>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Compiles workload `w` for the host (cached); returns the library path.
fn build(w: &dyn workloads::Workload) -> PathBuf {
    let header = include_str!("cuda_host.h");
    let m = w.meta();
    let list: Vec<String> = m
        .kernels
        .iter()
        .map(|k| format!("EMU_KERNEL({k})"))
        .collect();
    let unit = format!(
        "#include \"cuda_host.h\"\n{}\nEMU_TABLE({})\n",
        m.source,
        list.join(", ")
    );
    let digest: String = Sha256::digest(format!("{header}\0{unit}").as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("host_emu");
    std::fs::create_dir_all(&dir).unwrap();
    let lib = dir.join(format!("{}-{digest}.so", m.name));
    if lib.exists() {
        return lib;
    }
    let src = dir.join(format!("{}-{digest}.cpp", m.name));
    std::fs::write(&src, unit).unwrap();
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let tmp = dir.join(format!("{}-{digest}.so.{}", m.name, std::process::id()));
    let out = Command::new(&cxx)
        .args([
            "-std=c++17",
            "-O1",
            "-fPIC",
            "-shared",
            "-ffp-contract=off",
            "-fwrapv",
        ])
        .args(["-Wno-unknown-pragmas", "-I"])
        .arg(workspace().join("workloads/tests/host_emu"))
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("the host-emulation tests need a C++17 compiler ({cxx}): {e}"));
    assert!(
        out.status.success(),
        "{cxx} failed on {}:\n{}",
        m.name,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &lib).unwrap();
    lib
}

impl HostEmu {
    pub fn new() -> HostEmu {
        HostEmu {
            libs: Vec::new(),
            buffers: HashMap::new(),
        }
    }

    fn check_canaries(&self) -> Result<(), GpuError> {
        for (ptr, b) in &self.buffers {
            let len = b.len() - CANARY;
            if b[len..].iter().any(|&x| x != CANARY_BYTE) {
                return Err(GpuError::IllegalAddress {
                    detail: format!("write past the end of the {len}-byte buffer at {ptr:#x}"),
                });
            }
        }
        Ok(())
    }

    fn buffer(&mut self, buf: Buffer) -> Result<&mut Box<[u8]>, GpuError> {
        self.buffers
            .get_mut(&buf.ptr)
            .ok_or_else(|| GpuError::Invalid {
                detail: format!("unknown buffer {:#x}", buf.ptr),
            })
    }
}

impl Device for HostEmu {
    fn name(&self) -> &str {
        "host-emulation"
    }

    fn load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError> {
        let w = workloads::all()
            .iter()
            .find(|w| w.ptx() == ptx)
            .ok_or_else(|| GpuError::ModuleLoad {
                detail: "host emulation runs only unmodified workload PTX".into(),
            })?;
        let path = build(*w);
        // SAFETY: a library we just built from the workload's source and cuda_host.h.
        let lib = unsafe { libloading::Library::new(&path) }.map_err(|e| GpuError::ModuleLoad {
            detail: e.to_string(),
        })?;
        static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
        let lock = LOCKS
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .entry(path)
            .or_default()
            .clone();
        self.libs.push((lib, lock));
        Ok(ModuleHandle(self.libs.len() as u32 - 1))
    }

    fn alloc(&mut self, len: usize) -> Result<Buffer, GpuError> {
        let mut b = vec![0u8; len + CANARY].into_boxed_slice();
        b[len..].fill(CANARY_BYTE);
        let ptr = b.as_ptr() as u64;
        self.buffers.insert(ptr, b);
        Ok(Buffer { ptr, len })
    }

    fn free(&mut self, buf: Buffer) -> Result<(), GpuError> {
        self.buffers
            .remove(&buf.ptr)
            .map(|_| ())
            .ok_or_else(|| GpuError::Invalid {
                detail: format!("double free of {:#x}", buf.ptr),
            })
    }

    fn write(&mut self, buf: Buffer, data: &[u8]) -> Result<(), GpuError> {
        let b = self.buffer(buf)?;
        if data.len() > b.len() - CANARY {
            return Err(GpuError::Invalid {
                detail: "write larger than the buffer".into(),
            });
        }
        b[..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn read(&mut self, buf: Buffer, out: &mut [u8]) -> Result<(), GpuError> {
        let b = self.buffer(buf)?;
        if out.len() > b.len() - CANARY {
            return Err(GpuError::Invalid {
                detail: "read larger than the buffer".into(),
            });
        }
        out.copy_from_slice(&b[..out.len()]);
        Ok(())
    }

    fn write_global(&mut self, _: ModuleHandle, name: &str, _: &[u8]) -> Result<(), GpuError> {
        Err(GpuError::Invalid {
            detail: format!("no module globals in host emulation ({name})"),
        })
    }

    fn read_global(&mut self, _: ModuleHandle, name: &str, _: &mut [u8]) -> Result<(), GpuError> {
        Err(GpuError::Invalid {
            detail: format!("no module globals in host emulation ({name})"),
        })
    }

    fn launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError> {
        let start = Instant::now();
        let (lib, lock) = self
            .libs
            .get(m.0 as usize)
            .ok_or_else(|| GpuError::Invalid {
                detail: format!("unknown module {}", m.0),
            })?;
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut slots: Vec<u64> = Vec::with_capacity(args.len());
        let mut sig = String::new();
        for a in args {
            let (code, bits) = match *a {
                KernelArg::Ptr(p) => ('p', p),
                KernelArg::I32(x) => ('i', x as u32 as u64),
                KernelArg::U32(x) => ('u', x as u64),
                KernelArg::F32(x) => ('f', x.to_bits() as u64),
                KernelArg::F64(x) => ('d', x.to_bits()),
                ref other => {
                    return Err(GpuError::Invalid {
                        detail: format!("unsupported argument {other:?}"),
                    })
                }
            };
            sig.push(code);
            slots.push(bits);
        }
        let mut ptrs: Vec<*mut std::ffi::c_void> = slots
            .iter_mut()
            .map(|s| s as *mut u64 as *mut std::ffi::c_void)
            .collect();
        let name = std::ffi::CString::new(kernel).unwrap();
        let sig = std::ffi::CString::new(sig).unwrap();
        let mut err = vec![0u8; 512];
        // SAFETY: the symbol exported by EMU_TABLE with this signature; argument slots
        // hold values of the kinds the kernel's parameters were checked against.
        let rc = unsafe {
            let f: libloading::Symbol<'_, LaunchFn> =
                lib.get(b"emu_launch\0").map_err(|e| GpuError::ModuleLoad {
                    detail: e.to_string(),
                })?;
            f(
                name.as_ptr(),
                cfg.grid.as_ptr(),
                cfg.block.as_ptr(),
                sig.as_ptr(),
                ptrs.as_mut_ptr(),
                err.as_mut_ptr() as *mut std::ffi::c_char,
                err.len() as i32,
            )
        };
        if rc != 0 {
            let msg =
                String::from_utf8_lossy(&err[..err.iter().position(|&b| b == 0).unwrap_or(0)])
                    .into_owned();
            return Err(if msg.starts_with("deadlock") {
                GpuError::Hang {
                    kind: gpu::HangKind::Deadlock,
                    detail: msg,
                }
            } else {
                GpuError::LaunchFailed { detail: msg }
            });
        }
        self.check_canaries()?;
        Ok(LaunchStats {
            instructions: None,
            elapsed: start.elapsed(),
        })
    }

    fn set_limits(&mut self, _: Limits) {}
}
