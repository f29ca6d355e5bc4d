//! The stance engine: what a story says each organisation does about openness.
//!
//! Per sentence: entity mentions (with ambiguity guards) and cues from the profile's lexicons.
//! Each stance cue is scored and given to an entity:
//! - **negation** (NegEx-style): a negator up to `negation_scope` words before the cue, in the
//!   same clause, flips it ("will not release the weights" is closed); pseudo-negations
//!   ("not only") do not;
//! - **contrast**: after "but" / "however" a clause weighs 1.5, before it 0.5; an "although"
//!   clause weighs 0.5;
//! - **certainty**: certain 1.0, probable 0.6 ("plans to"), possible 0.3 ("reportedly"),
//!   question or conditional 0.2;
//! - **attribution**: a sentence voicing critics weighs 0.3; the organisation speaking 1.2;
//! - **licence dispute**: "not truly open source" is about a licence, not about closing
//!   weights: it counts as open and closed evidence at once (mixed), never as closed alone;
//! - **target**: the nearest entity mentioned before the cue in the sentence, else after it,
//!   else the headline's subject.
//!
//! Per entity the open and closed scores decide the stance (close scores: mixed; little
//! evidence: neutral), the best sentence is the evidence, and shift cues in sentences about the
//! entity report a change of stance.

use serde::Serialize;

use super::entities::EntityMatcher;
use super::lexicon::{Cue, Found, Lexicon, WordIndex};
use super::profile::{Profile, Stance};
use super::sentences;

/// How hedged the wording is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Certainty {
    Question,
    Possible,
    Probable,
    Certain,
}

impl Certainty {
    pub fn weight(self) -> f64 {
        match self {
            Certainty::Certain => 1.0,
            Certainty::Probable => 0.6,
            Certainty::Possible => 0.3,
            Certainty::Question => 0.2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Certainty::Certain => "certain",
            Certainty::Probable => "probable",
            Certainty::Possible => "possible",
            Certainty::Question => "question",
        }
    }

    pub fn parse(text: &str) -> Option<Certainty> {
        [Certainty::Certain, Certainty::Probable, Certainty::Possible, Certainty::Question]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// What a story says about one entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityStance {
    pub entity: String,
    pub stance: Stance,
    pub confidence: f64,
    pub certainty: Certainty,
    pub evidence: String,
    /// What the stance rests on (stored; not part of the `classify` output).
    #[serde(skip)]
    pub basis: Basis,
}

/// A change of stance the story itself reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shift {
    pub entity: String,
    pub from: Stance,
    pub to: Stance,
}

/// The classification of one story.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub relevant: bool,
    pub relevance: f64,
    pub entities: Vec<EntityStance>,
    pub shifts: Vec<Shift>,
}

/// Text of a story to classify.
pub struct StoryText<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
    /// The publication day: a sentence about an earlier year then reads as the past, and a
    /// reported change starts from the entity's prior stance as of that day.
    pub published: Option<chrono::NaiveDate>,
}

/// Bumped whenever the rules below change what a story reads as, so stored readings are redone.
const ENGINE_VERSION: u32 = 4;

/// The story's lead: after the headline, sentences are read (summary first, then content, each
/// once) until this many bytes, the sentence that crosses it included. A news story says what
/// it is about in its opening; a cue deep in a long post (a roundup, a full article body) is
/// about something else, and the learned reader was fitted on headlines and summaries no longer
/// than this.
const LEAD_BYTES: usize = 1_200;
/// Longest stretch of summary or content split into sentences at all.
const MAX_TEXT: usize = 4_000;
/// Below this total evidence an entity is only mentioned (neutral).
const MIN_EVIDENCE: f64 = 0.2;
/// Weight of a cue describing the past: after a past marker ("long associated with"), and in
/// a sentence dated to an earlier year than the story ("In 2023, ...").
const PAST_MARKED: f64 = 0.15;
const PAST_YEAR: f64 = 0.4;
/// Stories within this time of a prior stance's start date report the change that began it.
const PRIOR_SETTLED: chrono::Days = chrono::Days::new(7);
/// Open and closed scores this close (smaller / larger) make a mixed stance.
const MIXED_RATIO: f64 = 0.5;

pub struct Classifier {
    profile: Profile,
    entities: std::sync::Arc<EntityMatcher>,
    lexicon: Lexicon,
    /// Words announcing a release (the profile's `release` event words).
    release_words: Vec<String>,
    /// Lowercased open product names per entity.
    open_products: Vec<Vec<String>>,
    ai_words: super::entities::PhraseAutomaton,
    /// Lowercased group nouns ("labs", "rivals").
    groups: Vec<String>,
    /// The learned reader that decides from the engine's features; without one the engine's
    /// own rules decide.
    model: Option<std::sync::Arc<super::model::ModelCell>>,
}

/// How many words back a comparison word reaches ("competes with the leading closed models").
const COMPARISON_SCOPE: usize = 8;

/// Nouns that make a preceding "open" / "closed" a stance ("open frontier model").
const MODEL_NOUNS: &[&str] =
    &["model", "models", "llm", "llms", "weights", "ai", "system", "systems", "release", "releases"];
/// Evidence weight of an open product being released, and of an adjective cue.
const PRODUCT_RELEASE: f64 = 0.6;
const ADJECTIVE_CUE: f64 = 0.8;

/// One scored piece of evidence.
pub(crate) struct Evidence {
    pub entity: usize,
    pub stance: Stance,
    pub score: f64,
    pub certainty: Certainty,
    pub sentence: usize,
    /// The cue describes what the entity did before, not what it does now.
    pub past: bool,
    /// The cue was flipped by a negator ("will not release").
    pub negated: bool,
    /// The cue's byte span in its sentence.
    pub span: (usize, usize),
    pub basis: Basis,
}

/// A change of stance a sentence reports: the entity, where to (when the wording says), how
/// hedged, and the sentence.
pub(crate) struct ShiftCue {
    pub entity: usize,
    pub to: Option<Stance>,
    pub certainty: Certainty,
    pub sentence: usize,
}

