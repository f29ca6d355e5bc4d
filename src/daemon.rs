//! `run`: the long-running service. Polls at once on start, then each feed when it falls due,
//! until SIGINT or SIGTERM. Shutdown stops new fetches, lets the writer finish the transaction
//! it is in, and returns, so the database is always consistent.

use std::time::{Duration, Instant};

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use tokio::sync::watch;

use crate::poll::{self, Pipeline};
use crate::store::Store;

/// The longest the scheduler sleeps before looking at the feeds table again (feeds added with
/// `feeds add` while the daemon runs are picked up within this time).
const MAX_IDLE: Duration = Duration::from_secs(60);
/// The first upkeep waits a little, so a start (or a restart loop) is not spent on it.
const UPKEEP_DELAY: Duration = Duration::from_secs(5 * 60);

/// One daemon per database: an exclusive advisory lock (`flock`) on `<database>.lock`, held for
/// the life of the process. The system releases it when the process ends, even by `kill -9`, so
/// a stale lock file never blocks a restart. Other commands do not take it: the outbox's claims
/// keep their sends exactly once beside the daemon.
pub struct DaemonLock {
    _file: std::fs::File,
}

/// `path` with its folder resolved (the file itself may not exist yet), else as given.
fn real_path(path: &Path) -> std::path::PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    match (path.parent().filter(|d| !d.as_os_str().is_empty()), path.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir).map(|d| d.join(name)).unwrap_or_else(|_| path.into()),
        (None, Some(name)) => std::env::current_dir().map(|d| d.join(name)).unwrap_or_else(|_| path.into()),
        _ => path.into(),
    }
}

