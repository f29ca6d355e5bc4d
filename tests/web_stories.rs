//! `/stories`, `/stories/{cluster}` and `/api/stories` over the synthetic news
//! (tests/common/web.rs): Meta open in 2025 and closed in 2026, OpenAI closed, council news.

mod common;

use common::web::{Answer, Site};

fn ok(site: &Site, path: &str) -> Answer {
    let answer = site.get(path);
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    answer
}

/// The story links of a `/stories` page: (cluster path, title).
fn stories(body: &str) -> Vec<(String, String)> {
    body.split("<a href=\"/stories/")
        .skip(1)
        .filter_map(|rest| {
            let (id, rest) = rest.split_once("\">")?;
            let (title, _) = rest.split_once("</a>")?;
            Some((format!("/stories/{id}"), title.to_string()))
        })
        .collect()
}

fn titles(site: &Site, path: &str) -> Vec<String> {
    stories(&ok(site, path).body).into_iter().map(|(_, t)| t).collect()
}

#[test]
fn the_stories_page_lists_clusters_and_its_filters_narrow_them() {
    let site = Site::synthetic();
    let page = ok(&site, "/stories");
    assert!(page.body.contains("<form") && page.body.contains("name=\"q\""), "{}", page.body);
    assert!(page.body.contains("<option value=\"meta\""), "the profile's organisations are offered");
    let all = stories(&page.body);
    assert_eq!(all.len(), 50, "a page holds 50 story clusters");
    assert!(page.body.contains("rel=\"next\"") && !page.body.contains("rel=\"prev\""));
    assert!(page.body.contains("stance-closed"), "stances are shown as badges");
    let second = ok(&site, "/stories?page=2");
    assert!(second.body.contains("rel=\"prev\""));
    let later = stories(&second.body);
    assert!(!later.is_empty() && later.iter().all(|s| !all.contains(s)), "page 2 goes on where page 1 stopped");

    // Full text: a word found only in the council stories.
    let bicycles = titles(&site, "/stories?q=bicycle");
    assert!(!bicycles.is_empty() && bicycles.iter().all(|t| t.contains("bicycle lanes")), "{bicycles:?}");
    // A prefix, and every word required.
    let proprietary = titles(&site, "/stories?q=propriet+openai");
    assert!(!proprietary.is_empty() && proprietary.iter().all(|t| t.starts_with("OpenAI")), "{proprietary:?}");
    assert!(titles(&site, "/stories?q=bicycle+openai").is_empty());

    let openai = titles(&site, "/stories?entity=openai");
    assert!(!openai.is_empty() && openai.iter().all(|t| t.contains("OpenAI")), "{openai:?}");
    let meta_closed = titles(&site, "/stories?entity=meta&stance=closed");
    assert!(!meta_closed.is_empty() && meta_closed.iter().all(|t| t.contains("closed")), "{meta_closed:?}");
    let meta_open = titles(&site, "/stories?entity=meta&stance=open");
    assert!(!meta_open.is_empty() && meta_open.iter().all(|t| t.contains("releases the weights")), "{meta_open:?}");

    // Dates: only 2026 news is Meta keeping its models closed; "until" is before that day.
    let y2026 = titles(&site, "/stories?since=2026-01-01");
    assert!(!y2026.is_empty() && y2026.iter().all(|t| t.contains("keeps its new frontier model")), "{y2026:?}");
    let spring = titles(&site, "/stories?since=2025-03-01&until=2025-04-01");
    assert!(!spring.is_empty() && spring.len() <= 6, "{spring:?}");
    assert!(titles(&site, "/stories?since=2027-01-01").is_empty());

    let relevant = titles(&site, "/stories?relevant=1&q=plan");
    assert!(relevant.is_empty(), "council news is not about AI openness: {relevant:?}");
    let relevant = stories(&ok(&site, "/stories?relevant=1").body);
    assert!(relevant.iter().all(|(_, t)| !t.contains("bicycle")));

    // Paging keeps the filters.
    let filtered = ok(&site, "/stories?relevant=1&entity=meta");
    assert!(filtered.body.contains("href=\"/stories?entity=meta&amp;relevant=1&amp;page=2\""), "{}", filtered.body);
}

#[test]
fn a_cluster_page_shows_its_articles_and_readings() {
    let site = Site::synthetic();
    let (path, title) = stories(&ok(&site, "/stories?entity=meta&stance=closed").body).remove(0);
    let page = ok(&site, &path);
    assert!(page.body.contains(&title), "{}", page.body);
    assert!(page.body.contains("rel=\"noopener noreferrer nofollow\""), "articles link out: {}", page.body);
    assert!(page.body.contains("href=\"https://wire-"), "{}", page.body);
    assert!(
        page.body.contains("stance-closed")
            && page.body.contains("<abbr title=\"closed\" aria-hidden=\"true\">C</abbr> closed")
    );
    assert!(page.body.contains("href=\"/org/meta\""), "the organisation read: {}", page.body);
    assert!(page.body.contains("access is limited to its paid API"), "the summary: {}", page.body);

    for missing in ["/stories/999999", "/stories/abc", "/stories/-1", "/stories/1e3"] {
        assert_eq!(site.get(missing).status, 404, "{missing}");
    }
}

