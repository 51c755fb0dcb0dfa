//! `astrolab backup` (issue 21) on a real data home with restic: a backup
//! restored onto an empty home answers every query as the original did at
//! backup time; the faults (a wrong or missing key, a flipped byte in the
//! repository, a backup killed half way, a full disk) each give a clear
//! error and never a backup marked good that is not.
//!
//! Needs restic (`scripts/test` installs it; ASTROLAB_RESTIC); with CI set
//! its absence fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, text};

const KEY: &str = "test-key-0123456789abcdef";

fn restic_present() -> bool {
    let p = std::env::var("ASTROLAB_RESTIC").unwrap_or_else(|_| "restic".into());
    let ok = std::process::Command::new(&p)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but restic ({p}) is missing: scripts/test installs it"
        );
        eprintln!("skipping: no restic ({p}); run ./scripts/test");
    }
    ok
}

fn astrolab(home: &Path, key: Option<&str>, args: &[&str]) -> Output {
    let mut c = bin();
    c.env_remove("ASTROLAB_BACKUP_KEY")
        .env_remove("ASTROLAB_BACKUP_KEY_FILE");
    if let Some(k) = key {
        c.env("ASTROLAB_BACKUP_KEY", k);
    }
    c.arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run astrolab")
}

fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// What a reader of the store sees: every table's row count and a cone
/// search, a SQL aggregate and the void membership summary.
fn answers(home: &Path) -> Vec<String> {
    vec![
        ok(&astrolab(home, None, &["db", "status"]))
            .lines()
            .filter(|l| l.trim_end().ends_with(" rows"))
            .collect::<Vec<_>>()
            .join("\n"),
        ok(&astrolab(
            home,
            None,
            &[
                "query", "cone", "--ra", "180", "--dec", "30", "--radius", "8", "--format", "csv",
            ],
        )),
        ok(&astrolab(
            home,
            None,
            &[
                "query",
                "sql",
                "SELECT COUNT(*), SUM(z), MIN(targetid) FROM zcatalog",
                "--format",
                "csv",
            ],
        )),
    ]
}

/// A data home: the demo sky (no spectra) ingested, and a run's files.
fn demo_home(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    let demo = dir.join("demo");
    ok(&astrolab(
        &home,
        None,
        &[
            "demo-data",
            demo.to_str().unwrap(),
            "--galaxies",
            "1500",
            "--no-spectra",
            "--seed",
            "21",
        ],
    ));
    let zcat: Vec<String> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.contains("zpix-") || p.contains("DESIVAST_"))
        .collect();
    assert!(!zcat.is_empty());
    let mut args = vec!["ingest"];
    args.extend(zcat.iter().map(String::as_str));
    ok(&astrolab(&home, None, &args));
    let run = home.join("runs").join("r1");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("result.json"), b"{\"answer\": 42}\n").unwrap();
    home
}

/// With restic present: a temporary directory (kept alive by the first
/// element), its canonical path and a demo home in it.
fn demo_lab() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    if !restic_present() {
        return None;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(d.path()).unwrap();
    let home = demo_home(&dir);
    Some((d, dir, home))
}

fn list(home: &Path, repo: &Path) -> Vec<serde_json::Value> {
    json(&astrolab(
        home,
        Some(KEY),
        &[
            "backup",
            "list",
            "--from",
            repo.to_str().unwrap(),
            "--manifests",
            "--json",
        ],
    ))
    .as_array()
    .unwrap()
    .clone()
}

fn status(home: &Path) -> serde_json::Value {
    json(&astrolab(home, None, &["backup", "status"]))
}

