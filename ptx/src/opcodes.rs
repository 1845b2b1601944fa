//! The one opcode table.
//!
//! Every opcode gpufault knows is one line of the `opcodes!` list below: its variant,
//! its PTX name, how its instruction class is decided and which operands it writes.
//! Everything else (the [`Opcode`] enum, name lookup, [`Instruction::class`],
//! [`Instruction::dest_count`]) is generated from that list, so there is no second list
//! to keep in sync. Opcodes not in the table still parse and print as
//! [`Opcode::Other`] and are classed [`Class::Other`].

use crate::ast::{Instruction, Operand, Type};

/// The unit class of an instruction (what part of an SM executes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Integer and bitwise ALU operations (and integer/bit moves).
    IntAlu,
    /// Single-precision floating point.
    Fp32,
    /// Double-precision floating point.
    Fp64,
    /// Half-precision and bfloat16 floating point (scalar and packed).
    Fp16,
    /// Special-function unit / approximate transcendentals.
    Sfu,
    /// Type conversions (`cvt`, `cvta`, `cvt.pack`).
    Conversion,
    /// Loads from any state space (also `ldu`, `ldmatrix`-less texture/surface reads).
    Load,
    /// Stores to any state space.
    Store,
    /// Atomics and reductions.
    Atomic,
    /// Branches, calls, returns, exit, trap.
    Control,
    /// `setp`, `set`, `selp`, `slct`, `testp`.
    Compare,
    /// Reads of special registers (`mov %r, %tid.x`).
    SregRead,
    /// Barriers, fences, memory barriers.
    Barrier,
    /// Warp-level operations: shuffles, votes, match, redux, activemask.
    Warp,
    /// Tensor-core operations: `mma`, `wmma`, `ldmatrix`, `wgmma`.
    Tensor,
    /// Anything else (and opcodes not in the table).
    Other,
}

impl Class {
    /// All classes, in declaration order.
    pub const ALL: [Class; 16] = [
        Class::IntAlu,
        Class::Fp32,
        Class::Fp64,
        Class::Fp16,
        Class::Sfu,
        Class::Conversion,
        Class::Load,
        Class::Store,
        Class::Atomic,
        Class::Control,
        Class::Compare,
        Class::SregRead,
        Class::Barrier,
        Class::Warp,
        Class::Tensor,
        Class::Other,
    ];

    /// A short lower-case name (`int_alu`, `fp32`, …).
    pub fn name(self) -> &'static str {
        match self {
            Class::IntAlu => "int_alu",
            Class::Fp32 => "fp32",
            Class::Fp64 => "fp64",
            Class::Fp16 => "fp16",
            Class::Sfu => "sfu",
            Class::Conversion => "conversion",
            Class::Load => "load",
            Class::Store => "store",
            Class::Atomic => "atomic",
            Class::Control => "control",
            Class::Compare => "compare",
            Class::SregRead => "sreg_read",
            Class::Barrier => "barrier",
            Class::Warp => "warp",
            Class::Tensor => "tensor",
            Class::Other => "other",
        }
    }
}

/// How an opcode's class is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClassRule {
    /// Always this class.
    Fixed(Class),
    /// By the instruction's type: integer/bit → `IntAlu`, f32 → `Fp32`, f64 → `Fp64`,
    /// f16/bf16 → `Fp16`.
    ByType,
    /// `Sfu` with `.approx`, otherwise by type (`rcp`, `sqrt`, `div`).
    ApproxOrType,
    /// `SregRead` when a source is a special register, otherwise by type (`mov`).
    Move,
}

/// Which operands an opcode writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    /// None (stores, branches, barriers without result).
    None,
    /// The first operand (most instructions).
    First,
    /// `call`: the parenthesised return list, when present.
    Call,
    /// Decided from the modifiers (`bar`, `wmma`, `mbarrier`, `atom`-like forms).
    ByModifier,
}

use Class::*;
use ClassRule::{ApproxOrType as AT, ByType as T, Fixed as F, Move as MV};
use Dest::{ByModifier as DM, Call as DC, First as D1, None as D0};

