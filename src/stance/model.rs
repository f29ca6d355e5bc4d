//! The learned reader: three L2-regularised multinomial logistic regressions over the rule
//! engine's features (`features.rs`) — relevance per story, stance per (story, organisation),
//! and whether the story reports that organisation changing its stance.
//!
//! Fitting is full-batch L-BFGS on a fixed example order with no randomness, and the model file
//! lists its weights by feature name in sorted order, so the same labelled items always give the
//! same bytes. The file is JSON, one feature per line: a person can read what it learned.

use std::collections::BTreeMap;
use std::fmt::Write;

use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::classify::{Classification, Classifier, Reading, StoryText};
use super::eval::LabelledItem;
use super::features::{self, Feature};
use super::profile::Stance;

/// The model file's format tag.
const FORMAT: &str = "stancewatch-model/1";
/// The model shipped with the built-in profile, fitted on the labelled pool by `train`.
pub const BUILTIN_MODEL_JSON: &str = include_str!("../../config/profiles/ai-openness.model.json");

/// Stance classes in the order of the stance model's outputs.
const STANCES: [Stance; 4] = [Stance::Open, Stance::Closed, Stance::Mixed, Stance::Neutral];

/// How a model is fitted.
#[derive(Debug, Clone)]
pub struct TrainSettings {
    /// L2 penalty on the weights (not on the bias), per model.
    pub l2_relevance: f64,
    pub l2_stance: f64,
    pub l2_shift: f64,
    /// A feature must occur in this many training examples to get a weight.
    pub min_count: usize,
    /// Probability of a change above which a story reports one.
    pub shift_threshold: f64,
    pub max_iterations: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        // Chosen by 5-fold cross-validation on the shared pool (`eval --folds 5`).
        TrainSettings {
            l2_relevance: 1.0,
            l2_stance: 10.0,
            l2_shift: 3.0,
            min_count: 1,
            shift_threshold: 0.6,
            max_iterations: 400,
        }
    }
}

/// One multinomial logistic regression: a weight per (feature, class).
///
/// Features are found by a 64-bit hash of their name: a model read from a file keeps no names
/// (about a third of the memory a classifying command uses otherwise); a model being trained
/// keeps them, to write them out and to say why.
#[derive(Debug, Clone)]
pub struct Linear {
    classes: Vec<String>,
    /// Feature names, sorted, for a trained model (empty for one read from a file).
    names: Vec<String>,
    /// One row of `classes.len()` weights per feature.
    weights: Vec<f64>,
    /// Hash of a feature's name → its row.
    index: FxHashMap<u64, usize>,
}

/// The key a feature is found by.
fn feature_key(name: &str) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    std::hash::Hasher::write(&mut hasher, name.as_bytes());
    std::hash::Hasher::finish(&hasher)
}

impl Linear {
    /// A trained model: names and their weight rows (`weights` may be empty while fitting).
    fn new(classes: Vec<String>, names: Vec<String>, weights: Vec<Vec<f64>>) -> Linear {
        let index = names.iter().enumerate().map(|(i, n)| (feature_key(n), i)).collect();
        Linear { classes, names, weights: weights.concat(), index }
    }

    /// The weights of row `i`.
    fn row(&self, i: usize) -> &[f64] {
        let k = self.classes.len();
        &self.weights[i * k..(i + 1) * k]
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        self.index.get(&feature_key(name)).copied()
    }

