//! Science sanity of the synthetic sky: planted voids are empty, truth is
//! consistent with the catalog positions, distributions look like DESI BGS
//! and the injected void-vs-wall effects have the planted signs.

use std::collections::BTreeMap;

use astrolab_demo::{generate_catalog, generate_sky, DemoConfig, V2Algorithm};
use astrolab_formats::FitsFile;
use astrolab_sky::{hpx_index_at, radec_z_to_xyz, FlatLcdm};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The default sky (seed 42, 20 000 galaxies) written and read back: the
/// checks use only what the files say, as the lab's pipeline would.
#[test]
fn written_sky_is_consistent_and_realistic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DemoConfig::default();
    let summary = generate_sky(dir.path(), &cfg).expect("generate");
    let d = dir.path();

    // Truth: voids from truth.json, membership from truth_galaxies.csv.
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary.truth_path).unwrap()).unwrap();
    let voids: Vec<([f64; 3], f64)> = truth["voids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let f = |k: &str| v[k].as_f64().unwrap();
            (
                [f("x_mpc_h"), f("y_mpc_h"), f("z_mpc_h")],
                f("radius_mpc_h"),
            )
        })
        .collect();
    assert_eq!(voids.len(), summary.n_planted_voids);
    assert!(voids.len() > 100, "{} voids", voids.len());
    for (i, v) in truth["voids"].as_array().unwrap().iter().enumerate() {
        assert_eq!(v["id"].as_i64(), Some(i as i64));
        let r = v["radius_mpc_h"].as_f64().unwrap();
        assert!((12.0..=30.0).contains(&r), "radius {r}");
    }
    let csv = std::fs::read_to_string(d.join("truth_galaxies.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("TARGETID,VOID_ID,NEAREST_VOID_ID,R_OVER_RADIUS,IN_GROUP")
    );
    let mut truth_of: BTreeMap<i64, (i64, f64)> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        truth_of.insert(
            f[0].parse().unwrap(),
            (f[1].parse().unwrap(), f[3].parse().unwrap()),
        );
    }
    assert_eq!(truth_of.len(), 20_000);

    // Positions from the redshift catalog, with the cosmology the void
    // catalogs state in their headers.
    let vf = FitsFile::open(&d.join("DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits")).unwrap();
    let omega_m = vf.hdus()[0].header.get_f64("OMEGAM").unwrap();
    let volume = vf.hdus()[0].header.get_f64("VOLUME").unwrap();
    let cosmo = FlatLcdm::new(omega_m).unwrap();
    let zf = FitsFile::open(&d.join("zpix-main-bright.fits")).unwrap();
    let z = zf.table("ZCATALOG").unwrap();
    let tid = z.read_i64("TARGETID").unwrap();
    let ra = z.read_f64("TARGET_RA").unwrap();
    let dec = z.read_f64("TARGET_DEC").unwrap();
    let zz = z.read_f64("Z").unwrap();
    let spectype = z.read_str("SPECTYPE").unwrap();
    let healpix = z.read_i64("HEALPIX").unwrap();
    let desi_target = z.read_i64("DESI_TARGET").unwrap();
    let zwarn = z.read_i64("ZWARN").unwrap();
    let dchi2 = z.read_f64("DELTACHI2").unwrap();

    let mut n_members = 0usize;
    let mut n_gal = 0usize;
    for i in 0..tid.len() {
        // HEALPIX is NSIDE 64 NESTED of the target position, for every row.
        assert_eq!(healpix[i] as u64, hpx_index_at(6, ra[i], dec[i]), "row {i}");
        if spectype[i] != "GALAXY" {
            continue;
        }
        n_gal += 1;
        assert!((140.0..=220.0).contains(&ra[i]) && (0.0..=50.0).contains(&dec[i]));
        assert!((0.02..=0.20).contains(&zz[i]), "z = {}", zz[i]);
        assert_ne!(desi_target[i] & (1 << 60), 0, "BGS_ANY missing");
        assert!(tid[i].to_string().len() == 17, "TARGETID {}", tid[i]);
        let p = radec_z_to_xyz(ra[i], dec[i], cosmo.comoving_distance_mpc_h(zz[i]));
        let (void_id, ratio) = truth_of[&tid[i]];
        let inside: Vec<usize> = (0..voids.len())
            .filter(|&k| dist(p, voids[k].0) < voids[k].1)
            .collect();
        if void_id >= 0 {
            n_members += 1;
            let (c, r) = voids[void_id as usize];
            assert!(
                dist(p, c) < r,
                "TARGETID {} is not inside void {void_id}",
                tid[i]
            );
            assert!((dist(p, c) / r - ratio).abs() < 1e-6);
            assert_eq!(inside, [void_id as usize]);
        } else {
            assert!(
                inside.is_empty(),
                "TARGETID {} lies in voids {inside:?}",
                tid[i]
            );
            assert!(ratio >= 1.0);
        }
    }
    assert_eq!(n_gal, 20_000);

    // Planted voids are nearly empty: < 25 % of the mean density.
    let void_volume: f64 = voids
        .iter()
        .map(|(_, r)| 4.0 / 3.0 * std::f64::consts::PI * r.powi(3))
        .sum();
    let contrast = (n_members as f64 / void_volume) / (n_gal as f64 / volume);
    assert!(contrast < 0.25, "void density is {contrast} of the mean");
    assert!(
        contrast > 0.02,
        "voids should not be completely empty ({contrast})"
    );
    assert!(
        (0.15..0.25).contains(&(void_volume / volume)),
        "void volume fraction"
    );

    // Redshift quality as in DESI BGS: a few per cent flagged, most
    // DELTACHI2 large.
    let gal_rows: Vec<usize> = (0..tid.len())
        .filter(|&i| spectype[i] == "GALAXY")
        .collect();
    let flagged = gal_rows.iter().filter(|&&i| zwarn[i] != 0).count() as f64 / n_gal as f64;
    assert!(
        (0.01..0.06).contains(&flagged),
        "ZWARN != 0 fraction {flagged}"
    );
    assert!(median(gal_rows.iter().map(|&i| dchi2[i]).collect()) > 100.0);

    // Physical properties.
    let ff = FitsFile::open(&d.join("fastspec-iron-main-bright-nside1-hp00.fits")).unwrap();
    let sp = ff.table("SPECPHOT").unwrap();
    let logm: Vec<f64> = sp.read_f64("LOGMSTAR").unwrap();
    let sfr: Vec<f64> = sp.read_f64("SFR").unwrap();
    let dn: Vec<f64> = sp.read_f64("DN4000").unwrap();
    let age: Vec<f64> = sp.read_f64("AGE").unwrap();
    let ssfr: Vec<f64> = sfr.iter().zip(&logm).map(|(s, m)| s.log10() - m).collect();
    let med_m = median(logm.clone());
    assert!((10.0..=10.5).contains(&med_m), "median LOGMSTAR {med_m}");
    assert!(logm.iter().all(|m| (8.5..=11.8).contains(m)));
    let q: Vec<bool> = ssfr.iter().map(|s| *s < -11.0).collect();
    let qfrac = q.iter().filter(|x| **x).count() as f64 / q.len() as f64;
    assert!((0.2..=0.5).contains(&qfrac), "quenched fraction {qfrac}");
    let pick = |v: &[f64], want: bool| -> Vec<f64> {
        v.iter()
            .zip(&q)
            .filter(|(_, qq)| **qq == want)
            .map(|(x, _)| *x)
            .collect()
    };
    let (dn_sf, dn_q) = (median(pick(&dn, false)), median(pick(&dn, true)));
    assert!(
        (1.1..=1.4).contains(&dn_sf) && (1.65..=1.95).contains(&dn_q),
        "Dn4000 {dn_sf} {dn_q}"
    );
    assert!(median(pick(&age, true)) > 2.0 * median(pick(&age, false)));
    // The quenched fraction rises with mass.
    let qf = |lo: f64, hi: f64| {
        let sel: Vec<bool> = (0..q.len())
            .filter(|&i| (lo..hi).contains(&logm[i]))
            .map(|i| q[i])
            .collect();
        sel.iter().filter(|x| **x).count() as f64 / sel.len() as f64
    };
    assert!(qf(9.0, 9.8) < qf(10.2, 10.6) && qf(10.2, 10.6) < qf(10.9, 11.8));
    // Halpha follows SFR: star-forming galaxies have much brighter lines.
    let ha = ff
        .table("FASTSPEC")
        .unwrap()
        .read_f64("HALPHA_FLUX")
        .unwrap();
    assert!(median(pick(&ha, false)) > 5.0 * median(pick(&ha, true)).max(1.0));
}

