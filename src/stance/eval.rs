//! Scoring the classifier against labelled items (the format of `../shared/corpus/dev.jsonl`):
//! stance macro-F1 over open/closed, accuracy, relevance F1, shift precision and recall, and a
//! confusion table — so a profile can be tuned against labels, and regressions show.

use std::fmt::Write;

use serde::Deserialize;

use super::classify::{Classifier, StoryText};
use super::profile::Stance;

#[derive(Debug, Deserialize)]
pub struct LabelledItem {
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    pub relevant: bool,
    #[serde(default)]
    pub shift: Option<ShiftLabel>,
}

#[derive(Debug, Deserialize)]
pub struct Label {
    pub entity: String,
    pub stance: Stance,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct ShiftLabel {
    pub entity: String,
    pub from: Stance,
    pub to: Stance,
}

/// Precision, recall and F1 from counts.
#[derive(Debug, Default, Clone, Copy)]
pub struct Prf {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Prf {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

const STANCES: [Stance; 4] = [Stance::Open, Stance::Closed, Stance::Mixed, Stance::Neutral];

#[derive(Debug, Default)]
pub struct Report {
    pub items: usize,
    pub open: Prf,
    pub closed: Prf,
    pub accuracy: f64,
    pub pairs: usize,
    pub relevance: Prf,
    pub shifts: Prf,
    /// confusion[label][prediction], in the order open, closed, mixed, neutral.
    pub confusion: [[usize; 4]; 4],
    /// (item id, entity, label, prediction) for every wrong stance.
    pub errors: Vec<(String, String, Stance, Stance)>,
}

impl Report {
    pub fn macro_f1(&self) -> f64 {
        (self.open.f1() + self.closed.f1()) / 2.0
    }

    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "items: {}, labelled (item, entity) pairs: {}", self.items, self.pairs);
        let _ = writeln!(
            out,
            "stance macro-F1 (open/closed): {:.3}  (open F1 {:.3}, closed F1 {:.3})",
            self.macro_f1(),
            self.open.f1(),
            self.closed.f1()
        );
        let _ = writeln!(out, "stance accuracy (all labelled pairs): {:.3}", self.accuracy);
        let r = &self.relevance;
        let _ = writeln!(out, "relevance: F1 {:.3}, precision {:.3}, recall {:.3}", r.f1(), r.precision(), r.recall());
        let s = &self.shifts;
        let _ = writeln!(
            out,
            "shifts: precision {:.3}, recall {:.3} ({} right, {} wrong, {} missed)",
            s.precision(),
            s.recall(),
            s.tp,
            s.fp,
            s.fn_
        );
        let _ = writeln!(out, "confusion (rows: label, columns: prediction):");
        let _ = writeln!(out, "  {:<8} {:>6} {:>6} {:>6} {:>7}", "", "open", "closed", "mixed", "neutral");
        for (i, row) in self.confusion.iter().enumerate() {
            let _ =
                writeln!(out, "  {:<8} {:>6} {:>6} {:>6} {:>7}", STANCES[i].as_str(), row[0], row[1], row[2], row[3]);
        }
        if verbose {
            for (id, entity, label, predicted) in &self.errors {
                let _ = writeln!(out, "  {id} {entity}: labelled {}, predicted {}", label.as_str(), predicted.as_str());
            }
        }
        out
    }
}

/// The label that stands for every organisation the labels do not name one by one.
const OTHER: &str = "other";

pub fn evaluate(classifier: &Classifier, items: &[LabelledItem]) -> Report {
    let mut report = Report { items: items.len(), ..Report::default() };
    let mut right = 0;
    // Keys the labels use by name; any other entity of the profile answers to "other".
    let named: std::collections::HashSet<&str> = items
        .iter()
        .flat_map(|i| i.labels.iter().map(|l| l.entity.as_str()).chain(i.shift.iter().map(|s| s.entity.as_str())))
        .filter(|k| *k != OTHER)
        .collect();
    let label_key = |key: &str| -> String { if named.contains(key) { key.to_string() } else { OTHER.to_string() } };
    for (n, item) in items.iter().enumerate() {
        let id = item.id.clone().unwrap_or_else(|| (n + 1).to_string());
        let published =
            item.published.as_deref().and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok());
        let mut c = classifier.classify(&StoryText {
            title: &item.title,
            summary: &item.summary,
            content: &item.content,
            published,
        });
        // Several "other" organisations: the one the story says most about speaks for them.
        c.entities.sort_by(|a, b| {
            let weight = |e: &super::classify::EntityStance| (e.stance != Stance::Neutral, e.confidence);
            weight(b).partial_cmp(&weight(a)).unwrap_or(std::cmp::Ordering::Equal)
        });
        for e in &mut c.entities {
            e.entity = label_key(&e.entity);
        }
        for s in &mut c.shifts {
            s.entity = label_key(&s.entity);
        }
        match (item.relevant, c.relevant) {
            (true, true) => report.relevance.tp += 1,
            (false, true) => report.relevance.fp += 1,
            (true, false) => report.relevance.fn_ += 1,
            (false, false) => {}
        }
        for label in &item.labels {
            let predicted =
                c.entities.iter().find(|e| e.entity == label.entity).map(|e| e.stance).unwrap_or(Stance::Neutral);
            report.pairs += 1;
            let li = STANCES.iter().position(|s| *s == label.stance).unwrap_or(3);
            let pi = STANCES.iter().position(|s| *s == predicted).unwrap_or(3);
            report.confusion[li][pi] += 1;
            if predicted == label.stance {
                right += 1;
            } else {
                report.errors.push((id.clone(), label.entity.clone(), label.stance, predicted));
            }
            // Macro-F1 over the pairs labelled open or closed in relevant items.
            if item.relevant && matches!(label.stance, Stance::Open | Stance::Closed) {
                for (class, prf) in [(Stance::Open, &mut report.open), (Stance::Closed, &mut report.closed)] {
                    match (label.stance == class, predicted == class) {
                        (true, true) => prf.tp += 1,
                        (false, true) => prf.fp += 1,
                        (true, false) => prf.fn_ += 1,
                        (false, false) => {}
                    }
                }
            }
        }
        let mut matched = false;
        for shift in &c.shifts {
            let hit = item
                .shift
                .as_ref()
                .is_some_and(|l| l.entity == shift.entity && l.from == shift.from && l.to == shift.to);
            if hit && !matched {
                report.shifts.tp += 1;
                matched = true;
            } else {
                report.shifts.fp += 1;
            }
        }
        if item.shift.is_some() && !matched {
            report.shifts.fn_ += 1;
        }
    }
    report.accuracy = ratio(right, report.pairs);
    report
}