#[test]
fn a_backup_restores_onto_an_empty_home_with_the_same_answers() {
    let Some((_d, dir, home)) = demo_lab() else {
        return;
    };
    let repo = dir.join("repo");
    let r = repo.to_str().unwrap();
    let before = answers(&home);

    let first = json(&astrolab(
        &home,
        Some(KEY),
        &["backup", "create", "--to", r, "--json"],
    ));
    let m = &first["manifest"];
    // The manifest: every table of the store with its rows.
    let tables = m["tables"].as_object().unwrap();
    let zrows = ok(&astrolab(
        &home,
        None,
        &[
            "query",
            "sql",
            "SELECT COUNT(*) FROM zcatalog",
            "--format",
            "csv",
        ],
    ));
    assert_eq!(
        tables["zcatalog"]["rows"].as_u64().unwrap().to_string(),
        zrows.lines().nth(1).unwrap()
    );
    assert!(tables.contains_key("raw_files") && tables.contains_key("void_membership_summary"));
    assert_eq!(m["backend"], "sqlite");
    assert_eq!(m["schema_version"], 12);

    // The store changes after the backup.
    let extra = dir.join("extra.csv");
    std::fs::write(&extra, "ra,dec,z\n180.1,30.1,0.1\n180.2,30.2,0.2\n").unwrap();
    ok(&astrolab(&home, None, &["ingest", extra.to_str().unwrap()]));
    let after = answers(&home);
    assert_ne!(before, after);
    ok(&astrolab(
        &home,
        Some(KEY),
        &["backup", "create", "--to", r],
    ));
    let l = list(&home, &repo);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["backup"], first["manifest"]["id"]);
    assert_eq!(
        l[1]["rows"].as_u64().unwrap(),
        l[0]["rows"].as_u64().unwrap() + 2 + 1
    );

    // Restore the first backup onto an empty home: the answers of then.
    let old = dir.join("restored-first");
    let id = first["manifest"]["id"].as_str().unwrap();
    let o = json(&astrolab(
        &old,
        Some(KEY),
        &["backup", "restore", "--from", r, "--backup", id, "--json"],
    ));
    assert_eq!(o["tables"].as_u64().unwrap() as usize, tables.len());
    assert_eq!(answers(&old), before);
    assert_eq!(
        std::fs::read(old.join("runs/r1/result.json")).unwrap(),
        b"{\"answer\": 42}\n"
    );
    // The newest by default: today's answers.
    let new = dir.join("restored-latest");
    ok(&astrolab(
        &new,
        Some(KEY),
        &["backup", "restore", "--from", r],
    ));
    assert_eq!(answers(&new), after);
    // Never over an existing home.
    let e = astrolab(&new, Some(KEY), &["backup", "restore", "--from", r]);
    assert_eq!(e.status.code(), Some(1));
    assert!(text(&e).contains("is not empty"), "{}", text(&e));

    // Verify: a restore into scratch, every table checked, then restic check.
    let v = json(&astrolab(
        &home,
        Some(KEY),
        &[
            "backup",
            "verify",
            "--from",
            r,
            "--read-data-subset",
            "100%",
            "--scratch",
            dir.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(v["backup"], l[1]["backup"]);
    assert_eq!(v["rows"], l[1]["rows"]);
    let s = status(&home);
    assert_eq!(s["last_verify"]["ok"], true);
    assert_eq!(s["last_good_backup"]["backup"], l[1]["backup"]);
    // The verification is the day's recovery drill: its restore time is the
    // RTO, the age of the backup at the end of it the RPO.
    assert_eq!(s["drill"]["rto_s"], v["seconds_restore"]);
    assert_eq!(s["drill"]["rpo_s"], v["rpo_s"]);
    assert!(v["rpo_s"].as_f64().unwrap() > 0.0);
    let metrics = ok(&astrolab(&home, None, &["backup", "status", "--metrics"]));
    assert!(
        metrics.contains("\nastrolab_backup_verify_last_ok 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nastrolab_backup_last_ok 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\n# TYPE astrolab_backup_drill_rto_seconds gauge\n"),
        "{metrics}"
    );

    // Nothing in the repository is readable without the key: the
    // database's rows are not in any repository file in clear.
    let needle = b"DESIVAST_";
    for f in walk(&repo) {
        let b = std::fs::read(&f).unwrap();
        assert!(
            !b.windows(needle.len()).any(|w| w == needle),
            "{} holds clear text",
            f.display()
        );
    }

    // Prune keeps what the retention says (both are today's: one daily).
    let p = ok(&astrolab(
        &home,
        Some(KEY),
        &["backup", "prune", "--from", r],
    ));
    assert!(
        p.contains("kept the last backup of 7 days, 4 weeks and 12 months"),
        "{p}"
    );
    assert_eq!(list(&home, &repo).len(), 1);
}

/// `n` bytes no compressor or deduplicator shrinks (xorshift64 from
/// `seed`): data that takes restic a while to store.
fn incompressible(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let ppid: Option<u32> = rest.split_whitespace().nth(1).and_then(|x| x.parse().ok());
        if ppid == Some(pid) {
            if let Ok(p) = e.file_name().to_string_lossy().parse() {
                out.push(p);
            }
        }
    }
    out
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn backup_faults_are_named_and_never_marked_good() {
    let Some((_d, dir, home)) = demo_lab() else {
        return;
    };
    let repo = dir.join("repo");
    let r = repo.to_str().unwrap();

    // No key: nothing is written.
    let o = astrolab(&home, None, &["backup", "create", "--to", r]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("no backup key: set ASTROLAB_BACKUP_KEY"),
        "{}",
        text(&o)
    );
    assert!(!repo.exists());
    // A short key is refused.
    let o = astrolab(&home, Some("short"), &["backup", "create", "--to", r]);
    assert!(
        text(&o).contains("fewer than 16 characters"),
        "{}",
        text(&o)
    );
    // The key from a file.
    let kf = dir.join("key");
    std::fs::write(&kf, format!("{KEY}\n")).unwrap();
    let o = bin()
        .env_remove("ASTROLAB_BACKUP_KEY")
        .env("ASTROLAB_BACKUP_KEY_FILE", &kf)
        .arg("--home")
        .arg(&home)
        .args(["backup", "create", "--to", r])
        .output()
        .unwrap();
    ok(&o);
    // A wrong key.
    let o = astrolab(
        &home,
        Some("another-key-0123456789"),
        &["backup", "list", "--from", r],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("does not open the repository at") && text(&o).contains("another key"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("another-key-0123456789"));

    // Killed half way (the whole process group, restic included): no
    // backup is listed for it, and the next one works.
    let big = home.join("runs/big.bin");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    // Incompressible and not yet in the repository: restic needs a while.
    std::fs::write(&big, incompressible(120 << 20, 0x9E37_79B9_7F4A_7C15)).unwrap();
    {
        let child = bin()
            .env("ASTROLAB_BACKUP_KEY", KEY)
            .arg("--home")
            .arg(&home)
            .args(["backup", "create", "--to", r])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Until restic has started writing this backup's data.
        let packs = || walk(&repo.join("restic/data")).len();
        let n0 = packs();
        let t0 = std::time::Instant::now();
        while packs() == n0 && t0.elapsed().as_secs() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // SIGKILL to astrolab and to its restic, as a power cut would.
        let mut victims = children_of(pid);
        victims.push(pid);
        for v in &victims {
            std::process::Command::new("kill")
                .args(["-KILL", &v.to_string()])
                .status()
                .unwrap();
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), None, "not killed: {}", text(&o));
        assert!(victims.len() >= 2, "restic was not running: {victims:?}");
    }
    assert_eq!(list(&home, &repo).len(), 1);
    // The killed restic's lock: a verification names it and the way out.
    let o = astrolab(
        &home,
        Some(KEY),
        &[
            "backup",
            "verify",
            "--from",
            r,
            "--scratch",
            dir.to_str().unwrap(),
        ],
    );
    if o.status.code() == Some(1) {
        // (restic drops a dead process's lock itself where the process is
        // reaped at once; a container's init may leave it a zombie.)
        assert!(
            text(&o).contains("astrolab backup unlock --from"),
            "{}",
            text(&o)
        );
    }
    ok(&astrolab(
        &home,
        Some(KEY),
        &["backup", "unlock", "--from", r, "--all"],
    ));
    let o = json(&astrolab(
        &home,
        Some(KEY),
        &["backup", "create", "--to", r, "--json"],
    ));
    assert_eq!(list(&home, &repo).len(), 2);
    assert!(o["bytes"].as_u64().unwrap() > 120 << 20);
    std::fs::remove_file(&big).unwrap();

    // A flipped byte in the repository: verification fails naming the
    // damaged file, and says so in the status and the metrics.
    let packs = walk(&repo.join("restic/data"));
    for p in &packs {
        let mut b = std::fs::read(p).unwrap();
        let i = b.len() / 2;
        b[i] ^= 0x01;
        std::fs::write(p, b).unwrap();
    }
    let o = astrolab(
        &home,
        Some(KEY),
        &[
            "backup",
            "verify",
            "--from",
            r,
            "--scratch",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("is damaged"), "{t}");
    let named = packs
        .iter()
        .filter(|p| t.contains(&*p.file_name().unwrap().to_string_lossy()))
        .count();
    assert!(named >= 1, "no damaged file named: {t}");
    let s = status(&home);
    assert_eq!(s["last_verify"]["ok"], false);
    assert!(s["last_verify"]["error"]
        .as_str()
        .unwrap()
        .contains("is damaged"));
    let metrics = ok(&astrolab(&home, None, &["backup", "status", "--metrics"]));
    assert!(
        metrics.contains("\nastrolab_backup_verify_last_ok 0\n"),
        "{metrics}"
    );
}

/// A full disk under the repository: a clear error, nothing marked good.
/// Needs root (a 24 MB tmpfs); elsewhere it is skipped unless CI is set.
#[test]
fn a_full_disk_fails_clearly_and_marks_nothing_good() {
    let Some((_d, dir, home)) = demo_lab() else {
        return;
    };
    let small = dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let m = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(&small)
        .output()
        .unwrap();
    if !m.status.success() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but a tmpfs cannot be mounted (root needed): {}",
            text(&m)
        );
        eprintln!("skipping: cannot mount a tmpfs: {}", text(&m));
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(small.clone());
    std::fs::create_dir_all(home.join("runs")).unwrap();
    std::fs::write(
        home.join("runs/big.bin"),
        incompressible(40 << 20, 0x2545_F491_4F6C_DD1D),
    )
    .unwrap();
    let repo = small.join("repo");
    let o = astrolab(
        &home,
        Some(KEY),
        &["backup", "create", "--to", repo.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is full"), "{}", text(&o));
    let s = status(&home);
    assert_eq!(s["last_backup"]["ok"], false);
    assert!(s["last_good_backup"].is_null());
    // The repository lists no backup.
    let l = astrolab(
        &home,
        Some(KEY),
        &["backup", "list", "--from", repo.to_str().unwrap(), "--json"],
    );
    assert_eq!(json(&l).as_array().unwrap().len(), 0);
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Off site: the same backup, verification and restore with the
/// repository in an S3-compatible object store (moto's server from PyPI on
/// loopback; `scripts/test` installs it: ASTROLAB_MOTO_SERVER).
#[test]
fn off_site_backups_go_to_s3_compatible_storage() {
    if !restic_present() {
        return;
    }
    let moto = std::env::var("ASTROLAB_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let port = free_port();
    let child = std::process::Command::new(&moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(child) = child else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {moto} cannot run: scripts/test installs moto[server]"
        );
        eprintln!("skipping: no {moto}");
        return;
    };
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _k = Kill(child);
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed().as_secs() < 60,
            "moto_server did not listen on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let d = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(d.path()).unwrap();
    let home = demo_home(&dir);
    let endpoint = format!("http://127.0.0.1:{port}");
    let s3 = |home: &Path, args: &[&str]| {
        bin()
            .env("ASTROLAB_BACKUP_KEY", KEY)
            .env("ASTROLAB_BACKUP_S3_ENDPOINT", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "astrolab-test")
            .env("AWS_SECRET_ACCESS_KEY", "astrolab-test-secret")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .arg("--home")
            .arg(home)
            .args(args)
            .output()
            .unwrap()
    };
    let repo = "s3://lab-offsite/astrolab";
    let made = json(&s3(&home, &["backup", "create", "--to", repo, "--json"]));
    let listed = json(&s3(
        &home,
        &["backup", "list", "--from", repo, "--manifests", "--json"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["backup"], made["manifest"]["id"]);
    assert_eq!(
        listed[0]["rows"].as_u64(),
        made["manifest"]["tables"]
            .as_object()
            .map(|t| t.values().map(|v| v["rows"].as_u64().unwrap()).sum())
    );
    ok(&s3(
        &home,
        &[
            "backup",
            "verify",
            "--from",
            repo,
            "--read-data-subset",
            "100%",
            "--scratch",
            dir.to_str().unwrap(),
        ],
    ));
    let new = dir.join("from-s3");
    ok(&s3(&new, &["backup", "restore", "--from", repo]));
    assert_eq!(answers(&new), answers(&home));
    // An endpoint that does not answer is named.
    let o = bin()
        .env("ASTROLAB_BACKUP_KEY", KEY)
        .env("ASTROLAB_BACKUP_S3_ENDPOINT", "http://127.0.0.1:1")
        .env_remove("AWS_ACCESS_KEY_ID")
        .arg("--home")
        .arg(&home)
        .args(["backup", "list", "--from", repo])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(
            "cannot reach the backup repository at s3://lab-offsite/astrolab at http://127.0.0.1:1"
        ),
        "{}",
        text(&o)
    );
}
