//! `astrolab voids classify | members | compare | publish` end to end on a
//! demo sky, with the membership checked against a brute-force
//! point-in-sphere scan of the catalog file, and bad inputs.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use astrolab_formats::fits::{write_fits, Card, ColumnData, ColumnOut, FitsFile, HduOut};

mod common;

fn run(dir: &Path, args: &[&str]) -> Output {
    common::bin()
        .current_dir(dir)
        .arg("--home")
        .arg("home")
        .args(args)
        .output()
        .expect("run astrolab")
}

fn ok(o: &Output) -> String {
    let t = common::text(o);
    assert!(o.status.success(), "{t}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output) -> String {
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "expected failure: {t}");
    t
}

/// The galaxy source files of the membership in `dir`'s store (None: a
/// file the store never registered), and the registry id of `name`.
fn galaxy_sources(dir: &Path, name: &str) -> (BTreeSet<Option<i64>>, Option<i64>) {
    let cfg = astrolab_store::StoreConfig::sqlite(dir.join("home"));
    let mut store = astrolab_store::Store::open(&cfg).unwrap();
    let sources = store
        .void_membership_summary()
        .unwrap()
        .iter()
        .map(|r| r.galaxy_file_id)
        .collect();
    let file = store
        .raw_files()
        .unwrap()
        .into_iter()
        .find(|f| f.name == name);
    (sources, file.map(|f| f.file_id))
}

const VF: &str = "demo/DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits";
const FSF: &str = "demo/fastspec-iron-main-bright-nside1-hp00.fits";

/// TARGETIDs of the fastspec galaxies inside any hole of the VoidFinder
/// file, by brute force over every hole.
fn brute_force_void_targets(dir: &Path) -> BTreeSet<i64> {
    let vf = FitsFile::open(&dir.join(VF)).unwrap();
    let om = vf.hdus()[0].header.get_f64("OMEGAM").unwrap();
    let holes = vf.table("HOLES").unwrap();
    let (hx, hy, hz, hr) = (
        holes.read_f64("X").unwrap(),
        holes.read_f64("Y").unwrap(),
        holes.read_f64("Z").unwrap(),
        holes.read_f64("RADIUS").unwrap(),
    );
    let fsf = FitsFile::open(&dir.join(FSF)).unwrap();
    let meta = fsf.table("METADATA").unwrap();
    let (id, ra, dec, z) = (
        meta.read_i64("TARGETID").unwrap(),
        meta.read_f64("RA").unwrap(),
        meta.read_f64("DEC").unwrap(),
        meta.read_f64("Z").unwrap(),
    );
    let cosmo = astrolab_sky::FlatLcdm::new(om).unwrap();
    let mut out = BTreeSet::new();
    for i in 0..id.len() {
        let p = astrolab_sky::radec_z_to_xyz(ra[i], dec[i], cosmo.comoving_distance_mpc_h(z[i]));
        let inside = (0..hx.len()).any(|h| {
            ((p[0] - hx[h]).powi(2) + (p[1] - hy[h]).powi(2) + (p[2] - hz[h]).powi(2)).sqrt()
                < hr[h]
        });
        if inside {
            out.insert(id[i]);
        }
    }
    out
}

