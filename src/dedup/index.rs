//! Finding a new story's cluster without comparing it to the whole history.
//!
//! The index holds the stories published around the ones being ingested, in one segment per
//! day, loaded from the store on demand (the caller supplies the loader, so this module never
//! sees SQL). Each segment maps candidate keys to its stories; a new story looks its keys up in
//! the segments of the days its windows reach (±72 h), so the cost depends on how many stories
//! are published around it, never on the size of the history. Least recently used segments are
//! dropped when the index grows past [`MAX_INDEXED`] stories (they reload from the store).
//!
//! Keys are chosen so that every pair the relations can accept shares at least one key:
//! - the normalised title (same-title duplicates);
//! - the 4 smallest shingle hashes (text duplicates: sets with Jaccard ≥ 0.5 nearly always
//!   share one of them, and whether they do depends only on the pair);
//! - (organisation, topic word) pairs (related articles share both).
//!
//! Cluster ids are story ids; merging keeps the smallest. Clusters are the connected
//! components of the relation graph, so the partition does not depend on arrival order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::matching::{Relation, Signature, Signer, relation};
use super::text::hash;

const DAY: i64 = 86_400;
/// Bottom-k sketch size for shingle keys.
const SHINGLE_KEYS: usize = 4;
/// A key's stories are grouped by cluster, and a new story is compared with a cluster's members
/// only until one relates (then the whole cluster is linked), so a key shared by a big cluster
/// costs one comparison. A key shared by this many *different* clusters in one day is
/// boilerplate: it takes no further clusters, which bounds candidate search on pathological
/// input (below this, clustering is exactly order-independent).
const MAX_GROUPS: usize = 512;
/// How many of a key's most recent groups are checked for the new story's cluster before a new
/// group is opened (groups are only a speed-up: two groups of one cluster are still correct).
const GROUP_LOOKBACK: usize = 4;
/// Stories held in memory before old day segments are dropped.
pub const MAX_INDEXED: usize = 50_000;

/// The stories of one cluster (as it was when they were indexed) under one key.
struct Group {
    cluster: i64,
    members: Vec<u32>,
}

/// A key's stories. Most keys belong to one story only, so that case takes no allocation.
enum Posting {
    One { cluster: i64, at: u32 },
    Groups(Vec<Group>),
}

impl Posting {
    /// (cluster, members) of each group.
    fn groups(&self) -> impl Iterator<Item = (i64, &[u32])> {
        let (one, many) = match self {
            Posting::One { cluster, at } => (Some((*cluster, std::slice::from_ref(at))), &[][..]),
            Posting::Groups(groups) => (None, &groups[..]),
        };
        one.into_iter().chain(many.iter().map(|g| (g.cluster, &g.members[..])))
    }
}

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

struct IndexedStory {
    story_id: i64,
    signature: Signature,
}

/// The stories published on one day, and their keys.
#[derive(Default)]
struct Segment {
    stories: Vec<IndexedStory>,
    keys: HashMap<u64, Posting>,
    /// `marks[i] == generation`: story i was already compared in the current `assign` call.
    marks: Vec<u32>,
    last_used: u64,
}

/// What the index decided for a new story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The cluster the story joins (the smallest id of everything it links).
    pub cluster_id: i64,
    /// Other clusters merged into `cluster_id` because this story links them.
    pub merged: Vec<i64>,
}

pub struct ClusterIndex {
    pub signer: std::sync::Arc<Signer>,
    segments: HashMap<i64, Segment>,
    /// Union-find over cluster ids merged during this index's life.
    parent: HashMap<i64, i64>,
    generation: u32,
    tick: u64,
    indexed: usize,
}

impl ClusterIndex {
    pub fn new(signer: Signer) -> ClusterIndex {
        ClusterIndex::with_signer(std::sync::Arc::new(signer))
    }

    pub fn with_signer(signer: std::sync::Arc<Signer>) -> ClusterIndex {
        ClusterIndex { signer, segments: HashMap::new(), parent: HashMap::new(), generation: 0, tick: 0, indexed: 0 }
    }

    /// Days (unix day numbers) whose stories can relate to one published at `published`.
    fn reach(&self, published: i64) -> std::ops::RangeInclusive<i64> {
        let reach = self.signer.settings.window_secs.max(self.signer.settings.cluster_window_secs);
        (published - reach).div_euclid(DAY)..=(published + reach).div_euclid(DAY)
    }

    /// Make sure every stored story that could relate to one published at `published` (unix
    /// seconds) is indexed. `load(from, to)` returns stored stories published in [from, to).
    pub fn ensure_loaded<E>(
        &mut self,
        published: i64,
        mut load: impl FnMut(i64, i64) -> Result<Vec<StoredStory>, E>,
    ) -> Result<(), E> {
        self.tick += 1;
        let days = self.reach(published);
        for day in days.clone() {
            if let Some(segment) = self.segments.get_mut(&day) {
                segment.last_used = self.tick;
                continue;
            }
            let mut segment = Segment { last_used: self.tick, ..Segment::default() };
            for story in load(day * DAY, (day + 1) * DAY)? {
                let signature =
                    self.signer.sign(&story.title, &story.summary, story.canonical_url.as_deref(), story.published);
                let root = root_in(&self.parent, story.cluster_id);
                add(&mut segment, &self.parent, IndexedStory { story_id: story.story_id, signature }, root);
            }
            self.indexed += segment.stories.len();
            self.segments.insert(day, segment);
        }
        self.evict_outside(&days);
        Ok(())
    }

