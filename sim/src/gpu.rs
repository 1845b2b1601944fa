//! The library face: a virtual GPU with device memory, loaded modules and launches.

use crate::decode::{self, KernelParam, Program, VarSpace};
use crate::error::{Diagnostic, LoadError, SimError};
use crate::exec::{self, LaunchParams};
use crate::memory::GlobalMemory;
use crate::profile::GpuProfile;
use crate::report::LaunchReport;
use crate::schedule::Scheduling;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The default instruction budget of a launch: 10^10 thread-instructions (tens of
/// seconds of work; a launch that needs more is treated as hung).
pub const DEFAULT_BUDGET: u64 = 10_000_000_000;

/// How many parsed modules [`parsed`] keeps.
const PARSED_KEPT: usize = 8;

/// `ptx` parsed, from a small process-wide cache of the modules parsed last.
///
/// A fault campaign loads the same two modules (the workload and its instrumented copy)
/// into a fresh virtual GPU for every injection, and a health check loads the same suite
/// for every GPU: parsing them again each time was about a tenth of a campaign's CPU
/// time. A hit is a module parsed from the identical text (compared in full, not only
/// by hash); parsing is a pure function of the text, so the cache changes no result.
/// Failed parses are not kept (the error is reported as before).
fn parsed(ptx: &str) -> Result<Arc<ptx::Module>, ptx::ParseErrors> {
    use std::hash::{Hash, Hasher};
    use std::sync::Mutex;
    type Entry = (u64, Arc<str>, Arc<ptx::Module>);
    static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    let hash = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ptx.hash(&mut h);
        h.finish()
    };
    {
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = cache
            .iter()
            .position(|(h, text, _)| *h == hash && **text == *ptx)
        {
            let entry = cache.remove(i);
            let module = entry.2.clone();
            cache.push(entry); // most recently used last
            return Ok(module);
        }
    }
    let module = Arc::new(ptx::parse(ptx)?);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= PARSED_KEPT {
        cache.remove(0);
    }
    cache.push((hash, Arc::from(ptx), module.clone()));
    Ok(module)
}

/// Programs decoded last, so that loading the same module again into a fresh virtual
/// GPU skips decoding it.
///
/// Decoding is a pure function of the parsed module and of the addresses its global
/// variables were given (they are baked into the program). An entry is the parsed
/// module (the parse cache hands out the same `Arc` for the same text, compared in full),
/// the allocations its decode made, and the program; a hit replays the allocations on
/// the loading GPU and is used only when each lands at the recorded address, so the
/// cache changes no result.
mod decoded {
    use crate::decode::Program;
    use std::sync::{Arc, Mutex};

    /// How many decoded programs are kept.
    const KEPT: usize = 8;

    /// One allocation of a decode.
    #[derive(Clone, Copy)]
    pub(super) struct Alloc {
        pub size: u64,
        pub align: u64,
        pub addr: u64,
    }

    /// A decoded module.
    #[derive(Clone)]
    pub(super) struct Entry {
        pub module: Arc<ptx::Module>,
        pub allocs: Vec<Alloc>,
        pub prog: Arc<Program>,
    }

    static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

    /// The entry of `module` (the same parsed module, not an equal one).
    pub(super) fn find(module: &Arc<ptx::Module>) -> Option<Entry> {
        let cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .iter()
            .rev()
            .find(|e| Arc::ptr_eq(&e.module, module))
            .cloned()
    }

    /// Keeps `entry`, replacing an older entry of its module and the least recent one
    /// when full.
    pub(super) fn keep(entry: Entry) {
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|e| !Arc::ptr_eq(&e.module, &entry.module));
        if cache.len() >= KEPT {
            cache.remove(0);
        }
        cache.push(entry);
    }
}

/// Host memory a CTA's per-thread state may take at most.
const MAX_CTA_STATE: u64 = 1 << 30;

/// A handle to a module loaded on a [`Gpu`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModuleId(u32);

