//! Speed of the BAL measurement of `outflows bal` on spectrum files, the
//! work alone (files read first, untimed): continuum with iterative trough
//! masking, BI/AI of C IV and Si IV, the strongest trough's apparent
//! columns, and the catalog row, one thread. What bench/bal_baltools.sh
//! sets beside baltools' `calcbalparams` time on the same spectra.
//!
//! ```text
//! cargo run --release -p astrolab-pipeline --example bal_files_speed -- \
//!     [--z Z] [--repeat 5] PATH... [--redshifts TABLE...]
//! ```
//! Prints `spectra N measured M seconds S rate R` (median of the repeats).

use std::path::PathBuf;
use std::time::Instant;

use astrolab_pipeline::anomalies::files::{list_spectrum_files, read_redshift_tables};
use astrolab_pipeline::outflows::bal::{bal_config, load_basis, measure_entry, read_file_spectra};

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let (mut z, mut tables, mut paths, mut repeat) = (None, Vec::new(), Vec::new(), 5usize);
    while let Some(a) = args.next() {
        if a == "--redshifts" {
            // As the CLI's flag: every following value up to the next flag.
            while let Some(t) = args.next_if(|t| !t.starts_with("--")) {
                tables.push(PathBuf::from(t));
            }
            continue;
        }
        let mut value = |flag: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        match a.as_str() {
            "--z" => z = Some(value("--z").parse::<f64>().expect("--z: a number")),
            "--repeat" => repeat = value("--repeat").parse().expect("--repeat: a count"),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let files = list_spectrum_files(&paths).expect("spectrum files");
    let redshifts = read_redshift_tables(&tables).expect("redshift tables");
    let spectra = read_file_spectra(&files, &redshifts, z).expect("reading the spectra");
    let (basis, _) = load_basis(None).expect("the built-in PCA basis");
    let config = bal_config();
    let mut times = Vec::new();
    let mut measured = 0;
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        measured = spectra
            .iter()
            .map(|f| {
                measure_entry(
                    &basis,
                    &config,
                    f.name.clone(),
                    f.target_id,
                    None,
                    f.z,
                    &f.spectrum(),
                )
            })
            .filter(|e| e.skip.is_none())
            .count();
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let t = times[times.len() / 2];
    println!(
        "spectra {} measured {measured} seconds {t:.6} rate {:.1}",
        spectra.len(),
        measured as f64 / t
    );
}
