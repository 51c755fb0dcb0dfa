//! Times `read_many` over hot copies: `hot_read DIR [N] [REPEATS]` reads N
//! random (file, row) pairs of the `*.parquet` files in DIR (hot copies used
//! where fresh) REPEATS times and prints spectra/s for each pass.

use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().ok_or("usage: hot_read DIR [N] [REPEATS]")?);
    let n: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let repeats: usize = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let rows: Vec<usize> = files
        .iter()
        .map(|f| astrolab_spectra::SpectraFile::open(f).map(|s| s.len()))
        .collect::<Result<_, _>>()?;
    // splitmix64, seeded: the same picks every run.
    let mut state = 7u64;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let wanted: Vec<(&Path, usize)> = (0..n)
        .map(|_| {
            let f = (next() % files.len() as u64) as usize;
            (files[f].as_path(), (next() % rows[f] as u64) as usize)
        })
        .collect();
    for pass in 0..repeats {
        let t = Instant::now();
        let got = astrolab_spectra::read_many(&wanted)?;
        let s = t.elapsed().as_secs_f64();
        let px: usize = got.iter().map(|r| r.flux.len()).sum();
        println!(
            "pass {pass}: {} spectra in {s:.3} s = {:.0} spectra/s ({px} pixels, {} threads)",
            got.len(),
            got.len() as f64 / s,
            rayon::current_num_threads()
        );
    }
    Ok(())
}
