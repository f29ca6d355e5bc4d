//! Mail over real SMTP to a server on 127.0.0.1: digests arrive once, with their structure;
//! a server that is down, refuses, or fails temporarily loses nothing and doubles nothing.

mod common;

use common::http::{Route, TestServer};
use common::sandbox::{Sandbox, rss};
use common::smtp::{SmtpServer, smtp_config};

const TO: [&str; 2] = ["ana@example.org", "ben@example.org"];

/// A sandbox polling one feed of AI-openness stories, mailing over SMTP to `port`.
fn sandbox(feeds: &TestServer, port: u16) -> Sandbox {
    feeds.set(
        "/ai.xml",
        Route::ok(rss(&[
            ("a", "Meta releases Llama 5 as open weights under a permissive licence"),
            ("b", "OpenAI keeps its next AI model proprietary and API-only"),
            ("c", "&lt;script&gt;alert(1)&lt;/script&gt; DeepSeek open-sources its R3 model on Hugging Face"),
        ])),
    );
    Sandbox::new_raw(&smtp_config(&feeds.url("/ai.xml"), &TO, port, "3s"))
}

/// The parts of a multipart message: (content type, body).
fn parts(data: &str) -> Vec<(String, String)> {
    let boundary = data
        .split("boundary=")
        .nth(1)
        .map(|b| b.trim_start_matches('"').split(['"', '\r', '\n', ';']).next().unwrap().to_string())
        .expect("a multipart message");
    data.split(&format!("--{boundary}"))
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .map(|p| {
            let (head, body) = p.split_once("\r\n\r\n").unwrap_or((p, ""));
            let ctype =
                head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-type:")).unwrap_or("").to_string();
            (ctype, body.to_string())
        })
        .collect()
}

/// Signals once a line of `child`'s standard error (piped) contains `text`; keeps reading to the
/// end, so the child never blocks on a full pipe.
fn log_line(child: &mut std::process::Child, text: &'static str) -> std::sync::mpsc::Receiver<()> {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(text) {
                let _ = tx.send(());
            }
        }
    });
    rx
}

fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
        .map(|l| l[name.len() + 1..].trim())
}

#[test]
fn a_digest_arrives_once_per_recipient_with_text_and_html() {
    let smtp = SmtpServer::start();
    let feeds = TestServer::start();
    let sb = sandbox(&feeds, smtp.port);
    sb.ok(&["poll"]);
    let out = sb.ok(&["digest", "--send", "--since", "2000-01-01"]);
    assert!(out.contains("2 sent"), "{out}");
    let mail = smtp.received();
    assert_eq!(mail.len(), 2, "{mail:?}");
    let mut recipients: Vec<String> = mail.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    assert_eq!(recipients, TO);
    assert_eq!(smtp.connections(), 1, "one connection for both recipients");
    let m = &mail[0].data;
    assert!(header(m, "Content-Type").is_some_and(|c| c.starts_with("multipart/alternative")), "{m}");
    assert!(header(m, "Message-ID").is_some_and(|id| id.starts_with('<') && id.ends_with("@example.org>")));
    assert!(header(m, "Subject").is_some_and(|s| s.contains("3 new stories")), "{m}");
    let parts = parts(m);
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0].0.contains("text/plain") && parts[1].0.contains("text/html"));
    let html = parts[1].1.replace("=\r\n", "");
    assert!(html.contains("Llama 5") && html.contains("Meta"), "{html}");
    assert!(!html.to_ascii_lowercase().contains("<script"), "feed text is escaped: {html}");
    assert_ne!(header(&mail[0].data, "Message-ID"), header(&mail[1].data, "Message-ID"), "one id per recipient");
    // Grouped by organisation, each story once, with its stance.
    let text = parts[0].1.replace("=\r\n", "");
    assert!(text.contains("\r\nMeta\r\n  - [open] Meta releases Llama 5"), "{text}");
    assert!(text.contains("\r\nOpenAI\r\n  - [closed] OpenAI keeps its next AI model proprietary"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("  - ") && l.contains("Llama 5")).count(), 1, "{text}");

    // Nothing new: no second digest, no repeat.
    let again = sb.ok(&["digest", "--send", "--since", "2000-01-01"]);
    assert!(again.contains("nothing new"), "{again}");
    assert_eq!(smtp.received().len(), 2);
    let list = sb.ok(&["outbox", "list", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert!(
        rows.iter().all(|r| r["status"] == "sent" && r["server_reply"].as_str().unwrap().starts_with("250")),
        "{list}"
    );
}

#[test]
fn server_down_keeps_mail_pending_until_it_comes_back_then_delivers_once() {
    let port = SmtpServer::free_port();
    let feeds = TestServer::start();
    let sb = sandbox(&feeds, port);
    sb.ok(&["poll"]);
    let started = std::time::Instant::now();
    let down = sb.run(&["digest", "--send", "--since", "2000-01-01"]);
    assert_eq!(down.status.code(), Some(1), "{}", String::from_utf8_lossy(&down.stdout));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "returns within its timeouts");
    assert!(String::from_utf8_lossy(&down.stdout).contains("outbox retry"));
    assert_eq!(sb.count("SELECT count(*) FROM outbox WHERE status = 'pending'"), 2);

    let smtp = SmtpServer::start_on(port);
    sb.ok(&["outbox", "retry"]);
    assert_eq!(smtp.received().len(), 2);
    sb.ok(&["outbox", "retry"]);
    assert_eq!(smtp.received().len(), 2, "sent mail is never sent again");
}

