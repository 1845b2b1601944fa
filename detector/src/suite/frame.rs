//! What every signature kernel shares: the launch that fills the device, the record
//! every thread writes, its identity word, the PTX prologue that finds the record, and
//! the per-lane data hash the kernels and their CPU models both compute.
//!
//! ```text
//! grid  = (SMs, k, 1) CTAs       block = (32, 4, W/4) threads, W warps, k = slots / W
//!         → SMs × k × W = SMs × slots warps: one per warp slot of every SM
//!
//! out buffer of a kernel with R words per record (R a multiple of 4):
//!   record t = (%smid × slots + %warpid) × 32 + %laneid      (hardware identity)
//!   out[t × R + 0]      ident = 0x8000_0000 | t
//!   out[t × R + 1..R]   the kernel's words (computed from %warpid, %laneid and the seed)
//! ```
//!
//! Records are indexed by the hardware identity that produced them and carry it again in
//! their first word: a record written to another place, one never written and one whose
//! identity is wrong are told apart (see `check`). The words of every kernel but
//! `sig_ids` depend on the warp slot, the lane and the kernel's inputs only, never on
//! which CTA a hardware scheduler put where, so their expectations are one table per
//! warp slot, computed once on the CPU and compared with every SM.

use crate::geometry::Geometry;
use gpu::{GpuError, LaunchConfig};

/// Warp slots per SM the suite supports at most (shared-memory arrays are sized by it;
/// identity words hold 8 bits of warp slot).
pub(crate) const MAX_SLOTS: u32 = 64;

/// The launch of every kernel on a device of `geometry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// SMs.
    pub sms: u32,
    /// Warp slots per SM.
    pub slots: u32,
    /// Warps per CTA (`W`, a multiple of 4, at most 32).
    pub warps: u32,
    /// CTAs per SM (`k`).
    pub ctas_per_sm: u32,
}

impl Shape {
    /// The shape that fills `g`: the largest CTA of at most 32 warps (a multiple of 4)
    /// that divides the warp slots, and as many per SM as fill them.
    pub fn of(g: &Geometry) -> Result<Shape, GpuError> {
        if g.sms == 0 || g.sms >= 1 << 15 {
            return Err(invalid(format!(
                "geometry: {} SMs (the suite checks 1 to 32767)",
                g.sms
            )));
        }
        if g.warp_slots == 0 || g.warp_slots > MAX_SLOTS {
            return Err(invalid(format!(
                "geometry: {} warp slots per SM (the suite checks 4 to {MAX_SLOTS})",
                g.warp_slots
            )));
        }
        let warps = [32, 16, 8, 4]
            .into_iter()
            .find(|w| g.warp_slots.is_multiple_of(*w))
            .ok_or_else(|| {
                invalid(format!(
                    "geometry: {} warp slots per SM is not a multiple of 4",
                    g.warp_slots
                ))
            })?;
        Ok(Shape {
            sms: g.sms,
            slots: g.warp_slots,
            warps,
            ctas_per_sm: g.warp_slots / warps,
        })
    }

    /// The launch configuration.
    pub fn launch(&self) -> LaunchConfig {
        LaunchConfig {
            grid: [self.sms, self.ctas_per_sm, 1],
            block: [32, 4, self.warps / 4],
            shared_bytes: 0,
        }
    }

    /// Threads launched (one per lane of every warp slot).
    pub fn threads(&self) -> u64 {
        u64::from(self.sms) * u64::from(self.slots) * 32
    }

    /// Index of the record of (`sm`, `slot`, `lane`).
    pub fn record(&self, sm: u32, slot: u32, lane: u32) -> usize {
        ((sm as usize * self.slots as usize + slot as usize) << 5) | lane as usize
    }
}

fn invalid(detail: String) -> GpuError {
    GpuError::Invalid { detail }
}

impl Shape {
    /// The identity word of the record of (`sm`, `slot`, `lane`): its index with the
    /// top bit set (never 0, so an empty record has no identity).
    pub fn ident(&self, sm: u32, slot: u32, lane: u32) -> u32 {
        0x8000_0000 | self.record(sm, slot, lane) as u32
    }

    /// The (SM, warp slot, lane) an identity word names, when it is well formed and
    /// names a thread of this shape.
    pub fn decode_ident(&self, w: u32) -> Option<(u32, u32, u32)> {
        let t = w & 0x7fff_ffff;
        (w & 0x8000_0000 != 0 && u64::from(t) < self.threads()).then(|| self.at(t as usize))
    }

    /// The (SM, warp slot, lane) of record `t`.
    pub fn at(&self, t: usize) -> (u32, u32, u32) {
        let (warp, lane) = (t >> 5, (t & 31) as u32);
        (
            (warp / self.slots as usize) as u32,
            (warp % self.slots as usize) as u32,
            lane,
        )
    }
}

