//! Warp-level instructions: lanes read each other's registers. `shfl.sync`,
//! `vote.sync`, `match.sync`, `redux.sync`, `bar.warp.sync` and `mma.sync`.
//!
//! The executor has already made the warp-synchronous ones wait for their member
//! lanes (see the executor's module documentation); here `mask` is the set of lanes that
//! execute (the running group, less lanes whose guard is false) and `member` the member
//! mask. Lanes read a source lane's register whether or not that lane executes (PTX
//! leaves such values unpredictable; reading the register keeps it deterministic).

// Lane loops index several 32-lane arrays in lockstep (and vectorise that way).
#![allow(clippy::needless_range_loop)]

use super::alu::{pget, pset, rd, write};
use super::{illegal, ExecResult};
use crate::ir::*;

/// Executes a warp-synchronous instruction.
pub(crate) fn exec(
    op: &Op,
    regs: &mut [u64],
    preds: &mut [u32],
    mask: u32,
    member: u32,
) -> ExecResult<()> {
    // Participants: the executing lanes of the member mask (all executing lanes when
    // the instruction has no member mask).
    let part = if member == 0 { mask } else { mask & member };
    match *op {
        Op::Shfl {
            mode,
            d,
            dp,
            a,
            b,
            c,
            ..
        } => {
            let (av, bv, cv) = (rd(regs, a), rd(regs, b), rd(regs, c));
            let mut out = [0u64; 32];
            let mut pv = 0u32;
            for l in 0..32i32 {
                let li = l as usize;
                let bval = (bv[li] & 31) as i32;
                let cval = (cv[li] & 31) as i32;
                let seg = ((cv[li] >> 8) & 31) as i32;
                let max_lane = (l & seg) | (cval & !seg);
                let min_lane = l & seg;
                let (j, ok) = match mode {
                    ShflMode::Up => (l - bval, l - bval >= max_lane),
                    ShflMode::Down => (l + bval, l + bval <= max_lane),
                    ShflMode::Bfly => (l ^ bval, (l ^ bval) <= max_lane),
                    ShflMode::Idx => {
                        let j = min_lane | (bval & !seg);
                        (j, j <= max_lane)
                    }
                };
                let j = if ok { j } else { l };
                out[li] = av[(j & 31) as usize] as u32 as u64;
                pv |= (ok as u32) << l;
            }
            write(regs, d, &out, mask);
            if let Some(p) = dp {
                pset(preds, p, pv, mask);
            }
        }
        Op::Vote { mode, d, a, .. } => {
            let v = pget(preds, a) & part;
            match (mode, d) {
                (VoteMode::Ballot, VoteDst::Reg(r)) => {
                    write(regs, r, &[v as u64; 32], mask);
                }
                (_, VoteDst::Pred(p)) => {
                    let r = match mode {
                        VoteMode::All => v == part,
                        VoteMode::Any => v != 0,
                        _ => v == 0 || v == part,
                    };
                    pset(preds, p, if r { u32::MAX } else { 0 }, mask);
                }
                _ => return Err(illegal("vote destination mismatch", mask.trailing_zeros())),
            }
        }
        Op::Match {
            all,
            wide,
            d,
            dp,
            a,
            ..
        } => {
            let av = rd(regs, a);
            let val = |l: usize| if wide { av[l] } else { av[l] as u32 as u64 };
            let mut out = [0u64; 32];
            let mut pv = 0u32;
            if all {
                let first = part.trailing_zeros() as usize;
                let same = (0..32).all(|l| part >> l & 1 == 0 || val(l) == val(first.min(31)));
                for (l, o) in out.iter_mut().enumerate() {
                    *o = if same { part as u64 } else { 0 };
                    pv |= (same as u32) << l;
                }
            } else {
                for (l, o) in out.iter_mut().enumerate() {
                    let mut m = 0u32;
                    for k in 0..32 {
                        if part >> k & 1 == 1 && val(k) == val(l) {
                            m |= 1 << k;
                        }
                    }
                    *o = m as u64;
                }
            }
            write(regs, d, &out, mask);
            if let Some(p) = dp {
                pset(preds, p, pv, mask);
            }
        }
        Op::Redux {
            op, signed, d, a, ..
        } => {
            let av = rd(regs, a);
            let lanes = (0..32).filter(|&l| part >> l & 1 == 1);
            let r: u32 = match op {
                ReduxOp::Add => lanes.fold(0u32, |s, l| s.wrapping_add(av[l] as u32)),
                ReduxOp::And => lanes.fold(u32::MAX, |s, l| s & av[l] as u32),
                ReduxOp::Or => lanes.fold(0, |s, l| s | av[l] as u32),
                ReduxOp::Xor => lanes.fold(0, |s, l| s ^ av[l] as u32),
                ReduxOp::Min if signed => {
                    lanes.fold(i32::MAX, |s, l| s.min(av[l] as u32 as i32)) as u32
                }
                ReduxOp::Max if signed => {
                    lanes.fold(i32::MIN, |s, l| s.max(av[l] as u32 as i32)) as u32
                }
                ReduxOp::Min => lanes.fold(u32::MAX, |s, l| s.min(av[l] as u32)),
                ReduxOp::Max => lanes.fold(0, |s, l| s.max(av[l] as u32)),
            };
            write(regs, d, &[r as u64; 32], mask);
        }
        Op::WarpSync { .. } => {}
        _ => unreachable!("not a warp-synchronous instruction"),
    }
    Ok(())
}

