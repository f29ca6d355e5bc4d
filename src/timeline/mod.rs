//! Stance over time: each entity's timeline of stance regimes and the changes between them.
//!
//! Input: one [`Observation`] per story cluster that takes a position on the entity (ten copies
//! of one report are one piece of evidence), with the cluster's earliest published date. The
//! timeline is a pure function of those observations and the profile's prior stance: sorted by
//! date (ties by a content key), they give the same regimes and change events in whatever order
//! the stories arrived — so a late or backfilled story is handled by recomputing the entity.
//!
//! [`detect`] runs a Bayesian online change-point detector (see `bocpd.rs`) and applies the
//! evidence rule of a confirmed change; `possible` changes are hedged or thin evidence.
//!
//! A change needs an observed earlier regime. The profile's prior is a starting point, not an
//! observation: until a cluster has shown the prior's stance, a move away from it that the
//! evidence supports is a [`Calibration`] of the first regime, and no change event.
//!
//! The observations come from `evidence.rs` (the evidence rule, over the rows an
//! [`EvidenceSource`] hands out); [`refresh`] saves what it finds through a [`ChangeSink`]. The
//! store implements both, and no SQL is here.

mod bocpd;
mod evidence;
mod summary;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::stance::Stance;

pub use bocpd::Detector;
pub use evidence::{ReadingFilter, StoredReading, is_evidence, observations, vote};
pub use summary::{Summary, compute_summary, save_missing_summaries, summary_key};

/// Where timelines read their evidence: the stored readings of an entity, and what a poll
/// cycle needs to know to append new evidence instead of recomputing (as `dedup`'s index loads
/// stored stories through a callback, the timeline loads its rows through this).
pub trait EvidenceSource {
    /// `entity`'s readings that `filter` admits, in stories with ids above `after_id` (0: all),
    /// published up to the end of `until` (all when None), in any order.
    fn readings(
        &self,
        entity: &str,
        until: Option<NaiveDate>,
        after_id: i64,
        filter: &ReadingFilter,
    ) -> anyhow::Result<Vec<StoredReading>>;

    /// The largest story id (0 when there are none).
    fn max_story_id(&self) -> anyhow::Result<i64>;

    /// Whether all of `entity`'s readings in stories above `after_id` are in clusters of their
    /// own (none joined or merged an older cluster) and no older story about it changed since
    /// `since`: then the new evidence can be appended to a timeline computed before.
    fn only_new_clusters(&self, entity: &str, after_id: i64, since: DateTime<Utc>) -> anyhow::Result<bool>;

    /// Counters that move when `entity`'s readings may read differently.
    fn evidence_generation(&self, entity: &str) -> anyhow::Result<EvidenceGeneration>;

    /// Whether a summary of `entity` saved under `key` (see [`summary_key`]) is current.
    fn has_current_summary(&self, entity: &str, key: &str) -> anyhow::Result<bool>;
}

/// Where [`refresh`] keeps the change events it finds.
pub trait ChangeSink {
    /// Store `entity`'s recomputed changes (all of them: known ones are updated, ones no
    /// longer found withdrawn).
    fn save_changes(&mut self, entity: &str, changes: &[Change], now: DateTime<Utc>) -> anyhow::Result<SavedChanges>;

    /// Keep `entity`'s summary, computed from its readings as they were at `generation` (read
    /// before them, so a write in between leaves it out of date rather than wrong).
    fn save_summary(&mut self, entity: &str, generation: i64, key: &str, summary: &Summary) -> anyhow::Result<()>;
}

/// Counters of an entity's stored evidence (the store keeps them with triggers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvidenceGeneration {
    /// Moves with every change to the entity's readings: a summary computed at another value
    /// is out of date.
    pub all: i64,
    /// Moves only when earlier evidence is rewritten (a reading changed or removed, a story's
    /// text, date or cluster changed): a timeline computed at another value cannot be extended.
    pub rewrites: i64,
}

/// What saving a recomputed timeline changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SavedChanges {
    pub new_possible: usize,
    pub new_confirmed: usize,
    /// `possible` changes now confirmed.
    pub upgraded: usize,
    pub withdrawn: usize,
}

