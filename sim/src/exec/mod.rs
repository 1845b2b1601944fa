//! The executor: runs a decoded kernel over a grid, CTA by CTA, warp by warp.
//!
//! # SIMT model
//!
//! A warp is a set of *groups*: disjoint lane masks, each with its own pc and call
//! stack. The warp always runs the group with the smallest key (the call-site pcs of its
//! stack followed by its pc, compared lexicographically), and merges groups whose keys
//! are equal. A branch that splits a group's lanes creates a second group; lanes that
//! took the forward path wait (their pc is larger) until the others catch up, so loops
//! with divergent exits, nested and unstructured control flow all reconverge at the
//! first common instruction in layout order, and no reconvergence table is needed.
//!
//! Registers live in per-depth frames shared by all groups of a warp (each lane only
//! touches its own column), so merging groups never copies registers.
//!
//! Warp-synchronous instructions (`shfl.sync`, `vote.sync`, `match.sync`,
//! `redux.sync`, `bar.warp.sync`) wait until every non-exited lane of their member mask
//! is in the executing group. If every group of a warp waits (on such instructions or on
//! CTA barriers) and at least one waits on a warp-synchronous instruction, the one with
//! the smallest key executes with the lanes it has (the others read as they are); this is
//! undefined behaviour in PTX, and this rule keeps it deterministic.
//!
//! CTA barriers (`bar.sync`, `bar.arrive`, `bar.red`, `barrier.*`) count warps: a warp
//! arrives at barrier `b` when all of its non-exited lanes wait at `b` (from any
//! instruction). A barrier without thread count completes when every warp with live
//! lanes has arrived; with count `n` when `32 × arrived warps ≥ n`. Exits re-check
//! waiting barriers. When no warp of a CTA can run and no barrier can complete, the
//! launch ends in [`FaultKind::BarrierDeadlock`] — detected exactly, not by timeout.
//!
//! With the fixed scheduling, warps of a CTA run round-robin, [`QUANTUM`]
//! warp-instructions per turn (less when they block), and CTAs run in linear order, each
//! to completion. A seeded scheduling draws the CTA order, placement, warp order and
//! turn lengths instead (`crate::schedule`).

mod alu;
mod grid;
mod mem;
mod warp_ops;

use crate::decode::{Builtin, Program, FUNC_BASE, MAX_CALL_DEPTH};
use crate::gpu::LaunchProgress;
use crate::ir::*;
use crate::memory::GlobalMemory;
use crate::profile::GpuProfile;
use crate::report::{ExecProfile, Fault, FaultKind, InstSite, LaunchReport};
use crate::schedule::{Scheduling, Turns};

/// Warp-instructions a warp runs per scheduling turn at most.
pub(crate) const QUANTUM: u32 = 2048;

/// Everything a launch needs besides global memory.
pub(crate) struct LaunchParams<'a> {
    pub prog: &'a Program,
    pub kernel: u32,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub dyn_shared: u32,
    pub budget: u64,
    pub gpu: &'a GpuProfile,
    pub kparams: &'a [u8],
    pub consts: &'a mut Vec<u8>,
    pub profiling: bool,
    pub occupancy: u32,
    pub progress: Option<&'a LaunchProgress>,
    pub scheduling: Scheduling,
}

/// Receives every executed warp-instruction (profiling). The default methods do
/// nothing, so the plain run compiles them away.
pub(crate) trait Observer {
    /// A warp of SM `sm` in slot `slot` starts a scheduling turn.
    #[inline(always)]
    fn enter(&mut self, _sm: u32, _slot: u32) {}
    /// Instruction `pc` issues for the `active` lanes of a group, of which `executed`
    /// have a true guard.
    #[inline(always)]
    fn inst(&mut self, _pc: u32, _active: u32, _executed: u32) {}
}

struct NoObserver;
impl Observer for NoObserver {}

struct Profiler {
    warp_counts: Vec<u64>,
    thread_counts: Vec<u64>,
    lanes: Vec<Option<Box<[[u32; 2]]>>>,
    slot_threads: Vec<u64>,
    cur: usize,
    warp_slots: u32,
    n: usize,
}

impl Observer for Profiler {
    fn enter(&mut self, sm: u32, slot: u32) {
        self.cur = (sm * self.warp_slots + slot) as usize;
        if self.lanes[self.cur].is_none() {
            self.lanes[self.cur] = Some(vec![[0; 2]; self.n].into_boxed_slice());
        }
    }

    #[inline]
    fn inst(&mut self, pc: u32, active: u32, executed: u32) {
        let p = pc as usize;
        let c = active.count_ones() as u64;
        self.warp_counts[p] += 1;
        self.thread_counts[p] += c;
        self.slot_threads[self.cur] += c;
        if let Some(l) = &mut self.lanes[self.cur] {
            l[p][0] |= active;
            l[p][1] |= executed;
        }
    }
}

/// Why a group stopped running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Runnable.
    Ready,
    /// At a warp-synchronous instruction, waiting for the lanes of this member mask.
    Sync(u32),
    /// At CTA barrier `b` (sync or red), waiting for completion.
    Bar(u8),
    /// At `bar.arrive` on barrier `b`, waiting for its warp's arrival.
    Arrive(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    mask: u32,
    pc: u32,
    /// Call sites of the active calls, outermost first.
    stack: Vec<u32>,
    wait: Wait,
    /// Picked by force: its warp-synchronous instruction runs with the lanes present.
    forced: bool,
}

impl Group {
    fn key_cmp(&self, o: &Group) -> std::cmp::Ordering {
        let a = self.stack.iter().chain(std::iter::once(&self.pc));
        let b = o.stack.iter().chain(std::iter::once(&o.pc));
        a.cmp(b)
    }
}

