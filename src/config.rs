//! Typed configuration: the TOML file is parsed once, unknown keys are rejected, and every value
//! is validated into a [`Config`] that the rest of the program receives ready to use.
//!
//! Errors name the file, the key and (where TOML knows it) the line, because the person reading
//! them is editing that file. A missing default config is not an error: the binary carries the
//! default values, so it runs from any working directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The config file shipped in `config/`; also the built-in defaults when no file is found.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../config/stancewatch.toml");
/// Where the config is looked for when neither `--config` nor `STANCEWATCH_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "config/stancewatch.toml";

/// A configuration problem: exit code 2, and a message that says what to change.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
}

fn config_error(source: &str, key: &str, problem: impl fmt::Display) -> ConfigError {
    ConfigError { message: format!("{source}: `{key}`: {problem}") }
}

/// The validated settings every part of the program reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the config came from (a path, or "built-in defaults").
    pub source: String,
    pub database: PathBuf,
    pub poll: PollSettings,
    pub feeds: Vec<FeedSetting>,
    pub email: EmailSettings,
    pub digest: DigestSettings,
    pub alerts: AlertSettings,
    pub dedup: crate::dedup::DedupSettings,
    pub changes: crate::timeline::ChangeSettings,
    pub profile_path: Option<PathBuf>,
    /// `[profile] model`: which learned model decides stances.
    pub model: crate::stance::model::ModelChoice,
    pub storage: StorageSettings,
    /// `[http] listen`: where `/healthz` and `/metrics` are served (off when unset).
    pub http_listen: Option<std::net::SocketAddr>,
    /// `[judge]`: the optional language-model judge (off when absent).
    pub judge: Option<crate::judge::JudgeSettings>,
}

/// Retention and upkeep (`[storage]`). Nothing is deleted by default: the history is the product.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// Blank the summary and full text of stories found not relevant once they are older than
    /// this. The row and its identity stay, so the entry never returns as new.
    pub keep_irrelevant_text: Option<Duration>,
    /// Blank the full article text of every story older than this (title, summary, stance stay).
    pub keep_content: Option<Duration>,
    /// How often the daemon applies retention, checkpoints the WAL and refreshes query statistics.
    pub maintenance_every: Duration,
}

