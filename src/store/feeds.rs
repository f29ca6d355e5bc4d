//! The `feeds` table: subscriptions and their polling state.
//!
//! Scheduling state lives here, not in memory, so a restart resumes exactly: validators for
//! conditional GET, the failure count that drives backoff, the next poll time, and whether the
//! feed is gone (410) or moved (permanent redirect).

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{Store, parse_time, time_text};
use crate::config::FeedSetting;
use crate::dedup::ClusterIndex;
use crate::feed::NewStory;

/// A feed as stored, with its polling state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeedRow {
    pub id: i64,
    pub url: String,
    pub config_url: Option<String>,
    pub name: Option<String>,
    pub title: Option<String>,
    pub interval_secs: Option<i64>,
    pub origin: String,
    pub active: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_polled_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub error_kind: Option<String>,
    pub consecutive_failures: i64,
    pub failing_since: Option<String>,
    pub next_poll_at: Option<String>,
    pub min_interval_secs: Option<i64>,
    pub gone_at: Option<String>,
    pub moved_from: Option<String>,
    pub backfilled: Option<i64>,
}

/// A feed's health, from its polling state. Scripts read [`FeedHealth::as_str`] (JSON,
/// `/metrics` labels); people read [`FeedHealth::label`] (tables, the digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedHealth {
    /// Polled successfully last time.
    Ok,
    /// Never polled successfully yet, no failure either.
    New,
    /// Failing for less than a day: retried with backoff.
    BackingOff,
    /// Failing for more than a day.
    Failing,
    /// 410 Gone: no longer polled.
    Gone,
    /// Removed with `feeds remove` (kept for its stories, not polled).
    Removed,
}

impl FeedHealth {
    /// The stable word: ok, new, backing_off, failing, gone, removed.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedHealth::Ok => "ok",
            FeedHealth::New => "new",
            FeedHealth::BackingOff => "backing_off",
            FeedHealth::Failing => "failing",
            FeedHealth::Gone => "gone",
            FeedHealth::Removed => "removed",
        }
    }

    /// The word for people: as [`FeedHealth::as_str`], with "backing off" in two words.
    pub fn label(self) -> &'static str {
        match self {
            FeedHealth::BackingOff => "backing off",
            other => other.as_str(),
        }
    }

    /// Backing off, failing or gone: a feed someone may need to look at.
    pub fn is_problem(self) -> bool {
        matches!(self, FeedHealth::BackingOff | FeedHealth::Failing | FeedHealth::Gone)
    }
}

impl FeedRow {
    /// The feed's health as of `now` (failing means: for more than a day).
    pub fn health(&self, now: DateTime<Utc>) -> FeedHealth {
        if !self.active {
            FeedHealth::Removed
        } else if self.gone_at.is_some() {
            FeedHealth::Gone
        } else if self.consecutive_failures == 0 {
            if self.last_success_at.is_some() { FeedHealth::Ok } else { FeedHealth::New }
        } else if self
            .failing_since
            .as_deref()
            .and_then(parse_time)
            .is_some_and(|since| now - since > chrono::Duration::days(1))
        {
            FeedHealth::Failing
        } else {
            FeedHealth::BackingOff
        }
    }

    /// The name to show: configured name, else the feed's own title, else its URL.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().or(self.title.as_deref()).unwrap_or(&self.url)
    }
}

const FEED_COLUMNS: &str = "id, url, config_url, name, title, interval_secs, origin, active, etag, last_modified, \
     last_polled_at, last_success_at, last_status, last_error, error_kind, consecutive_failures, failing_since, \
     next_poll_at, min_interval_secs, gone_at, moved_from, backfilled";

fn feed_from_row(r: &Row) -> rusqlite::Result<FeedRow> {
    Ok(FeedRow {
        id: r.get(0)?,
        url: r.get(1)?,
        config_url: r.get(2)?,
        name: r.get(3)?,
        title: r.get(4)?,
        interval_secs: r.get(5)?,
        origin: r.get(6)?,
        active: r.get(7)?,
        etag: r.get(8)?,
        last_modified: r.get(9)?,
        last_polled_at: r.get(10)?,
        last_success_at: r.get(11)?,
        last_status: r.get(12)?,
        last_error: r.get(13)?,
        error_kind: r.get(14)?,
        consecutive_failures: r.get(15)?,
        failing_since: r.get(16)?,
        next_poll_at: r.get(17)?,
        min_interval_secs: r.get(18)?,
        gone_at: r.get(19)?,
        moved_from: r.get(20)?,
        backfilled: r.get(21)?,
    })
}

