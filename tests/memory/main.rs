//! Tests that need process-wide state of their own, apart from the
//! end-to-end binary: a counting global allocator (`counting.rs`), and
//! tracing's per-callsite cache of whether anyone listens (a test without a
//! subscriber on another thread of the same process would make
//! `scim_log_lines` miss events).

mod counting;
// The harness of the e2e binary, which uses all of it (so unused harness
// code shows there); these tests use a part.
#[allow(dead_code)]
#[path = "../e2e/support/mod.rs"]
mod support;

mod cache_memory;
mod request_log_flood_is_bounded;
mod scim_log_lines;
