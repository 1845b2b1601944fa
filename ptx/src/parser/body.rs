//! Parsing functions: headers, parameter lists, bodies, statements, instructions and
//! operands.

use super::*;

impl Parser<'_> {
    pub(super) fn function(&mut self, linkage: Vec<Linkage>) -> PResult<Function> {
        let kw = self.bump();
        let line = kw.line;
        let kind = if self.text(kw) == ".entry" {
            FunctionKind::Entry
        } else {
            FunctionKind::Func
        };
        let returns = if self.peek() == Tok::LParen {
            self.param_list()?
        } else {
            Vec::new()
        };
        let name = Name::new(self.expect_ident("a function name")?);
        let params = if self.peek() == Tok::LParen {
            self.param_list()?
        } else {
            Vec::new()
        };
        let mut directives = Vec::new();
        while self.peek() == Tok::Dot {
            directives.push(self.func_directive()?);
        }
        let body = match self.peek() {
            Tok::Semi => {
                self.bump();
                None
            }
            Tok::LBrace => Some(self.block(1)),
            _ => return Err(self.expected("`{` or `;` after the function header")),
        };
        Ok(Function {
            linkage,
            kind,
            returns,
            name,
            params,
            directives,
            body,
            line,
        })
    }

    fn param_list(&mut self) -> PResult<Vec<VarDecl>> {
        self.bump();
        let start = self.decls.len();
        let r = self.params();
        let out = take_from(&mut self.decls, start);
        r.map(|()| out)
    }

    /// The parameters of [`Parser::param_list`], pushed on the declaration stack.
    fn params(&mut self) -> PResult<()> {
        if self.eat(Tok::RParen) {
            return Ok(());
        }
        loop {
            let d = self.var_decl(Vec::new(), true)?;
            self.decls.push(d);
            if self.eat(Tok::RParen) {
                return Ok(());
            }
            self.expect(Tok::Comma, "`,` or `)` after parameter")?;
        }
    }

    fn u32_list(&mut self, what: &str) -> PResult<Vec<u32>> {
        let mut v = vec![self.expect_u32(what)?];
        while self.eat(Tok::Comma) {
            v.push(self.expect_u32(what)?);
        }
        Ok(v)
    }

    fn func_directive(&mut self) -> PResult<FuncDirective> {
        let d = self.cur_text();
        Ok(match d {
            ".maxntid" => {
                self.bump();
                FuncDirective::MaxNtid(self.u32_list("a thread count")?)
            }
            ".reqntid" => {
                self.bump();
                FuncDirective::ReqNtid(self.u32_list("a thread count")?)
            }
            ".minnctapersm" => {
                self.bump();
                FuncDirective::MinNctaPerSm(self.expect_u32("a CTA count")?)
            }
            ".maxnctapersm" => {
                self.bump();
                FuncDirective::MaxNctaPerSm(self.expect_u32("a CTA count")?)
            }
            ".maxnreg" => {
                self.bump();
                FuncDirective::MaxNReg(self.expect_u32("a register count")?)
            }
            ".noreturn" => {
                self.bump();
                FuncDirective::NoReturn
            }
            ".pragma" => FuncDirective::Pragma(self.pragma()?),
            _ => {
                let start = self.names.len();
                self.names.push(Name::new(d));
                self.bump();
                while matches!(
                    self.peek(),
                    Tok::Int | Tok::Comma | Tok::Ident | Tok::LParen | Tok::RParen
                ) {
                    let t = self.bump();
                    self.names.push(Name::new(self.text(t)));
                }
                FuncDirective::Other(take_from(&mut self.names, start))
            }
        })
    }

    // ---- bodies -------------------------------------------------------------------

    /// A `{ ... }` block at the current `{`; `depth` is its nesting level (the function
    /// body is 1).
    fn block(&mut self, depth: usize) -> Vec<Statement> {
        let open = self.bump();
        if depth > MAX_DEPTH {
            let e = {
                let msg = format!("blocks nested deeper than {MAX_DEPTH} levels");
                self.error_at(open, msg)
            };
            self.errors.push(e);
            // Skip the whole block without recursing.
            let mut n = 1usize;
            while n > 0 {
                match self.bump().kind {
                    Tok::Eof => break,
                    Tok::LBrace => n += 1,
                    Tok::RBrace => n -= 1,
                    _ => {}
                }
            }
            return Vec::new();
        }
        let first = self.stmts.len();
        loop {
            match self.peek() {
                Tok::RBrace => {
                    self.bump();
                    break;
                }
                Tok::Eof => {
                    let e = self.expected("`}` closing the block");
                    self.errors.push(e);
                    break;
                }
                _ => {}
            }
            self.compact();
            let start = self.pos;
            match self.statement(depth) {
                Ok(s) => self.stmts.push(s),
                Err(e) => {
                    // Errors are raised at the current token, which is where `pos` is.
                    let err = self.pos;
                    self.errors.push(e);
                    self.recover_statement(start, err);
                }
            }
        }
        take_from(&mut self.stmts, first)
    }

    fn statement(&mut self, depth: usize) -> PResult<Statement> {
        let t = self.tok();
        match t.kind {
            Tok::LBrace => Ok(Statement::Block(self.block(depth + 1))),
            Tok::Ident if self.peek_at(1) == Tok::Colon => {
                self.bump();
                self.bump();
                Ok(Statement::Label(Name::new(self.text(t))))
            }
            Tok::At | Tok::Ident => Ok(Statement::Inst(self.instruction()?)),
            Tok::Dot => {
                let d = self.text(t);
                if space_of(d).is_some() {
                    let v = self.var_decl(Vec::new(), false)?;
                    self.expect(Tok::Semi, "`;` after declaration")?;
                    return Ok(Statement::Var(v));
                }
                match d {
                    ".loc" => self.loc(),
                    ".pragma" => Ok(Statement::Pragma(self.pragma()?)),
                    _ => Ok(Statement::Raw(self.raw()?)),
                }
            }
            _ => Err(self.expected("a statement")),
        }
    }

    fn loc(&mut self) -> PResult<Statement> {
        self.bump();
        let file = self.expect_u32("a file index")?;
        let l = self.expect_u32("a line number")?;
        let col = self.expect_u32("a column number")?;
        let start = self.names.len();
        while self.peek() == Tok::Comma && !self.tok().newline {
            self.names.push(Name::const_new(","));
            self.bump();
            while !self.tok().newline
                && !matches!(
                    self.peek(),
                    Tok::Comma | Tok::Semi | Tok::LBrace | Tok::RBrace | Tok::Eof | Tok::Error
                )
            {
                let t = self.bump();
                self.names.push(Name::new(self.text(t)));
            }
        }
        Ok(Statement::Loc(Loc {
            file,
            line: l,
            col,
            extra: take_from(&mut self.names, start),
        }))
    }

    fn instruction(&mut self) -> PResult<Instruction> {
        let line = self.tok().line;
        let guard = if self.eat(Tok::At) {
            let negated = self.eat(Tok::Bang);
            let pred = Name::new(self.expect_ident("a predicate after `@`")?);
            Some(Guard { negated, pred })
        } else {
            None
        };
        let op = self.tok();
        let name = self.text(op);
        if op.kind != Tok::Ident || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(self.expected("an instruction"));
        }
        self.bump();
        let opcode = Opcode::from_name(name);
        let modifiers = self.modifiers();
        let start = self.ops.len();
        let r = self.operands();
        let operands = take_from(&mut self.ops, start);
        r?;
        Ok(Instruction {
            guard,
            opcode,
            modifiers,
            operands,
            line,
        })
    }

    /// The dot-modifiers after an opcode. Written without blanks between them
    /// (`ld.global.u32`), they are one slice of the source, copied once.
    fn modifiers(&mut self) -> Modifiers {
        let mut mods = Modifiers::new();
        // The byte range of the current run of adjacent modifier tokens, dots included.
        let mut run: Option<(usize, usize)> = None;
        while self.peek() == Tok::Dot {
            let t = self.bump();
            let (start, end) = (t.start as usize, t.end as usize);
            match &mut run {
                Some((_, e)) if *e == start => *e = end,
                _ => {
                    if let Some((s, e)) = run {
                        mods.push_dotted(&self.src[s + 1..e]);
                    }
                    run = Some((start, end));
                }
            }
        }
        if let Some((s, e)) = run {
            mods.push_dotted(&self.src[s + 1..e]);
        }
        mods
    }

    /// An instruction's operands up to and including its `;`, pushed on the operand
    /// stack.
    fn operands(&mut self) -> PResult<()> {
        if self.eat(Tok::Semi) {
            return Ok(());
        }
        loop {
            let op = self.operand(0)?;
            self.ops.push(op);
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::Semi => {
                    self.bump();
                    return Ok(());
                }
                _ => return Err(self.expected("`,` or `;` after operand")),
            }
        }
    }

    /// Operands separated by commas from the opening token up to `close` (consumed).
    fn operand_list(&mut self, close: Tok, what: &str, depth: usize) -> PResult<Vec<Operand>> {
        self.bump();
        let start = self.ops.len();
        let r = self.operand_items(close, what, depth);
        let out = take_from(&mut self.ops, start);
        r.map(|()| out)
    }

    /// The items of [`Parser::operand_list`], pushed on the operand stack.
    fn operand_items(&mut self, close: Tok, what: &str, depth: usize) -> PResult<()> {
        if self.eat(close) {
            return Ok(());
        }
        loop {
            let op = self.operand(depth + 1)?;
            self.ops.push(op);
            if self.eat(close) {
                return Ok(());
            }
            self.expect(Tok::Comma, what)?;
        }
    }

    pub(super) fn operand(&mut self, depth: usize) -> PResult<Operand> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let t = self.tok();
        match t.kind {
            Tok::LBrace => Ok(Operand::Vector(self.operand_list(
                Tok::RBrace,
                "`,` or `}` in vector operand",
                depth,
            )?)),
            Tok::LParen => Ok(Operand::List(self.operand_list(
                Tok::RParen,
                "`,` or `)` in operand list",
                depth,
            )?)),
            Tok::LBracket => self.address(),
            Tok::Bang => {
                self.bump();
                Ok(Operand::Not(Name::new(
                    self.expect_ident("a predicate after `!`")?,
                )))
            }
            Tok::Minus => {
                self.bump();
                self.number(true)
            }
            Tok::Int | Tok::F32 | Tok::F64 | Tok::Decimal => self.number(false),
            Tok::Ident => {
                self.bump();
                let name = self.text(t);
                if name == "_" {
                    return Ok(Operand::Sink);
                }
                let mut comp = None;
                if self.peek() == Tok::Dot {
                    let c = self.tok();
                    match component(self.text(c)) {
                        Some(x) => comp = Some(x),
                        None => {
                            let msg = format!("unknown vector component `{}`", self.text(c));
                            return Err(self.error_at(c, msg));
                        }
                    }
                    self.bump();
                }
                if comp.is_none() {
                    if self.eat(Tok::Pipe) {
                        let b = self.expect_ident("a predicate after `|`")?;
                        return Ok(Operand::Pair(Name::new(name), Name::new(b)));
                    }
                    if let Some(offset) = self.opt_offset()? {
                        return Ok(Operand::SymOffset {
                            name: Name::new(name),
                            offset,
                        });
                    }
                }
                Ok(Operand::Name {
                    name: Name::new(name),
                    comp,
                })
            }
            _ => Err(self.expected("an operand")),
        }
    }

    fn number(&mut self, negative: bool) -> PResult<Operand> {
        let t = self.tok();
        let text = self.text(t);
        let imm = match t.kind {
            Tok::Int => match int_literal(text) {
                Some((value, radix, unsigned)) => Imm::Int {
                    value,
                    negative,
                    radix,
                    unsigned,
                },
                None => {
                    let msg = format!("integer literal `{text}` is out of range");
                    return Err(self.error_at(t, msg));
                }
            },
            Tok::F32 | Tok::F64 if negative => {
                let msg = format!("hexadecimal float `{text}` cannot be negated");
                return Err(self.error_at(t, msg));
            }
            Tok::F32 => Imm::F32(u32::from_str_radix(&text[2..], 16).unwrap_or(0)),
            Tok::F64 => Imm::F64(u64::from_str_radix(&text[2..], 16).unwrap_or(0)),
            Tok::Decimal if negative => Imm::Decimal(compact_str::format_compact!("-{text}")),
            Tok::Decimal => Imm::Decimal(Name::new(text)),
            _ => return Err(self.expected("a number")),
        };
        self.bump();
        Ok(Operand::Imm(imm))
    }

    fn address(&mut self) -> PResult<Operand> {
        self.bump();
        let t = self.tok();
        let base = match t.kind {
            Tok::Ident => AddrBase::Name(Name::new(self.text(t))),
            Tok::Int => match int_literal(self.text(t)) {
                Some((v, _, _)) => AddrBase::Imm(v),
                None => {
                    let msg = format!("address `{}` is out of range", self.text(t));
                    return Err(self.error_at(t, msg));
                }
            },
            _ => return Err(self.expected("a register, symbol or address in `[ ]`")),
        };
        self.bump();
        let offset = self.opt_offset()?.unwrap_or(0);
        self.expect(Tok::RBracket, "`]` closing the address")?;
        Ok(Operand::Addr(Address { base, offset }))
    }
}