/// `mma.sync.aligned` with the fragment layouts of the PTX ISA for m16n8k8/m16n8k16
/// (f16, bf16 → f32) and m16n8k32 (s8/u8 → s32). Float products are exact; each
/// output element is the f64 sum of its products and C, rounded once to f32.
pub(crate) fn mma(x: &Mma, regs: &mut [u64], mask: u32, _gmask: u32) -> ExecResult<()> {
    // Fragments are at most 4 registers; matrices at most 16×32, 32×8 and 16×8.
    let lanes = |s: &[Src]| -> [[u64; 32]; 4] {
        let mut out = [[0u64; 32]; 4];
        for (o, r) in out.iter_mut().zip(s.iter()) {
            *o = rd(regs, *r);
        }
        out
    };
    let (a, b, c) = (lanes(&x.a), lanes(&x.b), lanes(&x.c));
    let (k, nc) = (x.k as usize, x.c.len());
    let int = matches!(x.ab, MmaTy::S8 | MmaTy::U8);
    // Element (row, col) of A, (k, n) of B, (row, col) of C, as f64 (exact).
    let mut am = [[0f64; 32]; 16];
    let mut bm = [[0f64; 8]; 32];
    let mut cm = [[0f64; 8]; 16];
    let elem16 = |v: u64, half: usize| -> f64 {
        let h = (v >> (16 * half)) as u32 & 0xffff;
        match x.ab {
            MmaTy::Bf16 => crate::float::BF16.decode(h),
            _ => crate::float::F16.decode(h),
        }
    };
    let elem8 = |v: u64, byte: usize| -> f64 {
        let b = (v >> (8 * byte)) as u8;
        if x.ab == MmaTy::S8 {
            b as i8 as f64
        } else {
            b as f64
        }
    };
    for lane in 0..32 {
        let (g, t) = (lane / 4, lane % 4);
        if int {
            // A: 16 elements in 4 registers; B: 8 in 2.
            for i in 0..16 {
                let row = if i < 4 || (8..12).contains(&i) {
                    g
                } else {
                    g + 8
                };
                let col = t * 4 + (i & 3) + if i >= 8 { 16 } else { 0 };
                am[row][col] = elem8(a[i / 4][lane], i % 4);
            }
            for i in 0..8 {
                let row = t * 4 + (i & 3) + if i >= 4 { 16 } else { 0 };
                bm[row][g] = elem8(b[i / 4][lane], i % 4);
            }
        } else if k == 16 {
            for i in 0..8 {
                let row = if i < 2 || (4..6).contains(&i) {
                    g
                } else {
                    g + 8
                };
                let col = t * 2 + (i & 1) + if i >= 4 { 8 } else { 0 };
                am[row][col] = elem16(a[i / 2][lane], i % 2);
            }
            for i in 0..4 {
                let row = t * 2 + (i & 1) + if i >= 2 { 8 } else { 0 };
                bm[row][g] = elem16(b[i / 2][lane], i % 2);
            }
        } else {
            for i in 0..4 {
                let row = if i < 2 { g } else { g + 8 };
                let col = t * 2 + (i & 1);
                am[row][col] = elem16(a[i / 2][lane], i % 2);
            }
            for i in 0..2 {
                bm[t * 2 + i][g] = elem16(b[0][lane], i);
            }
        }
        for (i, creg) in c.iter().enumerate().take(nc) {
            let row = if i < 2 { g } else { g + 8 };
            let col = t * 2 + (i & 1);
            cm[row][col] = if int {
                creg[lane] as u32 as i32 as f64
            } else {
                f32::from_bits(creg[lane] as u32) as f64
            };
        }
    }
    let mut out = [[0u64; 32]; 4];
    for lane in 0..32 {
        let (g, t) = (lane / 4, lane % 4);
        for (i, o) in out.iter_mut().enumerate() {
            let row = if i < 2 { g } else { g + 8 };
            let col = t * 2 + (i & 1);
            if int {
                let mut acc = cm[row][col] as i64;
                for kk in 0..k {
                    acc += am[row][kk] as i64 * bm[kk][col] as i64;
                }
                let v = if x.satfinite {
                    acc.clamp(i32::MIN as i64, i32::MAX as i64) as i32
                } else {
                    acc as i32
                };
                o[lane] = v as u32 as u64;
            } else {
                let mut acc = cm[row][col];
                for kk in 0..k {
                    acc += am[row][kk] * bm[kk][col];
                }
                o[lane] = crate::float::bits32(acc as f32) as u64;
            }
        }
    }
    for (r, o) in x.d.iter().zip(out.iter()) {
        write(regs, *r, o, mask);
    }
    Ok(())
}
