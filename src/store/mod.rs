//! SQLite: the only module that speaks SQL.
//!
//! A [`Store`] owns one connection. Pragmas are set on every open (WAL, foreign keys, a busy
//! timeout); migrations are the numbered files in `migrations/`, compiled into the binary,
//! applied in order inside one exclusive transaction and recorded in `schema_migrations` and
//! `PRAGMA user_version`. The connection is blocking: async code reaches it from one writer
//! thread or `spawn_blocking`, never from an async worker.

mod care;
mod feeds;
mod judge;
mod outbox;
mod status;
mod stories;
mod timeline;
mod values;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OpenFlags};

pub use care::Upkeep;
pub use feeds::{AddOutcome, FeedHealth, FeedRow, FeedState, FeedUpdate, PollRun};
pub use judge::{AcceptedJudgement, CandidateFilter, JudgeCandidate, JudgeCounts};
pub use outbox::{MessageBytes, NewMessage, OutboxRow, PendingCluster};
pub use status::StoreCounts;
pub use stories::{ClusterStance, StoredCounts, StoryEntity, StoryFilter, StoryRow, search_query};
pub use timeline::{ChangeRow, ChangeStamp, EvidenceRow, SavedChanges};

/// Every migration, in order. The number is the schema version it brings the database to.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("../../migrations/0001_init.sql")),
    ("0002_clusters.sql", include_str!("../../migrations/0002_clusters.sql")),
    ("0003_stance.sql", include_str!("../../migrations/0003_stance.sql")),
    ("0004_readings.sql", include_str!("../../migrations/0004_readings.sql")),
    ("0005_timeline.sql", include_str!("../../migrations/0005_timeline.sql")),
    ("0006_outbox.sql", include_str!("../../migrations/0006_outbox.sql")),
    ("0007_care.sql", include_str!("../../migrations/0007_care.sql")),
    ("0008_story_queries.sql", include_str!("../../migrations/0008_story_queries.sql")),
    ("0009_mention_basis.sql", include_str!("../../migrations/0009_mention_basis.sql")),
    ("0010_claimed_sends.sql", include_str!("../../migrations/0010_claimed_sends.sql")),
    ("0011_unread_stories.sql", include_str!("../../migrations/0011_unread_stories.sql")),
    ("0012_outbox_messages.sql", include_str!("../../migrations/0012_outbox_messages.sql")),
    ("0013_story_search.sql", include_str!("../../migrations/0013_story_search.sql")),
    ("0014_history_generation.sql", include_str!("../../migrations/0014_history_generation.sql")),
    ("0015_story_search_batched.sql", include_str!("../../migrations/0015_story_search_batched.sql")),
    ("0016_entity_summaries.sql", include_str!("../../migrations/0016_entity_summaries.sql")),
    ("0017_entity_rewrites.sql", include_str!("../../migrations/0017_entity_rewrites.sql")),
    ("0018_entity_readings_added_late.sql", include_str!("../../migrations/0018_entity_readings_added_late.sql")),
    ("0019_judge.sql", include_str!("../../migrations/0019_judge.sql")),
];

/// How long a write waits for another process's write to finish before it fails as busy.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What `db check` reports.
#[derive(Debug)]
pub struct CheckReport {
    pub integrity: Vec<String>,
    pub schema_version: i64,
    pub latest_version: i64,
    pub feeds: i64,
    pub stories: i64,
    /// No tables at all: a database never set up (for example stopped during its first
    /// migration, which is one transaction); the next `poll` or `db migrate` sets it up.
    pub empty: bool,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.integrity == ["ok"]
            && (self.schema_version == self.latest_version || (self.schema_version == 0 && self.empty))
    }
}

impl Store {
    /// Open (creating if needed) and migrate to the latest schema.
    pub fn open(path: &Path) -> Result<Store> {
        let mut store = Store::open_unmigrated(path)?;
        store.migrate()?;
        Ok(store)
    }

