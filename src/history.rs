//! The stance history for people and scripts: `stances`, `history ENTITY` and `changes`, read
//! from each organisation's timeline summary (saved by the timeline refresh, recomputed from the
//! stored readings when out of date; a stance as of a past date is always recomputed, so it is
//! reproducible) and the stored change events.

use std::io::Write;

use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::output::{self, Column, Format};
use crate::stance::{Profile, Stance};
use crate::store::{ChangeRow, EvidenceRow, Store};
use crate::timeline::{
    ChangeSettings, Summary, Timeline, compute_summary, entity_observations, summary_key, timeline_of,
};

/// One line of `stances`.
#[derive(Debug, Serialize)]
pub struct StanceRow {
    pub entity: String,
    pub stance: Stance,
    /// When the stance began (the prior's date or the change's), if known.
    pub since: Option<String>,
    /// Evidence clusters since then: open, closed, mixed.
    pub open_clusters: usize,
    pub closed_clusters: usize,
    pub mixed_clusters: usize,
    /// The latest confirmed change, as "from→to on DATE".
    pub last_change: Option<String>,
}

/// One month of an entity's history.
#[derive(Debug, Serialize, Clone)]
pub struct MonthRow {
    pub month: String,
    /// The stance in force at the month's end.
    pub stance: Stance,
    pub open: usize,
    pub closed: usize,
    pub mixed: usize,
}

/// The profile's prior stance, where the timeline starts.
#[derive(Debug, Serialize)]
pub struct Prior {
    pub stance: Stance,
    pub since: String,
    /// The evidence corrected the prior (null: it stands): no story had shown the prior's stance
    /// before the evidence moved away from it, so the first regime takes the observed stance
    /// from the prior's date on, and that is no change event.
    pub calibration: Option<CalibrationRow>,
}

/// How the evidence corrected the profile's prior stance (see `timeline::Calibration`).
#[derive(Debug, Serialize)]
pub struct CalibrationRow {
    pub from: Stance,
    pub to: Stance,
    /// The first evidence of `to`.
    pub at: String,
    /// The day of the story that settled it.
    pub detected_on: String,
    pub confidence: f64,
    pub evidence: Vec<EvidenceRow>,
}

/// `history ENTITY` as JSON.
#[derive(Debug, Serialize)]
pub struct HistoryReport {
    pub entity: String,
    pub stance: Stance,
    pub since: Option<String>,
    pub prior: Option<Prior>,
    pub months: Vec<MonthRow>,
    pub changes: Vec<ChangeRow>,
}

/// Every entity's stance now, or as of `at` (from the stories published by then).
pub fn stances(
    store: &Store,
    profile: &Profile,
    settings: &ChangeSettings,
    at: Option<NaiveDate>,
) -> Result<Vec<StanceRow>> {
    let mut rows = Vec::new();
    for e in &profile.entities {
        // Now: the summary the last refresh saved. As of a date: the timeline up to it.
        let summary = match at {
            None => entity_summary(store, profile, settings, &e.key)?,
            Some(_) => {
                let observations = entity_observations(store, &e.key, at, settings.copy_jaccard)?;
                Summary::of(&observations, &timeline_of(profile, settings, &e.key, at, &observations))
            }
        };
        let last_change =
            summary.last_confirmed.map(|(from, to, day)| format!("{}→{} on {day}", from.as_str(), to.as_str()));
        let (stance, since, clusters) = match summary.regimes.last() {
            Some(r) => (r.stance, r.since.map(|d| d.to_string()), r.clusters),
            None => (Stance::Neutral, None, [0; 3]),
        };
        rows.push(StanceRow {
            entity: e.key.clone(),
            stance,
            since,
            open_clusters: clusters[0],
            closed_clusters: clusters[1],
            mixed_clusters: clusters[2],
            last_change,
        });
    }
    Ok(rows)
}

