//! A small scriptable HTTP/1.1 server for integration tests.
//!
//! It exists so feed-fetching code can be tested against real sockets
//! without any network access or extra dependencies (only std, tokio and
//! flate2). Each [`TestServer`] listens on `127.0.0.1:<random port>` and
//! runs on its own background thread with its own current-thread tokio
//! runtime, so it can be used from plain `#[test]` functions as well as from
//! `#[tokio::test]` ones. Dropping the server stops it.
//!
//! Responses are scripted per path with [`Route`], and every request the
//! server sees is recorded as a [`LoggedRequest`].
//!
//! ```ignore
//! let server = TestServer::start();
//! server.set("/feed.xml", Route::ok("<rss/>").etag("\"v1\"").gzip());
//! let url = server.url("/feed.xml");
//! // ... fetch `url` with the code under test ...
//! assert_eq!(server.hits("/feed.xml"), 1);
//! ```
//!
//! The HTTP handling is deliberately minimal: one request per connection
//! (every response carries `Connection: close`), request bodies are ignored,
//! and normal responses always carry `Content-Length`.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Largest request head (request line plus headers) the server accepts.
const MAX_HEAD: usize = 64 * 1024;

/// The text repeated by [`Route::chunked_forever`].
const FOREVER_ITEM: &[u8] = b"<item>x</item>";

/// Number of whole items per streamed chunk (just under 64 KiB).
const FOREVER_ITEMS_PER_CHUNK: usize = 64 * 1024 / FOREVER_ITEM.len();

/// One request as received by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The request target exactly as sent, including any query string.
    pub path: String,
    /// All request headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
}

impl LoggedRequest {
    /// The first header called `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What to do with a connection once its request has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Send a complete, ordinary response.
    Normal,
    /// Close the connection without sending anything.
    Reset,
    /// Stream chunked data until the client goes away.
    ChunkedForever,
}

/// A scripted response, built with [`Route::ok`] or [`Route::status`] and
/// the chainable methods below.
#[derive(Debug, Clone)]
pub struct Route {
    status: u16,
    body: Vec<u8>,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    etag: Option<String>,
    last_modified: Option<String>,
    gzip: bool,
    delay: Duration,
    truncate_after: Option<usize>,
    behaviour: Behaviour,
}

impl Default for Route {
    /// `200 OK` with an empty body and no content type.
    fn default() -> Self {
        Route {
            status: 200,
            body: Vec::new(),
            content_type: None,
            headers: Vec::new(),
            etag: None,
            last_modified: None,
            gzip: false,
            delay: Duration::ZERO,
            truncate_after: None,
            behaviour: Behaviour::Normal,
        }
    }
}

impl Route {
    /// `200 OK` with `body` and `Content-Type: application/rss+xml`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Route { body: body.into(), content_type: Some("application/rss+xml".to_owned()), ..Route::default() }
    }

    /// The given status code with an empty body and no content type.
    pub fn status(code: u16) -> Self {
        Route { status: code, ..Route::default() }
    }

    /// Replaces the response body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds an extra response header (sent as given, after the built-in ones).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the `Content-Type` header.
    pub fn content_type(mut self, value: &str) -> Self {
        self.content_type = Some(value.to_owned());
        self
    }

    /// Sends `ETag: value`; a request whose `If-None-Match` lists `value`
    /// (or `*`) gets `304 Not Modified` with no body.
    pub fn etag(mut self, value: &str) -> Self {
        self.etag = Some(value.to_owned());
        self
    }

    /// Sends `Last-Modified: value`; a request whose `If-Modified-Since` is
    /// exactly `value` (and which has no `If-None-Match`) gets
    /// `304 Not Modified` with no body.
    pub fn last_modified(mut self, value: &str) -> Self {
        self.last_modified = Some(value.to_owned());
        self
    }

    /// Gzip-compresses the body and sends `Content-Encoding: gzip`, but only
    /// when the request's `Accept-Encoding` mentions gzip.
    pub fn gzip(mut self) -> Self {
        self.gzip = true;
        self
    }

    /// Waits this long after reading the request before responding.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Responds with status `code` and `Location: location`.
    pub fn redirect(mut self, code: u16, location: &str) -> Self {
        self.status = code;
        self.headers.push(("Location".to_owned(), location.to_owned()));
        self
    }

    /// Advertises the full `Content-Length` but sends only the first `n`
    /// body bytes, then closes the connection.
    pub fn truncate_after(mut self, n: usize) -> Self {
        self.truncate_after = Some(n);
        self
    }

    /// Reads the request, then closes the connection without responding.
    pub fn reset(mut self) -> Self {
        self.behaviour = Behaviour::Reset;
        self
    }

    /// Sends the status line and headers with `Transfer-Encoding: chunked`,
    /// then streams roughly 64 KiB chunks of repeated `<item>x</item>` for as
    /// long as the client keeps reading. The body set on the route is ignored.
    pub fn chunked_forever(mut self) -> Self {
        self.behaviour = Behaviour::ChunkedForever;
        self
    }
}

