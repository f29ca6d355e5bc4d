//! The evidence rule: which stored readings of an entity are evidence of its stance, and how
//! the readings of one story cluster become one [`Observation`] — the stance that wins the
//! cluster, how strongly it is said, and how many independent reports carry it.
//!
//! Pure functions over [`StoredReading`]s, the rows the store hands out (see
//! [`EvidenceSource`](super::EvidenceSource)) — those [`ReadingFilter::EVIDENCE`] selects; the
//! result does not depend on the order of the rows, so it does not depend on the order stories
//! were stored in.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Observation, STANCES, sort_observations, stance_index};
use crate::dedup::Wording;
use crate::stance::{Basis, Certainty, Stance};

/// One story's reading of one entity, as stored: no rule applied yet.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
    /// The story's cluster (its smallest story id).
    pub cluster: i64,
    pub story: i64,
    /// When the story was published, as stored (RFC 3339).
    pub published: String,
    /// The publishing outlet (registrable domain), when known.
    pub outlet: Option<String>,
    /// The story's canonical URL, else its URL, else its title: orders readings of one day.
    pub address: String,
    /// The story is about AI openness.
    pub relevant: bool,
    pub stance: Stance,
    /// The classifier's confidence, 0..1.
    pub confidence: f64,
    pub certainty: Certainty,
    /// What the stance rests on: a report of what the entity does, or something else.
    pub basis: Basis,
    /// The stance a shift the story reports moves the entity to, if it reports one.
    pub shift_to: Option<Stance>,
    /// Title and summary: the wording that tells an outlet's own write-up from a copy.
    pub title: String,
    pub summary: String,
}

/// Which readings a timeline reads, as data: a source leaves the others out when it reads (the
/// store makes it part of its query, so readings that cannot be evidence stay on disk), and
/// [`is_evidence`] applies it to each row again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadingFilter {
    /// Only stories judged relevant.
    pub relevant_only: bool,
    /// Only readings of these stances.
    pub stances: &'static [Stance],
    /// Only readings resting on these bases.
    pub bases: &'static [Basis],
}

impl ReadingFilter {
    /// The evidence rule's choice: a relevant story that reports what the entity itself does or
    /// says, with a stance. Passing mentions, licence disputes and critics' opinions are not
    /// its policy, and a neutral reading takes no position.
    pub const EVIDENCE: ReadingFilter = ReadingFilter {
        relevant_only: true,
        stances: &[Stance::Open, Stance::Closed, Stance::Mixed],
        bases: &[Basis::Report],
    };

    /// Every reading.
    pub const ALL: ReadingFilter = ReadingFilter {
        relevant_only: false,
        stances: &[Stance::Open, Stance::Closed, Stance::Mixed, Stance::Neutral],
        bases: &[Basis::Report, Basis::Dispute, Basis::Opinion, Basis::Mention],
    };

    pub fn admits(&self, r: &StoredReading) -> bool {
        (r.relevant || !self.relevant_only) && self.stances.contains(&r.stance) && self.bases.contains(&r.basis)
    }
}

/// Whether a reading is evidence of the entity's stance ([`ReadingFilter::EVIDENCE`]).
pub fn is_evidence(r: &StoredReading) -> bool {
    ReadingFilter::EVIDENCE.admits(r)
}

/// How much a reading's voice weighs in its cluster: how hedged the wording is matters most
/// (`Certainty::weight`); the classifier's margin between open and closed cues tempers it (the
/// square root of its confidence, clamped to 0..1).
pub fn vote(r: &StoredReading) -> f64 {
    r.certainty.weight() * r.confidence.clamp(0.0, 1.0).sqrt()
}

/// The entity's observations from its readings (in any order; readings that are not
/// evidence are skipped): one per story cluster, sorted as the timeline reads them.
pub fn observations(readings: Vec<StoredReading>, copy_jaccard: f64) -> Vec<Observation> {
    let mut clusters: BTreeMap<i64, Vec<StoredReading>> = BTreeMap::new();
    for r in readings.into_iter().filter(is_evidence) {
        clusters.entry(r.cluster).or_default().push(r);
    }
    let mut out: Vec<Observation> =
        clusters.into_values().filter_map(|mut rows| cluster_observation(&mut rows, copy_jaccard)).collect();
    sort_observations(&mut out);
    out
}

