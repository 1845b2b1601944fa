//! The virtual GPU of gpufault: a deterministic SIMT emulator that executes PTX on the
//! CPU.
//!
//! A module is parsed ([`ptx::parse`]) and decoded once into flat instruction arrays
//! (registers and branch targets as indices, types and modifiers as enum values); a
//! launch then runs every CTA of the grid as warps of 32 lanes with per-warp active
//! masks, divergence and reconvergence for any control flow, CTA barriers, warp-level
//! instructions, atomics, and global/shared/local/param/const memory with generic
//! addressing. Faults of the running kernel (illegal or misaligned addresses, illegal
//! instructions, traps, barrier deadlocks, exhausted instruction budgets) come back as a
//! typed [`Outcome`], never as a host crash, whatever the PTX.
//!
//! It is not a timing model: it has no caches, latencies or clock cycles, and
//! `%clock`/`%globaltimer` count issued instructions. It is not a PTX validator either
//! (that is `ptxas`): it executes valid PTX and refuses, with a diagnostic, what it
//! cannot execute.
//!
//! Main types: [`Gpu`] (memory, modules, launches), [`GpuProfile`] (the parallel
//! structure: SMs, warp slots, occupancy limits), [`Scheduling`] (the fixed placement
//! rule, or one drawn from a seed), [`LaunchConfig`] and [`KernelArg`]
//! (what to launch), [`LaunchReport`] with its [`Outcome`] and optional [`ExecProfile`]
//! (which static instructions ran on which SM, warp slot and lanes).
//!
//! ```
//! use sim::{Gpu, GpuProfile, KernelArg, LaunchConfig, Outcome};
//!
//! let ptx = r#"
//! .version 8.0
//! .target sm_80
//! .address_size 64
//! .visible .entry add_one(.param .u64 p)
//! {
//!     .reg .b32 %r<3>;
//!     .reg .b64 %rd<4>;
//!     ld.param.u64 %rd1, [p];
//!     mov.u32 %r1, %tid.x;
//!     mul.wide.u32 %rd2, %r1, 4;
//!     add.s64 %rd3, %rd1, %rd2;
//!     ld.global.u32 %r2, [%rd3];
//!     add.s32 %r2, %r2, 1;
//!     st.global.u32 [%rd3], %r2;
//!     ret;
//! }"#;
//! let mut gpu = Gpu::new(GpuProfile::sim());
//! let module = gpu.load(ptx)?;
//! let buf = gpu.alloc(64 * 4)?;
//! let report = gpu.launch(module, "add_one", &LaunchConfig::new([1, 1, 1], [64, 1, 1]),
//!                         &[KernelArg::Ptr(buf)])?;
//! assert_eq!(report.outcome, Outcome::Completed);
//! assert_eq!(report.thread_instructions, 64 * 8);
//! let mut out = [0u8; 8];
//! gpu.read(buf, &mut out)?;
//! assert_eq!(out, [1, 0, 0, 0, 1, 0, 0, 0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Execution model
//!
//! - **Placement.** With the fixed [`Scheduling`] (the default), CTA `i` (linear, x
//!   fastest) runs on SM `i % sms` in resident position `(i / sms) % k`, where `k` is the
//!   occupancy (co-resident CTAs per SM, limited by the profile's CTA, warp-slot, thread
//!   and shared-memory limits); its warp `w` takes warp slot
//!   `position * warps_per_cta + w`, so `%warpid % 4` is the sub-partition. See
//!   [`GpuProfile`]. With [`Scheduling::Seeded`], the SM (among those with room, at most
//!   `k` CTAs each) and the warp slots (among the SM's free ones) are drawn from the
//!   seed; a CTA's warps stay on one SM and `%smid`/`%warpid` follow the placement.
//! - **Scheduling.** CTAs run one at a time, each to completion: in linear order with
//!   the fixed scheduling, in a drawn order with a seed. Within a CTA, warps take
//!   turns: round-robin in index order for up to 2,048 warp-instructions per turn, or in
//!   a drawn order with drawn turn lengths (1 to 2,048). Everything is deterministic: the
//!   same launch on the same memory with the same scheduling gives the same bits and the
//!   same instruction counts on every run and machine; a seeded launch's schedule
//!   depends on the seed and the launch (kernel, grid, block, dynamic shared memory),
//!   not on what ran before.
//! - **Divergence.** Each warp runs its lane groups smallest-pc-first and merges groups
//!   that reach the same pc (and call stack): correct for unstructured control flow,
//!   reconverging at the first common instruction. Warp-synchronous instructions wait
//!   for their member lanes; CTA barriers count warps; a barrier deadlock is detected
//!   exactly.
//! - **Time.** `%clock`/`%clock64` count the warp-instructions issued on the SM so far in
//!   the launch, `%globaltimer` those issued by the whole launch (as nanoseconds);
//!   `%gridid` is 1. Nothing depends on the host clock.
//! - **Counting.** A warp-instruction is one instruction issued for one lane group; its
//!   thread-instructions are the lanes of that group (predicated-off lanes included).
//!   The budget is in thread-instructions.
//! - **Floating point.** Exactly rounded operations (all rounding modes, `.ftz`,
//!   `.sat`, f16/bf16/fp8 conversions) match IEEE bit for bit. Approximate instructions
//!   are computed in f64 and rounded to the destination type with round-to-nearest-even:
//!   `sin`, `cos`, `ex2`, `lg2` and `tanh` with the `libm` crate (a pure-Rust port of
//!   musl's libm, under 1 ulp of f64 from the exact function), so the f64 forms are
//!   within 1 ulp and the f32/f16/bf16 forms are the correctly rounded result except
//!   when the f64 value lies within its error of a rounding boundary; `rsqrt` is
//!   `1 / sqrt(x)` with the square root and the quotient each rounded to f64 (the f32
//!   form rounded a third time, to f32); `rcp.approx`, `sqrt.approx` and `div.approx`
//!   are correctly rounded (in f64, then to f32 where that is the type, which for these
//!   operations is the same as one rounding), and `div.full.f32` is `div.rn.f32`. A GPU's
//!   approximations are less accurate (ulps, or an absolute error for `sin`/`cos`), so
//!   results can differ from a GPU's in the last bits; they never differ between
//!   machines, because libm is pure Rust and everything else is IEEE-exact. NaN results
//!   are the canonical NaN.
//! - **Memory.** Global allocations sit at distinct 256-byte-aligned addresses from
//!   `0x1_0000_0000` with at least 4 KiB unmapped between them, so small overflows fault;
//!   a module's `.global` variables share one data segment padded to 4 KiB. Each
//!   allocation (data segments included) takes the lowest address that keeps those gaps,
//!   reusing freed space, so addresses are a function of the live allocations: a run
//!   that starts from the same loaded modules gets the same addresses whatever the GPU
//!   ran and freed before. Generic
//!   addresses map windows onto the constant bank, kernel parameters, the CTA's shared
//!   memory and the thread's local memory. Registers, shared and local memory start
//!   zeroed in every CTA (deterministic stand-ins for the hardware's garbage).
//! - **Profiling.** With [`LaunchConfig::profiling`], the report's [`ExecProfile`]
//!   counts warp- and thread-instructions per static instruction and keeps, per SM and
//!   warp slot, the lanes that issued and executed each one, so a fault-site sampler
//!   can ask whether lane `l` of warp slot `w` on SM `s` runs instruction `pc`.
//!
//! # Design
//!
//! Decoding resolves everything the executor needs: each PTX instruction becomes one
//! decoded operation (a family such as integer binary, float fused multiply-add or
//! load, with its type, rounding and modifiers as enum values and its operands as
//! register indices or immediates), so static instructions are the PTX's. The
//! executor dispatches once per warp-instruction; each family's handler selects a
//! closure monomorphised for the decoded type outside the lane loop and runs it over the
//! 32 lanes of a structure-of-arrays register file (all lanes of a register contiguous),
//! with a plain store when all lanes are active. Faults are values built on cold paths.
//!
//! Not supported (decoding reports them; reaching one is an illegal instruction):
//! textures and surfaces, `mbarrier`, `cp.async.bulk`, `wmma`/`wgmma` and `mma` shapes
//! other than m16n8k8/k16 (f16, bf16) and m16n8k32 (s8, u8), clusters, 128-bit data
//! types, vector atomics, `alloca`, video instructions with byte selectors.
#![deny(missing_docs)]

mod decode;
mod error;
mod exec;
mod float;
mod gpu;
mod ir;
mod memory;
mod profile;
mod report;
mod schedule;
#[cfg(test)]
mod tests;

pub use decode::KernelParam;
pub use error::{DecodeError, Diagnostic, LoadError, SimError};
pub use gpu::{Gpu, KernelArg, LaunchConfig, LaunchProgress, ModuleId, DEFAULT_BUDGET};
pub use profile::GpuProfile;
pub use report::{AddressSpace, ExecProfile, Fault, FaultKind, InstSite, LaunchReport, Outcome};
pub use schedule::Scheduling;
