//! Replay of labelled real news: `../shared/corpus/dev.jsonl` served as RSS feeds (one feed per
//! outlet, items with their published dates) from a local HTTP server, polled by the real
//! binary, and the change events it reports checked against the corpus labels (skipped, saying
//! so, when the corpus is absent). Prints what was detected and when.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::http::{Route, TestServer};
use common::sandbox::Sandbox;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[test]
fn replayed_corpus_gives_the_labelled_changes_and_no_confirmed_false_alarm() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/dev.jsonl");
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} not found (the labelled corpus lives beside the project)");
        return;
    };
    let items: Vec<serde_json::Value> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();

    // One feed per outlet.
    let mut feeds: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for item in &items {
        let url = item["url"].as_str().unwrap_or_default();
        let host = url.split('/').nth(2).unwrap_or("unknown").trim_start_matches("www.").to_string();
        feeds.entry(host).or_default().push(item);
    }
    let server = TestServer::start();
    let mut urls = Vec::new();
    for (i, (host, entries)) in feeds.iter().enumerate() {
        let mut xml =
            format!("<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>{}</title>\n", escape(host));
        for e in entries {
            let day = chrono::NaiveDate::parse_from_str(e["published"].as_str().unwrap(), "%Y-%m-%d").unwrap();
            let date = day.and_hms_opt(12, 0, 0).unwrap().and_utc().to_rfc2822();
            xml.push_str(&format!(
                "<item><title>{}</title><link>{}</link><guid>{}</guid><pubDate>{date}</pubDate><description>{}</description></item>\n",
                escape(e["title"].as_str().unwrap_or_default()),
                escape(e["url"].as_str().unwrap_or_default()),
                escape(e["id"].as_str().unwrap_or_default()),
                escape(e["summary"].as_str().unwrap_or_default()),
            ));
        }
        xml.push_str("</channel></rss>\n");
        let route = format!("/feed{i}.xml");
        server.set(&route, Route::ok(xml));
        urls.push(server.url(&route));
    }
    let sb = Sandbox::with_feeds(&urls, "timeout = \"5s\"\nconcurrency = 8");
    sb.ok(&["poll", "--all"]);
    assert_eq!(sb.count("SELECT count(*) FROM stories"), items.len() as i64, "every item stored once");

    let changes: Vec<serde_json::Value> = serde_json::from_str(&sb.ok(&["changes", "--format", "json"])).unwrap();
    // What the labels say changed: (entity, to) of every labelled shift.
    let labelled: BTreeSet<(String, String)> = items
        .iter()
        .filter(|i| i["shift"].is_object())
        .map(|i| (i["shift"]["entity"].as_str().unwrap().to_string(), i["shift"]["to"].as_str().unwrap().to_string()))
        .collect();
    eprintln!("labelled shifts (entity, to): {labelled:?}");
    eprintln!("detected changes:");
    let mut false_alarms = Vec::new();
    for c in &changes {
        let key = (c["entity"].as_str().unwrap().to_string(), c["to"].as_str().unwrap().to_string());
        let known = labelled.contains(&key);
        eprintln!(
            "  {} {:<10} {} -> {} {:<9} confidence {} ({} evidence stories){}",
            c["at"].as_str().unwrap(),
            c["entity"].as_str().unwrap(),
            c["from"].as_str().unwrap(),
            c["to"].as_str().unwrap(),
            c["level"].as_str().unwrap(),
            c["confidence"],
            c["evidence"].as_array().map_or(0, Vec::len),
            if known { "" } else { "  <- not a labelled shift" }
        );
        if !known && c["level"] == "confirmed" {
            false_alarms.push(key);
        }
    }
    let confirmed: BTreeSet<(String, String)> = changes
        .iter()
        .filter(|c| c["level"] == "confirmed")
        .map(|c| (c["entity"].as_str().unwrap().to_string(), c["to"].as_str().unwrap().to_string()))
        .collect();
    assert!(confirmed.contains(&("meta".into(), "closed".into())), "Meta's move to closed models: {changes:#?}");
    assert!(confirmed.contains(&("openai".into(), "open".into())), "OpenAI's open-weight release: {changes:#?}");
    assert!(false_alarms.is_empty(), "confirmed changes the labels do not support: {false_alarms:?}");

    // The evidence of a change names real stories with links.
    let meta =
        changes.iter().find(|c| c["entity"] == "meta" && c["to"] == "closed" && c["level"] == "confirmed").unwrap();
    let evidence = meta["evidence"].as_array().unwrap();
    assert!(evidence.len() >= 3, "{meta:#}");
    assert!(evidence.iter().all(|e| e["url"].as_str().is_some_and(|u| u.starts_with("http"))));

    // The history shows the shift at a glance, and the stance as of a date is reproducible.
    let history = sb.ok(&["history", "meta"]);
    eprintln!("{history}");
    assert!(history.contains("2026") && history.contains('C'), "{history}");
    let before: Vec<serde_json::Value> =
        serde_json::from_str(&sb.ok(&["stances", "--at", "2025-01-01", "--format", "json"])).unwrap();
    let meta_then = before.iter().find(|s| s["entity"] == "meta").unwrap();
    assert_eq!(meta_then["stance"], "open", "{meta_then}");
}
