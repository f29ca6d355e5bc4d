//! Which stored story an entry is: its identity inside its feed.
//!
//! The GUID if the entry has one, else its link, else a hash of its text. Identity must not move
//! when the entry is seen again, so position in the feed is never part of it. A GUID repeated
//! inside one feed (some generators reuse one id for every item) is qualified by the link, and
//! then by the title hash, until the keys differ; entries identical in every way are one entry.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::NewStory;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Guid,
    Link,
    Hash,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Guid => "guid",
            KeyKind::Link => "link",
            KeyKind::Hash => "hash",
        }
    }
}

/// Hex SHA-256 (first 128 bits) of the parts, separated so that ("ab", "c") ≠ ("a", "bc").
pub fn hash_text(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Fill `entry_key` and `entry_key_kind` for every story of one feed, and drop exact repeats.
pub fn assign_keys(stories: &mut Vec<NewStory>) {
    for s in stories.iter_mut() {
        (s.entry_key, s.entry_key_kind) = match (&s.guid, &s.url) {
            (Some(g), _) => (g.clone(), KeyKind::Guid),
            (None, Some(u)) => (u.clone(), KeyKind::Link),
            (None, None) => (hash_text(&[&s.title, &s.summary]), KeyKind::Hash),
        };
    }
    // Qualify keys that collide inside this feed: first with the link, then with the title.
    for round in 0..2 {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for s in stories.iter() {
            *counts.entry(s.entry_key.clone()).or_default() += 1;
        }
        for s in stories.iter_mut().filter(|s| counts[&s.entry_key] > 1) {
            let qualifier = match (round, &s.url) {
                (0, Some(url)) if s.entry_key_kind == KeyKind::Guid => url.clone(),
                _ => hash_text(&[&s.title]),
            };
            if !s.entry_key.ends_with(&qualifier) {
                s.entry_key = format!("{} {}", s.entry_key, qualifier);
            }
        }
    }
    // Whatever still collides is the same entry listed twice: keep the first.
    let mut seen = std::collections::HashSet::new();
    stories.retain(|s| seen.insert(s.entry_key.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn story(guid: Option<&str>, url: Option<&str>, title: &str) -> NewStory {
        NewStory { guid: guid.map(String::from), url: url.map(String::from), ..NewStory::new(title, Utc::now()) }
    }

    #[test]
    fn guid_then_link_then_hash() {
        let mut v = vec![
            story(Some("g"), Some("https://a/1"), "t"),
            story(None, Some("https://a/2"), "t"),
            story(None, None, "t"),
        ];
        assign_keys(&mut v);
        assert_eq!((v[0].entry_key.as_str(), v[0].entry_key_kind), ("g", KeyKind::Guid));
        assert_eq!((v[1].entry_key.as_str(), v[1].entry_key_kind), ("https://a/2", KeyKind::Link));
        assert_eq!(v[2].entry_key_kind, KeyKind::Hash);
        assert_eq!(v[2].entry_key.len(), 32);
    }

    #[test]
    fn repeated_guid_is_qualified_stably() {
        let mut v =
            vec![story(Some("same"), Some("https://a/1"), "one"), story(Some("same"), Some("https://a/2"), "two")];
        assign_keys(&mut v);
        assert_eq!(v.len(), 2);
        assert_ne!(v[0].entry_key, v[1].entry_key);
        // Reordering the feed does not swap identities. (An entry left alone with the repeated
        // GUID in a later fetch is matched to its qualified key by the store.)
        let mut w =
            vec![story(Some("same"), Some("https://a/2"), "two"), story(Some("same"), Some("https://a/1"), "one")];
        assign_keys(&mut w);
        assert_eq!(w[1].entry_key, v[0].entry_key);
        assert_eq!(w[0].entry_key, v[1].entry_key);
    }

    #[test]
    fn repeated_guid_and_link_falls_back_to_title() {
        let mut v = vec![story(Some("x"), Some("https://a/"), "one"), story(Some("x"), Some("https://a/"), "two")];
        assign_keys(&mut v);
        assert_eq!(v.len(), 2);
        assert_ne!(v[0].entry_key, v[1].entry_key);
    }

    #[test]
    fn exact_repeats_are_one_entry() {
        let mut v = vec![story(Some("x"), Some("https://a/"), "one"), story(Some("x"), Some("https://a/"), "one")];
        assign_keys(&mut v);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn hash_separates_parts() {
        assert_ne!(hash_text(&["ab", "c"]), hash_text(&["a", "bc"]));
    }
}
