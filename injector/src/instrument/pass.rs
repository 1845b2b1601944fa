//! The pass over one function: the prologue that sends faulty warps to the instrumented
//! copy, the common setup of a faulty warp, the copy itself (labels renamed, calls to
//! twins, each site replaced by the model's code), and the helpers the models' site code
//! uses.

use super::emit::{code, r, PREFIX};
use super::{InstrumentError, Site, SiteInfo, COPY_SUFFIX, ORIG_LABEL};
use crate::descriptor::{op_group_id, DescField};
use crate::models::FaultModel;
use crate::types::{op_group, width};
use ptx::{
    AddrBase, Address, Function, FunctionKind, Instruction, Opcode, Operand, StateSpace, Statement,
    Type,
};
use std::collections::{HashMap, HashSet};

/// Predicate registers of the pass.
const PREDS: [&str; 27] = [
    "sel", "force", "dx", "dy", "dz", "m0", "m1", "m2", "m3", "m4", "m5", "nz16", "nz32", "nz64",
    "p0", "p1", "p2", "p3", "p4", "p5", "q", "cp", "t", "true", "c0", "c1", "c2",
];
const B16: [&str; 8] = ["and16", "or16", "xor16", "s16", "w0", "w1", "w2", "w3"];
const B32: [&str; 22] = [
    "u0", "u1", "u2", "and32", "or32", "xor32", "fm32", "op", "var", "am", "bl", "lane", "le",
    "s32", "a32", "v0", "v1", "v2", "v3", "i32", "site", "dest",
];
const B64: [&str; 13] = [
    "and64", "or64", "xor64", "fm64", "s64", "a64", "o64", "x0", "x1", "x2", "x3", "inst", "ctr",
];

/// The pass over one function (kernel or device function) for one model.
pub(crate) struct Pass<'a> {
    /// The facts of the site being instrumented (the model fills them in).
    pub(crate) info: SiteInfo,
    kind: &'static dyn FaultModel,
    function: String,
    /// Whether the function is a kernel.
    pub(crate) kernel: bool,
    /// The function's scalar registers and their types.
    pub(crate) regs: HashMap<String, Type>,
    labels: HashMap<String, String>,
    /// `.param` variables declared inside the body: the arguments of call sequences.
    call_params: HashSet<String>,
    copied: &'a HashSet<String>,
    /// The sites found so far.
    pub(crate) sites: Vec<Site>,
    /// Copy without the model's site code (and without counting instructions).
    plain: bool,
    /// The number of sites the functions before this one hold in the module.
    pub(super) site_base: usize,
    index: usize,
}

impl<'a> Pass<'a> {
    pub(super) fn new(
        kind: &'static dyn FaultModel,
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
        let mut call_params = HashSet::new();
        collect_call_params(f.body.as_deref().unwrap_or(&[]), false, &mut call_params);
        if labels.contains_key(ORIG_LABEL) {
            return Err(InstrumentError::NameClash {
                name: ORIG_LABEL.into(),
            });
        }
        Ok(Pass {
            info: SiteInfo::default(),
            kind,
            function: f.name.to_string(),
            kernel: f.kind == FunctionKind::Entry,
            regs,
            labels,
            call_params,
            copied,
            sites: Vec::new(),
            plain: false,
            site_base: 0,
            index: 0,
        })
    }

    /// The number the site being instrumented gets in the module: its index in
    /// [`super::Instrumented::sites`].
    pub(crate) fn site_number(&self) -> usize {
        self.site_base + self.sites.len()
    }

    fn reg_decls(&self) -> Vec<Statement> {
        let decl = |ty: Type, names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| r(n)).collect();
            ptx::register_declaration(ty, &names)
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

