//! NVBitFI's instruction groups, for PTX instructions.
//!
//! NVBitFI (`NVlabs/nvbitfi`, `common/arch.h` and `common/globals.h`,
//! `getOpGroupNum`) sorts every SASS opcode into one of six *base* groups and names two
//! unions of them; its campaigns draw faults "in group G". gpufault works on PTX, so
//! [`group_of`] is the one table from a PTX instruction (opcode, types, destination) to
//! the base group the SASS it compiles to falls in:
//!
//! ```text
//!   group   NVBitFI (SASS)                                 PTX here (first rule that applies)
//!   NODEST  no destination register: ST*, RED, BRA, EXIT,  1. no written operand (st, red,
//!           BAR, MEMBAR, NOP, CAL, RET, …                     bra, bar, membar, atom to `_`)
//!                                                             and every control instruction
//!                                                             (call, ret, exit, trap, brx)
//!   PR      only a predicate destination: ISETP, FSETP,   2. setp, testp, and any
//!           DSETP, PSETP, PLOP3, R2P, FCHK, …                 instruction of type .pred
//!                                                             (and.pred, vote.any.pred, …)
//!   LD      memory reads: LD, LDG, LDS, LDL, LDC, TLD,     3. loads of any space (ld,
//!           SULD, …                                           ldu, ld.param, tex, suld)
//!   FP64    DADD, DFMA, DMUL, DMNMX                        4. f64 arithmetic (add, sub, mul,
//!                                                             fma, mad, min, max, abs, neg,
//!                                                             div, rcp, sqrt; not mov, cvt)
//!   FP32    FADD, FFMA, FMUL, FMNMX, FSEL, FSET, FCMP,     5. f32 arithmetic as above (not
//!           FSWZADD, IPA, DSET                                .approx: that is MUFU), and
//!                                                             selp/slct/set on f32 or f64
//!   OTHERS  everything else with a destination: integer,   6. the rest: integer ALU, mov,
//!           MUFU, half precision, MMA, F2F/I2F, MOV, S2R,     special-register reads,
//!           SHFL, VOTE, ATOM, …                               conversions, .approx, f16,
//!                                                             shuffles, atomics, tensor
//!   GPPR    every group but NODEST                         (a union)
//!   GP      every group but NODEST and PR                  (a union)
//! ```
//!
//! Where PTX forces a difference (also in `docs/fault-models.md`): `ld.param` is an
//! instruction in PTX (LD here) while SASS usually folds a kernel parameter into its
//! consumer as a constant-bank operand; a `div`/`sqrt`/`rcp` with IEEE rounding is one
//! PTX instruction standing for a SASS sequence of MUFU and FFMA/DFMA (grouped as
//! FP32/FP64 here, by the bulk of that sequence); a `.pred`-typed `vote` writes only a
//! predicate and is PR here (NVBitFI puts VOTE in OTHERS, whatever it writes); and
//! NVBitFI's table puts DSET (a double compare writing a register) in FP32, which
//! `set.*.f64` follows.

use ptx::{Class, Instruction, Opcode, Type};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An NVBitFI instruction group: one of the six base groups an instruction falls in,
/// or one of the two unions ([`InstGroup::Gppr`], [`InstGroup::Gp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InstGroup {
    /// Double-precision arithmetic.
    Fp64,
    /// Single-precision arithmetic.
    Fp32,
    /// Memory reads.
    Ld,
    /// Instructions whose only destination is a predicate.
    Pr,
    /// Instructions without a destination register.
    Nodest,
    /// Every other instruction with a destination register.
    Others,
    /// Every instruction with a destination (all but NODEST).
    Gppr,
    /// Every instruction with a general-purpose destination (all but NODEST and PR).
    Gp,
}

impl InstGroup {
    /// Every group, in NVBitFI's order.
    pub const ALL: [InstGroup; 8] = [
        InstGroup::Fp64,
        InstGroup::Fp32,
        InstGroup::Ld,
        InstGroup::Pr,
        InstGroup::Nodest,
        InstGroup::Others,
        InstGroup::Gppr,
        InstGroup::Gp,
    ];

