//! Running as a service: `status`, the `/healthz` and `/metrics` endpoints, JSON logs, secrets
//! kept out of every output, owner-only files, and a full disk or read-only database reported
//! clearly with nothing lost or corrupted.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::daemon::{metric, request, stop, wait_for};
use common::http::{Route, TestServer};
use common::sandbox::{Sandbox, rss, rss_of};
use common::smtp::SmtpServer;

fn ai_feed() -> String {
    rss(&[
        ("a", "Meta releases its new Llama model with open weights on Hugging Face"),
        ("b", "OpenAI keeps its next model proprietary, available only through its API"),
        ("c", "City council approves a new bicycle lane downtown"),
    ])
}

#[test]
fn status_metrics_and_healthz_report_what_the_daemon_sees() {
    let server = TestServer::start();
    server.set("/ok.xml", Route::ok(ai_feed()));
    server.set("/broken.xml", Route::status(500));
    server.set("/gone.xml", Route::status(410));
    let port = SmtpServer::free_port();
    let urls = [server.url("/ok.xml"), server.url("/broken.xml"), server.url("/gone.xml")];
    let sb = Sandbox::with_feeds(&urls, &format!("timeout = \"2s\"\n\n[http]\nlisten = \"127.0.0.1:{port}\""));

    let child = sb.command().args(["--log-format", "json", "run"]).stderr(Stdio::piped()).spawn().unwrap();
    // The database gauges of /metrics may be up to 5 s old: wait until they show the poll too.
    wait_for("a healthy daemon after its first poll", Duration::from_secs(30), || {
        request(port, "GET", "/healthz").is_some_and(|(code, _)| code == 200)
            && request(port, "GET", "/metrics").is_some_and(|(_, m)| {
                m.contains("stancewatch_poll_cycle_duration_seconds_count 1")
                    && m.contains("stancewatch_feeds{health=\"ok\"} 1")
            })
    });
    let (code, metrics) = request(port, "GET", "/metrics").unwrap();
    assert_eq!(code, 200);
    assert_eq!(metric(&metrics, "stancewatch_polls_total{result=\"fetched\"}"), 1.0);
    assert_eq!(metric(&metrics, "stancewatch_polls_total{result=\"failed\"}"), 2.0);
    assert_eq!(metric(&metrics, "stancewatch_poll_failures_total{kind=\"http\"}"), 1.0);
    assert_eq!(metric(&metrics, "stancewatch_poll_failures_total{kind=\"gone\"}"), 1.0);
    assert_eq!(metric(&metrics, "stancewatch_stories_stored_total{kind=\"new\"}"), 3.0);
    assert_eq!(metric(&metrics, "stancewatch_stories_classified_total"), 3.0);
    assert_eq!(metric(&metrics, "stancewatch_stories_relevant_total"), 2.0);
    assert_eq!(metric(&metrics, "stancewatch_feeds{health=\"ok\"}"), 1.0);
    assert_eq!(metric(&metrics, "stancewatch_feeds{health=\"backing_off\"}"), 1.0);
    assert_eq!(metric(&metrics, "stancewatch_feeds{health=\"gone\"}"), 1.0);
    assert_eq!(metric(&metrics, "stancewatch_stories{kind=\"relevant\"}"), 2.0);
    assert_eq!(metric(&metrics, "stancewatch_poll_cycle_duration_seconds_count"), 1.0);
    assert_eq!(metric(&metrics, "stancewatch_database_up"), 1.0);
    assert!(metrics.contains("stancewatch_outbox_messages{status=\"pending\"}"));
    assert_eq!(request(port, "GET", "/nothing-here").unwrap().0, 404);
    assert_eq!(request(port, "POST", "/metrics").unwrap().0, 405);
    // A client that connects and says nothing does not stop the endpoint.
    let _idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(request(port, "GET", "/healthz").unwrap().0, 200);

    let (code, log) = stop(child);
    assert_eq!(code, Some(0), "{log}");
    for line in log.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(event["timestamp"].is_string() && event["level"].is_string(), "{line}");
    }
    assert!(log.contains("poll cycle done"), "{log}");

    let status: serde_json::Value = serde_json::from_str(&sb.ok(&["status", "--format", "json"])).unwrap();
    assert_eq!(status["stories"]["total"], 3);
    assert_eq!(status["stories"]["relevant"], 2);
    assert_eq!(status["stories"]["today"], 3);
    assert_eq!(status["feeds"]["ok"], 1);
    let problems: Vec<(String, String)> = status["problem_feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["url"].as_str().unwrap().to_string(), p["health"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(problems, [(urls[2].clone(), "gone".into()), (urls[1].clone(), "backing_off".into())]);
    assert!(status["last_poll"].is_string());
    assert_eq!(status["mail"]["pending"], 0);

    let table = sb.ok(&["status"]);
    assert!(table.contains("3 stored, 2 relevant, 3 new today"), "{table}");
    assert!(table.contains("feeds needing attention"), "{table}");
    assert!(table.contains(&urls[1]) && table.contains(&urls[2]), "{table}");
}

