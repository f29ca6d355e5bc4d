//! stancewatch: polls news feeds for stories about AI openness, keeps them deduplicated in a
//! SQLite history, reads each organisation's stance from them, detects stance changes over time,
//! and mails alerts and digests.
//!
//! The pipeline, one module per stage: [`fetch`] → [`feed`] → [`ingest`] (canonical URL,
//! [`stance`] reading, [`dedup`] signature) → [`store`] → [`timeline`] → [`mail`], driven by
//! [`poll`] (one cycle) and [`daemon`] (the schedule); [`import`] and the re-read after a profile
//! change enter through the same [`ingest`] stage. See ARCHITECTURE.md for the map.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dates;
pub mod dedup;
pub mod feed;
pub mod fetch;
pub mod fingerprint;
pub mod history;
pub mod http;
pub mod import;
pub mod ingest;
pub mod judge;
pub mod mail;
pub mod metrics;
pub mod opml;
pub mod output;
pub mod poll;
pub mod private_fs;
pub mod schedule;
pub mod service;
pub mod stance;
pub mod status;
pub mod store;
pub mod timeline;
pub mod web;