    /// Known features of an example as (index, value), duplicates merged by their largest value.
    fn encode(&self, features: &[Feature]) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64)> = features.iter().filter_map(|(n, v)| self.lookup(n).map(|i| (i, *v))).collect();
        merge_duplicates(&mut out);
        out
    }

    fn scores(&self, x: &[(usize, f64)]) -> Vec<f64> {
        let mut z = vec![0.0; self.classes.len()];
        for &(i, v) in x {
            for (zc, w) in z.iter_mut().zip(self.row(i)) {
                *zc += w * v;
            }
        }
        z
    }

    /// Class probabilities.
    pub fn probabilities(&self, features: &[Feature]) -> Vec<f64> {
        softmax(&self.scores(&self.encode(features)))
    }

    /// Class probabilities from features already looked up (see `Lookup`).
    fn probabilities_of(&self, mut x: Vec<(usize, f64)>) -> Vec<f64> {
        merge_duplicates(&mut x);
        softmax(&self.scores(&x))
    }

    /// The features that pushed class `class` up most against the runner-up class, with their
    /// contributions.
    fn reasons(&self, features: &[Feature], class: usize, n: usize) -> Vec<(String, f64)> {
        let x = self.encode(features);
        let z = self.scores(&x);
        let rival = (0..z.len()).filter(|&c| c != class).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap_or(class);
        // Names come from the features themselves (a model read from a file keeps none).
        let mut parts: Vec<(String, f64)> = x
            .iter()
            .filter_map(|&(i, v)| {
                let name = features.iter().find(|(f, _)| self.lookup(f) == Some(i))?.0.clone();
                let row = self.row(i);
                Some((name, v * (row[class] - row[rival])))
            })
            .filter(|(_, c)| c.abs() > 1e-9)
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        parts.truncate(n);
        parts
    }

    fn write_json(&self, out: &mut String, name: &str, last: bool) {
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let classes: Vec<String> = self.classes.iter().map(|c| quote(c)).collect();
        let _ = writeln!(out, "  {}: {{", quote(name));
        let _ = writeln!(out, "    \"classes\": [{}],", classes.join(", "));
        let _ = writeln!(out, "    \"weights\": {{");
        debug_assert!(self.names.len() == self.index.len(), "only a trained model is written out");
        for (i, n) in self.names.iter().enumerate() {
            let ws: Vec<String> = self.row(i).iter().map(|x| format_weight(*x)).collect();
            let comma = if i + 1 < self.names.len() { "," } else { "" };
            let _ = writeln!(out, "      {}: [{}]{comma}", quote(n), ws.join(", "));
        }
        let _ = writeln!(out, "    }}");
        let _ = writeln!(out, "  }}{}", if last { "" } else { "," });
    }
}

/// Weights are stored to six decimals: enough for the decisions, and stable bytes.
fn format_weight(x: f64) -> String {
    let r = (x * 1e6).round() / 1e6;
    if r == 0.0 { "0".to_string() } else { format!("{r}") }
}

/// Features looked up in one or more models as they are made: one reused buffer for the name
/// instead of a string per feature, which is what keeps classifying fast.
struct Lookup<'a> {
    models: Vec<&'a Linear>,
    name: String,
    found: Vec<Vec<(usize, f64)>>,
}

impl<'a> Lookup<'a> {
    fn new(models: Vec<&'a Linear>) -> Lookup<'a> {
        let found = vec![Vec::new(); models.len()];
        Lookup { models, name: String::new(), found }
    }
}

impl features::Sink for Lookup<'_> {
    fn add(&mut self, name: std::fmt::Arguments<'_>, value: f64) {
        self.name.clear();
        let _ = self.name.write_fmt(name);
        for (model, found) in self.models.iter().zip(&mut self.found) {
            if let Some(i) = model.lookup(&self.name) {
                found.push((i, value));
            }
        }
    }
}

