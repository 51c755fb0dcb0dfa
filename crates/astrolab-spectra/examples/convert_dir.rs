//! Conversion speed over every `coadd-*.fits` of a directory (issue 3
//! benchmark 1, `bench/spectra_convert.sh`): each coadd read, its arms
//! merged and written as one spectra Parquet file, one file after the other
//! on one thread (as one worker of a parallel run would). Prints MB of FITS
//! per second of wall time (input bytes / wall time), in the same shape as
//! `bench/peer_convert_spectra.py`.
//!
//! ```text
//! cargo run --release -p astrolab-spectra --example convert_dir -- DATA_DIR [OUT_DIR] [REPEAT]
//! ```
//! Without OUT_DIR (or with an empty one) the files go to a temporary
//! directory that is removed at the end. Without redrock files every
//! spectrum is kept with z = NaN.

use std::path::PathBuf;
use std::time::Instant;

use astrolab_spectra::{convert_coadd_counted, write_spectra_file};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(
        args.next()
            .ok_or("usage: convert_dir DATA_DIR [OUT_DIR] [REPEAT]")?,
    );
    let out_arg = args.next().filter(|s| !s.is_empty());
    let repeat: usize = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("REPEAT must be a count, not '{s}'"))?,
        None => 1,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&data)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("coadd-") && n.ends_with(".fits"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no coadd-*.fits in {}", data.display()).into());
    }
    let tmp = tempfile::tempdir()?;
    let out_dir = match &out_arg {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            PathBuf::from(d)
        }
        None => tmp.path().to_path_buf(),
    };

    let (mut in_bytes, mut out_bytes, mut spectra) = (0u64, 0u64, 0usize);
    let start = Instant::now();
    for i in 0..repeat {
        for coadd in &files {
            in_bytes += std::fs::metadata(coadd)?.len();
            let (meta, rows, counts) = convert_coadd_counted(coadd, None, |_| true)?;
            let stem = coadd
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("coadd");
            let out = out_dir.join(format!("{i}-{stem}.parquet"));
            out_bytes += write_spectra_file(&out, &meta, &rows)?;
            spectra += counts.kept;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = in_bytes as f64 / 1e6;
    println!(
        "{repeat} x {} files: {mb:.1} MB of FITS in {secs:.3} s = {:.1} MB/s; \
         {spectra} spectra ({:.0}/s); Parquet out {:.1} MB ({:.1}% of input)",
        files.len(),
        mb / secs,
        spectra as f64 / secs,
        out_bytes as f64 / 1e6,
        100.0 * out_bytes as f64 / in_bytes as f64,
    );
    Ok(())
}
