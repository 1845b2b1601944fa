//! `sig_warp` — warp-level operations: lanes read each other's values, so a fault in
//! one lane shows in the words of many.
//!
//! | word | operation (values `v` = the lanes' data) |
//! |---|---|
//! | `shfl.up`, `shfl.down`, `shfl.bfly`, `shfl.idx` | `shfl.sync` of `v` by 3 up, 5 down, xor 19, from a data-dependent lane |
//! | `shfl.idx.w8`, `shfl.down.w16` | segmented shuffles (widths 8 and 16) |
//! | `shfl.pred` | the in-range predicates of the up, down and segmented shuffles (bits) |
//! | `vote.ballot`, `vote.pred` | `vote.sync.ballot` of bit 0 of `v`; `all`/`any`/`uni` (bits) |
//! | `match.any`, `match.all`, `match.any.b64` | lanes with equal `v & 3`; all lanes with the warp slot; 64-bit |
//! | `redux.add` … `redux.xor` | `redux.sync` add, min, max (signed), and, or, xor of `v` |
//! | `bar.popc`, `bar.pred` | `bar.red.popc` over the CTA of odd lanes; `bar.red.and`/`or` (bits) |
//! | `activemask` | after all that, every lane |
//! | `shfl.bfly.w4`, `match.all.lane` | a width-4 butterfly; `match.all` of the lane ids (no match) |

use super::frame::{entry, mix, prologue, Record};
use super::{Ctx, Kernel};
use std::sync::OnceLock;

pub(crate) struct Warp;
pub(crate) const WARP: Warp = Warp;

const NAME: &str = "sig_warp";
const SALT: u32 = 0x0D15_EA5E;

struct Built {
    body: String,
    names: Vec<&'static str>,
}