#[test]
fn hostile_and_bad_query_strings() {
    let site = Site::synthetic();
    let page = ok(&site, "/stories?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert!(page.body.contains("&lt;script&gt;"), "{}", page.body);
    assert!(!page.body.contains("<script>"));
    // FTS5 syntax typed as a search is text: results or none, never an error.
    for q in [
        "%22",
        "*",
        "%3A",
        "-",
        "(",
        ")",
        "NEAR",
        "NEAR(meta+openai)",
        "meta+OR+openai",
        "title%3Ameta",
        "%5E",
        "%22meta",
    ] {
        let answer = site.get(&format!("/stories?q={q}"));
        assert_eq!(answer.status, 200, "q={q}: {}", answer.body);
        let api = site.get(&format!("/api/stories?q={q}"));
        assert_eq!(api.status, 200, "api q={q}: {}", api.body);
    }
    for (query, field) in [
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("entity=nobody", "entity"),
        ("stance=closed", "stance"),
        ("entity=meta&stance=ajar", "stance"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("page=10001", "page"),
        ("offset=99999999999", "offset"),
        ("relevant=maybe", "relevant"),
    ] {
        let answer = site.get(&format!("/stories?{query}"));
        assert_eq!(answer.status, 400, "{query}");
        assert!(answer.body.contains(&format!("{field}:")), "{query} names {field}: {}", answer.body);
        let api = site.get(&format!("/api/stories?{query}"));
        assert_eq!(api.status, 400, "api {query}");
        let error: serde_json::Value = serde_json::from_str(&api.body).expect("API errors are JSON");
        assert!(error["error"].as_str().is_some_and(|e| e.starts_with(&format!("{field}:"))), "{error}");
    }
    assert_eq!(site.get("/api/stories?limit=100000").status, 400);
}

#[test]
fn the_api_answers_what_the_cli_prints() {
    let site = Site::synthetic();
    let cases: [(&str, &[&str]); 5] = [
        ("limit=20", &["--limit", "20"]),
        ("q=weights&entity=meta&limit=30", &["--search", "weights", "--entity", "meta", "--limit", "30"]),
        (
            "entity=meta&stance=open&since=2025-03-01&until=2025-09-01",
            &["--entity", "meta", "--stance", "open", "--since", "2025-03-01", "--until", "2025-09-01"],
        ),
        ("all=1&q=bicycle", &["--all", "--search", "bicycle"]),
        ("q=%22NEAR%22+(&limit=5", &["--search", "\"NEAR\" (", "--limit", "5"]),
    ];
    for (query, args) in cases {
        let api = ok(&site, &format!("/api/stories?{query}"));
        assert!(api.header("content-type").is_some_and(|t| t.starts_with("application/json")));
        let api: serde_json::Value = serde_json::from_str(&api.body).unwrap();
        let mut cli_args = vec!["stories", "--format", "json"];
        cli_args.extend_from_slice(args);
        let cli: serde_json::Value = serde_json::from_str(&site.sandbox.ok(&cli_args)).unwrap();
        assert_eq!(api, cli, "/api/stories?{query} vs stories {args:?}");
        if !query.contains("NEAR") {
            assert!(!api.as_array().unwrap().is_empty(), "{query} finds something");
        }
    }
    // Relevant only (the CLI has no such flag): no council news.
    let relevant: serde_json::Value =
        serde_json::from_str(&ok(&site, "/api/stories?relevant=1&limit=200").body).unwrap();
    let relevant = relevant.as_array().unwrap();
    assert!(!relevant.is_empty());
    assert!(relevant.iter().all(|r| !r["title"].as_str().unwrap().contains("bicycle")));
}

#[test]
fn any_story_of_a_cluster_leads_to_the_cluster_page() {
    let site = Site::synthetic();
    // Another outlet's copy of a stored story joins its cluster.
    let copy = serde_json::json!({
        "title": "Meta keeps its new frontier model 30 closed, offering it only through its API",
        "summary": "Meta will not release the weights of model 30; access is limited to its paid API.",
        "url": "https://wire-copy.example/story/30",
        "published": "2026-02-12",
    });
    let file = site.sandbox.path().join("copy.jsonl");
    std::fs::write(&file, format!("{copy}\n")).unwrap();
    site.sandbox.ok(&["import", file.to_str().unwrap(), "--source", "copies"]);
    let (id, cluster): (i64, i64) = site
        .sandbox
        .db()
        .query_row("SELECT id, cluster_id FROM stories WHERE url = 'https://wire-copy.example/story/30'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_ne!(id, cluster, "the copy joined the earlier story's cluster");
    let answer = site.get(&format!("/stories/{id}"));
    assert_eq!(answer.status, 308, "{}", answer.body);
    assert_eq!(answer.header("location"), Some(format!("/stories/{cluster}").as_str()));
    let page = site.get(&format!("/stories/{cluster}"));
    assert!(page.body.contains("wire-copy.example"), "the cluster page lists the copy");
}
