//! The astrolab binary end to end: help, exit codes, configuration layers,
//! quickstart, output formats, and a kill in the middle of an ingest.

use std::path::Path;
use std::process::Command;

mod common;
use common::{bin, run, text};

#[test]
fn every_command_has_help() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["quickstart", "--help"],
        vec!["demo-data", "--help"],
        vec!["ingest", "--help"],
        vec!["db", "--help"],
        vec!["db", "migrate", "--help"],
        vec!["db", "status", "--help"],
        vec!["files", "list", "--help"],
        vec!["query", "--help"],
        vec!["query", "cone", "--help"],
        vec!["query", "xmatch", "--help"],
        vec!["query", "sql", "--help"],
        vec!["fetch", "desi", "--help"],
        vec!["spectra", "build", "--help"],
        vec!["spectra", "get", "--help"],
        vec!["spectra", "files", "--help"],
        vec!["publish", "--help"],
    ] {
        let o = run(d.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn exit_codes_distinguish_usage_from_failure() {
    let d = tempfile::tempdir().unwrap();
    // Usage errors: 2.
    assert_eq!(
        run(d.path(), &["query", "cone", "--ra", "10"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(d.path(), &["--no-such-flag"]).status.code(), Some(2));
    let o = run(
        d.path(),
        &[
            "query", "cone", "--ra", "10", "--dec", "0", "--radius", "1parsec",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--radius"));
    let o = run(
        d.path(),
        &[
            "query", "cone", "--ra", "400", "--dec", "0", "--radius", "1deg",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--ra"), "{}", text(&o));
    let o = run(
        d.path(),
        &[
            "query",
            "cone",
            "--ra",
            "10",
            "--dec",
            "0",
            "--radius",
            "1deg",
            "--where",
            "z > 1; DROP TABLE zcatalog",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Failures: 1.
    let o = run(d.path(), &["ingest", "does-not-exist.fits"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("does-not-exist.fits"));
    std::fs::write(d.path().join("junk.fits"), "not fits").unwrap();
    let o = run(d.path(), &["ingest", "junk.fits"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("junk.fits"));
}

#[test]
fn configuration_file_then_environment_then_flags() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("astrolab.toml"), "home = \"from-file\"\n").unwrap();
    let status = |extra: &[&str], env: Option<&str>| {
        let mut c = bin();
        c.current_dir(d.path())
            .args(["db", "status", "--json"])
            .args(extra);
        if let Some(h) = env {
            c.env("ASTROLAB_HOME", h);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["database"].as_str().unwrap().to_string()
    };
    assert!(status(&[], None).starts_with("from-file"));
    assert!(status(&[], Some("from-env")).starts_with("from-env"));
    assert!(status(&["--home", "from-flag"], Some("from-env")).starts_with("from-flag"));
    // Secrets never from the file.
    std::fs::write(
        d.path().join("astrolab.toml"),
        "database_url = \"postgres://u:secret@h/db\"\n",
    )
    .unwrap();
    let o = run(d.path(), &["db", "status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("password") && !text(&o).contains("u:secret"),
        "{}",
        text(&o)
    );
}

#[test]
fn quickstart_runs_from_nothing_and_reports_results() {
    let d = tempfile::tempdir().unwrap();
    let o = run(
        d.path(),
        &["quickstart", "--galaxies", "4000", "--log-format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Results:") && out.contains("Try next:"),
        "{out}"
    );
    // JSON logs on stderr: every line is a JSON object.
    for line in String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(v.get("level").is_some());
    }
    let home = d.path().join("astrolab-data");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(home.join("quickstart/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["demo"]["n_galaxies"], 4000);
    // VoidFinder recovers the planted voids of its demo patch.
    let vf = out
        .lines()
        .find(|l| l.contains("planted voids with R > 15 Mpc/h recovered"))
        .unwrap_or_else(|| panic!("no VoidFinder line in {out}"));
    let nums: Vec<f64> = vf
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse().ok())
        .collect();
    // "VoidFinder: V voids in a N-galaxy demo patch; R of P planted ..."
    let (recovered, planted) = (nums[2], nums[3]);
    assert!(planted >= 10.0 && recovered >= 0.9 * planted, "{vf}");
    // The synthetic recording's line at its true velocity.
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(home.join("quickstart/hline/hline-demo-42.truth.json")).unwrap(),
    )
    .unwrap();
    let v_true = truth["line_center_v_radio_topo_km_s"].as_f64().unwrap();
    let hi = out
        .lines()
        .find(|l| l.contains("HI line:"))
        .unwrap_or_else(|| panic!("no HI line in {out}"));
    let v: f64 = hi
        .split("v_radio(topo) ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{hi}"));
    assert!((v - v_true).abs() < 0.5, "{hi} vs truth {v_true}");
    assert!(home.join("quickstart/voids/summary.txt").is_file());
    // Anomalous quasars: the demo quasars' model (seeded: this exact model
    // on x86-64 with AVX2/FMA), every confident quasar scored, the
    // ranking measured against the injected rarities.
    let an = out
        .lines()
        .find(|l| l.contains("anomalous quasars: model "))
        .unwrap_or_else(|| panic!("no anomaly line in {out}"));
    for want in [
        "model vae-f689293f4d7a4c98 ",
        "439 scored (17 above its 1 % threshold)",
        "among 20 injected rarities the ROC AUC is 0.830 and the top 20 hold 9",
    ] {
        assert!(an.contains(want), "{want:?} not in {an}");
    }
    // Quasar outflows: DESI-catalog BAL measurements of the same quasars.
    let bal = out
        .lines()
        .find(|l| l.contains("quasar outflows: BAL catalog "))
        .unwrap_or_else(|| panic!("no outflows line in {out}"));
    for want in [
        "BAL catalog bal-49af924a7c151855 of 439 quasars, 249 measured (1 with BI_CIV > 0, 3 with AI_CIV > 0; 190 outside",
        "1 of the 1 injected BAL quasars at z 1.57-5.0 show a C IV trough",
    ] {
        assert!(bal.contains(want), "{want:?} not in {bal}");
    }
    assert!(home.join("quickstart/outflows/bal.csv").is_file());
    // Spectral fits of the same quasars, into the store.
    let fits = out
        .lines()
        .find(|l| l.contains("quasar spectral fits: catalog "))
        .unwrap_or_else(|| panic!("no spectral-fit line in {out}"));
    for want in [
        "catalog qsofit-79682ee97e83212f of 439 quasars, 439 fitted (13 with an [O III] wing), 0 skipped",
        "median log M_BH from H-beta 8.34 (82), Mg II 8.62 (273), C IV 8.95 (237)",
    ] {
        assert!(fits.contains(want), "{want:?} not in {fits}");
    }
    assert!(home.join("quickstart/quasars/fits.csv").is_file());
    let ranked = std::fs::read_to_string(home.join("quickstart/anomalies/anomalies.csv")).unwrap();
    assert_eq!(ranked.lines().count(), 1 + 439);
    // Every FastSpecFit galaxy is in the redshift catalog at the same position.
    let xm = std::fs::read_to_string(home.join("quickstart/xmatch_fastspec_zcatalog.csv")).unwrap();
    assert_eq!(xm.lines().count() - 1, 4000);
    assert!(
        xm.lines().skip(1).all(|l| l.ends_with(",0")),
        "separations must be 0 for the same object"
    );
    // Running again is idempotent: the same bytes are not loaded twice.
    let o = run(d.path(), &["quickstart", "--galaxies", "4000"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("unchanged"));
    // The second run reuses the trained model: the same one, not trained again.
    let again = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(again.contains("model vae-f689293f4d7a4c98 "), "{again}");
    assert!(
        again.contains(
            "quasar spectral fits: catalog qsofit-79682ee97e83212f of 439 quasars, 439 fitted"
        ),
        "{again}"
    );
    assert!(!text(&o).contains("epoch "), "trained again: {}", text(&o));
    let o = run(
        d.path(),
        &[
            "query",
            "sql",
            "SELECT COUNT(*) AS n FROM fastspec",
            "--format",
            "csv",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n4000\n");
}

#[test]
fn query_output_formats() {
    let d = tempfile::tempdir().unwrap();
    let o = run(
        d.path(),
        &["demo-data", "demo", "--galaxies", "2000", "--seed", "3"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(d.path(), &["ingest", "demo"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sql = "SELECT targetid, ra, dec, z, spectype FROM zcatalog ORDER BY targetid LIMIT 5";
    let csv = run(d.path(), &["query", "sql", sql, "--format", "csv"]);
    let json = run(d.path(), &["query", "sql", sql, "--format", "json"]);
    let table = run(d.path(), &["query", "sql", sql]);
    let fits = run(
        d.path(),
        &["query", "sql", sql, "--format", "fits", "-o", "out.fits"],
    );
    assert_eq!(fits.status.code(), Some(0), "{}", text(&fits));
    let csv = String::from_utf8_lossy(&csv.stdout).to_string();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "targetid,ra,dec,z,spectype");
    assert_eq!(rows.len(), 6);
    let j: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(j.len(), 5);
    let first: Vec<&str> = rows[1].split(',').collect();
    assert_eq!(j[0]["targetid"].as_i64().unwrap().to_string(), first[0]);
    assert_eq!(
        j[0]["ra"].as_f64().unwrap(),
        first[1].parse::<f64>().unwrap()
    );
    assert!(String::from_utf8_lossy(&table.stdout).contains("(5 rows)"));
    let f = astrolab_formats::fits::FitsFile::open(&d.path().join("out.fits")).unwrap();
    let t = f.table("RESULT").unwrap();
    assert_eq!(t.read_i64("TARGETID").unwrap()[0].to_string(), first[0]);
    assert_eq!(
        t.read_f64("RA").unwrap()[0],
        first[1].parse::<f64>().unwrap()
    );
    assert_eq!(t.read_str("SPECTYPE").unwrap()[0], first[4]);
}

#[test]
#[cfg(unix)]
fn a_killed_ingest_loses_no_committed_data() {
    let d = tempfile::tempdir().unwrap();
    let o = run(
        d.path(),
        &["demo-data", "small", "--galaxies", "1000", "--seed", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // 1.5 M rows: big enough for the bulk path (index rebuild, rollback
    // journal instead of WAL).
    std::fs::create_dir_all(d.path().join("big")).unwrap();
    write_big_zcatalog(&d.path().join("big/zpix-big.fits"), 1_500_000);
    let o = run(d.path(), &["ingest", "small/zpix-main-bright.fits"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let count = |table: &str| -> i64 {
        let o = run(
            d.path(),
            &[
                "query",
                "sql",
                &format!("SELECT COUNT(*) AS n FROM {table}"),
                "--format",
                "csv",
            ],
        );
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let small_rows = count("zcatalog");
    assert!(small_rows > 1000);
    // Kill the big ingest part-way (the exact moment does not matter: the
    // file must be all there or not at all).
    let mut child = bin()
        .current_dir(d.path())
        .args(["ingest", "big/zpix-big.fits"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let after = count("zcatalog");
    let files = count("raw_files");
    assert!(
        (after == small_rows && files == 1) || (after == small_rows + 1_500_000 && files == 2),
        "after a kill: {after} rows, {files} files"
    );
    let o = run(
        d.path(),
        &["query", "sql", "PRAGMA integrity_check", "--format", "csv"],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("ok"),
        "{}",
        text(&o)
    );
    // And the ingest can simply be run again.
    let o = run(d.path(), &["ingest", "big/zpix-big.fits"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(count("zcatalog"), small_rows + 1_500_000);
    // Whatever position-cache temporary the killed load left is gone (issue
    // 14: 48 MB files were never swept).
    let left: Vec<String> = walk_names(&d.path().join("astrolab-data/cache/positions"))
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // WAL mode is recorded in the database header (bytes 18 and 19 = 2).
    let header = std::fs::read(d.path().join("astrolab-data/astrolab.db")).unwrap();
    assert_eq!((header[18], header[19]), (2, 2), "back in WAL mode");
}

/// A zcatalog-format file with `n` rows (uniform sky, seeded).
fn write_big_zcatalog(path: &Path, n: usize) {
    use astrolab_formats::fits::{write_fits, ColumnData, ColumnOut, HduOut};
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let ra: Vec<f64> = (0..n).map(|_| next() * 360.0).collect();
    let dec: Vec<f64> = (0..n)
        .map(|_| (2.0 * next() - 1.0).asin().to_degrees())
        .collect();
    let cols = vec![
        ColumnOut::new(
            "TARGETID",
            ColumnData::I64((0..n as i64).map(|i| 39627500000000000 + i).collect()),
        ),
        ColumnOut::new("TARGET_RA", ColumnData::F64(ra)),
        ColumnOut::new("TARGET_DEC", ColumnData::F64(dec)),
        ColumnOut::new(
            "Z",
            ColumnData::F64((0..n).map(|i| (i % 1000) as f64 / 1000.0).collect()),
        ),
        ColumnOut::new("ZWARN", ColumnData::I64(vec![0; n])),
        ColumnOut::new(
            "SPECTYPE",
            ColumnData::Str {
                width: 6,
                values: vec!["GALAXY".into(); n],
            },
        ),
    ];
    write_fits(
        path,
        &[
            HduOut::Primary { header: vec![] },
            HduOut::Table {
                extname: Some("ZCATALOG".into()),
                header: vec![],
                columns: cols,
            },
        ],
    )
    .unwrap();
}

#[test]
fn spectra_build_get_and_plot_real_desi_coadds() {
    let Some(data) = astrolab_formats::testdata::require_shared_data("spectra_build") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let desi = data.join("desi");
    let desi = desi.to_str().unwrap();
    let o = run(d.path(), &["spectra", "build", "--from", desi]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("3 built") && text(&o).contains("5 spectra written"),
        "{}",
        text(&o)
    );
    // Issue 14: the sv3 coadd has no redrock file, so its spectra have no
    // redshift (the summary said "0 without redshift"), and two of its five
    // fibres are on no target (negative TARGETID), left out and counted.
    assert!(
        text(&o).contains(
            "5 spectra written (3 without redshift: 1 coadd had no redrock file beside it); \
             left out: 0 without a redrock entry, 0 not selected, 2 sky or unassigned fibres \
             (negative TARGETID; --keep-negative-targetids keeps them)"
        ),
        "{}",
        text(&o)
    );
    // A rerun finds everything built from the same bytes.
    let o = run(d.path(), &["spectra", "build", "--from", desi]);
    assert!(text(&o).contains("3 already built"), "{}", text(&o));
    // The spectrum read back equals the arm merge of the coadd.
    let coadd = astrolab_formats::spectra::read_desi_coadd(
        &data.join("desi/coadd-special-dark-27247.fits"),
    )
    .unwrap();
    let merged = coadd.merged(0).unwrap();
    let tid = coadd.fibermap.targetid[0].to_string();
    let o = run(
        d.path(),
        &["spectra", "get", &tid, "--format", "csv", "--plot", "s.svg"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let csv = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + astrolab_formats::spectra::MERGED_NPIX);
    for (p, line) in lines.iter().skip(1).enumerate().step_by(997) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], tid);
        assert_eq!(
            f[2].parse::<f32>().unwrap(),
            merged.flux[p],
            "flux pixel {p}"
        );
        assert_eq!(
            f[3].parse::<f32>().unwrap(),
            merged.ivar[p],
            "ivar pixel {p}"
        );
        assert_eq!(
            f[4].parse::<u32>().unwrap(),
            merged.mask[p],
            "mask pixel {p}"
        );
    }
    let svg = std::fs::read_to_string(d.path().join("s.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(&tid));
    // Hot copies: written once, then `spectra get` reads them and prints
    // exactly the same spectrum.
    let o = run(d.path(), &["spectra", "hot"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("3 hot copies written"), "{}", text(&o));
    let o = run(d.path(), &["spectra", "hot"]);
    assert!(
        text(&o).contains("0 hot copies written, 3 already fresh"),
        "{}",
        text(&o)
    );
    let o = run(d.path(), &["spectra", "get", &tid, "--format", "csv"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), csv);
    // A selection over redrock columns: the special-program target is a
    // GALAXY, so a QSO-only build into a fresh store keeps nothing of it.
    let o = run(
        d.path(),
        &[
            "--home",
            "h2",
            "spectra",
            "build",
            "--from",
            desi,
            "--select",
            "spectype = 'QSO' AND zwarn = 0",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(d.path(), &["--home", "h2", "spectra", "get", &tid]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no spectrum in the store"));
    // Bad select is a usage error.
    let o = run(
        d.path(),
        &["spectra", "build", "--from", desi, "--select", "nosuch = 1"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // PNG plots too; other extensions are a usage error.
    let o = run(d.path(), &["spectra", "get", &tid, "--plot", "s.png"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        &std::fs::read(d.path().join("s.png")).unwrap()[..4],
        b"\x89PNG"
    );
    let o = run(d.path(), &["spectra", "get", &tid, "--plot", "s.gif"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// Issue 14 (9b, 9c): `ingest` on a coadd names the command that takes
/// it; `spectra build` leaves out fibres on no target (negative TARGETID)
/// and counts them, unless asked to keep them.
#[test]
fn coadds_go_to_spectra_build_which_skips_fibres_on_no_target() {
    let Some(data) = astrolab_formats::testdata::require_shared_data("coadd_newcomer") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    // The real sv3 coadd: two of its five fibres are on no target.
    let src = data.join("desi/coadd-sv3-dark-26065.fits");
    std::fs::create_dir_all(d.path().join("neg")).unwrap();
    std::fs::copy(&src, d.path().join("neg/coadd-sv3-dark-26065.fits")).unwrap();
    let ids = astrolab_formats::spectra::read_desi_coadd(&src)
        .unwrap()
        .fibermap
        .targetid;
    assert!(ids[1] < 0);
    let o = run(d.path(), &["ingest", "neg/coadd-sv3-dark-26065.fits"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("this is a DESI coadd (spectra), not a catalog")
            && text(&o).contains("run `astrolab spectra build --from neg`"),
        "{}",
        text(&o)
    );
    let o = run(d.path(), &["spectra", "build", "--from", "neg"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(
            "3 spectra written (3 without redshift: 1 coadd had no redrock file beside it); \
             left out: 0 without a redrock entry, 0 not selected, 2 sky or unassigned fibres \
             (negative TARGETID; --keep-negative-targetids keeps them)"
        ),
        "{}",
        text(&o)
    );
    let neg = ids[1].to_string();
    let o = run(d.path(), &["spectra", "get", "--format", "csv", "--", &neg]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = run(
        d.path(),
        &[
            "--home",
            "keep",
            "spectra",
            "build",
            "--from",
            "neg",
            "--keep-negative-targetids",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("5 spectra written") && text(&o).contains("0 sky or unassigned fibres"),
        "{}",
        text(&o)
    );
    let o = run(
        d.path(),
        &[
            "--home", "keep", "spectra", "get", "--format", "csv", "--", &neg,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn the_labs_per_tile_parquet_files_are_indexed_and_read_in_place() {
    let d = tempfile::tempdir().unwrap();
    // A lab-layout file as the lab's Python pipeline wrote them (pyarrow).
    let script = r#"
import pyarrow as pa, pyarrow.parquet as pq, numpy as np
wl = [np.arange(3600.0, 3610.0, 0.8), np.arange(3600.0, 3604.0, 0.8)]
t = pa.table({
    "target_id": pa.array([39627000000000001, 39627000000000002], pa.int64()),
    "ra": [10.5, 11.5], "dec": [-1.0, 2.0], "z": [2.25, 1.5],
    "wavelength": [list(w) for w in wl],
    "flux": [list(np.linspace(1, 2, len(w))) for w in wl],
    "ivar": [[4.0] * len(w) for w in wl],
    "mask_array": [[0] * (len(w) - 1) + [1] for w in wl],
})
pq.write_table(t, "lab/tile-80613.parquet")
"#;
    std::fs::create_dir_all(d.path().join("lab")).unwrap();
    let py = Command::new("python3")
        .current_dir(d.path())
        .args(["-c", script])
        .output();
    match py {
        Ok(o) if o.status.success() => {}
        other => {
            if std::env::var_os("CI").is_some() {
                panic!("python3 with pyarrow is needed (scripts/test installs it): {other:?}");
            }
            eprintln!("skipping: python3 with pyarrow not available");
            return;
        }
    }
    let o = run(d.path(), &["spectra", "index-lab", "lab"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("1 files indexed (2 spectra)"),
        "{}",
        text(&o)
    );
    let o = run(d.path(), &["spectra", "index-lab", "lab"]);
    assert!(text(&o).contains("1 already indexed"), "{}", text(&o));
    let o = run(
        d.path(),
        &["spectra", "get", "39627000000000002", "--format", "csv"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let csv = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "target_id,wavelength,flux,ivar,mask");
    assert_eq!(lines.len(), 1 + 5);
    assert_eq!(lines[1], "39627000000000002,3600,1,4,0");
    assert!(
        lines[5].starts_with("39627000000000002,3603.2") && lines[5].ends_with(",2,4,1"),
        "{}",
        lines[5]
    );
}

#[test]
fn fetch_converts_as_it_goes_and_deletes_the_raw_files() {
    let Some(data) = astrolab_formats::testdata::require_shared_data("fetch_convert") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    // A DESI-like mirror on 127.0.0.1 holding one real healpix pixel.
    let pixdir = d
        .path()
        .join("mirror/dr1/spectro/redux/iron/healpix/special/dark/272/27247");
    std::fs::create_dir_all(&pixdir).unwrap();
    let mut sums = String::new();
    for f in [
        "coadd-special-dark-27247.fits",
        "redrock-special-dark-27247.fits",
    ] {
        std::fs::copy(data.join("desi").join(f), pixdir.join(f)).unwrap();
        let (_, sha) = astrolab_store::file_digest(&pixdir.join(f)).unwrap();
        sums.push_str(&format!("{sha}  {f}\n"));
    }
    std::fs::write(pixdir.join("special-dark-27247.sha256sum"), sums).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(d.path().join("mirror"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 http.server");
    // Wait (bounded) for the server to listen.
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mirror = format!("http://127.0.0.1:{port}/dr1");
    let o = run(
        d.path(),
        &[
            "fetch",
            "desi",
            "--survey",
            "special",
            "--program",
            "dark",
            "--healpix",
            "27247",
            "--mirror",
            &mirror,
            "--dest",
            "raw",
            "--min-free-gb",
            "0",
            "--convert",
            "--delete-raw",
        ],
    );
    server.kill().ok();
    server.wait().ok();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Converted into the store, raw files gone.
    let o = run(d.path(), &["spectra", "files", "--format", "csv"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("special,dark,27247,1,"),
        "{}",
        text(&o)
    );
    let left: Vec<String> = walk_names(&d.path().join("raw"));
    assert!(
        !left.iter().any(|n| n.ends_with(".fits")),
        "raw files left: {left:?}"
    );
    let o = run(
        d.path(),
        &["spectra", "get", "39089837499744649", "--format", "csv"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn walk_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_names(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// Issue 14 (9a): a cone search on an empty table says so and names the
/// tables that hold rows; without --table, the only sky table with rows
/// is searched when zcatalog is empty.
#[test]
fn cone_on_an_empty_table_says_so_and_finds_the_table_with_rows() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("my-galaxies.csv"),
        "ra,dec,z\n10.0,1.0,0.1\n10.2,1.0,0.2\n50.0,1.0,0.3\n",
    )
    .unwrap();
    let cone = [
        "query", "cone", "--ra", "10", "--dec", "1", "--radius", "1deg",
    ];
    // The notes are whole lines of stderr (logs may come with them).
    let says = |o: &std::process::Output, line: &str| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .any(|l| l == line)
    };
    // Nothing at all yet.
    let o = run(d.path(), &cone);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        says(
            &o,
            "note: table zcatalog is empty, as is every sky table: load a catalog first \
             (astrolab ingest FILE, or astrolab quickstart for demo data)"
        ),
        "{}",
        text(&o)
    );
    let o = run(d.path(), &["ingest", "my-galaxies.csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // No --table: zcatalog is empty and galaxies is the only sky table
    // with rows, so galaxies is searched, and the user told.
    let mut args = cone.to_vec();
    args.extend(["--format", "csv"]);
    let o = run(d.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        says(
            &o,
            "note: zcatalog (the default table) is empty; searching galaxies, the only sky \
             table with rows (give --table to choose)"
        ),
        "{}",
        text(&o)
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().nth(1).unwrap().contains(",10,1,0.1,"), "{out}");
    // --table zcatalog asked for explicitly: 0 rows, and why, on stderr and
    // in the JSON.
    let mut args = cone.to_vec();
    args.extend(["--table", "zcatalog", "--format", "json"]);
    let o = run(d.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let note = "table zcatalog is empty (nothing was ingested into it); sky tables with rows: \
                galaxies; search one with --table NAME";
    assert!(says(&o, &format!("note: {note}")), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "rows": [],
            "table": "zcatalog",
            "table_empty": true,
            "tables_with_rows": ["galaxies"],
            "note": note,
        })
    );
    // A search that finds nothing in a table with rows stays quiet.
    let o = run(
        d.path(),
        &[
            "query", "cone", "--ra", "200", "--dec", "1", "--radius", "1deg", "--table",
            "galaxies", "--format", "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("note:"), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
}

/// Issue 14 (8a): a filter nested 100 000 deep is refused (exit 2, naming
/// --where and the limit) instead of overflowing the stack.
#[test]
fn a_deeply_nested_where_is_a_usage_error_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    // (One argument may hold at most 128 KiB on Linux.)
    let deep = "(".repeat(100_000);
    let o = run(
        d.path(),
        &[
            "query", "cone", "--ra", "10", "--dec", "0", "--radius", "1deg", "--table", "zcatalog",
            "--where", &deep,
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--where: the filter nests parentheses and NOT more than 64 deep"),
        "{}",
        text(&o)
    );
}

/// Issue 14 (8d): a binary table with rows beyond its NAXIS2 loads its
/// NAXIS2 rows, with a warning naming the file, the HDU and the bytes.
#[test]
fn rows_beyond_naxis2_are_warned_about() {
    use astrolab_formats::fits::{write_fits, ColumnData, ColumnOut, HduOut};
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("gals.fits");
    let col = |name: &str, v: Vec<f64>| ColumnOut::new(name, ColumnData::F64(v));
    write_fits(
        &path,
        &[
            HduOut::Primary { header: vec![] },
            HduOut::Table {
                extname: Some("GALAXIES".into()),
                header: vec![],
                columns: vec![
                    col("RA", vec![10.0, 11.0, 12.0, 13.0, 14.0]),
                    col("DEC", vec![1.0, 2.0, 3.0, 4.0, 5.0]),
                    col("Z", vec![0.1, 0.2, 0.3, 0.4, 0.5]),
                ],
            },
        ],
    )
    .unwrap();
    // The writer "forgot" the last two rows in NAXIS2.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = (0..bytes.len() / 80)
        .map(|i| i * 80)
        .find(|&o| bytes[o..].starts_with(b"NAXIS2  ="))
        .unwrap();
    bytes[at..at + 80]
        .copy_from_slice(format!("{:<80}", format!("NAXIS2  = {:>20}", 3)).as_bytes());
    std::fs::write(&path, bytes).unwrap();
    let o = run(d.path(), &["ingest", "gals.fits"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Counted to the last non-zero byte: the last row's Z, 0.5, ends in six
    // zero bytes (48 - 6).
    assert!(
        text(&o).contains(
            "gals.fits: HDU 1 'GALAXIES': 42 bytes after its NAXIS2 = 3 rows (24 bytes each: \
             room for 2 more) are not zero padding: the table may hold more rows than its \
             header says. Only 3 rows are read"
        ),
        "{}",
        text(&o)
    );
    let o = run(
        d.path(),
        &[
            "query",
            "sql",
            "SELECT COUNT(*) AS n FROM galaxies",
            "--format",
            "csv",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n3\n");
}
