//! Parser for RFC 7644 §3.4.2.2 filters and attribute paths, built from winnow combinators.
//!
//! Every point where the grammar commits goes through [`expect`], which rewinds to the
//! start of the missing piece and records what belonged there, so errors point at the
//! offending byte rather than wherever backtracking happened to stop.

use std::str::FromStr;

use serde_json::Number;
use winnow::ascii::{Caseless, digit0, digit1};
use winnow::combinator::{alt, eof, not, opt, peek, preceded, terminated};
use winnow::error::{ErrMode, ModalResult, ParserError};
use winnow::prelude::*;
use winnow::stream::Stream;
use winnow::token::{any, one_of, take, take_while};

use super::ast::{CompValue, CompareOp, Filter};
use super::error::{FilterError, Subject};
use crate::scim::path::{AttrPath, PatchPath};

/// Longest input accepted, in bytes. Real IdP filters are a few hundred bytes; the cap
/// also bounds how long the left-nested `and`/`or` chains that printing, evaluation and
/// drop recurse over can get.
pub const MAX_LEN: usize = 8192;
/// Deepest nesting of `( )`, `not ( )` and `[ ]` accepted, so hostile input cannot
/// overflow the parser's stack.
pub const MAX_DEPTH: usize = 64;

const TOO_LONG: &str = "input is longer than 8192 bytes";
const TOO_DEEP: &str = "parentheses and brackets nest more than 64 levels deep";
const START: &str = "expected an attribute name, '(' or 'not ('";
const ATTR: &str = "expected an attribute name";
const URN_ATTR: &str = "expected an attribute name after the schema URN";
const SUB_ATTR: &str = "expected a sub-attribute name after '.'";
const OPERATOR: &str = "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
const VALUE: &str = "expected a value (a JSON string, a number, true, false or null)";
const UNTERMINATED: &str = "expected a closing '\"' for this string";
const ESCAPE: &str =
    "expected an escape sequence (\\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)";
const NUMBER_RANGE: &str = "number is too large";
const NESTED_VALUE_FILTER: &str = "value filters ('[...]') cannot be nested";
const CLOSE_PAREN: &str = "expected 'and', 'or' or ')'";
const CLOSE_BRACKET: &str = "expected 'and', 'or' or ']'";
const END_FILTER: &str = "expected 'and', 'or' or the end of the filter";
const END_PATH: &str = "expected the end of the path";

type Input<'i> = &'i str;
type Checkpoint<'i> = <Input<'i> as Stream>::Checkpoint;
type PResult<T> = ModalResult<T, Syntax>;

/// Error payload: what was expected, once [`expect`] has named it.
#[derive(Debug, Clone, Copy)]
struct Syntax(Option<&'static str>);

impl<'i> ParserError<Input<'i>> for Syntax {
    type Inner = Self;

    fn from_input(_: &Input<'i>) -> Self {
        Self(None)
    }

    fn into_inner(self) -> Result<Self, Self> {
        Ok(self)
    }
}

/// Parses a `filter` expression (RFC 7644 §3.4.2.2).
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    run(input, Subject::Filter, END_FILTER, |i: &mut Input<'_>| {
        or_expr(i, 0, false)
    })
}

/// Parses `[urn:...:]attr[.sub]`, as used by `sortBy` and `attributes`.
pub(crate) fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    run(input, Subject::Path, END_PATH, token(ATTR, attr_path))
}

/// Parses a PATCH `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath ["." subAttr]`.
pub(crate) fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    run(input, Subject::Path, END_PATH, patch_path)
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_filter(s)
    }
}

/// Runs `p` over the whole of `input`, allowing surrounding whitespace.
fn run<'i, O>(
    input: &'i str,
    subject: Subject,
    end: &'static str,
    p: impl Parser<Input<'i>, O, ErrMode<Syntax>>,
) -> Result<O, FilterError> {
    if input.len() > MAX_LEN {
        return Err(FilterError::new(subject, MAX_LEN, TOO_LONG));
    }
    terminated(p, token(end, eof)).parse(input).map_err(|e| {
        let message = e.inner().0.unwrap_or("unexpected input");
        FilterError::new(subject, e.offset(), message)
    })
}