    /// Open without migrating (for `db check` and `db migrate`, which report what they find).
    pub fn open_unmigrated(path: &Path) -> Result<Store> {
        create_private_file(path)?;
        for own in [path.to_path_buf(), sidecar(path, "-wal"), sidecar(path, "-shm")] {
            crate::private_fs::tighten(&own, crate::private_fs::Tighten::Make);
        }
        let mut conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
                .with_context(|| format!("cannot open database {}", path.display()))?;
        // Every write transaction takes the write lock when it begins (BEGIN IMMEDIATE), so a
        // writer waits the busy timeout for another process instead of failing at its first
        // write after reading: a deferred transaction that read first cannot wait for the lock.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        configure(&conn).with_context(|| match care::disk_trouble(path) {
            Some(why) => format!("cannot use database {}: {why}", path.display()),
            None => format!("cannot use database {}: is it a SQLite file, and is the disk writable?", path.display()),
        })?;
        Ok(Store { conn, path: path.to_path_buf() })
    }

    /// Open an existing database to read it (`status`, `stories`, `history` ...): never creates
    /// or migrates one. A missing file or an older schema is an error that says what to run.
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !path.exists() {
            bail!("no database at {}: run `stancewatch poll` or `run` first, or pass --db", path.display());
        }
        let store = Store::open_read_only(path)?;
        let version = store.schema_version()?;
        if version < SCHEMA_VERSION {
            bail!(
                "database {} has schema version {version}, older than this stancewatch reads ({SCHEMA_VERSION}): \
                 run `stancewatch db migrate` (the daemon migrates it when it starts)",
                path.display()
            );
        }
        if version > SCHEMA_VERSION {
            bail!(
                "database {} has schema version {version}, newer than this stancewatch knows ({SCHEMA_VERSION}): \
                 upgrade stancewatch",
                path.display()
            );
        }
        Ok(store)
    }

    /// A read-only connection beside the daemon's writer (for `/healthz` and `/metrics`): WAL lets
    /// it read while the writer writes. Fails if the database does not exist.
    ///
    /// On a full disk or a read-only file system SQLite cannot create the shared-memory file a
    /// WAL reader needs; then the file is read as immutable (no locks, no shared memory), which
    /// is consistent as long as nothing can write to it — and nothing can.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            conn.busy_timeout(std::time::Duration::from_secs(2))?;
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
            Ok(conn)
        };
        let conn = match open() {
            Ok(conn) => conn,
            // Busy: another process is writing; reading it as immutable could see a torn state.
            Err(first) if sqlite_busy(&first) => {
                return Err(anyhow::Error::new(first).context(format!(
                    "cannot read database {}: another process held it for more than 2 s; try again",
                    path.display()
                )));
            }
            Err(first) => {
                if !path.exists() {
                    bail!("no database at {}", path.display());
                }
                let uri = format!("file:{}?immutable=1", uri_path(path));
                Connection::open_with_flags(uri, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)
                    .with_context(|| format!("cannot open database {} for reading ({first})", path.display()))?
            }
        };
        Ok(Store { conn, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The one number `sql` answers (tests of what reads the store, such as a slow query).
    #[cfg(test)]
    pub(crate) fn query_count(&self, sql: &str) -> Result<i64> {
        Ok(self.conn.query_row(sql, [], |r| r.get(0))?)
    }

    /// Stop this connection's statements once `abandoned` is set (checked every few thousand
    /// steps of SQLite's virtual machine; a stopped statement fails as interrupted), or never
    /// (None).
    pub fn stop_when(&self, abandoned: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>) -> Result<()> {
        match abandoned {
            Some(flag) => {
                self.conn.progress_handler(4096, Some(move || flag.load(std::sync::atomic::Ordering::Relaxed)))?
            }
            None => self.conn.progress_handler(0, None::<fn() -> bool>)?,
        }
        Ok(())
    }

    /// Run `f` in one IMMEDIATE transaction: whatever it reads, nothing another process writes
    /// can come between that and what it writes. `f` must not begin a transaction of its own.
    pub fn write<T>(&mut self, what: &str, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| write_failure(&self.path, what, e))?;
        match f(self) {
            Ok(value) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(write_failure(&self.path, what, e))
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Keep at most `kib` KiB of database pages in memory. A one-shot command that reads most of
    /// the database once, in no useful order, gains little from SQLite's default 2 MiB.
    pub fn limit_page_cache(&self, kib: u32) -> Result<()> {
        Ok(self.conn.pragma_update(None, "cache_size", -i64::from(kib))?)
    }

    /// This database's identity (drawn once, at migration): part of every Message-ID.
    pub fn instance_token(&self) -> Result<String> {
        Ok(self.conn.query_row("SELECT token FROM instance WHERE id = 1", [], |r| r.get(0))?)
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Apply pending migrations; returns the names applied. Migrating twice is a no-op.
    pub fn migrate(&mut self) -> Result<Vec<&'static str>> {
        self.migrate_to(SCHEMA_VERSION)
    }

    /// Apply the migrations up to schema version `target` (tests build older databases with it).
    fn migrate_to(&mut self, target: i64) -> Result<Vec<&'static str>> {
        let current = self.schema_version()?;
        if current > SCHEMA_VERSION {
            bail!(
                "database {} has schema version {current}, newer than this stancewatch knows ({SCHEMA_VERSION}): \
                 upgrade stancewatch, or restore a backup made by this version",
                self.path.display()
            );
        }
        if current >= target {
            return Ok(Vec::new());
        }
        let path = self.path.display().to_string();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
            .map_err(|e| write_failure(&self.path, "migrate", e))?;
        // Another process may have migrated between the check above and taking the lock.
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current >= target {
            return Ok(Vec::new());
        }
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )?;
        let mut applied = Vec::new();
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate().take(target as usize).skip(current as usize) {
            let version = i as i64 + 1;
            tx.execute_batch(sql).with_context(|| format!("migration {name} failed on {path}"))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, now_text()],
            )?;
            tx.pragma_update(None, "user_version", version)?;
            applied.push(*name);
        }
        tx.commit().with_context(|| format!("cannot commit migrations to {path}"))?;
        Ok(applied)
    }

    /// SQLite's integrity check plus the schema version and row counts.
    pub fn check(&self) -> Result<CheckReport> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let integrity = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        let schema_version = self.schema_version()?;
        let count = |table: &str| -> i64 {
            self.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap_or(0)
        };
        Ok(CheckReport {
            integrity,
            schema_version,
            latest_version: SCHEMA_VERSION,
            feeds: count("feeds"),
            stories: count("stories"),
            empty: count("sqlite_master") == 0,
        })
    }

    /// A consistent copy of the live database (SQLite's online backup), safe while polling runs.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            bail!("{} already exists: choose a new file name for the backup", dest.display());
        }
        create_private_file(dest)?;
        let mut target =
            Connection::open(dest).with_context(|| format!("cannot create backup file {}", dest.display()))?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut target)?;
        backup
            .run_to_completion(256, std::time::Duration::from_millis(5), None)
            .with_context(|| format!("backup to {} failed (is the disk full?)", dest.display()))?;
        Ok(())
    }
}

