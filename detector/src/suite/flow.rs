//! `sig_flow` — control flow (`wv`, `brx`, `ial`).
//!
//! The branch bits of a lane are `b = lane ^ u`, `u` a 5-bit value of the warp slot and
//! the seed: a permutation of the lanes, so in every warp every path of the tree below
//! is taken by its share of the lanes, and every lane takes some branches and skips
//! others.
//!
//! ```text
//! s = d                                    (d: the lane's data)
//! if b.0 == 0 (p1):  A: mask ← activemask; s = rotl(s, 7)
//!        b.2 == 0:       A0: s ^= 0x165667B1      else  A1: s -= 0x7F4A7C15
//! else:              B: mask ← activemask; s ^= 0x5BD1E995
//!        b.1 == 0:       B0: s *= 0x01000193      else  B1: s += 0x3C6EF372
//!                                                        b.2 == 1: s = rotl(s, 13)
//! join (bar.warp.sync): ballot(p1), ballot(p2), activemask
//! loop: trips n = (d >> 8) & 7, exit when i == n or i >= 16 (a stuck predicate exits)
//! predicated: @!true xor, @false add (must not run), @true rotl (must run), selp
//! ```
//!
//! A loop whose exit predicate is stuck at either value, inverted, or never written
//! leaves at once (`continue = !(i == n) && i < 16`, branch on `!continue`), so most
//! control faults change the record instead of hanging the kernel.

use super::frame::{entry, mix, prologue, rotl, Record};
use super::{Ctx, Kernel};

pub(crate) struct Flow;
pub(crate) const FLOW: Flow = Flow;

const NAME: &str = "sig_flow";
const SALT: u32 = 0xF10B_2E77;
const WORDS: [&str; 8] = [
    "ident",
    "path",
    "arm.mask",
    "ballot.p1",
    "ballot.p2",
    "join.mask",
    "loop",
    "predicated",
];

/// The warp's 5-bit branch offset `u`.
fn offset(slot: u32, seed: u32) -> u32 {
    (slot.wrapping_mul(0x2545_F491) ^ seed) >> 27
}

/// The loop's result (mirrors the PTX): `acc ^ trips << 24`.
fn looped(d: u32) -> u32 {
    let n = (d >> 8) & 7;
    let mut acc = d;
    let mut i = 0u32;
    while i != n && i < 16 {
        acc = rotl(acc, 3).wrapping_add(i ^ 0x9E37);
        i = i.wrapping_add(1);
    }
    acc ^ i << 24
}