macro_rules! opcodes {
    ($($variant:ident $name:literal $class:expr, $dest:expr;)*) => {
        /// A PTX opcode: the instruction name before the first dot.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Opcode {
            $($variant,)*
            /// An opcode not in the table, with its name as written (boxed: it is rare,
            /// and boxing keeps `Opcode`, and so every instruction, 16 bytes smaller).
            Other(Box<crate::ast::Name>),
        }

        impl Opcode {
            /// Looks an opcode up by its PTX name (`Other` when unknown).
            pub fn from_name(name: &str) -> Opcode {
                match name {
                    $($name => Opcode::$variant,)*
                    _ => Opcode::Other(Box::new(crate::ast::Name::new(name))),
                }
            }

            /// The PTX name.
            pub fn name(&self) -> &str {
                match self {
                    $(Opcode::$variant => $name,)*
                    Opcode::Other(n) => n,
                }
            }

            /// Every opcode of the table, in table order.
            pub const KNOWN: &'static [Opcode] = &[$(Opcode::$variant,)*];

            fn rule(&self) -> (ClassRule, Dest) {
                match self {
                    $(Opcode::$variant => ($class, $dest),)*
                    Opcode::Other(_) => (F(Other), D1),
                }
            }
        }
    };
}

opcodes! {
    // integer and floating-point arithmetic
    Add "add" T, D1;
    Sub "sub" T, D1;
    Mul "mul" T, D1;
    Mad "mad" T, D1;
    Mul24 "mul24" T, D1;
    Mad24 "mad24" T, D1;
    Sad "sad" T, D1;
    Div "div" AT, D1;
    Rem "rem" T, D1;
    Abs "abs" T, D1;
    Neg "neg" T, D1;
    Min "min" T, D1;
    Max "max" T, D1;
    Addc "addc" T, D1;
    Subc "subc" T, D1;
    Madc "madc" T, D1;
    Fma "fma" T, D1;
    Copysign "copysign" T, D1;
    // bit manipulation and logic
    Popc "popc" F(IntAlu), D1;
    Clz "clz" F(IntAlu), D1;
    Bfind "bfind" F(IntAlu), D1;
    Fns "fns" F(IntAlu), D1;
    Brev "brev" F(IntAlu), D1;
    Bfe "bfe" F(IntAlu), D1;
    Bfi "bfi" F(IntAlu), D1;
    Bmsk "bmsk" F(IntAlu), D1;
    Szext "szext" F(IntAlu), D1;
    Dp4a "dp4a" F(IntAlu), D1;
    Dp2a "dp2a" F(IntAlu), D1;
    And "and" F(IntAlu), D1;
    Or "or" F(IntAlu), D1;
    Xor "xor" F(IntAlu), D1;
    Not "not" F(IntAlu), D1;
    Cnot "cnot" F(IntAlu), D1;
    Lop3 "lop3" F(IntAlu), D1;
    Shf "shf" F(IntAlu), D1;
    Shl "shl" F(IntAlu), D1;
    Shr "shr" F(IntAlu), D1;
    Prmt "prmt" F(IntAlu), D1;
    // video instructions: scalar (with optional secondary operation) and SIMD
    Vadd "vadd" F(IntAlu), D1;
    Vsub "vsub" F(IntAlu), D1;
    Vabsdiff "vabsdiff" F(IntAlu), D1;
    Vmin "vmin" F(IntAlu), D1;
    Vmax "vmax" F(IntAlu), D1;
    Vshl "vshl" F(IntAlu), D1;
    Vshr "vshr" F(IntAlu), D1;
    Vmad "vmad" F(IntAlu), D1;
    Vset "vset" F(IntAlu), D1;
    Vadd2 "vadd2" F(IntAlu), D1;
    Vsub2 "vsub2" F(IntAlu), D1;
    Vavrg2 "vavrg2" F(IntAlu), D1;
    Vabsdiff2 "vabsdiff2" F(IntAlu), D1;
    Vmin2 "vmin2" F(IntAlu), D1;
    Vmax2 "vmax2" F(IntAlu), D1;
    Vset2 "vset2" F(IntAlu), D1;
    Vadd4 "vadd4" F(IntAlu), D1;
    Vsub4 "vsub4" F(IntAlu), D1;
    Vavrg4 "vavrg4" F(IntAlu), D1;
    Vabsdiff4 "vabsdiff4" F(IntAlu), D1;
    Vmin4 "vmin4" F(IntAlu), D1;
    Vmax4 "vmax4" F(IntAlu), D1;
    Vset4 "vset4" F(IntAlu), D1;
    // special functions
    Rcp "rcp" AT, D1;
    Sqrt "sqrt" AT, D1;
    Rsqrt "rsqrt" F(Sfu), D1;
    Sin "sin" F(Sfu), D1;
    Cos "cos" F(Sfu), D1;
    Lg2 "lg2" F(Sfu), D1;
    Ex2 "ex2" F(Sfu), D1;
    Tanh "tanh" F(Sfu), D1;
    // comparison and selection
    Set "set" F(Compare), D1;
    Setp "setp" F(Compare), D1;
    Selp "selp" F(Compare), D1;
    Slct "slct" F(Compare), D1;
    Testp "testp" F(Compare), D1;
    // data movement and conversion
    Mov "mov" MV, D1;
    Cvt "cvt" F(Conversion), D1;
    Cvta "cvta" F(Conversion), D1;
    Isspacep "isspacep" F(Compare), D1;
    Mapa "mapa" F(Conversion), D1;
    Getctarank "getctarank" F(IntAlu), D1;
    Ld "ld" F(Load), D1;
    Ldu "ldu" F(Load), D1;
    St "st" F(Store), D0;
    Prefetch "prefetch" F(Load), D0;
    Prefetchu "prefetchu" F(Load), D0;
    Cp "cp" F(Load), D0;
    Tex "tex" F(Load), D1;
    Tld4 "tld4" F(Load), D1;
    Txq "txq" F(Load), D1;
    Suld "suld" F(Load), D1;
    Sust "sust" F(Store), D0;
    Sured "sured" F(Atomic), D0;
    Suq "suq" F(Load), D1;
    Istypep "istypep" F(Compare), D1;
    Tensormap "tensormap" F(Other), D0;
    Multimem "multimem" F(Atomic), DM;
    Createpolicy "createpolicy" F(Other), D1;
    Discard "discard" F(Store), D0;
    Applypriority "applypriority" F(Other), D0;
    Alloca "alloca" F(Other), D1;
    Stacksave "stacksave" F(Other), D1;
    Stackrestore "stackrestore" F(Other), D0;
    // atomics
    Atom "atom" F(Atomic), D1;
    Red "red" F(Atomic), D0;
    // control flow
    Bra "bra" F(Control), D0;
    Brx "brx" F(Control), D0;
    Call "call" F(Control), DC;
    Ret "ret" F(Control), D0;
    Exit "exit" F(Control), D0;
    Trap "trap" F(Control), D0;
    Brkpt "brkpt" F(Control), D0;
    // barriers and fences
    Bar "bar" F(Barrier), DM;
    Barrier "barrier" F(Barrier), DM;
    Membar "membar" F(Barrier), D0;
    Fence "fence" F(Barrier), D0;
    Mbarrier "mbarrier" F(Barrier), DM;
    Griddepcontrol "griddepcontrol" F(Barrier), D0;
    Nanosleep "nanosleep" F(Other), D0;
    Pmevent "pmevent" F(Other), D0;
    Setmaxnreg "setmaxnreg" F(Other), D0;
    Clusterlaunchcontrol "clusterlaunchcontrol" F(Other), DM;
    // warp-level
    Shfl "shfl" F(Warp), D1;
    Vote "vote" F(Warp), D1;
    Match "match" F(Warp), D1;
    Activemask "activemask" F(Warp), D1;
    Redux "redux" F(Warp), D1;
    Elect "elect" F(Warp), D1;
    // tensor cores
    Mma "mma" F(Tensor), D1;
    Wmma "wmma" F(Tensor), DM;
    Ldmatrix "ldmatrix" F(Tensor), D1;
    Stmatrix "stmatrix" F(Tensor), D0;
    Movmatrix "movmatrix" F(Tensor), D1;
    Wgmma "wgmma" F(Tensor), DM;
    Tcgen05 "tcgen05" F(Tensor), DM;
}

