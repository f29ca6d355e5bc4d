//! The endpoint's one database connection: read-only, owned by a thread of its own, which runs
//! the handlers' reads one at a time in the order they were asked for. However many clients
//! call, the database sees one reader and the async runtime never waits on SQLite.
//!
//! The connection is opened at the first read and opened again after a read fails, or once it
//! has served for [`MAX_AGE`] (so a fallback snapshot or a replaced database file is not read
//! for long). A handler waits at most [`BUSY_AFTER`] for its turn and its answer, and a full
//! queue refuses at once: either way the handler gets [`ReadError::Busy`]. A read its handler
//! stopped waiting for is not started, and one still running has its statements stopped, so a
//! slow query does not hold up the reads queued behind it.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::oneshot;

use crate::store::Store;

/// The longest a handler waits for the reader to take and answer its read.
pub const BUSY_AFTER: Duration = Duration::from_secs(3);
/// Reads waiting for the reader at most; one more is refused as busy.
const QUEUE: usize = 32;
/// A connection this old is closed and opened again before the next read.
const MAX_AGE: Duration = Duration::from_secs(60);

/// A read the reader thread runs with its connection.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the reader thread; clones share the thread. The thread ends when every handle
/// is gone.
#[derive(Clone)]
pub struct Reader {
    jobs: mpsc::SyncSender<Job>,
    busy_after: Duration,
}

/// Why a read has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The reader did not answer in time, or too many reads were waiting.
    #[error("busy: the database reader did not answer in time; try again")]
    Busy,
    /// The database could not be opened or the read failed: the error, for people.
    #[error("{0}")]
    Unreadable(String),
    /// The read panicked (the reader recovers and serves the next one).
    #[error("the database read crashed")]
    Crashed,
    /// The reader thread is gone.
    #[error("the database reader has stopped")]
    Stopped,
}

impl Reader {
    /// Start the reader thread for the database at `path` (opened at the first read).
    pub fn start(path: PathBuf) -> Result<Reader> {
        Reader::start_with(path, BUSY_AFTER)
    }

    /// A reader whose callers wait up to `busy_after` (the web view's pages, which may compute
    /// a history from many readings, wait longer than monitoring does).
    pub fn start_with(path: PathBuf, busy_after: Duration) -> Result<Reader> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("http-reader".into())
            .spawn(move || {
                let mut connection = Connection { path, store: None };
                while let Ok(job) = queue.recv() {
                    if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut connection))).is_err() {
                        tracing::error!("a database read for the HTTP endpoint panicked; reopening the connection");
                        connection.store = None;
                    }
                }
            })
            .context("cannot start the HTTP endpoint's database reader thread")?;
        Ok(Reader { jobs, busy_after })
    }

    /// Run `read` on the reader's connection and wait for its answer. An error from `read`
    /// closes the connection, so the next read opens it afresh.
    pub async fn read<T, F>(&self, read: F) -> Result<T, ReadError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        // Set when the handler stops waiting: the read is skipped, or its statements stopped.
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = abandoned.clone();
        let job: Job = Box::new(move |connection: &mut Connection| {
            if stop.load(Ordering::Relaxed) || reply.is_closed() {
                return; // no one wants this read any more
            }
            let result = match connection.store() {
                Ok(store) => store.stop_when(Some(stop)).and_then(|()| {
                    let result = read(store);
                    store.stop_when(None).and(result)
                }),
                Err(e) => Err(e),
            };
            if result.is_err() {
                connection.store = None;
            }
            let _ = reply.send(result.map_err(|e| format!("{e:#}")));
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ReadError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(ReadError::Stopped),
        }
        match tokio::time::timeout(self.busy_after, answer).await {
            Err(_) => {
                abandoned.store(true, Ordering::Relaxed);
                Err(ReadError::Busy)
            }
            Ok(Err(_)) => Err(ReadError::Crashed),
            Ok(Ok(result)) => result.map_err(ReadError::Unreadable),
        }
    }
}