/// How one poll of a feed ended, as far as the feed's row is concerned.
#[derive(Debug, Clone)]
pub enum FeedState {
    /// 200 with a feed that parsed.
    Fetched { title: Option<String> },
    /// 304: nothing changed since the validators were stored.
    NotModified,
    /// Anything that did not give a feed: `kind` groups it (timeout, http, parse, ...).
    Failed { kind: &'static str, message: String },
    /// 410: the publisher says the feed is gone for good.
    Gone,
}

/// Everything a poll writes to a feed's row.
#[derive(Debug, Clone)]
pub struct FeedUpdate {
    pub polled_at: DateTime<Utc>,
    pub status: Option<u16>,
    pub state: FeedState,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub min_interval_secs: Option<i64>,
    pub next_poll_at: DateTime<Utc>,
    /// Where a permanent redirect chain ended; becomes the feed's URL.
    pub moved_to: Option<String>,
}

impl FeedUpdate {
    /// A successful fetch now, with no validators (imports and tests).
    pub fn fetched_now(status: Option<u16>) -> FeedUpdate {
        FeedUpdate::fetched_at(Utc::now(), status)
    }

    /// A successful fetch at `now`, with no validators, due again at once.
    pub fn fetched_at(now: DateTime<Utc>, status: Option<u16>) -> FeedUpdate {
        FeedUpdate {
            polled_at: now,
            status,
            state: FeedState::Fetched { title: None },
            etag: None,
            last_modified: None,
            min_interval_secs: None,
            next_poll_at: now,
            moved_to: None,
        }
    }
}

/// One cycle's totals, as a `poll_runs` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollRun {
    pub started_at: DateTime<Utc>,
    /// Feeds the cycle set out to poll.
    pub feeds: usize,
    /// Fetched and parsed (200).
    pub ok: usize,
    pub not_modified: usize,
    pub failed: usize,
    pub new_stories: usize,
    pub updated: usize,
}

/// What `feeds add` did.
#[derive(Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    Reactivated,
    AlreadySubscribed,
}

