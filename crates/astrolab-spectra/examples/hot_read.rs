//! Times the batch reads over hot copies:
//! `hot_read DIR [N] [PASSES] [MODE]` reads N random (file, row) pairs of
//! the `*.parquet` files in DIR (hot copies used where fresh), PASSES times,
//! each pass a new random draw (nothing read in one pass is reused by the
//! next), and prints spectra/s for each pass. Pass 0 is the first batch of a
//! fresh process. MODE:
//! - `into` (default): `read_many_into` refilling one `SpectraBatch`, as a
//!   pipeline loop does (from pass 1 on, no memory is allocated);
//! - `batch`: `read_batch`, a new `SpectraBatch` every pass (the previous
//!   one freed first);
//! - `many`: `read_many`, one `SpectraRow` (three `Vec`s) per spectrum.
//!
//! After each pass (untimed) every spectrum's TARGETID is checked against
//! its file's and 16 random spectra against `SpectraFile::read_rows`, bit
//! for bit; a mismatch is an error.

use std::path::{Path, PathBuf};
use std::time::Instant;

use astrolab_spectra::{read_batch, read_many, read_many_into, SpectraBatch, SpectraFile};

/// splitmix64, seeded: the same picks every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: hot_read DIR [N] [PASSES] [into|batch|many]";
    let dir = PathBuf::from(args.first().ok_or(usage)?);
    let n: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let passes: usize = args.get(2).map_or(Ok(4), |s| s.parse())?;
    let mode = args.get(3).map_or("into", String::as_str);
    if !["into", "batch", "many"].contains(&mode) {
        return Err(usage.into());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let opened: Vec<SpectraFile> = files
        .iter()
        .map(|f| SpectraFile::open(f))
        .collect::<Result<_, _>>()?;
    let ids: Vec<Vec<i64>> = opened
        .iter()
        .map(|f| f.target_ids())
        .collect::<Result<_, _>>()?;
    let mut rng = Rng(7);
    let mut batch = SpectraBatch::new();
    println!(
        "hot_read: {} files, mode {mode}, {} threads, load average {}",
        files.len(),
        rayon::current_num_threads(),
        loadavg()
    );
    for pass in 0..passes {
        let picks: Vec<(usize, usize)> = (0..n)
            .map(|_| {
                let f = (rng.next() % files.len() as u64) as usize;
                (f, (rng.next() % ids[f].len() as u64) as usize)
            })
            .collect();
        let wanted: Vec<(&Path, usize)> = picks
            .iter()
            .map(|&(f, r)| (files[f].as_path(), r))
            .collect();
        let t = Instant::now();
        let (got_ids, check): (Vec<i64>, Vec<_>) = match mode {
            "many" => {
                let got = read_many(&wanted)?;
                let s = t.elapsed();
                let ids = got.iter().map(|r| r.target_id).collect();
                let rows = (0..16).map(|k| got[k * n / 16].clone()).collect();
                report(pass, n, s.as_secs_f64());
                (ids, rows)
            }
            _ => {
                if mode == "batch" {
                    drop(std::mem::take(&mut batch));
                    batch = read_batch(&wanted)?;
                } else {
                    read_many_into(&wanted, &mut batch)?;
                }
                let s = t.elapsed();
                report(pass, n, s.as_secs_f64());
                let rows = (0..16)
                    .map(|k| batch.get(k * n / 16).expect("in range").to_row())
                    .collect();
                (batch.target_ids().to_vec(), rows)
            }
        };
        for (&(f, r), &t) in picks.iter().zip(&got_ids) {
            if ids[f][r] != t {
                return Err(format!(
                    "{}: row {r} read as {t}, is {}",
                    files[f].display(),
                    ids[f][r]
                )
                .into());
            }
        }
        for (k, row) in check.iter().enumerate() {
            let (f, r) = picks[k * n / 16];
            let want = &opened[f].read_rows(&[r])?[0];
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            if bits(&row.flux) != bits(&want.flux)
                || bits(&row.ivar) != bits(&want.ivar)
                || row.mask != want.mask
                || row.z.to_bits() != want.z.to_bits()
            {
                return Err(format!(
                    "{}: row {r} differs from the Parquet read",
                    files[f].display()
                )
                .into());
            }
        }
    }
    Ok(())
}

fn report(pass: usize, n: usize, s: f64) {
    println!(
        "pass {pass}: {n} spectra in {s:.3} s = {:.0} spectra/s (load average {})",
        n as f64 / s,
        loadavg()
    );
}
