//! Files only their owner can read: the database, its backups and the mail stored as `.eml`
//! hold what the user subscribes to and whom they mail, so they are created 0600 in folders
//! created 0700, whatever the umask.

use std::io::Write;
use std::path::Path;

/// Create `dir` and its missing parents, owner-only.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Open `path` for writing, created owner-only if new; `truncate` empties an existing file.
pub fn open_for_write(path: &Path, truncate: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Write `bytes` to `path` (replacing it), owner-only, flushed to the disk.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = open_for_write(path, true)?;
    file.write_all(bytes)?;
    file.sync_all()
}
