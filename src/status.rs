//! `stancewatch status`: what a person checking on the service wants to know at a glance —
//! feed health, the last poll, today's stories, mail waiting or refused, the last change.
//! The same snapshot feeds `/metrics`.

use std::fmt::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{ChangeRow, FeedHealth, FeedRow, Store, StoreCounts};

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub database: DatabaseInfo,
    pub last_poll: Option<String>,
    pub stories: StoryCounts,
    pub feeds: FeedCounts,
    /// Every feed that is not healthy (backing off, failing for more than a day, or gone).
    pub problem_feeds: Vec<ProblemFeed>,
    pub mail: MailCounts,
    pub changes: ChangeCounts,
    /// The change event reported last (the `changes` shape, with its evidence).
    pub last_change: Option<ChangeRow>,
    /// The language-model judge's work (all zero when it was never configured).
    pub judge: crate::store::JudgeCounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseInfo {
    pub path: String,
    /// The database file plus its write-ahead log.
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoryCounts {
    pub total: i64,
    pub relevant: i64,
    /// First seen since midnight UTC.
    pub today: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedCounts {
    pub total: usize,
    pub ok: usize,
    /// Never polled successfully yet, no failure either.
    pub new: usize,
    pub backing_off: usize,
    pub failing: usize,
    pub gone: usize,
    /// Removed with `feeds remove` (kept for their stories, not polled).
    pub removed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProblemFeed {
    pub url: String,
    pub name: Option<String>,
    /// `backing_off`, `failing` (for more than a day) or `gone`.
    pub health: FeedHealth,
    pub error_kind: Option<String>,
    pub last_error: Option<String>,
    pub failing_since: Option<String>,
    pub consecutive_failures: i64,
    pub next_poll_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MailCounts {
    pub pending: i64,
    pub failed: i64,
    pub sent: i64,
    pub oldest_pending: Option<String>,
    pub last_sent: Option<String>,
    pub digests: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeCounts {
    pub possible: i64,
    pub confirmed: i64,
}

/// The status as of `now`, read from the database, with the last change and its evidence.
pub fn gather(store: &Store, now: DateTime<Utc>) -> Result<Status> {
    let mut status = counts(store, now)?;
    status.last_change = store.last_change()?;
    status.judge = store.judge_counts(&now.format("%Y-%m-%d").to_string())?;
    Ok(status)
}

/// The status without the last change: the counts `/metrics` reads at every scrape.
pub fn counts(store: &Store, now: DateTime<Utc>) -> Result<Status> {
    let today = now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
    let c: StoreCounts = store.counts(today)?;
    let mut feeds = FeedCounts::default();
    let mut problems = Vec::new();
    for f in store.feeds()? {
        let health = f.health(now);
        feeds.total += 1;
        match health {
            FeedHealth::Ok => feeds.ok += 1,
            FeedHealth::New => feeds.new += 1,
            FeedHealth::BackingOff => feeds.backing_off += 1,
            FeedHealth::Failing => feeds.failing += 1,
            FeedHealth::Gone => feeds.gone += 1,
            FeedHealth::Removed => feeds.removed += 1,
        }
        if health.is_problem() {
            problems.push(problem(f, health));
        }
    }
    // The worst first: gone, then failing, then backing off; longest failing first within each.
    let rank = |h: FeedHealth| match h {
        FeedHealth::Gone => 0,
        FeedHealth::Failing => 1,
        _ => 2,
    };
    problems.sort_by(|a, b| {
        rank(a.health).cmp(&rank(b.health)).then_with(|| a.failing_since.cmp(&b.failing_since)).then(a.url.cmp(&b.url))
    });
    let path = store.path();
    let bytes =
        [path.to_path_buf(), wal_path(path)].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    Ok(Status {
        database: DatabaseInfo { path: path.display().to_string(), bytes },
        last_poll: c.last_poll,
        stories: StoryCounts { total: c.stories, relevant: c.relevant, today: c.stories_since },
        feeds,
        problem_feeds: problems,
        mail: MailCounts {
            pending: c.mail_pending,
            failed: c.mail_failed,
            sent: c.mail_sent,
            oldest_pending: c.oldest_pending,
            last_sent: c.last_sent,
            digests: c.digests,
        },
        changes: ChangeCounts { possible: c.changes_possible, confirmed: c.changes_confirmed },
        last_change: None,
        judge: Default::default(),
    })
}

fn wal_path(db: &std::path::Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

fn problem(f: FeedRow, health: FeedHealth) -> ProblemFeed {
    ProblemFeed {
        health,
        url: f.url,
        name: f.name.or(f.title),
        error_kind: f.error_kind,
        last_error: f.last_error,
        failing_since: f.failing_since,
        consecutive_failures: f.consecutive_failures,
        next_poll_at: f.next_poll_at,
    }
}

impl Status {
    /// The view for people.
    pub fn table(&self, now: DateTime<Utc>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "database     {} ({})", self.database.path, human_bytes(self.database.bytes));
        let last = match &self.last_poll {
            Some(t) => format!("{t} ({})", ago(t, now)),
            None => "never".into(),
        };
        let _ = writeln!(out, "last poll    {last}");
        let s = &self.stories;
        let _ = writeln!(out, "stories      {} stored, {} relevant, {} new today (UTC)", s.total, s.relevant, s.today);
        let f = &self.feeds;
        let _ = writeln!(
            out,
            "feeds        {} polled: {} ok, {} new, {} backing off, {} failing for more than a day, {} gone{}",
            f.total - f.removed,
            f.ok,
            f.new,
            f.backing_off,
            f.failing,
            f.gone,
            if f.removed > 0 { format!(" ({} removed)", f.removed) } else { String::new() }
        );
        let m = &self.mail;
        let waiting = m.oldest_pending.as_deref().map(|t| format!(", oldest waiting since {t}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "mail         {} pending, {} refused, {} sent ({} digests){waiting}",
            m.pending, m.failed, m.sent, m.digests
        );
        let _ = writeln!(out, "changes      {} confirmed, {} possible", self.changes.confirmed, self.changes.possible);
        match &self.last_change {
            Some(c) => {
                let _ = writeln!(
                    out,
                    "last change  {} {} → {} ({}, at {}, detected {})",
                    c.entity, c.from, c.to, c.level, c.at, c.detected_at
                );
            }
            None => out.push_str("last change  none detected\n"),
        }
        let j = &self.judge;
        if j.judged_stories + j.requests_today + j.waiting_to_retry > 0 {
            let error = j.last_error.as_deref().map(|e| format!(" (last: {e})")).unwrap_or_default();
            let _ = writeln!(
                out,
                "judge        {} stories judged, {} requests today (UTC), {} waiting to be tried again{error}",
                j.judged_stories, j.requests_today, j.waiting_to_retry
            );
        }
        if !self.problem_feeds.is_empty() {
            let _ = writeln!(out, "\nfeeds needing attention:");
            for p in &self.problem_feeds {
                let health = p.health.label();
                let why = match (&p.error_kind, &p.last_error) {
                    (Some(k), Some(e)) => format!("{k}: {e}"),
                    (_, Some(e)) => e.clone(),
                    _ => String::new(),
                };
                let since = p.failing_since.as_deref().map(|t| format!(" (since {t})")).unwrap_or_default();
                let _ = writeln!(out, "  {health:<12} {}  {why}{since}", p.url);
            }
        }
        out
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

fn ago(time: &str, now: DateTime<Utc>) -> String {
    let Some(t) = crate::store::parse_time(time) else { return String::new() };
    let secs = (now - t).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s} seconds ago"),
        s if s < 7200 => format!("{} minutes ago", s / 60),
        s if s < 172_800 => format!("{} hours ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_naturally() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        let now = DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(ago("2026-11-27T11:59:30Z", now), "30 seconds ago");
        assert_eq!(ago("2026-11-27T11:00:00Z", now), "60 minutes ago");
        assert_eq!(ago("2026-11-24T12:00:00Z", now), "3 days ago");
    }
}