/// Everything the rule engine read in one story: its sentences, the entities and cues in each,
/// the scored evidence, the changes it reports, and the engine's own decision. The learned
/// reader (`model.rs`) takes its features from here.
pub(crate) struct Reading {
    pub sentences: Vec<String>,
    pub mentions: Vec<Vec<super::Mention>>,
    pub cues: Vec<Vec<Found>>,
    /// Entities in order of first mention.
    pub order: Vec<usize>,
    pub evidence: Vec<Evidence>,
    pub shift_cues: Vec<ShiftCue>,
    pub relevance: f64,
    /// The story names a watched product or uses an AI word.
    pub about_ai: bool,
    /// The rule engine's decision.
    pub rules: Classification,
}

/// What kind of statement a stance rests on. Only reports of what an organisation does can
/// change its stance over time; a licence dispute or a critic's opinion cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Basis {
    /// What the organisation does or says (a release, a licence, a statement).
    #[default]
    Report,
    /// Whether its licence deserves the name "open source".
    Dispute,
    /// What its critics think.
    Opinion,
    /// Named in passing, compared with, or listed: the story is about someone else.
    Mention,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Report => "report",
            Basis::Dispute => "dispute",
            Basis::Opinion => "opinion",
            Basis::Mention => "mention",
        }
    }
}

impl Classifier {
    pub fn new(profile: Profile) -> Classifier {
        let release_words = profile
            .events
            .iter()
            .filter(|(kind, _)| kind == "release")
            .flat_map(|(_, words)| words.iter().map(|w| w.to_lowercase()))
            .collect();
        let open_products =
            profile.entities.iter().map(|e| e.open_products.iter().map(|p| p.to_lowercase()).collect()).collect();
        let ai_words = super::entities::phrase_automaton(&profile.stance.ai_words);
        Classifier {
            entities: std::sync::Arc::new(EntityMatcher::new(&profile)),
            lexicon: Lexicon::new(&profile.stance),
            release_words,
            open_products,
            ai_words,
            groups: profile.stance.groups.iter().map(|g| g.to_lowercase()).collect(),
            profile,
            model: None,
        }
    }

    /// The rule engine with a learned model deciding from its features.
    pub fn with_model(profile: Profile, model: Option<super::Model>) -> Classifier {
        Classifier::with_model_cell(profile, model.map(super::model::ModelCell::parsed))
    }

    /// The rule engine with a model that may be read when first needed.
    pub fn with_model_cell(profile: Profile, model: Option<super::model::ModelCell>) -> Classifier {
        Classifier { model: model.map(std::sync::Arc::new), ..Classifier::new(profile) }
    }

    /// The built-in profile with its shipped model: what `run` uses by default.
    pub fn builtin() -> Classifier {
        Classifier::with_model_cell(Profile::builtin(), Some(super::model::ModelCell::builtin()))
    }

    /// The learned model, if one decides (read now if it was not yet).
    pub fn model(&self) -> Option<&super::Model> {
        self.model.as_deref().map(|cell| cell.get())
    }

    /// Cues of a sentence: the lexicon's, plus "open" / "closed" used as an adjective of a model
    /// or product ("an open frontier model", "closed 'Avocado'"), in order.
    fn cues(&self, sentence: &str, index: &WordIndex, mentions: &[super::Mention]) -> Vec<Found> {
        let mut found = self.lexicon.find(sentence, index);
        let words: Vec<(usize, &str)> = word_spans(sentence);
        for (i, &(start, word)) in words.iter().enumerate() {
            let stance = match word.to_ascii_lowercase().as_str() {
                "open" => Stance::Open,
                "closed" => Stance::Closed,
                _ => continue,
            };
            if found.iter().any(|f| f.start <= start && start < f.end) {
                continue;
            }
            let next = &words[i + 1..words.len().min(i + 4)];
            let before_noun = next.iter().any(|(_, w)| MODEL_NOUNS.contains(&w.to_ascii_lowercase().as_str()));
            let before_product = next
                .iter()
                .take(2)
                .any(|(at, _)| mentions.iter().any(|m| m.start == *at && m.kind == super::MentionKind::Product));
            if before_noun || before_product {
                found.push(Found {
                    cue: Cue::Stance(stance, ADJECTIVE_CUE),
                    start,
                    end: start + word.len(),
                    word: index.at(start),
                });
            }
        }
        found.sort_by_key(|f| f.start);
        found
    }

    /// An open product named in a sentence that announces a release.
    fn open_product_released(&self, sentence: &str, mentions: &[super::Mention]) -> Option<usize> {
        if !mentions.iter().any(|m| m.kind == super::MentionKind::Product) {
            return None;
        }
        let lower = sentence.to_lowercase();
        let announces = word_spans(&lower).iter().any(|(_, w)| self.release_words.iter().any(|r| r == w));
        if !announces {
            return None;
        }
        mentions
            .iter()
            .filter(|m| m.kind == super::MentionKind::Product)
            .find(|m| self.open_products[m.entity].iter().any(|p| *p == sentence[m.start..m.end].to_lowercase()))
            .map(|m| m.entity)
    }

