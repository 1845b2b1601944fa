//! The decoded instruction form the executor runs: flat per-module instruction array,
//! registers and branch targets as indices, types and modifiers as enum values.
//!
//! Register values live in 64-bit lanes; an instruction reads the low bits of its type's
//! width and writes its result zero-extended (loads sign-extend signed types, as PTX
//! specifies for loads into wider registers). Predicates are per-warp 32-bit lane masks.

use crate::float::Rnd;

/// A value register index within a function frame.
pub(crate) type R = u32;
/// A predicate register index within a function frame.
pub(crate) type P = u32;

/// A value source operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    /// A register.
    Reg(R),
    /// An immediate, as the bits of the instruction's type.
    Imm(u64),
    /// A register plus a constant (`%r + 4`, accepted by ptxas as an operand).
    RegOff(R, i64),
}

/// A predicate source operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PSrc {
    /// A predicate register, possibly negated (`!p`).
    Reg {
        /// The register.
        p: P,
        /// Negated.
        neg: bool,
    },
    /// A constant (`1`/`0` immediates where a predicate is expected).
    Imm(bool),
}

/// Integer operand types. `.bN` types decode as the unsigned type of the same width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IT {
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
}

impl IT {
    /// Width in bits.
    pub(crate) fn bits(self) -> u32 {
        match self {
            IT::U8 | IT::S8 => 8,
            IT::U16 | IT::S16 => 16,
            IT::U32 | IT::S32 => 32,
            IT::U64 | IT::S64 => 64,
        }
    }

    /// Signed.
    pub(crate) fn signed(self) -> bool {
        matches!(self, IT::S8 | IT::S16 | IT::S32 | IT::S64)
    }

    /// Sign- or zero-extends the low `bits()` of `v` to 64 bits.
    #[inline(always)]
    pub(crate) fn ext(self, v: u64) -> u64 {
        match self {
            IT::U8 => v as u8 as u64,
            IT::U16 => v as u16 as u64,
            IT::U32 => v as u32 as u64,
            IT::U64 => v,
            IT::S8 => v as i8 as i64 as u64,
            IT::S16 => v as i16 as i64 as u64,
            IT::S32 => v as i32 as i64 as u64,
            IT::S64 => v,
        }
    }

    /// The same width, the other signedness (`unsigned()` of a signed type).
    pub(crate) fn unsigned(self) -> IT {
        match self {
            IT::S8 => IT::U8,
            IT::S16 => IT::U16,
            IT::S32 => IT::U32,
            IT::S64 => IT::U64,
            t => t,
        }
    }
}

/// Floating-point operand types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FT {
    F16,
    F16x2,
    Bf16,
    Bf16x2,
    F32,
    F64,
}

/// Any scalar value type (comparisons, conversions, memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VT {
    I(IT),
    F(FT),
}

/// Integer binary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IBin {
    Add,
    Sub,
    AddSat,
    SubSat,
    MulLo,
    MulHi,
    /// `mul.wide`: the destination has twice the width.
    MulWide,
    Mul24Lo,
    Mul24Hi,
    Div,
    Rem,
    Min,
    Max,
    And,
    Or,
    Xor,
    Shl,
    /// Arithmetic for signed types, logical otherwise.
    Shr,
    /// `bmsk.clamp` / `bmsk.wrap`: a = position, b = width.
    BmskClamp,
    BmskWrap,
    /// `szext.clamp/wrap.s32|u32`: a = value, b = width.
    SzextClamp,
    SzextWrap,
}

/// Integer unary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IUn {
    Not,
    Cnot,
    Neg,
    Abs,
    Popc,
    Clz,
    Brev,
    Bfind,
    BfindShiftAmt,
}

/// Integer three-source operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ITer {
    MadLo,
    MadHi,
    MadWide,
    Mad24Lo,
    Mad24Hi,
    Sad,
    /// `bfe d, a, pos, len`.
    Bfe,
    /// `prmt.b32 d, a, b, c` generic form.
    Prmt,
    PrmtF4e,
    PrmtB4e,
    PrmtRc8,
    PrmtEcl,
    PrmtEcr,
    PrmtRc16,
    /// `shf.l.clamp`, `shf.l.wrap`, `shf.r.clamp`, `shf.r.wrap` (d, a = low, b = high, c = shift).
    ShfLClamp,
    ShfLWrap,
    ShfRClamp,
    ShfRWrap,
}

/// Float binary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FBin {
    Add,
    Sub,
    Mul,
    /// `div.rn/rz/rm/rp` (and `div.full`, which is computed exactly rounded).
    Div,
    /// `div.approx`.
    DivApprox,
    Min,
    Max,
    /// `min.NaN` / `max.NaN`: NaN if either input is NaN.
    MinNan,
    MaxNan,
    /// `copysign d, a, b`: magnitude of b, sign of a.
    Copysign,
}

