//! Checks of a parsed module that `ptxas` makes and the syntax tree can answer: unknown
//! opcodes (against the [opcode table](crate::Opcode)), names defined twice (kernels,
//! device functions, module variables), and a missing or unknown `.version` or
//! `.target`.
//!
//! The parser accepts all of these on purpose (it keeps an unknown opcode as
//! [`Opcode::Other`] so that passes and the printer never fail on one); [`validate`] is
//! the place that says ptxas would not. It is not ptxas: register declarations, operand
//! types, state spaces and the target's instruction set are not checked.
//!
//! The syntax tree keeps lines but not columns, so columns come from the source text:
//! only when there is something to report, the text is lexed once and each reported
//! place is found by its token, in source order.

use crate::ast::{FunctionKind, Item, Linkage, Module, Name, Statement};
use crate::lexer::{lex, Tok, Token};
use crate::opcodes::Opcode;
use crate::parser::Locator;
use std::collections::HashMap;
use std::fmt;

/// One problem [`validate`] found: where (1-based line and column in characters; 0 when
/// the source text did not show it) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {kind}")]
#[non_exhaustive]
pub struct ValidationError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// What is wrong.
    pub kind: Invalid,
}

/// What [`validate`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// An opcode that is not in the opcode table (no PTX ISA has it).
    UnknownOpcode {
        /// The opcode as written.
        name: String,
    },
    /// A kernel, device function or module variable whose name is already defined.
    Duplicate {
        /// `kernel`, `function` or `variable`.
        what: &'static str,
        /// The name.
        name: String,
        /// What the first definition is (`kernel`, `function` or `variable`).
        first_what: &'static str,
        /// 1-based line of the first definition.
        first_line: u32,
        /// 1-based column of the first definition (0 when unknown).
        first_col: u32,
    },
    /// The module does not start with `.version`.
    MissingVersion,
    /// A `.version` that no PTX ISA release has.
    UnsupportedVersion {
        /// Major version.
        major: u32,
        /// Minor version.
        minor: u32,
    },
    /// No `.target` follows `.version`.
    MissingTarget,
    /// A `.target` word that is neither a known architecture nor a target option.
    UnknownTarget {
        /// The word as written.
        target: String,
    },
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::UnknownOpcode { name } => write!(f, "unknown opcode `{name}`"),
            Invalid::Duplicate {
                what,
                name,
                first_what,
                first_line,
                first_col,
            } => {
                write!(f, "{what} `{name}` is defined twice (first ")?;
                if first_what != what {
                    write!(f, "as a {first_what} ")?;
                }
                write!(f, "at {first_line}:{first_col})")
            }
            Invalid::MissingVersion => {
                write!(f, "the module does not start with a `.version` directive")
            }
            Invalid::UnsupportedVersion { major, minor } => write!(
                f,
                "unsupported PTX ISA version {major}.{minor} (known: {})",
                known_versions()
            ),
            Invalid::MissingTarget => write!(f, "no `.target` directive follows `.version`"),
            Invalid::UnknownTarget { target } => write!(
                f,
                "unknown target `{target}` (expected sm_XX with a known XX, optionally \
                 with an `a` or `f` suffix, or texmode_unified, texmode_independent, debug, \
                 map_f64_to_f32)"
            ),
        }
    }
}

/// The released PTX ISA versions: for each major version, the highest minor one (every
/// minor version from 0 up to it exists). 9.4 is the newest in the PTX ISA manual of
/// September 2026.
const VERSIONS: [(u32, u32); 9] = [
    (1, 5),
    (2, 3),
    (3, 2),
    (4, 3),
    (5, 0),
    (6, 5),
    (7, 8),
    (8, 8),
    (9, 4),
];

fn known_versions() -> String {
    let (first, last) = (VERSIONS[0], VERSIONS[VERSIONS.len() - 1]);
    format!("{}.0 to {}.{}", first.0, last.0, last.1)
}

/// Whether `major.minor` is a released PTX ISA version.
pub fn is_known_version(major: u32, minor: u32) -> bool {
    VERSIONS.iter().any(|&(m, top)| m == major && minor <= top)
}

