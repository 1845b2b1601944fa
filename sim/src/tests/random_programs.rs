//! Property test: random straight-line integer and float programs give the same results
//! on the virtual GPU as a scalar reference evaluator written here with plain Rust
//! arithmetic (independent of the engine's code).

use super::*;
use proptest::prelude::*;

const NI: usize = 6; // b32 registers %r0..%r5
const NF: usize = 4; // f32 registers %f0..%f3
const LANES: usize = 32;

#[derive(Debug, Clone, Copy)]
enum IOp {
    Add,
    Sub,
    MulLo,
    MulHiU,
    MulHiS,
    MadLo,
    And,
    Or,
    Xor,
    Shl,
    ShrU,
    ShrS,
    MinU,
    MinS,
    MaxU,
    MaxS,
    Not,
    Neg,
    Popc,
    Clz,
    Brev,
    BfeU,
    BfeS,
    /// Division and remainder by a nonzero immediate (division by zero is unspecified).
    DivU(u32),
    RemS(i32),
    /// `setp.lt.s32` + `selp`.
    SelLtS,
    Prmt,
}

#[derive(Debug, Clone, Copy)]
enum FOp {
    Add,
    Sub,
    Mul,
    Fma,
    Div,
    Min,
    Max,
    Sqrt,
    Abs,
    Neg,
}

#[derive(Debug, Clone)]
enum Inst {
    I {
        op: IOp,
        d: usize,
        a: usize,
        b: usize,
        c: usize,
        imm: Option<u32>,
    },
    F {
        op: FOp,
        d: usize,
        a: usize,
        b: usize,
        c: usize,
    },
    /// `cvt.rzi.s32.f32 r, f`
    F2I { d: usize, a: usize },
    /// `cvt.rn.f32.s32 f, r` or `.u32`
    I2F { d: usize, a: usize, signed: bool },
}

fn iop() -> impl Strategy<Value = IOp> {
    prop_oneof![
        Just(IOp::Add),
        Just(IOp::Sub),
        Just(IOp::MulLo),
        Just(IOp::MulHiU),
        Just(IOp::MulHiS),
        Just(IOp::MadLo),
        Just(IOp::And),
        Just(IOp::Or),
        Just(IOp::Xor),
        Just(IOp::Shl),
        Just(IOp::ShrU),
        Just(IOp::ShrS),
        Just(IOp::MinU),
        Just(IOp::MinS),
        Just(IOp::MaxU),
        Just(IOp::MaxS),
        Just(IOp::Not),
        Just(IOp::Neg),
        Just(IOp::Popc),
        Just(IOp::Clz),
        Just(IOp::Brev),
        Just(IOp::BfeU),
        Just(IOp::BfeS),
        (1u32..u32::MAX).prop_map(IOp::DivU),
        (2i32..1000).prop_map(IOp::RemS),
        Just(IOp::SelLtS),
        Just(IOp::Prmt),
    ]
}

fn fop() -> impl Strategy<Value = FOp> {
    prop_oneof![
        Just(FOp::Add),
        Just(FOp::Sub),
        Just(FOp::Mul),
        Just(FOp::Fma),
        Just(FOp::Div),
        Just(FOp::Min),
        Just(FOp::Max),
        Just(FOp::Sqrt),
        Just(FOp::Abs),
        Just(FOp::Neg),
    ]
}

fn inst() -> impl Strategy<Value = Inst> {
    prop_oneof![
        4 => (iop(), 0..NI, 0..NI, 0..NI, 0..NI, prop::option::of(any::<u32>()))
            .prop_map(|(op, d, a, b, c, imm)| Inst::I { op, d, a, b, c, imm }),
        3 => (fop(), 0..NF, 0..NF, 0..NF, 0..NF).prop_map(|(op, d, a, b, c)| Inst::F { op, d, a, b, c }),
        1 => (0..NI, 0..NF).prop_map(|(d, a)| Inst::F2I { d, a }),
        1 => (0..NF, 0..NI, any::<bool>()).prop_map(|(d, a, signed)| Inst::I2F { d, a, signed }),
    ]
}

/// Interesting f32 bit patterns mixed with random ones.
fn f32_bits() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => any::<u32>(),
        2 => (-1000i32..1000).prop_map(|x| (x as f32 / 8.0).to_bits()),
        1 => prop::sample::select(vec![
            0u32, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 1, 0x807f_ffff,
            0x3f80_0000, 0x4f00_0000, 0xcf00_0001,
        ]),
    ]
}

