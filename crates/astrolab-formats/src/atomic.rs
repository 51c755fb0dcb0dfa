//! Atomic file writes, the one way every astrolab crate writes an output
//! file: the bytes go to a temporary file in the same directory (so the
//! rename cannot cross file systems), which is flushed and fsynced, then
//! renamed over the target, and the directory is fsynced so the rename
//! itself survives a crash. A reader, or a writer killed at any point,
//! therefore sees either the old file or the complete new one, never a
//! partial file under the target's name. On an error the temporary file is
//! removed and the target is left untouched.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh temporary name beside `path`: `.NAME.PID-N.tmp` (hidden, and
/// unique within and across processes, so concurrent writers of the same
/// target never share a temporary file).
pub fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically through `fill`, which writes the content into
/// a buffered temporary file ([`temp_path`]). `fill`'s own error type is
/// passed through.
pub fn write_with<E: From<std::io::Error>>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), E> {
    write_via(&temp_path(path), path, fill)
}

/// [`write_with`] through a temporary file the caller names (a crate whose
/// temporary names carry meaning, such as the owner of a stale file to
/// clean up); `tmp` must be in `path`'s directory and is replaced if it
/// exists.
pub fn write_via<E: From<std::io::Error>>(
    tmp: &Path,
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), E> {
    let result = (|| -> Result<(), E> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        commit(tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        // Best effort: the error being returned is the one worth reporting.
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Renames a complete, fsynced `tmp` over `path` and fsyncs the directory
/// (the second half of a write whose first half cannot go through
/// [`write_with`], e.g. a library writer that owns its file).
pub fn commit(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::rename(tmp, path)?;
    sync_dir(path)
}

/// Fsyncs the directory holding `path`, making a rename into it durable.
/// Opening a directory read-only and fsyncing it works on Linux and macOS;
/// elsewhere it is skipped.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_target_whole_and_leave_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.txt");
        write(&p, b"first").unwrap();
        write(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
    }

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.txt");
        write(&p, b"old").unwrap();
        let r = write_with(&p, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("the writer failed"))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporary_names_are_hidden_beside_the_target_and_unique() {
        let p = Path::new("/data/x/file.fits");
        let (a, b) = (temp_path(p), temp_path(p));
        assert_ne!(a, b);
        assert_eq!(a.parent(), p.parent());
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".file.fits.") && name.ends_with(".tmp"),
            "{name}"
        );
    }
}
