//! Helpers shared by the integration tests: a scriptable HTTP server on 127.0.0.1, a sandbox
//! that runs the real `stancewatch` binary against a temporary config and database, and feed
//! builders.
#![allow(dead_code)]

pub mod corpus;
pub mod daemon;
pub mod http;
pub mod openai;
pub mod sandbox;
pub mod smtp;
pub mod web;
