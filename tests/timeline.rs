//! Stance timelines built from synthetic coverage, through the real stages: items are imported
//! into a SQLite file (classified by the stance engine, clustered by dedup), then each entity's
//! timeline is recomputed and its change events stored.

use chrono::{Days, NaiveDate};
use stancewatch::config;
use stancewatch::poll::Pipeline;
use stancewatch::stance::{Classifier, Profile};
use stancewatch::store::Store;

const TOPICS: &[&str] = &[
    "translation",
    "coding",
    "vision",
    "speech",
    "reasoning",
    "robotics",
    "medical",
    "math",
    "chemistry",
    "weather",
    "music",
    "video",
    "legal",
    "finance",
    "biology",
    "retrieval",
    "agent",
    "gaming",
    "search",
    "tutoring",
];

/// One synthetic item: a headline about Meta on `day` (days after 2023-09-01) from `outlet`.
struct Item {
    day: u64,
    outlet: String,
    title: String,
}

fn open_item(day: u64, n: usize) -> Item {
    let topic = TOPICS[n % TOPICS.len()];
    let titles = [
        format!("Meta releases its {topic} model {n} as open weights on Hugging Face"),
        format!("Meta open-sources a new {topic} AI model under a permissive license (release {n})"),
        format!("Llama {n} {topic} edition ships with downloadable open weights, Meta says"),
    ];
    Item { day, outlet: format!("outlet{}.example", n % 7), title: titles[n % 3].clone() }
}

fn closed_item(day: u64, n: usize, outlet: &str) -> Item {
    let topic = TOPICS[(n * 7) % TOPICS.len()];
    let titles = [
        format!("Meta keeps its new {topic} AI model {n} proprietary, available only through its API"),
        format!("Meta will not release the weights of its {topic} AI model {n}"),
        format!("Meta's {topic} AI model {n} is closed-source, sold only via API"),
    ];
    Item { day, outlet: outlet.to_string(), title: titles[n % 3].clone() }
}

