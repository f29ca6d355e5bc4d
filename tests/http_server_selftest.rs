//! Self-test for the scriptable HTTP test server in `tests/common/http.rs`,
//! driven by a raw `std::net::TcpStream` client.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::http::{Route, TestServer};

/// A parsed response, read until the server closed the connection.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Connects to the server with a generous read timeout.
fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("set_read_timeout");
    stream
}

/// Sends a GET for `path` with extra headers and returns the raw bytes the
/// server sent before closing the connection.
fn get_raw(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut stream = connect(server);
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", server.addr());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send request");

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    raw
}

/// Sends a GET and parses the response (body is not de-chunked).
fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    parse(&get_raw(server, path, headers))
}

fn parse(raw: &[u8]) -> RawResponse {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("response has a complete head");
    let head = std::str::from_utf8(&raw[..split]).expect("head is UTF-8");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "status line: {status_line}");
    let status = parts.next().unwrap().parse().expect("numeric status");
    let headers = lines
        .map(|line| {
            let (n, v) = line.split_once(':').expect("header has a colon");
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    RawResponse { status, headers, body: raw[split + 4..].to_vec() }
}

#[test]
fn ok_route_returns_body_with_length_and_rss_content_type() {
    let server = TestServer::start();
    server.set("/feed.xml", Route::ok("<rss>hello</rss>"));

    let resp = get(&server, "/feed.xml", &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"<rss>hello</rss>");
    assert_eq!(resp.header("content-length"), Some("16"));
    assert_eq!(resp.header("content-type"), Some("application/rss+xml"));
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.url("/feed.xml"), format!("{}/feed.xml", server.base_url()));
}

#[test]
fn unknown_path_is_404_and_query_string_must_match_exactly() {
    let server = TestServer::start();
    server.set("/feed?page=1", Route::ok("one"));

    assert_eq!(get(&server, "/nothing-here", &[]).status, 404);
    assert_eq!(get(&server, "/feed", &[]).status, 404);
    assert_eq!(get(&server, "/feed?page=2", &[]).status, 404);
    assert_eq!(get(&server, "/feed?page=1", &[]).body, b"one");
}

#[test]
fn status_header_and_content_type_builders() {
    let server = TestServer::start();
    server.set("/gone", Route::status(503).header("Retry-After", "120").content_type("text/html").body("busy"));

    let resp = get(&server, "/gone", &[]);
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("retry-after"), Some("120"));
    assert_eq!(resp.header("content-type"), Some("text/html"));
    assert_eq!(resp.body, b"busy");
}

#[test]
fn set_replaces_a_route_while_running() {
    let server = TestServer::start();
    server.set("/f", Route::ok("first"));
    assert_eq!(get(&server, "/f", &[]).body, b"first");
    server.set("/f", Route::status(500));
    let resp = get(&server, "/f", &[]);
    assert_eq!(resp.status, 500);
    assert!(resp.body.is_empty());
}

#[test]
fn etag_matching_if_none_match_gets_304_without_body() {
    let server = TestServer::start();
    server.set("/f", Route::ok("body").etag("\"v1\""));

    let first = get(&server, "/f", &[]);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("etag"), Some("\"v1\""));

    let cached = get(&server, "/f", &[("If-None-Match", "\"v1\"")]);
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag"), Some("\"v1\""));

    let stale = get(&server, "/f", &[("If-None-Match", "\"v0\"")]);
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, b"body");
}

#[test]
fn last_modified_exact_if_modified_since_gets_304() {
    let date = "Wed, 21 Oct 2015 07:28:00 GMT";
    let server = TestServer::start();
    server.set("/f", Route::ok("body").last_modified(date));

    let first = get(&server, "/f", &[]);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("last-modified"), Some(date));

    assert_eq!(get(&server, "/f", &[("If-Modified-Since", date)]).status, 304);
    let other = get(&server, "/f", &[("If-Modified-Since", "Tue, 20 Oct 2015 07:28:00 GMT")]);
    assert_eq!(other.status, 200);
}

