//! Several processes on one database, as users run them: `outbox retry` and `digest --send`
//! from a shell while others do the same or the daemon runs, a second `run` started by mistake,
//! another process holding the write lock. Real binary, real SMTP server on 127.0.0.1.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{request, stop, wait_for};
use common::http::{Route, TestServer};
use common::sandbox::{Sandbox, rss};
use common::smtp::{Received, SmtpServer, smtp_config};

const TO: [&str; 4] = ["ana@example.org", "ben@example.org", "cleo@example.org", "dan@example.org"];

fn ai_items(prefix: &str) -> String {
    rss(&[
        (&format!("{prefix}1"), &format!("Meta releases Llama {prefix} as open weights under a permissive licence")),
        (&format!("{prefix}2"), &format!("OpenAI keeps its {prefix} model proprietary and API-only")),
    ])
}

/// How many times each Message-ID reached the server.
fn deliveries(mail: &[Received]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for m in mail {
        let id = m
            .data
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID:").or_else(|| l.strip_prefix("Message-Id:")))
            .expect("a Message-ID header")
            .trim()
            .to_string();
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

fn stored_ids(sb: &Sandbox) -> Vec<String> {
    let db = sb.db();
    let mut stmt = db.prepare("SELECT message_id FROM outbox ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn assert_each_stored_message_arrived_once(sb: &Sandbox, smtp: &SmtpServer) {
    let seen = deliveries(&smtp.received());
    let stored = stored_ids(sb);
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "delivered more than once: {doubled:?}");
    let missing: Vec<_> = stored.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert_eq!(seen.len(), stored.len());
    assert_eq!(sb.count("SELECT count(*) FROM outbox WHERE status != 'sent'"), 0);
}

/// A sandbox with a digest for every recipient waiting in the outbox (the server was down),
/// and the SMTP server now up on that port, answering slowly so that senders overlap.
fn pending_mail(feeds: &TestServer) -> (Sandbox, SmtpServer) {
    let port = SmtpServer::free_port();
    feeds.set("/ai.xml", Route::ok(ai_items("a")));
    let sb = Sandbox::new_raw(&smtp_config(&feeds.url("/ai.xml"), &TO, port, "3s"));
    sb.ok(&["poll"]);
    let out = sb.run(&["digest", "--send", "--since", "2000-01-01"]);
    assert_eq!(out.status.code(), Some(1), "server down: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(sb.count("SELECT count(*) FROM outbox WHERE status = 'pending'"), TO.len() as i64);
    let smtp = SmtpServer::start_on(port);
    smtp.hold_replies(Duration::from_millis(150));
    (sb, smtp)
}

#[test]
fn four_outbox_retries_and_a_digest_send_together_deliver_each_message_once() {
    let feeds = TestServer::start();
    let (sb, smtp) = pending_mail(&feeds);
    // New stories, so `digest --send` queues a digest of its own while the retries run.
    feeds.set(
        "/ai.xml",
        Route::ok(rss(&[
            ("b1", "Mistral publishes the weights of its new model on Hugging Face"),
            ("b2", "Anthropic declines to open-source Claude, citing safety"),
        ])),
    );
    sb.ok(&["poll", "--all"]);
    let mut senders: Vec<Child> = (0..4)
        .map(|_| sb.command().args(["outbox", "retry"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    senders.push(
        sb.command()
            .args(["digest", "--send", "--since", "2000-01-01"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    for child in senders {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "exit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(stored_ids(&sb).len(), 2 * TO.len(), "the first digest and the one `digest --send` queued");
    // Whatever a sender left (a message another held at the time) goes with one more retry.
    sb.ok(&["outbox", "retry"]);
    assert_each_stored_message_arrived_once(&sb, &smtp);
    // Each story cluster is in exactly one digest.
    assert_eq!(
        sb.count(
            "SELECT count(*) FROM (SELECT s.cluster_id FROM digest_stories d JOIN stories s ON s.id = d.story_id
                  GROUP BY s.cluster_id HAVING count(DISTINCT d.digest_id) > 1)"
        ),
        0
    );
}

#[test]
fn the_daemon_and_outbox_retry_together_deliver_each_message_once() {
    let feeds = TestServer::start();
    let (sb, smtp) = pending_mail(&feeds);
    // Due now for the daemon too (not only for `outbox retry`, which sends everything pending).
    sb.db().execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00Z'", []).unwrap();
    let daemon = sb.command().arg("run").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // The retries start once the daemon is sending, to overlap it.
    wait_for("the daemon's first send", Duration::from_secs(30), || !smtp.received().is_empty());
    let retries: Vec<Child> = (0..2)
        .map(|_| sb.command().args(["outbox", "retry"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    for child in retries {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "outbox retry: {}", String::from_utf8_lossy(&out.stderr));
    }
    wait_for("every message sent", Duration::from_secs(60), || {
        sb.count("SELECT count(*) FROM outbox WHERE status != 'sent'") == 0
    });
    let (code, stderr) = stop(daemon);
    assert_eq!(code, Some(0), "{stderr}");
    assert_each_stored_message_arrived_once(&sb, &smtp);
}

#[test]
fn a_second_run_on_the_same_database_exits_at_once_naming_the_first() {
    let feeds = TestServer::start();
    feeds.set("/ai.xml", Route::ok(ai_items("a")));
    let sb = Sandbox::with_feeds(&[feeds.url("/ai.xml")], "timeout = \"2s\"");
    let first = sb.command().arg("run").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let lock = sb.path().join("sw.db.lock");
    wait_for("the first daemon's lock and poll", Duration::from_secs(30), || {
        std::fs::read_to_string(&lock).is_ok_and(|pid| pid.trim() == first.id().to_string())
            && feeds.hits("/ai.xml") > 0
    });
    let started = Instant::now();
    let mut second = sb.command().arg("run").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the second run did not exit within 5 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    second.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("sw.db") && stderr.contains(&format!("PID {}", first.id())), "{stderr}");
    // The first keeps running, and another `run` may start once it stopped.
    let mut first = first;
    assert!(first.try_wait().unwrap().is_none(), "the first daemon stopped");
    let (code, stderr) = stop(first);
    assert_eq!(code, Some(0), "{stderr}");
    let again = sb.command().arg("run").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for("a new daemon's lock", Duration::from_secs(30), || {
        std::fs::read_to_string(&lock).is_ok_and(|pid| pid.trim() == again.id().to_string())
    });
    let (code, stderr) = stop(again);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_write_lock_held_past_the_busy_timeout_while_the_server_accepts_does_not_resend() {
    let feeds = TestServer::start();
    let (sb, smtp) = pending_mail(&feeds);
    // The server takes each message, then answers a second later. Meanwhile another process
    // takes the database's write lock and holds it longer than the busy timeout (10 s).
    smtp.hold_replies(Duration::from_secs(1));
    let retry = sb.command().args(["outbox", "retry"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for("the server to take the first message", Duration::from_secs(30), || !smtp.received().is_empty());
    let holder = sb.db();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::thread::sleep(Duration::from_secs(13));
    holder.execute_batch("ROLLBACK").unwrap();
    let out = retry.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not be marked sent"), "the lock outlasted the busy timeout: {stderr}");
    assert!(!stderr.contains("disk full"), "lock contention reported as a full disk: {stderr}");
    // The message the server took while the database was locked was recorded once the lock
    // was gone, and not sent again; the others went after it.
    smtp.hold_replies(Duration::ZERO);
    let again = sb.ok(&["outbox", "retry"]);
    assert!(again.starts_with("0 sent"), "{again}");
    assert_each_stored_message_arrived_once(&sb, &smtp);
}

#[test]
fn cli_writes_during_a_daemon_poll_wait_for_it_and_succeed() {
    let feeds = TestServer::start();
    // Many feeds, slow to answer, so the daemon's polls and writes overlap the CLI's.
    let urls: Vec<String> = (0..20)
        .map(|i| {
            let path = format!("/f{i}.xml");
            feeds.set(&path, Route::ok(ai_items(&format!("f{i}-"))).delay(Duration::from_millis(100)));
            feeds.url(&path)
        })
        .collect();
    let port = SmtpServer::free_port();
    let sb = Sandbox::with_feeds(&urls, &format!("timeout = \"5s\"\n\n[http]\nlisten = \"127.0.0.1:{port}\""));
    let daemon = sb.command().arg("run").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for("the endpoint", Duration::from_secs(30), || request(port, "GET", "/healthz").is_some());
    let import = sb.path().join("items.jsonl");
    for round in 0..10 {
        let lines: String = (0..50)
            .map(|i| {
                format!(
                    "{{\"id\":\"r{round}-{i}\",\"url\":\"https://example.org/{round}/{i}\",\"title\":\"Mistral opens model {round}-{i} under Apache 2.0\",\"published\":\"2026-01-0{}\"}}\n",
                    1 + i % 9
                )
            })
            .collect();
        std::fs::write(&import, lines).unwrap();
        sb.ok(&["import", import.to_str().unwrap(), "--source", "test"]);
        sb.ok(&["feeds", "add", &format!("http://127.0.0.1:9/extra{round}.xml")]);
        let (code, body) = request(port, "GET", "/healthz").unwrap_or((0, String::new()));
        assert!(code == 200 || body.starts_with("starting"), "healthz {code}: {body}");
    }
    wait_for("every feed polled", Duration::from_secs(60), || {
        (0..20).all(|i| feeds.hits(&format!("/f{i}.xml")) > 0) && sb.count("SELECT count(*) FROM stories") == 500 + 40
    });
    let (code, body) = request(port, "GET", "/healthz").unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, stderr) = stop(daemon);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("database is locked"), "{stderr}");
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 500 + 40, "every imported and polled story stored once");
}