impl Store {
    /// Make the `feeds` table agree with the config's `[[feed]]` list: add what is new, update
    /// names and intervals, and deactivate config feeds no longer listed (their stories stay).
    pub fn sync_config_feeds(&mut self, feeds: &[FeedSetting]) -> Result<()> {
        let now = super::now_text();
        let what = "sync the config's [[feed]] list";
        let tx = super::begin(&mut self.conn, &self.path, what)?;
        for f in feeds {
            let interval = f.interval.map(|d| d.as_secs() as i64);
            let existing: Option<i64> = tx
                .prepare_cached("SELECT id FROM feeds WHERE config_url = ?1 OR (config_url IS NULL AND url = ?1)")?
                .query_row([&f.url], |r| r.get(0))
                .optional()?;
            match existing {
                Some(id) => {
                    tx.prepare_cached(
                        "UPDATE feeds SET config_url = ?2, name = ?3, interval_secs = ?4, origin = 'config', active = 1
                         WHERE id = ?1",
                    )?
                    .execute(params![id, f.url, f.name, interval])?;
                }
                None => {
                    tx.prepare_cached(
                        "INSERT INTO feeds (url, config_url, name, interval_secs, origin, added_at)
                         VALUES (?1, ?1, ?2, ?3, 'config', ?4)",
                    )?
                    .execute(params![f.url, f.name, interval, now])?;
                }
            }
        }
        // Feeds that came from the config and are no longer in it stop being polled.
        let listed: std::collections::HashSet<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
        let config_feeds: Vec<(i64, String)> = {
            let mut stmt = tx.prepare("SELECT id, config_url FROM feeds WHERE origin = 'config' AND active = 1")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default())))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (id, url) in config_feeds {
            if !listed.contains(url.as_str()) {
                tx.prepare_cached("UPDATE feeds SET active = 0 WHERE id = ?1")?.execute([id])?;
            }
        }
        super::commit(tx, &self.path, what)?;
        Ok(())
    }

    /// Subscribe to a feed (`feeds add`, OPML import). Re-adding a removed or gone feed revives it.
    pub fn add_feed(
        &mut self,
        url: &str,
        name: Option<&str>,
        interval_secs: Option<i64>,
        origin: &str,
    ) -> Result<AddOutcome> {
        self.write(&format!("add the feed {url}"), |store| {
            store.add_feed_in_transaction(url, name, interval_secs, origin)
        })
    }

    fn add_feed_in_transaction(
        &mut self,
        url: &str,
        name: Option<&str>,
        interval_secs: Option<i64>,
        origin: &str,
    ) -> Result<AddOutcome> {
        let existing: Option<(i64, bool, Option<String>)> = self
            .conn
            .query_row("SELECT id, active, gone_at FROM feeds WHERE url = ?1 OR config_url = ?1", [url], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        match existing {
            Some((_, true, None)) => Ok(AddOutcome::AlreadySubscribed),
            Some((id, _, _)) => {
                self.conn.execute(
                    "UPDATE feeds SET active = 1, gone_at = NULL, next_poll_at = NULL, consecutive_failures = 0,
                         failing_since = NULL, name = coalesce(?2, name), interval_secs = coalesce(?3, interval_secs)
                     WHERE id = ?1",
                    params![id, name, interval_secs],
                )?;
                Ok(AddOutcome::Reactivated)
            }
            None => {
                self.conn.execute(
                    "INSERT INTO feeds (url, config_url, name, interval_secs, origin, added_at)
                     VALUES (?1, ?1, ?2, ?3, ?4, ?5)",
                    params![url, name, interval_secs, origin, super::now_text()],
                )?;
                Ok(AddOutcome::Added)
            }
        }
    }

    /// The pseudo-feed `import:NAME` that archived items of source NAME are stored under: never
    /// polled (inactive), created on first use.
    pub fn import_source(&mut self, name: &str) -> Result<FeedRow> {
        let url = format!("import:{name}");
        self.conn.execute(
            "INSERT OR IGNORE INTO feeds (url, name, origin, active, added_at) VALUES (?1, ?2, 'cli', 0, ?3)",
            params![url, name, super::now_text()],
        )?;
        Ok(self.conn.query_row(&format!("SELECT {FEED_COLUMNS} FROM feeds WHERE url = ?1"), [&url], feed_from_row)?)
    }

    /// Stop polling a feed. Its stories stay in the history. False when no such feed.
    pub fn remove_feed(&mut self, url: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("UPDATE feeds SET active = 0 WHERE (url = ?1 OR config_url = ?1) AND active = 1", [url])?;
        Ok(n > 0)
    }

    /// Every subscribed (active) feed, by id.
    pub fn feeds(&self) -> Result<Vec<FeedRow>> {
        let mut stmt = self.conn.prepare(&format!("SELECT {FEED_COLUMNS} FROM feeds WHERE active = 1 ORDER BY id"))?;
        let rows = stmt.query_map([], feed_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Feeds to poll now: active, not gone, and due (or every one of them with `all`).
    pub fn due_feeds(&self, now: DateTime<Utc>, all: bool) -> Result<Vec<FeedRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE active = 1 AND gone_at IS NULL
               AND (?1 OR next_poll_at IS NULL OR next_poll_at <= ?2)
             ORDER BY coalesce(next_poll_at, ''), id"
        ))?;
        let rows =
            stmt.query_map(params![all, time_text(now)], feed_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// When the next feed falls due (None: nothing to poll).
    pub fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        let next: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT next_poll_at FROM feeds WHERE active = 1 AND gone_at IS NULL
                 ORDER BY next_poll_at IS NOT NULL, next_poll_at LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match next {
            None => None,
            Some(None) => Some(Utc::now()),
            Some(Some(t)) => parse_time(&t),
        })
    }

    /// Write one poll's result: the feed's new state and its stories, in one transaction, so a
    /// crash leaves either all of it or none (and the next poll fetches again).
    pub fn record_poll(
        &mut self,
        feed: &FeedRow,
        update: &FeedUpdate,
        stories: &[NewStory],
        clusters: &mut ClusterIndex,
    ) -> Result<super::StoredCounts> {
        let what = format!("save the poll of {}", feed.url);
        let tx = super::begin(&mut self.conn, &self.path, &what)?;
        let before = super::stories::last_story_id(&tx)?;
        let counts = write_poll(&tx, feed, update, stories, clusters)?;
        super::stories::index_new_stories(&tx, before)?;
        super::commit(tx, &self.path, &what)?;
        Ok(counts)
    }

    /// Several feeds' results in one transaction (group commit: far fewer page writes than a
    /// commit per feed). All or nothing, like `record_poll`.
    pub fn record_polls(
        &mut self,
        polls: &[(&FeedRow, &FeedUpdate, &[NewStory])],
        clusters: &mut ClusterIndex,
    ) -> Result<Vec<super::StoredCounts>> {
        let what = format!("save the poll of {} feeds", polls.len());
        let tx = super::begin(&mut self.conn, &self.path, &what)?;
        let before = super::stories::last_story_id(&tx)?;
        let mut out = Vec::with_capacity(polls.len());
        for (feed, update, stories) in polls {
            out.push(write_poll(&tx, feed, update, stories, clusters)?);
        }
        super::stories::index_new_stories(&tx, before)?;
        super::commit(tx, &self.path, &what)?;
        Ok(out)
    }

    /// Record one cycle's totals in `poll_runs` (finished now).
    pub fn record_poll_run(&mut self, run: &PollRun) -> Result<()> {
        let count = |n: usize| n as i64;
        self.conn.execute(
            "INSERT INTO poll_runs (started_at, finished_at, feeds, ok, not_modified, failed, new_stories, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                time_text(run.started_at),
                super::now_text(),
                count(run.feeds),
                count(run.ok),
                count(run.not_modified),
                count(run.failed),
                count(run.new_stories),
                count(run.updated),
            ],
        )?;
        Ok(())
    }
}

