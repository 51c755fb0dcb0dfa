//! Where a spectra file's read time goes (issue 3 access benchmark): for
//! one file, times `open`, `read_all`, `read_rows` of 1 row and of K rows
//! spread over the file (default 48, what a 10 k batch from 100 k spectra
//! asks of a 500-spectra file).
//!
//! ```text
//! cargo run --release -p astrolab-spectra --example read_profile -- FILE.parquet [K]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use astrolab_spectra::SpectraFile;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or("usage: read_profile FILE [K]")?);
    let k: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(48);
    let _ = std::fs::read(&path)?; // page cache warm
    let t = Instant::now();
    let f = SpectraFile::open(&path)?;
    let t_open = t.elapsed().as_secs_f64() * 1e3;
    let n = f.len();
    let time = |rows: &[usize]| -> Result<f64, Box<dyn std::error::Error>> {
        let t = Instant::now();
        let r = f.read_rows(rows)?;
        assert_eq!(r.len(), rows.len());
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let one = time(&[n / 2])?;
    let spread: Vec<usize> = (0..k).map(|i| i * n / k).collect();
    let kk = time(&spread)?;
    let contiguous: Vec<usize> = (0..k.min(n)).collect();
    let kc = time(&contiguous)?;
    let t = Instant::now();
    let all = f.read_all()?;
    let t_all = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "{n} spectra: open {t_open:.2} ms; read_rows 1 row {one:.2} ms; {k} spread rows {kk:.2} ms; \
         {k} contiguous rows {kc:.2} ms; read_all {t_all:.2} ms ({} rows, {:.0} spectra/s)",
        all.len(),
        all.len() as f64 / (t_all / 1e3)
    );
    Ok(())
}