/// A kernel argument, in kernel parameter order. The one definition in gpufault: the
/// `gpu` crate re-exports it for every device (virtual, CUDA, worker process).
#[derive(Debug, Clone, PartialEq)]
pub enum KernelArg {
    /// `.u8`/`.s8`/`.b8`
    U8(u8),
    /// `.u16`/`.s16`/`.b16`
    U16(u16),
    /// `.u32`/`.b32`
    U32(u32),
    /// `.u64`/`.b64`
    U64(u64),
    /// `.s32`
    I32(i32),
    /// `.s64`
    I64(i64),
    /// `.f32`
    F32(f32),
    /// `.f64`
    F64(f64),
    /// A device pointer (`.u64` parameter).
    Ptr(u64),
    /// Raw bytes for an aggregate parameter (`.param .align 8 .b8 p[24]`).
    Bytes(Vec<u8>),
}

impl KernelArg {
    /// The argument's bytes as the parameter buffer holds them.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            KernelArg::U8(v) => vec![*v],
            KernelArg::U16(v) => v.to_le_bytes().to_vec(),
            KernelArg::U32(v) => v.to_le_bytes().to_vec(),
            KernelArg::U64(v) | KernelArg::Ptr(v) => v.to_le_bytes().to_vec(),
            KernelArg::I32(v) => v.to_le_bytes().to_vec(),
            KernelArg::I64(v) => v.to_le_bytes().to_vec(),
            KernelArg::F32(v) => v.to_le_bytes().to_vec(),
            KernelArg::F64(v) => v.to_le_bytes().to_vec(),
            KernelArg::Bytes(b) => b.clone(),
        }
    }
}

/// How far a running launch is, readable from another thread while it runs (for a
/// progress display): the CTAs of the grid, how many have finished, and the
/// thread-instructions executed so far. The launch updates it after each CTA, never per
/// instruction, so a launch with it costs two relaxed atomic stores per CTA and one
/// without it nothing.
///
/// ```
/// use sim::{LaunchConfig, LaunchProgress};
/// use std::sync::Arc;
///
/// let progress = Arc::new(LaunchProgress::default());
/// let cfg = LaunchConfig::new([1 << 20, 1, 1], [32, 1, 1]).progress(progress.clone());
/// // Another thread may poll `progress.ctas_done()` while `gpu.launch(…, &cfg, …)` runs.
/// assert_eq!((progress.ctas_done(), progress.ctas_total()), (0, 0));
/// ```
#[derive(Debug, Default)]
pub struct LaunchProgress {
    ctas_total: AtomicU64,
    ctas_done: AtomicU64,
    thread_instructions: AtomicU64,
}

impl LaunchProgress {
    /// The CTAs of the running (or last) launch's grid; 0 before a launch starts.
    pub fn ctas_total(&self) -> u64 {
        self.ctas_total.load(Ordering::Relaxed)
    }

    /// The CTAs that have finished.
    pub fn ctas_done(&self) -> u64 {
        self.ctas_done.load(Ordering::Relaxed)
    }

    /// Thread-instructions executed by the finished CTAs (counted against the budget).
    pub fn thread_instructions(&self) -> u64 {
        self.thread_instructions.load(Ordering::Relaxed)
    }

    /// A launch of `total` CTAs starts.
    pub(crate) fn start(&self, total: u64) {
        self.ctas_done.store(0, Ordering::Relaxed);
        self.thread_instructions.store(0, Ordering::Relaxed);
        self.ctas_total.store(total, Ordering::Relaxed);
    }

    /// `done` CTAs have finished, having executed `thread_instructions`.
    #[inline]
    pub(crate) fn update(&self, done: u64, thread_instructions: u64) {
        self.ctas_done.store(done, Ordering::Relaxed);
        self.thread_instructions
            .store(thread_instructions, Ordering::Relaxed);
    }
}

