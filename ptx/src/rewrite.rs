//! Rewrite helpers for passes (the fault injector's instrumentation).
//!
//! Instructions are addressed by their index in the [flattening order](crate::flatten),
//! the same index the CFG and the virtual GPU use. Inserting statements changes the
//! indices of later instructions: passes that insert at many places either go from the
//! last index to the first or use [`map_instructions`].

use crate::ast::*;
use crate::cfg::flatten;
use std::collections::HashSet;

/// Errors of the rewrite helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// The function has no body (a declaration).
    #[error("function `{function}` has no body")]
    NoBody {
        /// The function.
        function: String,
    },
    /// No instruction has this index.
    #[error("function `{function}` has {count} instructions, no instruction {index}")]
    NoInstruction {
        /// The function.
        function: String,
        /// The requested index.
        index: usize,
        /// How many instructions there are.
        count: usize,
    },
    /// The instruction has no operand with this index.
    #[error("instruction {index} (`{inst}`) has no operand {operand}")]
    NoOperand {
        /// The instruction index.
        index: usize,
        /// The instruction as printed.
        inst: String,
        /// The requested operand index.
        operand: usize,
    },
    /// A module-scope name is already declared.
    #[error("the module already declares `{name}`")]
    NameTaken {
        /// The name.
        name: String,
    },
}

/// One declared register (a `%r<N>` range is expanded into its N names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegDecl {
    /// The register name (`%r3`).
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Vector width (`.v2`, `.v4`), if any.
    pub vector: Option<u8>,
    /// Whether it is a `.reg` parameter or return parameter of a `.func`.
    pub param: bool,
}

/// Every register the function declares: `.reg` parameters and return parameters, then
/// the body's `.reg` declarations (nested blocks included) in flattening order, with
/// `%r<N>` ranges expanded to `%r0` … `%r{N-1}`.
pub fn declared_registers(f: &Function) -> Vec<RegDecl> {
    let mut out = Vec::new();
    for p in f.returns.iter().chain(&f.params) {
        if p.space == StateSpace::Reg {
            push_decl(&mut out, p, true);
        }
    }
    if let Some(body) = &f.body {
        walk_decls(body, &mut |v| {
            if v.space == StateSpace::Reg {
                push_decl(&mut out, v, false);
            }
        });
    }
    out
}

fn push_decl(out: &mut Vec<RegDecl>, v: &VarDecl, param: bool) {
    for d in &v.names {
        let mut one = |name: String| {
            out.push(RegDecl {
                name,
                ty: v.ty,
                vector: v.vector,
                param,
            })
        };
        match d.range {
            Some(n) => (0..n).for_each(|i| one(format!("{}{i}", d.name))),
            None => one(d.name.to_string()),
        }
    }
}

fn walk_decls<'a>(body: &'a [Statement], f: &mut impl FnMut(&'a VarDecl)) {
    for s in body {
        match s {
            Statement::Var(v) => f(v),
            Statement::Block(b) => walk_decls(b, f),
            _ => {}
        }
    }
}

/// The names a function already uses: declarations (ranges kept as prefix + count),
/// parameters, labels and every name in an operand or guard.
struct UsedNames {
    names: HashSet<Name>,
    ranges: Vec<(Name, u32)>,
}