#[derive(Debug, Clone)]
pub struct PollSettings {
    pub interval: Duration,
    pub concurrency: usize,
    pub per_host: usize,
    pub timeout: Duration,
    pub max_body: u64,
    /// The longest a failing feed waits between attempts; it is never stopped for good.
    pub max_backoff: Duration,
    /// The longest a feed's own `<ttl>` / Cache-Control may stretch its interval.
    pub max_interval: Duration,
    pub user_agent: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedSetting {
    pub url: String,
    pub name: Option<String>,
    pub interval: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    File { dir: PathBuf },
    Smtp(SmtpSettings),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Security {
    StartTls,
    Tls,
    None,
}

/// A secret read from the environment or a file — never from the config file itself, never
/// printed: `what` names it in errors ("the SMTP password") and `setting` is its config key
/// without the `_env`/`_file` ending ("email.smtp.password").
pub fn read_secret(source: &PasswordSource, what: &str, setting: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let short = setting.rsplit('.').next().unwrap_or(setting);
    match source {
        PasswordSource::Env(var) => std::env::var(var).with_context(|| {
            format!("{what} variable {var} is not set ({setting}_env): export it, or use {short}_file")
        }),
        PasswordSource::File(path) => std::fs::read_to_string(path)
            .map(|p| p.trim_end_matches(['\r', '\n']).to_string())
            .with_context(|| format!("cannot read {what} file {} ({setting}_file)", path.display())),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PasswordSource {
    Env(String),
    File(PathBuf),
}

impl PasswordSource {
    /// A secret's `*_env` and `*_file` settings as its source (neither: none; both: an error).
    fn from_settings(env: Option<String>, file: Option<String>) -> Result<Option<PasswordSource>, ()> {
        match (env, file) {
            (Some(_), Some(_)) => Err(()),
            (Some(var), None) => Ok(Some(PasswordSource::Env(var))),
            (None, Some(file)) => Ok(Some(PasswordSource::File(PathBuf::from(file)))),
            (None, None) => Ok(None),
        }
    }

    /// The `*_env` setting that reads back as `source`.
    fn env_setting(source: Option<&PasswordSource>) -> Option<String> {
        match source {
            Some(PasswordSource::Env(var)) => Some(var.clone()),
            _ => None,
        }
    }

    /// The `*_file` setting that reads back as `source`.
    fn file_setting(source: Option<&PasswordSource>) -> Option<String> {
        match source {
            Some(PasswordSource::File(path)) => Some(path.display().to_string()),
            _ => None,
        }
    }
}

/// Where `config check` says where a secret (`{name}_env` or `{name}_file` in `table`) comes
/// from, never its value.
fn note_secret(out: &mut String, table: &str, name: &str, source: Option<&PasswordSource>) {
    match source {
        Some(PasswordSource::Env(var)) => {
            let set = if std::env::var_os(var).is_some() { "set" } else { "NOT set" };
            note_after_value(out, table, &format!("{name}_env"), &format!("{set}; value hidden"));
        }
        Some(PasswordSource::File(_)) => note_after_value(out, table, &format!("{name}_file"), "value hidden"),
        None => {}
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<PasswordSource>,
    pub allow_insecure_auth: bool,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub from: String,
    pub to: Vec<String>,
    pub transport: Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestEvery {
    Hourly,
    Daily,
    Weekly,
    /// A fixed length (at least a minute), periods counted from the Unix epoch: for short test
    /// runs and for readers who want mail every few hours.
    Interval(Duration),
}

#[derive(Debug, Clone)]
pub struct DigestSettings {
    pub every: DigestEvery,
    /// Minutes after midnight.
    pub at_minutes: u32,
    pub timezone: chrono_tz::Tz,
}

#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub changes: bool,
}

// ---- the file's shape (serde), kept private: the rest of the program sees only `Config`. ----
// Read by `parse`; written by `Config::describe` (so what `config check` prints reads back).

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    storage: RawStorage,
    #[serde(default, skip_serializing_if = "RawHttp::is_unset")]
    http: RawHttp,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    feed: Vec<RawFeed>,
    #[serde(default)]
    email: RawEmail,
    #[serde(default)]
    digest: RawDigest,
    #[serde(default)]
    alerts: RawAlerts,
    #[serde(default)]
    dedup: RawDedup,
    #[serde(default)]
    changes: RawChanges,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    judge: Option<RawJudge>,
    /// Last: `describe` notes what the built-in profile and model stand for below it.
    #[serde(default)]
    profile: RawProfile,
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
}

impl RawHttp {
    fn is_unset(&self) -> bool {
        self.listen.is_none()
    }
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawChanges {
    expected_gap: Option<String>,
    prior_strength: Option<f64>,
    confirm_posterior: Option<f64>,
    possible_posterior: Option<f64>,
    /// `min_clusters` is its earlier name.
    #[serde(alias = "min_clusters")]
    min_reports: Option<usize>,
    window: Option<String>,
    min_outlets: Option<usize>,
    require_certain: Option<bool>,
}

#[derive(Deserialize, Serialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawJudge {
    endpoint: String,
    model: String,
    api_key_env: Option<String>,
    api_key_file: Option<String>,
    timeout: Option<String>,
    concurrency: Option<i64>,
    daily_limit: Option<i64>,
    scope: Option<String>,
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    window: Option<String>,
    shingle_jaccard: Option<f64>,
    cluster_window: Option<String>,
    title_jaccard: Option<f64>,
    tracking_params: Option<Vec<String>>,
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    database: Option<String>,
    keep_irrelevant_text: Option<String>,
    keep_content: Option<String>,
    maintenance: Option<String>,
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    interval: Option<String>,
    concurrency: Option<i64>,
    per_host: Option<i64>,
    timeout: Option<String>,
    max_body: Option<String>,
    max_backoff: Option<String>,
    max_interval: Option<String>,
    user_agent: Option<String>,
}

#[derive(Deserialize, Serialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: String,
    name: Option<String>,
    interval: Option<String>,
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    from: Option<String>,
    to: Option<Vec<String>>,
    transport: Option<String>,
    outbox_dir: Option<String>,
    smtp: Option<RawSmtp>,
}

#[derive(Deserialize, Serialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<i64>,
    security: Option<String>,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    #[serde(default)]
    allow_insecure_auth: bool,
    timeout: Option<String>,
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    every: Option<String>,
    at: Option<String>,
    timezone: Option<String>,
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    changes: Option<bool>,
}

#[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    path: Option<String>,
    model: Option<String>,
}

/// Which file to read: an explicit path must exist; the default path may be absent, in which
/// case the built-in defaults apply.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    match explicit {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                message: format!(
                    "cannot read config file {}: {e} (check --config / STANCEWATCH_CONFIG)",
                    path.display()
                ),
            })?;
            parse(&text, &path.display().to_string())
        }
        None => {
            let path = Path::new(DEFAULT_CONFIG_PATH);
            match std::fs::read_to_string(path) {
                Ok(text) => parse(&text, DEFAULT_CONFIG_PATH),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => parse(DEFAULT_CONFIG_TOML, "built-in defaults"),
                Err(e) => Err(ConfigError { message: format!("cannot read config file {DEFAULT_CONFIG_PATH}: {e}") }),
            }
        }
    }
}

/// Parse and validate config text; `source` names the file in error messages.
pub fn parse(text: &str, source: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig =
        toml::from_str(text).map_err(|e| ConfigError { message: describe_toml_error(text, source, &e) })?;
    validate(raw, source)
}

/// "FILE: line N: problem" for a TOML error (shared by the config and profile loaders).
pub(crate) fn describe_toml_error(text: &str, source: &str, e: &toml::de::Error) -> String {
    let line = e.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let message = e.message().trim();
    match line {
        Some(line) => format!("{source}: line {line}: {message}"),
        None => format!("{source}: {message}"),
    }
}

