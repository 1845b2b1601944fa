//! `sig_alu` — decode and operation (`ioc`, `iio`, `ira`, `ir`, `fu`).
//!
//! Every lane computes each operation class once on its own operands and stores the
//! result as a word of its record: random words `a`, `b` (a hash of lane, warp slot and
//! seed), a walking one `w1 = 1 << lane` and walking zero `w0 = !w1`, a lane/slot
//! pattern `c`, shift amounts from `b`; 16-bit halves, 64-bit pairs, and floats that
//! are small integers or halves so every float result is exact (f32 and f64 `.rn`
//! arithmetic, `min`/`max`, conversions). Immediates of 16, 32 and 64 bits and of f32
//! and f64 feed results in full. A 64-bit result is folded to 32 bits (`lo ^ hi`), two
//! 16-bit results packed, and two consecutive results share one word of the record
//! (`first ^ rotl(second, 16)`, named `first^second`): on the virtual GPU a stored word
//! costs several times an ALU instruction.
//!
//! Each operation is one [`Op`]: its PTX and its value on the CPU side by side, so the
//! kernel and its expectation cannot drift apart. Registers are numbered (`%r20`,
//! `%r21`, …) so a register-address fault finds a neighbour holding another value.

use super::frame::{entry, mix, prologue, Record};
use super::{Ctx, Kernel};
use std::sync::OnceLock;

pub(crate) struct Alu;
pub(crate) const ALU: Alu = Alu;

const NAME: &str = "sig_alu";
const SALT: u32 = 0xA1B2_C3D4;

/// The operands of a lane (mirrors the kernel's input block).
struct V {
    lane: u32,
    a: u32,
    b: u32,
    c: u32,
    w1: u32,
    w0: u32,
    sh: u32,
    sh64: u32,
    a64: u64,
    b64: u64,
    h: [u16; 4],
    f: [f32; 3],
    d: [f64; 3],
}

impl V {
    fn new(lane: u32, slot: u32, seed: u32) -> V {
        let x = mix(lane, slot, seed, SALT);
        let a = x;
        let b = x.rotate_left(13).wrapping_mul(0x2C1B_3C6D) ^ 0x297A_2D39;
        let w1 = 1u32 << lane;
        let c = lane.wrapping_mul(0x0101_0101).wrapping_add(slot);
        let f1 = ((a as i32) >> 20) as f32;
        let f2 = ((b as i32) >> 21) as f32 * 0.5;
        let f3 = lane as f32 + 0.25;
        V {
            lane,
            a,
            b,
            c,
            w1,
            w0: !w1,
            sh: b & 31,
            sh64: a & 63,
            a64: u64::from(a) | u64::from(b) << 32,
            b64: u64::from(c) | u64::from(!w1) << 32,
            h: [a as u16, (a >> 16) as u16, b as u16, (b >> 16) as u16],
            f: [f1, f2, f3],
            d: [f64::from(f1), f64::from(f2), f64::from(f3)],
        }
    }
}

/// How one word's expectation is computed.
enum Eval {
    /// A 32-bit result.
    W32(fn(&V) -> u32),
    /// An f32 result (its bits).
    F32(fn(&V) -> f32),
    /// A 64-bit result, folded `lo ^ hi`.
    W64(fn(&V) -> u64),
    /// An f64 result, folded.
    F64(fn(&V) -> f64),
    /// Two 16-bit results packed `lo | hi << 16`.
    Pair16(fn(&V) -> u16, fn(&V) -> u16),
    /// Two words folded into one: `first ^ rotl(second, 16)`.
    Fold(Box<Eval>, Box<Eval>),
}

impl Eval {
    fn value(&self, v: &V) -> u32 {
        let fold = |x: u64| x as u32 ^ (x >> 32) as u32;
        match self {
            Eval::W32(f) => f(v),
            Eval::F32(f) => f(v).to_bits(),
            Eval::W64(f) => fold(f(v)),
            Eval::F64(f) => fold(f(v).to_bits()),
            Eval::Pair16(lo, hi) => u32::from(lo(v)) | u32::from(hi(v)) << 16,
            Eval::Fold(a, b) => a.value(v) ^ b.value(v).rotate_left(16),
        }
    }
}

