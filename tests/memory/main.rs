//! Tests that need process-wide state of their own, apart from the
//! end-to-end binary: a counting global allocator (`counting.rs`), and
//! tracing's per-callsite cache of whether anyone listens (a test without a
//! subscriber on another thread of the same process would make
//! `scim_log_lines` miss events).

mod counting;
#[path = "../e2e/support/mod.rs"]
mod support;

mod cache_memory;
mod request_log_flood_is_bounded;
mod scim_log_lines;
