//! The instrumentation pass: instrument a module once per model, inject many times.
//!
//! # Layout of an instrumented kernel
//!
//! ```text
//! <the kernel's own top-level declarations, hoisted>
//! <registers of the pass (%__gf_*)>
//! prologue   — every thread: is the descriptor enabled? is this warp on the faulty SM,
//!              sub-partition and warp slot? If not: bra.uni $__gf_orig
//! setup      — faulty warps only: lane-selection predicate, masks, model predicates
//! copy       — faulty warps only: the kernel body with the model's code at every site
//! $__gf_orig:
//! original   — every other warp: the kernel body, untouched
//! ```
//!
//! The site check compares `%smid`, `%warpid % 4`, the warp-slot bit (`%warpid / 4`)
//! and, per instruction, the lane bit with the *fault descriptor*, a 64-byte module
//! global `__gpufault_desc` the host writes before each launch (layout:
//! [`crate::Descriptor`]). A disabled descriptor costs every thread three instructions
//! (load, compare, branch). Device functions get an instrumented twin (`name__gf`) that
//! the instrumented copies call. Whenever the model's code actually changes a value,
//! a predicate, a lane's activity or a warp's control flow, one lane of the warp adds 1
//! to the 64-bit global `__gpufault_count` (once per warp-instruction): the *activation
//! counter* that separates "not activated" from "masked".

use crate::model::Model;
use crate::spec::{op_group_id, SUBSTITUTES};
use crate::types::{op_group, operand_types, width};
use ptx::{
    AddrBase, Address, Class, Component, Declarator, Function, FunctionKind, Guard, Imm,
    Instruction, Item, Linkage, Module, Opcode, Operand, StateSpace, Statement, Type, VarDecl,
};
use std::collections::{HashMap, HashSet};

/// Name of the fault-descriptor global.
pub const DESC_SYMBOL: &str = "__gpufault_desc";
/// Name of the activation-counter global (u64).
pub const COUNT_SYMBOL: &str = "__gpufault_count";
const PREFIX: &str = "%__gf_";
const ORIG_LABEL: &str = "$__gf_orig";
const COPY_SUFFIX: &str = "__gf";
const TRAP_LABEL: &str = "$__gf_trap";

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
    /// ial: the instruction is guarded (lane-on applies).
    pub guarded: bool,
    /// ial: the instruction writes an ALU result (lane-off applies).
    pub lane_off: bool,
    /// imd: the store's space: `s`, `l` or `g` (global and generic).
    pub space: Option<char>,
    /// ira: the variant ids (`field * 4 + bit`) that apply; ioc: the indices in
    /// [`crate::SUBSTITUTES`] of the valid substitutes.
    pub variants: Vec<u32>,
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
}

impl Instrumented {
    /// The instrumented module as PTX text.
    pub fn ptx(&self) -> String {
        ptx::print(&self.module)
    }
}

/// Instruments `module` for `model`.
pub fn instrument(module: &Module, model: Model) -> Result<Instrumented, InstrumentError> {
    check_module(module)?;
    let copied: HashSet<String> = if model == Model::Wdrop {
        HashSet::new()
    } else {
        module
            .functions()
            .filter(|f| f.kind == FunctionKind::Func && f.body.is_some())
            .map(|f| f.name.to_string())
            .collect()
    };
    let mut out = module.clone();
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
                let mut pass = Pass::new(model, &f, &copied)?;
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
        (DESC_SYMBOL, Type::B8, Some(64)),
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
    })
}

/// The candidate sites of `model` in `module`, without instrumenting.
pub fn sites(module: &Module, model: Model) -> Result<Vec<Site>, InstrumentError> {
    Ok(instrument(module, model)?.sites)
}

