//! CSV export (RFC 4180: comma-separated, CRLF line ends, fields quoted when
//! they hold a comma, quote or line break, quotes doubled), one header row.
//! Bodies are compact JSON, or the recorded text (the `truncated` flag is only
//! in the JSON form of the API).
//!
//! Formula injection: a spreadsheet runs a cell starting with `=`, `+`, `-`
//! or `@` (or a tab or carriage return before one) as a formula, and bodies
//! and paths come from the identity provider. Such a cell gets a leading `'`
//! (OWASP's advice), which spreadsheets show as text.
//!
//! A merged listing that misses a replica's entries ends with one row per
//! replica that did not answer: the same number of fields as every row (so a
//! reader expecting rectangular data takes it), the first one
//! `# replica not answering: <pod> (<address>): <reason>`, the others empty.
//!
//! Rows can be written one at a time ([`csv_header`], [`csv_row`]), so a
//! download streams instead of building the whole file in memory.

use std::borrow::{Borrow, Cow};

use super::Entry;

/// The header row.
pub const CSV_COLUMNS: [&str; 9] = [
    "time",
    "tenant",
    "method",
    "path",
    "resource_type",
    "status",
    "duration_ms",
    "request_body",
    "response_body",
];

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell`, with a leading `'` when a spreadsheet would run it as a formula.
pub fn neutralise(cell: Cow<'_, str>) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        cell
    }
}

/// A field as the CSV writer takes it (bytes), without a copy.
struct Cell<'a>(Cow<'a, str>);

impl AsRef<[u8]> for Cell<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn line<'a>(fields: impl IntoIterator<Item = Cow<'a, str>>) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(fields.into_iter().map(|field| Cell(neutralise(field))));
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The header row, with its line end.
pub fn csv_header() -> String {
    line(CSV_COLUMNS.map(Cow::Borrowed))
}

/// One entry's row, with its line end.
pub fn csv_row(entry: &Entry) -> String {
    fn body(b: &Option<super::Body>) -> &str {
        b.as_ref().map(super::Body::as_text).unwrap_or_default()
    }
    line([
        Cow::Owned(entry.time.to_string()),
        Cow::Borrowed(entry.tenant.as_str()),
        Cow::Borrowed(entry.method.as_str()),
        Cow::Borrowed(entry.path.as_str()),
        Cow::Borrowed(entry.resource_type.as_str()),
        Cow::Owned(entry.status.to_string()),
        Cow::Owned(entry.duration_ms.to_string()),
        Cow::Borrowed(body(&entry.request_body)),
        Cow::Borrowed(body(&entry.response_body)),
    ])
}

/// The trailing row naming a replica whose entries are missing.
pub fn unavailable_row(missing: &super::Unavailable) -> String {
    let first = format!("# replica not answering: {missing}");
    line(
        std::iter::once(Cow::Owned(first)).chain((1..CSV_COLUMNS.len()).map(|_| Cow::Borrowed(""))),
    )
}

/// The entries as CSV, in the order given.
pub fn to_csv<E: Borrow<Entry>>(entries: &[E]) -> String {
    let mut csv = csv_header();
    for entry in entries {
        csv.push_str(&csv_row(entry.borrow()));
    }
    csv
}
