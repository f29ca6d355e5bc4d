//! The timeline's SQL: each entity's stored readings as rows (`timeline::EvidenceSource`; the
//! evidence rule is the timeline's), and the change events found in them (reconciled, so
//! recomputing never duplicates an event).

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, time_text};
use crate::stance::{Basis, Certainty, Stance};
pub use crate::timeline::SavedChanges;
use crate::timeline::{
    Change, ChangeSink, EvidenceGeneration, EvidenceSource, Level, ReadingFilter, StoredReading, Summary,
};

/// One evidence story of a change (DESIGN 4.2).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvidenceRow {
    pub story: i64,
    pub url: Option<String>,
    pub source: Option<String>,
    pub published: String,
    pub title: String,
}

/// A stored change event (DESIGN 4.2's change object).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangeRow {
    #[serde(skip)]
    pub id: i64,
    pub entity: String,
    pub from: String,
    pub to: String,
    pub level: String,
    pub at: String,
    pub detected_at: String,
    pub confidence: f64,
    pub evidence: Vec<EvidenceRow>,
}

/// How a change event is named outside the database (the Atom feeds): its reconciliation key
/// (`entity|from|to|day`, the same across recomputations and restarts) and when it last
/// changed for a reader (detected, or confirmed later).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeStamp {
    pub key: String,
    pub updated: String,
}

/// Entity ?1's saved summary row, if it was computed under key ?2 at the entity's current
/// evidence generation.
const CURRENT_SUMMARY: &str = "entity = ?1 AND settings = ?2
    AND generation = coalesce((SELECT generation FROM entity_generations WHERE entity = ?1), 0)";

/// The columns `change_row` reads, in its order.
const CHANGE_COLUMNS: &str = "id, entity, from_stance, to_stance, level, at, detected_at, confidence";

fn change_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeRow> {
    Ok(ChangeRow {
        id: r.get(0)?,
        entity: r.get(1)?,
        from: r.get(2)?,
        to: r.get(3)?,
        level: r.get(4)?,
        at: r.get(5)?,
        detected_at: r.get(6)?,
        confidence: r.get(7)?,
        evidence: Vec::new(),
    })
}