/// Whether two call-site stacks are equal. They are short (a frame per call), and this
/// runs for every pair of groups at every scheduling step: an element loop beats the
/// `memcmp` call slice equality makes (5% of the signature suite's time).
#[inline(always)]
fn same_stack(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Per-warp state: register frames, local memory, groups.
pub(crate) struct Warp {
    regs: Vec<u64>,
    preds: Vec<u32>,
    local: Vec<u8>,
    tparam: Vec<u8>,
    /// Frames allocated.
    depths: u32,
    groups: Vec<Group>,
    /// Lanes that have not exited.
    live: u32,
    /// Warp slot on the SM (`%warpid`).
    slot: u32,
    /// Index of the warp in its CTA.
    index: u32,
    /// Lanes waiting at each barrier.
    bar_lanes: [u32; 16],
    /// Whether this warp's arrival at each barrier has been counted.
    arrived: u16,
}

#[derive(Debug, Clone, Copy)]
struct Barrier {
    /// Warps arrived.
    warps: u32,
    /// Thread count given by the arriving instructions, if any.
    expected: Option<u32>,
    popc: u32,
    all: bool,
    any: bool,
}

impl Barrier {
    const FRESH: Barrier = Barrier {
        warps: 0,
        expected: None,
        popc: 0,
        all: true,
        any: false,
    };
}

/// How a group's run ended.
enum Stop {
    /// Pick again (divergence, convergence point, call, return, block).
    Resched,
    /// The warp used its quantum.
    Quantum,
}

/// The state of a launch.
pub(crate) struct Machine<'a> {
    prog: &'a Program,
    insts: &'a [Inst],
    mem: &'a mut GlobalMemory,
    consts: &'a mut Vec<u8>,
    kparams: &'a [u8],
    gpu: &'a GpuProfile,
    kernel: u32,
    grid: [u32; 3],
    block: [u32; 3],
    nthreads: u32,
    dyn_shared: u32,
    shared: Vec<u8>,
    cta: [u32; 3],
    sm: u32,
    bars: [Barrier; 16],
    /// Allocation index cache for global accesses (most recent first).
    cache: [usize; 2],
    warp_insts: u64,
    thread_insts: u64,
    budget: u64,
    /// Warp-instructions issued per SM (the `%clock` source).
    sm_clock: Vec<u64>,
    /// The seeded warp turns of the running CTA (`None`: the fixed round-robin).
    turns: Option<Turns>,
    f_regs: usize,
    f_preds: usize,
    f_local: usize,
    f_tparam: usize,
}

/// A fault kind with the lane that caused it (the machine adds the location).
pub(crate) struct LaneFault {
    pub kind: FaultKind,
    pub lane: u32,
}

impl LaneFault {
    #[cold]
    pub(crate) fn new(kind: FaultKind, lane: u32) -> LaneFault {
        LaneFault { kind, lane }
    }
}

type ExecResult<T> = Result<T, LaneFault>;

#[cold]
fn illegal(reason: impl Into<String>, lane: u32) -> LaneFault {
    LaneFault::new(
        FaultKind::IllegalInstruction {
            reason: reason.into(),
        },
        lane,
    )
}

/// Runs a launch to completion or to its first fault.
pub(crate) fn launch(p: LaunchParams<'_>, mem: &mut GlobalMemory) -> LaunchReport {
    let prog = p.prog;
    let [f_regs, f_preds, f_local, f_tparam] = prog.frame_of(p.kernel);
    let mut m = Machine {
        prog,
        insts: &prog.insts,
        mem,
        consts: p.consts,
        kparams: p.kparams,
        gpu: p.gpu,
        kernel: p.kernel,
        grid: p.grid,
        block: p.block,
        nthreads: p.block[0] * p.block[1] * p.block[2],
        dyn_shared: p.dyn_shared,
        shared: Vec::new(),
        cta: [0; 3],
        sm: 0,
        bars: [Barrier::FRESH; 16],
        cache: [0; 2],
        warp_insts: 0,
        thread_insts: 0,
        budget: p.budget,
        sm_clock: vec![0; p.gpu.sms as usize],
        turns: None,
        f_regs: f_regs as usize * 32,
        f_preds: f_preds as usize,
        f_local: f_local as usize,
        f_tparam: f_tparam as usize,
    };
    let (outcome, profile) = if p.profiling {
        let n = prog.insts.len();
        let slots = (p.gpu.sms * p.gpu.warp_slots) as usize;
        let mut obs = Profiler {
            warp_counts: vec![0; n],
            thread_counts: vec![0; n],
            lanes: vec![None; slots],
            slot_threads: vec![0; slots],
            cur: 0,
            warp_slots: p.gpu.warp_slots,
            n,
        };
        let o = m.run_grid(p.occupancy, p.scheduling, p.progress, &mut obs);
        let mut index_in_fn = vec![0u32; n];
        for (pc, slot) in index_in_fn.iter_mut().enumerate() {
            let f = &prog.funcs[prog.func_of[pc] as usize];
            *slot = pc as u32 - f.entry;
        }
        let sites = (0..n)
            .map(|pc| InstSite {
                function: prog.funcs[prog.func_of[pc] as usize].name.clone(),
                index: index_in_fn[pc],
                line: prog.lines[pc],
            })
            .collect();
        let prof = ExecProfile {
            sites,
            warp_counts: obs.warp_counts,
            thread_counts: obs.thread_counts,
            warp_slots: p.gpu.warp_slots,
            sms: p.gpu.sms,
            lanes: obs.lanes,
            slot_threads: obs.slot_threads,
        };
        (o, Some(prof))
    } else {
        (
            m.run_grid(p.occupancy, p.scheduling, p.progress, &mut NoObserver),
            None,
        )
    };
    LaunchReport {
        kernel: prog.funcs[p.kernel as usize].name.clone(),
        grid: p.grid,
        block: p.block,
        dynamic_shared: p.dyn_shared,
        outcome,
        warp_instructions: m.warp_insts,
        thread_instructions: m.thread_insts,
        ctas_per_sm: p.occupancy,
        profile,
    }
}