fn cut(what: &'static str) -> ErrMode<Syntax> {
    ErrMode::Cut(Syntax(Some(what)))
}

fn backtrack() -> ErrMode<Syntax> {
    ErrMode::Backtrack(Syntax(None))
}

/// Runs `p`; if it fails without having committed, rewinds to where it started and
/// commits to "`what`" there.
fn expect<'i, O>(
    what: &'static str,
    mut p: impl Parser<Input<'i>, O, ErrMode<Syntax>>,
) -> impl Parser<Input<'i>, O, ErrMode<Syntax>> {
    move |i: &mut Input<'i>| {
        let start = i.checkpoint();
        p.parse_next(i).map_err(|e| match e {
            ErrMode::Backtrack(_) => {
                i.reset(&start);
                cut(what)
            }
            e => e,
        })
    }
}

/// [`expect`] after skipping whitespace, so errors point at the token, not the blank.
fn token<'i, O>(
    what: &'static str,
    p: impl Parser<Input<'i>, O, ErrMode<Syntax>>,
) -> impl Parser<Input<'i>, O, ErrMode<Syntax>> {
    preceded(ws, expect(what, p))
}

/// Any amount of whitespace: RFC 7644 asks for single spaces, clients send more.
fn ws(i: &mut Input<'_>) -> PResult<()> {
    take_while(0.., [' ', '\t', '\r', '\n'])
        .void()
        .parse_next(i)
}

/// `nameChar` of RFC 7643 §2.1, plus ALPHA.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Keywords must not run into a following name (`orb` is not `or` then `b`).
fn boundary(i: &mut Input<'_>) -> PResult<()> {
    not(one_of(is_name_char)).parse_next(i)
}

fn keyword<'i>(word: &'static str) -> impl Parser<Input<'i>, (), ErrMode<Syntax>> {
    (Caseless(word), boundary).void()
}

/// `and`-terms separated by `or`, which binds loosest and associates left.
fn or_expr(i: &mut Input<'_>, depth: usize, in_brackets: bool) -> PResult<Filter> {
    let mut lhs = and_expr(i, depth, in_brackets)?;
    while opt((ws, keyword("or"))).parse_next(i)?.is_some() {
        let rhs = and_expr(i, depth, in_brackets)?;
        lhs = Filter::Or(Box::new(lhs), Box::new(rhs));
    }
    Ok(lhs)
}

fn and_expr(i: &mut Input<'_>, depth: usize, in_brackets: bool) -> PResult<Filter> {
    let mut lhs = unary(i, depth, in_brackets)?;
    while opt((ws, keyword("and"))).parse_next(i)?.is_some() {
        let rhs = unary(i, depth, in_brackets)?;
        lhs = Filter::And(Box::new(lhs), Box::new(rhs));
    }
    Ok(lhs)
}

/// `not ( f )`, `( f )` or an attribute expression.
fn unary(i: &mut Input<'_>, depth: usize, in_brackets: bool) -> PResult<Filter> {
    ws(i)?;
    let opener = i.checkpoint();
    // `not` is only the operator when a '(' follows, so an attribute may be called `not`.
    if opt((Caseless("not"), ws, '(')).parse_next(i)?.is_some() {
        let inner = nested(i, &opener, depth, in_brackets, ')', CLOSE_PAREN)?;
        return Ok(Filter::Not(Box::new(inner)));
    }
    if opt('(').parse_next(i)?.is_some() {
        return nested(i, &opener, depth, in_brackets, ')', CLOSE_PAREN);
    }
    let path = expect(START, attr_path).parse_next(i)?;
    attr_expr(i, path, depth, in_brackets)
}