/// Whether `name` (with its leading `%`) is a PTX special register.
pub fn is_special_register(name: &str) -> bool {
    let base = name.strip_prefix('%').unwrap_or("");
    matches!(
        base,
        "tid"
            | "ntid"
            | "laneid"
            | "warpid"
            | "nwarpid"
            | "ctaid"
            | "nctaid"
            | "smid"
            | "nsmid"
            | "gridid"
            | "is_explicit_cluster"
            | "clusterid"
            | "nclusterid"
            | "cluster_ctaid"
            | "cluster_nctaid"
            | "cluster_ctarank"
            | "cluster_nctarank"
            | "lanemask_eq"
            | "lanemask_le"
            | "lanemask_lt"
            | "lanemask_ge"
            | "lanemask_gt"
            | "clock"
            | "clock_hi"
            | "clock64"
            | "globaltimer"
            | "globaltimer_lo"
            | "globaltimer_hi"
            | "total_smem_size"
            | "aggr_smem_size"
            | "dynamic_smem_size"
            | "current_graph_exec"
    ) || (base.starts_with("envreg") && base[6..].parse::<u32>().is_ok_and(|n| n < 32))
        || (base.starts_with("pm")
            && (base[2..].parse::<u32>().is_ok_and(|n| n < 8)
                || base[2..]
                    .strip_suffix("_64")
                    .and_then(|s| s.parse::<u32>().ok())
                    .is_some_and(|n| n < 8)))
        || base.starts_with("reserved_smem_offset_")
}