fn jsonl(items: &[Item]) -> String {
    let start = NaiveDate::from_ymd_opt(2023, 9, 1).unwrap();
    items
        .iter()
        .map(|it| {
            let day = start + Days::new(it.day);
            let slug: String = it.title.chars().filter(char::is_ascii_alphanumeric).collect();
            serde_json::json!({
                "title": it.title,
                "url": format!("https://{}/{day}/{slug}", it.outlet),
                "published": day.to_string(),
            })
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

struct Harness {
    dir: tempfile::TempDir,
    store: Store,
    pipeline: Pipeline,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let config = config::load(None).unwrap();
        let store = Store::open(&dir.path().join("sw.db")).unwrap();
        let pipeline = Pipeline::new(&config, Classifier::new(Profile::builtin())).unwrap();
        Harness { dir, store, pipeline }
    }

    fn import(&mut self, items: &[Item], source: &str) {
        stancewatch::import::import(&self.pipeline, &mut self.store, &jsonl(items), "test", source).unwrap();
    }

    /// Meta's change events: (from, to, level, at, evidence URLs sorted).
    fn changes(&self) -> Vec<(String, String, String, String, Vec<String>)> {
        self.store
            .changes(Some("meta"), None)
            .unwrap()
            .into_iter()
            .map(|c| {
                let mut urls: Vec<String> = c.evidence.iter().filter_map(|e| e.url.clone()).collect();
                urls.sort();
                (c.from, c.to, c.level, c.at, urls)
            })
            .collect()
    }

    fn confirmed(&self) -> Vec<(String, String, String)> {
        self.changes().into_iter().filter(|c| c.2 == "confirmed").map(|c| (c.0, c.1, c.3)).collect()
    }
}

fn date(day: u64) -> String {
    (NaiveDate::from_ymd_opt(2023, 9, 1).unwrap() + Days::new(day)).to_string()
}

/// A year of weekly open coverage.
fn open_year() -> Vec<Item> {
    (0..52).map(|w| open_item(w * 7, w as usize)).collect()
}

#[test]
fn a_clean_shift_is_confirmed_by_the_evidence_rule() {
    let mut h = Harness::new();
    let mut items = open_year();
    items.push(closed_item(400, 1, "a.example"));
    items.push(closed_item(405, 2, "b.example"));
    h.import(&items, "archive");
    assert!(h.confirmed().is_empty(), "two closed clusters are not yet a confirmed change: {:?}", h.changes());
    h.import(&[closed_item(410, 3, "c.example")], "archive");
    assert_eq!(h.confirmed(), vec![("open".into(), "closed".into(), date(400))], "{:?}", h.changes());
    let stances = stancewatch::history::stances(&h.store, h.pipeline.profile(), &h.pipeline.changes, None).unwrap();
    let meta = stances.iter().find(|s| s.entity == "meta").unwrap();
    assert_eq!(meta.stance.as_str(), "closed");
    let before = NaiveDate::from_ymd_opt(2024, 6, 1);
    let then = stancewatch::history::stances(&h.store, h.pipeline.profile(), &h.pipeline.changes, before).unwrap();
    assert_eq!(then.iter().find(|s| s.entity == "meta").unwrap().stance.as_str(), "open", "the stance as of a date");
}

#[test]
fn evidence_against_a_prior_no_story_showed_calibrates_the_timeline_without_a_change() {
    // Meta's profile prior is open (since 2023-07-18); the only coverage says closed.
    let items: Vec<Item> = (0..20).map(|w| closed_item(w * 7, w as usize, &format!("c{}.example", w % 5))).collect();
    let mut h = Harness::new();
    h.import(&items, "archive");
    assert!(h.changes().is_empty(), "a calibration is no change event: {:?}", h.changes());
    let today = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let history = |h: &Harness| {
        stancewatch::history::history(&h.store, h.pipeline.profile(), &h.pipeline.changes, "meta", today).unwrap()
    };
    let report = history(&h);
    assert_eq!((report.stance.as_str(), report.since.as_deref()), ("closed", Some("2023-07-18")));
    assert!(report.months.iter().all(|m| m.stance.as_str() == "closed"), "no open stretch: {:?}", report.months);
    let json = serde_json::to_value(&report).unwrap();
    let calibration = &json["prior"]["calibration"];
    assert_eq!((calibration["from"].as_str(), calibration["to"].as_str()), (Some("open"), Some("closed")), "{json:#}");
    assert_eq!(calibration["at"].as_str(), Some(date(0).as_str()), "{json:#}");
    assert!(calibration["evidence"].as_array().is_some_and(|e| !e.is_empty()), "{json:#}");
    let mut table = Vec::new();
    stancewatch::history::print_history(&mut table, stancewatch::output::Format::Table, &report).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert!(table.contains("calibrated from the profile's prior open to closed on "), "{table}");
    assert!(table.contains("no change detected"), "{table}");

    // The same, with the evidence arriving cycle by cycle.
    let mut batches = Harness::new();
    for batch in items.chunks(3) {
        batches.import(batch, "archive");
    }
    assert!(batches.changes().is_empty(), "{:?}", batches.changes());
    assert_eq!(serde_json::to_value(history(&batches)).unwrap()["prior"], json["prior"]);
}

#[test]
fn status_names_the_change_detected_last_with_its_evidence() {
    let mut h = Harness::new();
    let empty = stancewatch::status::gather(&h.store, chrono::Utc::now()).unwrap();
    assert!(empty.last_change.is_none());
    let mut items = open_year();
    items.extend([
        closed_item(400, 1, "a.example"),
        closed_item(405, 2, "b.example"),
        closed_item(410, 3, "c.example"),
    ]);
    h.import(&items, "archive");
    let status = stancewatch::status::gather(&h.store, chrono::Utc::now()).unwrap();
    let last = status.last_change.expect("a change");
    let newest = h.store.changes(None, None).unwrap().into_iter().max_by(|a, b| a.detected_at.cmp(&b.detected_at));
    assert_eq!(Some(&last), newest.as_ref());
    assert!(!last.evidence.is_empty(), "{last:?}");
}

#[test]
fn a_single_hedged_report_is_only_possible() {
    let mut h = Harness::new();
    let mut items = open_year();
    items.push(Item {
        day: 400,
        outlet: "rumours.example".into(),
        title: "Meta is reportedly considering a closed-source release for its next frontier AI model".into(),
    });
    h.import(&items, "archive");
    let changes = h.changes();
    assert!(h.confirmed().is_empty(), "{changes:?}");
    assert!(changes.iter().any(|c| c.1 == "closed" && c.2 == "possible"), "a possible change: {changes:?}");
}

#[test]
fn a_burst_of_copies_of_one_story_does_not_confirm() {
    let mut h = Harness::new();
    let mut items = open_year();
    let copy = closed_item(400, 5, "x");
    for o in 0..12 {
        items.push(Item { day: 400, outlet: format!("copy{o}.example"), title: copy.title.clone() });
    }
    h.import(&items, "archive");
    assert!(h.confirmed().is_empty(), "one story in twelve outlets is one piece of evidence: {:?}", h.changes());
}

/// One event (Meta keeping a model closed) reported on day 400 by `first` and `second` in their
/// own words, or by copies of one article when `copies`; then another closed cluster a week later.
fn two_reports_and_a_cluster(first: &str, second: &str, copies: bool) -> Vec<Item> {
    let one = "Meta will not release the weights of its Orion 7 AI model";
    let other = if copies { one } else { "Meta withholds Orion 7 AI model weights, offering it only through its API" };
    let mut items = open_year();
    items.push(Item { day: 400, outlet: first.into(), title: one.into() });
    items.push(Item { day: 400, outlet: second.into(), title: other.into() });
    items.push(closed_item(407, 2, "c.example"));
    items
}

#[test]
fn outlets_writing_up_one_event_are_independent_reports_but_copies_are_one() {
    let mut h = Harness::new();
    h.import(&two_reports_and_a_cluster("a.example", "b.example", false), "archive");
    let db = rusqlite::Connection::open(h.dir.path().join("sw.db")).unwrap();
    let clusters =
        db.query_row("SELECT count(DISTINCT cluster_id) FROM stories WHERE title LIKE '%Orion 7%'", [], |r| {
            r.get::<_, i64>(0)
        });
    assert_eq!(clusters.unwrap(), 1, "the two articles are one event");
    assert_eq!(h.confirmed(), vec![("open".into(), "closed".into(), date(400))], "three reports: {:?}", h.changes());

    for (first, second, copies, why) in [
        ("a.example", "b.example", true, "a copy of one article is not a second report"),
        ("a.example", "a.example", false, "one outlet's two articles are one report"),
    ] {
        let mut h = Harness::new();
        h.import(&two_reports_and_a_cluster(first, second, copies), "archive");
        assert!(h.confirmed().is_empty(), "{why}: {:?}", h.changes());
    }
}

#[test]
fn a_steady_stance_with_misread_stories_gives_no_change_over_two_years() {
    let mut h = Harness::new();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut items = Vec::new();
    // Two years, three stories a week on distinct days; one in five reads as closed.
    for n in 0..312usize {
        let day = (n as u64 * 7) / 3;
        if rng.f64() < 0.2 {
            items.push(closed_item(day, n, &format!("outlet{}.example", n % 7)));
        } else {
            items.push(open_item(day, n));
        }
    }
    h.import(&items, "archive");
    assert!(h.confirmed().is_empty(), "{:?}", h.changes());
}

fn reversal() -> Vec<Item> {
    let mut items = open_year();
    for (i, day) in [400u64, 404, 409, 430, 460].into_iter().enumerate() {
        items.push(closed_item(day, i, &format!("c{i}.example")));
    }
    for (i, day) in [700u64, 703, 707, 720, 740, 760].into_iter().enumerate() {
        items.push(open_item(day, 100 + i));
    }
    items
}

#[test]
fn a_reversal_is_caught() {
    let mut h = Harness::new();
    h.import(&reversal(), "archive");
    let confirmed = h.confirmed();
    assert_eq!(
        confirmed,
        vec![("open".into(), "closed".into(), date(400)), ("closed".into(), "open".into(), date(700))],
        "{:?}",
        h.changes()
    );
}

#[test]
fn shuffled_ingestion_in_many_batches_gives_the_same_events() {
    let mut whole = Harness::new();
    whole.import(&reversal(), "archive");
    let expected = whole.changes();
    assert!(!expected.is_empty());
    for seed in [1u64, 2, 3] {
        let mut items = reversal();
        fastrand::Rng::with_seed(seed).shuffle(&mut items);
        let mut h = Harness::new();
        for batch in items.chunks(9) {
            h.import(batch, "archive");
        }
        assert_eq!(h.changes(), expected, "seed {seed}");
    }
}

#[test]
fn a_possible_change_later_confirmed_is_upgraded_not_duplicated() {
    let mut h = Harness::new();
    let mut items = open_year();
    items.push(closed_item(400, 1, "a.example"));
    h.import(&items, "archive");
    let first = h.changes();
    h.import(&[closed_item(404, 2, "b.example"), closed_item(409, 3, "c.example")], "archive");
    let after = h.store.changes(Some("meta"), None).unwrap();
    assert_eq!(after.len(), 1, "before: {first:?}, after: {after:?}");
    assert_eq!(after[0].level, "confirmed");
    if let Some(possible) = first.first() {
        assert_eq!((possible.0.as_str(), possible.1.as_str()), ("open", "closed"), "the same event, upgraded");
    }
}

#[test]
fn news_arriving_in_order_cycle_by_cycle_gives_the_same_events_as_one_batch() {
    // The daemon appends new evidence to the timelines it keeps; the result must not differ
    // from recomputing everything at once.
    let mut whole = Harness::new();
    whole.import(&reversal(), "archive");
    let mut items = reversal();
    items.sort_by_key(|i| i.day);
    let mut h = Harness::new();
    for batch in items.chunks(4) {
        h.import(batch, "archive");
    }
    assert_eq!(h.changes(), whole.changes());
}

#[test]
fn delays_critics_and_licence_disputes_are_not_changes() {
    let mut h = Harness::new();
    let mut items = open_year();
    let noise = [
        "Critics argue Meta's Llama AI models are a black box and closed source in all but name",
        "Meta's Llama 5 license is not truly open source by the OSI definition, researchers say",
        "Critics say Meta's new AI model license is not open source",
        "Meta delays the release of its closed-source frontier AI model to next year",
        "Meta postponed the launch of its proprietary AI model again",
        "Is Meta's Llama really open? Critics accuse Meta of open-washing its AI models",
    ];
    for (i, title) in noise.iter().enumerate() {
        items.push(Item { day: 400 + 3 * i as u64, outlet: format!("n{i}.example"), title: title.to_string() });
    }
    h.import(&items, "archive");
    assert!(h.confirmed().is_empty(), "{:?}", h.changes());
}

/// `history meta --format json`, read through `store`.
fn history_json(h: &Harness, store: &Store) -> String {
    let config = config::load(None).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let report = stancewatch::history::history(store, h.pipeline.profile(), &config.changes, "meta", today).unwrap();
    serde_json::to_string(&report).unwrap()
}

#[test]
fn the_saved_summary_is_the_recomputed_history_and_is_not_read_once_readings_change() {
    let mut h = Harness::new();
    let items = reversal();
    // Two imports: the second appends to the timeline the first computed.
    h.import(&items[..55], "archive");
    h.import(&items[55..], "archive");
    let config = config::load(None).unwrap();
    let profile = h.pipeline.profile().clone();
    let key = |entity: &str| stancewatch::timeline::summary_key(&profile, &config.changes, entity);
    for e in &profile.entities {
        assert!(h.store.current_summary(&e.key, &key(&e.key)).unwrap().is_some(), "{} has no summary", e.key);
    }
    let saved = history_json(&h, &h.store);
    assert!(saved.contains("\"level\":\"confirmed\""), "{saved}");

    // Without its summaries the history is computed from the readings, and reads the same.
    let db = h.dir.path().join("sw.db");
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute("DELETE FROM entity_summaries", []).unwrap();
    assert_eq!(history_json(&h, &h.store), saved);

    // A reading changed by another writer puts the summary out of date: what is shown is
    // computed from the readings as they are now.
    h.import(&items[..1], "archive");
    assert!(h.store.current_summary("meta", &key("meta")).unwrap().is_some());
    let changed = raw
        .execute(
            "UPDATE story_entities SET stance = 'open' WHERE entity = 'meta' AND stance = 'closed'
               AND story_id IN (SELECT id FROM stories WHERE published_at < '2024-10-15')",
            [],
        )
        .unwrap();
    assert!(changed > 0);
    assert!(h.store.current_summary("meta", &key("meta")).unwrap().is_none());
    let edited = history_json(&h, &h.store);
    assert_ne!(edited, saved);
    raw.execute("DELETE FROM entity_summaries", []).unwrap();
    assert_eq!(history_json(&h, &h.store), edited);
}

#[test]
fn clusters_merged_by_another_writer_are_recomputed_not_appended_to() {
    let mut h = Harness::new();
    h.import(&reversal(), "archive");
    let config = config::load(None).unwrap();
    let key = stancewatch::timeline::summary_key(h.pipeline.profile(), &config.changes, "meta");
    // Another writer folds Meta's closed clusters of late 2024 into one: fewer observations.
    let raw = rusqlite::Connection::open(h.dir.path().join("sw.db")).unwrap();
    let merged = raw
        .execute(
            "UPDATE stories SET cluster_id = (SELECT min(id) FROM stories WHERE title LIKE '%proprietary%'
                                                OR title LIKE '%will not release%' OR title LIKE '%closed-source%')
             WHERE title LIKE '%proprietary%' OR title LIKE '%will not release%' OR title LIKE '%closed-source%'",
            [],
        )
        .unwrap();
    assert!(merged > 1);
    // A cycle whose stories do not concern Meta: its timeline, kept in memory since the first
    // import, must be recomputed from the rewritten clusters, not extended.
    let elsewhere = Item { day: 800, outlet: "other.example".into(), title: "Weather service adds rain alerts".into() };
    h.import(&[elsewhere], "archive");
    let saved = h.store.current_summary("meta", &key).unwrap().expect("a current summary");
    let kept = history_json(&h, &h.store);
    raw.execute("DELETE FROM entity_summaries", []).unwrap();
    assert_eq!(history_json(&h, &h.store), kept, "the saved summary is the recomputed one");
    let closed: usize = saved.months.values().map(|m| m[1]).sum();
    assert_eq!(closed, 1, "one merged closed cluster: {saved:?}");
}

#[test]
fn a_reading_added_to_a_stored_story_by_another_writer_is_recomputed_not_appended_to() {
    let mut h = Harness::new();
    let mut items = open_year();
    let other = Item {
        day: 380,
        outlet: "lab.example".into(),
        title: "OpenAI keeps its new reasoning model proprietary, available only through its API".into(),
    };
    items.push(other);
    h.import(&items, "archive");
    let config = config::load(None).unwrap();
    let key = stancewatch::timeline::summary_key(h.pipeline.profile(), &config.changes, "meta");
    // Another writer reads Meta into the OpenAI story too (as a re-read under a new profile would).
    let raw = rusqlite::Connection::open(h.dir.path().join("sw.db")).unwrap();
    let added = raw
        .execute(
            "INSERT INTO story_entities (story_id, entity, stance, confidence, certainty, evidence, basis)
             SELECT id, 'meta', 'closed', 0.9, 'certain', title, 'report' FROM stories WHERE title LIKE 'OpenAI keeps%'",
            [],
        )
        .unwrap();
    assert_eq!(added, 1);
    let elsewhere = Item { day: 800, outlet: "other.example".into(), title: "Weather service adds rain alerts".into() };
    h.import(&[elsewhere], "archive");
    let saved = h.store.current_summary("meta", &key).unwrap().expect("a current summary");
    assert_eq!(saved.months.values().map(|m| m[1]).sum::<usize>(), 1, "the added closed reading: {saved:?}");
    let kept = history_json(&h, &h.store);
    raw.execute("DELETE FROM entity_summaries", []).unwrap();
    assert_eq!(history_json(&h, &h.store), kept);
}