/// A larger sky in memory: the injected effects come out with their signs,
/// and the synthetic void finders recover the planted voids.
#[test]
fn injected_effects_and_void_catalogs_follow_the_truth() {
    let cfg = DemoConfig {
        n_galaxies: 60_000,
        seed: 2024,
        ..DemoConfig::default()
    };
    let sky = generate_catalog(&cfg).expect("generate");
    let g = &sky.galaxies;
    let m = &sky.measured;
    assert!(m.n_void_galaxies > 800, "{m:?}");
    assert_eq!(
        m.n_void_galaxies,
        g.void_id.iter().filter(|v| **v >= 0).count()
    );
    // Planted: lower mass (knee shift < 0) and fewer quenched (ratio < 1).
    assert!(cfg.effects.logmstar_knee_shift_dex < 0.0 && cfg.effects.quenched_fraction_ratio < 1.0);
    assert!(m.quenched_fraction_void < m.quenched_fraction_wall, "{m:?}");
    assert!(m.quenched_fraction_ratio_at_fixed_mass < 0.85, "{m:?}");
    assert!(m.logmstar_offset_at_fixed_z_dex < 0.0, "{m:?}");
    assert!(m.median_dn4000_void < m.median_dn4000_wall, "{m:?}");
    assert!(m.void_density_over_mean < 0.25, "{m:?}");
    // Recomputed here, independently of `measured`.
    let frac_q = |void: bool| {
        let sel: Vec<usize> = (0..g.len())
            .filter(|&i| (g.void_id[i] >= 0) == void)
            .collect();
        sel.iter().filter(|&&i| g.log_ssfr_yr[i] < -11.0).count() as f64 / sel.len() as f64
    };
    assert!(frac_q(true) < 0.8 * frac_q(false));

    // VoidFinder: most truth members are inside a hole, few others are.
    let holes = &sky.void_catalogs.voidfinder.holes;
    let in_hole = |p: [f64; 3]| {
        holes
            .iter()
            .any(|h| dist(p, h.center_mpc_h) < h.radius_mpc_h)
    };
    let members: Vec<usize> = (0..g.len()).filter(|&i| g.void_id[i] >= 0).collect();
    let others: Vec<usize> = (0..g.len()).filter(|&i| g.void_id[i] < 0).collect();
    let rec =
        members.iter().filter(|&&i| in_hole(g.xyz_mpc_h[i])).count() as f64 / members.len() as f64;
    let fp =
        others.iter().filter(|&&i| in_hole(g.xyz_mpc_h[i])).count() as f64 / others.len() as f64;
    assert!(rec > 0.75, "VoidFinder recovers {rec} of the void members");
    assert!(
        fp < 0.02,
        "VoidFinder puts {fp} of the wall galaxies in voids"
    );
    for mx in &sky.void_catalogs.voidfinder.maximals {
        let v = &sky.voids[mx.void as usize];
        assert!(dist(mx.center_mpc_h, v.center_mpc_h) < 0.3 * v.radius_mpc_h);
        assert!(mx.radius_mpc_h < v.radius_mpc_h && mx.radius_mpc_h >= 10.0);
    }

    // V2: membership is VOID0 != -1 of the galaxy's zone.
    let cat = |a: V2Algorithm| {
        sky.void_catalogs
            .v2
            .iter()
            .find(|c| c.algorithm == a)
            .unwrap()
    };
    let captured = |a: V2Algorithm| {
        let c = cat(a);
        let inv = |i: usize| c.zonevoid[c.galzone.zone[i] as usize].void0 != -1;
        members.iter().filter(|&&i| inv(i)).count() as f64 / members.len() as f64
    };
    assert!(captured(V2Algorithm::Revolver) > 0.9);
    assert!(captured(V2Algorithm::Vide) > 0.8);
    assert!(captured(V2Algorithm::Zobov) > 0.7);
    let mean_r = |a: V2Algorithm| {
        let v = &cat(a).voids;
        v.iter().map(|x| x.radius_mpc_h).sum::<f64>() / v.len() as f64
    };
    assert!(cat(V2Algorithm::Vide).voids.len() < cat(V2Algorithm::Revolver).voids.len());
    assert!(mean_r(V2Algorithm::Vide) > mean_r(V2Algorithm::Zobov));
    let zobov = cat(V2Algorithm::Zobov);
    assert!(
        zobov.zonevoid.iter().any(|z| z.void0 != z.void1),
        "ZOBOV hierarchy missing"
    );
    for c in &sky.void_catalogs.v2 {
        assert_eq!(c.galzone.target, g.targetid);
        for (j, v2) in c.planted_to_void.iter().enumerate() {
            if let Some(id) = v2 {
                let v = &c.voids[*id as usize];
                assert!(
                    dist(v.center_mpc_h, sky.voids[j].center_mpc_h)
                        < 0.3 * sky.voids[j].radius_mpc_h
                );
            }
        }
    }
}
