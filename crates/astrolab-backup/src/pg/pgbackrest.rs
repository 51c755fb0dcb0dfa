//! pgBackRest (<https://pgbackrest.org>, the engine of PostgreSQL backups):
//! its configuration written by us (no secret in it), and each command run
//! with the key in its environment (`PGBACKREST_REPO1_CIPHER_PASS`), as
//! the cluster's owner. We call the `pgbackrest` program
//! (`ASTROLAB_PGBACKREST`, else on the PATH).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use super::{give_to, owner, run_as, PgSettings};
use crate::key::BackupKey;
use crate::repo::Repository;
use crate::restic::engine_output;

/// The environment variable naming the pgbackrest program.
pub const PGBACKREST_ENV: &str = "ASTROLAB_PGBACKREST";

/// One stanza of one repository, with one key.
#[derive(Debug, Clone)]
pub struct PgBackRest {
    program: PathBuf,
    repo: Repository,
    key: BackupKey,
    pg: PgSettings,
    /// Where the configuration, logs and locks live (`HOME/backups/pgbackrest`).
    dir: PathBuf,
    /// Full backups kept by `expire`.
    keep_full: u32,
}

/// A backup as `pgbackrest info --output=json` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct BackupSet {
    /// Its label (`20261206-164654F`, `..._20261207-090000I`).
    pub label: String,
    /// `full`, `diff` or `incr`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Start and stop (Unix seconds).
    pub timestamp: Timestamps,
    /// Its first and last WAL segments.
    pub archive: Option<ArchiveRange>,
    /// Sizes.
    pub info: SetInfo,
}

/// Start and stop of a backup.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Timestamps {
    /// Start (Unix seconds).
    pub start: i64,
    /// Stop (Unix seconds).
    pub stop: i64,
}

/// A backup's WAL range.
#[derive(Debug, Clone, Deserialize)]
pub struct ArchiveRange {
    /// First segment.
    pub start: Option<String>,
    /// Last segment.
    pub stop: Option<String>,
}

/// A backup's sizes.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SetInfo {
    /// The database's size.
    pub size: u64,
    /// What this backup copied (an incremental copies only changes).
    pub delta: u64,
    /// Its size in the repository (compressed, encrypted).
    pub repository: RepoSize,
}

/// Sizes in the repository.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct RepoSize {
    /// This backup's files in the repository.
    pub delta: u64,
}

/// Where a restore stops replaying the archived WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The end of the archive: everything archived.
    Latest,
    /// A moment (`YYYY-MM-DD HH:MM:SS+00`).
    Time(String),
    /// A named restore point (a backup's id).
    Name(String),
}

impl PgBackRest {
    /// pgBackRest for `pg`'s cluster, its files under `dir`.
    pub fn new(
        repo: Repository,
        key: BackupKey,
        pg: PgSettings,
        dir: PathBuf,
        keep_full: u32,
    ) -> PgBackRest {
        let program = std::env::var_os(PGBACKREST_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("pgbackrest"));
        PgBackRest {
            program,
            repo,
            key,
            pg,
            dir,
            keep_full: keep_full.max(1),
        }
    }

    /// The cluster's settings.
    pub fn pg(&self) -> &PgSettings {
        &self.pg
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("pgbackrest.conf")
    }

    /// The repository as pgBackRest sees it.
    pub fn repository(&self) -> String {
        match &self.repo {
            Repository::Dir(d) => d.join("pgbackrest").display().to_string(),
            r => format!("{r} (pgbackrest/)"),
        }
    }

