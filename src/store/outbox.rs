//! The outbox's SQL: digests and the stories they covered, and every message stored before it is
//! sent (status pending → sending → sent | failed, with the server's reply).
//!
//! Several processes may send from one database (the daemon, `outbox retry`, `digest --send`):
//! a message is claimed (`sending`, the claimant, a lease) before it goes to the server, and only
//! the claimant records the result. A lease that lapses — its process was killed mid-send —
//! returns the message to `pending`, so it is sent again only when the server may have it.

use std::io::{Seek, Write};

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, time_text};
use crate::stance::Stance;

/// What returns a claim whose sender stopped to `pending`.
const RELEASE: &str = "status = 'pending', claimed_by = NULL, lease_until = NULL,
     last_error = 'the process sending it stopped before recording the result; sent again'";

/// How much of a message is read or written at once.
const BLOB_BUFFER: usize = 64 * 1024;

/// A relevant story cluster no digest has covered yet.
#[derive(Debug, Clone, Serialize)]
pub struct PendingCluster {
    pub cluster: i64,
    /// The cluster's earliest article.
    pub title: String,
    /// Its summary (plain text), cut to the characters asked for.
    pub summary: String,
    pub url: Option<String>,
    pub outlet: String,
    pub published: String,
    /// Every outlet covering it (earliest first).
    pub outlets: Vec<String>,
    /// The organisation it says most about, with that stance.
    pub entity: Option<String>,
    pub stance: Option<Stance>,
    /// That reading was the language-model judge's (not the built-in reader's).
    pub judged: bool,
    /// All its articles came from a first poll or an import (history, not news).
    pub backfill: bool,
    pub stories: Vec<i64>,
}

/// One message to store in the outbox.
pub struct NewMessage<'a> {
    pub recipient: String,
    pub message_id: String,
    pub subject: String,
    pub bytes: Box<dyn MessageBytes + 'a>,
}

/// A message's bytes, written into its outbox row as they are made: a large digest is never
/// held whole in memory.
pub trait MessageBytes {
    /// How many bytes `write_to` writes.
    fn size(&self) -> u64;
    fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()>;
}

impl MessageBytes for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(self)
    }
}

