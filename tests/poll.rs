//! Polling against a real HTTP server on 127.0.0.1, through the real binary and a real SQLite
//! file: what a user sees after `stancewatch poll`.

mod common;

use std::time::Duration;

use common::http::{Route, TestServer};
use common::sandbox::{Sandbox, items, rss, rss_of};

/// A feed's polling state as stored.
struct FeedState {
    kind: Option<String>,
    status: Option<i64>,
    failures: i64,
    gone_at: Option<String>,
    next_poll_at: Option<String>,
    last_polled_at: Option<String>,
}

const FAST: &str = "timeout = \"1s\"\nper_host = 8\nmax_body = \"64KiB\"";

#[test]
fn first_poll_stores_everything_second_poll_is_conditional_and_stores_nothing() {
    let server = TestServer::start();
    server.set("/etag.xml", Route::ok(rss_of(&items("e", 20))).etag("\"v1\""));
    server.set("/lm.xml", Route::ok(rss_of(&items("l", 15))).last_modified("Sun, 01 Nov 2026 10:00:00 GMT"));
    let sb = Sandbox::with_feeds(&[server.url("/etag.xml"), server.url("/lm.xml")], FAST);

    let first = sb.ok(&["poll"]);
    assert!(first.contains("polled 2 feeds: 2 fetched"), "{first}");
    assert!(first.contains("35 new stories (35 backfilled)"), "{first}");
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 35);
    assert_eq!(sb.count("SELECT count(*) FROM stories WHERE backfill = 1"), 35, "a first poll is backfill");
    assert_eq!(sb.count("SELECT sum(backfilled) FROM feeds"), 35);

    // Nothing is due yet: a plain poll polls nothing.
    let idle = sb.ok(&["poll"]);
    assert!(idle.contains("polled 0 feeds"), "{idle}");

    let second = sb.ok(&["poll", "--all"]);
    assert!(second.contains("0 fetched, 2 not modified, 0 failed; 0 new stories"), "{second}");
    let requests = server.requests();
    let last_etag = requests.iter().rev().find(|r| r.path == "/etag.xml").unwrap();
    assert_eq!(last_etag.header("if-none-match"), Some("\"v1\""));
    let last_lm = requests.iter().rev().find(|r| r.path == "/lm.xml").unwrap();
    assert_eq!(last_lm.header("if-modified-since"), Some("Sun, 01 Nov 2026 10:00:00 GMT"));
    assert!(last_lm.header("user-agent").unwrap().starts_with("stancewatch/"));
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 35);
    assert_eq!(sb.count("SELECT count(*) FROM feeds WHERE last_status = 304"), 2);
}