/// Float unary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FUn {
    Abs,
    Neg,
    Sqrt,
    SqrtApprox,
    Rcp,
    RcpApprox,
    Rsqrt,
    Sin,
    Cos,
    Lg2,
    Ex2,
    Tanh,
}

/// Comparison operators of `setp`/`set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Lo,
    Ls,
    Hi,
    Hs,
    Equ,
    Neu,
    Ltu,
    Leu,
    Gtu,
    Geu,
    Num,
    Nan,
}

/// Boolean combine operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoolOp {
    And,
    Or,
    Xor,
}

/// The result kind of `set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetDst {
    /// `.u32`/`.s32`/`.b32`: 0xffffffff or 0.
    Mask32,
    /// `.f32`: 1.0 or 0.0.
    F32,
    /// `.f16`/`.bf16`: 1.0 or 0.0 in 16 bits.
    F16,
    Bf16,
    /// Packed results for x2 comparisons.
    Mask16x2,
    F16x2,
    Bf16x2,
}

/// Conversion endpoint types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CT {
    I(IT),
    F16,
    Bf16,
    Tf32,
    F32,
    F64,
}

/// Integer rounding of float→int and float→float-integral conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IRnd {
    /// Nearest even.
    Rni,
    /// Toward zero (the default of float→int).
    Rzi,
    /// Toward -inf.
    Rmi,
    /// Toward +inf.
    Rpi,
}

/// A state space of a memory operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    Generic,
    Global,
    Shared,
    Local,
    Const,
    /// Kernel parameters (addresses below [`crate::decode::THREAD_PARAM_TAG`]) or the
    /// per-thread parameters of device functions and call sites.
    Param,
}

/// The base of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ABase {
    /// A register holding an address; `narrow` for 32-bit registers.
    Reg { r: R, narrow: bool },
    /// A constant address in the instruction's space (symbols resolve to this).
    Abs(u64),
    /// A local variable of the current frame: the offset is added to the frame base.
    LocalFrame,
    /// A per-thread parameter variable of the current frame.
    ParamFrame,
}

/// A memory address operand `[base + off]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Addr {
    pub base: ABase,
    pub off: i64,
}

/// A memory access type: size in bytes and whether a load sign-extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemTy {
    pub size: u8,
    pub signed: bool,
}

/// Atomic operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtomOp {
    Add,
    AddF32,
    AddF64,
    AddF16,
    AddF16x2,
    AddBf16,
    AddBf16x2,
    Min,
    Max,
    MinF32,
    MaxF32,
    And,
    Or,
    Xor,
    Exch,
    Cas,
    Inc,
    Dec,
}

/// Special registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sreg {
    Tid(u8),
    Ntid(u8),
    Ctaid(u8),
    Nctaid(u8),
    Laneid,
    Warpid,
    Nwarpid,
    Smid,
    Nsmid,
    Gridid,
    LanemaskEq,
    LanemaskLe,
    LanemaskLt,
    LanemaskGe,
    LanemaskGt,
    Clock,
    ClockHi,
    Clock64,
    Globaltimer,
    GlobaltimerLo,
    GlobaltimerHi,
    DynamicSmemSize,
    TotalSmemSize,
    /// `%envregN` and other registers that read as zero.
    Zero,
}

/// Modes of `shfl.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShflMode {
    Up,
    Down,
    Bfly,
    Idx,
}

/// Modes of `vote.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VoteMode {
    All,
    Any,
    Uni,
    Ballot,
}

/// Operations of `redux.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReduxOp {
    Add,
    Min,
    Max,
    And,
    Or,
    Xor,
}

/// Barrier kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BarKind {
    Sync,
    Arrive,
    RedPopc,
    RedAnd,
    RedOr,
}

/// A call argument or return slot in the caller, or a formal parameter in the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A value register.
    Reg(R),
    /// A predicate register.
    Pred(P),
    /// An immediate (arguments only).
    Imm(u64),
    /// Bytes of the per-thread parameter frame.
    Param { off: u32, size: u32 },
}

/// Element types of `mma.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MmaTy {
    F16,
    Bf16,
    Tf32,
    F32,
    F64,
    S8,
    U8,
    S32,
}

/// A decoded instruction: operation and guard.
#[derive(Debug, Clone)]
pub(crate) struct Inst {
    pub op: Op,
    /// `@p` / `@!p`.
    pub guard: Option<(P, bool)>,
}