/// Architectures a `.target` may name (`sm_XX`), and those that also have an
/// architecture-specific (`a`) and a family-specific (`f`) variant.
const ARCHS: [u32; 30] = [
    10, 11, 12, 13, 20, 21, 30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 88, 89,
    90, 100, 101, 103, 110, 120,
];
const ARCHS_LATE: [u32; 2] = [107, 121];
const WITH_A: [u32; 8] = [90, 100, 101, 103, 107, 110, 120, 121];
const WITH_F: [u32; 7] = [100, 101, 103, 107, 110, 120, 121];

/// Whether `word` is a valid `.target` word: `sm_XX` (with its `a`/`f` variants where
/// they exist) or one of the target options.
pub fn is_known_target(word: &str) -> bool {
    if matches!(
        word,
        "texmode_unified" | "texmode_independent" | "debug" | "map_f64_to_f32"
    ) {
        return true;
    }
    let Some(rest) = word.strip_prefix("sm_") else {
        return false;
    };
    let (digits, suffix) = match rest.strip_suffix('a') {
        Some(d) => (d, Some('a')),
        None => match rest.strip_suffix('f') {
            Some(d) => (d, Some('f')),
            None => (rest, None),
        },
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
        return false;
    }
    let Ok(n) = digits.parse::<u32>() else {
        return false;
    };
    match suffix {
        None => ARCHS.contains(&n) || ARCHS_LATE.contains(&n),
        Some('a') => WITH_A.contains(&n),
        Some(_) => WITH_F.contains(&n),
    }
}

/// A place to report, found in the source by its token.
#[derive(Debug, Clone)]
enum Anchor {
    /// The next dot-word with this text (`.version`, `.target`), anywhere.
    Directive(&'static str),
    /// The word `target` of the `.target` directive found last.
    TargetWord(Name),
    /// The opcode of an instruction on `line`.
    Opcode { line: u32, name: Name },
    /// The name of a function whose `.entry`/`.func` keyword is on `line`.
    FuncName { line: u32, name: Name },
    /// The name of a variable declared from `line` on.
    VarName { line: u32, name: Name },
}

impl Anchor {
    /// The line known from the syntax tree (0 for directives, which keep none).
    fn line(&self) -> u32 {
        match self {
            Anchor::Directive(_) | Anchor::TargetWord(_) => 0,
            Anchor::Opcode { line, .. }
            | Anchor::FuncName { line, .. }
            | Anchor::VarName { line, .. } => *line,
        }
    }
}

/// A definition of a module-scope name.
struct Def {
    what: &'static str,
    /// Index of its anchor in `Walk::anchors`.
    anchor: usize,
    /// Whether an error refers to it (then its anchor is located).
    cited: bool,
}

/// An error before it has a position: the anchor of its place and, for duplicates, of
/// the first definition.
struct Pending {
    anchor: usize,
    kind: Invalid,
    first: Option<usize>,
}

/// The anchor of an error without a place in the text (reported at 1:1).
const NOWHERE: usize = usize::MAX;

#[derive(Default)]
struct Walk {
    /// Every place that may be reported, in source order.
    anchors: Vec<Anchor>,
    defs: HashMap<Name, Def>,
    pending: Vec<Pending>,
}

impl Walk {
    fn anchor(&mut self, a: Anchor) -> usize {
        self.anchors.push(a);
        self.anchors.len() - 1
    }

    fn error(&mut self, anchor: usize, kind: Invalid) {
        self.pending.push(Pending {
            anchor,
            kind,
            first: None,
        });
    }

    fn define(&mut self, name: &Name, what: &'static str, anchor: Anchor) {
        let at = self.anchor(anchor);
        match self.defs.get_mut(name) {
            Some(first) => {
                first.cited = true;
                let first_what = first.what;
                let first_anchor = first.anchor;
                self.pending.push(Pending {
                    anchor: at,
                    kind: Invalid::Duplicate {
                        what,
                        name: name.to_string(),
                        first_what,
                        first_line: 0,
                        first_col: 0,
                    },
                    first: Some(first_anchor),
                });
            }
            None => {
                self.defs.insert(
                    name.clone(),
                    Def {
                        what,
                        anchor: at,
                        cited: false,
                    },
                );
            }
        }
    }

