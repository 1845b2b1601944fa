//! The file and host calls the guard, the ledger, the trainer and the CLI share: one
//! all-or-nothing file write, one exclusive file lock, and the host's name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` all or nothing: into a new temporary file in the same
/// directory (with the permissions of the file it replaces), synced to disk, renamed
/// over `path`, then the directory synced, so that after a crash at any moment `path`
/// holds either the old or the new bytes, and after a return the new ones survive a
/// power loss. On any error the temporary file is removed and `path` is left as it was.
/// A symlink at `path` is followed: its target is replaced. What is not a regular file
/// (`/dev/null`, a FIFO, a terminal) is written to, never replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, true)
}

/// Writes `bytes` to `path` all or nothing, as [`write_atomic`] does (a reader sees the
/// old or the new bytes, never a mix), but without syncing to disk: after a crash of the
/// machine (not of the process) the file may hold older bytes. For files rewritten
/// often whose last few versions a crash may lose (a progress file); one `fsync` costs
/// milliseconds on a laptop disk and more on network file systems.
pub fn write_replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, false)
}

/// Opens `path` (created if needed, never truncated) and takes its exclusive `flock(2)`
/// lock, waiting for it; the lock goes with the returned file (when it is dropped, or
/// the process dies). Lock a separate, never-removed file beside one replaced by
/// [`write_atomic`]: a lock on a replaced inode excludes nobody.
pub fn lock_exclusive(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

/// The write of [`write_atomic`] (`durable`) and [`write_replace`].
fn replace(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return fs::write(path, bytes);
    }
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let old = fs::metadata(&path).ok();
    for attempt in 0..100 {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}-{attempt}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = (|| {
            if let Some(m) = &old {
                file.set_permissions(m.permissions())?;
            }
            file.write_all(bytes)?;
            if durable {
                file.sync_all()?;
            }
            fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
            return written;
        }
        // The rename is durable once the directory is; a directory that cannot be
        // opened for syncing (some network file systems) keeps the rename anyway.
        if durable {
            if let Ok(d) = fs::File::open(dir) {
                d.sync_all()?;
            }
        }
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name beside it",
    ))
}

/// This host's name (`/proc/sys/kernel/hostname`, else `/etc/hostname`, else
/// `localhost`), for records that say where they were made.
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("gpufault-sys-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.json");
        write_atomic(&f, b"first, longer content").unwrap();
        write_atomic(&f, b"second").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"second");
        write_replace(&f, b"third, unsynced").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"third, unsynced");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"]);
        assert!(write_atomic(&dir.join("no/such/dir/f"), b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