pub fn lock_database(database: &Path) -> Result<DaemonLock> {
    use std::io::Write as _;
    if let Some(dir) = database.parent() {
        crate::private_fs::create_dir(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    // Keyed on the real path, so a database reached through a symlink is the same database.
    let path = crate::store::sidecar(&real_path(database), ".lock");
    let mut file = crate::private_fs::open_for_write(&path, false)
        .with_context(|| format!("cannot open the lock file {} for database {}", path.display(), database.display()))?;
    match file.try_lock() {
        Ok(()) => {
            // The holder's PID, for the message a second daemon prints.
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            Ok(DaemonLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            let holder = if holder.is_empty() { "another process".to_string() } else { format!("PID {holder}") };
            bail!(
                "database {} is in use by another `stancewatch run` ({holder}, lock {}): stop that one first, \
                 or give this one its own database with --db",
                database.display(),
                path.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| {
            format!("cannot lock {} for database {}: is the folder writable?", path.display(), database.display())
        }),
    }
}

pub async fn run(
    pipeline: &Pipeline,
    config: &crate::config::Config,
    mut store: Store,
    judge: Option<std::sync::Arc<crate::judge::Judge>>,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    tracing::info!(feeds = store.feeds()?.len(), database = %store.path().display(), "stancewatch started");
    if let Some(dir) = store.path().parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_fs::tighten(dir, crate::private_fs::Tighten::WarnOnly);
    }
    let mailer = crate::mail::Mailer::new(&config.email)?;
    if let Some(addr) = config.http_listen {
        let site = crate::http::SiteSettings { profile: pipeline.profile().clone(), changes: config.changes.clone() };
        crate::http::serve(addr, store.path().to_path_buf(), Some(site), true).await?;
    }
    let metrics = &crate::metrics::METRICS;
    metrics.beat();
    crate::service::notify("READY=1");
    crate::service::spawn_watchdog(|| crate::metrics::METRICS.stuck_for().is_none());
    let mut digest_checked = None;
    let mut next_upkeep = Instant::now() + UPKEEP_DELAY;
    let mut shutdown_rx = shutdown.clone();
    loop {
        metrics.beat();
        if *shutdown.borrow() {
            break;
        }
        let due = match store.due_feeds(Utc::now(), false) {
            Ok(due) => due,
            Err(e) => {
                // A database that cannot be read now (a lock held too long, an I/O error) is
                // retried; the health check reports it while it lasts.
                tracing::error!(error = %format!("{e:#}"), database = %store.path().display(), "cannot read the feeds; retrying in a minute");
                metrics.storage_failed(crate::store::is_busy(&e));
                wait_or_stop(&mut shutdown_rx, MAX_IDLE).await;
                continue;
            }
        };
        if !due.is_empty() {
            let started = Instant::now();
            let (returned, summary) = poll::poll_feeds(pipeline, store, due, shutdown.clone(), None).await;
            store = returned;
            metrics.cycle_done(started.elapsed().as_secs_f64(), summary.storage_errors.len(), summary.storage_busy);
            tracing::info!(
                feeds = summary.feeds,
                fetched = summary.fetched,
                not_modified = summary.not_modified,
                failed = summary.failures.len(),
                new = summary.new_stories,
                updated = summary.updated_stories,
                "poll cycle done"
            );
            if !summary.storage_errors.is_empty() {
                let what_to_do = if summary.storage_busy {
                    "another process held the database's write lock too long"
                } else {
                    "free disk space or make the database writable"
                };
                tracing::error!(
                    count = summary.storage_errors.len(),
                    first = %summary.storage_errors[0],
                    database = %store.path().display(),
                    "poll results not saved: {what_to_do}; the feeds are fetched again in a minute"
                );
                // Unsaved feeds are still due; without a pause they would be fetched again at once.
                wait_or_stop(&mut shutdown_rx, MAX_IDLE).await;
                continue;
            }
        }
        // Alerts, the period's digest, and retries. Mail trouble is logged and retried later;
        // it never stops polling. Once a stop is asked for, no mail is started (a send under
        // way finishes, within the service's stop timeout).
        if *shutdown.borrow() {
            break;
        }
        let stop = || *shutdown.borrow();
        match tokio::task::block_in_place(|| {
            let profile = pipeline.profile();
            crate::mail::scheduled(&mut store, config, profile, &mailer, &mut digest_checked, &stop)
        }) {
            Ok(d) if d.sent + d.waiting + d.failed > 0 => {
                tracing::info!(sent = d.sent, waiting = d.waiting, refused = d.failed, "mail delivered")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %format!("{e:#}"), "mail step failed; retrying next cycle"),
        }
        // The judge reads what this cycle stored, on its own task: nothing here waits for it.
        if let Some(guard) = judge.as_ref().and_then(|j| j.try_start()) {
            let task = crate::judge::background_pass(
                judge.clone().expect("a judge started a pass"),
                store.path().to_path_buf(),
                pipeline.profile().clone(),
                config.changes.clone(),
            );
            tokio::spawn(async move {
                let _running = guard;
                match task.await {
                    Ok(r) if r.judged + r.rejected + r.failed > 0 => tracing::info!(
                        judged = r.judged,
                        cached = r.cached,
                        requests = r.requests,
                        rejected = r.rejected,
                        failed = r.failed,
                        over_budget = r.over_budget,
                        "judge pass done"
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "judge pass failed; the stories keep the built-in reading and are judged later")
                    }
                }
            });
        }
        if Instant::now() >= next_upkeep {
            next_upkeep = Instant::now() + config.storage.maintenance_every;
            match tokio::task::block_in_place(|| store.upkeep(&config.storage, Utc::now())) {
                Ok(u) => tracing::info!(
                    irrelevant_text_dropped = u.irrelevant_blanked,
                    full_text_dropped = u.content_blanked,
                    free_mb = (u.free_pages * u.page_size) >> 20,
                    "database upkeep done"
                ),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "database upkeep failed; trying again next time"),
            }
        }
        let wait = match store.next_due_at() {
            Ok(Some(next)) => (next - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(MAX_IDLE),
            Ok(None) | Err(_) => MAX_IDLE,
        };
        tracing::debug!(wait_ms = wait.as_millis() as u64, "cycle finished (poll, mail, upkeep); waiting");
        wait_or_stop(&mut shutdown_rx, wait.max(Duration::from_millis(200))).await;
    }
    crate::service::notify("STOPPING=1");
    // Sends the server accepted while the database could not record them.
    if let Err(e) = tokio::task::block_in_place(|| crate::mail::finish_recording(&mut store, Duration::from_secs(20))) {
        tracing::error!(error = %format!("{e:#}"), "stopping with sent mail not recorded");
    }
    tracing::info!("stancewatch stopped");
    Ok(())
}

async fn wait_or_stop(shutdown: &mut watch::Receiver<bool>, wait: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
}

/// A watch channel that turns true on SIGINT or SIGTERM. A second signal ends the process at
/// once (exit 130): every write is a transaction and every send is claimed, so nothing is
/// half-done — at worst a message the server took is sent once more.
pub fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("shutdown requested; finishing what is in flight (a second signal stops at once)");
        let _ = tx.send(true);
        stop_signal().await;
        tracing::warn!("second stop signal: stopping now");
        std::process::exit(130);
    });
    rx
}

/// The next SIGINT or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
