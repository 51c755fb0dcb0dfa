//! VoidFinder in a periodic box: the Gadget N-body sample of VAST's
//! examples (7,660 galaxies in 100 Mpc/h, no mask), written in VAST's
//! layout and opened with astropy.

mod voidfinder_common;

use std::path::Path;
use std::process::Command;

use astrolab_formats::testdata::require_shared_data;
use astrolab_formats::vast::{
    read_vast_voidfinder, write_vast_voidfinder, VastHeader, VastHole, VastMaximal, VastVoidFinder,
};
use astrolab_voids::finder::{find_voids, void_volume_fraction, VoidFinderConfig};
use astrolab_voids::mask::SurveyMask;
use voidfinder_common::{assert_four_on_surface_none_inside, radius_summary};

fn read_xyz(path: &Path) -> Vec<[f64; 3]> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|s| s.parse().unwrap()).collect();
            [v[0], v[1], v[2]]
        })
        .collect()
}

#[test]
fn voidfinder_box_gadget_periodic() {
    let Some(dir) = require_shared_data("voidfinder_box_gadget_periodic") else {
        return;
    };
    let xyz = read_xyz(&dir.join("voids/gadget_sim_100_256_wall.dat"));
    assert_eq!(xyz.len(), 7660);
    let mask = SurveyMask::periodic_cube(-50.0, 100.0).unwrap();
    let out = find_voids(&xyz, &mask, &VoidFinderConfig::default()).unwrap();
    let (vol, frac) = void_volume_fraction(&out.holes, &mask, 0.5);
    let (rmin, rmed, rmax) = radius_summary(&out);
    eprintln!(
        "Gadget box: {} wall, {} field; {:?}; {} voids, {} holes; radius {rmin:.2}/{rmed:.2}/{rmax:.2}; void volume {vol:.4e} = {frac:.3}",
        out.wall_xyz.len(),
        out.field_xyz.len(),
        out.counts,
        out.maximals.len(),
        out.holes.len()
    );
    // Mean separation (1e6 / 7660)^(1/3) = 5.1 Mpc/h: voids of 10-25 Mpc/h.
    // The run is deterministic: counts exact, radii and the volume
    // fraction to the printed precision (the volume is a count of 0.5^3
    // cells, exact).
    assert_eq!((out.wall_xyz.len(), out.field_xyz.len()), (6911, 749));
    assert_eq!((out.maximals.len(), out.holes.len()), (74, 2241));
    assert_eq!(
        format!("{rmin:.6} {rmed:.6} {rmax:.6}"),
        "10.066661 13.310603 19.931484"
    );
    assert_eq!(vol, 853_655.125);
    assert_eq!(format!("{frac:.9}"), "0.853655125");
    // No hole is cut in a periodic box, and every seed grows a hole.
    assert_eq!(out.counts.cut_by_mask, 0);
    assert_eq!(out.counts.grown, out.counts.empty_cells);
    let density = out.wall_xyz.len() as f64 / 1e6;
    let check = assert_four_on_surface_none_inside(&out, Some(100.0), density);
    eprintln!("{check:?}");
    // No fifth galaxy within 1e-6 R of any surface (0.39 expected by chance).
    assert_eq!(check.fifth_within_1e6, 0, "{check:?}");
    // Same result with one thread.
    let one = astrolab_voids::finder::with_threads(Some(1), || {
        find_voids(&xyz, &mask, &VoidFinderConfig::default())
    })
    .unwrap()
    .unwrap();
    assert_eq!(one, out);

    // VAST's layout, read back by us and, when available, by astropy.
    let path = std::env::temp_dir().join(format!("astrolab-vf-box-{}.fits", std::process::id()));
    let file = VastVoidFinder {
        header: VastHeader {
            infile: Some("gadget_sim_100_256_wall.dat".into()),
            voids: Some(out.maximals.len() as i64),
            ..VastHeader::default()
        },
        mask: None,
        wall_xyz: out.wall_xyz.clone(),
        field_xyz: out.field_xyz.clone(),
        maximals: out
            .maximals
            .iter()
            .map(|m| {
                let (ra, dec, r) = astrolab_voids::geometry::xyz_to_radec_r(m.center_mpc_h);
                VastMaximal {
                    center_mpc_h: m.center_mpc_h,
                    radius_mpc_h: m.radius_mpc_h,
                    void: m.void_id as i64,
                    edge: m.edge,
                    r_mpc_h: r,
                    ra_deg: ra,
                    dec_deg: dec,
                }
            })
            .collect(),
        holes: out
            .holes
            .iter()
            .map(|h| VastHole {
                center_mpc_h: h.center_mpc_h,
                radius_mpc_h: h.radius_mpc_h,
                void: h.void_id as i64,
            })
            .collect(),
    };
    write_vast_voidfinder(&path, &file).unwrap();
    assert_eq!(read_vast_voidfinder(&path).unwrap(), file);
    check_with_astropy(
        &path,
        out.maximals.len(),
        out.holes.len(),
        out.wall_xyz.len(),
    );
    let _ = std::fs::remove_file(&path);
}

/// Opens the file with astropy (python from $VAST_PYTHON or python3) and
/// checks HDU names, columns and counts. Skipped without astropy, except
/// under CI where scripts/test installs it.
fn check_with_astropy(path: &Path, n_voids: usize, n_holes: usize, n_wall: usize) {
    let python = std::env::var("VAST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_astropy = Command::new(&python)
        .args(["-c", "import astropy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_astropy {
        assert!(std::env::var_os("CI").is_none(), "CI: astropy is required");
        eprintln!("skipping the astropy check: no astropy for {python}");
        return;
    }
    let script = format!(
        r#"
from astropy.io import fits
from astropy.table import Table
h = fits.open(r"{p}")
assert [x.name for x in h] == ["PRIMARY", "WALL", "FIELD", "MAXIMALS", "HOLES"], [x.name for x in h]
m = Table(h["MAXIMALS"].data); o = Table(h["HOLES"].data)
assert m.colnames == ["X", "Y", "Z", "RADIUS", "VOID", "EDGE", "R", "RA", "DEC"], m.colnames
assert o.colnames == ["X", "Y", "Z", "RADIUS", "VOID"], o.colnames
assert len(m) == {nv} and len(o) == {nh} and len(h["WALL"].data) == {nw}
assert h["HOLES"].header["HOLE"] == {nh} and h["MAXIMALS"].header["VOID"] == {nv}
assert h["PRIMARY"].header["VOID"] == {nv}
assert h["MAXIMALS"].columns["RADIUS"].unit == "Mpc/h"
assert set(o["VOID"]) == set(range({nv}))
print("astropy ok")
"#,
        p = path.display(),
        nv = n_voids,
        nh = n_holes,
        nw = n_wall
    );
    let out = Command::new(&python)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "astropy check failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
