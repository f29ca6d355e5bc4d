//! stancewatch: polls news feeds for stories about AI openness, keeps them in a SQLite history,
//! and (in later stages) classifies each organisation's stance and mails changes.
//!
//! The pipeline, one module per stage: [`fetch`] → [`feed`] → [`dedup`] → [`store`], driven by
//! [`poll`] (one cycle) and [`daemon`] (the schedule). See ARCHITECTURE.md for the map.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dates;
pub mod dedup;
pub mod feed;
pub mod fetch;
pub mod history;
pub mod http;
pub mod import;
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
