//! `astrolab publish RUN --to DIR` end to end: a demo sky through ingest,
//! `voids classify` and `astrolab run voids-publish` (a real run with its
//! manifest), then the release folder checked file by file, value by
//! value, and by the field's own readers (astropy, hats, LSDB, jsonschema)
//! in `publish_check.py`; then the refusals: a non-empty --to, a tampered
//! run output, an undocumented column.
//!
//! The Python side needs ASTROLAB_PUBLISH_PYTHON (scripts/test makes it:
//! scripts/lib/publish.sh); with CI set its absence fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use astrolab_formats::fits::{write_fits, ColumnData, ColumnOut, FitsFile, HduOut};

mod common;

const VF: &str = "demo/DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits";
const FSF: &str = "demo/fastspec-iron-main-bright-nside1-hp00.fits";
const GALAXIES: usize = 4000;

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
    assert!(o.status.success(), "{}", common::text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output) -> String {
    let t = common::text(o);
    assert!(!o.status.success(), "expected failure: {t}");
    t
}

fn publish_args<'a>(run_dir: &'a str, to: &'a str) -> Vec<&'a str> {
    vec![
        "publish",
        run_dir,
        "--to",
        to,
        "--title",
        "Void galaxies of a demo sky",
        "--author",
        "Doe, Jane",
        "--affiliation",
        "Astrolab",
        "--orcid",
        "0000-0002-1825-0097",
        "--vac-version",
        "2.1",
        "--date",
        "2026-12-01",
        "--hats-order",
        "4",
        "--json",
    ]
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn python() -> Option<PathBuf> {
    match std::env::var_os("ASTROLAB_PUBLISH_PYTHON") {
        Some(p) if Path::new(&p).exists() => Some(PathBuf::from(p)),
        _ if std::env::var_os("CI").is_some() => panic!(
            "ASTROLAB_PUBLISH_PYTHON is not set to a python with hats, lsdb, astropy and jsonschema; scripts/test makes one (scripts/lib/publish.sh)"
        ),
        _ => None,
    }
}

#[test]
fn publish_a_voids_publish_run() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let n = GALAXIES.to_string();
    ok(&run(
        dir,
        &["demo-data", "demo", "--galaxies", &n, "--seed", "5"],
    ));
    ok(&run(dir, &["ingest", FSF, VF]));
    ok(&run(dir, &["voids", "classify", "--catalog", VF]));
    std::fs::write(
        dir.join("p.json"),
        r#"{"author": "Lab", "date": "2026-11-22"}"#,
    )
    .unwrap();
    ok(&run(
        dir,
        &[
            "run",
            "voids-publish",
            "--params",
            "p.json",
            "--out-dir",
            "run1",
        ],
    ));
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run1/result.json")).unwrap())
            .unwrap();
    assert_eq!(result["galaxies"].as_u64(), Some(GALAXIES as u64));

    let out = ok(&run(dir, &publish_args("run1", "rel")));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rel = dir.join("rel");

    // The folder's files.
    let all = files(&rel);
    for f in [
        "SHA256SUMS",
        "catalog.fits",
        "cds/ReadMe",
        "cds/galaxy_data.dat",
        "cds/void_properties.dat",
        "hats/galaxy_data/dataset/_common_metadata",
        "hats/galaxy_data/dataset/_metadata",
        "hats/galaxy_data/partition_info.csv",
        "hats/galaxy_data/properties",
        "parquet/galaxy_data.parquet",
        "parquet/void_properties.parquet",
        "provenance/ro-crate-metadata.json",
        "zenodo.json",
    ] {
        assert!(all.contains(&f.to_string()), "{f} missing from {all:?}");
    }
    assert!(
        !rel.join("hats/void_properties").exists(),
        "no HATS without RA/DEC"
    );
    assert_eq!(
        std::fs::read(rel.join("provenance/ro-crate-metadata.json")).unwrap(),
        std::fs::read(dir.join("run1/ro-crate-metadata.json")).unwrap()
    );
    // No partial folder left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // SHA256SUMS, recomputed: every other file, once, with its digest.
    let sums = std::fs::read_to_string(rel.join("SHA256SUMS")).unwrap();
    let mut listed = Vec::new();
    for line in sums.lines() {
        let (sum, path) = line.split_once("  ").unwrap();
        let (_, actual) = astrolab_store::file_digest(&rel.join(path)).unwrap();
        assert_eq!(sum, actual, "{path}");
        listed.push(path.to_string());
    }
    let mut others: Vec<String> = all.iter().filter(|f| *f != "SHA256SUMS").cloned().collect();
    others.sort();
    assert_eq!(listed, others);
    assert_eq!(report["files"].as_array().unwrap().len(), others.len());

    // Exact rows and values: the release catalog holds the run's table.
    let src = FitsFile::open(&dir.join("run1/void_galaxies.fits")).unwrap();
    let cat = FitsFile::open(&rel.join("catalog.fits")).unwrap();
    let (s, c) = (
        src.table("GALAXY_DATA").unwrap(),
        cat.table("GALAXY_DATA").unwrap(),
    );
    assert_eq!(c.nrows(), GALAXIES);
    let names: Vec<&str> = c.columns().iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "TARGETID",
            "RA",
            "DEC",
            "Z",
            "LOGMSTAR",
            "SFR",
            "IS_VOID",
            "IS_CONTROL",
            "VFLAG_VOIDFINDER"
        ]
    );
    assert_eq!(
        c.read_i64("TARGETID").unwrap(),
        s.read_i64("TARGETID").unwrap()
    );
    for col in ["RA", "DEC", "Z", "LOGMSTAR", "SFR"] {
        let (a, b) = (c.read_f64(col).unwrap(), s.read_f64(col).unwrap());
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{col}"
        );
    }
    let is_void = c.read_bool("IS_VOID").unwrap();
    let n_void = is_void.iter().filter(|v| **v == Some(true)).count();
    assert_eq!(n_void as u64, result["void"].as_u64().unwrap());
    let units: BTreeMap<&str, Option<&str>> = c
        .columns()
        .iter()
        .map(|x| (x.name.as_str(), x.unit.as_deref()))
        .collect();
    assert_eq!(units["RA"], Some("deg"));
    assert_eq!(units["LOGMSTAR"], Some("log(solMass)"));
    assert_eq!(units["SFR"], Some("solMass/yr"));
    assert_eq!(units["Z"], None);
    let h = &cat.hdus()[0].header;
    assert_eq!(h.get_str("AUTHOR"), Some("Doe, Jane"));
    assert_eq!(h.get_str("VAC_VERS"), Some("2.1"));
    assert_eq!(h.get_str("DATE"), Some("2026-12-01"));
    assert_eq!(h.get_str("FSF_VERS"), Some("v3.0"));
    assert_eq!(h.get_str("VOIDALG"), Some("VoidFinder"));
    assert_eq!(h.get_str("RUNPIPE"), Some("voids-publish"));
    let vp_src = src.table("VOID_PROPERTIES").unwrap().nrows();
    assert_eq!(cat.table("VOID_PROPERTIES").unwrap().nrows(), vp_src);
    assert!(vp_src > 0);

    // HATS: the partitions are exactly the order-4 pixels of the rows.
    let (ra, dec) = (c.read_f64("RA").unwrap(), c.read_f64("DEC").unwrap());
    let mut pix: BTreeMap<u64, usize> = BTreeMap::new();
    for (r, d) in ra.iter().zip(&dec) {
        *pix.entry(astrolab_sky::hpx_index_at(4, *r, *d))
            .or_default() += 1;
    }
    let pi = std::fs::read_to_string(rel.join("hats/galaxy_data/partition_info.csv")).unwrap();
    let want_pi: String = std::iter::once("Norder,Npix".to_string())
        .chain(pix.keys().map(|p| format!("4,{p}")))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(pi.trim_end(), want_pi);
    for p in pix.keys() {
        let f = rel.join(format!(
            "hats/galaxy_data/dataset/Norder=4/Dir={}/Npix={p}.parquet",
            p / 10000 * 10000
        ));
        assert!(f.exists(), "{}", f.display());
    }
    let props = std::fs::read_to_string(rel.join("hats/galaxy_data/properties")).unwrap();
    for kv in [
        format!("hats_nrows={GALAXIES}"),
        "dataproduct_type=object".to_string(),
        "hats_col_ra=RA".to_string(),
        "hats_col_dec=DEC".to_string(),
        "hats_col_healpix=_healpix_29".to_string(),
        "hats_col_healpix_order=29".to_string(),
        "hats_order=4".to_string(),
        format!("hats_max_rows={}", pix.values().max().unwrap()),
    ] {
        assert!(
            props.lines().any(|l| l == kv),
            "{kv} not in properties:\n{props}"
        );
    }

    // The CDS ReadMe describes both tables byte by byte.
    let readme = std::fs::read_to_string(rel.join("cds/ReadMe")).unwrap();
    assert!(readme.contains("Byte-by-byte Description of file: galaxy_data.dat"));
    assert!(readme.contains("Byte-by-byte Description of file: void_properties.dat"));
    assert!(readme.lines().all(|l| l.len() <= 80), "{readme}");
    let dat = std::fs::read_to_string(rel.join("cds/galaxy_data.dat")).unwrap();
    assert_eq!(dat.lines().count(), GALAXIES);

    // Zenodo metadata.
    let z: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rel.join("zenodo.json")).unwrap()).unwrap();
    assert_eq!(z["metadata"]["upload_type"], "dataset");
    assert_eq!(z["metadata"]["version"], "2.1");
    assert_eq!(z["metadata"]["publication_date"], "2026-12-01");
    assert_eq!(z["metadata"]["creators"][0]["orcid"], "0000-0002-1825-0097");

    // Our own cone search (astrolab_sky) on the same rows, for LSDB's.
    let ids = c.read_i64("TARGETID").unwrap();
    let (cra, cdec, radius_deg) = (ra[0], dec[0], 2.0);
    let cone: Vec<i64> = (0..ids.len())
        .filter(|&i| astrolab_sky::angular_separation_deg(cra, cdec, ra[i], dec[i]) <= radius_deg)
        .map(|i| ids[i])
        .collect();
    assert!(cone.len() > 5 && cone.len() < GALAXIES, "{}", cone.len());

    let expect = serde_json::json!({
        "table": "galaxy_data",
        "nrows": GALAXIES,
        "id_column": "TARGETID",
        "fits_units": {"RA": "deg", "DEC": "deg", "SFR": "solMass / yr", "Z": ""},
        "cds_units": {
            "TARGETID": "---", "RA": "deg", "DEC": "deg", "Z": "---", "LOGMSTAR": "[Msun]",
            "SFR": "Msun/yr", "IS_VOID": "---", "IS_CONTROL": "---", "VFLAG_VOIDFINDER": "---"
        },
        "header": {"AUTHOR": "Doe, Jane", "VAC_VERS": "2.1", "DATE": "2026-12-01", "FSF_VERS": "v3.0"},
        "cone": {"ra": cra, "dec": cdec, "radius_arcsec": radius_deg * 3600.0, "ids": cone},
        "other_tables": ["void_properties"],
    });
    python_check(dir, &rel, expect);

    // Refused: a non-empty --to (a usage error: exit code 2).
    let o = run(dir, &publish_args("run1", "rel"));
    assert_eq!(o.status.code(), Some(2), "{}", common::text(&o));
    let e = fails(&o);
    assert!(e.contains("rel exists and is not empty"), "{e}");
    // A run id is a queued run's directory, HOME/runs/ID.
    let e = fails(&run(dir, &publish_args("999", "relx")));
    assert!(
        e.contains("home/runs/999") && e.contains("no run manifest"),
        "{e}"
    );

    // Refused: an undocumented column (a run whose outputs carry one).
    copy_dir(&dir.join("run1"), &dir.join("run3"));
    write_fits(
        &dir.join("run3/extra.fits"),
        &[HduOut::Table {
            extname: Some("EXTRA".into()),
            header: vec![],
            columns: vec![
                ColumnOut::new("TARGETID", ColumnData::I64(vec![1, 2])),
                ColumnOut::new("MYSTERY_FLUX", ColumnData::F64(vec![1.5, 2.25])),
            ],
        }],
    )
    .unwrap();
    let mpath = dir.join("run3/ro-crate-metadata.json");
    let mut m = astrolab_pipeline::manifest::read_manifest(&mpath).unwrap();
    m.outputs.push(
        astrolab_pipeline::manifest::FileEntry::output(
            &dir.join("run3"),
            Path::new("extra.fits"),
            vec![],
        )
        .unwrap(),
    );
    astrolab_pipeline::manifest::write_manifest(&dir.join("run3"), &m).unwrap();
    let o = run(dir, &publish_args("run3", "rel3"));
    assert_eq!(o.status.code(), Some(2), "{}", common::text(&o));
    let e = fails(&o);
    assert!(
        e.contains("column MYSTERY_FLUX")
            && e.contains("extra.fits")
            && e.contains("HDU EXTRA")
            && e.contains("--columns"),
        "{e}"
    );
    assert!(!dir.join("rel3").exists());
    // Documented with --columns, it is published, its unit in the ReadMe.
    std::fs::write(
        dir.join("cols.toml"),
        "[columns.MYSTERY_FLUX]\nunit = \"mJy\"\ndescription = \"Flux density of the mystery line\"\n",
    )
    .unwrap();
    // The author from astrolab.toml's [publish] table this time.
    std::fs::write(
        dir.join("astrolab.toml"),
        "[publish]\nauthor = \"Roe, Richard\"\naffiliation = \"Astrolab\"\n",
    )
    .unwrap();
    let args: Vec<&str> = publish_args("run3", "rel3")
        .into_iter()
        .filter(|a| !matches!(*a, "--author" | "Doe, Jane"))
        .chain(["--columns", "cols.toml"])
        .collect();
    ok(&run(dir, &args));
    std::fs::remove_file(dir.join("astrolab.toml")).unwrap();
    let h3 = FitsFile::open(&dir.join("rel3/catalog.fits")).unwrap();
    assert_eq!(h3.hdus()[0].header.get_str("AUTHOR"), Some("Roe, Richard"));
    let ex = h3.table("EXTRA").unwrap();
    assert_eq!(ex.read_f64("MYSTERY_FLUX").unwrap(), [1.5, 2.25]);
    assert_eq!(
        ex.column("MYSTERY_FLUX").unwrap().unit.as_deref(),
        Some("mJy")
    );
    let readme = std::fs::read_to_string(dir.join("rel3/cds/ReadMe")).unwrap();
    assert!(
        readme.contains("mJy") && readme.contains("MYSTERY_FLUX"),
        "{readme}"
    );
    let x = std::fs::read_to_string(dir.join("rel3/cds/extra.dat")).unwrap();
    assert_eq!(x, "1 1.50\n2 2.25\n");

    // Refused: a run output changed since the run.
    let vac = dir.join("run1/void_galaxies.fits");
    let mut bytes = std::fs::read(&vac).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&vac, bytes).unwrap();
    let e = fails(&run(dir, &publish_args("run1", "rel2")));
    assert!(
        e.contains("void_galaxies.fits") && e.contains("changed since the run"),
        "{e}"
    );
    assert!(!dir.join("rel2").exists());
    let names: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
}

