//! VoidFinder on the SDSS DR7 volume-limited catalog (the standard VAST
//! run: vollim_dr7_cbp_102709, Omega_m = 0.26, h = 1).

mod voidfinder_common;

use std::time::Instant;

use astrolab_formats::testdata::require_shared_data;
use astrolab_formats::FitsFile;
use astrolab_voids::finder::{find_voids, void_volume_fraction, VoidFinderConfig};
use astrolab_voids::geometry::{comoving_distances_mpc_h, radec_z_to_comoving_xyz};
use astrolab_voids::mask::{Footprint, RaDecGrid, SurveyMask};
use voidfinder_common::{assert_four_on_surface_none_inside, radius_summary};

#[test]
fn voidfinder_dr7_four_galaxy_holes_and_plausible_voids() {
    let Some(dir) = require_shared_data("voidfinder_dr7") else {
        return;
    };
    let path = dir.join("voids/vollim_dr7_cbp_102709.fits");
    let fits = FitsFile::open(&path).unwrap();
    let t = fits.first_table().unwrap();
    let ra = t.read_f64("ra").unwrap();
    let dec = t.read_f64("dec").unwrap();
    let z = t.read_f64("z").unwrap();
    assert_eq!(ra.len(), 120_606);
    let omega_m = 0.26;
    let xyz = radec_z_to_comoving_xyz(&ra, &dec, &z, omega_m).unwrap();
    let z_min = z.iter().copied().fold(f64::INFINITY, f64::min);
    let z_max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lim = comoving_distances_mpc_h(&[z_min, z_max], omega_m).unwrap();
    let res = RaDecGrid::resolution_for(lim[1], 10.0);
    assert_eq!(res, 1);
    let grid = RaDecGrid::from_galaxies(&ra, &dec, res, true).unwrap();
    let mask = SurveyMask::sky(Footprint::RaDec(grid), lim[0], lim[1]).unwrap();

    let t0 = Instant::now();
    let out = find_voids(&xyz, &mask, &VoidFinderConfig::default()).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let (vol, frac) = void_volume_fraction(&out.holes, &mask, 1.0);
    let (rmin, rmed, rmax) = radius_summary(&out);
    eprintln!(
        "DR7: {} wall, {} field, {} duplicates; {:?}; {} voids, {} holes; maximal radius min/median/max {rmin:.2}/{rmed:.2}/{rmax:.2} Mpc/h; void volume {vol:.4e} (Mpc/h)^3 = {:.3} of {:.4e}; {secs:.2} s",
        out.wall_xyz.len(),
        out.field_xyz.len(),
        out.split.duplicate_rows.len(),
        out.counts,
        out.maximals.len(),
        out.holes.len(),
        frac,
        mask.volume_mpc3_h3()
    );

    // Wall/field split: VAST reports 3rd-neighbour separation and removes
    // roughly 5-7 % of a volume-limited sample as field galaxies.
    let field_frac = out.field_xyz.len() as f64 / xyz.len() as f64;
    eprintln!("PIN field_frac {field_frac} frac {frac} rmin {rmin} rmed {rmed} rmax {rmax} vol {vol} counts {:?} nn {} {} {}", out.counts, out.split.nn_mean_mpc_h, out.split.nn_std_mpc_h, out.split.threshold_mpc_h);
    assert!(
        (0.03..0.10).contains(&field_frac),
        "field fraction {field_frac}"
    );
    // Pan et al. 2012 (MNRAS 421, 926): 1055 voids in DR7 (r < 300 Mpc/h
    // at Omega_m = 0.26), filling 62 % of the volume, effective radii
    // mostly 10-30 Mpc/h. Maximal radii are somewhat smaller than
    // effective radii.
    assert!(
        (700..1600).contains(&out.maximals.len()),
        "{} voids",
        out.maximals.len()
    );
    assert!(out.holes.len() > 3 * out.maximals.len());
    assert!(rmin > 10.0 && rmed > 11.0 && rmed < 20.0 && rmax < 40.0);
    assert!((0.45..0.80).contains(&frac), "void volume fraction {frac}");
    // Every maximal is a hole of its own void.
    for m in &out.maximals {
        assert!(out
            .holes
            .iter()
            .any(|h| h.void_id == m.void_id && h.center_mpc_h == m.center_mpc_h));
    }
    let density = out.wall_xyz.len() as f64 / mask.volume_mpc3_h3();
    let check = assert_four_on_surface_none_inside(&out, None, density);
    eprintln!("{check:?}");
    assert_eq!(check.holes, out.holes.len());
    // A fifth galaxy within 1e-6 R of a surface happens by chance at the
    // rate of a Poisson process; many more would mean holes stopping short.
    assert!(
        (check.fifth_within_1e6 as f64) < 3.0 * check.fifth_expected + 5.0,
        "{check:?}"
    );
}