#[test]
fn gzip_route_compresses_only_when_accepted() {
    let text = "<rss>".to_owned() + &"<item>compress me</item>".repeat(200) + "</rss>";
    let server = TestServer::start();
    server.set("/f", Route::ok(text.clone()).gzip());

    let zipped = get(&server, "/f", &[("Accept-Encoding", "br, gzip, deflate")]);
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("content-length"), Some(zipped.body.len().to_string().as_str()));
    assert!(zipped.body.len() < text.len());
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&zipped.body[..]).read_to_string(&mut decoded).expect("valid gzip");
    assert_eq!(decoded, text);

    let plain = get(&server, "/f", &[]);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, text.as_bytes());
}

#[test]
fn redirect_sends_status_and_location() {
    let server = TestServer::start();
    server.set("/old", Route::default().redirect(301, "/new"));
    server.set("/new", Route::ok("moved here"));

    let resp = get(&server, "/old", &[]);
    assert_eq!(resp.status, 301);
    assert_eq!(resp.header("location"), Some("/new"));
    assert_eq!(resp.header("content-length"), Some("0"));
}

#[test]
fn delayed_route_does_not_block_other_requests() {
    let server = TestServer::start();
    server.set("/slow", Route::ok("slow").delay(Duration::from_millis(1500)));
    server.set("/fast", Route::ok("fast"));

    let started = Instant::now();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| get(&server, "/slow", &[]));
        // Make sure the slow request is in flight first.
        while server.hits("/slow") == 0 {
            assert!(started.elapsed() < Duration::from_secs(5), "slow never arrived");
            std::thread::sleep(Duration::from_millis(5));
        }

        let fast_start = Instant::now();
        assert_eq!(get(&server, "/fast", &[]).body, b"fast");
        assert!(fast_start.elapsed() < Duration::from_millis(1000), "fast request took {:?}", fast_start.elapsed());

        assert_eq!(slow.join().unwrap().body, b"slow");
    });
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn requests_are_logged_with_headers() {
    let server = TestServer::start();
    server.set("/f?x=1", Route::ok("x"));

    get(&server, "/f?x=1", &[("X-Test", "abc"), ("User-Agent", "selftest/1")]);
    get(&server, "/f?x=1", &[]);
    get(&server, "/missing", &[]);

    let log = server.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/f?x=1");
    assert_eq!(log[0].header("x-test"), Some("abc"));
    assert_eq!(log[0].header("USER-AGENT"), Some("selftest/1"));
    assert_eq!(log[1].header("x-test"), None);
    assert_eq!(log[2].path, "/missing");
    assert_eq!(server.hits("/f?x=1"), 2);
    assert_eq!(server.hits("/missing"), 1);
    assert_eq!(server.hits("/f"), 0);
}

#[test]
fn truncate_after_sends_fewer_bytes_than_content_length() {
    let server = TestServer::start();
    server.set("/f", Route::ok(vec![b'a'; 1000]).truncate_after(10));

    let resp = get(&server, "/f", &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), Some("1000"));
    assert_eq!(resp.body, vec![b'a'; 10]);
}

#[test]
fn reset_closes_without_responding() {
    let server = TestServer::start();
    server.set("/f", Route::ok("never sent").reset());

    let mut stream = connect(&server);
    stream.write_all(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => assert!(raw.is_empty(), "got {raw:?}"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
    assert_eq!(server.hits("/f"), 1);
}

#[test]
fn chunked_forever_keeps_streaming_and_drop_does_not_hang() {
    let server = TestServer::start();
    server.set("/big", Route::ok("").chunked_forever());

    let mut stream = connect(&server);
    stream.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while received.len() < 1024 * 1024 {
        let n = stream.read(&mut buf).expect("read stream");
        assert!(n > 0, "server stopped streaming early");
        received.extend_from_slice(&buf[..n]);
    }

    let text = String::from_utf8_lossy(&received);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"));
    assert!(head.contains("Transfer-Encoding: chunked"));
    assert!(!head.contains("Content-Length"));
    assert!(body.matches("<item>x</item>").count() > 10_000);

    // Stop the server while the client is still connected: must not hang,
    // and the client then sees the stream end.
    let dropping = Instant::now();
    drop(server);
    assert!(dropping.elapsed() < Duration::from_secs(5));
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn works_from_a_tokio_test() {
    let server = TestServer::start();
    server.set("/f", Route::ok("async"));
    let addr = server.addr();

    let resp = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        parse(&raw)
    })
    .await
    .unwrap();
    assert_eq!(resp.body, b"async");
    // Dropping inside an async context must not panic or hang.
    drop(server);
}
