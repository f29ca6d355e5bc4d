//! Dedup cost per story against a large history: the real store path (insert + cluster
//! assignment in one transaction per feed) with 10k, 100k and 1M stories already stored, at most
//! 100,000 of them in any 72-hour window.
//!
//!     cargo bench --bench dedup            # 10k, 100k, 1M
//!     cargo bench --bench dedup -- 10000   # one size
//!
//! Prints, per history size: the time to load the window around the new stories into the index
//! (once per poll cycle), and the cost per new story once it is loaded.

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use stancewatch::config::FeedSetting;
use stancewatch::dedup::{ClusterIndex, DedupSettings, Signer};
use stancewatch::feed::{KeyKind, NewStory};
use stancewatch::stance::Profile;
use stancewatch::store::{FeedUpdate, Store};

const WINDOW_STORIES: usize = 100_000;
const NEW_STORIES: usize = 2_000;
const PER_FEED: usize = 50;

const ORGS: &[&str] =
    &["Meta", "OpenAI", "Google", "Anthropic", "Mistral AI", "xAI", "DeepSeek", "Alibaba", "Microsoft", "Nvidia"];
const PRODUCTS: &[&str] =
    &["Llama 5", "gpt-oss", "Gemma 4", "Claude", "Mixtral", "Grok 3", "R2", "Qwen3", "Phi-4", "Nemotron"];
const VERBS: &[&str] = &[
    "releases",
    "restricts",
    "delays",
    "licenses",
    "open-sources",
    "unveils",
    "withholds",
    "sues over",
    "prices",
    "benchmarks",
];

/// A deterministic pseudo-random headline and summary from a large vocabulary.
fn text(rng: &mut fastrand::Rng) -> (String, String) {
    let word = |rng: &mut fastrand::Rng| format!("w{}", rng.usize(0..20_000));
    let org = rng.usize(0..ORGS.len());
    let mut title = if rng.bool() {
        format!("{} {} {}", ORGS[org], VERBS[rng.usize(0..VERBS.len())], PRODUCTS[org])
    } else {
        word(rng)
    };
    for _ in 0..5 {
        title.push(' ');
        title.push_str(&word(rng));
    }
    let summary: Vec<String> = (0..30).map(|_| word(rng)).collect();
    (title, summary.join(" "))
}

fn story(rng: &mut fastrand::Rng, n: usize, published: DateTime<Utc>) -> NewStory {
    let (title, summary) = text(rng);
    let url = format!("https://outlet{}.example/story/{n}", n % 97);
    NewStory {
        entry_key: format!("k{n}"),
        entry_key_kind: KeyKind::Guid,
        guid: Some(format!("k{n}")),
        canonical_url: stancewatch::dedup::canonical_url(&url),
        outlet: format!("outlet{}.example", n % 97),
        url: Some(url),
        content_hash: format!("{n}"),
        summary,
        ..NewStory::new(&title, published)
    }
}

fn update(now: DateTime<Utc>) -> FeedUpdate {
    FeedUpdate::fetched_at(now, Some(200))
}

fn run(history: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let mut store = Store::open(&path).unwrap();
    let feeds: Vec<FeedSetting> = (0..200)
        .map(|i| FeedSetting { url: format!("https://feeds.example/{i}.xml"), name: None, interval: None })
        .collect();
    store.sync_config_feeds(&feeds).unwrap();
    let rows = store.feeds().unwrap();

    // The history: evenly spread so that any 72 h holds at most WINDOW_STORIES stories.
    let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let span_secs = (history.max(WINDOW_STORIES) as f64 / WINDOW_STORIES as f64 * 72.0 * 3600.0) as i64;
    let step = span_secs as f64 / history as f64;
    let mut rng = fastrand::Rng::with_seed(42);
    let started = Instant::now();
    {
        // Bulk load through plain SQL (each story its own cluster), far faster than ingesting.
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("PRAGMA synchronous = OFF; BEGIN").unwrap();
        let mut insert = db
            .prepare(
                "INSERT INTO stories (feed_id, entry_key, entry_key_kind, guid, url, canonical_url, outlet, title,
                     summary, published_at, fetched_at, content_hash, cluster_id)
                 VALUES (?1, ?2, 'guid', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, last_insert_rowid() + 1)",
            )
            .unwrap();
        for n in 0..history {
            let published =
                end - Duration::seconds(span_secs) + Duration::milliseconds((n as f64 * step * 1000.0) as i64);
            let s = story(&mut rng, n, published);
            let t = published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            insert
                .execute(rusqlite::params![
                    rows[n % rows.len()].id,
                    s.entry_key,
                    s.url,
                    s.canonical_url,
                    s.outlet,
                    s.title,
                    s.summary,
                    t,
                    s.content_hash
                ])
                .unwrap();
        }
        drop(insert);
        db.execute_batch("UPDATE stories SET cluster_id = id; COMMIT").unwrap();
    }
    let setup = started.elapsed();

    // New stories published in the last hour of the history, fed in feed-sized batches.
    let mut clusters = ClusterIndex::new(Signer::new(&Profile::builtin(), DedupSettings::default()));
    let new: Vec<NewStory> =
        (0..NEW_STORIES).map(|i| story(&mut rng, history + i, end - Duration::seconds(3600 - i as i64))).collect();
    let now = Utc::now();
    let load_start = Instant::now();
    store.record_poll(&rows[0], &update(now), &new[..1], &mut clusters).unwrap();
    let load = load_start.elapsed();
    let indexed = clusters.len();
    let start = Instant::now();
    for (b, batch) in new[1..].chunks(PER_FEED).enumerate() {
        store.record_poll(&rows[(b + 1) % rows.len()], &update(now), batch, &mut clusters).unwrap();
    }
    let per_story = start.elapsed() / (NEW_STORIES - 1) as u32;
    println!(
        "history {history:>9} stories (setup {:>5.1} s) | window loaded: {indexed:>6} stories in {:>6.2} s | \
         per new story: {:>7.1} µs (insert + cluster assignment)",
        setup.as_secs_f64(),
        load.as_secs_f64(),
        per_story.as_secs_f64() * 1e6
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000, 100_000, 1_000_000] } else { sizes };
    println!("dedup against a stored history ({} new stories, {PER_FEED} per transaction)", NEW_STORIES);
    for n in sizes {
        run(n);
    }
}
