//! Bayesian online change-point detection (Adams & MacKay, 2007) over stance observations.
//!
//! Each hypothesis says "the current segment began at observation `start`" and carries Dirichlet
//! counts over {open, closed, mixed} for that segment. An observation of stance k with weight w
//! multiplies each hypothesis by its predictive probability of k raised to w (a tempered
//! likelihood: weak evidence moves the posterior less), and a new segment may begin before it
//! with a **time-based hazard** h = 1 − exp(−Δt / expected_days): the chance of a change depends
//! on the time elapsed, not on how many stories were written, so false alarms stay flat as
//! coverage grows. Same-day observations cannot be split by a change, which also keeps the
//! result independent of the order of same-day clusters.
//!
//! The posterior mass of hypotheses that begin after the current regime began is the
//! probability of a change. Above `possible_posterior` it is a `possible` change; above
//! `confirm_posterior` *and* meeting the evidence rule (`super::confirms`) it is confirmed, and the
//! new segment becomes the regime.
//!
//! The profile's prior stance starts the timeline but is not evidence that the entity held it.
//! The prior's regime is *observed* once the evidence shows its stance: after a cluster of that
//! stance, it leads the clusters so far (at least as many as either other stance) while the
//! detector still holds the prior (the change probability below `possible_posterior`). A stray
//! cluster inside a move already under way, or one misread among many of another stance, does
//! not observe it. A regime that came from evidence (the first cluster when there is no prior, a
//! confirmed change, a calibration) is observed from its start. Away from a regime not observed,
//! nothing is a change: no `possible` change is reported, and what would have confirmed one
//! calibrates the first regime to the new stance instead.

use chrono::NaiveDate;

use super::{
    Calibration, Change, ChangeSettings, Level, Observation, Regime, STANCES, Timeline, confirms, stance_index,
};
use crate::stance::Stance;

/// Pseudo-count of each stance in a new segment: a new segment expects nothing in particular.
const FRESH: f64 = 0.5;
/// Hypotheses kept: the run-length posterior is pruned to the most probable ones.
const MAX_HYPOTHESES: usize = 60;
/// Hypotheses below this posterior mass are dropped.
const MIN_MASS_LN: f64 = -14.0;
/// The weakest an observation counts (so every cluster moves the posterior a little).
const MIN_WEIGHT: f64 = 0.05;

#[derive(Debug, Clone)]
struct Hypothesis {
    start: usize,
    log_mass: f64,
    counts: [f64; 3],
}

#[derive(Debug, Clone)]
struct RegimeState {
    stance: Stance,
    since: Option<NaiveDate>,
    /// Index of the regime's first observation (of a calibrated first regime: of the evidence
    /// that calibrated it, where the detector's segment begins; the regime itself covers all
    /// observations before the next one).
    start: usize,
    /// Evidence has shown this regime's stance (see the module comment); moves away from a
    /// regime not observed are calibrations, not changes.
    observed: bool,
    calibration: Option<Calibration>,
}

/// The detector for one entity, fed observations in timeline order. The caller keeps the
/// observations (each call passes all of them so far, the new one last), so the detector's own
/// state stays small and cheap to copy.
#[derive(Clone)]
pub struct Detector {
    settings: ChangeSettings,
    prior: Option<(Stance, NaiveDate)>,
    hypotheses: Vec<Hypothesis>,
    regimes: Vec<RegimeState>,
    changes: Vec<Change>,
    last_date: Option<NaiveDate>,
    /// Where the evidence-rule scan for a (segment start, stance) resumes: the windows before
    /// it have already failed for good.
    confirm_scan: Option<(usize, Stance, usize)>,
    /// Clusters fed so far by stance (open, closed, mixed): whether the prior is observed.
    seen: [usize; 3],
}

impl Detector {
    pub fn new(prior: Option<(Stance, NaiveDate)>, settings: ChangeSettings) -> Detector {
        let prior = prior.filter(|(s, _)| stance_index(*s).is_some());
        let mut d = Detector {
            settings,
            prior,
            hypotheses: Vec::new(),
            regimes: Vec::new(),
            changes: Vec::new(),
            last_date: None,
            confirm_scan: None,
            seen: [0; 3],
        };
        if let Some((stance, since)) = prior {
            d.begin(stance, Some(since), false);
        }
        d
    }

