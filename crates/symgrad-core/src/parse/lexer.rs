//! Splits formula text into tokens with nom's character-level parsers.
//!
//! Lexing never fails: a character that starts no token becomes a
//! [`Tok::Bad`] token carrying its message, so that the parser reports errors
//! in source order (an earlier syntax error wins over a later stray character).

use crate::error::Span;
use crate::num::Num;
use nom::branch::alt;
use nom::bytes::complete::{take_till, take_while, take_while1};
use nom::character::complete::{anychar, char, digit0, digit1, one_of, satisfy};
use nom::combinator::{opt, recognize};
use nom::{IResult, Parser};

/// What a token is. Names and operators keep their text in the source, found
/// through the token's span.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A decimal literal, already converted.
    Num(Num),
    /// A name: a variable, a binding, a function or a constant.
    Ident,
    Plus,
    /// `-` or `−`.
    Minus,
    /// `*`, `·`, `⋅` or `×`.
    Star,
    Slash,
    /// `^` or `**`.
    Caret,
    LParen,
    RParen,
    Comma,
    Eq,
    /// `@`, the matrix product of network files (a stray character in formulas).
    At,
    /// `[`, which opens a shape in network files (a stray character in formulas).
    LBracket,
    /// `]`.
    RBracket,
    /// A run of superscript digits with an optional leading sign, as a power.
    Sup(Num),
    /// `..`, the range of a recurrence in network files (a stray
    /// character in formulas, whose lexer never makes it).
    DotDot,
    /// A newline or `;`: the end of a statement.
    Sep,
    Eof,
    /// Text that starts no token, with the message to report.
    Bad(String),
}

/// A token, where it is, and whether whitespace or a comment precedes it.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: Tok,
    pub span: Span,
    pub space_before: bool,
}

type Res<'a, O> = IResult<&'a str, O>;

/// `2`, `3.5`, `2.`, `.5`, each with an optional exponent `e-3`. The exponent
/// is only taken when digits follow; [`token`] refuses `2e` and `2e-x` (an
/// exponent without digits) but reads `2e^x` and `2ex` as products.
fn number(i: &str) -> Res<'_, &str> {
    recognize((
        alt((
            recognize((digit1, opt((char('.'), digit0)))),
            recognize((char('.'), digit1)),
        )),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
    ))
    .parse(i)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// Letters, ASCII digits, `_` and subscript digits (`x₁`). Superscript digits
/// are numeric in Unicode but are powers here, so they end a name.
fn is_ident_continue(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || ('₀'..='₉').contains(&c)
}

fn identifier(i: &str) -> Res<'_, &str> {
    recognize((satisfy(is_ident_start), take_while(is_ident_continue))).parse(i)
}

/// The value of a superscript digit.
fn sup_digit(c: char) -> Option<char> {
    match c {
        '⁰' => Some('0'),
        '¹' => Some('1'),
        '²' => Some('2'),
        '³' => Some('3'),
        '⁴'..='⁹' => char::from_u32(u32::from(c) - u32::from('⁴') + u32::from('4')),
        _ => None,
    }
}

fn superscript(i: &str) -> Res<'_, &str> {
    recognize((opt(one_of("⁻⁺")), take_while1(|c| sup_digit(c).is_some()))).parse(i)
}

/// Whitespace other than a newline (which ends a statement).
fn is_space(c: char) -> bool {
    c.is_whitespace() && c != '\n'
}

/// Skips whitespace and `#` comments up to (not including) the end of line.
fn skip_trivia(mut i: &str) -> &str {
    loop {
        let spaces: Res<'_, &str> = take_while(is_space)(i);
        if let Ok((rest, _)) = spaces {
            i = rest;
        }
        let comment: Res<'_, &str> = recognize((char('#'), take_till(|c| c == '\n'))).parse(i);
        match comment {
            Ok((rest, _)) => i = rest,
            Err(_) => return i,
        }
    }
}

/// Reads a decimal literal exactly where it fits, as a float otherwise.
fn decimal(text: &str) -> Option<Num> {
    Num::parse_decimal(text).or_else(|| text.parse::<f64>().ok().map(Num::Float))
}

fn sup_value(text: &str) -> Tok {
    let negative = text.starts_with('⁻');
    let digits: String = text.chars().filter_map(sup_digit).collect();
    match decimal(&digits) {
        Some(n) if negative => Tok::Sup(n.neg()),
        Some(n) => Tok::Sup(n),
        None => Tok::Bad(format!("invalid superscript number '{text}'")),
    }
}

/// The text a parser consumed from `i` to leave `rest`.
///
/// Used instead of `recognize`'s output: in nom 8.0.0 a `recognize` nested in
/// another returned a truncated slice (`"3."` for `"3.5"`) while consuming
/// the whole input, so the consumed length is the reliable measure.
fn consumed<'a>(i: &'a str, rest: &str) -> &'a str {
    i.get(..i.len().saturating_sub(rest.len())).unwrap_or("")
}