    /// The upper-case name (`FP32`, `NODEST`).
    pub fn name(self) -> &'static str {
        match self {
            InstGroup::Fp64 => "FP64",
            InstGroup::Fp32 => "FP32",
            InstGroup::Ld => "LD",
            InstGroup::Pr => "PR",
            InstGroup::Nodest => "NODEST",
            InstGroup::Others => "OTHERS",
            InstGroup::Gppr => "GPPR",
            InstGroup::Gp => "GP",
        }
    }

    /// Whether an instruction of base group `base` (what [`group_of`] gives) is in this
    /// group.
    pub fn contains(self, base: InstGroup) -> bool {
        match self {
            InstGroup::Gppr => base != InstGroup::Nodest,
            InstGroup::Gp => !matches!(base, InstGroup::Nodest | InstGroup::Pr),
            g => g == base,
        }
    }
}

impl fmt::Display for InstGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A group name that is not one of NVBitFI's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown instruction group `{name}` (known: FP64, FP32, LD, PR, NODEST, OTHERS, GPPR, GP)")]
pub struct GroupError {
    /// What was given.
    pub name: String,
}

impl FromStr for InstGroup {
    type Err = GroupError;
    /// A group by name, in either case (`fp32`, `FP32`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InstGroup::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| GroupError { name: s.into() })
    }
}

/// Whether the instruction writes predicates only (`setp`, `testp`, `.pred` types).
fn writes_predicates(inst: &Instruction) -> bool {
    matches!(inst.opcode, Opcode::Setp | Opcode::Testp) || inst.types().next() == Some(Type::Pred)
}

