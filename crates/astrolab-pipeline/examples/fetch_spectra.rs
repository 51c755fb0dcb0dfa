//! Times reading a batch of spectra by TARGETID from a spectral store, the
//! Rust side of `bench/python_spectra.sh` (issue 18: the Python package
//! within 1.2x of the Rust batch reader).
//!
//! ```text
//! fetch_spectra HOME IDS_FILE REPEATS
//! ```
//! IDS_FILE holds one TARGETID per line. Two readers, each once to warm up
//! then REPEATS times (median printed, seconds):
//! - `fetch`: `astrolab_pipeline::spectra::fetch_spectra` (one index query,
//!   one batched read per file, one owned row per spectrum): what the
//!   Python package's `Store.spectra` calls;
//! - `batch`: `locate_spectra` + `astrolab_spectra::read_many_into` into
//!   one flat `SpectraBatch` (the pipelines' batch reader).

use std::path::Path;
use std::time::Instant;

use astrolab_store::{Store, StoreConfig};

type R<T> = Result<T, Box<dyn std::error::Error>>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> R<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [home, ids_file, repeats] = args.as_slice() else {
        return Err("usage: fetch_spectra HOME IDS_FILE REPEATS".into());
    };
    let repeats: usize = repeats.parse()?;
    let ids: Vec<i64> = std::fs::read_to_string(ids_file)?
        .lines()
        .map(|l| l.trim().parse())
        .collect::<Result<_, _>>()?;
    let mut store = Store::open(&StoreConfig::sqlite(home))?;
    let mut fetch = Vec::new();
    let mut pixels = 0usize;
    for pass in 0..=repeats {
        let t0 = Instant::now();
        let got = astrolab_pipeline::spectra::fetch_spectra(&mut store, &ids)?;
        let dt = t0.elapsed().as_secs_f64();
        if got.len() != ids.len() {
            return Err(format!("{} spectra for {} TARGETIDs", got.len(), ids.len()).into());
        }
        pixels = got.iter().map(|f| f.row.flux.len()).sum();
        if pass > 0 {
            fetch.push(dt);
        }
    }
    let mut batch = Vec::new();
    let mut into = astrolab_spectra::SpectraBatch::new();
    for pass in 0..=repeats {
        let t0 = Instant::now();
        let locs = store.locate_spectra(&ids)?;
        let wanted: Vec<(&Path, usize)> =
            locs.iter().map(|l| (Path::new(&l.path), l.row)).collect();
        astrolab_spectra::read_many_into(&wanted, &mut into)?;
        let dt = t0.elapsed().as_secs_f64();
        if into.len() != ids.len() {
            return Err(format!("{} spectra for {} TARGETIDs", into.len(), ids.len()).into());
        }
        if pass > 0 {
            batch.push(dt);
        }
    }
    println!(
        "fetch {:.4} batch {:.4} spectra {} pixels {}",
        median(fetch),
        median(batch),
        ids.len(),
        pixels
    );
    Ok(())
}
