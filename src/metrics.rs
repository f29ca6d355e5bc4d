//! The daemon's counters, for Prometheus `/metrics` and the `/healthz` verdict.
//!
//! One process-wide set of atomics: the poll writer and the daemon loop add to them, the HTTP
//! server reads them. Counts that live in the database (feeds by health, the outbox, change
//! events) are read from it at scrape time instead, so they are right after a restart too.

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use chrono::Utc;

/// Failure kinds a poll can end with (see `FetchError::kind` and the parse step); anything else
/// is counted as "other" so the label set stays fixed.
pub const FAILURE_KINDS: [&str; 9] =
    ["timeout", "connect", "http", "rate_limited", "too_large", "parse", "gone", "redirect", "other"];

/// The scheduler wakes at least once a minute and the poll writer beats per saved feed, so this
/// much silence means something is stuck (a hung transaction, a blocked disk).
pub const STUCK_AFTER_SECS: u64 = 10 * 60;

/// How a judge request ended (`stancewatch_judge_requests_total{outcome}`): accepted, answered
/// from the cache, answer rejected, timed out, endpoint unreachable, rate limited (429), or an
/// error status.
pub const JUDGE_OUTCOMES: [&str; 7] = ["ok", "cached", "invalid", "timeout", "unreachable", "rate_limited", "error"];

/// Upper bounds (seconds) of the judge's request latency histogram.
const JUDGE_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Upper bounds (seconds) of the poll cycle duration histogram.
const CYCLE_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0];

pub struct Metrics {
    pub polls_fetched: AtomicU64,
    pub polls_not_modified: AtomicU64,
    failures: [AtomicU64; FAILURE_KINDS.len()],
    pub stories_new: AtomicU64,
    pub stories_updated: AtomicU64,
    pub stories_classified: AtomicU64,
    pub stories_relevant: AtomicU64,
    pub storage_errors: AtomicU64,
    pub mail_sent: AtomicU64,
    pub mail_errors: AtomicU64,
    /// Unix seconds of the last sign of life of the scheduler or the poll writer.
    heartbeat: AtomicU64,
    /// Unix seconds when the last poll cycle finished (0: none yet).
    pub last_cycle_end: AtomicU64,
    /// Unix seconds of the last failed database write (0: none); cleared by a good cycle.
    pub last_storage_error: AtomicU64,
    /// That failure was lock contention (another process held the database), not the disk.
    last_storage_busy: AtomicBool,
    cycles: Mutex<Histogram<{ CYCLE_BUCKETS.len() }>>,
    judge_outcomes: [AtomicU64; JUDGE_OUTCOMES.len()],
    /// Stories left for another day: the judge's daily limit was reached.
    judge_over_budget: AtomicU64,
    judge_latency: Mutex<Histogram<{ JUDGE_BUCKETS.len() }>>,
}

struct Histogram<const N: usize> {
    counts: [u64; N],
    count: u64,
    sum: f64,
}

pub static METRICS: Metrics = Metrics::new();

impl Metrics {
    const fn new() -> Metrics {
        Metrics {
            polls_fetched: AtomicU64::new(0),
            polls_not_modified: AtomicU64::new(0),
            failures: [const { AtomicU64::new(0) }; FAILURE_KINDS.len()],
            stories_new: AtomicU64::new(0),
            stories_updated: AtomicU64::new(0),
            stories_classified: AtomicU64::new(0),
            stories_relevant: AtomicU64::new(0),
            storage_errors: AtomicU64::new(0),
            mail_sent: AtomicU64::new(0),
            mail_errors: AtomicU64::new(0),
            heartbeat: AtomicU64::new(0),
            last_cycle_end: AtomicU64::new(0),
            last_storage_error: AtomicU64::new(0),
            last_storage_busy: AtomicBool::new(false),
            cycles: Mutex::new(Histogram { counts: [0; CYCLE_BUCKETS.len()], count: 0, sum: 0.0 }),
            judge_outcomes: [const { AtomicU64::new(0) }; JUDGE_OUTCOMES.len()],
            judge_over_budget: AtomicU64::new(0),
            judge_latency: Mutex::new(Histogram { counts: [0; JUDGE_BUCKETS.len()], count: 0, sum: 0.0 }),
        }
    }
}

fn now_secs() -> u64 {
    Utc::now().timestamp().max(0) as u64
}