#[test]
fn classify_members_compare_publish_on_a_demo_sky() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ok(&run(
        dir,
        &["demo-data", "demo", "--galaxies", "8000", "--seed", "5"],
    ));
    ok(&run(dir, &["ingest", FSF, VF]));
    let out = ok(&run(
        dir,
        &[
            "voids",
            "classify",
            "--catalog",
            VF,
            "--catalog",
            "demo/DESIVAST_BGS_VOLLIM_V2_VIDE_NGC.fits",
            "--json",
        ],
    ));
    let counts: serde_json::Value = serde_json::from_str(&out).unwrap();
    let vf = counts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["algorithm"] == "VoidFinder")
        .unwrap();
    let want = brute_force_void_targets(dir);
    assert!(want.len() > 50, "{}", want.len());
    assert_eq!(vf["void"].as_u64().unwrap() as usize, want.len());
    assert_eq!(vf["galaxies"].as_u64().unwrap(), 8000);
    // Every row says its galaxies came from the ingested FastSpecFit file.
    let (sources, fsf) = galaxy_sources(dir, "fastspec-iron-main-bright-nside1-hp00.fits");
    assert_eq!(sources, BTreeSet::from([Some(fsf.unwrap())]));

    // The stored void galaxies are exactly the brute-force set.
    let csv = ok(&run(
        dir,
        &[
            "voids",
            "members",
            "--algorithm",
            "VoidFinder",
            "--where",
            "vflag = 1",
            "--format",
            "csv",
        ],
    ));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let ti = header.iter().position(|h| *h == "target_id").unwrap();
    let got: BTreeSet<i64> = lines
        .map(|l| l.split(',').nth(ti).unwrap().parse().unwrap())
        .collect();
    assert_eq!(got, want);
    // A column that is not a membership column is refused.
    fails(&run(dir, &["voids", "members", "--where", "logmstar > 10"]));

    // Statistics, figures and the summary table.
    ok(&run(
        dir,
        &["voids", "compare", "--replicates", "50", "--out", "cmp"],
    ));
    let summary = std::fs::read_to_string(dir.join("cmp/summary.txt")).unwrap();
    assert!(summary.contains("VoidFinder  LOGMSTAR  wall"), "{summary}");
    assert!(summary.contains("VIDE"));
    for f in [
        "cdf_voidfinder_logmstar.svg",
        "cdf_voidfinder_logmstar.png",
        "hist_vide_log_ssfr.png",
    ] {
        assert!(
            std::fs::metadata(dir.join("cmp").join(f)).unwrap().len() > 1000,
            "{f}"
        );
    }
    let js: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cmp/summary.json")).unwrap())
            .unwrap();
    let row = js["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["algorithm"] == "VoidFinder" && r["property"] == "LOGMSTAR" && r["versus"] == "wall"
        })
        .unwrap();
    assert_eq!(row["n_void"].as_u64().unwrap() as usize, want.len());
    let p = row["ks_p"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));

    // The catalog to publish, with its checksum file.
    let o = ok(&run(
        dir,
        &[
            "voids",
            "publish",
            "-o",
            "pub/vac.fits",
            "--author",
            "Lab",
            "--date",
            "2026-11-22",
            "--input",
            FSF,
        ],
    ));
    assert!(o.contains("validation: 0 of 8000"), "{o}");
    let fits = FitsFile::open(&dir.join("pub/vac.fits")).unwrap();
    let names: Vec<String> = fits.hdus().iter().map(|h| h.name()).collect();
    // The primary HDU has no EXTNAME; the reader names it by index.
    assert_eq!(names[1..], ["GALAXY_DATA", "VOID_PROPERTIES"]);
    assert_eq!(names.len(), 3);
    let h = &fits.hdus()[0].header;
    assert_eq!(h.get_str("AUTHOR").map(str::trim), Some("Lab"));
    assert_eq!(h.get_str("VAC_VERS").map(str::trim), Some("1.0"));
    assert!(h.get_str("FSF_VERS").is_some() && h.get_str("DATE").is_some());
    let g = fits.table("GALAXY_DATA").unwrap();
    let is_void = g.read_bool("IS_VOID").unwrap();
    let ids = g.read_i64("TARGETID").unwrap();
    let published: BTreeSet<i64> = ids
        .iter()
        .zip(&is_void)
        .filter(|(_, v)| **v == Some(true))
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(published, want);
    let ctl = g.read_bool("IS_CONTROL").unwrap();
    assert!(ctl
        .iter()
        .zip(&is_void)
        .all(|(c, v)| !(*c == Some(true) && *v == Some(true))));
    assert!(g.has_column("VFLAG_VIDE") && g.has_column("VFLAG_VOIDFINDER"));
    let sums = std::fs::read_to_string(dir.join("pub/SHA256SUMS")).unwrap();
    let (_, sha) = astrolab_store::file_digest(&dir.join("pub/vac.fits")).unwrap();
    assert_eq!(sums, format!("{sha}  vac.fits\n"));
}

