//! The `[http] listen` endpoint under clients that misbehave: hundreds of idle connections,
//! requests that never finish, methods and bodies it does not serve. The real daemon runs
//! against feeds from `tests/common`; every connection goes to 127.0.0.1.

mod common;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::daemon::{metric, wait_for};
use common::http::{Route, TestServer};
use common::sandbox::{Sandbox, rss};
use common::smtp::SmtpServer;

/// How long the endpoint reuses one read of the database's gauges (`GAUGES_FOR`).
const GAUGES_FOR: Duration = Duration::from_secs(5);

/// A daemon running `run` in its sandbox, its log in a file there; SIGTERM on drop.
struct Daemon {
    child: Option<Child>,
    log: std::path::PathBuf,
    port: u16,
}

impl Daemon {
    fn start(sb: &Sandbox, port: u16) -> Daemon {
        let log = sb.path().join("daemon.log");
        let child = sb.command().arg("run").stderr(File::create(&log).unwrap()).spawn().unwrap();
        Daemon { child: Some(child), log, port }
    }

    /// SIGTERM; the exit code and the log.
    fn stop(mut self) -> (Option<i32>, String) {
        let code = self.terminate();
        (code, std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap().code()
    }

    fn get(&self, path: &str) -> Option<Response> {
        request(self.port, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Send `raw` on a new connection and read the response until the server closes it.
fn request(port: u16, raw: &[u8]) -> Option<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.write_all(raw).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Response { status, headers, body: body.to_string() })
}

/// The part of `/metrics` read from the database: from the feeds gauge to the end.
fn database_part(text: &str) -> &str {
    let at = text.find("# HELP stancewatch_feeds ").unwrap_or_else(|| panic!("no database gauges:\n{text}"));
    &text[at..]
}

fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted),
    }
}

/// `count` connections to the endpoint that never send a whole request (half of them send
/// nothing, half the start of a request line), each opened again as soon as the server closes
/// it, until `stop` is set (or two minutes have passed). `open` says how many are open.
fn hold_idle_connections(
    port: u16,
    count: usize,
    stop: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let connect = |i: usize| -> Option<TcpStream> {
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            if i % 2 == 1 {
                s.write_all(b"GET /heal").ok()?;
            }
            s.set_nonblocking(true).ok()?;
            Some(s)
        };
        let mut conns: Vec<Option<TcpStream>> = (0..count).map(connect).collect();
        let mut reopened = 0;
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            for (i, slot) in conns.iter_mut().enumerate() {
                if slot.as_mut().is_none_or(closed) {
                    *slot = connect(i);
                    reopened += 1;
                }
            }
            open.store(conns.iter().filter(|c| c.is_some()).count(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(200));
        }
        reopened
    })
}