    /// Drop least recently used segments (never those in `keep`) while over the size limit.
    fn evict_outside(&mut self, keep: &std::ops::RangeInclusive<i64>) {
        while self.indexed > MAX_INDEXED {
            let oldest = self
                .segments
                .iter()
                .filter(|(day, _)| !keep.contains(day))
                .min_by_key(|(day, s)| (s.last_used, **day))
                .map(|(day, _)| *day);
            let Some(day) = oldest else { break };
            if let Some(segment) = self.segments.remove(&day) {
                self.indexed -= segment.stories.len();
            }
        }
    }

    /// Decide the cluster of a new story (already stored with id `story_id`), given the
    /// clusters of stored stories with the same canonical URL (any date), and index it.
    /// Call [`ensure_loaded`](Self::ensure_loaded) for its date first.
    pub fn assign(&mut self, story_id: i64, signature: Signature, same_url_clusters: &[i64]) -> Assignment {
        let mut linked: Vec<i64> = same_url_clusters.iter().map(|c| root_in(&self.parent, *c)).collect();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.segments.values_mut().for_each(|s| s.marks.iter_mut().for_each(|m| *m = 0));
            self.generation = 1;
        }
        let keys = keys_of(&signature);
        for day in self.reach(signature.published) {
            let Some(segment) = self.segments.get_mut(&day) else { continue };
            for key in &keys {
                let Some(posting) = segment.keys.get(key) else { continue };
                for (cluster, members) in posting.groups() {
                    let root = root_in(&self.parent, cluster);
                    if linked.contains(&root) {
                        continue;
                    }
                    for &at in members {
                        let mark = &mut segment.marks[at as usize];
                        if *mark == self.generation {
                            continue;
                        }
                        *mark = self.generation;
                        let other = &segment.stories[at as usize];
                        if other.story_id == story_id {
                            continue;
                        }
                        if relation(&signature, &other.signature, &self.signer.settings) != Relation::Unrelated {
                            linked.push(root);
                            break;
                        }
                    }
                }
            }
        }
        linked.sort_unstable();
        linked.dedup();
        let cluster_id = linked.first().copied().unwrap_or(story_id).min(story_id);
        let merged: Vec<i64> = linked.into_iter().filter(|c| *c != cluster_id).collect();
        for m in &merged {
            self.parent.insert(*m, cluster_id);
        }
        let day = signature.published.div_euclid(DAY);
        let segment = self.segments.entry(day).or_default();
        segment.last_used = self.tick;
        add(segment, &self.parent, IndexedStory { story_id, signature }, cluster_id);
        self.indexed += 1;
        Assignment { cluster_id, merged }
    }

    /// Forget everything (after a rolled-back transaction, the index may describe stories that
    /// were never stored); it reloads from the store on demand.
    pub fn reset(&mut self) {
        self.segments.clear();
        self.parent.clear();
        self.indexed = 0;
    }

    /// Stories held in memory.
    pub fn len(&self) -> usize {
        self.indexed
    }

    pub fn is_empty(&self) -> bool {
        self.indexed == 0
    }
}

/// Index `story` (in cluster `root`) in `segment`.
fn add(segment: &mut Segment, parent: &HashMap<i64, i64>, story: IndexedStory, root: i64) {
    let at = segment.stories.len() as u32;
    for key in keys_of(&story.signature) {
        match segment.keys.entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Posting::One { cluster: root, at });
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let posting = o.get_mut();
                if let Posting::One { cluster, at: first } = *posting {
                    *posting = Posting::Groups(vec![Group { cluster, members: vec![first] }]);
                }
                let Posting::Groups(groups) = posting else { continue };
                let start = groups.len().saturating_sub(GROUP_LOOKBACK);
                match groups[start..].iter().rposition(|g| root_in(parent, g.cluster) == root) {
                    Some(i) => groups[start + i].members.push(at),
                    None if groups.len() < MAX_GROUPS => groups.push(Group { cluster: root, members: vec![at] }),
                    None => {}
                }
            }
        }
    }
    segment.stories.push(story);
    segment.marks.push(0);
}

/// The cluster a (possibly merged) cluster id now belongs to. Merges always point to a smaller
/// id, so the chain ends.
fn root_in(parent: &HashMap<i64, i64>, mut id: i64) -> i64 {
    while let Some(&next) = parent.get(&id) {
        if next == id {
            break;
        }
        id = next;
    }
    id
}

fn keys_of(sig: &Signature) -> Vec<u64> {
    let mut keys = Vec::with_capacity(1 + SHINGLE_KEYS + sig.entities.len() * sig.topic_words.len());
    keys.push(hash(&["title", &sig.wording.title_key.to_string()]));
    // Shingles are sorted hashes: the first k are the bottom-k sketch.
    for s in sig.wording.shingles.iter().take(SHINGLE_KEYS) {
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