/// The entity's observations up to `until` (inclusive; all when None): one per story cluster
/// with evidence of its stance (see `evidence.rs`), in the order the timeline reads them.
pub fn entity_observations(
    source: &impl EvidenceSource,
    entity: &str,
    until: Option<NaiveDate>,
    copy_jaccard: f64,
) -> anyhow::Result<Vec<Observation>> {
    Ok(observations(source.readings(entity, until, 0, &ReadingFilter::EVIDENCE)?, copy_jaccard))
}

/// What one story cluster says about one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The cluster's earliest published day.
    pub date: NaiveDate,
    /// Orders observations of the same day independently of storage order (the earliest
    /// article's canonical URL or title).
    pub order_key: String,
    /// Open, closed or mixed (neutral mentions are not evidence).
    pub stance: Stance,
    /// 0..1: how strongly the cluster says it (confidence × certainty of its best story).
    pub weight: f64,
    /// A story of the cluster says it at the certain level (a release, a licence change, an
    /// official statement).
    pub certain: bool,
    /// A story of the cluster itself reports a change to this stance.
    pub reports_change: bool,
    /// The cluster says it only as a plan or a rumour ("plans to", "reportedly"): a reported
    /// plan away from the current stance is a possible change on its own.
    pub hedged: bool,
    /// Distinct outlets covering the cluster.
    pub outlets: Vec<String>,
    /// Independent reports in the cluster (at least 1): outlets that wrote the event up in their
    /// own words. Copies of one article, however many outlets carry them, are one report.
    pub reports: usize,
    /// Story ids of the cluster that carry this stance (evidence to show).
    pub stories: Vec<i64>,
}

/// How strict change detection is (`[changes]` in the config).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSettings {
    /// Expected days between two changes of one entity (the hazard's time scale).
    pub expected_days_between_changes: f64,
    /// Pseudo-count the profile's prior stance starts with.
    pub prior_strength: f64,
    /// Posterior probability of a change needed to confirm it.
    pub confirm_posterior: f64,
    /// Posterior probability that makes a `possible` change.
    pub possible_posterior: f64,
    /// Independent new-stance reports needed within `window_days` to confirm: separate
    /// clusters, or outlets' own write-ups of one event (copies count once).
    pub min_reports: usize,
    pub window_days: i64,
    /// Distinct outlets among them.
    pub min_outlets: usize,
    /// At least one of them at the certain level.
    pub require_certain: bool,
    /// Text overlap that makes two articles of a cluster copies, one report (the dedup stage's
    /// `[dedup] shingle_jaccard`).
    pub copy_jaccard: f64,
}

impl Default for ChangeSettings {
    fn default() -> Self {
        ChangeSettings {
            expected_days_between_changes: 1460.0,
            prior_strength: 4.0,
            confirm_posterior: 0.7,
            possible_posterior: 0.3,
            min_reports: 3,
            window_days: 30,
            min_outlets: 2,
            require_certain: true,
            copy_jaccard: crate::dedup::DedupSettings::default().shingle_jaccard,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Possible,
    Confirmed,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Possible => "possible",
            Level::Confirmed => "confirmed",
        }
    }
}

/// A change of stance the evidence supports.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub from: Stance,
    pub to: Stance,
    pub level: Level,
    /// The first new-stance evidence: when the change happened, by published dates.
    pub at: NaiveDate,
    /// When the regime it leaves began: with entity, from and to, the change's stable identity
    /// (a `possible` later confirmed keeps it).
    pub regime_since: Option<NaiveDate>,
    /// The day of the observation that made the detector report it.
    pub detected_on: NaiveDate,
    /// Posterior probability of the change when reported.
    pub confidence: f64,
    /// Story ids of the new-stance clusters (earliest first).
    pub evidence: Vec<i64>,
}

