//! Building blocks of the code the models emit: the pass's registers, PTX templates
//! parsed into statements, the activation count, and mutually exclusive variants of
//! an instruction with an exact "did it change anything" check.

use super::{InstrumentError, COUNT_SYMBOL};
use crate::types::width;
use ptx::{Guard, Imm, Instruction, Operand, Statement, Type};

/// Prefix of the pass's registers.
pub(crate) const PREFIX: &str = "%__gf_";

/// The pass's register `n` (`%__gf_n`).
pub(crate) fn r(n: &str) -> String {
    format!("{PREFIX}{n}")
}

/// Parses generated instructions into statements.
pub(crate) fn code(src: &str) -> Result<Vec<Statement>, InstrumentError> {
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
pub(crate) fn count(pred: &str) -> String {
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

/// A register operand.
pub(crate) fn name_op(n: &str) -> Operand {
    Operand::name(n)
}

/// The scratch register of width `w` (16, 32 or 64) for the `k`-th replaced operand
/// of an instruction (`k` in 0..4).
pub(crate) fn slot_reg(w: u32, k: usize) -> String {
    match w {
        16 => r(&format!("w{k}")),
        32 => r(&format!("v{k}")),
        _ => r(&format!("x{k}")),
    }
}

/// The bits of an immediate as a value of type `ty`.
pub(crate) fn bits_of_imm(imm: &Imm, ty: Type) -> Option<u64> {
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

/// `pre`, then the instruction, then `post`.
pub(crate) fn with_inst(
    mut pre: Vec<Statement>,
    i: Instruction,
    post: Vec<Statement>,
) -> Vec<Statement> {
    pre.push(Statement::Inst(i));
    pre.extend(post);
    pre
}

/// One variant of an instruction for [`variants`].
pub(crate) struct Variant {
    /// The value of `%__gf_var` that selects it.
    pub id: u32,
    /// The instruction as the faulty unit decodes it.
    pub inst: Instruction,
    /// How to tell whether it changed anything.
    pub change: Change,
}

/// How a variant is checked for having changed a value, so that the activation counter
/// counts real changes only (`w` is the register width in bits, 1 for a predicate).
pub(crate) enum Change {
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
    pub(crate) fn checkable(w: u32) -> bool {
        matches!(w, 1 | 16 | 32 | 64)
    }

    /// The scratch register that holds a value of width `w`.
    pub(crate) fn scratch(w: u32) -> String {
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

/// Emits mutually exclusive variants of `i`: each variant runs where its predicate
/// (variant id == `%__gf_var` and `base`) holds, the original elsewhere. The
/// activation counter counts the warp-instructions where the running variant's
/// [`Change`] check says it changed something. The code follows `out`; `None` when
/// there is no variant.
pub(crate) fn variants(
    mut out: Vec<Statement>,
    i: &Instruction,
    base: &str,
    vs: Vec<Variant>,
) -> Result<Option<Vec<Statement>>, InstrumentError> {
    if vs.is_empty() {
        return Ok(None);
    }
    let (p2, p3, p4, p5) = (r("p2"), r("p3"), r("p4"), r("p5"));
    let var = r("var");
    out.extend(code(&format!("not.pred {p5}, {};\n", r("true")))?);
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
