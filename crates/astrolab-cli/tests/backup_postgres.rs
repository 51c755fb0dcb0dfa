//! `astrolab backup` on a data home whose store is PostgreSQL (issue 21):
//! pgBackRest backs the cluster up (full, then incremental) with its WAL
//! archived, restic the home's files and the manifest. A cluster of our
//! own is made for the test (initdb; run as the `postgres` user when the
//! test runs as root, since PostgreSQL refuses root), so archiving can be
//! turned on and the server can be "lost".
//!
//! Checked: `verify` restores every backup into a scratch cluster and
//! finds every table as the manifest says; after the server is lost, a
//! restore to the latest archived WAL answers every query as the lost
//! server did, and a restore to a moment between two writes answers as
//! the store did at that moment; a WAL segment missing from the
//! repository fails `verify`, naming the segment.
//!
//! Needs pgBackRest, restic and PostgreSQL's server programs
//! (`scripts/test` installs them); with CI set their absence fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{bin, text};

const KEY: &str = "pg-test-key-0123456789abcdef";

fn present(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// PostgreSQL's server programs' directory.
fn pg_bin() -> Option<PathBuf> {
    let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let b = e.path().join("bin");
            b.join("initdb").exists().then_some((n, b))
        })
        .collect();
    v.sort();
    v.pop().map(|x| x.1)
}

fn tools() -> Option<PathBuf> {
    let restic = std::env::var("ASTROLAB_RESTIC").unwrap_or_else(|_| "restic".into());
    let pgbr = std::env::var("ASTROLAB_PGBACKREST").unwrap_or_else(|_| "pgbackrest".into());
    let bin = pg_bin();
    let ok = present(&restic, "version") && present(&pgbr, "version") && bin.is_some();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but restic ({restic}), pgbackrest ({pgbr}) or PostgreSQL's server programs are missing: scripts/test installs them"
        );
        eprintln!("skipping: restic, pgbackrest or initdb missing; run ./scripts/test");
        return None;
    }
    bin
}

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// `program args` as the cluster's owner (`postgres` when we are root).
fn as_owner(program: &Path) -> Command {
    if root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn chown_postgres(p: &Path) {
    if root() {
        let o = Command::new("chown")
            .arg("postgres:postgres")
            .arg(p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
}

fn must(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A PostgreSQL cluster of the test's own.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    sock: PathBuf,
    port: u16,
}

impl Cluster {
    fn init(bin: &Path, data: &Path, sock: &Path) -> Cluster {
        std::fs::create_dir_all(sock).unwrap();
        chown_postgres(sock);
        must(
            as_owner(&bin.join("initdb"))
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(data)
                .output()
                .unwrap(),
        );
        Cluster::on(bin, data, sock)
    }

    fn on(bin: &Path, data: &Path, sock: &Path) -> Cluster {
        Cluster {
            bin: bin.to_path_buf(),
            data: data.to_path_buf(),
            sock: sock.to_path_buf(),
            port: free_port(),
        }
    }

    fn start(&self) {
        let log = self.sock.join(format!("server-{}.log", self.port));
        must(
            as_owner(&self.bin.join("pg_ctl"))
                .arg("start")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .arg("-w")
                .arg("-o")
                .arg(format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1",
                    self.port,
                    self.sock.display()
                ))
                .output()
                .unwrap(),
        );
    }

    fn stop(&self, mode: &str) {
        must(
            as_owner(&self.bin.join("pg_ctl"))
                .arg("stop")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", mode, "-w"])
                .output()
                .unwrap(),
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/astrolab", self.port)
    }

    fn sql(&self, db: &str, q: &str) -> String {
        must(
            Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-Atq", "-d", db, "-p"])
                .arg(self.port.to_string())
                .arg("-c")
                .arg(q)
                .output()
                .unwrap(),
        )
        .trim()
        .to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            as_owner(&self.bin.join("pg_ctl"))
                .arg("stop")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w"])
                .output()
                .ok();
        }
    }
}

/// A home's configuration file for the store at `url`.
fn config(dir: &Path, name: &str, url: &str, repo: &Path, c: &Cluster) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "database_url = \"{url}\"\n\n[backup]\nrepository = \"{}\"\npg_data = \"{}\"\npg_socket = \"{}\"\npg_bin = \"{}\"\n",
            repo.display(),
            c.data.display(),
            c.sock.display(),
            c.bin.display()
        ),
    )
    .unwrap();
    p
}

