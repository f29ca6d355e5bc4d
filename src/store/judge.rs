//! The judge's SQL: which stories are waiting for a judgement, the cache of accepted answers (by
//! text and judge), the day's request count, and stories to try again later.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::stories::write_reading;
use super::{Store, time_text};
use crate::stance::Classification;

/// A story for the judge.
#[derive(Debug, Clone)]
pub struct JudgeCandidate {
    pub id: i64,
    pub title: String,
    pub summary: String,
    /// The story's update count when read: a judgement is applied only if it has not changed.
    pub version: i64,
}

/// Which stories a judging pass takes.
#[derive(Debug, Clone, Copy)]
pub struct CandidateFilter<'a> {
    /// `model|prompt version`.
    pub judge: &'a str,
    /// Every story, not only those the built-in reader finds relevant or uncertain (plus a
    /// sample of the rest).
    pub all: bool,
    /// Stories judged by another model or prompt too.
    pub rejudge: bool,
    /// Relevance scores from here up count as uncertain.
    pub uncertain_from: f64,
    pub limit: usize,
}

/// One accepted judgement to store and apply.
pub struct AcceptedJudgement {
    pub story: i64,
    /// The story's update count the judged text had.
    pub version: i64,
    pub text_hash: String,
    pub answer: String,
    pub reading: Classification,
}

/// What `status` says about the judge.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct JudgeCounts {
    pub judged_stories: i64,
    pub waiting_to_retry: i64,
    pub requests_today: i64,
    pub last_error: Option<String>,
}

/// One in this many stories the built-in reader finds irrelevant is judged anyway, so the
/// judge sees what the built-in reader misses.
const SAMPLE_EVERY: i64 = 20;

