//! `astrolab backup create | verify | restore | list | prune | status`:
//! verified, encrypted backups of the data home (astrolab_backup). The
//! repository comes from `--to`/`--from`, else `[backup] repository` in
//! astrolab.toml; the key only from `ASTROLAB_BACKUP_KEY` or the file named
//! by `ASTROLAB_BACKUP_KEY_FILE`.

use std::path::PathBuf;

use anyhow::{bail, Result};
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
    Restore {
        /// Repository (default: [backup] repository).
        #[arg(long)]
        from: Option<String>,
        /// Backup id or snapshot id (default: the newest).
        #[arg(long)]
        backup: Option<String>,
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
        repository: Repository::parse(r, b.s3_endpoint.as_deref())?,
        keep: Keep {
            daily: b.keep_daily.unwrap_or(d.daily),
            weekly: b.keep_weekly.unwrap_or(d.weekly),
            monthly: b.keep_monthly.unwrap_or(d.monthly),
        },
    })
}

fn sqlite_only(cfg: &Config) -> Result<()> {
    if cfg.database_url.is_some() {
        bail!("this store is PostgreSQL: its database is backed up by pgBackRest (see docs/operations.md); `astrolab backup` covers homes with the embedded database");
    }
    Ok(())
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
        BackupCommand::Create { to, json } => {
            sqlite_only(cfg)?;
            let s = settings(cfg, to.as_deref())?;
            let r = ops::create(&cfg.home, &s, BackupKey::from_env()?)?;
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
            let r = ops::verify(
                &cfg.home,
                &s,
                BackupKey::from_env()?,
                backup.as_deref(),
                scratch.as_deref(),
                read_data_subset,
            )?;
            print(*json, &r, |r| {
                println!(
                    "backup {} verified: restored in {:.1} s, {} tables ({} rows) match the manifest; restic check read {} of the repository's data",
                    r.backup, r.seconds_restore, r.tables, r.rows, r.read_data_subset
                )
            })
        }
        BackupCommand::Restore { from, backup, json } => {
            sqlite_only(cfg)?;
            let s = settings(cfg, from.as_deref())?;
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
            let out = ops::prune(&s, BackupKey::from_env()?)?;
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
