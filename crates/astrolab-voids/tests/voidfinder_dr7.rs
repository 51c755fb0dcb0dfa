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
    // Wall/field split: VAST reports 3rd-neighbour separation and removes
    // the galaxies beyond mean + 1.5 sd as field galaxies: 8.5 % here.
    assert_eq!(
        (
            out.wall_xyz.len(),
            out.field_xyz.len(),
            out.split.duplicate_rows.len()
        ),
        (110_370, 10_236, 0)
    );
    assert_eq!(
        format!(
            "{:.6} {:.6} {:.6}",
            out.split.nn_mean_mpc_h, out.split.nn_std_mpc_h, out.split.threshold_mpc_h
        ),
        "3.233203 1.814736 5.955307"
    );
    // Pan et al. 2012 (MNRAS 421, 926) found 1055 voids in DR7 (r < 300
    // Mpc/h at Omega_m = 0.26) filling 62 % of the volume; this run (the
    // distance limits of the catalog's own redshift range) finds 999 voids
    // filling 66.8 %. Counts exact, radii and fraction to the printed
    // precision (the volume is a count of 1 (Mpc/h)^3 cells, exact).
    assert_eq!(
        out.counts,
        astrolab_voids::finder::FinderCounts {
            grid_cells: 426_684,
            empty_cells: 383_982,
            grown: 127_161,
            distinct: 89_384,
            cut_by_mask: 6_741,
            unique: 82_608,
        }
    );
    assert_eq!((out.maximals.len(), out.holes.len()), (999, 33_708));
    assert_eq!(
        format!("{rmin:.6} {rmed:.6} {rmax:.6}"),
        "10.000931 12.102726 21.910479"
    );
    assert_eq!(vol, 15_288_112.0);
    assert_eq!(format!("{frac:.6}"), "0.667767");
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
    // Three holes have a fifth galaxy within 1e-6 R of the surface, as a
    // Poisson process of the wall density gives by chance (3.45 expected).
    assert_eq!(check.fifth_within_1e6, 3, "{check:?}");
}