fn built() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let mut rec = Record::new();
        let mut s = String::from(
            "\tshfl.sync.up.b32 \t%r10|%p1, %r9, 3, 0, -1;\n\
             \tshfl.sync.down.b32 \t%r11|%p2, %r9, 5, 31, -1;\n\
             \tshfl.sync.bfly.b32 \t%r12, %r9, 19, 31, -1;\n\
             \tshr.u32 \t%r13, %r9, 5;\n\
             \tand.b32 \t%r13, %r13, 31;\n\
             \tshfl.sync.idx.b32 \t%r14, %r9, %r13, 31, -1;\n\
             \tshfl.sync.idx.b32 \t%r15|%p3, %r9, 5, 0x181F, -1;\n\
             \tshfl.sync.down.b32 \t%r16|%p4, %r9, 3, 0x101F, -1;\n\
             \tselp.b32 \t%r17, 1, 0, %p1;\n\
             \tselp.b32 \t%r18, 2, 0, %p2;\n\
             \tor.b32 \t%r17, %r17, %r18;\n\
             \tselp.b32 \t%r18, 4, 0, %p3;\n\
             \tor.b32 \t%r17, %r17, %r18;\n\
             \tselp.b32 \t%r18, 8, 0, %p4;\n\
             \tor.b32 \t%r17, %r17, %r18;\n",
        );
        for (name, reg) in [
            ("shfl.up", "%r10"),
            ("shfl.down", "%r11"),
            ("shfl.bfly", "%r12"),
            ("shfl.idx", "%r14"),
            ("shfl.idx.w8", "%r15"),
            ("shfl.down.w16", "%r16"),
            ("shfl.pred", "%r17"),
        ] {
            rec.word(name, reg);
        }
        s += &std::mem::take(&mut rec.ptx);
        s += "\tand.b32 \t%r19, %r9, 1;\n\
              \tsetp.ne.u32 \t%p5, %r19, 0;\n\
              \tvote.sync.ballot.b32 \t%r20, %p5, -1;\n\
              \tsetp.lt.u32 \t%p6, %r3, 32;\n\
              \tvote.sync.all.pred \t%p7, %p6, -1;\n\
              \tvote.sync.any.pred \t%p8, %p5, -1;\n\
              \tvote.sync.uni.pred \t%p9, %p5, -1;\n\
              \tvote.sync.uni.pred \t%p10, %p6, -1;\n\
              \tselp.b32 \t%r21, 1, 0, %p7;\n\
              \tselp.b32 \t%r22, 2, 0, %p8;\n\
              \tor.b32 \t%r21, %r21, %r22;\n\
              \tselp.b32 \t%r22, 4, 0, %p9;\n\
              \tor.b32 \t%r21, %r21, %r22;\n\
              \tselp.b32 \t%r22, 8, 0, %p10;\n\
              \tor.b32 \t%r21, %r21, %r22;\n\
              \tand.b32 \t%r23, %r9, 3;\n\
              \tmatch.any.sync.b32 \t%r24, %r23, -1;\n\
              \tmatch.all.sync.b32 \t%r25|%p11, %r2, -1;\n\
              \tselp.b32 \t%r26, 0x10000, 0, %p11;\n\
              \txor.b32 \t%r25, %r25, %r26;\n\
              \tshr.u32 \t%r26, %r9, 30;\n\
              \tcvt.u64.u32 \t%rd4, %r26;\n\
              \tmatch.any.sync.b64 \t%r26, %rd4, -1;\n";
        for (name, reg) in [
            ("vote.ballot", "%r20"),
            ("vote.pred", "%r21"),
            ("match.any", "%r24"),
            ("match.all", "%r25"),
            ("match.any.b64", "%r26"),
        ] {
            rec.word(name, reg);
        }
        s += &std::mem::take(&mut rec.ptx);
        s += "\tredux.sync.add.u32 \t%r27, %r9, -1;\n\
              \tredux.sync.min.u32 \t%r28, %r9, -1;\n\
              \tredux.sync.max.s32 \t%r29, %r9, -1;\n\
              \tredux.sync.and.b32 \t%r30, %r9, -1;\n\
              \tredux.sync.or.b32 \t%r31, %r9, -1;\n\
              \tredux.sync.xor.b32 \t%r32, %r9, -1;\n\
              \tand.b32 \t%r33, %r3, 1;\n\
              \tsetp.ne.u32 \t%p12, %r33, 0;\n\
              \tbar.sync \t0;\n\
              \tbar.red.popc.u32 \t%r34, 0, %p12;\n\
              \tbar.red.and.pred \t%p13, 0, %p6;\n\
              \tnot.pred \t%p14, %p6;\n\
              \tbar.red.or.pred \t%p15, 0, %p14;\n\
              \tselp.b32 \t%r35, 1, 0, %p13;\n\
              \tselp.b32 \t%r36, 2, 0, %p15;\n\
              \tor.b32 \t%r35, %r35, %r36;\n\
              \tactivemask.b32 \t%r37;\n\
              \tshfl.sync.bfly.b32 \t%r38, %r9, 2, 0x1C1F, -1;\n\
              \tmatch.all.sync.b32 \t%r39|%p1, %r3, -1;\n\
              \tselp.b32 \t%r40, 0x10000, 0, %p1;\n\
              \txor.b32 \t%r39, %r39, %r40;\n";
        for (name, reg) in [
            ("redux.add", "%r27"),
            ("redux.min", "%r28"),
            ("redux.max", "%r29"),
            ("redux.and", "%r30"),
            ("redux.or", "%r31"),
            ("redux.xor", "%r32"),
            ("bar.popc", "%r34"),
            ("bar.pred", "%r35"),
            ("activemask", "%r37"),
            ("shfl.bfly.w4", "%r38"),
            ("match.all.lane", "%r39"),
        ] {
            rec.word(name, reg);
        }
        s += &std::mem::take(&mut rec.ptx);
        Built {
            body: s,
            names: rec.finish(),
        }
    })
}

