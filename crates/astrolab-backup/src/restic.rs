//! restic (<https://restic.net>), the engine that stores a backup: it
//! encrypts (AES-256 under a key derived from ours with scrypt),
//! deduplicates (the spectral store's unchanged files cost nothing the
//! second time), addresses every piece by its SHA-256, and writes a
//! snapshot only once all its data is stored. We call the `restic`
//! program (`ASTROLAB_RESTIC`, else on the PATH); the key travels in its
//! environment, never on its command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::key::BackupKey;
use crate::repo::Repository;

/// The environment variable naming the restic program.
pub const RESTIC_ENV: &str = "ASTROLAB_RESTIC";
/// The tag of every astrolab backup.
pub const TAG: &str = "astrolab";

/// One repository, opened with one key.
#[derive(Debug, Clone)]
pub struct Restic {
    program: PathBuf,
    repo: Repository,
    key: BackupKey,
}

/// A snapshot as `restic snapshots --json` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Snapshot {
    /// Full id.
    pub id: String,
    /// When (RFC 3339, local offset).
    pub time: String,
    /// Host.
    #[serde(default)]
    pub hostname: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The paths backed up (the data home's, absolute).
    #[serde(default)]
    pub paths: Vec<String>,
}

impl Snapshot {
    /// The astrolab backup id among the tags.
    pub fn backup_id(&self) -> Option<&str> {
        self.tags.iter().find_map(|t| t.strip_prefix("id="))
    }
}

/// What `restic backup` reports at its end.
#[derive(Debug, Clone, Deserialize)]
pub struct BackupSummary {
    /// The new snapshot.
    pub snapshot_id: String,
    /// Files in it.
    #[serde(default)]
    pub total_files_processed: u64,
    /// Their bytes.
    #[serde(default)]
    pub total_bytes_processed: u64,
    /// Bytes this backup added to the repository (before compression).
    #[serde(default)]
    pub data_added: u64,
}

impl Restic {
    /// The repository `repo` with `key`.
    pub fn new(repo: Repository, key: BackupKey) -> Restic {
        let program = std::env::var_os(RESTIC_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("restic"));
        Restic { program, repo, key }
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.env("RESTIC_REPOSITORY", self.repo.restic_url())
            .env("RESTIC_PASSWORD", self.key.expose())
            .env_remove("RESTIC_PASSWORD_FILE")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .env_remove("RESTIC_REPOSITORY_FILE")
            .arg("--no-cache")
            .arg("--quiet");
        if let Repository::S3 {
            ca_file: Some(ca), ..
        } = &self.repo
        {
            c.arg("--cacert").arg(ca);
        }
        c
    }

    /// Runs restic with `args`; its output, or an error that says what
    /// went wrong in the user's terms (never the key).
    fn run(&self, what: &str, args: &[&str], dir: Option<&Path>) -> Result<Output> {
        let mut c = self.command();
        c.args(args);
        if let Some(d) = dir {
            c.current_dir(d);
        }
        let out = engine_output(&mut c, &self.program, "restic", RESTIC_ENV)?;
        if out.status.success() {
            return Ok(out);
        }
        Err(self.explain(what, &String::from_utf8_lossy(&out.stderr)))
    }

