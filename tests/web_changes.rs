//! The web view's change events (`/changes`, the Atom feeds), feeds page and JSON API, served
//! over the invented news in which Meta goes from open to closed in 2026.

mod common;

use common::web::{Answer, Site};

fn ok(site: &Site, path: &str) -> Answer {
    let answer = site.get(path);
    assert_eq!(answer.status, 200, "GET {path}:\n{}", answer.body);
    answer
}

fn atom(site: &Site, path: &str) -> feed_rs::model::Feed {
    let answer = ok(site, path);
    assert_eq!(answer.header("content-type"), Some("application/atom+xml; charset=utf-8"));
    feed_rs::parser::parse(answer.body.as_bytes()).unwrap_or_else(|e| panic!("{path} is no feed: {e}\n{}", answer.body))
}

/// Feed id, updated, and each entry's (id, updated), as a feed reader keeps them.
fn identity(feed: &feed_rs::model::Feed) -> (String, String, Vec<(String, String)>) {
    let entries = feed.entries.iter().map(|e| (e.id.clone(), format!("{:?}", e.updated))).collect();
    (feed.id.clone(), format!("{:?}", feed.updated), entries)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn the_changes_page_lists_meta_going_closed_with_its_evidence_and_filters() {
    let site = Site::synthetic();
    let page = ok(&site, "/changes").body;
    let meta = page.find("href=\"/org/meta\"").expect("Meta's change links to its page");
    let article = &page[meta..];
    let article = &article[..article.find("</article>").unwrap()];
    assert!(article.contains("stance-open") && article.contains("stance-closed"), "{article}");
    assert!(article.find("stance-open") < article.find("stance-closed"), "from open to closed: {article}");
    assert!(
        article.contains("<abbr title=\"open\" aria-hidden=\"true\">O</abbr> open"),
        "letters, not colour alone: {article}"
    );
    assert!(article.contains("confirmed") && article.contains("confidence"), "{article}");
    assert!(
        article.contains("rel=\"noopener noreferrer nofollow\"") && article.contains("href=\"https://wire-"),
        "evidence linked out: {article}"
    );
    assert!(article.contains("Meta keeps its new frontier model"), "{article}");
    assert!(article.contains("wire-one.example") || article.contains("wire-two.example"), "outlets: {article}");
    assert!(page.contains("<form class=\"filters\" method=\"get\""), "a GET form");
    assert!(page.contains("<option value=\"meta\">Meta</option>"), "the profile's entities to pick from");

    let has_meta = |path: &str| ok(&site, path).body.contains("href=\"/org/meta\"");
    assert!(has_meta("/changes?entity=meta&level=confirmed&since=2025-06-01&until=2026-12-31"));
    assert!(has_meta("/changes?entity=&level=&since=&until="), "empty fields are no filter");
    assert!(!has_meta("/changes?entity=openai"));
    assert!(!has_meta("/changes?level=possible"));
    assert!(!has_meta("/changes?since=2027-01-01"));
    assert!(!has_meta("/changes?until=2025-01-01"));
    assert!(ok(&site, "/changes?entity=meta").body.contains("<option value=\"meta\" selected>Meta</option>"));

    for (query, field) in [
        ("level=maybe", "level"),
        ("entity=nobody", "entity"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("since=2026-02-01&until=2026-01-01", "until"),
    ] {
        let answer = site.get(&format!("/changes?{query}"));
        assert_eq!(answer.status, 400, "{query}");
        assert!(answer.body.contains(&format!("{field}:")), "{query} names {field}: {}", answer.body);
    }
}

#[test]
fn atom_feeds_are_stable_honest_and_escaped() {
    let mut site = Site::synthetic();
    let feed = atom(&site, "/changes.atom");
    let meta = feed.entries.iter().find(|e| e.title.as_ref().is_some_and(|t| t.content.starts_with("Meta:"))).unwrap();
    assert!(meta.id.starts_with("tag:stancewatch,2026:"), "{}", meta.id);
    assert_eq!(meta.title.as_ref().unwrap().content, "Meta: open → closed (confirmed)");
    let link = &meta.links[0].href;
    assert!(link.starts_with("http://localhost/changes?entity=meta#change-"), "{link}");
    let content = meta.content.as_ref().and_then(|c| c.body.clone()).unwrap();
    assert!(content.contains("Meta keeps its new frontier model") && content.contains("https://wire-"), "{content}");

    // `updated` is when the event was detected, not when the feed was asked for.
    let detected: String =
        site.sandbox.db().query_row("SELECT max(detected_at) FROM change_events", [], |r| r.get(0)).unwrap();
    let detected = chrono::DateTime::parse_from_rfc3339(&detected).unwrap().with_timezone(&chrono::Utc);
    assert_eq!(feed.updated, Some(detected));
    assert!(feed.entries.iter().all(|e| e.updated.is_some_and(|u| u <= detected)));

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let first = identity(&feed);
    assert_eq!(identity(&atom(&site, "/changes.atom")), first, "the same on a second request");
    site.restart();
    assert_eq!(identity(&atom(&site, "/changes.atom")), first, "the same after a restart");

    let org = atom(&site, "/org/meta/changes.atom");
    assert!(!org.entries.is_empty());
    assert!(org.entries.iter().all(|e| e.title.as_ref().unwrap().content.starts_with("Meta:")));
    assert!(org.entries.iter().all(|e| first.2.iter().any(|(id, _)| *id == e.id)), "the same ids as the whole feed");
    assert_ne!(org.id, feed.id);
    let empty = atom(&site, "/org/ibm/changes.atom");
    assert!(empty.entries.is_empty());
    assert_eq!(empty.updated.map(|u| u.timestamp()), Some(0), "an empty feed is never new");
    assert_eq!(site.get("/org/nobody/changes.atom").status, 404);

    // A hostile title in the evidence stays text, in the feed and on the page.
    let hostile = "Meta <script>alert(1)</script> ]]> closes & \"locks\" it";
    site.sandbox
        .db()
        .execute("UPDATE stories SET title = ?1 WHERE id = (SELECT min(story_id) FROM change_evidence)", [hostile])
        .unwrap();
    let raw = ok(&site, "/changes.atom").body;
    assert!(!raw.contains("<script>") && !raw.contains("]]>"), "{raw}");
    let feed = feed_rs::parser::parse(raw.as_bytes()).unwrap();
    let bodies: String = feed.entries.iter().filter_map(|e| e.content.as_ref()?.body.clone()).collect();
    assert!(bodies.contains("Meta &lt;script&gt;alert(1)&lt;/script&gt; ]]&gt; closes &amp;"), "{bodies}");
    assert!(!bodies.contains("<script>"), "{bodies}");
    let page = ok(&site, "/changes").body;
    assert!(
        page.contains("Meta &lt;script&gt;alert(1)&lt;/script&gt; ]]&gt; closes &amp;") && !page.contains("<script>")
    );
}

#[test]
fn the_api_answers_in_the_cli_shapes() {
    let site = Site::synthetic();
    let cli = |args: &[&str]| json(&site.sandbox.ok(args));
    let api = |path: &str| {
        let answer = ok(&site, path);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        json(&answer.body)
    };
    let stances = api("/api/stances");
    assert_eq!(stances, cli(&["stances", "--format", "json"]));
    let meta = stances.as_array().unwrap().iter().find(|r| r["entity"] == "meta").unwrap();
    assert_eq!(meta["stance"], "closed");

    let changes = api("/api/changes");
    assert_eq!(changes, cli(&["changes", "--format", "json"]));
    assert!(changes.as_array().unwrap().iter().any(|c| c["entity"] == "meta" && c["to"] == "closed"));
    assert_eq!(api("/api/changes?entity=meta"), cli(&["changes", "--entity", "meta", "--format", "json"]));
    assert_eq!(api("/api/changes?since=2026-01-01"), cli(&["changes", "--since", "2026-01-01", "--format", "json"]));
    assert_eq!(api("/api/changes?since=2027-01-01"), serde_json::json!([]));
    assert_eq!(site.get("/api/changes?entity=nobody").status, 400);
    assert_eq!(site.get("/api/changes?since=soon").status, 400);

    assert_eq!(api("/api/history/meta"), cli(&["history", "meta", "--format", "json"]));
    assert_eq!(site.get("/api/history/nobody").status, 404);
}

#[test]
fn the_feeds_page_shows_each_subscription_with_its_health_and_an_anchor() {
    let site = Site::synthetic();
    site.sandbox.ok(&["feeds", "add", "https://news.example/ok.xml", "--name", "Fine <news>"]);
    site.sandbox
        .db()
        .execute_batch(
            "INSERT INTO feeds (url, origin, active, added_at)
               VALUES ('javascript:alert(1)//broken.xml', 'cli', 1, '2026-01-01T00:00:00Z');
             UPDATE feeds SET last_polled_at = '2026-11-01T10:00:00Z', last_success_at = '2026-11-01T10:00:00Z'
               WHERE url LIKE 'https://news.example/ok%';
             UPDATE feeds SET last_polled_at = '2026-11-02T10:00:00Z', consecutive_failures = 4,
                    failing_since = '2026-10-01T00:00:00Z', error_kind = 'http', last_error = 'HTTP 500 <oops>',
                    last_status = 500
               WHERE url LIKE 'javascript:%';",
        )
        .unwrap();
    let page = ok(&site, "/feeds").body;
    for (id, url) in site
        .sandbox
        .db()
        .prepare("SELECT id, url FROM feeds WHERE active = 1")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
    {
        assert!(page.contains(&format!("<tr id=\"feed-{id}\">")), "{url}: {page}");
        if url.starts_with("javascript:") {
            assert!(page.contains(&format!("href=\"#feed-{id}\"")), "a problem feed is listed first: {page}");
        }
    }
    assert!(page.contains("Fine &lt;news&gt;") && page.contains("2026-11-01T10:00:00Z"), "{page}");
    assert!(page.contains("href=\"https://news.example/ok.xml\" rel=\"noopener noreferrer nofollow\""), "{page}");
    assert!(!page.contains("href=\"javascript:"), "only http(s) is linked: {page}");
    assert!(page.contains("failing") && page.contains("HTTP 500 &lt;oops&gt;") && page.contains("since 2026-10-01"));
}