    /// The first regime: the prior stance (not yet `observed`) or the first evidence's, held
    /// with `prior_strength` pseudo-counts.
    fn begin(&mut self, stance: Stance, since: Option<NaiveDate>, observed: bool) {
        let mut counts = [FRESH; 3];
        if let Some(k) = stance_index(stance) {
            counts[k] += self.settings.prior_strength;
        }
        self.hypotheses = vec![Hypothesis { start: 0, log_mass: 0.0, counts }];
        self.regimes.push(RegimeState { stance, since, start: 0, observed, calibration: None });
    }

    /// Take in the last of `observations` (all observations so far, in timeline order).
    pub fn observe(&mut self, observations: &[Observation]) {
        let Some(o) = observations.last() else { return };
        let index = observations.len() - 1;
        // Neutral observations carry no stance; the evidence loader never yields them.
        let k = stance_index(o.stance).unwrap_or(2);
        if self.regimes.is_empty() {
            // No prior: the first evidence sets the starting stance.
            self.begin(o.stance, Some(o.date), true);
        }
        let elapsed = self.last_date.map_or(0, |p| (o.date - p).num_days().max(0));
        let hazard = if index == 0 {
            0.0
        } else {
            (1.0 - (-(elapsed as f64) / self.settings.expected_days_between_changes).exp()).min(0.99)
        };
        let w = o.weight.clamp(MIN_WEIGHT, 1.0);

        let total_before = log_sum_exp(self.hypotheses.iter().map(|h| h.log_mass));
        for h in &mut self.hypotheses {
            let sum: f64 = h.counts.iter().sum();
            h.log_mass += (1.0 - hazard).ln() + w * (h.counts[k] / sum).ln();
        }
        if hazard > 0.0 {
            self.hypotheses.push(Hypothesis {
                start: index,
                log_mass: total_before + hazard.ln() + w * (1.0f64 / 3.0).ln(),
                counts: [FRESH; 3],
            });
        }
        for h in &mut self.hypotheses {
            h.counts[k] += w;
        }
        self.seen[k] += 1;
        self.normalise();
        self.last_date = Some(o.date);
        self.evaluate(observations);
    }

    fn normalise(&mut self) {
        let total = log_sum_exp(self.hypotheses.iter().map(|h| h.log_mass));
        for h in &mut self.hypotheses {
            h.log_mass -= total;
        }
        self.hypotheses.retain(|h| h.log_mass > MIN_MASS_LN);
        if self.hypotheses.len() > MAX_HYPOTHESES {
            self.hypotheses.sort_by(|a, b| b.log_mass.total_cmp(&a.log_mass).then(a.start.cmp(&b.start)));
            self.hypotheses.truncate(MAX_HYPOTHESES);
            self.hypotheses.sort_by_key(|h| h.start);
            let total = log_sum_exp(self.hypotheses.iter().map(|h| h.log_mass));
            for h in &mut self.hypotheses {
                h.log_mass -= total;
            }
        }
    }

