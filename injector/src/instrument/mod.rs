//! The instrumentation pass: instrument a module once per model, inject many times.
//!
//! # Layout of an instrumented kernel
//!
//! ```text
//! <the kernel's own top-level declarations, hoisted>
//! <registers of the pass (%__gf_*)>
//! prologue   — every thread: is the descriptor enabled? is this warp on the faulty SM,
//!              sub-partition and warp slot? If not: bra.uni $__gf_orig (a transient
//!              model: only "enabled?"; every warp runs the copy)
//! setup      — faulty warps only: lane-selection predicate, masks, model predicates
//! copy       — faulty warps only: the kernel body with the model's code at every site
//! $__gf_orig:
//! original   — every other warp: the kernel body, untouched
//! ```
//!
//! The site check compares `%smid`, `%warpid % 4`, the warp-slot bit (`%warpid / 4`)
//! and, per instruction, the lane bit with the *fault descriptor*, an 88-byte module
//! global `__gpufault_desc` the host writes before each launch (layout:
//! [`crate::Descriptor`]). A disabled descriptor costs every thread three instructions
//! (load, compare, branch). Device functions get an instrumented twin (`name__gf`) that
//! the instrumented copies call. Whenever the model's code actually changes a value,
//! a predicate, a lane's activity or a warp's control flow, one lane of the warp adds 1
//! to the 64-bit global `__gpufault_count` (once per warp-instruction): the *activation
//! counter* that separates "not activated" from "masked".
//!
//! # Where the code is
//!
//! This module is the shared machinery: the module-level pass (twins, globals), the
//! PTX version check and raise (`raise`), the per-function pass with the prologue, the
//! common setup and the copy (`pass`), and the building blocks of emitted code
//! (`emit`: templates, the activation count, variants with change checks). What each
//! model does at a site, and its own setup, is in its module under `models/`.

mod emit;
mod pass;
mod raise;

pub(crate) use emit::{
    bits_of_imm, code, count, name_op, r, slot_reg, variants, with_inst, Change, Variant,
};
pub(crate) use pass::Pass;

use crate::model::Model;
use ptx::{Declarator, Function, FunctionKind, Item, Linkage, Module, StateSpace, Type, VarDecl};
use std::collections::HashSet;

/// Name of the fault-descriptor global.
pub const DESC_SYMBOL: &str = "__gpufault_desc";
/// Name of the activation-counter global (u64).
pub const COUNT_SYMBOL: &str = "__gpufault_count";
const ORIG_LABEL: &str = "$__gf_orig";
const COPY_SUFFIX: &str = "__gf";

/// Errors of the instrumentation pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstrumentError {
    /// The module cannot be instrumented as it is.
    #[error("cannot instrument: {why}")]
    Unsupported {
        /// Why.
        why: String,
    },
    /// A name the pass needs is already used by the module.
    #[error("the module already uses the name `{name}`, reserved for instrumentation")]
    NameClash {
        /// The name.
        name: String,
    },
    /// An internal code template failed to parse (a bug).
    #[error("internal error: generated code does not parse: {detail}")]
    Internal {
        /// The parser's message and the code.
        detail: String,
    },
}

/// One static instruction a model can touch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Site {
    /// The function (kernel or device function) holding it.
    pub function: String,
    /// Its index in the function's flattening order (see `ptx::flatten`).
    pub index: usize,
    /// Its 1-based line in the module the pass was given.
    pub line: u32,
    /// Its opcode group (`add.s32`).
    pub op_group: String,
    /// Model-specific facts the fault sampler uses.
    pub info: SiteInfo,
}

/// What a fault sampler needs to know about a site to draw valid parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiteInfo {
    /// iat/iaw/iac: the dimensions the site reads (bit 0 = x, 1 = y, 2 = z).
    pub dims: u8,
    /// ims/imd/fu: the width in bits of the corrupted value (0 when not applicable).
    pub width: u32,
    /// ial: the instruction is guarded (lane-on applies); tbf1/tbf2: the instruction is
    /// guarded (the profile's thread count includes lanes whose guard was false).
    pub guarded: bool,
    /// ial: the instruction writes an ALU result (lane-off applies).
    pub lane_off: bool,
    /// imd: the store's space: `s`, `l` or `g` (global and generic).
    pub space: Option<char>,
    /// ira: the variant ids (`field * 4 + bit`) that apply; ioc: the indices in
    /// [`crate::SUBSTITUTES`] of the valid substitutes; tbf1/tbf2: the width in bits of
    /// each destination register (one for a scalar, one per element of a vector).
    pub variants: Vec<u32>,
    /// ims: the site reads `%ntid`/`%nctaid` (a site of `src=all` only; campaigns draw
    /// it only when their rules fix `ims.src=all`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sreg: bool,
}