/// What one cluster's evidence says: the stance most of its weight says (ties: open, then
/// closed, then mixed), dated on the earliest day a story of the cluster says it, with those
/// stories as its evidence. None when no story says the winning stance (a cluster without
/// weight, whose stories are not open) or its date cannot be read. Sorts `rows` by published
/// time, then address, then story id.
fn cluster_observation(rows: &mut [StoredReading], copy_jaccard: f64) -> Option<Observation> {
    rows.sort_by(|a, b| {
        a.published.cmp(&b.published).then_with(|| a.address.cmp(&b.address)).then(a.story.cmp(&b.story))
    });
    let mut votes = [0.0f64; 3];
    for r in rows.iter() {
        if let Some(k) = stance_index(r.stance) {
            votes[k] += vote(r);
        }
    }
    let k = (0..3).fold(0, |best, k| if votes[k] > votes[best] { k } else { best });
    let stance = STANCES[k];
    let mine: Vec<&StoredReading> = rows.iter().filter(|r| r.stance == stance).collect();
    let first = mine.first()?;
    let date = published_day(&first.published)?;
    let mut outlets: Vec<String> = mine.iter().filter_map(|r| r.outlet.clone()).collect();
    outlets.sort();
    outlets.dedup();
    Some(Observation {
        date,
        order_key: mine.iter().map(|r| r.address.as_str()).min().unwrap_or_default().to_string(),
        stance,
        weight: mine.iter().map(|r| vote(r)).fold(0.0, f64::max).min(1.0),
        certain: mine.iter().any(|r| r.certainty == Certainty::Certain),
        hedged: mine.iter().all(|r| matches!(r.certainty, Certainty::Probable | Certainty::Possible)),
        reports_change: mine.iter().any(|r| r.shift_to == Some(stance)),
        outlets,
        reports: independent_reports(&mine, copy_jaccard),
        stories: mine.iter().map(|r| r.story).collect(),
    })
}

/// Independent reports among a cluster's readings of one stance (in the order given, earliest
/// first), at least 1: one per outlet that wrote the event up itself — the first of its
/// articles that is not a copy of a report already counted (the same headline of three or more
/// content words, or title and summary overlapping by `copy_jaccard`). Copies of one article,
/// however many outlets carry them, are one report; one outlet is one report however many
/// articles it ran.
fn independent_reports(mine: &[&StoredReading], copy_jaccard: f64) -> usize {
    let Some(first) = mine.first() else { return 1 };
    // Most clusters have one outlet: nothing to compare.
    if mine.iter().all(|r| r.outlet == first.outlet) {
        return 1;
    }
    let mut reports: Vec<(Option<&str>, Wording)> = Vec::new();
    for r in mine {
        let outlet = r.outlet.as_deref();
        if reports.iter().any(|(o, _)| *o == outlet) {
            continue;
        }
        let wording = Wording::of(&r.title, &r.summary);
        if !reports.iter().any(|(_, w)| w.same_headline(&wording) || w.same_text(&wording, copy_jaccard)) {
            reports.push((outlet, wording));
        }
    }
    reports.len().max(1)
}

