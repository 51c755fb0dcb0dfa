//! `astrolab backup create | verify | restore | list | prune` on a data
//! home with the embedded database.
//!
//! Layout of a backup (one restic snapshot of the home's path): the
//! home's files except the live database, its caches and this machine's
//! backup records, plus `.backup-stage/ID/` with the database copy
//! (SQLite's online backup) and the manifest. A restore puts the copy back
//! as `astrolab.db` and checks every table against the manifest before the
//! restored home is moved into place.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::digest::{differences, sqlite_digests};
use crate::key::BackupKey;
use crate::manifest::{self, Manifest};
use crate::repo::Repository;
use crate::restic::{absolute, Restic, Snapshot};
use crate::status::{self, Outcome};

/// Where a backup's database copy and manifest are assembled, inside the
/// home (same file system: no copy to another disk).
pub const STAGE_DIR: &str = ".backup-stage";
/// The database file of a home.
pub const DATABASE: &str = "astrolab.db";

/// How many backups `prune` keeps (restic's `--keep-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Keep {
    /// The last backup of each of this many days.
    pub daily: u32,
    /// Of each of this many weeks.
    pub weekly: u32,
    /// Of each of this many months.
    pub monthly: u32,
}

impl Default for Keep {
    /// The lab's policy: a week of dailies, a month of weeklies, a year of
    /// monthlies.
    fn default() -> Keep {
        Keep {
            daily: 7,
            weekly: 4,
            monthly: 12,
        }
    }
}

/// Where backups go and how many are kept.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// The repository.
    pub repository: Repository,
    /// Retention.
    pub keep: Keep,
}

/// What a backup made.
#[derive(Debug, Clone, Serialize)]
pub struct CreateReport {
    /// Its manifest.
    pub manifest: Manifest,
    /// restic's snapshot id.
    pub snapshot: String,
    /// Bytes of files and database in it.
    pub bytes: u64,
    /// Bytes new to the repository.
    pub bytes_added: u64,
    /// Wall seconds.
    pub seconds: f64,
}

/// What a verification found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The backup.
    pub backup: String,
    /// Its snapshot.
    pub snapshot: String,
    /// Tables checked, all matching.
    pub tables: usize,
    /// Their rows.
    pub rows: u64,
    /// Bytes restored.
    pub bytes_restored: u64,
    /// The fraction of the repository's data read back by `restic check`.
    pub read_data_subset: String,
    /// Seconds to restore (the measured recovery time of this backup).
    pub seconds_restore: f64,
    /// Seconds between the backup's database copy and the end of the
    /// restore: what a failure at this moment would lose (recovery point).
    pub rpo_s: f64,
    /// Wall seconds in all.
    pub seconds: f64,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The backup.
    pub backup: String,
    /// When it was taken (what the restored store holds).
    pub created: String,
    /// The restored home.
    pub home: PathBuf,
    /// Tables checked.
    pub tables: usize,
    /// Their rows.
    pub rows: u64,
    /// Bytes restored.
    pub bytes: u64,
    /// Wall seconds.
    pub seconds: f64,
}

/// One backup in a listing.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// Backup id.
    pub backup: String,
    /// restic snapshot.
    pub snapshot: String,
    /// When restic took it.
    pub time: String,
    /// Host.
    pub host: String,
    /// Tables and rows, from the manifest (None when `--manifests` was not asked).
    pub tables: Option<usize>,
    /// Rows.
    pub rows: Option<u64>,
}

pub(crate) fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A backup id: the UTC time to the second and 6 random hex digits.
pub(crate) fn backup_id() -> String {
    use sha2::Digest;
    let t = time::OffsetDateTime::now_utc();
    let salt = format!(
        "{} {} {:?}",
        t.unix_timestamp_nanos(),
        std::process::id(),
        std::thread::current().id()
    );
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        &hex::encode(sha2::Sha256::digest(salt.as_bytes()))[..6]
    )
}

/// One backup operation at a time on a home: `HOME/backups/.lock` holds
/// the owner's pid; a lock whose process is gone (a killed backup) is
/// taken over.
pub(crate) struct Lock(PathBuf);

