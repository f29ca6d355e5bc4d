//! The command-line contract: exit codes, error messages that name what failed, subcommands
//! and output formats — through the real binary.

mod common;

use std::time::{Duration, Instant};

use common::http::{Route, TestServer};
use common::sandbox::{Sandbox, items, rss, rss_of};

#[test]
fn a_wrong_config_key_is_exit_2_naming_key_file_and_line() {
    let sb = Sandbox::new("[poll]\nintervall = \"10m\"\n");
    let out = sb.run(&["poll"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("intervall") && err.contains("stancewatch.toml") && err.contains("line"), "{err}");
    assert!(!sb.db.exists(), "a bad config touches nothing");
}

#[test]
fn a_bad_value_and_a_missing_config_file_are_exit_2() {
    let sb = Sandbox::new("[poll]\nconcurrency = 0\n");
    let out = sb.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("poll.concurrency"));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stancewatch"))
        .args(["--config", "/nonexistent/stancewatch.toml", "poll"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/stancewatch.toml"));

    let out = sb.run(&["stories", "--since", "last tuesday"]);
    assert_eq!(out.status.code(), Some(2), "a bad argument is a usage error");
}

#[test]
fn config_check_prints_the_resolved_config_without_secrets() {
    let sb = Sandbox::new("");
    // The sandbox's config has a file-transport [email] table; replace it with an SMTP one.
    std::fs::write(
        &sb.config,
        "[email]\nfrom = \"sw <sw@example.org>\"\nto = [\"a@example.org\"]\ntransport = \"smtp\"\n\
         [email.smtp]\nhost = \"mail.example.org\"\nusername = \"sw\"\npassword_env = \"SW_TEST_SECRET\"\n",
    )
    .unwrap();
    let out = sb.command().args(["config", "check"]).env("SW_TEST_SECRET", "hunter2-secret").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("host = \"mail.example.org\""), "{text}");
    assert!(text.contains("password_env = \"SW_TEST_SECRET\"  # set; value hidden"), "{text}");
    assert!(!text.contains("hunter2"), "the secret leaked: {text}");
}

#[test]
fn config_check_output_loaded_as_a_config_gives_the_same_config() {
    let sb = Sandbox::new_raw(
        "[poll]\nmax_body = \"1500\"\n\n[[feed]]\nurl = \"https://example.org/ai.rss\"\nname = \"A \\\"quoted\\\" name\"\n\
         interval = \"15m\"\n\n[email]\nto = [\"a@example.org\"]\ntransport = \"smtp\"\n[email.smtp]\n\
         host = \"mail.example.org\"\nusername = \"sw\"\npassword_env = \"SW_TEST_SECRET\"\n\n\
         [changes]\nexpected_gap = \"36h\"\n\n[http]\nlisten = \"127.0.0.1:9464\"\n",
    );
    let check = |config: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stancewatch"))
            .args(["--config", config.to_str().unwrap(), "config", "check"])
            .current_dir(sb.dir.path())
            .env_remove("SW_TEST_SECRET")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let printed = check(&sb.config);
    let again = sb.dir.path().join("printed.toml");
    std::fs::write(&again, &printed).unwrap();
    let reprinted = check(&again);
    let body = |text: &str| text.split_once('\n').unwrap().1.to_string();
    assert_eq!(body(&reprinted), body(&printed), "the printed config resolves to itself");
    assert!(reprinted.starts_with(&format!("# resolved from {}\n", again.display())), "{reprinted}");
    assert!(
        printed.contains("max_body = \"1500\"") && printed.contains("password_env = \"SW_TEST_SECRET\"  #"),
        "{printed}"
    );
}

#[test]
fn works_from_any_directory_on_built_in_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stancewatch"))
        .args(["config", "check"])
        .current_dir(dir.path())
        .env_remove("STANCEWATCH_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("# resolved from built-in defaults"), "{text}");
    assert!(text.contains("[[feed]]"), "the defaults list real feeds");
    // And the database is created with the built-in migrations.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stancewatch"))
        .args(["--db", "x.db", "db", "migrate"])
        .current_dir(dir.path())
        .env_remove("STANCEWATCH_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied 0001_init.sql"));
}

