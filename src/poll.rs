//! One poll cycle: fetch → parse → store for a set of feeds.
//!
//! Fetches run concurrently (bounded by the [`Fetcher`]'s global and per-host limits); parsing
//! runs on the blocking pool; a single writer thread owns the [`Store`] and saves each feed's
//! result in its own transaction, so one feed's failure never aborts the batch and a crash
//! loses at most the feeds in flight (which are fetched again next time). `poll` runs one
//! cycle; `run` runs cycles on schedule.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::config::{Config, PollSettings};
use crate::dedup::ClusterIndex;
use crate::feed::{self, NewStory};
use crate::fetch::{FetchError, Fetcher, Validators};
use crate::ingest::Ingest;
use crate::schedule;
use crate::stance::Classifier;
use crate::store::{FeedRow, FeedState, FeedUpdate, Store};

/// One feed that did not give a feed this time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub url: String,
    pub kind: String,
    pub message: String,
}

/// What a cycle did, for the `poll` summary, `poll_runs` and the logs.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PollSummary {
    pub feeds: usize,
    pub fetched: usize,
    pub not_modified: usize,
    pub failures: Vec<Failure>,
    pub gone: Vec<String>,
    pub moved: Vec<(String, String)>,
    pub new_stories: usize,
    pub updated_stories: usize,
    pub backfilled_stories: usize,
    /// New stories that joined an existing cluster (another outlet's copy or the same event).
    pub clustered_stories: usize,
    /// Results that could not be saved (disk full, read-only database, another process holding
    /// the write lock too long): a runtime failure.
    pub storage_errors: Vec<String>,
    /// Every storage error was lock contention (not a full or read-only disk).
    pub storage_busy: bool,
    /// The cycle was stopped by a shutdown signal before every feed was polled.
    pub interrupted: bool,
}

impl PollSummary {
    fn storage_failed(&mut self, what: &str, e: &anyhow::Error) {
        self.storage_busy = crate::store::is_busy(e) && (self.storage_errors.is_empty() || self.storage_busy);
        self.storage_errors.push(format!("{what}: {e:#}"));
    }

    /// The cycle's totals as `poll_runs` stores them.
    pub fn run_row(&self, started_at: DateTime<Utc>) -> crate::store::PollRun {
        crate::store::PollRun {
            started_at,
            feeds: self.feeds,
            ok: self.fetched,
            not_modified: self.not_modified,
            failed: self.failures.len(),
            new_stories: self.new_stories,
            updated: self.updated_stories,
        }
    }

    /// The human summary `poll` prints.
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "polled {} feeds: {} fetched, {} not modified, {} failed; {} new stories ({} backfilled), {} updated; \
             {} joined an existing story cluster\n",
            self.feeds,
            self.fetched,
            self.not_modified,
            self.failures.len(),
            self.new_stories,
            self.backfilled_stories,
            self.updated_stories,
            self.clustered_stories
        );
        if !self.failures.is_empty() {
            let mut kinds: Vec<(&str, usize)> = Vec::new();
            for f in &self.failures {
                match kinds.iter_mut().find(|(k, _)| *k == f.kind) {
                    Some((_, n)) => *n += 1,
                    None => kinds.push((&f.kind, 1)),
                }
            }
            let grouped: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let _ = writeln!(out, "failures by kind: {}", grouped.join(", "));
            for f in self.failures.iter().take(50) {
                let _ = writeln!(out, "  failed {}: {}", f.url, f.message);
            }
            if self.failures.len() > 50 {
                let _ = writeln!(out, "  ... and {} more (see `stancewatch feeds list`)", self.failures.len() - 50);
            }
        }
        for url in &self.gone {
            let _ = writeln!(out, "  gone {url}: 410 Gone, no longer polled (`feeds add` a new address)");
        }
        for (from, to) in &self.moved {
            let _ = writeln!(out, "  moved {from} -> {to} (permanent redirect; the new address is stored)");
        }
        for e in &self.storage_errors {
            let _ = writeln!(out, "  not saved: {e}");
        }
        if self.interrupted {
            out.push_str("interrupted by shutdown: the remaining feeds will be polled next time\n");
        }
        out
    }
}

