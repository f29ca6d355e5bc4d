//! Finding the profile's entities in text: names, aliases, products and people, whole words,
//! with ambiguity guards.
//!
//! All names go into one Aho-Corasick automaton (case-insensitive, leftmost-longest, so
//! "GPT-4o" wins over "GPT-4"). A match counts when it stands as a whole word and:
//! - its lowercase form has no ambiguous variant: any capitalisation;
//! - otherwise it must be written exactly as one of the profile's variants, and an ambiguous
//!   variant also needs AI context in the same sentence ("Llama" needs "model" nearby; "LLaMA"
//!   does not; "llama" never counts);
//! - and it must not sit inside one of the entity's guard phrases ("meta-analysis").

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::profile::Profile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionKind {
    Name,
    Product,
    Person,
}

impl MentionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MentionKind::Name => "name",
            MentionKind::Product => "product",
            MentionKind::Person => "person",
        }
    }
}

/// One occurrence of an entity in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// Index into `Profile::entities`.
    pub entity: usize,
    pub kind: MentionKind,
    pub start: usize,
    pub end: usize,
}

struct Variant {
    text: String,
    ambiguous: bool,
}

struct Pattern {
    entity: usize,
    kind: MentionKind,
    variants: Vec<Variant>,
}

impl Pattern {
    fn is_ambiguous(&self) -> bool {
        self.variants.iter().any(|v| v.ambiguous)
    }
}

pub struct EntityMatcher {
    names: PhraseAutomaton,
    patterns: Vec<Pattern>,
    context: PhraseAutomaton,
    guards: PhraseAutomaton,
    guard_entity: Vec<usize>,
}

impl EntityMatcher {
    pub fn new(profile: &Profile) -> EntityMatcher {
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for (i, e) in profile.entities.iter().enumerate() {
            let lists = [
                (std::slice::from_ref(&e.name), MentionKind::Name),
                (&e.aliases[..], MentionKind::Name),
                (&e.products[..], MentionKind::Product),
                (&e.people[..], MentionKind::Person),
            ];
            for (list, kind) in lists {
                // Hyphenated names are also written without the hyphen ("GPT4o", "Qwen 3").
                let spellings = list.iter().flat_map(|text| {
                    let ambiguous = e.ambiguous.contains(text);
                    let mut out = vec![(text.clone(), ambiguous)];
                    if text.contains('-') {
                        out.push((text.replace('-', ""), ambiguous));
                        out.push((text.replace('-', " "), ambiguous));
                    }
                    out
                });
                for (text, ambiguous) in spellings {
                    let key = text.to_lowercase();
                    let variant = Variant { text, ambiguous };
                    match keys.iter().position(|k| *k == key) {
                        // The first entity to claim a name keeps it.
                        Some(at) if patterns[at].entity == i => patterns[at].variants.push(variant),
                        Some(_) => {}
                        None => {
                            keys.push(key);
                            patterns.push(Pattern { entity: i, kind, variants: vec![variant] });
                        }
                    }
                }
            }
        }
        let build = |words: &[String]| phrase_automaton(words);
        let mut guard_words = Vec::new();
        let mut guard_entity = Vec::new();
        for (i, e) in profile.entities.iter().enumerate() {
            for g in &e.guards {
                guard_words.push(g.clone());
                guard_entity.push(i);
            }
        }
        EntityMatcher {
            names: build(&keys),
            patterns,
            context: build(&profile.context),
            guards: build(&guard_words),
            guard_entity,
        }
    }

    /// Entity mentions in one sentence, in order of appearance.
    pub fn mentions(&self, sentence: &str) -> Vec<Mention> {
        let mut has_context: Option<bool> = None;
        let guards: Vec<(usize, usize, usize)> = self
            .guards
            .find_iter(sentence)
            .filter(|m| whole_word(sentence, m.start(), m.end()))
            .map(|m| (m.start(), m.end(), self.guard_entity[m.pattern().as_usize()]))
            .collect();
        let mut out = Vec::new();
        for m in self.names.find_iter(sentence) {
            let (start, end) = (m.start(), m.end());
            if !whole_word(sentence, start, end) {
                continue;
            }
            let pattern = &self.patterns[m.pattern().as_usize()];
            if pattern.is_ambiguous() {
                let written = &sentence[start..end];
                let Some(variant) = pattern.variants.iter().find(|v| v.text == written) else { continue };
                if variant.ambiguous {
                    let context = *has_context.get_or_insert_with(|| self.has_context(sentence, start, end));
                    if !context {
                        continue;
                    }
                }
            }
            if guards.iter().any(|&(gs, ge, entity)| entity == pattern.entity && gs <= start && end <= ge) {
                continue;
            }
            out.push(Mention { entity: pattern.entity, kind: pattern.kind, start, end });
        }
        out
    }