impl<'a> Machine<'a> {
    fn ensure_depth(&self, w: &mut Warp, depths: u32) {
        if w.depths >= depths {
            return;
        }
        let d = depths as usize;
        w.regs.resize(d * self.f_regs, 0);
        w.preds.resize(d * self.f_preds, 0);
        w.local.resize(d * 32 * self.f_local, 0);
        w.tparam.resize(d * 32 * self.f_tparam, 0);
        w.depths = depths;
    }

    /// Turns a lane fault into a located fault.
    #[cold]
    fn locate(&self, w: &Warp, (pc, f): (u32, LaneFault)) -> Fault {
        let t = w.index * 32 + f.lane;
        let [bx, by, _] = self.block;
        let func = self
            .prog
            .func_of
            .get(pc as usize)
            .map(|&i| self.prog.funcs[i as usize].name.clone())
            .unwrap_or_default();
        Fault {
            kind: f.kind,
            kernel: self.prog.funcs[self.kernel as usize].name.clone(),
            function: func,
            line: self.prog.lines.get(pc as usize).copied().unwrap_or(0),
            pc,
            cta: self.cta,
            thread: [t % bx, (t / bx) % by, t / (bx * by)],
            lane: f.lane,
            sm: self.sm,
            warp_slot: w.slot,
        }
    }

    /// Runs the current CTA. On a fault, gives the warp index and (pc, fault).
    fn run_cta<O: Observer>(
        &mut self,
        warps: &mut [Warp],
        obs: &mut O,
    ) -> Result<(), (usize, (u32, LaneFault))> {
        loop {
            let mut progressed = false;
            let mut live = false;
            for turn in 0..warps.len() {
                let wi = self.warp_in_turn(turn);
                if warps[wi].live == 0 {
                    continue;
                }
                live = true;
                obs.enter(self.sm, warps[wi].slot);
                match self.run_warp(warps, wi, obs, false) {
                    Ok(p) => progressed |= p,
                    Err(f) => return Err((wi, f)),
                }
            }
            if !live {
                return Ok(());
            }
            if progressed {
                continue;
            }
            // Nothing can run. A warp-synchronous wait can be forced; otherwise every
            // live thread waits at a barrier that cannot complete.
            let mut forced = false;
            for turn in 0..warps.len() {
                let wi = self.warp_in_turn(turn);
                if warps[wi]
                    .groups
                    .iter()
                    .any(|g| matches!(g.wait, Wait::Sync(_)))
                {
                    obs.enter(self.sm, warps[wi].slot);
                    self.run_warp(warps, wi, obs, true).map_err(|f| (wi, f))?;
                    forced = true;
                    break;
                }
            }
            if !forced {
                return Err(self.deadlock(warps));
            }
        }
    }

    #[cold]
    fn deadlock(&self, warps: &[Warp]) -> (usize, (u32, LaneFault)) {
        let blocked: u32 = warps
            .iter()
            .flat_map(|w| w.groups.iter())
            .map(|g| g.mask.count_ones())
            .sum();
        // Report the first waiting group (every live lane is in a group).
        let (wi, pc, lane) = warps
            .iter()
            .enumerate()
            .find_map(|(i, w)| w.groups.first().map(|g| (i, g.pc, g.mask.trailing_zeros())))
            .unwrap_or((0, 0, 0));
        (
            wi,
            (
                pc,
                LaneFault::new(
                    FaultKind::BarrierDeadlock {
                        blocked_threads: blocked,
                    },
                    lane,
                ),
            ),
        )
    }

    /// Merges groups with equal keys (runnable or warp-sync waiting ones).
    fn merge_groups(w: &mut Warp) {
        if w.groups.len() < 2 {
            return;
        }
        let mut i = 0;
        while i < w.groups.len() {
            let mut j = i + 1;
            while j < w.groups.len() {
                let (a, b) = (&w.groups[i], &w.groups[j]);
                let mergeable = |x: Wait| matches!(x, Wait::Ready | Wait::Sync(_));
                if a.pc == b.pc
                    && same_stack(&a.stack, &b.stack)
                    && mergeable(a.wait)
                    && mergeable(b.wait)
                {
                    let m = b.mask;
                    w.groups[i].mask |= m;
                    w.groups[i].wait = Wait::Ready;
                    w.groups.swap_remove(j);
                } else {
                    j += 1;
                }
            }
            i += 1;
        }
    }

    /// The group to run next: the smallest key among runnable groups (a warp-sync
    /// waiter is runnable when its member lanes are all present, or when `force`).
    fn pick(w: &mut Warp, force: bool) -> Option<usize> {
        Self::merge_groups(w);
        let live = w.live;
        let mut best: Option<usize> = None;
        for (i, g) in w.groups.iter().enumerate() {
            let runnable = match g.wait {
                Wait::Ready => true,
                Wait::Sync(m) => m & live & !g.mask == 0,
                _ => false,
            };
            if runnable && best.is_none_or(|b| g.key_cmp(&w.groups[b]).is_lt()) {
                best = Some(i);
            }
        }
        if best.is_none() && force {
            for (i, g) in w.groups.iter().enumerate() {
                if matches!(g.wait, Wait::Sync(_))
                    && best.is_none_or(|b| g.key_cmp(&w.groups[b]).is_lt())
                {
                    best = Some(i);
                }
            }
            if let Some(b) = best {
                w.groups[b].forced = true;
            }
        }
        if let Some(b) = best {
            w.groups[b].wait = Wait::Ready;
        }
        best
    }

