//! Typed configuration: the TOML file is parsed once, unknown keys are rejected, and every value
//! is validated into a [`Config`] that the rest of the program receives ready to use.
//!
//! Errors name the file, the key and (where TOML knows it) the line, because the person reading
//! them is editing that file. A missing default config is not an error: the binary carries the
//! default values, so it runs from any working directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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

#[derive(Debug, Clone, PartialEq)]
pub enum PasswordSource {
    Env(String),
    File(PathBuf),
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

// ---- the file's shape (serde), kept private: the rest of the program sees only `Config` ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
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
    #[serde(default)]
    profile: RawProfile,
    #[serde(default)]
    http: RawHttp,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
}

#[derive(Deserialize, Default)]
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    window: Option<String>,
    shingle_jaccard: Option<f64>,
    cluster_window: Option<String>,
    title_jaccard: Option<f64>,
    tracking_params: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    database: Option<String>,
    keep_irrelevant_text: Option<String>,
    keep_content: Option<String>,
    maintenance: Option<String>,
}

#[derive(Deserialize, Default)]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: String,
    name: Option<String>,
    interval: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    from: Option<String>,
    to: Option<Vec<String>>,
    transport: Option<String>,
    outbox_dir: Option<String>,
    smtp: Option<RawSmtp>,
}

#[derive(Deserialize)]
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    every: Option<String>,
    at: Option<String>,
    timezone: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    changes: Option<bool>,
}

#[derive(Deserialize, Default)]
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
    })
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
            let password = match (s.password_env, s.password_file) {
                (Some(_), Some(_)) => {
                    return Err(err("email.smtp.password_env", "set password_env or password_file, not both".into()));
                }
                (Some(var), None) => Some(PasswordSource::Env(var)),
                (None, Some(file)) => Some(PasswordSource::File(PathBuf::from(file))),
                (None, None) => None,
            };
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
    /// The resolved config as TOML-like text for `config check`. Secrets are never printed: only
    /// where they come from.
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let _ = writeln!(out, "# resolved from {}", self.source);
        let keep = |d: Option<Duration>| d.map_or("all".to_string(), |d| humantime::format_duration(d).to_string());
        let _ = writeln!(
            out,
            "[storage]\ndatabase = {:?}\nkeep_irrelevant_text = \"{}\"\nkeep_content = \"{}\"\nmaintenance = \"{}\"\n",
            abs(&self.database).display().to_string(),
            keep(self.storage.keep_irrelevant_text),
            keep(self.storage.keep_content),
            humantime::format_duration(self.storage.maintenance_every)
        );
        if let Some(addr) = self.http_listen {
            let _ = writeln!(out, "[http]\nlisten = \"{addr}\"\n");
        }
        let p = &self.poll;
        let _ = writeln!(
            out,
            "[poll]\ninterval = \"{}\"\nconcurrency = {}\nper_host = {}\ntimeout = \"{}\"\nmax_body = {}\n\
             max_backoff = \"{}\"\nmax_interval = \"{}\"\nuser_agent = {:?}\n",
            humantime::format_duration(p.interval),
            p.concurrency,
            p.per_host,
            humantime::format_duration(p.timeout),
            p.max_body,
            humantime::format_duration(p.max_backoff),
            humantime::format_duration(p.max_interval),
            p.user_agent
        );
        for f in &self.feeds {
            let _ = writeln!(out, "[[feed]]\nurl = {:?}", f.url);
            if let Some(n) = &f.name {
                let _ = writeln!(out, "name = {n:?}");
            }
            if let Some(i) = f.interval {
                let _ = writeln!(out, "interval = \"{}\"", humantime::format_duration(i));
            }
            out.push('\n');
        }
        let e = &self.email;
        let _ = writeln!(out, "[email]\nfrom = {:?}\nto = {:?}", e.from, e.to);
        match &e.transport {
            Transport::File { dir } => {
                let _ = writeln!(out, "transport = \"file\"\noutbox_dir = {:?}\n", abs(dir).display().to_string());
            }
            Transport::Smtp(s) => {
                let security = match s.security {
                    Security::StartTls => "starttls",
                    Security::Tls => "tls",
                    Security::None => "none",
                };
                let _ = writeln!(
                    out,
                    "transport = \"smtp\"\n\n[email.smtp]\nhost = {:?}\nport = {}\nsecurity = \"{security}\"",
                    s.host, s.port
                );
                if let Some(u) = &s.username {
                    let _ = writeln!(out, "username = {u:?}");
                }
                match &s.password {
                    Some(PasswordSource::Env(var)) => {
                        let set = if std::env::var_os(var).is_some() { "set" } else { "NOT set" };
                        let _ = writeln!(out, "password_env = {var:?}  # {set}; value hidden");
                    }
                    Some(PasswordSource::File(path)) => {
                        let _ = writeln!(out, "password_file = {:?}  # value hidden", path.display().to_string());
                    }
                    None => {}
                }
                let _ = writeln!(
                    out,
                    "allow_insecure_auth = {}\ntimeout = \"{}\"\n",
                    s.allow_insecure_auth,
                    humantime::format_duration(s.timeout)
                );
            }
        }
        let every = match self.digest.every {
            DigestEvery::Hourly => "hourly".to_string(),
            DigestEvery::Daily => "daily".to_string(),
            DigestEvery::Weekly => "weekly".to_string(),
            DigestEvery::Interval(d) => humantime::format_duration(d).to_string(),
        };
        let _ = writeln!(
            out,
            "[digest]\nevery = \"{every}\"\nat = \"{:02}:{:02}\"\ntimezone = \"{}\"\n",
            self.digest.at_minutes / 60,
            self.digest.at_minutes % 60,
            self.digest.timezone
        );
        let _ = writeln!(out, "[alerts]\nchanges = {}\n", self.alerts.changes);
        let d = &self.dedup;
        let _ = writeln!(
            out,
            "[dedup]\nwindow = \"{}\"\nshingle_jaccard = {}\ncluster_window = \"{}\"\ntitle_jaccard = {}\ntracking_params = {:?}\n",
            humantime::format_duration(std::time::Duration::from_secs(d.window_secs as u64)),
            d.shingle_jaccard,
            humantime::format_duration(std::time::Duration::from_secs(d.cluster_window_secs as u64)),
            d.title_jaccard,
            d.extra_tracking_params
        );
        let c = &self.changes;
        let _ = writeln!(
            out,
            "[changes]\nexpected_gap = \"{}d\"\nprior_strength = {}\nconfirm_posterior = {}\npossible_posterior = {}\nmin_reports = {}\nwindow = \"{}d\"\nmin_outlets = {}\nrequire_certain = {}\n",
            c.expected_days_between_changes.round(),
            c.prior_strength,
            c.confirm_posterior,
            c.possible_posterior,
            c.min_reports,
            c.window_days,
            c.min_outlets,
            c.require_certain
        );
        match &self.profile_path {
            Some(p) => {
                let _ = writeln!(out, "[profile]\npath = {:?}", p.display().to_string());
            }
            None => {
                let _ = writeln!(out, "[profile]\n# built-in ai-openness profile");
            }
        }
        let _ = writeln!(out, "{}", self.model.describe());
        out
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
}
