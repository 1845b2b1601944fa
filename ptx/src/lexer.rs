//! The PTX lexer: a hand-written scanner over borrowed text.
//!
//! Tokens carry no owned data: each is a kind, its byte range, its 1-based line and
//! whether a line break precedes it, so the parser slices the source for the text.
//! Comments and blanks (line breaks included) are skipped; characters that start no
//! token become [`Tok::Error`] tokens, which the parser reports with their position.
//! [`Lexer`] streams tokens in chunks, so memory stays proportional to the statement
//! being parsed, not to the input.
//!
//! The token grammar (as regular expressions; the longest match wins, and a match that
//! cannot be completed falls back to its longest complete prefix, as `0f3F` lexes as
//! the integer `0` and the identifier `f3F`):
//!
//! | token | pattern |
//! |---|---|
//! | blanks (skipped) | `[ \t\r\n\x0c]+` |
//! | comments (skipped) | `//[^\n]*`, `/* ... */` |
//! | [`Tok::Ident`] | `[a-zA-Z_$%][a-zA-Z0-9_$]*` |
//! | [`Tok::Dot`] | `\.[a-zA-Z0-9_$]+(::[a-zA-Z0-9_$]+)*` |
//! | [`Tok::Int`] | `[0-9]+U?`, `0[xX][0-9a-fA-F]+U?`, `0[bB][01]+U?` |
//! | [`Tok::F32`], [`Tok::F64`] | `0[fF][0-9a-fA-F]{8}`, `0[dD][0-9a-fA-F]{16}` |
//! | [`Tok::Decimal`] | `[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?`, `[0-9]+[eE][+-]?[0-9]+` |
//! | [`Tok::Str`] | `"([^"\\\n]\|\\[^\n])*"` |
//! | punctuation | one of `, ; : { } ( ) [ ] < > + - ! @ \| =` |
//!
//! An unterminated `/*` comment is one error token running to the end of the input; an
//! unterminated string is one error token up to its line break, the end of the input
//! or a `\` that escapes nothing; any other character that starts no token is an error
//! token of that one character.
//!
//! It replaced a `logos` DFA of the same grammar (checked token for token against it, when
//! it was replaced, on the corpus and a million random inputs; the corner cases are unit
//! tests below). Alone they scan at about the same speed
//! (250–300 MB/s on the benchmark machine); this one also gives each token its line and
//! whether a line break precedes it, which replaced the parser's own pass over the text
//! for line numbers, and it takes a proc-macro dependency out of the build.

/// A token kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An identifier: register, label, symbol, opcode (`%r1`, `$L__BB0_2`, `ld`).
    Ident,
    /// A dot-word: directive, modifier or component (`.reg`, `.u32`, `.shared::cta`, `.x`).
    Dot,
    /// An integer literal: decimal, octal, hexadecimal or binary, optional `U` suffix.
    Int,
    /// `0fXXXXXXXX`
    F32,
    /// `0dXXXXXXXXXXXXXXXX`
    F64,
    /// A decimal floating-point literal (`1.0`, `1.5e-3`, `2e8`).
    Decimal,
    /// A string literal.
    Str,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `:`
    Colon,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `!`
    Bang,
    /// `@`
    At,
    /// `|`
    Pipe,
    /// `=`
    Eq,
    /// Text that starts no token (reported by the parser).
    Error,
    /// The end of the input (one sentinel token at the end of every token list).
    Eof,
}

/// One token: kind, byte range in the source, line, and whether a line break separates
/// it from the token before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    /// A line break (possibly inside a comment) lies between the previous token and
    /// this one.
    pub newline: bool,
    pub start: u32,
    pub end: u32,
    /// The 1-based line of the token's first character.
    pub line: u32,
}

/// Bytes that may continue an identifier or a dot-word: `[a-zA-Z0-9_$]`.
static WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
        b += 1;
    }
    t
};

/// The end of the run of bytes from `i` on that satisfy `f` (`i` if there is none).
#[inline]
fn run(s: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < s.len() && f(s[i]) {
        i += 1;
    }
    i
}