    /// The pc at which group `gi` must stop because another group's key is reached.
    fn limit(w: &Warp, gi: usize) -> u32 {
        let g = &w.groups[gi];
        let mut limit = u32::MAX;
        for (i, o) in w.groups.iter().enumerate() {
            if i == gi || matches!(o.wait, Wait::Bar(_) | Wait::Arrive(_)) {
                continue;
            }
            if same_stack(&o.stack, &g.stack) {
                if o.pc > g.pc {
                    limit = limit.min(o.pc);
                }
            } else if o.stack.len() > g.stack.len()
                && same_stack(&o.stack[..g.stack.len()], &g.stack)
            {
                let site = o.stack[g.stack.len()];
                if site >= g.pc {
                    limit = limit.min(site + 1);
                }
            }
        }
        limit
    }

    /// Runs warp `wi` for up to one quantum. Returns whether it executed anything.
    fn run_warp<O: Observer>(
        &mut self,
        warps: &mut [Warp],
        wi: usize,
        obs: &mut O,
        force: bool,
    ) -> Result<bool, (u32, LaneFault)> {
        let mut quantum = match &mut self.turns {
            None => QUANTUM,
            Some(t) => t.turn(),
        };
        let mut progressed = false;
        let mut force = force;
        loop {
            let w = &mut warps[wi];
            let Some(gi) = Self::pick(w, force) else {
                return Ok(progressed);
            };
            force = false;
            progressed = true;
            let limit = Self::limit(w, gi);
            match self.exec(warps, wi, gi, limit, &mut quantum, obs)? {
                Stop::Resched => {}
                Stop::Quantum => return Ok(true),
            }
            if quantum == 0 {
                return Ok(true);
            }
        }
    }