/// The fallbacks here are the defaults: `config/stancewatch.toml` and README.md's example show
/// them, and tests (`the_default_file_says_what_an_empty_config_gets`, `the_readme_shows_the_defaults`)
/// hold the three to the same values.
fn validate(raw: RawConfig, source: &str) -> Result<Config, ConfigError> {
    let err = |key: &str, problem: String| config_error(source, key, problem);
    let duration = |key: &str, value: &Option<String>, default: &str| -> Result<Duration, ConfigError> {
        let text = value.as_deref().unwrap_or(default);
        parse_duration(text).map_err(|p| err(key, p))
    };

    let database = PathBuf::from(raw.storage.database.as_deref().unwrap_or("data/stancewatch.db"));
    if database.as_os_str().is_empty() {
        return Err(err("storage.database", "must not be empty".into()));
    }

    let p = raw.poll;
    let interval = duration("poll.interval", &p.interval, "30m")?;
    if interval < Duration::from_secs(60) {
        return Err(err("poll.interval", "must be at least 1m: polling faster is impolite".into()));
    }
    let positive = |key: &str, v: Option<i64>, default: i64| -> Result<usize, ConfigError> {
        let v = v.unwrap_or(default);
        if !(1..=10_000).contains(&v) {
            return Err(err(key, format!("must be between 1 and 10000, not {v}")));
        }
        Ok(v as usize)
    };
    let timeout = duration("poll.timeout", &p.timeout, "20s")?;
    if timeout.is_zero() {
        return Err(err("poll.timeout", "must be more than 0s".into()));
    }
    let max_body = parse_size(p.max_body.as_deref().unwrap_or("15MiB")).map_err(|e| err("poll.max_body", e))?;
    if max_body < 1024 {
        return Err(err("poll.max_body", "must be at least 1KiB".into()));
    }
    let poll = PollSettings {
        interval,
        concurrency: positive("poll.concurrency", p.concurrency, 32)?,
        per_host: positive("poll.per_host", p.per_host, 2)?,
        timeout,
        max_body,
        max_backoff: duration("poll.max_backoff", &p.max_backoff, "24h")?,
        max_interval: duration("poll.max_interval", &p.max_interval, "24h")?,
        user_agent: p.user_agent.unwrap_or_else(default_user_agent),
    };

    let mut feeds: Vec<FeedSetting> = Vec::new();
    for (i, f) in raw.feed.into_iter().enumerate() {
        let key = format!("feed[{i}].url");
        check_feed_url(&f.url).map_err(|p| err(&key, p))?;
        if feeds.iter().any(|other| other.url == f.url) {
            return Err(err(&key, format!("{} is listed twice", f.url)));
        }
        let interval = match &f.interval {
            Some(text) => {
                let d = parse_duration(text).map_err(|p| err(&format!("feed[{i}].interval"), p))?;
                if d < Duration::from_secs(60) {
                    return Err(err(&format!("feed[{i}].interval"), "must be at least 1m".into()));
                }
                Some(d)
            }
            None => None,
        };
        feeds.push(FeedSetting { url: f.url, name: f.name, interval });
    }

    let email = validate_email(raw.email, source)?;

    // Retention: "all" (the default) or a duration; shorter than the dedup and cluster windows
    // would let an entry still in its feed be judged without its history, so a month is the least.
    let keep = |key: &str, value: &Option<String>| -> Result<Option<Duration>, ConfigError> {
        match value.as_deref().map(str::trim) {
            None | Some("all") => Ok(None),
            Some(text) => match parse_duration(text) {
                Ok(d) if d >= Duration::from_secs(30 * 86_400) => Ok(Some(d)),
                Ok(_) => Err(err(key, "must be \"all\" or at least 30 days, like \"365d\"".into())),
                Err(p) => Err(err(key, format!("{p} (use \"all\" or a duration like \"365d\")"))),
            },
        }
    };
    let storage = StorageSettings {
        keep_irrelevant_text: keep("storage.keep_irrelevant_text", &raw.storage.keep_irrelevant_text)?,
        keep_content: keep("storage.keep_content", &raw.storage.keep_content)?,
        maintenance_every: match raw.storage.maintenance.as_deref() {
            None => Duration::from_secs(6 * 3600),
            Some(text) => match parse_duration(text) {
                Ok(d) if d >= Duration::from_secs(60) => d,
                Ok(_) => return Err(err("storage.maintenance", "must be at least a minute".into())),
                Err(p) => return Err(err("storage.maintenance", p)),
            },
        },
    };
    let http_listen =
        match raw.http.listen.as_deref() {
            None => None,
            Some(text) => Some(text.trim().parse::<std::net::SocketAddr>().map_err(|_| {
                err("http.listen", format!("`{text}` is not an address and port like \"127.0.0.1:9464\""))
            })?),
        };

    let judge = match raw.judge {
        None => None,
        Some(j) => Some(validate_judge(j, source)?),
    };

    let d = raw.digest;
    let every = match d.every.as_deref().unwrap_or("daily") {
        "hourly" => DigestEvery::Hourly,
        "daily" => DigestEvery::Daily,
        "weekly" => DigestEvery::Weekly,
        other => match parse_duration(other) {
            Ok(d) if d >= Duration::from_secs(60) => DigestEvery::Interval(Duration::from_secs(d.as_secs() / 60 * 60)),
            _ => {
                return Err(err(
                    "digest.every",
                    format!("`{other}` is not hourly, daily, weekly or a duration of at least a minute like \"6h\""),
                ));
            }
        },
    };
    let at_minutes = parse_time_of_day(d.at.as_deref().unwrap_or("08:00")).map_err(|p| err("digest.at", p))?;
    let tz_name = d.timezone.as_deref().unwrap_or("UTC");
    let timezone: chrono_tz::Tz = tz_name.parse().map_err(|_| {
        err("digest.timezone", format!("`{tz_name}` is not an IANA time zone name (such as UTC or Europe/Berlin)"))
    })?;

    let d = raw.dedup;
    let fraction = |key: &str, v: Option<f64>, default: f64| -> Result<f64, ConfigError> {
        let v = v.unwrap_or(default);
        if !(v > 0.0 && v <= 1.0) {
            return Err(err(key, format!("must be a fraction above 0 and at most 1, not {v}")));
        }
        Ok(v)
    };
    let dedup = crate::dedup::DedupSettings {
        window_secs: duration("dedup.window", &d.window, "72h")?.as_secs() as i64,
        shingle_jaccard: fraction("dedup.shingle_jaccard", d.shingle_jaccard, 0.5)?,
        cluster_window_secs: duration("dedup.cluster_window", &d.cluster_window, "72h")?.as_secs() as i64,
        title_jaccard: fraction("dedup.title_jaccard", d.title_jaccard, 0.3)?,
        extra_tracking_params: d.tracking_params.unwrap_or_default(),
    };

    let c = raw.changes;
    let defaults = crate::timeline::ChangeSettings::default();
    let days = |key: &str, v: &Option<String>, default: f64| -> Result<f64, ConfigError> {
        match v {
            None => Ok(default),
            Some(text) => {
                let d = parse_duration(text).map_err(|p| err(key, p))?;
                if d.as_secs() < 86_400 {
                    return Err(err(key, format!("`{text}` is shorter than a day")));
                }
                Ok(d.as_secs_f64() / 86_400.0)
            }
        }
    };
    let changes = crate::timeline::ChangeSettings {
        expected_days_between_changes: days(
            "changes.expected_gap",
            &c.expected_gap,
            defaults.expected_days_between_changes,
        )?,
        prior_strength: match c.prior_strength {
            Some(v) if !(0.0..=1000.0).contains(&v) => {
                return Err(err("changes.prior_strength", format!("must be between 0 and 1000, not {v}")));
            }
            v => v.unwrap_or(defaults.prior_strength),
        },
        confirm_posterior: fraction("changes.confirm_posterior", c.confirm_posterior, defaults.confirm_posterior)?,
        possible_posterior: fraction("changes.possible_posterior", c.possible_posterior, defaults.possible_posterior)?,
        min_reports: c.min_reports.unwrap_or(defaults.min_reports).max(1),
        window_days: days("changes.window", &c.window, defaults.window_days as f64)?.round() as i64,
        min_outlets: c.min_outlets.unwrap_or(defaults.min_outlets).max(1),
        require_certain: c.require_certain.unwrap_or(defaults.require_certain),
        copy_jaccard: dedup.shingle_jaccard,
    };

    Ok(Config {
        source: source.to_string(),
        database,
        poll,
        feeds,
        email,
        digest: DigestSettings { every, at_minutes, timezone },
        alerts: AlertSettings { changes: raw.alerts.changes.unwrap_or(true) },
        dedup,
        changes,
        profile_path: raw.profile.path.map(PathBuf::from),
        model: crate::stance::model::ModelChoice::parse(raw.profile.model.as_deref()),
        storage,
        http_listen,
        judge,
    })
}

