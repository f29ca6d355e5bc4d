//! Mail that arrives exactly once. Every message is composed and stored in the outbox first
//! (`store/outbox.rs`), with a Message-ID fixed by the database, what it is and who it is for;
//! `deliver` then claims each due message, sends it, and marks it sent only after the server
//! accepted it. A temporary failure (4xx, refused connection, timeout) is retried with backoff;
//! a permanent one (5xx) is recorded and not retried. Each recipient has a message of their own,
//! so one refusal does not resend to the others.
//!
//! Any number of processes may deliver from one database at once (the daemon, `outbox retry`,
//! `digest --send`): the claim makes each message theirs alone, and what a server accepted but
//! the database could not yet record is remembered by the process and never sent again.

pub mod digest;
pub mod mime;

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::address::{Address, Envelope};
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{SmtpTransport, authentication::Credentials};
use lettre::{Transport as _, transport::smtp};

use crate::config::{Config, DigestEvery, EmailSettings, Security, Transport};
use crate::stance::Profile;
use crate::store::{FeedHealth, Store};

/// The longest a failed message waits before its next attempt.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(3600);
/// The wait after a message's first temporary failure; it doubles with each further one.
const FIRST_RETRY_WAIT: Duration = Duration::from_secs(60);

/// How the configured transport sends.
pub enum Mailer {
    /// `.eml` files in a folder: the default, so mail works with no server.
    Files(PathBuf),
    Smtp {
        transport: Box<SmtpTransport>,
        server: String,
    },
}

/// Why a message was not accepted.
#[derive(Debug)]
pub enum SendError {
    /// Try again later: 4xx, connection refused, timeout.
    Temporary(String),
    /// The server refused it for good (5xx): recorded, not retried.
    Permanent(String),
}

impl Mailer {
    pub fn new(settings: &EmailSettings) -> Result<Mailer> {
        match &settings.transport {
            Transport::File { dir } => {
                // A folder the user configured may be theirs: warned about, not changed.
                crate::private_fs::tighten(dir, crate::private_fs::Tighten::WarnOnly);
                Ok(Mailer::Files(dir.clone()))
            }
            Transport::Smtp(s) => {
                let tls = || {
                    TlsParameters::new(s.host.clone())
                        .with_context(|| format!("cannot set up TLS for SMTP server {}", s.host))
                };
                let mut builder = SmtpTransport::builder_dangerous(&s.host).port(s.port).timeout(Some(s.timeout)).tls(
                    match s.security {
                        Security::StartTls => Tls::Required(tls()?),
                        Security::Tls => Tls::Wrapper(tls()?),
                        Security::None => Tls::None,
                    },
                );
                if let (Some(user), Some(source)) = (&s.username, &s.password) {
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        crate::config::read_secret(source, "the SMTP password", "email.smtp.password")?,
                    ));
                }
                Ok(Mailer::Smtp { transport: Box::new(builder.build()), server: format!("{}:{}", s.host, s.port) })
            }
        }
    }

    /// Hand one stored message to the transport; returns what the server (or the folder) said.
    /// `message` writes the message's bytes (a folder takes them as they come).
    pub fn send(
        &self,
        from: &Address,
        to: &Address,
        message_id: &str,
        message: &dyn Fn(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<String, SendError> {
        match self {
            Mailer::Files(dir) => {
                write_eml(dir, message_id, message).map_err(|e| SendError::Temporary(format!("{e:#}")))
            }
            Mailer::Smtp { transport, server } => {
                let envelope = Envelope::new(Some(from.clone()), vec![to.clone()])
                    .map_err(|e| SendError::Permanent(format!("bad envelope for {to}: {e}")))?;
                let mut bytes = Vec::new();
                message(&mut bytes).map_err(|e| SendError::Temporary(format!("{e:#}")))?;
                match transport.send_raw(&envelope, &bytes) {
                    Ok(response) => {
                        Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")))
                    }
                    Err(e) => Err(classify_error(server, &e)),
                }
            }
        }
    }
}

/// 5xx is permanent; everything else (4xx, connection, timeout, TLS) is worth another try.
fn classify_error(server: &str, e: &smtp::Error) -> SendError {
    let text = format!("SMTP server {server}: {e}");
    if e.is_permanent() { SendError::Permanent(text) } else { SendError::Temporary(text) }
}

/// Write the message to `DIR/<message-id>.eml` atomically (a temporary file, then a rename), so
/// a crash never leaves half a message; writing the same message again replaces it.
fn write_eml(
    dir: &std::path::Path,
    message_id: &str,
    message: &dyn Fn(&mut dyn std::io::Write) -> Result<()>,
) -> Result<String> {
    crate::private_fs::create_dir(dir).with_context(|| format!("cannot create the mail folder {}", dir.display()))?;
    let name: String =
        message_id.chars().map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '_' }).collect();
    let path = dir.join(format!("{name}.eml"));
    let tmp = dir.join(format!(".{name}.tmp"));
    crate::private_fs::write_with(&tmp, &mut |out| message(out).map_err(std::io::Error::other))
        .with_context(|| format!("cannot write {} (is the disk full?)", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot move mail into {}", path.display()))?;
    Ok(format!("written to {}", path.display()))
}

/// Parse a configured mailbox ("Name <addr>" or "addr").
pub fn mailbox(text: &str) -> Result<Mailbox> {
    text.parse::<Mailbox>().with_context(|| format!("`{text}` is not a mail address"))
}

/// What one delivery run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    /// Temporary failures, to be retried.
    pub waiting: usize,
    /// Refused for good this run.
    pub failed: usize,
}

