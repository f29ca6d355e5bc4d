//! Replay of labelled real news: the shared pool (`../shared/corpus/dev.jsonl` and
//! `train.jsonl`) served as RSS feeds (one feed per outlet, items with their published dates)
//! from a local HTTP server, polled by the real binary, and the change events it reports checked
//! against the corpus labels. Prints what was detected and when.
//!
//! Run by `.ci/run` (`cargo test --test replay -- --ignored --nocapture`); skipped,
//! saying so, when `../shared` is absent.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use common::http::{Route, TestServer};
use common::sandbox::Sandbox;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn date(value: &serde_json::Value) -> NaiveDate {
    let text = value.as_str().unwrap_or_default();
    NaiveDate::parse_from_str(text.get(..10).unwrap_or(text), "%Y-%m-%d").expect("a YYYY-MM-DD date")
}

/// A labelled change as the timeline should see it: the labelled shifts of one (entity, to)
/// that are less than `GAP_DAYS` apart, from the first report to the last.
struct LabelledChange {
    entity: String,
    to: String,
    first: NaiveDate,
    last: NaiveDate,
}

const GAP_DAYS: i64 = 120;
/// How long after the last labelled report a change may still be confirmed (corroboration
/// arrives after the news).
const LATE_DAYS: i64 = 60;

impl LabelledChange {
    fn admits(&self, entity: &str, to: &str, at: NaiveDate) -> bool {
        self.entity == entity
            && self.to == to
            && self.first <= at
            && at <= self.last + chrono::Duration::days(LATE_DAYS)
    }
}

fn labelled_changes(items: &[serde_json::Value]) -> Vec<LabelledChange> {
    let mut shifts: Vec<(String, String, NaiveDate)> = items
        .iter()
        .filter(|i| i["shift"].is_object())
        .map(|i| {
            let s = &i["shift"];
            (s["entity"].as_str().unwrap().to_string(), s["to"].as_str().unwrap().to_string(), date(&i["published"]))
        })
        .collect();
    shifts.sort();
    let mut out: Vec<LabelledChange> = Vec::new();
    for (entity, to, day) in shifts {
        match out.last_mut() {
            Some(c) if c.entity == entity && c.to == to && (day - c.last).num_days() < GAP_DAYS => c.last = day,
            _ => out.push(LabelledChange { entity, to, first: day, last: day }),
        }
    }
    out
}

/// The labelled stances themselves show `entity` moving to `to` at `at`: the stance the labels
/// last gave it before (in a relevant item) is another one, and the labels from `at` on give
/// `to`. A change with no labelled stance before it is a drift from the profile's prior.
fn labels_show_change(items: &[serde_json::Value], entity: &str, to: &str, at: NaiveDate) -> bool {
    let mut stances: Vec<(NaiveDate, &str)> = items
        .iter()
        .filter(|i| i["relevant"] == true)
        .flat_map(|i| {
            let day = date(&i["published"]);
            i["labels"].as_array().into_iter().flatten().filter_map(move |l| {
                let stance = l["stance"].as_str().unwrap_or("neutral");
                (l["entity"] == entity && stance != "neutral").then_some((day, stance))
            })
        })
        .collect();
    stances.sort();
    let before = stances.iter().filter(|(d, _)| *d < at).map(|(_, s)| *s).next_back();
    let on = stances.iter().find(|(d, _)| *d >= at).map(|(_, s)| *s);
    before.is_some_and(|b| b != to) && on == Some(to)
}

/// The key the labels use for a profile entity: its own when the labels name it one by one,
/// else "other".
fn label_key<'a>(named: &BTreeSet<&str>, entity: &'a str) -> &'a str {
    if named.contains(entity) { entity } else { "other" }
}

fn read_pool() -> Option<Vec<serde_json::Value>> {
    let mut items = Vec::new();
    for (path, text) in common::corpus::pool_files()? {
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            items.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1)));
        }
    }
    Some(items)
}

