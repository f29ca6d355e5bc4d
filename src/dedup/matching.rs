//! When are two stories the same? Pure functions over precomputed signatures.
//!
//! Two levels, from DESIGN's layered approach:
//! - **duplicate** (the same article): same canonical URL (any time); or, within the window,
//!   the same normalised title, or word-shingle Jaccard of title + summary ≥ the threshold;
//! - **related** (the same event, another article): within the cluster window, a shared
//!   organisation, title-word Jaccard ≥ the threshold, and agreeing events — a shared event
//!   kind, or a shared product when one headline names no event. "Meta releases Llama" and
//!   "Meta restricts Llama's licence" name different events and stay apart.
//!
//! Both relations are symmetric and depend only on the two stories, so the clusters they
//! induce (connected components) do not depend on the order stories arrive in.

use chrono::{DateTime, Utc};

use super::text;
use crate::stance::{EntityMatcher, MentionKind, Profile};

/// Words of title + summary that go into shingles.
const MAX_BODY_WORDS: usize = 80;

/// Thresholds (the `[dedup]` config section).
#[derive(Debug, Clone, PartialEq)]
pub struct DedupSettings {
    /// Duplicates by title or text must be published within this many seconds of each other.
    pub window_secs: i64,
    pub shingle_jaccard: f64,
    /// Related articles must be published within this many seconds of each other.
    pub cluster_window_secs: i64,
    pub title_jaccard: f64,
    /// Tracking parameters removed from URLs besides the built-in list.
    pub extra_tracking_params: Vec<String>,
}

impl Default for DedupSettings {
    fn default() -> Self {
        DedupSettings {
            window_secs: 72 * 3600,
            shingle_jaccard: 0.5,
            cluster_window_secs: 72 * 3600,
            title_jaccard: 0.3,
            extra_tracking_params: Vec::new(),
        }
    }
}

/// Everything the relations look at, computed once per story.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub published: i64,
    /// Hash of the canonical URL.
    pub canonical_url: Option<u64>,
    /// The article's words, as its copies share them.
    pub wording: Wording,
    /// Content words of the title (hashed, sorted, distinct).
    pub title_words: Vec<u64>,
    /// Profile entity indices mentioned in the title or summary.
    pub entities: Vec<usize>,
    /// The headline's subject: the first entity it names.
    pub subject: Option<usize>,
    /// Title content words that are not names of entities or products (hashed): what the
    /// headline says happened, and to what.
    pub topic_words: Vec<u64>,
    /// The headline's main event kind: the earliest event word in it (index into the
    /// profile's events). "Meta delays Llama 5 release" is a delay, not a release.
    pub event: Option<usize>,
    /// Product and model names in the headline (hashed): profile products and words that mix
    /// letters and digits ("r2", "gpt-5").
    pub products: Vec<u64>,
    /// The profile's products named in the headline (hashed).
    pub named_products: Vec<u64>,
    /// Version numbers in the headline ("4", "3.1"; not years or amounts), hashed.
    pub versions: Vec<u64>,
}

/// What copies of one article share: the normalised headline and the opening's word shingles.
/// Also how the timeline tells an outlet's own report of an event from a copy of another's.
#[derive(Debug, Clone, PartialEq)]
pub struct Wording {
    /// Hash of the normalised title (`text::title_key`).
    pub title_key: u64,
    /// Content words in the headline (a headline of one or two words proves nothing).
    headline_words: usize,
    /// Word 3-shingles of title + summary.
    pub shingles: Vec<u32>,
}

impl Wording {
    pub fn of(title: &str, summary: &str) -> Wording {
        let headline = text::content_words(&text::strip_outlet_suffix(title));
        Wording::from_headline(title, &headline, text::hash_set(&headline).len(), summary)
    }