/// The base group (never GPPR or GP) of a PTX instruction: the one table of this
/// module's documentation, rule by rule.
pub fn group_of(inst: &Instruction) -> InstGroup {
    let class = inst.class();
    if inst.dest_count() == 0 || class == Class::Control {
        return InstGroup::Nodest;
    }
    if writes_predicates(inst) {
        return InstGroup::Pr;
    }
    let float = |t: Option<Type>| matches!(t, Some(Type::F32 | Type::F64));
    match class {
        Class::Load => InstGroup::Ld,
        Class::Fp64 if inst.opcode != Opcode::Mov => InstGroup::Fp64,
        Class::Fp32 if inst.opcode != Opcode::Mov => InstGroup::Fp32,
        // FSEL, FCMP, FSET and DSET: selects and register-writing compares on floats
        Class::Compare
            if matches!(inst.opcode, Opcode::Selp | Opcode::Slct | Opcode::Set)
                && float(inst.types().last()) =>
        {
            InstGroup::Fp32
        }
        _ => InstGroup::Others,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn inst(text: &str) -> Instruction {
        let m = ptx::parse(&format!(
            ".version 8.8\n.target sm_80\n.address_size 64\n.visible .entry k()\n{{\n{text}\n}}\n"
        ))
        .unwrap();
        let f = m.functions().next().unwrap();
        let flat = ptx::flatten(f.body.as_ref().unwrap());
        flat.insts[0].clone()
    }

    #[test]
    fn real_instructions_fall_in_nvbitfis_groups() {
        use InstGroup::*;
        for (text, g) in [
            ("add.f32 %f1, %f2, %f3;", Fp32),
            ("fma.rn.f32 %f1, %f2, %f3, %f4;", Fp32),
            ("div.rn.f32 %f1, %f2, %f3;", Fp32),
            ("selp.f32 %f1, %f2, %f3, %p1;", Fp32),
            ("set.lt.u32.f64 %r1, %fd1, %fd2;", Fp32),
            ("mul.f64 %fd1, %fd2, %fd3;", Fp64),
            ("fma.rn.f64 %fd1, %fd2, %fd3, %fd4;", Fp64),
            ("ld.global.f32 %f1, [%rd1];", Ld),
            ("ld.param.u64 %rd1, [k_param_0];", Ld),
            ("ld.shared.v4.f32 {%f1,%f2,%f3,%f4}, [%rd1];", Ld),
            ("setp.lt.s32 %p1, %r1, %r2;", Pr),
            ("setp.gt.f32 %p1|%p2, %f1, %f2;", Pr),
            ("and.pred %p1, %p2, %p3;", Pr),
            ("vote.sync.any.pred %p1, %p2, -1;", Pr),
            ("st.global.f32 [%rd1], %f1;", Nodest),
            ("@%p1 bra $L1;", Nodest),
            ("bar.sync 0;", Nodest),
            ("red.global.add.u32 [%rd1], %r1;", Nodest),
            ("ret;", Nodest),
            ("add.s32 %r1, %r2, 4;", Others),
            ("mov.u32 %r1, %tid.x;", Others),
            ("mov.f32 %f1, 0f3F800000;", Others),
            ("mov.f64 %fd1, %fd2;", Others),
            ("cvt.rn.f32.s32 %f1, %r1;", Others),
            ("ex2.approx.f32 %f1, %f2;", Others),
            ("shfl.sync.down.b32 %r1, %r2, 16, 31, -1;", Others),
            ("atom.global.add.u32 %r1, [%rd1], 1;", Others),
            ("selp.b32 %r1, %r2, %r3, %p1;", Others),
            ("mul.wide.s32 %rd1, %r1, 4;", Others),
        ] {
            assert_eq!(group_of(&inst(text)), g, "{text}");
        }
    }

    #[test]
    fn unions_and_names() {
        use InstGroup::*;
        for base in [Fp64, Fp32, Ld, Pr, Nodest, Others] {
            assert!(base.contains(base));
            assert_eq!(Gppr.contains(base), base != Nodest);
            assert_eq!(Gp.contains(base), base != Nodest && base != Pr);
        }
        assert!(!Fp32.contains(Fp64));
        for g in InstGroup::ALL {
            assert_eq!(g.name().parse::<InstGroup>().unwrap(), g);
            assert_eq!(g.name().to_lowercase().parse::<InstGroup>().unwrap(), g);
        }
        let e = "fp16".parse::<InstGroup>().unwrap_err().to_string();
        assert!(
            e.starts_with("unknown instruction group `fp16` (known: FP64"),
            "{e}"
        );
    }

    /// Every instruction of every bundled workload has a group, and the groups match
    /// what the workloads are: vecadd has FP32 but no FP64, lavamd FP64, histogram no
    /// FP arithmetic at all; every group with a destination holds only instructions
    /// that write one.
    #[test]
    fn workload_ptx_has_the_groups_its_code_has() {
        let mut per: BTreeMap<&str, BTreeMap<InstGroup, usize>> = BTreeMap::new();
        for w in workloads::all() {
            let name = w.meta().name;
            let m = ptx::parse(w.ptx()).unwrap();
            let counts = per.entry(name).or_default();
            for f in m.functions().filter(|f| f.body.is_some()) {
                for i in ptx::flatten(f.body.as_ref().unwrap()).insts {
                    let g = group_of(i);
                    assert_eq!(
                        g == InstGroup::Nodest,
                        i.dest_count() == 0 || i.class() == Class::Control,
                        "{i:?}"
                    );
                    *counts.entry(g).or_default() += 1;
                }
            }
        }
        let n = |w: &str, g| per[w].get(&g).copied().unwrap_or(0);
        assert!(n("vecadd", InstGroup::Fp32) > 0);
        assert_eq!(n("vecadd", InstGroup::Fp64), 0);
        assert!(n("lavamd", InstGroup::Fp64) > 0);
        assert_eq!(
            n("histogram", InstGroup::Fp32) + n("histogram", InstGroup::Fp64),
            0
        );
        for w in per.keys() {
            for g in [
                InstGroup::Ld,
                InstGroup::Pr,
                InstGroup::Nodest,
                InstGroup::Others,
            ] {
                assert!(n(w, g) > 0, "{w} has no {g}");
            }
        }
    }

    /// The corpus of hand-written and compiler PTX (ZLUDA's tests) classifies without
    /// surprises: every `setp` is PR, every `st` NODEST, every `ld` LD.
    #[test]
    fn corpus_instructions_classify_by_opcode() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/zluda");
        let mut seen = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            let Ok(m) = ptx::parse(&text) else { continue };
            for f in m.functions().filter(|f| f.body.is_some()) {
                for i in ptx::flatten(f.body.as_ref().unwrap()).insts {
                    let want = match i.opcode {
                        Opcode::Setp => InstGroup::Pr,
                        Opcode::St => InstGroup::Nodest,
                        Opcode::Ld => InstGroup::Ld,
                        _ => continue,
                    };
                    assert_eq!(group_of(i), want, "{}: {i:?}", e.path().display());
                    seen += 1;
                }
            }
        }
        assert!(seen > 100, "{seen} loads, stores and setps in the corpus");
    }
}
