//! Synthetic truth: VoidFinder on demo skies (astrolab-demo) recovers the
//! planted voids.

mod voidfinder_common;

use astrolab_demo::{generate_catalog, DemoConfig, Footprint as DemoFootprint, SpectraConfig};
use astrolab_voids::finder::{find_voids, VoidFinderConfig};
use astrolab_voids::mask::{Footprint, RaDecGrid, SurveyMask};
use voidfinder_common::assert_four_on_surface_none_inside;

fn sky(seed: u64) -> astrolab_demo::SyntheticSky {
    let cfg = DemoConfig {
        seed,
        // A DR7-like density (about 6e-3 galaxies per (Mpc/h)^3) over a
        // compact patch, so that 15-30 Mpc/h voids are well sampled.
        n_galaxies: 40_000,
        footprint: DemoFootprint {
            ra_min_deg: 150.0,
            ra_max_deg: 200.0,
            dec_min_deg: 0.0,
            dec_max_deg: 35.0,
            z_min: 0.02,
            z_max: 0.11,
        },
        // VoidFinder voids are nearly empty: Hoyle & Vogeley 2004 (ApJ 607,
        // 751) measure an average density contrast of -0.94 +- 0.02 in
        // their voids. The demo's default interior (12 % of the mean,
        // DESIVAST's all-galaxy figure) leaves wall galaxies inside that
        // split a planted sphere into several voids.
        void_density_contrast: 0.05,
        spectra: SpectraConfig {
            enabled: false,
            ..SpectraConfig::default()
        },
        ..DemoConfig::default()
    };
    generate_catalog(&cfg).unwrap()
}

#[test]
fn voidfinder_synthetic_recovers_planted_voids() {
    let mut planted = 0usize;
    let mut found = 0usize;
    for seed in [42u64, 7] {
        let s = sky(seed);
        let g = &s.galaxies;
        let grid = RaDecGrid::from_galaxies(&g.ra_deg, &g.dec_deg, 1, true).unwrap();
        let mask = SurveyMask::sky(Footprint::RaDec(grid), s.r_min_mpc_h, s.r_max_mpc_h).unwrap();
        let out = find_voids(&g.xyz_mpc_h, &mask, &VoidFinderConfig::default()).unwrap();
        let density = out.wall_xyz.len() as f64 / mask.volume_mpc3_h3();
        assert_four_on_surface_none_inside(&out, None, density);
        for v in s.voids.iter().filter(|v| v.radius_mpc_h > 15.0) {
            planted += 1;
            let r = v.radius_mpc_h;
            let hit = out.maximals.iter().any(|m| {
                let d: f64 = (0..3)
                    .map(|a| (m.center_mpc_h[a] - v.center_mpc_h[a]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                d <= 0.2 * r && (m.radius_mpc_h - r).abs() <= 0.15 * r
            });
            if hit {
                found += 1;
            } else {
                let best = out
                    .maximals
                    .iter()
                    .map(|m| {
                        let d: f64 = (0..3)
                            .map(|a| (m.center_mpc_h[a] - v.center_mpc_h[a]).powi(2))
                            .sum::<f64>()
                            .sqrt();
                        (d / r, m.radius_mpc_h / r)
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0));
                eprintln!("seed {seed}: planted void {} (R = {r:.1}) missed; nearest maximal (d/R, R_m/R) = {best:?}", v.id);
            }
        }
        eprintln!(
            "seed {seed}: {} galaxies, {} planted voids, {} maximals",
            g.len(),
            s.voids.len(),
            out.maximals.len()
        );
    }
    let frac = found as f64 / planted as f64;
    eprintln!("recovered {found} of {planted} planted voids with R > 15 Mpc/h ({frac:.3})");
    assert!(
        planted >= 10,
        "too few planted voids ({planted}) for a meaningful test"
    );
    // The seeds are fixed: 43 of the 44 planted voids are recovered.
    assert_eq!((found, planted), (43, 44), "recovered {found} of {planted}");
}