    /// From the headline's content words (and how many distinct) already split by the caller.
    fn from_headline(title: &str, headline: &[String], headline_words: usize, summary: &str) -> Wording {
        // The opening is what copies share; a long tail only costs memory (and reading it, time).
        let mut words: Vec<String> = headline.iter().take(MAX_BODY_WORDS).cloned().collect();
        words.extend(text::content_words_upto(summary, MAX_BODY_WORDS - words.len()));
        Wording { title_key: text::hash(&[&text::title_key(title)]), headline_words, shingles: text::shingles(&words) }
    }

    /// The same headline (of at least three content words).
    pub fn same_headline(&self, other: &Wording) -> bool {
        self.headline_words >= 3 && self.title_key == other.title_key
    }

    /// Title + summary overlap by at least `threshold` (shingle Jaccard).
    pub fn same_text(&self, other: &Wording, threshold: f64) -> bool {
        let (a, b) = (&self.shingles, &other.shingles);
        // Jaccard ≥ t needs the smaller set to be at least t of the larger: check that first.
        let (small, large) = (a.len().min(b.len()), a.len().max(b.len()));
        small >= 3 && small as f64 >= threshold * large as f64 && text::jaccard(a, b) >= threshold
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Duplicate,
    Related,
    Unrelated,
}

/// Builds signatures with the profile's entities and event words.
pub struct Signer {
    matcher: std::sync::Arc<EntityMatcher>,
    /// (event kind index, words of the phrase)
    events: Vec<(usize, Vec<String>)>,
    /// The stance lexicon's negators, as words ("will not", "refuses to").
    negators: Vec<Vec<String>>,
    /// A negated release ("will not release", "refuses to publish") is a restriction.
    release_kind: Option<usize>,
    restrict_kind: Option<usize>,
    pub settings: DedupSettings,
}

impl Signer {
    pub fn new(profile: &Profile, settings: DedupSettings) -> Signer {
        Signer::with_matcher(std::sync::Arc::new(EntityMatcher::new(profile)), profile, settings)
    }

    /// A signer sharing an entity matcher already built (the classifier's).
    pub fn with_matcher(matcher: std::sync::Arc<EntityMatcher>, profile: &Profile, settings: DedupSettings) -> Signer {
        let mut events = Vec::new();
        for (i, (_, phrases)) in profile.events.iter().enumerate() {
            for p in phrases {
                events.push((i, text::words(p)));
            }
        }
        let kind = |name: &str| profile.events.iter().position(|(k, _)| k == name);
        let negators = profile.stance.negators.iter().map(|n| text::words(n)).filter(|w| !w.is_empty()).collect();
        Signer { matcher, events, negators, release_kind: kind("release"), restrict_kind: kind("restrict"), settings }
    }

    /// A negator ends right before word `at` ("will not | release").
    fn negated(&self, words: &[String], at: usize) -> bool {
        self.negators.iter().any(|n| words[..at].ends_with(n))
    }

