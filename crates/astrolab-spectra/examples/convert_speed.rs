//! Conversion speed on the real DESI coadds: MB/s of FITS read, merged and
//! written as spectra Parquet (input bytes / wall time), repeated N times.
//!
//! ```text
//! cargo run --release -p astrolab-spectra --example convert_speed -- [N] [DATA_DIR]
//! ```
//! N defaults to 20; DATA_DIR to `$ASTROLAB_SHARED_DATA/desi` (or the
//! `../shared/data/desi` found from the workspace). Single-threaded: one file
//! at a time, as one worker of a parallel run would.

use std::path::{Path, PathBuf};
use std::time::Instant;

use astrolab_spectra::{convert_coadd_counted, write_spectra_file};

/// (coadd, redrock) pairs of the shared data.
const CASES: [(&str, Option<&str>); 3] = [
    (
        "coadd-special-dark-27247.fits",
        Some("redrock-special-dark-27247.fits"),
    ),
    (
        "coadd-4-80613-thru20210324.fits",
        Some("redrock-4-80613-thru20210324.fits"),
    ),
    ("coadd-sv3-dark-26065.fits", None),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("N must be a count, not '{s}'"))?,
        None => 20,
    };
    let data = match args.next() {
        Some(d) => PathBuf::from(d),
        None => astrolab_formats::testdata::shared_data_dir()
            .ok_or("shared data not found: set ASTROLAB_SHARED_DATA or pass DATA_DIR")?
            .join("desi"),
    };
    let out_dir = tempfile::tempdir()?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len());

    let (mut in_bytes, mut out_bytes, mut spectra) = (0u64, 0u64, 0usize);
    let start = Instant::now();
    for i in 0..n {
        for (coadd, redrock) in CASES {
            let coadd = data.join(coadd);
            let redrock = redrock.map(|r| data.join(r));
            in_bytes += size(&coadd)? + redrock.as_deref().map(size).transpose()?.unwrap_or(0);
            let (meta, rows, counts) = convert_coadd_counted(&coadd, redrock.as_deref(), |_| true)?;
            let out = out_dir
                .path()
                .join(format!("{i}-{}.parquet", meta.healpix.unwrap_or(-1)));
            out_bytes += write_spectra_file(&out, &meta, &rows)?;
            spectra += counts.kept;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = in_bytes as f64 / 1e6;
    println!(
        "{n} x {} files: {mb:.1} MB of FITS in {secs:.3} s = {:.1} MB/s; \
         {spectra} spectra ({:.0}/s); Parquet out {:.1} MB ({:.1}% of input)",
        CASES.len(),
        mb / secs,
        spectra as f64 / secs,
        out_bytes as f64 / 1e6,
        100.0 * out_bytes as f64 / in_bytes as f64,
    );
    Ok(())
}
