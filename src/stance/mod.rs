//! Reading stance: the topic profile, entity mentions, and (per story) what the text says each
//! entity does.

pub mod classify;
pub mod entities;
pub mod eval;
pub mod features;
pub mod lexicon;
pub mod model;
pub mod profile;
pub mod sentences;

pub use classify::{Basis, Certainty, Classification, Classifier, EntityStance, Shift, StoryText};
pub use entities::{EntityMatcher, Mention, MentionKind};
pub use model::{Model, TrainSettings};
pub use profile::{Profile, Stance};