#[test]
fn every_failure_leaves_the_right_state_and_the_cycle_goes_on() {
    let server = TestServer::start();
    server.set("/good.xml", Route::ok(rss(&[("g1", "Good one"), ("g2", "Good two")])));
    server.set("/limited.xml", Route::status(429).header("Retry-After", "7200"));
    let in_an_hour = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    server.set("/unavailable.xml", Route::status(503).header("Retry-After", &in_an_hour));
    server.set("/broken.xml", Route::status(500));
    server.set("/slow.xml", Route::ok(rss(&[("s", "Slow")])).delay(Duration::from_secs(4)));
    server.set("/huge.xml", Route::ok(rss_of(&items("h", 2000))));
    server.set("/endless.xml", Route::ok("").chunked_forever());
    server.set("/old.xml", Route::default().redirect(301, "/middle.xml"));
    server.set("/middle.xml", Route::default().redirect(308, "/moved.xml"));
    server.set("/moved.xml", Route::ok(rss(&[("m1", "Moved story")])));
    server.set("/temporary.xml", Route::default().redirect(302, "/moved-temp.xml"));
    server.set("/moved-temp.xml", Route::ok(rss(&[("t1", "Temporarily elsewhere")])));
    server.set("/zipped.xml", Route::ok(rss(&[("z1", "Compressed"), ("z2", "Also compressed")])).gzip());
    server.set("/gone.xml", Route::status(410));
    server.set("/page.html", Route::ok("<html><body>not a feed</body></html>").content_type("text/html"));
    server.set("/reset.xml", Route::ok("").reset());
    server.set("/truncated.xml", Route::ok(rss_of(&items("tr", 50))).truncate_after(300));
    let paths = [
        "/good.xml",
        "/limited.xml",
        "/unavailable.xml",
        "/broken.xml",
        "/slow.xml",
        "/huge.xml",
        "/endless.xml",
        "/old.xml",
        "/temporary.xml",
        "/zipped.xml",
        "/gone.xml",
        "/page.html",
        "/reset.xml",
        "/truncated.xml",
    ];
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let sb = Sandbox::with_feeds(&urls, FAST);

    let started = std::time::Instant::now();
    let out = sb.ok(&["poll"]);
    assert!(started.elapsed() < Duration::from_secs(15), "the cycle must not wait on the slow feed for long");
    assert!(out.contains("polled 14 feeds"), "{out}");

    let state = |path: &str| -> FeedState {
        sb.db()
            .query_row(
                "SELECT error_kind, last_status, consecutive_failures, gone_at, next_poll_at, last_polled_at
                 FROM feeds WHERE config_url = ?1",
                [server.url(path)],
                |r| {
                    Ok(FeedState {
                        kind: r.get(0)?,
                        status: r.get(1)?,
                        failures: r.get(2)?,
                        gone_at: r.get(3)?,
                        next_poll_at: r.get(4)?,
                        last_polled_at: r.get(5)?,
                    })
                },
            )
            .unwrap()
    };
    let seconds_until_next = |path: &str| -> i64 {
        let s = state(path);
        let t = |s: Option<String>| chrono::DateTime::parse_from_rfc3339(&s.unwrap()).unwrap();
        (t(s.next_poll_at) - t(s.last_polled_at)).num_seconds()
    };

    assert_eq!(state("/good.xml").kind, None);
    assert_eq!(sb.count("SELECT count(*) FROM stories WHERE title LIKE 'Good%'"), 2);

    let limited = state("/limited.xml");
    assert_eq!((limited.kind.as_deref(), limited.status, limited.failures), (Some("rate_limited"), Some(429), 1));
    assert_eq!(seconds_until_next("/limited.xml"), 7200, "Retry-After in seconds is obeyed");
    let unavailable = state("/unavailable.xml");
    assert_eq!((unavailable.kind.as_deref(), unavailable.status), (Some("rate_limited"), Some(503)));
    let wait = seconds_until_next("/unavailable.xml");
    assert!((3500..=3600).contains(&wait), "Retry-After as an HTTP date is obeyed: {wait}s");

    let broken = state("/broken.xml");
    assert_eq!((broken.kind.as_deref(), broken.status, broken.failures), (Some("http"), Some(500), 1));
    let backoff = seconds_until_next("/broken.xml");
    assert!((900..=1800).contains(&backoff), "first failure backs off about one interval: {backoff}s");

    assert_eq!(state("/slow.xml").kind.as_deref(), Some("timeout"));
    assert_eq!(state("/huge.xml").kind.as_deref(), Some("too_large"));
    assert_eq!(state("/endless.xml").kind.as_deref(), Some("too_large"));
    assert_eq!(state("/page.html").kind.as_deref(), Some("parse"));
    assert_eq!(state("/reset.xml").kind.as_deref(), Some("connect"));
    assert_eq!(state("/truncated.xml").kind.as_deref(), Some("connect"));
    assert_eq!(
        sb.count("SELECT count(*) FROM stories WHERE entry_key LIKE 'tr-%'"),
        0,
        "a truncated body stores nothing"
    );

    // A chain of permanent redirects moves the feed; a temporary one does not.
    let (url, moved_from): (String, Option<String>) = sb
        .db()
        .query_row("SELECT url, moved_from FROM feeds WHERE config_url = ?1", [server.url("/old.xml")], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(url, server.url("/moved.xml"));
    assert_eq!(moved_from, Some(server.url("/old.xml")));
    let temp_url: String = sb
        .db()
        .query_row("SELECT url FROM feeds WHERE config_url = ?1", [server.url("/temporary.xml")], |r| r.get(0))
        .unwrap();
    assert_eq!(temp_url, server.url("/temporary.xml"));
    assert!(out.contains(&format!("moved {} -> {}", server.url("/old.xml"), server.url("/moved.xml"))), "{out}");

    assert_eq!(sb.count("SELECT count(*) FROM stories WHERE title LIKE '%ompressed'"), 2, "gzip bodies are read");
    let zipped = server.requests().into_iter().find(|r| r.path == "/zipped.xml").unwrap();
    assert!(zipped.header("accept-encoding").unwrap().contains("gzip"));

    let gone = state("/gone.xml");
    assert_eq!((gone.kind.as_deref(), gone.status), (Some("gone"), Some(410)));
    assert!(gone.gone_at.is_some());

    // The next cycle: the gone feed is not polled again, the moved feed is fetched at its new
    // address, and the config's old address does not come back as a second feed.
    let second = sb.ok(&["poll", "--all"]);
    assert_eq!(server.hits("/gone.xml"), 1, "a gone feed is not polled again");
    assert!(second.contains("1 gone feeds not polled"), "{second}");
    assert_eq!(server.hits("/old.xml"), 1);
    assert_eq!(server.hits("/moved.xml"), 2);
    assert_eq!(sb.count("SELECT count(*) FROM feeds"), 14);
    assert_eq!(state("/broken.xml").failures, 2, "failures are counted");

    let list = sb.ok(&["feeds", "list", "--format", "json"]);
    let feeds: serde_json::Value = serde_json::from_str(&list).unwrap();
    let health_of = |path: &str| {
        feeds.as_array().unwrap().iter().find(|f| f["config_url"] == server.url(path)).unwrap()["health"].clone()
    };
    assert_eq!(health_of("/gone.xml"), "gone");
    assert_eq!(health_of("/broken.xml"), "backing_off", "the word `status` and /metrics use");
    assert_eq!(health_of("/good.xml"), "ok");
}

#[test]
fn polling_again_and_again_gives_the_same_rows() {
    let server = TestServer::start();
    // No validators: every poll downloads and re-reads the whole feed.
    server.set("/a.xml", Route::ok(rss_of(&items("same", 10))));
    server.set("/b.xml", Route::ok(rss_of(&items("same", 10))));
    let sb = Sandbox::with_feeds(&[server.url("/a.xml"), server.url("/b.xml")], FAST);
    let snapshot = || -> Vec<(i64, String, String, String, String)> {
        let db = sb.db();
        let mut stmt = db
            .prepare("SELECT feed_id, entry_key, title, summary, published_at FROM stories ORDER BY feed_id, entry_key")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    sb.ok(&["poll", "--all"]);
    let first = snapshot();
    // Two feeds carrying the same GUIDs keep two stories each until dedup links them.
    assert_eq!(first.len(), 20);
    for _ in 0..3 {
        let out = sb.ok(&["poll", "--all"]);
        assert!(out.contains("0 new stories"), "{out}");
        assert!(out.contains("0 updated"), "{out}");
        assert_eq!(snapshot(), first);
    }
}

#[test]
fn changed_entries_are_updates_and_returning_entries_are_not_new() {
    let server = TestServer::start();
    server.set("/f.xml", Route::ok(rss(&[("a", "First title"), ("b", "Second")])));
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], FAST);
    sb.ok(&["poll", "--all"]);

    server.set("/f.xml", Route::ok(rss(&[("a", "First title, corrected"), ("c", "Third")])));
    let out = sb.ok(&["poll", "--all"]);
    assert!(out.contains("1 new stories (0 backfilled), 1 updated"), "{out}");
    assert_eq!(sb.count("SELECT count(*) FROM stories WHERE backfill = 0"), 1, "later stories are news");

    server.set("/f.xml", Route::ok(rss(&[("a", "First title, corrected"), ("b", "Second"), ("c", "Third")])));
    let out = sb.ok(&["poll", "--all"]);
    assert!(out.contains("0 new stories"), "an entry that left and came back is not new: {out}");
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 3);
    assert_eq!(sb.count("SELECT update_count FROM stories WHERE entry_key = 'a'"), 1);
}