fn merge_duplicates(x: &mut Vec<(usize, f64)>) {
    x.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    x.dedup_by_key(|p| p.0);
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// A training example: features and the index of its class.
pub struct Example {
    pub features: Vec<Feature>,
    pub label: usize,
}

/// Fit a multinomial logistic regression with L2 penalty `l2`, classes weighted so each class
/// counts as much as it would if the classes were balanced (`balanced`), by L-BFGS.
fn fit(examples: &[Example], classes: &[&str], l2: f64, balanced: bool, settings: &TrainSettings) -> Linear {
    // The vocabulary: features seen in at least `min_count` examples, sorted by name.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for ex in examples {
        let mut seen: Vec<&str> = ex.features.iter().map(|(n, _)| n.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        for n in seen {
            *counts.entry(n).or_default() += 1;
        }
    }
    let names: Vec<String> = counts
        .into_iter()
        .filter(|(n, c)| *c >= settings.min_count || *n == "bias")
        .map(|(n, _)| n.to_string())
        .collect();
    let k = classes.len();
    let blank = Linear::new(classes.iter().map(|c| c.to_string()).collect(), names, Vec::new());
    let encoded: Vec<Vec<(usize, f64)>> = examples.iter().map(|ex| blank.encode(&ex.features)).collect();
    let labels: Vec<usize> = examples.iter().map(|e| e.label).collect();
    let mut per_class = vec![0usize; k];
    for &y in &labels {
        per_class[y] += 1;
    }
    let class_weight: Vec<f64> = per_class
        .iter()
        .map(|&n| if !balanced || n == 0 { 1.0 } else { examples.len() as f64 / (k as f64 * n as f64) })
        .collect();
    let bias = blank.lookup("bias");
    let dims = blank.names.len() * k;

    let objective = |w: &[f64], grad: &mut [f64]| -> f64 {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0.0;
        let mut z = vec![0.0; k];
        for (x, &y) in encoded.iter().zip(&labels) {
            z.iter_mut().for_each(|v| *v = 0.0);
            for &(i, v) in x {
                for (c, zc) in z.iter_mut().enumerate() {
                    *zc += w[i * k + c] * v;
                }
            }
            let p = softmax(&z);
            let cw = class_weight[y];
            loss -= cw * p[y].max(1e-300).ln();
            for &(i, v) in x {
                for c in 0..k {
                    let target = if c == y { 1.0 } else { 0.0 };
                    grad[i * k + c] += cw * (p[c] - target) * v;
                }
            }
        }
        for (j, (wj, gj)) in w.iter().zip(grad.iter_mut()).enumerate() {
            if Some(j / k) != bias {
                loss += 0.5 * l2 * wj * wj;
                *gj += l2 * wj;
            }
        }
        loss
    };
    let w = lbfgs(vec![0.0; dims], objective, settings.max_iterations);
    let weights = (0..blank.names.len()).map(|i| w[i * k..(i + 1) * k].to_vec()).collect();
    Linear::new(blank.classes, blank.names, weights)
}

/// Minimise a smooth convex function with L-BFGS (10 corrections, backtracking Armijo line
/// search). Deterministic: no randomness, a fixed order of operations.
fn lbfgs(mut x: Vec<f64>, f: impl Fn(&[f64], &mut [f64]) -> f64, max_iterations: usize) -> Vec<f64> {
    const MEMORY: usize = 10;
    let n = x.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = std::collections::VecDeque::new();
    let mut g_new = vec![0.0; n];
    for _ in 0..max_iterations {
        let gnorm = dot(&g, &g).sqrt();
        if gnorm < 1e-6 * (1.0 + dot(&x, &x).sqrt()) {
            break;
        }
        // Two-loop recursion: d = -H g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push(a);
        }
        if let Some((s, y, _)) = history.back() {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        } else {
            let scale = 1.0 / gnorm.max(1.0);
            q.iter_mut().for_each(|v| *v *= scale);
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            history.clear();
            d = g.iter().map(|v| -v / gnorm.max(1.0)).collect();
            slope = dot(&g, &d);
        }
        let mut step = 1.0;
        let mut x_new = vec![0.0; n];
        let mut f_new;
        loop {
            x_new.iter_mut().zip(&x).zip(&d).for_each(|((xn, xi), di)| *xn = xi + step * di);
            f_new = f(&x_new, &mut g_new);
            if f_new <= fx + 1e-4 * step * slope || step < 1e-12 {
                break;
            }
            step *= 0.5;
        }
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        let improvement = fx - f_new;
        x.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        fx = f_new;
        if sy > 1e-12 {
            if history.len() == MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        if improvement.abs() <= 1e-10 * (1.0 + fx.abs()) {
            break;
        }
    }
    x
}

/// `[profile] model`: which learned model decides.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ModelChoice {
    /// The built-in profile's shipped model; for a profile file, `NAME.model.json` beside it
    /// when there is one, else the rules alone.
    #[default]
    Default,
    /// `model = "rules"`: the rule engine decides alone.
    Rules,
    /// A model file made by `stancewatch train`.
    File(std::path::PathBuf),
}

impl ModelChoice {
    pub fn parse(value: Option<&str>) -> ModelChoice {
        match value {
            None | Some("") | Some("default") => ModelChoice::Default,
            Some("rules") | Some("none") => ModelChoice::Rules,
            Some(path) => ModelChoice::File(path.into()),
        }
    }

