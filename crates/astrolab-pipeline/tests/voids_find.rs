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
    eprintln!("{log}\n{out:?}");
    let file = read_vast_voidfinder(&output).unwrap();
    assert_eq!(out.voids, file.maximals.len());
    assert_eq!(out.holes, file.holes.len());
    panic!("pin");
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
    eprintln!("{log}\n{out:?}");
    panic!("pin");
}