/// The end of the word (`[a-zA-Z0-9_$]*`) starting at `i`.
#[inline]
fn word_end(s: &[u8], i: usize) -> usize {
    run(s, i, |c| WORD[c as usize])
}

/// The byte at `i`, or 0 past the end (0 continues no token).
#[inline]
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// The number of `\n` bytes in `b`, eight bytes at a time.
pub(crate) fn count_newlines(b: &[u8]) -> u32 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut n = 0;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0; 8];
        w.copy_from_slice(c);
        // Bytes equal to `\n` become zero; flag exactly the zero bytes with their high
        // bit (no carries between bytes: the low seven bits are added separately).
        let x = u64::from_le_bytes(w) ^ (ONES * u64::from(b'\n'));
        let zero = !(((x & !HIGH) + !HIGH) | x) & HIGH;
        n += zero.count_ones();
    }
    n + chunks.remainder().iter().filter(|&&c| c == b'\n').count() as u32
}

/// A streaming lexer: [`Lexer::next_chunk`] appends up to `n` tokens, and after the
/// last one a single [`Tok::Eof`] token.
pub(crate) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// The 1-based line at `pos`.
    line: u32,
    done: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer over `src`; inputs longer than `u32::MAX` bytes are cut at that length
    /// (positions are 32-bit).
    pub fn new(src: &'a str) -> Lexer<'a> {
        let text = if src.len() > u32::MAX as usize {
            let mut cut = u32::MAX as usize;
            while !src.is_char_boundary(cut) {
                cut -= 1;
            }
            &src[..cut]
        } else {
            src
        };
        Lexer {
            text,
            pos: 0,
            line: 1,
            done: false,
        }
    }

    /// Whether the [`Tok::Eof`] token has been produced.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Appends up to `n` tokens to `out` (the last chunk ends with [`Tok::Eof`]).
    pub fn next_chunk(&mut self, out: &mut Vec<Token>, n: usize) {
        if self.done {
            return;
        }
        out.reserve(n);
        // The scan state lives in locals for the whole chunk (this is the hot loop).
        let text = self.text;
        let s = text.as_bytes();
        let (mut pos, mut line) = (self.pos, self.line);
        let mut done = false;
        for _ in 0..n {
            let mut newline = false;
            // Line breaks inside the token (only an unterminated comment has any).
            let mut inside = 0;
            // One dispatch per byte: blanks and comments loop, a token breaks out.
            let (kind, start, end) = loop {
                let Some(&c) = s.get(pos) else {
                    done = true;
                    break (Tok::Eof, pos, pos);
                };
                match CLASS[c as usize] {
                    BLANK => pos += 1,
                    NEWLINE => {
                        pos += 1;
                        line += 1;
                        newline = true;
                    }
                    IDENT => break (Tok::Ident, pos, word_end(s, pos + 1)),
                    PUNCT => break (PUNCT_KIND[c as usize], pos, pos + 1),
                    DOT => {
                        let (k, e) = dot(s, pos);
                        break (k, pos, e);
                    }
                    DIGIT => {
                        let (k, e) = number(s, pos);
                        break (k, pos, e);
                    }
                    QUOTE => {
                        let (k, e) = string(s, pos);
                        break (k, pos, e);
                    }
                    // Up to the line break, which is a blank.
                    SLASH if at(s, pos + 1) == b'/' => {
                        pos = text[pos..].find('\n').map_or(s.len(), |i| pos + i);
                    }
                    SLASH if at(s, pos + 1) == b'*' => match text[pos + 2..].find("*/") {
                        Some(i) => {
                            let k = count_newlines(&s[pos + 2..pos + 2 + i]);
                            line += k;
                            newline |= k > 0;
                            pos += i + 4;
                        }
                        // Unterminated: an error token to the end of the input.
                        None => {
                            inside = count_newlines(&s[pos..]);
                            break (Tok::Error, pos, s.len());
                        }
                    },
                    // One whole character (a lone `/` included).
                    _ => {
                        let width = text[pos..].chars().next().map_or(1, char::len_utf8);
                        break (Tok::Error, pos, pos + width);
                    }
                }
            };
            out.push(Token {
                kind,
                newline,
                start: start as u32,
                end: end as u32,
                line,
            });
            line += inside;
            pos = end;
            if done {
                break;
            }
        }
        (self.pos, self.line, self.done) = (pos, line, done);
    }
}

