//! Memory instructions: address computation, state-space resolution with bounds and
//! alignment checks, loads, stores, atomics, `cp.async`, `ldmatrix`, `cvta`.
//!
//! Address map of generic addresses (global addresses are generic addresses):
//! the constant bank at [`CONST_WINDOW`], kernel parameters at [`PARAM_WINDOW`], the
//! CTA's shared memory at [`SHARED_WINDOW`], the thread's local memory at
//! [`LOCAL_WINDOW`], global allocations from [`HEAP_BASE`]; everything else is
//! unmapped. State-space addresses are offsets from 0 in their space; per-thread
//! parameters carry [`THREAD_PARAM_TAG`].

// Lane loops index several 32-lane arrays in lockstep (and vectorise that way).
#![allow(clippy::needless_range_loop)]

use super::alu::{rd, splat, view, write};
use super::{Cx, ExecResult, LaneFault};
use crate::decode::{
    CONST_WINDOW, LOCAL_WINDOW, LOCAL_WINDOW_SIZE, PARAM_WINDOW, SHARED_WINDOW, SHARED_WINDOW_SIZE,
    THREAD_PARAM_TAG,
};
use crate::float::{self, BF16, F16};
use crate::ir::*;
use crate::memory::HEAP_BASE;
use crate::report::{AddressSpace, FaultKind};

/// Size of the constant and parameter windows.
const WINDOW: u64 = 0x0100_0000;

/// Where an access lands.
#[derive(Clone, Copy)]
enum Loc {
    Global(usize, usize),
    Shared(usize),
    Local(usize),
    TParam(usize),
    KParam(usize),
    Const(usize),
}

impl Loc {
    /// Whether every lane reaching this place reads the same bytes (local memory and
    /// per-thread parameters are per lane).
    fn lane_independent(self) -> bool {
        !matches!(self, Loc::Local(_) | Loc::TParam(_))
    }
}

/// The address every active lane uses, when there is one.
#[inline(always)]
fn uniform(addrs: &[u64; 32], mask: u32) -> Option<u64> {
    if mask == 0 {
        return None;
    }
    let first = addrs[mask.trailing_zeros() as usize];
    let mut differ = 0u32;
    for (l, &a) in addrs.iter().enumerate() {
        differ |= ((a != first) as u32) << l;
    }
    (differ & mask == 0).then_some(first)
}

fn public(space: Space) -> AddressSpace {
    match space {
        Space::Generic => AddressSpace::Generic,
        Space::Global => AddressSpace::Global,
        Space::Shared => AddressSpace::Shared,
        Space::Local => AddressSpace::Local,
        Space::Const => AddressSpace::Const,
        Space::Param => AddressSpace::Param,
    }
}

#[cold]
fn bad_addr(space: Space, addr: u64, size: u32, lane: u32) -> LaneFault {
    LaneFault::new(
        FaultKind::IllegalAddress {
            space: public(space),
            addr,
            size,
        },
        lane,
    )
}

#[cold]
fn misaligned(space: Space, addr: u64, size: u32, lane: u32) -> LaneFault {
    LaneFault::new(
        FaultKind::MisalignedAddress {
            space: public(space),
            addr,
            size,
        },
        lane,
    )
}