/// Standard base64, for reading the credentials a client sent with AUTH PLAIN.
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else { continue };
        bits = (bits << 6) | v as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[test]
fn the_smtp_password_never_appears_in_logs_reports_or_errors() {
    const SECRET: &str = "hunter2-Zq9-do-not-print";
    let feeds = TestServer::start();
    feeds.set("/ai.xml", Route::ok(ai_feed()));
    let smtp = SmtpServer::start();
    smtp.reject_auth();
    let secret_file_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_file_dir.path().join("smtp-password");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let config = |source: &str| {
        format!(
            "[poll]\ntimeout = \"2s\"\n\n[[feed]]\nurl = {:?}\n\n[email]\nfrom = \"sw <sw@example.org>\"\nto = [\"ana@example.org\"]\n\
             transport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n\
             allow_insecure_auth = true\nusername = \"ana\"\n{source}\ntimeout = \"3s\"\n",
            feeds.url("/ai.xml"),
            smtp.port
        )
    };
    for source in ["password_env = \"SW_TEST_SMTP_PASSWORD\"".to_string(), format!("password_file = {secret_file:?}")] {
        let sb = Sandbox::new_raw(&config(&source));
        let run = |args: &[&str]| {
            let out = sb
                .command()
                .args(args)
                .env("SW_TEST_SMTP_PASSWORD", SECRET)
                .env("STANCEWATCH_LOG", "debug")
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
        };
        let mut seen = String::new();
        seen += &run(&["config", "check"]);
        seen += &run(&["poll"]);
        seen += &run(&["digest", "--send", "--since", "2000-01-01"]);
        seen += &run(&["outbox", "retry"]);
        seen += &run(&["outbox", "list", "--format", "json"]);
        seen += &run(&["status"]);
        seen += &run(&["status", "--format", "json"]);
        // The daemon, logging at debug level, trying to send.
        let child = sb
            .command()
            .args(["--log-format", "json", "run"])
            .env("SW_TEST_SMTP_PASSWORD", SECRET)
            .env("STANCEWATCH_LOG", "debug")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(2));
        seen += &stop(child).1;

        // The password did reach the server (so the test is not vacuous) ...
        let attempts = smtp.auth_attempts();
        let sent: Vec<String> = attempts
            .iter()
            .map(|a| String::from_utf8_lossy(&base64_decode(a.rsplit(' ').next().unwrap())).into_owned())
            .collect();
        assert!(sent.iter().any(|c| c.contains(SECRET)), "{source}: no AUTH carried the password: {attempts:?}");
        assert!(seen.contains("535"), "{source}: the server's refusal is reported:\n{seen}");
        // ... and nothing printed it, plainly or as the base64 the client sent.
        assert!(!seen.contains(SECRET), "{source}: the password leaked:\n{seen}");
        for a in &attempts {
            let encoded = a.rsplit(' ').next().unwrap();
            assert!(!seen.contains(encoded), "{source}: the encoded credentials leaked:\n{seen}");
        }
        let db = std::fs::read(&sb.db).unwrap();
        assert!(!String::from_utf8_lossy(&db).contains(SECRET), "{source}: the password is in the database");
    }
}

