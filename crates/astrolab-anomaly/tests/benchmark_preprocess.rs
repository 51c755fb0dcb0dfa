//! The anomaly benchmark of astrolab-demo through preprocessing, as the
//! user path runs it: DESI coadd and redrock files in, a [`Dataset`] out,
//! every quasar kept, and an injected rarity visible in the rest frame.

use std::collections::BTreeMap;

use astrolab_anomaly::preprocess::{Observed, Preprocessor, Segment, REST_DLOGLAM, REST_LOGLAM0};
use astrolab_demo::{generate_sky, DemoConfig};
use astrolab_formats::spectra::{read_desi_coadd, read_redrock};
use astrolab_formats::testdata::require_shared_data;

#[test]
fn benchmark_files_become_a_dataset() {
    let Some(shared) = require_shared_data("benchmark_files_become_a_dataset") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = DemoConfig::anomaly_benchmark(300, 0.2, 9);
    cfg.spectra.templates_dir = Some(shared.join("templates"));
    let summary = generate_sky(dir.path(), &cfg).unwrap();
    let coadds: Vec<_> = summary
        .files
        .iter()
        .filter(|f| f.kind == "coadd")
        .map(|f| f.path.clone())
        .collect();
    let files: Vec<_> = coadds
        .iter()
        .map(|c| {
            let name = c.file_name().unwrap().to_str().unwrap();
            let rr = c.with_file_name(name.replacen("coadd", "redrock", 1));
            (read_desi_coadd(c).unwrap(), read_redrock(&rr).unwrap())
        })
        .collect();
    let mut inputs = Vec::new();
    for (coadd, rr) in &files {
        for (row, &tid) in coadd.fibermap.targetid.iter().enumerate() {
            let segments = coadd
                .arms
                .iter()
                .map(|a| {
                    let span = row * a.npix..(row + 1) * a.npix;
                    Segment {
                        wavelength_a: &a.wavelength,
                        flux: &a.flux[span.clone()],
                        ivar: &a.ivar[span.clone()],
                        mask: &a.mask[span],
                    }
                })
                .collect();
            assert_eq!(rr.targetid[row], tid);
            inputs.push(Observed {
                id: tid,
                z: rr.z[row],
                segments,
            });
        }
    }
    let z_of: BTreeMap<i64, f64> = inputs.iter().map(|o| (o.id, o.z)).collect();
    let batch = Preprocessor::default().dataset(inputs);
    assert!(batch.skipped.is_empty(), "{:?}", batch.skipped);
    assert_eq!(batch.dataset.n(), 300);
    // Every quasar covers about 870 rest pixels less the sky windows and
    // its few masked pixels.
    for i in 0..batch.dataset.n() {
        let valid = batch.dataset.row(i).1.iter().filter(|&&v| v > 0.0).count();
        assert!(
            (800..=873).contains(&valid),
            "{}: {valid}",
            batch.dataset.ids[i]
        );
    }
    // A DLA of the truth table: black at its Ly-alpha in the rest frame.
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("spectra_truth.json")).unwrap())
            .unwrap();
    let mut n_dla = 0;
    for r in truth["rarities"].as_array().unwrap() {
        if r["kind"] != "narrow_absorber" || r["system"] != "DLA" {
            continue;
        }
        let tid = r["targetid"].as_i64().unwrap();
        let obs = r["lines"][0]["observed_wavelength_a"].as_f64().unwrap();
        let rest = obs / (1.0 + z_of[&tid]);
        let k = ((rest.log10() - REST_LOGLAM0) / REST_DLOGLAM).round() as usize;
        let i = batch.dataset.ids.iter().position(|&t| t == tid).unwrap();
        let (flux, ivar) = batch.dataset.row(i);
        // The core pixel and its neighbours: flux consistent with 0.
        for j in k - 1..=k + 1 {
            assert!(ivar[j] > 0.0);
            let pull = f64::from(flux[j]) * f64::from(ivar[j]).sqrt();
            assert!(
                pull.abs() < 5.0,
                "{tid} pixel {j}: flux {} ivar {}",
                flux[j],
                ivar[j]
            );
        }
        n_dla += 1;
    }
    assert_eq!(n_dla, 2);
}
