//! Crash safety: SIGKILL during a large poll never corrupts the database, loses a story or
//! stores one twice.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http::{Route, TestServer};
use common::sandbox::{Sandbox, items, rss_of};

const FEEDS: usize = 150;
const ITEMS: usize = 40;

#[test]
fn sigkill_during_a_large_poll_loses_and_doubles_nothing() {
    let server = TestServer::start();
    let mut urls = Vec::new();
    for f in 0..FEEDS {
        let path = format!("/feed{f}.xml");
        // A little latency per request so each poll is long enough to be killed in the middle.
        server.set(
            &path,
            Route::ok(rss_of(&items(&format!("f{f}"), ITEMS)))
                .etag(&format!("\"f{f}\""))
                .delay(Duration::from_millis(15)),
        );
        urls.push(server.url(&path));
    }
    let sb = Sandbox::with_feeds(&urls, "timeout = \"5s\"\nper_host = 4");

    let mut kills = 0;
    for round in 0..6 {
        let mut child =
            sb.command().args(["poll", "--all"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(80 + fastrand::u64(0..500)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        if !sb.db.exists() {
            continue; // killed before it created the database: nothing was written
        }
        let check = sb.ok(&["db", "check"]);
        assert!(check.contains("integrity: ok"), "round {round}: {check}");
        if check.contains("not set up yet") {
            continue; // killed during its first migration (one transaction): no tables, nothing written
        }
        assert_eq!(
            sb.count("SELECT count(*) FROM (SELECT feed_id, entry_key FROM stories GROUP BY 1, 2 HAVING count(*) > 1)"),
            0
        );
    }
    assert!(kills >= 3, "the polls finished too fast to be killed ({kills} kills)");

    // One clean poll completes whatever the kills interrupted.
    sb.ok(&["poll", "--all"]);
    assert_eq!(sb.count("SELECT count(*) FROM stories") as usize, FEEDS * ITEMS, "every story stored exactly once");
    assert_eq!(sb.count("SELECT count(DISTINCT feed_id || ' ' || entry_key) FROM stories") as usize, FEEDS * ITEMS);
    assert_eq!(sb.count("SELECT count(*) FROM feeds WHERE last_success_at IS NULL"), 0);
}