    pub fn sign(&self, title: &str, summary: &str, canonical_url: Option<&str>, published: DateTime<Utc>) -> Signature {
        let headline = text::strip_outlet_suffix(title);
        let title_words_list = text::content_words(&headline);

        let title_mentions = self.matcher.mentions(&headline);
        let mut entities: Vec<usize> = title_mentions.iter().map(|m| m.entity).collect();
        for sentence in crate::stance::sentences::split(summary).into_iter().take(3) {
            entities.extend(self.matcher.mentions(sentence).iter().map(|m| m.entity));
        }
        entities.sort_unstable();
        entities.dedup();

        let raw_words = text::words(&headline);
        let event = self
            .events
            .iter()
            .filter_map(|(kind, phrase)| phrase_position(&raw_words, phrase).map(|at| (at, *kind)))
            .min()
            .and_then(|(at, kind)| match kind {
                k if Some(k) == self.release_kind && self.negated(&raw_words, at) => self.restrict_kind,
                k => Some(k),
            });

        // Words inside entity and product names say who, not what.
        let name_words: Vec<String> =
            title_mentions.iter().flat_map(|m| text::content_words(&headline[m.start..m.end])).collect();
        let topic: Vec<String> = title_words_list.iter().filter(|w| !name_words.contains(w)).cloned().collect();

        let named_products: Vec<String> = title_mentions
            .iter()
            .filter(|m| m.kind == MentionKind::Product)
            .map(|m| headline[m.start..m.end].to_lowercase())
            .collect();
        let versions: Vec<String> = raw_words.iter().filter(|w| is_version(w)).cloned().collect();
        let mut products = named_products.clone();
        products.extend(
            raw_words
                .iter()
                .filter(|w| w.chars().any(|c| c.is_ascii_digit()) && w.chars().any(char::is_alphabetic))
                .cloned(),
        );

        let title_words = text::hash_set(&title_words_list);
        Signature {
            published: published.timestamp(),
            canonical_url: canonical_url.map(|u| text::hash(&[u])),
            wording: Wording::from_headline(title, &title_words_list, title_words.len(), summary),
            title_words,
            subject: title_mentions.first().map(|m| m.entity),
            entities,
            topic_words: text::hash_set(&topic),
            event,
            products: text::hash_set(&products),
            named_products: text::hash_set(&named_products),
            versions: text::hash_set(&versions),
        }
    }
}

/// A model version as headlines write it: "4", "3.1", "2.5.1" — one or two digits per part.
/// Years, amounts and counts ("2026", "100", "$20") have more digits or come with units.
fn is_version(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() <= 3 && parts.iter().all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

fn phrase_position(words: &[String], phrase: &[String]) -> Option<usize> {
    if phrase.is_empty() {
        return None;
    }
    words.windows(phrase.len()).position(|w| w == phrase)
}

fn intersects<T: Ord>(a: &[T], b: &[T]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// How `a` and `b` relate.
pub fn relation(a: &Signature, b: &Signature, s: &DedupSettings) -> Relation {
    if a.canonical_url.is_some() && a.canonical_url == b.canonical_url {
        return Relation::Duplicate;
    }
    let apart = (a.published - b.published).abs();
    if apart <= s.window_secs {
        // Shared boilerplate is not a shared article: texts about different organisations
        // are never duplicates.
        let same_subjects = a.entities.is_empty() || b.entities.is_empty() || intersects(&a.entities, &b.entities);
        if a.wording.same_headline(&b.wording) || (same_subjects && a.wording.same_text(&b.wording, s.shingle_jaccard))
        {
            return Relation::Duplicate;
        }
    }
    if apart <= s.cluster_window_secs
        && same_subject(a, b)
        && events_agree(a, b)
        && !different_models(a, b)
        && intersects(&a.topic_words, &b.topic_words)
        && text::jaccard(&a.title_words, &b.title_words) >= s.title_jaccard
    {
        return Relation::Related;
    }
    Relation::Unrelated
}

/// Both headlines are about the same organisation: their subjects match when both name one;
/// otherwise they must share an organisation somewhere.
fn same_subject(a: &Signature, b: &Signature) -> bool {
    match (a.subject, b.subject) {
        (Some(x), Some(y)) => x == y,
        _ => intersects(&a.entities, &b.entities),
    }
}

/// Both headlines name a model and the names cannot be the same one: their versions differ
/// ("Llama 4" and "Llama 3.3"), or they name different products of the profile. Without this
/// one organisation's releases of a busy week chain into a single cluster.
fn different_models(a: &Signature, b: &Signature) -> bool {
    let differ = |x: &[u64], y: &[u64]| !x.is_empty() && !y.is_empty() && !intersects(x, y);
    differ(&a.versions, &b.versions) || differ(&a.named_products, &b.named_products)
}

/// The same main event, or — when a headline names none — the same product.
fn events_agree(a: &Signature, b: &Signature) -> bool {
    match (a.event, b.event) {
        (Some(x), Some(y)) => x == y,
        _ => intersects(&a.products, &b.products),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sig(title: &str, summary: &str, url: &str, hours: i64) -> Signature {
        let signer = Signer::new(&Profile::builtin(), DedupSettings::default());
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(hours);
        signer.sign(title, summary, crate::dedup::canonical_url(url).as_deref(), t)
    }

    fn rel(a: &Signature, b: &Signature) -> Relation {
        relation(a, b, &DedupSettings::default())
    }

    #[test]
    fn same_canonical_url_is_a_duplicate_whatever_the_titles() {
        let a = sig("Meta opens Llama 5", "", "https://news.example/a?utm_source=x", 0);
        let b = sig("Something else entirely", "", "https://www.news.example/a/", 200);
        assert_eq!(rel(&a, &b), Relation::Duplicate);
    }

    #[test]
    fn same_title_within_the_window_is_a_duplicate() {
        let a = sig("Meta releases Llama 5 with open weights - The Verge", "", "https://a.example/1", 0);
        let b = sig("Meta Releases Llama 5 With Open Weights | Reuters", "", "https://b.example/2", 30);
        assert_eq!(rel(&a, &b), Relation::Duplicate);
        let late = sig("Meta releases Llama 5 with open weights", "", "https://c.example/3", 100);
        assert_ne!(rel(&a, &late), Relation::Duplicate, "outside 72 h");
    }

    #[test]
    fn syndicated_text_is_a_duplicate() {
        let summary = "The company said on Tuesday the model weights can be downloaded by researchers and developers under a permissive licence.";
        let a = sig("Meta puts Llama 5 weights online", summary, "https://a.example/1", 0);
        let b = sig("Llama 5 weights now downloadable, Meta says", summary, "https://b.example/9", 5);
        assert_eq!(rel(&a, &b), Relation::Duplicate);
    }

    #[test]
    fn releases_of_different_models_in_one_week_are_different_events() {
        let a = sig("Mistral open-sources its Quill 2.1 model for call centres", "", "https://a.example/1", 0);
        let b = sig("Mistral open-sources its Harbor 4 model for shipping firms", "", "https://b.example/2", 30);
        assert_eq!(rel(&a, &b), Relation::Unrelated, "versions 2.1 and 4 are not one model");
        let c = sig("Meta releases Llama 5 with open weights", "", "https://c.example/3", 0);
        let d = sig("Meta releases Llama 4.1 with open weights for phones", "", "https://d.example/4", 20);
        assert_eq!(rel(&c, &d), Relation::Unrelated);
        // Numbers that are not versions (years, amounts) do not split an event.
        let e = sig("Mistral open-sources Quill 2.1, its 2026 flagship AI model", "", "https://e.example/5", 5);
        assert_eq!(rel(&a, &e), Relation::Related);
    }

    #[test]
    fn a_release_that_will_not_happen_is_a_restriction() {
        let a = sig("Nvidia will not release the weights of its Orion 3 model", "", "https://a.example/1", 0);
        let b = sig("Nvidia withholds Orion 3 model weights from developers", "", "https://b.example/2", 2);
        let c = sig("Nvidia releases Orion 3 model weights to developers", "", "https://c.example/3", 3);
        assert_eq!(a.event, b.event, "both restrict");
        assert_ne!(a.event, c.event);
        assert_eq!(rel(&a, &b), Relation::Related);
        assert_eq!(rel(&a, &c), Relation::Unrelated, "the refusal and the release are different events");
    }

    #[test]
    fn same_event_other_article_is_related() {
        let a = sig("Meta releases Llama 5 as open weights", "", "https://a.example/1", 0);
        let b = sig("Meta launches Llama 5, its biggest open model", "", "https://b.example/2", 20);
        assert_eq!(rel(&a, &b), Relation::Related);
    }

    #[test]
    fn hard_negatives_stay_apart() {
        // Same organisation and product, different events.
        let a = sig("Meta releases Llama 5 as open weights", "", "https://a.example/1", 0);
        let b = sig("Meta restricts Llama 5 licence for big rivals", "", "https://b.example/2", 10);
        assert_eq!(rel(&a, &b), Relation::Unrelated);
        // Same event word, different organisation.
        let c = sig("Google releases Gemma 4 as open weights", "", "https://c.example/3", 5);
        assert_eq!(rel(&a, &c), Relation::Unrelated);
    }
}
