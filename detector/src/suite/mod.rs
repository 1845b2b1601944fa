//! The signature suite: kernels aimed at the control units of design.md §3, run on
//! every warp slot of every SM, each word of each thread's record checked bit for bit
//! against its value computed on the CPU (see `docs/signature-suite.md`).
//!
//! | kernel | unit | aimed at |
//! |---|---|---|
//! | `sig_ids` | warp-scheduler | `%tid`, `%ctaid`, `%laneid` consistency, per-warp iteration counts (`iat`, `iaw`, `iac`, `wdrop`) |
//! | `sig_flow` | control-flow | nested divergent branches, path signatures, ballots and `activemask` at reconvergence, data-dependent loops, predicated-off instructions (`wv`, `brx`, `ial`) |
//! | `sig_alu` | decode | every integer, bitwise, shift, 16/32/64-bit and exact f32/f64 operation class, immediates of every width (`ioc`, `iio`, `ira`, `ir`, `fu`) |
//! | `sig_mem` | memory | loads from param, const, global, shared and local; stores to shared, local and global; atomics (`ims`, `imd`) |
//! | `sig_warp` | warp-ops | `shfl` (up, down, bfly, idx, segments), `vote`, `match`, `redux`, `bar.red` |
//! | `sig_src` | decode | operand sources, each in its own words with the record in place: parameters and constant bank (`ims`), numbered registers (`ira`), `%tid` lane uniformity (`iat` vs `iaw`); a record found without parameter (`iio` displaces it) |
//!
//! One launch per kernel fills the device ([`frame`]); [`check`] judges the records.

mod alu;
mod check;
mod flow;
mod frame;
mod ids;
mod mem;
mod src;
mod warp;

use crate::geometry::{Geometry, Level};
use frame::Shape;
use gpu::{Buffer, Device, DeviceExt, GpuError, HangKind, KernelArg, Limits, ModuleHandle};
use reports::check::{Coverage, Evidence, Finding, Severity};
use std::sync::OnceLock;
use std::time::Duration;

/// The signature suite: one PTX module of signature kernels and their expectations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Suite;

/// What one run of the suite on one device found and observed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SuiteRun {
    /// Every disagreeing word (grouped per kernel, SM and warp slot) and every kernel that
    /// did not complete.
    pub findings: Vec<Finding>,
    /// The SMs and warp slots every kernel reached.
    pub coverage: Coverage,
    /// Thread-instructions executed (virtual GPU).
    pub instructions: Option<u64>,
    /// Per launch, in order: the kernel, its seed, thread-instructions (virtual GPU) and
    /// wall time.
    pub launches: Vec<LaunchRecord>,
}

/// One launch of a signature kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchRecord {
    /// The kernel.
    pub kernel: &'static str,
    /// The seed its inputs came from.
    pub seed: u32,
    /// Thread-instructions executed (virtual GPU; `None` on a GPU or when it failed).
    pub instructions: Option<u64>,
    /// Wall time of the launch alone.
    pub launch: Duration,
    /// Wall time of the launch, the copies, the expectations and the judging.
    pub elapsed: Duration,
}

impl SuiteRun {
    /// The SMs the findings name, each once, the most named first (ties: in order of
    /// first mention): a fault's own SM leads, an SM that only caught a stray store
    /// follows.
    pub fn sms_named(&self) -> Vec<u32> {
        let mut out: Vec<(u32, usize)> = Vec::new();
        for f in &self.findings {
            let sm = match &f.evidence {
                Evidence::Signature { sm, .. } => Some(*sm),
                Evidence::KernelError { sm, .. } => *sm,
                Evidence::Rule { .. } => None,
            };
            if let Some(sm) = sm {
                match out.iter_mut().find(|(s, _)| *s == sm) {
                    Some(e) => e.1 += 1,
                    None => out.push((sm, 1)),
                }
            }
        }
        // stable: ties keep the order of first mention
        out.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        out.into_iter().map(|(sm, _)| sm).collect()
    }
}