/// Runs publish_check.py (astropy, hats, LSDB, jsonschema) on `rel` with
/// the expectations `expect` (the Zenodo schema's path added).
fn python_check(dir: &Path, rel: &Path, mut expect: serde_json::Value) {
    let Some(py) = python() else {
        eprintln!(
            "ASTROLAB_PUBLISH_PYTHON not set: the astropy/hats/LSDB/jsonschema checks did not run"
        );
        return;
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    expect["zenodo_schema"] = manifest
        .join("tests/data/zenodo-legacyrecord.json")
        .display()
        .to_string()
        .into();
    let e = dir.join("expect.json");
    std::fs::write(&e, expect.to_string()).unwrap();
    let o = std::process::Command::new(py)
        .arg(manifest.join("tests/publish_check.py"))
        .arg(rel)
        .arg(&e)
        .output()
        .unwrap();
    let t = common::text(&o);
    assert!(o.status.success(), "publish_check.py failed:\n{t}");
    assert!(t.contains("publish_check: all ok"), "{t}");
    eprintln!("{t}");
}

/// A real pipeline on shared data: VoidFinder on the 10 k-galaxy test
/// catalog (`voids/test_data.fits`). Its FITS holds three tables without
/// sky positions (WALL, FIELD, HOLES: comoving x, y, z) and one with them
/// (MAXIMALS: void centres with RA, DEC): HATS for MAXIMALS only.
#[test]
fn publish_a_voids_find_run_on_shared_data() {
    let data = PathBuf::from(
        std::env::var("ASTROLAB_SHARED_DATA").unwrap_or_else(|_| "../../../shared/data".into()),
    );
    let catalog = data.join("voids/test_data.fits");
    if !catalog.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} missing (set ASTROLAB_SHARED_DATA)",
            catalog.display()
        );
        eprintln!("{} missing: skipped", catalog.display());
        return;
    }
    let catalog = catalog.canonicalize().unwrap();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(
        dir.join("p.json"),
        serde_json::json!({"catalog": catalog.display().to_string()}).to_string(),
    )
    .unwrap();
    ok(&run(
        dir,
        &["run", "voids-find", "--params", "p.json", "--out-dir", "vf"],
    ));
    let out = ok(&run(dir, &publish_args("vf", "rel")));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rel = dir.join("rel");
    let src = FitsFile::open(&dir.join("vf/VoidFinder_Output.fits")).unwrap();
    let cat = FitsFile::open(&rel.join("catalog.fits")).unwrap();
    let names: Vec<String> = cat.hdus()[1..].iter().map(|h| h.name()).collect();
    assert_eq!(names, ["WALL", "FIELD", "MAXIMALS", "HOLES"]);
    let h0 = &src.hdus()[0].header;
    // Exact rows: the header's counts of the run's own file.
    let counts = [
        (
            "WALL",
            h0.get_i64("WALLNUM")
                .or_else(|| src.hdu("WALL").unwrap().header.get_i64("WALLNUM")),
        ),
        (
            "FIELD",
            h0.get_i64("FIELDNUM")
                .or_else(|| src.hdu("FIELD").unwrap().header.get_i64("FIELDNUM")),
        ),
        (
            "MAXIMALS",
            h0.get_i64("VOID")
                .or_else(|| src.hdu("MAXIMALS").unwrap().header.get_i64("VOID")),
        ),
        ("HOLES", src.hdu("HOLES").unwrap().header.get_i64("HOLE")),
    ];
    for (t, n) in counts {
        let n = n.unwrap_or_else(|| panic!("{t}: no count keyword")) as usize;
        assert_eq!(cat.table(t).unwrap().nrows(), n, "{t}");
        assert_eq!(src.table(t).unwrap().nrows(), n, "{t}");
        for col in src.table(t).unwrap().columns() {
            let (a, b) = (
                cat.table(t).unwrap().read_f64(&col.name).unwrap(),
                src.table(t).unwrap().read_f64(&col.name).unwrap(),
            );
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{t}.{}",
                col.name
            );
        }
    }
    let n_wall = cat.table("WALL").unwrap().nrows();
    let n_field = cat.table("FIELD").unwrap().nrows();
    // VoidFinder splits the input's galaxies (within its distance limits) into wall and field.
    let input_rows = FitsFile::open(&catalog)
        .unwrap()
        .first_table()
        .unwrap()
        .nrows();
    assert!(
        n_wall + n_field <= input_rows && n_wall > n_field,
        "{n_wall} {n_field} {input_rows}"
    );
    // HATS for MAXIMALS only; the others get everything else.
    let tables = report["tables"].as_array().unwrap();
    for t in tables {
        let with_hats = t["name"] == "maximals";
        assert_eq!(t["hats_partitions"].is_number(), with_hats, "{t}");
        assert_eq!(
            rel.join("hats").join(t["name"].as_str().unwrap()).exists(),
            with_hats
        );
        let name = t["name"].as_str().unwrap();
        assert!(rel.join(format!("parquet/{name}.parquet")).exists());
        assert!(rel.join(format!("cds/{name}.dat")).exists());
    }
    let dat = std::fs::read_to_string(rel.join("cds/wall.dat")).unwrap();
    assert_eq!(dat.lines().count(), n_wall);

    // --table: one table of the run only; an unknown one is named.
    let mut args = publish_args("vf", "rel_m");
    args.extend(["--table", "maximals"]);
    ok(&run(dir, &args));
    let only = FitsFile::open(&dir.join("rel_m/catalog.fits")).unwrap();
    let names: Vec<String> = only.hdus()[1..].iter().map(|h| h.name()).collect();
    assert_eq!(names, ["MAXIMALS"]);
    let mut args = publish_args("vf", "rel_x");
    args.extend(["--table", "VOIDS"]);
    let e = fails(&run(dir, &args));
    assert!(
        e.contains("--table VOIDS") && e.contains("HOLES (VoidFinder_Output.fits)"),
        "{e}"
    );
    assert!(!dir.join("rel_x").exists());

    // LSDB's cone search on the void centres against ours.
    let m = cat.table("MAXIMALS").unwrap();
    let (ra, dec, ids) = (
        m.read_f64("RA").unwrap(),
        m.read_f64("DEC").unwrap(),
        m.read_i64("VOID").unwrap(),
    );
    let (cra, cdec, radius_deg) = (ra[0], dec[0], 15.0);
    let cone: Vec<i64> = (0..ids.len())
        .filter(|&i| astrolab_sky::angular_separation_deg(cra, cdec, ra[i], dec[i]) <= radius_deg)
        .map(|i| ids[i])
        .collect();
    assert!(
        !cone.is_empty() && cone.len() < ids.len(),
        "{} of {}",
        cone.len(),
        ids.len()
    );
    let mpc = "Mpc";
    python_check(
        dir,
        &rel,
        serde_json::json!({
            "table": "maximals",
            "nrows": ids.len(),
            "id_column": "VOID",
            "fits_units": {"RA": "deg", "DEC": "deg", "X": mpc, "RADIUS": mpc, "VOID": ""},
            "cds_units": {"X": mpc, "Y": mpc, "Z": mpc, "RADIUS": mpc, "VOID": "---", "EDGE": "---", "R": mpc, "RA": "deg", "DEC": "deg"},
            "header": {"AUTHOR": "Doe, Jane", "VAC_VERS": "2.1", "RUNPIPE": "voids-find"},
            "cone": {"ra": cra, "dec": cdec, "radius_arcsec": radius_deg * 3600.0, "ids": cone},
            "other_tables": ["wall", "field", "holes"],
        }),
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dst = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}

