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

use chrono::{DateTime, Utc};

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

/// How one story's judgement ended.
enum Verdict {
    Accepted(String, Classification),
    Rejected(Rejection),
    Failed(CallError),
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

    fn pause(&self, for_how_long: Duration) {
        *self.paused_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Instant::now() + for_how_long);
    }

    /// One judging pass over the stories waiting (at most [`PASS_SIZE`], or `limit`): cached
    /// answers are applied, the rest asked within the day's budget, `concurrency` at a time.
    /// Accepted readings are saved in one transaction; failures are retried later.
    pub async fn pass(
        self: &Arc<Self>,
        store: &mut Store,
        rejudge: bool,
        limit: Option<usize>,
    ) -> anyhow::Result<PassReport> {
        let mut report = PassReport::default();
        if self.paused() {
            return Ok(report);
        }
        let now = Utc::now();
        let filter = CandidateFilter {
            judge: &self.key,
            all: self.settings.scope == Scope::All,
            rejudge,
            uncertain_from: self.uncertain_from,
            limit: limit.unwrap_or(PASS_SIZE),
        };
        // SQL off the async workers' hands (this task owns its connection).
        let candidates = tokio::task::block_in_place(|| store.judge_candidates(&filter, now))?;
        let mut accepted = Vec::new();
        let mut to_ask: Vec<(JudgeCandidate, String)> = Vec::new();
        for c in candidates {
            let hash = text_hash(&c.title, &c.summary);
            match store.cached_judgement(&hash, &self.key)? {
                Some(answer) => match self.prompt.accept(&answer, &c.title, &c.summary) {
                    Ok(reading) => {
                        METRICS.judge_request("cached");
                        report.cached += 1;
                        accepted.push(AcceptedJudgement { story: c.id, text_hash: hash, answer, reading });
                    }
                    Err(_) => to_ask.push((c, hash)),
                },
                None => to_ask.push((c, hash)),
            }
        }
        let day = now.format("%Y-%m-%d").to_string();
        let budget = self.settings.daily_limit.saturating_sub(store.judge_requests_on(&day)?.max(0) as u64) as usize;
        if to_ask.len() > budget {
            report.over_budget = to_ask.len() - budget;
            METRICS.judge_over_budget(report.over_budget as u64);
            to_ask.truncate(budget);
        }
        if !to_ask.is_empty() {
            // Counted before they are sent: no crash or restart can exceed the day's limit.
            store.count_judge_requests(&day, to_ask.len() as i64)?;
            report.requests = to_ask.len();
        }
        let verdicts = self.ask_all(to_ask).await;
        let mut retries = Vec::new();
        for (c, hash, verdict) in verdicts {
            match verdict {
                Verdict::Accepted(answer, reading) => {
                    accepted.push(AcceptedJudgement { story: c.id, text_hash: hash, answer, reading })
                }
                Verdict::Rejected(why) => {
                    report.rejected += 1;
                    let attempts = store.judge_attempts(c.id)? + 1;
                    let next =
                        if attempts >= MAX_REJECTIONS { DateTime::<Utc>::MAX_UTC } else { now + RETRY_AFTER_REJECTION };
                    tracing::info!(story = c.id, reason = %why, "the judge's answer was rejected; the story keeps the built-in reading");
                    retries.push((c.id, why.to_string(), next));
                }
                Verdict::Failed(e) => {
                    report.failed += 1;
                    let attempts = store.judge_attempts(c.id)?.clamp(0, 10) as i32;
                    let wait = (RETRY_AFTER_FAILURE * 2i32.pow(attempts as u32)).min(RETRY_AFTER_REJECTION);
                    retries.push((c.id, e.to_string(), now + wait));
                }
            }
        }
        for (story, why, next) in retries {
            store.judge_retry_later(story, &why, next)?;
        }
        report.judged = accepted.len();
        if !accepted.is_empty() {
            tokio::task::block_in_place(|| store.save_judgements(&self.key, &accepted, Utc::now()))?;
        }
        if report.failed > 0 {
            tracing::warn!(failed = report.failed, endpoint = %self.settings.endpoint, "judge requests failed; those stories keep the built-in reading and are retried later");
        }
        Ok(report)
    }

    /// Ask about every story, `concurrency` at a time; after a 429 the rest are not sent.
    async fn ask_all(
        self: &Arc<Self>,
        stories: Vec<(JudgeCandidate, String)>,
    ) -> Vec<(JudgeCandidate, String, Verdict)> {
        let limit = Arc::new(tokio::sync::Semaphore::new(self.settings.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (c, hash) in stories {
            let (judge, limit) = (self.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let verdict = if judge.paused() {
                    Verdict::Failed(CallError::RateLimited(None))
                } else {
                    match judge.judge_text(&c.title, &c.summary).await {
                        Ok((answer, reading)) => Verdict::Accepted(answer, reading),
                        Err(JudgeError::Rejected(r)) => Verdict::Rejected(r),
                        Err(JudgeError::Call(e)) => {
                            if let CallError::RateLimited(after) = &e {
                                judge.pause(after.unwrap_or(DEFAULT_RATE_LIMIT_PAUSE));
                            }
                            Verdict::Failed(e)
                        }
                    }
                };
                (c, hash, verdict)
            });
        }
        let mut out = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok(v) = done {
                out.push(v);
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
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{title}\n{summary}").as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
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