    /// What a stored reading depends on: the profile and this engine's rules.
    pub fn fingerprint(&self) -> String {
        match &self.model {
            Some(m) => format!("{ENGINE_VERSION}-{}-{}", self.profile.fingerprint, m.fingerprint()),
            None => format!("{ENGINE_VERSION}-{}", self.profile.fingerprint),
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The entity matcher, to share with the dedup stage.
    pub fn entity_matcher(&self) -> std::sync::Arc<EntityMatcher> {
        self.entities.clone()
    }

    pub fn classify(&self, story: &StoryText) -> Classification {
        let reading = self.read(story, None);
        match self.model() {
            Some(model) => model.decide(self, &reading, story.published, None),
            None => reading.rules,
        }
    }

    /// Classify and say why: one line per piece of evidence the engine found (sentence,
    /// entity, stance, score, cue), then, with a model, the features that decided relevance,
    /// each stance and each reported change.
    pub fn explain(&self, story: &StoryText) -> (Classification, Vec<String>) {
        let mut trace = Vec::new();
        let reading = self.read(story, Some(&mut trace));
        let c = match self.model() {
            Some(model) => model.decide(self, &reading, story.published, Some(&mut trace)),
            None => reading.rules,
        };
        (c, trace)
    }

    pub(crate) fn read(&self, story: &StoryText, trace: Option<&mut Vec<String>>) -> Reading {
        let title = normalise_punctuation(story.title);
        let summary = normalise_punctuation(story.summary);
        let summary = crate::feed::text::truncate(&summary, MAX_TEXT);
        let content = normalise_punctuation(crate::feed::text::truncate(story.content, MAX_TEXT));
        let mut sentences: Vec<&str> = vec![title.trim()];
        let mut lead = 0;
        for s in [summary, content.as_str()].into_iter().flat_map(sentences::split) {
            // Feeds often repeat the headline as the summary's first line, and the summary as
            // the content's opening.
            if lead >= LEAD_BYTES {
                break;
            }
            if !s.is_empty() && !sentences.contains(&s) {
                lead += s.len();
                sentences.push(s);
            }
        }
        sentences.retain(|s| !s.is_empty());

        let mentions: Vec<Vec<super::Mention>> = sentences.iter().map(|s| self.entities.mentions(s)).collect();
        let mut order: Vec<usize> = Vec::new(); // entities in order of first mention
        for m in mentions.iter().flatten() {
            if !order.contains(&m.entity) {
                order.push(m.entity);
            }
        }
        let subject = mentions.first().and_then(|m| m.first()).map(|m| m.entity).or(order.first().copied());
        let year = story.published.map(|d| chrono::Datelike::year(&d));

        let mut evidence: Vec<Evidence> = Vec::new();
        let mut shifts: Vec<(usize, Option<Stance>, Certainty, usize)> = Vec::new(); // entity, explicit direction
        let mut relevance = 0.0;
        let mut all_cues: Vec<Vec<Found>> = Vec::with_capacity(sentences.len());
        for (si, sentence) in sentences.iter().enumerate() {
            let index = WordIndex::new(sentence);
            all_cues.push(self.cues(sentence, &index, &mentions[si]));
            let found = &all_cues[si];
            let certainty = sentence_certainty(sentence, found);
            let critics = found.iter().any(|f| f.cue == Cue::Critic);
            let basis = if critics { Basis::Opinion } else { Basis::Report };
            let speaking = !critics && found.iter().any(|f| f.cue == Cue::Speech) && !mentions[si].is_empty();
            let attribution = if critics {
                0.3
            } else if speaking {
                1.2
            } else {
                1.0
            };
            let earlier_year = year.is_some_and(|y| mentions_earlier_year(sentence, y));
            let words = word_spans(sentence);
            // The entities a cue is about: the nearest mention, preferring one before the cue
            // ("Meta's open model") unless one after is clearly closer ("proprietary models like
            // OpenAI's"); a sentence naming none is about the headline's subject. Two exceptions:
            // a cue on a group noun ("closed AI labs") is about the group, or the entities
            // listed right after it; a cue after a comparison ("competes with closed models")
            // is not about the entity named before the comparison.
            let targets = |at: usize, end: usize| -> Vec<usize> {
                let ms = &mentions[si];
                let group = words
                    .iter()
                    .filter(|(b, _)| *b >= end)
                    .take(2)
                    .find(|(_, w)| self.groups.contains(&w.to_lowercase()));
                if let Some(&(b, w)) = group {
                    return listed_after(sentence, ms, b + w.len());
                }
                let cue_word = index.at(at);
                let floor = found
                    .iter()
                    .rev()
                    .find(|f| f.cue == Cue::Comparison && f.end <= at && cue_word - f.word <= COMPARISON_SCOPE)
                    .map(|f| f.end);
                let before = ms.iter().rev().find(|m| m.end <= at && floor.is_none_or(|fl| m.start >= fl));
                let after = ms.iter().find(|m| m.start >= at);
                let distance = |m: &super::Mention, before: bool| -> usize {
                    let w = index.at(if before { m.end } else { m.start });
                    w.abs_diff(cue_word)
                };
                let one = match (before, after) {
                    (Some(b), Some(a)) if distance(a, false) + 2 < distance(b, true) => Some(a.entity),
                    (Some(b), _) => Some(b.entity),
                    (None, Some(a)) => Some(a.entity),
                    (None, None) if floor.is_some() => None,
                    (None, None) => subject,
                };
                one.into_iter().collect()
            };
            let target = |at: usize, end: usize| targets(at, end).first().copied();
            // A licence dispute is about the entity it names, not about every entity in the
            // sentence.
            let disputed: Vec<Option<usize>> =
                found.iter().filter(|f| f.cue == Cue::LicenceDispute).map(|f| target(f.start, f.end)).collect();
            let title_boost = if si == 0 { 1.3 } else { 1.0 };
            let time_weight = if earlier_year { PAST_YEAR } else { 1.0 };
            if let Some(entity) = self.open_product_released(sentence, &mentions[si]) {
                relevance += self.profile.stance.relevance_threshold;
                let score = PRODUCT_RELEASE * certainty.weight() * title_boost * time_weight;
                evidence.push(Evidence {
                    entity,
                    negated: false,
                    stance: Stance::Open,
                    score,
                    certainty,
                    sentence: si,
                    past: earlier_year,
                    span: (0, 0),
                    basis,
                });
            }
            for (i, f) in found.iter().enumerate() {
                let span = (f.start, f.end);
                match f.cue {
                    Cue::Stance(stance, weight) => {
                        let scope = self.profile.stance.negation_scope;
                        let negated = negated(found, i, scope);
                        // "won't be fully open", "selective open sourcing", "Open Source" in
                        // scare quotes: partly open — mixed evidence, not a flip.
                        let partial = (negated && preceded_by(found, i, Cue::PartialNegation, scope))
                            || preceded_by(found, i, Cue::Partial, scope)
                            || followed_by(found, i, Cue::Partial, 3)
                            || quoted(sentence, f.start, f.end);
                        let stance = match (negated, stance) {
                            (false, s) => s,
                            (true, Stance::Open) => Stance::Closed,
                            (true, Stance::Closed) => Stance::Open,
                            (true, s) => s,
                        };
                        // "open-sources its proprietary model": the closed cue is what the
                        // model was; the sentence reports it opening.
                        let opened = !negated && stance == Stance::Closed && object_of_opening(sentence, found, i);
                        let marked_past = preceded_by(found, i, Cue::Past, scope) || opened;
                        let past = marked_past || earlier_year;
                        let score = weight
                            * if negated { 0.8 } else { 1.0 }
                            * if marked_past { PAST_MARKED } else { time_weight }
                            * clause_weight(found, i)
                            * certainty.weight()
                            * attribution
                            * title_boost;
                        relevance += weight;
                        for entity in targets(f.start, f.end) {
                            // "its first closed model": the story reports a change.
                            if !past && first_before(sentence, f.start) {
                                shifts.push((entity, Some(stance), certainty, si));
                            }
                            if opened {
                                shifts.push((entity, Some(Stance::Open), certainty, si));
                            }
                            let dispute = disputed.contains(&Some(entity));
                            if dispute || partial {
                                // A licence dispute: the weights are out, the terms are contested.
                                let basis = if dispute { Basis::Dispute } else { basis };
                                for s in [Stance::Open, Stance::Closed] {
                                    let score = score * 0.5;
                                    let sentence = si;
                                    evidence.push(Evidence {
                                        entity,
                                        negated,
                                        stance: s,
                                        score,
                                        certainty,
                                        sentence,
                                        past,
                                        span,
                                        basis,
                                    });
                                }
                            } else {
                                evidence.push(Evidence {
                                    entity,
                                    negated,
                                    stance,
                                    score,
                                    certainty,
                                    sentence: si,
                                    past,
                                    span,
                                    basis,
                                });
                            }
                        }
                    }
                    Cue::LicenceDispute => {
                        relevance += 0.8;
                        if let Some(entity) = target(f.start, f.end) {
                            let score = 0.5 * certainty.weight() * title_boost * time_weight;
                            for s in [Stance::Open, Stance::Closed] {
                                let past = earlier_year;
                                evidence.push(Evidence {
                                    entity,
                                    negated: false,
                                    stance: s,
                                    score,
                                    certainty,
                                    sentence: si,
                                    past,
                                    span,
                                    basis: Basis::Dispute,
                                });
                            }
                        }
                    }
                    Cue::Topic => relevance += 0.4,
                    Cue::ShiftTo(direction) => {
                        relevance += 0.8;
                        if let Some(entity) = target(f.start, f.end) {
                            shifts.push((entity, Some(direction), certainty, si));
                            let score = 0.8 * certainty.weight() * title_boost * time_weight;
                            let past = earlier_year;
                            evidence.push(Evidence {
                                entity,
                                negated: false,
                                stance: direction,
                                score,
                                certainty,
                                sentence: si,
                                past,
                                span,
                                basis,
                            });
                        }
                    }
                    Cue::Change => {
                        if let Some(entity) = target(f.start, f.end) {
                            shifts.push((entity, None, certainty, si));
                        }
                    }
                    _ => {}
                }
            }
        }

        let about_ai = mentions.iter().flatten().any(|m| m.kind == super::MentionKind::Product)
            || sentences
                .iter()
                .any(|s| self.ai_words.find_iter(s).any(|m| super::entities::whole_word(s, m.start(), m.end())));
        let relevant = about_ai && relevance >= self.profile.stance.relevance_threshold && !order.is_empty();
        let mut decided: Vec<(usize, Stance, f64)> = Vec::new();
        for &e in &order {
            let mine = evidence.iter().filter(|x| x.entity == e);
            let open: f64 = mine.clone().filter(|x| x.stance == Stance::Open).map(|x| x.score).sum();
            let closed: f64 = mine.filter(|x| x.stance == Stance::Closed).map(|x| x.score).sum();
            let total = open + closed;
            let (stance, confidence) = if !relevant || total < MIN_EVIDENCE {
                (Stance::Neutral, 0.5)
            } else if open.min(closed) >= MIXED_RATIO * open.max(closed) {
                (Stance::Mixed, (open.min(closed) / open.max(closed)) * (1.0 - (-total).exp()))
            } else if open > closed {
                (Stance::Open, (open - closed) / total * (1.0 - (-total).exp()))
            } else {
                (Stance::Closed, (closed - open) / total * (1.0 - (-total).exp()))
            };
            decided.push((e, stance, confidence));
        }

        // Changes the story reports. What an entity did before ("long associated with
        // proprietary models") against what it does now is a change too.
        for &(e, now, _) in &decided {
            if !matches!(now, Stance::Open | Stance::Closed) {
                continue;
            }
            let before = opposite(now);
            let was =
                evidence.iter().filter(|x| x.entity == e && x.past && x.stance == before).map(|x| x.score).sum::<f64>();
            let is = evidence.iter().filter(|x| x.entity == e && !x.past && x.stance == now);
            if was > 0.0 && is.clone().any(|x| x.certainty >= Certainty::Probable) {
                let si = is.map(|x| x.sentence).min().unwrap_or(0);
                shifts.push((e, Some(now), Certainty::Certain, si));
            }
        }
        let mut out_shifts: Vec<Shift> = Vec::new();
        if relevant {
            for &(entity, direction, certainty, si) in &shifts {
                if certainty == Certainty::Question {
                    continue;
                }
                let Some(d) = decided.iter_mut().find(|d| d.0 == entity) else { continue };
                let now = d.1;
                // A change word without a direction goes where its own sentence points, else away
                // from what the story says the entity did before ("switching sides"), else to
                // the story's stance when the sentence names the entity.
                let named = mentions[si].iter().any(|m| m.entity == entity);
                let to = match direction
                    .or_else(|| sentence_direction(&evidence, entity, si))
                    .or_else(|| past_direction(&evidence, entity).map(opposite))
                {
                    Some(d) => d,
                    None if named && matches!(now, Stance::Open | Stance::Closed) => now,
                    None => continue,
                };
                // A report of moving somewhere the rest of the story contradicts is not a shift.
                if matches!(now, Stance::Open | Stance::Closed) && now != to {
                    continue;
                }
                // The story's news is the change: where the entity goes is its stance here.
                d.1 = to;
                let shift = self.shift_to(entity, to, story.published);
                if !out_shifts.iter().any(|s| s.entity == shift.entity) {
                    out_shifts.push(shift);
                }
            }
        }

        let entities = decided
            .iter()
            .map(|&(e, stance, confidence)| self.entity_stance(&sentences, &mentions, &evidence, e, stance, confidence))
            .collect();
        if let Some(trace) = trace {
            for x in &evidence {
                let cue =
                    sentences[x.sentence].get(x.span.0..x.span.1).filter(|c| !c.is_empty()).unwrap_or("(open product)");
                trace.push(format!(
                    "sentence {} {} {} {:.2} {}{} \"{}\"",
                    x.sentence,
                    self.profile.entities[x.entity].key,
                    x.stance.as_str(),
                    x.score,
                    x.certainty.as_str(),
                    if x.past { " past" } else { "" },
                    cue
                ));
            }
            for &(e, direction, certainty, si) in &shifts {
                let to = direction.map_or("?", Stance::as_str);
                trace.push(format!(
                    "sentence {si} {} change to {to} {}",
                    self.profile.entities[e].key,
                    certainty.as_str()
                ));
            }
        }
        let rules =
            Classification { relevant, relevance: (relevance * 100.0).round() / 100.0, entities, shifts: out_shifts };
        Reading {
            sentences: sentences.iter().map(|s| s.to_string()).collect(),
            mentions,
            cues: all_cues,
            order,
            evidence,
            shift_cues: shifts
                .into_iter()
                .map(|(entity, to, certainty, sentence)| ShiftCue { entity, to, certainty, sentence })
                .collect(),
            relevance,
            about_ai,
            rules,
        }
    }
}

impl Classifier {
    /// A reported change of `entity` to `to`: from the prior stance, unless the story is about
    /// the change that began it.
    pub(crate) fn shift_to(&self, entity: usize, to: Stance, published: Option<chrono::NaiveDate>) -> Shift {
        let entity = &self.profile.entities[entity];
        let from = match entity.prior {
            Some((prior, since)) if prior != to && published.is_none_or(|p| since + PRIOR_SETTLED <= p) => prior,
            _ if to == Stance::Mixed => Stance::Open,
            _ => opposite(to),
        };
        Shift { entity: entity.key.clone(), from, to }
    }

    /// The reading of one entity once its stance is decided: the sentence that shows it best
    /// (else its first mention), how hedged that is, and the kind of statement most of its
    /// evidence is.
    pub(crate) fn entity_stance<S: AsRef<str>>(
        &self,
        sentences: &[S],
        mentions: &[Vec<super::Mention>],
        evidence: &[Evidence],
        e: usize,
        stance: Stance,
        confidence: f64,
    ) -> EntityStance {
        let best = evidence
            .iter()
            .filter(|x| x.entity == e && (stance == Stance::Mixed || x.stance == stance))
            .max_by(|a, b| a.score.total_cmp(&b.score));
        let (certainty, evidence_text) = match best {
            Some(b) if stance != Stance::Neutral => (b.certainty, sentences[b.sentence].as_ref().to_string()),
            _ => {
                let first = mentions.iter().position(|ms| ms.iter().any(|m| m.entity == e)).unwrap_or(0);
                (Certainty::Certain, sentences.get(first).map_or("", |s| s.as_ref()).to_string())
            }
        };
        let mut by_basis = [(Basis::Report, 0.0), (Basis::Dispute, 0.0), (Basis::Opinion, 0.0)];
        for x in evidence.iter().filter(|x| x.entity == e) {
            if let Some(b) = by_basis.iter_mut().find(|b| b.0 == x.basis) {
                b.1 += x.score;
            }
        }
        let basis = if by_basis[0].1 >= by_basis[1].1 + by_basis[2].1 {
            Basis::Report
        } else if by_basis[1].1 >= by_basis[2].1 {
            Basis::Dispute
        } else {
            Basis::Opinion
        };
        EntityStance {
            entity: self.profile.entities[e].key.clone(),
            stance,
            confidence: (confidence * 100.0).round() / 100.0,
            certainty,
            evidence: evidence_text,
            basis,
        }
    }
}

pub(crate) fn opposite(stance: Stance) -> Stance {
    match stance {
        Stance::Open => Stance::Closed,
        Stance::Closed => Stance::Open,
        s => s,
    }
}

/// Entities listed right after byte `from`, separated only by punctuation and "and" / "or"
/// ("giants: OpenAI, Google and Anthropic").
fn listed_after(sentence: &str, mentions: &[super::Mention], from: usize) -> Vec<usize> {
    const JOINERS: &[&str] = &["and", "or", "such", "as", "like", "including", "the", "&", "'s", "s"];
    let mut out = Vec::new();
    let mut at = from;
    for m in mentions.iter().filter(|m| m.start >= from) {
        let gap = &sentence[at..m.start];
        let only_joiners = gap
            .split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '&') || "—–()".contains(c))
            .filter(|w| !w.is_empty())
            .all(|w| JOINERS.contains(&w.to_lowercase().as_str()));
        if !only_joiners {
            break;
        }
        if !out.contains(&m.entity) {
            out.push(m.entity);
        }
        at = m.end;
    }
    out
}