impl Lock {
    pub(crate) fn take(home: &Path) -> Result<Lock> {
        let dir = home.join("backups");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let p = dir.join(".lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    write!(f, "{}", std::process::id())?;
                    return Ok(Lock(p));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(&p).unwrap_or_default();
                    let alive = pid
                        .trim()
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if alive {
                        bail!(
                            "another backup operation (pid {}) is running on {}; wait for it",
                            pid.trim(),
                            home.display()
                        );
                    }
                    std::fs::remove_file(&p).ok();
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
            }
        }
        bail!("could not take {}", p.display())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        std::fs::remove_file(&self.0).ok();
    }
}

/// What a backup leaves out of the home: the live database (its copy goes
/// in), caches (rebuilt on demand), this machine's backup records and
/// scratch space.
pub(crate) fn excluded(home: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|s| home.join(format!("{DATABASE}{s}")))
        .collect();
    v.push(home.join("cache"));
    v.push(home.join("backups"));
    v
}

/// Files and bytes under `dir`, without `skip`.
pub(crate) fn tally(dir: &Path, skip: &[PathBuf]) -> Result<(u64, u64)> {
    let (mut n, mut b) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let p = e.path();
            if skip.contains(&p) {
                continue;
            }
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() {
                n += 1;
                b += e.metadata()?.len();
            }
        }
    }
    Ok((n, b))
}

pub(crate) fn record(
    home: &Path,
    what: fn(&mut status::Status) -> (&mut Option<Outcome>, &mut Option<Outcome>),
    o: Outcome,
) {
    let r = status::update(home, |s| {
        let (last, good) = what(s);
        if o.ok {
            *good = Some(o.clone());
        }
        *last = Some(o);
    });
    if let Err(e) = r {
        tracing::warn!(error = %e, "could not record the backup status");
    }
}

pub(crate) fn outcome<T>(
    r: &Result<T>,
    repo: &Repository,
    backup: Option<String>,
    t0: Instant,
    bytes: u64,
) -> Outcome {
    Outcome {
        unix_s: status::now_unix(),
        ok: r.is_ok(),
        backup,
        repository: repo.to_string(),
        seconds: t0.elapsed().as_secs_f64(),
        bytes,
        error: r.as_ref().err().map(|e| format!("{e:#}")),
    }
}

/// Backs up the home `home` (embedded database) to the repository.
pub fn create(home: &Path, settings: &BackupSettings, key: BackupKey) -> Result<CreateReport> {
    let t0 = Instant::now();
    let home = absolute(home)?;
    let r = create_inner(&home, settings, key, t0);
    record_create(&home, &settings.repository, &r, t0);
    r
}

fn create_inner(
    home: &Path,
    settings: &BackupSettings,
    key: BackupKey,
    t0: Instant,
) -> Result<CreateReport> {
    let db = home.join(DATABASE);
    if !db.exists() {
        bail!("{}: no {DATABASE} here; is --home the data home to back up? (a PostgreSQL store is backed up by pgBackRest, not by this command)", home.display());
    }
    let _lock = Lock::take(home)?;
    // A killed backup's stage is garbage: it never became a snapshot.
    let stage_root = home.join(STAGE_DIR);
    if stage_root.exists() {
        std::fs::remove_dir_all(&stage_root)
            .with_context(|| format!("removing {}", stage_root.display()))?;
    }
    let id = backup_id();
    let stage = stage_root.join(&id);
    std::fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    let r = (|| -> Result<CreateReport> {
        let created = now_rfc3339();
        let copy = stage.join(DATABASE);
        let schema_version = crate::sqlite::snapshot(&db, &copy)?;
        let tables = sqlite_digests(&copy)?;
        let database_bytes = std::fs::metadata(&copy)?.len();
        let skip = excluded(home);
        let (files, file_bytes) = tally(home, &[skip.clone(), vec![stage_root.clone()]].concat())?;
        let m = Manifest {
            format: manifest::FORMAT.into(),
            id: id.clone(),
            created,
            astrolab: env!("CARGO_PKG_VERSION").into(),
            host: host(),
            backend: "sqlite".into(),
            database: DATABASE.into(),
            database_bytes,
            schema_version,
            tables,
            files,
            file_bytes,
            postgres: None,
        };
        std::fs::write(stage.join(manifest::FILE), serde_json::to_vec_pretty(&m)?)
            .with_context(|| format!("writing the manifest in {}", stage.display()))?;
        let restic = Restic::new(settings.repository.clone(), key);
        restic.init_if_missing()?;
        let s = restic.backup(&[home.to_path_buf()], &skip, &id, &m.host)?;
        Ok(CreateReport {
            snapshot: s.snapshot_id,
            bytes: s.total_bytes_processed,
            bytes_added: s.data_added,
            seconds: t0.elapsed().as_secs_f64(),
            manifest: m,
        })
    })();
    std::fs::remove_dir_all(&stage_root).ok();
    r
}

