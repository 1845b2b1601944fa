//! The PTX printer: one canonical layout.
//!
//! Module directives start at column 0; a function header lists one parameter per line;
//! body statements are indented one tab per block level (labels one level less);
//! instructions print as `[@p ]opcode.mods op, op, ...;`. Integers keep their radix, sign
//! and `U` suffix (hex digits in upper case), `0f`/`0d` floats keep their exact bits and
//! decimal floats their text, so `print(parse(print(parse(x)))) == print(parse(x))`.

use crate::ast::*;
use std::fmt::{self, Write};

/// Prints a module as PTX text in the canonical layout.
pub fn print(module: &Module) -> String {
    let mut out = String::with_capacity(4096);
    let mut prev_spaced = false;
    for (i, item) in module.items.iter().enumerate() {
        let spaced = matches!(item, Item::Function(_) | Item::Section(_));
        if i > 0 && (spaced || prev_spaced) {
            out.push('\n');
        }
        prev_spaced = spaced;
        // Writing into a String cannot fail.
        let _ = write_item(&mut out, item);
    }
    out
}

fn write_item(out: &mut String, item: &Item) -> fmt::Result {
    match item {
        Item::Version { major, minor } => writeln!(out, ".version {major}.{minor}"),
        Item::Target(words) => writeln!(out, ".target {}", words.join(", ")),
        Item::AddressSize(n) => writeln!(out, ".address_size {n}"),
        Item::File(f) => {
            write!(out, ".file {} \"{}\"", f.index, f.name)?;
            for e in &f.extra {
                write!(out, ", {e}")?;
            }
            out.push('\n');
            Ok(())
        }
        Item::Section(s) => {
            writeln!(out, ".section {}\n{{", s.name)?;
            for l in &s.lines {
                writeln!(out, "\t{l}")?;
            }
            out.push_str("}\n");
            Ok(())
        }
        Item::Var(v) => {
            write_decl(out, v)?;
            out.push_str(";\n");
            Ok(())
        }
        Item::Function(f) => write_function(out, f),
        Item::Pragma(p) => {
            write_pragma(out, p);
            out.push('\n');
            Ok(())
        }
        Item::Raw(r) => {
            write_raw(out, r);
            out.push('\n');
            Ok(())
        }
    }
}

fn write_pragma(out: &mut String, strings: &[String]) {
    out.push_str(".pragma ");
    for (i, s) in strings.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
    out.push(';');
}

fn write_raw(out: &mut String, r: &RawDirective) {
    join_tokens(out, r.tokens.iter().map(Name::as_str));
    if r.semicolon {
        out.push(';');
    }
}

/// Joins token texts with single spaces, except before `,` `;` `:` `)` `]` and after
/// `(` `[`, so that re-lexing gives the same tokens.
fn join_tokens<'t>(out: &mut String, tokens: impl Iterator<Item = &'t str>) {
    let mut prev: Option<&str> = None;
    for t in tokens {
        if let Some(p) = prev {
            let tight = matches!(t, "," | ";" | ":" | ")" | "]") || matches!(p, "(" | "[");
            if !tight {
                out.push(' ');
            }
        }
        out.push_str(t);
        prev = Some(t);
    }
}

fn linkage_name(l: Linkage) -> &'static str {
    match l {
        Linkage::Visible => ".visible",
        Linkage::Extern => ".extern",
        Linkage::Weak => ".weak",
        Linkage::Common => ".common",
    }
}

fn write_decl(out: &mut String, v: &VarDecl) -> fmt::Result {
    for l in &v.linkage {
        out.push_str(linkage_name(*l));
        out.push(' ');
    }
    out.push('.');
    out.push_str(v.space.name());
    if let Some(a) = v.align {
        write!(out, " .align {a}")?;
    }
    if let Some(n) = v.vector {
        write!(out, " .v{n}")?;
    }
    out.push_str(" .");
    out.push_str(v.ty.name());
    if let Some(p) = &v.ptr {
        out.push_str(" .ptr");
        if let Some(s) = p.space {
            out.push_str(" .");
            out.push_str(s.name());
        }
        if let Some(a) = p.align {
            write!(out, " .align {a}")?;
        }
    }
    for (i, d) in v.names.iter().enumerate() {
        out.push_str(if i == 0 { " " } else { ", " });
        out.push_str(&d.name);
        if let Some(n) = d.range {
            write!(out, "<{n}>")?;
        }
        for dim in &d.dims {
            match dim {
                Some(n) => write!(out, "[{n}]")?,
                None => out.push_str("[]"),
            }
        }
        if let Some(init) = &d.init {
            out.push_str(" = ");
            write_init(out, init)?;
        }
    }
    Ok(())
}

fn write_init(out: &mut String, init: &Init) -> fmt::Result {
    match init {
        Init::Value(op) => write_operand(out, op),
        Init::Generic { symbol, offset } => {
            write!(out, "generic({symbol})")?;
            write_offset(out, *offset)
        }
        Init::List(items) => {
            out.push('{');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_init(out, x)?;
            }
            out.push('}');
            Ok(())
        }
    }
}

