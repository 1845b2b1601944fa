//! What a launch gives back: the outcome (completed, or the fault that stopped it), the
//! instruction counts and, in profiling mode, where each instruction ran.

use std::fmt;

/// A memory state space, as named in fault reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressSpace {
    /// Generic addressing (an address that falls in no window or allocation).
    Generic,
    /// Global memory.
    Global,
    /// Shared memory of the CTA.
    Shared,
    /// Per-thread local memory.
    Local,
    /// The constant bank.
    Const,
    /// Kernel or function parameters.
    Param,
}

impl AddressSpace {
    /// The PTX name of the space.
    pub fn name(self) -> &'static str {
        match self {
            AddressSpace::Generic => "generic",
            AddressSpace::Global => "global",
            AddressSpace::Shared => "shared",
            AddressSpace::Local => "local",
            AddressSpace::Const => "const",
            AddressSpace::Param => "param",
        }
    }
}

/// Why a launch stopped early. Each maps to a hardware error class: the first three
/// and [`FaultKind::Trap`] are "DUE crash" outcomes, the last two are hangs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// A memory access outside every mapped range of its space.
    IllegalAddress {
        /// The space the access was made in.
        space: AddressSpace,
        /// The address.
        addr: u64,
        /// Access size in bytes.
        size: u32,
    },
    /// A memory access not aligned to its size.
    MisalignedAddress {
        /// The space.
        space: AddressSpace,
        /// The address.
        addr: u64,
        /// Access size in bytes.
        size: u32,
    },
    /// An instruction that cannot execute: undecodable or unsupported, or invalid
    /// operands at run time (e.g. a barrier number above 15).
    IllegalInstruction {
        /// What is wrong.
        reason: String,
    },
    /// `trap` (or a failed device-side assertion).
    Trap,
    /// Calls nested deeper than the virtual GPU's call stack.
    CallStackOverflow {
        /// The depth reached.
        depth: u32,
    },
    /// Every live thread of a CTA waits at a barrier that can never complete.
    BarrierDeadlock {
        /// Threads blocked at barriers.
        blocked_threads: u32,
    },
    /// The instruction budget ran out (a hang).
    BudgetExceeded {
        /// The budget in thread-instructions.
        budget: u64,
    },
}

impl FaultKind {
    /// A short lower-case name: `illegal_address`, `misaligned_address`,
    /// `illegal_instruction`, `trap`, `call_stack_overflow`, `barrier_deadlock`,
    /// `budget_exceeded`.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::IllegalAddress { .. } => "illegal_address",
            FaultKind::MisalignedAddress { .. } => "misaligned_address",
            FaultKind::IllegalInstruction { .. } => "illegal_instruction",
            FaultKind::Trap => "trap",
            FaultKind::CallStackOverflow { .. } => "call_stack_overflow",
            FaultKind::BarrierDeadlock { .. } => "barrier_deadlock",
            FaultKind::BudgetExceeded { .. } => "budget_exceeded",
        }
    }

    /// Whether this fault is a hang (deadlock or budget) rather than a crash.
    pub fn is_hang(&self) -> bool {
        matches!(
            self,
            FaultKind::BarrierDeadlock { .. } | FaultKind::BudgetExceeded { .. }
        )
    }
}

impl FaultKind {
    /// What [`Display`](fmt::Display) says after the leading kind name (`illegal
    /// address: `, `misaligned address: `, `illegal instruction: `, `trap`), for a caller
    /// whose own message names the kind: `None` for the other kinds, whose text does not
    /// start with a name to repeat.
    pub fn detail(&self) -> Option<String> {
        match self {
            FaultKind::IllegalAddress { space, addr, size }
            | FaultKind::MisalignedAddress { space, addr, size } => {
                Some(format!("{size}-byte {} access at {addr:#x}", space.name()))
            }
            FaultKind::IllegalInstruction { reason } => Some(reason.clone()),
            FaultKind::Trap => Some(String::new()),
            _ => None,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::IllegalAddress { .. } => {
                write!(f, "illegal address: {}", self.detail().unwrap_or_default())
            }
            FaultKind::MisalignedAddress { .. } => {
                write!(
                    f,
                    "misaligned address: {}",
                    self.detail().unwrap_or_default()
                )
            }
            FaultKind::IllegalInstruction { reason } => write!(f, "illegal instruction: {reason}"),
            FaultKind::Trap => write!(f, "trap"),
            FaultKind::CallStackOverflow { depth } => {
                write!(f, "call stack overflow at depth {depth}")
            }
            FaultKind::BarrierDeadlock { blocked_threads } => write!(
                f,
                "barrier deadlock: {blocked_threads} threads wait at barriers that cannot complete"
            ),
            FaultKind::BudgetExceeded { budget } => write!(
                f,
                "instruction budget of {budget} thread-instructions exceeded (hang)"
            ),
        }
    }
}