/// This process's name on its claims: host, PID namespace, PID and a random nonce. A claim
/// whose process is gone (same host and namespace, PID not running) is released at once instead
/// of when its lease lapses.
static SENDER: LazyLock<String> =
    LazyLock::new(|| format!("{}/{}/{}/{:08x}", host_name(), pid_namespace(), std::process::id(), fastrand::u32(..)));

/// Messages the server accepted whose `sent` could not be recorded yet (the database was busy
/// or failing): never sent again, recorded as soon as the database allows. Kept in memory and,
/// should the process end first, in a journal beside the database ([`journal_path`]) that the
/// next sender records.
static UNRECORDED: Mutex<Vec<Accepted>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, PartialEq)]
struct Accepted {
    id: i64,
    message_id: String,
    reply: String,
    at: DateTime<Utc>,
}

fn unrecorded() -> std::sync::MutexGuard<'static, Vec<Accepted>> {
    UNRECORDED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long a claim lasts: long enough for the slowest healthy send (lettre's timeout applies to
/// each of a dozen SMTP steps), short enough that a message claimed by a process on another
/// machine that died is sent within the hour. Claims of processes gone from this machine are
/// released at once.
fn lease_for(settings: &EmailSettings) -> chrono::Duration {
    let timeout = match &settings.transport {
        Transport::Smtp(s) => s.timeout,
        Transport::File { .. } => Duration::from_secs(10),
    };
    chrono::Duration::from_std(timeout * 20 + Duration::from_secs(60)).unwrap_or(chrono::Duration::minutes(101))
}

/// This process's journal of accepted but unrecorded sends: `<database>.accepted.<pid>.<nonce>`.
fn journal_path(database: &Path) -> PathBuf {
    let nonce = SENDER.rsplit('/').next().unwrap_or_default();
    crate::store::sidecar(database, &format!(".accepted.{}.{nonce}", std::process::id()))
}

/// Rewrite this process's journal from the in-memory list (removed when the list is empty).
fn write_journal(database: &Path, accepted: &[Accepted]) {
    let path = journal_path(database);
    if accepted.is_empty() {
        let _ = std::fs::remove_file(&path);
        return;
    }
    let mut text = format!("{}\n", SENDER.as_str());
    for a in accepted {
        let line = serde_json::json!({"id": a.id, "message_id": a.message_id, "reply": a.reply, "at": a.at});
        text.push_str(&format!("{line}\n"));
    }
    if let Err(e) = crate::private_fs::write(&path, text.as_bytes()) {
        tracing::error!(
            path = %path.display(), error = %e,
            "cannot write the journal of sent but unrecorded mail; if this process ends first, they may be sent again"
        );
    }
}

/// Record the sends the server accepted whose result could not be stored: this process's, then
/// those in the journals of senders gone from this machine. Returns how many of this process's
/// are still unrecorded.
pub fn record_accepted(store: &mut Store) -> usize {
    let mut pending = unrecorded();
    let before = pending.len();
    pending.retain(|a| !record_one(store, a));
    if pending.len() != before {
        write_journal(store.path(), &pending);
    }
    let left = pending.len();
    drop(pending);
    for journal in gone_senders_journals(store.path()) {
        let Ok(text) = std::fs::read_to_string(&journal) else { continue };
        let entries: Vec<Accepted> = text.lines().skip(1).filter_map(parse_journal_line).collect();
        if entries.iter().all(|a| record_one(store, a)) {
            let _ = std::fs::remove_file(&journal);
        }
    }
    left
}

/// Mark one accepted send as sent; true when it is settled (recorded now or before).
fn record_one(store: &mut Store, a: &Accepted) -> bool {
    match store.mark_accepted(a.id, &a.reply, a.at) {
        Ok(true) => {
            tracing::info!(message_id = %a.message_id, "a sent message's result recorded after all");
            true
        }
        Ok(false) => true, // already sent (or refused) on record
        Err(e) => {
            tracing::debug!(message_id = %a.message_id, error = %format!("{e:#}"), "still cannot record a sent message");
            false
        }
    }
}

fn parse_journal_line(line: &str) -> Option<Accepted> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(Accepted {
        id: v["id"].as_i64()?,
        message_id: v["message_id"].as_str()?.to_string(),
        reply: v["reply"].as_str()?.to_string(),
        at: v["at"].as_str().and_then(crate::store::parse_time)?,
    })
}