fn astrolab(cfg: &Path, home: &Path, key_file: &Path, args: &[&str]) -> Output {
    bin()
        .env_remove("ASTROLAB_BACKUP_KEY")
        .env("ASTROLAB_BACKUP_KEY_FILE", key_file)
        .arg("--config")
        .arg(cfg)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run astrolab")
}

fn ok(o: Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn json(o: Output) -> serde_json::Value {
    let t = ok(o);
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}"))
}

/// What a reader of the store sees: every table's rows, a cone search and
/// an aggregate.
fn answers(cfg: &Path, home: &Path, key: &Path) -> Vec<String> {
    vec![
        ok(astrolab(cfg, home, key, &["db", "status"]))
            .lines()
            .filter(|l| l.trim_end().ends_with(" rows"))
            .collect::<Vec<_>>()
            .join("\n"),
        ok(astrolab(
            cfg,
            home,
            key,
            &[
                "query", "cone", "--ra", "180", "--dec", "30", "--radius", "8", "--format", "csv",
            ],
        )),
        ok(astrolab(
            cfg,
            home,
            key,
            &[
                "query",
                "sql",
                "SELECT COUNT(*), SUM(z::numeric), MIN(targetid), MAX(targetid) FROM zcatalog",
                "--format",
                "csv",
            ],
        )),
    ]
}