#[test]
fn stancewatch_config_env_var_selects_the_config() {
    let sb = Sandbox::new("[poll]\ninterval = \"45m\"\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stancewatch"))
        .args(["config", "check"])
        .env("STANCEWATCH_CONFIG", &sb.config)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("interval = \"45m\""));
}

#[test]
fn feeds_add_list_remove_import_export() {
    let sb = Sandbox::new("");
    assert!(
        sb.ok(&["feeds", "add", "https://one.example/feed.xml", "--name", "One", "--interval", "2h"]).contains("added")
    );
    assert!(sb.ok(&["feeds", "add", "https://one.example/feed.xml"]).contains("already subscribed"));
    let out = sb.run(&["feeds", "add", "not-a-url"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-a-url"));

    let opml = sb.path().join("subs.opml");
    std::fs::write(
        &opml,
        r#"<?xml version="1.0"?><opml version="2.0"><body><outline text="AI">
             <outline text="Two" xmlUrl="https://two.example/rss"/>
             <outline text="One again" xmlUrl="https://one.example/feed.xml"/>
             <outline text="Bad" xmlUrl="gopher://three.example/"/></outline></body></opml>"#,
    )
    .unwrap();
    let out = sb.ok(&["feeds", "import", opml.to_str().unwrap()]);
    assert!(out.contains("imported 1 feeds") && out.contains("2 skipped"), "{out}");

    let list: serde_json::Value = serde_json::from_str(&sb.ok(&["feeds", "list", "--format", "json"])).unwrap();
    let urls: Vec<&str> = list.as_array().unwrap().iter().map(|f| f["url"].as_str().unwrap()).collect();
    assert_eq!(urls, ["https://one.example/feed.xml", "https://two.example/rss"]);
    assert_eq!(list[0]["interval_secs"], 7200);
    assert_eq!(list[0]["health"], "new");

    let exported = sb.ok(&["feeds", "export"]);
    assert!(exported.contains("xmlUrl=\"https://two.example/rss\"") && exported.contains("text=\"One\""), "{exported}");

    assert!(sb.ok(&["feeds", "remove", "https://two.example/rss"]).contains("removed"));
    assert_eq!(sb.run(&["feeds", "remove", "https://two.example/rss"]).status.code(), Some(2));
    let csv = sb.ok(&["feeds", "list", "--format", "csv"]);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    // Re-adding a removed feed revives it.
    assert!(sb.ok(&["feeds", "add", "https://two.example/rss"]).contains("re-added"));
}

#[test]
fn stories_filters_and_formats() {
    let server = TestServer::start();
    server.set(
        "/f.xml",
        Route::ok(rss(&[("a", "Open weights for everyone"), ("b", "Quarterly earnings"), ("c", "Weights, again")])),
    );
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"");
    sb.ok(&["poll"]);

    let json: serde_json::Value = serde_json::from_str(&sb.ok(&["stories", "--format", "json"])).unwrap();
    let first = &json[0];
    for key in ["id", "title", "url", "source", "published"] {
        assert!(!first[key].is_null(), "story JSON has {key}: {first}");
    }
    assert_eq!(first["source"], "news.example");
    assert_eq!(first["title"], "Open weights for everyone", "newest first");

    let jsonl = sb.ok(&["stories", "--format", "jsonl", "--search", "weights"]);
    assert_eq!(jsonl.lines().count(), 2);
    let limited = sb.ok(&["stories", "--format", "jsonl", "--limit", "1"]);
    assert_eq!(limited.lines().count(), 1);
    // Items are an hour apart from 23:00 down.
    let since = sb.ok(&["stories", "--format", "jsonl", "--since", "2026-11-01T22:00:00Z"]);
    assert_eq!(since.lines().count(), 2);
    let until = sb.ok(&["stories", "--format", "jsonl", "--until", "2026-11-01T22:00:00Z"]);
    assert_eq!(until.lines().count(), 1);
    let csv = sb.ok(&["stories", "--format", "csv"]);
    assert!(csv.starts_with("cluster,published,source,title,stances,coverage,url\n"), "{csv}");
    let table = sb.ok(&["stories"]);
    assert!(table.lines().next().unwrap().starts_with("cluster"), "{table}");
    let all = sb.ok(&["stories", "--all", "--format", "csv"]);
    assert!(all.starts_with("id,cluster,published"), "{all}");
    assert_eq!(first["sources"], serde_json::json!(["news.example"]));
    assert!(first["cluster"].is_i64());
    for key in ["relevant", "entities", "shifts"] {
        assert!(!first[key].is_null(), "story JSON has {key}: {first}");
    }
}

#[test]
fn stories_are_classified_as_they_are_stored_and_filtered_by_entity_and_stance() {
    let server = TestServer::start();
    server.set(
        "/f.xml",
        Route::ok(rss(&[
            ("a", "Meta releases Llama 5 as open weights under a permissive licence"),
            ("b", "OpenAI keeps its next model proprietary and API-only"),
            ("c", "Nvidia quarterly earnings beat expectations"),
        ])),
    );
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"");
    sb.ok(&["poll"]);
    let open: serde_json::Value =
        serde_json::from_str(&sb.ok(&["stories", "--entity", "meta", "--stance", "open", "--format", "json"])).unwrap();
    assert_eq!(open.as_array().unwrap().len(), 1, "{open:#}");
    let meta = &open[0]["entities"][0];
    assert_eq!((meta["entity"].as_str(), meta["stance"].as_str()), (Some("meta"), Some("open")));
    assert!(meta["evidence"].as_str().unwrap().contains("open weights"));
    assert_eq!(open[0]["relevant"], true);
    let closed = sb.ok(&["stories", "--entity", "openai", "--stance", "closed", "--format", "jsonl"]);
    assert_eq!(closed.lines().count(), 1, "{closed}");
    assert_eq!(sb.ok(&["stories", "--entity", "openai", "--stance", "open", "--format", "jsonl"]), "");
    assert_eq!(sb.count("SELECT count(*) FROM stories WHERE relevant = 0"), 1, "earnings are kept, marked irrelevant");
    let unknown = sb.run(&["stories", "--entity", "acme"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("meta, openai"));
}

#[test]
fn classify_reads_json_lines_and_writes_the_contract_shape() {
    let sb = Sandbox::new("");
    let input = sb.path().join("items.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"x1\", \"title\": \"OpenAI releases its first open-weight model since GPT-2\"}\n\
         {\"title\": \"A llama escaped from the zoo\", \"summary\": \"Keepers found it.\"}\n",
    )
    .unwrap();
    let out = sb.ok(&["classify", input.to_str().unwrap()]);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "x1");
    assert_eq!(lines[0]["relevant"], true);
    assert_eq!(lines[0]["entities"][0]["entity"], "openai");
    assert_eq!(lines[0]["entities"][0]["stance"], "open");
    for key in ["confidence", "certainty", "evidence"] {
        assert!(!lines[0]["entities"][0][key].is_null(), "{key}");
    }
    assert_eq!(lines[0]["shifts"], serde_json::json!([{"entity": "openai", "from": "closed", "to": "open"}]));
    assert_eq!(lines[1]["relevant"], false);
    assert_eq!(lines[1]["entities"], serde_json::json!([]));
    let bad = sb.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"summary\": \"no title\"}\n").unwrap();
    let out = sb.run(&["classify", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    // A `published` that is not a date is refused as `import` refuses it, not silently dropped.
    std::fs::write(&bad, "{\"title\": \"Meta opens Llama\"}\n{\"title\": \"x\", \"published\": \"last week\"}\n")
        .unwrap();
    let out = sb.run(&["classify", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 2") && stderr.contains("last week"), "{stderr}");
}

#[test]
fn read_only_commands_on_a_missing_database_exit_1_naming_it_and_create_nothing() {
    let sb = Sandbox::new("");
    for args in [
        &["stories"][..],
        &["stances"],
        &["history", "meta"],
        &["changes"],
        &["outbox", "list"],
        &["status"],
        &["status", "--format", "json"],
    ] {
        let out = sb.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("sw.db") && stderr.contains("no database"), "{args:?}: {stderr}");
        assert!(!sb.db.exists(), "{args:?} created the database");
    }
}

#[test]
fn db_check_backup_and_migrate() {
    let server = TestServer::start();
    server.set("/f.xml", Route::ok(rss_of(&items("k", 5))));
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"");
    let out = sb.run(&["db", "check"]);
    assert_eq!(out.status.code(), Some(2), "no database yet");
    sb.ok(&["poll"]);
    let check = sb.ok(&["db", "check"]);
    assert!(check.contains("integrity: ok"), "{check}");
    let version_line = check.lines().find(|l| l.starts_with("schema version: ")).unwrap();
    let numbers: Vec<&str> = version_line.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).collect();
    assert!(numbers.len() == 2 && numbers[0] == numbers[1], "migrated to the latest version: {version_line}");
    assert!(check.contains("stories: 5"), "{check}");
    // `db migrate` also brings the organisations' saved timeline summaries up to date.
    let summaries = |db: &std::path::Path| -> i64 {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.query_row("SELECT count(*) FROM entity_summaries", [], |r| r.get(0)).unwrap()
    };
    let kept = summaries(&sb.db);
    assert!(kept > 0, "the poll saved summaries");
    rusqlite::Connection::open(&sb.db).unwrap().execute("DELETE FROM entity_summaries", []).unwrap();
    assert!(sb.ok(&["db", "migrate"]).contains("up to date"));
    assert_eq!(summaries(&sb.db), kept);

    let backup = sb.path().join("backup.db");
    sb.ok(&["db", "backup", backup.to_str().unwrap()]);
    let copy = rusqlite::Connection::open(&backup).unwrap();
    let n: i64 = copy.query_row("SELECT count(*) FROM stories", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 5);
    let again = sb.run(&["db", "backup", backup.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "never overwrites an existing file");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn a_corrupt_database_is_reported_not_panicked_on() {
    let sb = Sandbox::new("");
    std::fs::write(&sb.db, vec![0x42; 8192]).unwrap();
    let out = sb.run(&["poll"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(sb.db.to_str().unwrap()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[cfg(unix)]
#[test]
fn run_polls_at_once_and_stops_cleanly_on_sigterm() {
    let server = TestServer::start();
    server.set("/f.xml", Route::ok(rss_of(&items("d", 7))).etag("\"d1\""));
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"");
    let mut child = sb.command().args(["run"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.hits("/f.xml") == 0 || !sb.db.exists() || sb.count("SELECT count(*) FROM stories") < 7 {
        assert!(Instant::now() < deadline, "run did not poll at start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id() as i32;
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc_kill(pid, 15) };
    let stop_deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < stop_deadline, "run did not stop within 5 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(sb.ok(&["db", "check"]).contains("integrity: ok"));
}

#[cfg(unix)]
#[test]
fn sigterm_in_the_middle_of_a_slow_poll_stops_within_seconds() {
    let server = TestServer::start();
    let mut urls = Vec::new();
    for i in 0..6 {
        let path = format!("/slow{i}.xml");
        server.set(&path, Route::ok(rss_of(&items(&format!("s{i}"), 3))).delay(Duration::from_secs(15)));
        urls.push(server.url(&path));
    }
    server.set("/quick.xml", Route::ok(rss_of(&items("q", 4))));
    urls.push(server.url("/quick.xml"));
    let sb = Sandbox::with_feeds(&urls, "timeout = \"30s\"\nper_host = 8");
    let mut child = sb.command().args(["run"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests().len() < 7 {
        assert!(Instant::now() < deadline, "run did not start polling");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The quick feed is stored while the slow ones are still being answered.
    while sb.count("SELECT count(*) FROM stories") < 4 {
        assert!(Instant::now() < deadline, "the quick feed was not stored");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stopped_at = Instant::now();
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc_kill(child.id() as i32, 15) };
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stopped_at.elapsed() < Duration::from_secs(5), "run did not stop within 5 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(sb.ok(&["db", "check"]).contains("integrity: ok"));
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 4, "what finished before the signal is kept");
    assert_eq!(sb.count("SELECT count(*) FROM feeds WHERE last_polled_at IS NULL"), 6, "interrupted feeds stay due");
}

#[cfg(unix)]
unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn stored_stories_are_read_again_when_the_profile_changes() {
    let server = TestServer::start();
    server.set("/f.xml", Route::ok(rss(&[("a", "Acme Labs releases its Roadrunner AI model as open weights")])));
    let sb = Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"");
    sb.ok(&["poll"]);
    let unknown = sb.run(&["stories", "--entity", "acme"]);
    assert_eq!(unknown.status.code(), Some(2), "the built-in profile does not know Acme");

    // The user's own profile: the built-in one plus an entity.
    let profile = sb.dir.path().join("profile.toml");
    let builtin =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/profiles/ai-openness.toml")).unwrap();
    let acme = "[[entity]]\nkey = \"acme\"\nname = \"Acme Labs\"\nproducts = [\"Roadrunner\"]\n\n";
    let at = builtin.find("[[entity]]").unwrap();
    std::fs::write(&profile, format!("{}{acme}{}", &builtin[..at], &builtin[at..])).unwrap();
    let mut config = std::fs::read_to_string(&sb.config).unwrap();
    config.push_str(&format!("\n[profile]\npath = {:?}\n", profile.display().to_string()));
    std::fs::write(&sb.config, config).unwrap();

    sb.ok(&["poll"]);
    let open = sb.ok(&["stories", "--entity", "acme", "--stance", "open", "--format", "jsonl"]);
    assert_eq!(open.lines().count(), 1, "the stored story is read with the new profile: {open}");
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 1, "read again, not stored again");
}

#[test]
fn import_validates_first_is_idempotent_and_feeds_the_history_commands() {
    let sb = Sandbox::new("");
    let file = sb.dir.path().join("archive.jsonl");
    let good = [
        r#"{"id":"a1","title":"Meta releases Llama 5 as open weights under a permissive licence","url":"https://one.example/a1","published":"2025-01-10"}"#,
        r#"{"id":"a2","title":"OpenAI keeps its next AI model proprietary and API-only","url":"https://two.example/a2","published":"2025-02-10"}"#,
    ];
    std::fs::write(&file, format!("{}\n{}\n{{\"title\": \"no date\"}}\n", good[0], good[1])).unwrap();
    let out = sb.run(&["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("published"), "{err}");
    assert!(!sb.db.exists() || sb.count("SELECT count(*) FROM stories") == 0, "nothing stored from a bad file");

    std::fs::write(&file, good.join("\n")).unwrap();
    let first = sb.ok(&["import", file.to_str().unwrap(), "--source", "archive"]);
    assert!(first.contains("2 new"), "{first}");
    let again = sb.ok(&["import", file.to_str().unwrap(), "--source", "archive"]);
    assert!(again.contains("0 new") && again.contains("2 unchanged"), "{again}");
    assert_eq!(sb.count("SELECT count(*) FROM stories WHERE backfill = 1"), 2, "archived items are backfill");
    assert_eq!(sb.count("SELECT count(*) FROM feeds WHERE active = 1"), 0, "the import source is never polled");

    let stances: Vec<serde_json::Value> = serde_json::from_str(&sb.ok(&["stances", "--format", "json"])).unwrap();
    let meta = stances.iter().find(|s| s["entity"] == "meta").unwrap();
    assert_eq!((meta["stance"].as_str(), meta["open_clusters"].as_u64()), (Some("open"), Some(1)));
    let csv = sb.ok(&["history", "meta", "--format", "csv"]);
    assert!(csv.starts_with("month,stance,open,closed,mixed\n") && csv.contains("2025-01,open,1,0,0"), "{csv}");
    let table = sb.ok(&["history", "openai"]);
    assert!(table.contains("openai: closed") && table.contains("no change detected"), "{table}");
    assert_eq!(sb.ok(&["changes", "--format", "jsonl"]), "");
    assert!(sb.ok(&["changes", "--format", "csv"]).starts_with("at,entity,change,level"));
    let unknown = sb.run(&["history", "acme"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown entity `acme`"));
}
