//! What a reader shows of an entity's timeline — its evidence per month, its regimes, its
//! latest confirmed change — in a form small enough to keep. [`refresh`](super::refresh) saves
//! one per entity beside the change events, so `history`, `stances` and the web view read a
//! row instead of recomputing the timeline from every reading (seconds at a million stories).
//! A summary is derived data: whoever finds it missing or out of date computes it again.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{
    ChangeSettings, ChangeSink, EvidenceSource, Level, Observation, Regime, Timeline, entity_observations,
    stance_index, timeline_of,
};
use crate::stance::{Profile, Stance};

/// An entity's timeline as readers show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The day of the first observation.
    pub first_evidence: Option<NaiveDate>,
    /// Observations by month ("YYYY-MM"): open, closed, mixed.
    pub months: BTreeMap<String, [usize; 3]>,
    pub regimes: Vec<Regime>,
    /// The latest confirmed change: from, to, and when.
    pub last_confirmed: Option<(Stance, Stance, NaiveDate)>,
}

impl Summary {
    /// The summary of a timeline computed from `observations`.
    pub fn of(observations: &[Observation], timeline: &Timeline) -> Summary {
        // Counted by (year, month), named once per month: this runs at every refresh.
        let mut counts = BTreeMap::<(i32, u32), [usize; 3]>::new();
        for o in observations {
            if let Some(k) = stance_index(o.stance) {
                counts.entry((o.date.year(), o.date.month())).or_default()[k] += 1;
            }
        }
        let months = counts.into_iter().map(|((y, m), c)| (format!("{y:04}-{m:02}"), c)).collect();
        let last_confirmed =
            timeline.changes.iter().rev().find(|c| c.level == Level::Confirmed).map(|c| (c.from, c.to, c.at));
        Summary {
            first_evidence: observations.iter().map(|o| o.date).min(),
            months,
            regimes: timeline.regimes.clone(),
            last_confirmed,
        }
    }

    /// Observations in the month that begins on `first_of_month`: open, closed, mixed.
    pub fn month(&self, first_of_month: NaiveDate) -> [usize; 3] {
        self.months.get(&month_key(first_of_month)).copied().unwrap_or_default()
    }

    /// The regimes as a timeline (without its changes: the store keeps those).
    pub fn timeline(&self) -> Timeline {
        Timeline { regimes: self.regimes.clone(), changes: Vec::new() }
    }
}

fn month_key(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// What a summary of `entity` depends on besides its readings — the summary's format, the
/// entity's prior stance and the change settings — as a short fingerprint: a summary computed
/// under another configuration is not read.
pub fn summary_key(profile: &Profile, settings: &ChangeSettings, entity: &str) -> String {
    let prior = profile.entity(entity).and_then(|e| e.prior);
    // The release too: another version may read the same evidence into another timeline.
    let text = format!("summary v1 {}\n{prior:?}\n{settings:?}", env!("CARGO_PKG_VERSION"));
    crate::fingerprint::sha256_hex(&text, 8)
}

/// `entity`'s summary computed from its stored readings.
pub fn compute_summary(
    source: &impl EvidenceSource,
    profile: &Profile,
    settings: &ChangeSettings,
    entity: &str,
) -> anyhow::Result<Summary> {
    let observations = entity_observations(source, entity, None, settings.copy_jaccard)?;
    Ok(Summary::of(&observations, &timeline_of(profile, settings, entity, None, &observations)))
}

/// Compute and save the summary of every entity of the profile whose saved one is missing or
/// out of date, touching nothing else (no change event is saved); returns how many.
pub fn save_missing_summaries(
    store: &mut (impl EvidenceSource + ChangeSink),
    profile: &Profile,
    settings: &ChangeSettings,
) -> anyhow::Result<usize> {
    let mut saved = 0;
    for e in &profile.entities {
        let key = summary_key(profile, settings, &e.key);
        if store.has_current_summary(&e.key, &key)? {
            continue;
        }
        // Read before the readings, so a write in between leaves the summary out of date.
        let generation = store.evidence_generation(&e.key)?;
        let summary = compute_summary(store, profile, settings, &e.key)?;
        store.save_summary(&e.key, generation.all, &key, &summary)?;
        saved += 1;
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Calibration;

    #[test]
    fn a_summary_reads_back_exactly_as_saved() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        let calibration = Calibration {
            from: Stance::Open,
            to: Stance::Closed,
            at: day(2),
            detected_on: day(9),
            // Floats whose shortest decimal form reads back one bit off without exact parsing.
            confidence: 0.1 + 0.2,
            evidence: vec![3, 5],
        };
        let summary = Summary {
            first_evidence: Some(day(2)),
            months: BTreeMap::from([("2026-01".to_string(), [0, 2, 1])]),
            regimes: vec![Regime {
                stance: Stance::Closed,
                since: Some(day(1)),
                clusters: [0, 2, 1],
                calibration: Some(calibration),
            }],
            last_confirmed: None,
        };
        for confidence in [0.1 + 0.2, 0.9999999999999999, 2.2250738585072014e-308, 0.8414709848078965] {
            let mut s = summary.clone();
            s.regimes[0].calibration.as_mut().unwrap().confidence = confidence;
            let text = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Summary>(&text).unwrap(), s, "{text}");
        }
        assert_eq!(summary.month(day(1)), [0, 2, 1]);
        assert_eq!(summary.month(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()), [0, 0, 0]);
    }
}