/// The filter inside a group, after its opener (at `opener`), through `close`.
fn nested<'i>(
    i: &mut Input<'i>,
    opener: &Checkpoint<'i>,
    depth: usize,
    in_brackets: bool,
    close: char,
    close_msg: &'static str,
) -> PResult<Filter> {
    if depth >= MAX_DEPTH {
        i.reset(opener);
        return Err(cut(TOO_DEEP));
    }
    let filter = or_expr(i, depth + 1, in_brackets)?;
    token(close_msg, close).parse_next(i)?;
    Ok(filter)
}

/// What follows an attribute path: `pr`, `op value`, or `[value filter]`.
fn attr_expr(
    i: &mut Input<'_>,
    path: AttrPath,
    depth: usize,
    in_brackets: bool,
) -> PResult<Filter> {
    ws(i)?;
    let opener = i.checkpoint();
    if path.sub.is_some() || opt('[').parse_next(i)?.is_none() {
        return predicate(i, path);
    }
    if in_brackets {
        i.reset(&opener);
        return Err(cut(NESTED_VALUE_FILTER));
    }
    let inner = nested(i, &opener, depth, true, ']', CLOSE_BRACKET)?;
    let filter = match opt(preceded('.', expect(SUB_ATTR, attr_name))).parse_next(i)? {
        // Entra ID sends `emails[type eq "work"].value eq "x"`, which RFC 7644's filter
        // grammar lacks. It asks for an email that is work and has value x, which the
        // grammar spells `emails[type eq "work" and value eq "x"]`, so that is the AST.
        Some(sub) => {
            let tail = predicate(
                i,
                AttrPath {
                    urn: None,
                    name: sub,
                    sub: None,
                },
            )?;
            Filter::And(Box::new(inner), Box::new(tail))
        }
        None => inner,
    };
    Ok(Filter::ValuePath {
        path,
        filter: Box::new(filter),
    })
}

/// `pr` or `op value` after `path`.
fn predicate(i: &mut Input<'_>, path: AttrPath) -> PResult<Filter> {
    match token(OPERATOR, operator).parse_next(i)? {
        None => Ok(Filter::Present(path)),
        Some(op) => {
            let value = token(VALUE, comp_value).parse_next(i)?;
            Ok(Filter::Compare { path, op, value })
        }
    }
}

/// A comparison operator, or `None` for `pr`.
fn operator(i: &mut Input<'_>) -> PResult<Option<CompareOp>> {
    terminated(take(2usize), boundary)
        .verify_map(|word: &str| match CompareOp::from_keyword(word) {
            Some(op) => Some(Some(op)),
            None => word.eq_ignore_ascii_case("pr").then_some(None),
        })
        .parse_next(i)
}

fn comp_value(i: &mut Input<'_>) -> PResult<CompValue> {
    alt((
        json_string.map(CompValue::String),
        json_number.map(CompValue::Number),
        keyword("true").value(CompValue::Bool(true)),
        keyword("false").value(CompValue::Bool(false)),
        keyword("null").value(CompValue::Null),
    ))
    .parse_next(i)
}

/// A JSON string literal (RFC 8259 §7), unescaped.
fn json_string(i: &mut Input<'_>) -> PResult<String> {
    let start = i.checkpoint();
    '"'.parse_next(i)?;
    let mut out = String::new();
    loop {
        out.push_str(take_while(0.., |c| c != '"' && c != '\\').parse_next(i)?);
        let escape_at = i.checkpoint();
        match opt(any).parse_next(i)? {
            Some('"') => return Ok(out),
            Some(_) => {
                i.reset(&escape_at);
                out.push(expect(ESCAPE, preceded('\\', escape)).parse_next(i)?);
            }
            None => {
                i.reset(&start);
                return Err(cut(UNTERMINATED));
            }
        }
    }
}

/// The character after a backslash.
fn escape(i: &mut Input<'_>) -> PResult<char> {
    match any.parse_next(i)? {
        '"' => Ok('"'),
        '\\' => Ok('\\'),
        '/' => Ok('/'),
        'b' => Ok('\u{8}'),
        'f' => Ok('\u{c}'),
        'n' => Ok('\n'),
        'r' => Ok('\r'),
        't' => Ok('\t'),
        'u' => unicode_escape(i),
        _ => Err(backtrack()),
    }
}