fn ptx_of(prog: &[Inst]) -> String {
    let mut s = String::from(
        ".visible .entry k(.param .u64 inp, .param .u64 out)
{
    .reg .pred %p;
    .reg .b32 %r<6>, %tid, %tmp;
    .reg .f32 %f<4>;
    .reg .b64 %pi, %po, %off;
    ld.param.u64 %pi, [inp];
    ld.param.u64 %po, [out];
    mov.u32 %tid, %tid.x;
    mul.wide.u32 %off, %tid, 40;
    add.u64 %pi, %pi, %off;
    add.u64 %po, %po, %off;
",
    );
    for i in 0..NI {
        s += &format!("    ld.global.u32 %r{i}, [%pi+{}];\n", 4 * i);
    }
    for i in 0..NF {
        s += &format!("    ld.global.f32 %f{i}, [%pi+{}];\n", 4 * (NI + i));
    }
    for inst in prog {
        let line = match *inst {
            Inst::I {
                op,
                d,
                a,
                b,
                c,
                imm,
            } => {
                let bs = match imm {
                    Some(v) => format!("{v}"),
                    None => format!("%r{b}"),
                };
                match op {
                    IOp::Add => format!("add.u32 %r{d}, %r{a}, {bs};"),
                    IOp::Sub => format!("sub.s32 %r{d}, %r{a}, {bs};"),
                    IOp::MulLo => format!("mul.lo.u32 %r{d}, %r{a}, {bs};"),
                    IOp::MulHiU => format!("mul.hi.u32 %r{d}, %r{a}, {bs};"),
                    IOp::MulHiS => format!("mul.hi.s32 %r{d}, %r{a}, %r{b};"),
                    IOp::MadLo => format!("mad.lo.s32 %r{d}, %r{a}, {bs}, %r{c};"),
                    IOp::And => format!("and.b32 %r{d}, %r{a}, {bs};"),
                    IOp::Or => format!("or.b32 %r{d}, %r{a}, {bs};"),
                    IOp::Xor => format!("xor.b32 %r{d}, %r{a}, {bs};"),
                    IOp::Shl => format!("shl.b32 %r{d}, %r{a}, {bs};"),
                    IOp::ShrU => format!("shr.u32 %r{d}, %r{a}, {bs};"),
                    IOp::ShrS => format!("shr.s32 %r{d}, %r{a}, {bs};"),
                    IOp::MinU => format!("min.u32 %r{d}, %r{a}, {bs};"),
                    IOp::MinS => format!("min.s32 %r{d}, %r{a}, %r{b};"),
                    IOp::MaxU => format!("max.u32 %r{d}, %r{a}, {bs};"),
                    IOp::MaxS => format!("max.s32 %r{d}, %r{a}, %r{b};"),
                    IOp::Not => format!("not.b32 %r{d}, %r{a};"),
                    IOp::Neg => format!("neg.s32 %r{d}, %r{a};"),
                    IOp::Popc => format!("popc.b32 %r{d}, %r{a};"),
                    IOp::Clz => format!("clz.b32 %r{d}, %r{a};"),
                    IOp::Brev => format!("brev.b32 %r{d}, %r{a};"),
                    IOp::BfeU => format!("bfe.u32 %r{d}, %r{a}, %r{b}, %r{c};"),
                    IOp::BfeS => format!("bfe.s32 %r{d}, %r{a}, %r{b}, %r{c};"),
                    IOp::DivU(k) => format!("div.u32 %r{d}, %r{a}, {k};"),
                    IOp::RemS(k) => format!("rem.s32 %r{d}, %r{a}, {k};"),
                    IOp::SelLtS => format!(
                        "setp.lt.s32 %p, %r{a}, %r{b};\n    selp.b32 %r{d}, %r{a}, %r{c}, %p;"
                    ),
                    IOp::Prmt => format!("prmt.b32 %r{d}, %r{a}, %r{b}, %r{c};"),
                }
            }
            Inst::F { op, d, a, b, c } => match op {
                FOp::Add => format!("add.rn.f32 %f{d}, %f{a}, %f{b};"),
                FOp::Sub => format!("sub.rn.f32 %f{d}, %f{a}, %f{b};"),
                FOp::Mul => format!("mul.rn.f32 %f{d}, %f{a}, %f{b};"),
                FOp::Fma => format!("fma.rn.f32 %f{d}, %f{a}, %f{b}, %f{c};"),
                FOp::Div => format!("div.rn.f32 %f{d}, %f{a}, %f{b};"),
                FOp::Min => format!("min.f32 %f{d}, %f{a}, %f{b};"),
                FOp::Max => format!("max.f32 %f{d}, %f{a}, %f{b};"),
                FOp::Sqrt => format!("sqrt.rn.f32 %f{d}, %f{a};"),
                FOp::Abs => format!("abs.f32 %f{d}, %f{a};"),
                FOp::Neg => format!("neg.f32 %f{d}, %f{a};"),
            },
            Inst::F2I { d, a } => format!("cvt.rzi.s32.f32 %r{d}, %f{a};"),
            Inst::I2F { d, a, signed } => {
                format!(
                    "cvt.rn.f32.{} %f{d}, %r{a};",
                    if signed { "s32" } else { "u32" }
                )
            }
        };
        s += "    ";
        s += &line;
        s += "\n";
    }
    for i in 0..NI {
        s += &format!("    st.global.u32 [%po+{}], %r{i};\n", 4 * i);
    }
    for i in 0..NF {
        s += &format!("    st.global.f32 [%po+{}], %f{i};\n", 4 * (NI + i));
    }
    s + "    ret;\n}\n"
}

/// The f32 result bits the GPU produces: NaNs are the canonical NaN.
fn fbits(x: f32) -> u32 {
    if x.is_nan() {
        0x7fff_ffff
    } else {
        x.to_bits()
    }
}

/// `min.f32` (`max` false) or `max.f32`: a NaN operand gives the other one, and -0 is
/// below +0.
fn fminmax(a: f32, b: f32, max: bool) -> f32 {
    match (a.is_nan(), b.is_nan()) {
        (true, _) => b,
        (_, true) => a,
        _ if a == b => {
            if a.is_sign_negative() != max {
                a
            } else {
                b
            }
        }
        _ if max => a.max(b),
        _ => a.min(b),
    }
}

fn bfe(a: u32, pos: u32, len: u32, signed: bool) -> u32 {
    let (pos, len) = (pos & 0xff, len & 0xff);
    if len == 0 {
        return 0;
    }
    let field: u64 = if pos >= 32 { 0 } else { (a as u64) >> pos };
    let width = len.min(32u32.saturating_sub(pos.min(32)));
    let mut v = if width >= 32 {
        field as u32
    } else {
        (field as u32) & ((1u32 << width) - 1)
    };
    if signed {
        let sign_pos = (pos + len - 1).min(31);
        if (a >> sign_pos) & 1 == 1 {
            let keep = width.min(32);
            v |= if keep >= 32 { 0 } else { !0u32 << keep };
        }
    }
    v
}

fn prmt(a: u32, b: u32, c: u32) -> u32 {
    let bytes = [a.to_le_bytes(), b.to_le_bytes()].concat();
    let mut r = 0u32;
    for k in 0..4 {
        let sel = (c >> (4 * k)) & 0xf;
        let mut byte = bytes[(sel & 7) as usize] as u32;
        if sel & 8 != 0 {
            byte = if byte & 0x80 != 0 { 0xff } else { 0 };
        }
        r |= byte << (8 * k);
    }
    r
}

/// Runs the program on one lane's registers.
fn reference(prog: &[Inst], r: &mut [u32; NI], f: &mut [f32; NF]) {
    for inst in prog {
        match *inst {
            Inst::I {
                op,
                d,
                a,
                b,
                c,
                imm,
            } => {
                let (x, y, z) = (r[a], imm.unwrap_or(r[b]), r[c]);
                let yb = r[b];
                r[d] = match op {
                    IOp::Add => x.wrapping_add(y),
                    IOp::Sub => x.wrapping_sub(y),
                    IOp::MulLo => x.wrapping_mul(y),
                    IOp::MulHiU => ((x as u64 * y as u64) >> 32) as u32,
                    IOp::MulHiS => ((x as i32 as i64 * yb as i32 as i64) >> 32) as u32,
                    IOp::MadLo => x.wrapping_mul(y).wrapping_add(z),
                    IOp::And => x & y,
                    IOp::Or => x | y,
                    IOp::Xor => x ^ y,
                    IOp::Shl => {
                        if y >= 32 {
                            0
                        } else {
                            x << y
                        }
                    }
                    IOp::ShrU => {
                        if y >= 32 {
                            0
                        } else {
                            x >> y
                        }
                    }
                    IOp::ShrS => ((x as i32) >> y.min(31)) as u32,
                    IOp::MinU => x.min(y),
                    IOp::MinS => (x as i32).min(yb as i32) as u32,
                    IOp::MaxU => x.max(y),
                    IOp::MaxS => (x as i32).max(yb as i32) as u32,
                    IOp::Not => !x,
                    IOp::Neg => (x as i32).wrapping_neg() as u32,
                    IOp::Popc => x.count_ones(),
                    IOp::Clz => x.leading_zeros(),
                    IOp::Brev => x.reverse_bits(),
                    IOp::BfeU => bfe(x, yb, z, false),
                    IOp::BfeS => bfe(x, yb, z, true),
                    IOp::DivU(k) => x / k,
                    IOp::RemS(k) => ((x as i32) % k) as u32,
                    IOp::SelLtS => {
                        if (x as i32) < (yb as i32) {
                            x
                        } else {
                            z
                        }
                    }
                    IOp::Prmt => prmt(x, yb, z),
                };
            }
            Inst::F { op, d, a, b, c } => {
                let (x, y, z) = (f[a], f[b], f[c]);
                let v = match op {
                    FOp::Add => x + y,
                    FOp::Sub => x - y,
                    FOp::Mul => x * y,
                    FOp::Fma => x.mul_add(y, z),
                    FOp::Div => x / y,
                    FOp::Min => fminmax(x, y, false),
                    FOp::Max => fminmax(x, y, true),
                    FOp::Sqrt => x.sqrt(),
                    FOp::Abs => f32::from_bits(x.to_bits() & 0x7fff_ffff),
                    FOp::Neg => f32::from_bits(x.to_bits() ^ 0x8000_0000),
                };
                // abs/neg are bit operations: they keep NaN payloads; arithmetic
                // produces the canonical NaN.
                f[d] = match op {
                    FOp::Abs | FOp::Neg => v,
                    _ => f32::from_bits(fbits(v)),
                };
            }
            // Rust's saturating float-to-int cast is PTX's cvt.rzi (NaN gives 0).
            Inst::F2I { d, a } => r[d] = f[a] as i32 as u32,
            Inst::I2F { d, a, signed } => {
                f[d] = if signed {
                    r[a] as i32 as f32
                } else {
                    r[a] as f32
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn straight_line_programs_match_a_scalar_reference(
        prog in prop::collection::vec(inst(), 1..28),
        ints in prop::collection::vec(any::<u32>(), LANES * NI),
        floats in prop::collection::vec(f32_bits(), LANES * NF),
    ) {
        let src = format!("{HEADER}{}", ptx_of(&prog));
        let mut gpu = Gpu::new(GpuProfile::sim());
        let m = gpu.load(&src).unwrap();
        prop_assert!(gpu.diagnostics(m).unwrap().is_empty());
        let mut input = Vec::new();
        for l in 0..LANES {
            for i in 0..NI {
                input.extend(ints[l * NI + i].to_le_bytes());
            }
            for i in 0..NF {
                input.extend(floats[l * NF + i].to_le_bytes());
            }
        }
        let inp = gpu.alloc(input.len() as u64).unwrap();
        gpu.write(inp, &input).unwrap();
        let out = gpu.alloc(input.len() as u64).unwrap();
        let report = gpu
            .launch(m, "k", &cfg(1, LANES as u32), &[KernelArg::Ptr(inp), KernelArg::Ptr(out)])
            .unwrap();
        prop_assert_eq!(&report.outcome, &Outcome::Completed);
        let mut got = vec![0u8; input.len()];
        gpu.read(out, &mut got).unwrap();
        let word = |i: usize| u32::from_le_bytes([got[4 * i], got[4 * i + 1], got[4 * i + 2], got[4 * i + 3]]);
        for l in 0..LANES {
            let mut r: [u32; NI] = std::array::from_fn(|i| ints[l * NI + i]);
            let mut f: [f32; NF] = std::array::from_fn(|i| f32::from_bits(floats[l * NF + i]));
            reference(&prog, &mut r, &mut f);
            for (i, v) in r.iter().enumerate() {
                prop_assert_eq!(word(l * 10 + i), *v, "lane {} %r{}", l, i);
            }
            for (i, v) in f.iter().enumerate() {
                prop_assert_eq!(word(l * 10 + NI + i), v.to_bits(), "lane {} %f{}", l, i);
            }
        }
    }
}