    /// The model file a profile file brings along: `NAME.model.json` beside `NAME.toml`.
    pub fn beside(profile: &std::path::Path) -> std::path::PathBuf {
        profile.with_extension("model.json")
    }
}

/// The reader the config asks for: the profile, and the model that decides with it.
pub fn load_classifier(
    profile_path: Option<&std::path::Path>,
    choice: &ModelChoice,
) -> Result<Classifier, crate::config::ConfigError> {
    let profile = super::Profile::load(profile_path)?;
    let err = |message: String| crate::config::ConfigError { message };
    let model = match (choice, profile_path) {
        (ModelChoice::Rules, _) => None,
        (ModelChoice::File(p), _) => Some(ModelCell::parsed(Model::load(p).map_err(err)?)),
        (ModelChoice::Default, None) => Some(ModelCell::builtin()),
        (ModelChoice::Default, Some(p)) => {
            let beside = ModelChoice::beside(p);
            if beside.exists() { Some(ModelCell::parsed(Model::load(&beside).map_err(err)?)) } else { None }
        }
    };
    Ok(Classifier::with_model_cell(profile, model))
}

/// A learned model, parsed when first needed: a command that classifies nothing (a poll where
/// every feed answers 304, a digest, a status) never spends the time and memory on it. Only the
/// built-in model is read late (it is tested); a user's model file is read at once, so its
/// errors show at start.
#[derive(Debug)]
pub struct ModelCell {
    fingerprint: String,
    text: &'static str,
    model: std::sync::OnceLock<Model>,
}

impl ModelCell {
    pub fn parsed(model: Model) -> ModelCell {
        ModelCell { fingerprint: model.fingerprint.clone(), text: "", model: std::sync::OnceLock::from(model) }
    }

    pub fn builtin() -> ModelCell {
        ModelCell {
            fingerprint: BUILTIN_MODEL_FINGERPRINT.to_string(),
            text: BUILTIN_MODEL_JSON,
            model: std::sync::OnceLock::new(),
        }
    }

    pub fn get(&self) -> &Model {
        // The shipped model is tested; failing here is a build defect, not bad input.
        self.model.get_or_init(|| Model::parse(self.text, "built-in model").expect("the built-in model is valid"))
    }

    /// The model's fingerprint, without reading it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// `fingerprint_of(BUILTIN_MODEL_JSON)`, worked out by `build.rs`.
const BUILTIN_MODEL_FINGERPRINT: &str = env!("STANCEWATCH_BUILTIN_MODEL_FINGERPRINT");

fn fingerprint_of(text: &str) -> String {
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// What the model was fitted on.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TrainedOn {
    pub items: usize,
    pub pairs: usize,
}

/// The learned reader: relevance, stance and change models.
#[derive(Debug, Clone)]
pub struct Model {
    relevance: Linear,
    stance: Linear,
    shift: Linear,
    shift_threshold: f64,
    pub trained_on: TrainedOn,
    /// Digest of the model's bytes: stored readings made with another model are redone.
    pub fingerprint: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinear {
    classes: Vec<String>,
    weights: Rows,
}

/// A model file's `weights` object read as it streams by: each feature's hash and its row, no
/// name kept, so reading a model never holds the file's 35,000 names at once.
struct Rows {
    keys: Vec<u64>,
    weights: Vec<f64>,
    /// Weights per row (the first row's count; every row must have it).
    width: usize,
}

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Rows, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Rows;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of feature names and their weights")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Rows, A::Error> {
                let mut rows = Rows { keys: Vec::new(), weights: Vec::new(), width: 0 };
                while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let row: Vec<f64> = map.next_value()?;
                    if rows.keys.is_empty() {
                        rows.width = row.len();
                    }
                    if row.len() != rows.width || row.is_empty() || row.iter().any(|x| !x.is_finite()) {
                        return Err(serde::de::Error::custom(format!(
                            "the weights of `{name}` must be {} finite numbers",
                            rows.width.max(1)
                        )));
                    }
                    rows.keys.push(feature_key(&name));
                    rows.weights.extend(row);
                }
                Ok(rows)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    format: String,
    trained_on: TrainedOn,
    shift_threshold: f64,
    relevance: RawLinear,
    stance: RawLinear,
    shift: RawLinear,
}

