//! Scoring the classifier against labelled items (the format of `../shared/corpus/dev.jsonl`):
//! stance macro-F1 over open/closed, accuracy, relevance F1, shift precision and recall, and a
//! confusion table — so a profile can be tuned against labels, and regressions show.

use std::fmt::Write;

use serde::Deserialize;

use super::classify::Classifier;
use super::profile::Stance;

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub entity: String,
    pub stance: Stance,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
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
    /// Open or closed stances given to organisations the item's labels do not name.
    pub unlabelled: Vec<(String, String, Stance)>,
    /// (item id, what was wrong) for every missed or wrongly reported change.
    pub shift_errors: Vec<(String, String)>,
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
            for (id, entity, predicted) in &self.unlabelled {
                let _ = writeln!(out, "  {id} {entity}: not labelled, predicted {}", predicted.as_str());
            }
            for (id, what) in &self.shift_errors {
                let _ = writeln!(out, "  {id} change: {what}");
            }
        }
        out
    }
}

pub fn evaluate(classifier: &Classifier, items: &[LabelledItem]) -> Report {
    evaluate_with(items, |item| classifier.classify(&super::model::story_text(item)))
}

/// [`evaluate`] with any reader: `read` gives each item's classification (the judge's, say).
pub fn evaluate_with(items: &[LabelledItem], mut read: impl FnMut(&LabelledItem) -> super::Classification) -> Report {
    let mut report = Report { items: items.len(), ..Report::default() };
    let mut right = 0;
    // Keys the labels use by name; any other entity of the profile answers to "other".
    let keys = super::model::LabelKeys::new(items);
    let label_key = |key: &str| -> String { keys.key(key).to_string() };
    for (n, item) in items.iter().enumerate() {
        let id = item.id.clone().unwrap_or_else(|| (n + 1).to_string());
        let mut c = read(item);
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
        // An open or closed stance for an organisation the labels do not name is a false
        // positive of that class (the corpus labels every organisation the text names).
        if item.relevant {
            let mut counted = std::collections::HashSet::new();
            for e in &c.entities {
                let named = item.labels.iter().any(|l| l.entity == e.entity);
                if named || !matches!(e.stance, Stance::Open | Stance::Closed) || !counted.insert(e.entity.clone()) {
                    continue;
                }
                let prf = if e.stance == Stance::Open { &mut report.open } else { &mut report.closed };
                prf.fp += 1;
                report.unlabelled.push((id.clone(), e.entity.clone(), e.stance));
            }
        }
        let describe =
            |entity: &str, from: Stance, to: Stance| format!("{entity} {} -> {}", from.as_str(), to.as_str());
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
                report
                    .shift_errors
                    .push((id.clone(), format!("reported {}", describe(&shift.entity, shift.from, shift.to))));
            }
        }
        if let Some(l) = item.shift.as_ref().filter(|_| !matched) {
            report.shifts.fn_ += 1;
            report.shift_errors.push((id.clone(), format!("missed {}", describe(&l.entity, l.from, l.to))));
        }
    }
    report.accuracy = ratio(right, report.pairs);
    report
}

/// One figure read off a report.
type Figure = fn(&Report) -> f64;

/// Cross-validated figures: per fold, a model fitted on the other folds and scored here.
pub struct CrossValidation {
    pub folds: Vec<Report>,
    pub seed: u64,
    /// Seconds spent fitting, per fold on average.
    pub fit_seconds: f64,
}

/// A small deterministic generator (SplitMix64) for the fold shuffle.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
}

/// The class an item is stratified by: the rarest thing it carries.
fn stratum(item: &LabelledItem) -> u8 {
    let has = |s: Stance| item.labels.iter().any(|l| l.stance == s);
    if item.shift.is_some() {
        0
    } else if has(Stance::Closed) {
        1
    } else if has(Stance::Mixed) {
        2
    } else if has(Stance::Open) {
        3
    } else if item.relevant {
        4
    } else {
        5
    }
}