/// The sentence names a year before `year` ("In 2023, ..."): it tells the past.
fn mentions_earlier_year(sentence: &str, year: i32) -> bool {
    sentence
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 4)
        .filter_map(|w| w.parse::<i32>().ok())
        .any(|y| (1990..year).contains(&y))
}

/// Closed cue `i` is the object of an opening cue right before it, with at most a determiner
/// between ("open-sources its proprietary model").
fn object_of_opening(sentence: &str, found: &[Found], i: usize) -> bool {
    let Some(prev) = found[..i].iter().rev().find(|f| is_stance(&f.cue)) else { return false };
    if prev.cue != Cue::Stance(Stance::Open, 1.0) || prev.end > found[i].start {
        return false;
    }
    sentence[prev.end..found[i].start]
        .split_whitespace()
        .all(|w| matches!(w.to_ascii_lowercase().as_str(), "its" | "their" | "the" | "a" | "an" | "his" | "her"))
}

/// The stance the story says the entity held before, when its past evidence points one way.
fn past_direction(evidence: &[Evidence], entity: usize) -> Option<Stance> {
    let sum = |stance: Stance| -> f64 {
        evidence.iter().filter(|e| e.entity == entity && e.past && e.stance == stance).map(|e| e.score).sum()
    };
    let (open, closed) = (sum(Stance::Open), sum(Stance::Closed));
    if open > 0.0 && closed == 0.0 {
        Some(Stance::Open)
    } else if closed > 0.0 && open == 0.0 {
        Some(Stance::Closed)
    } else {
        None
    }
}