/// The reader thread's connection, opened when first needed.
struct Connection {
    path: PathBuf,
    store: Option<(Store, Instant)>,
}

impl Connection {
    fn store(&mut self) -> Result<&Store> {
        if self.store.as_ref().is_some_and(|(_, opened)| opened.elapsed() >= MAX_AGE) {
            self.store = None;
        }
        if self.store.is_none() {
            self.store = Some((Store::open_read_only(&self.path)?, Instant::now()));
        }
        match &self.store {
            Some((store, _)) => Ok(store),
            None => unreachable!("opened just above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn opens_when_first_asked_and_again_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sw.db");
        let reader = Reader::start(path.clone()).unwrap();
        let rt = runtime();
        let count = || reader.read(|store| Ok(store.counts(chrono::Utc::now())?.stories));
        // No database yet: the open fails, and the reader stays up.
        match rt.block_on(count()) {
            Err(ReadError::Unreadable(e)) => assert!(e.contains("no database"), "{e}"),
            other => panic!("expected an unreadable database, got {other:?}"),
        }
        // The database appears: the next read opens it.
        drop(Store::open(&path).unwrap());
        assert_eq!(rt.block_on(count()), Ok(0));
        // A failing read is reported, and the one after it is served.
        let failed = rt.block_on(reader.read(|_| -> Result<()> { anyhow::bail!("a read went wrong") }));
        assert_eq!(failed, Err(ReadError::Unreadable("a read went wrong".into())));
        assert_eq!(rt.block_on(count()), Ok(0));
        // So is the one after a panic.
        let crashed = rt.block_on(reader.read(|_| -> Result<()> { panic!("a bug in a read") }));
        assert_eq!(crashed, Err(ReadError::Crashed));
        assert_eq!(rt.block_on(count()), Ok(0));
    }

    #[test]
    fn a_read_that_waits_too_long_is_answered_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sw.db");
        drop(Store::open(&path).unwrap());
        let reader = Reader::start_with(path, Duration::from_millis(200)).unwrap();
        let rt = runtime();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        // The first read holds the reader until the test lets it go.
        let slow = reader.clone();
        let held = rt.spawn(async move {
            slow.read(move |_| {
                let _ = started.send(());
                let _ = hold.recv();
                Ok(())
            })
            .await
        });
        rt.block_on(async {
            while running.try_recv().is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let waiting = rt.block_on(reader.read(|_| Ok(())));
        assert_eq!(waiting, Err(ReadError::Busy));
        release.send(()).unwrap();
        // The held read finished late, past its own wait; the reader is free again.
        let _ = rt.block_on(held).unwrap();
        let after = rt.block_on(async {
            loop {
                match reader.read(|store| Ok(store.counts(chrono::Utc::now())?.stories)).await {
                    Err(ReadError::Busy) => continue,
                    other => break other,
                }
            }
        });
        assert_eq!(after, Ok(0));
    }

    #[test]
    fn a_query_still_running_when_its_handler_gives_up_is_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sw.db");
        drop(Store::open(&path).unwrap());
        let reader = Reader::start_with(path, Duration::from_millis(200)).unwrap();
        let rt = runtime();
        // Counting to 10^12 would hold the reader for hours.
        let endless = rt.block_on(reader.read(|store| {
            store.query_count(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000000)
                 SELECT count(*) FROM n",
            )
        }));
        assert_eq!(endless, Err(ReadError::Busy));
        // The reads after it are answered: a few tries at most while the interrupt lands.
        let after = rt.block_on(async {
            for _ in 0..20 {
                match reader.read(|store| Ok(store.counts(chrono::Utc::now())?.stories)).await {
                    Err(ReadError::Busy) => continue,
                    other => return other,
                }
            }
            Err(ReadError::Busy)
        });
        assert_eq!(after, Ok(0));
    }
}
