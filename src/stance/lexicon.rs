//! The profile's cue phrases compiled into one automaton, and a sentence's cues found with it.

use super::entities::PhraseAutomaton;

use super::entities::whole_word;
use super::profile::{Stance, StanceRules};

/// What a cue phrase signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cue {
    Stance(Stance, f64),
    Negator,
    PostNegator,
    Past,
    Partial,
    PartialNegation,
    PseudoNegator,
    ContrastAfter,
    ContrastBefore,
    Critic,
    Comparison,
    Speech,
    LicenceDispute,
    Probable,
    Possible,
    Question,
    ShiftTo(Stance),
    Change,
    Topic,
}

/// One cue in a sentence: its kind, byte span and word index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub cue: Cue,
    pub start: usize,
    pub end: usize,
    pub word: usize,
}

pub struct Lexicon {
    automaton: PhraseAutomaton,
    cues: Vec<Cue>,
    /// Topic words, matched apart: "model weights" must not hide "weights released".
    topics: PhraseAutomaton,
    /// Phrases that begin with a change word ("ditching", "pivots from"): the longest match
    /// hides the shorter one, so they report the change too.
    also_change: Vec<bool>,
}

impl Lexicon {
    pub fn new(rules: &StanceRules) -> Lexicon {
        let mut phrases: Vec<String> = Vec::new();
        let mut cues: Vec<Cue> = Vec::new();
        let mut add = |list: &[String], cue: Cue| {
            for p in list {
                let key = p.to_lowercase();
                // The first category to claim a phrase keeps it (stance cues come first).
                if !phrases.contains(&key) {
                    phrases.push(key);
                    cues.push(cue);
                }
            }
        };
        for (phrase, w) in &rules.open {
            add(std::slice::from_ref(phrase), Cue::Stance(Stance::Open, *w));
        }
        for (phrase, w) in &rules.closed {
            add(std::slice::from_ref(phrase), Cue::Stance(Stance::Closed, *w));
        }
        add(&rules.shift_to_open, Cue::ShiftTo(Stance::Open));
        add(&rules.shift_to_closed, Cue::ShiftTo(Stance::Closed));
        add(&rules.licence_dispute, Cue::LicenceDispute);
        add(&rules.pseudo_negators, Cue::PseudoNegator);
        add(&rules.negators, Cue::Negator);
        add(&rules.post_negators, Cue::PostNegator);
        add(&rules.past, Cue::Past);
        add(&rules.partial, Cue::Partial);
        add(&rules.partial_negation, Cue::PartialNegation);
        add(&rules.contrast_before, Cue::ContrastBefore);
        add(&rules.contrast_after, Cue::ContrastAfter);
        add(&rules.critics, Cue::Critic);
        add(&rules.comparison, Cue::Comparison);
        add(&rules.speech, Cue::Speech);
        add(&rules.possible, Cue::Possible);
        add(&rules.probable, Cue::Probable);
        add(&rules.question, Cue::Question);
        add(&rules.shift_change, Cue::Change);
        let changes: Vec<String> = rules.shift_change.iter().map(|c| c.to_lowercase()).collect();
        let also_change = phrases
            .iter()
            .zip(&cues)
            .map(|(p, cue)| {
                *cue != Cue::Change
                    && changes.iter().any(|c| p == c || (p.starts_with(c.as_str()) && p[c.len()..].starts_with(' ')))
            })
            .collect();
        let automaton = super::entities::phrase_automaton(&phrases);
        let topics = super::entities::phrase_automaton(&rules.topic_words);
        Lexicon { automaton, cues, topics, also_change }
    }

    /// The cues of one sentence, in order, whole words only.
    pub fn find(&self, sentence: &str, words: &WordIndex) -> Vec<Found> {
        let mut out = Vec::new();
        for m in self.automaton.find_iter(sentence) {
            if !whole_word(sentence, m.start(), m.end()) {
                continue;
            }
            let (pattern, word) = (m.pattern().as_usize(), words.at(m.start()));
            out.push(Found { cue: self.cues[pattern], start: m.start(), end: m.end(), word });
            if self.also_change[pattern] {
                out.push(Found { cue: Cue::Change, start: m.start(), end: m.end(), word });
            }
        }
        let topics = self.topics.find_iter(sentence).filter(|m| whole_word(sentence, m.start(), m.end()));
        let topics: Vec<Found> = topics
            .map(|m| Found { cue: Cue::Topic, start: m.start(), end: m.end(), word: words.at(m.start()) })
            .collect();
        if !topics.is_empty() {
            out.extend(topics);
            out.sort_by_key(|f| f.start);
        }
        out
    }
}

/// Word positions in a sentence: which word a byte offset falls in, in O(log n).
pub struct WordIndex {
    /// Byte offsets where words (white-space separated, with a letter or digit) start.
    starts: Vec<usize>,
}

impl WordIndex {
    pub fn new(sentence: &str) -> WordIndex {
        // Tokens of punctuation only ("—", "-") are not words.
        // A word counts from its first letter or digit, so a cue right after an opening quote
        // is not "after" the quoted word.
        let starts = sentence
            .split_whitespace()
            .filter_map(|w| {
                let first = w.char_indices().find(|(_, c)| c.is_alphanumeric())?.0;
                Some(w.as_ptr() as usize - sentence.as_ptr() as usize + first)
            })
            .collect();
        WordIndex { starts }
    }

    /// How many words start before byte offset `at`.
    pub fn at(&self, at: usize) -> usize {
        self.starts.partition_point(|&s| s < at)
    }
}
