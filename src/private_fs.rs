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
    write_with(path, &mut |out| out.write_all(bytes))
}

/// Write to `path` what `write` writes (replacing it), owner-only, flushed to the disk.
pub fn write_with(path: &Path, write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(open_for_write(path, true)?);
    write(&mut out)?;
    out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()
}

/// Make an existing file or folder owner-only when it is readable by others (created by hand,
/// or by an older version). A folder the program did not make is only warned about.
pub fn tighten(path: &Path, kind: Tighten) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else { return };
        // Permission bits and the special ones (setgid, sticky), which are kept.
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 == 0 {
            return;
        }
        if kind == Tighten::WarnOnly {
            tracing::warn!(
                path = %path.display(), mode = format!("{mode:o}"),
                "readable by other users; consider `chmod 700` on it"
            );
            return;
        }
        let private = std::fs::Permissions::from_mode(mode & !0o077);
        match std::fs::set_permissions(path, private) {
            Ok(()) => tracing::info!(
                path = %path.display(), was = format!("{mode:o}"), now = format!("{:o}", mode & !0o077),
                "made owner-only"
            ),
            Err(e) => tracing::warn!(
                path = %path.display(), mode = format!("{mode:o}"), error = %e,
                "readable by other users and cannot be changed; make it owner-only (chmod 600)"
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = (path, kind);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tighten {
    /// Ours (the database, its log, stored mail): made owner-only.
    Make,
    /// Perhaps the user's (the database's folder): warned about.
    WarnOnly,
}