/// The body of a poll's write, inside the caller's transaction.
fn write_poll(
    tx: &rusqlite::Transaction,
    feed: &FeedRow,
    update: &FeedUpdate,
    stories: &[NewStory],
    clusters: &mut ClusterIndex,
) -> Result<super::StoredCounts> {
    let first_success = feed.last_success_at.is_none();
    let mut counts = super::StoredCounts::default();
    if !stories.is_empty() {
        let new_rows;
        (counts, new_rows) = super::stories::store_stories(tx, feed.id, stories, update.polled_at, first_success)?;
        counts.clustered = super::stories::assign_clusters(tx, clusters, stories, &new_rows)?;
    }
    let polled = time_text(update.polled_at);
    let next = time_text(update.next_poll_at);
    match &update.state {
        FeedState::Fetched { title } => {
            tx.prepare_cached(
                "UPDATE feeds SET last_polled_at = ?2, last_success_at = ?2, last_status = ?3, last_error = NULL,
                     error_kind = NULL, consecutive_failures = 0, failing_since = NULL, next_poll_at = ?4,
                     etag = ?5, last_modified = ?6, min_interval_secs = ?7, title = coalesce(?8, title),
                     backfilled = coalesce(backfilled, ?9)
                 WHERE id = ?1",
            )?
            .execute(params![
                feed.id,
                polled,
                update.status,
                next,
                update.etag,
                update.last_modified,
                update.min_interval_secs,
                title,
                first_success.then_some(counts.new as i64),
            ])?;
        }
        FeedState::NotModified => {
            tx.prepare_cached(
                "UPDATE feeds SET last_polled_at = ?2, last_success_at = ?2, last_status = 304, last_error = NULL,
                     error_kind = NULL, consecutive_failures = 0, failing_since = NULL, next_poll_at = ?3,
                     etag = coalesce(?4, etag), last_modified = coalesce(?5, last_modified),
                     min_interval_secs = coalesce(?6, min_interval_secs)
                 WHERE id = ?1",
            )?
            .execute(params![
                feed.id,
                polled,
                next,
                update.etag,
                update.last_modified,
                update.min_interval_secs
            ])?;
        }
        FeedState::Failed { kind, message } => {
            tx.prepare_cached(
                "UPDATE feeds SET last_polled_at = ?2, last_status = ?3, last_error = ?4, error_kind = ?5,
                     consecutive_failures = consecutive_failures + 1, failing_since = coalesce(failing_since, ?2),
                     next_poll_at = ?6
                 WHERE id = ?1",
            )?
            .execute(params![feed.id, polled, update.status, message, kind, next])?;
        }
        FeedState::Gone => {
            tx.prepare_cached(
                "UPDATE feeds SET last_polled_at = ?2, last_status = ?3, gone_at = ?2, error_kind = 'gone',
                     last_error = 'the server answered 410 Gone: the feed was removed by its publisher',
                     consecutive_failures = consecutive_failures + 1, failing_since = coalesce(failing_since, ?2),
                     next_poll_at = NULL
                 WHERE id = ?1",
            )?
            .execute(params![feed.id, polled, update.status])?;
        }
    }
    if let Some(new_url) = update.moved_to.as_deref().filter(|u| *u != feed.url) {
        let taken: bool =
            tx.query_row("SELECT count(*) FROM feeds WHERE url = ?1", [new_url], |r| r.get::<_, i64>(0))? > 0;
        if taken {
            tracing::warn!(feed = %feed.url, moved_to = new_url, "feed moved to a URL that is already subscribed");
        } else {
            tx.prepare_cached("UPDATE feeds SET url = ?2, moved_from = ?3 WHERE id = ?1")?
                .execute(params![feed.id, new_url, feed.url])?;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_has_one_word_for_scripts_and_one_for_people() {
        let all = [
            FeedHealth::Ok,
            FeedHealth::New,
            FeedHealth::BackingOff,
            FeedHealth::Failing,
            FeedHealth::Gone,
            FeedHealth::Removed,
        ];
        for h in all {
            assert_eq!(serde_json::to_value(h).unwrap(), h.as_str(), "JSON says what as_str says");
        }
        assert_eq!(FeedHealth::BackingOff.as_str(), "backing_off");
        assert_eq!(FeedHealth::BackingOff.label(), "backing off");
        assert_eq!(FeedHealth::Failing.label(), "failing");
        let problems: Vec<FeedHealth> = all.into_iter().filter(|h| h.is_problem()).collect();
        assert_eq!(problems, [FeedHealth::BackingOff, FeedHealth::Failing, FeedHealth::Gone]);
    }
}
