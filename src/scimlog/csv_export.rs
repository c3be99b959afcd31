//! CSV export (RFC 4180: comma-separated, CRLF line ends, fields quoted when
//! they hold a comma, quote or line break, quotes doubled), one header row.
//! Bodies are compact JSON, or the recorded text (the `truncated` flag is only
//! in the JSON form of the API).

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

/// The entries as CSV, in the order given.
pub fn to_csv(entries: &[Entry]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(CSV_COLUMNS);
    for entry in entries {
        let body =
            |b: &Option<super::Body>| b.as_ref().map(super::Body::as_text).unwrap_or_default();
        let _ = writer.write_record([
            entry.time.to_string(),
            entry.tenant.clone(),
            entry.method.clone(),
            entry.path.clone(),
            entry.resource_type.to_string(),
            entry.status.to_string(),
            entry.duration_ms.to_string(),
            body(&entry.request_body),
            body(&entry.response_body),
        ]);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}