    /// Report or confirm a change (or calibrate the prior) after the last of `observations`.
    fn evaluate(&mut self, observations: &[Observation]) {
        let Some(o) = observations.last() else { return };
        let Some(mut regime) = self.regimes.last().cloned() else { return };
        let newer = self.hypotheses.iter().filter(|h| h.start > regime.start);
        let change_mass: f64 = newer.clone().map(|h| h.log_mass.exp()).sum();
        let best = newer.max_by(|a, b| a.log_mass.total_cmp(&b.log_mass).then(b.start.cmp(&a.start))).cloned();

        // The prior's stance shown, leading the evidence, while the detector holds the prior: it
        // is observed. (Only the first regime is ever unobserved, so `seen` counts its clusters.)
        let leads = stance_index(regime.stance).is_some_and(|r| self.seen.iter().all(|&n| n <= self.seen[r]));
        if !regime.observed && o.stance == regime.stance && leads && change_mass < self.settings.possible_posterior {
            regime.observed = true;
            if let Some(r) = self.regimes.last_mut() {
                r.observed = true;
            }
        }

        // A story that itself reports a change away from the regime, or a reported plan or
        // rumour of one, is at least a possible change.
        if (o.reports_change || o.hedged) && o.stance != regime.stance && regime.observed {
            let start = observations.len() - 1;
            self.note_possible(observations, &regime, o.stance, start, change_mass.max(0.5 * o.weight));
        }
        tracing::trace!(date = %o.date, stance = o.stance.as_str(), weight = o.weight, regime = regime.stance.as_str(), change_mass, "timeline step");
        let Some(best) = best else { return };
        if change_mass < self.settings.possible_posterior {
            return;
        }
        let to = leading_stance(&best.counts);
        if to == regime.stance {
            return;
        }
        let from = match self.confirm_scan {
            Some((start, stance, resume)) if start == best.start && stance == to => resume,
            _ => best.start,
        };
        let (window, resume) = confirms(observations, from, to, &self.settings);
        self.confirm_scan = Some((best.start, to, resume));
        if let (true, Some(window_start)) = (change_mass >= self.settings.confirm_posterior, window) {
            // The new regime begins with the evidence that confirmed it (earlier, scattered
            // items of the segment stay with the old one), if the detector still holds that
            // hypothesis.
            let start = if self.hypotheses.iter().any(|h| h.start == window_start) { window_start } else { best.start };
            let new_stance: Vec<&Observation> =
                observations[window_start..].iter().filter(|x| x.stance == to).collect();
            // Dated by the first certain-level item (the release, not the plan before it).
            let at = new_stance.iter().find(|x| x.certain).unwrap_or(&new_stance[0]).date;
            if regime.observed {
                let change = Change {
                    from: regime.stance,
                    to,
                    level: Level::Confirmed,
                    at,
                    regime_since: regime.since,
                    detected_on: o.date,
                    confidence: round2(change_mass),
                    evidence: evidence_of(&new_stance),
                };
                // A possible change of the same regime in the same direction is upgraded.
                match self
                    .changes
                    .iter_mut()
                    .find(|c| c.regime_since == regime.since && c.from == regime.stance && c.to == to)
                {
                    Some(c) => *c = change,
                    None => self.changes.push(change),
                }
                self.regimes.push(RegimeState {
                    stance: to,
                    since: Some(at),
                    start,
                    observed: true,
                    calibration: None,
                });
            } else if let Some(first) = self.regimes.last_mut() {
                // Only the prior's regime is ever unobserved, and it is the first: it takes the
                // observed stance from the prior's date on (nothing shows a change in between).
                let earliest = observations.iter().find(|x| x.stance == to).map_or(at, |x| x.date);
                first.calibration = Some(Calibration {
                    from: first.stance,
                    to,
                    at: earliest,
                    detected_on: o.date,
                    confidence: round2(change_mass),
                    evidence: evidence_of(&new_stance),
                });
                first.stance = to;
                first.start = start;
                first.observed = true;
            }
            self.hypotheses.retain(|h| h.start >= start);
            // A confirmed stance is held like the profile's prior: the next change needs
            // evidence of its own, not just the tail of this one.
            if let Some(k) = stance_index(to) {
                for h in self.hypotheses.iter_mut().filter(|h| h.start == start) {
                    h.counts[k] += self.settings.prior_strength;
                }
            }
            self.normalise();
        } else if regime.observed {
            self.note_possible(observations, &regime, to, best.start, change_mass);
        }
    }

    fn note_possible(
        &mut self,
        observations: &[Observation],
        regime: &RegimeState,
        to: Stance,
        start: usize,
        confidence: f64,
    ) {
        let on = observations.last().map(|o| o.date).unwrap_or_default();
        let new_stance: Vec<&Observation> = observations[start..].iter().filter(|x| x.stance == to).collect();
        let at = new_stance.first().map_or(on, |x| x.date);
        let existing =
            self.changes.iter_mut().find(|c| c.regime_since == regime.since && c.from == regime.stance && c.to == to);
        match existing {
            Some(c) if c.level == Level::Possible => {
                c.confidence = c.confidence.max(round2(confidence));
                for id in evidence_of(&new_stance) {
                    if !c.evidence.contains(&id) {
                        c.evidence.push(id);
                    }
                }
            }
            Some(_) => {}
            None => self.changes.push(Change {
                from: regime.stance,
                to,
                level: Level::Possible,
                at,
                regime_since: regime.since,
                detected_on: on,
                confidence: round2(confidence),
                evidence: evidence_of(&new_stance),
            }),
        }
    }

    /// The timeline so far; `observations` are the ones fed.
    pub fn timeline(&self, observations: &[Observation]) -> Timeline {
        let mut regimes = Vec::new();
        for (i, r) in self.regimes.iter().enumerate() {
            let end = self.regimes.get(i + 1).map_or(observations.len(), |n| n.start).min(observations.len());
            // The first regime holds everything before the second (a calibrated one also the
            // evidence before the calibrating segment).
            let begin = if i == 0 { 0 } else { r.start.min(end) };
            let mut clusters = [0usize; 3];
            for o in &observations[begin..end] {
                if let Some(k) = stance_index(o.stance) {
                    clusters[k] += 1;
                }
            }
            regimes.push(Regime { stance: r.stance, since: r.since, clusters, calibration: r.calibration.clone() });
        }
        if regimes.is_empty()
            && let Some((stance, since)) = self.prior
        {
            regimes.push(Regime { stance, since: Some(since), clusters: [0; 3], calibration: None });
        }
        Timeline { regimes, changes: self.changes.clone() }
    }
}