/// The per-lane data of a kernel (mirrors the end of [`prologue`]): a hash of the lane,
/// the warp slot, the seed and the kernel's salt.
pub(crate) fn mix(lane: u32, slot: u32, seed: u32, salt: u32) -> u32 {
    let mut x = lane
        .wrapping_mul(lane_factor(salt))
        .wrapping_add(slot.wrapping_mul(0x85EB_CA6B))
        ^ seed;
    x ^= x >> 15;
    x.wrapping_mul(0x7FEB_352D)
}

/// The kernel's odd multiplier of the lane in [`mix`].
fn lane_factor(salt: u32) -> u32 {
    (0x9E37_79B9 ^ salt) | 1
}

/// The kernel's entry line, parameters and register declarations; `extra` are further
/// parameters as (type, name without the kernel's prefix), e.g. `(".u64", "in")`.
pub(crate) fn entry(name: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        format!("\t.param .u64 {name}_out"),
        format!("\t.param .u64 {name}_args"),
    ];
    params.extend(
        extra
            .iter()
            .map(|(ty, pname)| format!("\t.param {ty} {name}_{pname}")),
    );
    format!(
        ".visible .entry {name}(\n{}\n)\n.maxnreg 32\n{{\n\
         \t.reg .pred \t%p<16>;\n\
         \t.reg .b16 \t%h<16>;\n\
         \t.reg .b32 \t%r<64>;\n\
         \t.reg .b64 \t%rd<16>;\n\
         \t.reg .f32 \t%f<16>;\n\
         \t.reg .f64 \t%fd<16>;\n",
        params.join(",\n")
    )
}

/// The prologue every kernel runs first (after its own declarations): `%r1` = `%smid`,
/// `%r2` = `%warpid`, `%r3` = `%laneid`, `%r4` = slots, `%r5` = seed, `%rd3` = the
/// address of this thread's record, `%r7` = its identity word; then the per-lane data
/// of [`mix`] with `salt` in `%r9`. `%r6`, `%r8`, `%r10`–`%r13`, `%rd2`, `%rd4` and
/// `%rd5` are scratch.
///
/// The launch's scalars ([`Shape::args`]) come from a small global buffer (two vector loads:
/// the virtual GPU reads a warp-uniform global address once, a parameter once per
/// lane). The record's address is computed twice, with disjoint opcode groups: from the
/// identity with `mad.lo`, `shl`, `or`, `mul.wide` and `add.s64` and immediates (into
/// a register nothing wrote before), and from the stride arguments with `mad.wide`
/// alone. `%p0` is set when they disagree, or when `%smid` or `%warpid` is beyond the
/// geometry (PTX does not promise contiguous SM ids), and every store of the record is
/// guarded by `@!%p0`: a fault in the address arithmetic leaves the thread's record
/// empty — a finding at the right SM, warp slot and lane — instead of writing over
/// another thread's, and an SM the geometry does not know stays unobserved (never
/// healthy) instead of writing out of bounds.
pub(crate) fn prologue(name: &str, words: usize, salt: u32) -> String {
    format!(
        "\tmov.u32 \t%r1, %smid;\n\
         \tmov.u32 \t%r2, %warpid;\n\
         \tmov.u32 \t%r3, %laneid;\n\
         \tld.param.u64 \t%rd1, [{name}_out];\n\
         \tld.param.u64 \t%rd5, [{name}_args];\n\
         \tcvta.to.global.u64 \t%rd1, %rd1;\n\
         \tcvta.to.global.u64 \t%rd5, %rd5;\n\
         \tld.global.v4.u32 \t{{%r4, %r5, %r10, %r11}}, [%rd5];\n\
         \tld.global.v2.u32 \t{{%r12, %r13}}, [%rd5+16];\n\
         \tmad.lo.u32 \t%r6, %r1, %r4, %r2;\n\
         \tshl.b32 \t%r6, %r6, 5;\n\
         \tor.b32 \t%r6, %r6, %r3;\n\
         \tmul.wide.u32 \t%rd2, %r6, {bytes};\n\
         \tadd.s64 \t%rd3, %rd1, %rd2;\n\
         \tmad.wide.u32 \t%rd4, %r3, %r10, %rd1;\n\
         \tmad.wide.u32 \t%rd4, %r2, %r11, %rd4;\n\
         \tmad.wide.u32 \t%rd4, %r1, %r12, %rd4;\n\
         \tsetp.ne.u64 \t%p0, %rd3, %rd4;\n\
         \tsetp.ge.or.u32 \t%p0, %r1, %r13, %p0;\n\
         \tsetp.ge.or.u32 \t%p0, %r2, %r4, %p0;\n\
         \tor.b32 \t%r7, %r6, 0x80000000;\n\
         \tmul.lo.u32 \t%r9, %r3, 0x{k1:08X};\n\
         \tmad.lo.u32 \t%r9, %r2, 0x85EBCA6B, %r9;\n\
         \txor.b32 \t%r9, %r9, %r5;\n\
         \tshr.u32 \t%r8, %r9, 15;\n\
         \txor.b32 \t%r9, %r9, %r8;\n\
         \tmul.lo.u32 \t%r9, %r9, 0x7FEB352D;\n",
        bytes = words * 4,
        k1 = lane_factor(salt),
    )
}

