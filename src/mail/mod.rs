//! Mail that arrives exactly once. Every message is composed and stored in the outbox first
//! (`store/outbox.rs`), with a Message-ID fixed by what it is and who it is for; `deliver` then
//! sends what is due and marks each message sent only after the server accepted it. A temporary
//! failure (4xx, refused connection, timeout) is retried with backoff; a permanent one (5xx) is
//! recorded and not retried. Each recipient has a message of their own, so one refusal does not
//! resend to the others.

pub mod digest;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::address::{Address, Envelope};
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{SmtpTransport, authentication::Credentials};
use lettre::{Transport as _, transport::smtp};

use crate::config::{EmailSettings, PasswordSource, Security, Transport};
use crate::store::Store;

/// The longest a failed message waits before its next attempt.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(3600);

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
            Transport::File { dir } => Ok(Mailer::Files(dir.clone())),
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
                    builder = builder.credentials(Credentials::new(user.clone(), read_password(source)?));
                }
                Ok(Mailer::Smtp { transport: Box::new(builder.build()), server: format!("{}:{}", s.host, s.port) })
            }
        }
    }

    /// Hand one stored message to the transport; returns what the server (or the folder) said.
    pub fn send(&self, from: &Address, to: &Address, message_id: &str, bytes: &[u8]) -> Result<String, SendError> {
        match self {
            Mailer::Files(dir) => write_eml(dir, message_id, bytes).map_err(|e| SendError::Temporary(format!("{e:#}"))),
            Mailer::Smtp { transport, server } => {
                let envelope = Envelope::new(Some(from.clone()), vec![to.clone()])
                    .map_err(|e| SendError::Permanent(format!("bad envelope for {to}: {e}")))?;
                match transport.send_raw(&envelope, bytes) {
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

/// The SMTP password from the environment or a file — never from the config file itself.
fn read_password(source: &PasswordSource) -> Result<String> {
    match source {
        PasswordSource::Env(var) => std::env::var(var).with_context(|| {
            format!(
                "the SMTP password variable {var} is not set (email.smtp.password_env): export it, or use password_file"
            )
        }),
        PasswordSource::File(path) => {
            std::fs::read_to_string(path).map(|p| p.trim_end_matches(['\r', '\n']).to_string()).with_context(|| {
                format!("cannot read the SMTP password file {} (email.smtp.password_file)", path.display())
            })
        }
    }
}

/// Write `bytes` to `DIR/<message-id>.eml` atomically (a temporary file, then a rename), so a
/// crash never leaves half a message; writing the same message again replaces it.
fn write_eml(dir: &std::path::Path, message_id: &str, bytes: &[u8]) -> Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the mail folder {}", dir.display()))?;
    let name: String =
        message_id.chars().map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '_' }).collect();
    let path = dir.join(format!("{name}.eml"));
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {} (is the disk full?)", tmp.display()))?;
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

/// Send every due message (every pending one with `all`), recording each result as it comes.
pub fn deliver(store: &mut Store, mailer: &Mailer, settings: &EmailSettings, all: bool) -> Result<Delivery> {
    let from = mailbox(&settings.from)?.email;
    let mut report = Delivery::default();
    for m in store.due_mail(Utc::now(), all)? {
        let to = match mailbox(&m.recipient) {
            Ok(b) => b.email,
            Err(e) => {
                store.mark_failed(m.id, &format!("{e:#}"), None)?;
                report.failed += 1;
                continue;
            }
        };
        match mailer.send(&from, &to, &m.message_id, &m.bytes) {
            Ok(reply) => {
                store.mark_sent(m.id, &reply, Utc::now())?;
                report.sent += 1;
            }
            Err(SendError::Permanent(e)) => {
                tracing::error!(to = %m.recipient, message_id = %m.message_id, error = %e, "mail refused for good");
                store.mark_failed(m.id, &e, None)?;
                report.failed += 1;
            }
            Err(SendError::Temporary(e)) => {
                let retry_at = next_attempt(m.attempts, Utc::now());
                tracing::warn!(to = %m.recipient, error = %e, retry_at = %retry_at, "mail not sent; will retry");
                store.mark_failed(m.id, &e, Some(retry_at))?;
                report.waiting += 1;
            }
        }
    }
    Ok(report)
}

/// Backoff: 1, 2, 4 ... minutes, at most an hour.
fn next_attempt(attempts: i64, now: DateTime<Utc>) -> DateTime<Utc> {
    let wait = Duration::from_secs(60u64.saturating_mul(1 << attempts.clamp(0, 10))).min(MAX_RETRY_WAIT);
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let now = Utc::now();
        assert_eq!((next_attempt(0, now) - now).num_seconds(), 60);
        assert_eq!((next_attempt(3, now) - now).num_seconds(), 480);
        assert_eq!((next_attempt(30, now) - now).num_seconds(), 3600);
    }

    #[test]
    fn eml_files_are_named_by_message_id_and_replaced_not_doubled() {
        let dir = tempfile::tempdir().unwrap();
        write_eml(dir.path(), "<digest.x@host>", b"one").unwrap();
        write_eml(dir.path(), "<digest.x@host>", b"two").unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }
}
