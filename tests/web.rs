//! The web view over HTTP: `stancewatch serve` on 127.0.0.1 over an imported database.

mod common;

use common::web::Site;

#[test]
fn pages_carry_the_security_headers_and_unknown_paths_are_404() {
    let site = Site::synthetic();
    let home = site.get("/");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.header("content-type").is_some_and(|t| t.starts_with("text/html")));
    assert_eq!(
        home.header("content-security-policy"),
        Some("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    );
    let missing = site.get("/no/such/page");
    assert_eq!(missing.header("x-content-type-options"), Some("nosniff"), "404s carry the headers too");
    assert_eq!(home.header("x-content-type-options"), Some("nosniff"));
    let css = site.get("/style.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-security-policy").is_some());
    assert_eq!(site.get("/no/such/page").status, 404);
    assert_eq!(common::web::request(site.port, "POST", "/").status, 405);
}

#[test]
fn the_overview_and_an_organisation_page_show_the_meta_change_with_its_evidence() {
    let site = Site::synthetic();
    let home = site.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("href=\"/org/meta\""), "{}", home.body);
    assert!(home.body.contains("class=\"strip\""), "a month strip per organisation");
    assert!(home.body.contains("Newest relevant stories"));
    assert!(!home.body.contains("bicycle"), "irrelevant stories are not listed as relevant");

    let meta = site.get("/org/meta");
    assert_eq!(meta.status, 200, "{}", meta.body);
    let svg = &meta.body[meta.body.find("<svg").expect("an inline SVG timeline")..];
    assert!(svg.contains("class=\"band band-open\"") && svg.contains("class=\"band band-closed\""), "{svg}");
    assert!(svg.contains("change open → closed on 2026-"), "the change is marked: {svg}");
    assert!(meta.body.contains("id=\"change-"), "each change has its own section");
    assert!(meta.body.contains("rel=\"noopener noreferrer nofollow\""), "evidence links leave safely");
    assert!(meta.body.contains("keeps its new frontier model"), "Meta's stories are listed");

    let closed_only = site.get("/org/meta?stance=closed");
    assert!(closed_only.body.contains("keeps its new frontier model"));
    assert!(!closed_only.body[closed_only.body.find("Stories about").unwrap()..].contains("releases the weights"));
    assert_eq!(site.get("/org/nobody").status, 404);
    for (query, field) in [("stance=purple", "stance"), ("page=0", "page"), ("page=10001", "page")] {
        let answer = site.get(&format!("/org/meta?{query}"));
        assert_eq!(answer.status, 400, "{query}");
        assert!(answer.body.contains(&format!("{field}:")), "{query} names {field}: {}", answer.body);
    }
}

