//! The record of backups and verifications on this machine
//! (`HOME/backups/status.json`): what the metrics (`astrolab_backup_*` on
//! the server's /metrics) and the alert rules watch. Written atomically
//! (temporary file, then rename), so a reader never sees half of it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// One backup, verification or restore as it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// When it ended (Unix seconds).
    pub unix_s: f64,
    /// Whether it succeeded.
    pub ok: bool,
    /// The backup id.
    pub backup: Option<String>,
    /// The repository (no secrets in it).
    pub repository: String,
    /// Seconds it took.
    pub seconds: f64,
    /// Bytes backed up, restored or checked.
    pub bytes: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// Recovery objectives measured in the last drill (a restore of a
/// backup): the data lost (time between the backup and the moment of the
/// failure it recovers from) and the time to recover.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Drill {
    /// When the drill ran (Unix seconds).
    pub unix_s: f64,
    /// Recovery point: seconds of writes lost.
    pub rpo_s: f64,
    /// Recovery time: seconds from the start of the restore to a store
    /// that answers.
    pub rto_s: f64,
}

/// Everything the metrics read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The last backup attempted.
    pub last_backup: Option<Outcome>,
    /// The last successful backup.
    pub last_good_backup: Option<Outcome>,
    /// The last verification attempted.
    pub last_verify: Option<Outcome>,
    /// The last successful verification.
    pub last_good_verify: Option<Outcome>,
    /// The last restore.
    pub last_restore: Option<Outcome>,
    /// The last drill's RPO and RTO.
    pub drill: Option<Drill>,
}

/// Where the status of the home `home` lives.
pub fn path(home: &Path) -> PathBuf {
    home.join("backups").join("status.json")
}

/// Reads the status (empty when there is none yet).
pub fn read(home: &Path) -> Result<Status> {
    let p = path(home);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .with_context(|| format!("{}: not a backup status", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Status::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

/// Changes the status with `f`, atomically.
pub fn update(home: &Path, f: impl FnOnce(&mut Status)) -> Result<()> {
    let mut s = read(home)?;
    f(&mut s);
    let p = path(home);
    let dir = p.parent().expect("status path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".status.json.{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&s)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &p).with_context(|| format!("renaming to {}", p.display()))?;
    Ok(())
}

/// Now, in Unix seconds.
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The status as Prometheus text exposition lines (`astrolab_backup_*`).
/// Absent facts are absent series, so an alert on "older than 24 h" also
/// fires (through `absent()`) on a machine never backed up.
pub fn metrics(s: &Status) -> String {
    let mut o = String::new();
    let mut gauge = |name: &str, help: &str, v: Option<f64>| {
        if let Some(v) = v {
            o.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            ));
        }
    };
    let ok = |x: &Option<Outcome>| x.as_ref().map(|o| if o.ok { 1.0 } else { 0.0 });
    gauge(
        "astrolab_backup_last_success_timestamp_seconds",
        "When the last successful backup ended (Unix time).",
        s.last_good_backup.as_ref().map(|o| o.unix_s),
    );
    gauge(
        "astrolab_backup_last_success_bytes",
        "Bytes in the last successful backup.",
        s.last_good_backup.as_ref().map(|o| o.bytes as f64),
    );
    gauge(
        "astrolab_backup_last_success_duration_seconds",
        "How long the last successful backup took.",
        s.last_good_backup.as_ref().map(|o| o.seconds),
    );
    gauge(
        "astrolab_backup_last_ok",
        "1 when the last backup attempted succeeded, 0 when it failed.",
        ok(&s.last_backup),
    );
    gauge(
        "astrolab_backup_verify_last_success_timestamp_seconds",
        "When the last successful verification (a restore, every table checked) ended (Unix time).",
        s.last_good_verify.as_ref().map(|o| o.unix_s),
    );
    gauge(
        "astrolab_backup_verify_last_duration_seconds",
        "How long the last verification took.",
        s.last_verify.as_ref().map(|o| o.seconds),
    );
    gauge(
        "astrolab_backup_verify_last_ok",
        "1 when the last verification passed, 0 when it failed.",
        ok(&s.last_verify),
    );
    gauge(
        "astrolab_backup_drill_rpo_seconds",
        "Data lost in the last recovery drill (seconds of writes).",
        s.drill.map(|d| d.rpo_s),
    );
    gauge(
        "astrolab_backup_drill_rto_seconds",
        "Time to recover in the last recovery drill.",
        s.drill.map(|d| d.rto_s),
    );
    o
}