    /// The hot loop: runs group `gi` of warp `wi` until it stops.
    #[inline(never)]
    fn exec<O: Observer>(
        &mut self,
        warps: &mut [Warp],
        wi: usize,
        gi: usize,
        limit: u32,
        quantum: &mut u32,
        obs: &mut O,
    ) -> Result<Stop, (u32, LaneFault)> {
        let w = &mut warps[wi];
        let gmask = w.groups[gi].mask;
        let mut pc = w.groups[gi].pc;
        let depth = w.groups[gi].stack.len();
        let multi = w.groups.len() > 1;
        let threads = gmask.count_ones() as u64;
        let mut forced = std::mem::take(&mut w.groups[gi].forced);
        let insts = self.insts;
        let (fr, fp) = (self.f_regs, self.f_preds);
        macro_rules! fault {
            ($e:expr) => {{
                w.groups[gi].pc = pc;
                return Err((pc, $e));
            }};
        }
        let regs = &mut w.regs[depth * fr..(depth + 1) * fr];
        let preds = &mut w.preds[depth * fp..(depth + 1) * fp];
        let budget = self.budget;
        loop {
            if pc >= limit {
                w.groups[gi].pc = pc;
                return Ok(Stop::Resched);
            }
            if *quantum == 0 {
                w.groups[gi].pc = pc;
                return Ok(Stop::Quantum);
            }
            let Some(inst) = insts.get(pc as usize) else {
                fault!(illegal(
                    "execution ran past the end of the function",
                    gmask.trailing_zeros()
                ));
            };
            let mask = match inst.guard {
                None => gmask,
                Some((p, neg)) => gmask & (preds[p as usize] ^ if neg { !0 } else { 0 }),
            };
            // A warp-synchronous instruction first waits for the other lanes of its
            // member mask (see the module doc); waiting issues nothing.
            let mut member = 0;
            if let Op::Shfl { mask: mm, .. }
            | Op::Vote { mask: mm, .. }
            | Op::Match { mask: mm, .. }
            | Op::Redux { mask: mm, .. }
            | Op::WarpSync { mask: mm } = &inst.op
            {
                member = alu::rd(regs, *mm)[gmask.trailing_zeros() as usize] as u32;
                if member & w.live & !gmask != 0 && !forced {
                    let g = &mut w.groups[gi];
                    g.pc = pc;
                    g.wait = Wait::Sync(member);
                    return Ok(Stop::Resched);
                }
            }
            *quantum -= 1;
            self.warp_insts += 1;
            self.sm_clock[self.sm as usize] += 1;
            self.thread_insts += threads;
            if self.thread_insts > budget {
                self.thread_insts -= threads;
                self.warp_insts -= 1;
                let lane = gmask.trailing_zeros();
                fault!(LaneFault::new(
                    FaultKind::BudgetExceeded {
                        budget: self.budget
                    },
                    lane
                ));
            }
            obs.inst(pc, gmask, mask);
            match &inst.op {
                Op::Bra { target } => {
                    if mask == gmask {
                        pc = *target;
                        if multi {
                            w.groups[gi].pc = pc;
                            return Ok(Stop::Resched);
                        }
                        continue;
                    }
                    if mask != 0 {
                        let g = &mut w.groups[gi];
                        g.mask = gmask & !mask;
                        g.pc = pc + 1;
                        let stack = g.stack.clone();
                        w.groups.push(Group {
                            mask,
                            pc: *target,
                            stack,
                            wait: Wait::Ready,
                            forced: false,
                        });
                        return Ok(Stop::Resched);
                    }
                }
                Op::Nop => {}
                Op::Exit | Op::Ret | Op::Call { .. } | Op::CallInd { .. } | Op::Brx { .. } => {
                    if mask == 0 {
                        pc += 1;
                        continue;
                    }
                    w.groups[gi].pc = pc;
                    if mask != gmask {
                        // Guard splits the group: the rest continues after it.
                        let g = &mut w.groups[gi];
                        g.mask = mask;
                        let stack = g.stack.clone();
                        w.groups.push(Group {
                            mask: gmask & !mask,
                            pc: pc + 1,
                            stack,
                            wait: Wait::Ready,
                            forced: false,
                        });
                    }
                    self.control(warps, wi, gi, pc).map_err(|f| (pc, f))?;
                    return Ok(Stop::Resched);
                }
                Op::Trap => {
                    if mask != 0 {
                        fault!(LaneFault::new(FaultKind::Trap, mask.trailing_zeros()));
                    }
                }
                Op::Illegal(i) => {
                    if mask != 0 {
                        let msg = self.prog.diags[*i as usize].error.to_string();
                        fault!(illegal(msg, mask.trailing_zeros()));
                    }
                }
                Op::Bar { .. } => {
                    w.groups[gi].pc = pc;
                    if mask == 0 {
                        pc += 1;
                        continue;
                    }
                    if mask != gmask {
                        let g = &mut w.groups[gi];
                        g.mask = mask;
                        let stack = g.stack.clone();
                        w.groups.push(Group {
                            mask: gmask & !mask,
                            pc: pc + 1,
                            stack,
                            wait: Wait::Ready,
                            forced: false,
                        });
                    }
                    self.barrier(warps, wi, gi, pc, depth)
                        .map_err(|f| (pc, f))?;
                    return Ok(Stop::Resched);
                }
                Op::Shfl { .. }
                | Op::Vote { .. }
                | Op::Match { .. }
                | Op::Redux { .. }
                | Op::WarpSync { .. } => {
                    warp_ops::exec(&inst.op, &mut *regs, &mut *preds, mask, member)
                        .map_err(|f| (pc, f))?;
                }
                // The hottest families go straight to their handlers (one dispatch).
                Op::IBin { op, t, d, a, b } => {
                    if mask != 0 {
                        alu::ibin(*op, *t, regs, *d, *a, *b, mask);
                    }
                }
                Op::ITer { op, t, d, a, b, c } => {
                    if mask != 0 {
                        alu::iter(*op, *t, regs, *d, *a, *b, *c, mask);
                    }
                }
                &Op::Fma {
                    t,
                    rnd,
                    ftz,
                    sat,
                    relu,
                    d,
                    a,
                    b,
                    c,
                } => {
                    if mask != 0 {
                        alu::fma(t, rnd, ftz, sat, relu, regs, d, a, b, c, mask);
                    }
                }
                &Op::FBin {
                    op,
                    t,
                    rnd,
                    ftz,
                    sat,
                    d,
                    a,
                    b,
                } => {
                    if mask != 0 {
                        alu::fbin(op, t, rnd, ftz, sat, regs, d, a, b, mask);
                    }
                }
                &Op::Setp {
                    cmp,
                    t,
                    ftz,
                    d,
                    dn,
                    a,
                    b,
                    comb,
                } => {
                    if mask != 0 {
                        alu::setp(cmp, t, ftz, d, dn, a, b, comb, regs, preds, mask);
                    }
                }
                &Op::Ld1 { space, t, d, addr } => {
                    if mask != 0 {
                        let mut cx = Cx {
                            m: &mut *self,
                            local: &mut w.local,
                            tparam: &mut w.tparam,
                            depth,
                            slot: w.slot,
                            windex: w.index,
                            gmask,
                        };
                        if let Err(f) = cx.ld1(space, t, d, addr, &mut *regs, mask) {
                            fault!(f);
                        }
                    }
                }
                &Op::St1 { space, t, s, addr } => {
                    if mask != 0 {
                        let mut cx = Cx {
                            m: &mut *self,
                            local: &mut w.local,
                            tparam: &mut w.tparam,
                            depth,
                            slot: w.slot,
                            windex: w.index,
                            gmask,
                        };
                        if let Err(f) = cx.st1(space, t, s, addr, &mut *regs, mask) {
                            fault!(f);
                        }
                    }
                }
                &Op::Mov { d, a } => {
                    if mask != 0 {
                        alu::map1(regs, d, a, mask, |x| x);
                    }
                }
                op => {
                    if mask != 0 {
                        let mut cx = Cx {
                            m: &mut *self,
                            local: &mut w.local,
                            tparam: &mut w.tparam,
                            depth,
                            slot: w.slot,
                            windex: w.index,
                            gmask,
                        };
                        if let Err(f) = cx.step(op, &mut *regs, &mut *preds, mask) {
                            fault!(f);
                        }
                    }
                }
            }
            forced = false;
            pc += 1;
        }
    }