/// `shfl.sync` of `v` as lane `lane` sees it (PTX ISA semantics): the value and the
/// in-range predicate.
fn shfl(v: &[u32], lane: u32, mode: char, b: u32, c: u32) -> (u32, bool) {
    let (l, b) = (lane as i32, (b & 31) as i32);
    let seg = ((c >> 8) & 31) as i32;
    let cval = (c & 31) as i32;
    let max = (l & seg) | (cval & !seg);
    let min = l & seg;
    let (j, ok) = match mode {
        'u' => (l - b, l - b >= max),
        'd' => (l + b, l + b <= max),
        'b' => (l ^ b, (l ^ b) <= max),
        _ => {
            let j = min | (b & !seg);
            (j, j <= max)
        }
    };
    (v[if ok { j as usize } else { lane as usize }], ok)
}

impl Kernel for Warp {
    fn name(&self) -> &'static str {
        NAME
    }
    fn unit(&self) -> &'static str {
        "warp-ops"
    }
    fn words(&self) -> &'static [&'static str] {
        &built().names
    }
    fn cost(&self) -> u64 {
        101
    }

    fn ptx(&self) -> String {
        let mut s = entry(NAME, &[]);
        s += &prologue(NAME, built().names.len(), SALT);
        s += &built().body;
        s += "\tret;\n}\n";
        s
    }

    fn expect_warp(&self, c: &Ctx, slot: u32, out: &mut [u32]) {
        let r = built().names.len();
        let v: Vec<u32> = (0..32).map(|l| mix(l, slot, c.seed, SALT)).collect();
        let mask =
            |f: &dyn Fn(usize) -> bool| (0..32).filter(|&l| f(l)).fold(0u32, |m, l| m | 1 << l);
        let odd = mask(&|l| v[l] & 1 == 1);
        let vote = 1 | u32::from(odd != 0) << 1 | u32::from(odd == 0 || odd == u32::MAX) << 2 | 8;
        let all_add = v.iter().fold(0u32, |s, x| s.wrapping_add(*x));
        let min = v.iter().copied().min().unwrap_or(0);
        let max = v.iter().map(|x| *x as i32).max().unwrap_or(0) as u32;
        let and = v.iter().fold(u32::MAX, |s, x| s & x);
        let or = v.iter().fold(0, |s, x| s | x);
        let xor = v.iter().fold(0, |s, x| s ^ x);
        let popc = c.shape.warps * 16;
        for (lane, w) in out.chunks_exact_mut(r).enumerate() {
            let l = lane as u32;
            let (up, p1) = shfl(&v, l, 'u', 3, 0);
            let (down, p2) = shfl(&v, l, 'd', 5, 31);
            let (seg8, p3) = shfl(&v, l, 'i', 5, 0x181F);
            let (down16, p4) = shfl(&v, l, 'd', 3, 0x101F);
            w[1] = up;
            w[2] = down;
            w[3] = shfl(&v, l, 'b', 19, 31).0;
            w[4] = shfl(&v, l, 'i', (v[lane] >> 5) & 31, 31).0;
            w[5] = seg8;
            w[6] = down16;
            w[7] = u32::from(p1) | u32::from(p2) << 1 | u32::from(p3) << 2 | u32::from(p4) << 3;
            w[8] = odd;
            w[9] = vote;
            w[10] = mask(&|k| v[k] & 3 == v[lane] & 3);
            w[11] = u32::MAX ^ 0x10000;
            w[12] = mask(&|k| v[k] >> 30 == v[lane] >> 30);
            w[13] = all_add;
            w[14] = min;
            w[15] = max;
            w[16] = and;
            w[17] = or;
            w[18] = xor;
            w[19] = popc;
            w[20] = 1;
            w[21] = u32::MAX;
            w[22] = shfl(&v, l, 'b', 2, 0x1C1F).0;
            w[23] = 0;
        }
    }
}