    /// Writes the configuration (and the directories it names), readable
    /// by the cluster's owner. It holds no secret: the key and the object
    /// store's credentials come from the environment.
    pub fn write_config(&self) -> Result<()> {
        let who = owner(&self.pg.data)?;
        let log = self.dir.join("log");
        std::fs::create_dir_all(&log).with_context(|| format!("creating {}", log.display()))?;
        give_to(&self.dir, who)?;
        give_to(&log, who)?;
        let mut c = String::from("# Written by `astrolab backup`; no secrets here (the key is\n# PGBACKREST_REPO1_CIPHER_PASS in the environment).\n[global]\n");
        match &self.repo {
            Repository::Dir(d) => {
                let r = d.join("pgbackrest");
                std::fs::create_dir_all(&r).with_context(|| format!("creating {}", r.display()))?;
                give_to(d, who)?;
                give_to(&r, who)?;
                c.push_str(&format!("repo1-path={}\n", r.display()));
            }
            Repository::S3 {
                endpoint,
                bucket,
                prefix,
                ca_file,
                region,
            } => {
                let (host, port) = endpoint_host_port(endpoint)?;
                c.push_str(&format!(
                    "repo1-type=s3\nrepo1-s3-bucket={bucket}\nrepo1-s3-endpoint={host}\nrepo1-storage-port={port}\nrepo1-s3-region={}\nrepo1-s3-uri-style=path\nrepo1-path=/{}\n",
                    region.as_deref().unwrap_or("us-east-1"),
                    if prefix.is_empty() { "pgbackrest".to_string() } else { format!("{prefix}/pgbackrest") }
                ));
                if let Some(ca) = ca_file {
                    c.push_str(&format!("repo1-storage-ca-file={}\n", ca.display()));
                }
            }
        }
        c.push_str(&format!(
            "repo1-cipher-type=aes-256-cbc\nrepo1-retention-full={}\nlog-path={}\nlock-path={}\nlog-level-console=warn\nlog-level-file=info\nstart-fast=y\narchive-timeout=120\ncompress-type=zst\nprocess-max=2\n\n[{}]\npg1-path={}\npg1-port={}\npg1-socket-path={}\npg1-user={}\n",
            self.keep_full,
            log.display(),
            log.display(),
            self.pg.stanza,
            self.pg.data.display(),
            self.pg.port,
            self.pg.socket.display(),
            self.pg.user
        ));
        let p = self.config_path();
        let tmp = p.with_extension("conf.tmp");
        std::fs::write(&tmp, c).with_context(|| format!("writing {}", tmp.display()))?;
        give_to(&tmp, who)?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))?;
        Ok(())
    }

    /// The `archive_command` the server needs: pgBackRest's archive-push
    /// with the key read from `key_file` at each call, and for an object
    /// store the credentials from the server's own environment.
    pub fn archive_command(&self, key_file: &Path) -> String {
        let mut c = format!(
            "PGBACKREST_REPO1_CIPHER_PASS=\"$(cat {})\" ",
            shell_quote(&key_file.display().to_string())
        );
        if matches!(self.repo, Repository::S3 { .. }) {
            c.push_str("PGBACKREST_REPO1_S3_KEY=\"$AWS_ACCESS_KEY_ID\" PGBACKREST_REPO1_S3_KEY_SECRET=\"$AWS_SECRET_ACCESS_KEY\" ");
        }
        c.push_str(&format!(
            "{} --config={} --stanza={} archive-push %p",
            shell_quote(&self.program.display().to_string()),
            shell_quote(&self.config_path().display().to_string()),
            self.pg.stanza
        ));
        c
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        let mut c = Command::new(&self.program);
        c.env("PGBACKREST_REPO1_CIPHER_PASS", self.key.expose());
        if matches!(self.repo, Repository::S3 { .. }) {
            for (from, to) in [
                ("AWS_ACCESS_KEY_ID", "PGBACKREST_REPO1_S3_KEY"),
                ("AWS_SECRET_ACCESS_KEY", "PGBACKREST_REPO1_S3_KEY_SECRET"),
            ] {
                match std::env::var(from) {
                    Ok(v) if !v.is_empty() => {
                        c.env(to, v);
                    }
                    _ => bail!("{from} is not set: the object store's credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
                }
            }
        }
        c.arg(format!("--config={}", self.config_path().display()))
            .arg(format!("--stanza={}", self.pg.stanza))
            .args(args)
            .current_dir("/");
        run_as(&mut c, owner(&self.pg.data)?);
        Ok(c)
    }

    /// Runs pgbackrest with `args`; its output, or an error in the user's
    /// terms (never the key).
    pub fn run(&self, what: &str, args: &[&str]) -> Result<Output> {
        let out = engine_output(
            &mut self.command(args)?,
            &self.program,
            "pgbackrest",
            PGBACKREST_ENV,
        )?;
        if out.status.success() {
            return Ok(out);
        }
        Err(self.explain(what, &String::from_utf8_lossy(&out.stderr)))
    }

    fn explain(&self, what: &str, stderr: &str) -> anyhow::Error {
        let repo = self.repository();
        let low = stderr.to_lowercase();
        let said: String = stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("retention-full"))
            .take(4)
            .collect::<Vec<_>>()
            .join(" | ");
        if low.contains("unable to decrypt") || low.contains("cipher") && low.contains("pass") {
            return anyhow!("{what}: the backup key (ASTROLAB_BACKUP_KEY) does not open pgBackRest's repository at {repo}: it was made with another key");
        }
        if low.contains("no space left on device") {
            return anyhow!("{what}: the disk of pgBackRest's repository at {repo} is full; the unfinished backup is not in pgBackRest's list and the next backup resumes or discards it; free space or use another repository. pgBackRest said: {said}");
        }
        if low.contains("archive_mode") || low.contains("archive_command") {
            return anyhow!("{what}: the server does not archive its WAL to {repo}: run `astrolab backup setup` and restart PostgreSQL. pgBackRest said: {said}");
        }
        if low.contains("permission denied") {
            return anyhow!("{what}: permission denied: the cluster's owner (the user PostgreSQL runs as) must read and write {} and {repo}. pgBackRest said: {said}", self.dir.display());
        }
        anyhow!("{what}: pgBackRest failed for the repository at {repo}: {said}")
    }

    /// Creates the stanza (idempotent), then `check`: the server archives
    /// WAL into the repository, end to end.
    pub fn stanza_create(&self) -> Result<()> {
        self.run("creating pgBackRest's stanza", &["stanza-create"])?;
        Ok(())
    }

    /// `pgbackrest check`: a WAL switch, archived into the repository
    /// within archive-timeout.
    pub fn check(&self) -> Result<()> {
        self.run("checking WAL archiving", &["check"])?;
        Ok(())
    }

    /// Takes a backup of `kind` (`full`, `diff`, `incr`; pgBackRest makes
    /// a full one when there is none to build on). Returns its set.
    pub fn backup(&self, kind: &str) -> Result<BackupSet> {
        let before: Vec<String> = self.info()?.into_iter().map(|b| b.label).collect();
        self.run(
            "backing up the PostgreSQL cluster",
            &["backup", &format!("--type={kind}")],
        )?;
        self.info()?
            .into_iter()
            .rfind(|b| !before.contains(&b.label))
            .ok_or_else(|| anyhow!("pgBackRest reported no new backup"))
    }

    /// The repository's backups, oldest first.
    pub fn info(&self) -> Result<Vec<BackupSet>> {
        let out = self.run("listing pgBackRest's backups", &["info", "--output=json"])?;
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("pgbackrest info: unexpected output")?;
        let sets = v
            .as_array()
            .and_then(|a| a.first())
            .map(|s| s["backup"].clone())
            .unwrap_or(serde_json::Value::Array(vec![]));
        serde_json::from_value(sets).context("pgbackrest info: unexpected backup list")
    }

    /// Restores backup `set` (default: the one the target needs) into
    /// `data` (absent or empty), replaying archived WAL to `target`. The
    /// restored cluster neither archives (a scratch copy must never write
    /// into the repository) nor starts here.
    pub fn restore(
        &self,
        set: Option<&str>,
        data: &Path,
        target: &Target,
        archive: bool,
    ) -> Result<()> {
        let mut a: Vec<String> = vec!["restore".into(), format!("--pg1-path={}", data.display())];
        if let Some(s) = set {
            a.push(format!("--set={s}"));
        }
        match target {
            Target::Latest => {}
            Target::Time(t) => {
                a.push("--type=time".into());
                a.push(format!("--target={t}"));
                a.push("--target-action=promote".into());
            }
            Target::Name(n) => {
                a.push("--type=name".into());
                a.push(format!("--target={n}"));
                a.push("--target-action=promote".into());
            }
        }
        if !archive {
            a.push("--archive-mode=off".into());
        }
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        self.run("restoring the PostgreSQL cluster", &args)?;
        Ok(())
    }

    /// `pgbackrest verify`: every file of the repository (backups and
    /// archived WAL) read back against its checksum, the WAL checked for
    /// gaps. Returns the problems pgBackRest names (empty when none).
    pub fn verify(&self) -> Result<Vec<String>> {
        let out = self
            .command(&["verify", "--log-level-console=info"])?
            .output()?;
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let problems: Vec<String> = text
            .lines()
            .filter(|l| {
                let l = l.to_lowercase();
                (l.contains("invalid") && !l.contains("total valid"))
                    || l.contains("missing")
                    || l.contains("checksum")
                    || l.contains("error")
            })
            .filter(|l| !l.contains("total WAL checked") && !l.contains(": 0"))
            .map(|l| l.trim().to_string())
            .collect();
        if !out.status.success() && problems.is_empty() {
            return Err(self.explain("verifying pgBackRest's repository", &text));
        }
        Ok(problems)
    }

    /// Expires backups beyond the retention (and WAL only they need).
    pub fn expire(&self) -> Result<String> {
        let out = self.run(
            "expiring PostgreSQL backups",
            &["expire", "--log-level-console=info"],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }
}

/// `host` and port of an endpoint URL (pgBackRest speaks TLS only).
fn endpoint_host_port(endpoint: &str) -> Result<(String, u16)> {
    let Some(rest) = endpoint.strip_prefix("https://") else {
        bail!("S3 endpoint {endpoint}: pgBackRest speaks only TLS to an object store; give https://HOST[:PORT] (with [backup] s3_ca_file for a private certificate authority)");
    };
    let hostport = rest.split('/').next().unwrap_or(rest);
    match hostport.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.to_string(),
            p.parse()
                .with_context(|| format!("S3 endpoint {endpoint}: port {p}"))?,
        )),
        None => Ok((hostport.to_string(), 443)),
    }
}

/// `s` quoted for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_quoting() {
        assert_eq!(
            endpoint_host_port("https://127.0.0.1:5077").unwrap(),
            ("127.0.0.1".to_string(), 5077)
        );
        assert_eq!(
            endpoint_host_port("https://s3.amazonaws.com").unwrap(),
            ("s3.amazonaws.com".to_string(), 443)
        );
        assert!(endpoint_host_port("http://127.0.0.1:9000").is_err());
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