/// A stretch of time with one stance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regime {
    pub stance: Stance,
    /// First day (the prior's date or the change's `at`); None: from the start of evidence.
    pub since: Option<NaiveDate>,
    /// Evidence clusters in this regime by stance: open, closed, mixed.
    pub clusters: [usize; 3],
    /// The first regime only: the evidence corrected the profile's prior stance to this one.
    pub calibration: Option<Calibration>,
}

/// The profile's prior stance corrected by the evidence, which is not a change: no story had
/// shown the prior's stance before the evidence moved away from it, so nothing says the entity
/// ever held it. The first regime keeps the prior's date and takes the observed stance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The profile's prior stance.
    pub from: Stance,
    /// The stance the evidence shows.
    pub to: Stance,
    /// The first evidence of `to`.
    pub at: NaiveDate,
    /// The day of the observation that settled it (with the same evidence and posterior a
    /// change would need to be confirmed).
    pub detected_on: NaiveDate,
    /// Posterior probability of the move away from the prior when settled.
    pub confidence: f64,
    /// Story ids of the `to` clusters that settled it (earliest first).
    pub evidence: Vec<i64>,
}

/// An entity's timeline: its regimes in order and the changes found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    pub regimes: Vec<Regime>,
    pub changes: Vec<Change>,
}

impl Timeline {
    /// The stance in force on `day` (the last regime begun on or before it).
    pub fn stance_on(&self, day: NaiveDate) -> Option<&Regime> {
        self.regimes.iter().rev().find(|r| r.since.is_none_or(|s| s <= day)).or(self.regimes.first())
    }

    /// The current regime.
    pub fn current(&self) -> Option<&Regime> {
        self.regimes.last()
    }

    /// How the evidence corrected the profile's prior stance, if it did.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.regimes.first().and_then(|r| r.calibration.as_ref())
    }
}

pub(crate) fn stance_index(stance: Stance) -> Option<usize> {
    match stance {
        Stance::Open => Some(0),
        Stance::Closed => Some(1),
        Stance::Mixed => Some(2),
        Stance::Neutral => None,
    }
}

pub(crate) const STANCES: [Stance; 3] = [Stance::Open, Stance::Closed, Stance::Mixed];

/// Sort observations into the order the timeline reads them: by day, then content key.
pub fn sort_observations(observations: &mut [Observation]) {
    observations.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.order_key.cmp(&b.order_key)));
}

/// The timeline of one entity from its (sorted) observations and its prior stance.
pub fn detect(prior: Option<(Stance, NaiveDate)>, observations: &[Observation], settings: &ChangeSettings) -> Timeline {
    let mut detector = Detector::new(prior, settings.clone());
    for i in 1..=observations.len() {
        detector.observe(&observations[..i]);
    }
    detector.timeline(observations)
}

/// Whether the observations of stance `to` from index `from` on meet the evidence rule of a
/// confirmed change: at least `min_reports` independent reports within `window_days` of each
/// other, from `min_outlets` distinct outlets, one of them at the certain level. Reports, not
/// clusters: three outlets writing up one event in their own words corroborate it, while ten
/// copies of one article are one report (and one cluster, one observation for the detector).
/// Returns the index (into `observations`) of the first observation of the earliest window that
/// does — the change is dated there, not at a stray earlier item — and the index from which a
/// later call over the same observations plus newer ones must look again: windows starting
/// earlier are complete (nothing newer can join them) and failed.
///
/// One pass with a sliding window, so a long undecided stretch costs linear time per step.
pub(crate) fn confirms(
    observations: &[Observation],
    from: usize,
    to: Stance,
    settings: &ChangeSettings,
) -> (Option<usize>, usize) {
    let n = settings.min_reports.max(1);
    let members: Vec<usize> = (from..observations.len()).filter(|&i| observations[i].stance == to).collect();
    let Some(newest) = observations.last().map(|o| o.date) else { return (None, from) };
    let mut outlets: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let (mut certain, mut reports, mut end) = (0usize, 0usize, 0usize);
    for &i in &members {
        let first = &observations[i];
        while end < members.len() && (observations[members[end]].date - first.date).num_days() <= settings.window_days {
            let o = &observations[members[end]];
            for outlet in &o.outlets {
                *outlets.entry(outlet.as_str()).or_default() += 1;
            }
            certain += usize::from(o.certain);
            reports += o.reports.max(1);
            end += 1;
        }
        if reports >= n && outlets.len() >= settings.min_outlets && (!settings.require_certain || certain > 0) {
            return (Some(i), i);
        }
        // This window is final once the newest observation is beyond its reach.
        if (newest - first.date).num_days() <= settings.window_days {
            return (None, i);
        }
        for outlet in &first.outlets {
            if let Some(count) = outlets.get_mut(outlet.as_str()) {
                *count -= 1;
                if *count == 0 {
                    outlets.remove(outlet.as_str());
                }
            }
        }
        certain -= usize::from(first.certain);
        reports -= first.reports.max(1);
    }
    (None, observations.len())
}

