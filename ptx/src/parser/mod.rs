//! The PTX parser: hand-written recursive descent over the token slice.
//!
//! Errors are collected, not returned at the first problem: a statement (or module
//! item) that fails to parse is reported and skipped up to its end (`;`, or the `}` that
//! closes the enclosing block, or a line break before a new statement), and parsing goes
//! on. Nesting (blocks, initialiser lists, operand lists) is limited to [`MAX_DEPTH`]
//! levels so that no input can overflow the stack.
//!
//! Module items, declarations, errors and recovery are here; function headers, bodies,
//! instructions and operands in `body`.

use crate::ast::*;
use crate::lexer::{Lexer, Tok, Token};
use crate::opcodes::Opcode;

/// The deepest nesting of `{ }` blocks, initialiser lists or operand lists accepted.
pub const MAX_DEPTH: usize = 64;

/// One parse error: where (1-based line and column, in characters), what, and the
/// offending token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
#[non_exhaustive]
pub struct ParseError {
    /// 1-based line of the offending token.
    pub line: u32,
    /// 1-based column (in characters) of the offending token.
    pub col: u32,
    /// What went wrong, lower-case, e.g. "expected `;` after operand, found `mov`".
    pub message: String,
    /// The offending token's text (empty at the end of the input).
    pub text: String,
}

/// Every error of one parse, in source order (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_all(.errors))]
#[non_exhaustive]
pub struct ParseErrors {
    /// The errors, in source order.
    pub errors: Vec<ParseError>,
}

fn render_all(errors: &[ParseError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Parses a PTX module, reporting every error.
///
/// ```
/// let errs = ptx::parse(".version 8.0\n.target sm_80\n.entry k() { add.u32 %r1 %r2; }")
///     .unwrap_err();
/// assert_eq!(errs.errors[0].to_string(), "3:26: expected `,` or `;` after operand, found `%r2`");
/// ```
pub fn parse(src: &str) -> Result<Module, ParseErrors> {
    let (module, errors) = parse_recovering(src);
    if errors.is_empty() {
        Ok(module)
    } else {
        Err(ParseErrors { errors })
    }
}

/// Parses a PTX module, recovering from errors per statement: the module holds every
/// item and statement that parsed; the errors are in source order.
pub fn parse_recovering(src: &str) -> (Module, Vec<ParseError>) {
    let mut p = Parser {
        src,
        lexer: Lexer::new(src),
        toks: Vec::with_capacity(2 * CHUNK),
        base: 0,
        pos: 0,
        errors: Vec::new(),
        loc: Locator::default(),
        stmts: Vec::new(),
        ops: Vec::new(),
        names: Vec::new(),
        decls: Vec::new(),
    };
    p.lexer.next_chunk(&mut p.toks, CHUNK);
    let module = p.module();
    (module, p.errors)
}

type PResult<T> = Result<T, ParseError>;

/// Turns byte offsets into 1-based (line, column) with a forward-moving cursor, so that
/// reporting many errors on one long line stays linear.
pub(crate) struct Locator {
    /// A byte offset at or before the next error.
    pos: usize,
    /// The 1-based column of `pos`.
    col: u32,
}

impl Default for Locator {
    fn default() -> Self {
        Locator { pos: 0, col: 1 }
    }
}

impl Locator {
    pub(crate) fn col(&mut self, src: &str, pos: usize) -> u32 {
        if pos < self.pos {
            // Rare (errors are mostly in order): start over from the line start.
            let start = src[..pos].rfind('\n').map_or(0, |i| i + 1);
            self.pos = start;
            self.col = 1;
        }
        let chunk = &src[self.pos..pos];
        match chunk.rfind('\n') {
            Some(i) => self.col = 1 + chunk[i + 1..].chars().count() as u32,
            None => self.col += chunk.chars().count() as u32,
        }
        self.pos = pos;
        self.col
    }
}

/// Tokens lexed at a time.
const CHUNK: usize = 1024;

/// The parser. Tokens are lexed in chunks into a window `toks` that starts at absolute
/// token index `base`; the window is compacted at the start of each module item and
/// statement (error recovery only goes back to those), so memory stays small.
/// Invariant: the window holds the tokens at `pos` and `pos + 1`, or ends with `Eof`.
struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    toks: Vec<Token>,
    base: usize,
    pos: usize,
    errors: Vec<ParseError>,
    loc: Locator,
    /// Scratch stacks, reused for the whole parse. A list being parsed pushes its
    /// elements on top of its stack and, once complete, moves them into a vector of
    /// exactly their number ([`take_from`]): one allocation per list and no spare
    /// capacity (a vector grown from empty reallocates on the way and leaves up to half
    /// of its memory unused, and the tree is most of the parser's memory traffic). Nested
    /// lists (a block in a block, a vector in an operand list) stack up and come off in
    /// order; a list that fails to parse is taken off all the same.
    stmts: Vec<Statement>,
    ops: Vec<Operand>,
    names: Vec<Name>,
    decls: Vec<VarDecl>,
}

/// Moves the elements from `start` on off a scratch stack into an exact-size vector
/// (one allocation and one `memcpy`; the stack keeps its capacity).
fn take_from<T>(stack: &mut Vec<T>, start: usize) -> Vec<T> {
    stack.split_off(start)
}

/// Whether a directive starts a module item (used to stop error recovery early):
/// `Some(true)` for directives that never occur inside a function body, `Some(false)`
/// for module variables (which may also appear in bodies), `None` otherwise.
fn starts_item(d: &str) -> Option<bool> {
    match d {
        ".visible" | ".extern" | ".weak" | ".common" | ".entry" | ".func" | ".version"
        | ".target" | ".address_size" | ".file" | ".section" | ".pragma" => Some(true),
        ".global" | ".const" => Some(false),
        _ => None,
    }
}

/// The state space named by a directive (`.shared::cta` gives `Shared`).
fn space_of(d: &str) -> Option<StateSpace> {
    let base = d.strip_prefix('.')?;
    let base = base.find(':').map_or(base, |i| &base[..i]);
    StateSpace::from_name(base)
}

fn component(d: &str) -> Option<Component> {
    Some(match d {
        ".x" => Component::X,
        ".y" => Component::Y,
        ".z" => Component::Z,
        ".w" => Component::W,
        ".r" => Component::R,
        ".g" => Component::G,
        ".b" => Component::B,
        ".a" => Component::A,
        _ => return None,
    })
}

/// "a register count" → "register count".
fn noun(what: &str) -> &str {
    what.strip_prefix("an ")
        .or_else(|| what.strip_prefix("a "))
        .unwrap_or(what)
}

/// Parses an integer literal token's text into (magnitude, radix, `U` suffix).
fn int_literal(text: &str) -> Option<(u64, Radix, bool)> {
    let (body, unsigned) = match text.strip_suffix('U') {
        Some(b) => (b, true),
        None => (text, false),
    };
    let (digits, radix, base) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (h, Radix::Hex, 16)
        } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (b, Radix::Bin, 2)
        } else if body.len() > 1 && body.starts_with('0') {
            (&body[1..], Radix::Oct, 8)
        } else {
            (body, Radix::Dec, 10)
        };
    u64::from_str_radix(digits, base)
        .ok()
        .map(|v| (v, radix, unsigned))
}