/// Byte classes of the scan.
const OTHER: u8 = 0;
const BLANK: u8 = 1;
const NEWLINE: u8 = 2;
const SLASH: u8 = 3;
const IDENT: u8 = 4;
const DIGIT: u8 = 5;
const DOT: u8 = 6;
const QUOTE: u8 = 7;
const PUNCT: u8 = 8;

static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b' ' | b'\t' | b'\r' | b'\x0c' => BLANK,
            b'\n' => NEWLINE,
            b'/' => SLASH,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' | b'%' => IDENT,
            b'0'..=b'9' => DIGIT,
            b'.' => DOT,
            b'"' => QUOTE,
            c => {
                if !matches!(punct(c), Tok::Error) {
                    PUNCT
                } else {
                    OTHER
                }
            }
        };
        b += 1;
    }
    t
};

/// The token of each punctuation byte ([`Tok::Error`] for other bytes).
static PUNCT_KIND: [Tok; 256] = {
    let mut t = [Tok::Error; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = punct(b as u8);
        b += 1;
    }
    t
};

const fn punct(c: u8) -> Tok {
    match c {
        b',' => Tok::Comma,
        b';' => Tok::Semi,
        b':' => Tok::Colon,
        b'{' => Tok::LBrace,
        b'}' => Tok::RBrace,
        b'(' => Tok::LParen,
        b')' => Tok::RParen,
        b'[' => Tok::LBracket,
        b']' => Tok::RBracket,
        b'<' => Tok::Lt,
        b'>' => Tok::Gt,
        b'+' => Tok::Plus,
        b'-' => Tok::Minus,
        b'!' => Tok::Bang,
        b'@' => Tok::At,
        b'|' => Tok::Pipe,
        b'=' => Tok::Eq,
        _ => Tok::Error,
    }
}

/// `\.[a-zA-Z0-9_$]+(::[a-zA-Z0-9_$]+)*` at `start`, or a lone `.` (an error).
fn dot(s: &[u8], start: usize) -> (Tok, usize) {
    let mut end = word_end(s, start + 1);
    if end == start + 1 {
        return (Tok::Error, start + 1);
    }
    while at(s, end) == b':' && at(s, end + 1) == b':' {
        let e = word_end(s, end + 2);
        if e == end + 2 {
            break;
        }
        end = e;
    }
    (Tok::Dot, end)
}

/// A number at `start` (a digit).
fn number(s: &[u8], start: usize) -> (Tok, usize) {
    let hex = |c: u8| c.is_ascii_hexdigit();
    let with_u = |e: usize| if at(s, e) == b'U' { e + 1 } else { e };
    if s[start] == b'0' {
        let body = start + 2;
        match at(s, start + 1) {
            b'x' | b'X' => {
                let e = run(s, body, hex);
                if e > body {
                    return (Tok::Int, with_u(e));
                }
            }
            b'b' | b'B' => {
                let e = run(s, body, |c| c == b'0' || c == b'1');
                if e > body {
                    return (Tok::Int, with_u(e));
                }
            }
            b'f' | b'F' if run(s, body, hex) >= body + 8 => return (Tok::F32, body + 8),
            b'd' | b'D' if run(s, body, hex) >= body + 16 => return (Tok::F64, body + 16),
            _ => {}
        }
    }
    let digits = |i: usize| run(s, i, |c| c.is_ascii_digit());
    // `[eE][+-]?[0-9]+` at `i`: its end, if complete.
    let exponent = |i: usize| {
        if !matches!(at(s, i), b'e' | b'E') {
            return None;
        }
        let j = if matches!(at(s, i + 1), b'+' | b'-') {
            i + 2
        } else {
            i + 1
        };
        let k = digits(j);
        (k > j).then_some(k)
    };
    let end = digits(start);
    if at(s, end) == b'.' {
        let frac = digits(end + 1);
        return (Tok::Decimal, exponent(frac).unwrap_or(frac));
    }
    match exponent(end) {
        Some(e) => (Tok::Decimal, e),
        None => (Tok::Int, with_u(end)),
    }
}

