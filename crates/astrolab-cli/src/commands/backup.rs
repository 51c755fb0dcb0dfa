//! `astrolab backup setup | create | verify | restore | list | prune |
//! unlock | status`: verified, encrypted backups of the data home
//! (astrolab_backup): SQLite's online backup, or pgBackRest for a
//! PostgreSQL store, and restic for the home's files. The
//! repository comes from `--to`/`--from`, else `[backup] repository` in
//! astrolab.toml; the key only from `ASTROLAB_BACKUP_KEY` or the file named
//! by `ASTROLAB_BACKUP_KEY_FILE`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use astrolab_backup::pg::ops::{self as pg_ops, PgBackup, RestoreTo};
use astrolab_backup::pg::PgSettings;
use astrolab_backup::{ops, status, BackupKey, BackupSettings, Keep, Repository};
use clap::Subcommand;

use crate::config::Config;

/// `[backup]` in astrolab.toml.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupFileConfig {
    /// A directory or `s3://BUCKET/PREFIX`.
    pub repository: Option<String>,
    /// The S3 endpoint (`https://HOST[:PORT]`).
    pub s3_endpoint: Option<String>,
    /// Daily backups kept by `prune` (default 7).
    pub keep_daily: Option<u32>,
    /// Weekly (default 4).
    pub keep_weekly: Option<u32>,
    /// Monthly (default 12).
    pub keep_monthly: Option<u32>,
    /// A certificate authority file for the S3 endpoint's TLS certificate.
    pub s3_ca_file: Option<PathBuf>,
    /// The bucket's region (default us-east-1).
    pub s3_region: Option<String>,
    /// PostgreSQL store: the cluster's data directory on this machine
    /// (pgBackRest reads it; the backup runs on the database server).
    pub pg_data: Option<PathBuf>,
    /// PostgreSQL store: the server's Unix socket directory (default the
    /// URL's, else /var/run/postgresql).
    pub pg_socket: Option<PathBuf>,
    /// PostgreSQL store: the directory of pg_ctl (default pg_config --bindir).
    pub pg_bin: Option<PathBuf>,
    /// PostgreSQL store: pgBackRest's stanza (default astrolab).
    pub stanza: Option<String>,
}

