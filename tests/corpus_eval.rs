//! The classifier scored against labelled real news in `../shared/corpus/dev.jsonl` (read at
//! test time; skipped, saying so, when the corpus is absent). The floors are the product's
//! promise for stance, relevance and reported changes.

use stancewatch::stance::{Classifier, Profile, eval};

#[test]
fn classifier_meets_its_figures_on_labelled_news() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/dev.jsonl");
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} not found (the labelled corpus lives beside the project)");
        return;
    };
    let items = eval::read_labelled(&text, path).expect("labelled items");
    let report = eval::evaluate(&Classifier::new(Profile::builtin()), &items);
    let figures = report.render(true);
    eprintln!("{figures}");
    assert!(report.macro_f1() >= 0.85, "stance macro-F1 below 0.85:\n{figures}");
    assert!(report.relevance.f1() >= 0.90, "relevance F1 below 0.90:\n{figures}");
    assert!(report.shifts.precision() >= 0.80, "shift precision below 0.8:\n{figures}");
    assert!(report.shifts.recall() >= 0.70, "shift recall below 0.7:\n{figures}");
}