/// What a cycle needs besides the store: settings, the HTTP client, the profile.
pub struct Pipeline {
    pub poll: PollSettings,
    pub fetcher: Arc<Fetcher>,
    /// Canonicalise → classify → sign, for every story stored.
    pub ingest: Arc<Ingest>,
    pub changes: crate::timeline::ChangeSettings,
    /// Timelines kept between cycles of one process (see `timeline::TimelineCache`).
    pub timelines: crate::timeline::TimelineCache,
}

impl Pipeline {
    pub fn new(config: &Config, classifier: Classifier) -> anyhow::Result<Pipeline> {
        let ingest = Arc::new(Ingest::new(Arc::new(classifier), &config.dedup));
        Ok(Pipeline {
            poll: config.poll.clone(),
            fetcher: Arc::new(Fetcher::new(&config.poll)?),
            ingest,
            changes: config.changes.clone(),
            timelines: Default::default(),
        })
    }

    /// The topic profile the stance reader works with.
    pub fn profile(&self) -> &crate::stance::Profile {
        self.ingest.classifier().profile()
    }

    /// Bring stored readings in line with the current profile (see `Ingest::reread_stored`).
    pub fn reread_stored(&self, store: &mut Store) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        // The store's errors say why (a full disk, or another process holding the lock).
        let n = self.ingest.reread_stored(store)?;
        if n > 0 {
            tracing::info!(
                stories = n,
                seconds = started.elapsed().as_secs_f64(),
                "stored stories read again with the current profile"
            );
            // Every timeline may read differently now.
            let entities: Vec<String> = self.profile().entities.iter().map(|e| e.key.clone()).collect();
            self.timelines.clear();
            let now = Utc::now();
            crate::timeline::refresh(store, self.profile(), &self.changes, &entities, &self.timelines, 0, now)?;
        }
        Ok(())
    }

    /// Recompute the timelines of entities with evidence in stories stored after story
    /// `last_before` or changed since `since`, and save their change events.
    pub fn refresh_timelines(
        &self,
        store: &mut Store,
        last_before: i64,
        since: chrono::DateTime<Utc>,
    ) -> anyhow::Result<crate::store::SavedChanges> {
        let entities = store.entities_touched(last_before, since)?;
        let profile = self.profile();
        crate::timeline::refresh(store, profile, &self.changes, &entities, &self.timelines, last_before, since)
    }

    /// A fresh cluster index for one cycle: it loads what it needs from the store, so stories
    /// written by another process since the last cycle are seen.
    pub fn cluster_index(&self) -> ClusterIndex {
        ClusterIndex::with_signer(self.ingest.signer().clone())
    }
}

/// The result of polling one feed, on its way to the writer.
struct Outcome {
    feed: FeedRow,
    update: FeedUpdate,
    stories: Vec<NewStory>,
    failure: Option<Failure>,
}

