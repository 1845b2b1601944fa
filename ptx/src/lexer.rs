//! The PTX lexer: a `logos` DFA over borrowed text.
//!
//! Tokens carry no owned data and no line: each is a kind plus its byte range, so the
//! parser slices the source for the text and computes lines only where it needs them.
//! Comments and whitespace (line breaks included) are skipped; characters that start no
//! token become [`Tok::Error`] tokens, which the parser reports with their position.
//! [`Lexer`] streams tokens in chunks, so memory stays proportional to the statement
//! being parsed, not to the input.

use logos::{Logos, Skip};

/// Skips a `/* ... */` comment; an unterminated one becomes an error token running to
/// the end of the input.
fn block_comment(lex: &mut logos::Lexer<'_, Tok>) -> Result<Skip, ()> {
    let rest = lex.remainder();
    let Some(end) = rest.find("*/") else {
        lex.bump(rest.len());
        return Err(());
    };
    lex.bump(end + 2);
    Ok(Skip)
}

/// A token kind.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n\x0c]+")]
#[logos(skip r"//[^\n]*")]
pub(crate) enum Tok {
    /// A block comment (skipped).
    #[token("/*", block_comment)]
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

/// One token: kind and byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: u32,
    pub end: u32,
}

/// A streaming lexer: [`Lexer::next_chunk`] appends up to `n` tokens, and after the
/// last one a single [`Tok::Eof`] token.
pub(crate) struct Lexer<'a> {
    inner: logos::Lexer<'a, Tok>,
    len: u32,
    done: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer over `src`; inputs longer than `u32::MAX` bytes are cut at that length
    /// (positions are 32-bit).
    pub fn new(src: &'a str) -> Lexer<'a> {
        let src = if src.len() > u32::MAX as usize {
            let mut cut = u32::MAX as usize;
            while !src.is_char_boundary(cut) {
                cut -= 1;
            }
            &src[..cut]
        } else {
            src
        };
        Lexer {
            inner: Tok::lexer(src),
            len: src.len() as u32,
            done: false,
        }
    }

    /// Whether the [`Tok::Eof`] token has been produced.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Appends up to `n` tokens to `out` (the last chunk ends with [`Tok::Eof`]).
    pub fn next_chunk(&mut self, out: &mut Vec<Token>, n: usize) {
        for _ in 0..n {
            match self.inner.next() {
                Some(r) => {
                    let span = self.inner.span();
                    out.push(Token {
                        kind: r.unwrap_or(Tok::Error),
                        start: span.start as u32,
                        end: span.end as u32,
                    });
                }
                None => {
                    if !self.done {
                        self.done = true;
                        out.push(Token {
                            kind: Tok::Eof,
                            start: self.len,
                            end: self.len,
                        });
                    }
                    return;
                }
            }
        }
    }
}

/// All tokens of `src`, ending with one [`Tok::Eof`] token.
#[cfg(test)]
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let mut lx = Lexer::new(src);
    let mut out = Vec::new();
    while !lx.done() {
        lx.next_chunk(&mut out, 64);
    }
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
    fn comments_are_skipped() {
        let k = kinds("a\n/* x\n y */ b\n// c\nd");
        assert_eq!(k, [(Tok::Ident, "a"), (Tok::Ident, "b"), (Tok::Ident, "d")]);
    }

    #[test]
    fn unknown_characters_become_error_tokens() {
        let k = kinds("a # b");
        assert_eq!(k[1], (Tok::Error, "#"));
        let k = kinds("a /* never closed\nb");
        assert_eq!(k[1], (Tok::Error, "/* never closed\nb"));
        assert_eq!(k.len(), 2);
    }
}