impl Metrics {
    pub fn failure(&self, kind: &str) {
        let i = FAILURE_KINDS.iter().position(|k| *k == kind).unwrap_or(FAILURE_KINDS.len() - 1);
        self.failures[i].fetch_add(1, Relaxed);
    }

    /// One feed's saved poll result.
    pub fn record_poll(
        &self,
        state: &crate::store::FeedState,
        failure_kind: Option<&str>,
        counts: &crate::store::StoredCounts,
        stories: &[crate::feed::NewStory],
    ) {
        match (state, failure_kind) {
            (_, Some(kind)) => self.failure(kind),
            (crate::store::FeedState::NotModified, None) => _ = self.polls_not_modified.fetch_add(1, Relaxed),
            _ => _ = self.polls_fetched.fetch_add(1, Relaxed),
        }
        self.stories_new.fetch_add(counts.new as u64, Relaxed);
        self.stories_updated.fetch_add(counts.updated as u64, Relaxed);
        let classified = stories.iter().filter_map(|s| s.classification.as_ref());
        let (read, relevant) = classified.fold((0, 0), |(n, r), c| (n + 1, r + u64::from(c.relevant)));
        self.stories_classified.fetch_add(read, Relaxed);
        self.stories_relevant.fetch_add(relevant, Relaxed);
    }

    /// The scheduler or the writer made progress.
    pub fn beat(&self) {
        self.heartbeat.store(now_secs(), Relaxed);
    }

    /// Seconds since the last sign of life (None before the daemon started).
    pub fn silent_for(&self) -> Option<u64> {
        let last = self.heartbeat.load(Relaxed);
        (last > 0).then(|| now_secs().saturating_sub(last))
    }

    /// Silent for longer than [`STUCK_AFTER_SECS`]: the seconds of silence.
    pub fn stuck_for(&self) -> Option<u64> {
        self.silent_for().filter(|s| *s > STUCK_AFTER_SECS)
    }

    /// One judge request ended with `outcome` (one of [`JUDGE_OUTCOMES`]).
    pub fn judge_request(&self, outcome: &str) {
        let i = JUDGE_OUTCOMES.iter().position(|k| *k == outcome).unwrap_or(JUDGE_OUTCOMES.len() - 1);
        self.judge_outcomes[i].fetch_add(1, Relaxed);
    }

    pub fn judge_over_budget(&self, stories: u64) {
        self.judge_over_budget.fetch_add(stories, Relaxed);
    }

    pub fn judge_latency(&self, seconds: f64) {
        if let Ok(mut h) = self.judge_latency.lock() {
            h.observe(&JUDGE_BUCKETS, seconds);
        }
    }

    pub fn cycle_done(&self, seconds: f64, storage_errors: usize, busy: bool) {
        if let Ok(mut h) = self.cycles.lock() {
            h.observe(&CYCLE_BUCKETS, seconds);
        }
        self.last_cycle_end.store(now_secs(), Relaxed);
        if storage_errors > 0 {
            self.storage_errors.fetch_add(storage_errors as u64, Relaxed);
            self.last_storage_error.store(now_secs(), Relaxed);
            self.last_storage_busy.store(busy, Relaxed);
        } else {
            self.last_storage_error.store(0, Relaxed);
        }
        self.beat();
    }

    /// A database read or write failed outside a poll cycle (`busy`: lock contention).
    pub fn storage_failed(&self, busy: bool) {
        self.storage_errors.fetch_add(1, Relaxed);
        self.last_storage_error.store(now_secs(), Relaxed);
        self.last_storage_busy.store(busy, Relaxed);
    }

    /// Why the last poll's results could not be saved, for `/healthz` (None: they were).
    pub fn storage_problem(&self, database: &std::path::Path) -> Option<String> {
        if self.last_storage_error.load(Relaxed) == 0 {
            return None;
        }
        Some(if self.last_storage_busy.load(Relaxed) {
            format!(
                "database busy: another process held the write lock on {} past the busy timeout; the poll is retried\n",
                database.display()
            )
        } else {
            format!(
                "database not writable: the last poll's results could not be saved to {} (disk full or read-only?)\n",
                database.display()
            )
        })
    }