impl EvidenceSource for Store {
    /// The stored readings of `entity` that `filter` admits (the timeline decides which are
    /// evidence): one row per (story, entity), with the story's cluster, time, outlet, address
    /// and wording.
    fn readings(
        &self,
        entity: &str,
        until: Option<NaiveDate>,
        after_id: i64,
        filter: &ReadingFilter,
    ) -> Result<Vec<StoredReading>> {
        let until = until.map(|d| format!("{d}T23:59:59Z"));
        // All of an entity's rows through its index; only the newest through the story ids.
        let entity_match = if after_id > 0 { "+e.entity = ?1" } else { "e.entity = ?1" };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT s.cluster_id, s.id, s.published_at, s.outlet, coalesce(s.canonical_url, s.url, s.title),
                    s.relevant, e.stance, e.confidence, e.certainty, e.basis, h.to_stance, s.title, s.summary
             FROM story_entities e JOIN stories s ON s.id = e.story_id
             LEFT JOIN story_shifts h ON h.story_id = e.story_id AND h.entity = e.entity
             WHERE e.story_id > ?3 AND {entity_match} AND (?2 IS NULL OR s.published_at <= ?2){}",
            filter_sql(filter)
        ))?;
        let rows = stmt.query_map(params![entity, until, after_id], |r| {
            Ok(StoredReading {
                cluster: r.get(0)?,
                story: r.get(1)?,
                published: r.get(2)?,
                outlet: r.get(3)?,
                address: r.get(4)?,
                relevant: r.get::<_, Option<i64>>(5)? == Some(1),
                stance: Stance::parse(r.get_ref(6)?.as_str()?).unwrap_or(Stance::Neutral),
                confidence: r.get(7)?,
                certainty: certainty(r.get_ref(8)?.as_str()?),
                basis: basis(r.get_ref(9)?.as_str()?),
                shift_to: r.get_ref(10)?.as_str_or_null()?.and_then(Stance::parse),
                title: r.get(11)?,
                summary: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn max_story_id(&self) -> Result<i64> {
        Store::max_story_id(self)
    }

    fn only_new_clusters(&self, entity: &str, after_id: i64, since: DateTime<Utc>) -> Result<bool> {
        Store::only_new_clusters(self, entity, after_id, since)
    }

    fn evidence_generation(&self, entity: &str) -> Result<EvidenceGeneration> {
        Store::evidence_generation(self, entity)
    }

    fn has_current_summary(&self, entity: &str, key: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT 1 FROM entity_summaries WHERE {CURRENT_SUMMARY}"))?
            .query_row([entity, key], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

impl ChangeSink for Store {
    fn save_changes(&mut self, entity: &str, changes: &[Change], now: DateTime<Utc>) -> Result<SavedChanges> {
        Store::save_changes(self, entity, changes, now)
    }

    fn save_summary(&mut self, entity: &str, generation: i64, key: &str, summary: &Summary) -> Result<()> {
        Store::save_summary(self, entity, generation, key, summary)
    }
}

/// `filter` as conditions on `e` (story_entities) and `s` (stories). The stance condition
/// leaves out readings through the `(entity, stance)` index, before their rows are read.
fn filter_sql(filter: &ReadingFilter) -> String {
    let list = |values: Vec<&str>| values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ");
    let stances = list(filter.stances.iter().map(|s| s.as_str()).collect());
    let bases = list(filter.bases.iter().map(|b| b.as_str()).collect());
    let relevant = if filter.relevant_only { " AND s.relevant = 1" } else { "" };
    format!(" AND e.stance IN ({stances}) AND e.basis IN ({bases}){relevant}")
}

/// A stored certainty (a value this version does not know reads as the weakest, a question).
fn certainty(text: &str) -> Certainty {
    match text {
        "certain" => Certainty::Certain,
        "probable" => Certainty::Probable,
        "possible" => Certainty::Possible,
        _ => Certainty::Question,
    }
}

/// A stored basis (a value this version does not know reads as a passing mention).
fn basis(text: &str) -> Basis {
    match text {
        "report" => Basis::Report,
        "dispute" => Basis::Dispute,
        "opinion" => Basis::Opinion,
        _ => Basis::Mention,
    }
}

impl Store {
    /// Entities with evidence in stories stored after story `after_id` or changed since `since`.
    pub fn entities_touched(&self, after_id: i64, since: DateTime<Utc>) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            // Written so both halves are range searches (the new stories by key, the changed
            // ones through `stories_changed`) rather than a scan of every reading.
            "SELECT entity FROM (
                 SELECT e.entity FROM story_entities e WHERE e.story_id > ?1
                 UNION ALL
                 SELECT e.entity FROM story_entities e
                 WHERE e.story_id IN (SELECT id FROM stories WHERE changed_at >= ?2)
             ) GROUP BY 1 ORDER BY 1",
        )?;
        let rows = stmt.query_map(params![after_id, time_text(since)], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether all of `entity`'s evidence in stories above `after_id` is in clusters of their
    /// own (none joined or merged an older cluster) and no older story about it changed since
    /// `since`: then the new evidence can be appended to a timeline computed before.
    pub fn only_new_clusters(&self, entity: &str, after_id: i64, since: DateTime<Utc>) -> Result<bool> {
        let joined_old: i64 = self.conn.query_row(
            "SELECT count(*) FROM story_entities e JOIN stories s ON s.id = e.story_id
             WHERE e.story_id > ?2 AND +e.entity = ?1 AND s.cluster_id <= ?2",
            params![entity, after_id],
            |r| r.get(0),
        )?;
        let changed_old: i64 = self.conn.query_row(
            "SELECT count(*) FROM stories s WHERE s.changed_at >= ?3 AND s.id <= ?2
               AND EXISTS (SELECT 1 FROM story_entities e WHERE e.story_id = s.id AND e.entity = ?1)",
            params![entity, after_id, time_text(since)],
            |r| r.get(0),
        )?;
        Ok(joined_old == 0 && changed_old == 0)
    }

    /// The largest story id (0 when there are none).
    pub fn max_story_id(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) FROM stories", [], |r| r.get(0))?)
    }

    /// Store the entity's recomputed changes: new ones are added, known ones (same entity, from,
    /// to and left regime) updated — a `possible` now confirmed is upgraded in place — and
    /// stored ones the evidence no longer supports are marked withdrawn. One transaction.
    pub fn save_changes(&mut self, entity: &str, changes: &[Change], now: DateTime<Utc>) -> Result<SavedChanges> {
        let now = time_text(now);
        let what = format!("save the stance changes of {entity}");
        let tx = super::begin(&mut self.conn, &self.path, &what)?;
        let mut saved = SavedChanges::default();
        let existing: Vec<(i64, String, String, Option<String>)> = tx
            .prepare_cached("SELECT id, event_key, level, withdrawn_at FROM change_events WHERE entity = ?1")?
            .query_map([entity], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut kept = Vec::new();
        for c in changes {
            let since = c.regime_since.map_or("-".to_string(), |d| d.to_string());
            let key = format!("{entity}|{}|{}|{since}", c.from.as_str(), c.to.as_str());
            let confirmed = c.level == Level::Confirmed;
            let id = match existing.iter().find(|e| e.1 == key) {
                Some((id, _, level, withdrawn)) => {
                    if confirmed && (level != "confirmed" || withdrawn.is_some()) {
                        saved.upgraded += usize::from(level != "confirmed");
                    }
                    tx.prepare_cached(
                        "UPDATE change_events SET level = ?2, at = ?3, confidence = ?4, withdrawn_at = NULL,
                             confirmed_at = CASE WHEN ?2 = 'confirmed' THEN coalesce(confirmed_at, ?5) END
                         WHERE id = ?1",
                    )?
                    .execute(params![
                        id,
                        c.level.as_str(),
                        c.at.to_string(),
                        c.confidence,
                        now
                    ])?;
                    *id
                }
                None => {
                    tx.prepare_cached(
                        "INSERT INTO change_events
                             (entity, event_key, from_stance, to_stance, level, at, detected_at, confirmed_at, confidence)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?5 = 'confirmed' THEN ?7 END, ?8)",
                    )?
                    .execute(params![
                        entity,
                        key,
                        c.from.as_str(),
                        c.to.as_str(),
                        c.level.as_str(),
                        c.at.to_string(),
                        now,
                        c.confidence
                    ])?;
                    if confirmed {
                        saved.new_confirmed += 1;
                    } else {
                        saved.new_possible += 1;
                    }
                    tx.last_insert_rowid()
                }
            };
            tx.prepare_cached("DELETE FROM change_evidence WHERE change_id = ?1")?.execute([id])?;
            let mut add =
                tx.prepare_cached("INSERT OR IGNORE INTO change_evidence (change_id, story_id) VALUES (?1, ?2)")?;
            for story in &c.evidence {
                add.execute(params![id, story])?;
            }
            kept.push(id);
        }
        for (id, _, _, withdrawn) in &existing {
            if !kept.contains(id) && withdrawn.is_none() {
                tx.prepare_cached("UPDATE change_events SET withdrawn_at = ?2 WHERE id = ?1")?
                    .execute(params![id, now])?;
                saved.withdrawn += 1;
            }
        }
        super::commit(tx, &self.path, &what)?;
        Ok(saved)
    }

    /// Stored change events (not withdrawn), oldest first, with their evidence stories.
    pub fn changes(&self, entity: Option<&str>, since: Option<NaiveDate>) -> Result<Vec<ChangeRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CHANGE_COLUMNS} FROM change_events
             WHERE withdrawn_at IS NULL AND (?1 IS NULL OR entity = ?1) AND (?2 IS NULL OR at >= ?2)
             ORDER BY at, entity, id"
        ))?;
        let mut rows: Vec<ChangeRow> = stmt
            .query_map(params![entity, since.map(|d| d.to_string())], change_row)?
            .collect::<rusqlite::Result<_>>()?;
        for row in &mut rows {
            row.evidence = self.change_evidence(row.id)?;
        }
        Ok(rows)
    }

    /// The change event detected last (ties: the one `changes` lists last), with its evidence.
    pub fn last_change(&self) -> Result<Option<ChangeRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CHANGE_COLUMNS} FROM change_events WHERE withdrawn_at IS NULL
             ORDER BY detected_at DESC, at DESC, entity DESC, id DESC LIMIT 1"
        ))?;
        let Some(mut row) = stmt.query_row([], change_row).optional()? else { return Ok(None) };
        row.evidence = self.change_evidence(row.id)?;
        Ok(Some(row))
    }

    /// The [`ChangeStamp`] of every stored change event (withdrawn ones too), by row id.
    pub fn change_stamps(&self) -> Result<std::collections::HashMap<i64, ChangeStamp>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, event_key, max(detected_at, coalesce(confirmed_at, detected_at)) FROM change_events",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, ChangeStamp { key: r.get(1)?, updated: r.get(2)? })))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn change_evidence(&self, change: i64) -> Result<Vec<EvidenceRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, s.url, s.outlet, s.published_at, s.title FROM change_evidence v
             JOIN stories s ON s.id = v.story_id WHERE v.change_id = ?1 ORDER BY s.published_at, s.id",
        )?;
        let rows = stmt.query_map([change], evidence_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `stories` as evidence rows, oldest first (ids no longer stored are left out): the
    /// evidence of a timeline result that is not a stored change event, such as a calibration.
    pub fn evidence_stories(&self, stories: &[i64]) -> Result<Vec<EvidenceRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT s.id, s.url, s.outlet, s.published_at, s.title FROM stories s WHERE s.id = ?1")?;
        let mut rows = Vec::with_capacity(stories.len());
        for id in stories {
            rows.extend(stmt.query_row([id], evidence_row).optional()?);
        }
        rows.sort_by(|a, b| a.published.cmp(&b.published).then(a.story.cmp(&b.story)));
        Ok(rows)
    }

    /// A value that moves whenever an entity's history may read differently (a counter kept by
    /// the triggers of migration 0014), so a reader can keep computed histories until it moves.
    pub fn history_generation(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("SELECT value FROM store_settings WHERE key = 'history_generation'", [], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
    }

    /// The counters that move when `entity`'s readings may read differently (kept by the
    /// triggers of migrations 0016 and 0017; 0 before its first reading).
    pub fn evidence_generation(&self, entity: &str) -> Result<EvidenceGeneration> {
        Ok(self
            .conn
            .prepare_cached("SELECT generation, rewrites FROM entity_generations WHERE entity = ?1")?
            .query_row([entity], |r| Ok(EvidenceGeneration { all: r.get(0)?, rewrites: r.get(1)? }))
            .optional()?
            .unwrap_or_default())
    }

    /// `entity`'s saved summary, if it was computed under `key` (see `timeline::summary_key`)
    /// from the readings stored now. One that does not parse (another version's) is not current.
    pub fn current_summary(&self, entity: &str, key: &str) -> Result<Option<Summary>> {
        let text: Option<String> = self
            .conn
            .prepare_cached(&format!("SELECT summary FROM entity_summaries WHERE {CURRENT_SUMMARY}"))?
            .query_row([entity, key], |r| r.get(0))
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Keep `entity`'s summary, computed from its readings at `generation` under `key`.
    pub fn save_summary(&mut self, entity: &str, generation: i64, key: &str, summary: &Summary) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO entity_summaries (entity, generation, settings, summary) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (entity) DO UPDATE SET generation = ?2, settings = ?3, summary = ?4
                 WHERE ?2 >= entity_summaries.generation OR ?3 != entity_summaries.settings",
            )?
            .execute(params![entity, generation, key, serde_json::to_string(summary)?])?;
        Ok(())
    }

    /// The story cluster of each of `stories` that has one (for links from evidence to its
    /// cluster's page).
    pub fn clusters_of(&self, stories: &[i64]) -> Result<std::collections::HashMap<i64, i64>> {
        let mut stmt = self.conn.prepare_cached("SELECT cluster_id FROM stories WHERE id = ?1")?;
        let mut out = std::collections::HashMap::new();
        for &id in stories {
            if let Some(Some(cluster)) = stmt.query_row([id], |r| r.get::<_, Option<i64>>(0)).optional()? {
                out.insert(id, cluster);
            }
        }
        Ok(out)
    }
}

