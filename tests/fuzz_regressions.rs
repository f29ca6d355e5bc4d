//! Fuzz regressions: every file in `tests/fuzz_regressions/` goes through the same input path as
//! the `feed_pipeline` fuzz target (`fuzz/pipeline.rs`: feed bytes → `feed::parse` with charset
//! detection → identity → the ingest stage (canonical URL, classification, dedup signature) →
//! clustering) and must not panic.
//!
//! Each file is a small hostile body: an input the fuzzer once crashed on (minimised with
//! `cargo +nightly fuzz tmin feed_pipeline <artifact>`), or a hand-made edge case. The name says
//! what outcome is sensible:
//!
//! - `feed-*`: a feed (possibly with no stories);
//! - `rejected-*`: not a feed, refused with a named parse error;
//! - anything else: either, as long as nothing panics.
//!
//! To add one: copy the minimised input here under a name that says what it is. `scripts/fuzz.sh
//! --replay` runs the whole fuzz corpus (seeded from `../shared/feeds/`) the same way.

use std::path::{Path, PathBuf};

#[path = "../fuzz/pipeline.rs"]
mod pipeline;

use pipeline::Outcome;

fn regression_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_regression_input_runs_the_pipeline_without_panicking() {
    let files = regression_files();
    assert!(!files.is_empty(), "tests/fuzz_regressions/ holds the regression inputs");

    // Report every failing file, not only the first; keep the panic messages out of the way.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let body = std::fs::read(path).expect("a readable regression file");
        match std::panic::catch_unwind(|| pipeline::run(&body)) {
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                problems.push(format!("{name}: panicked: {message}"));
            }
            Ok(Outcome::Feed { stories, relevant }) => {
                assert!(relevant <= stories);
                if name.starts_with("rejected-") {
                    problems.push(format!("{name}: expected a parse error, got a feed of {stories} stories"));
                }
            }
            Ok(Outcome::Rejected(e)) => {
                assert!(!e.kind().is_empty());
                if name.starts_with("feed-") {
                    problems.push(format!("{name}: expected a feed, got {}: {e}", e.kind()));
                }
            }
        }
    }
    std::panic::set_hook(quiet);
    assert!(problems.is_empty(), "fuzz regressions failed:\n{}", problems.join("\n"));
}

#[test]
fn declared_content_type_is_read_from_a_header_comment() {
    let body = b"<!--\nHeader: Content-type: text/xml; charset=iso-8859-1\n-->\n<rss version=\"2.0\"/>";
    assert_eq!(pipeline::declared_content_type(body).as_deref(), Some("text/xml; charset=iso-8859-1"));
    assert_eq!(pipeline::declared_content_type(b"<rss/>"), None);
    assert!(pipeline::BASE_URL.starts_with("https://"));
}