/// The stance a segment's counts favour (the fresh pseudo-counts are equal, so they do not tip it).
fn leading_stance(counts: &[f64; 3]) -> Stance {
    let mut best = 0;
    for k in 1..3 {
        if counts[k] > counts[best] {
            best = k;
        }
    }
    STANCES[best]
}

/// Evidence story ids: the earliest story of each new-stance cluster, at most 10 clusters.
fn evidence_of(observations: &[&Observation]) -> Vec<i64> {
    observations.iter().take(10).flat_map(|o| o.stories.first().copied()).collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::super::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(n as u64)
    }

    fn obs(n: i64, stance: Stance, outlet: &str, certain: bool) -> Observation {
        Observation {
            date: day(n),
            order_key: format!("{n:06}-{outlet}"),
            stance,
            weight: 0.8,
            certain,
            reports_change: false,
            hedged: false,
            outlets: vec![outlet.to_string()],
            reports: 1,
            stories: vec![n],
        }
    }

    fn steady(stance: Stance, days: std::ops::Range<i64>, every: i64) -> Vec<Observation> {
        days.step_by(every as usize).map(|n| obs(n, stance, &format!("o{}.com", n % 5), n % 3 == 0)).collect()
    }

    #[test]
    fn a_clean_shift_is_confirmed_when_the_evidence_rule_holds() {
        let mut o = steady(Stance::Open, 0..300, 7);
        o.push(obs(310, Stance::Closed, "a.com", true));
        o.push(obs(315, Stance::Closed, "b.com", false));
        o.push(obs(320, Stance::Closed, "c.com", false));
        o.extend(steady(Stance::Closed, 330..400, 7));
        let t = detect(Some((Stance::Open, day(0))), &o, &ChangeSettings::default());
        let confirmed: Vec<&Change> = t.changes.iter().filter(|c| c.level == Level::Confirmed).collect();
        assert_eq!(confirmed.len(), 1, "{t:#?}");
        assert_eq!((confirmed[0].from, confirmed[0].to, confirmed[0].at), (Stance::Open, Stance::Closed, day(310)));
        assert!(confirmed[0].detected_on <= day(320), "confirmed by the third cluster: {:?}", confirmed[0]);
        assert_eq!(t.current().unwrap().stance, Stance::Closed);
        assert_eq!(t.stance_on(day(200)).unwrap().stance, Stance::Open);
    }

    #[test]
    fn one_outlet_or_no_certain_item_is_only_possible() {
        let mut o = steady(Stance::Open, 0..300, 7);
        for n in [310, 312, 314, 316] {
            o.push(obs(n, Stance::Closed, "same.com", true));
        }
        let t = detect(Some((Stance::Open, day(0))), &o, &ChangeSettings::default());
        assert!(t.changes.iter().all(|c| c.level == Level::Possible), "{t:#?}");
        assert!(!t.changes.is_empty());
    }

    /// A burst that meets the evidence rule: clusters of `stance` from three outlets, certain.
    fn burst(stance: Stance, days: &[i64]) -> Vec<Observation> {
        days.iter().enumerate().map(|(i, &n)| obs(n, stance, &format!("b{i}.com"), true)).collect()
    }

    fn confirmed(t: &Timeline) -> Vec<(Stance, Stance, NaiveDate)> {
        t.changes.iter().filter(|c| c.level == Level::Confirmed).map(|c| (c.from, c.to, c.at)).collect()
    }

    #[test]
    fn evidence_against_a_prior_never_observed_calibrates_it_without_a_change() {
        // The prior says closed; no story ever showed it closed. A reported plan to open up,
        // then open releases: the evidence corrects the prior, nothing changed in the world.
        let mut o = vec![Observation { hedged: true, certain: false, ..obs(20, Stance::Open, "rumour.com", false) }];
        o.extend(burst(Stance::Open, &[30, 34, 38]));
        o.extend(steady(Stance::Open, 60..400, 7));
        let t = detect(Some((Stance::Closed, day(0))), &o, &ChangeSettings::default());
        assert!(t.changes.is_empty(), "neither possible nor confirmed: {t:#?}");
        assert_eq!(t.regimes.len(), 1, "{t:#?}");
        let first = &t.regimes[0];
        assert_eq!((first.stance, first.since), (Stance::Open, Some(day(0))), "the prior's date, the observed stance");
        assert_eq!(first.clusters[0], o.len(), "all the evidence is in the calibrated regime");
        let c = t.calibration().expect("calibrated");
        assert_eq!((c.from, c.to, c.at), (Stance::Closed, Stance::Open, day(20)), "{c:?}");
        assert!(c.detected_on >= day(38) && !c.evidence.is_empty(), "{c:?}");
        assert_eq!(t.stance_on(day(10)).unwrap().stance, Stance::Open);
    }

    #[test]
    fn one_misread_cluster_of_the_prior_stance_among_others_does_not_observe_it() {
        // Prior mixed; the evidence says open from the start, with one misread mixed cluster
        // after three open ones.
        let mut o = burst(Stance::Open, &[10, 14, 18]);
        o.push(obs(22, Stance::Mixed, "misread.com", false));
        o.extend(steady(Stance::Open, 30..300, 7));
        let t = detect(Some((Stance::Mixed, day(0))), &o, &ChangeSettings::default());
        assert!(t.changes.is_empty(), "{t:#?}");
        assert_eq!(t.calibration().map(|c| (c.from, c.to)), Some((Stance::Mixed, Stance::Open)), "{t:#?}");
    }

    #[test]
    fn one_cluster_showing_the_prior_makes_a_later_move_a_change() {
        // The same open evidence as a calibration, after one closed cluster: a real change.
        let mut o = vec![obs(5, Stance::Closed, "a.com", true)];
        o.extend(burst(Stance::Open, &[30, 34, 38]));
        o.extend(steady(Stance::Open, 60..400, 7));
        let t = detect(Some((Stance::Closed, day(0))), &o, &ChangeSettings::default());
        assert_eq!(confirmed(&t), vec![(Stance::Closed, Stance::Open, day(30))], "{t:#?}");
        assert!(t.calibration().is_none(), "{t:#?}");
        assert_eq!(t.regimes.iter().map(|r| r.stance).collect::<Vec<_>>(), vec![Stance::Closed, Stance::Open]);
    }

    #[test]
    fn a_prior_held_by_the_evidence_then_left_is_a_change() {
        // Meta: open since 2023-07-18, weekly open coverage through 2024-2025, closed in
        // December 2025.
        let on = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let mut o = Vec::new();
        let (mut date, mut i) = (on(2024, 1, 3), 0);
        while date < on(2025, 11, 1) {
            let outlet = format!("o{}.com", i % 5);
            o.push(Observation { date, order_key: format!("{i:04}"), ..obs(0, Stance::Open, &outlet, i % 4 == 0) });
            date = date + chrono::Days::new(7);
            i += 1;
        }
        for (i, d) in [3, 8, 12, 19].into_iter().enumerate() {
            let outlet = format!("c{i}.com");
            o.push(Observation {
                date: on(2025, 12, d),
                order_key: format!("c{i}"),
                ..obs(0, Stance::Closed, &outlet, true)
            });
        }
        let t = detect(Some((Stance::Open, on(2023, 7, 18))), &o, &ChangeSettings::default());
        assert_eq!(confirmed(&t), vec![(Stance::Open, Stance::Closed, on(2025, 12, 3))], "{t:#?}");
        assert!(t.calibration().is_none());
    }

    #[test]
    fn after_a_calibration_a_move_is_a_change_from_the_calibrated_stance() {
        let mut o = burst(Stance::Open, &[10, 14, 18]);
        o.extend(steady(Stance::Open, 30..400, 7));
        o.extend(burst(Stance::Closed, &[410, 414, 418]));
        o.extend(steady(Stance::Closed, 430..600, 7));
        let t = detect(Some((Stance::Mixed, day(0))), &o, &ChangeSettings::default());
        assert_eq!(t.calibration().map(|c| (c.from, c.to)), Some((Stance::Mixed, Stance::Open)), "{t:#?}");
        assert_eq!(confirmed(&t), vec![(Stance::Open, Stance::Closed, day(410))], "{t:#?}");
        assert_eq!(t.changes[0].regime_since, Some(day(0)), "the regime left is the prior's, calibrated");
    }

    #[test]
    fn no_prior_starts_from_the_first_evidence() {
        let t = detect(None, &steady(Stance::Mixed, 0..200, 7), &ChangeSettings::default());
        assert!(t.changes.is_empty());
        assert_eq!(t.current().unwrap().stance, Stance::Mixed);
    }
}
