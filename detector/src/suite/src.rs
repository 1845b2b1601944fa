//! `sig_src` — operand sources: which source of an operand a fault corrupts, each in
//! words of its own, with the record in its place.
//!
//! The other kernels find their record through a kernel parameter and immediates, so a
//! flipped parameter (`ims`), a flipped immediate or address offset (`iio`) and a wrong
//! address register (`ira`) all send their stores astray the same way, and the thread
//! ids a warp reads (`iat`, `iaw`) are judged against the warp's majority claim. Here
//! each source reaches only its own words:
//!
//! ```text
//! record address, identity, guard   %smid, %warpid, %laneid and a module global the host
//!                                   writes (record pointer, strides): no parameter, no
//!                                   constant bank; registers without an index (%sbase,
//!                                   %saddr, …), so no register field has a neighbour
//! param.u32 param.lo param.hi const kernel parameters and a .const word, moved straight
//!                                   into the record                       → ims only
//! reg.lane … reg.mad2               a chain over numbered registers %v0–%v7 with no
//!                                   immediate and no parameter            → ira only
//! tid.yz.diff tid.yz.ballot tid.x.set
//!                                   this lane's %tid.y/z against lane 0's; the ballot of
//!                                   lanes that agree with lane 0; the OR of 1 << %tid.x
//!                                   over the warp                         → iat, not iaw
//! ```
//!
//! So `ims` (a subset of lanes) leaves the record in place with one bit wrong in the
//! parameter words; `ira` leaves it in place with the register chain wrong in every lane;
//! `iio` displaces the loads of the module global and every store (an address offset of
//! 0 becomes 2^k), so the record is missing or the kernel stops at an illegal address.
//! `iaw` corrupts every lane's id alike — the same `%tid.y/z` in all lanes, and for
//! `xor` a permutation of `%tid.x` — so the lane-uniformity words hold; `iat` corrupts a
//! subset of lanes and breaks them.

use super::frame::{entry, Record};
use super::{Ctx, Input, Kernel};
use std::sync::OnceLock;

pub(crate) struct Src;
pub(crate) const SRC: Src = Src;

const NAME: &str = "sig_src";
/// The module global the host fills before each launch ([`Kernel::launch_global`]).
const GLOBAL: &str = "sig_src_in";
/// The `.const` word.
const CONST_WORD: u32 = 0xC3A5_5A3C;

/// The scalar parameters of a seed.
fn params(seed: u32) -> (u32, u64) {
    let a = seed.rotate_left(11) ^ 0x6A09_E667;
    let b = u64::from(seed ^ 0xBB67_AE85) << 32 | u64::from(seed.rotate_right(7) ^ 0x3C6E_F372);
    (a, b)
}

struct Built {
    body: String,
    names: Vec<&'static str>,
}