/// A fault with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What happened.
    pub kind: FaultKind,
    /// The launched kernel.
    pub kernel: String,
    /// The function executing the faulting instruction.
    pub function: String,
    /// Source line of the faulting instruction (0 if none, e.g. a deadlock found
    /// between instructions reports the line of one blocked barrier).
    pub line: u32,
    /// Index of the instruction in the module's flat instruction list.
    pub pc: u32,
    /// `%ctaid` of the faulting thread.
    pub cta: [u32; 3],
    /// `%tid` of the faulting thread (the lowest faulting lane).
    pub thread: [u32; 3],
    /// `%laneid`.
    pub lane: u32,
    /// `%smid`.
    pub sm: u32,
    /// `%warpid` (warp slot on the SM).
    pub warp_slot: u32,
}

impl Fault {
    /// The description without the fault kind's leading name (see
    /// [`FaultKind::detail`]): `4-byte global access at 0x… in kernel …` for an illegal
    /// address, `in kernel …` for a trap; the full text for the kinds without one. For
    /// an error type whose own message names the kind, so it is not said twice.
    pub fn detail(&self) -> String {
        match self.kind.detail() {
            Some(d) if d.is_empty() => self.place(),
            Some(d) => format!("{d} {}", self.place()),
            None => self.to_string(),
        }
    }

    /// Where: `in kernel … lane N`.
    fn place(&self) -> String {
        format!(
            "in kernel `{}` (function `{}`, line {}), thread ({},{},{}) of CTA ({},{},{}), SM {} warp slot {} lane {}",
            self.kernel,
            self.function,
            self.line,
            self.thread[0],
            self.thread[1],
            self.thread[2],
            self.cta[0],
            self.cta[1],
            self.cta[2],
            self.sm,
            self.warp_slot,
            self.lane
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.place())
    }
}

/// How a launch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every thread exited.
    Completed,
    /// A fault stopped the launch (memory written before it stays written).
    Faulted(Fault),
}

/// The result of one launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchReport {
    /// The kernel.
    pub kernel: String,
    /// Grid dimensions.
    pub grid: [u32; 3],
    /// Block dimensions.
    pub block: [u32; 3],
    /// Dynamic shared memory bytes.
    pub dynamic_shared: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// Warp-instructions issued: one per instruction a warp (or a divergent group of
    /// its lanes) executes, including instructions whose guard is false in every lane.
    pub warp_instructions: u64,
    /// Thread-instructions: for each warp-instruction, the number of lanes of the
    /// executing group (active lanes; predicated-off lanes count, exited lanes and lanes
    /// of other divergent groups do not). This is the budget's unit and the speed
    /// metric.
    pub thread_instructions: u64,
    /// Co-resident CTAs per SM used for placement.
    pub ctas_per_sm: u32,
    /// Per-instruction profile, when requested.
    pub profile: Option<ExecProfile>,
}

impl LaunchReport {
    /// The fault, if the launch faulted.
    pub fn fault(&self) -> Option<&Fault> {
        match &self.outcome {
            Outcome::Faulted(f) => Some(f),
            Outcome::Completed => None,
        }
    }
}

/// Where one static instruction is in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstSite {
    /// Function name.
    pub function: String,
    /// 0-based index of the instruction among its function's instructions (statements
    /// in source order, nested blocks flattened).
    pub index: u32,
    /// 1-based source line.
    pub line: u32,
}

/// Execution profile of one launch: which static instructions ran where.
///
/// Static instructions are numbered by `pc`, their index in the module's flat
/// instruction list (functions in source order); [`ExecProfile::site`] maps a pc to
/// function, index and line. A function whose last instruction can fall through gets
/// one implicit `ret` after it (line 0, index one past its last PTX instruction). For every pc the profile holds warp- and
/// thread-instruction counts; for every (SM, warp slot) that ran a warp, the union of
/// the lanes active at each pc (as counted by [`LaunchReport::thread_instructions`]),
/// the union of the lanes whose guard was true, and the number of thread-instructions.
/// A fault-site sampler asks [`ExecProfile::executes`]: does lane `l` of warp slot `w`
/// on SM `s` run instruction `pc`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecProfile {
    pub(crate) sites: Vec<InstSite>,
    pub(crate) warp_counts: Vec<u64>,
    pub(crate) thread_counts: Vec<u64>,
    pub(crate) warp_slots: u32,
    pub(crate) sms: u32,
    /// Indexed by `sm * warp_slots + slot`; per pc the active and the executed lanes.
    pub(crate) lanes: Vec<Option<Box<[[u32; 2]]>>>,
    pub(crate) slot_threads: Vec<u64>,
}

