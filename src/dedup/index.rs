//! Finding a new story's cluster without comparing it to the whole history.
//!
//! The index holds signatures of the stories published around the ones being ingested, loaded
//! by day from the store on demand (the caller supplies the loader, so this module never sees
//! SQL), and an inverted map from candidate keys to stories. Keys are chosen so that every pair
//! the relations could accept shares at least one key:
//! - the normalised title (same-title duplicates);
//! - the 16 smallest shingle hashes (text duplicates: sets with Jaccard ≥ 0.5 share one of them
//!   with overwhelming probability, and whether they do depends only on the pair);
//! - (entity, title word) pairs (related articles share an entity and a title word).
//!
//! Cluster ids are story ids; merging keeps the smallest. Clusters are the connected
//! components of the relation graph, so the partition does not depend on arrival order.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::matching::{Relation, Signature, Signer, relation};
use super::text::hash;

const DAY: i64 = 86_400;
/// Bottom-k sketch size for shingle keys.
const SHINGLE_KEYS: usize = 16;
/// A key shared by this many indexed stories says nothing about any one of them (templated
/// text, boilerplate): it is frozen — neither consulted nor extended — so candidate search
/// stays bounded on pathological input. Below this size clustering is exactly
/// order-independent; above it, stories linked only through such a key may cluster by order.
const MAX_POSTING: usize = 256;

/// A stored story, as the loader hands it to the index.
#[derive(Debug, Clone)]
pub struct StoredStory {
    pub story_id: i64,
    pub cluster_id: i64,
    pub title: String,
    pub summary: String,
    pub canonical_url: Option<String>,
    pub published: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct IndexedStory {
    story_id: i64,
    cluster_id: i64,
    signature: Signature,
}

/// What the index decided for a new story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The cluster the story joins (the smallest id of everything it links).
    pub cluster_id: i64,
    /// Other clusters merged into `cluster_id` because this story links them.
    pub merged: Vec<i64>,
    /// The story duplicates an existing story (same article), as opposed to only relating.
    pub duplicate: bool,
}

pub struct ClusterIndex {
    pub signer: Signer,
    stories: Vec<IndexedStory>,
    keys: HashMap<u64, Vec<u32>>,
    loaded_days: HashSet<i64>,
    known: HashSet<i64>,
    /// Union-find over cluster ids merged during this index's life.
    parent: HashMap<i64, i64>,
}

impl ClusterIndex {
    pub fn new(signer: Signer) -> ClusterIndex {
        ClusterIndex {
            signer,
            stories: Vec::new(),
            keys: HashMap::new(),
            loaded_days: HashSet::new(),
            known: HashSet::new(),
            parent: HashMap::new(),
        }
    }

    /// Make sure every stored story that could relate to one published at `published` (unix
    /// seconds) is indexed. `load(from, to)` returns stored stories published in [from, to).
    pub fn ensure_loaded<E>(
        &mut self,
        published: i64,
        mut load: impl FnMut(i64, i64) -> Result<Vec<StoredStory>, E>,
    ) -> Result<(), E> {
        let reach = self.signer.settings.window_secs.max(self.signer.settings.cluster_window_secs);
        let first = (published - reach).div_euclid(DAY);
        let last = (published + reach).div_euclid(DAY);
        for day in first..=last {
            if self.loaded_days.insert(day) {
                for story in load(day * DAY, (day + 1) * DAY)? {
                    let signature =
                        self.signer.sign(&story.title, &story.summary, story.canonical_url.as_deref(), story.published);
                    self.insert(IndexedStory { story_id: story.story_id, cluster_id: story.cluster_id, signature });
                }
            }
        }
        Ok(())
    }

    /// Decide the cluster of a new story (already stored with id `story_id`), given the
    /// clusters of stored stories with the same canonical URL (any date), and index it.
    pub fn assign(&mut self, story_id: i64, signature: Signature, same_url_clusters: &[i64]) -> Assignment {
        let mut linked: Vec<i64> = same_url_clusters.iter().map(|c| self.find(*c)).collect();
        let mut duplicate = !same_url_clusters.is_empty();
        let mut seen: HashSet<u32> = HashSet::new();
        for key in keys_of(&signature) {
            let Some(candidates) = self.keys.get(&key).filter(|c| c.len() < MAX_POSTING) else { continue };
            for &at in candidates {
                if !seen.insert(at) {
                    continue;
                }
                let other = &self.stories[at as usize];
                if other.story_id == story_id {
                    continue;
                }
                match relation(&signature, &other.signature, &self.signer.settings) {
                    Relation::Unrelated => {}
                    r => {
                        duplicate |= r == Relation::Duplicate;
                        linked.push(other.cluster_id);
                    }
                }
            }
        }
        let mut clusters: Vec<i64> = linked.into_iter().map(|c| self.find(c)).collect();
        clusters.sort_unstable();
        clusters.dedup();
        let cluster_id = clusters.first().copied().unwrap_or(story_id).min(story_id);
        let merged: Vec<i64> = clusters.into_iter().filter(|c| *c != cluster_id).collect();
        for m in &merged {
            self.parent.insert(*m, cluster_id);
        }
        self.insert(IndexedStory { story_id, cluster_id, signature });
        Assignment { cluster_id, merged, duplicate }
    }