/// Where one sentence's evidence about `entity` points, when it clearly points one way.
fn sentence_direction(evidence: &[Evidence], entity: usize, sentence: usize) -> Option<Stance> {
    let sum = |stance: Stance| -> f64 {
        evidence
            .iter()
            .filter(|e| e.entity == entity && e.sentence == sentence && e.stance == stance)
            .map(|e| e.score)
            .sum()
    };
    let (open, closed) = (sum(Stance::Open), sum(Stance::Closed));
    if open > 1.5 * closed && open > 0.0 {
        Some(Stance::Open)
    } else if closed > 1.5 * open && closed > 0.0 {
        Some(Stance::Closed)
    } else {
        None
    }
}

/// The most hedged wording in the sentence decides its certainty.
fn sentence_certainty(sentence: &str, found: &[Found]) -> Certainty {
    if sentence.trim_end().ends_with('?') || found.iter().any(|f| f.cue == Cue::Question) {
        return Certainty::Question;
    }
    if found.iter().any(|f| f.cue == Cue::Possible) {
        return Certainty::Possible;
    }
    if found.iter().any(|f| f.cue == Cue::Probable) {
        return Certainty::Probable;
    }
    Certainty::Certain
}

/// Which way to look from a cue.
#[derive(Clone, Copy)]
enum Look {
    Before,
    After,
}