impl Model {
    /// The model shipped with the built-in profile.
    pub fn builtin() -> Model {
        // The shipped model is tested; failing here is a build defect, not bad input.
        Model::parse(BUILTIN_MODEL_JSON, "built-in model").expect("the built-in model is valid")
    }

    /// A model file; errors name the file and what is wrong.
    pub fn load(path: &std::path::Path) -> Result<Model, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!("cannot read model {}: {e} (check [profile] model, or run `stancewatch train`)", path.display())
        })?;
        Model::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, source: &str) -> Result<Model, String> {
        let raw: RawModel = serde_json::from_str(text)
            .map_err(|e| format!("{source}: not a stancewatch model: {e} (make one with `stancewatch train`)"))?;
        if raw.format != FORMAT {
            return Err(format!(
                "{source}: model format `{}`, expected `{FORMAT}` (retrain with `stancewatch train`)",
                raw.format
            ));
        }
        let linear = |name: &str, raw: RawLinear, want: &[&str]| -> Result<Linear, String> {
            if raw.classes != want {
                return Err(format!("{source}: `{name}.classes` must be {want:?}"));
            }
            let rows = raw.weights;
            if !rows.keys.is_empty() && rows.width != want.len() {
                return Err(format!("{source}: `{name}.weights` must have {} numbers per feature", want.len()));
            }
            let index: FxHashMap<u64, usize> = rows.keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
            if index.len() != rows.keys.len() {
                return Err(format!("{source}: `{name}.weights` names a feature twice"));
            }
            Ok(Linear { classes: raw.classes, names: Vec::new(), weights: rows.weights, index })
        };
        let stances: Vec<&str> = STANCES.iter().map(|s| s.as_str()).collect();
        Ok(Model {
            relevance: linear("relevance", raw.relevance, &["no", "yes"])?,
            stance: linear("stance", raw.stance, &stances)?,
            shift: linear("shift", raw.shift, &SHIFT_CLASSES)?,
            shift_threshold: raw.shift_threshold,
            trained_on: raw.trained_on,
            fingerprint: fingerprint_of(text),
        })
    }

    /// The model file's text (deterministic for the same model).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\n");
        let _ = writeln!(out, "  \"format\": \"{FORMAT}\",");
        let _ = writeln!(
            out,
            "  \"trained_on\": {{\"items\": {}, \"pairs\": {}}},",
            self.trained_on.items, self.trained_on.pairs
        );
        let _ = writeln!(out, "  \"shift_threshold\": {},", format_weight(self.shift_threshold));
        self.relevance.write_json(&mut out, "relevance", false);
        self.stance.write_json(&mut out, "stance", false);
        self.shift.write_json(&mut out, "shift", true);
        out.push_str("}\n");
        out
    }

    /// The model's reading of a story the rule engine has read.
    pub(crate) fn decide(
        &self,
        classifier: &Classifier,
        reading: &Reading,
        published: Option<chrono::NaiveDate>,
        mut explain: Option<&mut Vec<String>>,
    ) -> Classification {
        let tokens = features::Tokens::of(reading);
        let mut story = Lookup::new(vec![&self.relevance]);
        features::story_into(reading, &tokens, &mut story);
        let p_relevant = self.relevance.probabilities_of(story.found.swap_remove(0))[1];
        // A story that names no watched product and uses no AI word is not about
        // AI openness, however much it says about open source: the model only ranks the rest.
        let relevant = p_relevant >= 0.5 && reading.about_ai;
        if let Some(trace) = explain.as_deref_mut() {
            let why = self.relevance.reasons(&features::story(reading, &tokens), usize::from(relevant), 6);
            trace.push(format!("model: relevant {relevant} ({p_relevant:.2}) because {}", list(&why)));
        }
        let mut entities = Vec::new();
        let mut shifts = Vec::new();
        for &e in &reading.order {
            // Named features, only to say why.
            let named = explain.is_some().then(|| features::pair(classifier, reading, &tokens, e));
            // Stance and change are only asked of relevant stories.
            let (stance, confidence, p_change) = if relevant {
                let mut pair = Lookup::new(vec![&self.stance, &self.shift]);
                features::pair_into(classifier, reading, &tokens, e, &mut pair);
                let p_change = self.shift.probabilities_of(pair.found.pop().unwrap_or_default());
                let p = self.stance.probabilities_of(pair.found.pop().unwrap_or_default());
                let best = argmax(&p, 0..p.len()).unwrap_or(3);
                if let (Some(trace), Some(pair)) = (explain.as_deref_mut(), &named) {
                    let why = self.stance.reasons(pair, best, 6);
                    let key = &classifier.profile().entities[e].key;
                    trace.push(format!(
                        "model: {key} {} ({:.2}) because {}",
                        STANCES[best].as_str(),
                        p[best],
                        list(&why)
                    ));
                }
                (STANCES[best], p[best], Some(p_change))
            } else {
                (Stance::Neutral, 1.0 - p_relevant, None)
            };
            let mut reading_of = classifier.entity_stance(
                &reading.sentences,
                &reading.mentions,
                &reading.evidence,
                e,
                stance,
                confidence,
            );
            if stance != Stance::Neutral && !features::acting(reading, e) {
                reading_of.basis = super::Basis::Mention;
            }
            if let Some(p) = p_change.filter(|p| stance != Stance::Neutral && 1.0 - p[0] >= self.shift_threshold) {
                // The direction the change model favours.
                let best = argmax(&p, 1..p.len()).unwrap_or(1);
                let to = Stance::parse(SHIFT_CLASSES[best]).unwrap_or(stance);
                shifts.push(classifier.shift_to(e, to, published));
                if let (Some(trace), Some(pair)) = (explain.as_deref_mut(), &named) {
                    let why = self.shift.reasons(pair, best, 6);
                    trace.push(format!(
                        "model: {} reports a change ({:.2}) because {}",
                        reading_of.entity,
                        1.0 - p[0],
                        list(&why)
                    ));
                }
            }
            entities.push(reading_of);
        }
        Classification { relevant, relevance: (p_relevant * 100.0).round() / 100.0, entities, shifts }
    }
}

