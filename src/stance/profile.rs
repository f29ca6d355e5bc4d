//! The topic profile: entities, their names and products, context words, event kinds. Loaded
//! from TOML (the built-in AI-openness profile unless `[profile] path` names another file) and
//! validated once; a broken profile is an error that names the file and line.

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::config::ConfigError;

/// The profile shipped in `config/profiles/`, compiled in.
pub const DEFAULT_PROFILE_TOML: &str = include_str!("../../config/profiles/ai-openness.toml");

/// A stance an entity can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Stance {
    Open,
    Closed,
    Mixed,
    Neutral,
}

impl Stance {
    pub fn as_str(self) -> &'static str {
        match self {
            Stance::Open => "open",
            Stance::Closed => "closed",
            Stance::Mixed => "mixed",
            Stance::Neutral => "neutral",
        }
    }

    pub fn parse(text: &str) -> Option<Stance> {
        match text {
            "open" => Some(Stance::Open),
            "closed" => Some(Stance::Closed),
            "mixed" => Some(Stance::Mixed),
            "neutral" => Some(Stance::Neutral),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entity {
    pub key: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub products: Vec<String>,
    pub people: Vec<String>,
    /// Names that count only with this exact capitalisation and AI context in the sentence.
    pub ambiguous: Vec<String>,
    /// Phrases in which a name does not mean this entity.
    pub guards: Vec<String>,
    /// Product families released with open weights.
    pub open_products: Vec<String>,
    pub prior: Option<(Stance, NaiveDate)>,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub context: Vec<String>,
    pub entities: Vec<Entity>,
    /// Event kind → the words that signal it in a headline.
    pub events: Vec<(String, Vec<String>)>,
    pub stance: StanceRules,
    /// Digest of the profile's text: stored readings made with another profile are redone.
    pub fingerprint: String,
}

/// The cue lexicons and rules the stance engine reads (the `[stance]` section).
#[derive(Debug, Clone, Default)]
pub struct StanceRules {
    pub negators: Vec<String>,
    pub pseudo_negators: Vec<String>,
    pub post_negators: Vec<String>,
    pub past: Vec<String>,
    pub partial: Vec<String>,
    pub partial_negation: Vec<String>,
    pub negation_scope: usize,
    pub contrast_after: Vec<String>,
    pub contrast_before: Vec<String>,
    pub critics: Vec<String>,
    /// Words comparing with others ("competes with", "than"): a cue after one is not about the
    /// entity named before it.
    pub comparison: Vec<String>,
    /// Nouns for a group of organisations ("labs", "rivals"): "closed AI labs" is about them,
    /// or about the entities listed right after ("proprietary giants: OpenAI, Google").
    pub groups: Vec<String>,
    pub speech: Vec<String>,
    pub licence_dispute: Vec<String>,
    pub probable: Vec<String>,
    pub possible: Vec<String>,
    pub question: Vec<String>,
    pub open: Vec<(String, f64)>,
    pub closed: Vec<(String, f64)>,
    pub shift_to_open: Vec<String>,
    pub shift_to_closed: Vec<String>,
    pub shift_change: Vec<String>,
    pub topic_words: Vec<String>,
    /// Words that make a story about AI (relevance needs one, or a watched product).
    pub ai_words: Vec<String>,
    pub relevance_threshold: f64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStance {
    #[serde(default)]
    negators: Vec<String>,
    #[serde(default)]
    pseudo_negators: Vec<String>,
    #[serde(default)]
    post_negators: Vec<String>,
    #[serde(default)]
    past: Vec<String>,
    #[serde(default)]
    partial: Vec<String>,
    #[serde(default)]
    partial_negation: Vec<String>,
    negation_scope: Option<usize>,
    #[serde(default)]
    contrast_after: Vec<String>,
    #[serde(default)]
    contrast_before: Vec<String>,
    #[serde(default)]
    critics: Vec<String>,
    #[serde(default)]
    comparison: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    speech: Vec<String>,
    #[serde(default)]
    licence_dispute: Vec<String>,
    #[serde(default)]
    certainty: RawCertainty,
    #[serde(default)]
    open: std::collections::BTreeMap<String, f64>,
    #[serde(default)]
    closed: std::collections::BTreeMap<String, f64>,
    #[serde(default)]
    shift: RawShift,
    #[serde(default)]
    topic: RawTopic,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCertainty {
    #[serde(default)]
    probable: Vec<String>,
    #[serde(default)]
    possible: Vec<String>,
    #[serde(default)]
    question: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawShift {
    #[serde(default)]
    to_open: Vec<String>,
    #[serde(default)]
    to_closed: Vec<String>,
    #[serde(default)]
    change: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    #[serde(default)]
    ai_words: Vec<String>,
    #[serde(default)]
    words: Vec<String>,
    threshold: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    context: Vec<String>,
    #[serde(rename = "entity", default)]
    entities: Vec<RawEntity>,
    #[serde(default)]
    events: toml::Table,
    #[serde(default)]
    stance: RawStance,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntity {
    key: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    people: Vec<String>,
    #[serde(default)]
    ambiguous: Vec<String>,
    #[serde(default)]
    guards: Vec<String>,
    #[serde(default)]
    open_products: Vec<String>,
    prior: Option<RawPrior>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrior {
    stance: String,
    since: String,
}

impl Profile {
    /// The built-in AI-openness profile.
    pub fn builtin() -> Profile {
        // The shipped profile is tested; failing here is a build defect, not bad input.
        Profile::parse(DEFAULT_PROFILE_TOML, "built-in profile").expect("the built-in profile is valid")
    }

    /// The profile at `path`, or the built-in one.
    pub fn load(path: Option<&Path>) -> Result<Profile, ConfigError> {
        match path {
            None => Ok(Profile::builtin()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                    message: format!("cannot read profile {}: {e} (check [profile] path)", p.display()),
                })?;
                Profile::parse(&text, &p.display().to_string())
            }
        }
    }

    pub fn parse(text: &str, source: &str) -> Result<Profile, ConfigError> {
        let raw: RawProfile = toml::from_str(text)
            .map_err(|e| ConfigError { message: crate::config::describe_toml_error(text, source, &e) })?;
        let err = |key: String, problem: String| ConfigError { message: format!("{source}: `{key}`: {problem}") };
        let mut entities: Vec<Entity> = Vec::new();
        for (i, e) in raw.entities.into_iter().enumerate() {
            if e.key.is_empty() || !e.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return Err(err(
                    format!("entity[{i}].key"),
                    format!("`{}` must be lowercase letters, digits or _", e.key),
                ));
            }
            if entities.iter().any(|other| other.key == e.key) {
                return Err(err(format!("entity[{i}].key"), format!("`{}` is defined twice", e.key)));
            }
            let prior = match e.prior {
                None => None,
                Some(p) => {
                    let stance = Stance::parse(&p.stance).ok_or_else(|| {
                        err(
                            format!("entity[{i}].prior.stance"),
                            format!("`{}` is not open, closed, mixed or neutral", p.stance),
                        )
                    })?;
                    let since = NaiveDate::parse_from_str(&p.since, "%Y-%m-%d").map_err(|_| {
                        err(format!("entity[{i}].prior.since"), format!("`{}` is not a date like 2024-01-31", p.since))
                    })?;
                    Some((stance, since))
                }
            };
            let names = [&e.aliases, &e.products, &e.people];
            for word in &e.ambiguous {
                if *word != e.name && !names.iter().any(|list| list.contains(word)) {
                    return Err(err(
                        format!("entity[{i}].ambiguous"),
                        format!("`{word}` is not one of the entity's name, aliases, products or people"),
                    ));
                }
            }
            entities.push(Entity {
                key: e.key,
                name: e.name,
                aliases: e.aliases,
                products: e.products,
                people: e.people,
                ambiguous: e.ambiguous,
                guards: e.guards,
                open_products: e.open_products,
                prior,
            });
        }
        let mut events = Vec::new();
        for (kind, words) in raw.events {
            let words: Vec<String> = match words {
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s.to_lowercase()),
                        _ => Err(err(format!("events.{kind}"), "must be a list of words".into())),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(err(format!("events.{kind}"), "must be a list of words".into())),
            };
            events.push((kind, words));
        }
        let st = raw.stance;
        for (section, cues) in [("stance.open", &st.open), ("stance.closed", &st.closed)] {
            if let Some((phrase, w)) = cues.iter().find(|(_, w)| !(**w > 0.0 && **w <= 5.0)) {
                return Err(err(
                    format!("{section}.\"{phrase}\""),
                    format!("weight {w} must be above 0 and at most 5"),
                ));
            }
        }
        let stance = StanceRules {
            negators: st.negators,
            pseudo_negators: st.pseudo_negators,
            post_negators: st.post_negators,
            past: st.past,
            partial: st.partial,
            partial_negation: st.partial_negation,
            negation_scope: st.negation_scope.unwrap_or(6),
            contrast_after: st.contrast_after,
            contrast_before: st.contrast_before,
            critics: st.critics,
            comparison: st.comparison,
            groups: st.groups,
            speech: st.speech,
            licence_dispute: st.licence_dispute,
            probable: st.certainty.probable,
            possible: st.certainty.possible,
            question: st.certainty.question,
            open: st.open.into_iter().collect(),
            closed: st.closed.into_iter().collect(),
            shift_to_open: st.shift.to_open,
            shift_to_closed: st.shift.to_closed,
            shift_change: st.shift.change,
            topic_words: st.topic.words,
            ai_words: st.topic.ai_words,
            relevance_threshold: st.topic.threshold.unwrap_or(0.8),
        };
        let fingerprint = crate::fingerprint::sha256_hex(text, 8);
        Ok(Profile {
            name: raw.name,
            description: raw.description,
            context: raw.context,
            entities,
            events,
            stance,
            fingerprint,
        })
    }

    pub fn entity(&self, key: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profile_has_the_contract_entities() {
        let p = Profile::builtin();
        let keys: Vec<&str> = p.entities.iter().map(|e| e.key.as_str()).collect();
        for key in [
            "meta",
            "openai",
            "google",
            "anthropic",
            "mistral",
            "xai",
            "deepseek",
            "alibaba",
            "microsoft",
            "apple",
            "nvidia",
        ] {
            assert!(keys.contains(&key), "missing {key}");
        }
        assert_eq!(p.entity("meta").unwrap().prior.unwrap().0, Stance::Open);
        assert_eq!(p.entity("openai").unwrap().prior.unwrap().0, Stance::Closed);
        assert!(p.events.iter().any(|(k, _)| k == "release"));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let e =
            Profile::parse("name = \"x\"\n[[entity]]\nkey = \"a\"\nname = \"A\"\nalias = []\n", "p.toml").unwrap_err();
        assert!(e.message.contains("p.toml: line 5"), "{}", e.message);
        let e = Profile::parse("name = \"x\"\n[[entity]]\nkey = \"a\"\nname = \"A\"\nprior = { stance = \"shut\", since = \"2024-01-01\" }\n", "p.toml")
            .unwrap_err();
        assert!(e.message.contains("entity[0].prior.stance"), "{}", e.message);
        let e = Profile::parse("name = \"x\"\n[[entity]]\nkey = \"a\"\nname = \"A\"\nambiguous = [\"B\"]\n", "p.toml")
            .unwrap_err();
        assert!(e.message.contains("entity[0].ambiguous"), "{}", e.message);
    }
}
