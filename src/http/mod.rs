//! `[http] listen`: the daemon's HTTP endpoint, an axum [`Router`] served over HTTP/1.1 by
//! hyper with limits that keep clients from holding the daemon: at most
//! [`Limits::max_connections`] at once (past that a new connection is closed at once, so the
//! accept loop never waits), a deadline for the request head, a client that stops reading its
//! response or sends nothing is dropped, GET and HEAD only, no request bodies. One request per
//! connection. Handlers read the database through one read-only connection on a thread of its
//! own ([`reader`]); the daemon's writer is never touched.
//!
//! Routes: [`monitoring`] (`/healthz`, `/metrics`). More join in [`router`].

pub mod monitoring;
pub mod reader;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use reader::Reader;

/// What one client may take of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// From the moment the server waits for a request to the end of its head.
    pub header_read: Duration,
    /// The longest a read may wait for the client's next byte.
    pub idle: Duration,
    /// The longest a write may wait for the client to take more of the response.
    pub write: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 512,
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(10),
            write: Duration::from_secs(10),
        }
    }
}

/// Largest request head (request line and headers) read; a larger one is answered 431.
const MAX_HEAD: usize = 16 * 1024;
/// At most one warning a minute about connections refused at the cap.
const REFUSED_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Bind now (so a taken port is a startup error), serve in the background: monitoring, and the
/// web view's pages when `site` is given (its reader is then the one the monitoring uses).
/// `poller`: served by the daemon, whose poller's progress `/healthz` reports.
pub async fn serve(addr: SocketAddr, database: PathBuf, site: Option<SiteSettings>, poller: bool) -> Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (`[http] listen`): is the port taken? choose another"))?;
    if let Some(warning) = exposure_warning(addr) {
        tracing::warn!(%addr, "{warning}");
    }
    let reader = Reader::start(database.clone())?;
    // Pages read on a reader of their own, so a slow page never holds up `/healthz`.
    let pages = match site {
        Some(s) => {
            let pages = Reader::start_with(database.clone(), crate::web::PAGE_WAIT)?;
            Some(crate::web::routes(crate::web::Site::new(pages, s.profile, s.changes)))
        }
        None => None,
    };
    match pages {
        Some(_) => tracing::info!(%addr, "serving the web view at http://{addr}/, /healthz and /metrics"),
        None => tracing::info!(%addr, "serving /healthz and /metrics"),
    }
    tokio::spawn(run(listener, router(reader, database, pages, poller), Limits::default()));
    Ok(())
}

/// What the web view needs besides the database: the settings the CLI reads it with.
pub struct SiteSettings {
    pub profile: crate::stance::Profile,
    pub changes: crate::timeline::ChangeSettings,
}

/// Every route the endpoint serves, behind the method, body and caching rules of [`guard`].
pub fn router(reader: Reader, database: PathBuf, pages: Option<Router>, poller: bool) -> Router {
    let app = Router::new().merge(monitoring::routes(reader, database, poller));
    let app = match pages {
        Some(pages) => app
            .merge(pages)
            .fallback(|| async { crate::web::not_found("There is no page at this address.") })
            .layer(middleware::from_fn(crate::web::secure)),
        None => app.fallback(not_found),
    };
    app.layer(middleware::from_fn(guard))
}

/// What to say when the endpoint listens beyond this machine (None for loopback).
fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "listening on {addr}, which is not a loopback address: the endpoint has no authentication, so \
             anyone who can reach it can read the history, /healthz and /metrics; listen on 127.0.0.1 (`[http] \
             listen`, `serve --listen`) or put it behind a proxy or firewall"
        )
    })
}

/// GET and HEAD only (405 with `Allow` otherwise), no request body (413), and no response is
/// cached.
async fn guard(request: Request, next: Next) -> Response {
    let mut response = if !matches!(*request.method(), Method::GET | Method::HEAD) {
        (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")], "only GET and HEAD are served\n")
            .into_response()
    } else if has_body(&request) {
        (StatusCode::PAYLOAD_TOO_LARGE, "requests with a body are not accepted\n").into_response()
    } else {
        next.run(request).await
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|n| n.to_str().ok().and_then(|n| n.trim().parse::<u64>().ok()) != Some(0))
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found: try /healthz or /metrics\n")
}

/// The accept loop: each connection in a task of its own while a slot is free.
pub async fn run(listener: TcpListener, app: Router, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut refused = 0u64;
    let mut warned: Option<Instant> = None;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!(error = %e, "the HTTP endpoint cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            refused += 1;
            if warned.is_none_or(|at| at.elapsed() >= REFUSED_WARNING_EVERY) {
                tracing::warn!(
                    limit = limits.max_connections,
                    refused,
                    "the HTTP endpoint has as many connections as it serves at once; closing new ones until some end"
                );
                warned = Some(Instant::now());
                refused = 0;
            }
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            serve_connection(stream, app, limits).await;
            drop(slot);
        });
    }
}

