//! The optional language-model judge (`[judge]` in the config): any OpenAI-compatible
//! `/chat/completions` endpoint reads stored stories' titles and summaries and, where its answer
//! is valid, its reading replaces the built-in reader's. The built-in reader stays the default
//! and the fallback: every story is read by it when stored, and keeps that reading while the
//! judge is slow, failing, rate limited or out of its daily budget.
//!
//! A judging pass runs beside polling (its own task, connection, concurrency and timeout) and
//! never holds up polls or mail. Answers are cached by (text, model, prompt version), so a text
//! is never sent twice to the same judge.

mod client;
mod prompt;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

pub use client::{CallError, Client};
pub use prompt::{BUILTIN_JUDGE_TOML, JudgePrompt, Rejection};

use crate::config::PasswordSource;
use crate::metrics::METRICS;
use crate::stance::Classification;
use crate::store::{AcceptedJudgement, CandidateFilter, JudgeCandidate, Store};

/// `[judge]` in the config.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeSettings {
    /// Base URL of the API (`http://127.0.0.1:11434/v1`): requests go to `{endpoint}/chat/completions`.
    pub endpoint: String,
    pub model: String,
    /// Where the API key is read from (never the config itself); None: no key (local servers).
    pub api_key: Option<PasswordSource>,
    pub timeout: Duration,
    pub concurrency: usize,
    /// Requests per UTC day at most.
    pub daily_limit: u64,
    pub scope: Scope,
}

/// Which stories are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Those the built-in reader finds relevant or uncertain, and a sample of the rest.
    Candidates,
    All,
}

/// Stories one pass takes at most (a pass saves once, at its end).
const PASS_SIZE: usize = 100;
/// How long the endpoint is left alone after a 429 without Retry-After.
const DEFAULT_RATE_LIMIT_PAUSE: Duration = Duration::from_secs(60);
/// Retry delays: after a failed request (timeout, unreachable, 5xx: a minute, doubling with each
/// failure up to a day), and after an answer that was rejected (the same model tends to answer
/// the same way: a day).
const RETRY_AFTER_FAILURE: chrono::Duration = chrono::Duration::minutes(1);
const RETRY_AFTER_REJECTION: chrono::Duration = chrono::Duration::days(1);
/// A story whose answers were rejected this often keeps the built-in reading for good.
const MAX_REJECTIONS: i64 = 3;
/// Requests failing one after another (timeouts, unreachable, errors) before the judge pauses
/// for [`FAILING_PAUSE`], so a dead endpoint does not eat the day's budget.
const FAILURES_BEFORE_PAUSE: usize = 3;
const FAILING_PAUSE: Duration = Duration::from_secs(5 * 60);
/// The longest pause, whatever a Retry-After asks for.
const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

pub struct Judge {
    pub settings: JudgeSettings,
    pub prompt: JudgePrompt,
    client: Client,
    /// `model|prompt version`: what a judgement is cached and recorded under.
    key: String,
    /// Relevance scores from here up are uncertain (a candidate).
    uncertain_from: f64,
    paused_until: std::sync::Mutex<Option<Instant>>,
    running: AtomicBool,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    /// Stories whose reading is now the judge's.
    pub judged: usize,
    /// Of those, answered from the cache (no request).
    pub cached: usize,
    pub requests: usize,
    /// Answers that did not validate (the stories keep the built-in reading).
    pub rejected: usize,
    /// Requests that failed (timeout, unreachable, error status, rate limited): retried later.
    pub failed: usize,
    /// Stories left for later because the day's budget is spent.
    pub over_budget: usize,
}

/// How one text's judgement ended.
enum Verdict {
    Accepted(String, Classification),
    Rejected(Rejection),
    Failed(CallError),
    /// Not sent: the judge was paused (a 429, or the endpoint failing) before its turn.
    NotSent,
}

impl Judge {
    pub fn new(settings: JudgeSettings, prompt: JudgePrompt, relevance_threshold: f64) -> anyhow::Result<Judge> {
        let api_key = match &settings.api_key {
            None => None,
            Some(source) => Some(crate::config::read_secret(source, "the judge's API key", "judge.api_key")?),
        };
        let client = Client::new(&settings, api_key)?;
        let key = format!("{}|{}", settings.model, prompt.version);
        Ok(Judge {
            settings,
            prompt,
            client,
            key,
            uncertain_from: relevance_threshold * 0.5,
            paused_until: std::sync::Mutex::new(None),
            running: AtomicBool::new(false),
        })
    }

    /// `model|prompt version`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Ask the judge about one text (no cache, no budget: `eval --judge` and the passes use it).
    pub async fn judge_text(&self, title: &str, summary: &str) -> Result<(String, Classification), JudgeError> {
        let messages = self.prompt.messages(title, summary);
        let started = Instant::now();
        let answer = self.client.complete(&messages, self.prompt.schema(), self.settings.timeout).await;
        METRICS.judge_latency(started.elapsed().as_secs_f64());
        let answer = answer.inspect_err(|e| METRICS.judge_request(e.outcome()))?;
        match self.prompt.accept(&answer, title, summary) {
            Ok(reading) => {
                METRICS.judge_request("ok");
                Ok((answer, reading))
            }
            Err(rejection) => {
                METRICS.judge_request("invalid");
                Err(JudgeError::Rejected(rejection))
            }
        }
    }