/// `+N` / `+-N`, nothing for 0.
fn write_offset(out: &mut String, offset: i64) -> fmt::Result {
    if offset != 0 {
        write!(out, "+{offset}")?;
    }
    Ok(())
}

fn write_params(out: &mut String, params: &[VarDecl]) -> fmt::Result {
    out.push('(');
    for (i, p) in params.iter().enumerate() {
        out.push_str(if i == 0 { "\n\t" } else { ",\n\t" });
        write_decl(out, p)?;
    }
    if !params.is_empty() {
        out.push('\n');
    }
    out.push(')');
    Ok(())
}

fn write_function(out: &mut String, f: &Function) -> fmt::Result {
    for l in &f.linkage {
        out.push_str(linkage_name(*l));
        out.push(' ');
    }
    out.push_str(match f.kind {
        FunctionKind::Entry => ".entry ",
        FunctionKind::Func => ".func ",
    });
    if !f.returns.is_empty() {
        out.push('(');
        for (i, r) in f.returns.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_decl(out, r)?;
        }
        out.push_str(") ");
    }
    out.push_str(&f.name);
    write_params(out, &f.params)?;
    for d in &f.directives {
        out.push('\n');
        write_func_directive(out, d)?;
    }
    match &f.body {
        None => out.push_str(";\n"),
        Some(body) => {
            out.push_str("\n{\n");
            write_statements(out, body, 1)?;
            out.push_str("}\n");
        }
    }
    Ok(())
}

fn write_u32_list(out: &mut String, name: &str, v: &[u32]) -> fmt::Result {
    out.push_str(name);
    for (i, n) in v.iter().enumerate() {
        write!(out, "{}{n}", if i == 0 { " " } else { ", " })?;
    }
    Ok(())
}

fn write_func_directive(out: &mut String, d: &FuncDirective) -> fmt::Result {
    match d {
        FuncDirective::MaxNtid(v) => write_u32_list(out, ".maxntid", v),
        FuncDirective::ReqNtid(v) => write_u32_list(out, ".reqntid", v),
        FuncDirective::MinNctaPerSm(n) => write!(out, ".minnctapersm {n}"),
        FuncDirective::MaxNctaPerSm(n) => write!(out, ".maxnctapersm {n}"),
        FuncDirective::MaxNReg(n) => write!(out, ".maxnreg {n}"),
        FuncDirective::Pragma(p) => {
            write_pragma(out, p);
            Ok(())
        }
        FuncDirective::NoReturn => {
            out.push_str(".noreturn");
            Ok(())
        }
        FuncDirective::Other(t) => {
            join_tokens(out, t.iter().map(Name::as_str));
            Ok(())
        }
    }
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push('\t');
    }
}

fn write_statements(out: &mut String, body: &[Statement], depth: usize) -> fmt::Result {
    for s in body {
        write_statement(out, s, depth)?;
    }
    Ok(())
}

fn write_statement(out: &mut String, s: &Statement, depth: usize) -> fmt::Result {
    match s {
        Statement::Label(l) => {
            indent(out, depth - 1);
            out.push_str(l);
            out.push_str(":\n");
        }
        Statement::Inst(i) => {
            indent(out, depth);
            write_instruction(out, i)?;
            out.push('\n');
        }
        Statement::Var(v) => {
            indent(out, depth);
            write_decl(out, v)?;
            out.push_str(";\n");
        }
        Statement::Loc(l) => {
            indent(out, depth);
            write!(out, ".loc {} {} {}", l.file, l.line, l.col)?;
            if !l.extra.is_empty() {
                if l.extra[0] != "," {
                    out.push(' ');
                }
                join_tokens(out, l.extra.iter().map(Name::as_str));
            }
            out.push('\n');
        }
        Statement::Pragma(p) => {
            indent(out, depth);
            write_pragma(out, p);
            out.push('\n');
        }
        Statement::Block(b) => {
            indent(out, depth);
            out.push_str("{\n");
            write_statements(out, b, depth + 1)?;
            indent(out, depth);
            out.push_str("}\n");
        }
        Statement::Raw(r) => {
            indent(out, depth);
            write_raw(out, r);
            out.push('\n');
        }
    }
    Ok(())
}

fn write_instruction(out: &mut String, i: &Instruction) -> fmt::Result {
    if let Some(g) = &i.guard {
        out.push('@');
        if g.negated {
            out.push('!');
        }
        out.push_str(&g.pred);
        out.push(' ');
    }
    out.push_str(i.opcode.name());
    if !i.modifiers.is_empty() {
        out.push('.');
        out.push_str(i.modifiers.as_str());
    }
    for (n, op) in i.operands.iter().enumerate() {
        out.push_str(if n == 0 { " " } else { ", " });
        write_operand(out, op)?;
    }
    out.push(';');
    Ok(())
}

fn component_name(c: Component) -> &'static str {
    match c {
        Component::X => ".x",
        Component::Y => ".y",
        Component::Z => ".z",
        Component::W => ".w",
        Component::R => ".r",
        Component::G => ".g",
        Component::B => ".b",
        Component::A => ".a",
    }
}