impl Store {
    /// Stories waiting for `filter.judge`, newest first.
    pub fn judge_candidates(&self, filter: &CandidateFilter, now: DateTime<Utc>) -> Result<Vec<JudgeCandidate>> {
        // Exactly `judged_with IS NULL` without --rejudge, so the partial index answers it.
        let waiting =
            if filter.rejudge { "(s.judged_with IS NULL OR s.judged_with != ?6)" } else { "s.judged_with IS NULL" };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT s.id, s.title, coalesce(s.summary, ''), s.update_count FROM stories s
             WHERE {waiting}
               AND (?1 OR s.relevant = 1 OR s.relevance >= ?2 OR s.id % ?3 = 0)
               AND NOT EXISTS (SELECT 1 FROM judge_retries r WHERE r.story_id = s.id AND r.next_at > ?4)
             ORDER BY s.id DESC LIMIT ?5"
        ))?;
        let (now, limit) = (time_text(now), filter.limit as i64);
        let mut values: Vec<&dyn rusqlite::ToSql> =
            vec![&filter.all, &filter.uncertain_from, &SAMPLE_EVERY, &now, &limit];
        if filter.rejudge {
            values.push(&filter.judge);
        }
        let rows = stmt.query_map(values.as_slice(), |r| {
            Ok(JudgeCandidate { id: r.get(0)?, title: r.get(1)?, summary: r.get(2)?, version: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The answer `judge` gave for the text of `text_hash`, if it was accepted before.
    pub fn cached_judgement(&self, text_hash: &str, judge: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT answer FROM judgements WHERE text_hash = ?1 AND judge = ?2")?
            .query_row(params![text_hash, judge], |r| r.get(0))
            .optional()?)
    }

    /// Keep accepted judgements and make them the stories' readings, in one transaction (a
    /// story updated since it was read keeps its new reading: its new text waits for the judge).
    /// The stories count as changed at `now`, so the timeline refresh after this reads them
    /// again. Returns how many were applied.
    pub fn save_judgements(
        &mut self,
        judge: &str,
        accepted: &[AcceptedJudgement],
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let what = "store the judge's readings";
        let tx = super::begin(&mut self.conn, &self.path, what)?;
        let at = time_text(now);
        let mut applied = 0;
        for a in accepted {
            tx.prepare_cached(
                "INSERT INTO judgements (text_hash, judge, answer, judged_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO UPDATE SET answer = excluded.answer, judged_at = excluded.judged_at",
            )?
            .execute(params![a.text_hash, judge, a.answer, at])?;
            let current: Option<i64> = tx
                .prepare_cached("SELECT update_count FROM stories WHERE id = ?1")?
                .query_row([a.story], |r| r.get(0))
                .optional()?;
            if current != Some(a.version) {
                continue;
            }
            applied += 1;
            write_reading(&tx, a.story, &a.reading, false, Some(judge))?;
            tx.prepare_cached("UPDATE stories SET changed_at = ?2 WHERE id = ?1")?.execute(params![a.story, at])?;
            tx.prepare_cached("DELETE FROM judge_retries WHERE story_id = ?1")?.execute([a.story])?;
        }
        super::commit(tx, &self.path, what)?;
        Ok(applied)
    }

    /// Until when the judge's endpoint is left alone (a 429, or failing requests), if it is.
    pub fn judge_paused_until(&self) -> Result<Option<DateTime<Utc>>> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM store_settings WHERE key = 'judge_paused_until'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(text.as_deref().and_then(super::parse_time))
    }

    pub fn pause_judge_until(&mut self, until: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO store_settings (key, value) VALUES ('judge_paused_until', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([time_text(until)])
            .map_err(|e| super::write_failure(&self.path, "record the judge's pause", e))?;
        Ok(())
    }

    /// Requests sent to the judge on `day` (UTC, `YYYY-MM-DD`).
    pub fn judge_requests_on(&self, day: &str) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT requests FROM judge_days WHERE day = ?1")?
            .query_row([day], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// Count `n` requests on `day` before they are sent, so no crash or restart can exceed the
    /// daily limit.
    pub fn count_judge_requests(&mut self, day: &str, n: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO judge_days (day, requests) VALUES (?1, ?2)
                 ON CONFLICT (day) DO UPDATE SET requests = requests + excluded.requests",
            )?
            .execute(params![day, n])
            .map_err(|e| super::write_failure(&self.path, "count the judge's requests", e))?;
        Ok(())
    }

    /// Try `story` again no earlier than `next_at` (None: never; it keeps the built-in reading
    /// meanwhile), counting a rejected answer or a failed request.
    pub fn judge_retry_later(
        &mut self,
        story: i64,
        rejected: bool,
        error: &str,
        next_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // Never: a time after every other (RFC 3339 text compares as time only within 4-digit years).
        let next = next_at.map_or_else(|| "9999-12-31T23:59:59Z".to_string(), time_text);
        let (rejections, failures) = if rejected { (1, 0) } else { (0, 1) };
        self.conn
            .prepare_cached(
                "INSERT INTO judge_retries (story_id, rejections, failures, next_at, last_error, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (story_id) DO UPDATE SET rejections = rejections + ?2, failures = failures + ?3,
                     next_at = ?4, last_error = ?5, updated_at = ?6",
            )?
            .execute(params![story, rejections, failures, next, error, time_text(now)])
            .map_err(|e| super::write_failure(&self.path, "record a judge retry", e))?;
        Ok(())
    }

    /// How many answers about `story` were rejected, and how many requests failed, before.
    pub fn judge_attempts(&self, story: i64) -> Result<(i64, i64)> {
        Ok(self
            .conn
            .prepare_cached("SELECT rejections, failures FROM judge_retries WHERE story_id = ?1")?
            .query_row([story], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, 0)))
    }

    /// The judge's counts for `status`.
    pub fn judge_counts(&self, day: &str) -> Result<JudgeCounts> {
        let judged =
            self.conn.query_row("SELECT count(*) FROM stories WHERE judged_with IS NOT NULL", [], |r| r.get(0))?;
        let (waiting, last_error) = self.conn.query_row(
            "SELECT count(*), (SELECT last_error FROM judge_retries ORDER BY updated_at DESC LIMIT 1) FROM judge_retries",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(JudgeCounts {
            judged_stories: judged,
            waiting_to_retry: waiting,
            requests_today: self.judge_requests_on(day)?,
            last_error,
        })
    }

    /// Judged stories in the labelled corpus's format (id, url, source, published, title,
    /// summary, relevant, labels, shift), oldest first, one JSON object each.
    pub fn judged_as_corpus(&self) -> Result<Vec<serde_json::Value>> {
        let mut stories = self.conn.prepare(
            "SELECT s.id, s.url, s.outlet, s.published_at, s.title, coalesce(s.summary, ''), s.relevant
             FROM stories s WHERE s.judged_with IS NOT NULL ORDER BY s.published_at, s.id",
        )?;
        let mut labels =
            self.conn.prepare_cached("SELECT entity, stance FROM story_entities WHERE story_id = ?1 ORDER BY rowid")?;
        let mut shifts = self
            .conn
            .prepare_cached("SELECT entity, from_stance, to_stance FROM story_shifts WHERE story_id = ?1 LIMIT 1")?;
        let rows: Vec<(i64, serde_json::Value)> = stories
            .query_map([], |r| {
                let published: String = r.get(3)?;
                let item = serde_json::json!({
                    "id": format!("s{}", r.get::<_, i64>(0)?),
                    "url": r.get::<_, Option<String>>(1)?,
                    "source": r.get::<_, Option<String>>(2)?,
                    "published": published.get(..10).unwrap_or(&published),
                    "title": r.get::<_, String>(4)?,
                    "summary": r.get::<_, String>(5)?,
                    "relevant": r.get::<_, Option<bool>>(6)?.unwrap_or(false),
                    "note": "labelled by the judge",
                });
                Ok((r.get(0)?, item))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut item) in rows {
            let labels: Vec<serde_json::Value> = labels
                .query_map([id], |r| {
                    Ok(serde_json::json!({"entity": r.get::<_, String>(0)?, "stance": r.get::<_, String>(1)?}))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let shift = shifts
                .query_row([id], |r| {
                    Ok(serde_json::json!({"entity": r.get::<_, String>(0)?, "from": r.get::<_, String>(1)?, "to": r.get::<_, String>(2)?}))
                })
                .optional()?;
            item["labels"] = labels.into();
            item["shift"] = shift.unwrap_or(serde_json::Value::Null);
            out.push(item);
        }
        Ok(out)
    }
}