fn validate_judge(j: RawJudge, source: &str) -> Result<crate::judge::JudgeSettings, ConfigError> {
    use crate::judge::{JudgeSettings, Scope};
    let err = |key: &str, problem: String| config_error(source, key, problem);
    let endpoint = j.endpoint.trim().trim_end_matches('/').to_string();
    match url::Url::parse(&endpoint) {
        // No credentials in the address: it is shown in errors, `status` and `config check`.
        Ok(u) if !u.username().is_empty() || u.password().is_some() || u.query().is_some() => {
            return Err(err(
                "judge.endpoint",
                "carries credentials or a query; give the key with api_key_env or api_key_file".into(),
            ));
        }
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(err(
                "judge.endpoint",
                format!("`{endpoint}` is not an http(s) URL; give the API's base, like \"http://127.0.0.1:11434/v1\""),
            ));
        }
    }
    if j.model.trim().is_empty() {
        return Err(err("judge.model", "is empty: name the model the endpoint serves".into()));
    }
    let api_key = PasswordSource::from_settings(j.api_key_env, j.api_key_file)
        .map_err(|()| err("judge.api_key_env", "set api_key_env or api_key_file, not both".into()))?;
    let timeout = match j.timeout.as_deref() {
        None => Duration::from_secs(60),
        Some(text) => match parse_duration(text) {
            Ok(d) if d >= Duration::from_secs(1) => d,
            Ok(_) => return Err(err("judge.timeout", "must be at least a second".into())),
            Err(p) => return Err(err("judge.timeout", p)),
        },
    };
    let concurrency = match j.concurrency {
        None => 2,
        Some(n @ 1..=64) => n as usize,
        Some(n) => return Err(err("judge.concurrency", format!("{n} is not between 1 and 64"))),
    };
    let daily_limit = match j.daily_limit {
        None => 1000,
        Some(n @ 0..) => n as u64,
        Some(n) => return Err(err("judge.daily_limit", format!("{n} is negative"))),
    };
    let scope = match j.scope.as_deref().unwrap_or("candidates") {
        "candidates" => Scope::Candidates,
        "all" => Scope::All,
        other => return Err(err("judge.scope", format!("`{other}` is not \"candidates\" or \"all\""))),
    };
    Ok(JudgeSettings { endpoint, model: j.model.trim().to_string(), api_key, timeout, concurrency, daily_limit, scope })
}