/// Read labelled JSON Lines; errors name the line.
pub fn read_labelled(text: &str, source: &str) -> Result<Vec<LabelledItem>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: LabelledItem =
            serde_json::from_str(line).map_err(|e| format!("{source}: line {}: not a labelled item: {e}", i + 1))?;
        out.push(item);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::Profile;

    #[test]
    fn scores_a_tiny_labelled_set() {
        let text = r#"{"id":"a","title":"Meta releases Llama 5 as open weights","labels":[{"entity":"meta","stance":"open"}],"relevant":true,"shift":null}
{"id":"b","title":"OpenAI keeps its new model proprietary","labels":[{"entity":"openai","stance":"closed"}],"relevant":true}
{"id":"c","title":"Nvidia earnings rise","labels":[{"entity":"nvidia","stance":"neutral"}],"relevant":false}"#;
        let items = read_labelled(text, "t.jsonl").unwrap();
        let report = evaluate(&Classifier::new(Profile::builtin()), &items);
        assert_eq!(report.macro_f1(), 1.0, "{}", report.render(true));
        assert_eq!(report.relevance.f1(), 1.0);
        assert_eq!(report.accuracy, 1.0);
        assert!(read_labelled("{\"title\": 1}", "x.jsonl").unwrap_err().contains("x.jsonl: line 1"));
    }
}
