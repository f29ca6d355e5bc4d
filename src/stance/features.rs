//! Features for the learned reader, taken from the rule engine's reading of a story.
//!
//! The engine finds entities (with their ambiguity guards), sentences, cues and their
//! modifiers (negation, contrast, certainty, attribution, licence disputes); the features say
//! what it found, where, and about whom, and a linear model (`model.rs`) weighs them. Two kinds:
//! - **story features** (is the story about AI openness at all): the engine's relevance, the cue
//!   phrases found, and the words of the headline and summary;
//! - **pair features** (what the story says one organisation does, and whether it reports a
//!   change): the evidence the engine gave the organisation, its position in the story
//!   (headline subject, listed, compared, named in passing), the cues about it, and the words
//!   around its mentions with negation marked.
//!
//! Features are names (`"w:releas"`, `"pos:title_subject"`) with values, so a model file says
//! what it learned in words a person can read.

use super::classify::{Certainty, Classifier, Reading};
use super::lexicon::{Cue, Found};
use super::profile::Stance;

/// One feature: its name and value (1.0 for a present indicator).
pub type Feature = (String, f64);

/// Words a mention's window reaches, before and after it.
const WINDOW_BEFORE: usize = 5;
const WINDOW_AFTER: usize = 8;
/// How far (words) a negator marks the words after it as negated.
const NEGATION_REACH: usize = 6;
/// Words that join a list of organisations ("OpenAI, Google and Anthropic").
const LIST_JOINERS: &[&str] = &["and", "or", "&", "as", "well", "like", "such", "including"];

/// A word reduced to a crude stem, so "releases", "released" and "releasing" are one feature.
pub fn stem(word: &str) -> String {
    let mut w: String = word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    if let Some(base) = w.strip_suffix("'s") {
        w = base.to_string();
    }
    if w.chars().any(|c| c.is_ascii_digit()) {
        return "#num".to_string();
    }
    for suffix in ["ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 3 && w.ends_with(suffix) && !w.ends_with("ss") {
            w.truncate(w.len() - suffix.len());
            break;
        }
    }
    w
}

