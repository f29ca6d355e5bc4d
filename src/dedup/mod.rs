//! Deduplication: recognising the same article under different addresses and titles, and
//! grouping articles about the same event into story clusters.

pub mod index;
pub mod matching;
pub mod text;
pub mod url;

pub use self::index::{Assignment, ClusterIndex, StoredStory};
pub use self::matching::{DedupSettings, Relation, Signature, Signer, Wording, relation};
pub use self::url::{canonical_url, canonical_url_with, outlet_of};