impl<'a> Parser<'a> {
    // ---- token access -------------------------------------------------------------

    fn tok(&self) -> Token {
        self.toks[self.pos - self.base]
    }

    /// The token before the current one (which must be in the window).
    fn prev(&self) -> Token {
        self.toks[self.pos - 1 - self.base]
    }

    /// Drops the tokens before `pos` from the window (the caller will not go back).
    fn compact(&mut self) {
        let consumed = self.pos - self.base;
        if consumed >= 4 * CHUNK {
            self.toks.drain(..consumed);
            self.base = self.pos;
        }
    }

    fn peek(&self) -> Tok {
        self.toks[self.pos - self.base].kind
    }

    fn peek_at(&self, n: usize) -> Tok {
        self.toks
            .get(self.pos - self.base + n)
            .map_or(Tok::Eof, |t| t.kind)
    }

    fn text(&self, t: Token) -> &'a str {
        &self.src[t.start as usize..t.end as usize]
    }

    fn cur_text(&self) -> &'a str {
        self.text(self.tok())
    }

    fn bump(&mut self) -> Token {
        let t = self.tok();
        if t.kind != Tok::Eof {
            self.pos += 1;
            if self.pos + 2 > self.base + self.toks.len() && !self.lexer.done() {
                self.lexer.next_chunk(&mut self.toks, CHUNK);
            }
        }
        t
    }

    fn eat(&mut self, kind: Tok) -> bool {
        if self.peek() == kind {
            self.bump();
            true
        } else {
            false
        }
    }

    // ---- errors -------------------------------------------------------------------

    fn error_at(&mut self, t: Token, message: String) -> ParseError {
        let col = self.loc.col(self.src, t.start as usize);
        // An error token can run to the end of the input (an unterminated comment):
        // keep its first line.
        let text = self.text(t).lines().next().unwrap_or("").to_string();
        ParseError {
            line: t.line,
            col,
            message,
            text,
        }
    }

    fn describe(&self, t: Token) -> String {
        let text = self.text(t);
        match t.kind {
            Tok::Eof => "end of input".to_string(),
            Tok::Error if text.starts_with("/*") => "an unterminated `/*` comment".to_string(),
            Tok::Error if text.starts_with('"') => "an unterminated string".to_string(),
            Tok::Error => format!("invalid character `{text}`"),
            _ => format!("`{text}`"),
        }
    }

    /// "expected WHAT, found `TOKEN`" at the current token.
    fn expected(&mut self, what: &str) -> ParseError {
        let t = self.tok();
        let msg = format!("expected {what}, found {}", self.describe(t));
        self.error_at(t, msg)
    }

    fn expect(&mut self, kind: Tok, what: &str) -> PResult<Token> {
        if self.peek() == kind {
            Ok(self.bump())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_ident(&mut self, what: &str) -> PResult<&'a str> {
        let t = self.expect(Tok::Ident, what)?;
        Ok(self.text(t))
    }

    fn expect_u32(&mut self, what: &str) -> PResult<u32> {
        let t = self.tok();
        if t.kind == Tok::Int {
            if let Some((v, _, _)) = int_literal(self.text(t)) {
                if let Ok(v) = u32::try_from(v) {
                    self.bump();
                    return Ok(v);
                }
            }
            let msg = format!("{} `{}` is out of range", noun(what), self.text(t));
            return Err(self.error_at(t, msg));
        }
        Err(self.expected(what))
    }

    fn expect_u64(&mut self, what: &str) -> PResult<u64> {
        let t = self.tok();
        if t.kind == Tok::Int {
            if let Some((v, _, _)) = int_literal(self.text(t)) {
                self.bump();
                return Ok(v);
            }
            let msg = format!("{} `{}` is out of range", noun(what), self.text(t));
            return Err(self.error_at(t, msg));
        }
        Err(self.expected(what))
    }

    fn too_deep(&mut self) -> ParseError {
        let t = self.tok();
        self.error_at(t, format!("nesting deeper than {MAX_DEPTH} levels"))
    }

    // ---- recovery -----------------------------------------------------------------

    /// Skips a bad module item that started at token `start`: up to and including its
    /// `;` or the `}` closing its body, or up to a new item on a later line after the
    /// error token `err`.
    fn recover_item(&mut self, start: usize, err: usize) {
        self.pos = start;
        let (mut braces, mut parens) = (0usize, 0usize);
        // Braces of a variable's initialiser never hold a `;`; a function body's do.
        let mut function = false;
        loop {
            let t = self.tok();
            match t.kind {
                Tok::Eof => break,
                Tok::Semi if braces == 0 || !function => {
                    self.bump();
                    break;
                }
                Tok::Dot if matches!(self.text(t), ".entry" | ".func") => function = true,
                Tok::LBrace => braces += 1,
                Tok::RBrace => {
                    if braces <= 1 {
                        self.bump();
                        // `= {...};` ends with the `;` after the brace.
                        self.eat(Tok::Semi);
                        break;
                    }
                    braces -= 1;
                }
                Tok::LParen => parens += 1,
                Tok::RParen => parens = parens.saturating_sub(1),
                Tok::Dot
                    if self.pos > start
                        && self.pos >= err
                        && t.newline
                        && match starts_item(self.text(t)) {
                            Some(true) => true,
                            Some(false) => braces == 0 && parens == 0,
                            None => false,
                        } =>
                {
                    break
                }
                _ => {}
            }
            self.bump();
        }
        if self.pos == start {
            self.bump();
        }
    }

    /// Skips a bad statement that started at token `start`: up to and including its `;`,
    /// or up to the `}` closing the enclosing block, or up to a line break (after the
    /// error token `err`) that is not inside an operand list.
    fn recover_statement(&mut self, start: usize, err: usize) {
        self.pos = start;
        let mut braces = 0usize;
        loop {
            let t = self.tok();
            match t.kind {
                Tok::Eof => break,
                Tok::Semi => {
                    self.bump();
                    break;
                }
                Tok::LBrace => braces += 1,
                Tok::RBrace => {
                    if braces == 0 {
                        break;
                    }
                    braces -= 1;
                }
                _ if braces == 0
                    && self.pos > start
                    && self.pos >= err
                    && t.newline
                    && self.prev().kind != Tok::Comma =>
                {
                    break
                }
                _ => {}
            }
            self.bump();
        }
        if self.pos == start {
            self.bump();
        }
    }

    // ---- module -------------------------------------------------------------------

    fn module(&mut self) -> Module {
        let mut items = Vec::new();
        while self.peek() != Tok::Eof {
            self.compact();
            let start = self.pos;
            match self.item() {
                Ok(item) => items.push(item),
                Err(e) => {
                    // Errors are raised at the current token, which is where `pos` is.
                    let err = self.pos;
                    self.errors.push(e);
                    self.recover_item(start, err);
                }
            }
        }
        // The list grew by doubling; give back the spare capacity (for a large input it
        // is an `mremap`, not a copy).
        items.shrink_to_fit();
        Module { items }
    }

    fn item(&mut self) -> PResult<Item> {
        let t = self.tok();
        if t.kind != Tok::Dot {
            return Err(self.expected("a directive at module scope"));
        }
        match self.text(t) {
            ".version" => {
                self.bump();
                let v = self.tok();
                if matches!(v.kind, Tok::Decimal | Tok::Int) {
                    let text = self.text(v);
                    let (a, b) = text.split_once('.').unwrap_or((text, ""));
                    if let (Ok(major), Ok(minor)) = (a.parse(), b.parse()) {
                        self.bump();
                        return Ok(Item::Version { major, minor });
                    }
                }
                Err(self.expected("a version `major.minor`"))
            }
            ".target" => {
                self.bump();
                let mut words = vec![Name::new(self.expect_ident("a target name")?)];
                while self.eat(Tok::Comma) {
                    words.push(Name::new(self.expect_ident("a target modifier")?));
                }
                Ok(Item::Target(words))
            }
            ".address_size" => {
                self.bump();
                Ok(Item::AddressSize(self.expect_u32("an address size")?))
            }
            ".file" => self.file(),
            ".section" => self.section(),
            ".pragma" => Ok(Item::Pragma(self.pragma()?)),
            ".visible" | ".extern" | ".weak" | ".common" | ".entry" | ".func" => {
                let mut linkage = Vec::new();
                loop {
                    let l = match self.cur_text() {
                        ".visible" => Linkage::Visible,
                        ".extern" => Linkage::Extern,
                        ".weak" => Linkage::Weak,
                        ".common" => Linkage::Common,
                        _ => break,
                    };
                    if self.peek() != Tok::Dot {
                        break;
                    }
                    linkage.push(l);
                    self.bump();
                }
                let t = self.tok();
                match self.text(t) {
                    ".entry" | ".func" if t.kind == Tok::Dot => {
                        Ok(Item::Function(self.function(linkage)?))
                    }
                    d if t.kind == Tok::Dot && space_of(d).is_some() => {
                        let v = self.var_decl(linkage, false)?;
                        self.expect(Tok::Semi, "`;` after declaration")?;
                        Ok(Item::Var(v))
                    }
                    _ => Err(self.expected("`.entry`, `.func` or a state space after linkage")),
                }
            }
            d if space_of(d).is_some() => {
                let v = self.var_decl(Vec::new(), false)?;
                self.expect(Tok::Semi, "`;` after declaration")?;
                Ok(Item::Var(v))
            }
            _ => Ok(Item::Raw(self.raw()?)),
        }
    }

    fn file(&mut self) -> PResult<Item> {
        self.bump();
        let index = self.expect_u32("a file index")?;
        let name = self.expect(Tok::Str, "a quoted file name")?;
        let name = self.text(name);
        let mut extra = Vec::new();
        while self.peek() == Tok::Comma && !self.tok().newline {
            self.bump();
            let t = self.expect(Tok::Int, "a file timestamp or size")?;
            extra.push(Name::new(self.text(t)));
        }
        Ok(Item::File(FileDirective {
            index,
            name: name[1..name.len() - 1].to_string(),
            extra,
        }))
    }

    fn section(&mut self) -> PResult<Item> {
        self.bump();
        let n = self.tok();
        if !matches!(n.kind, Tok::Dot | Tok::Ident) {
            return Err(self.expected("a section name"));
        }
        self.bump();
        let name = Name::new(self.text(n));
        self.expect(Tok::LBrace, "`{` after the section name")?;
        let start = self.names.len();
        let r = self.section_lines();
        let lines = take_from(&mut self.names, start);
        r.map(|()| Item::Section(Section { name, lines }))
    }

    /// The lines of a section's `{ }` (after the `{`, up to and including the `}`),
    /// pushed on the name stack.
    fn section_lines(&mut self) -> PResult<()> {
        let mut depth = 1usize;
        let mut cur: Option<(Token, Token)> = None;
        loop {
            let t = self.tok();
            match t.kind {
                Tok::Eof => {
                    return Err(self.expected("`}` closing the section"));
                }
                Tok::Error => {
                    let msg = format!("unexpected {} in section", self.describe(t));
                    return Err(self.error_at(t, msg));
                }
                Tok::LBrace => depth += 1,
                Tok::RBrace => depth -= 1,
                _ => {}
            }
            if let Some((first, last)) = cur {
                // `last` is the token right before `t`.
                if depth == 0 || t.newline {
                    let line = Name::new(&self.src[first.start as usize..last.end as usize]);
                    self.names.push(line);
                    cur = None;
                }
            }
            self.bump();
            if depth == 0 {
                break;
            }
            cur = Some(match cur {
                Some((first, _)) => (first, t),
                None => (t, t),
            });
        }
        Ok(())
    }

    fn pragma(&mut self) -> PResult<Vec<String>> {
        self.bump();
        let mut out = Vec::new();
        loop {
            let s = self.expect(Tok::Str, "a pragma string")?;
            let s = self.text(s);
            out.push(s[1..s.len() - 1].to_string());
            if !self.eat(Tok::Comma) {
                break;
            }
        }
        self.expect(Tok::Semi, "`;` after `.pragma`")?;
        Ok(out)
    }

    /// A directive the tree does not model: its tokens up to `;` (consumed), or up to a
    /// brace, or up to a line break outside parentheses (not after a `,`).
    fn raw(&mut self) -> PResult<RawDirective> {
        let first = self.bump();
        let line = first.line;
        let start = self.names.len();
        self.names.push(Name::new(self.text(first)));
        let r = self.raw_tokens(first);
        let tokens = take_from(&mut self.names, start);
        Ok(RawDirective {
            tokens,
            semicolon: r?,
            line,
        })
    }

    /// The tokens of a raw directive after its first, `first`, pushed on the name stack;
    /// whether it ended with `;`.
    fn raw_tokens(&mut self, first: Token) -> PResult<bool> {
        let mut parens = 0usize;
        let mut prev = first;
        let mut semicolon = false;
        loop {
            let t = self.tok();
            match t.kind {
                Tok::Eof | Tok::LBrace | Tok::RBrace => break,
                Tok::Error => {
                    let msg = format!("unexpected {} in directive", self.describe(t));
                    return Err(self.error_at(t, msg));
                }
                Tok::Semi => {
                    self.bump();
                    semicolon = true;
                    break;
                }
                _ if parens == 0 && prev.kind != Tok::Comma && t.newline => break,
                Tok::LParen => parens += 1,
                Tok::RParen => parens = parens.saturating_sub(1),
                _ => {}
            }
            self.names.push(Name::new(self.text(t)));
            prev = self.bump();
        }
        Ok(semicolon)
    }

    // ---- declarations -------------------------------------------------------------

    /// `.space [.align N] [.vN] .type [.ptr [.space] [.align N]] declarators`; with
    /// `single`, exactly one declarator (parameters).
    fn var_decl(&mut self, linkage: Vec<Linkage>, single: bool) -> PResult<VarDecl> {
        let st = self.tok();
        let space = match (st.kind, space_of(self.text(st))) {
            (Tok::Dot, Some(s)) => s,
            _ => return Err(self.expected("a state space (`.reg`, `.param`, `.global`, ...)")),
        };
        let line = st.line;
        self.bump();
        let mut align = None;
        let mut vector = None;
        let mut ty = None;
        let mut ptr: Option<PtrAttr> = None;
        while self.peek() == Tok::Dot {
            let d = self.cur_text();
            match d {
                ".align" => {
                    self.bump();
                    let n = self.expect_u32("an alignment")?;
                    match &mut ptr {
                        Some(p) => p.align = Some(n),
                        None => align = Some(n),
                    }
                }
                ".v2" | ".v4" | ".v8" => {
                    vector = Some(d[2..].parse().unwrap_or(0));
                    self.bump();
                }
                ".ptr" => {
                    ptr = Some(PtrAttr {
                        space: None,
                        align: None,
                    });
                    self.bump();
                }
                _ => {
                    if let (Some(p), Some(s)) = (&mut ptr, space_of(d)) {
                        p.space = Some(s);
                        self.bump();
                    } else if let Some(t) = Type::from_modifier(&d[1..]) {
                        if ty.is_some() {
                            let t = self.tok();
                            let msg = format!("second type `{}` in declaration", self.text(t));
                            return Err(self.error_at(t, msg));
                        }
                        ty = Some(t);
                        self.bump();
                    } else {
                        let t = self.tok();
                        let msg = format!("unexpected `{d}` in declaration");
                        return Err(self.error_at(t, msg));
                    }
                }
            }
        }
        let Some(ty) = ty else {
            return Err(self.expected("a type (`.b32`, `.u64`, `.f32`, ...) in declaration"));
        };
        // Nearly every declaration declares one name.
        let mut names = Vec::with_capacity(1);
        loop {
            names.push(self.declarator()?);
            if single || self.peek() != Tok::Comma {
                break;
            }
            self.bump();
        }
        Ok(VarDecl {
            linkage,
            space,
            align,
            vector,
            ty,
            ptr,
            names,
            line,
        })
    }

    fn declarator(&mut self) -> PResult<Declarator> {
        let name = Name::new(self.expect_ident("a name in declaration")?);
        let mut range = None;
        let mut dims = Vec::new();
        if self.eat(Tok::Lt) {
            range = Some(self.expect_u32("a register count")?);
            self.expect(Tok::Gt, "`>` after the register count")?;
        }
        while self.eat(Tok::LBracket) {
            if self.eat(Tok::RBracket) {
                dims.push(None);
            } else {
                dims.push(Some(self.expect_u64("an array size")?));
                self.expect(Tok::RBracket, "`]` after the array size")?;
            }
        }
        let init = if self.eat(Tok::Eq) {
            Some(Box::new(self.init(0)?))
        } else {
            None
        };
        Ok(Declarator {
            name,
            range,
            dims,
            init,
        })
    }

    fn init(&mut self, depth: usize) -> PResult<Init> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        match self.peek() {
            Tok::LBrace => {
                self.bump();
                let mut items = Vec::new();
                if !self.eat(Tok::RBrace) {
                    loop {
                        items.push(self.init(depth + 1)?);
                        if self.eat(Tok::RBrace) {
                            break;
                        }
                        self.expect(Tok::Comma, "`,` or `}` in initialiser")?;
                    }
                }
                Ok(Init::List(items))
            }
            Tok::Ident if self.cur_text() == "generic" && self.peek_at(1) == Tok::LParen => {
                self.bump();
                self.bump();
                let symbol = Name::new(self.expect_ident("a symbol in `generic( )`")?);
                self.expect(Tok::RParen, "`)` after the symbol")?;
                let offset = self.opt_offset()?.unwrap_or(0);
                Ok(Init::Generic { symbol, offset })
            }
            _ => {
                let t = self.tok();
                match self.operand(depth)? {
                    op @ (Operand::Imm(_)
                    | Operand::SymOffset { .. }
                    | Operand::Name { comp: None, .. }) => Ok(Init::Value(op)),
                    _ => {
                        let msg = format!("expected an initialiser, found {}", self.describe(t));
                        Err(self.error_at(t, msg))
                    }
                }
            }
        }
    }

    /// An optional `+ N`, `+ -N` or `- N` offset.
    fn opt_offset(&mut self) -> PResult<Option<i64>> {
        let negative = match self.peek() {
            Tok::Plus => {
                self.bump();
                self.eat(Tok::Minus)
            }
            Tok::Minus => {
                self.bump();
                true
            }
            _ => return Ok(None),
        };
        let t = self.tok();
        let v = self.expect_u64("an integer offset")?;
        let v = if negative {
            0i64.checked_sub_unsigned(v)
        } else {
            i64::try_from(v).ok()
        };
        match v {
            Some(v) => Ok(Some(v)),
            None => {
                let msg = format!("offset `{}` is out of range", self.text(t));
                Err(self.error_at(t, msg))
            }
        }
    }
}

mod body;
#[cfg(test)]
mod tests;