impl UsedNames {
    fn of(f: &Function) -> UsedNames {
        let mut u = UsedNames {
            names: HashSet::new(),
            ranges: Vec::new(),
        };
        let mut decl = |u: &mut UsedNames, v: &VarDecl| {
            for d in &v.names {
                match d.range {
                    Some(n) => u.ranges.push((d.name.clone(), n)),
                    None => {
                        u.names.insert(d.name.clone());
                    }
                }
            }
        };
        for p in f.returns.iter().chain(&f.params) {
            decl(&mut u, p);
        }
        if let Some(body) = &f.body {
            fn walk(
                u: &mut UsedNames,
                body: &[Statement],
                decl: &mut dyn FnMut(&mut UsedNames, &VarDecl),
            ) {
                for s in body {
                    match s {
                        Statement::Var(v) => decl(u, v),
                        Statement::Label(l) => {
                            u.names.insert(l.clone());
                        }
                        Statement::Block(b) => walk(u, b, decl),
                        Statement::Inst(i) => {
                            if let Some(g) = &i.guard {
                                u.names.insert(g.pred.clone());
                            }
                            for op in &i.operands {
                                op.for_each_name(&mut |n| {
                                    u.names.insert(Name::new(n));
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
            walk(&mut u, body, &mut decl);
        }
        u
    }

    fn taken(&self, name: &str) -> bool {
        self.names.contains(name)
            || self.ranges.iter().any(|(prefix, n)| {
                name.strip_prefix(prefix.as_str())
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|d| d.parse::<u64>().ok())
                    .is_some_and(|v| v < u64::from(*n))
            })
    }
}

/// `n` register names that `f` neither declares nor uses, of the form `%gf_<hint><k>`
/// (`hint` reduced to `[A-Za-z0-9_]`).
pub fn fresh_names(f: &Function, hint: &str, n: usize) -> Vec<String> {
    let used = UsedNames::of(f);
    let hint: String = hint
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let mut out = Vec::with_capacity(n);
    let mut k = 0u64;
    while out.len() < n {
        let cand = format!("%gf_{hint}{k}");
        k += 1;
        if !used.taken(&cand) {
            out.push(cand);
        }
    }
    out
}

/// Declares `names` as `.reg .<ty>` registers at the top of the body (one declaration).
pub fn declare_registers(f: &mut Function, ty: Type, names: &[String]) -> Result<(), RewriteError> {
    let function = f.name.to_string();
    let body = f.body.as_mut().ok_or(RewriteError::NoBody { function })?;
    if names.is_empty() {
        return Ok(());
    }
    body.insert(0, register_declaration(ty, names));
    Ok(())
}

/// One `.reg .<ty> names…;` declaration.
pub fn register_declaration(ty: Type, names: &[impl AsRef<str>]) -> Statement {
    Statement::Var(VarDecl {
        linkage: Vec::new(),
        space: StateSpace::Reg,
        align: None,
        vector: None,
        ty,
        ptr: None,
        names: names
            .iter()
            .map(|n| Declarator {
                name: Name::new(n),
                range: None,
                dims: Vec::new(),
                init: None,
            })
            .collect(),
        line: 0,
    })
}

/// Picks `n` fresh register names (see [`fresh_names`]) and declares them with type `ty`.
pub fn add_registers(
    f: &mut Function,
    ty: Type,
    hint: &str,
    n: usize,
) -> Result<Vec<String>, RewriteError> {
    let names = fresh_names(f, hint, n);
    declare_registers(f, ty, &names)?;
    Ok(names)
}

/// Adds a module-scope variable before the first function (after the header directives
/// and any variables already there); fails if a variable or function of that name
/// exists.
pub fn declare_global(m: &mut Module, decl: VarDecl) -> Result<(), RewriteError> {
    for d in &decl.names {
        let clash = m
            .globals()
            .any(|g| g.names.iter().any(|x| x.name == d.name))
            || m.functions().any(|f| f.name == d.name);
        if clash {
            return Err(RewriteError::NameTaken {
                name: d.name.to_string(),
            });
        }
    }
    let at = m
        .items
        .iter()
        .position(|i| matches!(i, Item::Function(_)))
        .unwrap_or(m.items.len());
    m.items.insert(at, Item::Var(decl));
    Ok(())
}

/// The statement path (indices through nested blocks) of instruction `index`.
fn locate(body: &[Statement], index: usize) -> Option<Vec<usize>> {
    fn go(body: &[Statement], index: usize, seen: &mut usize, path: &mut Vec<usize>) -> bool {
        for (k, s) in body.iter().enumerate() {
            match s {
                Statement::Inst(_) => {
                    if *seen == index {
                        path.push(k);
                        return true;
                    }
                    *seen += 1;
                }
                Statement::Block(b) => {
                    path.push(k);
                    if go(b, index, seen, path) {
                        return true;
                    }
                    path.pop();
                }
                _ => {}
            }
        }
        false
    }
    let mut path = Vec::new();
    let mut seen = 0;
    go(body, index, &mut seen, &mut path).then_some(path)
}

/// The statement list holding the instruction at `path`, and its position there.
fn list_at<'a>(body: &'a mut Vec<Statement>, path: &[usize]) -> (&'a mut Vec<Statement>, usize) {
    let (last, outer) = path.split_last().expect("paths are never empty");
    let mut list = body;
    for &k in outer {
        list = match &mut list[k] {
            Statement::Block(b) => b,
            _ => unreachable!("locate only descends into blocks"),
        };
    }
    (list, *last)
}

fn body_and_path(
    f: &mut Function,
    index: usize,
) -> Result<(&mut Vec<Statement>, Vec<usize>), RewriteError> {
    let function = f.name.to_string();
    let body = f.body.as_mut().ok_or(RewriteError::NoBody {
        function: function.clone(),
    })?;
    match locate(body, index) {
        Some(p) => Ok((body, p)),
        None => Err(RewriteError::NoInstruction {
            function,
            index,
            count: flatten(body).insts.len(),
        }),
    }
}

/// Inserts `stmts` right before instruction `index` (after any label in front of it, so
/// branches to that label run the inserted code too).
pub fn insert_before(
    f: &mut Function,
    index: usize,
    stmts: Vec<Statement>,
) -> Result<(), RewriteError> {
    insert_at(f, index, 0, stmts)
}

/// Inserts `stmts` right after instruction `index`.
pub fn insert_after(
    f: &mut Function,
    index: usize,
    stmts: Vec<Statement>,
) -> Result<(), RewriteError> {
    insert_at(f, index, 1, stmts)
}

/// Inserts `stmts` `offset` statements after instruction `index` in its list.
fn insert_at(
    f: &mut Function,
    index: usize,
    offset: usize,
    stmts: Vec<Statement>,
) -> Result<(), RewriteError> {
    let (body, path) = body_and_path(f, index)?;
    let (list, k) = list_at(body, &path);
    list.splice(k + offset..k + offset, stmts);
    Ok(())
}

/// The instruction with flattening index `index`, mutably.
pub fn instruction_mut(f: &mut Function, index: usize) -> Result<&mut Instruction, RewriteError> {
    let (body, path) = body_and_path(f, index)?;
    let (list, k) = list_at(body, &path);
    match &mut list[k] {
        Statement::Inst(i) => Ok(i),
        _ => unreachable!("locate only stops at instructions"),
    }
}

/// Replaces operand `operand` of instruction `index`, returning the old operand.
pub fn replace_operand(
    f: &mut Function,
    index: usize,
    operand: usize,
    new: Operand,
) -> Result<Operand, RewriteError> {
    let inst = instruction_mut(f, index)?;
    if operand >= inst.operands.len() {
        return Err(RewriteError::NoOperand {
            index,
            inst: inst.to_string(),
            operand,
        });
    }
    Ok(std::mem::replace(&mut inst.operands[operand], new))
}

/// Renames registers in every operand and guard of the body: each name for which `map`
/// returns a new name is replaced. Declarations are left alone. Returns how many names
/// were replaced.
pub fn rename_registers<N: Into<Name>>(f: &mut Function, map: impl Fn(&str) -> Option<N>) -> usize {
    let mut count = 0;
    let Some(body) = f.body.as_mut() else {
        return 0;
    };
    for_each_instruction_mut(body, &mut |i| {
        if let Some(g) = &mut i.guard {
            if let Some(n) = map(&g.pred) {
                g.pred = n.into();
                count += 1;
            }
        }
        for op in &mut i.operands {
            op.for_each_name_mut(&mut |name| {
                if let Some(n) = map(name) {
                    *name = n.into();
                    count += 1;
                }
            });
        }
    });
    count
}

fn for_each_instruction_mut(body: &mut [Statement], f: &mut impl FnMut(&mut Instruction)) {
    for s in body {
        match s {
            Statement::Inst(i) => f(i),
            Statement::Block(b) => for_each_instruction_mut(b, f),
            _ => {}
        }
    }
}

/// Rewrites every instruction of the body, nested blocks included, in flattening order:
/// `f` returns `None` to keep an instruction or `Some(statements)` to replace it (the
/// replacement may hold the original, blocks, labels or nothing). Replacements are not
/// visited again.
pub fn map_instructions(
    func: &mut Function,
    mut f: impl FnMut(&Instruction) -> Option<Vec<Statement>>,
) {
    if let Some(body) = func.body.as_mut() {
        map_list(body, &mut f);
    }
}

fn map_list(body: &mut Vec<Statement>, f: &mut impl FnMut(&Instruction) -> Option<Vec<Statement>>) {
    let old = std::mem::take(body);
    body.reserve(old.len());
    for s in old {
        match s {
            Statement::Inst(i) => match f(&i) {
                None => body.push(Statement::Inst(i)),
                Some(repl) => body.extend(repl),
            },
            Statement::Block(mut b) => {
                map_list(&mut b, f);
                body.push(Statement::Block(b));
            }
            other => body.push(other),
        }
    }
}

impl Operand {
    /// Calls `f` with every register, symbol or label name in the operand (address
    /// bases, vector and list elements, both halves of a pair, negated predicates).
    pub fn for_each_name(&self, f: &mut impl FnMut(&str)) {
        match self {
            Operand::Name { name, .. } | Operand::Not(name) | Operand::SymOffset { name, .. } => {
                f(name)
            }
            Operand::Addr(a) => {
                if let AddrBase::Name(n) = &a.base {
                    f(n)
                }
            }
            Operand::Vector(v) | Operand::List(v) => v.iter().for_each(|o| o.for_each_name(f)),
            Operand::Pair(a, b) => {
                f(a);
                f(b)
            }
            Operand::Imm(_) | Operand::Sink => {}
        }
    }

    /// Like [`Operand::for_each_name`], mutably.
    pub fn for_each_name_mut(&mut self, f: &mut impl FnMut(&mut Name)) {
        match self {
            Operand::Name { name, .. } | Operand::Not(name) | Operand::SymOffset { name, .. } => {
                f(name)
            }
            Operand::Addr(a) => {
                if let AddrBase::Name(n) = &mut a.base {
                    f(n)
                }
            }
            Operand::Vector(v) | Operand::List(v) => {
                v.iter_mut().for_each(|o| o.for_each_name_mut(f))
            }
            Operand::Pair(a, b) => {
                f(a);
                f(b)
            }
            Operand::Imm(_) | Operand::Sink => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{flatten, parse, print, Opcode};

    const SRC: &str = ".version 8.0\n.target sm_80\n.address_size 64\n\
        .func (.reg .b32 out) f(.reg .v2 .u32 v)\n{\n\
        .reg .b32 %r<3>;\n.reg .pred %p;\n\
        mov.u32 %r0, 1;\n{\n.reg .f32 %f<2>, x;\nL: add.u32 %r1, %r0, 2;\n}\n\
        @%p bra L;\nmov.u32 out, %r1;\nret;\n}\n";

    fn func() -> (Module, usize) {
        let m = parse(SRC).unwrap();
        let i = m
            .items
            .iter()
            .position(|i| matches!(i, Item::Function(_)))
            .unwrap();
        (m, i)
    }

    fn f_of(m: &mut Module, i: usize) -> &mut Function {
        match &mut m.items[i] {
            Item::Function(f) => f,
            _ => unreachable!(),
        }
    }

    fn opcodes(f: &Function) -> Vec<String> {
        flatten(f.body.as_ref().unwrap())
            .insts
            .iter()
            .map(|i| i.opcode.name().to_string())
            .collect()
    }

    #[test]
    fn registers_with_types_ranges_params_and_nested_blocks() {
        let (m, _) = func();
        let regs = declared_registers(m.functions().next().unwrap());
        let got: Vec<(&str, Type, bool)> = regs
            .iter()
            .map(|r| (r.name.as_str(), r.ty, r.param))
            .collect();
        assert_eq!(
            got,
            [
                ("out", Type::B32, true),
                ("v", Type::U32, true),
                ("%r0", Type::B32, false),
                ("%r1", Type::B32, false),
                ("%r2", Type::B32, false),
                ("%p", Type::Pred, false),
                ("%f0", Type::F32, false),
                ("%f1", Type::F32, false),
                ("x", Type::F32, false),
            ]
        );
        assert_eq!(regs[1].vector, Some(2));
    }

    #[test]
    fn fresh_names_avoid_declared_ranged_and_used_names() {
        let src =
            ".entry k() { .reg .b32 %gf_t<3>; .reg .b32 %gf_t5; mov.u32 %gf_t3, %gf_t4; ret; }";
        let m = parse(src).unwrap();
        let f = m.functions().next().unwrap();
        assert_eq!(fresh_names(f, "t", 2), ["%gf_t6", "%gf_t7"]);
        assert_eq!(fresh_names(f, "a-b", 1), ["%gf_ab0"]);
    }

    #[test]
    fn added_registers_are_declared_and_ptxas_valid() {
        let (mut m, i) = func();
        let f = f_of(&mut m, i);
        let names = add_registers(f, Type::U32, "site", 2).unwrap();
        assert_eq!(names, ["%gf_site0", "%gf_site1"]);
        let regs = declared_registers(f);
        assert!(regs
            .iter()
            .any(|r| r.name == "%gf_site1" && r.ty == Type::U32));
        assert!(print(&m).contains("\t.reg .u32 %gf_site0, %gf_site1;\n"));
        let mut decl = f_of(&mut m, i).clone();
        decl.body = None;
        assert!(declare_registers(&mut decl, Type::U32, &names).is_err());
    }

    #[test]
    fn globals_go_before_the_first_function_and_names_are_unique() {
        let (mut m, i) = func();
        let g = parse(".global .align 8 .b8 gf_fault[32];").unwrap();
        let Item::Var(v) = g.items[0].clone() else {
            unreachable!()
        };
        declare_global(&mut m, v.clone()).unwrap();
        assert!(matches!(&m.items[i], Item::Var(x) if x.names[0].name == "gf_fault"));
        assert!(matches!(&m.items[i + 1], Item::Function(_)));
        assert_eq!(
            declare_global(&mut m, v),
            Err(RewriteError::NameTaken {
                name: "gf_fault".into()
            })
        );
    }

    #[test]
    fn insertion_before_and_after_instructions_in_nested_blocks() {
        let (mut m, i) = func();
        let f = f_of(&mut m, i);
        let nop = |n: &str| Statement::Inst(Instruction::new(Opcode::from_name(n), &[], vec![]));
        // Instruction 1 is the add inside the nested block, behind label L.
        insert_before(f, 1, vec![nop("before")]).unwrap();
        insert_after(f, 2, vec![nop("after1"), nop("after2")]).unwrap();
        assert_eq!(
            opcodes(f),
            ["mov", "before", "add", "after1", "after2", "bra", "mov", "ret"]
        );
        let printed = print(&m);
        assert!(
            printed.contains("L:\n\t\tbefore;\n\t\tadd.u32"),
            "{printed}"
        );
        let f = f_of(&mut m, i);
        assert_eq!(
            insert_after(f, 99, vec![]),
            Err(RewriteError::NoInstruction {
                function: "f".into(),
                index: 99,
                count: 8
            })
        );
    }

    #[test]
    fn operands_are_replaced_and_registers_renamed() {
        let (mut m, i) = func();
        let f = f_of(&mut m, i);
        let old = replace_operand(f, 0, 1, Operand::int(7)).unwrap();
        assert_eq!(old, Operand::int(1));
        assert!(replace_operand(f, 0, 5, Operand::int(7)).is_err());
        let n = rename_registers(f, |r| (r == "%r1" || r == "%p").then(|| "%r2".to_string()));
        assert_eq!(n, 3, "add dest, guard, mov source");
        let printed = print(&m);
        assert!(printed.contains("mov.u32 %r0, 7;"));
        assert!(printed.contains("@%r2 bra L;"));
        assert!(printed.contains("mov.u32 out, %r2;"));
    }

    #[test]
    fn map_instructions_rewrites_recursively() {
        let (mut m, i) = func();
        let f = f_of(&mut m, i);
        let mut seen = Vec::new();
        map_instructions(f, |inst| {
            seen.push(inst.opcode.name().to_string());
            match inst.opcode {
                // Duplicate every add; drop every ret; keep the rest.
                Opcode::Add => Some(vec![
                    Statement::Inst(inst.clone()),
                    Statement::Inst(inst.clone()),
                ]),
                Opcode::Ret => Some(vec![]),
                _ => None,
            }
        });
        assert_eq!(seen, ["mov", "add", "bra", "mov", "ret"]);
        assert_eq!(opcodes(f), ["mov", "add", "add", "bra", "mov"]);
    }
}
