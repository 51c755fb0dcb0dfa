//! `astrolab backup setup | create | verify | restore | prune` for a data
//! home whose store is PostgreSQL: the cluster through pgBackRest (full,
//! differential or incremental backups; WAL archived by the server), the
//! home's files and the manifest through restic, as for SQLite.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use postgres::{Client, NoTls};
use serde::Serialize;

use super::cluster::{last_restored_segment, next_segment, Cluster};
use super::digest::{consistent_point, pg_digests};
use super::pgbackrest::{PgBackRest, Target};
use super::{give_to, owner, PgSettings};
use crate::digest::differences;
use crate::key::BackupKey;
use crate::manifest::{self, Manifest, PgPart};
use crate::ops::{
    backup_id, excluded, find, host, outcome, record_create, record_verify, restore_home, tally,
    BackupSettings, CreateReport, Lock, RestoreReport, VerifyReport, STAGE_DIR,
};
use crate::restic::{absolute, Restic};
use crate::status;

/// How long a restored cluster may take to replay its WAL.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(3600);

/// A PostgreSQL store's backup settings.
#[derive(Debug, Clone)]
pub struct PgBackup {
    /// Repository and retention.
    pub settings: BackupSettings,
    /// The cluster.
    pub pg: PgSettings,
}

impl PgBackup {
    fn engine(&self, home: &Path, key: &BackupKey) -> PgBackRest {
        PgBackRest::new(
            self.settings.repository.clone(),
            key.clone(),
            self.pg.clone(),
            home.join("backups").join("pgbackrest"),
            // One full backup a week: the weeks kept are the full backups kept.
            self.settings.keep.weekly,
        )
    }
}

/// What `setup` did.
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    /// pgBackRest's configuration file.
    pub config: PathBuf,
    /// The archive command now set on the server.
    pub archive_command: String,
    /// Whether PostgreSQL must be restarted for archiving to start (then
    /// run setup again).
    pub restart_needed: bool,
    /// Whether WAL archiving into the repository was checked end to end.
    pub archiving_checked: bool,
}

