//! A restored PostgreSQL cluster brought up to answer: started with a
//! configuration of our own (no TCP, a private socket directory, local
//! trust only, no archiving), left to replay the archived WAL to its
//! target and promote, then stopped. Verification's scratch cluster and a
//! restore's first start are both this.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::{give_to, owner, run_as, PgSettings};
use crate::key::BackupKey;

/// A restored cluster that failed to come up: the reason and its
/// server's log (which names the WAL segments it replayed).
#[derive(Debug)]
pub struct RecoveryError {
    /// What went wrong.
    pub message: String,
    /// The server's log.
    pub log: String,
}

impl std::fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecoveryError {}

/// A running cluster on a data directory; stopped when dropped.
pub struct Cluster {
    pg_ctl: PathBuf,
    data: PathBuf,
    /// Our configuration, socket and log.
    run_dir: PathBuf,
    who: (u32, u32),
    port: u16,
    user: String,
    running: bool,
}

impl Cluster {
    /// Starts the cluster in `data` (restored by pgBackRest: its
    /// `postgresql.auto.conf` holds the recovery target) with `key` for
    /// its `restore_command`, and waits until recovery has ended and the
    /// server has promoted, for at most `timeout`.
    pub fn start(
        pg: &PgSettings,
        data: &Path,
        key: &BackupKey,
        timeout: Duration,
    ) -> Result<Cluster> {
        let who = owner(data)?;
        let pg_ctl = pg.program("pg_ctl")?;
        // A short path: a Unix socket's path is limited to ~100 bytes.
        let run_dir = std::env::temp_dir().join(format!(
            "astrolab-pg-{}-{}",
            std::process::id(),
            time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
        ));
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        give_to(&run_dir, who)?;
        let hba = run_dir.join("pg_hba.conf");
        std::fs::write(&hba, "local all all trust\n")?;
        give_to(&hba, who)?;
        let conf = run_dir.join("postgresql.conf");
        std::fs::write(
            &conf,
            format!(
                "# astrolab: a restored cluster brought up to answer\nlisten_addresses = ''\nport = {}\nunix_socket_directories = '{}'\nhba_file = '{}'\nident_file = '{}'\narchive_mode = off\nssl = off\n",
                pg.port,
                run_dir.display(),
                hba.display(),
                run_dir.join("pg_ident.conf").display()
            ),
        )?;
        std::fs::write(run_dir.join("pg_ident.conf"), "")?;
        give_to(&conf, who)?;
        give_to(&run_dir.join("pg_ident.conf"), who)?;
        let mut c = Cluster {
            pg_ctl,
            data: data.to_path_buf(),
            run_dir,
            who,
            port: pg.port,
            user: pg.user.clone(),
            running: false,
        };
        let log = c.log_path();
        let mut cmd = Command::new(&c.pg_ctl);
        cmd.arg("start")
            .arg("-D")
            .arg(data)
            .arg("-l")
            .arg(&log)
            .arg("-W")
            .arg("-o")
            .arg(format!("-c config_file={}", conf.display()))
            .env("PGBACKREST_REPO1_CIPHER_PASS", key.expose())
            .current_dir("/");
        for (from, to) in [
            ("AWS_ACCESS_KEY_ID", "PGBACKREST_REPO1_S3_KEY"),
            ("AWS_SECRET_ACCESS_KEY", "PGBACKREST_REPO1_S3_KEY_SECRET"),
        ] {
            if let Ok(v) = std::env::var(from) {
                cmd.env(to, v);
            }
        }
        run_as(&mut cmd, who);
        let out = cmd
            .output()
            .with_context(|| format!("running {}", c.pg_ctl.display()))?;
        if !out.status.success() {
            bail!(
                "starting the restored cluster in {}: {} {}",
                data.display(),
                String::from_utf8_lossy(&out.stderr).trim(),
                c.log_tail()
            );
        }
        c.running = true;
        if let Err(e) = c.wait_promoted(timeout) {
            return Err(RecoveryError {
                message: format!("{e:#}"),
                log: c.log(),
            }
            .into());
        }
        Ok(c)
    }

    /// The server's log.
    pub fn log_path(&self) -> PathBuf {
        self.run_dir.join("server.log")
    }