fn tiny_voidfinder(path: &Path, with_omega: bool, with_radius: bool) {
    let f = |v: Vec<f64>| ColumnData::F64(v);
    let mut holes = vec![
        ColumnOut::new("X", f(vec![100.0])),
        ColumnOut::new("Y", f(vec![0.0])),
        ColumnOut::new("Z", f(vec![0.0])),
        ColumnOut::new("VOID", ColumnData::I64(vec![0])),
    ];
    if with_radius {
        holes.push(ColumnOut::new("RADIUS", f(vec![20.0])));
    }
    let header = if with_omega {
        vec![Card::float("OMEGAM", 0.3)]
    } else {
        vec![]
    };
    write_fits(
        path,
        &[
            HduOut::Primary { header },
            HduOut::Table {
                extname: Some("MAXIMALS".into()),
                header: vec![],
                columns: vec![
                    ColumnOut::new("X", f(vec![100.0])),
                    ColumnOut::new("Y", f(vec![0.0])),
                    ColumnOut::new("Z", f(vec![0.0])),
                    ColumnOut::new("RADIUS", f(vec![20.0])),
                    ColumnOut::new("VOID", ColumnData::I64(vec![0])),
                ],
            },
            HduOut::Table {
                extname: Some("HOLES".into()),
                header: vec![],
                columns: holes,
            },
        ],
    )
    .unwrap();
}

#[test]
fn bad_inputs_are_refused_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Galaxies at z ~ 0.0334 (r ~ 100 Mpc/h for Omega_m = 0.3), one NaN z.
    std::fs::write(
        dir.join("gal.csv"),
        "targetid,ra,dec,z\n1,0.0,0.0,0.03343\n2,0.5,0.5,0.0334\n3,1.0,0.0,nan\n4,2.0,0.0,0.0336\n",
    )
    .unwrap();
    tiny_voidfinder(&dir.join("vf_no_omega.fits"), false, true);
    let e = fails(&run(
        dir,
        &[
            "voids",
            "classify",
            "--catalog",
            "vf_no_omega.fits",
            "--galaxies",
            "gal.csv",
        ],
    ));
    assert!(e.contains("OMEGAM") && e.contains("--omega-m"), "{e}");
    // With the flag it works; the NaN redshift is outside (9).
    let classify = [
        "voids",
        "classify",
        "--catalog",
        "vf_no_omega.fits",
        "--galaxies",
        "gal.csv",
        "--omega-m",
        "0.3",
    ];
    let o = ok(&run(dir, &[&classify[..], &["--json"]].concat()));
    let c: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(c[0]["outside"], 1, "{o}");
    assert_eq!(c[0]["void"], 3, "{o}");
    // A galaxy file the store never registered is no source (public);
    // once ingested, its registry id is (access follows its datasets).
    assert_eq!(
        galaxy_sources(dir, "gal.csv"),
        (BTreeSet::from([None]), None)
    );
    ok(&run(dir, &["ingest", "gal.csv"]));
    ok(&run(dir, &classify));
    let (sources, gal) = galaxy_sources(dir, "gal.csv");
    assert_eq!(sources, BTreeSet::from([Some(gal.unwrap())]));

    tiny_voidfinder(&dir.join("vf_no_radius.fits"), true, false);
    let e = fails(&run(
        dir,
        &[
            "voids",
            "classify",
            "--catalog",
            "vf_no_radius.fits",
            "--galaxies",
            "gal.csv",
        ],
    ));
    assert!(e.contains("HOLES") && e.contains("RADIUS"), "{e}");

    std::fs::write(dir.join("empty.csv"), "targetid,ra,dec,z\n").unwrap();
    tiny_voidfinder(&dir.join("vf.fits"), true, true);
    let e = fails(&run(
        dir,
        &[
            "voids",
            "classify",
            "--catalog",
            "vf.fits",
            "--galaxies",
            "empty.csv",
        ],
    ));
    assert!(e.contains("empty"), "{e}");
    std::fs::write(dir.join("nodec.csv"), "targetid,ra,z\n1,0.0,0.03\n").unwrap();
    let e = fails(&run(
        dir,
        &[
            "voids",
            "classify",
            "--catalog",
            "vf.fits",
            "--galaxies",
            "nodec.csv",
        ],
    ));
    assert!(e.contains("Dec"), "{e}");
    let e = fails(&run(dir, &["voids", "classify"]));
    assert!(e.contains("--catalog"), "{e}");
}