/// The next token of `i` (which starts after trivia) and the rest. The first
/// character decides which parser runs, so no token pays for failed attempts.
fn token(i: &str, ranges: bool) -> (Tok, &str) {
    let one: Res<'_, char> = anychar(i);
    let Ok((after, c)) = one else {
        return (Tok::Eof, i);
    };
    if ranges {
        // `1..8`: the integers of a range, not `1.` and `.8`.
        if let Some(rest) = i.strip_prefix("..") {
            return (Tok::DotDot, rest);
        }
        let digits = i.len() - i.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && i[digits..].starts_with("..") {
            let kind = decimal(&i[..digits]).map_or_else(
                || Tok::Bad(format!("invalid number '{}'", &i[..digits])),
                Tok::Num,
            );
            return (kind, &i[digits..]);
        }
    }
    if c.is_ascii_digit() || (c == '.' && i.as_bytes().get(1).is_some_and(u8::is_ascii_digit)) {
        if let Ok((rest, _)) = number(i) {
            let text = consumed(i, rest);
            if let Some(after_e) = rest.strip_prefix(['e', 'E']) {
                // `e` continued by a name, a power or a superscript is the
                // constant or a name times the number (`2e^x`, `2ex`, `2e²`);
                // anything else is an exponent whose digits are missing.
                let continues = after_e.starts_with("**")
                    || after_e.chars().next().is_some_and(|n| {
                        is_ident_continue(n) || n == '^' || n == '⁻' || sup_digit(n).is_some()
                    });
                if !continues {
                    let e = &rest[..1];
                    return (
                        Tok::Bad(format!(
                            "malformed number '{text}{e}': the exponent has no digits \
                             (write {text}{e}3 or {text}{e}-3, or {text}*{e} for {text} times {e})"
                        )),
                        after_e,
                    );
                }
            }
            let kind = decimal(text)
                .map_or_else(|| Tok::Bad(format!("invalid number '{text}'")), Tok::Num);
            return (kind, rest);
        }
    }
    // A Greek constant letter followed by letters is the constant times a
    // name (`2πr` is 2·π·r); the ASCII `pir` stays one name.
    if c == 'π' && after.chars().next().is_some_and(is_ident_start) {
        return (Tok::Ident, after);
    }
    if is_ident_start(c) {
        if let Ok((rest, _)) = identifier(i) {
            return (Tok::Ident, rest);
        }
    }
    if sup_digit(c).is_some() || c == '⁻' || c == '⁺' {
        if let Ok((rest, _)) = superscript(i) {
            return (sup_value(consumed(i, rest)), rest);
        }
    }
    if let Some(rest) = i.strip_prefix("**") {
        return (Tok::Caret, rest);
    }
    let kind = match c {
        '+' => Tok::Plus,
        '-' | '−' => Tok::Minus,
        '*' | '·' | '⋅' | '×' => Tok::Star,
        '/' => Tok::Slash,
        '^' => Tok::Caret,
        '(' => Tok::LParen,
        ')' => Tok::RParen,
        ',' => Tok::Comma,
        '=' => Tok::Eq,
        '@' => Tok::At,
        '[' => Tok::LBracket,
        ']' => Tok::RBracket,
        '\n' | ';' => Tok::Sep,
        '⁻' | '⁺' => Tok::Bad(format!("expected superscript digits after '{c}'")),
        c if c.is_control() => Tok::Bad(format!("unexpected character U+{:04X}", u32::from(c))),
        c => Tok::Bad(format!("unexpected character '{c}'")),
    };
    (kind, after)
}

/// Every token of `src`, ending with exactly one [`Tok::Eof`].
pub(crate) fn lex(src: &str) -> Vec<Token> {
    lex_with(src, false)
}

/// [`lex`] for network files: `..` is a token ([`Tok::DotDot`]) and an
/// integer right before it is not read as a decimal (`1..8`).
pub(crate) fn lex_network(src: &str) -> Vec<Token> {
    lex_with(src, true)
}

fn lex_with(src: &str, ranges: bool) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = src;
    loop {
        let after_trivia = skip_trivia(rest);
        let space_before = after_trivia.len() != rest.len();
        let start = src.len() - after_trivia.len();
        let (kind, next) = token(after_trivia, ranges);
        let end = src.len() - next.len();
        let done = kind == Tok::Eof;
        tokens.push(Token {
            kind,
            span: Span::new(start, end),
            space_before,
        });
        if done {
            return tokens;
        }
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn numbers_take_an_exponent_only_before_digits() {
        assert_eq!(kinds("2ex"), [Tok::Num(Num::int(2)), Tok::Ident, Tok::Eof]);
        assert!(matches!(kinds("2e")[0], Tok::Bad(_)));
        assert_eq!(
            kinds("1e-3"),
            [Tok::Num(Num::Rational((1, 1000).into())), Tok::Eof]
        );
        assert_eq!(
            kinds(".5"),
            [Tok::Num(Num::Rational((1, 2).into())), Tok::Eof]
        );
        assert_eq!(kinds("2."), [Tok::Num(Num::int(2)), Tok::Eof]);
    }

    #[test]
    fn superscripts_end_names() {
        assert_eq!(kinds("x²³"), [Tok::Ident, Tok::Sup(Num::int(23)), Tok::Eof]);
        assert_eq!(kinds("x⁻¹"), [Tok::Ident, Tok::Sup(Num::int(-1)), Tok::Eof]);
        assert_eq!(kinds("θ₁ # note\n"), [Tok::Ident, Tok::Sep, Tok::Eof]);
    }
}