/// The WAL segment holding `lsn` on timeline 1 (16 MB segments).
fn segment_of(lsn: &str) -> String {
    let (hi, lo) = lsn.split_once('/').unwrap();
    let pos = (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap();
    let seg = pos / (16 << 20);
    format!("00000001{:08X}{:08X}", seg >> 8, seg & 0xFF)
}

fn files_under(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn utc_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn write_csv(dir: &Path, name: &str, rows: &[(f64, f64, f64)]) -> String {
    let p = dir.join(name);
    let mut s = String::from("ra,dec,z\n");
    for (ra, dec, z) in rows {
        s.push_str(&format!("{ra},{dec},{z}\n"));
    }
    std::fs::write(&p, s).unwrap();
    p.display().to_string()
}

/// A test's directory (reachable by the cluster's owner), a cluster `a`
/// with the store's database, and the key file.
fn pg_lab(pgbin: &Path) -> (tempfile::TempDir, PathBuf, PathBuf, Cluster, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    // The cluster's owner must reach its files, the key and pgBackRest's
    // configuration under the home.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let pgroot = dir.join("pg");
    std::fs::create_dir_all(&pgroot).unwrap();
    chown_postgres(&pgroot);
    let a = Cluster::init(pgbin, &pgroot.join("a"), &pgroot.join("sock"));
    a.start();
    a.sql("postgres", "CREATE DATABASE astrolab");
    let key = dir.join("backup.key");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    chown_postgres(&key);
    (tmp, dir, pgroot, a, key)
}

/// Switches `a` to a new WAL segment and waits until the old one is
/// archived (the server does it by itself every archive_timeout = 60 s;
/// the tests do not wait that long).
fn wait_archived(a: &Cluster) {
    a.sql("astrolab", "SELECT pg_switch_wal()");
    let wal = a.sql("postgres", "SELECT pg_walfile_name(pg_current_wal_lsn())");
    for _ in 0..600 {
        let last = a.sql(
            "postgres",
            "SELECT COALESCE(last_archived_wal, '') FROM pg_stat_archiver",
        );
        if !last.is_empty() && last.as_str() >= wal.as_str() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("WAL segment {wal} was not archived in 60 s");
}

#[test]
fn postgres_store_backups_restore_to_the_latest_and_to_a_moment() {
    let Some(pgbin) = tools() else { return };
    let (_tmp, dir, pgroot, a, key) = pg_lab(&pgbin);
    let repo = dir.join("repo");
    let home = dir.join("home");
    let cfg = config(&dir, "a", &a.url(), &repo, &a);

    // Archiving is off in a new cluster: setup turns it on and asks for a
    // restart, after which it checks a segment reaches the repository.
    let s1 = json(astrolab(&cfg, &home, &key, &["backup", "setup", "--json"]));
    assert_eq!(s1["restart_needed"], true, "{s1}");
    assert!(s1["archive_command"]
        .as_str()
        .unwrap()
        .contains("archive-push %p"));
    assert!(!s1["archive_command"].as_str().unwrap().contains(KEY));
    a.stop("fast");
    a.start();
    let s2 = json(astrolab(&cfg, &home, &key, &["backup", "setup", "--json"]));
    assert_eq!(
        (
            s2["restart_needed"].clone(),
            s2["archiving_checked"].clone()
        ),
        (serde_json::json!(false), serde_json::json!(true)),
        "{s2}"
    );
    // No secret in pgBackRest's configuration.
    let conf = std::fs::read_to_string(s2["config"].as_str().unwrap()).unwrap();
    assert!(!conf.contains(KEY) && conf.contains("repo1-cipher-type=aes-256-cbc"));

    // The store: the demo sky ingested.
    let demo = dir.join("demo");
    ok(astrolab(
        &cfg,
        &home,
        &key,
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
    let mut files: Vec<String> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.contains("zpix-") || p.contains("DESIVAST_"))
        .collect();
    files.sort();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    ok(astrolab(&cfg, &home, &key, &args));
    std::fs::create_dir_all(home.join("runs/r1")).unwrap();
    std::fs::write(home.join("runs/r1/result.json"), b"{\"answer\": 42}\n").unwrap();

    let full = json(astrolab(
        &cfg,
        &home,
        &key,
        &["backup", "create", "--type", "full", "--json"],
    ));
    let m1 = &full["manifest"];
    assert_eq!(m1["backend"], "postgresql");
    assert_eq!(m1["postgres"]["kind"], "full");
    let rows = |m: &serde_json::Value, t: &str| m["tables"][t]["rows"].as_u64().unwrap();
    assert_eq!(
        rows(m1, "public.zcatalog").to_string(),
        a.sql("astrolab", "SELECT COUNT(*) FROM zcatalog")
    );
    // The writes below are CSV galaxy tables (the `galaxies` table).
    let zcat_rows = |m: &serde_json::Value| rows(m, "public.galaxies");
    assert_eq!(zcat_rows(m1), 0);

    // Writes: one before the moment T1, one after it; then an incremental
    // backup, then a last write that only the archived WAL holds.
    ok(astrolab(
        &cfg,
        &home,
        &key,
        &[
            "ingest",
            &write_csv(&dir, "w1.csv", &[(180.1, 30.1, 0.1), (180.2, 30.2, 0.2)]),
        ],
    ));
    std::thread::sleep(Duration::from_millis(1500));
    let t1 = utc_now();
    let at_t1 = answers(&cfg, &home, &key);
    std::thread::sleep(Duration::from_millis(1500));
    ok(astrolab(
        &cfg,
        &home,
        &key,
        &["ingest", &write_csv(&dir, "w2.csv", &[(181.0, 29.0, 0.3)])],
    ));
    let incr = json(astrolab(&cfg, &home, &key, &["backup", "create", "--json"]));
    let m2 = &incr["manifest"];
    assert_eq!(m2["postgres"]["kind"], "incr");
    assert_eq!(zcat_rows(m2), zcat_rows(m1) + 3);
    ok(astrolab(
        &cfg,
        &home,
        &key,
        &["ingest", &write_csv(&dir, "w3.csv", &[(179.5, 30.5, 0.4)])],
    ));

    // Verify: each backup restored into a scratch cluster to its restore
    // point, every table as its manifest says.
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    chown_postgres(&scratch);
    for (m, id) in [
        (m1, m1["id"].as_str().unwrap()),
        (m2, m2["id"].as_str().unwrap()),
    ] {
        let v = json(astrolab(
            &cfg,
            &home,
            &key,
            &[
                "backup",
                "verify",
                "--backup",
                id,
                "--scratch",
                scratch.to_str().unwrap(),
                "--read-data-subset",
                "100%",
                "--json",
            ],
        ));
        assert_eq!(v["backup"], id);
        assert_eq!(
            v["tables"].as_u64().unwrap() as usize,
            m["tables"].as_object().unwrap().len()
        );
        assert_eq!(
            v["rows"].as_u64().unwrap(),
            m["tables"]
                .as_object()
                .unwrap()
                .values()
                .map(|t| t["rows"].as_u64().unwrap())
                .sum::<u64>()
        );
    }
    let st = json(astrolab(&cfg, &home, &key, &["backup", "status"]));
    assert_eq!(st["last_verify"]["ok"], true);
    assert!(st["drill"]["rto_s"].as_f64().unwrap() > 0.0);

    // The last write reaches the archive (the server switches segments
    // every archive_timeout = 60 s; the test does not wait for it).
    wait_archived(&a);
    let latest = answers(&cfg, &home, &key);
    // The server is lost.
    a.stop("immediate");

    // Onto an empty machine: the latest state.
    let b = Cluster::on(&pgbin, &pgroot.join("b"), &pgroot.join("sock"));
    let home_b = dir.join("home-b");
    let cfg_b = config(&dir, "b", &b.url(), &repo, &b);
    let r = json(astrolab(
        &cfg_b,
        &home_b,
        &key,
        &["backup", "restore", "--latest", "--no-archive", "--json"],
    ));
    assert_eq!(r["target"], "latest");
    assert_eq!(r["home"]["backup"], m2["id"]);
    assert_eq!(
        r["tables"]["public.galaxies"].as_u64().unwrap(),
        zcat_rows(m2) + 1
    );
    assert!(r["rto_s"].as_f64().unwrap() > 0.0);
    assert_eq!(
        std::fs::read(home_b.join("runs/r1/result.json")).unwrap(),
        b"{\"answer\": 42}\n"
    );
    b.start();
    assert_eq!(answers(&cfg_b, &home_b, &key), latest);
    b.stop("fast");

    // To the moment T1: the first write, not the second.
    let c = Cluster::on(&pgbin, &pgroot.join("c"), &pgroot.join("sock"));
    let home_c = dir.join("home-c");
    let cfg_c = config(&dir, "c", &c.url(), &repo, &c);
    let r = json(astrolab(
        &cfg_c,
        &home_c,
        &key,
        &["backup", "restore", "--time", &t1, "--no-archive", "--json"],
    ));
    assert_eq!(r["target"], t1.as_str());
    assert_eq!(
        r["tables"]["public.galaxies"].as_u64().unwrap(),
        zcat_rows(m1) + 2
    );
    c.start();
    assert_eq!(answers(&cfg_c, &home_c, &key), at_t1);
    c.stop("fast");

    // A non-empty target is refused and left alone.
    let e = astrolab(
        &cfg_c,
        &dir.join("home-d"),
        &key,
        &["backup", "restore", "--pg-data", c.data.to_str().unwrap()],
    );
    assert_ne!(e.status.code(), Some(0));
    assert!(text(&e).contains("is not empty"), "{}", text(&e));

    // A WAL segment lost from the repository: the one holding the second
    // backup's restore point. Verify fails and names it.
    let seg = segment_of(m2["postgres"]["lsn"].as_str().unwrap());
    let lost: Vec<PathBuf> = files_under(&repo.join("pgbackrest/archive"))
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&seg))
        .collect();
    assert_eq!(lost.len(), 1, "{seg}: {lost:?}");
    std::fs::remove_file(&lost[0]).unwrap();
    let v = astrolab(
        &cfg,
        &home,
        &key,
        &[
            "backup",
            "verify",
            "--backup",
            m2["id"].as_str().unwrap(),
            "--scratch",
            scratch.to_str().unwrap(),
        ],
    );
    assert_ne!(v.status.code(), Some(0));
    let msg = text(&v);
    assert!(
        msg.contains(&format!(
            "segment {seg} is missing from pgBackRest's repository"
        )),
        "{msg}"
    );
    assert!(!msg.contains(KEY));
    let st = json(astrolab(&cfg, &home, &key, &["backup", "status"]));
    assert_eq!(st["last_verify"]["ok"], false);
    assert_eq!(st["last_good_verify"]["backup"], m2["id"]);
}

/// A child process killed when dropped.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(port: u16, what: &str) {
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed().as_secs() < 60,
            "{what} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Off site: the PostgreSQL store's WAL archive and backups in an
/// S3-compatible object store (moto's server from PyPI, behind socat for
/// TLS: pgBackRest speaks only TLS to an object store; both engines trust
/// the test's own certificate authority through `[backup] s3_ca_file`).
#[test]
fn postgres_backups_go_to_s3_compatible_storage() {
    let Some(pgbin) = tools() else { return };
    let moto = std::env::var("ASTROLAB_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let socat = std::env::var("ASTROLAB_SOCAT").unwrap_or_else(|_| "socat".into());
    // The server's archive command finds the credentials in its environment.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "astrolab-test"),
        ("AWS_SECRET_ACCESS_KEY", "astrolab-test-secret"),
    ] {
        std::env::set_var(k, v);
    }
    let (_tmp, dir, pgroot, a, key) = pg_lab(&pgbin);
    // A certificate for 127.0.0.1, its own authority (pgBackRest matches
    // the host against DNS names only, Go's TLS against IP addresses).
    let (crt, pem) = (dir.join("s3.crt"), dir.join("s3.pem"));
    must(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .args([
                "-addext",
                "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1",
                "-keyout",
            ])
            .arg(dir.join("s3.key"))
            .arg("-out")
            .arg(&crt)
            .output()
            .unwrap(),
    );
    let mut both = std::fs::read(&crt).unwrap();
    both.extend(std::fs::read(dir.join("s3.key")).unwrap());
    std::fs::write(&pem, both).unwrap();
    let (http_port, tls_port) = (free_port(), free_port());
    let spawn = |c: &mut Command, what: &str| match c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(ch) => Some(Kill(ch)),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but {what} cannot run: scripts/test installs it"
            );
            eprintln!("skipping: no {what}");
            None
        }
    };
    let Some(_moto) = spawn(
        Command::new(&moto).args(["-H", "127.0.0.1", "-p", &http_port.to_string()]),
        &moto,
    ) else {
        return;
    };
    let Some(_tls) = spawn(
        Command::new(&socat)
            .arg(format!(
                "OPENSSL-LISTEN:{tls_port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={}",
                pem.display()
            ))
            .arg(format!("TCP:127.0.0.1:{http_port}")),
        &socat,
    ) else {
        return;
    };
    wait_listening(http_port, "moto_server");
    wait_listening(tls_port, "socat");
    // pgBackRest does not make buckets.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", http_port)).unwrap();
    use std::io::{Read, Write};
    write!(s, "PUT /lab-offsite HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let s3cfg = |name: &str, c: &Cluster| {
        let p = dir.join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!(
                "database_url = \"{}\"\n\n[backup]\nrepository = \"s3://lab-offsite/astrolab\"\ns3_endpoint = \"https://127.0.0.1:{tls_port}\"\ns3_ca_file = \"{}\"\npg_data = \"{}\"\npg_socket = \"{}\"\npg_bin = \"{}\"\n",
                c.url(),
                crt.display(),
                c.data.display(),
                c.sock.display(),
                c.bin.display()
            ),
        )
        .unwrap();
        p
    };
    let cfg = s3cfg("a", &a);
    let home = dir.join("home");
    let s1 = json(astrolab(&cfg, &home, &key, &["backup", "setup", "--json"]));
    assert_eq!(s1["restart_needed"], true, "{s1}");
    assert!(s1["archive_command"]
        .as_str()
        .unwrap()
        .contains("PGBACKREST_REPO1_S3_KEY=\"$AWS_ACCESS_KEY_ID\""));
    a.stop("fast");
    a.start();
    let s2 = json(astrolab(&cfg, &home, &key, &["backup", "setup", "--json"]));
    assert_eq!(s2["archiving_checked"], true, "{s2}");
    ok(astrolab(
        &cfg,
        &home,
        &key,
        &[
            "ingest",
            &write_csv(&dir, "w1.csv", &[(180.1, 30.1, 0.1), (180.2, 30.2, 0.2)]),
        ],
    ));
    let made = json(astrolab(
        &cfg,
        &home,
        &key,
        &["backup", "create", "--type", "full", "--json"],
    ));
    let m = &made["manifest"];
    assert_eq!(m["tables"]["public.galaxies"]["rows"], 2);
    let v = json(astrolab(&cfg, &home, &key, &["backup", "verify", "--json"]));
    assert_eq!(v["backup"], m["id"]);
    ok(astrolab(
        &cfg,
        &home,
        &key,
        &["ingest", &write_csv(&dir, "w2.csv", &[(181.0, 29.0, 0.3)])],
    ));
    wait_archived(&a);
    let latest = answers(&cfg, &home, &key);
    a.stop("immediate");
    // The server is lost; a new one from the object store alone.
    let b = Cluster::on(&pgbin, &pgroot.join("b"), &pgroot.join("sock"));
    let cfg_b = s3cfg("b", &b);
    let home_b = dir.join("home-b");
    let r = json(astrolab(
        &cfg_b,
        &home_b,
        &key,
        &["backup", "restore", "--latest", "--no-archive", "--json"],
    ));
    assert_eq!(r["tables"]["public.galaxies"], 3);
    b.start();
    assert_eq!(answers(&cfg_b, &home_b, &key), latest);
    b.stop("fast");
}
