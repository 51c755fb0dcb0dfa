//! A derived cache of positions for crossmatches: per raw file and sky
//! table, the row identifiers, RA and Dec as flat little-endian arrays in
//! `$ASTROLAB_HOME/cache/positions/`.
//!
//! Reading five million positions back out of a database costs seconds
//! (row decoding on SQLite, per-row protocol messages on PostgreSQL); the
//! same arrays from a flat file cost a tenth of that. The cache is only an
//! accelerator: each file belongs to one committed, immutable `file_id` (a
//! new version of a file gets a new id), it is written after the commit,
//! named with the file's checksum, written to a temporary name and renamed,
//! and anything missing or unreadable is rebuilt from the database.
//!
//! Temporary files end in `-{pid}@{host}.pos.tmp`: the process and machine
//! that write them. A process killed while it writes (or, for an ingest,
//! before its commit: `kill -9`, a crash, a power cut) leaves its temporary
//! behind, tens of MB each. [`sweep_stale`], run when an ingest starts,
//! deletes the temporaries whose owner is gone: written on this host by a
//! process that no longer runs. A temporary of a live process (another
//! ingest or crossmatch, in this process or another) is left alone. Those
//! of other hosts (a home on a shared file system) and of older versions
//! (no owner in the name) cannot be checked, and go once they are older
//! than [`STALE_AFTER`]: no load keeps a temporary that long, and deleting
//! one that is still in use would only cost its load the cache (the rename
//! fails with a warning, and the crossmatch rebuilds it from the database).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::registry::RawFile;

const MAGIC: &[u8; 8] = b"ALPOS1\0\0";

/// Positions of one table's rows from one file.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cached {
    pub ids: Vec<Option<i64>>,
    pub ra: Vec<f64>,
    pub dec: Vec<f64>,
}

pub(crate) fn path(home: &Path, table: &str, file: &RawFile) -> PathBuf {
    home.join("cache")
        .join("positions")
        .join(env!("CARGO_PKG_VERSION"))
        .join(format!(
            "{table}-{}-{}.pos",
            file.file_id,
            &file.sha256[..16.min(file.sha256.len())]
        ))
}

/// Temporaries older than this are deleted whoever wrote them.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// This machine's name as it goes into file names (letters, digits, `.`,
/// `-` and `_`; anything else becomes `_`).
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        #[cfg(unix)]
        let name = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        #[cfg(not(unix))]
        let name = std::env::var("COMPUTERNAME").unwrap_or_default();
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.is_empty() {
            "localhost".to_string()
        } else {
            name
        }
    })
}

/// `-{pid}@{host}.pos.tmp`: the end of every temporary this process writes.
fn temp_suffix() -> String {
    format!("-{}@{}.pos.tmp", std::process::id(), host())
}

/// The (pid, host) that wrote a temporary, from its name.
fn owner_of(name: &str) -> Option<(u32, &str)> {
    let stem = name.strip_suffix(".pos.tmp")?;
    let (before, host) = stem.rsplit_once('@')?;
    let pid = before.rsplit_once('-')?.1.parse().ok()?;
    Some((pid, host))
}

/// Whether process `pid` runs on this machine (`kill(pid, 0)`; a process
/// of another user counts as running).
#[cfg(unix)]
fn process_runs(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

#[cfg(not(unix))]
fn process_runs(_pid: u32) -> bool {
    true
}

/// Deletes the stale temporaries under `home`'s position cache (every
/// version's directory): those written on this host by a process that no
/// longer runs, and any older than [`STALE_AFTER`]. Returns how many files
/// and bytes went. Errors are skipped: the sweep only frees disk space.
pub(crate) fn sweep_stale(home: &Path) -> (usize, u64) {
    let (mut files, mut bytes) = (0usize, 0u64);
    let Ok(versions) = std::fs::read_dir(home.join("cache").join("positions")) else {
        return (files, bytes);
    };
    let now = SystemTime::now();
    for dir in versions.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if !name.ends_with(".pos.tmp") {
                continue;
            }
            let Ok(meta) = e.metadata() else {
                continue;
            };
            let owner_gone =
                owner_of(name).is_some_and(|(pid, h)| h == host() && !process_runs(pid));
            let too_old = meta
                .modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_AFTER);
            if (owner_gone || too_old) && std::fs::remove_file(e.path()).is_ok() {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    if files > 0 {
        tracing::info!(
            files,
            megabytes = bytes / 1_000_000,
            "deleted stale position-cache temporaries left by killed loads"
        );
    }
    (files, bytes)
}

/// Writes a cache file atomically; errors are only logged by callers.
pub(crate) fn write(path: &Path, c: &Cached) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("cache");
    let stem = name.strip_suffix(".pos").unwrap_or(name);
    let tmp = path.with_file_name(format!("{stem}{}", temp_suffix()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    astrolab_formats::atomic::write_via(&tmp, path, |w| w.write_all(&encode(c)))
}

/// Where an ingest writes a table's cache before its rows are committed
/// (renamed to [`path`] after the commit): the file's checksum and this
/// process's id and host, so concurrent ingests never write the same file
/// and [`sweep_stale`] knows whose it is.
pub(crate) fn pending_path(home: &Path, table: &str, sha256: &str) -> PathBuf {
    home.join("cache")
        .join("positions")
        .join(env!("CARGO_PKG_VERSION"))
        .join(format!(
            "{table}-pending-{}{}",
            &sha256[..16.min(sha256.len())],
            temp_suffix()
        ))
}

/// Writes and fsyncs the cache file `path` (creating its directory).
pub(crate) fn write_file(path: &Path, c: &Cached) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::File::create(path)?;
    f.write_all(&encode(c))?;
    f.sync_all()
}

/// The bytes of a cache file.
fn encode(c: &Cached) -> Vec<u8> {
    let mut buf = Vec::with_capacity(16 + c.ra.len() * 24);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(c.ra.len() as u64).to_le_bytes());
    for id in &c.ids {
        buf.extend_from_slice(&id.unwrap_or(i64::MIN).to_le_bytes());
    }
    for x in c.ra.iter().chain(&c.dec) {
        buf.extend_from_slice(&x.to_le_bytes());
    }
    buf
}