/// Our VoidFinder's own output (VAST layout with a MASK HDU) on the shared
/// 10 k-galaxy test catalog, classified back: void galaxies are exactly the
/// galaxies inside a hole (brute force), and every galaxy is in the mask.
#[test]
fn membership_of_our_voidfinder_output_on_real_test_data() {
    let Some(shared) =
        astrolab_formats::testdata::require_shared_data("voidfinder output membership")
    else {
        return;
    };
    let input = shared.join("voids/test_data.fits");
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let input_s = input.to_str().unwrap();
    ok(&run(
        dir,
        &[
            "voids",
            "find",
            input_s,
            "--omega-m",
            "0.3",
            "-o",
            "vf.fits",
        ],
    ));
    // The holes are empty of the input galaxies by construction, so
    // classify points displaced from them (0.3 deg in RA, 2 % in z): some
    // fall in holes, some between them, a few outside the survey.
    let g = FitsFile::open(&input).unwrap();
    let t = g.first_table().unwrap();
    let (ra0, dec, z0) = (
        t.read_f64("ra").unwrap(),
        t.read_f64("dec").unwrap(),
        t.read_f64("z").unwrap(),
    );
    let ra: Vec<f64> = ra0.iter().map(|r| (r + 0.3) % 360.0).collect();
    let z: Vec<f64> = z0.iter().map(|z| z * 1.02).collect();
    let mut csv = String::from("targetid,ra,dec,z\n");
    for i in 0..ra.len() {
        csv.push_str(&format!("{i},{:.17},{:.17},{:.17}\n", ra[i], dec[i], z[i]));
    }
    std::fs::write(dir.join("points.csv"), csv).unwrap();
    let o = ok(&run(
        dir,
        &[
            "voids",
            "classify",
            "--catalog",
            "vf.fits",
            "--galaxies",
            "points.csv",
            "--json",
        ],
    ));
    let c: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(c[0]["footprint"], "MASK HDU", "{o}");
    assert_eq!(c[0]["galaxies"], 10_000);

    let vf = FitsFile::open(&dir.join("vf.fits")).unwrap();
    let holes = vf.table("HOLES").unwrap();
    let (hx, hy, hz, hr) = (
        holes.read_f64("X").unwrap(),
        holes.read_f64("Y").unwrap(),
        holes.read_f64("Z").unwrap(),
        holes.read_f64("RADIUS").unwrap(),
    );
    let cosmo = astrolab_sky::FlatLcdm::new(0.3).unwrap();
    let mut want = BTreeSet::new();
    for i in 0..ra.len() {
        let p = astrolab_sky::radec_z_to_xyz(ra[i], dec[i], cosmo.comoving_distance_mpc_h(z[i]));
        if (0..hx.len()).any(|h| {
            ((p[0] - hx[h]).powi(2) + (p[1] - hy[h]).powi(2) + (p[2] - hz[h]).powi(2)).sqrt()
                < hr[h]
        }) {
            want.insert(i as i64);
        }
    }
    let ids = ok(&run(
        dir,
        &[
            "voids",
            "members",
            "--algorithm",
            "VoidFinder",
            "--vflag",
            "1",
        ],
    ));
    let got: BTreeSet<i64> = ids.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(got, want);
    assert!(got.len() > 100, "{} points in holes", got.len());
    assert_eq!(c[0]["void"].as_u64().unwrap() as usize, want.len());
}

/// The same inputs and parameters give the same VoidFinder file, byte for
/// byte, on one thread and on two (the file records no thread count).
#[test]
fn voids_find_bytes_do_not_depend_on_the_thread_count() {
    let Some(shared) = astrolab_formats::testdata::require_shared_data("voids find threads") else {
        return;
    };
    let input = shared.join("voids/test_data.fits");
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    for (threads, out) in [("1", "one.fits"), ("2", "two.fits")] {
        ok(&run(
            dir,
            &[
                "voids",
                "find",
                input.to_str().unwrap(),
                "--omega-m",
                "0.3",
                "--threads",
                threads,
                "-o",
                out,
            ],
        ));
    }
    let one = std::fs::read(dir.join("one.fits")).unwrap();
    let two = std::fs::read(dir.join("two.fits")).unwrap();
    assert!(one == two, "the files differ");
    let f = FitsFile::open(&dir.join("one.fits")).unwrap();
    assert_eq!(f.hdus()[0].header.get_i64("NCPU"), None);
}
