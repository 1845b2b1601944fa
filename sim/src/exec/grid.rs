//! The grid: which CTA runs when, on which SM and warp slots, and which warp of the
//! running CTA takes the next turn, by the fixed rule or a seeded schedule
//! (`crate::schedule`).

use super::{Barrier, Group, Machine, Observer, Wait, Warp};
use crate::gpu::LaunchProgress;
use crate::report::Outcome;
use crate::schedule::{self, Dispatcher, Scheduling, Turns};

impl Machine<'_> {
    /// Runs every CTA of the grid, one at a time, to completion or to the first fault.
    pub(super) fn run_grid<O: Observer>(
        &mut self,
        occupancy: u32,
        scheduling: Scheduling,
        progress: Option<&LaunchProgress>,
        obs: &mut O,
    ) -> Outcome {
        let [gx, gy, gz] = self.grid;
        let total = gx as u64 * gy as u64 * gz as u64;
        let nwarps = self.nthreads.div_ceil(32);
        let mut warps: Vec<Warp> = Vec::new();
        if let Some(p) = progress {
            p.start(total);
        }
        let seed = match scheduling {
            Scheduling::Fixed => {
                for linear in 0..total {
                    let (sm, first_slot) = self.gpu.place(linear, occupancy, nwarps);
                    self.start_cta(linear, sm);
                    self.setup_warps(&mut warps, nwarps, |w| first_slot + w);
                    if let Err((wi, f)) = self.run_cta(&mut warps, obs) {
                        return Outcome::Faulted(self.locate(&warps[wi], f));
                    }
                    if let Some(p) = progress {
                        p.update(linear + 1, self.thread_insts);
                    }
                }
                return Outcome::Completed;
            }
            Scheduling::Seeded(seed) => seed,
        };
        let kernel = &self.prog.funcs[self.kernel as usize].name;
        let key = schedule::launch_key(seed, kernel, self.grid, self.block, self.dyn_shared);
        let mut dispatch = Dispatcher::new(self.gpu, key, total, occupancy, nwarps);
        let mut turns = Turns::new(key);
        let mut slots = Vec::with_capacity(nwarps as usize);
        let mut done = 0;
        while let Some(placed) = dispatch.next(&mut slots) {
            self.start_cta(placed.linear, placed.sm);
            self.setup_warps(&mut warps, nwarps, |w| slots[w as usize]);
            turns.start(placed.linear, nwarps);
            self.turns = Some(turns);
            let result = self.run_cta(&mut warps, obs);
            turns = self.turns.take().expect("the turns of the running CTA");
            if let Err((wi, f)) = result {
                return Outcome::Faulted(self.locate(&warps[wi], f));
            }
            done += 1;
            if let Some(p) = progress {
                p.update(done, self.thread_insts);
            }
        }
        Outcome::Completed
    }

    /// Makes CTA `linear` the current one, on SM `sm`, with fresh shared memory and
    /// barriers.
    fn start_cta(&mut self, linear: u64, sm: u32) {
        let [gx, gy, _] = self.grid;
        let x = (linear % gx as u64) as u32;
        let y = ((linear / gx as u64) % gy as u64) as u32;
        let z = (linear / (gx as u64 * gy as u64)) as u32;
        self.cta = [x, y, z];
        self.sm = sm;
        let shared_len = self.prog.dyn_shared_base as usize + self.dyn_shared as usize;
        let shared_len = shared_len.max(self.prog.shared_static as usize);
        self.shared.clear();
        self.shared.resize(shared_len, 0);
        self.bars = [Barrier::FRESH; 16];
    }

    /// Sets up `nwarps` warps for a fresh CTA, warp `w` in slot `slot_of(w)`.
    pub(super) fn setup_warps(
        &self,
        warps: &mut Vec<Warp>,
        nwarps: u32,
        slot_of: impl Fn(u32) -> u32,
    ) {
        warps.truncate(nwarps as usize);
        while warps.len() < nwarps as usize {
            warps.push(Warp {
                regs: Vec::new(),
                preds: Vec::new(),
                local: Vec::new(),
                tparam: Vec::new(),
                depths: 0,
                groups: Vec::new(),
                live: 0,
                slot: 0,
                index: 0,
                bar_lanes: [0; 16],
                arrived: 0,
            });
        }
        let entry = self.prog.funcs[self.kernel as usize].entry;
        for (i, w) in warps.iter_mut().enumerate() {
            let first = i as u32 * 32;
            let n = (self.nthreads - first).min(32);
            let live = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
            // Fresh registers and local memory per CTA (stale values would make results
            // depend on CTA order); frame 0 only, deeper frames on demand.
            w.depths = 0;
            w.regs.clear();
            w.preds.clear();
            w.local.clear();
            w.tparam.clear();
            self.ensure_depth(w, 1);
            w.groups.clear();
            w.groups.push(Group {
                mask: live,
                pc: entry,
                stack: Vec::new(),
                wait: Wait::Ready,
                forced: false,
            });
            w.live = live;
            w.slot = slot_of(i as u32);
            w.index = i as u32;
            w.bar_lanes = [0; 16];
            w.arrived = 0;
        }
    }

    /// The warp that takes the `turn`-th turn of a round: warp `turn` with the fixed
    /// scheduling, the seeded order otherwise.
    #[inline]
    pub(super) fn warp_in_turn(&self, turn: usize) -> usize {
        match &self.turns {
            None => turn,
            Some(t) => t.order[turn] as usize,
        }
    }
}