#[cfg(unix)]
#[test]
fn the_database_and_stored_mail_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let feeds = TestServer::start();
    feeds.set("/ai.xml", Route::ok(ai_feed()));
    // A fresh folder the program must create, under a permissive umask.
    let sb = Sandbox::new(&format!("[[feed]]\nurl = {:?}\n", feeds.url("/ai.xml")));
    let nested = sb.path().join("state/db/sw.db");
    // SAFETY: umask(2) only sets this process's file-creation mask (inherited by the child).
    let old = unsafe { libc::umask(0o002) };
    let polled = sb.command().args(["--db", nested.to_str().unwrap(), "poll"]).output().unwrap();
    let sent =
        sb.command().args(["--db", nested.to_str().unwrap(), "digest", "--send", "--since", "2000-01-01"]).output();
    let backup = sb.path().join("backup.db");
    let backed_up =
        sb.command().args(["--db", nested.to_str().unwrap(), "db", "backup", backup.to_str().unwrap()]).output();
    unsafe { libc::umask(old) };
    assert!(polled.status.success() && sent.unwrap().status.success() && backed_up.unwrap().status.success());

    let mut checked = Vec::new();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for dir in [sb.path().join("state"), sb.path().join("state/db"), sb.path().join("outbox")] {
        assert_eq!(mode(&dir) & 0o077, 0, "{} is {:o}", dir.display(), mode(&dir));
        checked.push(dir);
    }
    let mut files = vec![nested.clone(), backup];
    for extra in ["-wal", "-shm"] {
        let p = sb.path().join(format!("state/db/sw.db{extra}"));
        if p.exists() {
            files.push(p);
        }
    }
    for entry in std::fs::read_dir(sb.path().join("outbox")).unwrap() {
        files.push(entry.unwrap().path());
    }
    assert!(files.iter().any(|f| f.extension().is_some_and(|e| e == "eml")), "a digest was written: {files:?}");
    for f in &files {
        assert_eq!(mode(f) & 0o077, 0, "{} is {:o}", f.display(), mode(f));
    }
}

/// A small tmpfs for the database (needs root; tests that use it say so and skip otherwise).
struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    fn mount(size: &str) -> Option<TinyDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root) — full-disk and read-only checks not run");
            return None;
        }
        Some(TinyDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Fill the disk to the last byte.
    fn fill(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let mut byte = [0u8; 1];
        while f.write_all(&byte).is_ok() {
            byte[0] = 1;
        }
        let _ = f.sync_all();
        path
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.dir.path()).status();
    }
}

fn stories_feed(prefix: &str, n: usize) -> String {
    let items: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                format!("{prefix}-{i}"),
                format!("Story {i} {prefix}: a long headline about a quiet regional event that fills some space {i}"),
            )
        })
        .collect();
    rss_of(&items)
}

/// A 3 MB disk for the database and a feed of five stories (None where tmpfs cannot be mounted).
fn small_disk_and_a_feed() -> Option<(TinyDisk, TestServer)> {
    let disk = TinyDisk::mount("3m")?;
    let server = TestServer::start();
    server.set("/f.xml", Route::ok(stories_feed("first", 5)));
    Some((disk, server))
}