/// Two progress handles are equal when they are the same object.
impl PartialEq for LaunchProgress {
    fn eq(&self, other: &LaunchProgress) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for LaunchProgress {}

/// Launch dimensions and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchConfig {
    /// Grid dimensions in CTAs.
    pub grid: [u32; 3],
    /// CTA dimensions in threads.
    pub block: [u32; 3],
    /// Dynamic shared memory bytes per CTA.
    pub shared_bytes: u32,
    /// Instruction budget in thread-instructions; exceeding it ends the launch with
    /// [`crate::FaultKind::BudgetExceeded`].
    pub budget: u64,
    /// Whether to collect an [`crate::ExecProfile`].
    pub profile: bool,
    /// Where to report progress while the launch runs, if anywhere.
    pub progress: Option<Arc<LaunchProgress>>,
}

impl LaunchConfig {
    /// A launch of `grid` CTAs of `block` threads, no dynamic shared memory, the
    /// [`DEFAULT_BUDGET`], no profiling.
    pub fn new(grid: [u32; 3], block: [u32; 3]) -> LaunchConfig {
        LaunchConfig {
            grid,
            block,
            shared_bytes: 0,
            budget: DEFAULT_BUDGET,
            profile: false,
            progress: None,
        }
    }

    /// Sets the dynamic shared memory bytes.
    pub fn shared(mut self, bytes: u32) -> LaunchConfig {
        self.shared_bytes = bytes;
        self
    }

    /// Sets the instruction budget.
    pub fn budget(mut self, thread_instructions: u64) -> LaunchConfig {
        self.budget = thread_instructions;
        self
    }

    /// Reports the launch's progress to `progress` (see [`LaunchProgress`]).
    pub fn progress(mut self, progress: Arc<LaunchProgress>) -> LaunchConfig {
        self.progress = Some(progress);
        self
    }

    /// Turns profiling on or off.
    pub fn profiling(mut self, on: bool) -> LaunchConfig {
        self.profile = on;
        self
    }
}

struct Loaded {
    prog: Arc<Program>,
    consts: Vec<u8>,
    global_vars: Vec<u64>,
}

/// A virtual GPU: one [`GpuProfile`], a [`Scheduling`], a flat global memory, loaded
/// modules.
///
/// Every method runs on the calling thread; a `Gpu` is `Send`, so campaigns can keep
/// one per worker thread.
pub struct Gpu {
    profile: GpuProfile,
    scheduling: Scheduling,
    mem: GlobalMemory,
    modules: Vec<Option<Loaded>>,
}

impl Gpu {
    /// A virtual GPU of the given profile with empty memory and the fixed
    /// [`Scheduling`].
    pub fn new(profile: GpuProfile) -> Gpu {
        Gpu {
            profile,
            scheduling: Scheduling::Fixed,
            mem: GlobalMemory::default(),
            modules: Vec::new(),
        }
    }

    /// The GPU's profile.
    pub fn profile(&self) -> &GpuProfile {
        &self.profile
    }

    /// How the following launches are scheduled: the fixed rule or a seeded schedule.
    /// A launch's seeded schedule depends on the seed and the launch (kernel name, grid,
    /// block, dynamic shared memory), not on what ran before, so the same launch on a
    /// fresh GPU and on a reused one with the same seed is scheduled the same.
    pub fn set_scheduling(&mut self, scheduling: Scheduling) {
        self.scheduling = scheduling;
    }

    /// How launches are scheduled.
    pub fn scheduling(&self) -> Scheduling {
        self.scheduling
    }

    /// Parses and loads PTX text.
    ///
    /// A module loaded from the same text shortly before, by any virtual GPU of the
    /// process, is not decoded again when its variables land at the same addresses (see
    /// [`decoded`]): a campaign loads the same two modules into a fresh virtual GPU for
    /// every injection.
    pub fn load(&mut self, ptx: &str) -> Result<ModuleId, LoadError> {
        let module = parsed(ptx)?;
        if let Some(hit) = decoded::find(&module) {
            if let Some(vars) = self.replay(&hit.allocs) {
                return Ok(self.install(hit.prog, vars));
            }
        }
        let (prog, vars, sizes) = self.decode(&module)?;
        let prog = Arc::new(prog);
        let allocs = sizes
            .into_iter()
            .zip(&vars)
            .map(|((size, align), &addr)| decoded::Alloc { size, align, addr })
            .collect();
        decoded::keep(decoded::Entry {
            module,
            allocs,
            prog: prog.clone(),
        });
        Ok(self.install(prog, vars))
    }