/// Lowercased words of a sentence with their byte offsets.
fn words(sentence: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in sentence.char_indices().chain(std::iter::once((sentence.len(), ' '))) {
        let part = c.is_alphanumeric() || c == '-' || c == '\'';
        match (part, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let w = stem(&sentence[s..i]);
                if !w.is_empty() {
                    out.push((s, i, w));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// A cue's kind as a feature name part.
fn cue_kind(cue: &Cue) -> &'static str {
    match cue {
        Cue::Stance(Stance::Open, _) => "open",
        Cue::Stance(Stance::Closed, _) => "closed",
        Cue::Stance(..) => "stance",
        Cue::Negator => "negator",
        Cue::PostNegator => "post_negator",
        Cue::Past => "past",
        Cue::Partial => "partial",
        Cue::PartialNegation => "partial_negation",
        Cue::PseudoNegator => "pseudo_negator",
        Cue::ContrastAfter => "contrast_after",
        Cue::ContrastBefore => "contrast_before",
        Cue::Critic => "critic",
        Cue::Comparison => "comparison",
        Cue::Speech => "speech",
        Cue::LicenceDispute => "dispute",
        Cue::Probable => "probable",
        Cue::Possible => "possible",
        Cue::Question => "question",
        Cue::ShiftTo(Stance::Open) => "shift_open",
        Cue::ShiftTo(Stance::Closed) => "shift_closed",
        Cue::ShiftTo(_) => "shift",
        Cue::Change => "change",
        Cue::Topic => "topic",
    }
}

/// A cue as a feature: its kind and its phrase ("cue:closed:api-only").
fn cue_feature(sentence: &str, f: &Found) -> String {
    let phrase = sentence.get(f.start..f.end).unwrap_or("").to_lowercase().replace(' ', "_");
    format!("cue:{}:{phrase}", cue_kind(&f.cue))
}

/// Bucketed count: 0, 1, 2, 3+.
fn bucket(n: usize) -> usize {
    n.min(3)
}

/// Word positions a negator reaches in a sentence (marked "not_" in word features).
fn negated_words(sentence_words: &[Word], cues: &[Found]) -> Vec<bool> {
    let mut out = vec![false; sentence_words.len()];
    for f in cues.iter().filter(|f| f.cue == Cue::Negator) {
        let Some(first) = sentence_words.iter().position(|w| w.0 >= f.end) else { continue };
        let clause_end = cues
            .iter()
            .filter(|c| matches!(c.cue, Cue::ContrastAfter | Cue::ContrastBefore) && c.start >= f.end)
            .map(|c| c.start)
            .min()
            .unwrap_or(usize::MAX);
        for (i, w) in sentence_words.iter().enumerate().skip(first).take(NEGATION_REACH) {
            if w.0 >= clause_end {
                break;
            }
            out[i] = true;
        }
    }
    out
}

/// Features of the whole story: is it about AI openness?
pub(crate) fn story(reading: &Reading, tokens: &Tokens) -> Vec<Feature> {
    let mut out = Vec::new();
    story_into(reading, tokens, &mut out);
    out
}

/// A word's byte span in its sentence and its stem.
type Word = (usize, usize, String);

/// Each sentence's words (stemmed, with spans) and which of them a negator governs, made the
/// first time a feature asks and shared by the story's features and every organisation's: an
/// irrelevant story never tokenises the sentences past its opening.
pub(crate) struct Tokens<'r> {
    reading: &'r Reading,
    sentences: Vec<std::cell::OnceCell<(Vec<Word>, Vec<bool>)>>,
}

impl<'r> Tokens<'r> {
    pub(crate) fn of(reading: &'r Reading) -> Tokens<'r> {
        Tokens { reading, sentences: vec![std::cell::OnceCell::new(); reading.sentences.len()] }
    }

    fn sentence(&self, si: usize) -> &(Vec<Word>, Vec<bool>) {
        self.sentences[si].get_or_init(|| {
            let ws = words(&self.reading.sentences[si]);
            let negated = negated_words(&ws, &self.reading.cues[si]);
            (ws, negated)
        })
    }
}

/// Where features go: a list of named features (training, `--explain`), or straight to a
/// model's weights by name (classifying, without a string per feature).
pub(crate) trait Sink {
    fn add(&mut self, name: std::fmt::Arguments<'_>, value: f64);
}

impl Sink for Vec<Feature> {
    fn add(&mut self, name: std::fmt::Arguments<'_>, value: f64) {
        self.push((name.to_string(), value));
    }
}

pub(crate) fn story_into(reading: &Reading, tokens: &Tokens, out: &mut impl Sink) {
    out.add(format_args!("bias"), 1.0);
    out.add(format_args!("engine:relevance"), (1.0 + reading.relevance).ln());
    out.add(format_args!("engine:relevant:{}", reading.rules.relevant), 1.0);
    out.add(format_args!("about_ai:{}", reading.about_ai), 1.0);
    out.add(format_args!("entities:{}", bucket(reading.order.len())), 1.0);
    let stances = reading.rules.entities.iter().filter(|e| matches!(e.stance, Stance::Open | Stance::Closed)).count();
    out.add(format_args!("engine:stances:{}", bucket(stances)), 1.0);
    for (si, sentence) in reading.sentences.iter().enumerate().take(3) {
        let place = if si == 0 { "t" } else { "s" };
        let (ws, negated) = tokens.sentence(si);
        for (i, (_, _, w)) in ws.iter().enumerate() {
            let not = if negated[i] { "not_" } else { "" };
            out.add(format_args!("{place}:{not}{w}"), 1.0);
            if let Some((_, _, next)) = ws.get(i + 1) {
                out.add(format_args!("{place}b:{w}_{next}"), 1.0);
            }
        }
        for f in &reading.cues[si] {
            out.add(format_args!("{}", cue_feature(sentence, f)), 1.0);
            out.add(format_args!("cuekind:{}", cue_kind(&f.cue)), 1.0);
        }
    }
}

/// Value of the rule engine's own verdict features. The engine's verdict is one feature among
/// hundreds of sparse word features; a larger value lets the L2 penalty keep it strong where the
/// words are too rare to say otherwise.
const ENGINE_WEIGHT: f64 = 4.0;

/// Features of one (story, entity) pair: what the story says the entity does, and whether it
/// reports a change.
pub(crate) fn pair(classifier: &Classifier, reading: &Reading, tokens: &Tokens, entity: usize) -> Vec<Feature> {
    let mut out = Vec::new();
    pair_into(classifier, reading, tokens, entity, &mut out);
    out
}

pub(crate) fn pair_into(
    classifier: &Classifier,
    reading: &Reading,
    tokens: &Tokens,
    entity: usize,
    out: &mut impl Sink,
) {
    let mut add = |name: std::fmt::Arguments<'_>, value: f64| out.add(name, value);
    add(format_args!("bias"), 1.0);

    // What the rule engine concluded, and the evidence it weighed.
    let key = &classifier.profile().entities[entity].key;
    let rules = reading.rules.entities.iter().find(|e| &e.entity == key);
    if let Some(r) = rules {
        add(format_args!("engine:stance:{}", r.stance.as_str()), ENGINE_WEIGHT);
        add(format_args!("engine:basis:{}", r.basis.as_str()), 1.0);
    }
    let shift = reading.rules.shifts.iter().find(|s| &s.entity == key);
    if let Some(s) = shift {
        add(format_args!("engine:shift_to:{}", s.to.as_str()), ENGINE_WEIGHT);
    }
    let mine: Vec<_> = reading.evidence.iter().filter(|x| x.entity == entity).collect();
    for stance in [Stance::Open, Stance::Closed] {
        let s = stance.as_str();
        let of: Vec<_> = mine.iter().filter(|x| x.stance == stance).collect();
        let now: f64 = of.iter().filter(|x| !x.past).map(|x| x.score).sum();
        let past: f64 = of.iter().filter(|x| x.past).map(|x| x.score).sum();
        if now > 0.0 {
            add(format_args!("ev:{s}"), (1.0 + now).ln());
        }
        if past > 0.0 {
            add(format_args!("ev:{s}:past"), (1.0 + past).ln());
        }
        for x in &of {
            add(format_args!("ev:{s}:{}", x.certainty.as_str()), 1.0);
            add(format_args!("ev:{s}:basis:{}", x.basis.as_str()), 1.0);
            if x.negated {
                add(format_args!("ev:{s}:negated"), 1.0);
            }
            if x.sentence == 0 {
                add(format_args!("ev:{s}:title"), 1.0);
            }
            let sentence = &reading.sentences[x.sentence];
            let phrase = sentence.get(x.span.0..x.span.1).unwrap_or("").to_lowercase().replace(' ', "_");
            let phrase = if phrase.is_empty() { "(product)".to_string() } else { phrase };
            let not = if x.negated { "not_" } else { "" };
            add(format_args!("evcue:{s}:{not}{phrase}"), 1.0);
        }
    }
    for cue in reading.shift_cues.iter().filter(|c| c.entity == entity) {
        let to = cue.to.map_or("?", Stance::as_str);
        add(format_args!("shiftcue:{to}"), 1.0);
        if cue.certainty >= Certainty::Probable {
            add(format_args!("shiftcue:{to}:firm"), 1.0);
        }
        if cue.sentence == 0 {
            add(format_args!("shiftcue:{to}:title"), 1.0);
        }
    }

    // Where the entity stands in the story.
    let rank = reading.order.iter().position(|&e| e == entity).unwrap_or(reading.order.len());
    add(format_args!("pos:rank:{}", bucket(rank)), 1.0);
    add(format_args!("pos:entities:{}", bucket(reading.order.len())), 1.0);
    let title_mentions = reading.mentions.first().map(Vec::as_slice).unwrap_or(&[]);
    if title_mentions.iter().any(|m| m.entity == entity) {
        add(format_args!("pos:title"), 1.0);
        if title_mentions.first().is_some_and(|m| m.entity == entity) {
            add(format_args!("pos:title_subject"), 1.0);
        }
    } else {
        add(format_args!("pos:not_in_title"), 1.0);
    }
    if let Some(first) = reading.mentions.get(1).and_then(|ms| ms.first())
        && first.entity == entity
    {
        add(format_args!("pos:summary_subject"), 1.0);
    }
    let count: usize = reading.mentions.iter().map(|ms| ms.iter().filter(|m| m.entity == entity).count()).sum();
    add(format_args!("pos:mentions:{}", bucket(count)), 1.0);

    // The story's subject: what the whole headline and summary say is about it.
    let subject = reading.order.first() == Some(&entity) || title_mentions.first().is_some_and(|m| m.entity == entity);
    if subject {
        add(format_args!("pos:subject"), 1.0);
        for (si, sentence) in reading.sentences.iter().enumerate().take(3) {
            let (ws, negated) = tokens.sentence(si);
            for (i, (_, _, w)) in ws.iter().enumerate() {
                let not = if negated[i] { "not_" } else { "" };
                add(format_args!("subj:{not}{w}"), 1.0);
            }
            for f in &reading.cues[si] {
                add(format_args!("subj{}", cue_feature(sentence, f)), 1.0);
            }
        }
    }

    for (si, sentence) in reading.sentences.iter().enumerate() {
        let ms = &reading.mentions[si];
        if !ms.iter().any(|m| m.entity == entity) {
            continue;
        }
        let place = if si == 0 { "t" } else { "s" };
        let cues = &reading.cues[si];
        let (ws, negated) = tokens.sentence(si);
        let others =
            ms.iter().filter(|m| m.entity != entity).map(|m| m.entity).collect::<std::collections::BTreeSet<_>>();
        add(format_args!("pos:others_in_sentence:{}", bucket(others.len())), 1.0);
        if cues.iter().any(|f| f.cue == Cue::Critic) {
            add(format_args!("pos:critic_sentence"), 1.0);
        }
        for m in ms.iter().filter(|m| m.entity == entity) {
            add(format_args!("kind:{}", m.kind.as_str()), 1.0);
            // The mention's word span and its neighbours.
            let first = ws.iter().position(|w| w.1 > m.start).unwrap_or(ws.len());
            let last = ws.iter().rposition(|w| w.0 < m.end).unwrap_or(first);
            let role = passing_role(sentence, ms, cues, m);
            if role.listed {
                add(format_args!("pos:list"), 1.0);
            }
            if role.compared {
                add(format_args!("pos:compared"), 1.0);
            }
            if sentence[m.end..].starts_with("'s") {
                add(format_args!("pos:possessive"), 1.0);
            }
            if first > 0 {
                add(format_args!("prev:{}", ws[first - 1].2), 1.0);
            } else {
                add(format_args!("prev:^"), 1.0);
            }
            // The verb or noun that follows: "Meta releases", "OpenAI's model".
            let mut next = ws.iter().skip(last + 1).map(|w| w.2.as_str());
            match next.next() {
                Some(w) => add(format_args!("next:{w}"), 1.0),
                None => add(format_args!("next:$"), 1.0),
            }
            let lo = first.saturating_sub(WINDOW_BEFORE);
            let hi = (last + 1 + WINDOW_AFTER).min(ws.len());
            for i in lo..hi {
                if (first..=last).contains(&i) {
                    continue;
                }
                let not = if negated[i] { "not_" } else { "" };
                let w = &ws[i].2;
                add(format_args!("{place}w:{not}{w}"), 1.0);
                add(format_args!("w:{not}{w}"), 1.0);
                if i + 1 < hi && !(first..=last).contains(&(i + 1)) {
                    add(format_args!("b:{w}_{}", ws[i + 1].2), 1.0);
                }
            }
        }
        // Cue phrases of the sentence, whoever the engine gave them to.
        for f in cues {
            add(format_args!("sent{}", cue_feature(sentence, f)), 1.0);
        }
    }
}

/// How a mention sits in its sentence: one of a list of organisations, or the object of a
/// comparison ("unlike OpenAI", "rivals such as Google").
struct Role {
    listed: bool,
    compared: bool,
}

fn passing_role(sentence: &str, ms: &[super::Mention], cues: &[Found], m: &super::Mention) -> Role {
    let gap_before = &sentence[ms.iter().filter(|o| o.end <= m.start).map(|o| o.end).max().unwrap_or(0)..m.start];
    let gap_after = &sentence[m.end..ms.iter().filter(|o| o.start >= m.end).map(|o| o.start).min().unwrap_or(m.end)];
    let listed = (ms.iter().any(|o| o.end <= m.start && o.entity != m.entity) && gap_joins_list(gap_before))
        || (ms.iter().any(|o| o.start >= m.end && o.entity != m.entity) && gap_joins_list(gap_after));
    let compared = cues.iter().any(|f| {
        f.cue == Cue::Comparison
            && f.end <= m.start
            && sentence.get(f.end..m.start).is_some_and(|gap| gap.split_whitespace().count() <= 3)
    });
    Role { listed, compared }
}

/// The entity acts in the story (it is the headline's or the summary's subject, or the engine
/// found a present-day report about it where it is named on its own) rather than being named in
/// passing, compared with, or listed: only acting entities' stances are evidence of their policy.
pub(crate) fn acting(reading: &Reading, entity: usize) -> bool {
    let on_its_own = |si: usize, m: &super::Mention| {
        let role = passing_role(&reading.sentences[si], &reading.mentions[si], &reading.cues[si], m);
        !role.listed && !role.compared
    };
    let subject_of = |si: usize| {
        reading.mentions.get(si).and_then(|ms| ms.first()).is_some_and(|m| m.entity == entity && on_its_own(si, m))
    };
    if subject_of(0) || subject_of(1) {
        return true;
    }
    reading.evidence.iter().any(|x| {
        x.entity == entity
            && !x.past
            && x.basis == super::classify::Basis::Report
            && reading.mentions[x.sentence].iter().any(|m| m.entity == entity && on_its_own(x.sentence, m))
    })
}

/// A gap between two mentions that only joins them into a list: punctuation, "and", "or".
fn gap_joins_list(gap: &str) -> bool {
    gap.split(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
        .filter(|w| !w.is_empty())
        .all(|w| LIST_JOINERS.contains(&w.to_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::{Profile, StoryText};

    fn reading(title: &str, summary: &str) -> (Classifier, Reading) {
        let c = Classifier::new(Profile::builtin());
        let r = c.read(&StoryText { title, summary, content: "", published: None }, None);
        (c, r)
    }

    fn names(features: &[Feature]) -> Vec<&str> {
        features.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn entity(c: &Classifier, key: &str) -> usize {
        c.profile().entities.iter().position(|e| e.key == key).unwrap()
    }

    #[test]
    fn stems_fold_inflections() {
        assert_eq!(stem("Releases"), stem("released"));
        assert_eq!(stem("releasing"), "releas");
        assert_eq!(stem("Meta's"), "meta");
        assert_eq!(stem("GPT-5"), "#num");
        assert_eq!(stem("access"), "access");
    }

    #[test]
    fn the_headline_subject_and_the_entities_in_passing() {
        let (c, r) = reading(
            "Acme Labs keeps its new model closed",
            "The lab, unlike Meta, OpenAI and Google, will not publish weights.",
        );
        let _ = entity(&c, "meta");
        let meta = pair(&c, &r, &Tokens::of(&r), entity(&c, "meta"));
        let n = names(&meta);
        assert!(n.contains(&"pos:not_in_title"), "{n:?}");
        assert!(n.contains(&"pos:list"), "{n:?}");

        let (c, r) = reading("Meta will not release the weights of its next model", "");
        let meta = pair(&c, &r, &Tokens::of(&r), entity(&c, "meta"));
        let n = names(&meta);
        assert!(n.contains(&"pos:title_subject"), "{n:?}");
        assert!(n.contains(&"ev:open:negated") || n.contains(&"ev:closed:negated"), "{n:?}");
        assert!(n.iter().any(|f| f.starts_with("tw:not_")), "negation marks the words after it: {n:?}");
        assert!(n.contains(&"next:will"), "{n:?}");
    }

    #[test]
    fn a_compared_entity_is_marked() {
        let (c, r) = reading("Acme's new model outperforms OpenAI's GPT-5 on benchmarks", "");
        let openai = pair(&c, &r, &Tokens::of(&r), entity(&c, "openai"));
        assert!(names(&openai).contains(&"pos:compared"), "{:?}", names(&openai));
    }

    #[test]
    fn the_acting_organisation_and_the_ones_listed_beside_it() {
        let (c, r) = reading(
            "Acme Labs releases an open-weight model",
            "It takes on proprietary giants such as OpenAI, Google and Anthropic.",
        );
        // Listed in the summary's first clause, yet not its subject: named in passing.
        assert!(!acting(&r, entity(&c, "openai")));
        assert!(!acting(&r, entity(&c, "google")));

        let (c, r) = reading("Meta releases Llama 5 as open weights", "Rivals such as OpenAI keep theirs closed.");
        assert!(acting(&r, entity(&c, "meta")));
        assert!(!acting(&r, entity(&c, "openai")));
    }

    #[test]
    fn story_features_name_the_cues() {
        let (_, r) = reading("Mistral releases an open-weight model under Apache 2.0", "");
        let f = story(&r, &Tokens::of(&r));
        let n = names(&f);
        assert!(n.iter().any(|x| x.starts_with("cue:open:open-weight")), "{n:?}");
        assert!(n.contains(&"engine:relevant:true"), "{n:?}");
    }
}
