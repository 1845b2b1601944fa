//! `sig_mem` — memory source and destination (`ims`, `imd`).
//!
//! Loads from every space the models touch, at addresses that depend on the lane and
//! the data, and stores to shared, local and global memory that are read back:
//!
//! | word | from |
//! |---|---|
//! | `param.u32`, `param.u64` | kernel parameters `pa`, `pb` (values from the seed) |
//! | `const.idx`, `const.v2`, `const.imm` | the module's `.const` table, at a lane/seed-dependent index (scalar, vector) and at an immediate offset |
//! | `global.u32`, `global.v2.x`, `global.v2.y`, `global.u8` | the input buffer (1,024 words from the seed) at a data-dependent index |
//! | `local.idx`, `local.v2` | a local array written with vector stores, read back by a lane-dependent index (a volatile generic load, so a compiler keeps the array in memory) and a vector load |
//! | `shared.xlane` | the shared word another lane of the warp stored (`(lane × 5 + 3) mod 32`) |
//! | `shared.red` | `red.shared.add` of every lane's value into the warp's shared word |
//! | `atom.sum`, `atom.old` | `atom.global.add` on the record's own word: the sum in memory, the old value returned |
//!
//! Shared memory is indexed by `%warpid` and `%laneid`, never by a CTA-relative index,
//! so the words do not depend on where a scheduler put which CTA.

use super::frame::{entry, mix, prologue, Record};
use super::{Ctx, Input, Kernel};
use std::sync::OnceLock;

pub(crate) struct Mem;
pub(crate) const MEM: Mem = Mem;

const NAME: &str = "sig_mem";
const SALT: u32 = 0x3E3F_00D5;
/// Words of the input buffer.
const IN_WORDS: usize = 1024;
/// Words of the constant table.
const TAB_WORDS: usize = 64;

/// A 64-bit mixer (splitmix64's finaliser) for tables and inputs.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The module's constant table.
fn table() -> [u32; TAB_WORDS] {
    std::array::from_fn(|i| splitmix(0xC0_57AB + i as u64) as u32)
}

/// The input buffer of a seed.
fn input(seed: u32) -> Vec<u32> {
    (0..IN_WORDS)
        .map(|i| splitmix(u64::from(seed) << 32 | i as u64) as u32)
        .collect()
}

/// The scalar parameters of a seed.
fn params(seed: u32) -> (u32, u64) {
    let z = splitmix(u64::from(seed) ^ 0x9A7A_3E7E);
    (z as u32 ^ 0x0F1E_2D3C, splitmix(z))
}

/// The generated kernel: module-scope table, body and word names.
struct Built {
    globals: String,
    body: String,
    names: Vec<&'static str>,
}

fn built() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let mut rec = Record::new();
        let mut s = String::from(
            "\tld.param.u32 \t%r10, [sig_mem_pa];\n\
             \tld.param.u64 \t%rd4, [sig_mem_pb];\n\
             \tmov.b64 \t{%r20, %r21}, %rd4;\n\
             \txor.b32 \t%r20, %r20, %r21;\n\
             \tmov.u64 \t%rd5, sig_mem_tab;\n\
             \txor.b32 \t%r11, %r3, %r5;\n\
             \tand.b32 \t%r11, %r11, 62;\n\
             \tmul.wide.u32 \t%rd6, %r11, 4;\n\
             \tadd.s64 \t%rd6, %rd5, %rd6;\n\
             \tld.const.u32 \t%r12, [%rd6];\n\
             \tld.const.v2.u32 \t{%r13, %r14}, [%rd6];\n\
             \tld.const.u32 \t%r15, [sig_mem_tab+252];\n",
        );
        rec.word("param.u32", "%r10");
        rec.word("param.u64", "%r20");
        rec.word("const.idx", "%r12");
        rec.word("const.v2", "%r14");
        rec.word("const.imm", "%r15");
        s += &std::mem::take(&mut rec.ptx);
        s += "\tld.param.u64 \t%rd7, [sig_mem_in];\n\
              \tcvta.to.global.u64 \t%rd7, %rd7;\n\
              \tshr.u32 \t%r16, %r9, 3;\n\
              \tand.b32 \t%r16, %r16, 1016;\n\
              \tmul.wide.u32 \t%rd8, %r16, 4;\n\
              \tadd.s64 \t%rd8, %rd7, %rd8;\n\
              \tld.global.u32 \t%r17, [%rd8];\n\
              \tld.global.v2.u32 \t{%r18, %r19}, [%rd8+8];\n\
              \tld.global.u8 \t%h1, [%rd8+21];\n\
              \tcvt.u32.u8 \t%r22, %h1;\n";
        rec.word("global.u32", "%r17");
        rec.word("global.v2.x", "%r18");
        rec.word("global.v2.y", "%r19");
        rec.word("global.u8", "%r22");
        s += &std::mem::take(&mut rec.ptx);
        // local: two vectors written, read back by a lane-dependent index
        s += "\tmov.u64 \t%rd9, sig_mem_loc;\n\
              \tst.local.v4.u32 \t[%rd9], {%r9, %r12, %r17, %r10};\n\
              \txor.b32 \t%r23, %r9, 0x55AA55AA;\n\
              \tst.local.v4.u32 \t[%rd9+16], {%r23, %r14, %r18, %r19};\n\
              \tand.b32 \t%r24, %r3, 3;\n\
              \tmul.wide.u32 \t%rd10, %r24, 4;\n\
              \tcvta.local.u64 \t%rd11, %rd9;\n\
              \tadd.s64 \t%rd10, %rd11, %rd10;\n\
              \tld.volatile.u32 \t%r25, [%rd10];\n\
              \tld.local.v2.u32 \t{%r26, %r27}, [%rd9+16];\n";
        rec.word("local.idx", "%r25");
        rec.word("local.v2", "%r26");
        s += &std::mem::take(&mut rec.ptx);
        // shared: this warp's 32 words; another lane's word; a reduction into one word
        s += "\tmov.u32 \t%r28, 1;\n\
              \tshl.b32 \t%r28, %r28, %r3;\n\
              \txor.b32 \t%r28, %r28, %r9;\n\
              \tand.b32 \t%r29, %r2, 63;\n\
              \tshl.b32 \t%r30, %r29, 5;\n\
              \tadd.u32 \t%r30, %r30, %r3;\n\
              \tmov.u32 \t%r31, sig_mem_sh;\n\
              \tmad.lo.u32 \t%r32, %r30, 4, %r31;\n\
              \tst.shared.u32 \t[%r32], %r28;\n\
              \tmov.u32 \t%r33, sig_mem_red;\n\
              \tmad.lo.u32 \t%r33, %r29, 4, %r33;\n\
              \tsetp.eq.u32 \t%p1, %r3, 0;\n\
              \tmov.u32 \t%r39, 0;\n\
              \t@%p1 st.shared.u32 \t[%r33], %r39;\n\
              \tbar.warp.sync \t-1;\n\
              \tred.shared.add.u32 \t[%r33], %r28;\n\
              \tmad.lo.u32 \t%r34, %r3, 5, 3;\n\
              \tand.b32 \t%r34, %r34, 31;\n\
              \tsub.u32 \t%r34, %r34, %r3;\n\
              \tmad.lo.u32 \t%r34, %r34, 4, %r32;\n\
              \tbar.warp.sync \t-1;\n\
              \tld.shared.u32 \t%r35, [%r34];\n\
              \tld.shared.u32 \t%r36, [%r33];\n";
        rec.word("shared.xlane", "%r35");
        rec.word("shared.red", "%r36");
        rec.word("atom.sum", "%r9");
        rec.word("pad", "%r3");
        s += &std::mem::take(&mut rec.ptx);
        // global atomics on the record's own word 14 (atom.sum): + the warp slot's bit
        let off = 14 * 4;
        s += &format!(
            "\tadd.u32 \t%r37, %r2, 0x01000001;\n\
             \t@!%p0 atom.global.add.u32 \t%r38, [%rd3+{off}], %r37;\n\
             \t@!%p0 st.global.u32 \t[%rd3+{off2}], %r38;\n",
            off2 = off + 4,
        );
        let mut names = rec.finish();
        // word 15 is overwritten with the atomic's old value
        names[15] = "atom.old";
        let tab: Vec<String> = table().iter().map(|w| format!("{w:#010x}")).collect();
        let globals = format!(
            ".const .align 8 .u32 sig_mem_tab[{TAB_WORDS}] = {{{}}};\n",
            tab.join(", ")
        );
        Built {
            globals,
            body: s,
            names,
        }
    })
}