    /// Loads a parsed module: lays out and initialises its variables and decodes every
    /// function once. Instructions that cannot be decoded are listed by
    /// [`Gpu::diagnostics`] and fault if executed.
    pub fn load_module(&mut self, module: &ptx::Module) -> Result<ModuleId, LoadError> {
        let (prog, vars, _) = self.decode(module)?;
        Ok(self.install(Arc::new(prog), vars))
    }

    /// Decodes `module`, allocating its global variables: the program, the variables'
    /// addresses and the (size, alignment) of each allocation, in order.
    #[allow(clippy::type_complexity)]
    fn decode(
        &mut self,
        module: &ptx::Module,
    ) -> Result<(Program, Vec<u64>, Vec<(u64, u64)>), LoadError> {
        let mut allocated = Vec::new();
        let mut sizes = Vec::new();
        let mem = &mut self.mem;
        let result = decode::decode(module, &mut |size, align| {
            let a = mem
                .alloc(size, align)
                .map_err(|_| LoadError::OutOfMemory { requested: size })?;
            allocated.push(a);
            sizes.push((size, align));
            Ok(a)
        });
        match result {
            Ok(prog) => Ok((prog, allocated, sizes)),
            Err(e) => {
                for a in allocated {
                    let _ = self.mem.free(a);
                }
                Err(e)
            }
        }
    }

    /// Makes the allocations a cached decode made, in its order; `None` (and nothing
    /// allocated) unless every one lands where it landed then.
    fn replay(&mut self, allocs: &[decoded::Alloc]) -> Option<Vec<u64>> {
        let mut vars = Vec::with_capacity(allocs.len());
        for a in allocs {
            match self.mem.alloc(a.size, a.align) {
                Ok(addr) if addr == a.addr => vars.push(addr),
                other => {
                    if let Ok(addr) = other {
                        vars.push(addr);
                    }
                    for v in vars {
                        let _ = self.mem.free(v);
                    }
                    return None;
                }
            }
        }
        Some(vars)
    }

    /// Initialises a decoded program's variables and adds it to the loaded modules.
    fn install(&mut self, prog: Arc<Program>, global_vars: Vec<u64>) -> ModuleId {
        for (addr, bytes) in &prog.global_inits {
            self.mem
                .write(*addr, bytes)
                .expect("module variables are allocated with their initialisers' size");
        }
        let consts = prog.const_init.clone();
        self.modules.push(Some(Loaded {
            prog,
            consts,
            global_vars,
        }));
        ModuleId(self.modules.len() as u32 - 1)
    }

    /// Unloads a module and frees its global variables.
    pub fn unload(&mut self, m: ModuleId) -> Result<(), SimError> {
        let slot = self
            .modules
            .get_mut(m.0 as usize)
            .ok_or(SimError::UnknownModule(m.0))?;
        let loaded = slot.take().ok_or(SimError::UnknownModule(m.0))?;
        for a in loaded.global_vars {
            self.mem.free(a)?;
        }
        Ok(())
    }