/// Routes and request log, shared between the test and the server thread.
#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    log: Vec<LoggedRequest>,
}

type Shared = Arc<Mutex<State>>;

/// Locks the shared state, ignoring poisoning (a panicking test must not
/// take the server down with it).
fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running test server; see the module documentation.
pub struct TestServer {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and starts serving on a background thread.
    pub fn start() -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("test server: bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("test server: set_nonblocking");
        let addr = listener.local_addr().expect("test server: local_addr");
        let state = Shared::default();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();

        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name(format!("test-http-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("test server: build tokio runtime");
                runtime.block_on(serve(listener, thread_state, shutdown_rx));
                // Dropping the runtime here cancels every connection task,
                // including delayed and never-ending ones.
            })
            .expect("test server: spawn thread");

        TestServer { addr, state, shutdown: Some(shutdown_tx), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL followed by `path`, which should start with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `route` for requests whose target is exactly `path` (query
    /// string included), replacing any previous route for it.
    pub fn set(&self, path: &str, route: Route) {
        lock(&self.state).routes.insert(path.to_owned(), route);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.state).log.clone()
    }

    /// How many requests had exactly this target (query string included).
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.state).log.iter().filter(|r| r.path == path).count()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            // An error only means the server loop has already gone.
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Don't turn a server-side panic into a double panic.
            let _ = thread.join();
        }
    }
}

/// Accepts connections until told to shut down, one task per connection.
async fn serve(listener: std::net::TcpListener, state: Shared, mut shutdown: oneshot::Receiver<()>) {
    let listener = TcpListener::from_std(listener).expect("test server: register listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(handle_connection(stream, Arc::clone(&state)));
                }
            }
        }
    }
}

/// Reads one request, logs it and answers according to its route.
async fn handle_connection(mut stream: TcpStream, state: Shared) {
    let request = match read_request(&mut stream).await {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(HeadError::TooLarge) => {
            let _ = write_simple(&mut stream, 431, "request head too large").await;
            return;
        }
        Err(HeadError::Malformed) => {
            let _ = write_simple(&mut stream, 400, "bad request").await;
            return;
        }
    };

    let route = {
        let mut state = lock(&state);
        state.log.push(request.clone());
        state.routes.get(&request.path).cloned()
    };
    let Some(route) = route else {
        let _ = write_simple(&mut stream, 404, "not found").await;
        return;
    };

    if !route.delay.is_zero() {
        tokio::time::sleep(route.delay).await;
    }
    // Write errors just mean the client went away; nothing to report.
    let _ = match route.behaviour {
        Behaviour::Reset => Ok(()),
        Behaviour::ChunkedForever => stream_forever(&mut stream, &route).await,
        Behaviour::Normal => respond(&mut stream, &request, &route).await,
    };
    // Dropping `stream` closes the connection.
}

/// Why a request head could not be read.
enum HeadError {
    TooLarge,
    Malformed,
}