#[test]
#[ignore = "corpus check over ../shared/corpus: run by .ci/run"]
fn replayed_pool_confirms_the_labelled_changes_and_nothing_else() {
    let Some(items) = read_pool() else { return };

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
            let published = date(&e["published"]).and_hms_opt(12, 0, 0).unwrap().and_utc().to_rfc2822();
            xml.push_str(&format!(
                "<item><title>{}</title><link>{}</link><guid>{}</guid><pubDate>{published}</pubDate><description>{}</description></item>\n",
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

    // What each item's labels say of each entity, by link.
    let label_of: BTreeMap<(&str, &str), &str> = items
        .iter()
        .flat_map(|i| {
            let url = i["url"].as_str().unwrap_or_default();
            i["labels"].as_array().into_iter().flatten().map(move |l| {
                ((url, l["entity"].as_str().unwrap_or_default()), l["stance"].as_str().unwrap_or_default())
            })
        })
        .collect();

    let named: BTreeSet<&str> = items
        .iter()
        .flat_map(|i| i["labels"].as_array().into_iter().flatten().filter_map(|l| l["entity"].as_str()))
        .filter(|e| *e != "other")
        .collect();
    let label_key = |entity| label_key(&named, entity);

    let changes: Vec<serde_json::Value> = serde_json::from_str(&sb.ok(&["changes", "--format", "json"])).unwrap();
    let labelled = labelled_changes(&items);
    eprintln!("labelled changes (entity -> to, first report .. last report):");
    for c in &labelled {
        eprintln!("  {:<10} -> {:<6} {} .. {}", c.entity, c.to, c.first, c.last);
    }
    eprintln!("detected changes:");
    let (mut false_alarms, mut from_passing_mentions, mut found) = (Vec::new(), Vec::new(), BTreeSet::new());
    for c in &changes {
        let (entity, to) = (label_key(c["entity"].as_str().unwrap()), c["to"].as_str().unwrap());
        let at = date(&c["at"]);
        let matched = labelled.iter().position(|l| l.admits(entity, to, at));
        let confirmed = c["level"] == "confirmed";
        // Evidence the labels call a passing mention (neutral, or not named at all).
        let passing: Vec<&str> = c["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["url"].as_str())
            .filter(|url| label_of.get(&(*url, entity)).is_none_or(|s| *s == "neutral"))
            .collect();
        eprintln!(
            "  {at} {entity:<10} {} -> {to:<6} {:<9} confidence {} ({} evidence stories){}{}",
            c["from"].as_str().unwrap(),
            c["level"].as_str().unwrap(),
            c["confidence"],
            c["evidence"].as_array().map_or(0, Vec::len),
            if matched.is_some() { "" } else { "  <- outside every labelled change" },
            if passing.is_empty() { String::new() } else { format!("  <- passing mentions: {passing:?}") },
        );
        for e in c["evidence"].as_array().into_iter().flatten() {
            let url = e["url"].as_str().unwrap_or_default();
            let label = label_of.get(&(url, entity)).copied().unwrap_or("not named");
            eprintln!(
                "      {} [{entity}: {label}] {}",
                date(&e["published"]),
                e["title"].as_str().unwrap_or_default()
            );
        }
        if !confirmed {
            continue;
        }
        match matched {
            Some(i) => {
                found.insert(i);
            }
            None if !labels_show_change(&items, entity, to, at) => {
                false_alarms.push(format!("{entity} -> {to} at {at}"))
            }
            None => {}
        }
        if !passing.is_empty() {
            from_passing_mentions.push(format!("{entity} -> {to} at {at}: {passing:?}"));
        }
    }
    // The timeline may show a labelled change as the calibration of its first regime (no earlier
    // regime observed: the corpus has no story of the stance it left), or already hold the new
    // stance from an earlier change the pool reports again later.
    for (i, l) in labelled.iter().enumerate().filter(|(_, l)| l.entity != "other") {
        let history: serde_json::Value =
            serde_json::from_str(&sb.ok(&["history", &l.entity, "--format", "json"])).expect("history JSON");
        let calibration = &history["prior"]["calibration"];
        if calibration.is_object()
            && calibration["to"] == l.to.as_str()
            && l.admits(&l.entity, &l.to, date(&calibration["at"]))
        {
            eprintln!(
                "  {} {} calibrated to {} (no earlier regime observed)",
                date(&calibration["at"]),
                l.entity,
                l.to
            );
            found.insert(i);
        }
        let carried = changes
            .iter()
            .filter(|c| c["entity"] == l.entity.as_str() && c["level"] == "confirmed" && date(&c["at"]) <= l.first)
            .max_by_key(|c| date(&c["at"]))
            .is_some_and(|c| c["to"] == l.to.as_str());
        if carried {
            found.insert(i);
        }
    }
    let missed: Vec<String> = labelled
        .iter()
        .enumerate()
        .filter(|(i, _)| !found.contains(i))
        .map(|(_, l)| format!("{} -> {} ({} .. {})", l.entity, l.to, l.first, l.last))
        .collect();
    // Not yet every labelled change: single-report changes and those the timeline holds only as
    // `possible` are listed for review; the changes the product exists to catch must hold.
    eprintln!(
        "labelled changes not confirmed inside their window ({} of {}): {missed:#?}",
        missed.len(),
        labelled.len()
    );
    for (entity, to, first) in
        [("meta", "closed", "2025-07-14"), ("openai", "open", "2025-02-19"), ("google", "open", "2026-04-02")]
    {
        let first = NaiveDate::parse_from_str(first, "%Y-%m-%d").unwrap();
        let i = labelled.iter().position(|l| l.entity == entity && l.to == to && l.first == first);
        assert!(i.is_some_and(|i| found.contains(&i)), "{entity} -> {to} from {first} not confirmed: {changes:#?}");
    }
    assert!(false_alarms.is_empty(), "confirmed changes the labels do not support: {false_alarms:#?}");
    assert!(from_passing_mentions.is_empty(), "changes confirmed from passing mentions: {from_passing_mentions:#?}");

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