/// `entity`'s timeline summary: the one the last timeline refresh saved while it is current,
/// else computed from the stored readings (a reader cannot save it; the next refresh will).
pub fn entity_summary(store: &Store, profile: &Profile, settings: &ChangeSettings, entity: &str) -> Result<Summary> {
    match store.current_summary(entity, &summary_key(profile, settings, entity))? {
        Some(saved) => Ok(saved),
        None => compute_summary(store, profile, settings, entity),
    }
}

pub fn stance_columns() -> Vec<Column<StanceRow>> {
    vec![
        Column::new("entity", 14, |r: &StanceRow| r.entity.clone()),
        Column::new("stance", 8, |r| r.stance.as_str().to_string()),
        Column::new("since", 10, |r| r.since.clone().unwrap_or_default()),
        Column::new("evidence (open/closed/mixed clusters)", 40, |r| {
            format!("{}/{}/{}", r.open_clusters, r.closed_clusters, r.mixed_clusters)
        }),
        Column::new("last change", 40, |r| r.last_change.clone().unwrap_or_default()),
    ]
}

/// The entity's history: the stance per month, from its prior (or first evidence) to today.
pub fn history(
    store: &Store,
    profile: &Profile,
    settings: &ChangeSettings,
    entity: &str,
    today: NaiveDate,
) -> Result<HistoryReport> {
    let summary = entity_summary(store, profile, settings, entity)?;
    let timeline = summary.timeline();
    let prior = profile.entity(entity).and_then(|e| e.prior);
    let first = [prior.map(|p| p.1), summary.first_evidence].into_iter().flatten().min();
    let mut months = Vec::new();
    if let Some(first) = first {
        let mut month = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).unwrap_or(first);
        while month <= today {
            let next = month.checked_add_months(chrono::Months::new(1)).unwrap_or(today);
            let end = next.pred_opt().unwrap_or(month);
            let counts = summary.month(month);
            let stance = timeline.stance_on(end).map_or(Stance::Neutral, |r| r.stance);
            let stance = if first_stance_after(&timeline, end) { stance } else { Stance::Neutral };
            months.push(MonthRow {
                month: month.format("%Y-%m").to_string(),
                stance,
                open: counts[0],
                closed: counts[1],
                mixed: counts[2],
            });
            month = next;
        }
    }
    let current = timeline.current();
    let calibration = match timeline.calibration() {
        Some(c) => Some(CalibrationRow {
            from: c.from,
            to: c.to,
            at: c.at.to_string(),
            detected_on: c.detected_on.to_string(),
            confidence: c.confidence,
            evidence: store.evidence_stories(&c.evidence)?,
        }),
        None => None,
    };
    Ok(HistoryReport {
        entity: entity.to_string(),
        stance: current.map_or(Stance::Neutral, |r| r.stance),
        since: current.and_then(|r| r.since).map(|d| d.to_string()),
        prior: prior.map(|(stance, since)| Prior { stance, since: since.to_string(), calibration }),
        months,
        changes: store.changes(Some(entity), None)?,
    })
}

/// The timeline has begun by `day` (before its first regime there is no stance to show).
fn first_stance_after(timeline: &Timeline, day: NaiveDate) -> bool {
    timeline.regimes.first().is_some_and(|r| r.since.is_none_or(|s| s <= day))
}