impl Kernel for Flow {
    fn name(&self) -> &'static str {
        NAME
    }
    fn unit(&self) -> &'static str {
        "control-flow"
    }
    fn words(&self) -> &'static [&'static str] {
        &WORDS
    }
    fn cost(&self) -> u64 {
        118
    }

    fn ptx(&self) -> String {
        let mut s = entry(NAME, &[]);
        s += &prologue(NAME, WORDS.len(), SALT);
        s += "\tmul.lo.u32 \t%r10, %r2, 0x2545F491;\n\
              \txor.b32 \t%r10, %r10, %r5;\n\
              \tshr.u32 \t%r10, %r10, 27;\n\
              \txor.b32 \t%r10, %r10, %r3;\n\
              \tmov.u32 \t%r11, %r9;\n\
              \tand.b32 \t%r12, %r10, 1;\n\
              \tsetp.eq.u32 \t%p1, %r12, 0;\n\
              \t@%p1 bra \t$F_A;\n\
              \tactivemask.b32 \t%r13;\n\
              \txor.b32 \t%r11, %r11, 0x5BD1E995;\n\
              \tand.b32 \t%r12, %r10, 2;\n\
              \tsetp.ne.u32 \t%p2, %r12, 0;\n\
              \t@%p2 bra \t$F_B1;\n\
              \tmul.lo.u32 \t%r11, %r11, 0x01000193;\n\
              \tbra.uni \t$F_J;\n\
              $F_B1:\n\
              \tadd.u32 \t%r11, %r11, 0x3C6EF372;\n\
              \tand.b32 \t%r12, %r10, 4;\n\
              \tsetp.eq.u32 \t%p4, %r12, 0;\n\
              \t@%p4 bra \t$F_J;\n\
              \tshf.l.wrap.b32 \t%r11, %r11, %r11, 13;\n\
              \tbra.uni \t$F_J;\n\
              $F_A:\n\
              \tactivemask.b32 \t%r13;\n\
              \tshf.l.wrap.b32 \t%r11, %r11, %r11, 7;\n\
              \tand.b32 \t%r12, %r10, 4;\n\
              \tsetp.ne.u32 \t%p2, %r12, 0;\n\
              \t@%p2 bra \t$F_A1;\n\
              \txor.b32 \t%r11, %r11, 0x165667B1;\n\
              \tbra.uni \t$F_J;\n\
              $F_A1:\n\
              \tsub.u32 \t%r11, %r11, 0x7F4A7C15;\n\
              $F_J:\n\
              \tbar.warp.sync \t-1;\n\
              \tvote.sync.ballot.b32 \t%r14, %p1, -1;\n\
              \tvote.sync.ballot.b32 \t%r15, %p2, -1;\n\
              \tactivemask.b32 \t%r16;\n\
              \tshr.u32 \t%r20, %r9, 8;\n\
              \tand.b32 \t%r20, %r20, 7;\n\
              \tmov.u32 \t%r21, 0;\n\
              \tmov.u32 \t%r17, %r9;\n\
              $F_LOOP:\n\
              \tsetp.eq.u32 \t%p5, %r21, %r20;\n\
              \tsetp.lt.u32 \t%p6, %r21, 16;\n\
              \tnot.pred \t%p7, %p5;\n\
              \tand.pred \t%p7, %p7, %p6;\n\
              \t@!%p7 bra \t$F_LOOPX;\n\
              \tshf.l.wrap.b32 \t%r17, %r17, %r17, 3;\n\
              \txor.b32 \t%r22, %r21, 0x9E37;\n\
              \tadd.u32 \t%r17, %r17, %r22;\n\
              \tsub.u32 \t%r21, %r21, -1;\n\
              \tbra.uni \t$F_LOOP;\n\
              $F_LOOPX:\n\
              \tshl.b32 \t%r22, %r21, 24;\n\
              \txor.b32 \t%r17, %r17, %r22;\n\
              \tbar.warp.sync \t-1;\n\
              \tsetp.lt.u32 \t%p8, %r3, 32;\n\
              \tsetp.gt.u32 \t%p9, %r3, 31;\n\
              \tmov.u32 \t%r18, %r9;\n\
              \t@!%p8 xor.b32 \t%r18, %r18, 0x2545F491;\n\
              \t@%p9 add.u32 \t%r18, %r18, 0x6C8E9CF5;\n\
              \t@%p8 shf.l.wrap.b32 \t%r18, %r18, %r18, 11;\n\
              \tselp.b32 \t%r19, 0x1B873593, 0x0B4E0EF3, %p9;\n\
              \txor.b32 \t%r18, %r18, %r19;\n\
              \tselp.b32 \t%r19, 0x00C0FFEE, 0x00BEEF00, %p8;\n\
              \tadd.u32 \t%r18, %r18, %r19;\n";
        s += &Record::stores(
            &WORDS,
            &["%r11", "%r13", "%r14", "%r15", "%r16", "%r17", "%r18"],
        );
        s += "\tret;\n}\n";
        s
    }

    fn expect_warp(&self, c: &Ctx, slot: u32, out: &mut [u32]) {
        let u = offset(slot, c.seed);
        let b = |lane: u32| lane ^ u;
        let mask =
            |f: &dyn Fn(u32) -> bool| (0..32).filter(|&l| f(l)).fold(0u32, |m, l| m | 1 << l);
        let arm_a = mask(&|l| b(l) & 1 == 0);
        // p2: bit 2 in arm A, bit 1 in arm B
        let p2 = mask(&|l| {
            if b(l) & 1 == 0 {
                b(l) & 4 != 0
            } else {
                b(l) & 2 != 0
            }
        });
        for (lane, w) in out.chunks_exact_mut(WORDS.len()).enumerate() {
            let lane = lane as u32;
            let (b, d) = (b(lane), mix(lane, slot, c.seed, SALT));
            let mut s = d;
            if b & 1 == 0 {
                s = rotl(s, 7);
                s = if b & 4 == 0 {
                    s ^ 0x1656_67B1
                } else {
                    s.wrapping_sub(0x7F4A_7C15)
                };
                w[2] = arm_a;
            } else {
                s ^= 0x5BD1_E995;
                if b & 2 == 0 {
                    s = s.wrapping_mul(0x0100_0193);
                } else {
                    s = s.wrapping_add(0x3C6E_F372);
                    if b & 4 != 0 {
                        s = rotl(s, 13);
                    }
                }
                w[2] = !arm_a;
            }
            w[1] = s;
            w[3] = arm_a;
            w[4] = p2;
            w[5] = u32::MAX;
            w[6] = looped(d);
            w[7] = rotl(d, 11) ^ 0x0B4E_0EF3;
            w[7] = w[7].wrapping_add(0x00C0_FFEE);
        }
    }
}