/// Poll `feeds` once. The store is moved to the writer thread and handed back with the summary.
/// A shutdown signal stops new fetches and abandons those in flight; what was saved stays saved.
pub async fn poll_feeds(
    pipeline: &Pipeline,
    store: Store,
    feeds: Vec<FeedRow>,
    mut shutdown: watch::Receiver<bool>,
    progress: Option<indicatif::ProgressBar>,
) -> (Store, PollSummary) {
    let started = Utc::now();
    let total = feeds.len();
    let last_before = store.max_story_id().unwrap_or(0);
    let (tx, rx) = mpsc::channel::<Outcome>(8);
    let clusters = pipeline.cluster_index();
    let writer = std::thread::spawn(move || write_outcomes(store, clusters, rx, total, progress));
    let settings = &pipeline.poll;

    // Backpressure: a feed takes a slot before its task is even spawned and keeps it until the
    // writer has its result, so memory is bounded by the slots, not by the number of feeds.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(settings.concurrency));
    let mut pending = interleave_hosts(feeds).into_iter().peekable();
    let mut tasks = tokio::task::JoinSet::new();
    let mut interrupted = false;
    loop {
        if tasks.is_empty() && (interrupted || pending.peek().is_none()) {
            break;
        }
        tokio::select! {
            slot = in_flight.clone().acquire_owned(), if !interrupted && pending.peek().is_some() => {
                let (Ok(slot), Some(feed)) = (slot, pending.next()) else { continue };
                let tx = tx.clone();
                let fetcher = pipeline.fetcher.clone();
                let settings = settings.clone();
                let ingest = pipeline.ingest.clone();
                tasks.spawn(async move {
                    let mut outcome = poll_one(&settings, &fetcher, feed).await;
                    outcome.stories = read_stories(ingest, std::mem::take(&mut outcome.stories)).await;
                    // The writer only goes away if the process is shutting down.
                    let _ = tx.send(outcome).await;
                    drop(slot);
                });
            }
            Some(done) = tasks.join_next() => {
                if let Err(e) = done.as_ref() && e.is_panic() {
                    tracing::error!(error = %e, "a poll task panicked");
                }
            }
            _ = shutdown.wait_for(|stop| *stop), if !interrupted => {
                interrupted = true;
                tasks.abort_all();
            }
        }
    }
    drop(tx);
    let (mut store, mut summary) = match writer.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    summary.feeds = total;
    summary.interrupted = interrupted;
    if let Err(e) = store.record_poll_run(&summary.run_row(started)) {
        summary.storage_failed("poll run log", &e);
    }
    if let Err(e) = pipeline.refresh_timelines(&mut store, last_before, started) {
        summary.storage_failed("stance timelines", &e);
    }
    (store, summary)
}

/// The ingest stage (classify and sign beside it): CPU work for the blocking pool, done in
/// parallel so the single writer only looks clusters up.
async fn read_stories(ingest: Arc<Ingest>, mut stories: Vec<NewStory>) -> Vec<NewStory> {
    if stories.is_empty() {
        return stories;
    }
    let read = tokio::task::spawn_blocking(move || {
        ingest.prepare(&mut stories);
        stories
    })
    .await;
    // Only a cancelled task (shutdown) ends here without its stories; they are fetched again.
    read.unwrap_or_default()
}