    /// Distinct entities mentioned anywhere in `sentences`, in order of first mention.
    pub fn entities_in<'a>(&self, sentences: impl IntoIterator<Item = &'a str>) -> Vec<usize> {
        let mut out = Vec::new();
        for s in sentences {
            for m in self.mentions(s) {
                if !out.contains(&m.entity) {
                    out.push(m.entity);
                }
            }
        }
        out
    }

    /// AI context elsewhere in the sentence (the ambiguous word itself does not count).
    fn has_context(&self, sentence: &str, start: usize, end: usize) -> bool {
        self.context
            .find_iter(sentence)
            .any(|m| whole_word(sentence, m.start(), m.end()) && (m.end() <= start || m.start() >= end))
            || self.names.find_iter(sentence).any(|m| {
                // Another, unambiguous name of any entity is AI context too ("Meta's Llama").
                (m.end() <= start || m.start() >= end)
                    && whole_word(sentence, m.start(), m.end())
                    && !self.patterns[m.pattern().as_usize()].is_ambiguous()
            })
    }
}

/// One automaton over profile phrases: case-insensitive, longest match wins. Every phrase list
/// of the profile is matched this way. It is built when first used, so a run that reads no story
/// (a poll where every feed answers 304, a digest, `status`) spends neither the time nor the
/// megabytes of its tables.
pub struct PhraseAutomaton {
    phrases: Vec<String>,
    built: std::sync::OnceLock<AhoCorasick>,
}

pub fn phrase_automaton<P: AsRef<str>>(phrases: &[P]) -> PhraseAutomaton {
    let phrases = phrases.iter().map(|p| p.as_ref().to_string()).collect();
    PhraseAutomaton { phrases, built: std::sync::OnceLock::new() }
}

impl std::ops::Deref for PhraseAutomaton {
    type Target = AhoCorasick;

    fn deref(&self) -> &AhoCorasick {
        self.built.get_or_init(|| {
            AhoCorasickBuilder::new()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&self.phrases)
                .expect("profile phrases form a valid automaton")
        })
    }
}

/// The match is not part of a longer word.
pub fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    // A hyphen is a boundary ("GPT-4-turbo" names GPT-4); "meta-analysis" is left to guards.
    !is_word(before) && !is_word(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        let p = Profile::builtin();
        let m = EntityMatcher::new(&p);
        m.mentions(text).iter().map(|x| p.entities[x.entity].key.clone()).collect()
    }

    #[test]
    fn plain_names_products_and_people() {
        assert_eq!(found("OpenAI released gpt-oss today"), ["openai", "openai"]);
        assert_eq!(found("Gemma 3 is out"), ["google"]);
        assert_eq!(found("Qwen3 tops the chart"), ["alibaba"]);
        assert_eq!(found("Sam Altman said so"), ["openai"]);
        assert_eq!(found("NVIDIA and DeepSeek"), ["nvidia", "deepseek"]);
    }

    #[test]
    fn ambiguous_words_need_case_and_ai_context() {
        assert_eq!(found("Meta released a new model"), ["meta"]);
        assert!(found("A meta-analysis of clinical trials").is_empty());
        assert!(found("Meta-analysis shows the model of care works").is_empty(), "guard");
        assert!(found("The Mistral blew through Provence").is_empty());
        assert_eq!(found("Mistral released open weights"), ["mistral"]);
        assert!(found("A llama at the zoo").is_empty());
        assert!(found("Llama wool prices rose").is_empty());
        assert_eq!(found("Llama 4 model weights"), ["meta"]);
        assert_eq!(found("LLaMA leaked"), ["meta"], "the model's own spelling needs no context");
        assert!(found("Gemini exchange lists a new token with AI hype").is_empty(), "guard");
        assert_eq!(found("Gemini 2.5 is Google's best model"), ["google", "google"]);
        assert!(found("Claude Monet painted water lilies").is_empty());
        assert_eq!(found("Claude can now write code, the AI company said"), ["anthropic"]);
        assert!(found("Elon Musk visits a Tesla factory").is_empty());
        assert_eq!(found("Musk says Grok will be open-sourced"), ["xai", "xai"]);
        assert!(found("the value of phi in the equation").is_empty());
        assert_eq!(found("Phi-4 is a small language model"), ["microsoft"]);
    }

    #[test]
    fn whole_words_only() {
        assert!(found("Metaverse plans").is_empty());
        assert!(found("R10 engine").is_empty());
        assert_eq!(found("GPT-4o beats GPT-4"), ["openai", "openai"]);
        assert_eq!(found("GPT4o-mini and gpt oss"), ["openai", "openai"], "written without the hyphen");
    }
}