    /// Every thread: on to the original body unless the descriptor is enabled and the
    /// warp is on the faulty SM, sub-partition and warp slot (a transient model: unless
    /// the descriptor is enabled; every warp runs its copy).
    fn prologue(transient: bool) -> Result<Vec<Statement>, InstrumentError> {
        let (u0, u1, u2, p0) = (r("u0"), r("u1"), r("u2"), r("p0"));
        if transient {
            return code(&format!(
                "{enabled}\
                 setp.eq.u32 {p0}, {u0}, 0;\n\
                 @{p0} bra.uni {ORIG_LABEL};\n",
                enabled = DescField::Enabled.load(&u0),
            ));
        }
        code(&format!(
            "{enabled}\
             setp.eq.u32 {p0}, {u0}, 0;\n\
             @{p0} bra.uni {ORIG_LABEL};\n\
             mov.u32 {u1}, %smid;\n\
             {sm}\
             setp.ne.u32 {p0}, {u1}, {u0};\n\
             @{p0} bra.uni {ORIG_LABEL};\n\
             mov.u32 {u1}, %warpid;\n\
             and.b32 {u2}, {u1}, 3;\n\
             {sp}\
             setp.ne.u32 {p0}, {u2}, {u0};\n\
             @{p0} bra.uni {ORIG_LABEL};\n\
             shr.u32 {u1}, {u1}, 2;\n\
             {warps}\
             shr.u32 {u0}, {u0}, {u1};\n\
             and.b32 {u0}, {u0}, 1;\n\
             setp.eq.u32 {p0}, {u0}, 0;\n\
             @{p0} bra.uni {ORIG_LABEL};\n",
            enabled = DescField::Enabled.load(&u0),
            sm = DescField::Sm.load(&u0),
            sp = DescField::Sp.load(&u0),
            warps = DescField::Warps.load(&u0),
        ))
    }

    pub(super) fn kernel_body(&mut self, f: &Function) -> Result<Vec<Statement>, InstrumentError> {
        let body = f.body.as_deref().unwrap_or(&[]);
        let (decls, rest) = Self::split(body);
        let mut out = decls;
        out.extend(self.reg_decls());
        let kind = self.kind;
        out.extend(Self::prologue(kind.transient())?);
        if let Some(code) = kind.faulty_warp(self, body)? {
            out.extend(code);
        } else {
            out.extend(self.setup()?);
            let copy = self.body_copy(&rest)?;
            out.extend(copy);
            out.extend(code("ret;")?);
            out.extend(kind.epilogue()?);
        }
        out.push(Statement::Label(ORIG_LABEL.into()));
        out.extend(rest);
        Ok(out)
    }

    pub(super) fn twin_body(&mut self, f: &Function) -> Result<Vec<Statement>, InstrumentError> {
        let body = f.body.as_deref().unwrap_or(&[]);
        let (decls, rest) = Self::split(body);
        let mut out = decls;
        out.extend(self.reg_decls());
        out.extend(self.setup()?);
        out.extend(self.body_copy(&rest)?);
        out.extend(self.kind.epilogue()?);
        Ok(out)
    }

