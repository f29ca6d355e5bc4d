//! Monitoring: `/healthz` (200 and "ok", or 503 and the reason) and Prometheus `/metrics`.
//! Database reads go through the endpoint's [`Reader`]; the daemon's writer is never touched.
//! The database's gauges are read at most once per [`GAUGES_FOR`] and reused, however often
//! `/metrics` is scraped; the process counters are always current.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::reader::{ReadError, Reader};
use crate::metrics::{METRICS, gauge};

/// How long one read of the database's gauges serves `/metrics`.
pub const GAUGES_FOR: Duration = Duration::from_secs(5);

const TEXT: &str = "text/plain; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Monitoring {
    reader: Reader,
    database: PathBuf,
    /// Served by the daemon (the poller's progress counts toward health), or by `serve` alone.
    poller: bool,
    /// The last read of the database's gauges. Held while a scrape reads them afresh, so
    /// scrapes that arrive meanwhile wait for that read instead of queueing their own.
    gauges: tokio::sync::Mutex<Option<Gauges>>,
}

/// The database part of `/metrics`, as read at `read_at`.
struct Gauges {
    read_at: Instant,
    text: String,
}

/// `/healthz` and `/metrics`, reading the database at `database` through `reader`.
pub fn routes(reader: Reader, database: PathBuf, poller: bool) -> Router {
    let state = Arc::new(Monitoring { reader, database, poller, gauges: tokio::sync::Mutex::new(None) });
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics)).with_state(state)
}

async fn healthz(State(m): State<Arc<Monitoring>>) -> Response {
    let (status, body) = match health(&m.reader, &m.database, m.poller).await {
        Ok(text) => (StatusCode::OK, text),
        Err(problem) => (StatusCode::SERVICE_UNAVAILABLE, problem),
    };
    (status, [(header::CONTENT_TYPE, TEXT)], body).into_response()
}

async fn metrics(State(m): State<Arc<Monitoring>>) -> Response {
    let database = {
        let mut cached = m.gauges.lock().await;
        match cached.as_ref() {
            Some(g) if g.read_at.elapsed() < GAUGES_FOR => g.text.clone(),
            _ => {
                let read_at = Instant::now();
                let text = database_gauges(&m.reader).await;
                *cached = Some(Gauges { read_at, text: text.clone() });
                text
            }
        }
    };
    let mut out = String::new();
    METRICS.render(&mut out);
    out.push_str(&database);
    ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], out).into_response()
}

/// Healthy: under the daemon (`poller`), the scheduler or writer showed life recently and the
/// last cycle saved its results; always, the database answers a read. Otherwise the reason,
/// for the 503 body.
async fn health(reader: &Reader, database: &Path, poller: bool) -> Result<String, String> {
    if poller && let Some(s) = METRICS.stuck_for() {
        return Err(format!("stuck: no progress from the poller for {s} seconds\n"));
    }
    if poller && METRICS.silent_for().is_none() {
        return Err("starting: the poller has not run yet\n".into());
    }
    // Lock contention (another process) and a full or read-only disk are told apart.
    if let Some(problem) = METRICS.storage_problem(database) {
        return Err(problem);
    }
    let counts = match reader.read(|store| store.counts(chrono::Utc::now())).await {
        Ok(counts) => counts,
        Err(ReadError::Unreadable(e)) => return Err(format!("database unreadable: {e}\n")),
        Err(e) => return Err(format!("{e}\n")),
    };
    Ok(format!("ok: {} stories, last poll {}\n", counts.stories, counts.last_poll.as_deref().unwrap_or("never")))
}

/// The database's gauges (feeds by health, stories, outbox, changes), then whether it could be
/// read.
async fn database_gauges(reader: &Reader) -> String {
    let mut out = String::new();
    let status = reader.read(|s| crate::status::counts(s, chrono::Utc::now())).await;
    match &status {
        Ok(s) => {
            let f = &s.feeds;
            gauge(
                &mut out,
                "stancewatch_feeds",
                "Subscribed feeds by health.",
                &[
                    ("health=\"ok\"", f.ok as f64),
                    ("health=\"new\"", f.new as f64),
                    ("health=\"backing_off\"", f.backing_off as f64),
                    ("health=\"failing\"", f.failing as f64),
                    ("health=\"gone\"", f.gone as f64),
                ],
            );
            gauge(
                &mut out,
                "stancewatch_stories",
                "Stories in the database.",
                &[("kind=\"all\"", s.stories.total as f64), ("kind=\"relevant\"", s.stories.relevant as f64)],
            );
            gauge(
                &mut out,
                "stancewatch_outbox_messages",
                "Messages in the outbox by status.",
                &[
                    ("status=\"pending\"", s.mail.pending as f64),
                    ("status=\"failed\"", s.mail.failed as f64),
                    ("status=\"sent\"", s.mail.sent as f64),
                ],
            );
            gauge(
                &mut out,
                "stancewatch_change_events",
                "Stance change events in force, by level.",
                &[
                    ("level=\"possible\"", s.changes.possible as f64),
                    ("level=\"confirmed\"", s.changes.confirmed as f64),
                ],
            );
            gauge(
                &mut out,
                "stancewatch_database_bytes",
                "Database file and write-ahead log size.",
                &[("", s.database.bytes as f64)],
            );
        }
        Err(e) => tracing::warn!(error = %e, "metrics: database unreadable"),
    }
    let up = if status.is_ok() { 1.0 } else { 0.0 };
    gauge(&mut out, "stancewatch_database_up", "1 when the database could be read for this scrape.", &[("", up)]);
    out
}
