//! SCIM filters (RFC 7644 §3.4.2.2): syntax tree, parser, canonical printer and an
//! evaluator over resources held as JSON.
//!
//! ```
//! use scimitar::scim::filter::{NoSchema, matches, parse_filter};
//!
//! // Entra ID's `valuePath.sub op value` form becomes a plain value filter.
//! let filter = parse_filter(r#"emails[type eq "work"].value ew "@example.com""#)?;
//! assert_eq!(filter.to_string(), r#"emails[type eq "work" and value ew "@example.com"]"#);
//!
//! let user = serde_json::json!({ "emails": [{ "type": "work", "value": "b@Example.com" }] });
//! assert!(matches(&filter, &user, &NoSchema));
//! # Ok::<(), scimitar::scim::filter::FilterError>(())
//! ```

mod ast;
mod error;
mod eval;
mod parser;
mod print;

pub use ast::{CompValue, CompareOp, Filter};
pub use error::{FilterError, Subject};
pub use eval::{AttrInfo, NoSchema, UnsupportedComparison, check_operators, matches};
pub use parser::{MAX_DEPTH, MAX_LEN, parse_filter};
pub(crate) use parser::{parse_attr_path, parse_patch_path};
