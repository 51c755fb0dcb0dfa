//! Time the quasar fit (`astrolab_qso::fit::spectrum::fit_spectrum`) per
//! spectrum on real SDSS files, the fit only (files read beforehand), on
//! one thread: `cargo run --release -p astrolab-qso --example qsofit_speed
//! -- FE_OPTICAL FE_UV MC FILE...` prints one line per file (name, z, ms,
//! [O III] core and wing velocity and FWHM, H-beta broad FWHM, log L5100)
//! as CSV and the median on stderr. The bench script `bench/qsofit_pyqsofit.sh`
//! runs it beside PyQSOFit on the same files. Lines: the built-in table's
//! H-beta/[O III] complex only, the benchmark of issue 20.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use astrolab_formats::spectra::read_sdss_spec;
use astrolab_qso::fit::conti::ContiSetup;
use astrolab_qso::fit::spectrum::{fit_spectrum, FitConfig, SpectrumIn};
use astrolab_qso::fit::template::BroadenedTemplate;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    assert!(args.len() >= 4, "usage: FE_OPTICAL FE_UV MC FILE...");
    let fe = |p: &str| Arc::new(BroadenedTemplate::read(Path::new(p), 1e15).expect("template"));
    let config = FitConfig {
        conti: ContiSetup {
            fe_op: Some(fe(&args[0])),
            fe_uv: Some(fe(&args[1])),
            balmer: true,
            ..ContiSetup::default()
        },
        mc: args[2].parse().expect("MC samples"),
        ..FitConfig::default()
    };
    // The benchmark: continuum + Fe II + the H-beta/[O III]
    // complex only (PyQSOFit's run in the bench fits the same).
    let mut config = config;
    config.lines.complex.retain(|c| c.name == "Hb");
    println!("FILE,Z,FIT_MS,OIII5007_CORE_V,OIII5007_CORE_FWHM,OIII5007_WING_V,OIII5007_WING_FWHM,HB_BROAD_FWHM,LOG_L5100,SKIP");
    let mut times = Vec::new();
    for path in &args[3..] {
        let s = read_sdss_spec(Path::new(path)).expect("SDSS spectrum");
        let flux: Vec<f64> = s.flux.iter().map(|&x| f64::from(x)).collect();
        // The pipeline also masks SDSS's bad-pixel bits; the coadd's ivar
        // is already 0 on most of them, and the timing is the same.
        let ivar: Vec<f64> = s.ivar.iter().map(|&v| f64::from(v)).collect();
        let z = s.z.unwrap_or(f64::NAN);
        let input = SpectrumIn {
            wave: &s.wavelength,
            flux: &flux,
            ivar: &ivar,
            z,
            sigma_inst_kms: Some(69.03),
            ebv: None,
            id: 1,
        };
        let t0 = Instant::now();
        let r = fit_spectrum(&input, &config);
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        let name = Path::new(path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        match r {
            Ok(f) => {
                times.push(ms);
                let m = &f.values;
                let line = |n: &str| m.lines.get(n).map_or(f64::NAN, |p| p.fwhm_kms);
                println!(
                    "{name},{z},{ms:.3},{:.2},{:.2},{:.2},{:.2},{:.2},{:.4},",
                    m.oiii_core_v,
                    line("OIII5007_CORE"),
                    m.oiii_wing_v,
                    line("OIII5007_WING"),
                    line("Hb_br"),
                    m.log_l5100
                );
            }
            Err(e) => println!(
                "{name},{z},{ms:.3},,,,,,,{}",
                e.to_string().replace(',', ";")
            ),
        }
    }
    times.sort_by(f64::total_cmp);
    if !times.is_empty() {
        eprintln!(
            "{} fitted, median {:.3} ms, p10 {:.3}, p90 {:.3} (mc {})",
            times.len(),
            times[times.len() / 2],
            times[times.len() / 10],
            times[times.len() * 9 / 10],
            config.mc
        );
    }
}