    fn body(&mut self, body: &[Statement]) {
        for s in body {
            match s {
                Statement::Inst(i) => {
                    if let Opcode::Other(name) = &i.opcode {
                        let at = self.anchor(Anchor::Opcode {
                            line: i.line,
                            name: (**name).clone(),
                        });
                        let name = name.to_string();
                        self.error(at, Invalid::UnknownOpcode { name });
                    }
                }
                Statement::Block(b) => self.body(b),
                _ => {}
            }
        }
    }
}

/// Checks `module` for what ptxas would reject and the syntax tree can tell: opcodes
/// not in the opcode table, kernels, device functions and module variables defined
/// twice (declarations and `.extern` variables may repeat), a module that does not
/// start with `.version`, a `.version` no PTX ISA release has, a missing `.target` and
/// `.target` words that name no architecture or option. Register declarations, operand
/// types and the target's instruction set are not checked (that is ptxas).
///
/// Returns the problems in source order, empty when there is none. `src` is the text
/// `module` was parsed from; it is read only to find columns (and the lines of
/// `.version`/`.target`, which the tree does not keep) when there is something to
/// report. Pass `""` for a module built in memory: lines then come from the tree and
/// columns are 0.
///
/// ```
/// let src = ".version 8.0\n.target sm_80\n.entry k()\n{\n\tfrobnicate.f32 %f1;\n}\n";
/// let m = ptx::parse(src).unwrap();
/// let errs = ptx::validate(&m, src);
/// assert_eq!(errs[0].to_string(), "5:2: unknown opcode `frobnicate`");
/// ```
pub fn validate(module: &Module, src: &str) -> Vec<ValidationError> {
    let mut w = Walk::default();
    // The anchor of the first `.version`, and whether a `.target` follows it.
    let mut version = None;
    let mut targeted = false;
    for (idx, item) in module.items.iter().enumerate() {
        match item {
            Item::Version { major, minor } => {
                let at = w.anchor(Anchor::Directive(".version"));
                if idx != 0 && version.is_none() {
                    w.error(at, Invalid::MissingVersion);
                }
                if !is_known_version(*major, *minor) {
                    let (major, minor) = (*major, *minor);
                    w.error(at, Invalid::UnsupportedVersion { major, minor });
                }
                version.get_or_insert(at);
            }
            Item::Target(words) => {
                w.anchor(Anchor::Directive(".target"));
                targeted |= version.is_some();
                for word in words.iter().filter(|t| !is_known_target(t)) {
                    let at = w.anchor(Anchor::TargetWord(word.clone()));
                    let target = word.to_string();
                    w.error(at, Invalid::UnknownTarget { target });
                }
            }
            Item::Function(f) => {
                let Some(body) = &f.body else { continue };
                let what = match f.kind {
                    FunctionKind::Entry => "kernel",
                    FunctionKind::Func => "function",
                };
                let (line, name) = (f.line, f.name.clone());
                w.define(&f.name, what, Anchor::FuncName { line, name });
                w.body(body);
            }
            Item::Var(v) if !v.linkage.contains(&Linkage::Extern) => {
                for d in &v.names {
                    let (line, name) = (v.line, d.name.clone());
                    w.define(&d.name, "variable", Anchor::VarName { line, name });
                }
            }
            _ => {}
        }
    }
    match version {
        // No `.version` at all: reported at the start of the text.
        None => w.pending.insert(
            0,
            Pending {
                anchor: NOWHERE,
                kind: Invalid::MissingVersion,
                first: None,
            },
        ),
        Some(at) if !targeted => w.error(at, Invalid::MissingTarget),
        Some(_) => {}
    }
    if w.pending.is_empty() {
        return Vec::new();
    }
    let places = locate(&w, src);
    let place = |a: usize| match places.get(a) {
        Some(&p) => p,
        None => (1, 1),
    };
    let mut out: Vec<(usize, ValidationError)> = w
        .pending
        .into_iter()
        .map(|p| {
            let (line, col) = if p.anchor == NOWHERE {
                (1, 1)
            } else {
                place(p.anchor)
            };
            let mut kind = p.kind;
            if let (
                Invalid::Duplicate {
                    first_line,
                    first_col,
                    ..
                },
                Some(f),
            ) = (&mut kind, p.first)
            {
                (*first_line, *first_col) = place(f);
            }
            let order = if p.anchor == NOWHERE { 0 } else { p.anchor };
            (order, ValidationError { line, col, kind })
        })
        .collect();
    out.sort_by_key(|(order, _)| *order);
    out.into_iter().map(|(_, e)| e).collect()
}

/// The (line, column) of every anchor that an error cites (others get (0, 0)), found
/// by one forward pass over the tokens of `src`.
fn locate(w: &Walk, src: &str) -> Vec<(u32, u32)> {
    let mut wanted = vec![false; w.anchors.len()];
    for p in &w.pending {
        if let Some(x) = wanted.get_mut(p.anchor) {
            *x = true;
        }
        if let Some(f) = p.first {
            wanted[f] = true;
        }
    }
    let toks = if src.is_empty() { Vec::new() } else { lex(src) };
    let mut cur = Cursor {
        src,
        toks: &toks,
        i: 0,
        loc: Locator::default(),
        last_target: (0, 0),
    };
    w.anchors
        .iter()
        .zip(&wanted)
        .map(|(a, &want)| {
            // Directives move the cursor even when not reported, so that the words of a
            // later `.target` are searched after it.
            if !want && !matches!(a, Anchor::Directive(_)) {
                return (0, 0);
            }
            cur.find(a).unwrap_or((a.line(), 0))
        })
        .collect()
}

/// A forward-moving search over the tokens.
struct Cursor<'a> {
    src: &'a str,
    toks: &'a [Token],
    /// The next token to look at.
    i: usize,
    loc: Locator,
    /// Token index just after the last `.target` found, and its line.
    last_target: (usize, u32),
}