/// Begin a write transaction (IMMEDIATE: see [`Store::open_unmigrated`]), explaining a failure.
fn begin<'c>(conn: &'c mut Connection, path: &Path, what: &str) -> Result<rusqlite::Transaction<'c>> {
    conn.transaction().map_err(|e| write_failure(path, what, e))
}

/// Commit, explaining a failure.
fn commit(tx: rusqlite::Transaction<'_>, path: &Path, what: &str) -> Result<()> {
    tx.commit().map_err(|e| write_failure(path, what, e))
}

/// A write that failed, in words a user can act on: another process holding the write lock
/// past the busy timeout is said to be that, not a full disk.
pub(crate) fn write_failure(path: &Path, what: &str, e: rusqlite::Error) -> anyhow::Error {
    let why = if sqlite_busy(&e) {
        format!(
            "another process held its write lock for more than {} s (a long `db vacuum`, or another \
             stancewatch?); it is tried again",
            BUSY_TIMEOUT.as_secs()
        )
    } else {
        care::disk_trouble(path).unwrap_or_else(|| format!("{e} (is the disk full or the file read-only?)"))
    };
    anyhow::Error::new(e).context(format!("cannot {what} in {}: {why}", path.display()))
}

fn sqlite_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// A lock-contention error saying `why` (for results that share one failed write).
pub fn busy_error(why: String) -> anyhow::Error {
    let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
    anyhow::Error::new(busy).context(why)
}