    /// Calls, returns, exits and indexed branches of group `gi` (all its lanes).
    fn control(&mut self, warps: &mut [Warp], wi: usize, gi: usize, pc: u32) -> ExecResult<()> {
        let w = &mut warps[wi];
        let mask = w.groups[gi].mask;
        let lane0 = mask.trailing_zeros();
        let insts = self.insts;
        let prog = self.prog;
        match &insts[pc as usize].op {
            Op::Exit => {
                self.exit_lanes(warps, wi, gi);
            }
            Op::Ret => {
                let Some(site) = w.groups[gi].stack.pop() else {
                    self.exit_lanes(warps, wi, gi);
                    return Ok(());
                };
                let depth = w.groups[gi].stack.len() + 1;
                let callee = &prog.funcs[prog.func_of[pc as usize] as usize];
                let rets = match &insts[site as usize].op {
                    Op::Call { rets, .. } | Op::CallInd { rets, .. } => rets,
                    _ => return Err(illegal("return without a call site", lane0)),
                };
                for (k, slot) in rets.iter().enumerate() {
                    let Some(formal) = callee.rets.get(k) else {
                        return Err(illegal(
                            format!(
                                "call takes {} return values from `{}`, which has {}",
                                rets.len(),
                                callee.name,
                                callee.rets.len()
                            ),
                            lane0,
                        ));
                    };
                    self.transfer(w, *formal, depth, *slot, depth - 1, mask)?;
                }
                w.groups[gi].pc = site + 1;
            }
            Op::Call { func, args, .. } => {
                let f = *func;
                self.call(w, gi, f, args, pc)?;
            }
            Op::CallInd { target, args, .. } => {
                let depth = w.groups[gi].stack.len();
                let regs = &w.regs[depth * self.f_regs..(depth + 1) * self.f_regs];
                let tvals = alu::rd(regs, *target);
                let tv = |l: u32| tvals[l as usize];
                let t0 = tv(lane0);
                let same: u32 = (0..32)
                    .filter(|&l| mask >> l & 1 == 1 && tv(l) == t0)
                    .fold(0, |m, l| m | 1 << l);
                if same != mask {
                    let g = &mut w.groups[gi];
                    g.mask = same;
                    let stack = g.stack.clone();
                    w.groups.push(Group {
                        mask: mask & !same,
                        pc,
                        stack,
                        wait: Wait::Ready,
                        forced: false,
                    });
                }
                let idx = t0.wrapping_sub(FUNC_BASE);
                let f = (idx / 16) as usize;
                if t0 < FUNC_BASE
                    || idx % 16 != 0
                    || f >= prog.funcs.len()
                    || prog.funcs[f].is_kernel
                {
                    return Err(LaneFault::new(
                        FaultKind::IllegalAddress {
                            space: crate::report::AddressSpace::Generic,
                            addr: t0,
                            size: 0,
                        },
                        lane0,
                    ));
                }
                self.call(w, gi, f as u32, args, pc)?;
            }
            Op::Brx { a, targets } => {
                let depth = w.groups[gi].stack.len();
                let regs = &w.regs[depth * self.f_regs..(depth + 1) * self.f_regs];
                let ivals = alu::rd(regs, *a);
                let iv = |l: u32| ivals[l as usize] as u32;
                let i0 = iv(lane0);
                let Some(&t) = targets.get(i0 as usize) else {
                    return Err(illegal(format!("brx.idx index {i0} out of range"), lane0));
                };
                let same: u32 = (0..32)
                    .filter(|&l| mask >> l & 1 == 1 && iv(l) == i0)
                    .fold(0, |m, l| m | 1 << l);
                let g = &mut w.groups[gi];
                g.mask = same;
                g.pc = t;
                if same != mask {
                    let stack = g.stack.clone();
                    w.groups.push(Group {
                        mask: mask & !same,
                        pc,
                        stack,
                        wait: Wait::Ready,
                        forced: false,
                    });
                }
            }
            _ => unreachable!("control() is only called for control instructions"),
        }
        Ok(())
    }

    fn call(&mut self, w: &mut Warp, gi: usize, f: u32, args: &[Slot], pc: u32) -> ExecResult<()> {
        let mask = w.groups[gi].mask;
        let lane0 = mask.trailing_zeros();
        let prog = self.prog;
        let fi = &prog.funcs[f as usize];
        let depth = w.groups[gi].stack.len();
        if !fi.defined {
            match fi.builtin {
                Some(Builtin::Vprintf) => {
                    // Prints nothing; returns 0 (the number of arguments it would print).
                    if let Op::Call { rets, .. } = &prog.insts[pc as usize].op {
                        if let Some(slot) = rets.first() {
                            self.store_slot(w, *slot, depth, mask, 0, 4)?;
                        }
                    }
                    w.groups[gi].pc = pc + 1;
                    return Ok(());
                }
                Some(Builtin::AssertFail) => return Err(LaneFault::new(FaultKind::Trap, lane0)),
                None => {
                    return Err(illegal(
                        format!(
                            "call to `{}`, which the module declares but does not define",
                            fi.name
                        ),
                        lane0,
                    ))
                }
            }
        }
        if depth as u32 + 1 >= MAX_CALL_DEPTH {
            return Err(LaneFault::new(
                FaultKind::CallStackOverflow {
                    depth: depth as u32 + 1,
                },
                lane0,
            ));
        }
        if args.len() != fi.params.len() {
            return Err(illegal(
                format!(
                    "call passes {} arguments to `{}`, which takes {}",
                    args.len(),
                    fi.name,
                    fi.params.len()
                ),
                lane0,
            ));
        }
        self.ensure_depth(w, depth as u32 + 2);
        for (arg, formal) in args.iter().zip(fi.params.iter()) {
            self.transfer(w, *arg, depth, *formal, depth + 1, mask)?;
        }
        let entry = fi.entry;
        let g = &mut w.groups[gi];
        g.stack.push(pc);
        g.pc = entry;
        Ok(())
    }

