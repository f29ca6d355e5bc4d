//! The change detector on simulated streams: false alarms on stationary streams (20% of the
//! clusters misread) at 1, 5 and 20 clusters a week, each cluster written up by one outlet or by
//! one to four outlets independently, and the delay to confirm a real change. Prints the figures;
//! the floor is < 0.5 confirmed false alarms per entity-year at every rate and coverage.

use chrono::NaiveDate;
use stancewatch::stance::Stance;
use stancewatch::timeline::{ChangeSettings, Level, Observation, detect, sort_observations};

const OUTLETS: usize = 12;
const NOISE: f64 = 0.2;

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 1, 1).unwrap()
}

/// A stream of `per_week` clusters a week for `days`, saying `truth` except for 20% noise (the
/// other two stances); the truth becomes `after` on day `switch`. Each cluster has one report, or
/// with `wide` one to four outlets' own reports (a misread cluster is misread by all of them).
fn stream(
    rng: &mut fastrand::Rng,
    wide: bool,
    per_week: f64,
    days: i64,
    truth: Stance,
    switch: Option<(i64, Stance)>,
) -> Vec<Observation> {
    let mut out = Vec::new();
    let mut t = 0.0;
    let mut n = 0;
    loop {
        // Poisson arrivals: exponential gaps.
        t += -(1.0 - rng.f64()).ln() * 7.0 / per_week;
        if t >= days as f64 {
            break;
        }
        let day = t as i64;
        let true_now = match switch {
            Some((at, s)) if day >= at => s,
            _ => truth,
        };
        let stance = if rng.f64() < NOISE {
            let others: Vec<Stance> =
                [Stance::Open, Stance::Closed, Stance::Mixed].into_iter().filter(|s| *s != true_now).collect();
            others[rng.usize(..2)]
        } else {
            true_now
        };
        n += 1;
        let reports = if wide { 1 + rng.usize(..4) } else { 1 };
        let mut outlets: Vec<String> =
            (0..reports).map(|_| format!("outlet{}.example", rng.usize(..OUTLETS))).collect();
        outlets.sort();
        outlets.dedup();
        out.push(Observation {
            date: start() + chrono::Days::new(day as u64),
            order_key: format!("{n:08}"),
            stance,
            weight: 0.3 + 0.7 * rng.f64(),
            certain: rng.f64() < 0.5,
            reports_change: false,
            hedged: false,
            reports: outlets.len(),
            outlets,
            stories: vec![n],
        });
    }
    sort_observations(&mut out);
    out
}

#[test]
fn false_alarms_stay_rare_at_every_volume_and_real_changes_are_caught() {
    let settings = ChangeSettings::default();
    let mut rng = fastrand::Rng::with_seed(20261127);
    let years_per_entity = 2;
    let entities = 30;
    for wide in [false, true] {
        let coverage = if wide { "1-4 independent reports a cluster" } else { "one report a cluster" };
        println!(
            "stationary streams, {:.0}% misread, {coverage}, {entities} entities x {years_per_entity} years:",
            NOISE * 100.0
        );
        for per_week in [1.0, 5.0, 20.0] {
            let (mut confirmed, mut possible) = (0usize, 0usize);
            for e in 0..entities {
                let truth = [Stance::Open, Stance::Closed, Stance::Mixed][e % 3];
                let obs = stream(&mut rng, wide, per_week, 365 * years_per_entity, truth, None);
                let t = detect(Some((truth, start())), &obs, &settings);
                confirmed += t.changes.iter().filter(|c| c.level == Level::Confirmed).count();
                possible += t.changes.iter().filter(|c| c.level == Level::Possible).count();
            }
            let entity_years = (entities * years_per_entity as usize) as f64;
            let rate = confirmed as f64 / entity_years;
            println!(
                "  {per_week:>4} clusters/week: {rate:.3} confirmed false alarms per entity-year ({confirmed} in {entity_years} entity-years), {:.3} possible",
                possible as f64 / entity_years
            );
            assert!(
                rate < 0.5,
                "{rate} confirmed false alarms per entity-year at {per_week} clusters/week ({coverage})"
            );
        }
    }

    println!("a real change (open -> closed on day 365), with the same noise:");
    for per_week in [1.0, 5.0, 20.0] {
        let mut delays = Vec::new();
        let mut missed = 0;
        for _ in 0..entities {
            let obs = stream(&mut rng, false, per_week, 365 * 2, Stance::Open, Some((365, Stance::Closed)));
            let t = detect(Some((Stance::Open, start())), &obs, &settings);
            // The first confirmed change to closed after the switch (a false alarm before it may
            // have moved the regime, so `from` is not checked).
            let switch = start() + chrono::Days::new(365);
            match t
                .changes
                .iter()
                .find(|c| c.level == Level::Confirmed && c.to == Stance::Closed && c.detected_on >= switch)
            {
                Some(c) => delays.push((c.detected_on - (start() + chrono::Days::new(365))).num_days()),
                None => missed += 1,
            }
        }
        delays.sort_unstable();
        let median = delays.get(delays.len() / 2).copied().unwrap_or(-1);
        println!(
            "  {per_week:>4} clusters/week: detected {}/{entities}, median delay {median} days, max {} days",
            delays.len(),
            delays.last().copied().unwrap_or(-1)
        );
        if per_week >= 5.0 {
            assert!(missed == 0, "{missed} real changes missed at {per_week} clusters/week");
        }
    }
}