    /// The server's log as text.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let l = self.log();
        let lines: Vec<&str> = l
            .lines()
            .filter(|l| l.contains("FATAL") || l.contains("ERROR") || l.contains("PANIC"))
            .collect();
        if lines.is_empty() {
            String::new()
        } else {
            format!(
                "(server log: {})",
                lines[lines.len().saturating_sub(3)..].join(" | ")
            )
        }
    }

    /// A connection to database `dbname`.
    pub fn connect(&self, dbname: &str) -> Result<postgres::Client> {
        let mut cfg = postgres::Config::new();
        cfg.host_path(&self.run_dir)
            .port(self.port)
            .user(&self.user)
            .dbname(dbname)
            .connect_timeout(Duration::from_secs(5));
        cfg.connect(postgres::NoTls)
            .with_context(|| format!("connecting to the restored cluster's database {dbname}"))
    }

    fn alive(&self) -> bool {
        self.data.join("postmaster.pid").exists()
    }

    /// Waits until the server accepts connections and is out of recovery.
    fn wait_promoted(&mut self, timeout: Duration) -> Result<()> {
        let t0 = Instant::now();
        // pg_ctl -W returns before the server writes postmaster.pid: only
        // a pid file seen, then gone, means the server has exited.
        let mut seen = false;
        loop {
            if t0.elapsed() > timeout {
                bail!(
                    "the restored cluster in {} did not finish its recovery in {} s {}",
                    self.data.display(),
                    timeout.as_secs(),
                    self.log_tail()
                );
            }
            let alive = self.alive();
            seen |= alive;
            match self.connect("postgres") {
                Ok(mut c) => {
                    let rec: bool = c.query_one("SELECT pg_is_in_recovery()", &[])?.get(0);
                    if !rec {
                        return Ok(());
                    }
                }
                Err(_) if !alive && (seen || t0.elapsed() > Duration::from_secs(60)) => {
                    // Recovery failed: the server has exited.
                    std::thread::sleep(Duration::from_millis(200));
                    self.running = false;
                    return Err(anyhow!(
                        "the restored cluster in {} stopped during recovery {}",
                        self.data.display(),
                        self.log_tail()
                    ));
                }
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown: a checkpoint, no client waited for).
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        let mut cmd = Command::new(&self.pg_ctl);
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data)
            .arg("-m")
            .arg("fast")
            .arg("-w")
            .current_dir("/");
        run_as(&mut cmd, self.who);
        let out = cmd.output()?;
        self.running = false;
        if !out.status.success() && self.alive() {
            bail!(
                "stopping the restored cluster in {}: {}",
                self.data.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop().ok();
        std::fs::remove_dir_all(&self.run_dir).ok();
    }
}

/// The last WAL segment a server's `log` says it replayed from the archive.
pub fn last_restored_segment(log: &str) -> Option<String> {
    log.lines()
        .filter_map(|l| {
            let i = l.find("restored log file \"")?;
            let s = &l[i + 19..];
            Some(s[..s.find('"')?].to_string())
        })
        .rfind(|s| s.len() == 24)
}

/// The WAL segment after `seg` (24 hex digits: timeline, log, segment of
/// 16 MB, 256 to a log file).
pub fn next_segment(seg: &str) -> Option<String> {
    if seg.len() != 24 {
        return None;
    }
    let tl = &seg[..8];
    let log = u32::from_str_radix(&seg[8..16], 16).ok()?;
    let s = u32::from_str_radix(&seg[16..24], 16).ok()?;
    let (log, s) = if s == 0xFF {
        (log + 1, 0)
    } else {
        (log, s + 1)
    };
    Some(format!("{tl}{log:08X}{s:08X}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_each_other() {
        let log = "LOG:  restored log file \"000000010000000000000008\" from archive\nLOG:  restored log file \"000000010000000000000009\" from archive\nLOG:  redo done";
        assert_eq!(
            last_restored_segment(log).unwrap(),
            "000000010000000000000009"
        );
        assert!(last_restored_segment("LOG: nothing").is_none());
        assert_eq!(
            next_segment("000000010000000000000009").unwrap(),
            "00000001000000000000000A"
        );
        assert_eq!(
            next_segment("0000000100000000000000FF").unwrap(),
            "000000010000000100000000"
        );
        assert!(next_segment("x").is_none());
    }
}