#[test]
fn a_temporary_failure_is_retried_once_and_a_permanent_one_is_recorded() {
    let smtp = SmtpServer::start();
    smtp.fail_data(&["451 4.3.0 try again later"]);
    smtp.refuse(TO[1], "550 5.1.1 no such user");
    let feeds = TestServer::start();
    let sb = sandbox(&feeds, smtp.port);
    sb.ok(&["poll"]);
    let first = sb.run(&["digest", "--send", "--since", "2000-01-01"]);
    assert_eq!(first.status.code(), Some(1));
    assert_eq!(sb.count("SELECT count(*) FROM outbox WHERE status = 'failed'"), 1, "the refused recipient");
    assert_eq!(sb.count("SELECT count(*) FROM outbox WHERE status = 'pending'"), 1, "the 4xx, waiting");
    let retry = sb.run(&["outbox", "retry"]);
    assert_eq!(retry.status.code(), Some(0), "{}", String::from_utf8_lossy(&retry.stdout));
    let mail = smtp.received();
    assert_eq!(mail.len(), 1, "one delivery after the 4xx, none to the refused recipient");
    assert_eq!(mail[0].to, [TO[0]]);
    sb.ok(&["outbox", "retry"]);
    assert_eq!(smtp.received().len(), 1, "a 5xx is not retried");
    let failed = sb.ok(&["outbox", "list", "--format", "json"]);
    assert!(failed.contains("550") && failed.contains("no such user"), "the refusal is recorded: {failed}");
}

