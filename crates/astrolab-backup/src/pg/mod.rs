//! Backups of a PostgreSQL store, through pgBackRest (<https://pgbackrest.org>):
//! full, differential and incremental physical backups of the cluster,
//! the write-ahead log archived continuously by the server's
//! `archive_command` (so a restore can reach any moment, not only the
//! backups), and the repository encrypted (aes-256-cbc) with the backup
//! key. The data home's files still go to restic beside it, with the
//! manifest.
//!
//! A backup's manifest must describe exactly what a restore returns, so it
//! is taken at a *named restore point* ([`digest::consistent_point`]):
//! every table is locked against writes for the instant a restore point is
//! written to the log and a snapshot is exported, and the tables are then
//! hashed in that snapshot while writers go on. Recovering to the restore
//! point (`--type=name`) gives those rows, which `verify` checks in a
//! scratch cluster it starts for the purpose ([`cluster::Cluster`]).
//!
//! pgBackRest must write the repository as the same user as the server's
//! `archive_command`: when astrolab runs as root, pgBackRest and `pg_ctl`
//! run as the owner of the cluster's data directory.

pub mod cluster;
pub mod digest;
pub mod ops;
pub mod pgbackrest;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The PostgreSQL side of the backup settings (`[backup]` in astrolab.toml).
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// The store's connection URL (no password: from the environment, as
    /// for the store).
    pub url: String,
    /// The cluster's data directory on this machine (`[backup] pg_data`).
    pub data: PathBuf,
    /// The directory of the server's Unix socket, through which pgBackRest
    /// connects (`[backup] pg_socket`; default: the URL's socket, else
    /// `/var/run/postgresql`).
    pub socket: PathBuf,
    /// The server's port (from the URL; default 5432).
    pub port: u16,
    /// The role pgBackRest connects as (from the URL; default `postgres`).
    pub user: String,
    /// pgBackRest's stanza (`[backup] stanza`, default `astrolab`).
    pub stanza: String,
    /// The PostgreSQL programs (`pg_ctl`), `[backup] pg_bin`; default
    /// `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`.
    pub bin: Option<PathBuf>,
}

impl PgSettings {
    /// Settings for the store at `url` whose data directory is `data`.
    pub fn new(url: &str, data: PathBuf, socket: Option<PathBuf>) -> Result<PgSettings> {
        let cfg: postgres::Config = url
            .parse()
            .with_context(|| format!("the store's database URL {} does not parse", redact(url)))?;
        let port = cfg.get_ports().first().copied().unwrap_or(5432);
        let url_socket = cfg.get_hosts().iter().find_map(|h| match h {
            postgres::config::Host::Unix(p) => Some(p.clone()),
            _ => None,
        });
        Ok(PgSettings {
            url: url.to_string(),
            data,
            socket: socket
                .or(url_socket)
                .unwrap_or_else(|| PathBuf::from("/var/run/postgresql")),
            port,
            user: cfg.get_user().unwrap_or("postgres").to_string(),
            stanza: "astrolab".into(),
            bin: None,
        })
    }

    /// `program` of the PostgreSQL installation.
    pub fn program(&self, program: &str) -> Result<PathBuf> {
        if let Some(b) = &self.bin {
            return Ok(b.join(program));
        }
        if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
            let d = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if o.status.success() && d.join(program).exists() {
                return Ok(d.join(program));
            }
        }
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let p = e.path().join("bin").join(program);
                p.exists().then_some((v, p))
            })
            .collect();
        found.sort();
        match found.pop() {
            Some((_, p)) => Ok(p),
            None => bail!("{program} not found: install PostgreSQL's server programs or set [backup] pg_bin to their directory"),
        }
    }
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The owner (uid, gid) of `path`.
pub fn owner(path: &Path) -> Result<(u32, u32)> {
    let m = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    Ok((m.uid(), m.gid()))
}

/// Makes `cmd` run as `who` when we are root and `who` is not: the
/// cluster's programs and pgBackRest belong to the cluster's owner
/// (PostgreSQL refuses to run as root, and the repository must stay
/// writable by the server's `archive_command`).
pub fn run_as(cmd: &mut Command, who: (u32, u32)) {
    if rustix::process::geteuid().is_root() && who.0 != 0 {
        cmd.uid(who.0).gid(who.1);
        // HOME of root would be unreadable to the owner.
        cmd.env_remove("HOME");
    }
}

/// Gives `path` to `who` when we are root (directories pgBackRest or the
/// cluster write into).
pub fn give_to(path: &Path, who: (u32, u32)) -> Result<()> {
    if rustix::process::geteuid().is_root() && who.0 != 0 {
        std::os::unix::fs::chown(path, Some(who.0), Some(who.1))
            .with_context(|| format!("giving {} to uid {}", path.display(), who.0))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_the_url() {
        let s = PgSettings::new(
            "postgres://lab:secret@127.0.0.1:5499/astrolab",
            PathBuf::from("/srv/pg"),
            Some(PathBuf::from("/run/pg")),
        )
        .unwrap();
        assert_eq!((s.port, s.user.as_str()), (5499, "lab"));
        assert_eq!(s.socket, PathBuf::from("/run/pg"));
        let d =
            PgSettings::new("postgres://127.0.0.1/astrolab", PathBuf::from("/x"), None).unwrap();
        assert_eq!((d.port, d.user.as_str()), (5432, "postgres"));
        assert_eq!(d.socket, PathBuf::from("/var/run/postgresql"));
        assert_eq!(
            redact("postgres://lab:secret@h/db"),
            "postgres://lab:***@h/db"
        );
        assert!(PgSettings::new("not a url", PathBuf::from("/x"), None).is_err());
    }
}
