//! `stancewatch import FILE.jsonl`: archived items (the `classify` input shape, with
//! `published`) stored as stories of a named source, through the same dedup, stance and
//! timeline stages as polled stories — so a user starting today sees past coverage at once.
//!
//! The whole file is validated before anything is stored (an error names the line); importing
//! the same file again changes nothing (items keep their identity: `id`, else `url`, else a
//! hash of title and summary).

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::dedup::{canonical_url, outlet_of};
use crate::feed::{NewStory, identity};
use crate::poll::Pipeline;
use crate::store::{FeedUpdate, Store, StoredCounts};

/// Stories per transaction.
const BATCH: usize = 500;

/// One JSON Lines item, the shape `classify` reads and `import` stores (DESIGN 4.2).
#[derive(Deserialize)]
pub struct ItemInput {
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    pub title: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// The outlet, when the item has no URL to take it from.
    #[serde(default)]
    pub source: Option<String>,
    /// Required by `import`; for `classify`, wording about earlier years then reads as the past.
    #[serde(default)]
    pub published: Option<String>,
}

/// A line of the file is not an importable item (the message names the file and line): the
/// input is wrong, not the program or the database.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// What an import stored.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub items: usize,
    pub stored: StoredCounts,
    pub changes: crate::store::SavedChanges,
}

/// One JSON Lines item, checked: what `classify` reads and `import` stores.
pub struct Item {
    pub input: ItemInput,
    /// `published`, parsed (an item without one has None; one that does not parse is an error).
    pub published: Option<DateTime<Utc>>,
}

/// Parse line `n` (1-based) of `origin`. A line that is not an item, has an empty title or a
/// `published` that is not a date is an error naming the line.
pub fn parse_item(line: &str, n: usize, origin: &str) -> Result<Item, String> {
    let at = |what: String| format!("{origin}: line {n}: {what}");
    let input: ItemInput = serde_json::from_str(line).map_err(|e| at(format!("not a JSON item with a title: {e}")))?;
    if input.title.trim().is_empty() {
        return Err(at("empty title".into()));
    }
    let published = input.published.as_deref().map(crate::dates::parse_date).transpose().map_err(at)?;
    Ok(Item { input, published })
}

/// Parse every line first; the first bad line is an error naming it.
fn read_items(text: &str, origin: &str, source: &str) -> Result<Vec<NewStory>, String> {
    let mut stories = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Item { input: item, published } = parse_item(line, n + 1, origin)?;
        let Some(published) = published else {
            return Err(format!("{origin}: line {}: no `published` date (YYYY-MM-DD or RFC 3339)", n + 1));
        };
        let mut s = NewStory::new(item.title.trim(), published);
        s.summary = item.summary.unwrap_or_default();
        s.content = item.content.unwrap_or_default();
        s.guid = item.id.map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        });
        s.url = item.url.filter(|u| u.starts_with("http://") || u.starts_with("https://"));
        s.canonical_url = s.url.as_deref().and_then(canonical_url);
        s.outlet = s
            .canonical_url
            .as_deref()
            .and_then(outlet_of)
            .or(item.source.map(|o| o.trim().to_lowercase()))
            .unwrap_or_else(|| source.to_string());
        s.content_hash = identity::hash_text(&[&s.title, &s.summary, &s.content]);
        stories.push(s);
    }
    identity::assign_keys(&mut stories);
    Ok(stories)
}

/// Import `text` (JSON Lines from `origin`) as stories of source `source`.
pub fn import(pipeline: &Pipeline, store: &mut Store, text: &str, origin: &str, source: &str) -> Result<ImportReport> {
    let mut stories = read_items(text, origin, source).map_err(BadInput)?;
    let started = Utc::now();
    let last_before = store.max_story_id()?;
    let mut feed = store.import_source(source)?;
    // Archived items are history, not news: stored as backfill (digests do not mail them as new).
    feed.last_success_at = None;
    pipeline.ingest.prepare(&mut stories);
    let mut clusters = pipeline.cluster_index();
    let mut report = ImportReport { items: stories.len(), ..ImportReport::default() };
    for batch in stories.chunks(BATCH) {
        let counts = store.record_poll(&feed, &FeedUpdate::fetched_now(None), batch, &mut clusters)?;
        report.stored.new += counts.new;
        report.stored.updated += counts.updated;
        report.stored.unchanged += counts.unchanged;
        report.stored.clustered += counts.clustered;
    }
    report.changes = pipeline.refresh_timelines(store, last_before, started)?;
    Ok(report)
}