/// The error (or one it wraps) is lock contention: another process held the database.
pub fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.downcast_ref::<rusqlite::Error>().is_some_and(sqlite_busy))
}

/// Set on every connection: WAL so readers never block the poller, NORMAL sync (durable across
/// a process crash; a power cut may lose the last commits, never corrupt), foreign keys on.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        tracing::warn!(mode, "database is not in WAL mode; readers may wait for writers");
    }
    // journal_size_limit: after a checkpoint the log is cut back to 64 MiB, so one burst of
    // writes does not leave a large WAL file for good.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = 67108864;")?;
    Ok(())
}

/// Create the file (and its folder) readable by the owner only, before SQLite opens it: the
/// WAL and shared-memory files SQLite adds take the same permissions.
fn create_private_file(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        crate::private_fs::create_dir(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    if !path.exists() {
        crate::private_fs::open_for_write(path, false)
            .with_context(|| format!("cannot create database file {}", path.display()))?;
    }
    Ok(())
}

/// A file SQLite keeps beside the database (`-wal`, `-shm`), or ours (`.lock`).
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `path` as the path part of an SQLite `file:` URI (absolute, with `%`, `?` and `#` escaped).
fn uri_path(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::new();
    for c in abs.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// The time format stored everywhere: RFC 3339 UTC with seconds, sortable as text.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn now_text() -> String {
    time_text(chrono::Utc::now())
}

pub fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|d| d.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_never_set_up_checks_clean() {
        // As left by a kill during the first migration (one transaction): no tables at all.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let store = Store::open_unmigrated(&path).unwrap();
        let report = store.check().unwrap();
        assert!(report.empty && report.ok(), "{report:?}");
        let store = Store::open(&path).unwrap();
        store.conn.execute_batch("PRAGMA user_version = 1").unwrap();
        assert!(!store.check().unwrap().ok(), "a half-known schema is a problem");
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert!(s.migrate().unwrap().is_empty());
        let report = s.check().unwrap();
        assert!(report.ok(), "{report:?}");
    }

    #[test]
    fn stance_rows_survive_the_rebuild_that_admits_passing_mentions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut s = Store::open_unmigrated(&path).unwrap();
        // A database as the previous release left it, with one story and its stance.
        s.migrate_to(8).unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO feeds (url, added_at) VALUES ('http://127.0.0.1/f.xml', '2025-01-01T00:00:00Z');
                 INSERT INTO stories (feed_id, entry_key, entry_key_kind, url, title, published_at, fetched_at, content_hash)
                     VALUES (1, 'g', 'guid', 'http://127.0.0.1/s', 't', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'h');
                 INSERT INTO story_entities (story_id, entity, stance, confidence, certainty, evidence, basis)
                     VALUES (1, 'meta', 'closed', 0.9, 'certain', 'why', 'dispute');",
            )
            .unwrap();
        assert_eq!(s.migrate().unwrap()[0], "0009_mention_basis.sql");
        let kept: (String, String) = s
            .conn
            .query_row("SELECT stance, basis FROM story_entities WHERE entity = 'meta'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(kept, ("closed".to_string(), "dispute".to_string()));
        s.conn
            .execute(
                "INSERT INTO story_entities (story_id, entity, stance, confidence, certainty, evidence, basis)
                 VALUES (1, 'openai', 'open', 0.5, 'certain', 'named beside meta', 'mention')",
                [],
            )
            .unwrap();
        // The view over the rebuilt table reads it.
        s.conn.execute_batch("UPDATE stories SET relevant = 1, cluster_id = id").unwrap();
        let closed: i64 = s
            .conn
            .query_row("SELECT closed_clusters FROM stance_by_month WHERE entity = 'meta'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(closed, 1);
        assert!(s.check().unwrap().ok());
    }

    #[test]
    fn unread_stories_are_found_through_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db")).unwrap();
        let plan: String = s
            .conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM stories WHERE relevant IS NULL AND id > 0 ORDER BY id LIMIT 5",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("stories_unread"), "{plan}");
    }

    #[test]
    fn outbox_rows_survive_the_rebuild_that_adds_claims_and_the_instance_is_drawn_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_unmigrated(&dir.path().join("t.db")).unwrap();
        s.migrate_to(9).unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO digests (period, created_at, clusters, backfilled) VALUES ('daily:2026-01-01', 't', 1, 0);
                 INSERT INTO outbox (kind, digest_id, recipient, message_id, subject, message, status, next_attempt_at, created_at)
                     VALUES ('digest', 1, 'a@example.org', '<x@example.org>', 's', x'00', 'pending', 't', 't'),
                            ('digest', 1, 'b@example.org', '<y@example.org>', 's', x'00', 'sent', 't', 't');",
            )
            .unwrap();
        assert_eq!(s.migrate_to(10).unwrap(), ["0010_claimed_sends.sql"]);
        let statuses: Vec<String> = s.outbox().unwrap().into_iter().map(|r| r.status).collect();
        assert_eq!(statuses, ["sent", "pending"]);
        let token = s.instance_token().unwrap();
        assert_eq!(token.len(), 16, "{token}");
        let other = Store::open(&dir.path().join("u.db")).unwrap();
        assert_ne!(other.instance_token().unwrap(), token, "each database draws its own");
        s.migrate().unwrap();
        assert!(s.check().unwrap().ok());
    }

    #[test]
    fn messages_survive_the_move_to_a_table_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_unmigrated(&dir.path().join("t.db")).unwrap();
        s.migrate_to(11).unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO digests (period, created_at, clusters, backfilled) VALUES ('daily:2026-01-01', 't', 1, 0);
                 INSERT INTO outbox (kind, digest_id, recipient, message_id, subject, message, status, next_attempt_at, created_at)
                     VALUES ('digest', 1, 'a@example.org', '<x@example.org>', 's', CAST('one' AS BLOB), 'pending', 't', 't'),
                            ('digest', 1, 'b@example.org', '<y@example.org>', 's', CAST('two' AS BLOB), 'sent', 't', 't');",
            )
            .unwrap();
        assert_eq!(s.migrate_to(12).unwrap(), ["0012_outbox_messages.sql"]);
        for row in s.outbox().unwrap() {
            let mut bytes = Vec::new();
            s.write_message(row.id, &mut bytes).unwrap();
            assert_eq!(bytes, if row.status == "sent" { b"two" } else { b"one" });
        }
        s.migrate().unwrap();
        assert!(s.check().unwrap().ok());
    }

    #[test]
    fn read_only_commands_neither_create_nor_migrate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.db");
        let e = format!("{:#}", Store::open_existing(&missing).err().unwrap());
        assert!(e.contains("none.db") && e.contains("no database"), "{e}");
        assert!(!missing.exists(), "created by a read");
        let old = dir.path().join("old.db");
        Store::open_unmigrated(&old).unwrap().migrate_to(9).unwrap();
        let e = format!("{:#}", Store::open_existing(&old).err().unwrap());
        assert!(e.contains("db migrate"), "{e}");
        assert_eq!(Store::open_unmigrated(&old).unwrap().schema_version().unwrap(), 9, "migrated by a read");
    }

    #[test]
    fn lock_contention_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut s = Store::open(&path).unwrap();
        s.conn.busy_timeout(std::time::Duration::from_millis(50)).unwrap();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let e = s.write("save something", |_| Ok(())).err().unwrap();
        assert!(is_busy(&e), "{e:#}");
        let text = format!("{e:#}");
        assert!(text.contains("another process held its write lock") && !text.contains("disk full"), "{text}");
        holder.execute_batch("ROLLBACK").unwrap();
        s.write("save something", |_| Ok(())).unwrap();
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let s = Store::open(&path).unwrap();
        s.conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(s);
        let e = Store::open(&path).err().unwrap().to_string();
        assert!(e.contains("newer than this stancewatch"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn database_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/t.db");
        let _s = Store::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let wal = std::fs::metadata(dir.path().join("sub/t.db-wal")).unwrap().permissions().mode() & 0o777;
        assert_eq!(wal & 0o077, 0, "WAL file mode {wal:o}");
    }

    #[cfg(unix)]
    #[test]
    fn a_database_found_readable_by_others_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(Store::open(&path).unwrap());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(Store::open(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let e = format!("{:#}", Store::open(&path).err().unwrap());
        assert!(e.contains("junk.db"), "{e}");
    }
}
