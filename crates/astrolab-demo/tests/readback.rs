//! The files read back through astrolab_formats with the DESI HDU and
//! column layout, consistent row counts and cross-file keys.

use std::collections::BTreeSet;
use std::path::Path;

use astrolab_demo::{generate_sky, DemoConfig, DemoSummary, SpectraConfig};

/// A few spectra only: their files are checked in tests/spectra.rs.
fn few_spectra() -> SpectraConfig {
    SpectraConfig {
        enabled: true,
        max_galaxies: 40,
        n_qso: 10,
        ..SpectraConfig::default()
    }
}
use astrolab_formats::FitsFile;

/// HDU names, the primary called PRIMARY (as astropy and DESI name it; the
/// writer does not put an EXTNAME in the primary header).
fn hdu_names(path: &Path) -> Vec<String> {
    let f = FitsFile::open(path).expect("open");
    f.hdus()
        .iter()
        .map(|h| {
            if h.index == 0 {
                "PRIMARY".to_string()
            } else {
                h.name()
            }
        })
        .collect()
}

fn columns(f: &FitsFile, hdu: &str) -> Vec<String> {
    f.table(hdu)
        .expect(hdu)
        .columns()
        .iter()
        .map(|c| c.name.clone())
        .collect()
}

fn generate(dir: &Path, cfg: &DemoConfig) -> DemoSummary {
    generate_sky(dir, cfg).expect("generate")
}

