//! The SDSS DR7 volume-limited VoidFinder input, whose table has no EXTNAME.
//! Expected values came from astropy 8.0.2
//! `fits.getdata('voids/vollim_dr7_cbp_102709.fits', 1)`.

use astrolab_formats::testdata::require_shared_data;
use astrolab_formats::{FitsFile, HduKind};

#[test]
fn vollim_dr7_matches_astropy() {
    let Some(dir) = require_shared_data("vollim_dr7_matches_astropy") else {
        return;
    };
    let f = FitsFile::open(&dir.join("voids/vollim_dr7_cbp_102709.fits")).unwrap();
    assert_eq!(f.hdus().len(), 2);
    let h = &f.hdus()[1];
    assert_eq!(
        (h.kind, h.extname.as_deref(), h.name()),
        (HduKind::BinTable, None, "HDU 1".into())
    );
    assert_eq!(h.shape(), [120606, 16]);

    // No EXTNAME: reachable by index or as the first table, not by name.
    assert!(!f.has_hdu("HDU 1"));
    let t = f.table_at(1).unwrap();
    assert_eq!(f.first_table().unwrap().hdu().index, 1);
    assert_eq!(t.nrows(), 120_606);
    let names: Vec<&str> = t.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["z", "ra", "dec", "weight"]);
    assert!(t.columns().iter().all(|c| c.code == 'E' && c.repeat == 1));

    let z = t.read_f64("Z").unwrap(); // column names are case-insensitive
    let ra = t.read_f64("ra").unwrap();
    let dec = t.read_f32("dec").unwrap();
    let w = t.read_f64("weight").unwrap();
    let last = 120_605;
    // float32 values widened exactly to f64, as astropy's float(...) prints them.
    assert_eq!(
        (z[0], ra[0], dec[0] as f64, w[0]),
        (
            0.07735200226306915,
            171.59214782714844,
            -1.0544389486312866,
            1.0
        )
    );
    assert_eq!(
        (z[1], ra[1], dec[1] as f64),
        (0.07771000266075134, 174.53622436523438, -1.0511740446090698)
    );
    assert_eq!(
        (z[60000], ra[60000], dec[60000] as f64),
        (0.10193999856710434, 194.5335235595703, 41.40728759765625)
    );
    assert_eq!(
        (z[last], ra[last], dec[last] as f64, w[last]),
        (
            0.031821999698877335,
            241.1950225830078,
            24.278888702392578,
            1.0
        )
    );
    // Column sums (numpy float64) check every row, not just the spot checks.
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    assert!((sum(&z) - 9595.144048008537).abs() < 1e-8);
    assert!((sum(&ra) - 22494368.135528564).abs() < 1e-5);
    assert!((dec.iter().map(|&x| x as f64).sum::<f64>() - 3087029.663341766).abs() < 1e-5);
    assert_eq!(sum(&w), 120606.0);
}