#[test]
fn three_hundred_idle_connections_neither_block_the_endpoint_nor_the_polling() {
    let server = TestServer::start();
    server.set("/f.xml", Route::ok(rss(&[("a", "Meta releases its new Llama model with open weights")])));
    let port = SmtpServer::free_port();
    let sb = Sandbox::with_feeds(
        &[server.url("/f.xml")],
        &format!("timeout = \"2s\"\ninterval = \"1m\"\n\n[http]\nlisten = \"127.0.0.1:{port}\""),
    );
    let daemon = Daemon::start(&sb, port);
    wait_for("the first poll", Duration::from_secs(30), || {
        daemon.get("/healthz").is_some_and(|r| r.status == 200 && r.body.starts_with("ok: 1 stories"))
    });
    // The feed has news for its next poll, a minute after the first.
    server.set(
        "/f.xml",
        Route::ok(rss(&[
            ("b", "OpenAI keeps its next model proprietary, available only through its API"),
            ("a", "Meta releases its new Llama model with open weights"),
        ])),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicUsize::new(0));
    let flood = hold_idle_connections(port, 300, Arc::clone(&stop), Arc::clone(&open));
    wait_for("300 idle connections", Duration::from_secs(30), || open.load(Ordering::Relaxed) >= 300);
    let mut answered = 0;
    wait_for("the next poll while the connections are held", Duration::from_secs(120), || {
        // A new client is served while the idle ones are held.
        let health = daemon.get("/healthz").expect("/healthz answers beside the idle connections");
        assert_eq!(health.status, 200, "{health:?}");
        answered += 1;
        std::thread::sleep(Duration::from_millis(500));
        server.hits("/f.xml") >= 2
    });
    wait_for("the new story", Duration::from_secs(30), || sb.count("SELECT count(*) FROM stories") == 2);
    let health = daemon.get("/healthz").unwrap();
    assert_eq!(health.status, 200, "{health:?}");
    assert!(health.body.starts_with("ok: 2 stories"), "{health:?}");
    stop.store(true, Ordering::Relaxed);
    let reopened = flood.join().unwrap();
    // The server dropped idle connections after its timeout (and they were opened again).
    assert!(reopened >= 300, "idle connections closed by the server: {reopened}");
    assert!(answered > 0);
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_client_that_never_finishes_its_request_is_dropped() {
    let port = SmtpServer::free_port();
    let sb = Sandbox::new(&format!("[http]\nlisten = \"127.0.0.1:{port}\""));
    let daemon = Daemon::start(&sb, port);
    wait_for("the endpoint", Duration::from_secs(30), || daemon.get("/healthz").is_some());

    // Connects and says nothing; sends half a request line; sends a header a byte at a time.
    let clients: Vec<_> = [&b""[..], b"GET /healthz HT", b"GET /healthz HTTP/1.1\r\nX-Slow: "]
        .into_iter()
        .enumerate()
        .map(|(i, start)| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.write_all(start).unwrap();
                stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
                let started = Instant::now();
                // Bounded: if the server never closed it, the test fails after a minute.
                while started.elapsed() < Duration::from_secs(60) {
                    if closed(&mut stream) {
                        return true;
                    }
                    if i == 2 && stream.write_all(b"a").is_err() {
                        return true;
                    }
                }
                false
            })
        })
        .collect();
    for (client, what) in clients.into_iter().zip(["silent", "half a request line", "a byte at a time"]) {
        assert!(client.join().unwrap(), "a client sending {what} was not dropped");
    }
    assert_eq!(daemon.get("/healthz").map(|r| r.status), Some(200));
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn only_get_and_head_without_a_body_are_served() {
    let port = SmtpServer::free_port();
    let sb = Sandbox::new(&format!("[http]\nlisten = \"127.0.0.1:{port}\""));
    let daemon = Daemon::start(&sb, port);
    wait_for("a healthy endpoint", Duration::from_secs(30), || daemon.get("/healthz").is_some_and(|r| r.status == 200));
    let send = |raw: &str| request(port, raw.as_bytes()).unwrap_or_else(|| panic!("no answer to {raw:?}"));

    let get = daemon.get("/healthz").unwrap();
    assert_eq!(get.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(get.header("cache-control"), Some("no-store"));
    assert!(get.body.starts_with("ok: 0 stories, last poll never"), "{get:?}");
    let head = send("HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.body, "", "HEAD has no body");
    assert_eq!(head.header("content-type"), Some("text/plain; charset=utf-8"));
    let metrics = daemon.get("/metrics").unwrap();
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!(metrics.header("cache-control"), Some("no-store"));

    for raw in [
        "POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
        "POST /nothing-here HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc",
        "DELETE /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        let r = send(raw);
        assert_eq!(r.status, 405, "{raw:?}: {r:?}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{raw:?}: {r:?}");
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // The daemon serves the web view too: an unknown address is its 404 page.
    let missing = daemon.get("/nothing-here").unwrap();
    assert_eq!(missing.status, 404, "{missing:?}");
    assert!(missing.body.contains("There is no page at this address."), "{missing:?}");
    assert_eq!(missing.header("content-type"), Some("text/html; charset=utf-8"));
    let home = daemon.get("/").unwrap();
    assert_eq!(home.status, 200, "the overview is served beside /healthz: {home:?}");

    let with_body = send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(with_body.status, 413, "{with_body:?}");
    let chunked =
        send("GET /metrics HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(chunked.status, 413, "{chunked:?}");
    let huge = format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
    let huge = request(port, huge.as_bytes());
    assert!(huge.as_ref().is_none_or(|r| r.status == 431), "an oversized head is refused: {huge:?}");

    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
}

/// One try at catching the cache: the first scrape while the feed's answer is on its way,
/// then scrapes until the counters show the stored stories. `None` when the machine was too
/// slow to tell (the first scrape came after the poll, or the second more than `GAUGES_FOR`
/// after the first).
fn scrape_across_a_poll() -> Option<()> {
    let server = TestServer::start();
    let items = [
        ("a", "Meta releases its new Llama model with open weights on Hugging Face"),
        ("b", "OpenAI keeps its next model proprietary, available only through its API"),
        ("c", "City council approves a new bicycle lane downtown"),
    ];
    server.set("/slow.xml", Route::ok(rss(&items)).delay(Duration::from_millis(1500)));
    let port = SmtpServer::free_port();
    let sb = Sandbox::with_feeds(
        &[server.url("/slow.xml")],
        &format!("timeout = \"10s\"\n\n[http]\nlisten = \"127.0.0.1:{port}\""),
    );
    let daemon = Daemon::start(&sb, port);
    // The daemon listens before it polls: once the feed is asked for, the endpoint is up.
    wait_for("the poll to start", Duration::from_secs(30), || server.hits("/slow.xml") >= 1);

    // The first scrape, the first read of the gauges: made at or after `first_sent`.
    let first_sent = Instant::now();
    let first = daemon.get("/metrics").expect("/metrics answers");
    if metric(&first.body, "stancewatch_stories{kind=\"all\"}") != 0.0 {
        eprintln!("inconclusive: the poll was stored before the first scrape");
        return None;
    }
    assert_eq!(metric(&first.body, "stancewatch_stories_stored_total{kind=\"new\"}"), 0.0);
    // The counters move as soon as the stories are stored (after their transaction commits).
    let mut second = None;
    wait_for("the stories to be counted", Duration::from_secs(20), || {
        let r = daemon.get("/metrics").expect("/metrics answers");
        let stored = metric(&r.body, "stancewatch_stories_stored_total{kind=\"new\"}") == 3.0;
        if stored {
            second = Some(r);
        }
        stored
    });
    let second = second.unwrap();
    if first_sent.elapsed() >= GAUGES_FOR {
        eprintln!("inconclusive: the second scrape came {:?} after the first", first_sent.elapsed());
        return None;
    }
    // Less than GAUGES_FOR after the first read: the same gauges, though the database now holds
    // three stories, beside counters that are current.
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 3);
    assert_eq!(database_part(&second.body), database_part(&first.body));
    assert_eq!(metric(&second.body, "stancewatch_stories{kind=\"all\"}"), 0.0);
    assert_eq!(metric(&second.body, "stancewatch_polls_total{result=\"fetched\"}"), 1.0);
    assert_eq!(metric(&second.body, "stancewatch_stories_relevant_total"), 2.0);
    // Later, a scrape reads the database afresh.
    wait_for("fresh gauges", GAUGES_FOR * 4, || {
        daemon.get("/metrics").is_some_and(|r| metric(&r.body, "stancewatch_stories{kind=\"all\"}") == 3.0)
    });
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    Some(())
}

#[test]
fn metrics_reuses_the_database_gauges_for_a_while_but_not_the_counters() {
    for _ in 0..3 {
        if scrape_across_a_poll().is_some() {
            return;
        }
    }
    panic!("three tries were all too slow to observe the cached gauges");
}