/// Journals beside `database` left by senders that are gone from this machine.
fn gone_senders_journals(database: &Path) -> Vec<PathBuf> {
    let Some(name) = database.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let prefix = format!("{name}.accepted.");
    let dir = database.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))
        .filter(|p| {
            let owner = std::fs::read_to_string(p).ok().and_then(|t| t.lines().next().map(str::to_string));
            owner.is_some_and(|o| sender_is_gone(&o))
        })
        .collect()
}

/// Keep trying to record accepted sends for up to `patience` (one-shot commands call this
/// before they exit). Fails naming the messages still unrecorded and where they are kept.
pub fn finish_recording(store: &mut Store, patience: Duration) -> Result<()> {
    let until = std::time::Instant::now() + patience;
    while record_accepted(store) > 0 {
        if std::time::Instant::now() >= until {
            let ids: Vec<String> = unrecorded().iter().map(|a| a.message_id.clone()).collect();
            anyhow::bail!(
                "the mail server accepted {} but {} stayed locked, so they are not marked sent yet; they are \
                 kept in {} and the next stancewatch that sends mail from this database records them \
                 without sending them again",
                ids.join(", "),
                store.path().display(),
                journal_path(store.path()).display()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}

/// Send every due message (every pending one with `all`), recording each result as it comes.
/// `stop` is asked before each message: once it says so (SIGTERM), nothing more is started.
pub fn deliver(
    store: &mut Store,
    mailer: &Mailer,
    settings: &EmailSettings,
    all: bool,
    stop: &dyn Fn() -> bool,
) -> Result<Delivery> {
    let from = mailbox(&settings.from)?.email;
    let mut report = Delivery::default();
    // Sends accepted earlier (by this process, or by one gone) are recorded before any claim
    // of a gone sender is released, so they are never sent again.
    record_accepted(store);
    for owner in store.claim_owners()? {
        if sender_is_gone(&owner) {
            let n = store.release_claims(&owner)?;
            tracing::warn!(messages = n, sender = %owner, "a sender stopped mid-send; its messages are sent again");
        }
    }
    for m in store.due_mail(Utc::now(), all, &SENDER)? {
        if stop() {
            break;
        }
        if unrecorded().iter().any(|a| a.id == m.id) {
            continue;
        }
        let due_by = (!all).then(Utc::now);
        if !store.claim(m.id, &SENDER, Utc::now() + lease_for(settings), due_by)? {
            continue; // another process has it, or deferred it meanwhile
        }
        let to = match mailbox(&m.recipient) {
            Ok(b) => b.email,
            Err(e) => {
                store.mark_failed(m.id, &SENDER, &format!("{e:#}"), None)?;
                report.failed += 1;
                continue;
            }
        };
        match mailer.send(&from, &to, &m.message_id, &|out| store.write_message(m.id, out)) {
            Ok(reply) => {
                report.sent += 1;
                crate::metrics::METRICS.mail_sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let at = Utc::now();
                match store.mark_sent(m.id, &SENDER, &reply, at) {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(
                        message_id = %m.message_id,
                        "sent, but its claim had lapsed and another process took it: it may arrive twice"
                    ),
                    Err(e) => {
                        tracing::error!(
                            message_id = %m.message_id, error = %format!("{e:#}"),
                            "the server accepted a message that could not be marked sent; it will not be sent again"
                        );
                        let mut pending = unrecorded();
                        pending.push(Accepted { id: m.id, message_id: m.message_id.clone(), reply, at });
                        write_journal(store.path(), &pending);
                    }
                }
            }
            Err(SendError::Permanent(e)) => {
                tracing::error!(to = %m.recipient, message_id = %m.message_id, error = %e, "mail refused for good");
                store.mark_failed(m.id, &SENDER, &e, None)?;
                report.failed += 1;
                crate::metrics::METRICS.mail_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(SendError::Temporary(e)) => {
                let retry_at = next_attempt(m.attempts, Utc::now());
                tracing::warn!(to = %m.recipient, error = %e, retry_at = %retry_at, "mail not sent; will retry");
                store.mark_failed(m.id, &SENDER, &e, Some(retry_at))?;
                report.waiting += 1;
                crate::metrics::METRICS.mail_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    Ok(report)
}

/// A claim's process no longer runs: it is on this host, in this PID namespace, and its PID is
/// not alive. A claim from anywhere else waits for its lease.
fn sender_is_gone(owner: &str) -> bool {
    let mut parts = owner.split('/');
    let (Some(host), Some(namespace), Some(pid)) =
        (parts.next(), parts.next(), parts.next().and_then(|p| p.parse::<libc::pid_t>().ok()))
    else {
        return false;
    };
    if owner == SENDER.as_str() || host != host_name() || namespace != pid_namespace() || pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// This process's PID namespace (`pid:[inode]`), so containers sharing a host name never take
/// each other's PIDs for their own.
fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "pid:[?]".into())
        .replace('/', "_")
}

/// The host name, for claims (a claim's PID means something only on its own host).
pub(crate) fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer it is given.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    if rc == 0 { String::from_utf8_lossy(&buf[..end]).into_owned() } else { "localhost".into() }
}

/// What a queued digest holds.
#[derive(Debug, Clone, Copy)]
pub struct QueuedDigest {
    pub clusters: usize,
    pub backfilled: usize,
    pub messages: usize,
}

/// What the next digest would cover, composed (None: nothing new).
type Inputs =
    (Vec<crate::store::PendingCluster>, Vec<digest::Strip>, Vec<crate::store::ChangeRow>, Vec<digest::FeedProblem>);

fn prepared_inputs(store: &Store, config: &Config, profile: &Profile, now: DateTime<Utc>) -> Result<Inputs> {
    // A character more than the digest shows (in bytes), so it still sees which summaries it cuts.
    let pending = store.pending_clusters(digest::SUMMARY_CHARS + 1)?;
    let last = store.last_digest_at()?;
    let changes: Vec<_> = store
        .changes(None, None)?
        .into_iter()
        .filter(|c| last.as_deref().is_none_or(|l| c.detected_at.as_str() > l))
        .collect();
    let feeds = store
        .feeds()?
        .into_iter()
        .filter_map(|f| {
            let health = f.health(now);
            matches!(health, FeedHealth::Failing | FeedHealth::Gone).then(|| digest::FeedProblem {
                name: f.display_name().to_string(),
                health,
                error: f.last_error.clone(),
            })
        })
        .collect();
    // A stance strip for every organisation whose change the digest reports.
    let mut strips: Vec<digest::Strip> = Vec::new();
    for c in &changes {
        if strips.iter().all(|s| s.entity != c.entity) {
            let h = crate::history::history(store, profile, &config.changes, &c.entity, now.date_naive())?;
            strips.push(digest::Strip { entity: c.entity.clone(), months: h.months });
        }
    }
    Ok((pending, strips, changes, feeds))
}

fn period_length(config: &Config) -> chrono::Duration {
    match config.digest.every {
        DigestEvery::Hourly => chrono::Duration::hours(1),
        DigestEvery::Daily => chrono::Duration::days(1),
        DigestEvery::Weekly => chrono::Duration::weeks(1),
        DigestEvery::Interval(d) => chrono::Duration::seconds(d.as_secs() as i64),
    }
}

/// The next digest, composed but not recorded (`digest --dry-run`).
pub fn compose_digest(
    store: &Store,
    config: &Config,
    profile: &Profile,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<digest::Composed>> {
    let (pending, strips, changes, feeds) = prepared_inputs(store, config, profile, now)?;
    let prepared =
        digest::prepare(&pending, &strips, &changes, &feeds, profile, since, period_length(config), String::new(), now);
    Ok(prepared.map(|p| digest::compose(&p.input())))
}

/// Compose the digest for `period` and store it with one message per recipient (not sent yet).
/// None when there is nothing new, or another process queued `period` already. The clusters
/// are read in the transaction that records the digest, so no two digests list one cluster.
pub fn queue_digest(
    store: &mut Store,
    config: &Config,
    profile: &Profile,
    since: Option<DateTime<Utc>>,
    period: &str,
    now: DateTime<Utc>,
) -> Result<Option<QueuedDigest>> {
    let from = mailbox(&config.email.from)?;
    let recipients = recipients(&config.email);
    store.write("queue the digest", |store| {
        if store.digest_exists(period)? {
            return Ok(None);
        }
        let (pending, strips, changes, feeds) = prepared_inputs(store, config, profile, now)?;
        let Some(prepared) = digest::prepare(
            &pending,
            &strips,
            &changes,
            &feeds,
            profile,
            since,
            period_length(config),
            period.to_string(),
            now,
        ) else {
            return Ok(None);
        };
        let instance = store.instance_token()?;
        let input = prepared.input();
        let subject = input.subject();
        let mut messages = Vec::new();
        for (recipient, to) in &recipients {
            let message_id = digest::message_id(&instance, &prepared.period, recipient, &from);
            let bytes = Box::new(digest::build_message(&from, to, &message_id, &subject, &input, now)?);
            messages.push(crate::store::NewMessage {
                recipient: recipient.clone(),
                message_id,
                subject: subject.clone(),
                bytes,
            });
        }
        store.insert_digest(&prepared.period, &prepared.listed, &prepared.counted, &messages, now)?;
        Ok(Some(QueuedDigest {
            clusters: prepared.listed.len(),
            backfilled: prepared.counted.len(),
            messages: messages.len(),
        }))
    })
}

/// The configured recipients, each with its mailbox. Loading the config already refused any that
/// does not parse; should one slip through, it is logged and skipped, never blocking the others.
fn recipients(settings: &EmailSettings) -> Vec<(String, Mailbox)> {
    settings
        .to
        .iter()
        .filter_map(|r| match mailbox(r) {
            Ok(m) => Some((r.clone(), m)),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "email.to: recipient skipped; fix it in the config");
                None
            }
        })
        .collect()
}

/// Confirmed changes older than this when first found (in backfilled coverage) are reported in
/// the next digest, not alerted.
const ALERT_HORIZON: chrono::Duration = chrono::Duration::days(30);

/// Queue an alert (one message per recipient) for every confirmed change that has none yet.
/// Returns how many changes were alerted.
pub fn queue_alerts(store: &mut Store, config: &Config, profile: &Profile, now: DateTime<Utc>) -> Result<usize> {
    let since = (now - ALERT_HORIZON).date_naive();
    let from = mailbox(&config.email.from)?;
    let recipients = recipients(&config.email);
    store.write("queue change alerts", |store| {
        let changes = store.unalerted_changes(since)?;
        let instance = store.instance_token()?;
        for c in &changes {
            let composed = digest::compose_alert(c, profile);
            let mut messages = Vec::new();
            for (recipient, to) in &recipients {
                let what = format!("change:{}:{}", c.id, c.level);
                let message_id = digest::message_id(&instance, &what, recipient, &from);
                let bytes = Box::new(digest::build_message(&from, to, &message_id, &composed.subject, &composed, now)?);
                let subject = composed.subject.clone();
                messages.push(crate::store::NewMessage { recipient: recipient.clone(), message_id, subject, bytes });
            }
            store.insert_alert(c.id, &messages, now)?;
        }
        Ok(changes.len())
    })
}

/// The digest period `now` falls in, by `[digest]` (every, at, timezone): its key, e.g.
/// `daily:2026-11-27` once that day's time has passed (before it, the day before's).
pub fn digest_period(now: DateTime<Utc>, d: &crate::config::DigestSettings) -> String {
    use chrono::{Datelike, Timelike};
    let local = now.with_timezone(&d.timezone);
    let minutes = local.hour() * 60 + local.minute();
    match d.every {
        DigestEvery::Hourly => {
            let slot = if local.minute() >= d.at_minutes % 60 { local } else { local - chrono::Duration::hours(1) };
            format!("hourly:{}", slot.format("%Y-%m-%dT%H"))
        }
        DigestEvery::Daily => {
            let day = local.date_naive();
            let day = if minutes >= d.at_minutes { day } else { day.pred_opt().unwrap_or(day) };
            format!("daily:{day}")
        }
        DigestEvery::Weekly => {
            let monday = local.date_naive() - chrono::Duration::days(local.weekday().num_days_from_monday() as i64);
            let week = if local.date_naive() > monday || minutes >= d.at_minutes {
                monday
            } else {
                monday - chrono::Duration::weeks(1)
            };
            format!("weekly:{week}")
        }
        DigestEvery::Interval(length) => {
            // Whole periods since the epoch: the key does not depend on the time zone or `at`.
            let length = length.as_secs().max(60) as i64;
            let start = now.timestamp().div_euclid(length) * length;
            let start = DateTime::from_timestamp(start, 0).unwrap_or(now);
            format!("every-{length}s:{}", start.format("%Y-%m-%dT%H:%M"))
        }
    }
}

/// The daemon's mail step: alerts for new confirmed changes, the period's digest once it is
/// due, and every message whose (next) attempt is due.
///
/// `checked` remembers the period and store state last found with nothing new to mail, so an
/// idle daemon does not recompose the same empty digest every minute.
pub fn scheduled(
    store: &mut Store,
    config: &Config,
    profile: &Profile,
    mailer: &Mailer,
    checked: &mut Option<String>,
    stop: &dyn Fn() -> bool,
) -> Result<Delivery> {
    // Queuing trouble (the database busy, say) is logged; what is already queued still goes.
    if let Err(e) = queue_scheduled(store, config, profile, checked) {
        tracing::error!(error = %format!("{e:#}"), "cannot queue alerts or the digest now; trying again next cycle");
    }
    deliver(store, mailer, &config.email, false, stop)
}

/// Alerts for new confirmed changes, and the period's digest once it is due.
fn queue_scheduled(store: &mut Store, config: &Config, profile: &Profile, checked: &mut Option<String>) -> Result<()> {
    let now = Utc::now();
    if config.alerts.changes {
        let n = queue_alerts(store, config, profile, now)?;
        if n > 0 {
            tracing::info!(changes = n, "change alerts queued");
        }
    }
    let period = digest_period(now, &config.digest);
    let state = format!("{period} {} {}", store.max_story_id()?, store.change_events_state()?);
    if checked.as_deref() != Some(state.as_str()) && !store.digest_exists(&period)? {
        match queue_digest(store, config, profile, None, &period, now)? {
            Some(q) => {
                tracing::info!(period = %period, clusters = q.clusters, backfilled = q.backfilled, "digest queued")
            }
            None => *checked = Some(state),
        }
    }
    Ok(())
}

/// Backoff after `attempts` failed sends: 1, 2, 4 ... minutes, at most an hour (the feeds'
/// doubling, from a minute, without jitter: a handful of messages need no spreading out).
fn next_attempt(attempts: i64, now: DateTime<Utc>) -> DateTime<Utc> {
    let failures = u32::try_from(attempts.max(0)).unwrap_or(u32::MAX).saturating_add(1);
    now + crate::schedule::to_chrono(crate::schedule::backoff(FIRST_RETRY_WAIT, failures, MAX_RETRY_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let now = Utc::now();
        assert_eq!((next_attempt(0, now) - now).num_seconds(), 60);
        assert_eq!((next_attempt(3, now) - now).num_seconds(), 480);
        assert_eq!((next_attempt(5, now) - now).num_seconds(), 1920);
        assert_eq!((next_attempt(6, now) - now).num_seconds(), 3600);
        assert_eq!((next_attempt(30, now) - now).num_seconds(), 3600);
        assert_eq!((next_attempt(i64::MAX, now) - now).num_seconds(), 3600);
        assert_eq!((next_attempt(-1, now) - now).num_seconds(), 60);
    }

    #[test]
    fn sends_a_gone_process_could_not_record_are_recorded_from_its_journal_not_sent_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut store = Store::open(&db).unwrap();
        let message = crate::store::NewMessage {
            recipient: "ana@example.org".into(),
            message_id: "<m@example.org>".into(),
            subject: "s".into(),
            bytes: Box::new(b"body".to_vec()),
        };
        store.write("queue", |s| s.insert_digest("daily:2026-01-01", &[], &[], &[message], Utc::now())).unwrap();
        let id = store.outbox().unwrap()[0].id;
        // A sender on this machine, now gone, claimed it, had it accepted, and could not record it.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let gone = format!("{}/{}/{pid}/0000beef", host_name(), pid_namespace());
        assert!(sender_is_gone(&gone));
        let later = Utc::now() + chrono::Duration::hours(1);
        assert!(store.claim(id, &gone, later, None).unwrap());
        let journal = crate::store::sidecar(&db, &format!(".accepted.{pid}.0000beef"));
        let line = serde_json::json!({"id": id, "message_id": "<m@example.org>", "reply": "250 ok", "at": Utc::now()});
        std::fs::write(&journal, format!("{gone}\n{line}\n")).unwrap();

        let mailer = Mailer::Files(dir.path().join("outbox"));
        let settings = EmailSettings {
            from: "sw <sw@example.org>".into(),
            to: vec!["ana@example.org".into()],
            transport: Transport::File { dir: dir.path().join("outbox") },
        };
        let d = deliver(&mut store, &mailer, &settings, true, &|| false).unwrap();
        assert_eq!(d, Delivery::default(), "sent again");
        let row = &store.outbox().unwrap()[0];
        assert_eq!((row.status.as_str(), row.server_reply.as_deref()), ("sent", Some("250 ok")));
        assert!(!journal.exists(), "the journal is removed once recorded");
        // A live sender's journal is left to it.
        let live = format!("{}/{}/{}/0000cafe", host_name(), pid_namespace(), std::process::id());
        assert!(!sender_is_gone(&live));
        assert!(!sender_is_gone("elsewhere/pid:[1]/1/00"), "another host's claim waits for its lease");
    }

    #[test]
    fn eml_files_are_named_by_message_id_and_replaced_not_doubled() {
        let dir = tempfile::tempdir().unwrap();
        write_eml(dir.path(), "<digest.x@host>", &|out| Ok(out.write_all(b"one")?)).unwrap();
        write_eml(dir.path(), "<digest.x@host>", &|out| Ok(out.write_all(b"two")?)).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;
    use crate::config::DigestSettings;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn digest_periods_follow_time_of_day_and_time_zone() {
        let daily =
            DigestSettings { every: DigestEvery::Daily, at_minutes: 8 * 60, timezone: chrono_tz::Europe::Berlin };
        // 06:30 UTC is 07:30 in Berlin: before 08:00, still the previous day's digest.
        assert_eq!(digest_period(at("2026-11-27T06:30:00Z"), &daily), "daily:2026-11-26");
        assert_eq!(digest_period(at("2026-11-27T07:00:00Z"), &daily), "daily:2026-11-27");
        let hourly = DigestSettings { every: DigestEvery::Hourly, at_minutes: 15, timezone: chrono_tz::UTC };
        assert_eq!(digest_period(at("2026-11-27T10:14:00Z"), &hourly), "hourly:2026-11-27T09");
        assert_eq!(digest_period(at("2026-11-27T10:15:00Z"), &hourly), "hourly:2026-11-27T10");
        let weekly = DigestSettings { every: DigestEvery::Weekly, at_minutes: 9 * 60, timezone: chrono_tz::UTC };
        // 2026-11-23 is a Monday.
        assert_eq!(digest_period(at("2026-11-23T08:59:00Z"), &weekly), "weekly:2026-11-16");
        assert_eq!(digest_period(at("2026-11-23T09:00:00Z"), &weekly), "weekly:2026-11-23");
        assert_eq!(digest_period(at("2026-11-27T01:00:00Z"), &weekly), "weekly:2026-11-23");
        let six_hours = DigestSettings {
            every: DigestEvery::Interval(std::time::Duration::from_secs(6 * 3600)),
            at_minutes: 0,
            timezone: chrono_tz::Europe::Berlin,
        };
        assert_eq!(digest_period(at("2026-11-27T05:59:00Z"), &six_hours), "every-21600s:2026-11-27T00:00");
        assert_eq!(digest_period(at("2026-11-27T06:00:00Z"), &six_hours), "every-21600s:2026-11-27T06:00");
    }
}