/// Reads a cache file; None when missing or malformed.
pub(crate) fn read(path: &Path) -> Option<Cached> {
    let buf = std::fs::read(path).ok()?;
    if buf.len() < 16 || &buf[..8] != MAGIC {
        return None;
    }
    let n = u64::from_le_bytes(buf[8..16].try_into().ok()?) as usize;
    if buf.len() != 16 + n.checked_mul(24)? {
        return None;
    }
    let words = |k: usize| {
        buf[16 + k * n * 8..16 + (k + 1) * n * 8]
            .chunks_exact(8)
            .map(|c| <[u8; 8]>::try_from(c).unwrap_or([0; 8]))
    };
    Some(Cached {
        ids: words(0)
            .map(i64::from_le_bytes)
            .map(|v| (v != i64::MIN).then_some(v))
            .collect(),
        ra: words(1).map(f64::from_le_bytes).collect(),
        dec: words(2).map(f64::from_le_bytes).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id of a process that has exited (and been reaped).
    fn dead_pid() -> u32 {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    }

    #[test]
    fn owners_are_read_back_from_temporary_names() {
        let p = pending_path(Path::new("/h"), "zcatalog", "0123456789abcdef0123");
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            name,
            format!(
                "zcatalog-pending-0123456789abcdef-{}@{}.pos.tmp",
                std::process::id(),
                host()
            )
        );
        assert_eq!(owner_of(name), Some((std::process::id(), host())));
        assert_eq!(
            owner_of("galaxies-3-abcd-77@node-1.lab.org.pos.tmp"),
            Some((77, "node-1.lab.org"))
        );
        // Older versions' names carry no host.
        assert_eq!(owner_of("zcatalog-pending-0123-4242.pos.tmp"), None);
        assert_eq!(owner_of("zcatalog-3-abcd.pos.tmp"), None);
    }

    #[test]
    #[cfg(unix)]
    fn sweep_deletes_only_temporaries_whose_owner_is_gone_or_that_are_old() {
        let home = tempfile::tempdir().unwrap();
        let ver = home
            .path()
            .join("cache/positions")
            .join(env!("CARGO_PKG_VERSION"));
        let old_ver = home.path().join("cache/positions/0.0.1");
        std::fs::create_dir_all(&ver).unwrap();
        std::fs::create_dir_all(&old_ver).unwrap();
        let (dead, me) = (dead_pid(), std::process::id());
        // A process that runs as long as the test: the one that started it.
        let live = std::os::unix::process::parent_id();
        let h = host();
        let write = |dir: &Path, name: &str, age_h: u64| {
            let p = dir.join(name);
            std::fs::write(&p, b"0123456789").unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(age_h * 3600))
                .unwrap();
        };
        let killed = format!("zcatalog-pending-aaaa-{dead}@{h}.pos.tmp");
        let mine = format!("zcatalog-pending-bbbb-{me}@{h}.pos.tmp");
        let running = format!("zcatalog-pending-cccc-{live}@{h}.pos.tmp");
        let elsewhere = format!("zcatalog-pending-dddd-{dead}@other-host.pos.tmp");
        let elsewhere_old = format!("zcatalog-pending-eeee-{dead}@other-host.pos.tmp");
        let legacy = "zcatalog-pending-ffff-4242.pos.tmp".to_string();
        let legacy_old = "zcatalog-3-abcd.pos.tmp".to_string();
        let cache = "zcatalog-3-abcd.pos".to_string();
        write(&ver, &killed, 0);
        write(&ver, &mine, 0);
        write(&ver, &running, 0);
        write(&ver, &elsewhere, 0);
        write(&ver, &elsewhere_old, 25);
        write(&ver, &legacy, 0);
        write(&ver, &legacy_old, 25);
        write(&ver, &cache, 100);
        write(&old_ver, &killed, 0);
        assert_eq!(sweep_stale(home.path()), (4, 40));
        let left = |dir: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let mut want = vec![mine, running, elsewhere, legacy, cache];
        want.sort();
        assert_eq!(left(&ver), want);
        assert!(left(&old_ver).is_empty());
        // A home without a cache is fine.
        assert_eq!(sweep_stale(&home.path().join("nothing")), (0, 0));
    }
}