fn validate_email(e: RawEmail, source: &str) -> Result<EmailSettings, ConfigError> {
    let err = |key: &str, problem: String| config_error(source, key, problem);
    let from = e.from.unwrap_or_else(|| "stancewatch <stancewatch@localhost>".into());
    check_mailbox(&from).map_err(|p| err("email.from", p))?;
    let to = e.to.unwrap_or_else(|| vec!["you@localhost".into()]);
    if to.is_empty() {
        return Err(err("email.to", "needs at least one recipient".into()));
    }
    for (i, addr) in to.iter().enumerate() {
        check_mailbox(addr).map_err(|p| err(&format!("email.to[{i}]"), p))?;
    }
    let transport = match e.transport.as_deref().unwrap_or("file") {
        "file" => {
            if e.smtp.is_some() {
                return Err(err(
                    "email.smtp",
                    "is set but email.transport is \"file\": set transport = \"smtp\" to use it".into(),
                ));
            }
            Transport::File { dir: PathBuf::from(e.outbox_dir.as_deref().unwrap_or("data/outbox")) }
        }
        "smtp" => {
            let s = e.smtp.ok_or_else(|| err("email.smtp", "is required when transport = \"smtp\"".into()))?;
            let security = match s.security.as_deref().unwrap_or("starttls") {
                "starttls" => Security::StartTls,
                "tls" => Security::Tls,
                "none" => Security::None,
                other => {
                    return Err(err("email.smtp.security", format!("`{other}` is not one of starttls, tls, none")));
                }
            };
            let default_port = match security {
                Security::StartTls => 587,
                Security::Tls => 465,
                Security::None => 25,
            };
            let port = s.port.unwrap_or(default_port);
            if !(1..=65535).contains(&port) {
                return Err(err("email.smtp.port", format!("{port} is not a TCP port")));
            }
            if s.host.trim().is_empty() {
                return Err(err("email.smtp.host", "must not be empty".into()));
            }
            let password = PasswordSource::from_settings(s.password_env, s.password_file)
                .map_err(|()| err("email.smtp.password_env", "set password_env or password_file, not both".into()))?;
            if password.is_some() && s.username.is_none() {
                return Err(err("email.smtp.username", "is required when a password is configured".into()));
            }
            if password.is_some() && security == Security::None && !s.allow_insecure_auth {
                return Err(err(
                    "email.smtp.security",
                    "is \"none\" but a password is configured: the password would cross the network in \
                     clear text; use starttls or tls, or set allow_insecure_auth = true"
                        .into(),
                ));
            }
            let timeout = match &s.timeout {
                Some(t) => parse_duration(t).map_err(|p| err("email.smtp.timeout", p))?,
                None => Duration::from_secs(30),
            };
            // A send holds its claim on a message for a few timeouts (see mail::lease_for).
            if !(Duration::from_secs(1)..=Duration::from_secs(300)).contains(&timeout) {
                return Err(err("email.smtp.timeout", "must be between 1s and 5m".into()));
            }
            Transport::Smtp(SmtpSettings {
                host: s.host,
                port: port as u16,
                security,
                username: s.username,
                password,
                allow_insecure_auth: s.allow_insecure_auth,
                timeout,
            })
        }
        other => return Err(err("email.transport", format!("`{other}` is not one of file, smtp"))),
    };
    Ok(EmailSettings { from, to, transport })
}

pub fn default_user_agent() -> String {
    format!("stancewatch/{} (+https://github.com/stancewatch/stancewatch; feed poller)", env!("CARGO_PKG_VERSION"))
}

/// A feed URL must be absolute http(s); anything else would fail on every poll.
pub fn check_feed_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => Ok(()),
        Ok(u) => Err(format!("{url} is not an http or https URL (scheme `{}`)", u.scheme())),
        Err(e) => Err(format!("{url} is not a valid URL: {e}")),
    }
}

/// Accepts `addr@host` or `Name <addr@host>`, and never a line break (header injection).
/// One mailbox, checked with the parser sending uses ([`crate::mail::mailbox`]), so what the
/// config accepts is what can be mailed.
fn check_mailbox(text: &str) -> Result<(), String> {
    if text.contains(['\r', '\n']) {
        return Err("must not contain a line break".into());
    }
    if text.contains([',', ';']) && text.matches('@').count() > 1 {
        return Err(format!("`{text}` holds several addresses: give each recipient its own string in the list"));
    }
    crate::mail::mailbox(text)
        .map(|_| ())
        .map_err(|_| format!("`{text}` is not an address like name@example.org or Name <name@example.org>"))
}

/// Durations like `90s`, `30m`, `1h 30m`, `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write it like 90s, 30m, 1h or 2d"))
}

/// Sizes like `15MiB`, `512KiB`, `2MB`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("`{text}` is not a size; write it like 15MiB, 512KiB or 1048576");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

