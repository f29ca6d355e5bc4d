//! The `stories` table: one row per feed entry, ever.
//!
//! Rows are never deleted by polling, so an entry that leaves a feed and comes back matches its
//! old row and is not new again. An entry seen with different text is an update of its row.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Store, time_text};
use crate::dedup::{ClusterIndex, StoredStory};
use crate::feed::{KeyKind, NewStory};
use crate::stance::{Certainty, Classification, Stance};

/// `story_entities.reader` of the built-in reader's readings and of the judge's.
pub const BUILT_IN_READER: &str = "built-in";
pub const JUDGE_READER: &str = "judge";

/// `store_settings` key of the fingerprint (profile and engine) the stored readings come from.
const READING_KEY: &str = "stance_reading";
/// What storing one feed's entries did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoredCounts {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// New stories that joined an existing story cluster (another outlet's copy, or another
    /// article about the same event).
    pub clustered: usize,
}

/// Insert new entries and update changed ones, inside the caller's transaction. Returns the
/// counts and, for each new row, its id and its index in `stories`.
/// `backfill` marks new rows as history (a feed's first poll), not news.
pub(super) fn store_stories(
    tx: &Transaction,
    feed_id: i64,
    stories: &[NewStory],
    fetched_at: DateTime<Utc>,
    backfill: bool,
) -> Result<(StoredCounts, Vec<(i64, usize)>)> {
    let mut new_rows = Vec::new();
    let mut counts = StoredCounts::default();
    let fetched = time_text(fetched_at);
    let mut find = tx.prepare_cached("SELECT id, content_hash FROM stories WHERE feed_id = ?1 AND entry_key = ?2")?;
    // Qualified keys are "guid link" or "guid hash": a range scan on the (feed_id, entry_key)
    // index finds them ("guid " ≤ key < "guid!"), without an index on guid.
    let mut find_qualified = tx.prepare_cached(
        "SELECT entry_key FROM stories WHERE feed_id = ?1 AND entry_key >= ?2 || ' ' AND entry_key < ?2 || '!'
         ORDER BY id",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO stories (feed_id, entry_key, entry_key_kind, guid, url, canonical_url, title, summary, content,
             author, published_at, published_estimated, entry_updated_at, fetched_at, content_hash, backfill, outlet,
             relevant, relevance)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?;
    let mut update = tx.prepare_cached(
        "UPDATE stories SET url = ?2, canonical_url = ?3, title = ?4, summary = ?5, content = ?6, author = ?7,
             entry_updated_at = ?8, content_hash = ?9, changed_at = ?10, update_count = update_count + 1
         WHERE id = ?1",
    )?;
    for (i, s) in stories.iter().enumerate() {
        let mut key = s.entry_key.clone();
        let mut existing: Option<(i64, String)> =
            find.query_row(params![feed_id, key], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        // A GUID the feed once repeated was stored qualified ("guid link"); alone now, it is
        // still that entry.
        if existing.is_none() && s.entry_key_kind == KeyKind::Guid && Some(&key) == s.guid.as_ref() {
            let qualified: Vec<String> =
                find_qualified.query_map(params![feed_id, key], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            let want = s.url.as_deref().map(|u| format!("{key} {u}"));
            if let Some(k) = qualified.iter().find(|k| Some(*k) == want.as_ref()).or(qualified.first()) {
                key = k.clone();
                existing = find.query_row(params![feed_id, key], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            }
        }
        match existing {
            None => {
                insert.execute(params![
                    feed_id,
                    key,
                    s.entry_key_kind.as_str(),
                    s.guid,
                    s.url,
                    s.canonical_url,
                    s.title,
                    s.summary,
                    s.content,
                    s.author,
                    time_text(s.published_at),
                    s.published_estimated,
                    s.entry_updated_at.map(time_text),
                    fetched,
                    s.content_hash,
                    backfill,
                    s.outlet,
                    s.classification.as_ref().map(|c| c.relevant),
                    s.classification.as_ref().map(|c| c.relevance),
                ])?;
                let id = tx.last_insert_rowid();
                write_classification(tx, id, s, true)?;
                new_rows.push((id, i));
                counts.new += 1;
            }
            Some((_, hash)) if hash == s.content_hash => counts.unchanged += 1,
            Some((id, _)) => {
                update.execute(params![
                    id,
                    s.url,
                    s.canonical_url,
                    s.title,
                    s.summary,
                    s.content,
                    s.author,
                    s.entry_updated_at.map(time_text),
                    s.content_hash,
                    fetched,
                ])?;
                write_classification(tx, id, s, false)?;
                counts.updated += 1;
            }
        }
    }
    Ok((counts, new_rows))
}

/// The largest story id, read at the start of a write so [`index_new_stories`] knows which
/// stories are new.
pub(super) fn last_story_id(tx: &Transaction) -> Result<i64> {
    Ok(tx.query_row("SELECT coalesce(max(id), 0) FROM stories", [], |r| r.get(0))?)
}

/// The words of the stories stored after `after_id` into the full-text index, in one statement
/// per transaction (see migration 0015): FTS5 writes its pending terms out at each statement of
/// a transaction it takes part in, so indexing row by row wrote the index out once per story.
/// This writer is the only one in the transaction, so every id above `after_id` is its own.
pub(super) fn index_new_stories(tx: &Transaction, after_id: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO story_search (rowid, title, summary) SELECT id, title, summary FROM stories WHERE id > ?1",
    )?
    .execute([after_id])?;
    Ok(())
}

/// Store what the stance engine read in a story (replacing an earlier reading of an updated one).
fn write_classification(tx: &Transaction, id: i64, story: &NewStory, fresh: bool) -> Result<()> {
    match &story.classification {
        Some(c) => write_reading(tx, id, c, fresh, None),
        None => Ok(()),
    }
}

/// `fresh`: the story was inserted just now, with its relevance; else it replaces a reading.
/// `judged_with`: the judge (`model|prompt version`) whose answer `c` is; None: the built-in
/// reader's. Each reading records which reader decided it.
pub(super) fn write_reading(
    tx: &Transaction,
    id: i64,
    c: &Classification,
    fresh: bool,
    judged_with: Option<&str>,
) -> Result<()> {
    if !fresh {
        tx.prepare_cached("UPDATE stories SET relevant = ?2, relevance = ?3, judged_with = ?4 WHERE id = ?1")?
            .execute(params![id, c.relevant, c.relevance, judged_with])?;
        tx.prepare_cached("DELETE FROM story_entities WHERE story_id = ?1")?.execute([id])?;
        tx.prepare_cached("DELETE FROM story_shifts WHERE story_id = ?1")?.execute([id])?;
        if judged_with.is_none() {
            // New text (or a new built-in reading): the judge's earlier failures are not its.
            tx.prepare_cached("DELETE FROM judge_retries WHERE story_id = ?1")?.execute([id])?;
        }
    }
    let reader = if judged_with.is_some() { JUDGE_READER } else { BUILT_IN_READER };
    let mut entity = tx.prepare_cached(
        "INSERT INTO story_entities (story_id, entity, stance, confidence, certainty, evidence, basis, reader)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for e in &c.entities {
        entity.execute(params![
            id,
            e.entity,
            e.stance,
            e.confidence,
            e.certainty,
            e.evidence,
            e.basis.as_str(),
            reader
        ])?;
    }
    let mut shift = tx.prepare_cached(
        "INSERT INTO story_shifts (story_id, entity, from_stance, to_stance) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for sh in &c.shifts {
        shift.execute(params![id, sh.entity, sh.from, sh.to])?;
    }
    Ok(())
}

/// A stored story's text, handed out to be read again.
pub struct StoredText {
    pub id: i64,
    pub title: String,
    pub summary: String,
    pub content: String,
    pub published: Option<chrono::NaiveDate>,
}

impl Store {
    /// The fingerprint of the reader the stored readings were made with (None: never saved).
    pub fn reading_fingerprint(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM store_settings WHERE key = ?1", [READING_KEY], |r| r.get(0))
            .optional()?)
    }

    /// The next stories after id `after`, in id order, to read again: every one, or with
    /// `only_unread` those never read.
    pub fn stories_to_read(&self, after: i64, only_unread: bool, limit: usize) -> Result<Vec<StoredText>> {
        // Unread stories through their partial index (`stories_unread`), not a scan.
        let sql = if only_unread {
            "SELECT id, title, summary, content, published_at FROM stories
             WHERE relevant IS NULL AND id > ?1 ORDER BY id LIMIT ?2"
        } else {
            // Stories the judge read keep its reading (a new judge re-reads them: `judge --rejudge`).
            "SELECT id, title, summary, content, published_at FROM stories
             WHERE id > ?1 AND judged_with IS NULL ORDER BY id LIMIT ?2"
        };
        let rows = self
            .conn
            .prepare_cached(sql)?
            .query_map(params![after, limit as i64], |r| {
                let published: String = r.get(4)?;
                Ok(StoredText {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    summary: r.get(2)?,
                    content: r.get(3)?,
                    published: super::parse_time(&published).map(|t| t.date_naive()),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Store new readings of stored stories, in one transaction.
    pub fn save_readings(&mut self, readings: &[(i64, Classification)]) -> Result<()> {
        let what = "store the stories' new readings";
        let tx = super::begin(&mut self.conn, &self.path, what)?;
        for (id, c) in readings {
            write_reading(&tx, *id, c, false, None)?;
        }
        super::commit(tx, &self.path, what)
    }

    /// Record that every stored story has been read with the reader of `fingerprint`.
    pub fn set_reading_fingerprint(&mut self, fingerprint: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO store_settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![READING_KEY, fingerprint],
            )
            .map_err(|e| super::write_failure(&self.path, "record the stance reader's fingerprint", e))?;
        Ok(())
    }
}

/// Put each new story in its cluster (see `dedup::index`), merging clusters it links.
pub(super) fn assign_clusters(
    tx: &Transaction,
    index: &mut ClusterIndex,
    stories: &[NewStory],
    new_rows: &[(i64, usize)],
) -> Result<usize> {
    let mut joined = 0;
    let mut load = tx.prepare_cached(
        "SELECT id, cluster_id, title, summary, canonical_url, published_at FROM stories
         WHERE published_at >= ?1 AND published_at < ?2 AND cluster_id IS NOT NULL",
    )?;
    let mut same_url = tx.prepare_cached(
        "SELECT DISTINCT cluster_id FROM stories WHERE canonical_url = ?1 AND id != ?2 AND cluster_id IS NOT NULL",
    )?;
    let mut set_cluster = tx.prepare_cached("UPDATE stories SET cluster_id = ?2 WHERE id = ?1")?;
    let mut merge = tx.prepare_cached("UPDATE stories SET cluster_id = ?2 WHERE cluster_id = ?1")?;
    for &(id, i) in new_rows {
        let s = &stories[i];
        index.ensure_loaded(s.published_at.timestamp(), |from, to| -> rusqlite::Result<Vec<StoredStory>> {
            let from = time_text(DateTime::from_timestamp(from, 0).unwrap_or_default());
            let to = time_text(DateTime::from_timestamp(to, 0).unwrap_or_default());
            load.query_map(params![from, to], |r| {
                let published: String = r.get(5)?;
                Ok(StoredStory {
                    story_id: r.get(0)?,
                    cluster_id: r.get(1)?,
                    title: r.get(2)?,
                    summary: r.get(3)?,
                    canonical_url: r.get(4)?,
                    published: super::parse_time(&published).unwrap_or_default(),
                })
            })?
            .collect()
        })?;
        let url_clusters: Vec<i64> = match &s.canonical_url {
            Some(url) => same_url.query_map(params![url, id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?,
            None => Vec::new(),
        };
        let signature = match &s.signature {
            Some(sig) => sig.clone(),
            None => index.signer.sign(&s.title, &s.summary, s.canonical_url.as_deref(), s.published_at),
        };
        let assignment = index.assign(id, signature, &url_clusters);
        set_cluster.execute(params![id, assignment.cluster_id])?;
        for old in &assignment.merged {
            merge.execute(params![old, assignment.cluster_id])?;
        }
        if assignment.cluster_id != id {
            joined += 1;
        }
    }
    Ok(joined)
}

/// Filters for `stories`.
#[derive(Debug, Default, Clone)]
pub struct StoryFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Words to find in titles and summaries (full-text, see [`search_query`]).
    pub search: Option<String>,
    pub limit: Option<usize>,
    /// Rows skipped before the first returned (paging).
    pub offset: usize,
    /// Every article, rather than one line per story cluster.
    pub all: bool,
    /// Only stories (clusters) that speak about this entity...
    pub entity: Option<String>,
    /// ...with this stance.
    pub stance: Option<Stance>,
    /// Only stories about AI openness (a cluster with at least one relevant article).
    pub relevant: bool,
}

/// The user's words as an FTS5 query in which nothing they type is syntax: each
/// whitespace-separated word is quoted (`"` doubled), so `*`, `:`, `-`, `(`, `NEAR`, `AND` are
/// text, and matched as a prefix (`licen` finds licence and license); every word must occur.
/// Inside a word the tokenizer splits on punctuation, so `open-source` is the phrase "open
/// source". `None` when no word has a letter or digit: then nothing can match.
pub fn search_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        // A search is a few words; more (a pasted paragraph, a hostile URL) would only make one
        // query walk the index many times over.
        .take(MAX_SEARCH_WORDS)
        .map(|w| {
            let quoted = format!("\"{}\"", w.replace('"', "\"\""));
            // A word of one or two letters is matched whole: as a prefix it would match most of
            // the index.
            if w.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_PREFIX { quoted + "*" } else { quoted }
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// Words of a search used (the rest are ignored).
pub const MAX_SEARCH_WORDS: usize = 8;
/// Letters a word needs before it also matches as a prefix.
const MIN_PREFIX: usize = 3;

/// The columns of a [`StoryRow`] (`s` the story, `f` its feed), read by [`story_row`].
const ROW_COLUMNS: &str =
    "s.id, s.title, s.url, s.canonical_url, coalesce(s.outlet, ''), coalesce(f.name, f.title, f.url),
    s.published_at, s.published_estimated, s.fetched_at, s.summary, s.backfill, s.update_count,
    s.cluster_id, s.relevant,
    (SELECT group_concat(DISTINCT m.outlet) FROM stories m WHERE m.cluster_id = s.cluster_id),
    (SELECT count(*) FROM stories m WHERE m.cluster_id = s.cluster_id)";

fn story_row(r: &rusqlite::Row) -> rusqlite::Result<StoryRow> {
    let outlets: Option<String> = r.get(14)?;
    let mut sources: Vec<String> =
        outlets.unwrap_or_default().split(',').filter(|o| !o.is_empty()).map(str::to_string).collect();
    sources.sort();
    Ok(StoryRow {
        id: r.get(0)?,
        title: r.get(1)?,
        url: r.get(2)?,
        canonical_url: r.get(3)?,
        source: r.get(4)?,
        feed: r.get(5)?,
        published: r.get(6)?,
        published_estimated: r.get(7)?,
        fetched: r.get(8)?,
        summary: r.get(9)?,
        backfill: r.get(10)?,
        update_count: r.get(11)?,
        cluster: r.get::<_, Option<i64>>(12)?.unwrap_or_default(),
        relevant: r.get(13)?,
        sources,
        articles: r.get(15)?,
        entities: Vec::new(),
        shifts: Vec::new(),
    })
}

/// A stored story as the CLI shows it. In cluster mode it stands for its whole cluster: the
/// earliest published article, with the cluster's size and outlets.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoryRow {
    pub id: i64,
    pub title: String,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    /// The outlet (registrable domain) that published this article.
    pub source: String,
    pub feed: String,
    pub published: String,
    pub published_estimated: bool,
    pub fetched: String,
    pub summary: String,
    pub backfill: bool,
    pub update_count: i64,
    /// The story cluster: the same article from several outlets, or articles about one event.
    pub cluster: i64,
    /// Outlets covering the cluster.
    pub sources: Vec<String>,
    /// Articles in the cluster.
    pub articles: i64,
    /// About AI openness (None: not classified).
    pub relevant: Option<bool>,
    pub entities: Vec<StoryEntity>,
    pub shifts: Vec<StoryShift>,
}

/// What a story says about one entity, as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoryEntity {
    pub entity: String,
    pub stance: Stance,
    pub confidence: f64,
    pub certainty: Certainty,
    pub evidence: String,
    /// Which reader decided: "built-in" or "judge".
    pub reader: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StoryShift {
    pub entity: String,
    pub from: Stance,
    pub to: Stance,
}

/// How often a cluster's articles read one stance for one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStance {
    pub entity: String,
    pub stance: Stance,
    pub articles: i64,
}

impl Store {
    /// Stories newest first (by published date), filtered: one row per cluster, or every
    /// article with `filter.all`.
    pub fn stories(&self, filter: &StoryFilter) -> Result<Vec<StoryRow>> {
        // An empty search is no filter; one without a single word matches nothing.
        let search = match filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => match search_query(text) {
                Some(query) => Some(query),
                None => return Ok(Vec::new()),
            },
        };
        // With a search, the matching articles (few, for the rare words people look up) lead
        // and CROSS JOIN keeps them leading; without one, the newest stories are walked by date
        // until the limit is reached.
        let from = match (&search, filter.all) {
            (None, _) => {
                "FROM stories s JOIN feeds f ON f.id = s.feed_id
                 WHERE (:all OR s.id = (SELECT r.id FROM stories r WHERE r.cluster_id = s.cluster_id
                                        ORDER BY r.published_at, r.id LIMIT 1))"
            }
            (Some(_), true) => {
                "FROM (SELECT rowid AS id FROM story_search WHERE story_search MATCH :search) h
                 CROSS JOIN stories s ON s.id = h.id JOIN feeds f ON f.id = s.feed_id
                 WHERE 1"
            }
            (Some(_), false) => {
                "FROM (SELECT DISTINCT m.cluster_id FROM story_search CROSS JOIN stories m ON m.id = story_search.rowid
                       WHERE story_search MATCH :search) h
                 CROSS JOIN stories s ON s.id = (SELECT r.id FROM stories r WHERE r.cluster_id = h.cluster_id
                                                 ORDER BY r.published_at, r.id LIMIT 1)
                 JOIN feeds f ON f.id = s.feed_id
                 WHERE 1"
            }
        };
        let sql = format!(
            "SELECT {ROW_COLUMNS}
             {from}
               AND (:since IS NULL OR s.published_at >= :since) AND (:until IS NULL OR s.published_at < :until)
               AND (NOT :relevant OR s.relevant = 1
                    OR (NOT :all AND EXISTS (SELECT 1 FROM stories m WHERE m.cluster_id = s.cluster_id
                                             AND m.relevant = 1)))
               AND (:entity IS NULL
                    OR EXISTS (SELECT 1 FROM story_entities e
                               WHERE e.story_id = s.id AND e.entity = :entity AND (:stance IS NULL OR e.stance = :stance))
                    -- CROSS JOIN: walk the cluster's few articles, never the entity's many rows.
                    OR (NOT :all AND EXISTS (SELECT 1 FROM stories m CROSS JOIN story_entities e
                               WHERE m.cluster_id = s.cluster_id AND e.story_id = m.id AND e.entity = :entity
                                 AND (:stance IS NULL OR e.stance = :stance))))
             ORDER BY s.published_at DESC, s.id DESC
             LIMIT :limit OFFSET :offset"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let limit = filter.limit.map_or(-1, |l| l as i64);
        let params: &[(&str, &dyn rusqlite::ToSql)] = &[
            (":since", &filter.since.map(time_text)),
            (":until", &filter.until.map(time_text)),
            (":search", &search),
            (":limit", &limit),
            (":offset", &(filter.offset as i64)),
            (":all", &filter.all),
            (":entity", &filter.entity),
            (":stance", &filter.stance),
            (":relevant", &filter.relevant),
        ];
        // Only the search variants name :search.
        let mut bound = Vec::new();
        for (name, value) in params {
            if stmt.parameter_index(name)?.is_some() {
                bound.push((*name, *value));
            }
        }
        let mut rows = stmt.query_map(bound.as_slice(), story_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        self.fill_readings(&mut rows)?;
        Ok(rows)
    }

    /// Every article of cluster `cluster`, oldest first (none: no such cluster).
    pub fn cluster_stories(&self, cluster: i64) -> Result<Vec<StoryRow>> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM stories s JOIN feeds f ON f.id = s.feed_id
             WHERE s.cluster_id = ?1 ORDER BY s.published_at, s.id"
        );
        let mut rows =
            self.conn.prepare_cached(&sql)?.query_map([cluster], story_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        self.fill_readings(&mut rows)?;
        Ok(rows)
    }

    /// The stances a cluster's articles read, per entity, most read first.
    pub fn cluster_stances(&self, cluster: i64) -> Result<Vec<ClusterStance>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT e.entity, e.stance, count(DISTINCT m.id) FROM stories m CROSS JOIN story_entities e
                 WHERE m.cluster_id = ?1 AND e.story_id = m.id
                 GROUP BY e.entity, e.stance ORDER BY e.entity, 3 DESC, e.stance",
            )?
            .query_map([cluster], |r| Ok(ClusterStance { entity: r.get(0)?, stance: r.get(1)?, articles: r.get(2)? }))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Each row's entity readings and shifts.
    fn fill_readings(&self, rows: &mut [StoryRow]) -> Result<()> {
        let mut entities = self.conn.prepare_cached(
            "SELECT entity, stance, confidence, certainty, evidence, reader FROM story_entities WHERE story_id = ?1
             ORDER BY rowid",
        )?;
        let mut shifts =
            self.conn.prepare_cached("SELECT entity, from_stance, to_stance FROM story_shifts WHERE story_id = ?1")?;
        for row in rows {
            row.entities = entities
                .query_map([row.id], |r| {
                    Ok(StoryEntity {
                        entity: r.get(0)?,
                        stance: r.get(1)?,
                        confidence: r.get(2)?,
                        certainty: r.get(3)?,
                        evidence: r.get(4)?,
                        reader: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            row.shifts = shifts
                .query_map([row.id], |r| Ok(StoryShift { entity: r.get(0)?, from: r.get(1)?, to: r.get(2)? }))?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(())
    }

    /// Count of stored stories (all feeds).
    pub fn story_count(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT count(*) FROM stories", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FeedSetting;
    use crate::store::FeedUpdate;

    fn story(key: &str, title: &str) -> NewStory {
        NewStory {
            entry_key: key.into(),
            entry_key_kind: KeyKind::Guid,
            guid: Some(key.into()),
            url: Some(format!("https://example.org/{key}")),
            canonical_url: Some(format!("https://example.org/{key}")),
            outlet: "example.org".into(),
            ..NewStory::new(title, Utc::now())
        }
    }

    fn clusters() -> ClusterIndex {
        ClusterIndex::new(crate::dedup::Signer::new(&crate::stance::Profile::builtin(), Default::default()))
    }

    fn fetched() -> FeedUpdate {
        FeedUpdate::fetched_now(Some(200))
    }

    #[test]
    fn new_updated_unchanged_and_returning_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        store
            .sync_config_feeds(&[FeedSetting { url: "https://example.org/f".into(), name: None, interval: None }])
            .unwrap();
        let feed = store.feeds().unwrap().remove(0);
        let c = store.record_poll(&feed, &fetched(), &[story("a", "A"), story("b", "B")], &mut clusters()).unwrap();
        assert_eq!(c, StoredCounts { new: 2, updated: 0, unchanged: 0, clustered: 0 });
        let feed = store.feeds().unwrap().remove(0);
        assert_eq!(feed.backfilled, Some(2));
        // b leaves the feed, a changes its title.
        let c = store.record_poll(&feed, &fetched(), &[story("a", "A, updated")], &mut clusters()).unwrap();
        assert_eq!(c, StoredCounts { new: 0, updated: 1, unchanged: 0, clustered: 0 });
        // b comes back: not new.
        let c = store
            .record_poll(&feed, &fetched(), &[story("a", "A, updated"), story("b", "B")], &mut clusters())
            .unwrap();
        assert_eq!(c, StoredCounts { new: 0, updated: 0, unchanged: 2, clustered: 0 });
        assert_eq!(store.story_count().unwrap(), 2);
        let rows = store.stories(&StoryFilter { all: true, ..Default::default() }).unwrap();
        assert!(rows.iter().all(|r| r.backfill), "first poll stories are backfill");
        assert_eq!(rows.iter().find(|r| r.title == "A, updated").unwrap().update_count, 1);
    }

    /// A store with one feed holding a story per title, and a search over it (every article).
    fn searchable(titles: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        store.add_feed("https://example.org/f", None, None, "cli").unwrap();
        let feed = store.feeds().unwrap().remove(0);
        let stories: Vec<NewStory> = titles.iter().enumerate().map(|(i, t)| story(&format!("k{i}"), t)).collect();
        store.record_poll(&feed, &fetched(), &stories, &mut clusters()).unwrap();
        (dir, store)
    }

    fn found(store: &Store, text: &str) -> Vec<String> {
        let filter = StoryFilter { search: Some(text.into()), all: true, ..Default::default() };
        let mut titles: Vec<String> = store.stories(&filter).unwrap().into_iter().map(|r| r.title).collect();
        titles.sort();
        titles
    }

    #[test]
    fn fts5_is_compiled_in() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let on: bool = conn.query_row("SELECT sqlite_compileoption_used('ENABLE_FTS5')", [], |r| r.get(0)).unwrap();
        assert!(on, "the bundled SQLite lacks FTS5");
    }

    #[test]
    fn search_matches_words_and_prefixes() {
        let titles = ["Meta licenses Llama openly", "Open-source licence disputes", "Quarterly earnings", "Café opens"];
        let (_dir, store) = searchable(&titles);
        // Words, any case, every one required, each also a prefix.
        assert_eq!(found(&store, "llama"), [titles[0]]);
        assert_eq!(found(&store, "LICEN"), [titles[0], titles[1]]);
        assert_eq!(found(&store, "licen disputes"), [titles[1]]);
        assert_eq!(found(&store, "licen earnings"), Vec::<String>::new());
        // Punctuation inside a word is a phrase; diacritics fold.
        assert_eq!(found(&store, "open-source"), [titles[1]]);
        assert_eq!(found(&store, "cafe"), [titles[3]]);
        // Not a substring search any more: inside a word finds nothing.
        assert_eq!(found(&store, "arterly"), Vec::<String>::new());
        // An empty search is no filter.
        assert_eq!(found(&store, "  ").len(), 4);
    }

    #[test]
    fn search_text_is_never_query_syntax() {
        let titles = [r"C:\models 100% open", "snake_case weights", "NEAR the AND gate", "the (open) model"];
        let (_dir, store) = searchable(&titles);
        assert_eq!(found(&store, r"C:\models"), [titles[0]]);
        assert_eq!(found(&store, "snake_case"), [titles[1]]);
        assert_eq!(found(&store, "NEAR"), [titles[2]]);
        assert_eq!(found(&store, "(open)"), [titles[0], titles[3]]);
        for hostile in [
            "\"",
            "\"\"",
            "*",
            "**",
            ":",
            "-",
            "(",
            ")",
            "NEAR",
            "NEAR(a b)",
            "a OR b",
            "NOT open",
            "AND",
            "^open",
            "title:open",
            "{title}: open",
            "open\"*",
            "\"open",
            "+",
            r"\",
            "'",
            "%",
            "_",
            "-open",
            "open -",
            "\u{301}",
            "\u{0}",
            "ʼ",
            "ⅷ",
            "🦙",
            "a\"b\"c",
        ] {
            let filter = StoryFilter { search: Some(hostile.into()), ..Default::default() };
            if let Err(e) = store.stories(&filter) {
                panic!("search for {hostile:?} failed: {e:#}");
            }
        }
        assert_eq!(found(&store, "*"), Vec::<String>::new(), "no word: nothing matches");
    }

    #[test]
    fn the_search_index_follows_inserts_updates_and_retention() {
        let (_dir, mut store) = searchable(&["Glacier melt", "Quarterly earnings"]);
        let check = |store: &Store| {
            store
                .conn
                .execute("INSERT INTO story_search (story_search, rank) VALUES ('integrity-check', 1)", [])
                .expect("the index matches the stories");
        };
        check(&store);
        // An update of an entry replaces its words.
        let feed = store.feeds().unwrap().remove(0);
        let mut changed = story("k0", "Iceberg melt");
        changed.summary = "Summary about fjords".into();
        changed.content_hash = "other".into();
        let c = store.record_poll(&feed, &fetched(), &[changed], &mut clusters()).unwrap();
        assert_eq!(c.updated, 1);
        assert_eq!(found(&store, "glacier"), Vec::<String>::new());
        assert_eq!(found(&store, "iceberg"), ["Iceberg melt"]);
        assert_eq!(found(&store, "fjords"), ["Iceberg melt"]);
        check(&store);
        // Retention blanks the summary of a not-relevant story: its words leave the index, the
        // title's stay.
        store.conn.execute("UPDATE stories SET relevant = 0", []).unwrap();
        let settings = crate::config::StorageSettings {
            keep_irrelevant_text: Some(std::time::Duration::ZERO),
            keep_content: None,
            maintenance_every: std::time::Duration::from_secs(3600),
        };
        let upkeep = store.upkeep(&settings, Utc::now() + chrono::Duration::hours(1)).unwrap();
        assert_eq!(upkeep.irrelevant_blanked, 1);
        assert_eq!(found(&store, "fjords"), Vec::<String>::new());
        assert_eq!(found(&store, "iceberg"), ["Iceberg melt"]);
        check(&store);
        // A deleted row leaves the index too (polling never deletes; a hand-made cleanup might).
        store.conn.execute("DELETE FROM stories WHERE title = 'Quarterly earnings'", []).unwrap();
        assert_eq!(found(&store, "earnings"), Vec::<String>::new());
        check(&store);
    }

    #[test]
    fn the_history_generation_moves_with_every_write_a_history_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        store.add_feed("https://example.org/f", None, None, "cli").unwrap();
        let feed = store.feeds().unwrap().remove(0);
        let mut last = store.history_generation().unwrap();
        let mut moved = |store: &Store, what: &str| {
            let now = store.history_generation().unwrap();
            assert_ne!(now, last, "the generation did not move after {what}");
            last = now;
        };
        store.record_poll(&feed, &fetched(), &[story("a", "Glacier melt")], &mut clusters()).unwrap();
        moved(&store, "a new story");
        let id: i64 = store.conn.query_row("SELECT id FROM stories", [], |r| r.get(0)).unwrap();
        let text = crate::stance::StoryText {
            title: "Meta keeps its model closed",
            summary: "",
            content: "",
            published: None,
        };
        let reading = crate::stance::Classifier::builtin().classify(&text);
        store.save_readings(&[(id, reading)]).unwrap();
        moved(&store, "a re-read");
        store
            .conn
            .execute_batch(
                "INSERT INTO change_events (entity, event_key, from_stance, to_stance, level, at, detected_at, confidence)
                     VALUES ('meta', 'k', 'open', 'closed', 'possible', '2026-01-01', 't', 0.6)",
            )
            .unwrap();
        moved(&store, "a change event");
        store.conn.execute_batch("UPDATE change_events SET confidence = 0.7").unwrap();
        moved(&store, "a change event updated");
        store.conn.execute_batch("UPDATE stories SET fetched_at = 'x'").unwrap();
        assert_eq!(store.history_generation().unwrap(), last, "a write no history reads leaves it");
    }

    #[test]
    fn the_migration_indexes_the_stories_already_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_unmigrated(&dir.path().join("t.db")).unwrap();
        store.migrate_to(12).unwrap();
        // Stored as a version-12 database holds it (today's code also writes the index).
        store
            .conn
            .execute_batch(
                "INSERT INTO feeds (url, added_at) VALUES ('https://example.org/f', 't');
                 INSERT INTO stories (feed_id, entry_key, entry_key_kind, title, summary, published_at, fetched_at,
                                      content_hash)
                     VALUES (1, 'a', 'guid', 'Glacier melt', '', '2026-01-01T00:00:00Z', 't', 'h');",
            )
            .unwrap();
        assert_eq!(store.migrate_to(13).unwrap(), ["0013_story_search.sql"]);
        store.migrate().unwrap();
        assert_eq!(found(&store, "glacier"), ["Glacier melt"]);
        assert!(store.check().unwrap().ok());
    }

    #[test]
    fn relevant_only_and_offset_page_through_the_rows() {
        let (_dir, store) = searchable(&["one", "two", "three"]);
        store.conn.execute("UPDATE stories SET relevant = (title != 'two')", []).unwrap();
        let titles = |filter: StoryFilter| -> Vec<String> {
            store.stories(&filter).unwrap().into_iter().map(|r| r.title).collect()
        };
        let all = titles(StoryFilter { all: true, ..Default::default() });
        assert_eq!(all.len(), 3);
        let relevant = titles(StoryFilter { all: true, relevant: true, ..Default::default() });
        assert_eq!(relevant.len(), 2);
        assert!(!relevant.contains(&"two".to_string()));
        let page = titles(StoryFilter { all: true, limit: Some(2), offset: 1, ..Default::default() });
        assert_eq!(page, all[1..]);
    }

    #[test]
    fn a_once_repeated_guid_alone_matches_its_qualified_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        store.add_feed("https://example.org/f", None, None, "cli").unwrap();
        let feed = store.feeds().unwrap().remove(0);
        let mut both = vec![story("x", "one"), story("x", "two")];
        both[0].url = Some("https://example.org/1".into());
        both[1].url = Some("https://example.org/2".into());
        crate::feed::identity::assign_keys(&mut both);
        store.record_poll(&feed, &fetched(), &both, &mut clusters()).unwrap();
        let mut alone = vec![both[1].clone()];
        crate::feed::identity::assign_keys(&mut alone);
        assert_eq!(alone[0].entry_key, "x");
        let c = store.record_poll(&feed, &fetched(), &alone, &mut clusters()).unwrap();
        assert_eq!(c, StoredCounts { new: 0, updated: 0, unchanged: 1, clustered: 0 });
    }
}