#[test]
fn a_full_disk_is_reported_clearly_and_loses_nothing() {
    let Some((disk, server)) = small_disk_and_a_feed() else { return };
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"");
    let db = disk.path().join("sw.db");
    let db_arg = db.to_str().unwrap();
    sb.ok(&["--db", db_arg, "poll"]);

    // The disk fills up; then the feed brings many new stories.
    let filler = disk.fill();
    server.set("/f.xml", Route::ok(stories_feed("second", 400)));
    let out = sb.run(&["--db", db_arg, "poll", "--all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a poll that cannot save is a runtime failure:\n{stderr}");
    assert!(stderr.contains(db_arg), "the error names the database: {stderr}");
    assert!(stderr.contains("disk"), "the error says what to check: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Still readable and consistent while full.
    let status = sb.run(&["--db", db_arg, "status"]);
    assert!(status.status.success(), "status works on a full disk: {}", String::from_utf8_lossy(&status.stderr));
    assert!(sb.ok(&["--db", db_arg, "db", "check"]).contains("integrity: ok"));

    // Space comes back: the next poll stores everything, once.
    std::fs::remove_file(filler).unwrap();
    sb.ok(&["--db", db_arg, "poll", "--all"]);
    assert!(sb.ok(&["--db", db_arg, "db", "check"]).contains("integrity: ok"));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM stories WHERE entry_key LIKE 'second-%'"), 400);
    assert_eq!(count("SELECT count(*) FROM stories"), 405);
}

#[test]
fn a_disk_that_fills_under_the_daemon_turns_healthz_unhealthy_and_the_daemon_keeps_running() {
    let Some((disk, server)) = small_disk_and_a_feed() else { return };
    let port = SmtpServer::free_port();
    let sb = Sandbox::with_feeds(
        &[server.url("/f.xml")],
        &format!("timeout = \"2s\"\ninterval = \"1m\"\n\n[http]\nlisten = \"127.0.0.1:{port}\""),
    );
    let db = disk.path().join("sw.db");
    let child = sb
        .command()
        .args(["--db", db.to_str().unwrap(), "--log-format", "json", "run"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first poll", Duration::from_secs(30), || {
        request(port, "GET", "/metrics")
            .is_some_and(|(_, m)| m.contains("stancewatch_poll_cycle_duration_seconds_count 1"))
    });
    assert_eq!(request(port, "GET", "/healthz").unwrap().0, 200);
    // The disk fills; the feed's next poll (a minute later) brings many new stories.
    let filler = disk.fill();
    server.set("/f.xml", Route::ok(stories_feed("second", 400)));
    let mut body = String::new();
    wait_for("/healthz to report the unwritable database", Duration::from_secs(150), || {
        match request(port, "GET", "/healthz") {
            Some((503, b)) => {
                body = b;
                true
            }
            _ => false,
        }
    });
    assert!(body.contains("not writable") && body.contains("sw.db"), "{body}");
    let (_, metrics) = request(port, "GET", "/metrics").unwrap();
    assert!(metric(&metrics, "stancewatch_storage_errors_total") >= 1.0);
    std::fs::remove_file(filler).unwrap();
    let (code, log) = stop(child);
    assert_eq!(code, Some(0), "the daemon survived the full disk and stopped cleanly:\n{log}");
    assert!(log.contains("free disk space"), "{log}");
    assert!(sb.ok(&["--db", db.to_str().unwrap(), "db", "check"]).contains("integrity: ok"));
    // Nothing was lost: the stories the full disk refused are stored by the next poll.
    sb.ok(&["--db", db.to_str().unwrap(), "poll", "--all"]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let stored: i64 = conn.query_row("SELECT count(*) FROM stories", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 405);
}

#[test]
fn a_read_only_database_is_reported_clearly_and_left_intact() {
    let Some(disk) = TinyDisk::mount("8m") else { return };
    let server = TestServer::start();
    server.set("/f.xml", Route::ok(stories_feed("first", 5)));
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"");
    let db = disk.path().join("sw.db");
    let db_arg = db.to_str().unwrap();
    sb.ok(&["--db", db_arg, "poll"]);
    let before = std::fs::read(&db).unwrap();

    disk.remount("ro");
    server.set("/f.xml", Route::ok(stories_feed("second", 20)));
    let out = sb.run(&["--db", db_arg, "poll", "--all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(db_arg), "the error names the database: {stderr}");
    assert!(stderr.contains("writable") || stderr.contains("read-only"), "the error says what to check: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let status = sb.run(&["--db", db_arg, "status", "--format", "json"]);
    assert!(status.status.success(), "status reads a read-only database: {}", String::from_utf8_lossy(&status.stderr));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["stories"]["total"], 5);

    disk.remount("rw");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the database file was not touched");
    sb.ok(&["--db", db_arg, "poll", "--all"]);
    assert!(sb.ok(&["--db", db_arg, "db", "check"]).contains("integrity: ok"));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let stored: i64 = conn.query_row("SELECT count(*) FROM stories", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 25);
}

#[cfg(target_os = "linux")]
#[test]
fn under_systemd_the_daemon_reports_ready_pings_the_watchdog_and_says_when_it_stops() {
    let server = TestServer::start();
    server.set("/f.xml", Route::ok(ai_feed()));
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"");
    let socket_path = sb.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let child = sb
        .command()
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut messages = Vec::new();
    let mut buf = [0u8; 256];
    let started = Instant::now();
    // Pings come every half second while the poller is alive.
    while messages.iter().filter(|m| *m == "WATCHDOG=1").count() < 3 {
        assert!(started.elapsed() < Duration::from_secs(20), "no watchdog pings: {messages:?}");
        let n = socket.recv(&mut buf).unwrap();
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(messages[0], "READY=1", "{messages:?}");
    let (code, log) = stop(child);
    assert_eq!(code, Some(0), "{log}");
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    while let Ok(n) = socket.recv(&mut buf) {
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(messages.iter().any(|m| m == "STOPPING=1"), "{messages:?}");
}