/// Every page, feed and API over the labelled corpus imported (both files), plus each
/// organisation's page and feed and some cluster pages. Needs `../shared/corpus`; `.ci/run` runs it.
#[test]
#[ignore = "reads ../shared/corpus; .ci/run runs it"]
fn every_page_and_api_answers_over_the_labelled_corpus() {
    let Some(files) = common::corpus::pool_files() else { return };
    let sandbox = common::sandbox::Sandbox::new("");
    for (path, _) in &files {
        sandbox.ok(&["import", path]);
    }
    let site = Site::serve(sandbox);
    let mut paths: Vec<String> = [
        "/",
        "/changes",
        "/changes?level=confirmed",
        "/changes.atom",
        "/stories",
        "/stories?relevant=1",
        "/stories?q=open+weights",
        "/stories?entity=meta&stance=closed",
        "/feeds",
        "/api/stances",
        "/api/changes",
        "/api/stories?limit=20",
        "/style.css",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    let entities: Vec<serde_json::Value> =
        serde_json::from_str(&site.sandbox.ok(&["stances", "--format", "json"])).unwrap();
    for e in &entities {
        let key = e["entity"].as_str().unwrap();
        paths.extend([format!("/org/{key}"), format!("/org/{key}/changes.atom"), format!("/api/history/{key}")]);
    }
    let stories: Vec<serde_json::Value> =
        serde_json::from_str(&site.sandbox.ok(&["stories", "--format", "json", "--limit", "25"])).unwrap();
    paths.extend(stories.iter().map(|s| format!("/stories/{}", s["cluster"])));
    for path in &paths {
        let answer = site.get(path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert!(!answer.body.is_empty(), "{path} is empty");
    }
    assert_eq!(site.get("/org/nobody").status, 404);
    assert_eq!(site.get("/stories/999999999").status, 404);
    eprintln!("{} pages and APIs answered 200 over the corpus", paths.len());
}

/// feedparser's sanitiser cases (`../shared/feeds/feedparser/wellformed/sanitize`: script,
/// iframe, event handlers, `javascript:` links, styles, embeds in titles and summaries) polled
/// over HTTP, then every page that shows their text: none of it may come back as markup.
#[test]
#[ignore = "reads ../shared/feeds; .ci/run runs it"]
fn hostile_feed_text_from_the_sanitiser_cases_is_shown_as_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/feeds/feedparser/wellformed/sanitize");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: {} not found", dir.display());
        return;
    };
    let server = common::http::TestServer::start();
    let mut urls = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        server.set(&format!("/{name}"), common::http::Route::ok(std::fs::read(&path).unwrap()));
        urls.push(server.url(&format!("/{name}")));
    }
    let sandbox = common::sandbox::Sandbox::with_feeds(&urls, "per_host = 8");
    sandbox.ok(&["poll", "--all"]);
    let stored = sandbox.count("SELECT count(*) FROM stories");
    assert!(stored > 100, "the sanitiser cases were stored ({stored})");
    let site = Site::serve(sandbox);

    let mut paths = vec!["/".to_string(), "/feeds".to_string(), "/changes".to_string()];
    for page in 1..=(stored as usize / 50 + 1) {
        paths.push(format!("/stories?page={page}"));
    }
    let clusters: Vec<serde_json::Value> =
        serde_json::from_str(&site.sandbox.ok(&["stories", "--format", "json"])).unwrap();
    paths.extend(clusters.iter().map(|c| format!("/stories/{}", c["cluster"])));
    assert_eq!(site.get("/api/stories?limit=1000").status, 200);
    let mut escaped = 0;
    for path in &paths {
        let answer = site.get(path);
        // Feed text is stored as plain text (markup removed when parsed) and escaped again here.
        escaped += usize::from(answer.body.contains("&lt;"));
        assert_eq!(answer.status, 200, "{path}");
        let body = answer.body.to_ascii_lowercase();
        // Tags the site itself never writes on these pages, and the ones it writes a fixed number of times.
        for name in ["script", "iframe", "embed", "object", "applet", "style", "img", "svg", "math", "base", "frame"] {
            assert_eq!(opening_tags(&body, name), 0, "{path}: feed text came back as <{name}>:\n{}", answer.body);
        }
        assert_eq!(opening_tags(&body, "meta"), 2, "{path}: only the layout's two <meta>");
        assert!(opening_tags(&body, "form") <= 1, "{path}: only the page's own filter form");
        for tag in body.split('<').skip(1).map(|t| t.split('>').next().unwrap_or("")) {
            let attributes = tag.split_once(' ').map_or("", |(_, a)| a);
            assert!(
                !attributes.split_whitespace().any(|a| a.starts_with("on") && a.contains('=')),
                "{path}: an event handler attribute in <{tag}>"
            );
            for link in attributes.split("href=\"").skip(1) {
                assert!(
                    link.starts_with('/')
                        || link.starts_with("http://")
                        || link.starts_with("https://")
                        || link.starts_with('#'),
                    "{path}: a link that is neither here nor http(s): href=\"{link}"
                );
            }
        }
    }
    eprintln!(
        "{} pages over {stored} stories of the sanitiser cases: no markup from feeds; {escaped} show escaped brackets",
        paths.len()
    );
}

/// How many `<name` opening tags `body` (lowercased) has.
fn opening_tags(body: &str, name: &str) -> usize {
    body.match_indices('<')
        .filter(|(at, _)| {
            body[at + 1..].strip_prefix(name).is_some_and(|after| after.starts_with([' ', '>', '/', '\n', '\t']))
        })
        .count()
}

#[test]
fn pages_show_what_is_stored_after_they_were_first_read() {
    let site = Site::synthetic();
    let months = |site: &Site| -> serde_json::Value {
        let answer = site.get("/api/history/openai");
        assert_eq!(answer.status, 200);
        serde_json::from_str::<serde_json::Value>(&answer.body).unwrap()["months"].clone()
    };
    let before = months(&site);
    let more = site.sandbox.path().join("more.jsonl");
    let item = serde_json::json!({
        "title": "OpenAI keeps its newest model proprietary, offered only through its API",
        "summary": "OpenAI declined to publish the weights.",
        "url": "https://wire-five.example/story/late",
        "published": "2025-06-15",
    });
    std::fs::write(&more, format!("{item}\n")).unwrap();
    site.sandbox.ok(&["import", more.to_str().unwrap(), "--source", "late"]);
    let after = months(&site);
    assert_ne!(before, after, "the history computed before the import is not served after it");
    let cli: serde_json::Value =
        serde_json::from_str(&site.sandbox.ok(&["history", "openai", "--format", "json"])).unwrap();
    assert_eq!(after, cli["months"], "the page agrees with the CLI");
}