    fn module(&self, m: ModuleId) -> Result<&Loaded, SimError> {
        self.modules
            .get(m.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(SimError::UnknownModule(m.0))
    }

    /// Instructions of the module that could not be decoded (each faults as an illegal
    /// instruction if executed).
    pub fn diagnostics(&self, m: ModuleId) -> Result<&[Diagnostic], SimError> {
        Ok(&self.module(m)?.prog.diags)
    }

    /// The kernels the module defines, in source order.
    pub fn kernels(&self, m: ModuleId) -> Result<Vec<&str>, SimError> {
        Ok(self
            .module(m)?
            .prog
            .funcs
            .iter()
            .filter(|f| f.is_kernel && f.defined)
            .map(|f| f.name.as_str())
            .collect())
    }

    fn kernel_index(&self, m: ModuleId, kernel: &str) -> Result<u32, SimError> {
        let l = self.module(m)?;
        l.prog
            .kernel(kernel)
            .ok_or_else(|| SimError::UnknownKernel {
                name: kernel.to_string(),
                available: self.kernels(m).map(|k| k.join(", ")).unwrap_or_default(),
            })
    }

    /// The parameters of a kernel.
    pub fn kernel_params(&self, m: ModuleId, kernel: &str) -> Result<&[KernelParam], SimError> {
        let k = self.kernel_index(m, kernel)?;
        Ok(&self.module(m)?.prog.funcs[k as usize].kparams)
    }

    /// Allocates `len` zeroed bytes of global memory; returns the device address:
    /// 256-byte aligned, with at least 4 KiB unmapped to the neighbouring allocations, at
    /// the lowest such address (freed space is reused). So addresses depend only on the
    /// live allocations: the same allocations in the same order after the same loads
    /// give the same addresses on a fresh GPU and on one that ran and freed anything
    /// before.
    pub fn alloc(&mut self, len: u64) -> Result<u64, SimError> {
        self.mem.alloc(len, 0)
    }

    /// Frees the allocation at `ptr`.
    pub fn free(&mut self, ptr: u64) -> Result<(), SimError> {
        self.mem.free(ptr)
    }

    /// Copies bytes to device memory.
    pub fn write(&mut self, ptr: u64, bytes: &[u8]) -> Result<(), SimError> {
        self.mem.write(ptr, bytes)
    }

    /// Copies bytes from device memory.
    pub fn read(&self, ptr: u64, out: &mut [u8]) -> Result<(), SimError> {
        self.mem.read(ptr, out)
    }

    fn var(&self, m: ModuleId, name: &str) -> Result<(VarSpace, u64, u64), SimError> {
        let l = self.module(m)?;
        let v =
            l.prog
                .vars
                .iter()
                .find(|v| v.name == name)
                .ok_or_else(|| SimError::UnknownSymbol {
                    name: name.to_string(),
                })?;
        if v.space == VarSpace::Shared {
            return Err(SimError::NotHostAccessible {
                name: name.to_string(),
            });
        }
        Ok((v.space, v.addr, v.size))
    }

    /// The device address of a module `.global` variable (`.const` variables have no
    /// global address and give an error).
    pub fn global_address(&self, m: ModuleId, name: &str) -> Result<u64, SimError> {
        match self.var(m, name)? {
            (VarSpace::Global, a, _) => Ok(a),
            _ => Err(SimError::NotHostAccessible {
                name: name.to_string(),
            }),
        }
    }

    /// Writes `bytes` at the start of module variable `name` (`.global` or `.const`).
    pub fn write_global(&mut self, m: ModuleId, name: &str, bytes: &[u8]) -> Result<(), SimError> {
        let (space, addr, size) = self.var(m, name)?;
        if bytes.len() as u64 > size {
            return Err(SimError::SymbolRange {
                name: name.to_string(),
                size,
                offset: 0,
                len: bytes.len() as u64,
            });
        }
        match space {
            VarSpace::Global => self.mem.write(addr, bytes),
            _ => {
                let l = self.modules[m.0 as usize]
                    .as_mut()
                    .ok_or(SimError::UnknownModule(m.0))?;
                l.consts[addr as usize..addr as usize + bytes.len()].copy_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// Reads the first `out.len()` bytes of module variable `name`.
    pub fn read_global(&self, m: ModuleId, name: &str, out: &mut [u8]) -> Result<(), SimError> {
        let (space, addr, size) = self.var(m, name)?;
        if out.len() as u64 > size {
            return Err(SimError::SymbolRange {
                name: name.to_string(),
                size,
                offset: 0,
                len: out.len() as u64,
            });
        }
        match space {
            VarSpace::Global => self.mem.read(addr, out),
            _ => {
                let l = self.module(m)?;
                out.copy_from_slice(&l.consts[addr as usize..addr as usize + out.len()]);
                Ok(())
            }
        }
    }

    /// Runs `kernel` of module `m` over a grid. API misuse (unknown kernel, wrong
    /// arguments, an unlaunchable configuration) is an error; anything the kernel does
    /// is in the report's outcome.
    pub fn launch(
        &mut self,
        m: ModuleId,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchReport, SimError> {
        let k = self.kernel_index(m, kernel)?;
        let profile = self.profile.clone();
        let loaded = self.modules[m.0 as usize]
            .as_mut()
            .ok_or(SimError::UnknownModule(m.0))?;
        let f = &loaded.prog.funcs[k as usize];
        // Arguments.
        if args.len() != f.kparams.len() {
            return Err(SimError::ArgCount {
                kernel: kernel.to_string(),
                expected: f.kparams.len(),
                got: args.len(),
            });
        }
        let mut kparams = vec![0u8; f.kparam_size as usize];
        for (i, (a, p)) in args.iter().zip(f.kparams.iter()).enumerate() {
            let b = a.bytes();
            if b.len() != p.size as usize {
                return Err(SimError::ArgSize {
                    kernel: kernel.to_string(),
                    index: i,
                    param: p.name.clone(),
                    expected: p.size,
                    got: b.len() as u32,
                });
            }
            kparams[p.offset as usize..p.offset as usize + b.len()].copy_from_slice(&b);
        }
        // Configuration.
        let invalid = |reason: String| Err(SimError::InvalidLaunch { reason });
        if cfg.grid.contains(&0) || cfg.block.contains(&0) {
            return invalid("grid and block dimensions must be at least 1".into());
        }
        if cfg.grid[0] > i32::MAX as u32 || cfg.grid[1] > 65535 || cfg.grid[2] > 65535 {
            return invalid(format!(
                "grid {:?} exceeds 2^31-1 x 65535 x 65535",
                cfg.grid
            ));
        }
        if cfg.block[0] > 1024 || cfg.block[1] > 1024 || cfg.block[2] > 64 {
            return invalid(format!("block {:?} exceeds 1024 x 1024 x 64", cfg.block));
        }
        let threads = cfg.block[0] as u64 * cfg.block[1] as u64 * cfg.block[2] as u64;
        if threads > profile.max_threads_per_cta as u64 {
            return invalid(format!(
                "{threads} threads per block exceed {}",
                profile.max_threads_per_cta
            ));
        }
        let shared = loaded.prog.dyn_shared_base as u64 + cfg.shared_bytes as u64;
        let shared = shared.max(loaded.prog.shared_static as u64);
        if shared > profile.max_shared_per_cta as u64 {
            return invalid(format!(
                "{shared} bytes of shared memory per block exceed {}",
                profile.max_shared_per_cta
            ));
        }
        let occupancy = profile.occupancy(threads as u32, shared as u32);
        if occupancy == 0 {
            return invalid("one block does not fit on an SM".into());
        }
        // Per-thread state (registers, local memory, call parameters) of every call
        // level a thread can reach must fit the virtual GPU's host memory budget.
        let depth = loaded.prog.max_depth(k) as u64;
        let p = &loaded.prog;
        let per_level = p.frame_regs as u64 * 8
            + p.frame_preds.div_ceil(8) as u64
            + p.frame_local as u64
            + p.frame_tparam as u64;
        if per_level * depth * threads > MAX_CTA_STATE {
            return invalid(format!(
                "{per_level} bytes of registers and local memory per thread and call level, \
                 for {threads} threads and {depth} call levels, exceed {MAX_CTA_STATE} bytes"
            ));
        }
        Ok(exec::launch(
            LaunchParams {
                prog: &loaded.prog,
                kernel: k,
                grid: cfg.grid,
                block: cfg.block,
                dyn_shared: cfg.shared_bytes,
                budget: cfg.budget,
                gpu: &profile,
                kparams: &kparams,
                consts: &mut loaded.consts,
                profiling: cfg.profile,
                occupancy,
                progress: cfg.progress.as_deref(),
                scheduling: self.scheduling,
            },
            &mut self.mem,
        ))
    }
}

#[cfg(test)]
mod parse_cache_tests {
    use super::*;

    const A: &str =
        ".version 7.0\n.target sm_80\n.address_size 64\n\n.visible .entry a() { ret; }\n";

    #[test]
    fn the_same_text_is_parsed_once_and_other_texts_are_not_confused() {
        let first = parsed(A).unwrap();
        assert!(Arc::ptr_eq(&first, &parsed(A).unwrap()));
        // the same length and hash bucket do not matter: the text is compared in full
        let b = A.replace("entry a()", "entry b()");
        let other = parsed(&b).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.functions().next().unwrap().name, "b");
        // a text that does not parse is an error every time, never a cached module
        let bad = A.replace("ret;", "ret");
        assert!(parsed(&bad).is_err());
        assert!(parsed(&bad).is_err());
        // a load through the cache is a load: two loads of one text are two modules
        let mut gpu = Gpu::new(GpuProfile::sim());
        let (m1, m2) = (gpu.load(A).unwrap(), gpu.load(A).unwrap());
        assert_ne!(m1, m2);
    }

    /// A module with a global variable whose address the kernel reads and stores.
    const G: &str = ".version 7.0\n.target sm_80\n.address_size 64\n\
        .global .align 4 .u32 g[4] = {11, 12, 13, 14};\n\
        .visible .entry k(.param .u64 out) {\n\
        .reg .u64 %rd<6>; .reg .u32 %r<3>;\n\
        ld.param.u64 %rd1, [out]; mov.u32 %r1, %tid.x;\n\
        mul.wide.u32 %rd2, %r1, 4; mov.u64 %rd3, g; add.u64 %rd4, %rd3, %rd2;\n\
        ld.global.u32 %r2, [%rd4];\n\
        mul.wide.u32 %rd5, %r1, 16; add.u64 %rd5, %rd1, %rd5;\n\
        st.global.u32 [%rd5], %r2; st.global.u64 [%rd5+8], %rd3;\n\
        ret;\n}\n";

    /// Loads `G` (after `before` bytes of other allocations), runs it and returns the
    /// program, the variable's address and the (value, address) each thread stored.
    fn run_g(before: u64) -> (Arc<Program>, u64, Vec<(u32, u64)>) {
        let mut gpu = Gpu::new(GpuProfile::sim());
        if before > 0 {
            gpu.alloc(before).unwrap();
        }
        let m = gpu.load(G).unwrap();
        let out = gpu.alloc(64).unwrap();
        let cfg = LaunchConfig::new([1, 1, 1], [4, 1, 1]);
        gpu.launch(m, "k", &cfg, &[KernelArg::Ptr(out)]).unwrap();
        let mut bytes = [0u8; 64];
        gpu.read(out, &mut bytes).unwrap();
        let rows = bytes
            .chunks(16)
            .map(|c| {
                let v = u32::from_le_bytes(c[..4].try_into().unwrap());
                (v, u64::from_le_bytes(c[8..].try_into().unwrap()))
            })
            .collect();
        let prog = gpu.modules[m.0 as usize].as_ref().unwrap().prog.clone();
        (prog, gpu.global_address(m, "g").unwrap(), rows)
    }

    #[test]
    fn a_module_is_decoded_again_when_its_variables_land_elsewhere() {
        let (first, addr, rows) = run_g(0);
        let want = |a| (11..15).map(|v| (v, a)).collect::<Vec<_>>();
        assert_eq!(rows, want(addr));
        // a fresh GPU puts the variable at the same address: the decoded program is reused
        let (again, addr2, rows2) = run_g(0);
        assert_eq!(addr2, addr);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(rows2, rows);
        // memory allocated first moves the variable: a program decoded for the old
        // address would read and report the wrong place
        let (moved, addr3, rows3) = run_g(4096);
        assert_ne!(addr3, addr);
        assert!(!Arc::ptr_eq(&first, &moved));
        assert_eq!(rows3, want(addr3));
    }
}