/// Stratified K-fold assignment: items shuffled within each stratum with `seed`, then dealt
/// round-robin, so every fold gets its share of shifts, closed stances and negatives.
pub fn fold_of_items(items: &[LabelledItem], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix(seed);
    let mut fold = vec![0; items.len()];
    let mut next = 0;
    for stratum_id in 0..=5 {
        let mut members: Vec<usize> = (0..items.len()).filter(|&i| stratum(&items[i]) == stratum_id).collect();
        // Fisher-Yates.
        for i in (1..members.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            members.swap(i, j);
        }
        for i in members {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

/// K-fold cross-validation of the learned reader over the rule engine `rules`.
pub fn cross_validate(
    rules: &Classifier,
    items: &[LabelledItem],
    k: usize,
    seed: u64,
    settings: &super::TrainSettings,
) -> CrossValidation {
    let fold = fold_of_items(items, k, seed);
    let mut folds = Vec::new();
    let mut fit_seconds = 0.0;
    for f in 0..k {
        let (train, test): (Vec<&LabelledItem>, Vec<&LabelledItem>) =
            items.iter().enumerate().fold((Vec::new(), Vec::new()), |(mut train, mut test), (i, item)| {
                if fold[i] == f {
                    test.push(item)
                } else {
                    train.push(item)
                };
                (train, test)
            });
        let started = std::time::Instant::now();
        let train: Vec<LabelledItem> = train.into_iter().cloned().collect();
        let model = super::model::train(rules, &train, settings);
        fit_seconds += started.elapsed().as_secs_f64();
        let classifier = Classifier::with_model(rules.profile().clone(), Some(model));
        let test: Vec<LabelledItem> = test.into_iter().cloned().collect();
        folds.push(evaluate(&classifier, &test));
    }
    CrossValidation { folds, seed, fit_seconds: fit_seconds / k as f64 }
}

fn mean_and_spread(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

impl CrossValidation {
    /// All folds' counts added up (each item is scored once, by a model that never saw it).
    pub fn pooled(&self) -> Report {
        let mut out = Report::default();
        let add = |a: &mut Prf, b: &Prf| {
            a.tp += b.tp;
            a.fp += b.fp;
            a.fn_ += b.fn_;
        };
        let mut right = 0.0;
        for r in &self.folds {
            out.items += r.items;
            out.pairs += r.pairs;
            right += r.accuracy * r.pairs as f64;
            add(&mut out.open, &r.open);
            add(&mut out.closed, &r.closed);
            add(&mut out.relevance, &r.relevance);
            add(&mut out.shifts, &r.shifts);
            for (row, other) in out.confusion.iter_mut().zip(&r.confusion) {
                for (c, o) in row.iter_mut().zip(other) {
                    *c += o;
                }
            }
            out.errors.extend(r.errors.iter().cloned());
            out.unlabelled.extend(r.unlabelled.iter().cloned());
            out.shift_errors.extend(r.shift_errors.iter().cloned());
        }
        out.accuracy = if out.pairs == 0 { 0.0 } else { right / out.pairs as f64 };
        out
    }

    /// Mean and standard deviation across folds of one figure.
    pub fn figure(&self, f: impl Fn(&Report) -> f64) -> (f64, f64) {
        mean_and_spread(&self.folds.iter().map(f).collect::<Vec<_>>())
    }

    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        let pooled = self.pooled();
        let _ = writeln!(
            out,
            "{}-fold cross-validation (stratified, seed {}): {} items, {} labelled (item, entity) pairs; \
             every item scored by a model fitted on the other folds ({:.2} s per fit)",
            self.folds.len(),
            self.seed,
            pooled.items,
            pooled.pairs,
            self.fit_seconds
        );
        let _ = writeln!(out, "{:<34} {:>6} {:>7}   {:>6}", "figure", "mean", "spread", "pooled");
        let rows: [(&str, Figure); 11] = [
            ("stance macro-F1 (open/closed)", Report::macro_f1),
            ("open F1", |r| r.open.f1()),
            ("closed F1", |r| r.closed.f1()),
            ("closed precision", |r| r.closed.precision()),
            ("closed recall", |r| r.closed.recall()),
            ("stance accuracy (all pairs)", |r| r.accuracy),
            ("relevance F1", |r| r.relevance.f1()),
            ("relevance precision", |r| r.relevance.precision()),
            ("relevance recall", |r| r.relevance.recall()),
            ("shift precision", |r| r.shifts.precision()),
            ("shift recall", |r| r.shifts.recall()),
        ];
        for (name, f) in rows {
            let (mean, spread) = self.figure(f);
            let _ = writeln!(out, "{name:<34} {mean:>6.3} {:>7}   {:>6.3}", format!("±{spread:.3}"), f(&pooled));
        }
        let _ = writeln!(out, "pooled over folds:");
        out.push_str(&pooled.render(verbose));
        let _ = writeln!(out, "per class (pooled, all labelled pairs):");
        for (i, stance) in STANCES.iter().enumerate() {
            let tp = pooled.confusion[i][i];
            let labelled: usize = pooled.confusion[i].iter().sum();
            let predicted: usize = pooled.confusion.iter().map(|row| row[i]).sum();
            let _ = writeln!(
                out,
                "  {:<8} precision {:.3}  recall {:.3}  ({tp} of {labelled} labelled, {predicted} predicted)",
                stance.as_str(),
                ratio(tp, predicted),
                ratio(tp, labelled)
            );
        }
        out
    }
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

    #[test]
    fn a_stance_for_an_unlabelled_organisation_and_a_missed_change_count_against() {
        // The last item's labels leave Mistral out; the first reports a change the headline does not.
        let text = r#"{"id":"a","title":"Meta releases Llama 5 as open weights","labels":[{"entity":"meta","stance":"open"}],"relevant":true,"shift":{"entity":"meta","from":"closed","to":"open"}}
{"id":"b","title":"Mistral keeps its flagship model proprietary","labels":[{"entity":"mistral","stance":"closed"}],"relevant":true}
{"id":"c","title":"Mistral releases an open-weight model","labels":[],"relevant":true}"#;
        let items = read_labelled(text, "t.jsonl").unwrap();
        let report = evaluate(&Classifier::new(Profile::builtin()), &items);
        let shown = report.render(true);
        assert_eq!((report.open.tp, report.open.fp), (1, 1), "{shown}");
        assert!(shown.contains("c mistral: not labelled, predicted open"), "{shown}");
        assert_eq!(report.shifts.fn_, 1, "{shown}");
        assert!(shown.contains("a change: missed meta closed -> open"), "{shown}");
    }
}