/// The generated kernel: its PTX body, word names and evaluations.
struct Built {
    body: String,
    names: Vec<&'static str>,
    evals: Vec<Eval>,
}

/// Emits operations and their stores: `{d}` in an operation's PTX is its destination.
struct Builder {
    body: String,
    rec: Record,
    evals: Vec<Eval>,
    /// A result waiting for the next one to share its word.
    pending: Option<(&'static str, String, Eval)>,
    r: u32,
    h: u32,
    rd: u32,
    f: u32,
    fd: u32,
}

fn next(n: &mut u32, lo: u32, hi: u32) -> u32 {
    let v = *n;
    *n = if v + 1 > hi { lo } else { v + 1 };
    v
}

impl Builder {
    fn emit(&mut self, tmpl: &str, d: &str) {
        for line in tmpl.split(';').map(str::trim).filter(|l| !l.is_empty()) {
            let line = line.replace("{d}", d);
            let (op, args) = line.split_once(' ').unwrap_or((&line, ""));
            self.body += &format!("\t{op} \t{};\n", args.trim());
        }
    }
    /// Two results share a word, `first ^ rotl(second, 16)` (named `first^second`): a
    /// wrong result changes the word, half the stores and bytes of one per result. (A
    /// fault that flips one bit of both would have to flip bits 16 apart to cancel.)
    fn store(&mut self, name: &'static str, reg: &str, eval: Eval) {
        let reg = if reg.starts_with("%f") && !reg.starts_with("%fd") {
            let r = format!("%r{}", next(&mut self.r, 20, 63));
            self.body += &format!("\tmov.b32 \t{r}, {reg};\n");
            r
        } else {
            reg.to_string()
        };
        let Some((first, r1, e1)) = self.pending.take() else {
            self.pending = Some((name, reg, eval));
            return;
        };
        let (t, w) = (
            format!("%r{}", next(&mut self.r, 20, 63)),
            format!("%r{}", next(&mut self.r, 20, 63)),
        );
        self.body +=
            &format!("\tshf.l.wrap.b32 \t{t}, {reg}, {reg}, 16;\n\txor.b32 \t{w}, {r1}, {t};\n");
        let name: &'static str = Box::leak(format!("{first}^{name}").into_boxed_str());
        self.rec.word(name, &w);
        self.evals.push(Eval::Fold(Box::new(e1), Box::new(eval)));
        self.body += &std::mem::take(&mut self.rec.ptx);
    }

