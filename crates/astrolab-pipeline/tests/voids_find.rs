//! `voids find` as a pipeline on the lab's real test data, pinned to the
//! exact figures the finder reaches (it is deterministic: same input,
//! same bytes, on any thread count).
//!
//! * SDSS DR7 volume-limited (vollim_dr7_cbp_102709) in VAST's own
//!   configuration: Omega_m = 0.26, h = 1, distances up to 301.27 Mpc/h.
//! * VAST's Gadget periodic box (100 Mpc/h, no mask).

use std::sync::Arc;

use astrolab_formats::testdata::require_shared_data;
use astrolab_formats::vast::read_vast_voidfinder;
use astrolab_pipeline::context::Collect;
use astrolab_pipeline::params::defs::FindArgs;
use astrolab_pipeline::params::parse_json;
use astrolab_pipeline::voids::{Find, FindOutput};
use astrolab_pipeline::{run_in_process, Ctx};
use serde_json::{json, Value};

fn find(params: Value) -> (FindOutput, String) {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(Collect::default());
    let ctx = Ctx::new(
        astrolab_store::StoreConfig::sqlite(home.path()),
        sink.clone(),
    );
    let args: FindArgs = parse_json(&params).unwrap();
    let out = run_in_process(&Find, &ctx, &args).unwrap();
    (out, sink.text())
}

#[test]
fn dr7_in_vast_configuration_counts_exactly() {
    let Some(dir) = require_shared_data("voids find DR7") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("dr7.fits");
    let (out, log) = find(json!({
        "catalog": dir.join("voids/vollim_dr7_cbp_102709.fits"),
        "omega_m": 0.26,
        "max_dist": 301.27,
        "output": output,
    }));
    // VAST's filter_galaxies: 13124 of the 120606 galaxies lie beyond
    // 301.27 Mpc/h (or below the lowest redshift's distance).
    assert!(
        log.contains("13124 galaxies outside [0.30, 301.27] Mpc/h dropped"),
        "{log}"
    );
    assert_eq!(
        (out.galaxies, out.wall, out.field, out.duplicates),
        (107_482, 98_415, 9_067, 0)
    );
    assert_eq!((out.dropped_radial, out.outside_footprint), (13_124, 0));
    assert_eq!((out.voids, out.holes), (896, 29_477));
    // The void volume is a count of 2^3 (Mpc/h)^3 grid cells: exact.
    assert_eq!(out.void_volume_mpc3_h3, 13_417_192.0);
    assert_eq!(format!("{:.6}", out.void_fraction), "0.663148");
    assert_eq!(format!("{:.3}", out.survey_volume_mpc3_h3), "20232566.443");
    // The file holds what the run reports, and no thread count.
    let file = read_vast_voidfinder(&output).unwrap();
    assert_eq!((file.maximals.len(), file.holes.len()), (896, 29_477));
    assert_eq!((file.wall_xyz.len(), file.field_xyz.len()), (98_415, 9_067));
    assert_eq!(file.header.omega_m, Some(0.26));
    assert_eq!(file.header.dist_limits_mpc_h.map(|d| d.1), Some(301.27));
    assert_eq!(file.header.cpus, None);
}

#[test]
fn gadget_box_counts_exactly() {
    let Some(dir) = require_shared_data("voids find box") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("box.fits");
    let (out, log) = find(json!({
        "catalog": dir.join("voids/gadget_sim_100_256_wall.dat"),
        "box_size": 100.0,
        "output": output,
    }));
    assert!(log.contains("voids: 74 (0 at the survey edge)"), "{log}");
    assert_eq!(
        (out.galaxies, out.wall, out.field, out.duplicates),
        (7_660, 6_911, 749, 0)
    );
    assert_eq!((out.voids, out.holes), (74, 2_241));
    assert_eq!(out.void_volume_mpc3_h3, 853_632.0);
    assert_eq!(out.void_fraction, 0.853632);
    assert_eq!(out.survey_volume_mpc3_h3, 1e6);
    // The same bytes on one thread.
    let again = tmp.path().join("box1.fits");
    find(json!({
        "catalog": dir.join("voids/gadget_sim_100_256_wall.dat"),
        "box_size": 100.0,
        "threads": 1,
        "output": again,
    }));
    assert!(std::fs::read(&output).unwrap() == std::fs::read(&again).unwrap());
}
