//! Text keys for deduplication: normalised titles, content words, word shingles.

use std::hash::{Hash, Hasher};

use unicode_normalization::UnicodeNormalization;

/// Words too common to say anything about which story a text is.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "at",
    "by",
    "from",
    "as",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "has",
    "have",
    "had",
    "will",
    "would",
    "can",
    "could",
    "may",
    "might",
    "new",
    "says",
    "said",
    "say",
    "after",
    "before",
    "about",
    "into",
    "over",
    "than",
    "then",
    "now",
    "just",
    "more",
    "most",
    "how",
    "why",
    "what",
    "who",
    "when",
    "where",
    "which",
    "you",
    "your",
    "we",
    "our",
    "they",
    "their",
    "he",
    "she",
    "his",
    "her",
    "not",
    "no",
    "yes",
    "up",
    "out",
    "so",
    "if",
    "all",
    "also",
    "here",
    "there",
    "report",
    "reports",
    "reportedly",
    "via",
    "amid",
    "s",
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
    // NFKC is a no-op on ASCII, the common case; skip its cost there.
    let normalised: String =
        if text.is_ascii() { text.to_ascii_lowercase() } else { text.nfkc().flat_map(char::to_lowercase).collect() };
    let chars: Vec<char> = normalised.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let joiner = matches!(c, '.' | '-' | '\'' | '’')
            && !current.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
            && chars[i - 1].is_alphanumeric();
        if c.is_alphanumeric() || joiner {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    // Possessives: "meta's" → "meta"; other apostrophes go ("don't" → "dont").
    out.into_iter()
        .map(|w| {
            let w = w.strip_suffix("'s").or_else(|| w.strip_suffix("’s")).unwrap_or(&w).to_string();
            w.replace(['\'', '’'], "")
        })
        .collect()
}

/// Content words: stop words out, light suffix stemming so "releases" / "released" / "release"
/// meet.
pub fn content_words(text: &str) -> Vec<String> {
    words(text).into_iter().filter(|w| !STOP_WORDS.contains(&w.as_str())).map(|w| stem(&w)).collect()
}

fn stem(word: &str) -> String {
    if word.chars().any(|c| c.is_ascii_digit()) || word.len() <= 4 {
        return word.to_string();
    }
    for suffix in ["ing", "ed", "es", "e", "s"] {
        if let Some(stem) = word.strip_suffix(suffix)
            && stem.len() >= 4
        {
            return stem.to_string();
        }
    }
    word.to_string()
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
    fn jaccard_of_sorted_sets() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard::<u64>(&[], &[]), 0.0);
        assert_eq!(jaccard(&[1], &[1]), 1.0);
    }
}