fn built() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let mut rec = Record::at("%sident", "%saddr", "%sbad");
        // ids: lane 0's %tid.y/z against this lane's; which lanes agree; the %tid.x set
        let mut s = String::from(
            "\tmov.u32 \t%stx, %tid.x;\n\
             \tmov.u32 \t%sty, %tid.y;\n\
             \tmov.u32 \t%stz, %tid.z;\n\
             \tshfl.sync.idx.b32 \t%styf, %sty, 0, 31, -1;\n\
             \tshfl.sync.idx.b32 \t%stzf, %stz, 0, 31, -1;\n\
             \txor.b32 \t%sdy, %sty, %styf;\n\
             \txor.b32 \t%sdz, %stz, %stzf;\n\
             \tshl.b32 \t%sdz, %sdz, 16;\n\
             \tor.b32 \t%sdiff, %sdy, %sdz;\n\
             \tsetp.eq.u32 \t%suni, %sdiff, 0;\n\
             \tvote.sync.ballot.b32 \t%sballot, %suni, -1;\n\
             \tmov.u32 \t%sone, 1;\n\
             \tshl.b32 \t%sbit, %sone, %stx;\n\
             \tredux.sync.or.b32 \t%sxset, %sbit, -1;\n",
        );
        rec.word("tid.yz.diff", "%sdiff");
        rec.word("tid.yz.ballot", "%sballot");
        rec.word("tid.x.set", "%sxset");
        s += &std::mem::take(&mut rec.ptx);
        // parameters and the constant bank, straight into the record
        s += "\tld.param.u32 \t%spa, [sig_src_pa];\n\
              \tld.param.u64 \t%spb, [sig_src_pb];\n\
              \tmov.b64 \t{%spblo, %spbhi}, %spb;\n\
              \tld.const.u32 \t%sconst, [sig_src_k];\n";
        rec.word("param.u32", "%spa");
        rec.word("param.lo", "%spblo");
        rec.word("param.hi", "%spbhi");
        rec.word("const", "%sconst");
        s += &std::mem::take(&mut rec.ptx);
        // numbered registers, no immediate, no parameter
        s += "\tmov.u32 \t%v0, %slane;\n\
              \tmov.u32 \t%v1, %swarp;\n\
              \tmov.u32 \t%v2, %sseed;\n\
              \tadd.u32 \t%v3, %v0, %v2;\n\
              \tmad.lo.u32 \t%v4, %v3, %v2, %v1;\n\
              \txor.b32 \t%v5, %v4, %v3;\n\
              \tsub.u32 \t%v6, %v5, %v0;\n\
              \tmad.lo.u32 \t%v7, %v6, %v5, %v4;\n";
        for (name, reg) in [
            ("reg.lane", "%v0"),
            ("reg.warp", "%v1"),
            ("reg.seed", "%v2"),
            ("reg.add", "%v3"),
            ("reg.mad", "%v4"),
            ("reg.xor", "%v5"),
            ("reg.sub", "%v6"),
            ("reg.mad2", "%v7"),
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

/// The prologue: identity, record address (twice, with disjoint opcode groups, as in
/// `frame::prologue`) and guard, from special registers and the module global only.
fn prologue(words: usize) -> String {
    format!(
        "\tmov.u32 \t%ssm, %smid;\n\
         \tmov.u32 \t%swarp, %warpid;\n\
         \tmov.u32 \t%slane, %laneid;\n\
         \tld.global.v4.u32 \t{{%sptrlo, %sptrhi, %sslots, %sseed}}, [{GLOBAL}];\n\
         \tld.global.v4.u32 \t{{%sslane, %ssslot, %sssm, %ssms}}, [{GLOBAL}+16];\n\
         \tmov.b64 \t%sbase, {{%sptrlo, %sptrhi}};\n\
         \tmad.lo.u32 \t%sidx, %ssm, %sslots, %swarp;\n\
         \tshl.b32 \t%sidx, %sidx, 5;\n\
         \tor.b32 \t%sidx, %sidx, %slane;\n\
         \tmul.wide.u32 \t%soff, %sidx, {bytes};\n\
         \tadd.s64 \t%saddr, %sbase, %soff;\n\
         \tmad.wide.u32 \t%scheck, %slane, %sslane, %sbase;\n\
         \tmad.wide.u32 \t%scheck, %swarp, %ssslot, %scheck;\n\
         \tmad.wide.u32 \t%scheck, %ssm, %sssm, %scheck;\n\
         \tsetp.ne.u64 \t%sbad, %saddr, %scheck;\n\
         \tsetp.ge.or.u32 \t%sbad, %ssm, %ssms, %sbad;\n\
         \tsetp.ge.or.u32 \t%sbad, %swarp, %sslots, %sbad;\n\
         \tor.b32 \t%sident, %sidx, 0x80000000;\n",
        bytes = words * 4,
    )
}

impl Kernel for Src {
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
        60
    }
    fn globals(&self) -> String {
        format!(
            ".global .align 16 .b32 {GLOBAL}[12];\n\
             .const .align 4 .u32 sig_src_k = {CONST_WORD:#010x};\n"
        )
    }
    fn launch_global(&self, c: &Ctx, out: u64) -> Option<(&'static str, Vec<u32>)> {
        let mut w = vec![out as u32, (out >> 32) as u32];
        let a = c.shape.args(built().names.len(), c.seed);
        // slots, seed, then the strides per lane, warp slot and SM, and the SMs
        w.extend_from_slice(&[a[0], a[1], a[2], a[3], a[4], a[5], 0, 0, 0, 0]);
        Some((GLOBAL, w))
    }

    fn ptx(&self) -> String {
        let mut s = entry(NAME, &[(".u32", "pa"), (".u64", "pb")]);
        s += "\t.reg .pred \t%sbad, %suni;\n\
              \t.reg .b32 \t%ssm, %swarp, %slane, %sptrlo, %sptrhi, %sslots, %sseed;\n\
              \t.reg .b32 \t%sslane, %ssslot, %sssm, %ssms, %sidx, %sident;\n\
              \t.reg .b32 \t%stx, %sty, %stz, %styf, %stzf, %sdy, %sdz, %sdiff, %sballot;\n\
              \t.reg .b32 \t%sone, %sbit, %sxset, %spa, %spblo, %spbhi, %sconst;\n\
              \t.reg .b64 \t%sbase, %soff, %saddr, %scheck, %spb;\n\
              \t.reg .b32 \t%v<8>;\n";
        s += &prologue(built().names.len());
        s += &built().body;
        s += "\tret;\n}\n";
        s
    }

    fn inputs(&self, seed: u32) -> Vec<Input> {
        let (pa, pb) = params(seed);
        vec![Input::U32(pa), Input::U64(pb)]
    }

    fn expect_warp(&self, c: &Ctx, slot: u32, out: &mut [u32]) {
        let r = built().names.len();
        let (pa, pb) = params(c.seed);
        let seed = c.seed;
        for (lane, w) in out.chunks_exact_mut(r).enumerate() {
            let l = lane as u32;
            w[1] = 0;
            w[2] = u32::MAX;
            w[3] = u32::MAX;
            w[4] = pa;
            w[5] = pb as u32;
            w[6] = (pb >> 32) as u32;
            w[7] = CONST_WORD;
            let v3 = l.wrapping_add(seed);
            let v4 = v3.wrapping_mul(seed).wrapping_add(slot);
            let v5 = v4 ^ v3;
            let v6 = v5.wrapping_sub(l);
            let v7 = v6.wrapping_mul(v5).wrapping_add(v4);
            w[8..16].copy_from_slice(&[l, slot, seed, v3, v4, v5, v6, v7]);
        }
    }
}