    fn paused(&self) -> bool {
        let mut paused = self.paused_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *paused {
            Some(until) if Instant::now() < until => true,
            _ => {
                *paused = None;
                false
            }
        }
    }

    /// How long the pause still lasts, if the judge is paused.
    fn pause_left(&self) -> Option<Duration> {
        let paused = self.paused_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        paused.and_then(|until| until.checked_duration_since(Instant::now()))
    }

    /// Leave the endpoint alone for `for_how_long` (a day at most, whatever a Retry-After says).
    fn pause(&self, for_how_long: Duration) {
        let until = Instant::now() + for_how_long.min(MAX_PAUSE);
        *self.paused_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(until);
    }

    /// One judging pass over the stories waiting (at most [`PASS_SIZE`], or `limit`): cached
    /// answers are applied, the rest asked within the day's budget, `concurrency` at a time,
    /// one request per distinct text. Accepted readings are saved in one transaction; failures
    /// are retried later. Runs on a multi-threaded runtime (its SQL blocks in place).
    pub async fn pass(
        self: &Arc<Self>,
        store: &mut Store,
        rejudge: bool,
        limit: Option<usize>,
    ) -> anyhow::Result<PassReport> {
        let mut report = PassReport::default();
        let now = Utc::now();
        // A pause outlives the process that took it (the daemon's restart, a `judge` run).
        let stored = tokio::task::block_in_place(|| store.judge_paused_until())?;
        if let Some(left) = stored.and_then(|until| (until - now).to_std().ok()) {
            self.pause(left);
        }
        if self.paused() {
            return Ok(report);
        }
        let filter = CandidateFilter {
            judge: &self.key,
            all: self.settings.scope == Scope::All,
            rejudge,
            uncertain_from: self.uncertain_from,
            limit: limit.unwrap_or(PASS_SIZE),
        };
        let day = now.format("%Y-%m-%d").to_string();
        // The stories by text: copies of one text are judged once.
        let mut accepted = Vec::new();
        let mut texts: Vec<(String, Vec<JudgeCandidate>)> = Vec::new();
        let budget = tokio::task::block_in_place(|| -> anyhow::Result<usize> {
            for c in store.judge_candidates(&filter, now)? {
                let hash = text_hash(&c.title, &c.summary);
                if let Some(answer) = store.cached_judgement(&hash, &self.key)?
                    && let Ok(reading) = self.prompt.accept(&answer, &c.title, &c.summary)
                {
                    METRICS.judge_request("cached");
                    report.cached += 1;
                    accepted.push(AcceptedJudgement {
                        story: c.id,
                        version: c.version,
                        text_hash: hash,
                        answer,
                        reading,
                    });
                    continue;
                }
                match texts.iter_mut().find(|(h, _)| *h == hash) {
                    Some((_, stories)) => stories.push(c),
                    None => texts.push((hash, vec![c])),
                }
            }
            let spent = store.judge_requests_on(&day)?.max(0) as u64;
            Ok(self.settings.daily_limit.saturating_sub(spent) as usize)
        })?;
        if texts.len() > budget {
            report.over_budget = texts[budget..].iter().map(|(_, s)| s.len()).sum();
            METRICS.judge_over_budget(report.over_budget as u64);
            texts.truncate(budget);
        }
        if !texts.is_empty() {
            // Counted before they are sent, so no crash or restart can exceed the day's limit;
            // those a pause kept back are given back below.
            tokio::task::block_in_place(|| store.count_judge_requests(&day, texts.len() as i64))?;
        }
        let verdicts = self.ask_all(texts).await;
        let not_sent = verdicts.iter().filter(|(_, _, v)| matches!(v, Verdict::NotSent)).count();
        report.requests = verdicts.len() - not_sent;
        let mut retries = Vec::new();
        for (hash, stories, verdict) in verdicts {
            match verdict {
                Verdict::Accepted(answer, reading) => {
                    for c in stories {
                        let (answer, reading) = (answer.clone(), reading.clone());
                        accepted.push(AcceptedJudgement {
                            story: c.id,
                            version: c.version,
                            text_hash: hash.clone(),
                            answer,
                            reading,
                        });
                    }
                }
                Verdict::Rejected(why) => {
                    report.rejected += stories.len();
                    tracing::info!(stories = stories.len(), reason = %why, "the judge's answer was rejected; the stories keep the built-in reading");
                    retries.extend(stories.into_iter().map(|c| (c.id, true, why.to_string())));
                }
                Verdict::Failed(e) => {
                    report.failed += stories.len();
                    retries.extend(stories.into_iter().map(|c| (c.id, false, e.to_string())));
                }
                Verdict::NotSent => {}
            }
        }
        let applied = tokio::task::block_in_place(|| -> anyhow::Result<usize> {
            if not_sent > 0 {
                store.count_judge_requests(&day, -(not_sent as i64))?;
            }
            if let Some(left) = self.pause_left() {
                store.pause_judge_until(now + chrono::Duration::from_std(left).unwrap_or_default())?;
            }
            for (story, rejected, why) in retries {
                let (rejections, failures) = store.judge_attempts(story)?;
                let next = if rejected {
                    (rejections + 1 < MAX_REJECTIONS).then(|| now + RETRY_AFTER_REJECTION)
                } else {
                    let doubling = 2i32.pow(failures.clamp(0, 11) as u32);
                    Some(now + (RETRY_AFTER_FAILURE * doubling).min(RETRY_AFTER_REJECTION))
                };
                store.judge_retry_later(story, rejected, &why, next, now)?;
            }
            if accepted.is_empty() { Ok(0) } else { store.save_judgements(&self.key, &accepted, Utc::now()) }
        })?;
        report.judged = applied;
        if report.failed > 0 {
            tracing::warn!(
                failed = report.failed,
                "judge requests failed; those stories keep the built-in reading and are retried later"
            );
        }
        Ok(report)
    }