/// Order feeds round-robin by host, so the first slots go to many hosts rather than queueing
/// behind one host's per-host limit. Order within a host is kept.
fn interleave_hosts(feeds: Vec<FeedRow>) -> Vec<FeedRow> {
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut by_host: Vec<std::collections::VecDeque<FeedRow>> = Vec::new();
    let total = feeds.len();
    for feed in feeds {
        let host = url::Url::parse(&feed.url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let slot = *index.entry(host).or_insert_with(|| {
            by_host.push(std::collections::VecDeque::new());
            by_host.len() - 1
        });
        by_host[slot].push_back(feed);
    }
    let mut out = Vec::with_capacity(total);
    while !by_host.is_empty() {
        by_host.retain_mut(|queue| {
            if let Some(feed) = queue.pop_front() {
                out.push(feed);
            }
            !queue.is_empty()
        });
    }
    out
}

/// Fetch and parse one feed, and decide its next poll. Never fails: failures are outcomes.
async fn poll_one(settings: &PollSettings, fetcher: &Fetcher, feed: FeedRow) -> Outcome {
    let validators = Validators { etag: feed.etag.as_deref(), last_modified: feed.last_modified.as_deref() };
    let result = fetcher.fetch(&feed.url, &validators).await;
    let polled_at = Utc::now();
    let interval = feed.interval_secs.map_or(settings.interval, |s| Duration::from_secs(s.max(60) as u64));
    let unit = fastrand::f64();

    let mut update = FeedUpdate {
        polled_at,
        status: None,
        state: FeedState::NotModified,
        etag: None,
        last_modified: None,
        min_interval_secs: None,
        next_poll_at: polled_at,
        moved_to: None,
    };
    let mut stories = Vec::new();
    let failure_of = |kind: &str, message: String| Failure { url: feed.url.clone(), kind: kind.into(), message };

    let failure = match result {
        Ok(fetched) => {
            update.status = Some(fetched.status);
            update.etag = fetched.etag.clone();
            update.last_modified = fetched.last_modified.clone();
            update.moved_to = fetched.moved_to.clone();
            let mut hint = fetched.fresh_for;
            let failure = match fetched.body {
                None => None,
                Some(body) => {
                    let base = fetched.final_url.clone();
                    let content_type = fetched.content_type.clone();
                    let parsed = tokio::task::spawn_blocking(move || {
                        feed::parse(&body, content_type.as_deref(), &base, polled_at)
                    })
                    .await;
                    match parsed {
                        Ok(Ok(parsed)) => {
                            hint = hint.max(parsed.ttl);
                            update.state = FeedState::Fetched { title: parsed.title };
                            stories = parsed.stories;
                            None
                        }
                        Ok(Err(e)) => Some(failure_of("parse", e.to_string())),
                        Err(e) => Some(failure_of("parse", format!("the parser crashed: {e}"))),
                    }
                }
            };
            match &failure {
                None => {
                    update.min_interval_secs = hint.map(|h| h.as_secs() as i64);
                    let effective = schedule::effective_interval(interval, hint, settings.max_interval);
                    update.next_poll_at = schedule::after_success(polled_at, effective, unit);
                }
                Some(f) => {
                    // A body that does not parse must be fetched again in full next time.
                    update.etag = None;
                    update.last_modified = None;
                    update.state = FeedState::Failed { kind: "parse", message: f.message.clone() };
                    update.next_poll_at = next_after_failure(settings, &feed, interval, None, polled_at, unit);
                }
            }
            failure
        }
        Err(FetchError::Gone { moved_to }) => {
            update.status = Some(410);
            update.state = FeedState::Gone;
            update.moved_to = moved_to;
            Some(failure_of("gone", FetchError::Gone { moved_to: None }.to_string()))
        }
        Err(e) => {
            update.status = e.status();
            let retry_after = match &e {
                FetchError::RateLimited { retry_after, .. } => *retry_after,
                _ => None,
            };
            update.state = FeedState::Failed { kind: e.kind(), message: e.to_string() };
            update.next_poll_at = next_after_failure(settings, &feed, interval, retry_after, polled_at, unit);
            Some(failure_of(e.kind(), e.to_string()))
        }
    };
    Outcome { feed, update, stories, failure }
}

fn next_after_failure(
    settings: &PollSettings,
    feed: &FeedRow,
    interval: Duration,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
    unit: f64,
) -> DateTime<Utc> {
    let failures = u32::try_from(feed.consecutive_failures + 1).unwrap_or(u32::MAX);
    schedule::after_failure(now, interval, failures, retry_after, settings.max_backoff, unit)
}

/// Most feeds saved in one transaction.
const MAX_GROUP_COMMIT: usize = 64;

/// Add one feed's saved (or failed) result to the cycle's totals.
fn tally(summary: &mut PollSummary, outcome: Outcome, result: anyhow::Result<crate::store::StoredCounts>) {
    let Outcome { feed, update, failure, stories } = outcome;
    let metrics = &crate::metrics::METRICS;
    metrics.beat();
    match result {
        Ok(counts) => {
            match &update.state {
                FeedState::Fetched { .. } => summary.fetched += 1,
                FeedState::NotModified => summary.not_modified += 1,
                FeedState::Gone => summary.gone.push(feed.url.clone()),
                FeedState::Failed { .. } => {}
            }
            metrics.record_poll(&update.state, failure.as_ref().map(|f| f.kind.as_str()), &counts, &stories);
            if let Some(f) = failure {
                tracing::warn!(feed = %f.url, kind = %f.kind, error = %f.message, "poll failed");
                summary.failures.push(f);
            }
            if let Some(to) = update.moved_to.as_ref().filter(|to| **to != feed.url) {
                summary.moved.push((feed.url.clone(), to.clone()));
            }
            summary.new_stories += counts.new;
            summary.updated_stories += counts.updated;
            summary.clustered_stories += counts.clustered;
            if feed.last_success_at.is_none() {
                summary.backfilled_stories += counts.new;
            }
        }
        Err(e) => {
            tracing::error!(feed = %feed.url, error = format!("{e:#}"), "cannot save poll result");
            summary.storage_failed(&feed.url, &e);
        }
    }
}

/// The writer thread: saves outcomes (a group of feeds per transaction) and totals the cycle.
fn write_outcomes(
    mut store: Store,
    mut clusters: ClusterIndex,
    mut rx: mpsc::Receiver<Outcome>,
    total: usize,
    progress: Option<indicatif::ProgressBar>,
) -> (Store, PollSummary) {
    let mut summary = PollSummary::default();
    if let Some(p) = &progress {
        p.set_length(total as u64);
    }
    while let Some(first) = rx.blocking_recv() {
        // Group commit: whatever else is already waiting goes into the same transaction.
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP_COMMIT {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let polls: Vec<(&FeedRow, &FeedUpdate, &[NewStory])> =
            batch.iter().map(|o| (&o.feed, &o.update, &o.stories[..])).collect();
        let results: Vec<anyhow::Result<crate::store::StoredCounts>> = match store.record_polls(&polls, &mut clusters) {
            Ok(counts) => counts.into_iter().map(Ok).collect(),
            Err(e) if crate::store::is_busy(&e) => {
                // Another process held the lock past the busy timeout: feed by feed, each would
                // wait as long again. The batch is unsaved; its feeds are fetched again.
                clusters.reset();
                let why = format!("{e:#}");
                polls.iter().map(|_| Err(crate::store::busy_error(why.clone()))).collect()
            }
            Err(_) => {
                // The batch rolled back: the index may hold stories that are not stored.
                // Start it afresh and save feed by feed, so one bad write loses only itself.
                clusters.reset();
                polls
                    .iter()
                    .map(|(feed, update, stories)| {
                        let r = store.record_poll(feed, update, stories, &mut clusters);
                        if r.is_err() {
                            clusters.reset();
                        }
                        r
                    })
                    .collect()
            }
        };
        for (outcome, result) in batch.into_iter().zip(results) {
            tally(&mut summary, outcome, result);
            if let Some(p) = &progress {
                p.inc(1);
            }
        }
    }
    if let Some(p) = &progress {
        p.finish_and_clear();
    }
    (store, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(id: i64, url: &str) -> FeedRow {
        FeedRow {
            id,
            url: url.into(),
            config_url: None,
            name: None,
            title: None,
            interval_secs: None,
            origin: "cli".into(),
            active: true,
            etag: None,
            last_modified: None,
            last_polled_at: None,
            last_success_at: None,
            last_status: None,
            last_error: None,
            error_kind: None,
            consecutive_failures: 0,
            failing_since: None,
            next_poll_at: None,
            min_interval_secs: None,
            gone_at: None,
            moved_from: None,
            backfilled: None,
        }
    }

    #[test]
    fn feeds_are_interleaved_by_host_keeping_order_within_a_host() {
        let feeds = vec![
            feed(1, "https://a.example/1"),
            feed(2, "https://a.example/2"),
            feed(3, "https://a.example/3"),
            feed(4, "https://b.example/1"),
            feed(5, "https://c.example/1"),
            feed(6, "https://b.example/2"),
        ];
        let order: Vec<i64> = interleave_hosts(feeds).iter().map(|f| f.id).collect();
        assert_eq!(order, [1, 4, 5, 2, 6, 3]);
    }
}