    /// The process counters in Prometheus text exposition format.
    pub fn render(&self, out: &mut String) {
        counter(
            out,
            "stancewatch_polls_total",
            "Feed fetches by result.",
            &[
                ("result=\"fetched\"", self.polls_fetched.load(Relaxed)),
                ("result=\"not_modified\"", self.polls_not_modified.load(Relaxed)),
                ("result=\"failed\"", self.failures.iter().map(|f| f.load(Relaxed)).sum()),
            ],
        );
        let failures: Vec<(String, u64)> =
            FAILURE_KINDS.iter().zip(&self.failures).map(|(k, n)| (format!("kind=\"{k}\""), n.load(Relaxed))).collect();
        let failures: Vec<(&str, u64)> = failures.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        counter(out, "stancewatch_poll_failures_total", "Failed feed polls by kind.", &failures);
        counter(
            out,
            "stancewatch_stories_stored_total",
            "Stories stored (new) and updated.",
            &[
                ("kind=\"new\"", self.stories_new.load(Relaxed)),
                ("kind=\"updated\"", self.stories_updated.load(Relaxed)),
            ],
        );
        counter(
            out,
            "stancewatch_stories_classified_total",
            "Stories read by the stance classifier.",
            &[("", self.stories_classified.load(Relaxed))],
        );
        counter(
            out,
            "stancewatch_stories_relevant_total",
            "Classified stories found relevant.",
            &[("", self.stories_relevant.load(Relaxed))],
        );
        counter(
            out,
            "stancewatch_storage_errors_total",
            "Poll results that could not be saved.",
            &[("", self.storage_errors.load(Relaxed))],
        );
        counter(
            out,
            "stancewatch_mail_total",
            "Messages accepted by the mail server, and send errors.",
            &[("result=\"sent\"", self.mail_sent.load(Relaxed)), ("result=\"error\"", self.mail_errors.load(Relaxed))],
        );
        if let Ok(h) = self.cycles.lock() {
            h.render(out, "stancewatch_poll_cycle_duration_seconds", "Wall time of a poll cycle.", &CYCLE_BUCKETS);
        }
        let outcomes: Vec<(String, u64)> = JUDGE_OUTCOMES
            .iter()
            .zip(&self.judge_outcomes)
            .map(|(k, n)| (format!("outcome=\"{k}\""), n.load(Relaxed)))
            .collect();
        let outcomes: Vec<(&str, u64)> = outcomes.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        counter(
            out,
            "stancewatch_judge_requests_total",
            "Stories put to the language-model judge, by outcome.",
            &outcomes,
        );
        counter(
            out,
            "stancewatch_judge_over_budget_total",
            "Stories left for another day because the judge's daily limit was reached.",
            &[("", self.judge_over_budget.load(Relaxed))],
        );
        if let Ok(h) = self.judge_latency.lock() {
            h.render(
                out,
                "stancewatch_judge_request_duration_seconds",
                "Wall time of a judge request.",
                &JUDGE_BUCKETS,
            );
        }
        gauge(
            out,
            "stancewatch_last_poll_cycle_timestamp_seconds",
            "When the last poll cycle finished.",
            &[("", self.last_cycle_end.load(Relaxed) as f64)],
        );
    }
}

impl<const N: usize> Histogram<N> {
    fn observe(&mut self, bounds: &[f64; N], seconds: f64) {
        for (i, bound) in bounds.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, help: &str, bounds: &[f64; N]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, n) in bounds.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

pub fn counter(out: &mut String, name: &str, help: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, value) in samples {
        sample(out, name, labels, *value as f64);
    }
}

pub fn gauge(out: &mut String, name: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        sample(out, name, labels, *value);
    }
}

fn sample(out: &mut String, name: &str, labels: &str, value: f64) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

#[cfg(test)]
mod storage_tests {
    use super::*;

    #[test]
    fn healthz_tells_lock_contention_from_a_full_disk() {
        let m = Metrics::new();
        let db = std::path::Path::new("/srv/sw.db");
        assert_eq!(m.storage_problem(db), None);
        m.cycle_done(1.0, 2, true);
        let busy = m.storage_problem(db).unwrap();
        assert!(busy.contains("database busy") && busy.contains("/srv/sw.db") && !busy.contains("disk full"), "{busy}");
        m.storage_failed(false);
        let disk = m.storage_problem(db).unwrap();
        assert!(disk.contains("disk full or read-only"), "{disk}");
        m.cycle_done(1.0, 0, false);
        assert_eq!(m.storage_problem(db), None, "a good cycle clears it");
    }
}