/// The timeline of `entity` from the stored stories up to `until` (all when None).
pub fn entity_timeline(
    source: &impl EvidenceSource,
    profile: &crate::stance::Profile,
    settings: &ChangeSettings,
    entity: &str,
    until: Option<NaiveDate>,
) -> anyhow::Result<Timeline> {
    let observations = entity_observations(source, entity, until, settings.copy_jaccard)?;
    Ok(timeline_of(profile, settings, entity, until, &observations))
}

/// The timeline of `entity` from observations already loaded (up to `until`).
pub fn timeline_of(
    profile: &crate::stance::Profile,
    settings: &ChangeSettings,
    entity: &str,
    until: Option<NaiveDate>,
    observations: &[Observation],
) -> Timeline {
    let prior = profile.entity(entity).and_then(|e| e.prior).filter(|(_, since)| until.is_none_or(|u| *since <= u));
    detect(prior, observations, settings)
}

/// Timelines computed earlier in this process, so a poll cycle whose new stories are the newest
/// evidence appends them instead of recomputing the entity (the result is the same as a full
/// recomputation; anything else — a late story, an update, a story joining an older cluster —
/// recomputes).
#[derive(Default)]
pub struct TimelineCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, Cached>>,
}

impl TimelineCache {
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Cached>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An entity's observations, and its detector fed all of them before the last day with
/// evidence: same-day observations are ordered by content, so a new one of the same day is
/// replayed with that day's others.
struct Cached {
    observations: Vec<Observation>,
    /// How many of `observations` `base` has taken in (all before the last day).
    base_count: usize,
    base: Detector,
    /// The store's largest story id when it was brought up to date.
    max_story_id: i64,
    /// The entity's rewrite counter read before its readings were.
    rewrites: i64,
}

impl Cached {
    /// The first day `extend` accepts.
    fn last_day(&self) -> Option<NaiveDate> {
        self.observations.get(self.base_count).or(self.observations.last()).map(|o| o.date)
    }