impl ExecProfile {
    /// Number of static instructions in the module.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// Whether the module has no instructions.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The source location of static instruction `pc`.
    pub fn site(&self, pc: u32) -> Option<&InstSite> {
        self.sites.get(pc as usize)
    }

    /// The pc of the `index`-th instruction of `function`.
    pub fn pc_of(&self, function: &str, index: u32) -> Option<u32> {
        self.sites
            .iter()
            .position(|s| s.function == function && s.index == index)
            .map(|p| p as u32)
    }

    /// Warp-instructions executed at `pc`.
    pub fn warp_count(&self, pc: u32) -> u64 {
        self.warp_counts.get(pc as usize).copied().unwrap_or(0)
    }

    /// Thread-instructions executed at `pc`.
    pub fn thread_count(&self, pc: u32) -> u64 {
        self.thread_counts.get(pc as usize).copied().unwrap_or(0)
    }

    /// Thread-instructions executed by the warps in slot `slot` of SM `sm`.
    pub fn slot_thread_count(&self, sm: u32, slot: u32) -> u64 {
        if sm >= self.sms || slot >= self.warp_slots {
            return 0;
        }
        self.slot_threads[(sm * self.warp_slots + slot) as usize]
    }

    fn masks(&self, sm: u32, slot: u32, pc: u32) -> [u32; 2] {
        if sm >= self.sms || slot >= self.warp_slots {
            return [0; 2];
        }
        match &self.lanes[(sm * self.warp_slots + slot) as usize] {
            Some(v) => v.get(pc as usize).copied().unwrap_or([0; 2]),
            None => [0; 2],
        }
    }

    /// The union of the lanes of warp slot `slot` on SM `sm` that were active when `pc`
    /// issued (predicated-off lanes included, as in
    /// [`LaunchReport::thread_instructions`]).
    pub fn lanes(&self, sm: u32, slot: u32, pc: u32) -> u32 {
        self.masks(sm, slot, pc)[0]
    }

    /// The union of the lanes of warp slot `slot` on SM `sm` that executed `pc` with a
    /// true guard (a subset of [`ExecProfile::lanes`]).
    pub fn executed_lanes(&self, sm: u32, slot: u32, pc: u32) -> u32 {
        self.masks(sm, slot, pc)[1]
    }

    /// Whether lane `lane` of warp slot `slot` on SM `sm` was active at `pc`.
    pub fn executes(&self, sm: u32, slot: u32, lane: u32, pc: u32) -> bool {
        lane < 32 && self.lanes(sm, slot, pc) >> lane & 1 == 1
    }

    /// The pcs of many `(function, index)` instructions at once (what
    /// [`ExecProfile::pc_of`] gives for each), in one pass over the module.
    pub fn pcs_of<'a>(&self, wanted: impl IntoIterator<Item = (&'a str, u32)>) -> Vec<Option<u32>> {
        let index: std::collections::HashMap<(&str, u32), u32> = self
            .sites
            .iter()
            .enumerate()
            .rev() // the first pc of a (function, index) wins, as in `pc_of`
            .map(|(pc, s)| ((s.function.as_str(), s.index), pc as u32))
            .collect();
        wanted
            .into_iter()
            .map(|(f, i)| index.get(&(f, i)).copied())
            .collect()
    }

    /// For each of `pcs`, every (SM, warp slot, active lanes, executed lanes) that issued
    /// it — [`ExecProfile::sites_of`] and [`ExecProfile::executed_lanes`] for many pcs in
    /// one pass over the warp slots.
    pub fn slots_at(&self, pcs: &[u32]) -> Vec<Vec<(u32, u32, u32, u32)>> {
        let ws = self.warp_slots;
        let mut out = vec![Vec::new(); pcs.len()];
        for (i, v) in self.lanes.iter().enumerate() {
            let Some(v) = v else { continue };
            for (o, &pc) in out.iter_mut().zip(pcs) {
                let [active, executed] = v.get(pc as usize).copied().unwrap_or([0; 2]);
                if active != 0 {
                    o.push((i as u32 / ws, i as u32 % ws, active, executed));
                }
            }
        }
        out
    }

    /// Every (SM, warp slot, active lane mask) that issued `pc`.
    pub fn sites_of(&self, pc: u32) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        let ws = self.warp_slots;
        self.lanes.iter().enumerate().filter_map(move |(i, v)| {
            let m = v.as_ref()?.get(pc as usize).copied().unwrap_or([0; 2])[0];
            (m != 0).then_some((i as u32 / ws, i as u32 % ws, m))
        })
    }
}
