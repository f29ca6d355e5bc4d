//! The profile's cue phrases compiled into one automaton, and a sentence's cues found with it.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::entities::whole_word;
use super::profile::{Stance, StanceRules};

/// What a cue phrase signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cue {
    Stance(Stance, f64),
    Negator,
    PostNegator,
    Past,
    PseudoNegator,
    ContrastAfter,
    ContrastBefore,
    Critic,
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
    automaton: AhoCorasick,
    cues: Vec<Cue>,
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
        add(&rules.contrast_before, Cue::ContrastBefore);
        add(&rules.contrast_after, Cue::ContrastAfter);
        add(&rules.critics, Cue::Critic);
        add(&rules.speech, Cue::Speech);
        add(&rules.possible, Cue::Possible);
        add(&rules.probable, Cue::Probable);
        add(&rules.question, Cue::Question);
        add(&rules.shift_change, Cue::Change);
        add(&rules.topic_words, Cue::Topic);
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&phrases)
            .expect("profile phrases form a valid automaton");
        Lexicon { automaton, cues }
    }

    /// The cues of one sentence, in order, whole words only.
    pub fn find(&self, sentence: &str) -> Vec<Found> {
        let mut out = Vec::new();
        for m in self.automaton.find_iter(sentence) {
            if !whole_word(sentence, m.start(), m.end()) {
                continue;
            }
            out.push(Found {
                cue: self.cues[m.pattern().as_usize()],
                start: m.start(),
                end: m.end(),
                word: word_index(sentence, m.start()),
            });
        }
        out
    }
}

/// How many words precede byte offset `at`.
pub fn word_index(sentence: &str, at: usize) -> usize {
    sentence[..at].split(|c: char| c.is_whitespace()).filter(|w| w.chars().any(char::is_alphanumeric)).count()
}