/// The decoded operations.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// No effect (fences, hints, `nanosleep`, `cp.async.wait_*`).
    Nop,
    /// An instruction the decoder could not lower; executing it is an illegal
    /// instruction with the diagnostic at this index.
    Illegal(u32),
    /// Copies 64 bits.
    Mov {
        d: R,
        a: Src,
    },
    MovPred {
        d: P,
        a: PSrc,
    },
    /// Packs parts of `bits` each into `d`: part i at bit i*bits (`mov.b64 d, {a, b}`).
    Pack {
        d: R,
        parts: Box<[Src]>,
        bits: u8,
    },
    /// Unpacks `a` into parts of `bits` each (`None` = sink).
    Unpack {
        ds: Box<[Option<R>]>,
        a: Src,
        bits: u8,
    },
    /// A parallel copy (`mov.vN`): all sources are read before any destination is written.
    MovN {
        d: Box<[R]>,
        s: Box<[Src]>,
    },
    Sreg {
        d: R,
        s: Sreg,
    },
    /// The address of a per-thread local variable (depends on the call depth).
    LocalAddr {
        d: R,
        off: u64,
    },
    /// The address of a per-thread parameter variable.
    ParamAddr {
        d: R,
        off: u64,
    },
    IBin {
        op: IBin,
        t: IT,
        d: R,
        a: Src,
        b: Src,
    },
    IUn {
        op: IUn,
        t: IT,
        d: R,
        a: Src,
    },
    ITer {
        op: ITer,
        t: IT,
        d: R,
        a: Src,
        b: Src,
        c: Src,
    },
    /// `bfi d, f, b, pos, len`.
    Bfi {
        t: IT,
        d: R,
        f: Src,
        b: Src,
        pos: Src,
        len: Src,
    },
    /// `lop3.b32 d, a, b, c, lut`.
    Lop3 {
        d: R,
        a: Src,
        b: Src,
        c: Src,
        lut: u8,
    },
    /// `dp4a`/`dp2a`: `sa`/`sb` say whether a/b are signed; `hi` picks dp2a's half.
    Dp {
        four: bool,
        hi: bool,
        sa: bool,
        sb: bool,
        d: R,
        a: Src,
        b: Src,
        c: Src,
    },
    /// add/sub with carry: `cin` reads CC.CF, `cout` writes it. `wide` = 64-bit.
    Carry {
        sub: bool,
        cin: bool,
        cout: bool,
        wide: bool,
        d: R,
        a: Src,
        b: Src,
        cc: P,
    },
    /// mad.lo/hi with carry (`mad.lo.cc`, `madc`).
    MadCarry {
        hi: bool,
        cin: bool,
        cout: bool,
        wide: bool,
        signed: bool,
        d: R,
        a: Src,
        b: Src,
        c: Src,
        cc: P,
    },
    FBin {
        op: FBin,
        t: FT,
        rnd: Rnd,
        ftz: bool,
        sat: bool,
        d: R,
        a: Src,
        b: Src,
    },
    FUn {
        op: FUn,
        t: FT,
        rnd: Rnd,
        ftz: bool,
        sat: bool,
        d: R,
        a: Src,
    },
    Fma {
        t: FT,
        rnd: Rnd,
        ftz: bool,
        sat: bool,
        relu: bool,
        d: R,
        a: Src,
        b: Src,
        c: Src,
    },
    /// `testp.op.f32/f64 p, a`.
    Testp {
        op: u8,
        wide: bool,
        d: P,
        a: Src,
    },
    Setp {
        cmp: Cmp,
        t: VT,
        ftz: bool,
        d: P,
        dn: Option<P>,
        a: Src,
        b: Src,
        comb: Option<(BoolOp, PSrc)>,
    },
    Set {
        cmp: Cmp,
        t: VT,
        ftz: bool,
        dt: SetDst,
        d: R,
        a: Src,
        b: Src,
        comb: Option<(BoolOp, PSrc)>,
    },
    Selp {
        d: R,
        a: Src,
        b: Src,
        p: PSrc,
    },
    /// `slct.dtype.s32/f32 d, a, b, c`: `d = c >= 0 ? a : b`.
    Slct {
        float_c: bool,
        ftz: bool,
        d: R,
        a: Src,
        b: Src,
        c: Src,
    },
    PredBin {
        op: BoolOp,
        d: P,
        a: PSrc,
        b: PSrc,
    },
    /// `selp`-like integer of a predicate is `selp`; this is `not.pred`.
    PredNot {
        d: P,
        a: PSrc,
    },
    Cvt {
        dt: CT,
        st: CT,
        rnd: Rnd,
        irnd: Option<IRnd>,
        sat: bool,
        ftz: bool,
        relu: bool,
        satfinite: bool,
        d: R,
        a: Src,
    },
    /// Two f32 to packed f16x2/bf16x2 (`cvt.rn.f16x2.f32 d, a, b`: a high, b low), or to
    /// packed FP8 pairs.
    CvtPair {
        dt: CvtPair,
        rnd: Rnd,
        relu: bool,
        satfinite: bool,
        d: R,
        a: Src,
        b: Src,
    },
    /// Packed FP8 pair to f16x2 (`cvt.rn.f16x2.e4m3x2 d, a`).
    CvtFromF8x2 {
        e5m2: bool,
        relu: bool,
        d: R,
        a: Src,
    },
    /// `cvt.pack.sat.{u8,s8,u16,s16}.s32.b32 d, a, b, c`.
    CvtPack {
        dt: IT,
        d: R,
        a: Src,
        b: Src,
        c: Src,
    },
    /// `cvta.space` (to generic) or `cvta.to.space` (from generic).
    Cvta {
        to: bool,
        space: Space,
        d: R,
        a: Src,
    },
    /// `isspacep.space p, a`.
    Isspacep {
        space: Space,
        d: P,
        a: Src,
    },
    Ld {
        space: Space,
        t: MemTy,
        d: Box<[Option<R>]>,
        addr: Addr,
    },
    /// A scalar load of 1, 2, 4 or 8 bytes (the common case, no vector box).
    Ld1 {
        space: Space,
        t: MemTy,
        d: R,
        addr: Addr,
    },
    St {
        space: Space,
        t: MemTy,
        s: Box<[Src]>,
        addr: Addr,
    },
    St1 {
        space: Space,
        t: MemTy,
        s: Src,
        addr: Addr,
    },
    /// `atom`/`red` (`d` is `None` for `red` and sinks).
    Atom {
        space: Space,
        op: AtomOp,
        size: u8,
        signed: bool,
        d: Option<R>,
        addr: Addr,
        b: Src,
        c: Src,
    },
    /// `cp.async.ca/cg.shared.global [dst], [src], size{, src_size}`.
    CpAsync {
        dst: Addr,
        src: Addr,
        size: u8,
        src_size: Option<Src>,
    },
    /// `ldmatrix.sync.aligned.m8n8.xN{.trans}.shared.b16`.
    Ldmatrix {
        n: u8,
        trans: bool,
        space: Space,
        d: Box<[R]>,
        addr: Addr,
    },
    Mma(Box<Mma>),
    Shfl {
        mode: ShflMode,
        d: R,
        dp: Option<P>,
        a: Src,
        b: Src,
        c: Src,
        mask: Src,
    },
    Vote {
        mode: VoteMode,
        d: VoteDst,
        a: PSrc,
        mask: Src,
    },
    Match {
        all: bool,
        wide: bool,
        d: R,
        dp: Option<P>,
        a: Src,
        mask: Src,
    },
    Redux {
        op: ReduxOp,
        signed: bool,
        d: R,
        a: Src,
        mask: Src,
    },
    Activemask {
        d: R,
    },
    /// `bar.warp.sync mask`.
    WarpSync {
        mask: Src,
    },
    Bar {
        kind: BarKind,
        id: Src,
        count: Option<Src>,
        d: Option<BarDst>,
        p: PSrc,
    },
    Bra {
        target: u32,
    },
    /// `brx.idx a, table`: targets by index.
    Brx {
        a: Src,
        targets: Box<[u32]>,
    },
    Call {
        func: u32,
        args: Box<[Slot]>,
        rets: Box<[Slot]>,
    },
    /// An indirect call through a function address.
    CallInd {
        target: Src,
        args: Box<[Slot]>,
        rets: Box<[Slot]>,
    },
    Ret,
    Exit,
    Trap,
    /// Scalar video instructions (`vadd`, `vshr`, …) without byte/half selectors.
    Video(Box<Video>),
}