async fn serve_connection(stream: TcpStream, app: Router, limits: Limits) {
    let io = TokioIo::new(Stalls::new(stream, limits.idle, limits.write));
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        // One request per connection: every response says `Connection: close`, and a client
        // that reads until the server closes (as simple monitoring scripts do) is not kept
        // waiting for a keep-alive timeout.
        .keep_alive(false)
        .max_buf_size(MAX_HEAD)
        .serve_connection(io, TowerToHyperService::new(app))
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

/// A client socket whose reads and writes give up after a stall: a read that has waited `idle`
/// for the client's next byte, or a write that has waited `write` for the client to take more
/// of the response, fails with `TimedOut`, which ends the connection.
struct Stalls<S> {
    io: S,
    idle: Duration,
    write: Duration,
    read_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> Stalls<S> {
    fn new(io: S, idle: Duration, write: Duration) -> Stalls<S> {
        Stalls { io, idle, write, read_deadline: None, write_deadline: None }
    }

    /// After a write went through or stalled: its deadline cleared, or the error once past it.
    fn write_outcome<T>(&mut self, polled: Poll<io::Result<T>>, cx: &mut TaskContext<'_>) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.write_deadline = None;
            // The server is busy answering: the client is not idle meanwhile.
            self.read_deadline = None;
            return polled;
        }
        if past(&mut self.write_deadline, self.write, cx) {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")));
        }
        Poll::Pending
    }
}

/// Whether the deadline (set `after` from now if unset) has passed; registers for its wake-up.
fn past(deadline: &mut Option<Pin<Box<Sleep>>>, after: Duration, cx: &mut TaskContext<'_>) -> bool {
    deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(after))).as_mut().poll(cx).is_ready()
}

impl<S: AsyncRead + Unpin> AsyncRead for Stalls<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if polled.is_ready() {
            this.read_deadline = None;
            return polled;
        }
        if past(&mut this.read_deadline, this.idle, cx) {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client sent nothing for too long")));
        }
        Poll::Pending
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stalls<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.write_outcome(polled, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.write_outcome(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.write_outcome(polled, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_shutdown(cx);
        self.write_outcome(polled, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn only_a_listener_beyond_loopback_is_warned_about() {
        assert_eq!(exposure_warning("127.0.0.1:9464".parse().unwrap()), None);
        assert_eq!(exposure_warning("[::1]:9464".parse().unwrap()), None);
        for addr in ["0.0.0.0:9464", "192.0.2.7:9464", "[::]:9464"] {
            let warning = exposure_warning(addr.parse().unwrap()).expect(addr);
            assert!(warning.contains(addr) && warning.contains("no authentication"), "{warning}");
        }
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_dropped() {
        let (server, _client) = tokio::io::duplex(64);
        let mut stalls = Stalls::new(server, Duration::from_secs(3600), Duration::from_millis(100));
        let response = vec![b'x'; 64 * 1024];
        let e = stalls.write_all(&response).await.expect_err("the client never reads");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_client_that_sends_nothing_is_dropped_and_one_that_talks_is_not() {
        let (server, mut client) = tokio::io::duplex(64);
        let mut stalls = Stalls::new(server, Duration::from_millis(300), Duration::from_secs(3600));
        // Bytes that keep coming, each sooner than the deadline, are all read.
        let talker = tokio::spawn(async move {
            for _ in 0..5 {
                client.write_all(b"x").await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            client // kept open, silent
        });
        let mut got = [0u8; 5];
        stalls.read_exact(&mut got).await.unwrap();
        let _client = talker.await.unwrap();
        let e = stalls.read(&mut [0u8; 1]).await.expect_err("the client went silent");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    /// The endpoint's router with `limits` on 127.0.0.1, over a database that does not exist.
    async fn server(limits: Limits) -> SocketAddr {
        let database = std::env::temp_dir().join("stancewatch-no-such-folder/none.db");
        let reader = Reader::start(database.clone()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(run(listener, router(reader, database, None, true), limits));
        addr
    }

    /// Everything the server sends until it closes the connection (None: it did not close it
    /// within a minute).
    async fn until_closed(stream: &mut TcpStream) -> Option<String> {
        let mut got = Vec::new();
        // A reset (Err) is closed too.
        let _read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut got)).await.ok()?;
        Some(String::from_utf8_lossy(&got).into_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_cap_a_connection_is_closed_at_once_and_served_when_a_slot_frees() {
        let hour = Duration::from_secs(3600);
        let addr = server(Limits { max_connections: 2, header_read: hour, idle: hour, write: hour }).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        let _second = TcpStream::connect(addr).await.unwrap();
        // The idle connections would be held for an hour: a third is closed, not queued.
        let mut third = TcpStream::connect(addr).await.unwrap();
        assert_eq!(until_closed(&mut third).await.as_deref(), Some(""));
        // The first finishes its request and is answered; its slot goes to the next client.
        first.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let answer = until_closed(&mut first).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        let answered = loop {
            let mut next = TcpStream::connect(addr).await.unwrap();
            // The write fails if the server has already closed the connection.
            let _ = next.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n").await;
            let answer = until_closed(&mut next).await.unwrap();
            if !answer.is_empty() {
                break answer;
            }
            // Closed at the cap: the first connection's task had not ended yet.
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(answered.starts_with("HTTP/1.1 404"), "{answered}");
        assert!(answered.contains("not found: try /healthz or /metrics"), "{answered}");
    }
}
