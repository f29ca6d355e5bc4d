#![allow(dead_code)]

pub mod http;