    /// restic's error, said for a user of astrolab.
    fn explain(&self, what: &str, stderr: &str) -> anyhow::Error {
        let repo = &self.repo;
        let s = stderr.trim();
        let low = s.to_lowercase();
        if low.contains("wrong password") || low.contains("no key found") {
            return anyhow!("{what}: the backup key (ASTROLAB_BACKUP_KEY) does not open the repository at {repo}: it was made with another key");
        }
        if low.contains("no space left on device") || low.contains("disk quota exceeded") {
            return anyhow!("{what}: the disk of the repository at {repo} is full; nothing of this backup was recorded as made (restic writes the snapshot last); free space or use another repository; `astrolab backup prune` then drops the unfinished data. restic said: {}", last_line(s));
        }
        if low.contains("repository is already locked") || low.contains("lock was created at") {
            return anyhow!("{what}: the repository at {repo} is locked by another restic process ({}); when no backup, verification or prune is running on it (one was killed), remove the lock with `astrolab backup unlock --from {repo} --all`", last_line(s));
        }
        if low.contains("connection refused")
            || low.contains("no such host")
            || low.contains("i/o timeout")
            || low.contains("network is unreachable")
        {
            return anyhow!("{what}: cannot reach the backup repository at {repo}; is the endpoint right and up? restic said: {}", tail(s));
        }
        if low.contains("access denied")
            || low.contains("invalidaccesskeyid")
            || low.contains("signaturedoesnotmatch")
        {
            return anyhow!("{what}: the object store refused the credentials for {repo} (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); restic said: {}", tail(s));
        }
        if low.contains("is there a repository at the following location")
            || low.contains("repository does not exist")
        {
            return anyhow!("{what}: there is no backup repository at {repo} (make one with `astrolab backup create --to {repo}`)");
        }
        let damaged = self.damaged_files(s);
        if !damaged.is_empty() {
            return anyhow!(
                "{what}: the repository at {repo} is damaged: {} fail their checksum (a flipped or lost byte); restore these files from another copy of the repository, or make a new backup to another repository. restic said: {}",
                damaged.join(", "),
                tail(s)
            );
        }
        anyhow!(
            "{what}: restic failed for the repository at {repo}: {}",
            tail(s)
        )
    }

    /// The repository files (`data/xx/PACK`) that restic's errors in
    /// `stderr` point at: packs whose hash is wrong (check), and the packs
    /// holding blobs that failed to decrypt (restore), found in the index.
    fn damaged_files(&self, stderr: &str) -> Vec<String> {
        let mut packs: Vec<String> = Vec::new();
        let hexes = |after: &str| -> Vec<String> {
            stderr
                .match_indices(after)
                .filter_map(|(i, _)| {
                    let rest = &stderr[i + after.len()..];
                    let h: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
                    (h.len() == 64).then_some(h)
                })
                .collect()
        };
        packs.extend(hexes("Pack ID does not match, want "));
        packs.extend(hexes("pack "));
        let blobs = hexes("decrypting blob ");
        if !blobs.is_empty() {
            packs.extend(self.packs_of(&blobs));
        }
        packs.sort();
        packs.dedup();
        packs
            .iter()
            .map(|p| format!("{}/data/{}/{p}", self.repo.restic_url(), &p[..2]))
            .collect()
    }