fn evidence_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EvidenceRow> {
    Ok(EvidenceRow { story: r.get(0)?, url: r.get(1)?, source: r.get(2)?, published: r.get(3)?, title: r.get(4)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::{Basis, Certainty, Stance};

    /// One story per combination of relevance, stance and basis, each read for `meta`.
    fn store_with_every_kind_of_reading(dir: &std::path::Path) -> Store {
        let store = Store::open(&dir.join("t.db")).unwrap();
        store.conn.execute("INSERT INTO feeds (url, added_at) VALUES ('http://127.0.0.1/f.xml', 't')", []).unwrap();
        let mut id = 0;
        for relevant in [None, Some(0), Some(1)] {
            for stance in ReadingFilter::ALL.stances {
                for basis in ReadingFilter::ALL.bases {
                    id += 1;
                    store
                        .conn
                        .execute(
                            "INSERT INTO stories (id, feed_id, entry_key, entry_key_kind, url, canonical_url, title,
                                                  summary, published_at, fetched_at, content_hash, relevant, cluster_id,
                                                  outlet)
                             VALUES (?1, 1, ?1, 'hash', 'http://x.example/' || ?1, NULL, 'title ' || ?1, 'summary',
                                     '2025-01-01T00:00:00Z', 't', 'h', ?2, 1, 'x.example')",
                            params![id, relevant],
                        )
                        .unwrap();
                    store
                        .conn
                        .execute(
                            "INSERT INTO story_entities (story_id, entity, stance, confidence, certainty, evidence, basis)
                             VALUES (?1, 'meta', ?2, 0.5, 'probable', 'why', ?3)",
                            params![id, stance.as_str(), basis.as_str()],
                        )
                        .unwrap();
                }
            }
        }
        store
    }

    #[test]
    fn a_change_keeps_its_stamp_key_and_is_updated_when_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let time = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let mut change = Change {
            from: Stance::Open,
            to: Stance::Closed,
            level: Level::Possible,
            at: day("2026-01-05"),
            regime_since: Some(day("2023-07-18")),
            detected_on: day("2026-01-05"),
            confidence: 0.6,
            evidence: Vec::new(),
        };
        store.save_changes("meta", std::slice::from_ref(&change), time("2026-01-06T00:00:00Z")).unwrap();
        let first = store.change_stamps().unwrap();
        let (id, stamp) = first.iter().next().unwrap();
        assert_eq!(
            stamp,
            &ChangeStamp { key: "meta|open|closed|2023-07-18".into(), updated: "2026-01-06T00:00:00Z".into() }
        );
        change.level = Level::Confirmed;
        store.save_changes("meta", std::slice::from_ref(&change), time("2026-01-20T00:00:00Z")).unwrap();
        let confirmed = store.change_stamps().unwrap();
        assert_eq!(confirmed[id], ChangeStamp { key: stamp.key.clone(), updated: "2026-01-20T00:00:00Z".into() });
        // Recomputed again without news: nothing a reader would call an update.
        store.save_changes("meta", std::slice::from_ref(&change), time("2026-02-01T00:00:00Z")).unwrap();
        assert_eq!(store.change_stamps().unwrap(), confirmed);
    }

    #[test]
    fn the_query_selects_what_the_reading_filter_admits() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_every_kind_of_reading(dir.path());
        let all = store.readings("meta", None, 0, &ReadingFilter::ALL).unwrap();
        assert_eq!(all.len(), 3 * 4 * 4);
        let ids = |rows: Vec<StoredReading>| {
            let mut ids: Vec<i64> = rows.into_iter().map(|r| r.story).collect();
            ids.sort();
            ids
        };
        let admitted: Vec<StoredReading> = all.iter().filter(|r| ReadingFilter::EVIDENCE.admits(r)).cloned().collect();
        assert_eq!(admitted.len(), 3, "relevant reports of a stance");
        let evidence = store.readings("meta", None, 0, &ReadingFilter::EVIDENCE).unwrap();
        assert_eq!(ids(evidence), ids(admitted.clone()));
        // The newest stories only, read without the entity index.
        let newest = store.readings("meta", None, 40, &ReadingFilter::EVIDENCE).unwrap();
        assert_eq!(ids(newest), ids(admitted.into_iter().filter(|r| r.story > 40).collect()));
        assert!(
            store.readings("meta", NaiveDate::from_ymd_opt(2024, 12, 31), 0, &ReadingFilter::ALL).unwrap().is_empty()
        );
        assert!(store.readings("openai", None, 0, &ReadingFilter::ALL).unwrap().is_empty());
    }

    #[test]
    fn a_reading_row_carries_the_story_and_its_reported_shift() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_every_kind_of_reading(dir.path());
        store
            .conn
            .execute_batch(
                "UPDATE stories SET canonical_url = 'https://x.example/c', outlet = NULL WHERE id = 2;
                 UPDATE story_entities SET certainty = 'certain', confidence = 0.75 WHERE story_id = 2;
                 INSERT INTO story_shifts (story_id, entity, from_stance, to_stance) VALUES (2, 'meta', 'closed', 'open');",
            )
            .unwrap();
        let rows = store.readings("meta", None, 0, &ReadingFilter::ALL).unwrap();
        let row = rows.iter().find(|r| r.story == 2).unwrap();
        assert_eq!(
            *row,
            StoredReading {
                cluster: 1,
                story: 2,
                published: "2025-01-01T00:00:00Z".into(),
                outlet: None,
                address: "https://x.example/c".into(),
                relevant: false,
                stance: Stance::Open,
                confidence: 0.75,
                certainty: Certainty::Certain,
                basis: Basis::Dispute,
                shift_to: Some(Stance::Open),
                title: "title 2".into(),
                summary: "summary".into(),
            }
        );
        let other = rows.iter().find(|r| r.story == 3).unwrap();
        assert_eq!((other.address.as_str(), other.outlet.as_deref()), ("http://x.example/3", Some("x.example")));
        assert_eq!((other.certainty, other.shift_to), (Certainty::Probable, None));
    }
}