/// An instrumented module.
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The model it was instrumented for.
    pub model: Model,
    /// The instrumented module.
    pub module: Module,
    /// The candidate sites of the model in the original module.
    pub sites: Vec<Site>,
    /// What the pass raised to instrument the module, in one sentence (`raised
    /// .version 3.2 → 6.2 and .target sm_52 → sm_70: …`); `None` when nothing was.
    pub raised: Option<String>,
}

impl Instrumented {
    /// The instrumented module as PTX text.
    pub fn ptx(&self) -> String {
        ptx::print(&self.module)
    }
}

/// Instruments `module` for `model`.
pub fn instrument(module: &Module, model: Model) -> Result<Instrumented, InstrumentError> {
    let kind = model.kind();
    let mut out = module.clone();
    let raised = raise::raise(&mut out)?;
    let copied: HashSet<String> = if !kind.copies_bodies() {
        HashSet::new()
    } else {
        module
            .functions()
            .filter(|f| f.kind == FunctionKind::Func && f.body.is_some())
            .map(|f| f.name.to_string())
            .collect()
    };
    let mut sites = Vec::new();
    let mut items = Vec::with_capacity(out.items.len() * 2);
    let mut declared_twins = false;
    for item in std::mem::take(&mut out.items) {
        match item {
            Item::Function(f) if f.body.is_some() => {
                if !declared_twins {
                    // Forward declarations of the twins, so any kernel may call them.
                    for g in module
                        .functions()
                        .filter(|g| copied.contains(g.name.as_str()) && g.body.is_some())
                    {
                        let mut decl = g.clone();
                        decl.name = format!("{}{COPY_SUFFIX}", g.name).into();
                        decl.body = None;
                        decl.linkage.retain(|l| *l != Linkage::Extern);
                        items.push(Item::Function(decl));
                    }
                    declared_twins = true;
                }
                let mut pass = Pass::new(kind, &f, &copied)?;
                pass.site_base = sites.len();
                match f.kind {
                    FunctionKind::Entry => {
                        let body = pass.kernel_body(&f)?;
                        sites.append(&mut pass.sites);
                        items.push(Item::Function(Function {
                            body: Some(body),
                            ..f
                        }));
                    }
                    FunctionKind::Func => {
                        let twin = if copied.contains(f.name.as_str()) {
                            let body = pass.twin_body(&f)?;
                            sites.append(&mut pass.sites);
                            Some(Function {
                                name: format!("{}{COPY_SUFFIX}", f.name).into(),
                                body: Some(body),
                                linkage: f
                                    .linkage
                                    .iter()
                                    .copied()
                                    .filter(|l| *l != Linkage::Extern)
                                    .collect(),
                                ..f.clone()
                            })
                        } else {
                            None
                        };
                        items.push(Item::Function(f));
                        if let Some(t) = twin {
                            items.push(Item::Function(t));
                        }
                    }
                }
            }
            other => items.push(other),
        }
    }
    out.items = items;
    for (name, ty, len) in [
        (DESC_SYMBOL, Type::B8, Some(crate::DESCRIPTOR_BYTES as u64)),
        (COUNT_SYMBOL, Type::U64, None),
    ] {
        ptx::declare_global(
            &mut out,
            VarDecl {
                linkage: vec![Linkage::Visible],
                space: StateSpace::Global,
                align: Some(8),
                vector: None,
                ty,
                ptr: None,
                names: vec![Declarator {
                    name: name.into(),
                    range: None,
                    dims: len.map(|n| vec![Some(n)]).unwrap_or_default(),
                    init: None,
                }],
                line: 0,
            },
        )
        .map_err(|_| InstrumentError::NameClash { name: name.into() })?;
    }
    Ok(Instrumented {
        model,
        module: out,
        sites,
        raised,
    })
}

/// The candidate sites of `model` in `module`, without instrumenting.
pub fn sites(module: &Module, model: Model) -> Result<Vec<Site>, InstrumentError> {
    Ok(instrument(module, model)?.sites)
}