/// Whether a cue matching `wanted` lies within `scope` words of cue `i` in direction `look`,
/// before any cue matching `stop` (a clause break, another stance cue).
fn nearby(found: &[Found], i: usize, look: Look, scope: usize, wanted: Cue, stop: &[fn(&Cue) -> bool]) -> bool {
    let cue = found[i];
    let candidates: Box<dyn Iterator<Item = &Found>> = match look {
        Look::Before => Box::new(found[..i].iter().rev()),
        Look::After => Box::new(found[i + 1..].iter()),
    };
    for f in candidates {
        if f.cue == wanted && f.word.abs_diff(cue.word) <= scope {
            return true;
        }
        if stop.iter().any(|s| s(&f.cue)) {
            return false;
        }
    }
    false
}

fn is_contrast(c: &Cue) -> bool {
    matches!(c, Cue::ContrastAfter | Cue::ContrastBefore)
}

fn is_stance(c: &Cue) -> bool {
    matches!(c, Cue::Stance(..))
}

fn is_pseudo_negator(c: &Cue) -> bool {
    matches!(c, Cue::PseudoNegator)
}

/// A negator within `scope` words before cue `i` (or a judgement like "dangerous" within
/// `scope` words after it), with no clause break or other stance cue between.
fn negated(found: &[Found], i: usize, scope: usize) -> bool {
    nearby(found, i, Look::Before, scope, Cue::Negator, &[is_contrast, is_pseudo_negator, is_stance])
        || nearby(found, i, Look::After, scope, Cue::PostNegator, &[is_contrast, is_stance])
}

/// A cue of kind `kind` within `scope` words before cue `i`, in the same clause.
fn preceded_by(found: &[Found], i: usize, kind: Cue, scope: usize) -> bool {
    nearby(found, i, Look::Before, scope, kind, &[is_contrast])
}

/// A cue of kind `kind` within `scope` words after cue `i`, in the same clause.
fn followed_by(found: &[Found], i: usize, kind: Cue, scope: usize) -> bool {
    nearby(found, i, Look::After, scope, kind, &[is_contrast, is_stance])
}

/// The cue stands in quotation marks: "open source", ‘open’ — a disputed label.
fn quoted(sentence: &str, start: usize, end: usize) -> bool {
    let before = sentence[..start].chars().next_back();
    let after = sentence[end..].chars().next();
    let opening = matches!(before, Some('"' | '“' | '\'' | '‘'));
    let closing = matches!(after, Some('"' | '”' | '\'' | '’'));
    opening && closing
}

/// "first" right before a cue ("its first open-weight model").
fn first_before(sentence: &str, at: usize) -> bool {
    sentence[..at].split_whitespace().rev().take(2).any(|w| w.eq_ignore_ascii_case("first"))
}

/// Typographic hyphens and apostrophes to ASCII, so "open‑source" (U+2011) reads as a cue.
fn normalise_punctuation(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2212}' => '-',
            '\u{2018}' | '\u{2019}' => '\'',
            c => c,
        })
        .collect()
}

