//! Reading stance: the topic profile, entity mentions, and (per story) what the text says each
//! entity does.

pub mod entities;
pub mod profile;
pub mod sentences;

pub use entities::{EntityMatcher, Mention, MentionKind};
pub use profile::{Profile, Stance};