/// A CSV table, what most pipelines write: `astrolab run query-cone` on
/// the demo sky's redshift catalog, published. The CSV's columns are typed
/// by their values (integers stay exact: TARGETID, the targeting
/// bitmasks), named by the file (`cone`), and get the same release as a
/// FITS table, HATS included (the table has RA and DEC).
#[test]
fn publish_a_query_cone_run_csv() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ok(&run(
        dir,
        &[
            "demo-data",
            "demo",
            "--galaxies",
            "2000",
            "--no-spectra",
            "--seed",
            "7",
        ],
    ));
    ok(&run(dir, &["ingest", "demo/zpix-main-bright.fits"]));
    std::fs::write(
        dir.join("p.json"),
        r#"{"ra": 180.0, "dec": 30.0, "radius": "6deg"}"#,
    )
    .unwrap();
    ok(&run(
        dir,
        &[
            "run",
            "query-cone",
            "--params",
            "p.json",
            "--out-dir",
            "cone1",
        ],
    ));
    // The CSV as the run wrote it.
    let text = std::fs::read_to_string(dir.join("cone1/cone.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let n = rows.len();
    assert!(n > 20, "{n} rows");
    let want_ids: Vec<i64> = rows
        .iter()
        .map(|r| r[col("targetid")].parse().unwrap())
        .collect();
    let want_ra: Vec<f64> = rows.iter().map(|r| r[col("ra")].parse().unwrap()).collect();
    let want_dec: Vec<f64> = rows
        .iter()
        .map(|r| r[col("dec")].parse().unwrap())
        .collect();
    let want_bgs: Vec<i64> = rows
        .iter()
        .map(|r| r[col("bgs_target")].parse().unwrap())
        .collect();

    let out = ok(&run(dir, &publish_args("cone1", "rel")));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rel = dir.join("rel");
    assert!(rel.join("hats/cone/properties").exists(), "{report}");
    assert!(rel.join("parquet/cone.parquet").exists());
    let cat = FitsFile::open(&rel.join("catalog.fits")).unwrap();
    let t = cat.table("CONE").unwrap();
    assert_eq!(t.nrows(), n);
    assert_eq!(t.read_i64("targetid").unwrap(), want_ids);
    assert_eq!(t.read_i64("bgs_target").unwrap(), want_bgs);
    assert_eq!(t.read_f64("ra").unwrap(), want_ra);
    assert_eq!(t.column("ra").unwrap().unit.as_deref(), Some("deg"));
    assert_eq!(
        t.column("sep_arcsec").unwrap().unit.as_deref(),
        Some("arcsec")
    );
    let sums = std::fs::read_to_string(rel.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  hats/cone/properties"), "{sums}");

    // LSDB's cone search against ours on the same rows.
    let (cra, cdec, radius_deg) = (181.0, 31.0, 2.0);
    let cone: Vec<i64> = (0..n)
        .filter(|&i| {
            astrolab_sky::angular_separation_deg(cra, cdec, want_ra[i], want_dec[i]) <= radius_deg
        })
        .map(|i| want_ids[i])
        .collect();
    assert!(cone.len() > 2 && cone.len() < n, "{}", cone.len());
    // Every column of the CSV, its CDS unit.
    let cds_units: serde_json::Map<String, serde_json::Value> = header
        .iter()
        .map(|h| {
            let u = match *h {
                "ra" | "dec" => "deg",
                "sep_arcsec" => "arcsec",
                _ => "---",
            };
            (h.to_string(), u.into())
        })
        .collect();
    let expect = serde_json::json!({
        "table": "cone",
        "nrows": n,
        "id_column": "targetid",
        "fits_units": {"ra": "deg", "dec": "deg", "sep_arcsec": "arcsec"},
        "cds_units": cds_units,
        "header": {"AUTHOR": "Doe, Jane", "VAC_VERS": "2.1", "DATE": "2026-12-01"},
        "cone": {"ra": cra, "dec": cdec, "radius_arcsec": radius_deg * 3600.0, "ids": cone},
        "other_tables": [],
    });
    python_check(dir, &rel, expect);
}