/// One signature kernel: its PTX and its CPU model.
pub(crate) trait Kernel: Sync {
    /// The entry's name (`sig_ids`).
    fn name(&self) -> &'static str;
    /// The unit it exercises (`warp-scheduler`, `control-flow`, `decode`, `memory`,
    /// `warp-ops`).
    fn unit(&self) -> &'static str;
    /// The names of its record's words; word 0 is `ident`; a multiple of 4 long.
    fn words(&self) -> &'static [&'static str];
    /// Module-scope declarations it needs (constant tables).
    fn globals(&self) -> String {
        String::new()
    }
    /// Its `.entry`.
    fn ptx(&self) -> String;
    /// Thread-instructions per thread, an upper bound of the mean over a launch (the
    /// instruction budget that turns a hang into a finding is derived from it).
    fn cost(&self) -> u64;
    /// Arguments after `(out, args)` (the records' buffer and the launch's scalars,
    /// `Shape::args`).
    fn inputs(&self, _seed: u32) -> Vec<Input> {
        Vec::new()
    }
    /// A module global the host writes before each launch, and its words (`sig_src`:
    /// the record buffer's address `out` and the launch's scalars, so that its record
    /// is found without a kernel parameter).
    fn launch_global(&self, _c: &Ctx, _out: u64) -> Option<(&'static str, Vec<u32>)> {
        None
    }
    /// The expected records of the 32 lanes of warp slot `slot` (32 × R words, lane
    /// after lane; word 0, the identity, is the checker's).
    fn expect_warp(&self, c: &Ctx, slot: u32, out: &mut [u32]);
    /// Expectations that depend on what the device reported (`sig_ids`: which CTA each
    /// warp belongs to): `SMs × slots × 32 × R` words, or `None` for per-slot
    /// expectations from [`Kernel::expect_warp`].
    fn expect_device(&self, _c: &Ctx, _records: &[u8]) -> Option<Vec<u32>> {
        None
    }
}

/// What expectations depend on besides the thread: the launch and the seed.
pub(crate) struct Ctx {
    pub shape: Shape,
    pub seed: u32,
}

/// A kernel argument after `(out, slots, seed)`.
pub(crate) enum Input {
    U32(u32),
    U64(u64),
    /// A buffer of these words, passed by address.
    Words(Vec<u32>),
}

/// The kernels, in launch order.
fn kernels() -> [&'static dyn Kernel; 6] {
    [
        &ids::IDS,
        &flow::FLOW,
        &alu::ALU,
        &mem::MEM,
        &warp::WARP,
        &src::SRC,
    ]
}

/// Seeds of the kernels' inputs: the quick level runs the first, the full level all.
const SEEDS: [u32; 4] = [0x5EED_0001, 0xC0FF_EE02, 0x0BAD_F00D, 0x1234_5678];

/// Instruction budget of a launch: 3/2 of its cost (the instrumented copies a faulty
/// GPU runs in a few warp slots fit in the margin), plus a floor.
const BUDGET_NUM: u64 = 3;
const BUDGET_DEN: u64 = 2;
const BUDGET_FLOOR: u64 = 1 << 20;
/// Wall-clock deadline of one launch on a GPU. A virtual GPU gets none: its instruction
/// budget finds hangs exactly, while its wall time grows with the load of the machine
/// (eight virtual GPUs on two cores, a debug build) and would report hangs that are not.
const WALL: Duration = Duration::from_secs(2);