/// `XXXX` after `\u`, joining a UTF-16 surrogate pair written as two escapes.
fn unicode_escape(i: &mut Input<'_>) -> PResult<char> {
    let high = hex4(i)?;
    let code = if (0xD800..0xDC00).contains(&high) {
        let low = preceded("\\u", hex4)
            .verify(|low| (0xDC00..0xE000).contains(low))
            .parse_next(i)?;
        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
    } else {
        high
    };
    char::from_u32(code).ok_or_else(backtrack)
}

fn hex4(i: &mut Input<'_>) -> PResult<u32> {
    take_while(4, |c: char| c.is_ascii_hexdigit())
        .verify_map(|digits| u32::from_str_radix(digits, 16).ok())
        .parse_next(i)
}

/// A JSON number (RFC 8259 §6) that does not run into a following name.
fn json_number(i: &mut Input<'_>) -> PResult<Number> {
    let start = i.checkpoint();
    let text = (
        opt('-'),
        alt(('0'.void(), (one_of('1'..='9'), digit0).void())),
        opt(('.', digit1)),
        opt((one_of(['e', 'E']), opt(one_of(['+', '-'])), digit1)),
    )
        .take()
        .parse_next(i)?;
    not(one_of(|c| is_name_char(c) || c == '.')).parse_next(i)?;
    to_number(text).ok_or_else(|| {
        i.reset(&start);
        cut(NUMBER_RANGE)
    })
}

/// Integers stay exact; everything else goes through Rust's correctly rounded `f64`
/// parser, so that printing and re-parsing gives back the same value.
fn to_number(text: &str) -> Option<Number> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

/// `[URN ":"] ATTRNAME ["." ATTRNAME]`.
fn attr_path(i: &mut Input<'_>) -> PResult<AttrPath> {
    let urn = opt(schema_urn).parse_next(i)?;
    let name = if urn.is_some() {
        expect(URN_ATTR, attr_name).parse_next(i)?
    } else {
        attr_name.parse_next(i)?
    };
    let sub = opt(preceded('.', expect(SUB_ATTR, attr_name))).parse_next(i)?;
    Ok(AttrPath { urn, name, sub })
}

/// A schema URN and the ':' after it. URNs contain '.' (`2.0`) but attribute names never
/// contain ':', so the URN is a leading `urn:` run up to its last ':'.
fn schema_urn(i: &mut Input<'_>) -> PResult<String> {
    let run = peek(take_while(1.., |c: char| {
        is_name_char(c) || matches!(c, ':' | '.' | '$')
    }))
    .parse_next(i)?;
    let is_urn = run.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let split = run
        .rfind(':')
        .filter(|&at| is_urn && at > 4)
        .ok_or_else(backtrack)?;
    // The run is ASCII, so `split` bytes are `split` chars.
    let urn = terminated(take(split), ':').parse_next(i)?;
    Ok(urn.to_owned())
}

/// `ATTRNAME = ALPHA *(nameChar)`, or `$ref`.
fn attr_name(i: &mut Input<'_>) -> PResult<String> {
    alt((
        "$ref".take(),
        (
            one_of(|c: char| c.is_ascii_alphabetic()),
            take_while(0.., is_name_char),
        )
            .take(),
    ))
    .map(str::to_owned)
    .parse_next(i)
}

fn patch_path(i: &mut Input<'_>) -> PResult<PatchPath> {
    let attr = token(ATTR, attr_path).parse_next(i)?;
    ws(i)?;
    let opener = i.checkpoint();
    if attr.sub.is_some() || opt('[').parse_next(i)?.is_none() {
        return Ok(PatchPath {
            attr,
            filter: None,
            sub_after_filter: None,
        });
    }
    let filter = nested(i, &opener, 0, true, ']', CLOSE_BRACKET)?;
    let sub_after_filter = opt(preceded('.', expect(SUB_ATTR, attr_name))).parse_next(i)?;
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        sub_after_filter,
    })
}

#[cfg(test)]
mod tests;