    fn insert(&mut self, story: IndexedStory) {
        if !self.known.insert(story.story_id) {
            return;
        }
        let at = self.stories.len() as u32;
        for key in keys_of(&story.signature) {
            let list = self.keys.entry(key).or_default();
            if list.len() < MAX_POSTING {
                list.push(at);
            }
        }
        self.stories.push(story);
    }

    /// The cluster a (possibly merged) cluster id now belongs to.
    fn find(&mut self, mut id: i64) -> i64 {
        let mut path = Vec::new();
        while let Some(&next) = self.parent.get(&id) {
            if next == id {
                break;
            }
            path.push(id);
            id = next;
        }
        for p in path {
            self.parent.insert(p, id);
        }
        id
    }

    pub fn len(&self) -> usize {
        self.stories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stories.is_empty()
    }
}

fn keys_of(sig: &Signature) -> Vec<u64> {
    let mut keys = Vec::with_capacity(1 + SHINGLE_KEYS + sig.entities.len() * sig.topic_words.len());
    if !sig.title_key.is_empty() {
        keys.push(hash(&["title", &sig.title_key]));
    }
    // Shingles are sorted hashes: the first k are the bottom-k sketch.
    for s in sig.shingles.iter().take(SHINGLE_KEYS) {
        keys.push(hash(&["shingle", &s.to_string()]));
    }
    // Related articles share their subject (or an entity) and a topic word.
    for e in &sig.entities {
        for w in &sig.topic_words {
            keys.push(hash(&["entity-word", &e.to_string(), &w.to_string()]));
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::DedupSettings;
    use crate::stance::Profile;
    use chrono::TimeZone;

    fn signer() -> Signer {
        Signer::new(&Profile::builtin(), DedupSettings::default())
    }

    fn stories() -> Vec<(i64, &'static str, i64)> {
        vec![
            (1, "Meta releases Llama 5 as open weights", 0),
            (2, "Meta launches Llama 5, its biggest open model", 10),
            (3, "Meta releases Llama 5 as open weights - The Verge", 12),
            (4, "Meta restricts Llama 5 licence for big rivals", 20),
            (5, "Google releases Gemma 4 as open weights", 5),
            (6, "Google unveils Gemma 4 open model family", 30),
            (7, "Nvidia earnings beat expectations", 40),
        ]
    }

    fn partition(order: &[usize]) -> Vec<Vec<i64>> {
        let s = signer();
        let all = stories();
        let mut index = ClusterIndex::new(signer());
        let mut cluster_of: HashMap<i64, i64> = HashMap::new();
        for &i in order {
            let (id, title, hours) = all[i];
            let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(hours);
            let sig = s.sign(title, "", None, t);
            let a = index.assign(id, sig, &[]);
            for (_, c) in cluster_of.iter_mut() {
                if a.merged.contains(c) {
                    *c = a.cluster_id;
                }
            }
            cluster_of.insert(id, a.cluster_id);
        }
        let mut groups: HashMap<i64, Vec<i64>> = HashMap::new();
        for (story, cluster) in cluster_of {
            groups.entry(cluster).or_default().push(story);
        }
        let mut out: Vec<Vec<i64>> = groups
            .into_values()
            .map(|mut g| {
                g.sort();
                g
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn clusters_are_events_and_independent_of_order() {
        let forward = partition(&[0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(forward, vec![vec![1, 2, 3], vec![4], vec![5, 6], vec![7]]);
        assert_eq!(partition(&[6, 5, 4, 3, 2, 1, 0]), forward);
        assert_eq!(partition(&[3, 0, 5, 2, 6, 1, 4]), forward);
    }

    #[test]
    fn loads_each_day_once() {
        let mut index = ClusterIndex::new(signer());
        let mut calls = 0;
        index
            .ensure_loaded::<()>(10 * DAY, |_, _| {
                calls += 1;
                Ok(Vec::new())
            })
            .unwrap();
        assert_eq!(calls, 7, "±72 h around the date spans 7 days");
        index
            .ensure_loaded::<()>(10 * DAY + 3600, |_, _| {
                calls += 1;
                Ok(Vec::new())
            })
            .unwrap();
        assert_eq!(calls, 7);
    }
}
