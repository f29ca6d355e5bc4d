//! `run`: the long-running service. Polls at once on start, then each feed when it falls due,
//! until SIGINT or SIGTERM. Shutdown stops new fetches, lets the writer finish the transaction
//! it is in, and returns, so the database is always consistent.

use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use tokio::sync::watch;

use crate::poll::{self, Pipeline};
use crate::store::Store;

/// The longest the scheduler sleeps before looking at the feeds table again (feeds added with
/// `feeds add` while the daemon runs are picked up within this time).
const MAX_IDLE: Duration = Duration::from_secs(60);

pub async fn run(
    pipeline: &Pipeline,
    config: &crate::config::Config,
    mut store: Store,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    tracing::info!(feeds = store.feeds()?.len(), database = %store.path().display(), "stancewatch started");
    let mailer = crate::mail::Mailer::new(&config.email)?;
    let mut digest_checked = None;
    let mut shutdown_rx = shutdown.clone();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let due = store.due_feeds(Utc::now(), false)?;
        if !due.is_empty() {
            let (returned, summary) = poll::poll_feeds(pipeline, store, due, shutdown.clone(), None).await;
            store = returned;
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
                tracing::error!(count = summary.storage_errors.len(), first = %summary.storage_errors[0], "poll results not saved");
            }
        }
        // Alerts, the period's digest, and retries. Mail trouble is logged and retried later;
        // it never stops polling.
        match tokio::task::block_in_place(|| {
            crate::mail::scheduled(&mut store, config, pipeline.classifier.profile(), &mailer, &mut digest_checked)
        }) {
            Ok(d) if d.sent + d.waiting + d.failed > 0 => {
                tracing::info!(sent = d.sent, waiting = d.waiting, refused = d.failed, "mail delivered")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %format!("{e:#}"), "mail step failed; retrying next cycle"),
        }
        let wait = match store.next_due_at()? {
            Some(next) => (next - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(MAX_IDLE),
            None => MAX_IDLE,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
            _ = shutdown_rx.wait_for(|stop| *stop) => {}
        }
    }
    tracing::info!("stancewatch stopped");
    Ok(())
}

/// A watch channel that turns true on SIGINT or SIGTERM.
pub fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
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
        tracing::info!("shutdown requested; finishing what is in flight");
        let _ = tx.send(true);
    });
    rx
}
