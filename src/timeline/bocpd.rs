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

use chrono::NaiveDate;

use super::{Change, ChangeSettings, Level, Observation, Regime, STANCES, Timeline, confirms, stance_index};
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
    /// Index of the regime's first observation.
    start: usize,
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
        };
        if let Some((stance, since)) = prior {
            d.begin(stance, Some(since));
        }
        d
    }

    /// The first regime: the prior stance, held with `prior_strength` pseudo-counts.
    fn begin(&mut self, stance: Stance, since: Option<NaiveDate>) {
        let mut counts = [FRESH; 3];
        if let Some(k) = stance_index(stance) {
            counts[k] += self.settings.prior_strength;
        }
        self.hypotheses = vec![Hypothesis { start: 0, log_mass: 0.0, counts }];
        self.regimes.push(RegimeState { stance, since, start: 0 });
    }

    /// Take in the last of `observations` (all observations so far, in timeline order).
    pub fn observe(&mut self, observations: &[Observation]) {
        let Some(o) = observations.last() else { return };
        let index = observations.len() - 1;
        // Neutral observations carry no stance; the evidence loader never yields them.
        let k = stance_index(o.stance).unwrap_or(2);
        if self.regimes.is_empty() {
            // No prior: the first evidence sets the starting stance.
            self.begin(o.stance, Some(o.date));
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

    /// Report or confirm a change after the last of `observations`.
    fn evaluate(&mut self, observations: &[Observation]) {
        let Some(o) = observations.last() else { return };
        let Some(regime) = self.regimes.last().cloned() else { return };
        let newer = self.hypotheses.iter().filter(|h| h.start > regime.start);
        let change_mass: f64 = newer.clone().map(|h| h.log_mass.exp()).sum();
        let best = newer.max_by(|a, b| a.log_mass.total_cmp(&b.log_mass).then(b.start.cmp(&a.start))).cloned();

        // A story that itself reports a change away from the regime, or a reported plan or
        // rumour of one, is at least a possible change.
        if (o.reports_change || o.hedged) && o.stance != regime.stance {
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
            self.regimes.push(RegimeState { stance: to, since: Some(at), start });
            self.hypotheses.retain(|h| h.start >= start);
            // A confirmed stance is held like the profile's prior: the next change needs
            // evidence of its own, not just the tail of this one.
            if let Some(k) = stance_index(to) {
                for h in self.hypotheses.iter_mut().filter(|h| h.start == start) {
                    h.counts[k] += self.settings.prior_strength;
                }
            }
            self.normalise();
        } else {
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
            let mut clusters = [0usize; 3];
            for o in &observations[r.start.min(end)..end] {
                if let Some(k) = stance_index(o.stance) {
                    clusters[k] += 1;
                }
            }
            regimes.push(Regime { stance: r.stance, since: r.since, clusters });
        }
        if regimes.is_empty()
            && let Some((stance, since)) = self.prior
        {
            regimes.push(Regime { stance, since: Some(since), clusters: [0; 3] });
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

    #[test]
    fn no_prior_starts_from_the_first_evidence() {
        let t = detect(None, &steady(Stance::Mixed, 0..200, 7), &ChangeSettings::default());
        assert!(t.changes.is_empty());
        assert_eq!(t.current().unwrap().stance, Stance::Mixed);
    }
}
