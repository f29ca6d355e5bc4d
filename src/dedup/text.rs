//! Text keys for deduplication: normalised titles, content words, word shingles.

use std::hash::{Hash, Hasher};

use unicode_normalization::UnicodeNormalization;

/// Words too common to say anything about which story a text is.
/// Sorted, for `binary_search`.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "all",
    "also",
    "amid",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "but",
    "by",
    "can",
    "could",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "his",
    "how",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "may",
    "might",
    "more",
    "most",
    "new",
    "no",
    "not",
    "now",
    "of",
    "on",
    "or",
    "our",
    "out",
    "over",
    "report",
    "reportedly",
    "reports",
    "s",
    "said",
    "say",
    "says",
    "she",
    "so",
    "than",
    "that",
    "the",
    "their",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "up",
    "via",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "yes",
    "you",
    "your",
];

/// NFKC, lowercase, the outlet suffix removed, punctuation to spaces, spaces folded:
/// "Meta Releases Llama 4 – The Verge" and "meta releases llama 4" give the same key.
pub fn title_key(title: &str) -> String {
    words(&strip_outlet_suffix(title)).join(" ")
}

/// Drop a trailing " - Outlet" / " | Outlet" / " — Outlet": a short last segment whose words
/// are all capitalised (or a domain), the way outlets sign their headlines.
pub fn strip_outlet_suffix(title: &str) -> String {
    let title = title.trim();
    for sep in [" | ", " - ", " – ", " — ", " • ", " :: "] {
        if let Some(at) = title.rfind(sep) {
            let (head, tail) = (&title[..at], &title[at + sep.len()..]);
            let tail_words: Vec<&str> = tail.split_whitespace().collect();
            let signature_like = !tail_words.is_empty()
                && tail_words.len() <= 4
                && tail_words.iter().all(|w| {
                    w.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
                        || w.contains('.')
                        || matches!(*w, "of" | "the" | "and" | "for" | "on")
                });
            if signature_like && head.split_whitespace().count() >= 3 {
                return head.trim().to_string();
            }
        }
    }
    title.to_string()
}

/// NFKC-normalised lowercase words (letters and digits; other characters separate words, except
/// an inner `.` or `-` between alphanumerics, so "3.1" and "gpt-4o" stay one word).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_word(text, |w| {
        out.push(w);
        true
    });
    out
}

/// Content words: stop words out, light suffix stemming so "releases" / "released" / "release"
/// meet.
pub fn content_words(text: &str) -> Vec<String> {
    content_words_upto(text, usize::MAX)
}

/// The first `limit` content words: a long text is only read as far as it is needed.
pub fn content_words_upto(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    if limit == 0 {
        return out;
    }
    each_word(text, |w| {
        if !is_stop_word(&w) {
            out.push(stem(w));
        }
        out.len() < limit
    });
    out
}

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Calls `take` with each word in order until it returns false.
fn each_word(text: &str, mut take: impl FnMut(String) -> bool) {
    // NFKC is a no-op on ASCII, the common case; skip its cost there.
    let normalised: String =
        if text.is_ascii() { text.to_ascii_lowercase() } else { text.nfkc().flat_map(char::to_lowercase).collect() };
    let mut current = String::new();
    let mut previous = ' ';
    let mut chars = normalised.chars().peekable();
    while let Some(c) = chars.next() {
        let joiner = matches!(c, '.' | '-' | '\'' | '’')
            && !current.is_empty()
            && previous.is_alphanumeric()
            && chars.peek().is_some_and(|n| n.is_alphanumeric());
        previous = c;
        if c.is_alphanumeric() || joiner {
            current.push(c);
        } else if !current.is_empty() && !take(finish_word(std::mem::take(&mut current))) {
            return;
        }
    }
    if !current.is_empty() {
        take(finish_word(current));
    }
}

/// Possessives: "meta's" → "meta"; other apostrophes go ("don't" → "dont").
fn finish_word(mut word: String) -> String {
    if let Some(base) = word.strip_suffix("'s").or_else(|| word.strip_suffix("’s")) {
        word.truncate(base.len());
    }
    if word.contains(['\'', '’']) {
        word.retain(|c| !matches!(c, '\'' | '’'));
    }
    word
}

fn stem(mut word: String) -> String {
    if word.len() <= 4 || word.bytes().any(|b| b.is_ascii_digit()) {
        return word;
    }
    for suffix in ["ing", "ed", "es", "e", "s"] {
        if let Some(stem) = word.strip_suffix(suffix)
            && stem.len() >= 4
        {
            word.truncate(stem.len());
            return word;
        }
    }
    word
}

/// Sorted, distinct hashes of a word list.
pub fn hash_set(words: &[String]) -> Vec<u64> {
    let mut out: Vec<u64> = words.iter().map(|w| hash(&[w.as_str()])).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Sorted, distinct 32-bit hashes of the word 3-shingles (fewer words: the whole list as one
/// shingle). 32 bits keep signatures small; a collision shifts a Jaccard estimate negligibly.
pub fn shingles(words: &[String]) -> Vec<u32> {
    let mut out: Vec<u32> = if words.len() < 3 {
        if words.is_empty() {
            Vec::new()
        } else {
            vec![hash(&words.iter().map(String::as_str).collect::<Vec<_>>()) as u32]
        }
    } else {
        words.windows(3).map(|w| hash(&[&w[0], &w[1], &w[2]]) as u32).collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// Jaccard similarity of two sorted, distinct lists.
pub fn jaccard<T: Ord>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    both as f64 / (a.len() + b.len() - both) as f64
}

/// A stable 64-bit hash of a word sequence (FNV-1a; not used across builds for storage).
pub fn hash(parts: &[&str]) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_keys_ignore_case_punctuation_width_and_outlet() {
        let k = title_key("Meta Releases Llama 4 – The Verge");
        assert_eq!(k, "meta releases llama 4");
        assert_eq!(title_key("META releases “Llama 4” | Reuters"), k);
        assert_eq!(title_key("Meta releases Llama 4 - TechCrunch"), k);
        assert_eq!(title_key("Ｍｅｔａ releases Llama 4"), k, "NFKC folds full-width letters");
        // A lowercase tail is part of the headline, not an outlet.
        assert_eq!(title_key("Llama 4 - what you need to know"), "llama 4 what you need to know");
    }

    #[test]
    fn words_keep_versions_and_model_names() {
        assert_eq!(words("GPT-4o and Llama 3.1, Meta's!"), ["gpt-4o", "and", "llama", "3.1", "meta"]);
    }

    #[test]
    fn content_words_drop_stop_words_and_stem() {
        assert_eq!(content_words("The lab releases the weights"), ["lab", "releas", "weight"]);
        assert_eq!(content_words("Lab released weights"), ["lab", "releas", "weight"]);
    }

    #[test]
    fn stop_words_are_sorted_for_lookup() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_stop_word("the") && is_stop_word("amid") && !is_stop_word("weights"));
    }

    #[test]
    fn content_words_stop_at_the_limit() {
        assert_eq!(content_words_upto("The lab releases the weights today", 2), ["lab", "releas"]);
        assert!(content_words_upto("lab", 0).is_empty());
    }

    #[test]
    fn jaccard_of_sorted_sets() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard::<u64>(&[], &[]), 0.0);
        assert_eq!(jaccard(&[1], &[1]), 1.0);
    }
}
