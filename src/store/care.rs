//! Upkeep of a database that lives for years: retention (off by default — the history is the
//! product), write-ahead-log checkpoints, query statistics, and `VACUUM` on request.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Store, time_text};
use crate::config::StorageSettings;

/// Rows changed per transaction, so the daemon's writer is never held for long.
const BATCH: usize = 5_000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Upkeep {
    /// Not-relevant stories whose summary and text were dropped.
    pub irrelevant_blanked: usize,
    /// Stories whose full article text was dropped.
    pub content_blanked: usize,
    /// Pages free inside the file (reclaimed only by `db vacuum`).
    pub free_pages: i64,
    pub page_size: i64,
}

impl Store {
    /// Apply `[storage]` retention, checkpoint the WAL back into the file and refresh the query
    /// planner's statistics. Stories are never deleted: their rows (identity, title, stance) stay,
    /// so an entry still in its feed is recognised and never mailed again as new.
    pub fn upkeep(&mut self, settings: &StorageSettings, now: DateTime<Utc>) -> Result<Upkeep> {
        let mut report = Upkeep::default();
        let cutoff = |keep: std::time::Duration| {
            time_text(now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX))
        };
        if let Some(keep) = settings.keep_irrelevant_text {
            report.irrelevant_blanked = self.blank_in_batches(
                "UPDATE stories SET summary = '', content = '' WHERE id IN (
                     SELECT id FROM stories WHERE fetched_at < ?1 AND relevant = 0
                       AND (summary != '' OR content != '') LIMIT ?2)",
                &cutoff(keep),
            )?;
        }
        if let Some(keep) = settings.keep_content {
            report.content_blanked = self.blank_in_batches(
                "UPDATE stories SET content = '' WHERE id IN (
                     SELECT id FROM stories WHERE fetched_at < ?1 AND content != '' LIMIT ?2)",
                &cutoff(keep),
            )?;
        }
        // TRUNCATE: the log file shrinks back to nothing when no reader holds it.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| super::write_failure(&self.path, "checkpoint the write-ahead log", e))?;
        self.conn.execute_batch("PRAGMA optimize")?;
        report.free_pages = self.conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        report.page_size = self.conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        Ok(report)
    }

    fn blank_in_batches(&mut self, sql: &str, cutoff: &str) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self
                .conn
                .execute(sql, params![cutoff, BATCH as i64])
                .map_err(|e| super::write_failure(&self.path, "apply retention", e))?;
            total += n;
            if n < BATCH {
                return Ok(total);
            }
        }
    }

    /// Rewrite the file without its free pages (`db vacuum`). Needs free disk space about the
    /// size of the database, and holds the database for the whole rewrite: stop the daemon first
    /// on a large one.
    pub fn vacuum(&mut self) -> Result<(u64, u64)> {
        let before = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if let Some(free) = free_disk_bytes(&self.path)
            && free < before
        {
            bail!(
                "VACUUM of {} needs about {} MB free on its disk, and only {} MB are: free some space first",
                self.path.display(),
                before >> 20,
                free >> 20
            );
        }
        self.conn.execute_batch("VACUUM").map_err(|e| super::write_failure(&self.path, "VACUUM", e))?;
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let after = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok((before, after))
    }
}

/// Why a database on this disk cannot be written, when the file system can tell: it is mounted
/// read-only, or (almost) full.
pub(super) fn disk_trouble(path: &std::path::Path) -> Option<String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if dir.metadata().is_ok_and(|m| m.permissions().readonly()) || read_only_mount(dir) {
        return Some(format!("{} is on a read-only file system or folder: make it writable", path.display()));
    }
    let free = free_disk_bytes(path)?;
    (free < 1 << 20).then(|| {
        format!("the disk holding {} is full ({} KB free): free some space, then try again", path.display(), free >> 10)
    })
}

fn read_only_mount(dir: &std::path::Path) -> bool {
    statvfs(dir).is_some_and(|s| s.f_flag & libc::ST_RDONLY != 0)
}

fn statvfs(dir: &std::path::Path) -> Option<libc::statvfs> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: statvfs fills the struct it is given; it is read only when the call succeeded.
        let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
        // SAFETY: rc == 0, so the struct was written.
        (rc == 0).then(|| unsafe { stat.assume_init() })
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// Bytes available to this process on the file system holding `path`.
fn free_disk_bytes(path: &std::path::Path) -> Option<u64> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let stat = statvfs(dir)?;
    // The field types differ between platforms (32 or 64 bits).
    #[allow(clippy::useless_conversion)]
    Some(u64::from(stat.f_bavail) * u64::from(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::ClusterIndex;
    use crate::feed::NewStory;
    use crate::store::FeedUpdate;
    use std::time::Duration;

    #[test]
    fn retention_blanks_old_text_and_keeps_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("r.db")).unwrap();
        store
            .sync_config_feeds(&[crate::config::FeedSetting {
                url: "https://example.org/feed.xml".into(),
                name: None,
                interval: None,
            }])
            .unwrap();
        let feed = store.feeds().unwrap().remove(0);
        let old = chrono::Utc::now() - chrono::Duration::days(400);
        let mut stories = Vec::new();
        for i in 0..3 {
            let mut s = NewStory::new(&format!("Story {i}"), old);
            s.entry_key = format!("k{i}");
            s.summary = format!("summary {i}");
            s.content = format!("the whole article {i}");
            stories.push(s);
        }
        let signer = crate::dedup::Signer::new(&crate::stance::Profile::builtin(), Default::default());
        store
            .record_poll(&feed, &FeedUpdate::fetched_now(Some(200)), &stories, &mut ClusterIndex::new(signer))
            .unwrap();
        store.conn.execute("UPDATE stories SET fetched_at = ?1", [time_text(old)]).unwrap();
        store.conn.execute("UPDATE stories SET relevant = (entry_key = 'k0')", []).unwrap();

        let keep_all = StorageSettings {
            keep_irrelevant_text: None,
            keep_content: None,
            maintenance_every: Duration::from_secs(3600),
        };
        let r = store.upkeep(&keep_all, chrono::Utc::now()).unwrap();
        assert_eq!((r.irrelevant_blanked, r.content_blanked), (0, 0), "nothing is dropped by default");

        let year = Some(Duration::from_secs(365 * 86_400));
        let settings = StorageSettings { keep_irrelevant_text: year, keep_content: year, ..keep_all };
        let r = store.upkeep(&settings, chrono::Utc::now()).unwrap();
        assert_eq!(r.irrelevant_blanked, 2);
        assert_eq!(r.content_blanked, 1, "the relevant story keeps its summary, loses its full text");
        let rows: Vec<(String, String, String)> = store
            .conn
            .prepare("SELECT entry_key, summary, content FROM stories ORDER BY entry_key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows[0], ("k0".into(), "summary 0".into(), String::new()));
        assert_eq!(rows[1], ("k1".into(), String::new(), String::new()));
        assert_eq!(rows.len(), 3, "rows are never deleted");
        // A second pass finds nothing left to do.
        let again = store.upkeep(&settings, chrono::Utc::now()).unwrap();
        assert_eq!((again.irrelevant_blanked, again.content_blanked), (0, 0));
    }
}