/// Reads and parses the request line and headers. `Ok(None)` means the
/// client closed the connection (or errored) before sending a full head.
async fn read_request(stream: &mut TcpStream) -> Result<Option<LoggedRequest>, HeadError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    if head_len > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }

    let head = std::str::from_utf8(&buf[..head_len]).map_err(|_| HeadError::Malformed)?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(path), Some(_version)) = (request_line.next(), request_line.next(), request_line.next())
    else {
        return Err(HeadError::Malformed);
    };
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').ok_or(HeadError::Malformed)?;
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Some(LoggedRequest { method: method.to_owned(), path: path.to_owned(), headers }))
}

/// Position of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether a conditional request should get `304 Not Modified`.
/// As in RFC 9110, `If-None-Match` takes precedence over `If-Modified-Since`.
fn not_modified(request: &LoggedRequest, route: &Route) -> bool {
    if let Some(inm) = request.header("If-None-Match") {
        let Some(etag) = &route.etag else {
            return false;
        };
        return inm.split(',').map(str::trim).any(|tag| tag == "*" || tag == etag);
    }
    match (request.header("If-Modified-Since"), &route.last_modified) {
        (Some(since), Some(modified)) => since == modified,
        _ => false,
    }
}

/// Sends an ordinary (possibly conditional, compressed or truncated) response.
async fn respond(stream: &mut TcpStream, request: &LoggedRequest, route: &Route) -> std::io::Result<()> {
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(etag) = &route.etag {
        headers.push(("ETag".to_owned(), etag.clone()));
    }
    if let Some(modified) = &route.last_modified {
        headers.push(("Last-Modified".to_owned(), modified.clone()));
    }

    if not_modified(request, route) {
        headers.extend(route.headers.iter().cloned());
        return write_response(stream, 304, &headers, None, &[]).await;
    }

    let accepts_gzip = request.header("Accept-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("gzip"));
    let body = if route.gzip && accepts_gzip {
        headers.push(("Content-Encoding".to_owned(), "gzip".to_owned()));
        gzip(&route.body)
    } else {
        route.body.clone()
    };
    if let Some(content_type) = &route.content_type {
        headers.push(("Content-Type".to_owned(), content_type.clone()));
    }
    headers.extend(route.headers.iter().cloned());

    let sent = match route.truncate_after {
        Some(n) => &body[..n.min(body.len())],
        None => &body[..],
    };
    let sent = if request.method.eq_ignore_ascii_case("HEAD") { &[] } else { sent };
    write_response(stream, route.status, &headers, Some(body.len()), sent).await
}

/// Sends a short `text/plain` response (used for 404 and protocol errors).
async fn write_simple(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let headers = [("Content-Type".to_owned(), "text/plain".to_owned())];
    write_response(stream, status, &headers, Some(body.len()), body.as_bytes()).await
}

/// Writes a status line, the given headers, `Content-Length` (when given and
/// the status allows a body), `Connection: close`, then `body`, and shuts
/// down the write side.
async fn write_response(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    content_length: Option<usize>,
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let bodyless = status < 200 || status == 204 || status == 304;
    if let (Some(len), false) = (content_length, bodyless) {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");

    stream.write_all(head.as_bytes()).await?;
    if !bodyless {
        stream.write_all(body).await?;
    }
    stream.flush().await?;
    stream.shutdown().await
}

/// Streams chunked `<item>x</item>` data until a write fails.
async fn stream_forever(stream: &mut TcpStream, route: &Route) -> std::io::Result<()> {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    if let Some(content_type) = &route.content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in &route.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;

    let data = FOREVER_ITEM.repeat(FOREVER_ITEMS_PER_CHUNK);
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(&data);
    chunk.extend_from_slice(b"\r\n");
    loop {
        stream.write_all(&chunk).await?;
    }
}

/// Gzip-compresses `data`.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip into a Vec cannot fail");
    encoder.finish().expect("gzip into a Vec cannot fail")
}

/// The standard reason phrase for `status` (or a generic one).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