/// RSS with items (title, outlet host, day of November 2026 or earlier month/day) by hand.
fn rss_items(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>AI</title>\n");
    for (i, (title, host, date)) in items.iter().enumerate() {
        out.push_str(&format!(
            "<item><guid>g{i}</guid><title>{title}</title><link>https://{host}/story-{i}</link><pubDate>{date}</pubDate></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

fn rfc2822(year: i32, month: u32, day: u32) -> String {
    chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap().and_hms_opt(10, 0, 0).unwrap().and_utc().to_rfc2822()
}

#[test]
fn run_sends_a_change_alert_and_the_digest_each_once() {
    let smtp = SmtpServer::start();
    let feeds = TestServer::start();
    let mut items: Vec<(String, String, String)> = Vec::new();
    let topics = ["translation", "coding", "vision", "speech", "reasoning", "robotics", "medical", "math"];
    for (i, topic) in topics.iter().enumerate() {
        items.push((
            format!("Meta releases its {topic} AI model as open weights on Hugging Face"),
            format!("open{i}.example"),
            rfc2822(2026, i as u32 + 1, 12),
        ));
    }
    // Distinct reports, four days apart (not one story in several outlets).
    let closed = [
        "Meta keeps its new chemistry AI model proprietary, available only through its API",
        "Meta will not release the weights of its weather forecasting AI model",
        "Meta's music generator ships as a closed-source AI system, sold via API",
        "Zuckerberg: Meta's video AI model stays closed-source for now",
    ];
    for (i, title) in closed.iter().enumerate() {
        items.push((title.to_string(), format!("closed{i}.example"), rfc2822(2026, 11, 10 + 4 * i as u32)));
    }
    let refs: Vec<(&str, &str, &str)> = items.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    feeds.set("/ai.xml", Route::ok(rss_items(&refs)));
    let sb = Sandbox::new_raw(&smtp_config(&feeds.url("/ai.xml"), &["ana@example.org"], smtp.port, "3s"));
    // The first cycle polls, finds the change, and mails the alert and the period's digest; the
    // daemon says at debug level when a cycle is over.
    let daemon = || {
        let mut child = sb
            .command()
            .arg("run")
            .env("STANCEWATCH_LOG", "stancewatch=debug")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let cycle_done = log_line(&mut child, "cycle finished");
        cycle_done.recv_timeout(std::time::Duration::from_secs(30)).expect("the daemon finished a cycle");
        let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        assert!(child.wait().unwrap().success());
    };
    daemon();
    let mail = smtp.received();
    let subjects: Vec<&str> = mail.iter().filter_map(|m| header(&m.data, "Subject")).collect();
    assert_eq!(mail.len(), 2, "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("alert") && s.contains("Meta")), "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("digest") || s.contains("moved")), "{subjects:?}");
    let alert = mail.iter().find(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("alert"))).unwrap();
    let html = parts(&alert.data)[1].1.replace("=\r\n", "");
    assert!(html.contains("https://closed0.example/"), "evidence links: {html}");
    // The first digest after the first poll (all backfill, older than a day) says so.
    let digest = mail.iter().find(|m| !header(&m.data, "Subject").is_some_and(|s| s.contains("alert"))).unwrap();
    let text = parts(&digest.data)[0].1.replace("=\r\n", "");
    assert!(text.contains("older stories from first polls and imports were stored"), "{text}");

    // Started again: once its first cycle (alerts, digest, retries) is over, nothing was sent twice.
    daemon();
    assert_eq!(smtp.received().len(), 2);
}

#[test]
fn a_kill_after_the_server_took_the_message_resends_it_at_most_once_with_the_same_id() {
    let smtp = SmtpServer::start();
    let feeds = TestServer::start();
    let extra = smtp_config(&feeds.url("/ai.xml"), &["ana@example.org"], smtp.port, "30s");
    feeds.set("/ai.xml", Route::ok(rss(&[("a", "Meta releases Llama 5 as open weights under a permissive licence")])));
    let sb = Sandbox::new_raw(&extra);
    sb.ok(&["poll"]);
    smtp.hold_replies(std::time::Duration::from_secs(20));
    let mut child = sb.command().args(["digest", "--send", "--since", "2000-01-01"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while smtp.received().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(smtp.received().len(), 1, "the server has the message");
    child.kill().unwrap(); // SIGKILL before the server's reply reached stancewatch
    let _ = child.wait();
    smtp.hold_replies(std::time::Duration::ZERO);
    sb.ok(&["outbox", "retry"]);
    sb.ok(&["outbox", "retry"]);
    let mail = smtp.received();
    assert_eq!(mail.len(), 2, "one resend, no more");
    assert_eq!(header(&mail[0].data, "Message-ID"), header(&mail[1].data, "Message-ID"), "the same message");
    assert_eq!(sb.count("SELECT count(*) FROM outbox WHERE status = 'sent'"), 1);
    assert_eq!(sb.count("SELECT count(*) FROM digests"), 1, "the digest is not composed twice");
}

#[test]
fn after_sigterm_the_daemon_finishes_the_send_under_way_and_starts_no_more() {
    let smtp = SmtpServer::start();
    let feeds = TestServer::start();
    let to = ["ana@example.org", "ben@example.org", "cleo@example.org"];
    let extra = smtp_config(&feeds.url("/ai.xml"), &to, smtp.port, "30s");
    feeds.set("/ai.xml", Route::ok(rss(&[("a", "Meta releases Llama 5 as open weights under a permissive licence")])));
    let sb = Sandbox::new_raw(&extra);
    sb.ok(&["poll"]);
    // The daemon queues the period's digest (one message per recipient) and sends it; the
    // server takes each message and answers two seconds later.
    let out = sb.ok(&["digest", "--dry-run", "--since", "2000-01-01"]);
    assert!(out.contains("Subject:"), "there is something to digest: {out}");
    smtp.hold_replies(std::time::Duration::from_secs(2));
    let mut daemon = sb.command().arg("run").stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while smtp.received().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the daemon sent nothing");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child process.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let status = daemon.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(smtp.received().len(), 1, "a message started after SIGTERM");
    assert_eq!(sb.count("SELECT count(*) FROM outbox WHERE status = 'sent'"), 1, "the send under way is recorded");
    assert_eq!(sb.count("SELECT count(*) FROM outbox WHERE status = 'pending'"), 2, "the rest wait, unclaimed");
    smtp.hold_replies(std::time::Duration::ZERO);
    sb.ok(&["outbox", "retry"]);
    assert_eq!(smtp.received().len(), 3);
}

#[test]
fn a_second_signal_stops_a_sender_waiting_on_a_slow_server_at_once() {
    let smtp = SmtpServer::start();
    let feeds = TestServer::start();
    let extra = smtp_config(&feeds.url("/ai.xml"), &["ana@example.org"], smtp.port, "60s");
    feeds.set("/ai.xml", Route::ok(rss(&[("a", "Meta releases Llama 5 as open weights under a permissive licence")])));
    let sb = Sandbox::new_raw(&extra);
    sb.ok(&["poll"]);
    smtp.hold_replies(std::time::Duration::from_secs(40));
    let mut child = sb.command().args(["digest", "--send", "--since", "2000-01-01"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while smtp.received().is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing sent");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the first signal lets the send under way finish");
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the second signal did not stop it");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    // The claim of the stopped sender is released at once, and the message sent again once.
    smtp.hold_replies(std::time::Duration::ZERO);
    sb.ok(&["outbox", "retry"]);
    assert_eq!(smtp.received().len(), 2);
    assert_eq!(header(&smtp.received()[0].data, "Message-ID"), header(&smtp.received()[1].data, "Message-ID"));
}