impl Shape {
    /// The launch's scalars, as the kernels read them from a global buffer: warp slots
    /// per SM, the seed, the record's strides in bytes per lane, warp slot and SM, and
    /// the SMs (padded to eight words), for records of `words` words.
    pub fn args(&self, words: usize, seed: u32) -> [u32; 8] {
        let rec = words as u32 * 4;
        [
            self.slots,
            seed,
            rec,
            rec * 32,
            rec * 32 * self.slots,
            self.sms,
            0,
            0,
        ]
    }
}

/// Builds a record's stores: 32-bit words go out four at a time
/// (`st.global.v4.b32`), starting with the identity word in `%r7`.
pub(crate) struct Record {
    /// The PTX of the stores so far (interleave it with the kernel's own code).
    pub ptx: String,
    names: Vec<&'static str>,
    pending: Vec<String>,
    offset: usize,
    /// The record's address register and the predicate that holds its stores back.
    at: (&'static str, &'static str),
}

impl Record {
    /// A record whose word 0 is the identity in `%r7`, at `%rd3`, stored unless `%p0`
    /// (the registers of [`prologue`]).
    pub fn new() -> Record {
        Record::at("%r7", "%rd3", "%p0")
    }

    /// A record whose word 0 is the identity in `ident`, at the address in `addr`,
    /// stored unless `skip` (a kernel with a prologue of its own).
    pub fn at(ident: &str, addr: &'static str, skip: &'static str) -> Record {
        Record {
            ptx: String::new(),
            names: vec!["ident"],
            pending: vec![ident.into()],
            offset: 0,
            at: (addr, skip),
        }
    }

    /// Word `name` is register `reg` (any 32-bit register).
    pub fn word(&mut self, name: &'static str, reg: &str) {
        self.names.push(name);
        self.pending.push(reg.to_string());
        if self.pending.len() == 4 {
            let off = if self.offset == 0 {
                String::new()
            } else {
                format!("+{}", self.offset)
            };
            let (addr, skip) = self.at;
            self.ptx += &format!(
                "\t@!{skip} st.global.v4.b32 \t[{addr}{off}], {{{}}};\n",
                self.pending.join(", ")
            );
            self.pending.clear();
            self.offset += 16;
        }
    }

    /// The stores of a whole record: `words` (word 0 is `ident`) from `regs` (one per
    /// word after the identity).
    pub fn stores(words: &[&'static str], regs: &[&str]) -> String {
        let mut rec = Record::new();
        for (name, reg) in words[1..].iter().zip(regs) {
            rec.word(name, reg);
        }
        let ptx = std::mem::take(&mut rec.ptx);
        assert_eq!(rec.finish(), words, "one register per word");
        ptx
    }

    /// The word names; panics (a bug in the generator) when a store is incomplete.
    pub fn finish(self) -> Vec<&'static str> {
        assert!(
            self.pending.is_empty(),
            "record words not a multiple of 4: {:?}",
            self.names
        );
        self.names
    }
}

/// Rotate left (the `shf.l.wrap.b32 d, a, a, n` of the kernels).
pub(crate) fn rotl(x: u32, n: u32) -> u32 {
    x.rotate_left(n & 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_fill_every_slot_with_whole_ctas() {
        for (slots, warps, k) in [(64, 32, 2), (48, 16, 3), (32, 32, 1), (4, 4, 1)] {
            let s = Shape::of(&Geometry {
                sms: 3,
                warp_slots: slots,
            })
            .unwrap();
            assert_eq!((s.warps, s.ctas_per_sm), (warps, k));
            let l = s.launch();
            assert_eq!(
                u64::from(l.grid[0] * l.grid[1]) * u64::from(l.block[0] * l.block[1] * l.block[2]),
                s.threads()
            );
        }
        for (sms, slots, what) in [
            (0, 64, "0 SMs"),
            (2, 0, "0 warp slots"),
            (2, 128, "128 warp slots"),
            (2, 30, "not a multiple of 4"),
        ] {
            let e = Shape::of(&Geometry {
                sms,
                warp_slots: slots,
            })
            .unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
    }

    #[test]
    fn identities_round_trip_and_reject_what_no_thread_has() {
        let s = Shape::of(&Geometry {
            sms: 132,
            warp_slots: 64,
        })
        .unwrap();
        for (sm, slot, lane) in [(131, 63, 31), (0, 0, 0), (7, 5, 3)] {
            assert_eq!(
                s.decode_ident(s.ident(sm, slot, lane)),
                Some((sm, slot, lane))
            );
        }
        assert_eq!(s.decode_ident(0), None);
        assert_eq!(s.decode_ident(0x8000_0000 | s.threads() as u32), None);
        assert_eq!(s.decode_ident(s.ident(1, 1, 1) & 0x7fff_ffff), None);
    }
}
