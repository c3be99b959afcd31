//! Syntax errors for filters and attribute paths.

use std::fmt;

/// What was being parsed, so the message names it (`invalid filter` / `invalid path`)
/// and the HTTP layer can pick `scimType` `invalidFilter` or `invalidPath`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A `filter` query parameter or a `[...]` value filter.
    Filter,
    /// A `sortBy`/`attributes` entry or a PATCH `path`.
    Path,
}

/// A syntax error: where it is (byte offset into the input) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    subject: Subject,
    offset: usize,
    message: &'static str,
}

impl FilterError {
    pub(crate) fn new(subject: Subject, offset: usize, message: &'static str) -> Self {
        Self {
            subject,
            offset,
            message,
        }
    }

    /// Byte offset into the input at which parsing failed.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was expected, e.g. `expected ')'`.
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// Whether a filter or a path was being parsed.
    pub fn subject(&self) -> Subject {
        self.subject
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.subject {
            Subject::Filter => "filter",
            Subject::Path => "path",
        };
        write!(
            f,
            "invalid {what} at position {}: {}",
            self.offset, self.message
        )
    }
}

impl std::error::Error for FilterError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_subject_offset_and_expectation() {
        let e = FilterError::new(Subject::Filter, 12, "expected ')'");
        assert_eq!(e.to_string(), "invalid filter at position 12: expected ')'");
        let e = FilterError::new(Subject::Path, 0, "expected an attribute name");
        assert_eq!(
            e.to_string(),
            "invalid path at position 0: expected an attribute name"
        );
    }
}