/// Words of a sentence with their byte offsets (punctuation trimmed).
fn word_spans(sentence: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in sentence.char_indices() {
        let part = c.is_alphanumeric() || c == '-' || c == '\'';
        match (part, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &sentence[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &sentence[s..]));
    }
    out
}

/// Contrast: after "but" a clause weighs more, before it less; an "although" clause less.
fn clause_weight(found: &[Found], i: usize) -> f64 {
    let before_i = &found[..i];
    let after_i = &found[i + 1..];
    if before_i.iter().any(|f| f.cue == Cue::ContrastAfter) {
        return 1.5;
    }
    if after_i.iter().any(|f| f.cue == Cue::ContrastAfter) {
        return 0.5;
    }
    if let Some(last_before) = before_i.iter().rev().find(|f| f.cue == Cue::ContrastBefore) {
        // "Although X, Y": X (right after the word) is conceded. Without clause punctuation we
        // take the concession to run to the sentence's first comma, approximated by 6 words.
        if found[i].word - last_before.word <= 6 {
            return 0.5;
        }
    }
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(title: &str, summary: &str) -> Classification {
        let c = Classifier::new(Profile::builtin());
        c.classify(&StoryText { title, summary, content: "", published: None })
    }

    fn classify_on(day: &str, title: &str, summary: &str) -> Classification {
        let c = Classifier::new(Profile::builtin());
        let published = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok();
        c.classify(&StoryText { title, summary, content: "", published })
    }

    fn shift(entity: &str, from: Stance, to: Stance) -> Shift {
        Shift { entity: entity.into(), from, to }
    }

    fn stance_of(c: &Classification, entity: &str) -> Option<Stance> {
        c.entities.iter().find(|e| e.entity == entity).map(|e| e.stance)
    }

    #[test]
    fn only_the_lead_is_read() {
        let cue = "Google keeps its newest Gemini model proprietary and closed.";
        let filler: String =
            (1..=20).map(|n| format!("Post {n} of our series covered storage, networking and databases. ")).collect();
        let c = Classifier::new(Profile::builtin());
        let read = |summary: &str, content: &str| {
            c.classify(&StoryText { title: "What we wrote last month", summary, content, published: None })
        };
        let deep = read(&filler, cue);
        assert!(!deep.relevant && stance_of(&deep, "google").is_none(), "{deep:?}");
        let deep_in_summary = read(&format!("{filler}{cue}"), "");
        assert!(!deep_in_summary.relevant, "{deep_in_summary:?}");
        let lead = read(cue, &filler);
        assert!(lead.relevant && stance_of(&lead, "google") == Some(Stance::Closed), "{lead:?}");
        // A summary repeated as the content's opening is read once and does not use up the lead.
        let repeated = read("Storage news.", &format!("Storage news. {cue} {filler}"));
        assert_eq!(stance_of(&repeated, "google"), Some(Stance::Closed), "{repeated:?}");
    }

    #[test]
    fn plain_cues() {
        let c = classify("Meta releases Llama 5 as open weights under Apache 2.0", "");
        assert!(c.relevant);
        assert_eq!(stance_of(&c, "meta"), Some(Stance::Open));
        let c = classify("OpenAI keeps GPT-6 proprietary, available only through its API", "");
        assert_eq!(stance_of(&c, "openai"), Some(Stance::Closed));
    }

    #[test]
    fn a_topic_word_does_not_hide_a_cue_it_overlaps() {
        // "model weights" (a topic word) overlaps "weights released" (an open cue).
        let c = classify("Weather AI model weights released by Nvidia for forecasters", "");
        assert!(c.relevant);
        assert_eq!(stance_of(&c, "nvidia"), Some(Stance::Open));
    }

    #[test]
    fn negation_flips_and_pseudo_negation_does_not() {
        let c = classify("Anthropic will not release the weights of Claude 5", "");
        assert_eq!(stance_of(&c, "anthropic"), Some(Stance::Closed));
        let c = classify("Mistral AI is not only open-source but also fast", "");
        assert_eq!(stance_of(&c, "mistral"), Some(Stance::Open));
        let c = classify("Google says Gemma is no longer closed-source", "");
        assert_eq!(stance_of(&c, "google"), Some(Stance::Open));
    }

    #[test]
    fn contrast_weighs_the_later_clause() {
        let c = classify("Meta once kept its models closed-source, but Llama 5 is open-weight and downloadable", "");
        assert_eq!(stance_of(&c, "meta"), Some(Stance::Open));
        let c = classify("xAI open-sourced Grok 1, but it keeps Grok 4 proprietary and API-only", "");
        assert_ne!(stance_of(&c, "xai"), Some(Stance::Open));
    }

    #[test]
    fn certainty_levels() {
        let c = classify("DeepSeek reportedly considering closed-source models", "");
        let e = c.entities.iter().find(|e| e.entity == "deepseek").unwrap();
        assert_eq!(e.certainty, Certainty::Possible);
        let c = classify("DeepSeek released R2 as open weights", "");
        assert_eq!(c.entities.iter().find(|e| e.entity == "deepseek").unwrap().certainty, Certainty::Certain);
        let c = classify("Will OpenAI open-source GPT-5?", "");
        assert_eq!(c.entities[0].certainty, Certainty::Question);
    }

    #[test]
    fn critics_count_less_than_the_company() {
        let c = classify(
            "Meta releases Llama 5 open weights",
            "Critics argue the model is a black box. Meta said the weights are available to all.",
        );
        assert_eq!(stance_of(&c, "meta"), Some(Stance::Open));
    }

    #[test]
    fn licence_dispute_is_not_closing() {
        let c = classify(
            "Is Meta's Llama truly open? Critics say Llama is not truly open source by the OSI definition",
            "",
        );
        assert_ne!(stance_of(&c, "meta"), Some(Stance::Closed));
    }

    #[test]
    fn partial_openness_is_mixed() {
        let c = classify("Meta will not make Llama 5 fully open source, Zuckerberg says", "");
        assert_eq!(stance_of(&c, "meta"), Some(Stance::Mixed));
        let c = classify("Meta plans selective open-source releases of its AI models", "");
        assert_eq!(stance_of(&c, "meta"), Some(Stance::Mixed));
        let c = classify("Mistral AI's \"open source\" model comes with revenue caps on its weights", "");
        assert_eq!(stance_of(&c, "mistral"), Some(Stance::Mixed));
        // A plain negation is not partial.
        let c = classify("Anthropic will not open-source its AI models", "");
        assert_eq!(stance_of(&c, "anthropic"), Some(Stance::Closed));
    }

    #[test]
    fn past_tense_counts_little() {
        let c = classify(
            "OpenAI, long associated with proprietary closed models, releases open weights under Apache 2.0",
            "",
        );
        assert_eq!(stance_of(&c, "openai"), Some(Stance::Open));
    }

    #[test]
    fn shifts() {
        let c = classify("OpenAI releases its first open-weight model since GPT-2", "");
        assert_eq!(c.shifts, vec![Shift { entity: "openai".into(), from: Stance::Closed, to: Stance::Open }]);
        let c = classify("Meta moves away from open source with its next frontier model, keeping it closed", "");
        assert_eq!(c.shifts, vec![Shift { entity: "meta".into(), from: Stance::Open, to: Stance::Closed }]);
        let c = classify("Meta releases Llama 5 as open weights", "");
        assert!(c.shifts.is_empty());
    }

    #[test]
    fn comparisons_are_about_the_compared() {
        let c =
            classify("Moonshot AI's Kimi K3 is an open-weight model that competes with closed models from US labs", "");
        assert_eq!(stance_of(&c, "moonshot"), Some(Stance::Open), "{c:?}");
        let c = classify("Mistral AI's open model rivals OpenAI's proprietary GPT-5", "");
        assert_eq!(stance_of(&c, "mistral"), Some(Stance::Open));
        assert_eq!(stance_of(&c, "openai"), Some(Stance::Closed), "the compared entity still gets the cue");
    }

    #[test]
    fn group_nouns_take_the_cue_or_pass_it_to_a_list() {
        let c = classify("The open-source Falcon 4 model gives closed AI labs a run for their money", "");
        assert_eq!(stance_of(&c, "tii"), Some(Stance::Open), "{c:?}");
        let c = classify(
            "Mistral AI releases open weights",
            "The release takes on the proprietary giants: OpenAI, Google and Anthropic.",
        );
        for key in ["openai", "google", "anthropic"] {
            assert_eq!(stance_of(&c, key), Some(Stance::Closed), "{key}: {c:?}");
        }
        assert_eq!(stance_of(&c, "mistral"), Some(Stance::Open));
    }

    #[test]
    fn earlier_years_are_the_past() {
        let (title, summary) = (
            "Meta's new frontier model is closed-source",
            "In 2024, Zuckerberg wrote that open source AI is the path forward.",
        );
        let c = classify_on("2026-04-10", title, summary);
        assert_eq!(stance_of(&c, "meta"), Some(Stance::Closed));
        assert_eq!(c.shifts, vec![shift("meta", Stance::Open, Stance::Closed)]);
        // The same words in the year they were written are no change.
        let c = classify_on(
            "2024-07-23",
            "Zuckerberg: open source AI is the path forward",
            "In 2024, Meta released Llama 3.1.",
        );
        assert!(c.shifts.is_empty(), "{c:?}");
    }

    #[test]
    fn opening_a_proprietary_model_is_a_shift_to_open() {
        let c = classify("Apple open-sources its proprietary on-device AI model", "");
        assert_eq!(stance_of(&c, "apple"), Some(Stance::Open));
        assert_eq!(c.shifts, vec![shift("apple", Stance::Closed, Stance::Open)]);
        let c = classify("Apple ships open-source and proprietary AI models", "");
        assert!(c.shifts.is_empty(), "both kinds side by side are no change: {c:?}");
    }

    #[test]
    fn change_words_need_a_direction_about_the_entity() {
        let c = classify("Meta is quietly switching sides", "Behemoth was meant to be its big open-source model.");
        assert_eq!(c.shifts, vec![shift("meta", Stance::Open, Stance::Closed)]);
        assert_eq!(stance_of(&c, "meta"), Some(Stance::Closed));
        let c = classify("A seismic shift in AI is underway", "DeepSeek released R2 as an open-weight model.");
        assert!(c.shifts.is_empty(), "the shift is not DeepSeek's: {c:?}");
    }

    #[test]
    fn a_change_starts_from_the_prior_stance() {
        let c = classify_on("2026-04-03", "Google switches Gemma 5 to the Apache 2.0 license", "");
        assert_eq!(c.shifts, vec![shift("google", Stance::Mixed, Stance::Open)]);
        // A story from the week the prior began reports that change itself.
        let c = classify_on("2024-02-22", "Google releases Gemma, its first open model", "");
        assert_eq!(c.shifts, vec![shift("google", Stance::Closed, Stance::Open)]);
    }

    #[test]
    fn a_licence_dispute_is_about_the_entity_it_names() {
        let c = classify(
            "Google's Gemma 4 is open, but not open source, unlike Mistral AI's open models under Apache 2.0",
            "",
        );
        assert_eq!(stance_of(&c, "google"), Some(Stance::Mixed), "{c:?}");
        assert_eq!(stance_of(&c, "mistral"), Some(Stance::Open));
    }

    #[test]
    fn not_about_openness_is_irrelevant() {
        let c = classify("Nvidia earnings beat expectations as data centre sales soar", "");
        assert!(!c.relevant);
        assert_eq!(stance_of(&c, "nvidia"), Some(Stance::Neutral));
        let c = classify("Tech leaders sign open letter on AI safety", "");
        assert!(!c.relevant);
    }
}