/// Prepares the cluster for backups: writes pgBackRest's configuration,
/// sets the server's WAL archiving to the repository (`ALTER SYSTEM`:
/// `archive_mode`, `archive_command` reading the key from `key_file`,
/// `archive_timeout` of 60 s, which bounds the data a lost server loses),
/// then, once archiving runs, creates the stanza and checks that a WAL
/// segment reaches the repository.
pub fn setup(home: &Path, b: &PgBackup, key: BackupKey, key_file: &Path) -> Result<SetupReport> {
    let home = absolute(home)?;
    let key_file = absolute(key_file)?;
    let _lock = Lock::take(&home)?;
    let e = b.engine(&home, &key);
    e.write_config()?;
    let cmd = e.archive_command(&key_file);
    let mut c = connect(&b.pg.url)?;
    let show = |c: &mut Client, what: &str| -> Result<String> {
        Ok(c.query_one(&format!("SHOW {what}"), &[])?.get(0))
    };
    let mode = show(&mut c, "archive_mode")?;
    let level = show(&mut c, "wal_level")?;
    c.batch_execute("ALTER SYSTEM SET archive_mode = 'on'")?;
    c.batch_execute(&format!(
        "ALTER SYSTEM SET archive_command = {}",
        sql_text(&cmd)
    ))?;
    c.batch_execute("ALTER SYSTEM SET archive_timeout = '60s'")?;
    if level == "minimal" {
        c.batch_execute("ALTER SYSTEM SET wal_level = 'replica'")?;
    }
    c.batch_execute("SELECT pg_reload_conf()")?;
    let restart_needed = mode == "off" || level == "minimal";
    let mut checked = false;
    if !restart_needed {
        // The reload must reach the archiver before the check.
        std::thread::sleep(Duration::from_millis(500));
        e.stanza_create()?;
        e.check()?;
        checked = true;
    }
    Ok(SetupReport {
        config: e.config_path(),
        archive_command: cmd,
        restart_needed,
        archiving_checked: checked,
    })
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A connection to the store (passwords from the URL, PGPASSWORD or
/// ~/.pgpass, as the store connects).
pub(crate) fn connect(url: &str) -> Result<Client> {
    astrolab_store::pgpass::pg_config(url)?
        .connect(NoTls)
        .with_context(|| format!("connecting to the store at {}", super::redact(url)))
}

fn dbname(url: &str) -> Result<String> {
    let cfg: postgres::Config = url.parse()?;
    Ok(cfg
        .get_dbname()
        .or(cfg.get_user())
        .unwrap_or("postgres")
        .to_string())
}

/// Backs up the PostgreSQL store: a pgBackRest backup of `kind` (`full`,
/// `diff`, `incr`), the restore point and manifest, the WAL up to it
/// archived, then the home's files and the manifest through restic.
pub fn create(home: &Path, b: &PgBackup, key: BackupKey, kind: &str) -> Result<CreateReport> {
    let t0 = Instant::now();
    let home = absolute(home)?;
    let r = create_inner(&home, b, key, kind, t0);
    record_create(&home, &b.settings.repository, &r, t0);
    r
}

fn create_inner(
    home: &Path,
    b: &PgBackup,
    key: BackupKey,
    kind: &str,
    t0: Instant,
) -> Result<CreateReport> {
    if !matches!(kind, "full" | "diff" | "incr") {
        bail!("--type {kind}: give full, diff or incr");
    }
    if !b.pg.data.is_dir() {
        bail!(
            "[backup] pg_data = {}: not a directory on this machine; pgBackRest reads the cluster's files, so run the backup on the database server",
            b.pg.data.display()
        );
    }
    let _lock = Lock::take(home)?;
    let e = b.engine(home, &key);
    e.write_config()?;
    e.stanza_create()?;
    let set = e.backup(kind)?;
    let id = backup_id();
    let point = consistent_point(&b.pg.url, &id)?;
    // The WAL up to the restore point must be in the repository before
    // the backup counts: `check` switches to a new segment and waits
    // until the old one is archived.
    e.check()?;
    let stage_root = home.join(STAGE_DIR);
    if stage_root.exists() {
        std::fs::remove_dir_all(&stage_root)
            .with_context(|| format!("removing {}", stage_root.display()))?;
    }
    let stage = stage_root.join(&id);
    std::fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    let r = (|| -> Result<CreateReport> {
        let skip = excluded(home);
        let (files, file_bytes) = tally(home, &[skip.clone(), vec![stage_root.clone()]].concat())?;
        let m = Manifest {
            format: manifest::FORMAT.into(),
            id: id.clone(),
            created: point.created.clone(),
            astrolab: env!("CARGO_PKG_VERSION").into(),
            host: host(),
            backend: "postgresql".into(),
            database: set.label.clone(),
            database_bytes: set.info.size,
            schema_version: point.schema_version,
            tables: point.tables.clone(),
            files,
            file_bytes,
            postgres: Some(PgPart {
                stanza: b.pg.stanza.clone(),
                label: set.label.clone(),
                kind: set.kind.clone(),
                restore_point: id.clone(),
                lsn: point.lsn.clone(),
                database_bytes: set.info.size,
                repository_bytes: set.info.repository.delta,
                dbname: dbname(&b.pg.url)?,
            }),
        };
        std::fs::write(stage.join(manifest::FILE), serde_json::to_vec_pretty(&m)?)
            .with_context(|| format!("writing the manifest in {}", stage.display()))?;
        let restic = Restic::new(b.settings.repository.clone(), key.clone());
        restic.init_if_missing()?;
        let s = restic.backup(&[home.to_path_buf()], &skip, &id, &m.host)?;
        Ok(CreateReport {
            snapshot: s.snapshot_id,
            bytes: s.total_bytes_processed + set.info.delta,
            bytes_added: s.data_added + set.info.repository.delta,
            seconds: t0.elapsed().as_secs_f64(),
            manifest: m,
        })
    })();
    std::fs::remove_dir_all(&stage_root).ok();
    r
}

/// A directory for a restored cluster: new, owned by the live cluster's
/// owner, private (PostgreSQL refuses a data directory others can read).
fn fresh_data_dir(dir: &Path, who: (u32, u32)) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty: restore the cluster into an empty or new directory (nothing was changed)",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    give_to(dir, who)?;
    Ok(())
}

/// Why a restored cluster did not reach `target`: the archived WAL it
/// stopped at, and what pgBackRest's own verification finds.
fn explain_recovery(e: anyhow::Error, engine: &PgBackRest) -> anyhow::Error {
    let log = e
        .downcast_ref::<super::cluster::RecoveryError>()
        .map(|r| r.log.clone())
        .unwrap_or_default();
    let last = last_restored_segment(&log);
    let mut msg = String::new();
    if log.contains("before configured recovery target was reached") {
        if let Some(next) = last.as_deref().and_then(next_segment) {
            msg.push_str(&format!(
                "the archived WAL ends at segment {}: segment {next} is missing from pgBackRest's repository {}, so the restore cannot reach the backup's restore point; ",
                last.as_deref().unwrap_or_default(),
                engine.repository()
            ));
        } else {
            msg.push_str("the archived WAL ends before the backup's restore point; ");
        }
    }
    if let Ok(p) = engine.verify() {
        if !p.is_empty() {
            msg.push_str(&format!("pgbackrest verify: {}; ", p.join(" | ")));
        }
    }
    if msg.is_empty() {
        e
    } else {
        e.context(format!("{}take a new backup (astrolab backup create --type full) and find why WAL went missing", msg))
    }
}

/// Verifies the newest (or a chosen) backup by restoring it: the home's
/// files through restic, the cluster through pgBackRest to the backup's
/// restore point in `scratch`, started for the purpose; every table
/// rehashed against the manifest; then `pgbackrest verify` and `restic
/// check --read-data-subset`.
pub fn verify(
    home: &Path,
    b: &PgBackup,
    key: BackupKey,
    backup: Option<&str>,
    scratch: Option<&Path>,
    subset: &str,
) -> Result<VerifyReport> {
    let t0 = Instant::now();
    let home = absolute(home)?;
    let r = verify_inner(&home, b, key, backup, scratch, subset, t0);
    record_verify(&home, &b.settings.repository, &r, backup, t0);
    r
}

#[allow(clippy::too_many_arguments)]
fn verify_inner(
    home: &Path,
    b: &PgBackup,
    key: BackupKey,
    backup: Option<&str>,
    scratch: Option<&Path>,
    subset: &str,
    t0: Instant,
) -> Result<VerifyReport> {
    let _lock = Lock::take(home)?;
    let e = b.engine(home, &key);
    e.write_config()?;
    let restic = Restic::new(b.settings.repository.clone(), key.clone());
    let snap = find(&restic, backup)?;
    let base = match scratch {
        Some(s) => absolute(s)?,
        None => std::env::temp_dir(),
    };
    let tag = snap.backup_id().unwrap_or(&snap.id).to_string();
    let dest = base.join(format!("astrolab-verify-{tag}"));
    let data = base.join(format!("astrolab-verify-{tag}-pgdata"));
    for d in [&dest, &data] {
        if d.exists() {
            std::fs::remove_dir_all(d).ok();
        }
    }
    let who = owner(&b.pg.data)?;
    let t_restore = Instant::now();
    let r = restore_home(&restic, &snap, &dest, |m, _root, _stage| {
        let p = pg_part(m)?;
        fresh_data_dir(&data, who)?;
        e.restore(
            Some(&p.label),
            &data,
            &Target::Name(p.restore_point.clone()),
            false,
        )?;
        let mut c = Cluster::start(&b.pg, &data, &key, RECOVERY_TIMEOUT)
            .map_err(|err| explain_recovery(err, &e))?;
        let got = pg_digests(&mut c.connect(&p.dbname)?)?;
        c.stop()?;
        let diff = differences(&m.tables, &got);
        if !diff.is_empty() {
            bail!(
                "backup {} does not restore what was backed up: {}",
                m.id,
                diff.join("; ")
            );
        }
        Ok(())
    });
    let seconds_restore = t_restore.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dest).ok();
    std::fs::remove_dir_all(&data).ok();
    let (m, bytes) = r?;
    let problems = e.verify()?;
    if !problems.is_empty() {
        bail!(
            "pgBackRest's repository {} is damaged: {}",
            e.repository(),
            problems.join(" | ")
        );
    }
    restic.check(subset)?;
    // With WAL archived, a failure now loses what the server wrote since
    // its last archived segment, not since the backup.
    let since_backup =
        time::OffsetDateTime::parse(&m.created, &time::format_description::well_known::Rfc3339)
            .map_or(f64::NAN, |c| {
                (time::OffsetDateTime::now_utc() - c).as_seconds_f64()
            });
    let rpo_s = connect(&b.pg.url)
        .and_then(|mut c| {
            Ok(c.query_one(
                "SELECT EXTRACT(EPOCH FROM now() - last_archived_time)::float8 FROM pg_stat_archiver",
                &[],
            )?
            .get::<_, Option<f64>>(0))
        })
        .ok()
        .flatten()
        .map_or(since_backup, |a| a.min(since_backup));
    Ok(VerifyReport {
        backup: m.id.clone(),
        snapshot: snap.id,
        tables: m.tables.len(),
        rows: m.rows(),
        bytes_restored: bytes + m.database_bytes,
        read_data_subset: subset.into(),
        seconds_restore,
        rpo_s,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn pg_part(m: &Manifest) -> Result<&PgPart> {
    m.postgres.as_ref().ok_or_else(|| {
        anyhow!(
            "backup {} is of a {} store, not PostgreSQL: restore it into a home without database_url",
            m.id,
            m.backend
        )
    })
}

/// Where a restore of the cluster goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreTo {
    /// The backup's own restore point (its manifest is checked).
    Backup,
    /// Everything archived.
    Latest,
    /// A moment (`YYYY-MM-DD HH:MM:SS[+TZ]`).
    Time(String),
}

/// What a PostgreSQL restore did, beyond the home's files.
#[derive(Debug, Clone, Serialize)]
pub struct PgRestoreReport {
    /// The home's files and the backup.
    pub home: RestoreReport,
    /// The restored cluster's data directory.
    pub data: PathBuf,
    /// Where recovery stopped (`backup`, `latest` or the time).
    pub target: String,
    /// Rows of every table in the restored cluster.
    pub tables: std::collections::BTreeMap<String, u64>,
    /// Whether the tables were checked against the manifest (target `backup`).
    pub checked: bool,
    /// Seconds from the start of the restore until the cluster answered
    /// out of recovery: the measured recovery time.
    pub rto_s: f64,
}

/// Restores the home's files as `dest` and the cluster into `data` (both
/// absent or empty), to the backup's restore point, the latest archived
/// WAL or a time; starts the cluster once to let it recover (counting
/// every table, and checking them against the manifest for the backup's
/// own point), and stops it, ready for the server's service to start.
/// With `archive`, the restored cluster keeps archiving into the
/// repository (it is the new primary); a drill or a copy turns it off.
pub fn restore(
    dest: &Path,
    b: &PgBackup,
    key: BackupKey,
    backup: Option<&str>,
    data: &Path,
    to: &RestoreTo,
    archive: bool,
) -> Result<PgRestoreReport> {
    let t0 = Instant::now();
    let dest = absolute(dest)?;
    let data = absolute(data)?;
    let restic = Restic::new(b.settings.repository.clone(), key.clone());
    let snap = find(&restic, backup)?;
    // The cluster is owned by whoever owns the directory it goes into.
    let parent = data
        .parent()
        .ok_or_else(|| anyhow!("{}: no parent directory", data.display()))?;
    let who = owner(parent)?;
    let e = PgBackRest::new(
        b.settings.repository.clone(),
        key.clone(),
        PgSettings {
            data: data.clone(),
            ..b.pg.clone()
        },
        // The new home's pgBackRest files are written once it is in place.
        std::env::temp_dir().join(format!("astrolab-pgbackrest-{}", std::process::id())),
        b.settings.keep.weekly,
    );
    let mut counts = std::collections::BTreeMap::new();
    let mut checked = false;
    let mut rto = 0.0;
    let r = restore_home(&restic, &snap, &dest, |m, _root, _stage| {
        let p = pg_part(m)?;
        fresh_data_dir(&data, who)?;
        // pgBackRest runs as the data directory's owner; its configuration
        // must exist before it does.
        std::fs::create_dir_all(e.config_path().parent().unwrap_or(Path::new("/")))?;
        give_to(e.config_path().parent().unwrap_or(Path::new("/")), who)?;
        e.write_config()?;
        let (set, target) = match to {
            RestoreTo::Backup => (
                Some(p.label.as_str()),
                Target::Name(p.restore_point.clone()),
            ),
            RestoreTo::Latest => (None, Target::Latest),
            RestoreTo::Time(t) => (None, Target::Time(t.clone())),
        };
        e.restore(set, &data, &target, archive)?;
        let mut c = Cluster::start(
            &PgSettings {
                data: data.clone(),
                ..b.pg.clone()
            },
            &data,
            &key,
            RECOVERY_TIMEOUT,
        )
        .map_err(|err| explain_recovery(err, &e))?;
        rto = t0.elapsed().as_secs_f64();
        let got = pg_digests(&mut c.connect(&p.dbname)?)?;
        c.stop()?;
        if *to == RestoreTo::Backup {
            let diff = differences(&m.tables, &got);
            if !diff.is_empty() {
                bail!(
                    "backup {} does not restore what was backed up: {}",
                    m.id,
                    diff.join("; ")
                );
            }
            checked = true;
        }
        counts = got.into_iter().map(|(k, v)| (k, v.rows)).collect();
        Ok(())
    });
    std::fs::remove_dir_all(
        e.config_path()
            .parent()
            .unwrap_or(Path::new("/nonexistent")),
    )
    .ok();
    let (m, bytes) = match r {
        Ok(x) => x,
        Err(err) => {
            // Nothing half-restored is left to be started by mistake.
            if data.exists() && !data.join("PG_VERSION").exists() {
                std::fs::remove_dir_all(&data).ok();
            }
            return Err(err);
        }
    };
    let rep = RestoreReport {
        backup: m.id.clone(),
        created: m.created.clone(),
        home: dest.clone(),
        tables: m.tables.len(),
        rows: counts.values().sum(),
        bytes: bytes + m.database_bytes,
        seconds: t0.elapsed().as_secs_f64(),
    };
    let o = outcome(
        &Ok::<_, anyhow::Error>(()),
        &b.settings.repository,
        Some(m.id.clone()),
        t0,
        rep.bytes,
    );
    if let Err(err) = status::update(&dest, |s| s.last_restore = Some(o)) {
        tracing::warn!(error = %err, "could not record the restore");
    }
    Ok(PgRestoreReport {
        home: rep,
        data,
        target: match to {
            RestoreTo::Backup => "backup".into(),
            RestoreTo::Latest => "latest".into(),
            RestoreTo::Time(t) => t.clone(),
        },
        tables: counts,
        checked,
        rto_s: rto,
    })
}

/// Drops backups beyond the retention: pgBackRest's (full backups kept:
/// `keep_weekly`, with the WAL they need) and restic's.
pub fn prune(home: &Path, b: &PgBackup, key: BackupKey) -> Result<String> {
    let home = absolute(home)?;
    let e = b.engine(&home, &key);
    e.write_config()?;
    let mut out = e.expire()?;
    out.push_str(&crate::ops::prune(&b.settings, key)?);
    Ok(out)
}
