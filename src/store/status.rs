//! Counts for `status`, `/metrics` and `/healthz`: small aggregate queries, each on an index.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Store, time_text};

/// The database's side of `status`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StoreCounts {
    pub stories: i64,
    pub relevant: i64,
    /// Stories first seen since the given time (the start of today, UTC, for `status`).
    pub stories_since: i64,
    /// When the last poll cycle finished.
    pub last_poll: Option<String>,
    pub mail_pending: i64,
    pub mail_failed: i64,
    pub mail_sent: i64,
    /// The oldest message still waiting to be sent.
    pub oldest_pending: Option<String>,
    pub last_sent: Option<String>,
    pub changes_possible: i64,
    pub changes_confirmed: i64,
    pub digests: i64,
}

impl Store {
    pub fn counts(&self, since: DateTime<Utc>) -> Result<StoreCounts> {
        let one = |sql: &str| -> rusqlite::Result<i64> { self.conn.query_row(sql, [], |r| r.get(0)) };
        let mut c = StoreCounts {
            stories: one("SELECT count(*) FROM stories")?,
            relevant: one("SELECT count(*) FROM stories WHERE relevant = 1")?,
            stories_since: self.conn.query_row(
                "SELECT count(*) FROM stories WHERE fetched_at >= ?1",
                params![time_text(since)],
                |r| r.get(0),
            )?,
            last_poll: self
                .conn
                .query_row("SELECT finished_at FROM poll_runs ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
                .optional()?
                .flatten(),
            digests: one("SELECT count(*) FROM digests")?,
            ..StoreCounts::default()
        };
        let mut stmt = self.conn.prepare_cached("SELECT status, count(*) FROM outbox GROUP BY status")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (status, n) = row?;
            match status.as_str() {
                // A message being sent right now is still waiting until the server accepts it.
                "pending" | "sending" => c.mail_pending += n,
                "failed" => c.mail_failed = n,
                _ => c.mail_sent = n,
            }
        }
        c.oldest_pending = self.conn.query_row(
            "SELECT min(created_at) FROM outbox WHERE status IN ('pending', 'sending')",
            [],
            |r| r.get(0),
        )?;
        c.last_sent = self.conn.query_row("SELECT max(sent_at) FROM outbox WHERE status = 'sent'", [], |r| r.get(0))?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT level, count(*) FROM change_events WHERE withdrawn_at IS NULL GROUP BY level")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (level, n) = row?;
            if level == "confirmed" {
                c.changes_confirmed = n;
            } else {
                c.changes_possible = n;
            }
        }
        Ok(c)
    }
}