/// `astrolab backup ...`.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up the data home (database copy by SQLite's online backup,
    /// every file but caches) as one encrypted restic snapshot with a
    /// manifest of every table's rows and content hash.
    Create {
        /// Repository: DIR or s3://BUCKET/PREFIX (default: [backup] repository).
        #[arg(long)]
        to: Option<String>,
        /// PostgreSQL store: pgBackRest's backup type, full, diff or incr
        /// (an incremental one becomes full when there is none yet).
        #[arg(long = "type", default_value = "incr")]
        kind: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// PostgreSQL store: write pgBackRest's configuration, set the
    /// server's WAL archiving into the repository (ALTER SYSTEM; the key
    /// is read from ASTROLAB_BACKUP_KEY_FILE by the archive command), and
    /// once it runs (after a restart if archive_mode was off) check that
    /// WAL reaches the repository.
    Setup {
        /// Repository (default: [backup] repository).
        #[arg(long)]
        to: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into scratch space, check every table against its
    /// manifest, then `restic check --read-data-subset`; the outcome is
    /// recorded for the metrics.
    Verify {
        /// Repository (default: [backup] repository).
        #[arg(long)]
        from: Option<String>,
        /// Backup id or snapshot id (default: the newest).
        #[arg(long)]
        backup: Option<String>,
        /// Directory for the scratch restore (default: the system's temporary directory).
        #[arg(long)]
        scratch: Option<PathBuf>,
        /// Fraction of the repository's data read back by restic check
        /// (`10%`, `1/7`, `500M`).
        #[arg(long, default_value = "10%")]
        read_data_subset: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup as the data home (--home), which must be absent or
    /// empty: files and database, every table checked against the manifest.
    /// A PostgreSQL store's cluster is restored into --pg-data (default
    /// [backup] pg_data, absent or empty), to the latest archived WAL, to
    /// --time, or with --backup alone to that backup's own point.
    Restore {
        /// Repository (default: [backup] repository).
        #[arg(long)]
        from: Option<String>,
        /// Backup id or snapshot id (default: the newest).
        #[arg(long)]
        backup: Option<String>,
        /// PostgreSQL store: recover to this moment (`YYYY-MM-DD
        /// HH:MM:SS+00`), from the newest backup taken before it.
        #[arg(long, conflicts_with = "latest")]
        time: Option<String>,
        /// PostgreSQL store: recover everything archived (the default
        /// unless --backup or --time is given).
        #[arg(long)]
        latest: bool,
        /// PostgreSQL store: where the cluster's data directory goes.
        #[arg(long)]
        pg_data: Option<PathBuf>,
        /// PostgreSQL store: the restored cluster does not archive WAL into
        /// the repository (a drill, a copy beside the live server).
        #[arg(long)]
        no_archive: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The repository's backups.
    List {
        /// Repository (default: [backup] repository).
        #[arg(long)]
        from: Option<String>,
        /// Also read each backup's manifest (tables, rows).
        #[arg(long)]
        manifests: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget backups beyond the retention ([backup] keep_daily,
    /// keep_weekly, keep_monthly) and drop data no backup uses.
    Prune {
        /// Repository (default: [backup] repository).
        #[arg(long)]
        from: Option<String>,
    },
    /// Remove the repository's stale locks (a backup killed half way);
    /// with --all every lock, when no backup operation runs on it.
    Unlock {
        /// Repository (default: [backup] repository).
        #[arg(long)]
        from: Option<String>,
        /// Remove every lock, not only those of processes known gone.
        #[arg(long)]
        all: bool,
    },
    /// This home's last backup, verification and drill (what the metrics
    /// show), as JSON, or as Prometheus text with --metrics.
    Status {
        /// Prometheus text exposition.
        #[arg(long)]
        metrics: bool,
    },
}

fn settings(cfg: &Config, repo: Option<&str>) -> Result<BackupSettings> {
    let b = &cfg.backup;
    let Some(r) = repo.or(b.repository.as_deref()) else {
        bail!("no backup repository: give --to/--from DIR or s3://BUCKET/PREFIX, or set [backup] repository in astrolab.toml");
    };
    let d = Keep::default();
    Ok(BackupSettings {
        repository: Repository::parse(r, b.s3_endpoint.as_deref())?
            .with_s3_options(b.s3_ca_file.clone(), b.s3_region.clone()),
        keep: Keep {
            daily: b.keep_daily.unwrap_or(d.daily),
            weekly: b.keep_weekly.unwrap_or(d.weekly),
            monthly: b.keep_monthly.unwrap_or(d.monthly),
        },
    })
}

/// The PostgreSQL settings when the store is PostgreSQL (None for SQLite).
fn postgres(cfg: &Config, settings: &BackupSettings) -> Result<Option<PgBackup>> {
    let Some(url) = &cfg.database_url else {
        return Ok(None);
    };
    let b = &cfg.backup;
    let Some(data) = &b.pg_data else {
        bail!("this store is PostgreSQL: set [backup] pg_data in astrolab.toml to the cluster's data directory (SHOW data_directory), and run the backup on the database server");
    };
    let mut pg = PgSettings::new(url, data.clone(), b.pg_socket.clone())?;
    pg.bin = b.pg_bin.clone();
    if let Some(s) = &b.stanza {
        pg.stanza = s.clone();
    }
    Ok(Some(PgBackup {
        settings: settings.clone(),
        pg,
    }))
}

fn print<T: serde::Serialize>(json: bool, v: &T, human: impl FnOnce(&T)) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        human(v);
    }
    Ok(())
}

/// Runs `astrolab backup ...`.
pub fn run(cfg: &Config, c: &BackupCommand) -> Result<()> {
    match c {
        BackupCommand::Setup { to, json } => {
            let s = settings(cfg, to.as_deref())?;
            let Some(pg) = postgres(cfg, &s)? else {
                bail!("`backup setup` prepares a PostgreSQL store's WAL archiving; a home with the embedded database needs none: run `astrolab backup create`");
            };
            let Some(key_file) =
                std::env::var_os(astrolab_backup::key::KEY_FILE_ENV).filter(|v| !v.is_empty())
            else {
                bail!("the server's archive command reads the key from a file: set {} to a file holding it, readable by the user PostgreSQL runs as", astrolab_backup::key::KEY_FILE_ENV);
            };
            let r = pg_ops::setup(
                &cfg.home,
                &pg,
                BackupKey::from_env()?,
                std::path::Path::new(&key_file),
            )?;
            print(*json, &r, |r| {
                println!("pgBackRest configuration: {}", r.config.display());
                if r.restart_needed {
                    println!("WAL archiving is set; restart PostgreSQL for it to start, then run `astrolab backup setup` again");
                } else {
                    println!("WAL archiving into {} works (checked)", s.repository);
                }
            })
        }
        BackupCommand::Create { to, kind, json } => {
            let s = settings(cfg, to.as_deref())?;
            let r = match postgres(cfg, &s)? {
                Some(pg) => pg_ops::create(&cfg.home, &pg, BackupKey::from_env()?, kind)?,
                None => ops::create(&cfg.home, &s, BackupKey::from_env()?)?,
            };
            print(*json, &r, |r| {
                println!(
                    "backup {} (snapshot {}) in {}: {} tables, {} rows, {} files, {} bytes ({} new) in {:.1} s",
                    r.manifest.id,
                    &r.snapshot[..8.min(r.snapshot.len())],
                    s.repository,
                    r.manifest.tables.len(),
                    r.manifest.rows(),
                    r.manifest.files + 1,
                    r.bytes,
                    r.bytes_added,
                    r.seconds
                )
            })
        }
        BackupCommand::Verify {
            from,
            backup,
            scratch,
            read_data_subset,
            json,
        } => {
            let s = settings(cfg, from.as_deref())?;
            let key = BackupKey::from_env()?;
            let (b, sc) = (backup.as_deref(), scratch.as_deref());
            let r = match postgres(cfg, &s)? {
                Some(pg) => pg_ops::verify(&cfg.home, &pg, key, b, sc, read_data_subset)?,
                None => ops::verify(&cfg.home, &s, key, b, sc, read_data_subset)?,
            };
            print(*json, &r, |r| {
                println!(
                    "backup {} verified: restored in {:.1} s, {} tables ({} rows) match the manifest; restic check read {} of the repository's data",
                    r.backup, r.seconds_restore, r.tables, r.rows, r.read_data_subset
                )
            })
        }
        BackupCommand::Restore {
            from,
            backup,
            time,
            latest,
            pg_data,
            no_archive,
            json,
        } => {
            let s = settings(cfg, from.as_deref())?;
            if let Some(pg) = postgres(cfg, &s)? {
                let to = match (time, backup, latest) {
                    (Some(t), _, _) => RestoreTo::Time(t.clone()),
                    (None, Some(_), false) => RestoreTo::Backup,
                    _ => RestoreTo::Latest,
                };
                let data = pg_data.clone().unwrap_or_else(|| pg.pg.data.clone());
                let r = pg_ops::restore(
                    &cfg.home,
                    &pg,
                    BackupKey::from_env()?,
                    backup.as_deref(),
                    &data,
                    &to,
                    !no_archive,
                )?;
                return print(*json, &r, |r| {
                    println!(
                        "restored backup {} (taken {}): the home into {}, the cluster into {} recovered to {} ({} rows in {} tables{}); it answered after {:.1} s; start PostgreSQL on it",
                        r.home.backup,
                        r.home.created,
                        r.home.home.display(),
                        r.data.display(),
                        r.target,
                        r.home.rows,
                        r.tables.len(),
                        if r.checked { ", every table matching the manifest" } else { "" },
                        r.rto_s
                    )
                });
            }
            if time.is_some() || *latest || pg_data.is_some() {
                bail!("--time, --latest and --pg-data apply to a PostgreSQL store; a home with the embedded database is restored as it was backed up");
            }
            let r = ops::restore(&cfg.home, &s, BackupKey::from_env()?, backup.as_deref())?;
            print(*json, &r, |r| {
                println!(
                    "restored backup {} (taken {}) into {}: {} tables ({} rows) match the manifest, {} bytes, {:.1} s",
                    r.backup,
                    r.created,
                    r.home.display(),
                    r.tables,
                    r.rows,
                    r.bytes,
                    r.seconds
                )
            })
        }
        BackupCommand::List {
            from,
            manifests,
            json,
        } => {
            let s = settings(cfg, from.as_deref())?;
            let v = ops::list(&s, BackupKey::from_env()?, *manifests)?;
            print(*json, &v, |v| {
                println!(
                    "{:<24} {:<10} {:<27} {:<16} {:>7} {:>12}",
                    "backup", "snapshot", "time", "host", "tables", "rows"
                );
                for b in v {
                    let opt = |x: Option<u64>| x.map_or("-".to_string(), |x| x.to_string());
                    println!(
                        "{:<24} {:<10} {:<27} {:<16} {:>7} {:>12}",
                        b.backup,
                        &b.snapshot[..8.min(b.snapshot.len())],
                        &b.time[..b.time.len().min(27)],
                        b.host,
                        opt(b.tables.map(|t| t as u64)),
                        opt(b.rows)
                    );
                }
            })
        }
        BackupCommand::Prune { from } => {
            let s = settings(cfg, from.as_deref())?;
            let out = match postgres(cfg, &s)? {
                Some(pg) => pg_ops::prune(&cfg.home, &pg, BackupKey::from_env()?)?,
                None => ops::prune(&s, BackupKey::from_env()?)?,
            };
            print!("{out}");
            println!(
                "kept the last backup of {} days, {} weeks and {} months",
                s.keep.daily, s.keep.weekly, s.keep.monthly
            );
            Ok(())
        }
        BackupCommand::Unlock { from, all } => {
            let s = settings(cfg, from.as_deref())?;
            ops::unlock(&s, BackupKey::from_env()?, *all)?;
            println!("unlocked {}", s.repository);
            Ok(())
        }
        BackupCommand::Status { metrics } => {
            let st = status::read(&cfg.home)?;
            if *metrics {
                print!("{}", status::metrics(&st));
            } else {
                println!("{}", serde_json::to_string_pretty(&st)?);
            }
            Ok(())
        }
    }
}
