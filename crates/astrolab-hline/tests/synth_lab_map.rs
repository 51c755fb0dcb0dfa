//! Realistic synthetic profiles from the LAB survey map shipped in the
//! shared data (astro-virgo's lab_map.txt), through the spectrometer.

use astrolab_formats::testdata::require_shared_data;
use astrolab_hline::linefind::{average_spectra, find_line, LineSearch};
use astrolab_hline::spectrometer::{channel_freq_hz, Spectrometer, SpectrometerConfig};
use astrolab_hline::synth::{generate, lab_components, LabMap, SynthConfig};

#[test]
fn lab_map_profiles_are_realistic_and_recovered() {
    let Some(data) = require_shared_data("lab_map_profiles_are_realistic_and_recovered") else {
        return;
    };
    let text = std::fs::read_to_string(data.join("hline/lab/lab_map.txt")).unwrap();
    let map = LabMap::parse(&text).unwrap();
    // The Galactic plane is far brighter than the poles (the reading of
    // the grid documented in synth.rs).
    let plane = map.column_1e21(30.0, 0.0);
    for (l, b) in [(0.0, 90.0), (0.0, -90.0), (120.0, 80.0), (250.0, -80.0)] {
        let pole = map.column_1e21(l, b);
        assert!(plane > 5.0 * pole, "plane {plane}, ({l}, {b}) {pole}");
    }
    assert!((0.3..20.0).contains(&plane), "{plane}");
    let comps = lab_components(&map, 30.0, 0.0);
    // Inner Galaxy, first quadrant: the disc component is at positive
    // velocity, the local one at 0; peaks of tens of K.
    assert!(
        comps[1].v_radio_km_s > 20.0 && comps[1].v_radio_km_s < 150.0,
        "{comps:?}"
    );
    assert!(
        comps.iter().all(|c| c.peak_k > 5.0 && c.peak_k < 300.0),
        "{comps:?}"
    );
    // Through the spectrometer (no RFI): the strongest line is found at the
    // local component's velocity.
    let mut synth = SynthConfig::lab_scenario(21, 2.4e6, 2.0);
    synth.carriers.clear();
    synth.bursts.clear();
    synth.dc_offset_rel = 0.0;
    synth.components = comps.clone();
    let n = 1024;
    let cfg = SpectrometerConfig::new(n, synth.sample_rate_hz, 0.25);
    let mut s = Spectrometer::new(cfg).unwrap();
    let mut ints = Vec::new();
    generate(&synth, |x| {
        s.push(x, &mut ints);
        Ok::<_, ()>(())
    })
    .unwrap();
    let spectra: Vec<f32> = ints.iter().flat_map(|i| i.power.iter().copied()).collect();
    let flags: Vec<u8> = ints.iter().flat_map(|i| i.flags.iter().copied()).collect();
    let frames: Vec<u64> = ints.iter().map(|i| i.n_frames as u64).collect();
    let (mean, _) = average_spectra(&spectra, &flags, &frames, n);
    let prof = find_line(
        &mean,
        |i| channel_freq_hz(i, n, synth.center_freq_hz, synth.sample_rate_hz),
        &LineSearch::default(),
    )
    .unwrap();
    let l = prof.line.expect("line");
    let strongest = comps
        .iter()
        .max_by(|a, b| a.peak_k.total_cmp(&b.peak_k))
        .unwrap();
    assert!(
        (l.v_radio_km_s - strongest.v_radio_km_s).abs() < 2.0,
        "{l:?} vs {strongest:?}"
    );
}
