//! The command line: arguments → settings → the library. No pipeline logic lives here.
//!
//! Exit codes are a contract: 0 success, 1 runtime failure, 2 usage or configuration error.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigError};
/// `--since D` and the like: `YYYY-MM-DD` or RFC 3339 (the parser lives with the library).
pub use crate::dates::parse_date;
use crate::output::{self, Column, Format};
use crate::poll::Pipeline;
use crate::stance::{Profile, Stance};
use crate::store::{FeedHealth, FeedRow, Store, StoryFilter, StoryRow};

#[derive(Parser, Debug)]
#[command(
    name = "stancewatch",
    version,
    about = "Watch news feeds for AI openness stories and track each organisation's stance"
)]
pub struct Cli {
    /// Config file [default: ./config/stancewatch.toml, else built-in defaults]
    #[arg(long, global = true, env = "STANCEWATCH_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database file (overrides [storage] database)
    #[arg(long, global = true, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Log line format on stderr
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: poll on schedule until SIGINT/SIGTERM
    Run,
    /// One poll cycle now over every due feed; prints a summary
    Poll {
        /// Poll every feed, due or not
        #[arg(long)]
        all: bool,
    },
    /// Manage subscriptions
    Feeds {
        #[command(subcommand)]
        action: FeedsCommand,
    },
    /// List stored stories, newest first
    Stories(StoriesArgs),
    /// Stance of every entity now (or as of date D), from the stored stories
    Stances {
        /// The stance as of D, from the stories published by then (YYYY-MM-DD or RFC 3339)
        #[arg(long, value_parser = parse_date, value_name = "D")]
        at: Option<DateTime<Utc>>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// An entity's stance timeline (a strip per year) and its change events
    History {
        /// Entity key (meta, openai, ...)
        entity: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Detected change events, oldest first
    Changes {
        /// Changes that happened on or after D
        #[arg(long, value_parser = parse_date, value_name = "D")]
        since: Option<DateTime<Utc>>,
        /// Only this entity's changes
        #[arg(long, value_name = "E")]
        entity: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Backfill archived items (JSON Lines in the classify shape, each with `published`)
    Import {
        file: PathBuf,
        /// The source the items are stored under (default: the file's name)
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
    },
    /// Compose a digest of what no digest has covered yet; print it, or queue and send it
    Digest {
        /// Cover story clusters first published since D (backfilled ones too)
        #[arg(long, value_parser = parse_date, value_name = "D")]
        since: Option<DateTime<Utc>>,
        /// Print the digest without recording or sending anything
        #[arg(long, conflicts_with = "send", required_unless_present = "send")]
        dry_run: bool,
        /// Store the digest in the outbox and send it (exit 1 if mail is left waiting)
        #[arg(long)]
        send: bool,
        /// With --dry-run: print the HTML part instead of the plain text
        #[arg(long, requires = "dry_run")]
        html: bool,
    },
    /// The outbox: mail waiting, sent and failed
    Outbox {
        #[command(subcommand)]
        action: OutboxCommand,
    },
    /// Classify JSON Lines items offline (no database): one JSON object per input line
    Classify {
        /// JSON Lines with `title` and optionally `id`, `summary`, `content`, `published` ("-" or nothing: stdin)
        file: Option<PathBuf>,
        /// Also print the evidence behind each result to standard error (cue, entity, score)
        #[arg(long)]
        explain: bool,
    },
    /// Score the classifier against labelled JSON Lines (stance macro-F1, relevance, shifts)
    Eval {
        /// Labelled JSON Lines files, read as one pool
        #[arg(required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Cross-validate: fit a model on K-1 folds, score it on the held-out fold, K times
        #[arg(long, value_name = "K")]
        folds: Option<usize>,
        /// The shuffle seed of --folds (the same seed gives the same folds)
        #[arg(long, default_value_t = 1, requires = "folds")]
        seed: u64,
        /// Also list every wrongly classified (item, entity)
        #[arg(long)]
        verbose: bool,
        /// Score the configured language-model judge ([judge]) instead of the built-in reader
        #[arg(long, conflicts_with = "folds")]
        judge: bool,
    },
    /// Run the language-model judge ([judge]) over stored stories now, or export what it judged
    Judge {
        /// Also judge again stories judged with another model or prompt version
        #[arg(long)]
        rejudge: bool,
        /// Stories to judge in this pass at most
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
        /// Write the judged stories as labelled JSON Lines (the corpus format, for `train`) and stop
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
    },
    /// Fit the built-in reader's model on labelled JSON Lines (deterministic: same items, same bytes)
    Train {
        /// Labelled JSON Lines files, read as one pool
        #[arg(required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Where to write the model (point `[profile] model` at it, or name it NAME.model.json beside the profile)
        #[arg(short, long, value_name = "MODEL.json")]
        output: PathBuf,
    },
    /// Serve the web view of the history (read-only): stances, timelines, changes, stories, feeds
    Serve {
        /// Address to listen on (a non-loopback address is served without authentication)
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: std::net::SocketAddr,
    },
    /// Feed health, last poll, stories today, mail waiting or refused, the last change
    Status {
        #[arg(long, value_enum, default_value = "table")]
        format: StatusFormat,
    },
    /// Database maintenance
    Db {
        #[command(subcommand)]
        action: DbCommand,
    },
    /// Configuration
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
}

/// `stories`' filters and format.
#[derive(clap::Args, Debug)]
struct StoriesArgs {
    /// Published on or after D (YYYY-MM-DD or RFC 3339)
    #[arg(long, value_parser = parse_date, value_name = "D")]
    since: Option<DateTime<Utc>>,
    /// Published before D
    #[arg(long, value_parser = parse_date, value_name = "D")]
    until: Option<DateTime<Utc>>,
    /// Only stories whose title or summary has every word of TEXT (full-text: a word also
    /// matches as a prefix, `licen` finds licence and license; case and accents are ignored)
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Every stored article (one per feed entry), not one line per story cluster
    #[arg(long)]
    all: bool,
    /// Only stories that speak about this entity (meta, openai, ...)
    #[arg(long, value_name = "E")]
    entity: Option<String>,
    /// Only stories giving the entity this stance
    #[arg(long, value_name = "S", value_parser = ["open", "closed", "mixed", "neutral"])]
    stance: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StatusFormat {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
enum FeedsCommand {
    /// Subscribed feeds with their health
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Subscribe to a feed
    Add {
        url: String,
        #[arg(long)]
        name: Option<String>,
        /// Poll interval for this feed, like 15m or 2h
        #[arg(long, value_parser = parse_interval)]
        interval: Option<std::time::Duration>,
    },
    /// Stop polling a feed (its stories stay)
    Remove { url: String },
    /// Subscribe to every feed in an OPML file
    Import { file: PathBuf },
    /// Print the subscriptions as OPML
    Export,
}

#[derive(Subcommand, Debug)]
enum OutboxCommand {
    /// Every stored message with its status, attempts and the server's reply
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Send every pending message now
    Retry,
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Apply pending migrations
    Migrate,
    /// Run SQLite's integrity check and report the schema version
    Check,
    /// Copy the live database to FILE (online backup)
    Backup { file: PathBuf },
    /// Apply [storage] retention, checkpoint the log, and rewrite the file without free pages
    Vacuum,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate the config and print the resolved settings (secrets hidden)
    Check,
}

/// A mistake in how the program was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    init_logging(&cli);
    // Few blocking threads: they parse feeds and resolve names; hundreds would only cost memory
    // (a stack and a malloc arena each) on a machine with a handful of cores.
    let runtime = match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(4).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        // Output piped into `head` and the like: the reader has what it wanted.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<crate::import::BadInput>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// glibc gives every thread that allocates its own malloc arena (up to 8 per core), each keeping
/// freed memory; two are plenty for one writer and a few workers, and keep the footprint small.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn init_logging(cli: &Cli) {
    let default = if matches!(cli.command, Command::Run) { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STANCEWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match cli.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let config = config::load(cli.config.as_deref())?;
    let db_path = cli.db.clone().unwrap_or_else(|| config.database.clone());
    let stdout = &mut std::io::stdout().lock();
    match cli.command {
        Command::Run => run_command(config, db_path).await,
        Command::Serve { listen } => serve_command(listen, config, db_path).await,
        Command::Poll { all } => poll_command(all, config, db_path, stdout).await,
        Command::Feeds { action } => feeds_command(action, config, db_path, stdout),
        Command::Stories(args) => stories_command(args, config, db_path, stdout),
        Command::Stances { at, format } => stances_command(at, format, config, db_path, stdout),
        Command::History { entity, format } => history_command(entity, format, config, db_path, stdout),
        Command::Changes { since, entity, format } => changes_command(since, entity, format, config, db_path, stdout),
        Command::Import { file, source } => import_command(file, source, config, db_path, stdout),
        Command::Digest { since, dry_run, send: _, html } => {
            digest_command(since, dry_run.then_some(html), config, db_path, stdout)
        }
        Command::Outbox { action } => outbox_command(action, config, db_path, stdout),
        Command::Classify { file, explain } => classify_command(file, explain, config, stdout).await,
        Command::Eval { files, judge: true, verbose, .. } => eval_judge_command(&files, verbose, config, stdout).await,
        Command::Eval { files, folds, seed, verbose, judge: false } => {
            eval_command(&files, folds, seed, verbose, config, stdout)
        }
        Command::Judge { rejudge, limit, export } => {
            judge_command(rejudge, limit, export, config, db_path, stdout).await
        }
        Command::Train { files, output } => train_command(&files, &output, config, stdout),
        Command::Status { format } => status_command(format, db_path, stdout),
        Command::Db { action } => db_command(action, config, db_path, stdout),
        Command::Config { action } => config_command(action, config, stdout),
    }
}

/// `config check`: the resolved config, secrets hidden.
fn config_command(action: ConfigCommand, config: Config, stdout: &mut dyn Write) -> Result<ExitCode> {
    match action {
        ConfigCommand::Check => write!(stdout, "{}", config.describe())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The topic profile the config names (`[profile] path`; the built-in one by default).
fn load_profile(config: &Config) -> Result<Profile> {
    Ok(Profile::load(config.profile_path.as_deref())?)
}

/// The judge `[judge]` configures, if any, with the profile's prompt.
fn judge_of(config: &Config, profile: &Profile) -> Result<Option<std::sync::Arc<crate::judge::Judge>>> {
    let Some(settings) = config.judge.clone() else { return Ok(None) };
    let prompt = crate::judge::JudgePrompt::load(config.profile_path.as_deref(), profile)?;
    let judge = crate::judge::Judge::new(settings, prompt, profile.stance.relevance_threshold)?;
    Ok(Some(std::sync::Arc::new(judge)))
}

/// `run`: the daemon, until SIGINT or SIGTERM.
async fn run_command(config: Config, db_path: PathBuf) -> Result<ExitCode> {
    // Signals first: a stop asked for while starting up is seen as soon as the daemon
    // loop begins (a second one ends the process at once).
    let shutdown = crate::daemon::shutdown_signal();
    let _lock = crate::daemon::lock_database(&db_path)?;
    let pipeline = Pipeline::new(&config, reader(&config)?)?;
    let judge = judge_of(&config, pipeline.profile())?;
    let mut store = open_synced(&config, &db_path)?;
    pipeline.reread_stored(&mut store)?;
    crate::daemon::run(&pipeline, &config, store, judge, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// `serve`: the web view until SIGINT/SIGTERM. The database must exist (it is never created or
/// migrated here); the daemon may be writing it meanwhile.
async fn serve_command(listen: std::net::SocketAddr, config: Config, db_path: PathBuf) -> Result<ExitCode> {
    let mut shutdown = crate::daemon::shutdown_signal();
    let profile = load_profile(&config)?;
    drop(Store::open_existing(&db_path)?);
    let site = crate::http::SiteSettings { profile, changes: config.changes.clone() };
    crate::http::serve(listen, db_path.clone(), Some(site), false).await?;
    eprintln!("stancewatch: serving {} at http://{listen}/ (Ctrl-C to stop)", db_path.display());
    let _ = shutdown.wait_for(|stop| *stop).await;
    Ok(ExitCode::SUCCESS)
}

/// `poll`: one cycle over the due feeds (every feed with `all`), and its summary.
async fn poll_command(all: bool, config: Config, db_path: PathBuf, stdout: &mut dyn Write) -> Result<ExitCode> {
    let pipeline = Pipeline::new(&config, reader(&config)?)?;
    let mut store = open_synced(&config, &db_path)?;
    pipeline.reread_stored(&mut store)?;
    let feeds = store.due_feeds(Utc::now(), all)?;
    let gone = store.feeds()?.iter().filter(|f| f.gone_at.is_some()).count();
    let progress = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(feeds.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} feeds {elapsed}") {
            bar.set_style(style);
        }
        bar
    });
    let shutdown = crate::daemon::shutdown_signal();
    let (_store, summary) = crate::poll::poll_feeds(&pipeline, store, feeds, shutdown, progress).await;
    write!(stdout, "{}", summary.report())?;
    if gone > 0 {
        writeln!(stdout, "{gone} gone feeds not polled (see `stancewatch feeds list`)")?;
    }
    if !summary.storage_errors.is_empty() {
        let what_to_do = if summary.storage_busy {
            "another process held the database's write lock too long; poll again"
        } else {
            "check free disk space and that the file is writable"
        };
        anyhow::bail!(
            "{} poll results could not be saved to {}: {} — {what_to_do}",
            summary.storage_errors.len(),
            db_path.display(),
            summary.storage_errors[0]
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `stories`: one line per story cluster (every article with `--all`), filtered.
fn stories_command(args: StoriesArgs, config: Config, db_path: PathBuf, stdout: &mut dyn Write) -> Result<ExitCode> {
    let StoriesArgs { since, until, search, limit, all, entity, stance, format } = args;
    if stance.is_some() && entity.is_none() {
        return Err(UsageError("--stance needs --entity (whose stance?)".into()).into());
    }
    let profile = load_profile(&config)?;
    if let Some(e) = &entity {
        known_entity(&profile, e)?;
    }
    let store = Store::open_existing(&db_path)?;
    let stance = stance.as_deref().and_then(Stance::parse);
    let rows =
        store.stories(&StoryFilter { since, until, search, limit, all, entity, stance, ..Default::default() })?;
    let columns = if all { article_columns() } else { cluster_columns() };
    output::print(stdout, format, &rows, &columns)?;
    Ok(ExitCode::SUCCESS)
}

/// `stances`: every entity's stance now, or as of `at`.
fn stances_command(
    at: Option<DateTime<Utc>>,
    format: Format,
    config: Config,
    db_path: PathBuf,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    let profile = load_profile(&config)?;
    let store = Store::open_existing(&db_path)?;
    let rows = crate::history::stances(&store, &profile, &config.changes, at.map(|d| d.date_naive()))?;
    output::print(stdout, format, &rows, &crate::history::stance_columns())?;
    Ok(ExitCode::SUCCESS)
}

/// `history ENTITY`: the entity's stance strip and its change events.
fn history_command(
    entity: String,
    format: Format,
    config: Config,
    db_path: PathBuf,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    let profile = load_profile(&config)?;
    known_entity(&profile, &entity)?;
    let store = Store::open_existing(&db_path)?;
    let report = crate::history::history(&store, &profile, &config.changes, &entity, Utc::now().date_naive())?;
    crate::history::print_history(stdout, format, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// `changes`: the detected change events, of one entity or all.
fn changes_command(
    since: Option<DateTime<Utc>>,
    entity: Option<String>,
    format: Format,
    config: Config,
    db_path: PathBuf,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    let profile = load_profile(&config)?;
    if let Some(e) = &entity {
        known_entity(&profile, e)?;
    }
    let store = Store::open_existing(&db_path)?;
    let rows = store.changes(entity.as_deref(), since.map(|d| d.date_naive()))?;
    crate::history::print_changes(stdout, format, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// `import FILE`: archived items stored as backfill of a source.
fn import_command(
    file: PathBuf,
    source: Option<String>,
    config: Config,
    db_path: PathBuf,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    let pipeline = Pipeline::new(&config, reader(&config)?)?;
    let (text, origin) = read_input(Some(&file))?;
    let source =
        source.unwrap_or_else(|| file.file_stem().map_or("import".to_string(), |s| s.to_string_lossy().into_owned()));
    let mut store = open_synced(&config, &db_path)?;
    pipeline.reread_stored(&mut store)?;
    let r = crate::import::import(&pipeline, &mut store, &text, &origin, &source)?;
    writeln!(
        stdout,
        "imported {} items from {origin} as source `{source}`: {} new, {} updated, {} unchanged ({} joined existing story clusters)",
        r.items, r.stored.new, r.stored.updated, r.stored.unchanged, r.stored.clustered
    )?;
    writeln!(
        stdout,
        "stance changes: {} confirmed, {} possible, {} upgraded, {} withdrawn (see `stancewatch changes`)",
        r.changes.new_confirmed, r.changes.new_possible, r.changes.upgraded, r.changes.withdrawn
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `classify [FILE|-]`: JSON Lines items in, one classification per line out (no database).
async fn classify_command(
    file: Option<PathBuf>,
    explain: bool,
    config: Config,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    let classifier = reader(&config)?;
    // With --explain, a configured judge is asked too, to show where it would read otherwise.
    let judge = if explain { judge_of(&config, classifier.profile())? } else { None };
    let (text, source) = read_input(file.as_deref())?;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // The same checks as `import`: a bad `published` is an error, not ignored.
        let crate::import::Item { input: item, published } =
            crate::import::parse_item(line, n + 1, &source).map_err(UsageError)?;
        let (c, trace) = classifier.explain(&crate::stance::StoryText {
            title: &item.title,
            summary: item.summary.as_deref().unwrap_or(""),
            content: item.content.as_deref().unwrap_or(""),
            published: published.map(|d| d.date_naive()),
        });
        let id = item.id.unwrap_or_else(|| serde_json::Value::String((n + 1).to_string()));
        if explain {
            for line in trace {
                eprintln!("{id}: {line}");
            }
            eprintln!("{id}: decided by the built-in reader");
            if let Some(judge) = &judge {
                let summary = item.summary.as_deref().unwrap_or("");
                eprintln!("{id}: {}", judge_says(judge, &item.title, summary).await);
            }
        }
        let out = serde_json::json!({
            "id": id, "relevant": c.relevant, "entities": c.entities, "shifts": c.shifts, "reader": "built-in",
        });
        writeln!(stdout, "{out}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What the judge reads in one item, for `classify --explain` (stored stories take its reading
/// when it is accepted; `classify` itself always prints the built-in reader's).
async fn judge_says(judge: &crate::judge::Judge, title: &str, summary: &str) -> String {
    match judge.judge_text(title, summary).await {
        Ok((_, c)) => {
            let stances: Vec<String> =
                c.entities.iter().map(|e| format!("{} {} (\"{}\")", e.entity, e.stance.as_str(), e.evidence)).collect();
            format!(
                "the judge ({}) reads it as {}: {}",
                judge.key(),
                if c.relevant { "relevant" } else { "not relevant" },
                if stances.is_empty() { "no organisation".to_string() } else { stances.join(", ") }
            )
        }
        Err(e) => format!("the judge ({}) gave no usable answer: {e}", judge.key()),
    }
}

/// `eval FILE...`: the reader's figures on labelled items, or cross-validated ones with `folds`.
fn eval_command(
    files: &[PathBuf],
    folds: Option<usize>,
    seed: u64,
    verbose: bool,
    config: Config,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    let items = read_labelled_files(files)?;
    match folds {
        Some(k) => {
            if k < 2 || k > items.len() {
                return Err(UsageError(format!(
                    "--folds {k}: needs at least 2 folds and no more folds than items ({})",
                    items.len()
                ))
                .into());
            }
            let rules = crate::stance::Classifier::new(load_profile(&config)?);
            let settings = crate::stance::TrainSettings::default();
            let cv = crate::stance::eval::cross_validate(&rules, &items, k, seed, &settings);
            write!(stdout, "{}", cv.render(verbose))?;
        }
        None => {
            let report = crate::stance::eval::evaluate(&reader(&config)?, &items);
            write!(stdout, "{}", report.render(verbose))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `eval FILE... --judge`: the configured judge's figures on labelled items (an item whose
/// answer failed or was rejected counts as the judge saying nothing: irrelevant, all neutral).
async fn eval_judge_command(
    files: &[PathBuf],
    verbose: bool,
    config: Config,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    let items = read_labelled_files(files)?;
    let profile = load_profile(&config)?;
    let Some(judge) = judge_of(&config, &profile)? else {
        return Err(UsageError("eval --judge: the config has no [judge] section (see README: the judge)".into()).into());
    };
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(judge.settings.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, item) in items.iter().enumerate() {
        let (judge, limit) = (judge.clone(), limit.clone());
        let (title, summary) = (item.title.clone(), item.summary.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, judge.judge_text(&title, &summary).await)
        });
    }
    let mut readings = vec![None; items.len()];
    let (mut rejected, mut failed) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (i, result) = done?;
        match result {
            Ok((_, reading)) => readings[i] = Some(reading),
            Err(crate::judge::JudgeError::Rejected(why)) => {
                rejected += 1;
                tracing::info!(item = i + 1, reason = %why, "answer rejected");
            }
            Err(crate::judge::JudgeError::Call(e)) => {
                failed += 1;
                tracing::warn!(item = i + 1, error = %e, "no answer");
            }
        }
    }
    let silent = || crate::stance::Classification { relevant: false, relevance: 0.0, entities: vec![], shifts: vec![] };
    let mut next = readings.into_iter();
    let report = crate::stance::eval::evaluate_with(&items, |_| next.next().flatten().unwrap_or_else(silent));
    writeln!(
        stdout,
        "judge: {} at {} (prompt {})",
        judge.settings.model, judge.settings.endpoint, judge.prompt.version
    )?;
    writeln!(
        stdout,
        "answers: {} accepted, {rejected} rejected, {failed} failed (counted as saying nothing)",
        items.len() - rejected - failed
    )?;
    write!(stdout, "{}", report.render(verbose))?;
    Ok(ExitCode::SUCCESS)
}

/// `judge`: one pass over the stored stories now (and their timelines), or `--export FILE`.
async fn judge_command(
    rejudge: bool,
    limit: usize,
    export: Option<PathBuf>,
    config: Config,
    db_path: PathBuf,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    if let Some(file) = export {
        let store = Store::open_existing(&db_path)?;
        let rows = store.judged_as_corpus()?;
        let mut text = String::new();
        for row in &rows {
            text.push_str(&row.to_string());
            text.push('\n');
        }
        std::fs::write(&file, text)
            .with_context(|| format!("cannot write {} (check the folder exists and is writable)", file.display()))?;
        writeln!(
            stdout,
            "wrote {} judged stories to {} (labelled JSON Lines: `stancewatch train` reads it)",
            rows.len(),
            file.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let pipeline = Pipeline::new(&config, reader(&config)?)?;
    let Some(judge) = judge_of(&config, pipeline.profile())? else {
        return Err(UsageError("judge: the config has no [judge] section (see README: the judge)".into()).into());
    };
    let mut store = open_synced(&config, &db_path)?;
    pipeline.reread_stored(&mut store)?;
    let started = Utc::now();
    let last_before = store.max_story_id()?;
    let report = judge.pass(&mut store, rejudge, Some(limit)).await?;
    let changes = pipeline.refresh_timelines(&mut store, last_before, started)?;
    writeln!(
        stdout,
        "judged {} stories ({} from the cache, {} requests): {} answers rejected, {} requests failed, {} left for tomorrow's budget",
        report.judged, report.cached, report.requests, report.rejected, report.failed, report.over_budget
    )?;
    writeln!(
        stdout,
        "stance changes: {} confirmed, {} possible, {} upgraded, {} withdrawn",
        changes.new_confirmed, changes.new_possible, changes.upgraded, changes.withdrawn
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `train FILE... -o MODEL.json`: fit the reader's model and write it.
fn train_command(files: &[PathBuf], output: &Path, config: Config, stdout: &mut dyn Write) -> Result<ExitCode> {
    let items = read_labelled_files(files)?;
    let rules = crate::stance::Classifier::new(load_profile(&config)?);
    let started = std::time::Instant::now();
    let model = crate::stance::model::train(&rules, &items, &crate::stance::TrainSettings::default());
    std::fs::write(output, model.to_json()).with_context(|| {
        format!("cannot write the model to {} (check the folder exists and is writable)", output.display())
    })?;
    writeln!(
        stdout,
        "trained on {} items ({} story-organisation pairs) in {:.1} s: {}",
        model.trained_on.items,
        model.trained_on.pairs,
        started.elapsed().as_secs_f64(),
        output.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `status`: the service at a glance, for people or as JSON.
fn status_command(format: StatusFormat, db_path: PathBuf, stdout: &mut dyn Write) -> Result<ExitCode> {
    // A read-only or full database can still be inspected.
    let store = Store::open_existing(&db_path)?;
    let now = Utc::now();
    let status = crate::status::gather(&store, now)?;
    match format {
        StatusFormat::Table => write!(stdout, "{}", status.table(now))?,
        StatusFormat::Json => {
            serde_json::to_writer_pretty(&mut *stdout, &status)?;
            writeln!(stdout)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `outbox list|retry`: the stored mail, or a send of everything pending (exit 1 if any is left).
fn outbox_command(action: OutboxCommand, config: Config, db_path: PathBuf, stdout: &mut dyn Write) -> Result<ExitCode> {
    match action {
        OutboxCommand::List { format } => {
            let rows = Store::open_existing(&db_path)?.outbox()?;
            output::print(stdout, format, &rows, &outbox_columns())?;
        }
        OutboxCommand::Retry => {
            if !db_path.exists() {
                anyhow::bail!("no database at {}: there is no mail to retry", db_path.display());
            }
            let mut store = Store::open(&db_path)?;
            let d = send_mail(&mut store, &config, true)?;
            writeln!(stdout, "{} sent, {} waiting to be retried, {} refused", d.sent, d.waiting, d.failed)?;
            if d.waiting + d.failed > 0 {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Send what is due (everything pending with `all`) from a one-shot command. SIGINT or SIGTERM
/// stops it between messages; sends the server accepted are recorded before it returns.
fn send_mail(store: &mut Store, config: &Config, all: bool) -> Result<crate::mail::Delivery> {
    let mailer = crate::mail::Mailer::new(&config.email)?;
    let shutdown = crate::daemon::shutdown_signal();
    let delivered = crate::mail::deliver(store, &mailer, &config.email, all, &|| *shutdown.borrow());
    crate::mail::finish_recording(store, std::time::Duration::from_secs(120))?;
    delivered
}

/// SQLite's page cache for `digest`, which reads every pending story once, in cluster order.
const DIGEST_PAGE_CACHE_KIB: u32 = 256;

/// `digest`: compose what no digest has covered; print it (`dry_run`: `Some(html)`), or queue it
/// and send it (exit 1 if mail is left waiting).
fn digest_command(
    since: Option<DateTime<Utc>>,
    dry_run: Option<bool>,
    config: Config,
    db_path: PathBuf,
    stdout: &mut dyn Write,
) -> Result<ExitCode> {
    let profile = load_profile(&config)?;
    // A dry run only reads.
    let mut store = if dry_run.is_some() { Store::open_existing(&db_path)? } else { open_synced(&config, &db_path)? };
    store.limit_page_cache(DIGEST_PAGE_CACHE_KIB)?;
    let now = Utc::now();
    // To the nanosecond: two manual digests in one second are two digests.
    let period = format!("manual:{}", now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
    if let Some(html) = dry_run {
        match crate::mail::compose_digest(&store, &config, &profile, since, now)? {
            Some(c) if html => write!(stdout, "{}", c.html)?,
            Some(c) => write!(stdout, "Subject: {}\n\n{}", c.subject, c.text)?,
            None => writeln!(stdout, "nothing new since the last digest: no digest composed")?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(queued) = crate::mail::queue_digest(&mut store, &config, &profile, since, &period, now)? else {
        writeln!(stdout, "nothing new since the last digest: no digest composed")?;
        return Ok(ExitCode::SUCCESS);
    };
    let d = send_mail(&mut store, &config, false)?;
    writeln!(
        stdout,
        "digest of {} story clusters ({} older backfilled ones counted) to {} recipients: {} sent, {} waiting, {} refused",
        queued.clusters, queued.backfilled, queued.messages, d.sent, d.waiting, d.failed
    )?;
    if d.waiting + d.failed > 0 {
        writeln!(
            stdout,
            "mail left in the outbox: `stancewatch outbox list` shows why; `stancewatch outbox retry` sends it"
        )?;
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn outbox_columns() -> Vec<Column<crate::store::OutboxRow>> {
    vec![
        Column::new("id", 6, |r: &crate::store::OutboxRow| r.id.to_string()),
        Column::new("kind", 6, |r| r.kind.clone()),
        Column::new("to", 30, |r| r.recipient.clone()),
        Column::new("status", 8, |r| r.status.clone()),
        Column::new("attempts", 8, |r| r.attempts.to_string()),
        Column::new("created", 20, |r| r.created_at.clone()),
        Column::new("sent", 20, |r| r.sent_at.clone().unwrap_or_default()),
        Column::new("reply / error", 80, |r| r.server_reply.clone().or(r.last_error.clone()).unwrap_or_default()),
        Column::new("subject", 60, |r| r.subject.clone()),
    ]
}

/// A usage error unless the profile has an entity `key`.
fn known_entity(profile: &Profile, key: &str) -> Result<()> {
    if profile.entity(key).is_none() {
        let keys: Vec<&str> = profile.entities.iter().map(|x| x.key.as_str()).collect();
        return Err(UsageError(format!("unknown entity `{key}`: the profile has {}", keys.join(", "))).into());
    }
    Ok(())
}

/// The stance reader the config asks for (`[profile] path` and `model`).
fn reader(config: &Config) -> Result<crate::stance::Classifier> {
    Ok(crate::stance::model::load_classifier(config.profile_path.as_deref(), &config.model)?)
}

/// Labelled items from one or more JSON Lines files, as one pool.
fn read_labelled_files(files: &[PathBuf]) -> Result<Vec<crate::stance::eval::LabelledItem>> {
    let mut items = Vec::new();
    for file in files {
        let (text, source) = read_input(Some(file))?;
        items.extend(crate::stance::eval::read_labelled(&text, &source).map_err(UsageError)?);
    }
    Ok(items)
}

/// A file's text, or standard input for `None` / "-"; with a name for error messages.
fn read_input(file: Option<&Path>) -> Result<(String, String)> {
    match file {
        Some(p) if p != Path::new("-") => {
            let text =
                std::fs::read_to_string(p).map_err(|e| UsageError(format!("cannot read {}: {e}", p.display())))?;
            Ok((text, p.display().to_string()))
        }
        _ => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("cannot read standard input")?;
            Ok((text, "standard input".to_string()))
        }
    }
}

/// Open the database and bring its feed list in line with the config.
fn open_synced(config: &Config, db_path: &Path) -> Result<Store> {
    let mut store = Store::open(db_path)?;
    store.sync_config_feeds(&config.feeds)?;
    Ok(store)
}

/// `db migrate|check|backup|vacuum`.
fn db_command(action: DbCommand, config: Config, db_path: PathBuf, out: &mut dyn Write) -> Result<ExitCode> {
    match action {
        DbCommand::Migrate => {
            let mut store = Store::open_unmigrated(&db_path)?;
            let applied = store.migrate()?;
            if applied.is_empty() {
                writeln!(out, "{}: schema is up to date (version {})", db_path.display(), store.schema_version()?)?;
            } else {
                writeln!(out, "{}: applied {}", db_path.display(), applied.join(", "))?;
            }
            // Timeline summaries a new schema (or another configuration) left out of date are
            // saved now, so `serve` on this database does not compute them per page. Derived
            // data: when it cannot be done, the next poll does it.
            let saved = load_profile(&config)
                .and_then(|profile| crate::timeline::save_missing_summaries(&mut store, &profile, &config.changes));
            match saved {
                Ok(0) => {}
                Ok(n) => writeln!(out, "{}: saved {n} organisations' timeline summaries", db_path.display())?,
                Err(e) => eprintln!("stancewatch: timeline summaries not saved ({e:#}); the next poll saves them"),
            }
        }
        DbCommand::Check => {
            if !db_path.exists() {
                return Err(UsageError(format!(
                    "no database at {}: run `stancewatch poll` first, or pass --db",
                    db_path.display()
                ))
                .into());
            }
            // A full disk or read-only file system still allows the check.
            let store = Store::open_unmigrated(&db_path).or_else(|_| Store::open_read_only(&db_path))?;
            let report = store.check()?;
            writeln!(out, "database: {}", db_path.display())?;
            writeln!(out, "integrity: {}", report.integrity.join("; "))?;
            writeln!(out, "schema version: {} (latest {})", report.schema_version, report.latest_version)?;
            if report.empty {
                writeln!(out, "empty: not set up yet (the next `poll` or `db migrate` sets it up)")?;
            }
            writeln!(out, "feeds: {}, stories: {}", report.feeds, report.stories)?;
            if !report.ok() {
                writeln!(
                    out,
                    "problems found: restore a backup (`stancewatch db backup` makes one) or run `db migrate`"
                )?;
                return Ok(ExitCode::from(1));
            }
        }
        DbCommand::Backup { file } => {
            // As it is, schema and all: a backup taken before an upgrade is of the old version.
            if !db_path.exists() {
                anyhow::bail!("no database at {}: nothing to back up", db_path.display());
            }
            let store = Store::open_read_only(&db_path)?;
            store.backup_to(&file)?;
            writeln!(out, "backed up {} to {}", db_path.display(), file.display())?;
        }
        DbCommand::Vacuum => {
            let mut store = Store::open(&db_path)?;
            let upkeep = store.upkeep(&config.storage, Utc::now())?;
            if upkeep.irrelevant_blanked + upkeep.content_blanked > 0 {
                writeln!(
                    out,
                    "retention: dropped the text of {} not-relevant stories and the full text of {} stories",
                    upkeep.irrelevant_blanked, upkeep.content_blanked
                )?;
            }
            let (before, after) = store.vacuum()?;
            writeln!(out, "{}: {} MB -> {} MB", db_path.display(), before >> 20, after >> 20)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `feeds list|add|remove|import|export`.
fn feeds_command(action: FeedsCommand, config: Config, db_path: PathBuf, out: &mut dyn Write) -> Result<ExitCode> {
    let mut store = open_synced(&config, &db_path)?;
    match action {
        FeedsCommand::List { format } => {
            let now = Utc::now();
            let rows: Vec<FeedListRow> =
                store.feeds()?.into_iter().map(|f| FeedListRow { health: f.health(now), feed: f }).collect();
            output::print(out, format, &rows, &feed_columns())?;
        }
        FeedsCommand::Add { url, name, interval } => {
            config::check_feed_url(&url).map_err(UsageError)?;
            if interval.is_some_and(|i| i.as_secs() < 60) {
                return Err(UsageError("--interval must be at least 1m".into()).into());
            }
            let outcome = store.add_feed(&url, name.as_deref(), interval.map(|i| i.as_secs() as i64), "cli")?;
            writeln!(
                out,
                "{url}: {}",
                match outcome {
                    crate::store::AddOutcome::Added => "added",
                    crate::store::AddOutcome::Reactivated => "re-added",
                    crate::store::AddOutcome::AlreadySubscribed => "already subscribed",
                }
            )?;
        }
        FeedsCommand::Remove { url } => {
            if !store.remove_feed(&url)? {
                return Err(
                    UsageError(format!("no subscribed feed with URL {url} (see `stancewatch feeds list`)")).into()
                );
            }
            if config.feeds.iter().any(|f| f.url == url) {
                writeln!(
                    out,
                    "{url}: removed for now; it is listed in {} and comes back at the next start unless you delete it there",
                    config.source
                )?;
            } else {
                writeln!(out, "{url}: removed (its stories stay in the history)")?;
            }
        }
        FeedsCommand::Import { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let outlines = crate::opml::parse(&text).map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
            let (mut added, mut skipped) = (0, 0);
            for o in outlines {
                if let Err(problem) = config::check_feed_url(&o.url) {
                    writeln!(out, "skipped: {problem}")?;
                    skipped += 1;
                    continue;
                }
                match store.add_feed(&o.url, o.name.as_deref(), None, "opml")? {
                    crate::store::AddOutcome::AlreadySubscribed => skipped += 1,
                    _ => added += 1,
                }
            }
            writeln!(out, "imported {added} feeds from {} ({skipped} skipped)", file.display())?;
        }
        FeedsCommand::Export => {
            let feeds: Vec<(String, Option<String>)> =
                store.feeds()?.into_iter().map(|f| (f.url.clone(), Some(f.display_name().to_string()))).collect();
            write!(out, "{}", crate::opml::render(&feeds))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct FeedListRow {
    health: FeedHealth,
    #[serde(flatten)]
    feed: FeedRow,
}

fn feed_columns() -> Vec<Column<FeedListRow>> {
    vec![
        Column::new("id", 6, |r: &FeedListRow| r.feed.id.to_string()),
        Column::new("health", 11, |r| r.health.label().to_string()),
        Column::new("name", 30, |r| r.feed.display_name().to_string()),
        Column::new("url", 60, |r| r.feed.url.clone()),
        Column::new("last_poll", 20, |r| r.feed.last_polled_at.clone().unwrap_or_default()),
        Column::new("next_poll", 20, |r| r.feed.next_poll_at.clone().unwrap_or_default()),
        Column::new("failures", 8, |r| r.feed.consecutive_failures.to_string()),
        Column::new("error", 60, |r| r.feed.last_error.clone().unwrap_or_default()),
    ]
}

fn cluster_columns() -> Vec<Column<StoryRow>> {
    vec![
        Column::new("cluster", 8, |r: &StoryRow| r.cluster.to_string()),
        Column::new("published", 20, |r| r.published.clone()),
        Column::new("source", 24, |r| r.source.clone()),
        Column::new("title", 90, |r| r.title.clone()),
        Column::new("stances", 40, stances_cell),
        Column::new("coverage", 40, |r| {
            let others: Vec<&str> = r.sources.iter().map(String::as_str).filter(|s| *s != r.source).collect();
            match others.len() {
                0 if r.articles > 1 => format!("{} articles", r.articles),
                0 => String::new(),
                1 => format!("also covered by {}", others[0]),
                n => format!("also covered by {n} outlets"),
            }
        }),
        Column::new("url", 200, |r| r.url.clone().unwrap_or_default()),
    ]
}

/// "meta:open openai:closed" for the table view; "-" for stories not about openness.
fn stances_cell(r: &StoryRow) -> String {
    if r.relevant == Some(false) {
        return "-".into();
    }
    let cells: Vec<String> = r
        .entities
        .iter()
        .filter(|e| e.stance != Stance::Neutral)
        .map(|e| format!("{}:{}", e.entity, e.stance.as_str()))
        .collect();
    cells.join(" ")
}

fn article_columns() -> Vec<Column<StoryRow>> {
    vec![
        Column::new("id", 8, |r: &StoryRow| r.id.to_string()),
        Column::new("cluster", 8, |r| r.cluster.to_string()),
        Column::new("published", 20, |r| r.published.clone()),
        Column::new("source", 24, |r| r.source.clone()),
        Column::new("title", 90, |r| r.title.clone()),
        Column::new("stances", 40, stances_cell),
        Column::new("url", 200, |r| r.url.clone().unwrap_or_default()),
    ]
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    config::parse_duration(text)
}
