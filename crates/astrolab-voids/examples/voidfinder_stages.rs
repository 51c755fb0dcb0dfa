//! Wall time of each step of VoidFinder on the SDSS DR7 catalog, the run of
//! `astrolab voids find` without the command line around it (issue 4's
//! speed target; figures in `bench/notes/issue4-voidfinder.md`).
//!
//! ```sh
//! cargo run --release -p astrolab-voids --example voidfinder_stages -- [CATALOG] [THREADS] [REPEATS]
//! ```
//!
//! Same settings as the command: Omega_m 0.26, distance limits of the
//! galaxies, smoothed RA/Dec mask of the galaxies, default VoidFinder
//! parameters, void volume on a 2 Mpc/h grid. Prints the best time of
//! each step over the repeats and the counts (which must not change).

use std::time::Instant;

use astrolab_formats::FitsFile;
use astrolab_voids::finder::{
    find_voids_timed, void_volume_fraction, with_threads, StageTimes, VoidFinderConfig,
};
use astrolab_voids::geometry::{comoving_distances_mpc_h, radec_z_to_comoving_xyz};
use astrolab_voids::mask::{Footprint, RaDecGrid, SurveyMask};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).cloned().unwrap_or_else(|| {
        let shared = std::env::var("ASTROLAB_SHARED_DATA").unwrap_or("../shared/data".into());
        format!("{shared}/voids/vollim_dr7_cbp_102709.fits")
    });
    let threads: usize = args.get(2).map_or(2, |s| s.parse().expect("THREADS"));
    let repeats: usize = args.get(3).map_or(3, |s| s.parse().expect("REPEATS"));
    let mut best: Vec<(&'static str, f64)> = Vec::new();
    let mut summary = String::new();
    for _ in 0..repeats {
        let mut times = StageTimes::default();
        let mut t = Instant::now();
        let lap = |name: &'static str, times: &mut StageTimes, t: &mut Instant| {
            times.stages.push((name, t.elapsed().as_secs_f64()));
            *t = Instant::now();
        };
        let fits = FitsFile::open(std::path::Path::new(&path)).expect("open catalog");
        let tab = fits.first_table().expect("table HDU");
        let ra = tab.read_f64("ra").expect("ra");
        let dec = tab.read_f64("dec").expect("dec");
        let z = tab.read_f64("z").expect("z");
        lap("FITS read", &mut times, &mut t);
        let omega_m = 0.26;
        let xyz = radec_z_to_comoving_xyz(&ra, &dec, &z, omega_m).expect("positions");
        let z_min = z.iter().copied().fold(f64::INFINITY, f64::min);
        let z_max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lim = comoving_distances_mpc_h(&[z_min, z_max], omega_m).expect("limits");
        lap("distances, xyz", &mut times, &mut t);
        let res = RaDecGrid::resolution_for(lim[1], 10.0);
        let grid = RaDecGrid::from_galaxies(&ra, &dec, res, true).expect("mask");
        let mask = SurveyMask::sky(Footprint::RaDec(grid), lim[0], lim[1]).expect("mask");
        lap("RA/Dec mask", &mut times, &mut t);
        let mut cfg = VoidFinderConfig::default();
        if let Ok(v) = std::env::var("VOIDS_SEARCH_CELL") {
            // Experiments with the speed knob (the result must not change).
            cfg.search_cell_mpc_h = v.parse().expect("VOIDS_SEARCH_CELL");
        }
        let (out, inner, vol) = with_threads(Some(threads), || {
            let mut inner = StageTimes::default();
            let out = find_voids_timed(&xyz, &mask, &cfg, &mut inner).expect("VoidFinder");
            let t = Instant::now();
            let vol = void_volume_fraction(&out.holes, &mask, 2.0);
            inner
                .stages
                .push(("void volume (2 Mpc/h)", t.elapsed().as_secs_f64()));
            (out, inner, vol)
        })
        .expect("threads");
        times.stages.extend(inner.stages);
        let total: f64 = times.stages.iter().map(|s| s.1).sum();
        times
            .stages
            .push(("total (without process start, output)", total));
        if best.is_empty() {
            best = times.stages.clone();
        } else {
            for (b, s) in best.iter_mut().zip(&times.stages) {
                b.1 = b.1.min(s.1);
            }
        }
        summary = format!(
            "{} wall, {} field; {:?}; {} voids, {} holes; void fraction {:.4}",
            out.wall_xyz.len(),
            out.field_xyz.len(),
            out.counts,
            out.maximals.len(),
            out.holes.len(),
            vol.1
        );
    }
    println!("{path}, {threads} threads, best of {repeats}:");
    for (name, s) in &best {
        println!("  {name:<40} {:8.1} ms", 1e3 * s);
    }
    println!("{summary}");
}