    /// Faulty warps only: the lane predicate, masks and model predicates (a transient
    /// model, which every warp runs: the XOR masks, the lane and `true` only).
    fn setup(&self) -> Result<Vec<Statement>, InstrumentError> {
        let g = |n: &str| r(n);
        if self.kind.transient() {
            let (lane, xor64) = (g("lane"), g("xor64"));
            return code(&format!(
                "mov.u32 {lane}, %laneid;\n\
                 {xor}\
                 cvt.u32.u64 {xor32}, {xor64};\n\
                 cvt.u16.u64 {xor16}, {xor64};\n\
                 setp.eq.u32 {tru}, {lane}, {lane};\n{model}",
                xor = DescField::Xor.load(&xor64),
                xor32 = g("xor32"),
                xor16 = g("xor16"),
                tru = g("true"),
                model = self.kind.setup(),
            ));
        }
        let (u0, u1, u2, sel) = (g("u0"), g("u1"), g("u2"), g("sel"));
        let (and64, or64, xor64, fm64) = (g("and64"), g("or64"), g("xor64"), g("fm64"));
        let mut s = format!(
            "mov.u32 {u0}, %laneid;\n\
             mov.u32 {lane}, {u0};\n\
             {lanes}\
             shr.u32 {u1}, {u1}, {u0};\n\
             and.b32 {u1}, {u1}, 1;\n\
             setp.ne.u32 {sel}, {u1}, 0;\n\
             {and}{or}{xor}\
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
             {op}{var}{force_ld}\
             setp.ne.u32 {force}, {u1}, 0;\n\
             setp.eq.u32 {tru}, {u0}, {u0};\n\
             {dims}\
             and.b32 {u2}, {u1}, 1;\n\
             setp.ne.and.u32 {dx}, {u2}, 0, {sel};\n\
             and.b32 {u2}, {u1}, 2;\n\
             setp.ne.and.u32 {dy}, {u2}, 0, {sel};\n\
             and.b32 {u2}, {u1}, 4;\n\
             setp.ne.and.u32 {dz}, {u2}, 0, {sel};\n",
            lane = g("lane"),
            lanes = DescField::Lanes.load(&u1),
            and = DescField::And.load(&and64),
            or = DescField::Or.load(&or64),
            xor = DescField::Xor.load(&xor64),
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
            op = DescField::Op.load(&g("op")),
            var = DescField::Variant.load(&g("var")),
            force_ld = DescField::Force.load(&u1),
            force = g("force"),
            tru = g("true"),
            dims = DescField::Dims.load(&u1),
            dx = g("dx"),
            dy = g("dy"),
            dz = g("dz"),
        );
        s += &self.kind.setup();
        code(&s)
    }

    /// The copy of a body a faulty warp runs: [`Pass::copy`], or for a transient model
    /// [`Pass::segmented_copy`].
    fn body_copy(&mut self, body: &[Statement]) -> Result<Vec<Statement>, InstrumentError> {
        if self.kind.transient() && !has_nested_label(body) {
            self.segmented_copy(body)
        } else {
            self.copy(body)
        }
    }