/// The snapshot of backup `id`, or the newest.
pub(crate) fn find(restic: &Restic, id: Option<&str>) -> Result<Snapshot> {
    let snaps = restic.snapshots()?;
    match id {
        Some(id) => snaps
            .into_iter()
            .find(|s| s.backup_id() == Some(id) || s.id.starts_with(id))
            .ok_or_else(|| {
                anyhow!(
                    "no backup {id} in {} (see `astrolab backup list`)",
                    restic.repository()
                )
            }),
        None => snaps
            .into_iter()
            .rfind(|s| s.backup_id().is_some())
            .ok_or_else(|| anyhow!("no astrolab backup in {} yet", restic.repository())),
    }
}

/// The home's path when `snap` was taken.
fn original_home(snap: &Snapshot) -> Result<String> {
    snap.paths
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("snapshot {} names no path", snap.id))
}

/// Restores `snap` into `dest` (absent or empty), checking every table
/// against the manifest before `dest` receives anything. Returns the
/// manifest and the bytes restored.
fn restore_checked(restic: &Restic, snap: &Snapshot, dest: &Path) -> Result<(Manifest, u64)> {
    restore_home(restic, snap, dest, |m, root, stage| {
        let id = &m.id;
        if m.backend != "sqlite" {
            bail!("backup {id} is of a {} store: restore it with the store's settings ([backup] pg_data)", m.backend);
        }
        std::fs::rename(stage.join(&m.database), root.join(DATABASE))
            .with_context(|| format!("backup {id}: its database copy is missing"))?;
        let got = sqlite_digests(&root.join(DATABASE))?;
        let diff = differences(&m.tables, &got);
        if !diff.is_empty() {
            bail!(
                "backup {id} does not restore what was backed up: {}",
                diff.join("; ")
            );
        }
        Ok(())
    })
}

/// Restores the files of `snap` into `dest` (absent or empty) through a
/// temporary sibling, reads the manifest, lets `check` check (and
/// complete) the restored home (given the manifest, the home and the
/// backup's stage directory), then moves the home into place. Returns
/// the manifest and the bytes restored.
pub(crate) fn restore_home(
    restic: &Restic,
    snap: &Snapshot,
    dest: &Path,
    check: impl FnOnce(&Manifest, &Path, &Path) -> Result<()>,
) -> Result<(Manifest, u64)> {
    let id = snap
        .backup_id()
        .ok_or_else(|| anyhow!("snapshot {} is not an astrolab backup", snap.id))?;
    if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
        bail!(
            "{} is not empty: restore into an empty or new directory (nothing was changed)",
            dest.display()
        );
    }
    let parent = dest
        .parent()
        .ok_or_else(|| anyhow!("{}: no parent directory", dest.display()))?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = parent.join(format!(".astrolab-restore-{id}-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).ok();
    }
    let r = (|| -> Result<(Manifest, u64)> {
        let orig = original_home(snap)?;
        restic.restore(&snap.id, &tmp)?;
        let root = tmp.join(orig.trim_start_matches('/'));
        let stage = root.join(STAGE_DIR).join(id);
        let mpath = stage.join(manifest::FILE);
        let m: Manifest = serde_json::from_slice(&std::fs::read(&mpath).with_context(|| {
            format!(
                "backup {id}: its manifest is missing from the restored files ({})",
                mpath.display()
            )
        })?)
        .with_context(|| format!("backup {id}: its manifest does not parse"))?;
        if m.format != manifest::FORMAT {
            bail!(
                "backup {id}: manifest format {:?}, this astrolab reads {:?}",
                m.format,
                manifest::FORMAT
            );
        }
        check(&m, &root, &stage)?;
        std::fs::remove_dir_all(root.join(STAGE_DIR)).ok();
        let (_, bytes) = tally(&root, &[])?;
        if dest.exists() {
            std::fs::remove_dir(dest)
                .with_context(|| format!("replacing the empty {}", dest.display()))?;
        }
        std::fs::rename(&root, dest)
            .with_context(|| format!("moving the restored home to {}", dest.display()))?;
        Ok((m, bytes))
    })();
    std::fs::remove_dir_all(&tmp).ok();
    r
}