#[inline(always)]
fn get_le(b: &[u8], size: u32) -> u64 {
    match size {
        1 => b[0] as u64,
        2 => u16::from_le_bytes([b[0], b[1]]) as u64,
        4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
        _ => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

/// Writes the low `size` bytes of `v` (1, 2, 4 or 8). Each size is a fixed-length copy
/// the compiler turns into one store: a copy of run-time length is a `memmove` call,
/// which cost the signature suite 5% of its time in its record stores.
#[inline(always)]
fn put_le(b: &mut [u8], size: u32, v: u64) {
    match size {
        1 => b[0] = v as u8,
        2 => b[..2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => b[..4].copy_from_slice(&(v as u32).to_le_bytes()),
        8 => b[..8].copy_from_slice(&v.to_le_bytes()),
        _ => b[..size as usize].copy_from_slice(&v.to_le_bytes()[..size as usize]),
    }
}

/// Sign- or zero-extends a loaded value of `size` bytes.
#[inline(always)]
fn extend(v: u64, size: u32, signed: bool) -> u64 {
    if !signed {
        return v;
    }
    match size {
        1 => v as u8 as i8 as i64 as u64,
        2 => v as u16 as i16 as i64 as u64,
        4 => v as u32 as i32 as i64 as u64,
        _ => v,
    }
}

/// Splits a generic address into its space and the address in that space.
#[inline(always)]
fn classify(addr: u64) -> Option<(Space, u64)> {
    if addr >= HEAP_BASE {
        Some((Space::Global, addr))
    } else if (SHARED_WINDOW..SHARED_WINDOW + SHARED_WINDOW_SIZE).contains(&addr) {
        Some((Space::Shared, addr - SHARED_WINDOW))
    } else if (LOCAL_WINDOW..LOCAL_WINDOW + LOCAL_WINDOW_SIZE).contains(&addr) {
        Some((Space::Local, addr - LOCAL_WINDOW))
    } else if (CONST_WINDOW..CONST_WINDOW + WINDOW).contains(&addr) {
        Some((Space::Const, addr - CONST_WINDOW))
    } else if (PARAM_WINDOW..PARAM_WINDOW + WINDOW).contains(&addr) {
        Some((Space::Param, addr - PARAM_WINDOW))
    } else {
        None
    }
}

/// The lowest address and the byte span touched by the active lanes, when every
/// active address is aligned (the fast paths' precondition).
#[inline(always)]
fn warp_span(addrs: &[u64; 32], mask: u32, size: u32, align: u32) -> Option<(u64, u64)> {
    if mask == 0 {
        return None;
    }
    let first = addrs[mask.trailing_zeros() as usize];
    let (mut lo, mut hi, mut or) = (u64::MAX, 0u64, 0u64);
    for (l, &a) in addrs.iter().enumerate() {
        let a = if mask >> l & 1 == 1 { a } else { first };
        lo = lo.min(a);
        hi = hi.max(a);
        or |= a;
    }
    if or & (align as u64 - 1) != 0 {
        return None;
    }
    Some((lo, (hi - lo).checked_add(size as u64)?))
}

/// Loads `size` bytes per active lane from `data`, which starts at address `lo` and
/// covers every active lane's access.
#[inline(always)]
fn gather(
    data: &[u8],
    addrs: &[u64; 32],
    lo: u64,
    mask: u32,
    size: u32,
    signed: bool,
    out: &mut [u64; 32],
) {
    let full = mask == u32::MAX;
    macro_rules! go {
        ($t:ty, $n:expr) => {
            for l in 0..32 {
                if full || mask >> l & 1 == 1 {
                    let o = (addrs[l] - lo) as usize;
                    let mut b = [0u8; $n];
                    b.copy_from_slice(&data[o..o + $n]);
                    out[l] = extend(<$t>::from_le_bytes(b) as u64, size, signed);
                }
            }
        };
    }
    match size {
        1 => go!(u8, 1),
        2 => go!(u16, 2),
        4 => go!(u32, 4),
        _ => go!(u64, 8),
    }
}

impl Cx<'_, '_> {
    /// Per-lane addresses of an address operand.
    #[inline(always)]
    fn addrs(&self, regs: &[u64], a: Addr, space: Space) -> [u64; 32] {
        let off = a.off as u64;
        match a.base {
            ABase::Reg { r, narrow } => {
                let src = view(regs, r);
                let mut v = [0u64; 32];
                if narrow {
                    for l in 0..32 {
                        v[l] = (src[l] as u32 as u64).wrapping_add(off);
                    }
                } else {
                    for l in 0..32 {
                        v[l] = src[l].wrapping_add(off);
                    }
                }
                v
            }
            ABase::Abs(x) => [x.wrapping_add(off); 32],
            ABase::LocalFrame => {
                let base = (self.depth * self.m.f_local) as u64;
                let w = if space == Space::Generic {
                    LOCAL_WINDOW
                } else {
                    0
                };
                [(w + base).wrapping_add(off); 32]
            }
            ABase::ParamFrame => {
                let base = (self.depth * self.m.f_tparam) as u64;
                [(THREAD_PARAM_TAG | base).wrapping_add(off); 32]
            }
        }
    }

    /// Resolves an access of `size` bytes at `addr` in `space` by `lane`.
    #[inline]
    fn resolve(
        &mut self,
        space: Space,
        addr: u64,
        size: u32,
        align: u32,
        lane: u32,
        store: bool,
    ) -> ExecResult<Loc> {
        // Alignments are powers of two.
        if addr & (align as u64 - 1) != 0 {
            return Err(misaligned(space, addr, size, lane));
        }
        let (sp, a) = if space == Space::Generic {
            match classify(addr) {
                Some(x) => x,
                None => return Err(bad_addr(space, addr, size, lane)),
            }
        } else {
            (space, addr)
        };
        let n = size as u64;
        let fail = || bad_addr(space, addr, size, lane);
        let m = &mut *self.m;
        Ok(match sp {
            Space::Global | Space::Generic => {
                let (i, o) = m.mem.find_cached(&mut m.cache, a, n).ok_or_else(fail)?;
                Loc::Global(i, o)
            }
            Space::Shared => {
                if a.checked_add(n).is_none_or(|e| e > m.shared.len() as u64) {
                    return Err(fail());
                }
                Loc::Shared(a as usize)
            }
            Space::Local => {
                let lf = m.f_local as u64;
                if lf == 0 {
                    return Err(fail());
                }
                let (d, o) = (a / lf, a % lf);
                let idx = d
                    .checked_mul(32 * lf)
                    .and_then(|x| x.checked_add(lane as u64 * lf + o))
                    .ok_or_else(fail)?;
                if o + n > lf || idx + n > self.local.len() as u64 {
                    return Err(fail());
                }
                Loc::Local(idx as usize)
            }
            Space::Param => {
                if a & THREAD_PARAM_TAG != 0 && a < 2 * THREAD_PARAM_TAG {
                    let t = a - THREAD_PARAM_TAG;
                    let pf = m.f_tparam as u64;
                    if pf == 0 {
                        return Err(fail());
                    }
                    let (d, o) = (t / pf, t % pf);
                    let idx = d * 32 * pf + lane as u64 * pf + o;
                    if o + n > pf || idx + n > self.tparam.len() as u64 {
                        return Err(fail());
                    }
                    Loc::TParam(idx as usize)
                } else {
                    if store || a.checked_add(n).is_none_or(|e| e > m.kparams.len() as u64) {
                        return Err(fail());
                    }
                    Loc::KParam(a as usize)
                }
            }
            Space::Const => {
                if store || a.checked_add(n).is_none_or(|e| e > m.consts.len() as u64) {
                    return Err(fail());
                }
                Loc::Const(a as usize)
            }
        })
    }

    #[inline]
    fn read_loc(&self, loc: Loc, size: u32) -> u64 {
        let s = size as usize;
        let m = &*self.m;
        match loc {
            Loc::Global(i, o) => get_le(&m.mem.allocs[i].data[o..o + s], size),
            Loc::Shared(o) => get_le(&m.shared[o..o + s], size),
            Loc::Local(o) => get_le(&self.local[o..o + s], size),
            Loc::TParam(o) => get_le(&self.tparam[o..o + s], size),
            Loc::KParam(o) => get_le(&m.kparams[o..o + s], size),
            Loc::Const(o) => get_le(&m.consts[o..o + s], size),
        }
    }

    #[inline]
    fn write_loc(&mut self, loc: Loc, size: u32, v: u64) {
        let s = size as usize;
        let m = &mut *self.m;
        match loc {
            Loc::Global(i, o) => put_le(&mut m.mem.allocs[i].data[o..o + s], size, v),
            Loc::Shared(o) => put_le(&mut m.shared[o..o + s], size, v),
            Loc::Local(o) => put_le(&mut self.local[o..o + s], size, v),
            Loc::TParam(o) => put_le(&mut self.tparam[o..o + s], size, v),
            Loc::KParam(_) | Loc::Const(_) => {}
        }
    }

    /// Loads one value per active lane.
    #[inline(always)]
    fn load_lanes(
        &mut self,
        space: Space,
        addrs: &[u64; 32],
        t: MemTy,
        align: u32,
        mask: u32,
        out: &mut [u64; 32],
    ) -> ExecResult<()> {
        let size = t.size as u32;
        // Fast path: every active lane aligned and inside one allocation (global, or
        // generic in the heap) or inside shared memory: one range check for the warp,
        // then a plain gather.
        if let Some((lo, span)) = warp_span(addrs, mask, size, align) {
            let m = &mut *self.m;
            match space {
                Space::Global | Space::Generic if lo >= HEAP_BASE => {
                    if let Some((i, off)) = m.mem.find_cached(&mut m.cache, lo, span) {
                        let data = &m.mem.allocs[i].data[off..off + span as usize];
                        gather(data, addrs, lo, mask, size, t.signed, out);
                        return Ok(());
                    }
                }
                Space::Shared
                    if lo
                        .checked_add(span)
                        .is_some_and(|e| e <= m.shared.len() as u64) =>
                {
                    let data = &m.shared[lo as usize..(lo + span) as usize];
                    gather(data, addrs, lo, mask, size, t.signed, out);
                    return Ok(());
                }
                _ => {}
            }
        }
        // Every active lane at one address (kernel parameters, constants, a broadcast
        // global): resolve it once when the place it lands does not depend on the lane.
        // The first active lane is the one the per-lane loop below would fail on first.
        if let Some(a) = uniform(addrs, mask) {
            let l = mask.trailing_zeros();
            let loc = self.resolve(space, a, size, align, l, false)?;
            if loc.lane_independent() {
                let v = extend(self.read_loc(loc, size), size, t.signed);
                for (k, o) in out.iter_mut().enumerate() {
                    if mask >> k & 1 == 1 {
                        *o = v;
                    }
                }
                return Ok(());
            }
        }
        let mut bits = mask;
        while bits != 0 {
            let l = bits.trailing_zeros();
            bits &= bits - 1;
            let loc = self.resolve(space, addrs[l as usize], size, align, l, false)?;
            out[l as usize] = extend(self.read_loc(loc, size), size, t.signed);
        }
        Ok(())
    }

    /// A scalar load.
    #[inline]
    pub(super) fn ld1(
        &mut self,
        space: Space,
        t: MemTy,
        d: R,
        addr: Addr,
        regs: &mut [u64],
        mask: u32,
    ) -> ExecResult<()> {
        let addrs = self.addrs(regs, addr, space);
        let mut out = [0u64; 32];
        self.load_lanes(space, &addrs, t, t.size as u32, mask, &mut out)?;
        write(regs, d, &out, mask);
        Ok(())
    }

    /// A scalar store.
    #[inline]
    pub(super) fn st1(
        &mut self,
        space: Space,
        t: MemTy,
        s: Src,
        addr: Addr,
        regs: &mut [u64],
        mask: u32,
    ) -> ExecResult<()> {
        let addrs = self.addrs(regs, addr, space);
        let v = rd(regs, s);
        self.store_lanes(space, &addrs, &v, t.size as u32, t.size as u32, mask)
    }

    /// Executes a memory instruction.
    pub(super) fn mem_op(
        &mut self,
        op: &Op,
        regs: &mut [u64],
        preds: &mut [u32],
        mask: u32,
    ) -> ExecResult<()> {
        match *op {
            Op::Ld1 { space, t, d, addr } => self.ld1(space, t, d, addr, regs, mask)?,
            Op::Ld {
                space,
                t,
                ref d,
                addr,
            } => {
                let base = self.addrs(regs, addr, space);
                let n = d.len() as u32;
                let align = (t.size as u32 * n).next_power_of_two();
                // Check the whole vector's alignment on the first element.
                // At most 8 elements (`.v8`); no allocation in the hot loop.
                let mut outs = [[0u64; 32]; 8];
                for (k, out) in outs.iter_mut().enumerate().take(d.len()) {
                    let mut addrs = base;
                    for a in addrs.iter_mut() {
                        *a = a.wrapping_add(k as u64 * t.size as u64);
                    }
                    let al = if k == 0 { align } else { t.size as u32 };
                    self.load_lanes(space, &addrs, t, al, mask, out)?;
                }
                for (r, out) in d.iter().zip(outs.iter()) {
                    if let Some(r) = r {
                        write(regs, *r, out, mask);
                    }
                }
            }
            Op::St1 { space, t, s, addr } => self.st1(space, t, s, addr, regs, mask)?,
            Op::St {
                space,
                t,
                ref s,
                addr,
            } => {
                let base = self.addrs(regs, addr, space);
                let n = s.len() as u32;
                let align = (t.size as u32 * n).next_power_of_two();
                for (k, src) in s.iter().enumerate() {
                    let mut addrs = base;
                    for a in addrs.iter_mut() {
                        *a = a.wrapping_add(k as u64 * t.size as u64);
                    }
                    let v = rd(regs, *src);
                    let al = if k == 0 { align } else { t.size as u32 };
                    self.store_lanes(space, &addrs, &v, t.size as u32, al, mask)?;
                }
            }
            Op::Atom {
                space,
                op,
                size,
                signed,
                d,
                addr,
                b,
                c,
            } => {
                let addrs = self.addrs(regs, addr, space);
                let (bv, cv) = (rd(regs, b), rd(regs, c));
                let mut out = [0u64; 32];
                let size = size as u32;
                let mut bits = mask;
                while bits != 0 {
                    let l = bits.trailing_zeros();
                    bits &= bits - 1;
                    let li = l as usize;
                    let loc = self.resolve(space, addrs[li], size, size, l, true)?;
                    let old = self.read_loc(loc, size);
                    let global = matches!(loc, Loc::Global(..));
                    let new = atom_op(op, size, signed, global, old, bv[li], cv[li]);
                    self.write_loc(loc, size, new);
                    out[li] = old;
                }
                if let Some(d) = d {
                    write(regs, d, &out, mask);
                }
            }
            Op::CpAsync {
                dst,
                src,
                size,
                src_size,
            } => {
                let da = self.addrs(regs, dst, Space::Shared);
                let sa = self.addrs(regs, src, Space::Global);
                let ss = src_size.map(|s| rd(regs, s));
                let mut bits = mask;
                while bits != 0 {
                    let l = bits.trailing_zeros();
                    bits &= bits - 1;
                    let li = l as usize;
                    let n = ss.map_or(size as u64, |s| s[li].min(size as u64)) as u32;
                    for k in 0..size as u32 {
                        let v = if k < n {
                            let loc =
                                self.resolve(Space::Global, sa[li] + k as u64, 1, 1, l, false)?;
                            self.read_loc(loc, 1)
                        } else {
                            0
                        };
                        let loc = self.resolve(Space::Shared, da[li] + k as u64, 1, 1, l, true)?;
                        self.write_loc(loc, 1, v);
                    }
                }
            }
            Op::Ldmatrix {
                n,
                trans,
                space,
                ref d,
                addr,
            } => {
                // Row addresses come from the lanes 8i..8i+7 of matrix i.
                let rows = self.addrs(regs, addr, space);
                let mut mats = [[[0u16; 8]; 8]; 4];
                for (i, mat) in mats.iter_mut().enumerate().take(n as usize) {
                    for (r, row) in mat.iter_mut().enumerate() {
                        let lane = (8 * i + r) as u32;
                        let a = rows[lane as usize];
                        for (c, e) in row.iter_mut().enumerate() {
                            let al = if c == 0 { 16 } else { 2 };
                            let loc = self.resolve(space, a + 2 * c as u64, 2, al, lane, false)?;
                            *e = self.read_loc(loc, 2) as u16;
                        }
                    }
                }
                for (i, r) in d.iter().enumerate() {
                    let mut out = [0u64; 32];
                    for (l, o) in out.iter_mut().enumerate() {
                        let (g, t) = (l / 4, l % 4);
                        let (e0, e1) = if trans {
                            (mats[i][2 * t][g], mats[i][2 * t + 1][g])
                        } else {
                            (mats[i][g][2 * t], mats[i][g][2 * t + 1])
                        };
                        *o = e0 as u64 | (e1 as u64) << 16;
                    }
                    write(regs, *r, &out, mask);
                }
            }
            Op::LocalAddr { d, off } => {
                splat(regs, d, (self.depth * self.m.f_local) as u64 + off, mask)
            }
            Op::ParamAddr { d, off } => splat(
                regs,
                d,
                THREAD_PARAM_TAG | ((self.depth * self.m.f_tparam) as u64 + off),
                mask,
            ),
            Op::Cvta { to, space, d, a } => {
                let (w, size) = match space {
                    Space::Shared => (SHARED_WINDOW, SHARED_WINDOW_SIZE),
                    Space::Local => (LOCAL_WINDOW, LOCAL_WINDOW_SIZE),
                    Space::Const => (CONST_WINDOW, WINDOW),
                    Space::Param => (PARAM_WINDOW, WINDOW),
                    _ => (0, u64::MAX),
                };
                let av = rd(regs, a);
                let mut out = [0u64; 32];
                for l in 0..32 {
                    let x = av[l];
                    out[l] = if w == 0 {
                        // Global addresses are generic addresses.
                        x
                    } else if to {
                        if (w..w.saturating_add(size)).contains(&x) {
                            x - w
                        } else {
                            // Not in the window: an address no access can use.
                            x.wrapping_sub(w) | 1 << 63
                        }
                    } else {
                        x.wrapping_add(w)
                    };
                }
                write(regs, d, &out, mask);
            }
            Op::Isspacep { space, d, a } => {
                let av = rd(regs, a);
                let mut v = 0u32;
                for (l, &x) in av.iter().enumerate() {
                    let hit = match (classify(x), space) {
                        (Some((s, _)), sp) => s == sp || sp == Space::Generic,
                        (None, _) => false,
                    };
                    v |= (hit as u32) << l;
                }
                super::alu::pset(preds, d, v, mask);
            }
            _ => unreachable!("not a memory instruction"),
        }
        Ok(())
    }

    #[inline(always)]
    fn store_lanes(
        &mut self,
        space: Space,
        addrs: &[u64; 32],
        v: &[u64; 32],
        size: u32,
        align: u32,
        mask: u32,
    ) -> ExecResult<()> {
        if let Some((lo, span)) = warp_span(addrs, mask, size, align) {
            let m = &mut *self.m;
            let data: Option<&mut [u8]> = match space {
                Space::Global | Space::Generic if lo >= HEAP_BASE => m
                    .mem
                    .find_cached(&mut m.cache, lo, span)
                    .map(|(i, off)| &mut m.mem.allocs[i].data[off..off + span as usize]),
                Space::Shared
                    if lo
                        .checked_add(span)
                        .is_some_and(|e| e <= m.shared.len() as u64) =>
                {
                    Some(&mut m.shared[lo as usize..(lo + span) as usize])
                }
                _ => None,
            };
            if let Some(data) = data {
                // Lane order: a later lane's store to the same address wins.
                let mut bits = mask;
                while bits != 0 {
                    let l = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let o = (addrs[l] - lo) as usize;
                    put_le(&mut data[o..o + size as usize], size, v[l]);
                }
                return Ok(());
            }
        }
        let mut bits = mask;
        while bits != 0 {
            let l = bits.trailing_zeros();
            bits &= bits - 1;
            let loc = self.resolve(space, addrs[l as usize], size, align, l, true)?;
            self.write_loc(loc, size, v[l as usize]);
        }
        Ok(())
    }
}

/// The new value of an atomic read-modify-write. `global`: the location is in global
/// memory, where `atom.add.f32` flushes subnormal inputs and results to zero (on
/// shared memory it does not).
fn atom_op(op: AtomOp, size: u32, signed: bool, global: bool, old: u64, b: u64, c: u64) -> u64 {
    let m = if size == 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    };
    let (o, b) = (old & m, b & m);
    let sx = |v: u64| -> i64 {
        if size == 8 {
            v as i64
        } else {
            v as u32 as i32 as i64
        }
    };
    let f16add = |x: u64, y: u64, fmt: float::Fmt| {
        fmt.encode(
            fmt.decode(x as u32 & 0xffff) + fmt.decode(y as u32 & 0xffff),
            float::Rnd::Rn,
            false,
            false,
        ) as u64
    };
    let r = match op {
        AtomOp::Add => o.wrapping_add(b),
        AtomOp::AddF32 => {
            let f = |v: f32| if global { float::ftz32(v) } else { v };
            let (x, y) = (f(f32::from_bits(o as u32)), f(f32::from_bits(b as u32)));
            float::bits32(f(x + y)) as u64
        }
        AtomOp::AddF64 => float::bits64(f64::from_bits(o) + f64::from_bits(b)),
        AtomOp::AddF16 => f16add(o, b, F16),
        AtomOp::AddBf16 => f16add(o, b, BF16),
        AtomOp::AddF16x2 | AtomOp::AddBf16x2 => {
            let fmt = if op == AtomOp::AddF16x2 { F16 } else { BF16 };
            (f16add(o >> 16, b >> 16, fmt) << 16) | f16add(o, b, fmt)
        }
        AtomOp::Min if signed => sx(o).min(sx(b)) as u64,
        AtomOp::Max if signed => sx(o).max(sx(b)) as u64,
        AtomOp::Min => o.min(b),
        AtomOp::Max => o.max(b),
        AtomOp::MinF32 | AtomOp::MaxF32 => {
            let (x, y) = (f32::from_bits(o as u32), f32::from_bits(b as u32));
            let r = if x.is_nan() {
                y
            } else if y.is_nan() {
                x
            } else if (op == AtomOp::MinF32) == (y < x) {
                y
            } else {
                x
            };
            float::bits32(r) as u64
        }
        AtomOp::And => o & b,
        AtomOp::Or => o | b,
        AtomOp::Xor => o ^ b,
        AtomOp::Exch => b,
        AtomOp::Cas => {
            if o == b {
                c
            } else {
                o
            }
        }
        AtomOp::Inc => {
            if o >= b {
                0
            } else {
                o + 1
            }
        }
        AtomOp::Dec => {
            if o == 0 || o > b {
                b
            } else {
                o - 1
            }
        }
    };
    r & m
}