    /// Ask about every text, `concurrency` at a time. After a 429, or [`FAILURES_BEFORE_PAUSE`]
    /// failures in a row, the judge pauses and the rest are not sent.
    async fn ask_all(
        self: &Arc<Self>,
        texts: Vec<(String, Vec<JudgeCandidate>)>,
    ) -> Vec<(String, Vec<JudgeCandidate>, Verdict)> {
        let limit = Arc::new(tokio::sync::Semaphore::new(self.settings.concurrency.max(1)));
        let failures_in_a_row = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for (hash, stories) in texts {
            let (judge, limit, in_a_row) = (self.clone(), limit.clone(), failures_in_a_row.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                if judge.paused() {
                    return (hash, stories, Verdict::NotSent);
                }
                let (title, summary) = (&stories[0].title, &stories[0].summary);
                let verdict = match judge.judge_text(title, summary).await {
                    Ok((answer, reading)) => Verdict::Accepted(answer, reading),
                    Err(JudgeError::Rejected(r)) => Verdict::Rejected(r),
                    Err(JudgeError::Call(e)) => Verdict::Failed(e),
                };
                match &verdict {
                    Verdict::Failed(CallError::RateLimited(after)) => {
                        judge.pause(after.unwrap_or(DEFAULT_RATE_LIMIT_PAUSE))
                    }
                    Verdict::Failed(_) => {
                        if in_a_row.fetch_add(1, Ordering::AcqRel) + 1 >= FAILURES_BEFORE_PAUSE {
                            judge.pause(FAILING_PAUSE);
                        }
                    }
                    _ => in_a_row.store(0, Ordering::Release),
                }
                (hash, stories, verdict)
            });
        }
        let mut out = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(v) => out.push(v),
                // A request task that panicked: its texts are tried again next pass.
                Err(e) => tracing::error!(error = %e, "a judge request failed unexpectedly"),
            }
        }
        out
    }

    /// Run a pass unless one is running: the daemon starts one after each poll cycle.
    pub fn try_start(self: &Arc<Self>) -> Option<PassGuard> {
        (!self.running.swap(true, Ordering::AcqRel)).then(|| PassGuard(self.clone()))
    }
}

/// While alive, a pass is running.
pub struct PassGuard(Arc<Judge>);

impl Drop for PassGuard {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

/// Why one text has no accepted judgement.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("rejected: {0}")]
    Rejected(Rejection),
}

/// The cache key of a story's text: the judge reads title and summary only.
pub fn text_hash(title: &str, summary: &str) -> String {
    crate::fingerprint::sha256_hex(&format!("{title}\n{summary}"), 16)
}

/// What the daemon runs beside polling after each cycle: one pass on a connection of its own,
/// then the timelines of the organisations whose stories it judged. Polls and mail never wait
/// for it; a failure is logged, and the stories keep the built-in reading until a later pass.
pub async fn background_pass(
    judge: Arc<Judge>,
    database: std::path::PathBuf,
    profile: crate::stance::Profile,
    changes: crate::timeline::ChangeSettings,
) -> anyhow::Result<PassReport> {
    let mut store = Store::open(&database)?;
    let started = Utc::now();
    let last_before = store.max_story_id()?;
    let report = judge.pass(&mut store, false, None).await?;
    if report.judged > 0 {
        // Recomputed (its own timeline cache): the judged stories are old ones read again.
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let entities = store.entities_touched(last_before, started)?;
            let cache = crate::timeline::TimelineCache::default();
            crate::timeline::refresh(&mut store, &profile, &changes, &entities, &cache, last_before, started)?;
            Ok(())
        })
        .await??;
    }
    Ok(report)
}
