//! Deduplication: recognising the same article under different addresses.

pub mod url;

pub use self::url::{canonical_url, canonical_url_with};