fn write_list(out: &mut String, open: char, ops: &[Operand], close: char) -> fmt::Result {
    out.push(open);
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_operand(out, op)?;
    }
    out.push(close);
    Ok(())
}

fn write_operand(out: &mut String, op: &Operand) -> fmt::Result {
    match op {
        Operand::Name { name, comp } => {
            out.push_str(name);
            if let Some(c) = comp {
                out.push_str(component_name(*c));
            }
        }
        Operand::Not(p) => {
            out.push('!');
            out.push_str(p);
        }
        Operand::Imm(imm) => write_imm(out, imm)?,
        Operand::SymOffset { name, offset } => {
            out.push_str(name);
            write!(out, "+{offset}")?;
        }
        Operand::Addr(a) => {
            out.push('[');
            match &a.base {
                AddrBase::Name(n) => out.push_str(n),
                AddrBase::Imm(v) => write!(out, "{v}")?,
            }
            write_offset(out, a.offset)?;
            out.push(']');
        }
        Operand::Vector(v) => write_list(out, '{', v, '}')?,
        Operand::Pair(a, b) => {
            out.push_str(a);
            out.push('|');
            out.push_str(b);
        }
        Operand::Sink => out.push('_'),
        Operand::List(v) => write_list(out, '(', v, ')')?,
    }
    Ok(())
}

fn write_imm(out: &mut String, imm: &Imm) -> fmt::Result {
    match imm {
        Imm::Int {
            value,
            negative,
            radix,
            unsigned,
        } => {
            if *negative {
                out.push('-');
            }
            match radix {
                Radix::Dec => write!(out, "{value}")?,
                Radix::Hex => write!(out, "0x{value:X}")?,
                Radix::Oct => write!(out, "0{value:o}")?,
                Radix::Bin => write!(out, "0b{value:b}")?,
            }
            if *unsigned {
                out.push('U');
            }
        }
        Imm::F32(b) => write!(out, "0f{b:08X}")?,
        Imm::F64(b) => write!(out, "0d{b:016X}")?,
        Imm::Decimal(s) => out.push_str(s),
    }
    Ok(())
}

/// Writes `$body` into a temporary String and hands it to the formatter.
macro_rules! display_via {
    ($ty:ty, $f:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut s = String::new();
                $f(&mut s, self)?;
                f.write_str(&s)
            }
        }
    };
}

display_via!(Instruction, write_instruction);
display_via!(Operand, write_operand);
display_via!(Imm, write_imm);
display_via!(VarDecl, write_decl);

impl fmt::Display for Statement {
    /// The statement as printed at the top level of a function body (one tab indent,
    /// with its trailing newline removed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_statement(&mut s, self, 1)?;
        f.write_str(s.trim_end_matches('\n'))
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn round(src: &str) -> String {
        print(&parse(src).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn canonical_layout() {
        let src = ".version 8.0\n.target sm_80\n.address_size 64\n\
            .global .align 4 .b32 g[2] = {1, 0x1F};\n\
            .visible .entry k(.param .u64 a, .param .u32 n) .maxntid 64, 1, 1 {\n\
            .reg .pred %p<2>; .reg .b32 %r<4>;\n\
            mov.u32 %r1, %tid.x; setp.ge.u32 %p1, %r1, 10;\n\
            @%p1 bra $L__BB0_2; { .reg .b32 t; mov.b32 t, 0fBF800000; }\n\
            $L__BB0_2: ret; }";
        let expect = "\
.version 8.0
.target sm_80
.address_size 64
.global .align 4 .b32 g[2] = {1, 0x1F};

.visible .entry k(
\t.param .u64 a,
\t.param .u32 n
)
.maxntid 64, 1, 1
{
\t.reg .pred %p<2>;
\t.reg .b32 %r<4>;
\tmov.u32 %r1, %tid.x;
\tsetp.ge.u32 %p1, %r1, 10;
\t@%p1 bra $L__BB0_2;
\t{
\t\t.reg .b32 t;
\t\tmov.b32 t, 0fBF800000;
\t}
$L__BB0_2:
\tret;
}
";
        assert_eq!(round(src), expect);
        assert_eq!(round(expect), expect);
    }

    #[test]
    fn literals_keep_their_form() {
        let src = ".entry k() { foo 0x7fU, -0x10, 017, 0b101, -5, 00, 1.50e3, 0d3FF0000000000000, [a+-8], s+-4; }";
        let out = round(src);
        assert!(
            out.contains(
                "foo 0x7FU, -0x10, 017, 0b101, -5, 00, 1.50e3, 0d3FF0000000000000, [a+-8], s+-4;"
            ),
            "{out}"
        );
        assert_eq!(round(&out), out);
    }

    #[test]
    fn display_of_parts() {
        let i = Instruction::new(
            crate::Opcode::Ld,
            &["global", "u32"],
            vec![Operand::name("%r1"), Operand::addr("%rd1", 4)],
        );
        assert_eq!(i.to_string(), "ld.global.u32 %r1, [%rd1+4];");
        assert_eq!(Imm::int(-3).to_string(), "-3");
    }
}
