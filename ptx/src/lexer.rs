//! The PTX lexer: a `logos` DFA over borrowed text.
//!
//! Tokens carry no owned data: each is a kind plus its byte range and 1-based line, so
//! the parser can slice the source for the text and group `.section` contents by line.
//! Comments and whitespace are skipped; characters that start no token become
//! [`Tok::Error`] tokens, which the parser reports with their position.

use logos::{Lexer, Logos, Skip};

/// Line bookkeeping carried through the lexer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineState {
    /// The current 1-based line.
    line: u32,
}

impl Default for LineState {
    fn default() -> Self {
        LineState { line: 1 }
    }
}

fn newline(lex: &mut Lexer<'_, Tok>) -> Skip {
    lex.extras.line += 1;
    Skip
}

fn block_comment(lex: &mut Lexer<'_, Tok>) -> Skip {
    let n = lex.slice().bytes().filter(|&b| b == b'\n').count();
    lex.extras.line += n as u32;
    Skip
}

/// A token kind.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(extras = LineState)]
#[logos(skip r"[ \t\r\x0c]+")]
#[logos(skip r"//[^\n]*")]
pub(crate) enum Tok {
    /// A line break (skipped; counts lines).
    #[token("\n", newline)]
    Newline,
    /// A block comment (skipped; counts lines).
    #[regex(r"/\*([^*]|\*+[^*/])*\*+/", block_comment)]
    BlockComment,
    /// An identifier: register, label, symbol, opcode (`%r1`, `$L__BB0_2`, `ld`).
    #[regex(r"[a-zA-Z_$%][a-zA-Z0-9_$]*")]
    Ident,
    /// A dot-word: directive, modifier or component (`.reg`, `.u32`, `.shared::cta`, `.x`).
    #[regex(r"\.[a-zA-Z0-9_$]+(::[a-zA-Z0-9_$]+)*")]
    Dot,
    /// An integer literal: decimal, octal, hexadecimal or binary, optional `U` suffix.
    #[regex(r"[0-9]+U?")]
    #[regex(r"0[xX][0-9a-fA-F]+U?")]
    #[regex(r"0[bB][01]+U?")]
    Int,
    /// `0fXXXXXXXX`
    #[regex(r"0[fF][0-9a-fA-F]{8}")]
    F32,
    /// `0dXXXXXXXXXXXXXXXX`
    #[regex(r"0[dD][0-9a-fA-F]{16}")]
    F64,
    /// A decimal floating-point literal (`1.0`, `1.5e-3`, `2e8`).
    #[regex(r"[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?")]
    #[regex(r"[0-9]+[eE][+-]?[0-9]+")]
    Decimal,
    /// A string literal.
    #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
    Str,
    /// `,`
    #[token(",")]
    Comma,
    /// `;`
    #[token(";")]
    Semi,
    /// `:`
    #[token(":")]
    Colon,
    /// `{`
    #[token("{")]
    LBrace,
    /// `}`
    #[token("}")]
    RBrace,
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `<`
    #[token("<")]
    Lt,
    /// `>`
    #[token(">")]
    Gt,
    /// `+`
    #[token("+")]
    Plus,
    /// `-`
    #[token("-")]
    Minus,
    /// `!`
    #[token("!")]
    Bang,
    /// `@`
    #[token("@")]
    At,
    /// `|`
    #[token("|")]
    Pipe,
    /// `=`
    #[token("=")]
    Eq,
    /// Text that starts no token (reported by the parser).
    Error,
    /// The end of the input (one sentinel token at the end of every token list).
    Eof,
}

/// One token: kind, byte range in the source, 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: u32,
    pub end: u32,
    pub line: u32,
}

/// Splits `src` into tokens, ending with one [`Tok::Eof`] token.
///
/// Inputs longer than `u32::MAX` bytes are cut at that length (positions are 32-bit).
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let src = if src.len() > u32::MAX as usize {
        let mut cut = u32::MAX as usize;
        while !src.is_char_boundary(cut) {
            cut -= 1;
        }
        &src[..cut]
    } else {
        src
    };
    let mut out = Vec::with_capacity(src.len() / 4 + 1);
    let mut lx = Tok::lexer(src);
    loop {
        let Some(r) = lx.next() else { break };
        let span = lx.span();
        let kind = r.unwrap_or(Tok::Error);
        let line = lx.extras.line;
        out.push(Token {
            kind,
            start: span.start as u32,
            end: span.end as u32,
            line,
        });
    }
    out.push(Token {
        kind: Tok::Eof,
        start: src.len() as u32,
        end: src.len() as u32,
        line: lx.extras.line,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, &str)> {
        lex(src)
            .into_iter()
            .filter(|t| t.kind != Tok::Eof)
            .map(|t| (t.kind, &src[t.start as usize..t.end as usize]))
            .collect()
    }

    #[test]
    fn instruction_tokens() {
        let k = kinds("@!%p1 ld.global.nc.v4.u32 {%r1,_}, [%rd1+-8]; // x");
        let expect = [
            (Tok::At, "@"),
            (Tok::Bang, "!"),
            (Tok::Ident, "%p1"),
            (Tok::Ident, "ld"),
            (Tok::Dot, ".global"),
            (Tok::Dot, ".nc"),
            (Tok::Dot, ".v4"),
            (Tok::Dot, ".u32"),
            (Tok::LBrace, "{"),
            (Tok::Ident, "%r1"),
            (Tok::Comma, ","),
            (Tok::Ident, "_"),
            (Tok::RBrace, "}"),
            (Tok::Comma, ","),
            (Tok::LBracket, "["),
            (Tok::Ident, "%rd1"),
            (Tok::Plus, "+"),
            (Tok::Minus, "-"),
            (Tok::Int, "8"),
            (Tok::RBracket, "]"),
            (Tok::Semi, ";"),
        ];
        assert_eq!(k, expect);
    }

    #[test]
    fn literals_and_scoped_modifiers() {
        let k = kinds("0x1fU 017 0b101 0f3F800000 0d3FF0000000000000 1.5e-3 8.0 .shared::cta");
        let got: Vec<Tok> = k.iter().map(|x| x.0).collect();
        assert_eq!(
            got,
            [
                Tok::Int,
                Tok::Int,
                Tok::Int,
                Tok::F32,
                Tok::F64,
                Tok::Decimal,
                Tok::Decimal,
                Tok::Dot
            ]
        );
        assert_eq!(k[7].1, ".shared::cta");
    }

    #[test]
    fn lines_are_counted_through_comments() {
        let toks = lex("a\n/* x\n y */ b\n// c\nd");
        let lines: Vec<u32> = toks.iter().map(|t| t.line).collect();
        assert_eq!(lines, [1, 3, 5, 5]);
    }

    #[test]
    fn unknown_characters_become_error_tokens() {
        let k = kinds("a # b");
        assert_eq!(k[1], (Tok::Error, "#"));
    }
}