/// A stored message.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub message_id: String,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub server_reply: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl Store {
    /// Relevant story clusters with no story in any digest, oldest first, with summaries cut to
    /// `summary_chars` characters (a digest of thousands of clusters shows a line of each).
    pub fn pending_clusters(&self, summary_chars: usize) -> Result<Vec<PendingCluster>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.cluster_id, s.id, s.title, s.url, coalesce(s.outlet, ''), s.published_at, s.backfill,
                    substr(s.summary, 1, ?1),
                    (SELECT e.entity || ' ' || e.stance || ' ' || e.reader FROM story_entities e WHERE e.story_id = s.id
                     ORDER BY e.stance = 'neutral', e.confidence DESC LIMIT 1)
             FROM stories s
             WHERE s.relevant = 1 AND NOT EXISTS (
                 SELECT 1 FROM stories d JOIN digest_stories ds ON ds.story_id = d.id WHERE d.cluster_id = s.cluster_id)
             ORDER BY s.cluster_id, s.published_at, s.id",
        )?;
        // Rows come cluster by cluster, so each cluster is built in turn, with no map of them all.
        let mut clusters: Vec<PendingCluster> = Vec::new();
        let rows = stmt.query_map([summary_chars as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, String>(7)?,
            ))
        })?;
        for row in rows {
            let (cluster, id, title, url, outlet, published, backfill, main, summary) = row?;
            let mut parts = main.as_deref().unwrap_or_default().splitn(3, ' ');
            let (entity, stance, reader) = (parts.next(), parts.next(), parts.next());
            let entity = entity.filter(|e| !e.is_empty()).map(str::to_string);
            let stance = stance.and_then(Stance::parse);
            let judged = reader == Some(super::stories::JUDGE_READER);
            if clusters.last().is_none_or(|c| c.cluster != cluster) {
                clusters.push(PendingCluster {
                    cluster,
                    title,
                    summary,
                    url,
                    outlet: outlet.clone(),
                    published,
                    outlets: Vec::new(),
                    entity: None,
                    stance: None,
                    judged: false,
                    backfill: true,
                    stories: Vec::new(),
                });
            }
            let c = clusters.last_mut().expect("the row's cluster is last");
            if !outlet.is_empty() && !c.outlets.contains(&outlet) {
                c.outlets.push(outlet);
            }
            if c.entity.is_none() || c.stance == Some(Stance::Neutral) {
                if entity.is_some() {
                    c.judged = judged;
                }
                (c.entity, c.stance) = (entity.or(c.entity.take()), stance.or(c.stance.take()));
            }
            c.backfill &= backfill;
            c.stories.push(id);
        }
        clusters.sort_by(|a, b| a.published.cmp(&b.published).then(a.cluster.cmp(&b.cluster)));
        Ok(clusters)
    }

    /// A fingerprint of the change events (new, upgraded or withdrawn ones change it).
    pub fn change_events_state(&self) -> Result<String> {
        Ok(self.conn.query_row(
            "SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(confirmed_at), '')
                    || ':' || coalesce(max(withdrawn_at), '') FROM change_events",
            [],
            |r| r.get(0),
        )?)
    }

    /// When the last digest was composed.
    pub fn last_digest_at(&self) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT max(created_at) FROM digests", [], |r| r.get(0)).optional()?.flatten())
    }

    /// Whether a digest for `period` exists already.
    pub fn digest_exists(&self, period: &str) -> Result<bool> {
        Ok(self.conn.query_row("SELECT count(*) FROM digests WHERE period = ?1", [period], |r| r.get::<_, i64>(0))? > 0)
    }

    /// Record a digest, the stories it covers (`mailed` and `counted` clusters' stories) and its
    /// messages: from here on those clusters are never mailed again, and the messages are waiting
    /// to be sent. Returns the digest's id. Runs inside [`Store::write`], in the transaction that
    /// read the clusters, so two processes can never list the same cluster.
    pub fn insert_digest(
        &mut self,
        period: &str,
        mailed: &[&PendingCluster],
        counted: &[&PendingCluster],
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        debug_assert!(!self.conn.is_autocommit(), "insert_digest runs inside Store::write");
        let now = time_text(now);
        let tx = &self.conn;
        tx.execute(
            "INSERT INTO digests (period, created_at, clusters, backfilled) VALUES (?1, ?2, ?3, ?4)",
            params![period, now, mailed.len() as i64, counted.len() as i64],
        )?;
        let digest = tx.last_insert_rowid();
        {
            let mut covered =
                tx.prepare("INSERT OR IGNORE INTO digest_stories (story_id, digest_id) VALUES (?1, ?2)")?;
            for c in mailed.iter().chain(counted) {
                for story in &c.stories {
                    covered.execute(params![story, digest])?;
                }
            }
            let mut queue = tx.prepare(
                "INSERT INTO outbox (kind, digest_id, recipient, message_id, subject, next_attempt_at, created_at)
                 VALUES ('digest', ?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for m in messages {
                queue.execute(params![digest, m.recipient, m.message_id, m.subject, now])?;
                self.insert_message_bytes(m)?;
            }
        }
        Ok(digest)
    }

    /// Confirmed changes dated on or after `since` with no alert queued yet.
    pub fn unalerted_changes(&self, since: chrono::NaiveDate) -> Result<Vec<super::ChangeRow>> {
        let ids: Vec<i64> = self
            .conn
            .prepare(
                "SELECT id FROM change_events c WHERE level = 'confirmed' AND withdrawn_at IS NULL AND at >= ?1
                   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'alert' AND o.change_id = c.id)",
            )?
            .query_map([since.to_string()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(self.changes(None, None)?.into_iter().filter(|c| ids.contains(&c.id)).collect())
    }

    /// Store the alert messages of change `change_id` (inside [`Store::write`], with the read
    /// that found the change unalerted).
    pub fn insert_alert(&mut self, change_id: i64, messages: &[NewMessage], now: DateTime<Utc>) -> Result<()> {
        debug_assert!(!self.conn.is_autocommit(), "insert_alert runs inside Store::write");
        let now = time_text(now);
        let tx = &self.conn;
        {
            let mut queue = tx.prepare(
                "INSERT OR IGNORE INTO outbox (kind, change_id, recipient, message_id, subject, next_attempt_at, created_at)
                 VALUES ('alert', ?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for m in messages {
                if queue.execute(params![change_id, m.recipient, m.message_id, m.subject, now])? == 1 {
                    self.insert_message_bytes(m)?;
                }
            }
        }
        Ok(())
    }

    /// Store the bytes of the outbox row just inserted: a zeroblob of their size, filled as they
    /// are written.
    fn insert_message_bytes(&self, m: &NewMessage) -> Result<()> {
        self.conn.execute(
            "INSERT INTO outbox_messages (id, message) VALUES (last_insert_rowid(), zeroblob(?1))",
            [i64::try_from(m.bytes.size())?],
        )?;
        let row = self.conn.last_insert_rowid();
        let mut blob = self.conn.blob_open("main", "outbox_messages", "message", row, false)?;
        let mut out = std::io::BufWriter::with_capacity(BLOB_BUFFER, &mut blob);
        m.bytes.write_to(&mut out)?;
        out.flush()?;
        drop(out);
        // A message shorter than it said would leave zeros in the row: refused, not stored.
        anyhow::ensure!(blob.stream_position()? == m.bytes.size(), "message {} is shorter than measured", m.message_id);
        Ok(())
    }

    /// Write stored message `id` to `out`, as it is read.
    pub fn write_message(&self, id: i64, out: &mut dyn Write) -> Result<()> {
        let mut blob = self.conn.blob_open("main", "outbox_messages", "message", id, true)?;
        std::io::copy(&mut std::io::BufReader::with_capacity(BLOB_BUFFER, &mut blob), out)?;
        Ok(())
    }

    /// Messages waiting to be sent whose next attempt is due (all pending with `all`), after
    /// returning to `pending` the claims whose lease lapsed. Each must still be claimed.
    /// `me` is the caller: its own claims are never taken as lapsed (it may hold a send the
    /// server accepted and the database could not record yet).
    pub fn due_mail(&mut self, now: DateTime<Utc>, all: bool, me: &str) -> Result<Vec<OutboxRow>> {
        let lapsed = self
            .conn
            .execute(
                &format!(
                    "UPDATE outbox SET {RELEASE}
                 WHERE status = 'sending' AND lease_until < ?1 AND claimed_by != ?2"
                ),
                params![time_text(now), me],
            )
            .map_err(|e| super::write_failure(&self.path, "return lapsed mail claims", e))?;
        if lapsed > 0 {
            tracing::warn!(messages = lapsed, "mail claims lapsed (a sender was stopped mid-send); sending them again");
        }
        self.outbox_rows(
            "WHERE status = 'pending' AND (?1 OR next_attempt_at <= ?2) ORDER BY id",
            params![all, time_text(now)],
        )
    }

    /// The processes holding claims now.
    pub fn claim_owners(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT claimed_by FROM outbox WHERE status = 'sending' AND claimed_by IS NOT NULL")?;
        Ok(stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

    /// Return `owner`'s claims to `pending` (its process is gone); how many.
    pub fn release_claims(&mut self, owner: &str) -> Result<usize> {
        self.conn
            .execute(
                &format!(
                    "UPDATE outbox SET {RELEASE}
                 WHERE status = 'sending' AND claimed_by = ?1"
                ),
                [owner],
            )
            .map_err(|e| super::write_failure(&self.path, "release a stopped sender's claims", e))
    }

    /// Claim message `id` for `owner` until `lease_until`: true when it was still pending (no
    /// other process has it) and, with `due_by`, its next attempt is due by then (another
    /// process may have deferred it meanwhile). Only a claimed message goes to the server.
    pub fn claim(
        &mut self,
        id: i64,
        owner: &str,
        lease_until: DateTime<Utc>,
        due_by: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let tx = super::begin(&mut self.conn, &self.path, "claim a message for sending")?;
        let claimed = tx.execute(
            "UPDATE outbox SET status = 'sending', claimed_by = ?2, lease_until = ?3
             WHERE id = ?1 AND status = 'pending' AND (?4 IS NULL OR next_attempt_at <= ?4)",
            params![id, owner, time_text(lease_until), due_by.map(time_text)],
        )?;
        super::commit(tx, &self.path, "claim a message for sending")?;
        Ok(claimed == 1)
    }

    /// Every stored message, newest first.
    pub fn outbox(&self) -> Result<Vec<OutboxRow>> {
        self.outbox_rows("ORDER BY id DESC", params![])
    }

    fn outbox_rows(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<OutboxRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, kind, recipient, message_id, subject, status, attempts, next_attempt_at, last_error,
                    server_reply, created_at, sent_at FROM outbox {filter}"
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok(OutboxRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                recipient: r.get(2)?,
                message_id: r.get(3)?,
                subject: r.get(4)?,
                status: r.get(5)?,
                attempts: r.get(6)?,
                next_attempt_at: r.get(7)?,
                last_error: r.get(8)?,
                server_reply: r.get(9)?,
                created_at: r.get(10)?,
                sent_at: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The server accepted message `id`, claimed by `owner`: it is never sent again. False when
    /// the claim was no longer `owner`'s (its lease lapsed and another process took it).
    pub fn mark_sent(&mut self, id: i64, owner: &str, reply: &str, sent_at: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, server_reply = ?3, sent_at = ?4,
                     last_error = NULL, claimed_by = NULL, lease_until = NULL
                 WHERE id = ?1 AND status = 'sending' AND claimed_by = ?2",
                params![id, owner, reply, time_text(sent_at)],
            )
            .map_err(|e| super::write_failure(&self.path, "record a message as sent", e))?;
        Ok(n == 1)
    }

    /// The server accepted message `id`, whoever holds its claim now (its sender could not
    /// record it at the time): it is never sent again. False when it is already settled.
    pub fn mark_accepted(&mut self, id: i64, reply: &str, sent_at: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, server_reply = ?2, sent_at = ?3,
                     last_error = NULL, claimed_by = NULL, lease_until = NULL
                 WHERE id = ?1 AND status IN ('pending', 'sending')",
                params![id, reply, time_text(sent_at)],
            )
            .map_err(|e| super::write_failure(&self.path, "record a message as sent", e))?;
        Ok(n == 1)
    }

    /// Sending message `id` (claimed by `owner`) failed: a permanent failure (5xx) is recorded
    /// and not retried; a temporary one returns it to `pending`, tried again at `retry_at`.
    pub fn mark_failed(&mut self, id: i64, owner: &str, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<bool> {
        let n = match retry_at {
            Some(t) => self.conn.execute(
                "UPDATE outbox SET status = 'pending', attempts = attempts + 1, last_error = ?3, next_attempt_at = ?4,
                     claimed_by = NULL, lease_until = NULL
                 WHERE id = ?1 AND status = 'sending' AND claimed_by = ?2",
                params![id, owner, error, time_text(t)],
            ),
            None => self.conn.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?3, server_reply = ?3,
                     claimed_by = NULL, lease_until = NULL
                 WHERE id = ?1 AND status = 'sending' AND claimed_by = ?2",
                params![id, owner, error],
            ),
        }
        .map_err(|e| super::write_failure(&self.path, "record a failed send", e))?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_messages(n: usize) -> (tempfile::TempDir, Store, Vec<i64>) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        let messages: Vec<NewMessage> = (0..n)
            .map(|i| NewMessage {
                recipient: format!("r{i}@example.org"),
                message_id: format!("<m{i}@example.org>"),
                subject: "s".into(),
                bytes: Box::new(b"body".to_vec()),
            })
            .collect();
        store.write("queue", |s| s.insert_digest("daily:2026-01-01", &[], &[], &messages, Utc::now())).unwrap();
        let ids = store.due_mail(Utc::now(), true, "me").unwrap().iter().map(|m| m.id).collect();
        (dir, store, ids)
    }

    #[test]
    fn a_message_is_claimed_by_one_sender_and_only_its_claimant_records_it() {
        let (_dir, mut store, ids) = store_with_messages(1);
        let lease = Utc::now() + chrono::Duration::minutes(5);
        assert!(store.claim(ids[0], "a", lease, None).unwrap());
        assert!(!store.claim(ids[0], "b", lease, None).unwrap(), "claimed twice");
        assert!(store.due_mail(Utc::now(), true, "me").unwrap().is_empty(), "a claimed message is not due");
        assert!(!store.mark_sent(ids[0], "b", "250 ok", Utc::now()).unwrap(), "recorded by a non-claimant");
        assert!(!store.mark_failed(ids[0], "b", "421", Some(Utc::now())).unwrap());
        assert!(store.mark_sent(ids[0], "a", "250 ok", Utc::now()).unwrap());
        let row = &store.outbox().unwrap()[0];
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 1));
        assert!(!store.claim(ids[0], "b", lease, None).unwrap(), "a sent message is claimed again");
    }

    #[test]
    fn a_lapsed_or_released_claim_returns_the_message_to_pending() {
        let (_dir, mut store, ids) = store_with_messages(2);
        let now = Utc::now();
        assert!(store.claim(ids[0], "gone", now - chrono::Duration::seconds(1), None).unwrap());
        assert!(store.claim(ids[1], "stopped", now + chrono::Duration::minutes(5), None).unwrap());
        let due: Vec<i64> = store.due_mail(now, true, "me").unwrap().iter().map(|m| m.id).collect();
        assert_eq!(due, [ids[0]], "the lapsed claim is due again, the live one is not");
        assert_eq!(store.claim_owners().unwrap(), ["stopped"]);
        assert_eq!(store.release_claims("stopped").unwrap(), 1);
        assert_eq!(store.due_mail(now, true, "me").unwrap().len(), 2);
        // A temporary failure returns the message to pending for its next attempt.
        assert!(store.claim(ids[0], "a", now + chrono::Duration::minutes(5), None).unwrap());
        assert!(store.mark_failed(ids[0], "a", "421 busy", Some(now + chrono::Duration::minutes(1))).unwrap());
        assert_eq!(store.due_mail(now, false, "me").unwrap().len(), 1, "not due before its next attempt");
        assert_eq!(store.due_mail(now + chrono::Duration::minutes(2), false, "me").unwrap().len(), 2);
    }

    #[test]
    fn a_senders_own_lapsed_claim_stays_its_own_and_an_accepted_send_is_recorded_whoever_holds_it() {
        let (_dir, mut store, ids) = store_with_messages(2);
        let now = Utc::now();
        assert!(store.claim(ids[0], "me", now - chrono::Duration::seconds(1), None).unwrap());
        assert!(store.due_mail(now, true, "me").unwrap().iter().all(|m| m.id != ids[0]), "own claim taken as lapsed");
        // Another process finds it lapsed and takes it; the server had accepted it from "me".
        assert!(store.due_mail(now, true, "other").unwrap().iter().any(|m| m.id == ids[0]));
        assert!(store.claim(ids[0], "other", now + chrono::Duration::minutes(5), None).unwrap());
        assert!(store.mark_accepted(ids[0], "250 ok", now).unwrap());
        assert!(!store.mark_sent(ids[0], "other", "250 ok", now).unwrap(), "recorded twice");
        assert!(!store.mark_accepted(ids[0], "250 ok", now).unwrap(), "already settled");
        // A message deferred by another process is not claimed before its next attempt.
        assert!(store.claim(ids[1], "a", now + chrono::Duration::minutes(5), None).unwrap());
        assert!(store.mark_failed(ids[1], "a", "421", Some(now + chrono::Duration::minutes(1))).unwrap());
        assert!(!store.claim(ids[1], "b", now + chrono::Duration::minutes(5), Some(now)).unwrap());
        assert!(store.claim(ids[1], "b", now + chrono::Duration::minutes(5), None).unwrap(), "`outbox retry` sends it");
    }
}
