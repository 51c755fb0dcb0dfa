//! LSR corrections against astropy on a grid of times, sites and positions
//! (fixture written by bench/hline_lsr_reference.py): |delta v| < 0.01 km/s.

use astrolab_hline::velocity::{
    barycentric_correction_km_s, lsr_correction_km_s, LsrDefinition, Site, UtcTime,
};

#[test]
fn lsr_corrections_match_astropy_within_10_m_s() {
    let text = include_str!("fixtures/lsr_reference.csv");
    let mut worst = [0.0f64; 3];
    let mut n = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 10, "{line}");
        let num = |i: usize| f[i].parse::<f64>().unwrap();
        let t = UtcTime::parse_iso(f[0]).unwrap();
        let site = Site {
            lat_deg: num(2),
            lon_deg: num(3),
            height_m: num(4),
        };
        let (ra, dec) = (num(5), num(6));
        let bary = barycentric_correction_km_s(t, site, ra, dec).unwrap();
        let k = lsr_correction_km_s(t, site, ra, dec, LsrDefinition::Kinematic).unwrap();
        let d = lsr_correction_km_s(t, site, ra, dec, LsrDefinition::Schoenrich2010).unwrap();
        for (w, (ours, theirs)) in worst
            .iter_mut()
            .zip([(bary, num(7)), (k, num(8)), (d, num(9))])
        {
            let delta = (ours - theirs).abs();
            assert!(delta < 0.01, "{line}: ours {ours} astropy {theirs}");
            *w = w.max(delta);
        }
        n += 1;
    }
    assert_eq!(n, 126);
    eprintln!(
        "max |delta v| (km/s): barycentric {:.5}, LSRK {:.5}, LSR {:.5}",
        worst[0], worst[1], worst[2]
    );
}
