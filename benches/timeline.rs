//! Timeline recomputation: one entity with 100,000 stories (each its own cluster) in a SQLite
//! file — load the observations, run the change detector, save the events — and the cost of a
//! new story (its entity's timeline is recomputed). Prints the figures.

use std::time::Instant;

use stancewatch::stance::Profile;
use stancewatch::store::Store;
use stancewatch::timeline::{ChangeSettings, TimelineCache, detect, entity_observations, entity_timeline, refresh};

const STORIES: i64 = 100_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let mut store = Store::open(&path).unwrap();
    store.add_feed("https://bench.example/feed.xml", None, None, "cli").unwrap();
    drop(store);

    // Six years of coverage, 20% misread, a move from open to closed at 70%.
    let started = Instant::now();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    let mut rng = fastrand::Rng::with_seed(1);
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    for i in 1..=STORIES {
        let at = start + chrono::Duration::minutes(i * 30);
        let truth = if i < STORIES * 7 / 10 { "open" } else { "closed" };
        let stance = if rng.f64() < 0.2 { ["open", "closed", "mixed"][rng.usize(..3)] } else { truth };
        let t = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        conn.execute(
            "INSERT INTO stories (id, feed_id, entry_key, entry_key_kind, title, published_at, fetched_at, content_hash,
                                  relevant, cluster_id, outlet)
             VALUES (?1, 1, ?1, 'hash', 'story', ?2, ?2, 'h', 1, ?1, ?3)",
            rusqlite::params![i, t, format!("outlet{}.example", i % 40)],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO story_entities (story_id, entity, stance, confidence, certainty, evidence)
             VALUES (?1, 'meta', ?2, ?3, ?4, 'sentence')",
            rusqlite::params![i, stance, 0.3 + 0.7 * rng.f64(), if rng.bool() { "certain" } else { "probable" }],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    println!("setup: {STORIES} stories for one entity in {:.1} s", started.elapsed().as_secs_f64());

    let mut store = Store::open(&path).unwrap();
    let profile = Profile::builtin();
    let settings = ChangeSettings::default();
    let entities = vec!["meta".to_string()];

    let t = Instant::now();
    let observations = entity_observations(&store, "meta", None, settings.copy_jaccard).unwrap();
    let load = t.elapsed();
    let t = Instant::now();
    let timeline = detect(profile.entity("meta").and_then(|e| e.prior), &observations, &settings);
    let detect_time = t.elapsed();
    println!(
        "load {} observations: {:.0} ms; change detection: {:.0} ms ({:.1} µs per observation); {} changes ({} confirmed)",
        observations.len(),
        load.as_secs_f64() * 1e3,
        detect_time.as_secs_f64() * 1e3,
        detect_time.as_secs_f64() * 1e6 / observations.len() as f64,
        timeline.changes.len(),
        timeline.changes.iter().filter(|c| c.level == stancewatch::timeline::Level::Confirmed).count()
    );

    let rounds = 5;
    let now = chrono::Utc::now();
    let t = Instant::now();
    for _ in 0..rounds {
        refresh(&mut store, &profile, &settings, &entities, &TimelineCache::default(), 0, now).unwrap();
    }
    let full = t.elapsed().as_secs_f64() / rounds as f64;
    println!("full recomputation of the entity (load, detect, save): {:.0} ms", full * 1e3);

    // New stories, as the daemon sees them: stored, then the entity's timeline brought up to
    // date — appended to the timeline it keeps between cycles.
    let cache = TimelineCache::default();
    refresh(&mut store, &profile, &settings, &entities, &cache, 0, now).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let t = Instant::now();
    for i in 0..rounds {
        let before = store.max_story_id().unwrap();
        let cycle = chrono::Utc::now();
        let id = STORIES + 1 + i;
        let at = (start + chrono::Duration::minutes(id * 30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        store_new_story(&conn, id, &at);
        refresh(&mut store, &profile, &settings, &entities, &cache, before, cycle).unwrap();
    }
    println!(
        "a new story in a poll cycle (store + update its entity's timeline): {:.1} ms per story",
        t.elapsed().as_secs_f64() * 1e3 / rounds as f64
    );
    // A late story (published before the newest evidence): the entity is recomputed.
    let before = store.max_story_id().unwrap();
    let cycle = chrono::Utc::now();
    let t = Instant::now();
    store_new_story(&conn, before + 1, "2021-06-01T00:00:00Z");
    refresh(&mut store, &profile, &settings, &entities, &cache, before, cycle).unwrap();
    println!("a late story (store + recompute its entity): {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let _ = entity_timeline(&store, &profile, &settings, "openai", None).unwrap();
    println!("an entity with no stories: {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
}

/// A new story with a closed reading of Meta, written as a poll writes it: the story, its
/// reading, then its cluster (its own).
fn store_new_story(conn: &rusqlite::Connection, id: i64, published: &str) {
    conn.execute(
        "INSERT INTO stories (id, feed_id, entry_key, entry_key_kind, title, published_at, fetched_at, content_hash,
                              relevant, outlet)
         VALUES (?1, 1, ?1, 'hash', 'story', ?2, ?2, 'h', 1, 'late.example')",
        rusqlite::params![id, published],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO story_entities (story_id, entity, stance, confidence, certainty, evidence)
         VALUES (?1, 'meta', 'closed', 0.8, 'certain', 'sentence')",
        [id],
    )
    .unwrap();
    conn.execute("UPDATE stories SET cluster_id = id WHERE id = ?1", [id]).unwrap();
}