#[test]
fn permanent_redirect_to_an_already_subscribed_feed_keeps_both_rows_consistent() {
    let server = TestServer::start();
    server.set("/dup.xml", Route::default().redirect(301, "/target.xml"));
    server.set("/target.xml", Route::ok(rss(&[("x", "X")])));
    let sb = Sandbox::with_feeds(&[server.url("/dup.xml"), server.url("/target.xml")], FAST);
    sb.ok(&["poll", "--all"]);
    assert_eq!(sb.count("SELECT count(DISTINCT url) FROM feeds"), 2);
    let check = sb.ok(&["db", "check"]);
    assert!(check.contains("integrity: ok"), "{check}");
}

#[test]
fn a_feeds_ttl_and_cache_headers_lengthen_its_interval() {
    let server = TestServer::start();
    let with_ttl = rss(&[("t", "T")]).replace("<title>Test feed</title>", "<title>Test feed</title><ttl>180</ttl>");
    server.set("/ttl.xml", Route::ok(with_ttl));
    server.set("/cached.xml", Route::ok(rss(&[("c", "C")])).header("Cache-Control", "public, max-age=7200"));
    server.set("/short.xml", Route::ok(rss(&[("s", "S")])).header("Cache-Control", "max-age=60"));
    let urls = [server.url("/ttl.xml"), server.url("/cached.xml"), server.url("/short.xml")];
    let sb = Sandbox::with_feeds(&urls, "interval = \"30m\"\ntimeout = \"2s\"");
    sb.ok(&["poll"]);
    let wait = |path: &str| -> i64 {
        sb.db()
            .query_row(
                "SELECT CAST((julianday(next_poll_at) - julianday(last_polled_at)) * 86400 AS INTEGER)
                 FROM feeds WHERE config_url = ?1",
                [server.url(path)],
                |r| r.get(0),
            )
            .unwrap()
    };
    // Interval plus at most 5 minutes of jitter.
    assert!((3 * 3600..=3 * 3600 + 300).contains(&wait("/ttl.xml")), "ttl 180 min: {}", wait("/ttl.xml"));
    assert!((7200..=7200 + 300).contains(&wait("/cached.xml")), "max-age 2 h: {}", wait("/cached.xml"));
    assert!(
        (1800..=1800 + 180).contains(&wait("/short.xml")),
        "a short max-age never shortens: {}",
        wait("/short.xml")
    );
}