#[test]
fn files_have_desi_layouts_and_consistent_rows() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DemoConfig {
        n_galaxies: 5000,
        seed: 3,
        spectra: few_spectra(),
        ..DemoConfig::default()
    };
    let summary = generate(dir.path(), &cfg);
    let names: Vec<String> = summary
        .files
        .iter()
        .filter(|f| !matches!(f.kind, "coadd" | "redrock"))
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "zpix-main-bright.fits",
            "fastspec-iron-main-bright-nside1-hp00.fits",
            "DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits",
            "DESIVAST_BGS_VOLLIM_V2_REVOLVER_NGC.fits",
            "DESIVAST_BGS_VOLLIM_V2_VIDE_NGC.fits",
            "DESIVAST_BGS_VOLLIM_V2_ZOBOV_NGC.fits",
            "spectra_truth.json",
            "spectra_truth.csv",
            "truth_galaxies.csv",
            "truth.json",
        ]
    );
    assert_eq!(summary.n_galaxies, 5000);
    assert!(summary.truth_path.ends_with("truth.json"));
    let d = dir.path();

    // Redshift catalog.
    let zpath = d.join("zpix-main-bright.fits");
    assert_eq!(hdu_names(&zpath), ["PRIMARY", "ZCATALOG"]);
    let zf = FitsFile::open(&zpath).unwrap();
    let zcols = columns(&zf, "ZCATALOG");
    for c in [
        "TARGETID",
        "SURVEY",
        "PROGRAM",
        "HEALPIX",
        "SPGRPVAL",
        "Z",
        "ZERR",
        "ZWARN",
        "CHI2",
        "SPECTYPE",
        "SUBTYPE",
        "DELTACHI2",
        "COADD_FIBERSTATUS",
        "TARGET_RA",
        "TARGET_DEC",
        "DESI_TARGET",
        "BGS_TARGET",
        "MWS_TARGET",
        "SCND_TARGET",
        "ZCAT_PRIMARY",
        "ZCAT_NSPEC",
        "TSNR2_BGS",
    ] {
        assert!(zcols.iter().any(|x| x == c), "ZCATALOG lacks {c}");
    }
    let z = zf.table("ZCATALOG").unwrap();
    assert_eq!(z.column("TARGETID").unwrap().tform, "K");
    assert_eq!(z.column("SPECTYPE").unwrap().tform, "6A");
    assert_eq!(z.column("ZCAT_PRIMARY").unwrap().tform, "L");
    assert_eq!(z.column("HEALPIX").unwrap().tform, "J");
    assert_eq!(z.column("COADD_FIBERSTATUS").unwrap().tform, "J");
    assert_eq!(z.column("ZWARN").unwrap().tform, "K");
    assert_eq!(z.column("TARGET_RA").unwrap().unit.as_deref(), Some("deg"));
    let ztid = z.read_i64("TARGETID").unwrap();
    let spectype = z.read_str("SPECTYPE").unwrap();
    assert_eq!(ztid.len(), summary.files[0].rows);
    assert_eq!(
        ztid.iter().collect::<BTreeSet<_>>().len(),
        ztid.len(),
        "TARGETID not unique"
    );
    let n_gal = spectype.iter().filter(|s| *s == "GALAXY").count();
    assert_eq!(n_gal, 5000);
    assert!(spectype.iter().any(|s| s == "QSO") && spectype.iter().any(|s| s == "STAR"));
    assert!(z
        .read_bool("ZCAT_PRIMARY")
        .unwrap()
        .iter()
        .all(|b| *b == Some(true)));
    let hdr = &zf.hdu("ZCATALOG").unwrap().header;
    assert_eq!(hdr.get_i64("HPXNSIDE"), Some(64));
    assert_eq!(hdr.get_str("SPGRP"), Some("healpix"));

    // FastSpecFit: three tables, same rows, galaxies of the zcatalog.
    let fpath = d.join("fastspec-iron-main-bright-nside1-hp00.fits");
    assert_eq!(
        hdu_names(&fpath),
        ["PRIMARY", "METADATA", "SPECPHOT", "FASTSPEC"]
    );
    let ff = FitsFile::open(&fpath).unwrap();
    let meta_ids = ff.table("METADATA").unwrap().read_i64("TARGETID").unwrap();
    assert_eq!(meta_ids.len(), 5000);
    for hdu in ["SPECPHOT", "FASTSPEC"] {
        assert_eq!(
            ff.table(hdu).unwrap().read_i64("TARGETID").unwrap(),
            meta_ids,
            "{hdu} rows"
        );
    }
    let zgal: BTreeSet<i64> = ztid
        .iter()
        .zip(&spectype)
        .filter(|(_, s)| *s == "GALAXY")
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(meta_ids.iter().copied().collect::<BTreeSet<_>>(), zgal);
    let sp = columns(&ff, "SPECPHOT");
    for c in [
        "LOGMSTAR",
        "LOGMSTAR_IVAR",
        "SFR",
        "SFR_IVAR",
        "AGE",
        "ZZSUN",
        "DN4000",
        "DN4000_IVAR",
    ] {
        assert!(sp.iter().any(|x| x == c), "SPECPHOT lacks {c}");
    }
    let fs = columns(&ff, "FASTSPEC");
    for c in [
        "OIII_5007_FLUX",
        "OIII_5007_FLUX_IVAR",
        "HALPHA_FLUX",
        "HBETA_FLUX",
        "NII_6584_FLUX",
    ] {
        assert!(fs.iter().any(|x| x == c), "FASTSPEC lacks {c}");
    }
    let md = columns(&ff, "METADATA");
    for c in [
        "RA",
        "DEC",
        "Z",
        "ZWARN",
        "DELTACHI2",
        "SPECTYPE",
        "HEALPIX",
        "SURVEY",
        "PROGRAM",
    ] {
        assert!(md.iter().any(|x| x == c), "METADATA lacks {c}");
    }
    assert_eq!(ff.hdus()[0].header.get_str("SPECPROD"), Some("iron"));

    // VoidFinder.
    let vpath = d.join("DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits");
    assert_eq!(hdu_names(&vpath), ["PRIMARY", "MAXIMALS", "HOLES"]);
    let vf = FitsFile::open(&vpath).unwrap();
    assert_eq!(
        columns(&vf, "MAXIMALS"),
        [
            "X",
            "Y",
            "Z",
            "RADIUS",
            "VOID",
            "EDGE",
            "R",
            "RA",
            "DEC",
            "R_EFF",
            "R_EFF_UNCERT"
        ]
    );
    assert_eq!(columns(&vf, "HOLES"), ["X", "Y", "Z", "RADIUS", "VOID"]);
    let maximal_ids = vf.table("MAXIMALS").unwrap().read_i64("VOID").unwrap();
    assert_eq!(maximal_ids.len(), summary.n_planted_voids);
    assert_eq!(
        maximal_ids,
        (0..maximal_ids.len() as i64).collect::<Vec<_>>()
    );
    let holes = vf.table("HOLES").unwrap().read_i64("VOID").unwrap();
    assert!(holes.len() > 10 * maximal_ids.len());
    assert!(holes
        .iter()
        .all(|v| (0..maximal_ids.len() as i64).contains(v)));
    assert_eq!(vf.hdus()[0].header.get_f64("OMEGAM"), Some(0.315));
    let edges = vf.table("MAXIMALS").unwrap().read_i64("EDGE").unwrap();
    assert!(edges.iter().all(|e| (0..=2).contains(e)));

    // V2.
    for alg in ["REVOLVER", "VIDE", "ZOBOV"] {
        let p = d.join(format!("DESIVAST_BGS_VOLLIM_V2_{alg}_NGC.fits"));
        assert_eq!(
            hdu_names(&p),
            ["PRIMARY", "VOIDS", "ZONEVOID", "GALZONE"],
            "{alg}"
        );
        let f = FitsFile::open(&p).unwrap();
        assert_eq!(
            columns(&f, "VOIDS"),
            [
                "VOID",
                "X",
                "Y",
                "Z",
                "REDSHIFT",
                "RA",
                "DEC",
                "RADIUS",
                "X1",
                "Y1",
                "Z1",
                "X2",
                "Y2",
                "Z2",
                "X3",
                "Y3",
                "Z3",
                "TOT_AREA",
                "EDGE_AREA"
            ]
        );
        assert_eq!(columns(&f, "ZONEVOID"), ["ZONE", "VOID0", "VOID1"]);
        assert_eq!(
            columns(&f, "GALZONE"),
            ["GAL", "TARGET", "X", "Y", "Z", "ZONE", "DEPTH", "EDGE", "OUT"]
        );
        let nvoid = f.table("VOIDS").unwrap().nrows() as i64;
        let zv = f.table("ZONEVOID").unwrap();
        let zones = zv.read_i64("ZONE").unwrap();
        assert_eq!(zones, (0..zones.len() as i64).collect::<Vec<_>>());
        for c in ["VOID0", "VOID1"] {
            assert!(zv
                .read_i64(c)
                .unwrap()
                .iter()
                .all(|v| *v == -1 || (0..nvoid).contains(v)));
        }
        let gz = f.table("GALZONE").unwrap();
        assert_eq!(
            gz.read_i64("TARGET").unwrap(),
            meta_ids,
            "{alg}: GALZONE rows"
        );
        assert!(gz
            .read_i64("ZONE")
            .unwrap()
            .iter()
            .all(|z| (0..zones.len() as i64).contains(z)));
    }
}