/// Verifies a backup by restoring it: into `scratch` (a new directory;
/// default under the system's temporary directory), every table recounted
/// and rehashed against the manifest, then `restic check
/// --read-data-subset=SUBSET` over the repository. The outcome is recorded
/// in `home`'s backup status.
pub fn verify(
    home: &Path,
    settings: &BackupSettings,
    key: BackupKey,
    backup: Option<&str>,
    scratch: Option<&Path>,
    subset: &str,
) -> Result<VerifyReport> {
    let t0 = Instant::now();
    let home = absolute(home)?;
    let r = verify_inner(&home, settings, key, backup, scratch, subset, t0);
    record_verify(&home, &settings.repository, &r, backup, t0);
    r
}

/// Records a verification's outcome in `home`'s backup status, and a
/// successful one as the day's recovery drill: had the store been lost
/// then, this backup's restore is what would have brought it back.
pub(crate) fn record_verify(
    home: &Path,
    repo: &Repository,
    r: &Result<VerifyReport>,
    backup: Option<&str>,
    t0: Instant,
) {
    let (id, bytes) = r.as_ref().map_or((backup.map(str::to_string), 0), |v| {
        (Some(v.backup.clone()), v.bytes_restored)
    });
    record(
        home,
        |s| (&mut s.last_verify, &mut s.last_good_verify),
        outcome(r, repo, id, t0, bytes),
    );
    if let Ok(v) = r {
        let d = status::Drill {
            unix_s: status::now_unix(),
            rpo_s: v.rpo_s,
            rto_s: v.seconds_restore,
        };
        if let Err(e) = status::update(home, |s| s.drill = Some(d)) {
            tracing::warn!(error = %e, "could not record the drill");
        }
    }
}

/// Records a backup's outcome in `home`'s backup status.
pub(crate) fn record_create(home: &Path, repo: &Repository, r: &Result<CreateReport>, t0: Instant) {
    let (id, bytes) = r
        .as_ref()
        .map_or((None, 0), |c| (Some(c.manifest.id.clone()), c.bytes));
    record(
        home,
        |s| (&mut s.last_backup, &mut s.last_good_backup),
        outcome(r, repo, id, t0, bytes),
    );
}