impl Cursor<'_> {
    fn text(&self, t: Token) -> &str {
        &self.src[t.start as usize..t.end as usize]
    }

    fn place(&mut self, k: usize) -> (u32, u32) {
        let t = self.toks[k];
        (t.line, self.loc.col(self.src, t.start as usize))
    }

    /// The first token from `from` on for which `hit` holds, scanning while `go` holds.
    fn scan(
        &self,
        from: usize,
        go: impl Fn(Token) -> bool,
        hit: impl Fn(Token, &str) -> bool,
    ) -> Option<usize> {
        (from..self.toks.len())
            .take_while(|&k| go(self.toks[k]))
            .find(|&k| hit(self.toks[k], self.text(self.toks[k])))
    }

    fn find(&mut self, a: &Anchor) -> Option<(u32, u32)> {
        let not_eof = |t: Token| t.kind != Tok::Eof;
        let k = match a {
            Anchor::Directive(d) => {
                let k = self.scan(self.i, not_eof, |t, s| t.kind == Tok::Dot && s == *d)?;
                if *d == ".target" {
                    self.last_target = (k + 1, self.toks[k].line);
                }
                k
            }
            Anchor::TargetWord(word) => {
                let (from, line) = self.last_target;
                self.scan(
                    from,
                    |t| not_eof(t) && t.line == line,
                    |t, s| t.kind == Tok::Ident && s == word.as_str(),
                )?
            }
            Anchor::Opcode { line, name } => {
                let line = *line;
                self.scan(
                    self.i,
                    |t| not_eof(t) && t.line <= line,
                    |t, s| t.line == line && t.kind == Tok::Ident && s == name.as_str(),
                )?
            }
            Anchor::FuncName { line, name } => {
                let line = *line;
                let kw = self.scan(
                    self.i,
                    |t| not_eof(t) && t.line <= line,
                    |t, s| t.line == line && t.kind == Tok::Dot && (s == ".entry" || s == ".func"),
                )?;
                let name_at = self.scan(
                    kw + 1,
                    |t| not_eof(t) && t.kind != Tok::LBrace && t.kind != Tok::Semi,
                    |t, s| t.kind == Tok::Ident && s == name.as_str(),
                );
                name_at.unwrap_or(kw)
            }
            Anchor::VarName { line, name } => {
                let line = *line;
                let start = self.scan(self.i, not_eof, |t, _| t.line >= line)?;
                self.scan(
                    start,
                    |t| not_eof(t) && t.kind != Tok::Semi,
                    |t, s| t.kind == Tok::Ident && s == name.as_str(),
                )?
            }
        };
        if !matches!(a, Anchor::TargetWord(_)) {
            self.i = k + 1;
        }
        Some(self.place(k))
    }
}