/// A string literal at `start` (a `"`); unterminated, an error token (see the module
/// documentation).
fn string(s: &[u8], start: usize) -> (Tok, usize) {
    let mut i = start + 1;
    loop {
        match s.get(i) {
            Some(b'"') => return (Tok::Str, i + 1),
            Some(b'\\') if !matches!(s.get(i + 1), None | Some(b'\n')) => i += 2,
            // The error stops before a `\` that escapes nothing. The scan stops at an
            // ASCII byte or the end: a character boundary.
            None | Some(b'\n' | b'\\') => return (Tok::Error, i),
            Some(_) => i += 1,
        }
    }
}

/// All tokens of `src`, ending with one [`Tok::Eof`] token.
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
    fn incomplete_matches_fall_back_to_their_longest_complete_prefix() {
        use Tok::*;
        let cases: &[(&str, &[(Tok, &str)])] = &[
            ("0f3F8", &[(Int, "0"), (Ident, "f3F8")]),
            ("0f3F8000001", &[(F32, "0f3F800000"), (Int, "1")]),
            ("0x", &[(Int, "0"), (Ident, "x")]),
            ("0b12", &[(Int, "0b1"), (Int, "2")]),
            ("00x1", &[(Int, "00"), (Ident, "x1")]),
            ("1.5e", &[(Decimal, "1.5"), (Ident, "e")]),
            ("1e+", &[(Int, "1"), (Ident, "e"), (Plus, "+")]),
            ("1.", &[(Decimal, "1.")]),
            ("2e8U", &[(Decimal, "2e8"), (Ident, "U")]),
            ("1U.5", &[(Int, "1U"), (Dot, ".5")]),
            (".a::", &[(Dot, ".a"), (Colon, ":"), (Colon, ":")]),
            (".a::b::c", &[(Dot, ".a::b::c")]),
            ("%%1", &[(Ident, "%"), (Ident, "%1")]),
        ];
        for (src, expect) in cases {
            assert_eq!(kinds(src), *expect, "{src:?}");
        }
    }

    #[test]
    fn error_tokens_cover_what_starts_no_token() {
        use Tok::*;
        let cases: &[(&str, &[(Tok, &str)])] = &[
            ("\"ab\ncd", &[(Error, "\"ab"), (Ident, "cd")]),
            ("\"a\\", &[(Error, "\"a"), (Error, "\\")]),
            ("\"a\\\"b\"", &[(Str, "\"a\\\"b\"")]),
            (". x", &[(Error, "."), (Ident, "x")]),
            ("x.é", &[(Ident, "x"), (Error, "."), (Error, "é")]),
            ("a / b", &[(Ident, "a"), (Error, "/"), (Ident, "b")]),
            ("\x0b", &[(Error, "\x0b")]),
        ];
        for (src, expect) in cases {
            assert_eq!(kinds(src), *expect, "{src:?}");
        }
    }

    #[test]
    fn tokens_know_their_line_and_the_line_break_before_them() {
        let src = "a\n/* x\n*/ b c\n// d\ne /* never closed\n\n";
        let got: Vec<(u32, bool)> = lex(src).iter().map(|t| (t.line, t.newline)).collect();
        // a, b, c, e, the unterminated comment, end of input.
        assert_eq!(
            got,
            [
                (1, false),
                (3, true),
                (3, false),
                (5, true),
                (5, false),
                (7, false)
            ]
        );
    }

    #[test]
    fn newlines_are_counted_exactly() {
        let text: Vec<u8> = (0..300u32)
            .map(|i| {
                if i % 7 == 0 || i % 11 == 3 {
                    b'\n'
                } else {
                    (i % 251) as u8
                }
            })
            .collect();
        for a in 0..40 {
            for b in (a..text.len()).step_by(13) {
                let slow = text[a..b].iter().filter(|&&c| c == b'\n').count() as u32;
                assert_eq!(count_newlines(&text[a..b]), slow, "{a}..{b}");
            }
        }
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