fn verify_inner(
    home: &Path,
    settings: &BackupSettings,
    key: BackupKey,
    backup: Option<&str>,
    scratch: Option<&Path>,
    subset: &str,
    t0: Instant,
) -> Result<VerifyReport> {
    let _lock = Lock::take(home)?;
    let restic = Restic::new(settings.repository.clone(), key);
    let snap = find(&restic, backup)?;
    let base = match scratch {
        Some(s) => absolute(s)?,
        None => std::env::temp_dir(),
    };
    let dest = base.join(format!(
        "astrolab-verify-{}",
        snap.backup_id().unwrap_or(&snap.id)
    ));
    if dest.exists() {
        std::fs::remove_dir_all(&dest).ok();
    }
    let t_restore = Instant::now();
    let r = restore_checked(&restic, &snap, &dest);
    let seconds_restore = t_restore.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dest).ok();
    let (m, bytes) = match r {
        Ok(x) => x,
        // Which repository files are damaged: all of the data is read back
        // (this is the failure path; its cost buys the list to repair).
        Err(e) => {
            return Err(match restic.check("100%") {
                Err(c) => c.context(format!("backup {} cannot be restored", snap.id)),
                Ok(()) => e,
            })
        }
    };
    restic.check(subset)?;
    Ok(VerifyReport {
        backup: m.id.clone(),
        snapshot: snap.id,
        tables: m.tables.len(),
        rows: m.rows(),
        bytes_restored: bytes,
        read_data_subset: subset.into(),
        seconds_restore,
        rpo_s: time::OffsetDateTime::parse(
            &m.created,
            &time::format_description::well_known::Rfc3339,
        )
        .map_or(f64::NAN, |c| {
            (time::OffsetDateTime::now_utc() - c).as_seconds_f64()
        }),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Restores a backup (default the newest) as the home `dest`, which must
/// be absent or empty (a new machine, a new disk): the files, and the
/// database checked table by table against the manifest.
pub fn restore(
    dest: &Path,
    settings: &BackupSettings,
    key: BackupKey,
    backup: Option<&str>,
) -> Result<RestoreReport> {
    let t0 = Instant::now();
    let dest = absolute(dest)?;
    let restic = Restic::new(settings.repository.clone(), key);
    let snap = find(&restic, backup)?;
    let r = restore_checked(&restic, &snap, &dest).map(|(m, bytes)| RestoreReport {
        backup: m.id.clone(),
        created: m.created.clone(),
        home: dest.clone(),
        tables: m.tables.len(),
        rows: m.rows(),
        bytes,
        seconds: t0.elapsed().as_secs_f64(),
    });
    if dest.exists() {
        let id = r.as_ref().ok().map(|x| x.backup.clone());
        let bytes = r.as_ref().map_or(0, |x| x.bytes);
        let o = outcome(&r, &settings.repository, id, t0, bytes);
        if let Err(e) = status::update(&dest, |s| s.last_restore = Some(o)) {
            tracing::warn!(error = %e, "could not record the restore");
        }
    }
    r
}

/// The repository's astrolab backups, oldest first; with `manifests`,
/// each one's tables and rows (read from the backup: slower).
pub fn list(settings: &BackupSettings, key: BackupKey, manifests: bool) -> Result<Vec<Listed>> {
    let restic = Restic::new(settings.repository.clone(), key);
    let mut out = Vec::new();
    for s in restic.snapshots()? {
        let Some(id) = s.backup_id() else { continue };
        let (mut tables, mut rows) = (None, None);
        if manifests {
            let orig = original_home(&s)?;
            let p = format!(
                "{}/{STAGE_DIR}/{id}/{}",
                orig.trim_end_matches('/'),
                manifest::FILE
            );
            let m: Manifest = serde_json::from_slice(&restic.dump(&s.id, &p)?)
                .with_context(|| format!("backup {id}: its manifest does not parse"))?;
            tables = Some(m.tables.len());
            rows = Some(m.rows());
        }
        out.push(Listed {
            backup: id.to_string(),
            snapshot: s.id.clone(),
            time: s.time.clone(),
            host: s.hostname.clone(),
            tables,
            rows,
        });
    }
    Ok(out)
}

/// Drops the backups beyond the retention, and the data of unfinished
/// ones; returns restic's account of what it kept and removed.
pub fn prune(settings: &BackupSettings, key: BackupKey) -> Result<String> {
    let restic = Restic::new(settings.repository.clone(), key);
    restic.forget(
        settings.keep.daily,
        settings.keep.weekly,
        settings.keep.monthly,
    )
}

/// Removes the repository's stale locks (restic processes that are gone:
/// a backup killed half way), or every lock with `all`; run it only when
/// no backup operation uses the repository.
pub fn unlock(settings: &BackupSettings, key: BackupKey, all: bool) -> Result<()> {
    Restic::new(settings.repository.clone(), key).unlock(all)
}
