//! SCIM filters (RFC 7644 §3.4.2.2): syntax tree, parser, canonical printer and an
//! evaluator over resources held as JSON.

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