    /// The word names, with a last unpaired result stored alone.
    fn finish(mut self) -> Built {
        if let Some((name, reg, eval)) = self.pending.take() {
            self.rec.word(name, &reg);
            self.evals.push(eval);
            self.body += &std::mem::take(&mut self.rec.ptx);
        }
        Built {
            names: self.rec.finish(),
            body: self.body,
            evals: self.evals,
        }
    }
    fn r32(&mut self, name: &'static str, tmpl: &str, f: fn(&V) -> u32) {
        let d = format!("%r{}", next(&mut self.r, 20, 63));
        self.emit(tmpl, &d);
        self.store(name, &d, Eval::W32(f));
    }
    fn f32(&mut self, name: &'static str, tmpl: &str, f: fn(&V) -> f32) {
        let d = format!("%f{}", next(&mut self.f, 4, 14));
        self.emit(tmpl, &d);
        self.store(name, &d, Eval::F32(f));
    }
    fn unpack(&mut self, src: &str) -> String {
        let (lo, hi, w) = (
            format!("%r{}", next(&mut self.r, 20, 63)),
            format!("%r{}", next(&mut self.r, 20, 63)),
            format!("%r{}", next(&mut self.r, 20, 63)),
        );
        self.body += &format!("\tmov.b64 \t{{{lo}, {hi}}}, {src};\n\txor.b32 \t{w}, {lo}, {hi};\n");
        w
    }
    fn r64(&mut self, name: &'static str, tmpl: &str, f: fn(&V) -> u64) {
        let d = format!("%rd{}", next(&mut self.rd, 12, 15));
        self.emit(tmpl, &d);
        let w = self.unpack(&d);
        self.store(name, &w, Eval::W64(f));
    }
    fn f64(&mut self, name: &'static str, tmpl: &str, f: fn(&V) -> f64) {
        let d = format!("%fd{}", next(&mut self.fd, 4, 15));
        self.emit(tmpl, &d);
        let w = self.unpack(&d);
        self.store(name, &w, Eval::F64(f));
    }
    fn pair16(
        &mut self,
        name: &'static str,
        (t0, f0): (&str, fn(&V) -> u16),
        (t1, f1): (&str, fn(&V) -> u16),
    ) {
        let lo = format!("%h{}", next(&mut self.h, 5, 15));
        self.emit(t0, &lo);
        let hi = format!("%h{}", next(&mut self.h, 5, 15));
        self.emit(t1, &hi);
        let w = format!("%r{}", next(&mut self.r, 20, 63));
        self.body += &format!("\tmov.b32 \t{w}, {{{lo}, {hi}}};\n");
        self.store(name, &w, Eval::Pair16(f0, f1));
    }
}

fn shl16(x: u16, n: u32) -> u16 {
    if n >= 16 {
        0
    } else {
        x << n
    }
}

fn prmt(a: u32, b: u32, sel: u32) -> u32 {
    let bytes = u64::from(a) | u64::from(b) << 32;
    (0..4).fold(0, |d, k| {
        let s = (sel >> (4 * k)) & 7;
        d | (((bytes >> (8 * s)) & 0xff) as u32) << (8 * k)
    })
}

fn build() -> Built {
    let mut b = Builder {
        body: String::new(),
        rec: Record::new(),
        evals: Vec::new(),
        pending: None,
        r: 20,
        h: 5,
        rd: 12,
        f: 4,
        fd: 4,
    };
    // the operands (mirrors V::new)
    b.body += "\tmov.u32 \t%r10, %r9;\n\
               \tshf.l.wrap.b32 \t%r11, %r9, %r9, 13;\n\
               \tmul.lo.u32 \t%r11, %r11, 0x2C1B3C6D;\n\
               \txor.b32 \t%r11, %r11, 0x297A2D39;\n\
               \tmov.u32 \t%r12, 1;\n\
               \tshl.b32 \t%r12, %r12, %r3;\n\
               \tnot.b32 \t%r13, %r12;\n\
               \tmad.lo.u32 \t%r14, %r3, 0x01010101, %r2;\n\
               \tand.b32 \t%r15, %r11, 31;\n\
               \tand.b32 \t%r16, %r10, 63;\n\
               \tmov.b64 \t%rd10, {%r10, %r11};\n\
               \tmov.b64 \t%rd11, {%r14, %r13};\n\
               \tmov.b32 \t{%h1, %h2}, %r10;\n\
               \tmov.b32 \t{%h3, %h4}, %r11;\n\
               \tshr.s32 \t%r17, %r10, 20;\n\
               \tcvt.rn.f32.s32 \t%f1, %r17;\n\
               \tshr.s32 \t%r17, %r11, 21;\n\
               \tcvt.rn.f32.s32 \t%f2, %r17;\n\
               \tmul.rn.f32 \t%f2, %f2, 0f3F000000;\n\
               \tcvt.rn.f32.u32 \t%f3, %r3;\n\
               \tadd.rn.f32 \t%f3, %f3, 0f3E800000;\n\
               \tcvt.f64.f32 \t%fd1, %f1;\n\
               \tcvt.f64.f32 \t%fd2, %f2;\n\
               \tcvt.f64.f32 \t%fd3, %f3;\n";

    // 32-bit integer: the opcode groups `ioc` substitutes, and their immediates
    b.r32("add.s32", "add.s32 {d}, %r10, %r11", |v| {
        v.a.wrapping_add(v.b)
    });
    b.r32("sub.s32", "sub.s32 {d}, %r10, %r12", |v| {
        v.a.wrapping_sub(v.w1)
    });
    b.r32("mul.lo.u32", "mul.lo.u32 {d}, %r10, %r11", |v| {
        v.a.wrapping_mul(v.b)
    });
    b.r32("mad.lo.s32", "mad.lo.s32 {d}, %r10, %r11, %r13", |v| {
        v.a.wrapping_mul(v.b).wrapping_add(v.w0)
    });
    b.r32("and.b32", "and.b32 {d}, %r10, %r13", |v| v.a & v.w0);
    b.r32("or.b32", "or.b32 {d}, %r11, %r12", |v| v.b | v.w1);
    b.r32("xor.b32", "xor.b32 {d}, %r10, %r11", |v| v.a ^ v.b);
    b.r32("min.s32", "min.s32 {d}, %r10, %r11", |v| {
        (v.a as i32).min(v.b as i32) as u32
    });
    b.r32("max.s32", "max.s32 {d}, %r10, %r14", |v| {
        (v.a as i32).max(v.c as i32) as u32
    });
    b.r32("min.u32", "min.u32 {d}, %r11, %r14", |v| v.b.min(v.c));
    b.r32("max.u32", "max.u32 {d}, %r10, %r11", |v| v.a.max(v.b));
    b.r32("shl.b32", "shl.b32 {d}, %r10, %r15", |v| v.a << v.sh);
    b.r32("shr.u32", "shr.u32 {d}, %r11, %r15", |v| v.b >> v.sh);
    b.r32("shr.s32", "shr.s32 {d}, %r10, %r15", |v| {
        ((v.a as i32) >> v.sh) as u32
    });
    b.r32("add.s32.imm", "add.s32 {d}, %r10, 0x2468ACE1", |v| {
        v.a.wrapping_add(0x2468_ACE1)
    });
    b.r32("xor.b32.imm", "xor.b32 {d}, %r11, 0x5A5AA5A5", |v| {
        v.b ^ 0x5A5A_A5A5
    });
    b.r32("mul.lo.s32.imm", "mul.lo.s32 {d}, %r14, -12345", |v| {
        (v.c as i32).wrapping_mul(-12345) as u32
    });
    b.r32(
        "mad.lo.u32.imm",
        "mad.lo.u32 {d}, %r10, 0x01000193, 0x811C9DC5",
        |v| v.a.wrapping_mul(0x0100_0193).wrapping_add(0x811C_9DC5),
    );
    b.r32("sub.s32.imm", "sub.s32 {d}, %r11, 0x13579BDF", |v| {
        v.b.wrapping_sub(0x1357_9BDF)
    });
    b.r32("shl.b32.imm", "shl.b32 {d}, %r10, 7", |v| v.a << 7);
    b.r32("shr.u32.imm", "shr.u32 {d}, %r11, 19", |v| v.b >> 19);
    b.r32("or.b32.imm", "or.b32 {d}, %r13, 0x80000001", |v| {
        v.w0 | 0x8000_0001
    });
    // bit manipulation, wide multiplies, division
    b.r32("mul.hi.u32", "mul.hi.u32 {d}, %r10, %r11", |v| {
        ((u64::from(v.a) * u64::from(v.b)) >> 32) as u32
    });
    b.r32("mul.hi.s32", "mul.hi.s32 {d}, %r11, %r14", |v| {
        ((i64::from(v.b as i32) * i64::from(v.c as i32)) >> 32) as u32
    });
    b.r32("mad.hi.u32", "mad.hi.u32 {d}, %r10, %r11, %r14", |v| {
        (((u64::from(v.a) * u64::from(v.b)) >> 32) as u32).wrapping_add(v.c)
    });
    b.r32("mul24.lo.u32", "mul24.lo.u32 {d}, %r10, %r11", |v| {
        (u64::from(v.a & 0xff_ffff) * u64::from(v.b & 0xff_ffff)) as u32
    });
    b.r32("sad.u32", "sad.u32 {d}, %r10, %r11, %r14", |v| {
        v.a.abs_diff(v.b).wrapping_add(v.c)
    });
    b.r32("popc.b32", "popc.b32 {d}, %r10", |v| v.a.count_ones());
    b.r32("clz.b32", "clz.b32 {d}, %r12", |v| v.w1.leading_zeros());
    b.r32("brev.b32", "brev.b32 {d}, %r11", |v| v.b.reverse_bits());
    b.r32("bfind.u32", "bfind.u32 {d}, %r14", |v| {
        if v.c == 0 {
            u32::MAX
        } else {
            31 - v.c.leading_zeros()
        }
    });
    b.r32("bfe.u32", "bfe.u32 {d}, %r10, 5, 11", |v| {
        (v.a >> 5) & 0x7ff
    });
    b.r32("bfi.b32", "bfi.b32 {d}, %r10, %r11, 5, 13", |v| {
        let m = 0x1fff << 5;
        (v.b & !m) | ((v.a << 5) & m)
    });
    b.r32("prmt.b32", "prmt.b32 {d}, %r10, %r11, 0x5140", |v| {
        prmt(v.a, v.b, 0x5140)
    });
    b.r32("shf.l.b32", "shf.l.wrap.b32 {d}, %r10, %r11, %r15", |v| {
        ((((u64::from(v.b) << 32) | u64::from(v.a)) << v.sh) >> 32) as u32
    });
    b.r32("neg.s32", "neg.s32 {d}, %r10", |v| v.a.wrapping_neg());
    b.r32("abs.s32", "abs.s32 {d}, %r11", |v| {
        (v.b as i32).wrapping_abs() as u32
    });
    b.r32("not.b32", "not.b32 {d}, %r14", |v| !v.c);
    b.r32(
        "div.u32",
        "or.b32 %r18, %r14, 1; div.u32 {d}, %r10, %r18",
        |v| v.a / (v.c | 1),
    );
    b.r32(
        "rem.u32",
        "or.b32 %r18, %r14, 1; rem.u32 {d}, %r11, %r18",
        |v| v.b % (v.c | 1),
    );
    // comparisons and selects
    b.r32(
        "setp",
        "setp.lt.s32 %p1, %r10, %r11; setp.lo.u32 %p2, %r10, %r11; \
         and.b32 %r18, %r10, 3; and.b32 %r19, %r3, 3; setp.eq.u32 %p3, %r18, %r19; \
         setp.le.s32 %p4, %r11, %r14; setp.gt.u32 %p5, %r14, %r12; \
         setp.ge.s32 %p6, %r10, 0; setp.hs.u32 %p7, %r11, %r10; \
         selp.b32 {d}, 1, 0, %p1; selp.b32 %r18, 2, 0, %p2; or.b32 {d}, {d}, %r18; \
         selp.b32 %r18, 4, 0, %p3; or.b32 {d}, {d}, %r18; \
         selp.b32 %r18, 8, 0, %p4; or.b32 {d}, {d}, %r18; \
         selp.b32 %r18, 16, 0, %p5; or.b32 {d}, {d}, %r18; \
         selp.b32 %r18, 32, 0, %p6; or.b32 {d}, {d}, %r18; \
         selp.b32 %r18, 64, 0, %p7; or.b32 {d}, {d}, %r18",
        |v| {
            let bits = [
                (v.a as i32) < (v.b as i32),
                v.a < v.b,
                v.a & 3 == v.lane & 3,
                (v.b as i32) <= (v.c as i32),
                v.c > v.w1,
                v.a as i32 >= 0,
                v.b >= v.a,
            ];
            bits.iter()
                .enumerate()
                .fold(0, |m, (k, &p)| m | u32::from(p) << k)
        },
    );
    b.r32("slct.s32", "slct.s32.s32 {d}, %r10, %r14, %r11", |v| {
        if v.b as i32 >= 0 {
            v.a
        } else {
            v.c
        }
    });
    b.r32("set.u32", "set.lt.u32.s32 {d}, %r11, %r10", |v| {
        if (v.b as i32) < (v.a as i32) {
            u32::MAX
        } else {
            0
        }
    });
    // 16-bit
    b.pair16(
        "add.u16|sub.s16",
        ("add.u16 {d}, %h1, %h3", |v| v.h[0].wrapping_add(v.h[2])),
        ("sub.s16 {d}, %h2, %h4", |v| v.h[1].wrapping_sub(v.h[3])),
    );
    b.pair16(
        "mul.lo.u16|and.b16",
        ("mul.lo.u16 {d}, %h1, %h4", |v| v.h[0].wrapping_mul(v.h[3])),
        ("and.b16 {d}, %h2, %h3", |v| v.h[1] & v.h[2]),
    );
    b.pair16(
        "or.b16|xor.b16",
        ("or.b16 {d}, %h1, %h2", |v| v.h[0] | v.h[1]),
        ("xor.b16 {d}, %h3, %h4", |v| v.h[2] ^ v.h[3]),
    );
    b.pair16(
        "min.s16|max.u16",
        ("min.s16 {d}, %h1, %h3", |v| {
            (v.h[0] as i16).min(v.h[2] as i16) as u16
        }),
        ("max.u16 {d}, %h2, %h4", |v| v.h[1].max(v.h[3])),
    );
    b.pair16(
        "shl.b16|shr.u16.imm",
        ("shl.b16 {d}, %h1, %r15", |v| shl16(v.h[0], v.sh)),
        ("shr.u16 {d}, %h3, 3", |v| v.h[2] >> 3),
    );
    b.pair16(
        "add.u16.imm|shr.s16",
        ("add.u16 {d}, %h4, 0x5A3C", |v| v.h[3].wrapping_add(0x5A3C)),
        ("shr.s16 {d}, %h2, %r15", |v| {
            ((v.h[1] as i16) >> v.sh.min(15)) as u16
        }),
    );
    b.r32("mul.wide.u16", "mul.wide.u16 {d}, %h1, %h3", |v| {
        u32::from(v.h[0]) * u32::from(v.h[2])
    });
    b.r32("cvt.s32.s16", "cvt.s32.s16 {d}, %h2", |v| {
        v.h[1] as i16 as i32 as u32
    });
    // 64-bit
    b.r64("add.s64", "add.s64 {d}, %rd10, %rd11", |v| {
        v.a64.wrapping_add(v.b64)
    });
    b.r64("sub.s64", "sub.s64 {d}, %rd10, %rd11", |v| {
        v.a64.wrapping_sub(v.b64)
    });
    b.r64("mul.lo.u64", "mul.lo.u64 {d}, %rd10, %rd11", |v| {
        v.a64.wrapping_mul(v.b64)
    });
    b.r64("and.b64", "and.b64 {d}, %rd10, %rd11", |v| v.a64 & v.b64);
    b.r64("or.b64", "or.b64 {d}, %rd10, %rd11", |v| v.a64 | v.b64);
    b.r64("xor.b64", "xor.b64 {d}, %rd10, %rd11", |v| v.a64 ^ v.b64);
    b.r64("min.s64", "min.s64 {d}, %rd10, %rd11", |v| {
        (v.a64 as i64).min(v.b64 as i64) as u64
    });
    b.r64("max.u64", "max.u64 {d}, %rd10, %rd11", |v| v.a64.max(v.b64));
    b.r64("shl.b64", "shl.b64 {d}, %rd10, %r16", |v| v.a64 << v.sh64);
    b.r64("shr.u64", "shr.u64 {d}, %rd11, %r16", |v| v.b64 >> v.sh64);
    b.r64("shr.s64", "shr.s64 {d}, %rd10, %r16", |v| {
        ((v.a64 as i64) >> v.sh64) as u64
    });
    b.r64(
        "add.s64.imm",
        "add.s64 {d}, %rd11, 0x0123456789ABCDEF",
        |v| v.b64.wrapping_add(0x0123_4567_89AB_CDEF),
    );
    b.r64("mul.wide.u32", "mul.wide.u32 {d}, %r10, %r11", |v| {
        u64::from(v.a) * u64::from(v.b)
    });
    b.r64("mul.wide.s32", "mul.wide.s32 {d}, %r11, %r14", |v| {
        (i64::from(v.b as i32) * i64::from(v.c as i32)) as u64
    });
    b.r64("cvt.s64.s32", "cvt.s64.s32 {d}, %r11", |v| {
        v.b as i32 as i64 as u64
    });
    // f32 (every result exact)
    b.f32("add.f32", "add.rn.f32 {d}, %f1, %f2", |v| v.f[0] + v.f[1]);
    b.f32("sub.f32", "sub.rn.f32 {d}, %f1, %f3", |v| v.f[0] - v.f[2]);
    b.f32("mul.f32", "mul.rn.f32 {d}, %f1, %f2", |v| v.f[0] * v.f[1]);
    b.f32("fma.f32", "fma.rn.f32 {d}, %f1, %f2, %f3", |v| {
        v.f[0] * v.f[1] + v.f[2]
    });
    b.f32("min.f32", "min.f32 {d}, %f1, %f2", |v| v.f[0].min(v.f[1]));
    b.f32("max.f32", "max.f32 {d}, %f2, %f3", |v| v.f[1].max(v.f[2]));
    b.f32("add.f32.imm", "add.rn.f32 {d}, %f1, 0f44800000", |v| {
        v.f[0] + 1024.0
    });
    b.f32("mul.f32.imm", "mul.rn.f32 {d}, %f3, 0fC0400000", |v| {
        v.f[2] * -3.0
    });
    b.f32("neg.f32", "neg.f32 {d}, %f2", |v| -v.f[1]);
    b.f32("abs.f32", "abs.f32 {d}, %f1", |v| v.f[0].abs());
    b.r32(
        "cvt.rzi.s32.f32",
        "mul.rn.f32 %f15, %f2, 0f3F400000; cvt.rzi.s32.f32 {d}, %f15",
        |v| (v.f[1] * 0.75) as i32 as u32,
    );
    b.r32(
        "cvt.rn.f32.u32",
        "cvt.rn.f32.u32 %f15, %r14; mov.b32 {d}, %f15",
        |v| (v.c as f32).to_bits(),
    );
    // f64 (every result exact)
    b.f64("add.f64", "add.rn.f64 {d}, %fd1, %fd2", |v| v.d[0] + v.d[1]);
    b.f64("sub.f64", "sub.rn.f64 {d}, %fd2, %fd3", |v| v.d[1] - v.d[2]);
    b.f64("mul.f64", "mul.rn.f64 {d}, %fd1, %fd3", |v| v.d[0] * v.d[2]);
    b.f64("fma.f64", "fma.rn.f64 {d}, %fd1, %fd2, %fd3", |v| {
        v.d[0] * v.d[1] + v.d[2]
    });
    b.f64("min.f64", "min.f64 {d}, %fd1, %fd2", |v| v.d[0].min(v.d[1]));
    b.f64("max.f64", "max.f64 {d}, %fd2, %fd3", |v| v.d[1].max(v.d[2]));
    b.f64(
        "add.f64.imm",
        "add.rn.f64 {d}, %fd1, 0d4090000000000000",
        |v| v.d[0] + 1024.0,
    );
    b.f64("cvt.f64.s32", "cvt.rn.f64.s32 {d}, %r10", |v| {
        f64::from(v.a as i32)
    });
    b.finish()
}

fn built() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(build)
}

impl Kernel for Alu {
    fn name(&self) -> &'static str {
        NAME
    }
    fn unit(&self) -> &'static str {
        "decode"
    }
    fn words(&self) -> &'static [&'static str] {
        &built().names
    }
    fn cost(&self) -> u64 {
        363
    }

    fn ptx(&self) -> String {
        let b = built();
        let mut s = entry(NAME, &[]);
        s += &prologue(NAME, b.names.len(), SALT);
        s += &b.body;
        s += "\tret;\n}\n";
        s
    }

    fn expect_warp(&self, c: &Ctx, slot: u32, out: &mut [u32]) {
        let b = built();
        for (lane, w) in out.chunks_exact_mut(b.names.len()).enumerate() {
            let v = V::new(lane as u32, slot, c.seed);
            for (k, e) in b.evals.iter().enumerate() {
                w[k + 1] = e.value(&v);
            }
        }
    }
}
