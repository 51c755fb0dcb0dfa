//! Speed of the BAL measurement (issue 19 target: >= 1000 spectra per
//! second per core): continuum with iterative masking, BI/AI of C IV and
//! Si IV, and AOD columns of C IV, on seeded synthetic BOSS-like quasars
//! (half with a C IV trough), one thread.
//!
//! ```text
//! cargo run --release -p astrolab-qso --example bal_speed [N]
//! ```
//! Needs `$ASTROLAB_SHARED_DATA/templates/PCA_Eigenvectors.fits`.

#[path = "../tests/bal_common/mod.rs"]
mod common;

use std::time::Instant;

use astrolab_qso::aod::{doublet_columns, CIV};
use astrolab_qso::bal::{measure, BalConfig, Spectrum};
use common::{BoxTrough, Generator};

fn main() {
    let n: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 2000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("bal_speed: the argument must be a number of spectra ({e})");
            std::process::exit(2);
        }
    };
    let Some(dir) = astrolab_formats::testdata::shared_data_dir() else {
        eprintln!("bal_speed: set ASTROLAB_SHARED_DATA to the shared data directory");
        std::process::exit(2);
    };
    let basis = common::pca_basis(&dir);
    let mut gen = Generator::new(2019);
    let spectra: Vec<_> = (0..n)
        .map(|i| {
            let z = gen.uniform(1.9, 3.5);
            let troughs = if i % 2 == 0 {
                vec![BoxTrough {
                    vmin_km_s: 6000.0,
                    vmax_km_s: 12_000.0,
                    residual: 0.4,
                }]
            } else {
                Vec::new()
            };
            gen.quasar(&basis, z, 15.0, &troughs, &[])
        })
        .collect();
    let config = BalConfig::default();
    let start = Instant::now();
    let (mut measured, mut bals, mut columns) = (0, 0, 0);
    for s in &spectra {
        let spec = Spectrum {
            wavelength_a: &s.wave,
            flux: &s.flux,
            ivar: &s.ivar,
        };
        let Ok(r) = measure(&spec, s.z, &basis, &config) else {
            continue;
        };
        measured += 1;
        bals += usize::from(r.row.bi_civ > 0.0);
        let k0 = r.first_pixel;
        let nf: Vec<f64> = (0..r.rest_wave_a.len())
            .map(|i| s.flux[k0 + i] / r.continuum.model[i])
            .collect();
        let ns: Vec<f64> = (0..r.rest_wave_a.len())
            .map(|i| 1.0 / (s.ivar[k0 + i].sqrt() * r.continuum.model[i]))
            .collect();
        if doublet_columns(&CIV, &r.rest_wave_a, &nf, &ns, -12_000.0, -6_000.0).is_ok() {
            columns += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} spectra ({} pixels each) in {secs:.3} s: {:.0} spectra/s on one core \
         ({measured} measured, {bals} with BI > 0, {columns} AOD columns)",
        spectra[0].wave.len(),
        n as f64 / secs
    );
}