fn parse_time_of_day(text: &str) -> Result<u32, String> {
    let bad = || format!("`{text}` is not a time of day like 08:00");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl Config {
    /// The resolved config as TOML for `config check`: every setting spelled out, paths made
    /// absolute. It reads back as the same config. Secrets are never printed (the file's shape
    /// has no place for them): only where they come from, noted in a comment.
    pub fn describe(&self) -> String {
        let mut out = format!("# resolved from {}\n", self.source);
        match toml::to_string(&self.to_raw()) {
            Ok(text) => out.push_str(&text),
            Err(e) => out.push_str(&format!("# cannot print the settings: {e}\n")),
        }
        if let Transport::Smtp(smtp) = &self.email.transport {
            note_secret(&mut out, "[email.smtp]", "password", smtp.password.as_ref());
        }
        if let Some(judge) = &self.judge {
            note_secret(&mut out, "[judge]", "api_key", judge.api_key.as_ref());
        }
        // `[profile]` is the last table: what its absent keys stand for follows it.
        if self.profile_path.is_none() {
            out.push_str("# built-in ai-openness profile\n");
        }
        if self.model == crate::stance::model::ModelChoice::Default {
            out.push_str("# model: the profile's own (built-in, or NAME.model.json beside it)\n");
        }
        out
    }

    /// The resolved config in the file's own shape, every value in a form `parse` reads back.
    fn to_raw(&self) -> RawConfig {
        use crate::stance::model::ModelChoice;
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string();
        let span = |d: Duration| humantime::format_duration(d).to_string();
        let keep = |d: Option<Duration>| Some(d.map_or_else(|| "all".to_string(), span));
        let secs = |s: i64| span(Duration::from_secs(s.max(0) as u64));
        let p = &self.poll;
        let (transport, outbox_dir, smtp) = match &self.email.transport {
            Transport::File { dir } => ("file", Some(abs(dir)), None),
            Transport::Smtp(s) => {
                let security = match s.security {
                    Security::StartTls => "starttls",
                    Security::Tls => "tls",
                    Security::None => "none",
                };
                let smtp = RawSmtp {
                    host: s.host.clone(),
                    port: Some(i64::from(s.port)),
                    security: Some(security.into()),
                    username: s.username.clone(),
                    password_env: PasswordSource::env_setting(s.password.as_ref()),
                    password_file: PasswordSource::file_setting(s.password.as_ref()),
                    allow_insecure_auth: s.allow_insecure_auth,
                    timeout: Some(span(s.timeout)),
                };
                ("smtp", None, Some(smtp))
            }
        };
        let d = &self.dedup;
        let c = &self.changes;
        RawConfig {
            storage: RawStorage {
                database: Some(abs(&self.database)),
                keep_irrelevant_text: keep(self.storage.keep_irrelevant_text),
                keep_content: keep(self.storage.keep_content),
                maintenance: Some(span(self.storage.maintenance_every)),
            },
            http: RawHttp { listen: self.http_listen.map(|a| a.to_string()) },
            poll: RawPoll {
                interval: Some(span(p.interval)),
                concurrency: Some(p.concurrency as i64),
                per_host: Some(p.per_host as i64),
                timeout: Some(span(p.timeout)),
                max_body: Some(format_size(p.max_body)),
                max_backoff: Some(span(p.max_backoff)),
                max_interval: Some(span(p.max_interval)),
                user_agent: Some(p.user_agent.clone()),
            },
            feed: self
                .feeds
                .iter()
                .map(|f| RawFeed { url: f.url.clone(), name: f.name.clone(), interval: f.interval.map(span) })
                .collect(),
            email: RawEmail {
                from: Some(self.email.from.clone()),
                to: Some(self.email.to.clone()),
                transport: Some(transport.into()),
                outbox_dir,
                smtp,
            },
            digest: RawDigest {
                every: Some(match self.digest.every {
                    DigestEvery::Hourly => "hourly".to_string(),
                    DigestEvery::Daily => "daily".to_string(),
                    DigestEvery::Weekly => "weekly".to_string(),
                    DigestEvery::Interval(d) => span(d),
                }),
                at: Some(format!("{:02}:{:02}", self.digest.at_minutes / 60, self.digest.at_minutes % 60)),
                timezone: Some(self.digest.timezone.to_string()),
            },
            alerts: RawAlerts { changes: Some(self.alerts.changes) },
            dedup: RawDedup {
                window: Some(secs(d.window_secs)),
                shingle_jaccard: Some(d.shingle_jaccard),
                cluster_window: Some(secs(d.cluster_window_secs)),
                title_jaccard: Some(d.title_jaccard),
                tracking_params: Some(d.extra_tracking_params.clone()),
            },
            changes: RawChanges {
                expected_gap: Some(format_days(c.expected_days_between_changes)),
                prior_strength: Some(c.prior_strength),
                confirm_posterior: Some(c.confirm_posterior),
                possible_posterior: Some(c.possible_posterior),
                min_reports: Some(c.min_reports),
                window: Some(format!("{}d", c.window_days)),
                min_outlets: Some(c.min_outlets),
                require_certain: Some(c.require_certain),
            },
            judge: self.judge.as_ref().map(|j| RawJudge {
                endpoint: j.endpoint.clone(),
                model: j.model.clone(),
                api_key_env: PasswordSource::env_setting(j.api_key.as_ref()),
                api_key_file: PasswordSource::file_setting(j.api_key.as_ref()),
                timeout: Some(span(j.timeout)),
                concurrency: Some(j.concurrency as i64),
                daily_limit: Some(j.daily_limit as i64),
                scope: Some(match j.scope {
                    crate::judge::Scope::Candidates => "candidates".into(),
                    crate::judge::Scope::All => "all".into(),
                }),
            }),
            profile: RawProfile {
                path: self.profile_path.as_ref().map(|p| p.display().to_string()),
                model: match &self.model {
                    ModelChoice::Default => None,
                    ModelChoice::Rules => Some("rules".into()),
                    ModelChoice::File(p) => Some(p.display().to_string()),
                },
            },
        }
    }
}

/// Append `  # note` to the line that sets `key` in `table` of TOML text (after the value's
/// closing quotes when a string value spans lines).
fn note_after_value(text: &mut String, table: &str, key: &str, note: &str) {
    let Some(table_at) = text.find(&format!("\n{table}\n")) else { return };
    let Some(key_at) = text[table_at..].find(&format!("\n{key} = ")).map(|i| table_at + i + key.len() + 4) else {
        return;
    };
    let value = &text[key_at..];
    let end = ["\"\"\"", "'''"]
        .into_iter()
        .find(|quotes| value.starts_with(quotes))
        .and_then(|quotes| value[3..].find(quotes).map(|i| 3 + i + 3))
        .unwrap_or_else(|| value.find('\n').unwrap_or(value.len()));
    text.insert_str(key_at + end, &format!("  # {note}"));
}

/// A byte count the way `parse_size` reads it, in the largest binary unit that divides it.
fn format_size(bytes: u64) -> String {
    match bytes {
        0 => "0".into(),
        b if b.is_multiple_of(1 << 30) => format!("{}GiB", b >> 30),
        b if b.is_multiple_of(1 << 20) => format!("{}MiB", b >> 20),
        b if b.is_multiple_of(1 << 10) => format!("{}KiB", b >> 10),
        b => b.to_string(),
    }
}

/// Days as a duration `parse_duration` reads: "1460d", or exact seconds when not whole days.
fn format_days(days: f64) -> String {
    let secs = (days * 86_400.0).round().max(0.0) as u64;
    if secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else {
        humantime::format_duration(Duration::from_secs(secs)).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_are_valid() {
        let c = parse(DEFAULT_CONFIG_TOML, "built-in").unwrap();
        assert_eq!(c.poll.interval, Duration::from_secs(30 * 60));
        assert_eq!(c.poll.max_body, 15 << 20);
        assert!(c.feeds.len() >= 5, "the default config lists real feeds");
        assert!(matches!(c.email.transport, Transport::File { .. }));
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        let e = parse("[poll]\nintervl = \"5m\"\n", "my.toml").unwrap_err().message;
        assert!(e.contains("my.toml"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("intervl"), "{e}");
    }

    #[test]
    fn the_earlier_name_of_a_renamed_key_still_reads() {
        assert_eq!(parse("[changes]\nmin_reports = 4\n", "c.toml").unwrap().changes.min_reports, 4);
        assert_eq!(parse("[changes]\nmin_clusters = 5\n", "c.toml").unwrap().changes.min_reports, 5);
    }

    #[test]
    fn addresses_are_checked_by_the_parser_sending_uses() {
        let email = |to: &str| parse(&format!("[email]\nto = [{to}]\n"), "c.toml");
        let e = email("\"a@example.org,b@example.org\"").unwrap_err().message;
        assert!(e.contains("email.to[0]") && e.contains("several addresses"), "{e}");
        for bad in ["\"a@@example.org\"", "\"Ann <ann@example.org\"", "\"ann example.org\""] {
            let e = email(bad).unwrap_err().message;
            assert!(e.contains("email.to[0]"), "{bad}: {e}");
        }
        let ok = email("\"Ann <ann@example.org>\", \"ben@example.org\"").unwrap();
        for to in &ok.email.to {
            crate::mail::mailbox(to).unwrap();
        }
    }

    #[test]
    fn the_smtp_timeout_is_bounded() {
        let smtp = |t: &str| {
            parse(
                &format!("[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\ntimeout = \"{t}\"\n"),
                "c.toml",
            )
        };
        for bad in ["0s", "500ms", "6m"] {
            let e = smtp(bad).map(|_| ()).unwrap_err().message;
            assert!(e.contains("email.smtp.timeout") && e.contains("between 1s and 5m"), "{bad}: {e}");
        }
        assert!(smtp("1s").is_ok() && smtp("5m").is_ok());
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = parse("[poll]\ninterval = \"soon\"\n", "c.toml").unwrap_err().message;
        assert!(e.contains("poll.interval") && e.contains("soon"), "{e}");
        let e = parse("[[feed]]\nurl = \"ftp://x/y\"\n", "c.toml").unwrap_err().message;
        assert!(e.contains("feed[0].url"), "{e}");
        let e = parse("[poll]\nmax_body = \"lots\"\n", "c.toml").unwrap_err().message;
        assert!(e.contains("poll.max_body"), "{e}");
        let e = parse("[dedup]\ntitle_jaccard = 1.5\n", "c.toml").unwrap_err().message;
        assert!(e.contains("dedup.title_jaccard"), "{e}");
        let e = parse("[digest]\ntimezone = \"Mars/Base\"\n", "c.toml").unwrap_err().message;
        assert!(e.contains("digest.timezone"), "{e}");
    }

    #[test]
    fn refuses_password_in_clear_without_explicit_permission() {
        let text = "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mail.example.org\"\n\
                    security = \"none\"\nusername = \"u\"\npassword_env = \"PW\"\n";
        let e = parse(text, "c.toml").unwrap_err().message;
        assert!(e.contains("allow_insecure_auth"), "{e}");
        let ok = format!("{text}allow_insecure_auth = true\n");
        assert!(parse(&ok, "c.toml").is_ok());
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("15MiB").unwrap(), 15 * 1024 * 1024);
        assert_eq!(parse_size("2kb").unwrap(), 2000);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("1.5MiB").is_err());
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_time_of_day("08:30").unwrap(), 510);
        assert!(parse_time_of_day("25:00").is_err());
    }

    #[test]
    fn describe_hides_secrets() {
        let text = "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mail.example.org\"\n\
                    username = \"u\"\npassword_file = \"/run/secret\"\n";
        let c = parse(text, "c.toml").unwrap();
        let out = c.describe();
        assert!(out.contains("password_file") && out.contains("value hidden"), "{out}");
    }

    /// A config that sets something everywhere, in forms `describe` writes differently.
    const EVERYTHING: &str = r#"
[storage]
keep_irrelevant_text = "365d"
keep_content = "730d"
maintenance = "1h 30m"
[http]
listen = "127.0.0.1:9464"
[poll]
max_body = "1500"
interval = "45m"
[[feed]]
url = "https://example.org/a.rss"
name = "A \"quoted\" name"
interval = "15m"
[[feed]]
url = "https://example.org/b.rss"
[email]
from = "sw <sw@example.org>"
to = ["a@example.org", "B <b@example.org>"]
transport = "smtp"
[email.smtp]
host = "mail.example.org"
security = "tls"
username = "sw"
password_env = "SW_UNIT_TEST_PASSWORD"
timeout = "45s"
[digest]
every = "6h"
at = "07:05"
timezone = "Europe/Berlin"
[alerts]
changes = false
[dedup]
window = "48h"
tracking_params = ["ref_src", "x"]
[changes]
expected_gap = "36h"
prior_strength = 2.5
min_clusters = 0
window = "14d"
[profile]
path = "profiles/other.toml"
model = "rules"
"#;

    /// `text` resolved, printed by `describe`, and that output resolved again.
    fn round_trip(text: &str) -> (Config, Config) {
        let first = parse(text, "first.toml").unwrap();
        let printed = first.describe();
        let second = parse(&printed, "printed.toml").unwrap_or_else(|e| panic!("{e}\n{printed}"));
        (first, second)
    }

    #[test]
    fn config_check_output_reads_back_as_the_same_config() {
        let file_transport = "[email]\noutbox_dir = \"mail\"\n[profile]\nmodel = \"models/x.model.json\"\n";
        let password_file = "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\
                             username = \"u\"\npassword_file = \"/run/secret\"\nallow_insecure_auth = true\n";
        for text in ["", DEFAULT_CONFIG_TOML, EVERYTHING, file_transport, password_file] {
            let (first, second) = round_trip(text);
            assert_eq!(first.to_raw(), second.to_raw(), "{text}");
            let body = |c: &Config| c.describe().split_once('\n').map(|(_, rest)| rest.to_string()).unwrap();
            assert_eq!(body(&first), body(&second));
            // Beyond the printed form: the settings the program runs on.
            assert_eq!((first.dedup, first.changes), (second.dedup, second.changes));
            assert_eq!(
                (first.feeds, first.email.to, first.http_listen),
                (second.feeds, second.email.to, second.http_listen)
            );
            assert_eq!((first.poll.max_body, first.digest.every), (second.poll.max_body, second.digest.every));
        }
    }

    #[test]
    fn describe_keeps_secrets_out_and_says_where_they_come_from() {
        let c = parse(EVERYTHING, "c.toml").unwrap();
        let out = c.describe();
        assert!(out.contains("password_env = \"SW_UNIT_TEST_PASSWORD\"  # NOT set; value hidden\n"), "{out}");
        assert!(out.contains("max_body = \"1500\"") && out.contains("expected_gap = \"1day 12h\""), "{out}");
        assert!(out.contains("[http]\nlisten = \"127.0.0.1:9464\"") && out.contains("min_reports = 1"), "{out}");
        assert!(!out.contains("built-in ai-openness profile") && !out.contains("# model:"), "{out}");
        let defaults = parse("", "c.toml").unwrap().describe();
        assert!(defaults.starts_with("# resolved from c.toml\n[storage]\n"), "{defaults}");
        assert!(defaults.ends_with("[profile]\n# built-in ai-openness profile\n# model: the profile's own (built-in, or NAME.model.json beside it)\n"), "{defaults}");
        assert!(!defaults.contains("[http]") && !defaults.contains("[[feed]]"), "{defaults}");
    }

    #[test]
    fn a_note_follows_its_value_even_one_spanning_lines() {
        let mut text = "a = 1\n\n[t]\nx = \"\"\"\none\ntwo\"\"\"\ny = 2\n".to_string();
        note_after_value(&mut text, "[t]", "x", "hidden");
        assert_eq!(text, "a = 1\n\n[t]\nx = \"\"\"\none\ntwo\"\"\"  # hidden\ny = 2\n");
        let mut text = "[t]\ny = 2\n\n[u]\nx = 'a'\n".to_string();
        note_after_value(&mut text, "[u]", "x", "n");
        assert!(text.ends_with("x = 'a'  # n\n"), "{text}");
    }

    #[test]
    fn sizes_and_days_are_printed_as_they_are_read() {
        for bytes in [1024, 1500, 15 << 20, 3 << 30, 1 << 40, (1 << 20) + 1] {
            assert_eq!(parse_size(&format_size(bytes)).unwrap(), bytes, "{}", format_size(bytes));
        }
        assert_eq!(format_size(15 << 20), "15MiB");
        assert_eq!(format_days(1460.0), "1460d");
        assert_eq!(parse_duration(&format_days(1.5)).unwrap(), Duration::from_secs(36 * 3600));
    }

    /// The settings that hold everywhere, whatever the config: feeds are the config's own.
    fn settings(text: &str) -> RawConfig {
        RawConfig { feed: Vec::new(), ..parse(text, "c.toml").unwrap().to_raw() }
    }

    #[test]
    fn the_default_file_says_what_an_empty_config_gets() {
        // The fallbacks in `validate` and the values written in config/stancewatch.toml agree, so
        // the file documents the defaults; the settings types' own defaults agree as well.
        assert_eq!(settings(DEFAULT_CONFIG_TOML), settings(""));
        let empty = parse("", "c.toml").unwrap();
        assert_eq!(empty.dedup, crate::dedup::DedupSettings::default());
        assert_eq!(empty.changes, crate::timeline::ChangeSettings::default());
    }

    #[test]
    fn the_readme_shows_the_defaults() {
        let readme = include_str!("../README.md");
        let section = &readme[readme.find("## Configuration").expect("a Configuration section")..];
        let block = section.split("```toml\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a toml block");
        let mut table: toml::Table = toml::from_str(block).unwrap();
        // Examples rather than defaults: a feed, the optional listener, a recipient.
        table.remove("feed");
        table.remove("http");
        table.get_mut("email").and_then(|e| e.as_table_mut()).and_then(|e| e.remove("to"));
        assert_eq!(settings(&toml::to_string(&table).unwrap()), settings(""), "README.md's config block");
    }
}