impl Kernel for Mem {
    fn name(&self) -> &'static str {
        NAME
    }
    fn unit(&self) -> &'static str {
        "memory"
    }
    fn words(&self) -> &'static [&'static str] {
        &built().names
    }
    fn cost(&self) -> u64 {
        98
    }
    fn globals(&self) -> String {
        built().globals.clone()
    }

    fn ptx(&self) -> String {
        let mut s = entry(NAME, &[(".u64", "in"), (".u32", "pa"), (".u64", "pb")]);
        s += "\t.shared .align 16 .b32 \tsig_mem_sh[2048];\n\
              \t.shared .align 4 .b32 \tsig_mem_red[64];\n\
              \t.local .align 16 .b32 \tsig_mem_loc[8];\n";
        s += &prologue(NAME, built().names.len(), SALT);
        s += &built().body;
        s += "\tret;\n}\n";
        s
    }

    fn inputs(&self, seed: u32) -> Vec<Input> {
        let (pa, pb) = params(seed);
        vec![Input::Words(input(seed)), Input::U32(pa), Input::U64(pb)]
    }

    fn expect_warp(&self, c: &Ctx, slot: u32, out: &mut [u32]) {
        let r = built().names.len();
        let tab = table();
        let inp = input(c.seed);
        let (pa, pb) = params(c.seed);
        let d: Vec<u32> = (0..32).map(|l| mix(l, slot, c.seed, SALT)).collect();
        let v: Vec<u32> = (0..32).map(|l| (1u32 << l) ^ d[l as usize]).collect();
        let red = v.iter().fold(0u32, |s, x| s.wrapping_add(*x));
        for (lane, w) in out.chunks_exact_mut(r).enumerate() {
            let l = lane as u32;
            let ci = ((l ^ c.seed) & 62) as usize;
            let gi = ((d[lane] >> 3) & 1016) as usize;
            let g = &inp[gi..gi + 8];
            let local = [
                d[lane],
                tab[ci],
                g[0],
                pa,
                d[lane] ^ 0x55AA_55AA,
                tab[ci + 1],
                g[2],
                g[3],
            ];
            w[1] = pa;
            w[2] = pb as u32 ^ (pb >> 32) as u32;
            w[3] = tab[ci];
            w[4] = tab[ci + 1];
            w[5] = tab[63];
            w[6] = g[0];
            w[7] = g[2];
            w[8] = g[3];
            w[9] = (g[5] >> 8) & 0xff;
            w[10] = local[lane & 3];
            w[11] = local[4];
            w[12] = v[((l * 5 + 3) & 31) as usize];
            w[13] = red;
            w[14] = d[lane].wrapping_add(slot.wrapping_add(0x0100_0001));
            w[15] = d[lane];
        }
    }
}