#[test]
fn fastspec_can_be_split_by_nside1_pixel() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DemoConfig {
        n_galaxies: 3000,
        fastspec_split_nside1: true,
        spectra: few_spectra(),
        ..DemoConfig::default()
    };
    let summary = generate(dir.path(), &cfg);
    let fast: Vec<_> = summary
        .files
        .iter()
        .filter(|f| f.kind == "fastspecfit")
        .collect();
    // RA 140-220, Dec 0-50 touches NSIDE = 1 nested pixels 1, 2 (north
    // polar cap, centred at RA 135 and 225) and 6 (equatorial, RA 180).
    let names: Vec<String> = fast
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "fastspec-iron-main-bright-nside1-hp01.fits",
            "fastspec-iron-main-bright-nside1-hp02.fits",
            "fastspec-iron-main-bright-nside1-hp06.fits",
        ]
    );
    assert_eq!(fast.iter().map(|f| f.rows).sum::<usize>(), 3000);
    for f in fast {
        let file = FitsFile::open(&f.path).unwrap();
        let pix = file.table("METADATA").unwrap().read_i64("HEALPIX").unwrap();
        let want: i64 = f.path.to_string_lossy()[f.path.to_string_lossy().len() - 7..][..2]
            .parse()
            .unwrap();
        assert!(pix.iter().all(|p| p >> 12 == want), "{}", f.path.display());
    }
}

#[test]
fn bad_config_and_unwritable_dir_are_reported() {
    let cfg = DemoConfig {
        n_galaxies: 0,
        ..DemoConfig::default()
    };
    let err = generate_sky(Path::new("/nonexistent/never"), &cfg)
        .unwrap_err()
        .to_string();
    assert!(err.contains("n_galaxies"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let cfg = DemoConfig {
        n_galaxies: 500,
        ..DemoConfig::default()
    };
    let err = generate_sky(&file, &cfg).unwrap_err().to_string();
    assert!(err.contains("a-file"), "{err}");
}