impl Suite {
    /// The suite's PTX module (load it, or an instrumented copy of it, and pass the
    /// handle to [`Suite::run_on`]).
    pub fn ptx(&self) -> &'static str {
        static PTX: OnceLock<String> = OnceLock::new();
        PTX.get_or_init(|| {
            let mut s = String::from(
                "//\n// gpufault signature suite (detector crate, generated by\n\
                 // detector/src/suite): one kernel per control unit; every thread writes\n\
                 // one record indexed by (%smid, %warpid, %laneid), checked on the CPU.\n\
                 //\n\n.version 7.0\n.target sm_80\n.address_size 64\n\n",
            );
            for k in kernels() {
                s += &k.globals();
            }
            for k in kernels() {
                s.push('\n');
                s += &k.ptx();
            }
            s
        })
    }

    /// The names of the suite's kernels, in launch order.
    pub fn kernels(&self) -> Vec<&'static str> {
        kernels().iter().map(|k| k.name()).collect()
    }

    /// Runs every kernel of the suite at `level` on `dev`, with the module `module`
    /// (the suite's PTX as loaded by the caller), filling `geometry`.
    ///
    /// A kernel that faults or hangs is a finding ([`Evidence::KernelError`], with the
    /// SM when the device's error names one), and the others still run. Each launch
    /// runs under [`Limits`] derived from the suite's cost (an instruction budget on
    /// the virtual GPU, a wall-clock deadline on a GPU); the device is left with
    /// `Limits::default()`. Errors are what kept the suite from running at all (an
    /// unsupported geometry, a lost device, a failed copy).
    pub fn run_on(
        &self,
        dev: &mut dyn Device,
        module: ModuleHandle,
        geometry: &Geometry,
        level: Level,
    ) -> Result<SuiteRun, GpuError> {
        let shape = Shape::of(geometry)?;
        let seeds: &[u32] = match level {
            Level::Quick => &SEEDS[..1],
            Level::Full => &SEEDS,
        };
        let mut run = SuiteRun::default();
        let mut observed = vec![true; shape.sms as usize * shape.slots as usize];
        let mut instructions = Some(0u64);
        let result: Result<bool, GpuError> = (|| {
            for &seed in seeds {
                for k in kernels() {
                    let start = std::time::Instant::now();
                    let c = Ctx { shape, seed };
                    let (launched, records, launch_time) = launch(dev, module, k, &c)?;
                    let failed = launched.as_ref().err();
                    let expected = match k.expect_device(&c, &records) {
                        Some(e) => e,
                        None => {
                            let r = k.words().len();
                            let mut e = vec![0u32; shape.slots as usize * 32 * r];
                            for (slot, w) in e.chunks_exact_mut(32 * r).enumerate() {
                                k.expect_warp(&c, slot as u32, w);
                            }
                            e
                        }
                    };
                    let failed_at = failed.map(|e| sm_in(&e.to_string()));
                    let judged = check::judge(k, &shape, &records, &expected, failed_at);
                    for (o, j) in observed.iter_mut().zip(&judged.observed) {
                        *o &= *j;
                    }
                    run.findings.extend(judged.findings);
                    let launch_insts = launched.as_ref().ok().copied().flatten();
                    instructions = instructions.zip(launch_insts).map(|(a, b)| a + b);
                    if let Some(e) = failed {
                        run.findings.push(kernel_error(k, e));
                    }
                    run.launches.push(LaunchRecord {
                        kernel: k.name(),
                        seed,
                        instructions: launch_insts,
                        launch: launch_time,
                        elapsed: start.elapsed(),
                    });
                    if failed.is_some() && dev.poisoned() {
                        // A GPU context after a sticky error runs nothing more.
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        })();
        dev.set_limits(Limits::default());
        let complete = result?;
        if !complete {
            observed.iter_mut().for_each(|o| *o = false);
        }
        run.instructions = instructions;
        run.coverage = coverage(&shape, &observed);
        Ok(run)
    }
}

/// What one launch gave: its outcome (thread-instructions, or the kernel's error), the
/// records it left (little-endian words), and its wall time.
type Launched = (Result<Option<u64>, GpuError>, Vec<u8>, Duration);

/// Launches kernel `k` once.
fn launch(
    dev: &mut dyn Device,
    module: ModuleHandle,
    k: &dyn Kernel,
    c: &Ctx,
) -> Result<Launched, GpuError> {
    let r = k.words().len();
    let n = c.shape.threads() as usize * r;
    let mut bufs: Vec<Buffer> = Vec::new();
    let result = (|| {
        let out = dev.alloc(n * 4)?;
        bufs.push(out);
        let scalars = dev.upload(&c.shape.args(r, c.seed))?;
        bufs.push(scalars);
        if let Some((name, words)) = k.launch_global(c, out.ptr) {
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            dev.write_global(module, name, &bytes)?;
        }
        let mut args = vec![KernelArg::from(out), KernelArg::from(scalars)];
        for input in k.inputs(c.seed) {
            args.push(match input {
                Input::U32(v) => KernelArg::U32(v),
                Input::U64(v) => KernelArg::U64(v),
                Input::Words(w) => {
                    let b = dev.upload(&w)?;
                    bufs.push(b);
                    KernelArg::from(b)
                }
            });
        }
        let virtual_gpu = matches!(dev.name().parse(), Ok(gpu::DeviceSpec::Sim(_)));
        dev.set_limits(Limits {
            instructions: Some(budget(k, &c.shape)),
            wall: (!virtual_gpu).then_some(WALL),
        });
        let start = std::time::Instant::now();
        let launched = match dev.launch(module, k.name(), &c.shape.launch(), &args) {
            Ok(stats) => Ok(stats.instructions),
            Err(e) if is_kernel_fault(&e, virtual_gpu) => Err(e),
            Err(e) => return Err(e),
        };
        let time = start.elapsed();
        if launched.is_err() && dev.poisoned() {
            return Ok((launched, vec![0; n * 4], time));
        }
        let mut bytes = vec![0u8; n * 4];
        dev.read(out, &mut bytes)?;
        Ok((launched, bytes, time))
    })();
    for b in bufs {
        // A failed free after a sticky error changes nothing the check reports.
        let _ = dev.free(b);
    }
    result
}

/// The instruction budget of a launch of `k`.
fn budget(k: &dyn Kernel, shape: &Shape) -> u64 {
    shape.threads() * k.cost() * BUDGET_NUM / BUDGET_DEN + BUDGET_FLOOR
}

/// Whether `e` is what a faulty GPU does to a kernel (crash, trap, hang, failed
/// launch) rather than a reason the check could not run.
///
/// A virtual GPU's launches have no wall-clock limit of their own (its instruction
/// budget finds hangs exactly), so a wall-clock deadline passing during one — the
/// check's own `--timeout` running out in a worker process on an overloaded machine —
/// says nothing about the GPU: the check is incomplete (`unknown`), never `faulty`.
/// On a GPU the deadline is the launch's own ([`WALL`], far beyond any suite kernel)
/// and a launch past it is a hang.
fn is_kernel_fault(e: &GpuError, virtual_gpu: bool) -> bool {
    match e {
        GpuError::Hang {
            kind: HangKind::Deadline,
            ..
        } => !virtual_gpu,
        GpuError::IllegalAddress { .. }
        | GpuError::MisalignedAddress { .. }
        | GpuError::IllegalInstruction { .. }
        | GpuError::Trap { .. }
        | GpuError::Hang { .. }
        | GpuError::LaunchFailed { .. } => true,
        _ => false,
    }
}

/// The finding of a kernel that did not complete, with the SM its error names.
fn kernel_error(k: &dyn Kernel, e: &GpuError) -> Finding {
    let text = e.to_string();
    Finding {
        severity: Severity::Faulty,
        evidence: Evidence::KernelError {
            unit: k.unit().to_string(),
            kernel: k.name().to_string(),
            sm: sm_in(&text),
            error: text,
        },
    }
}

/// The SM a device error names (`… SM 17 warp slot 3 lane 0`), if any.
fn sm_in(text: &str) -> Option<u32> {
    let at = text.find(" SM ")? + 4;
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn coverage(shape: &Shape, observed: &[bool]) -> Coverage {
    let slots = shape.slots as usize;
    let mut c = Coverage {
        sms: shape.sms,
        warp_slots: shape.slots,
        ..Coverage::default()
    };
    for (sm, o) in observed.chunks_exact(slots).enumerate() {
        let seen = o.iter().filter(|&&x| x).count();
        c.slots_observed += seen as u64;
        if seen == slots {
            c.sms_observed += 1;
        } else {
            c.sms_unobserved.push(sm as u32);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sm_of_a_device_error_is_read_from_its_text() {
        assert_eq!(
            sm_in("trap: trap in kernel `k` (function `k`, line 3), thread (0,0,0) of CTA (5,0,0), SM 17 warp slot 2 lane 0"),
            Some(17)
        );
        assert_eq!(sm_in("hang: deadline of 2 s passed"), None);
        assert_eq!(sm_in("SM x"), None);
    }

    #[test]
    fn a_deadline_on_a_virtual_gpu_is_no_finding_but_its_budget_is() {
        let hang = |kind| GpuError::Hang {
            kind,
            detail: "launch of `sig_ids` on sim:h100 did not finish within 1s".into(),
        };
        // the check's own timeout ran out in a worker: unknown, not faulty
        assert!(!is_kernel_fault(&hang(HangKind::Deadline), true));
        // a GPU's launch past its own deadline, or a virtual GPU's budget or deadlock
        assert!(is_kernel_fault(&hang(HangKind::Deadline), false));
        assert!(is_kernel_fault(&hang(HangKind::Budget), true));
        assert!(is_kernel_fault(&hang(HangKind::Deadlock), true));
        let trap = GpuError::Trap {
            detail: "trap".into(),
        };
        assert!(is_kernel_fault(&trap, true) && is_kernel_fault(&trap, false));
        let lost = GpuError::Driver {
            detail: "lost".into(),
        };
        assert!(!is_kernel_fault(&lost, true) && !is_kernel_fault(&lost, false));
    }

    #[test]
    fn every_kernel_costs_what_its_hang_budget_assumes() {
        let p = gpu::Platform::new();
        let spec: gpu::DeviceSpec = "sim".parse().unwrap();
        let g = Geometry::of(&p.info(&spec).unwrap());
        let mut dev = p.open(&spec).unwrap();
        let m = dev.load(Suite.ptx()).unwrap();
        let run = Suite.run_on(dev.as_mut(), m, &g, Level::Quick).unwrap();
        let threads = Shape::of(&g).unwrap().threads();
        for (k, l) in kernels().iter().zip(&run.launches) {
            let insts = l.instructions.unwrap();
            assert!(
                insts <= threads * k.cost() && insts * 10 >= threads * k.cost() * 8,
                "{}: {} thread-instructions per thread, cost() says {}",
                k.name(),
                insts / threads,
                k.cost()
            );
        }
    }

    #[test]
    fn every_kernel_has_named_words_in_whole_vector_stores() {
        for k in kernels() {
            let w = k.words();
            assert_eq!(w.len() % 4, 0, "{}", k.name());
            assert_eq!(w[0], "ident", "{}", k.name());
            let mut seen = std::collections::BTreeSet::new();
            for n in w {
                assert!(seen.insert(*n), "{}: word `{n}` twice", k.name());
            }
        }
    }
}
