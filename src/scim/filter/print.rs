//! Canonical text for filters and paths: lower-case keywords, single spaces, JSON-escaped
//! strings, and parentheses only where precedence needs them, so that the output parses
//! back to the same AST.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{CompValue, CompareOp, Filter};
use crate::scim::path::{AttrPath, PatchPath};

/// How tightly an expression binds; a context demanding more than an expression
/// offers wraps it in parentheses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Atom,
}

fn level(filter: &Filter) -> Level {
    match filter {
        Filter::Or(..) => Level::Or,
        Filter::And(..) => Level::And,
        _ => Level::Atom,
    }
}

/// Writes `filter` in a context that needs at least `min`. Right operands ask for one
/// level more than their operator, which keeps left-nested chains unparenthesised and
/// right-nested ones parenthesised.
fn write_filter(f: &mut Formatter<'_>, filter: &Filter, min: Level) -> fmt::Result {
    if level(filter) < min {
        f.write_char('(')?;
        write_filter(f, filter, Level::Or)?;
        return f.write_char(')');
    }
    match filter {
        Filter::Or(lhs, rhs) => {
            write_filter(f, lhs, Level::Or)?;
            f.write_str(" or ")?;
            write_filter(f, rhs, Level::And)
        }
        Filter::And(lhs, rhs) => {
            write_filter(f, lhs, Level::And)?;
            f.write_str(" and ")?;
            write_filter(f, rhs, Level::Atom)
        }
        Filter::Not(inner) => {
            f.write_str("not (")?;
            write_filter(f, inner, Level::Or)?;
            f.write_char(')')
        }
        Filter::ValuePath { path, filter } => {
            write!(f, "{path}[")?;
            write_filter(f, filter, Level::Or)?;
            f.write_char(']')
        }
        Filter::Present(path) => write!(f, "{path} pr"),
        Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
    }
}

impl Display for Filter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_filter(f, self, Level::Or)
    }
}

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for CompValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write_json_string(f, s),
        }
    }
}

/// A JSON string literal (RFC 8259 §7); non-ASCII stays as UTF-8.
fn write_json_string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if c < ' ' => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl Display for AttrPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl Display for PatchPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_after_filter {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
