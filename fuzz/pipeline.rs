//! The input path of one polled feed, from response body to signed and classified stories, as
//! the poller runs it: `feed::parse` (charset detection, XML/JSON parsing, normalisation,
//! identity) → the ingest stage (`Ingest::prepare`: canonicalisation with extra tracking
//! parameters, stance classification, dedup signature) → `ClusterIndex::assign` (the writer's
//! clustering).
//!
//! Shared by the `feed_pipeline` fuzz target and `tests/fuzz_regressions.rs`, so a regression
//! input replays exactly what the fuzzer ran.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use stancewatch::dedup::{ClusterIndex, DedupSettings};
use stancewatch::feed::{self, MAX_CONTENT, MAX_SUMMARY, MAX_TITLE, ParseError};
use stancewatch::ingest::Ingest;
use stancewatch::stance::{Classifier, Profile};

/// The address the body is said to come from: relative links resolve against it.
pub const BASE_URL: &str = "https://feeds.example.org/news/feed.xml";

/// What one body came to.
#[derive(Debug)]
pub enum Outcome {
    /// A feed: how many stories it gave and how many of them read as relevant.
    Feed { stories: usize, relevant: usize },
    /// Not a feed, with the named reason the poller would record.
    Rejected(ParseError),
}

/// The ingest stage over the built-in profile, with the extra tracking parameters a user might
/// configure, built once per process.
fn ingest() -> &'static Ingest {
    static INGEST: OnceLock<Ingest> = OnceLock::new();
    INGEST.get_or_init(|| {
        let profile = Profile::load(None).expect("the built-in profile loads");
        let dedup = DedupSettings {
            extra_tracking_params: vec!["ref".to_string(), "src".to_string()],
            ..DedupSettings::default()
        };
        Ingest::new(Arc::new(Classifier::new(profile)), &dedup)
    })
}

/// The fetch time the poller would pass: missing and impossible dates fall back to it.
fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).single().expect("a valid fixed date")
}

/// The HTTP Content-Type the body was served with, when it says so in a `Header: Content-Type:`
/// line near the top (the convention of feedparser's encoding tests, which seed the corpus).
/// This lets the fuzzer reach the header-charset branch of the encoding detection.
pub fn declared_content_type(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    head.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("Header:")?.trim();
        let (name, value) = rest.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-type").then(|| value.trim().to_string())
    })
}

/// Run `body` through the whole input path. Panics only when an invariant the pipeline
/// promises is broken (or when the code under test panics).
pub fn run(body: &[u8]) -> Outcome {
    let ingest = ingest();
    let content_type = declared_content_type(body);
    let fetched_at = fetched_at();
    let parsed = match feed::parse(body, content_type.as_deref(), BASE_URL, fetched_at) {
        Ok(parsed) => parsed,
        Err(e) => {
            // Every failure has a kind and a message for the poll report.
            assert!(!e.kind().is_empty() && !e.to_string().is_empty());
            return Outcome::Rejected(e);
        }
    };
    let mut stories = parsed.stories;

    let mut keys = std::collections::HashSet::new();
    for s in &stories {
        assert!(!s.title.is_empty(), "every story has a title");
        assert!(s.title.len() <= MAX_TITLE && s.summary.len() <= MAX_SUMMARY && s.content.len() <= MAX_CONTENT);
        assert!(!s.entry_key.is_empty(), "every story has an identity");
        assert!(keys.insert(s.entry_key.as_str()), "entry keys are unique within a feed: {:?}", s.entry_key);
        assert!(s.published_at <= fetched_at + chrono::Duration::days(1));
    }

    ingest.prepare(&mut stories);

    // The writer's clustering, over an empty store.
    let mut clusters = ClusterIndex::with_signer(ingest.signer().clone());
    let mut relevant = 0;
    for (id, story) in (1..).zip(&stories) {
        let classification = story.classification.as_ref().expect("every story is classified");
        relevant += usize::from(classification.relevant);
        let signature = story.signature.clone().expect("every story is signed");
        clusters
            .ensure_loaded(signature.published, |_, _| Ok::<_, Infallible>(Vec::new()))
            .unwrap_or_else(|never| match never {});
        let assignment = clusters.assign(id, signature, &[]);
        assert!(assignment.cluster_id <= id, "a story joins itself or an earlier cluster");
    }
    Outcome::Feed { stories: stories.len(), relevant }
}
