//! What a reader shows of an entity's timeline — its evidence per month, its regimes, its
//! latest confirmed change — in a form small enough to keep. [`refresh`](super::refresh) saves
//! one per entity beside the change events, so `history`, `stances` and the web view read a
//! row instead of recomputing the timeline from every reading (seconds at a million stories).
//! A summary is derived data: whoever finds it missing or out of date computes it again.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{ChangeSettings, Level, Observation, Regime, Timeline, stance_index};
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
        let mut months = BTreeMap::<String, [usize; 3]>::new();
        for o in observations {
            if let Some(k) = stance_index(o.stance) {
                months.entry(month_key(o.date)).or_default()[k] += 1;
            }
        }
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
    use sha2::Digest;
    let prior = profile.entity(entity).and_then(|e| e.prior);
    let text = format!("summary v1\n{prior:?}\n{settings:?}");
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