    /// Copies one call argument or return value between frames for the lanes of `mask`.
    fn transfer(
        &mut self,
        w: &mut Warp,
        from: Slot,
        fd: usize,
        to: Slot,
        td: usize,
        mask: u32,
    ) -> ExecResult<()> {
        let lane0 = mask.trailing_zeros();
        match (from, to) {
            (Slot::Pred(a), Slot::Pred(b)) => {
                let v = w.preds[fd * self.f_preds + a as usize];
                let d = &mut w.preds[td * self.f_preds + b as usize];
                *d = (*d & !mask) | (v & mask);
            }
            (Slot::Param { off: a, size: sa }, Slot::Param { off: b, size: sb }) => {
                let size = if sb != 0 { sb } else { sa } as usize;
                let pf = self.f_tparam;
                for l in 0..32 {
                    if mask >> l & 1 == 0 {
                        continue;
                    }
                    let s = fd * 32 * pf + l * pf + a as usize;
                    let d = td * 32 * pf + l * pf + b as usize;
                    if a as usize + size > pf || b as usize + size > pf {
                        return Err(illegal("call parameter sizes do not match", lane0));
                    }
                    w.tparam.copy_within(s..s + size, d);
                }
            }
            (src, Slot::Reg(b)) => {
                for l in 0..32 {
                    if mask >> l & 1 == 0 {
                        continue;
                    }
                    let v = match src {
                        Slot::Reg(a) => w.regs[fd * self.f_regs + a as usize * 32 + l],
                        Slot::Imm(v) => v,
                        Slot::Param { off, .. } => {
                            let pf = self.f_tparam;
                            let s = fd * 32 * pf + l * pf + off as usize;
                            let n = 8.min(pf.saturating_sub(off as usize));
                            let mut b = [0u8; 8];
                            b[..n].copy_from_slice(&w.tparam[s..s + n]);
                            u64::from_le_bytes(b)
                        }
                        Slot::Pred(_) => {
                            return Err(illegal("predicate passed for a register parameter", lane0))
                        }
                    };
                    w.regs[td * self.f_regs + b as usize * 32 + l] = v;
                }
            }
            (src, Slot::Param { off, size }) => {
                let pf = self.f_tparam;
                let size = (size as usize).min(8);
                for l in 0..32 {
                    if mask >> l & 1 == 0 {
                        continue;
                    }
                    let v = match src {
                        Slot::Reg(a) => w.regs[fd * self.f_regs + a as usize * 32 + l],
                        Slot::Imm(v) => v,
                        _ => return Err(illegal("unsupported call parameter pairing", lane0)),
                    };
                    let d = td * 32 * pf + l * pf + off as usize;
                    w.tparam[d..d + size].copy_from_slice(&v.to_le_bytes()[..size]);
                }
            }
            (Slot::Imm(v), Slot::Pred(b)) => {
                let d = &mut w.preds[td * self.f_preds + b as usize];
                *d = if v != 0 { *d | mask } else { *d & !mask };
            }
            _ => {
                return Err(illegal(
                    "call argument kind does not match the parameter",
                    lane0,
                ))
            }
        }
        Ok(())
    }

    fn store_slot(
        &mut self,
        w: &mut Warp,
        slot: Slot,
        depth: usize,
        mask: u32,
        v: u64,
        size: u32,
    ) -> ExecResult<()> {
        let s = match slot {
            Slot::Param { off, .. } => Slot::Param { off, size },
            s => s,
        };
        self.transfer(w, Slot::Imm(v), depth, s, depth, mask)
    }

    /// Removes the lanes of group `gi` (they exited) and re-checks barriers.
    fn exit_lanes(&mut self, warps: &mut [Warp], wi: usize, gi: usize) {
        let w = &mut warps[wi];
        let mask = w.groups[gi].mask;
        w.groups.swap_remove(gi);
        w.live &= !mask;
        for b in 0..16 {
            w.bar_lanes[b] &= !mask;
        }
        self.check_arrivals(warps, wi);
        for b in 0..16 {
            self.try_complete(warps, b);
        }
    }

    /// Counts warp `wi`'s arrival at every barrier all of its live lanes wait at.
    fn check_arrivals(&mut self, warps: &mut [Warp], wi: usize) {
        let w = &mut warps[wi];
        for b in 0..16 {
            if w.arrived >> b & 1 == 0 && w.bar_lanes[b] != 0 && w.bar_lanes[b] == w.live {
                w.arrived |= 1 << b;
                self.bars[b].warps += 1;
                // bar.arrive lanes go on without waiting for completion.
                for g in w.groups.iter_mut() {
                    if g.wait == Wait::Arrive(b as u8) {
                        g.wait = Wait::Ready;
                        g.pc += 1;
                        w.bar_lanes[b] &= !g.mask;
                    }
                }
            }
        }
    }

    /// Completes barrier `b` if enough warps arrived.
    fn try_complete(&mut self, warps: &mut [Warp], b: usize) {
        let bar = self.bars[b];
        if bar.warps == 0 {
            return;
        }
        let done = match bar.expected {
            Some(n) => bar.warps.saturating_mul(32) >= n,
            None => warps.iter().all(|w| w.live == 0 || w.arrived >> b & 1 == 1),
        };
        if !done {
            return;
        }
        for w in warps.iter_mut() {
            w.arrived &= !(1 << b);
            w.bar_lanes[b] = 0;
            let fr = self.f_regs;
            let fp = self.f_preds;
            let insts = self.insts;
            for g in w.groups.iter_mut() {
                if g.wait != Wait::Bar(b as u8) {
                    continue;
                }
                if let Op::Bar { d: Some(d), .. } = &insts[g.pc as usize].op {
                    let depth = g.stack.len();
                    match *d {
                        BarDst::Reg(r) => {
                            let base = depth * fr + r as usize * 32;
                            for l in 0..32 {
                                if g.mask >> l & 1 == 1 {
                                    w.regs[base + l] = bar.popc as u64;
                                }
                            }
                        }
                        BarDst::Pred(p) => {
                            let v = match &insts[g.pc as usize].op {
                                Op::Bar {
                                    kind: BarKind::RedAnd,
                                    ..
                                } => bar.all,
                                _ => bar.any,
                            };
                            let x = &mut w.preds[depth * fp + p as usize];
                            *x = if v { *x | g.mask } else { *x & !g.mask };
                        }
                    }
                }
                g.wait = Wait::Ready;
                g.pc += 1;
            }
        }
        self.bars[b] = Barrier::FRESH;
    }