/// The class in `classes` with the highest probability.
fn argmax(p: &[f64], classes: std::ops::Range<usize>) -> Option<usize> {
    classes.max_by(|&a, &b| p[a].total_cmp(&p[b]))
}

fn list(reasons: &[(String, f64)]) -> String {
    let parts: Vec<String> = reasons.iter().map(|(n, c)| format!("{n} {c:+.2}")).collect();
    if parts.is_empty() { "(no feature)".into() } else { parts.join(", ") }
}

/// FNV-1a, for a short stable digest of a model's bytes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

/// The label key an entity answers to in labelled items: its own key when the labels name it,
/// else "other".
pub(crate) struct LabelKeys {
    named: std::collections::HashSet<String>,
}

pub(crate) const OTHER: &str = "other";

/// The change model's classes: no change, or the stance the organisation moves to.
const SHIFT_CLASSES: [&str; 4] = ["none", "open", "closed", "mixed"];

impl LabelKeys {
    pub fn new(items: &[LabelledItem]) -> LabelKeys {
        let named = items
            .iter()
            .flat_map(|i| i.labels.iter().map(|l| l.entity.clone()).chain(i.shift.iter().map(|s| s.entity.clone())))
            .filter(|k| k != OTHER)
            .collect();
        LabelKeys { named }
    }

    pub fn key<'a>(&self, entity: &'a str) -> &'a str {
        if self.named.contains(entity) { entity } else { OTHER }
    }
}

/// The story text of a labelled item.
pub(crate) fn story_text(item: &LabelledItem) -> StoryText<'_> {
    let published =
        item.published.as_deref().and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok());
    StoryText { title: &item.title, summary: &item.summary, content: &item.content, published }
}

