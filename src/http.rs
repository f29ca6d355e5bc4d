//! `[http] listen`: a tiny HTTP/1.1 endpoint for monitoring — `/healthz` and Prometheus
//! `/metrics`. GET only, one request per connection, bounded reads with a timeout, so a slow
//! or hostile client cannot hold the daemon. Database reads use their own read-only
//! connection; the daemon's writer is never touched.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::metrics::{METRICS, gauge};
use crate::store::Store;

/// Longest wait for a client to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REQUEST: usize = 8 * 1024;

/// Bind now (so a taken port is a startup error), serve in the background.
pub async fn serve(addr: SocketAddr, database: PathBuf) -> Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (`[http] listen`): is the port taken? choose another"))?;
    tracing::info!(%addr, "serving /healthz and /metrics");
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let database = database.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, database).await {
                            tracing::debug!(error = %e, "monitoring request failed");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "monitoring endpoint cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

async fn handle(mut stream: TcpStream, database: PathBuf) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    if !matches!(read, Ok(Ok(()))) {
        return Ok(());
    }
    let line = String::from_utf8_lossy(buf.split(|b| *b == b'\n').next().unwrap_or_default()).into_owned();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/healthz") => {
            let verdict = tokio::task::spawn_blocking(move || health(&database)).await;
            match verdict {
                Ok(Ok(text)) => (200, "text/plain; charset=utf-8", text),
                Ok(Err(problem)) => (503, "text/plain; charset=utf-8", problem),
                Err(e) => (500, "text/plain; charset=utf-8", format!("health check crashed: {e}\n")),
            }
        }
        ("GET" | "HEAD", "/metrics") => match tokio::task::spawn_blocking(move || metrics(&database)).await {
            Ok(text) => (200, "text/plain; version=0.0.4; charset=utf-8", text),
            Err(e) => (500, "text/plain; charset=utf-8", format!("metrics crashed: {e}\n")),
        },
        ("GET" | "HEAD", _) => (404, "text/plain; charset=utf-8", "not found: try /healthz or /metrics\n".into()),
        _ => (405, "text/plain; charset=utf-8", "only GET is served\n".into()),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

/// Healthy: the scheduler or writer showed life recently, the last cycle saved its results,
/// and the database answers a read. Otherwise the reason, for the 503 body.
fn health(database: &std::path::Path) -> Result<String, String> {
    if let Some(s) = METRICS.stuck_for() {
        return Err(format!("stuck: no progress from the poller for {s} seconds\n"));
    }
    if METRICS.silent_for().is_none() {
        return Err("starting: the poller has not run yet\n".into());
    }
    if METRICS.last_storage_error.load(Relaxed) > 0 {
        return Err(format!(
            "database not writable: the last poll's results could not be saved to {} (disk full or read-only?)\n",
            database.display()
        ));
    }
    let store = Store::open_read_only(database).map_err(|e| format!("database unreadable: {e:#}\n"))?;
    let counts = store.counts(chrono::Utc::now()).map_err(|e| format!("database unreadable: {e:#}\n"))?;
    Ok(format!("ok: {} stories, last poll {}\n", counts.stories, counts.last_poll.as_deref().unwrap_or("never")))
}

/// The process counters, then the database's gauges (feeds by health, stories, outbox, changes).
fn metrics(database: &std::path::Path) -> String {
    let mut out = String::new();
    METRICS.render(&mut out);
    let status = Store::open_read_only(database).and_then(|s| crate::status::counts(&s, chrono::Utc::now()));
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
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "metrics: database unreadable"),
    }
    let up = if status.is_ok() { 1.0 } else { 0.0 };
    gauge(&mut out, "stancewatch_database_up", "1 when the database could be read for this scrape.", &[("", up)]);
    out
}
