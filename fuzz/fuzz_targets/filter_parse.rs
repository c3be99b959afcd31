//! Arbitrary text into the filter and PATCH-path parsers: neither may panic, and
//! whatever parses must print to text that parses back to the same AST.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimitar::scim::filter::parse_filter;
use scimitar::scim::path::parse_patch_path;

fuzz_target!(|input: &str| {
    if let Ok(filter) = parse_filter(input) {
        let printed = filter.to_string();
        match parse_filter(&printed) {
            Ok(again) => assert_eq!(again, filter, "{input:?} printed as {printed:?}"),
            Err(e) => panic!("{input:?} printed as {printed:?}, which fails: {e}"),
        }
    }
    if let Ok(path) = parse_patch_path(input) {
        let printed = path.to_string();
        match parse_patch_path(&printed) {
            Ok(again) => assert_eq!(again, path, "{input:?} printed as {printed:?}"),
            Err(e) => panic!("{input:?} printed as {printed:?}, which fails: {e}"),
        }
    }
});
