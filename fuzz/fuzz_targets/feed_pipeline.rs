//! Fuzz target: arbitrary bytes as a fetched feed body, through parsing, identity, dedup
//! signing, clustering and stance classification (see `../pipeline.rs`). Any panic is a bug:
//! every input must end as stories or as a named parse error.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../pipeline.rs"]
mod pipeline;

fuzz_target!(|data: &[u8]| {
    match pipeline::run(data) {
        pipeline::Outcome::Feed { stories, relevant } => assert!(relevant <= stories),
        pipeline::Outcome::Rejected(e) => assert!(!e.kind().is_empty()),
    }
});