fn class_of_type(ty: Option<Type>) -> Class {
    match ty {
        Some(Type::F32 | Type::Tf32) => Fp32,
        Some(Type::F64) => Fp64,
        Some(Type::F16 | Type::F16x2 | Type::Bf16 | Type::Bf16x2) => Fp16,
        Some(Type::E4m3 | Type::E5m2 | Type::E4m3x2 | Type::E5m2x2) => Fp16,
        _ => IntAlu,
    }
}

impl Instruction {
    /// The unit class of this instruction, from the opcode table.
    pub fn class(&self) -> Class {
        match self.opcode.rule().0 {
            ClassRule::Fixed(c) => c,
            ClassRule::ByType => class_of_type(self.ty()),
            ClassRule::ApproxOrType => {
                if self.has_modifier("approx") {
                    Sfu
                } else {
                    class_of_type(self.ty())
                }
            }
            ClassRule::Move => {
                let reads_sreg = self.operands.iter().skip(1).any(|o| match o {
                    Operand::Name { name, .. } => is_special_register(name),
                    _ => false,
                });
                if reads_sreg {
                    SregRead
                } else {
                    class_of_type(self.ty())
                }
            }
        }
    }

    /// How many leading operands this instruction writes (0 or 1; a written operand may
    /// be a vector `{a,b}`, a pair `p|q` or a `call` return list).
    pub fn dest_count(&self) -> usize {
        let n = match self.opcode.rule().1 {
            Dest::None => 0,
            Dest::First => 1,
            Dest::Call => usize::from(
                matches!(self.operands.first(), Some(Operand::List(_)))
                    && self.operands.len() >= 2
                    && matches!(self.operands.get(1), Some(Operand::Name { .. })),
            ),
            Dest::ByModifier => match self.opcode {
                // bar.red / barrier.red produce a result; other barriers do not.
                Opcode::Bar | Opcode::Barrier => usize::from(self.has_modifier("red")),
                // wmma.store writes memory, the rest write registers.
                Opcode::Wmma => usize::from(!self.has_modifier("store")),
                // wgmma.mma_async writes its accumulator; fence/commit/wait do not.
                Opcode::Wgmma => usize::from(self.has_modifier("mma_async")),
                // mbarrier.arrive*/test_wait/try_wait/pending_count return a value.
                Opcode::Mbarrier => usize::from(self.modifiers.first().is_some_and(|m| {
                    matches!(
                        m,
                        "arrive" | "arrive_drop" | "test_wait" | "try_wait" | "pending_count"
                    )
                })),
                // multimem.ld_reduce returns a value; multimem.st/red write memory.
                Opcode::Multimem => usize::from(self.has_modifier("ld_reduce")),
                // clusterlaunchcontrol.query_cancel returns a value; try_cancel writes
                // memory.
                Opcode::Clusterlaunchcontrol => usize::from(self.has_modifier("query_cancel")),
                // tcgen05.ld loads registers; the other tcgen05 forms write tensor or
                // shared memory, or nothing.
                Opcode::Tcgen05 => usize::from(self.modifiers.first() == Some("ld")),
                _ => 1,
            },
        };
        // A sink `_` is not a write.
        if n == 1 && matches!(self.operands.first(), Some(Operand::Sink)) {
            return 0;
        }
        n.min(self.operands.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_table() {
        for op in Opcode::KNOWN {
            assert_eq!(&Opcode::from_name(op.name()), op);
        }
        assert_eq!(
            Opcode::from_name("frobnicate"),
            Opcode::Other(Box::new("frobnicate".into()))
        );
    }

    #[test]
    fn classes_follow_types_and_modifiers() {
        let i = |op: Opcode, m: &[&str], ops: Vec<Operand>| Instruction::new(op, m, ops);
        let r = |n: &str| Operand::name(n);
        assert_eq!(i(Opcode::Add, &["s32"], vec![]).class(), IntAlu);
        assert_eq!(i(Opcode::Add, &["rn", "f32"], vec![]).class(), Fp32);
        assert_eq!(i(Opcode::Fma, &["rn", "f64"], vec![]).class(), Fp64);
        assert_eq!(i(Opcode::Fma, &["rn", "f16x2"], vec![]).class(), Fp16);
        assert_eq!(i(Opcode::Rcp, &["approx", "f32"], vec![]).class(), Sfu);
        assert_eq!(i(Opcode::Rcp, &["rn", "f32"], vec![]).class(), Fp32);
        let tid = Operand::Name {
            name: "%tid".into(),
            comp: Some(crate::ast::Component::X),
        };
        assert_eq!(
            i(Opcode::Mov, &["u32"], vec![r("%r1"), tid]).class(),
            SregRead
        );
        assert_eq!(
            i(Opcode::Mov, &["u32"], vec![r("%r1"), r("%r2")]).class(),
            IntAlu
        );
        assert_eq!(i(Opcode::from_name("foo"), &[], vec![]).class(), Other);
    }

    #[test]
    fn destinations() {
        let r = |n: &str| Operand::name(n);
        let st = Instruction::new(
            Opcode::St,
            &["global", "u32"],
            vec![Operand::addr("%rd1", 0), r("%r1")],
        );
        assert_eq!(st.dest_count(), 0);
        let add = Instruction::new(Opcode::Add, &["u32"], vec![r("%r1"), r("%r2"), r("%r3")]);
        assert_eq!(add.dest_count(), 1);
        let call = Instruction::new(
            Opcode::Call,
            &["uni"],
            vec![
                Operand::List(vec![r("retval0")]),
                r("f"),
                Operand::List(vec![r("p0")]),
            ],
        );
        assert_eq!(call.dest_count(), 1);
        let call_void =
            Instruction::new(Opcode::Call, &["uni"], vec![r("f"), Operand::List(vec![])]);
        assert_eq!(call_void.dest_count(), 0);
        let bar = Instruction::new(Opcode::Bar, &["sync"], vec![Operand::int(0)]);
        assert_eq!(bar.dest_count(), 0);
        assert!(is_special_register("%tid"));
        assert!(is_special_register("%envreg3"));
        assert!(!is_special_register("%r1"));
    }
}