    /// Group `gi` (all its lanes) arrives at the barrier instruction at `pc`.
    fn barrier(
        &mut self,
        warps: &mut [Warp],
        wi: usize,
        gi: usize,
        pc: u32,
        depth: usize,
    ) -> ExecResult<()> {
        let insts = self.insts;
        let Op::Bar {
            kind, id, count, p, ..
        } = &insts[pc as usize].op
        else {
            unreachable!()
        };
        let w = &mut warps[wi];
        let mask = w.groups[gi].mask;
        let lane0 = mask.trailing_zeros();
        let regs = &w.regs[depth * self.f_regs..(depth + 1) * self.f_regs];
        let val = |s: Src| alu::rd(regs, s)[lane0 as usize] as u32;
        let b = val(*id);
        if b >= 16 {
            return Err(illegal(format!("barrier number {b} is above 15"), lane0));
        }
        let n = count.map(val);
        if let Some(n) = n {
            if n == 0 && *kind == BarKind::Arrive {
                return Err(illegal("bar.arrive with a thread count of 0", lane0));
            }
        }
        let bar = &mut self.bars[b as usize];
        if n.is_some() {
            bar.expected = n.map(|n| n.div_ceil(32) * 32);
        }
        let pv = match *p {
            PSrc::Imm(v) => {
                if v {
                    mask
                } else {
                    0
                }
            }
            PSrc::Reg { p, neg } => {
                let v = w.preds[depth * self.f_preds + p as usize];
                (if neg { !v } else { v }) & mask
            }
        };
        match kind {
            BarKind::RedPopc => bar.popc += pv.count_ones(),
            BarKind::RedAnd | BarKind::RedOr => {
                bar.all &= pv == mask;
                bar.any |= pv != 0;
            }
            _ => {}
        }
        w.bar_lanes[b as usize] |= mask;
        w.groups[gi].wait = if *kind == BarKind::Arrive {
            Wait::Arrive(b as u8)
        } else {
            Wait::Bar(b as u8)
        };
        self.check_arrivals(warps, wi);
        self.try_complete(warps, b as usize);
        Ok(())
    }
}

/// The execution context of one instruction: the machine plus the running warp's
/// per-lane memory.
pub(crate) struct Cx<'m, 'a> {
    pub m: &'m mut Machine<'a>,
    pub local: &'m mut Vec<u8>,
    pub tparam: &'m mut Vec<u8>,
    pub depth: usize,
    pub slot: u32,
    pub windex: u32,
    pub gmask: u32,
}

impl Cx<'_, '_> {
    /// Executes one non-control instruction for the lanes of `mask`.
    #[inline(always)]
    fn step(&mut self, op: &Op, regs: &mut [u64], preds: &mut [u32], mask: u32) -> ExecResult<()> {
        match op {
            Op::Ld1 { .. }
            | Op::Ld { .. }
            | Op::St1 { .. }
            | Op::St { .. }
            | Op::Atom { .. }
            | Op::CpAsync { .. }
            | Op::Ldmatrix { .. }
            | Op::LocalAddr { .. }
            | Op::ParamAddr { .. }
            | Op::Cvta { .. }
            | Op::Isspacep { .. } => self.mem_op(op, regs, preds, mask),
            Op::Sreg { d, s } => {
                self.sreg(*d, *s, regs, mask);
                Ok(())
            }
            Op::Activemask { d } => {
                alu::splat(regs, *d, self.gmask as u64, mask);
                Ok(())
            }
            Op::Mma(mma) => warp_ops::mma(mma, regs, mask, self.gmask),
            op => alu::exec(op, regs, preds, mask),
        }
    }

    fn sreg(&mut self, d: R, s: Sreg, regs: &mut [u64], mask: u32) {
        let m = &*self.m;
        let [bx, by, bz] = m.block;
        let base = self.windex * 32;
        let clock = m.sm_clock[m.sm as usize];
        let uniform = |v: u64| Some(v);
        let u = match s {
            Sreg::Ntid(c) => uniform([bx, by, bz][c as usize] as u64),
            Sreg::Ctaid(c) => uniform(m.cta[c as usize] as u64),
            Sreg::Nctaid(c) => uniform(m.grid[c as usize] as u64),
            Sreg::Warpid => uniform(self.slot as u64),
            Sreg::Nwarpid => uniform(m.gpu.warp_slots as u64),
            Sreg::Smid => uniform(m.sm as u64),
            Sreg::Nsmid => uniform(m.gpu.sms as u64),
            Sreg::Gridid => uniform(1),
            Sreg::Clock => uniform(clock & 0xffff_ffff),
            Sreg::ClockHi => uniform(clock >> 32),
            Sreg::Clock64 => uniform(clock),
            Sreg::Globaltimer => uniform(m.warp_insts),
            Sreg::GlobaltimerLo => uniform(m.warp_insts & 0xffff_ffff),
            Sreg::GlobaltimerHi => uniform(m.warp_insts >> 32),
            Sreg::DynamicSmemSize => uniform(m.dyn_shared as u64),
            Sreg::TotalSmemSize => uniform(m.shared.len() as u64),
            Sreg::Zero => uniform(0),
            _ => None,
        };
        if let Some(v) = u {
            alu::splat(regs, d, v, mask);
            return;
        }
        let mut out = [0u64; 32];
        for (l, o) in out.iter_mut().enumerate() {
            let l32 = l as u32;
            let t = base + l32;
            *o = match s {
                Sreg::Tid(0) => (t % bx) as u64,
                Sreg::Tid(1) => ((t / bx) % by) as u64,
                Sreg::Tid(_) => (t / (bx * by)) as u64,
                Sreg::Laneid => l as u64,
                Sreg::LanemaskEq => 1u64 << l,
                Sreg::LanemaskLe => ((2u64 << l) - 1) & 0xffff_ffff,
                Sreg::LanemaskLt => (1u64 << l) - 1,
                Sreg::LanemaskGe => (!((1u64 << l) - 1)) & 0xffff_ffff,
                Sreg::LanemaskGt => (!((2u64 << l) - 1)) & 0xffff_ffff,
                _ => 0,
            };
        }
        alu::write(regs, d, &out, mask);
    }
}