/// `history` for people: a strip per year (one letter per month) and the change events.
pub fn print_history(out: &mut dyn Write, format: Format, report: &HistoryReport) -> Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            serde_json::to_writer(&mut *out, report)?;
            writeln!(out)?;
        }
        Format::Csv => output::print(out, format, &report.months, &month_columns())?,
        Format::Table => {
            let since = report.since.as_deref().map(|s| format!(" since {s}")).unwrap_or_default();
            writeln!(out, "{}: {}{since}", report.entity, report.stance.as_str())?;
            if let Some(p) = &report.prior {
                writeln!(out, "prior (profile): {} since {}", p.stance.as_str(), p.since)?;
                if let Some(c) = &p.calibration {
                    writeln!(out, "{}", calibration_line(c))?;
                }
            }
            writeln!(out)?;
            writeln!(out, "      J F M A M J J A S O N D")?;
            let mut year = "";
            let mut line = String::new();
            for m in &report.months {
                let (y, month) = m.month.split_at(4);
                if y != year {
                    if !line.is_empty() {
                        writeln!(out, "{line}")?;
                    }
                    year = y;
                    line = format!("{y} ");
                    let first_month: usize = month.trim_start_matches('-').parse().unwrap_or(1);
                    line.push_str(&"  ".repeat(first_month - 1));
                }
                line.push(' ');
                line.push(month_letter(m));
            }
            if !line.is_empty() {
                writeln!(out, "{line}")?;
            }
            writeln!(out, "O open  C closed  M mixed (capital: evidence that month; small: stance carried on)")?;
            writeln!(out)?;
            if report.changes.is_empty() {
                writeln!(out, "no change detected")?;
            } else {
                output::print(out, Format::Table, &report.changes, &change_columns())?;
            }
        }
    }
    Ok(())
}

/// The calibration as `history` shows it, with the stories that settled it.
fn calibration_line(c: &CalibrationRow) -> String {
    let evidence = match c.evidence.as_slice() {
        [] => String::new(),
        [one] => format!("; evidence: {}", one.title),
        [first, rest @ ..] => format!("; evidence: {} (+{} more)", first.title, rest.len()),
    };
    format!(
        "calibrated from the profile's prior {} to {} on {} (not a change: the evidence had not shown {} \
         before it said {}, from {}); confidence {:.2}{evidence}",
        c.from.as_str(),
        c.to.as_str(),
        c.detected_on,
        c.from.as_str(),
        c.to.as_str(),
        c.at,
        c.confidence,
    )
}

fn month_letter(m: &MonthRow) -> char {
    let letter = match m.stance {
        Stance::Open => 'o',
        Stance::Closed => 'c',
        Stance::Mixed => 'm',
        Stance::Neutral => '.',
    };
    if m.open + m.closed + m.mixed > 0 { letter.to_ascii_uppercase() } else { letter }
}

fn month_columns() -> Vec<Column<MonthRow>> {
    vec![
        Column::new("month", 7, |r: &MonthRow| r.month.clone()),
        Column::new("stance", 8, |r| r.stance.as_str().to_string()),
        Column::new("open", 6, |r| r.open.to_string()),
        Column::new("closed", 6, |r| r.closed.to_string()),
        Column::new("mixed", 6, |r| r.mixed.to_string()),
    ]
}

pub fn change_columns() -> Vec<Column<ChangeRow>> {
    vec![
        Column::new("at", 10, |r: &ChangeRow| r.at.clone()),
        Column::new("entity", 12, |r| r.entity.clone()),
        Column::new("change", 16, |r| format!("{} → {}", r.from, r.to)),
        Column::new("level", 9, |r| r.level.clone()),
        Column::new("confidence", 10, |r| format!("{:.2}", r.confidence)),
        Column::new("detected", 20, |r| r.detected_at.clone()),
        Column::new("evidence", 90, |r| {
            let first = r.evidence.first().map(|e| e.title.clone()).unwrap_or_default();
            match r.evidence.len() {
                0 => String::new(),
                1 => first,
                n => format!("{first} (+{} more)", n - 1),
            }
        }),
    ]
}

/// `changes` in any format (CSV lists evidence URLs space-separated).
pub fn print_changes(out: &mut dyn Write, format: Format, rows: &[ChangeRow]) -> Result<()> {
    if format == Format::Csv {
        let mut columns = change_columns();
        columns.pop();
        columns.push(Column::new("evidence", 1000, |r: &ChangeRow| {
            r.evidence.iter().filter_map(|e| e.url.clone()).collect::<Vec<_>>().join(" ")
        }));
        output::print(out, format, rows, &columns)?;
    } else {
        output::print(out, format, rows, &change_columns())?;
    }
    Ok(())
}
