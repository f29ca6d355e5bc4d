//! Ingest throughput from local bytes: parse (feed bytes → stories) and parse + store (into a
//! SQLite file, with cross-outlet clustering, one transaction per feed, as `poll` does). Reported as stories per second.
//!
//!     cargo bench --bench ingest

use std::hint::black_box;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stancewatch::config::FeedSetting;
use stancewatch::dedup::{ClusterIndex, DedupSettings, Signer};
use stancewatch::stance::Profile;
use stancewatch::store::{FeedState, FeedUpdate, Store};

const ITEMS: usize = 50;

/// A feed shaped like a news site's: HTML summaries, tracking parameters, dates.
fn feed(n: usize, items: usize) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Bench</title>");
    for i in 0..items {
        out.push_str(&format!(
            "<item><title>Lab {n} releases model {i} with open weights under Apache 2.0</title>\
             <link>https://news.example/{n}/{i}.html?utm_source=rss&amp;utm_medium=feed</link>\
             <guid isPermaLink=\"false\">bench-{n}-{i}</guid><pubDate>Sun, 01 Nov 2026 10:{:02}:00 GMT</pubDate>\
             <description><![CDATA[<p>The lab said on Tuesday that the <b>weights</b> of model {i} are available \
             for download, and that researchers may fine-tune them. Critics said the licence still restricts \
             commercial use by the largest companies.</p><script>track()</script>]]></description></item>",
            i % 60
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn bench_parse(c: &mut Criterion) {
    let body = feed(0, ITEMS);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.bench_function("50-item RSS feed", |b| {
        b.iter(|| {
            let parsed =
                stancewatch::feed::parse(black_box(body.as_bytes()), None, "https://news.example/feed", Utc::now());
            black_box(parsed.unwrap().stories.len())
        })
    });
    group.finish();
}

fn bench_parse_and_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
    let feeds: Vec<FeedSetting> = (0..2000)
        .map(|i| FeedSetting { url: format!("https://news.example/{i}.xml"), name: None, interval: None })
        .collect();
    store.sync_config_feeds(&feeds).unwrap();
    let rows = store.feeds().unwrap();
    let mut clusters = ClusterIndex::new(Signer::new(&Profile::builtin(), DedupSettings::default()));
    let mut next = 0usize;
    let mut group = c.benchmark_group("parse+store");
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.sample_size(30);
    group.bench_function("50 new stories per feed, one transaction", |b| {
        b.iter(|| {
            // A fresh feed each time, so every story is new (the expensive path).
            let n = next;
            next += 1;
            let row = &rows[n % rows.len()];
            let body = feed(n, ITEMS);
            let now = Utc::now();
            let parsed = stancewatch::feed::parse(body.as_bytes(), None, &row.url, now).unwrap();
            let update = FeedUpdate {
                polled_at: now,
                status: Some(200),
                state: FeedState::Fetched { title: parsed.title.clone() },
                etag: None,
                last_modified: None,
                min_interval_secs: None,
                next_poll_at: now,
                moved_to: None,
            };
            black_box(store.record_poll(row, &update, &parsed.stories, &mut clusters).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse, bench_parse_and_store);
criterion_main!(benches);