fn check_module(m: &Module) -> Result<(), InstrumentError> {
    let addr64 = m.items.iter().any(|i| matches!(i, Item::AddressSize(64)));
    if !addr64 {
        return Err(InstrumentError::Unsupported {
            why: "only `.address_size 64` modules are supported".into(),
        });
    }
    if let Some((maj, min)) = m.version() {
        if (maj, min) < (6, 2) {
            return Err(InstrumentError::Unsupported {
                why: format!("PTX ISA {maj}.{min} is older than 6.2 (needed for activemask)"),
            });
        }
    }
    if let Some(t) = m.target() {
        let sm: Option<u32> = t.strip_prefix("sm_").and_then(|s| {
            s.trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .parse()
                .ok()
        });
        if sm.is_some_and(|v| v < 70) {
            return Err(InstrumentError::Unsupported {
                why: format!("target {t} is older than sm_70 (needed for activemask/vote.sync)"),
            });
        }
    }
    for g in m.globals() {
        for d in &g.names {
            if d.name == DESC_SYMBOL || d.name == COUNT_SYMBOL {
                return Err(InstrumentError::NameClash {
                    name: d.name.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Predicate registers of the pass.
const PREDS: [&str; 27] = [
    "sel", "force", "dx", "dy", "dz", "m0", "m1", "m2", "m3", "m4", "m5", "nz16", "nz32", "nz64",
    "p0", "p1", "p2", "p3", "p4", "p5", "q", "cp", "t", "true", "c0", "c1", "c2",
];
const B16: [&str; 8] = ["and16", "or16", "xor16", "s16", "w0", "w1", "w2", "w3"];
const B32: [&str; 20] = [
    "u0", "u1", "u2", "and32", "or32", "xor32", "fm32", "op", "var", "am", "bl", "lane", "le",
    "s32", "a32", "v0", "v1", "v2", "v3", "i32",
];
const B64: [&str; 11] = [
    "and64", "or64", "xor64", "fm64", "s64", "a64", "o64", "x0", "x1", "x2", "x3",
];

struct Pass<'a> {
    info: SiteInfo,
    model: Model,
    function: String,
    kernel: bool,
    regs: HashMap<String, Type>,
    labels: HashMap<String, String>,
    copied: &'a HashSet<String>,
    sites: Vec<Site>,
    index: usize,
}

fn r(n: &str) -> String {
    format!("{PREFIX}{n}")
}

/// Parses generated instructions into statements.
fn code(src: &str) -> Result<Vec<Statement>, InstrumentError> {
    let text = format!(
        ".version 8.0\n.target sm_80\n.address_size 64\n.entry __gf_template()\n{{\n{src}\n}}\n"
    );
    let m = ptx::parse(&text).map_err(|e| InstrumentError::Internal {
        detail: format!("{e}\n{src}"),
    })?;
    let f = m
        .kernels()
        .next()
        .ok_or_else(|| InstrumentError::Internal {
            detail: "template lost its kernel".into(),
        })?;
    let mut body = f.body.clone().unwrap_or_default();
    zero_lines(&mut body);
    Ok(body)
}

fn zero_lines(body: &mut [Statement]) {
    for s in body {
        match s {
            Statement::Inst(i) => i.line = 0,
            Statement::Block(b) => zero_lines(b),
            _ => {}
        }
    }
}

/// `count(pred)`: one lane of the warp adds 1 to the activation counter when `pred`
/// holds in any active lane.
fn count(pred: &str) -> String {
    format!(
        "activemask.b32 {am};\n\
         vote.sync.ballot.b32 {bl}, {pred}, {am};\n\
         bfind.u32 {bl}, {bl};\n\
         setp.eq.u32 {cp}, {bl}, {lane};\n\
         @{cp} red.global.add.u64 [{COUNT_SYMBOL}], 1;\n",
        am = r("am"),
        bl = r("bl"),
        lane = r("lane"),
        cp = r("cp"),
    )
}

fn name_op(n: &str) -> Operand {
    Operand::name(n)
}

fn bits_of_imm(imm: &Imm, ty: Type) -> Option<u64> {
    let w = width(ty)?;
    let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
    let v = match (imm, ty) {
        (Imm::Int { .. }, t) if !t.is_float() => imm.bits(),
        (_, Type::F32) => (imm.as_f64() as f32).to_bits() as u64,
        (Imm::F32(b), Type::F64) => (f32::from_bits(*b) as f64).to_bits(),
        (_, Type::F64) => imm.as_f64().to_bits(),
        _ => return None,
    };
    Some(v & mask)
}

/// One variant of an instruction for [`Instrumenter::variants`].
struct Variant {
    /// The value of `%__gf_var` that selects it.
    id: u32,
    /// The instruction as the faulty unit decodes it.
    inst: Instruction,
    /// How to tell whether it changed anything.
    change: Change,
}

/// How a variant is checked for having changed a value, so that the activation counter
/// counts real changes only (`w` is the register width in bits, 1 for a predicate).
enum Change {
    /// The variant reads register `alt` instead of `orig`: a change when their values
    /// differ.
    Source { alt: String, orig: String, w: u32 },
    /// The variant writes register `alt` instead of `orig`: a change when the value
    /// written differs from `alt`'s previous value or from `orig`'s (which it keeps).
    Dest { alt: String, orig: String, w: u32 },
    /// The variant computes another result into `dest`, and the original's result was
    /// computed into the scratch register of width `w` beforehand: a change when the
    /// two differ.
    Result { dest: String, w: u32 },
    /// No exact check (registers of other widths): every execution counts.
    Always,
}

impl Change {
    /// A width the exact checks handle: 1 (predicate), 16, 32, 64.
    fn checkable(w: u32) -> bool {
        matches!(w, 1 | 16 | 32 | 64)
    }

    /// The scratch register that holds a value of width `w`.
    fn scratch(w: u32) -> String {
        if w == 1 {
            r("c1")
        } else {
            r(&format!("s{w}"))
        }
    }

    /// Code before the variant, which runs where `target` holds.
    fn before(&self, target: &str) -> String {
        let (c0, p5) = (r("c0"), r("p5"));
        match self {
            Change::Source { alt, orig, w: 1 } => format!(
                "xor.pred {c0}, {alt}, {orig};\nand.pred {c0}, {c0}, {target};\n\
                 or.pred {p5}, {p5}, {c0};\n"
            ),
            Change::Source { alt, orig, w } => format!(
                "setp.ne.and.b{w} {c0}, {alt}, {orig}, {target};\nor.pred {p5}, {p5}, {c0};\n"
            ),
            Change::Dest { alt, w: 1, .. } => format!("@{target} mov.pred {}, {alt};\n", r("c1")),
            Change::Dest { alt, w, .. } => {
                format!("@{target} mov.b{w} {}, {alt};\n", Self::scratch(*w))
            }
            Change::Result { .. } | Change::Always => String::new(),
        }
    }

    /// Code after the variant.
    fn after(&self, target: &str) -> String {
        let (c0, c2, p5) = (r("c0"), r("c2"), r("p5"));
        match self {
            Change::Source { .. } => String::new(),
            Change::Dest { alt, orig, w: 1 } => format!(
                "xor.pred {c0}, {c1}, {alt};\nxor.pred {c2}, {orig}, {alt};\n\
                 or.pred {c0}, {c0}, {c2};\nand.pred {c0}, {c0}, {target};\n\
                 or.pred {p5}, {p5}, {c0};\n",
                c1 = r("c1")
            ),
            Change::Dest { alt, orig, w } => format!(
                "setp.ne.and.b{w} {c0}, {s}, {alt}, {target};\n\
                 setp.ne.and.b{w} {c2}, {orig}, {alt}, {target};\n\
                 or.pred {c0}, {c0}, {c2};\nor.pred {p5}, {p5}, {c0};\n",
                s = Self::scratch(*w)
            ),
            Change::Result { dest, w: 1 } => format!(
                "xor.pred {c0}, {dest}, {c1};\nand.pred {c0}, {c0}, {target};\n\
                 or.pred {p5}, {p5}, {c0};\n",
                c1 = r("c1")
            ),
            Change::Result { dest, w } => format!(
                "setp.ne.and.b{w} {c0}, {dest}, {s}, {target};\nor.pred {p5}, {p5}, {c0};\n",
                s = Self::scratch(*w)
            ),
            Change::Always => format!("or.pred {p5}, {p5}, {target};\n"),
        }
    }
}

fn flip_register_bit(name: &str, bit: u8) -> Option<String> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let (prefix, num) = name.split_at(name.len() - digits);
    let n: u64 = num.parse().ok()?;
    Some(format!("{prefix}{}", n ^ (1u64 << bit)))
}

impl<'a> Pass<'a> {
    fn new(
        model: Model,
        f: &Function,
        copied: &'a HashSet<String>,
    ) -> Result<Self, InstrumentError> {
        let mut regs = HashMap::new();
        for d in ptx::declared_registers(f) {
            if d.name.starts_with(PREFIX) {
                return Err(InstrumentError::NameClash { name: d.name });
            }
            if d.vector.is_none() {
                regs.insert(d.name, d.ty);
            }
        }
        let mut labels = HashMap::new();
        collect_labels(f.body.as_deref().unwrap_or(&[]), &mut labels);
        if labels.contains_key(ORIG_LABEL) {
            return Err(InstrumentError::NameClash {
                name: ORIG_LABEL.into(),
            });
        }
        Ok(Pass {
            info: SiteInfo::default(),
            model,
            function: f.name.to_string(),
            kernel: f.kind == FunctionKind::Entry,
            regs,
            labels,
            copied,
            sites: Vec::new(),
            index: 0,
        })
    }

    fn reg_decls(&self) -> Vec<Statement> {
        let decl = |ty: Type, names: &[&str]| {
            Statement::Var(VarDecl {
                linkage: vec![],
                space: StateSpace::Reg,
                align: None,
                vector: None,
                ty,
                ptr: None,
                names: names
                    .iter()
                    .map(|n| Declarator {
                        name: r(n).into(),
                        range: None,
                        dims: vec![],
                        init: None,
                    })
                    .collect(),
                line: 0,
            })
        };
        vec![
            decl(Type::Pred, &PREDS),
            decl(Type::B16, &B16),
            decl(Type::B32, &B32),
            decl(Type::B64, &B64),
        ]
    }

    /// Splits a body into its top-level declarations and the rest.
    fn split(body: &[Statement]) -> (Vec<Statement>, Vec<Statement>) {
        body.iter()
            .cloned()
            .partition(|s| matches!(s, Statement::Var(_)))
    }

    fn kernel_body(&mut self, f: &Function) -> Result<Vec<Statement>, InstrumentError> {
        let body = f.body.as_deref().unwrap_or(&[]);
        let (decls, rest) = Self::split(body);
        let mut out = decls;
        out.extend(self.reg_decls());
        let d = DESC_SYMBOL;
        let (u0, u1, u2, p0) = (r("u0"), r("u1"), r("u2"), r("p0"));
        out.extend(code(&format!(
            "ld.global.u32 {u0}, [{d}];\n\
             setp.eq.u32 {p0}, {u0}, 0;\n\
             @{p0} bra.uni {ORIG_LABEL};\n\
             mov.u32 {u1}, %smid;\n\
             ld.global.u32 {u0}, [{d}+4];\n\
             setp.ne.u32 {p0}, {u1}, {u0};\n\
             @{p0} bra.uni {ORIG_LABEL};\n\
             mov.u32 {u1}, %warpid;\n\
             and.b32 {u2}, {u1}, 3;\n\
             ld.global.u32 {u0}, [{d}+8];\n\
             setp.ne.u32 {p0}, {u2}, {u0};\n\
             @{p0} bra.uni {ORIG_LABEL};\n\
             shr.u32 {u1}, {u1}, 2;\n\
             ld.global.u32 {u0}, [{d}+12];\n\
             shr.u32 {u0}, {u0}, {u1};\n\
             and.b32 {u0}, {u0}, 1;\n\
             setp.eq.u32 {p0}, {u0}, 0;\n\
             @{p0} bra.uni {ORIG_LABEL};\n"
        ))?);
        if self.model == Model::Wdrop {
            let t = r("true");
            out.extend(code(&format!(
                "mov.u32 {lane}, %laneid;\nsetp.eq.u32 {t}, {u0}, {u0};\n{}exit;\n",
                count(&t),
                lane = r("lane"),
            ))?);
            // Sites: the first instruction of the kernel stands for the whole warp.
            let flat = ptx::flatten(body);
            if let Some(i) = flat.insts.first() {
                self.sites.push(Site {
                    function: self.function.clone(),
                    index: 0,
                    line: i.line,
                    op_group: op_group(i),
                    info: SiteInfo::default(),
                });
            }
        } else {
            out.extend(self.setup()?);
            let copy = self.copy(&rest)?;
            out.extend(copy);
            out.extend(code("ret;")?);
            out.extend(self.trap_block()?);
        }
        out.push(Statement::Label(ORIG_LABEL.into()));
        out.extend(rest);
        Ok(out)
    }

    fn twin_body(&mut self, f: &Function) -> Result<Vec<Statement>, InstrumentError> {
        let body = f.body.as_deref().unwrap_or(&[]);
        let (decls, rest) = Self::split(body);
        let mut out = decls;
        out.extend(self.reg_decls());
        out.extend(self.setup()?);
        out.extend(self.copy(&rest)?);
        out.extend(self.trap_block()?);
        Ok(out)
    }

    /// `ir`: the block the faulty lanes branch to: count once per warp, then trap.
    fn trap_block(&self) -> Result<Vec<Statement>, InstrumentError> {
        if self.model != Model::Ir {
            return Ok(Vec::new());
        }
        let mut out = code("ret;")?;
        out.push(Statement::Label(TRAP_LABEL.into()));
        out.extend(code(&format!("{}trap;\n", count(&r("true"))))?);
        Ok(out)
    }

    /// Faulty warps only: the lane predicate, masks and model predicates.
    fn setup(&self) -> Result<Vec<Statement>, InstrumentError> {
        let d = DESC_SYMBOL;
        let g = |n: &str| r(n);
        let mut s = format!(
            "mov.u32 {u0}, %laneid;\n\
             mov.u32 {lane}, {u0};\n\
             ld.global.u32 {u1}, [{d}+16];\n\
             shr.u32 {u1}, {u1}, {u0};\n\
             and.b32 {u1}, {u1}, 1;\n\
             setp.ne.u32 {sel}, {u1}, 0;\n\
             ld.global.u64 {and64}, [{d}+24];\n\
             ld.global.u64 {or64}, [{d}+32];\n\
             ld.global.u64 {xor64}, [{d}+40];\n\
             not.b64 {fm64}, {and64};\n\
             or.b64 {fm64}, {fm64}, {or64};\n\
             or.b64 {fm64}, {fm64}, {xor64};\n\
             cvt.u32.u64 {and32}, {and64};\n\
             cvt.u32.u64 {or32}, {or64};\n\
             cvt.u32.u64 {xor32}, {xor64};\n\
             cvt.u32.u64 {fm32}, {fm64};\n\
             cvt.u16.u64 {and16}, {and64};\n\
             cvt.u16.u64 {or16}, {or64};\n\
             cvt.u16.u64 {xor16}, {xor64};\n\
             setp.ne.u16 {nz16}, {xor16}, 0;\n\
             setp.ne.u32 {nz32}, {xor32}, 0;\n\
             setp.ne.u64 {nz64}, {xor64}, 0;\n\
             ld.global.u32 {op}, [{d}+48];\n\
             ld.global.u32 {var}, [{d}+52];\n\
             ld.global.u32 {u1}, [{d}+56];\n\
             setp.ne.u32 {force}, {u1}, 0;\n\
             setp.eq.u32 {tru}, {u0}, {u0};\n\
             ld.global.u32 {u1}, [{d}+20];\n\
             and.b32 {u2}, {u1}, 1;\n\
             setp.ne.and.u32 {dx}, {u2}, 0, {sel};\n\
             and.b32 {u2}, {u1}, 2;\n\
             setp.ne.and.u32 {dy}, {u2}, 0, {sel};\n\
             and.b32 {u2}, {u1}, 4;\n\
             setp.ne.and.u32 {dz}, {u2}, 0, {sel};\n",
            u0 = g("u0"),
            u1 = g("u1"),
            u2 = g("u2"),
            lane = g("lane"),
            sel = g("sel"),
            and64 = g("and64"),
            or64 = g("or64"),
            xor64 = g("xor64"),
            fm64 = g("fm64"),
            and32 = g("and32"),
            or32 = g("or32"),
            xor32 = g("xor32"),
            fm32 = g("fm32"),
            and16 = g("and16"),
            or16 = g("or16"),
            xor16 = g("xor16"),
            nz16 = g("nz16"),
            nz32 = g("nz32"),
            nz64 = g("nz64"),
            op = g("op"),
            var = g("var"),
            force = g("force"),
            tru = g("true"),
            dx = g("dx"),
            dy = g("dy"),
            dz = g("dz"),
        );
        let (var, sel) = (g("var"), g("sel"));
        let eq = |p: &str, v: u32| format!("setp.eq.and.u32 {}, {var}, {v}, {sel};\n", g(p));
        match self.model {
            // m0 = lane off, m1 = lane on
            Model::Ial => {
                s += &eq("m0", 0);
                s += &eq("m1", 1);
            }
            // m0 = sa0, m1 = sa1, m2 = flip
            Model::Wv => {
                s += &eq("m0", 0);
                s += &eq("m1", 1);
                s += &eq("m2", 2);
            }
            // m0..m2 = data faults on shared/local/global, m3..m5 = address faults
            Model::Imd => {
                let u1 = g("u1");
                let p0 = g("p0");
                s += &format!("and.b32 {u1}, {var}, 16;\nsetp.eq.and.u32 {p0}, {u1}, 0, {sel};\n");
                for (k, bit) in [(0, 1), (1, 2), (2, 4)] {
                    s += &format!(
                        "and.b32 {u1}, {var}, {bit};\n\
                         setp.ne.and.u32 {m}, {u1}, 0, {p0};\n",
                        m = g(&format!("m{k}"))
                    );
                }
                s += &format!("and.b32 {u1}, {var}, 16;\nsetp.ne.and.u32 {p0}, {u1}, 0, {sel};\n");
                for (k, bit) in [(3, 1), (4, 2), (5, 4)] {
                    s += &format!(
                        "and.b32 {u1}, {var}, {bit};\n\
                         setp.ne.and.u32 {m}, {u1}, 0, {p0};\n",
                        m = g(&format!("m{k}"))
                    );
                }
            }
            _ => {}
        }
        code(&s)
    }

    /// The instrumented copy of a body (top-level declarations removed).
    fn copy(&mut self, body: &[Statement]) -> Result<Vec<Statement>, InstrumentError> {
        let mut out = Vec::with_capacity(body.len() * 2);
        for s in body {
            match s {
                Statement::Label(l) => out.push(Statement::Label(self.label(l).into())),
                Statement::Inst(i) => {
                    let mut i = i.clone();
                    self.rename_operands(&mut i);
                    let index = self.index;
                    self.index += 1;
                    let orig_line = i.line;
                    self.info = SiteInfo::default();
                    match self.site(&i)? {
                        Some(stmts) => {
                            self.sites.push(Site {
                                function: self.function.clone(),
                                index,
                                line: orig_line,
                                op_group: op_group(&i),
                                info: std::mem::take(&mut self.info),
                            });
                            out.extend(stmts);
                        }
                        None => out.push(Statement::Inst(i)),
                    }
                }
                Statement::Block(b) => out.push(Statement::Block(self.copy(b)?)),
                Statement::Raw(raw) => {
                    let mut raw = raw.clone();
                    for t in &mut raw.tokens {
                        if let Some(n) = self.labels.get(t.as_str()) {
                            *t = n.as_str().into();
                        }
                    }
                    out.push(Statement::Raw(raw));
                }
                other => out.push(other.clone()),
            }
        }
        Ok(out)
    }

    fn label(&self, l: &str) -> String {
        self.labels.get(l).cloned().unwrap_or_else(|| l.to_string())
    }

    fn rename_operands(&self, i: &mut Instruction) {
        let call_target = i.opcode == Opcode::Call;
        for (k, op) in i.operands.iter_mut().enumerate() {
            if let Operand::Name { name, comp: None } = op {
                if let Some(n) = self.labels.get(name.as_str()) {
                    *name = n.as_str().into();
                } else if call_target && k <= 1 && self.copied.contains(name.as_str()) {
                    *name = format!("{name}{COPY_SUFFIX}").into();
                }
            }
        }
    }

    /// `q`: the site predicate (lane selected by `base` and the instruction's guard
    /// holds). Returns the code computing it and its name.
    fn q(&self, i: &Instruction, base: &str) -> (String, String) {
        match &i.guard {
            None => (String::new(), base.to_string()),
            Some(g) if !g.negated => {
                let q = r("q");
                (format!("and.pred {q}, {base}, {};\n", g.pred), q)
            }
            Some(g) => {
                let q = r("q");
                (
                    format!("not.pred {q}, {};\nand.pred {q}, {q}, {base};\n", g.pred),
                    q,
                )
            }
        }
    }

    fn reg_width(&self, op: &Operand) -> Option<(String, Type, u32)> {
        match op {
            Operand::Name { name, comp: None } => {
                let ty = *self.regs.get(name.as_str())?;
                if ty == Type::Pred {
                    return Some((name.to_string(), ty, 1));
                }
                Some((name.to_string(), ty, width(ty)?))
            }
            _ => None,
        }
    }

    /// The model's code for one instruction of the copy, or `None` when the
    /// instruction is not a site of the model.
    fn site(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        match self.model {
            Model::Iat => self.ids(i, "%tid"),
            Model::Iaw => self.ids(i, "%tid"),
            Model::Iac => self.ids(i, "%ctaid"),
            Model::Ial => self.ial(i),
            Model::Wv => self.wv(i),
            Model::Brx => self.brx(i),
            Model::Ir => self.ir(i),
            Model::Ims => self.ims(i),
            Model::Imd => self.imd(i),
            Model::Fu => self.fu(i),
            Model::Iio => self.iio(i),
            Model::Ioc => self.ioc(i),
            Model::Ira => self.ira(i),
            Model::Wdrop => Ok(None),
        }
    }

    fn with_inst(mut pre: Vec<Statement>, i: Instruction, post: Vec<Statement>) -> Vec<Statement> {
        pre.push(Statement::Inst(i));
        pre.extend(post);
        pre
    }

    // iat / iaw / iac
    fn ids(
        &mut self,
        i: &Instruction,
        sreg: &str,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let k0 = i.dest_count();
        let pos = i
            .operands
            .iter()
            .enumerate()
            .skip(k0)
            .find_map(|(k, o)| match o {
                Operand::Name {
                    name,
                    comp: Some(c),
                } if name == sreg => Some((k, *c)),
                _ => None,
            });
        let Some((k, comp)) = pos else {
            return Ok(None);
        };
        let (dim, bit) = match comp {
            Component::X => ("dx", 1),
            Component::Y => ("dy", 2),
            Component::Z => ("dz", 4),
            _ => return Ok(None),
        };
        self.info.dims = bit;
        let ty = i.ty();
        let size_ok = ty.is_some_and(|t| t.size() == 4);
        if !size_ok && i.opcode != Opcode::Mov {
            return Ok(None);
        }
        let (u0, u1, p1, p2) = (r("u0"), r("u1"), r("p1"), r("p2"));
        let (qcode, q) = self.q(i, &r(dim));
        let pre = format!(
            "mov.u32 {u0}, {sreg}.{comp};\n\
             and.b32 {u1}, {u0}, {and};\n\
             or.b32 {u1}, {u1}, {or};\n\
             xor.b32 {u1}, {u1}, {xor};\n\
             setp.eq.and.u32 {p1}, {u1}, {u0}, {force};\n\
             @{p1} xor.b32 {u1}, {u0}, {fm};\n\
             {qcode}\
             setp.ne.and.u32 {p2}, {u1}, {u0}, {q};\n\
             @!{p2} mov.b32 {u1}, {u0};\n{cnt}",
            comp = match comp {
                Component::X => "x",
                Component::Y => "y",
                _ => "z",
            },
            and = r("and32"),
            or = r("or32"),
            xor = r("xor32"),
            force = r("force"),
            fm = r("fm32"),
            cnt = count(&p2),
        );
        let mut inst = i.clone();
        if size_ok {
            inst.operands[k] = name_op(&u1);
        } else {
            // mov.u16/u64 %x, %tid.x: convert the corrupted 32-bit value instead.
            let Some(t) = ty else { return Ok(None) };
            inst = Instruction {
                guard: i.guard.clone(),
                opcode: Opcode::Cvt,
                modifiers: [t.name(), "u32"].into(),
                operands: vec![i.operands[0].clone(), name_op(&u1)],
                line: i.line,
            };
        }
        Ok(Some(Self::with_inst(code(&pre)?, inst, vec![])))
    }

    fn ial(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let alu = matches!(
            i.class(),
            Class::IntAlu
                | Class::Fp32
                | Class::Fp64
                | Class::Fp16
                | Class::Sfu
                | Class::Conversion
                | Class::Compare
                | Class::SregRead
        ) && !matches!(i.opcode, Opcode::Other(_));
        let off_dest = if alu && i.dest_count() == 1 {
            self.reg_width(&i.operands[0])
        } else {
            None
        };
        if i.guard.is_none() && off_dest.is_none() {
            return Ok(None);
        }
        self.info.guarded = i.guard.is_some();
        self.info.lane_off = off_dest.is_some();
        let mut pre = String::new();
        let mut inst = i.clone();
        if let Some(g) = &i.guard {
            // lane-on: lanes whose guard is false execute anyway.
            let (p1, p2, p3) = (r("p1"), r("p2"), r("p3"));
            let on = r("m1");
            let gfalse = if g.negated {
                format!("mov.pred {p1}, {};\n", g.pred)
            } else {
                format!("not.pred {p1}, {};\n", g.pred)
            };
            pre += &format!(
                "{gfalse}and.pred {p2}, {p1}, {on};\n{}not.pred {p3}, {p1};\nor.pred {p3}, {p3}, {p2};\n",
                count(&p2)
            );
            inst.guard = Some(Guard {
                negated: false,
                pred: p3.into(),
            });
            if inst.opcode == Opcode::Bra {
                inst.modifiers.retain(|m| m != "uni");
            }
        }
        let mut post = String::new();
        if let Some((dest, ty, w)) = off_dest {
            let (qcode, q) = self.q(&inst, &r("m0"));
            let p4 = r("p4");
            if ty == Type::Pred {
                let s = r("p5");
                pre += &format!("mov.pred {s}, {dest};\n");
                post += &format!(
                    "{qcode}xor.pred {p4}, {dest}, {s};\nand.pred {p4}, {p4}, {q};\n@{p4} mov.pred {dest}, {s};\n{}",
                    count(&p4)
                );
            } else {
                let s = r(&format!("s{w}"));
                pre += &format!("mov.b{w} {s}, {dest};\n");
                post += &format!(
                    "{qcode}setp.ne.and.b{w} {p4}, {dest}, {s}, {q};\n@{p4} mov.b{w} {dest}, {s};\n{}",
                    count(&p4)
                );
            }
        }
        Ok(Some(Self::with_inst(code(&pre)?, inst, code(&post)?)))
    }

    fn wv(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if i.opcode != Opcode::Setp {
            return Ok(None);
        }
        let preds: Vec<String> = match i.operands.first() {
            Some(Operand::Name { name, comp: None }) => vec![name.to_string()],
            Some(Operand::Pair(a, b)) => vec![a.to_string(), b.to_string()],
            _ => return Ok(None),
        };
        let (qcode, q) = self.q(i, &r("true"));
        let (p1, p2, p3) = (r("p1"), r("p2"), r("p3"));
        // p3: some predicate of the instruction changed (counted once per warp-instruction).
        let mut post = format!("not.pred {p3}, {};\n", r("true"));
        if i.guard.is_some() {
            post += &qcode;
        }
        for p in preds.iter().filter(|p| p.as_str() != "_") {
            post += &format!(
                "and.pred {p1}, {m0}, {p};\n\
                 not.pred {p2}, {p};\n\
                 and.pred {p2}, {p2}, {m1};\n\
                 or.pred {p1}, {p1}, {p2};\n\
                 or.pred {p1}, {p1}, {m2};\n",
                m0 = r("m0"),
                m1 = r("m1"),
                m2 = r("m2"),
            );
            if i.guard.is_some() {
                post += &format!("and.pred {p1}, {p1}, {q};\n");
            }
            post += &format!("xor.pred {p}, {p}, {p1};\nor.pred {p3}, {p3}, {p1};\n");
        }
        post += &count(&p3);
        Ok(Some(Self::with_inst(vec![], i.clone(), code(&post)?)))
    }

    fn brx(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let Some(g) = &i.guard else { return Ok(None) };
        if i.opcode != Opcode::Bra {
            return Ok(None);
        }
        let p1 = r("p1");
        let sel = r("sel");
        let pre = format!("xor.pred {p1}, {}, {sel};\n{}", g.pred, count(&sel));
        let mut inst = i.clone();
        inst.guard = Some(Guard {
            negated: g.negated,
            pred: p1.into(),
        });
        inst.modifiers.retain(|m| m != "uni");
        Ok(Some(Self::with_inst(code(&pre)?, inst, vec![])))
    }

    fn op_match(&self, i: &Instruction, base: &str) -> String {
        let (qcode, q) = self.q(i, base);
        format!(
            "{qcode}setp.eq.and.u32 {p1}, {op}, {id}, {q};\n",
            p1 = r("p1"),
            op = r("op"),
            id = op_group_id(&op_group(i)),
        )
    }

    fn ir(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        // Lanes that hit the faulty group branch to one shared block per function that
        // counts and traps (`trap_block`): two instructions per site keep the copy small.
        let pre = format!(
            "{}@{} bra {TRAP_LABEL};\n",
            self.op_match(i, &r("sel")),
            r("p1")
        );
        Ok(Some(Self::with_inst(code(&pre)?, i.clone(), vec![])))
    }

    /// Register destinations of a load: a scalar or the elements of a vector.
    fn load_dests(&self, i: &Instruction) -> Option<Vec<(String, Type, u32)>> {
        match i.operands.first()? {
            Operand::Vector(v) => v.iter().map(|e| self.reg_width(e)).collect(),
            o => Some(vec![self.reg_width(o)?]),
        }
    }

    fn ims(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let space = i.space();
        let is_site = matches!(i.opcode, Opcode::Ld | Opcode::Ldu)
            && (space == Some(StateSpace::Const)
                || (space == Some(StateSpace::Param) && self.kernel));
        if !is_site {
            return Ok(None);
        }
        let Some(dests) = self.load_dests(i) else {
            return Ok(None);
        };
        if dests.iter().any(|(_, t, _)| *t == Type::Pred) {
            return Ok(None);
        }
        let (qcode, q) = self.q(i, &r("sel"));
        let (p1, p3) = (r("p1"), r("p3"));
        let mut post = format!(
            "{qcode}setp.ne.and.u32 {p3}, {u0}, {u0}, {q};\n",
            u0 = r("u0")
        );
        for (d, _, w) in &dests {
            let s = r(&format!("s{w}"));
            post += &format!(
                "xor.b{w} {s}, {d}, {x};\n\
                 setp.ne.and.b{w} {p1}, {s}, {d}, {q};\n\
                 @{p1} mov.b{w} {d}, {s};\n\
                 or.pred {p3}, {p3}, {p1};\n",
                x = r(&format!("xor{w}")),
            );
        }
        post += &count(&p3);
        Ok(Some(Self::with_inst(vec![], i.clone(), code(&post)?)))
    }

    fn imd(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if i.opcode != Opcode::St
            || i.modifiers
                .iter()
                .any(|m| m.starts_with("async") || m == "bulk")
        {
            return Ok(None);
        }
        let (data_pred, addr_pred, space) = match i.space() {
            Some(StateSpace::Shared) => ("m0", "m3", 's'),
            Some(StateSpace::Local) => ("m1", "m4", 'l'),
            Some(StateSpace::Global) | None => ("m2", "m5", 'g'),
            _ => return Ok(None),
        };
        let Some(ty) = i.ty() else { return Ok(None) };
        self.info.space = Some(space);
        self.info.width = width(ty).unwrap_or(16).max(16);
        let n = i.operands.len();
        if n != 2 {
            return Ok(None);
        }
        let mut inst = i.clone();
        let mut pre = String::new();
        // data
        let (qcode, q) = self.q(i, &r(data_pred));
        pre += &qcode;
        let p1 = r("p1");
        let p3 = r("p3");
        pre += &format!("setp.ne.and.u32 {p3}, {u0}, {u0}, {q};\n", u0 = r("u0"));
        let elems: Vec<Operand> = match &i.operands[1] {
            Operand::Vector(v) => v.clone(),
            o => vec![o.clone()],
        };
        let mut new_elems = Vec::new();
        for (k, e) in elems.iter().enumerate() {
            let (val, w) = match e {
                Operand::Imm(imm) => {
                    let w = width(ty).unwrap_or(16).max(16);
                    let wty = match w {
                        16 => Type::B16,
                        32 => Type::B32,
                        _ => Type::B64,
                    };
                    let Some(bits) = bits_of_imm(imm, if ty.is_float() { ty } else { wty }) else {
                        return Ok(None);
                    };
                    (format!("{bits:#x}"), w)
                }
                o => match self.reg_width(o) {
                    Some((name, t, w)) if t != Type::Pred => (name, w),
                    _ => return Ok(None),
                },
            };
            let tmp = match w {
                16 => r(&format!("w{k}")),
                32 => r(&format!("v{k}")),
                _ => r(&format!("x{k}")),
            };
            pre += &format!(
                "mov.b{w} {tmp}, {val};\n\
                 @{q} xor.b{w} {tmp}, {tmp}, {x};\n\
                 setp.ne.and.b{w} {p1}, {tmp}, {val}, {q};\n\
                 or.pred {p3}, {p3}, {p1};\n",
                x = r(&format!("xor{w}")),
            );
            new_elems.push(name_op(&tmp));
        }
        inst.operands[1] = if new_elems.len() == 1 && !matches!(i.operands[1], Operand::Vector(_)) {
            new_elems.pop().unwrap_or(Operand::Sink)
        } else {
            Operand::Vector(new_elems)
        };
        // address
        if let Operand::Addr(a) = &i.operands[0] {
            let (qa_code, qa) = self.q(i, &r(addr_pred));
            let (base, w) = match &a.base {
                AddrBase::Name(b) => match self.regs.get(b.as_str()) {
                    Some(t) if width(*t).is_some_and(|w| w >= 32) => {
                        (b.to_string(), width(*t).unwrap_or(64))
                    }
                    Some(_) => return Ok(None),
                    None => {
                        // a variable: take its address
                        pre += &format!("mov.u64 {a64}, {b};\n", a64 = r("a64"));
                        (r("a64"), 64)
                    }
                },
                AddrBase::Imm(_) => return Ok(None),
            };
            let tmp = r(&format!("a{w}"));
            pre += &format!(
                "{qa_code}mov.b{w} {tmp}, {base};\n\
                 @{qa} xor.b{w} {tmp}, {tmp}, {x};\n\
                 setp.ne.and.b{w} {p1}, {tmp}, {base}, {qa};\n\
                 or.pred {p3}, {p3}, {p1};\n",
                x = r(&format!("xor{w}")),
            );
            inst.operands[0] = Operand::Addr(Address {
                base: AddrBase::Name(tmp.into()),
                offset: a.offset,
            });
        } else {
            return Ok(None);
        }
        pre += &count(&p3);
        Ok(Some(Self::with_inst(code(&pre)?, inst, vec![])))
    }

    fn fu(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if i.dest_count() != 1 || matches!(i.opcode, Opcode::Call | Opcode::Other(_)) {
            return Ok(None);
        }
        let dests: Vec<(String, Type, u32)> = match &i.operands[0] {
            Operand::Vector(v) => match v.iter().map(|e| self.reg_width(e)).collect() {
                Some(d) => d,
                None => return Ok(None),
            },
            Operand::Pair(a, b) => match [a, b]
                .iter()
                .filter(|n| n.as_str() != "_")
                .map(|n| self.reg_width(&name_op(n)))
                .collect()
            {
                Some(d) => d,
                None => return Ok(None),
            },
            o => match self.reg_width(o) {
                Some(d) => vec![d],
                None => return Ok(None),
            },
        };
        self.info.width = dests.iter().map(|d| d.2).max().unwrap_or(0);
        let p1 = r("p1");
        let p3 = r("p3");
        let mut post = self.op_match(i, &r("sel"));
        post += &format!("setp.ne.and.u32 {p3}, {u0}, {u0}, {p1};\n", u0 = r("u0"));
        for (d, t, w) in &dests {
            if *t == Type::Pred {
                // A one-bit result flips when the mask's bit 0 is set.
                let p2 = r("p2");
                post += &format!(
                    "and.b32 {u1}, {x32}, 1;\nsetp.ne.and.u32 {p2}, {u1}, 0, {p1};\nxor.pred {d}, {d}, {p2};\nor.pred {p3}, {p3}, {p2};\n",
                    u1 = r("u1"),
                    x32 = r("xor32")
                );
            } else {
                post += &format!(
                    "@{p1} xor.b{w} {d}, {d}, {x};\nand.pred {p2}, {p1}, {nz};\nor.pred {p3}, {p3}, {p2};\n",
                    p2 = r("p2"),
                    x = r(&format!("xor{w}")),
                    nz = r(&format!("nz{w}")),
                );
            }
        }
        post += &count(&p3);
        Ok(Some(Self::with_inst(vec![], i.clone(), code(&post)?)))
    }

    fn iio(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let eligible = matches!(
            i.class(),
            Class::IntAlu
                | Class::Fp32
                | Class::Fp64
                | Class::Compare
                | Class::Conversion
                | Class::Load
                | Class::Store
        ) && i.opcode != Opcode::Lop3
            && !matches!(
                i.opcode,
                Opcode::Other(_) | Opcode::Prefetch | Opcode::Prefetchu | Opcode::Cp
            );
        if !eligible {
            return Ok(None);
        }
        let types = operand_types(i);
        let (qcode, q) = self.q(i, &r("sel"));
        let p1 = r("p1");
        let p3 = r("p3");
        let mut pre = format!(
            "{qcode}setp.ne.and.u32 {p3}, {u0}, {u0}, {q};\n",
            u0 = r("u0")
        );
        let mut inst = i.clone();
        let mut any = false;
        let d = i.dest_count();
        let mut slot = 0;
        for (k, op) in i.operands.iter().enumerate() {
            match op {
                Operand::Imm(imm) if k >= d => {
                    let Some(t) = types[k] else { continue };
                    if t == Type::Pred {
                        continue;
                    }
                    let Some(bits) = bits_of_imm(imm, t) else {
                        continue;
                    };
                    let Some(w) = width(t) else { continue };
                    if slot > 3 {
                        continue;
                    }
                    let tmp = match w {
                        16 => r(&format!("w{slot}")),
                        32 => r(&format!("v{slot}")),
                        _ => r(&format!("x{slot}")),
                    };
                    slot += 1;
                    pre += &format!(
                        "mov.b{w} {tmp}, {bits:#x};\n\
                         @{q} xor.b{w} {tmp}, {tmp}, {x};\n\
                         and.pred {p1}, {q}, {nz};\n\
                         or.pred {p3}, {p3}, {p1};\n",
                        x = r(&format!("xor{w}")),
                        nz = r(&format!("nz{w}")),
                    );
                    inst.operands[k] = name_op(&tmp);
                    any = true;
                }
                Operand::Addr(a)
                    if matches!(i.class(), Class::Load | Class::Store)
                        && !matches!(i.space(), Some(StateSpace::Param)) =>
                {
                    let base = match &a.base {
                        AddrBase::Name(b) => match self.regs.get(b.as_str()) {
                            Some(t) if t.size() == 8 => b.to_string(),
                            Some(_) => continue,
                            None => {
                                pre += &format!("mov.u64 {a64}, {b};\n", a64 = r("a64"));
                                r("a64")
                            }
                        },
                        AddrBase::Imm(_) => continue,
                    };
                    let (o64, a64) = (r("o64"), r("a64"));
                    pre += &format!(
                        "mov.b64 {o64}, {off};\n\
                         @{q} xor.b64 {o64}, {o64}, {x};\n\
                         add.s64 {a64}, {base}, {o64};\n\
                         and.pred {p1}, {q}, {nz};\n\
                         or.pred {p3}, {p3}, {p1};\n",
                        off = a.offset,
                        x = r("xor64"),
                        nz = r("nz64"),
                    );
                    inst.operands[k] = Operand::Addr(Address {
                        base: AddrBase::Name(a64.into()),
                        offset: 0,
                    });
                    any = true;
                }
                _ => {}
            }
        }
        if !any {
            return Ok(None);
        }
        pre += &count(&p3);
        Ok(Some(Self::with_inst(code(&pre)?, inst, vec![])))
    }

    /// `ioc`: the substitute instruction for `subst`, if valid for `i`.
    fn substitute(&self, i: &Instruction, subst: &str) -> Option<Instruction> {
        let ty = i.ty()?;
        let own = i.opcode.name();
        let ops = &i.operands;
        let float = matches!(ty, Type::F32 | Type::F64);
        let int = !ty.is_float() && width(ty).is_some();
        let (sz, signed) = (ty.size() * 8, ty.is_signed());
        let b_ty = format!("b{sz}");
        let su_ty = if signed {
            format!("s{sz}")
        } else {
            format!("u{sz}")
        };
        let rounding: Vec<&str> = i
            .modifiers
            .iter()
            .filter(|m| matches!(*m, "rn" | "rz" | "rm" | "rp" | "ftz" | "sat"))
            .collect();
        let mk = |op: Opcode, mods: Vec<String>, operands: Vec<Operand>| Instruction {
            guard: None,
            opcode: op,
            modifiers: mods.iter().collect(),
            operands,
            line: 0,
        };
        let binary_int = ["add", "sub", "mul", "and", "or", "xor", "min", "max"];
        let binary_float = ["add", "sub", "mul", "min", "max"];
        match (own, ops.len()) {
            ("add" | "sub" | "and" | "or" | "xor" | "min" | "max", 3) | ("mul", 3)
                if int
                    && !i.has_modifier("wide")
                    && !i.has_modifier("hi")
                    && !i.has_modifier("cc") =>
            {
                if subst == own || !binary_int.contains(&subst) {
                    return None;
                }
                let mods = match subst {
                    "add" | "sub" => vec![su_ty.clone()],
                    "mul" => vec!["lo".to_string(), su_ty.clone()],
                    "min" | "max" => vec![su_ty.clone()],
                    _ => vec![b_ty.clone()],
                };
                Some(mk(Opcode::from_name(subst), mods, ops.clone()))
            }
            ("shl" | "shr", 3) if int => {
                if subst == own || !matches!(subst, "shl" | "shr") {
                    return None;
                }
                let mods = if subst == "shl" {
                    vec![b_ty.clone()]
                } else {
                    vec![format!("u{sz}")]
                };
                Some(mk(Opcode::from_name(subst), mods, ops.clone()))
            }
            ("add" | "sub" | "mul" | "min" | "max", 3) if float => {
                if subst == own || !binary_float.contains(&subst) {
                    return None;
                }
                let mut mods: Vec<String> = Vec::new();
                if matches!(subst, "add" | "sub" | "mul") {
                    mods.push("rn".into());
                }
                if rounding.contains(&"ftz") {
                    mods.push("ftz".into());
                }
                mods.push(ty.name().into());
                Some(mk(Opcode::from_name(subst), mods, ops.clone()))
            }
            ("mad", 4) if int && i.has_modifier("lo") => match subst {
                "mul" => Some(mk(
                    Opcode::Mul,
                    vec!["lo".into(), su_ty.clone()],
                    ops[..3].to_vec(),
                )),
                "add" => Some(mk(
                    Opcode::Add,
                    vec![su_ty.clone()],
                    vec![ops[0].clone(), ops[1].clone(), ops[3].clone()],
                )),
                _ => None,
            },
            ("fma", 4) if float => {
                let mut mods: Vec<String> = vec!["rn".into()];
                if rounding.contains(&"ftz") {
                    mods.push("ftz".into());
                }
                mods.push(ty.name().into());
                match subst {
                    "mul" => Some(mk(Opcode::Mul, mods, ops[..3].to_vec())),
                    "add" => Some(mk(
                        Opcode::Add,
                        mods,
                        vec![ops[0].clone(), ops[1].clone(), ops[3].clone()],
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Emits mutually exclusive variants of `i`: each variant runs where its predicate
    /// (variant id == `%__gf_var` and `base`) holds, the original elsewhere. The
    /// activation counter counts the warp-instructions where the running variant's
    /// [`Change`] check says it changed something.
    fn variants(
        &self,
        i: &Instruction,
        base: &str,
        vs: Vec<Variant>,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if vs.is_empty() {
            return Ok(None);
        }
        let (p2, p3, p4, p5) = (r("p2"), r("p3"), r("p4"), r("p5"));
        let var = r("var");
        let mut out = code(&format!("not.pred {p5}, {};\n", r("true")))?;
        for (n, v) in vs.into_iter().enumerate() {
            let target = if n == 0 { p3.clone() } else { p2.clone() };
            let id = v.id;
            out.extend(code(&format!(
                "setp.eq.and.u32 {target}, {var}, {id}, {base};\n"
            ))?);
            if n > 0 {
                out.extend(code(&format!("or.pred {p3}, {p3}, {p2};\n"))?);
            }
            out.extend(code(&v.change.before(&target))?);
            let mut inst = v.inst;
            inst.guard = Some(Guard {
                negated: false,
                pred: target.as_str().into(),
            });
            out.push(Statement::Inst(inst));
            out.extend(code(&v.change.after(&target))?);
        }
        let mut orig = i.clone();
        match &i.guard {
            None => {
                orig.guard = Some(Guard {
                    negated: true,
                    pred: p3.as_str().into(),
                })
            }
            Some(g) => {
                let s = if g.negated {
                    format!("or.pred {p4}, {p3}, {};\nnot.pred {p4}, {p4};\n", g.pred)
                } else {
                    format!("not.pred {p4}, {p3};\nand.pred {p4}, {p4}, {};\n", g.pred)
                };
                out.extend(code(&s)?);
                orig.guard = Some(Guard {
                    negated: false,
                    pred: p4.into(),
                });
            }
        }
        out.push(Statement::Inst(orig));
        out.extend(code(&count(&p5))?);
        Ok(Some(out))
    }

    fn ioc(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        // The original's result goes to a scratch register first (sources are read
        // before the destination is written), so the counter sees whether the
        // substitute's result differs. Carry-chain instructions cannot run twice.
        let dest = i
            .operands
            .first()
            .and_then(|d| self.reg_width(d))
            .filter(|(_, _, w)| Change::checkable(*w) && !i.has_modifier("cc"));
        let change = || match &dest {
            Some((d, _, w)) => Change::Result {
                dest: d.clone(),
                w: *w,
            },
            None => Change::Always,
        };
        let vs: Vec<Variant> = SUBSTITUTES
            .iter()
            .enumerate()
            .filter_map(|(k, s)| {
                let inst = self.substitute(i, s)?;
                Some(Variant {
                    id: k as u32,
                    change: change(),
                    inst,
                })
            })
            .collect();
        if vs.is_empty() {
            return Ok(None);
        }
        self.info.variants = vs.iter().map(|v| v.id).collect();
        let p1 = r("p1");
        let pre = self.op_match(i, &r("sel"));
        let mut out = code(&pre)?;
        if let Some((_, _, w)) = &dest {
            let mut orig = i.clone();
            orig.operands[0] = name_op(&Change::scratch(*w));
            orig.guard = Some(Guard {
                negated: false,
                pred: p1.as_str().into(),
            });
            out.push(Statement::Inst(orig));
        }
        match self.variants(i, &p1, vs)? {
            Some(v) => out.extend(v),
            None => return Ok(None),
        }
        Ok(Some(out))
    }

    fn ira(&mut self, i: &Instruction) -> Result<Option<Vec<Statement>>, InstrumentError> {
        if matches!(
            i.class(),
            Class::Control | Class::Barrier | Class::Other | Class::Tensor
        ) || matches!(i.opcode, Opcode::Other(_))
        {
            return Ok(None);
        }
        // Register fields: 0 = destination, then register sources (address bases too).
        let mut fields: Vec<(u8, usize, bool)> = Vec::new(); // (field, operand, is_addr)
        let d = i.dest_count();
        if d == 1 && self.reg_width(&i.operands[0]).is_some() {
            fields.push((0, 0, false));
        }
        let mut k = 1u8;
        for (n, op) in i.operands.iter().enumerate().skip(d) {
            if k > 3 {
                break;
            }
            let is_reg = match op {
                Operand::Name { name, comp: None } => self.regs.contains_key(name.as_str()),
                Operand::Addr(Address {
                    base: AddrBase::Name(b),
                    ..
                }) => self.regs.contains_key(b.as_str()),
                _ => false,
            };
            if is_reg {
                fields.push((k, n, matches!(op, Operand::Addr(_))));
                k += 1;
            }
        }
        let mut vs = Vec::new();
        for (field, n, is_addr) in fields {
            let name = match &i.operands[n] {
                Operand::Name { name, .. } => name.to_string(),
                Operand::Addr(Address {
                    base: AddrBase::Name(b),
                    ..
                }) => b.to_string(),
                _ => continue,
            };
            let Some(ty) = self.regs.get(&name).copied() else {
                continue;
            };
            for bit in 0..2u8 {
                let Some(alt) = flip_register_bit(&name, bit) else {
                    continue;
                };
                if self.regs.get(&alt) != Some(&ty) {
                    continue;
                }
                let mut v = i.clone();
                v.operands[n] = if is_addr {
                    match &i.operands[n] {
                        Operand::Addr(a) => Operand::Addr(Address {
                            base: AddrBase::Name(alt.as_str().into()),
                            offset: a.offset,
                        }),
                        _ => continue,
                    }
                } else {
                    name_op(&alt)
                };
                let w = if ty == Type::Pred {
                    1
                } else {
                    width(ty).unwrap_or(0)
                };
                let change = match (Change::checkable(w), field) {
                    (false, _) => Change::Always,
                    (true, 0) => Change::Dest {
                        alt,
                        orig: name.clone(),
                        w,
                    },
                    (true, _) => Change::Source {
                        alt,
                        orig: name.clone(),
                        w,
                    },
                };
                vs.push(Variant {
                    id: u32::from(field) * 4 + u32::from(bit),
                    inst: v,
                    change,
                });
            }
        }
        self.info.variants = vs.iter().map(|v| v.id).collect();
        let (qcode, q) = self.q(i, &r("sel"));
        let mut out = code(&qcode)?;
        match self.variants(i, &q, vs)? {
            Some(v) => out.extend(v),
            None => return Ok(None),
        }
        Ok(Some(out))
    }
}

fn collect_labels(body: &[Statement], out: &mut HashMap<String, String>) {
    for s in body {
        match s {
            Statement::Label(l) => {
                out.insert(l.to_string(), format!("{l}{COPY_SUFFIX}"));
            }
            Statement::Block(b) => collect_labels(b, out),
            _ => {}
        }
    }
}