/// The day of a stored published time: its first ten characters as a date, else the UTC day
/// of the RFC 3339 time.
fn published_day(published: &str) -> Option<NaiveDate> {
    published.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).or_else(|| {
        chrono::DateTime::parse_from_rfc3339(published).ok().map(|t| t.with_timezone(&chrono::Utc).date_naive())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dedup stage's copy threshold, as `[changes]` takes it.
    fn jaccard() -> f64 {
        crate::timeline::ChangeSettings::default().copy_jaccard
    }

    /// A certain, confident report of `stance` in cluster 1 from `outlet`.
    fn reading(story: i64, day: u32, stance: Stance, outlet: &str) -> StoredReading {
        StoredReading {
            cluster: 1,
            story,
            published: format!("2025-03-{day:02}T12:00:00Z"),
            outlet: Some(outlet.to_string()),
            address: format!("https://{outlet}/story-{story}"),
            relevant: true,
            stance,
            confidence: 1.0,
            certainty: Certainty::Certain,
            basis: Basis::Report,
            shift_to: None,
            title: format!("Story {story}"),
            summary: String::new(),
        }
    }

    fn worded(mut r: StoredReading, title: &str, summary: &str) -> StoredReading {
        r.title = title.to_string();
        r.summary = summary.to_string();
        r
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, d).unwrap()
    }

    const HEADLINE: &str = "Meta releases Llama weights under a community licence";
    const SUMMARY: &str = "Meta published the weights of its new Llama model today, free for research and \
                           commercial use by most companies, under the terms of its community licence.";
    const OTHER_HEADLINE: &str = "Zuckerberg defends open model strategy at developer conference";
    const OTHER_SUMMARY: &str = "Speaking to developers in California, the chief executive argued that \
                                 openly available models keep the ecosystem competitive and safer.";

    #[test]
    fn the_stance_with_most_weight_wins_a_mixed_cluster() {
        // Two hedged open readings (0.6 each) outweigh one certain closed reading (1.0).
        let hedged = |story| {
            let mut r = reading(story, 2, Stance::Open, "a.example");
            r.certainty = Certainty::Probable;
            r
        };
        let rows = vec![hedged(1), hedged(2), reading(3, 1, Stance::Closed, "a.example")];
        let obs = observations(rows, jaccard());
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0].stance, Stance::Open);
        assert_eq!(obs[0].stories, vec![1, 2], "only the winning stance's stories are its evidence");
        assert_eq!(obs[0].date, day(2), "dated by the winning stance's earliest story, not the cluster's");

        // A low-confidence certain reading against a confident one: the square root tempers it.
        let mut weak = reading(1, 1, Stance::Open, "a.example");
        weak.confidence = 0.25; // 1.0 × √0.25 = 0.5
        let mut mid = reading(2, 1, Stance::Closed, "a.example");
        mid.certainty = Certainty::Probable;
        mid.confidence = 0.81; // 0.6 × 0.9 = 0.54
        assert_eq!(observations(vec![weak, mid], jaccard())[0].stance, Stance::Closed);
    }

    #[test]
    fn equal_weight_prefers_open_then_closed_then_mixed() {
        let tie = |a: Stance, b: Stance| {
            observations(vec![reading(1, 1, a, "a.example"), reading(2, 1, b, "a.example")], jaccard())[0].stance
        };
        assert_eq!(tie(Stance::Closed, Stance::Open), Stance::Open);
        assert_eq!(tie(Stance::Mixed, Stance::Closed), Stance::Closed);
        assert_eq!(tie(Stance::Mixed, Stance::Open), Stance::Open);
    }

    #[test]
    fn a_cluster_without_weight_falls_to_open_and_without_open_stories_is_no_observation() {
        let mut closed = reading(1, 1, Stance::Closed, "a.example");
        closed.confidence = 0.0;
        assert!(observations(vec![closed.clone()], jaccard()).is_empty());
        let mut open = reading(2, 2, Stance::Open, "a.example");
        open.confidence = -1.0; // clamped to 0
        let obs = observations(vec![closed, open], jaccard());
        assert_eq!((obs[0].stance, obs[0].weight), (Stance::Open, 0.0));
    }

    #[test]
    fn certainty_weights_and_flags() {
        let with = |certainty, confidence| {
            let mut r = reading(1, 1, Stance::Open, "a.example");
            r.certainty = certainty;
            r.confidence = confidence;
            r
        };
        assert_eq!(vote(&with(Certainty::Certain, 1.0)), 1.0);
        assert_eq!(vote(&with(Certainty::Probable, 1.0)), 0.6);
        assert_eq!(vote(&with(Certainty::Possible, 1.0)), 0.3);
        assert_eq!(vote(&with(Certainty::Question, 1.0)), 0.2);
        assert_eq!(vote(&with(Certainty::Certain, 0.25)), 0.5);
        assert_eq!(vote(&with(Certainty::Certain, 4.0)), 1.0, "confidence is clamped to 1");

        // Hedged: every story of the winning stance says it as a plan or rumour.
        let obs = |rows| observations(rows, jaccard()).remove(0);
        let hedged = obs(vec![with(Certainty::Probable, 1.0), with(Certainty::Possible, 1.0)]);
        assert!(hedged.hedged && !hedged.certain);
        assert_eq!(hedged.weight, 0.6, "the best story's vote");
        let certain = obs(vec![with(Certainty::Probable, 1.0), with(Certainty::Certain, 0.25)]);
        assert!(certain.certain && !certain.hedged);
        assert_eq!(certain.weight, 0.6, "the best vote, not the certain story's");
        assert_eq!(obs(vec![with(Certainty::Certain, 1.0), with(Certainty::Certain, 1.0)]).weight, 1.0);
        let question = obs(vec![with(Certainty::Question, 1.0)]);
        assert!(!question.hedged && !question.certain, "a question is neither a plan nor a fact");
        assert_eq!(question.weight, 0.2);
    }

    #[test]
    fn passing_mentions_disputes_opinions_neutral_and_irrelevant_stories_are_not_evidence() {
        let with = |basis| {
            let mut r = reading(1, 1, Stance::Closed, "a.example");
            r.basis = basis;
            r
        };
        for basis in [Basis::Mention, Basis::Dispute, Basis::Opinion] {
            assert!(!is_evidence(&with(basis)));
            assert!(observations(vec![with(basis)], jaccard()).is_empty(), "{basis:?}");
        }
        assert!(is_evidence(&with(Basis::Report)));
        let mut irrelevant = with(Basis::Report);
        irrelevant.relevant = false;
        assert!(!is_evidence(&irrelevant));
        assert!(!is_evidence(&reading(1, 1, Stance::Neutral, "a.example")));

        // A cluster's passing mentions do not outvote its report.
        let mut mentions: Vec<StoredReading> =
            (2..6).map(|story| reading(story, 1, Stance::Closed, "b.example")).collect();
        for m in &mut mentions {
            m.basis = Basis::Mention;
        }
        mentions.push(reading(1, 2, Stance::Open, "a.example"));
        let obs = observations(mentions, jaccard());
        assert_eq!((obs[0].stance, obs[0].stories.clone(), obs[0].date), (Stance::Open, vec![1], day(2)));
    }

    #[test]
    fn the_same_wording_from_two_outlets_is_one_report_and_two_wordings_are_two() {
        let copy = vec![
            worded(reading(1, 1, Stance::Closed, "a.example"), HEADLINE, SUMMARY),
            worded(reading(2, 1, Stance::Closed, "b.example"), HEADLINE, SUMMARY),
        ];
        let obs = observations(copy, jaccard());
        assert_eq!(obs[0].reports, 1);
        assert_eq!(obs[0].outlets, vec!["a.example", "b.example"]);

        let own = vec![
            worded(reading(1, 1, Stance::Closed, "a.example"), HEADLINE, SUMMARY),
            worded(reading(2, 1, Stance::Closed, "b.example"), OTHER_HEADLINE, OTHER_SUMMARY),
        ];
        assert_eq!(observations(own, jaccard())[0].reports, 2);

        // A copy's summary reworded but its headline kept is still a copy.
        let retitled = vec![
            worded(reading(1, 1, Stance::Closed, "a.example"), HEADLINE, SUMMARY),
            worded(reading(2, 1, Stance::Closed, "b.example"), HEADLINE, OTHER_SUMMARY),
        ];
        assert_eq!(observations(retitled, jaccard())[0].reports, 1);
    }

    #[test]
    fn one_outlet_is_one_report_however_many_articles_it_ran() {
        let one = vec![
            worded(reading(1, 1, Stance::Closed, "a.example"), HEADLINE, SUMMARY),
            worded(reading(2, 1, Stance::Closed, "a.example"), OTHER_HEADLINE, OTHER_SUMMARY),
        ];
        assert_eq!(observations(one, jaccard())[0].reports, 1);

        // An outlet's first article is a copy of a report already counted: its next own one counts.
        let three = vec![
            worded(reading(1, 1, Stance::Closed, "a.example"), HEADLINE, SUMMARY),
            worded(reading(2, 2, Stance::Closed, "b.example"), HEADLINE, SUMMARY),
            worded(reading(3, 3, Stance::Closed, "b.example"), OTHER_HEADLINE, OTHER_SUMMARY),
        ];
        assert_eq!(observations(three, jaccard())[0].reports, 2);

        // Stories of another stance are not reports of this one.
        let other_stance = vec![
            worded(reading(1, 1, Stance::Closed, "a.example"), HEADLINE, SUMMARY),
            worded(reading(2, 1, Stance::Closed, "a.example"), HEADLINE, SUMMARY),
            worded(reading(3, 1, Stance::Open, "b.example"), OTHER_HEADLINE, OTHER_SUMMARY),
        ];
        let obs = observations(other_stance, jaccard());
        assert_eq!((obs[0].stance, obs[0].reports, obs[0].outlets.len()), (Stance::Closed, 1, 1));

        // No outlet known: one report.
        let mut a = reading(1, 1, Stance::Closed, "a.example");
        let mut b = worded(reading(2, 1, Stance::Closed, "b.example"), OTHER_HEADLINE, OTHER_SUMMARY);
        a.outlet = None;
        b.outlet = None;
        let obs = observations(vec![a, b], jaccard());
        assert_eq!((obs[0].reports, obs[0].outlets.len()), (1, 0));
    }

    #[test]
    fn a_story_reporting_a_shift_to_the_winning_stance_marks_the_cluster() {
        let mut to_closed = reading(1, 1, Stance::Closed, "a.example");
        to_closed.shift_to = Some(Stance::Closed);
        assert!(observations(vec![to_closed.clone()], jaccard())[0].reports_change);
        to_closed.shift_to = Some(Stance::Open);
        assert!(!observations(vec![to_closed], jaccard())[0].reports_change);
    }

    #[test]
    fn one_observation_per_cluster_sorted_by_day_then_address() {
        let mut rows = vec![
            reading(5, 3, Stance::Closed, "z.example"),
            reading(4, 3, Stance::Closed, "a.example"),
            reading(9, 2, Stance::Open, "m.example"),
            reading(8, 2, Stance::Open, "n.example"),
        ];
        rows[0].cluster = 5;
        rows[1].cluster = 4;
        rows[2].cluster = 8;
        rows[3].cluster = 8;
        let obs = observations(rows, jaccard());
        let summary: Vec<(NaiveDate, &str, Vec<i64>)> =
            obs.iter().map(|o| (o.date, o.order_key.as_str(), o.stories.clone())).collect();
        assert_eq!(
            summary,
            vec![
                (day(2), "https://m.example/story-9", vec![9, 8]),
                (day(3), "https://a.example/story-4", vec![4]),
                (day(3), "https://z.example/story-5", vec![5]),
            ]
        );
    }

    #[test]
    fn the_order_of_the_rows_does_not_matter() {
        let mut rows = Vec::new();
        for (story, outlet, title, summary) in [
            (1, "a.example", HEADLINE, SUMMARY),
            (2, "b.example", HEADLINE, SUMMARY),
            (3, "b.example", OTHER_HEADLINE, OTHER_SUMMARY),
        ] {
            // Same day, same address: only the story id tells them apart (b.example's copy
            // first would make its own write-up no report).
            let mut r = worded(reading(story, 1, Stance::Closed, outlet), title, summary);
            r.address = "https://same.example/".to_string();
            rows.push(r);
        }
        rows.push(reading(7, 4, Stance::Open, "d.example"));
        rows[3].cluster = 7;
        let expected = observations(rows.clone(), jaccard());
        assert_eq!(expected[0].reports, 2);
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20 {
            rng.shuffle(&mut rows);
            assert_eq!(observations(rows.clone(), jaccard()), expected);
        }
    }

    #[test]
    fn the_day_is_read_from_the_stored_time() {
        assert_eq!(published_day("2025-03-04T23:30:00Z"), Some(day(4)));
        assert_eq!(published_day("2025-03-04T23:30:00-05:00"), Some(day(4)), "the day as written");
        assert_eq!(published_day("2025-03-04"), Some(day(4)));
        assert_eq!(published_day("yesterday"), None);
        let mut r = reading(1, 1, Stance::Open, "a.example");
        r.published = "yesterday".into();
        assert!(observations(vec![r], jaccard()).is_empty(), "a cluster that cannot be dated is left out");
    }
}
