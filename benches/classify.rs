//! Classification throughput, one core, on the generated feeds of `../shared/bench/gen_feeds.py`
//! (AI-industry headlines with openness cues, hedges and filler: the classifier does its full
//! work on every item). Skipped with a message when `../shared` is absent.
//!
//!     cargo bench --bench classify

use std::time::Instant;

use stancewatch::stance::{Classifier, Profile, StoryText};

fn main() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_feeds.py");
    if !script.exists() {
        println!("SKIPPED: {} is absent", script.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .args(["500", "20"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs gen_feeds.py");
    assert!(status.success());
    let mut stories = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let feed = stancewatch::feed::parse(&bytes, None, "http://127.0.0.1/", chrono::Utc::now()).unwrap();
        stories.extend(feed.stories);
    }
    // The learned reader (the default) and, for comparison, the rule engine alone.
    for (name, classifier) in
        [("learned reader", Classifier::builtin()), ("rule engine alone", Classifier::new(Profile::builtin()))]
    {
        let mut relevant = 0usize;
        let rounds = 5;
        let started = Instant::now();
        for _ in 0..rounds {
            for s in &stories {
                let c = classifier.classify(&StoryText {
                    title: &s.title,
                    summary: &s.summary,
                    content: &s.content,
                    published: Some(s.published_at.date_naive()),
                });
                relevant += usize::from(c.relevant);
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let n = stories.len() * rounds;
        println!(
            "{name}: classified {n} stories in {elapsed:.2} s on one core: {:.0} stories/s ({:.1} µs each; {:.0}% relevant)",
            n as f64 / elapsed,
            elapsed / n as f64 * 1e6,
            relevant as f64 / n as f64 * 100.0
        );
    }
}