/// Video operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VideoOp {
    Add,
    Sub,
    Absdiff,
    Min,
    Max,
    Shl,
    Shr,
}

/// Secondary operations of video instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VideoOp2 {
    Add,
    Min,
    Max,
}

/// A decoded scalar video instruction.
#[derive(Debug, Clone)]
pub(crate) struct Video {
    pub op: VideoOp,
    pub op2: Option<VideoOp2>,
    pub sd: bool,
    pub sa: bool,
    pub sb: bool,
    pub sat: bool,
    /// `.wrap` shift mode (default `.clamp`).
    pub wrap: bool,
    pub d: R,
    pub a: Src,
    pub b: Src,
    pub c: Src,
}

/// Destination of `vote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VoteDst {
    Pred(P),
    Reg(R),
}

/// Destination of `bar.red`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BarDst {
    Pred(P),
    Reg(R),
}

/// Packed pair conversions from two f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CvtPair {
    F16x2,
    Bf16x2,
    E4m3x2,
    E5m2x2,
}

/// A decoded `mma.sync.aligned` instruction.
#[derive(Debug, Clone)]
pub(crate) struct Mma {
    /// K of the shape (M is 16 and N is 8 for every decoded shape).
    pub k: u8,
    pub ab: MmaTy,
    pub satfinite: bool,
    pub d: Box<[R]>,
    pub a: Box<[Src]>,
    pub b: Box<[Src]>,
    pub c: Box<[Src]>,
}