    /// Add `new` observations (none before the last day); returns the detector fed all.
    fn extend(&mut self, new: Vec<Observation>) -> Detector {
        self.observations.extend(new);
        sort_observations(&mut self.observations[self.base_count..]);
        let newest = self.observations.last().map(|o| o.date);
        while self.base_count < self.observations.len() && Some(self.observations[self.base_count].date) < newest {
            self.base_count += 1;
            self.base.observe(&self.observations[..self.base_count]);
        }
        let mut detector = self.base.clone();
        for i in self.base_count + 1..=self.observations.len() {
            detector.observe(&self.observations[..i]);
        }
        detector
    }
}

/// Bring the timelines of `entities` up to date after stories above `last_before` were stored
/// (or stories changed since `since`) and save their change events. Called after every poll
/// cycle and import: a late story re-evaluates its entity's whole timeline, so the result never
/// depends on arrival order.
pub fn refresh(
    store: &mut (impl EvidenceSource + ChangeSink),
    profile: &crate::stance::Profile,
    settings: &ChangeSettings,
    entities: &[String],
    cache: &TimelineCache,
    last_before: i64,
    since: DateTime<Utc>,
) -> anyhow::Result<SavedChanges> {
    // One refresh at a time in this process (the poll writer's and the judge's): each reads
    // what the one before it saved, so neither withdraws a change the other just found.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut total = SavedChanges::default();
    let now = Utc::now();
    let max_id = store.max_story_id()?;
    // An entity whose saved summary is missing or out of date (a database from before
    // summaries, another configuration, a cycle cut short) is brought up to date as well.
    let mut entities = entities.to_vec();
    for e in &profile.entities {
        if !entities.contains(&e.key) && !store.has_current_summary(&e.key, &summary_key(profile, settings, &e.key))? {
            entities.push(e.key.clone());
        }
    }
    for entity in &entities {
        let generation = store.evidence_generation(entity)?;
        let cached = cache.lock().remove(entity);
        let mut appended = None;
        if let Some(mut c) = cached
            && c.max_story_id == last_before
            && c.rewrites == generation.rewrites
            && store.only_new_clusters(entity, last_before, since)?
        {
            let readings = store.readings(entity, None, last_before, &ReadingFilter::EVIDENCE)?;
            let new = observations(readings, settings.copy_jaccard);
            let last_day = c.last_day();
            if new.first().is_none_or(|f| last_day.is_none_or(|d| f.date >= d)) {
                let detector = c.extend(new);
                appended = Some((c, detector));
            }
        }
        tracing::debug!(entity = %entity, appended = appended.is_some(), "timeline update");
        let (cached, detector) = match appended {
            Some(pair) => pair,
            None => {
                let observations = entity_observations(store, entity, None, settings.copy_jaccard)?;
                let base = Detector::new(profile.entity(entity).and_then(|e| e.prior), settings.clone());
                let mut c = Cached { observations: Vec::new(), base_count: 0, base, max_story_id: 0, rewrites: 0 };
                let detector = c.extend(observations);
                (c, detector)
            }
        };
        let timeline = detector.timeline(&cached.observations);
        let saved = store.save_changes(entity, &timeline.changes, now)?;
        let key = summary_key(profile, settings, entity);
        store.save_summary(entity, generation.all, &key, &Summary::of(&cached.observations, &timeline))?;
        total.new_possible += saved.new_possible;
        total.new_confirmed += saved.new_confirmed;
        total.upgraded += saved.upgraded;
        total.withdrawn += saved.withdrawn;
        if saved.new_confirmed + saved.upgraded > 0 {
            for c in timeline.changes.iter().filter(|c| c.level == Level::Confirmed) {
                tracing::info!(entity = %entity, from = c.from.as_str(), to = c.to.as_str(), at = %c.at, confidence = c.confidence, "stance change confirmed");
            }
        }
        cache.lock().insert(entity.clone(), Cached { max_story_id: max_id, rewrites: generation.rewrites, ..cached });
    }
    // Entities the new stories did not concern are still up to date.
    for c in cache.lock().values_mut() {
        if c.max_story_id == last_before {
            c.max_story_id = max_id;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::{Basis, Certainty, Profile};

    /// Rows in memory: `refresh` needs no database.
    #[derive(Default)]
    struct Memory {
        /// Meta's readings (the other entities have none).
        readings: Vec<StoredReading>,
        saved: Vec<Change>,
        summaries: std::collections::HashMap<String, (i64, Summary)>,
    }

    impl EvidenceSource for Memory {
        fn readings(
            &self,
            entity: &str,
            until: Option<NaiveDate>,
            after_id: i64,
            filter: &ReadingFilter,
        ) -> anyhow::Result<Vec<StoredReading>> {
            if entity != "meta" {
                return Ok(Vec::new());
            }
            let until = until.map(|d| format!("{d}T23:59:59Z"));
            let rows = self
                .readings
                .iter()
                .filter(|r| r.story > after_id && until.as_ref().is_none_or(|u| r.published <= *u) && filter.admits(r));
            Ok(rows.cloned().collect())
        }

        fn max_story_id(&self) -> anyhow::Result<i64> {
            Ok(self.readings.iter().map(|r| r.story).max().unwrap_or(0))
        }

        fn only_new_clusters(&self, _: &str, after_id: i64, _: DateTime<Utc>) -> anyhow::Result<bool> {
            Ok(self.readings.iter().filter(|r| r.story > after_id).all(|r| r.cluster > after_id))
        }

        fn evidence_generation(&self, entity: &str) -> anyhow::Result<EvidenceGeneration> {
            let all = if entity == "meta" { self.readings.len() as i64 } else { 0 };
            Ok(EvidenceGeneration { all, rewrites: 0 })
        }

        fn has_current_summary(&self, entity: &str, _: &str) -> anyhow::Result<bool> {
            let generation = self.evidence_generation(entity)?.all;
            Ok(self.summaries.get(entity).is_some_and(|(g, _)| *g == generation))
        }
    }

    impl ChangeSink for Memory {
        fn save_changes(&mut self, entity: &str, changes: &[Change], _: DateTime<Utc>) -> anyhow::Result<SavedChanges> {
            if entity == "meta" {
                self.saved = changes.to_vec();
            }
            Ok(SavedChanges::default())
        }

        fn save_summary(&mut self, entity: &str, generation: i64, _: &str, summary: &Summary) -> anyhow::Result<()> {
            self.summaries.insert(entity.to_string(), (generation, summary.clone()));
            Ok(())
        }
    }

    /// A year of weekly open reports, then closed ones, each story a cluster of its own.
    fn weekly(story: i64) -> StoredReading {
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(7 * story as u64);
        let outlet = format!("outlet{}.example", story % 5);
        StoredReading {
            cluster: story,
            story,
            published: format!("{day}T12:00:00Z"),
            address: format!("https://{outlet}/{story}"),
            outlet: Some(outlet),
            relevant: true,
            stance: if story <= 52 { Stance::Open } else { Stance::Closed },
            confidence: 0.9,
            certainty: Certainty::Certain,
            basis: Basis::Report,
            shift_to: None,
            title: format!("Story {story}"),
            summary: String::new(),
        }
    }

    #[test]
    fn refresh_reads_rows_through_its_source_and_appending_matches_recomputing() {
        let profile = Profile::builtin();
        let settings = ChangeSettings::default();
        let entities = vec!["meta".to_string()];
        let since = Utc::now();
        let (mut cycles, cache) = (Memory::default(), TimelineCache::default());
        for batch in (1..=70).collect::<Vec<i64>>().chunks(4) {
            let last_before = cycles.max_story_id().unwrap();
            cycles.readings.extend(batch.iter().map(|&s| weekly(s)));
            refresh(&mut cycles, &profile, &settings, &entities, &cache, last_before, since).unwrap();
        }
        let mut once = Memory { readings: cycles.readings.clone(), ..Memory::default() };
        refresh(&mut once, &profile, &settings, &entities, &TimelineCache::default(), 0, since).unwrap();
        assert_eq!(cycles.saved, once.saved);
        let confirmed: Vec<(Stance, Stance)> =
            once.saved.iter().filter(|c| c.level == Level::Confirmed).map(|c| (c.from, c.to)).collect();
        assert_eq!(confirmed, vec![(Stance::Open, Stance::Closed)]);
        let observations = entity_observations(&once, "meta", None, settings.copy_jaccard).unwrap();
        let timeline = timeline_of(&profile, &settings, "meta", None, &observations);
        assert_eq!(timeline.changes, once.saved);
        // The summary kept is the recomputed timeline's, whichever way it was brought up to date.
        let summary = Summary::of(&observations, &timeline);
        assert_eq!(cycles.summaries["meta"], (70, summary.clone()));
        assert_eq!(once.summaries["meta"], (70, summary.clone()));
        assert_eq!(summary.last_confirmed.map(|(from, to, _)| (from, to)), Some((Stance::Open, Stance::Closed)));
        assert_eq!(summary.months.values().map(|m| m[0] + m[1] + m[2]).sum::<usize>(), observations.len());
        // Every entity of the profile has a current summary after one refresh.
        assert!(profile.entities.iter().all(|e| once.has_current_summary(&e.key, "").unwrap()));
    }
}