    /// The packs that hold `blobs`, from the repository's index files.
    fn packs_of(&self, blobs: &[String]) -> Vec<String> {
        let Ok(out) = self.command().args(["list", "index"]).output() else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for idx in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(o) = self.command().args(["cat", "index", idx.trim()]).output() else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&o.stdout) else {
                continue;
            };
            for p in v["packs"].as_array().into_iter().flatten() {
                let holds = p["blobs"].as_array().into_iter().flatten().any(|b| {
                    b["id"]
                        .as_str()
                        .is_some_and(|id| blobs.iter().any(|x| x == id))
                });
                if holds {
                    if let Some(id) = p["id"].as_str() {
                        found.push(id.to_string());
                    }
                }
            }
        }
        found
    }

    /// Makes the repository when there is none yet.
    pub fn init_if_missing(&self) -> Result<bool> {
        let mut c = self.command();
        c.args(["cat", "config"]);
        let out = c
            .output()
            .map_err(|e| anyhow!("running {}: {e}", self.program.display()))?;
        if out.status.success() {
            return Ok(false);
        }
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        if !(err.contains("is there a repository") || err.contains("does not exist")) {
            return Err(self.explain(
                "opening the backup repository",
                &String::from_utf8_lossy(&out.stderr),
            ));
        }
        if let Repository::Dir(d) = &self.repo {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        self.run("making the backup repository", &["init"], None)?;
        Ok(true)
    }

    /// Backs up `paths` (absolute) as one snapshot, without `exclude`d
    /// paths, tagged astrolab and `id=ID`.
    pub fn backup(
        &self,
        paths: &[PathBuf],
        exclude: &[PathBuf],
        id: &str,
        host: &str,
    ) -> Result<BackupSummary> {
        let id_tag = format!("id={id}");
        let mut args: Vec<String> = vec![
            "backup".into(),
            "--json".into(),
            "--host".into(),
            host.into(),
            "--tag".into(),
            TAG.into(),
            "--tag".into(),
            id_tag,
        ];
        for e in exclude {
            args.push(format!(
                "--exclude={}",
                glob_escape(&e.display().to_string())
            ));
        }
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run("backing up", &a, None)?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .rev()
            .filter(|l| l.contains("\"summary\""))
            .find_map(|l| serde_json::from_str::<BackupSummary>(l).ok())
            .ok_or_else(|| anyhow!("restic backup gave no summary: {}", tail(&text)))
    }

    /// astrolab's snapshots, oldest first.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>> {
        let out = self.run(
            "listing the backups",
            &["snapshots", "--json", "--tag", TAG],
            None,
        )?;
        let mut v: Vec<Snapshot> =
            serde_json::from_slice(&out.stdout).context("restic snapshots: unexpected output")?;
        v.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(v)
    }

    /// Every path in `snapshot`.
    pub fn ls(&self, snapshot: &str) -> Result<Vec<String>> {
        let out = self.run(
            "listing a backup's files",
            &["ls", "--json", snapshot],
            None,
        )?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["struct_type"] == "node")
            .filter_map(|v| v["path"].as_str().map(str::to_string))
            .collect())
    }

    /// One file of `snapshot`.
    pub fn dump(&self, snapshot: &str, path: &str) -> Result<Vec<u8>> {
        Ok(self
            .run(
                "reading a file of a backup",
                &["dump", snapshot, path],
                None,
            )?
            .stdout)
    }

    /// Restores `snapshot` under `target` (which then holds the files at
    /// their full original paths), every file read back and checked.
    pub fn restore(&self, snapshot: &str, target: &Path) -> Result<()> {
        let t = target.display().to_string();
        self.run(
            "restoring",
            &["restore", snapshot, "--target", &t, "--verify"],
            None,
        )?;
        Ok(())
    }

    /// `restic check --read-data-subset=SUBSET`: the repository's
    /// structure, and that fraction of its data read back and hashed.
    pub fn check(&self, subset: &str) -> Result<()> {
        let arg = format!("--read-data-subset={subset}");
        self.run("checking the repository", &["check", &arg], None)?;
        Ok(())
    }

    /// Removes stale locks (of restic processes that are gone), or with
    /// `all` every lock: only when nothing else uses the repository.
    pub fn unlock(&self, all: bool) -> Result<()> {
        let mut a = vec!["unlock"];
        if all {
            a.push("--remove-all");
        }
        self.run("unlocking the repository", &a, None)?;
        Ok(())
    }

    /// Forgets astrolab's snapshots beyond the retention and prunes the
    /// data no snapshot uses (unfinished backups' too).
    pub fn forget(&self, daily: u32, weekly: u32, monthly: u32) -> Result<String> {
        let (d, w, m) = (daily.to_string(), weekly.to_string(), monthly.to_string());
        let out = self.run(
            "pruning the backups",
            &[
                "forget",
                "--tag",
                TAG,
                "--group-by",
                "host",
                "--keep-daily",
                &d,
                "--keep-weekly",
                &w,
                "--keep-monthly",
                &m,
                "--prune",
            ],
            None,
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }
}

/// `s` with restic's (Go filepath.Match) special characters escaped.
fn glob_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(s)
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// Runs `c` (the engine `program`, Debian package `package`) to its end;
/// a missing program is named with the way to install it or point at it
/// (`env`).
pub(crate) fn engine_output(
    c: &mut Command,
    program: &Path,
    package: &str,
    env: &str,
) -> Result<Output> {
    c.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow!(
                "{package} is not installed ({}): install it (Debian: apt-get install {package}) or set {env}",
                program.display()
            )
        } else {
            anyhow!("running {}: {e}", program.display())
        }
    })
}

/// Fails unless `p` is absolute (restic stores what it is given).
pub fn absolute(p: &Path) -> Result<PathBuf> {
    let a = std::path::absolute(p).with_context(|| format!("{}", p.display()))?;
    if !a.is_absolute() {
        bail!("{}: not an absolute path", p.display());
    }
    Ok(a)
}