    /// The copy of a body for a transient model, whose fault sits at one site: cut at its
    /// top-level labels into segments, each segment twice — instrumented, and plain (as
    /// the original) —, and at the segment's start a check whether the descriptor's
    /// site is one of the segment's (three instructions) that sends the warp to the
    /// plain version when it is not. Branches target segment starts, so every entry
    /// into a segment checks:
    ///
    /// ```text
    /// $L__gf:   site - first > count - 1 (unsigned)?  bra $__gf_p<first>
    ///           <segment with the model's code at its sites>
    ///           bra $__gf_e<first>
    /// $__gf_p<first>:
    ///           <segment as the original>
    /// $__gf_e<first>:
    /// ```
    fn segmented_copy(&mut self, body: &[Statement]) -> Result<Vec<Statement>, InstrumentError> {
        let mut out = Vec::with_capacity(body.len() * 3);
        let mut start = 0;
        while start < body.len() {
            let mut end = start + 1;
            while end < body.len() && !matches!(body[end], Statement::Label(_)) {
                end += 1;
            }
            let seg = &body[start..end];
            let (label, stmts) = match seg.first() {
                Some(Statement::Label(l)) => (Some(l), &seg[1..]),
                _ => (None, seg),
            };
            if let Some(l) = label {
                out.push(Statement::Label(self.label(l).into()));
            }
            let first = self.site_number();
            let index = self.index;
            let instrumented = self.copy(stmts)?;
            let n = self.site_number() - first;
            let after = self.index;
            self.index = index;
            self.plain = true;
            let plain = self.copy(stmts);
            self.plain = false;
            self.index = after;
            let plain = plain?;
            if n == 0 {
                out.extend(plain);
            } else {
                let (u2, p0) = (r("u2"), r("p0"));
                out.extend(code(&format!(
                    "sub.u32 {u2}, {site}, {first};
                     setp.gt.u32 {p0}, {u2}, {last};
                     @{p0} bra.uni $__gf_p{first};
",
                    site = r("site"),
                    last = n - 1,
                ))?);
                out.extend(instrumented);
                out.extend(code(&format!(
                    "bra.uni $__gf_e{first};
$__gf_p{first}:
"
                ))?);
                out.extend(plain);
                out.extend(code(&format!(
                    "$__gf_e{first}:
"
                ))?);
            }
            start = end;
        }
        Ok(out)
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
                    self.info = SiteInfo::default();
                    let kind = self.kind;
                    if self.plain {
                        out.push(Statement::Inst(i));
                        continue;
                    }
                    match kind.site(self, &i)? {
                        Some(stmts) => {
                            let info = std::mem::take(&mut self.info);
                            self.add_site(index, &i, info);
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

    /// Records instruction `i`, the `index`-th of the function, as a site.
    pub(crate) fn add_site(&mut self, index: usize, i: &Instruction, info: SiteInfo) {
        self.sites.push(Site {
            function: self.function.clone(),
            index,
            line: i.line,
            op_group: op_group(i),
            info,
        });
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
    pub(crate) fn q(&self, i: &Instruction, base: &str) -> (String, String) {
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

    /// Whether `i` passes an argument or a return value of a call sequence
    /// (`st.param [param0], …`, `ld.param …, [retval0]`): PTX does not allow such an
    /// instruction to be guarded, and it is no kernel parameter.
    pub(crate) fn moves_call_param(&self, i: &Instruction) -> bool {
        matches!(i.opcode, Opcode::St | Opcode::Ld)
            && i.space() == Some(StateSpace::Param)
            && i.operands.iter().any(|o| {
                matches!(o, Operand::Addr(Address { base: AddrBase::Name(b), .. })
                    if self.call_params.contains(b.as_str()))
            })
    }

    /// A register operand with its type and width in bits (1 for a predicate).
    pub(crate) fn reg_width(&self, op: &Operand) -> Option<(String, Type, u32)> {
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

    /// Register destinations of a load: a scalar or the elements of a vector.
    pub(crate) fn load_dests(&self, i: &Instruction) -> Option<Vec<(String, Type, u32)>> {
        match i.operands.first()? {
            Operand::Vector(v) => v.iter().map(|e| self.reg_width(e)).collect(),
            o => Some(vec![self.reg_width(o)?]),
        }
    }

    /// Code setting `%__gf_p1` where `base` and the guard hold and `i`'s opcode group
    /// is the descriptor's.
    pub(crate) fn op_match(&self, i: &Instruction, base: &str) -> String {
        let (qcode, q) = self.q(i, base);
        format!(
            "{qcode}setp.eq.and.u32 {p1}, {op}, {id}, {q};\n",
            p1 = r("p1"),
            op = r("op"),
            id = op_group_id(&op_group(i)),
        )
    }
}

/// The `.param` variables declared in the blocks of `body` (`nested`: `body` is one).
fn collect_call_params(body: &[Statement], nested: bool, out: &mut HashSet<String>) {
    for s in body {
        match s {
            Statement::Var(v) if nested && v.space == StateSpace::Param => {
                out.extend(v.names.iter().map(|d| d.name.to_string()));
            }
            Statement::Block(b) => collect_call_params(b, true, out),
            _ => {}
        }
    }
}

/// Whether a block nested in `body` holds a label (a segmented copy would duplicate it).
fn has_nested_label(body: &[Statement]) -> bool {
    fn any_label(b: &[Statement]) -> bool {
        b.iter().any(|s| match s {
            Statement::Label(_) => true,
            Statement::Block(inner) => any_label(inner),
            _ => false,
        })
    }
    body.iter()
        .any(|s| matches!(s, Statement::Block(b) if any_label(b)))
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