/// Fit a model on labelled items. `classifier` supplies the rule engine (its own model, if
/// any, is not used).
pub fn train(classifier: &Classifier, items: &[LabelledItem], settings: &TrainSettings) -> Model {
    let keys = LabelKeys::new(items);
    let mut story_examples = Vec::new();
    let mut stance_examples = Vec::new();
    let mut shift_examples = Vec::new();
    for item in items {
        let reading = classifier.read(&story_text(item), None);
        let tokens = features::Tokens::of(&reading);
        story_examples
            .push(Example { features: features::story(&reading, &tokens), label: usize::from(item.relevant) });
        // Stance and change are only asked of relevant stories, so only they teach them.
        if !item.relevant {
            continue;
        }
        // "other" labels the first entity of the story that answers to it.
        let mut other_taken = false;
        for &e in &reading.order {
            let key = keys.key(&classifier.profile().entities[e].key);
            let label = if key == OTHER && other_taken {
                None
            } else {
                item.labels.iter().find(|l| l.entity == key).map(|l| l.stance)
            };
            if key == OTHER && label.is_some() {
                other_taken = true;
            }
            let stance = label.unwrap_or(Stance::Neutral);
            let pair = features::pair(classifier, &reading, &tokens, e);
            // 0: no change reported; else the stance it moves to.
            let to = item.shift.as_ref().filter(|s| s.entity == key).map(|s| s.to);
            let shift_label = to.and_then(|to| SHIFT_CLASSES.iter().position(|c| *c == to.as_str())).unwrap_or(0);
            shift_examples.push(Example { features: pair.clone(), label: shift_label });
            let label = STANCES.iter().position(|s| *s == stance).unwrap_or(3);
            stance_examples.push(Example { features: pair, label });
        }
    }
    let stances: Vec<&str> = STANCES.iter().map(|s| s.as_str()).collect();
    let relevance = fit(&story_examples, &["no", "yes"], settings.l2_relevance, false, settings);
    let stance = fit(&stance_examples, &stances, settings.l2_stance, true, settings);
    let shift = fit(&shift_examples, &SHIFT_CLASSES, settings.l2_shift, true, settings);
    let mut model = Model {
        relevance,
        stance,
        shift,
        shift_threshold: settings.shift_threshold,
        trained_on: TrainedOn { items: items.len(), pairs: stance_examples.len() },
        fingerprint: String::new(),
    };
    model.fingerprint = format!("{:016x}", fnv1a(model.to_json().as_bytes()));
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(features: &[&str], label: usize) -> Example {
        Example { features: features.iter().map(|f| (f.to_string(), 1.0)).collect(), label }
    }

    #[test]
    fn the_built_in_fingerprint_from_the_build_is_that_of_the_compiled_in_model() {
        assert_eq!(BUILTIN_MODEL_FINGERPRINT, fingerprint_of(BUILTIN_MODEL_JSON));
        assert_eq!(ModelCell::builtin().fingerprint(), ModelCell::parsed(Model::builtin()).fingerprint());
    }

    #[test]
    fn logistic_regression_learns_a_separable_rule() {
        // Class follows "a" / "b"; "noise" is in both.
        let mut data = Vec::new();
        for i in 0..20 {
            data.push(ex(&["bias", "a", if i % 2 == 0 { "noise" } else { "x" }], 0));
            data.push(ex(&["bias", "b", if i % 3 == 0 { "noise" } else { "y" }], 1));
        }
        let settings = TrainSettings::default();
        let m = fit(&data, &["first", "second"], 0.1, false, &settings);
        let p = m.probabilities(&[("bias".into(), 1.0), ("a".into(), 1.0)]);
        assert!(p[0] > 0.9, "{p:?}");
        let p = m.probabilities(&[("bias".into(), 1.0), ("b".into(), 1.0), ("noise".into(), 1.0)]);
        assert!(p[1] > 0.9, "{p:?}");
        // An unseen feature changes nothing.
        let p = m.probabilities(&[("bias".into(), 1.0), ("never seen".into(), 1.0)]);
        assert!((p[0] - 0.5).abs() < 0.1, "{p:?}");
    }

    #[test]
    fn the_penalty_shrinks_weights_and_balance_lifts_the_rare_class() {
        let mut data = Vec::new();
        for _ in 0..30 {
            data.push(ex(&["bias", "common"], 0));
        }
        for _ in 0..3 {
            data.push(ex(&["bias", "rare"], 1));
        }
        data.push(ex(&["bias", "common", "rare"], 0));
        let s = TrainSettings::default();
        let weak = fit(&data, &["a", "b"], 10.0, false, &s);
        let strong = fit(&data, &["a", "b"], 0.01, false, &s);
        let w = |m: &Linear| m.row(m.lookup("rare").unwrap())[1] - m.row(m.lookup("rare").unwrap())[0];
        assert!(w(&weak) < w(&strong), "{} {}", w(&weak), w(&strong));
        let plain = fit(&data, &["a", "b"], 1.0, false, &s);
        let balanced = fit(&data, &["a", "b"], 1.0, true, &s);
        let x = [("bias".to_string(), 1.0), ("common".to_string(), 1.0), ("rare".to_string(), 1.0)];
        assert!(balanced.probabilities(&x)[1] > plain.probabilities(&x)[1]);
    }

    #[test]
    fn three_classes_and_the_reasons_name_the_deciding_feature() {
        let mut data = Vec::new();
        for _ in 0..10 {
            data.push(ex(&["bias", "red"], 0));
            data.push(ex(&["bias", "green"], 1));
            data.push(ex(&["bias", "blue"], 2));
        }
        let m = fit(&data, &["r", "g", "b"], 0.1, false, &TrainSettings::default());
        let x = [("bias".to_string(), 1.0), ("green".to_string(), 1.0)];
        let p = m.probabilities(&x);
        assert!(p[1] > 0.8, "{p:?}");
        assert_eq!(m.reasons(&x, 1, 1)[0].0, "green");
    }

    #[test]
    fn a_model_file_is_deterministic_and_reads_back_to_the_same_decisions() {
        let text = r#"{"id":"a","title":"Meta releases Llama 5 as open weights","labels":[{"entity":"meta","stance":"open"}],"relevant":true,"shift":null}
{"id":"b","title":"OpenAI keeps its new model proprietary","labels":[{"entity":"openai","stance":"closed"}],"relevant":true}
{"id":"c","title":"Nvidia earnings rise","labels":[{"entity":"nvidia","stance":"neutral"}],"relevant":false}
{"id":"d","title":"Google will stop releasing open Gemma models","labels":[{"entity":"google","stance":"closed"}],"relevant":true,"shift":{"entity":"google","from":"open","to":"closed"}}"#;
        let items = super::super::eval::read_labelled(text, "t.jsonl").unwrap();
        let rules = Classifier::new(super::super::Profile::builtin());
        let settings = TrainSettings { min_count: 1, ..TrainSettings::default() };
        let a = train(&rules, &items, &settings);
        let b = train(&rules, &items, &settings);
        assert_eq!(a.to_json(), b.to_json(), "same items, same bytes");
        // Read back (names reduced to their hashes), it decides every item as the trained one.
        let written = a.to_json();
        let parsed = Model::parse(&written, "m.json").unwrap();
        let (trained, read) = (
            Classifier::with_model(rules.profile().clone(), Some(a)),
            Classifier::with_model(rules.profile().clone(), Some(parsed)),
        );
        for item in &items {
            let text = StoryText { title: &item.title, summary: &item.summary, content: "", published: None };
            let (x, y) = (trained.explain(&text), read.explain(&text));
            assert_eq!(format!("{x:?}"), format!("{y:?}"), "{}", item.title);
        }
        assert!(Model::parse("{}", "m.json").unwrap_err().contains("m.json"));
        let uneven = r#"{"format":"FMT","trained_on":{"items":1,"pairs":1},"shift_threshold":0.5,
            "relevance":{"classes":["no","yes"],"weights":{"a":[1,2],"b":[1]}},
            "stance":{"classes":[],"weights":{}},"shift":{"classes":[],"weights":{}}}"#
            .replace("FMT", FORMAT);
        let e = Model::parse(&uneven, "m.json").unwrap_err();
        assert!(e.contains("m.json") && e.contains("`b`"), "{e}");
        let bad = written.replace(FORMAT, "other/9");
        assert!(Model::parse(&bad, "m.json").unwrap_err().contains("retrain"));
    }

    #[test]
    fn the_builtin_model_loads() {
        let m = Model::builtin();
        assert!(m.trained_on.items > 0);
        assert!(m.stance.index.len() > 10);
    }
}
