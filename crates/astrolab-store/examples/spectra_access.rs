//! Spectrum-by-TARGETID access from a spectral store (issue 3 benchmark 2,
//! `bench/spectra_access.sh`).
//!
//! ```text
//! spectra_access build --home DIR [--files 200] [--per-file 500] [--threads 2]
//! spectra_access measure --home DIR [--lookups 1000] [--batch 10000] [--seed 7]
//!                        [--targets-out FILE] [--batch-out FILE]
//! spectra_access hot --home DIR
//! spectra_access batch-call --home DIR --batch-in FILE [--batch 10000] [--seed 7]
//! spectra_access touch-call --home DIR --batch-in FILE --mode mapped|copy
//!                           [--batch 10000] [--seed 7]
//! ```
//! `batch-call` times only `read_many_into` (as in `measure`) on the
//! TARGETIDs of FILE (`measure --batch-out`), in a fresh process.
//! `touch-call` times getting the batch of FILE and then touching every
//! value of it (per spectrum, the sum of flux * ivar over pixels with mask
//! 0, on rayon's pool), in a fresh process: `--mode mapped` through
//! `astrolab_spectra::map_many` (hot copies mapped, views into the page
//! cache, nothing copied), `--mode copy` through
//! `read_many_into` into a new `SpectraBatch`. A mapped batch costs little
//! to make and its page faults come at the first touch, so only
//! "make + touch" compares the two. Then 4 new random batches as in
//! `batch-call` (copy: into the same `SpectraBatch`; mapped: a new map set
//! each, the old one dropped first, untimed). Prints the total of the sums
//! (the same in both modes) and the process's minor page faults.
//! `hot` writes the hot copy (`astrolab_spectra::write_hot_copy`) of every
//! registered file; `measure` then also times the same batch through
//! `astrolab_spectra::read_many`, which reads hot copies when they are fresh.
//! `build` writes FILES spectra Parquet files of PER-FILE spectra each under
//! `DIR/spectra/` with `astrolab_spectra::write_spectra_file` and registers
//! them (absolute paths) in the SQLite store in DIR with
//! `Store::register_spectra_file`. The rows are synthetic but realistic in
//! size and compressibility: the merged spectra of the real coadds of the
//! shared data that have data (4; 7781 pixels) with Gaussian noise of each pixel's own sigma
//! added to the flux, and their real ivar and mask.
//!
//! `measure` first reads every registered file once (page cache warm: the
//! figures are cache-warm, not disk-bound), then:
//! - LOOKUPS single lookups of random TARGETIDs: `locate_spectra(&[t])`,
//!   `SpectraFile::open`, `read_rows(&[row])` (p50/p99 in ms);
//! - one batch of BATCH random TARGETIDs: one `locate_spectra`, then per
//!   file one `open` and one `read_rows` (spectra/s);
//! - the same batch through `astrolab_spectra::read_many` (hot copies);
//! - `astrolab_spectra::read_many_into`: the same batch into a new
//!   `SpectraBatch` (first), then 4 new random batches of BATCH TARGETIDs
//!   into the same batch (steady: median), each with its `locate_spectra`.
//!
//! The TARGETIDs of both are written to the `--targets-out` / `--batch-out`
//! files (one per line) so that the peer looks up the same ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use astrolab_formats::spectra::{read_desi_coadd, MERGED_DWAVE, MERGED_NPIX, MERGED_WAVE_MIN};
use astrolab_spectra::{
    map_many, read_many_into, write_spectra_file, FileMeta, SpectraBatch, SpectraFile, SpectraRow,
    SpectrumView,
};
use astrolab_store::{SpectraFileRecord, Store, StoreConfig};

type R<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One real merged spectrum: flux, ivar, mask.
type Template = (Vec<f32>, Vec<f32>, Vec<u32>);
/// A written file: path, metadata, index rows (target id, row, z), size.
type Written = (PathBuf, FileMeta, Vec<(i64, usize, f64)>, u64);

const TARGET_BASE: i64 = 39_628_000_000_000_000;

/// Batches timed after the first one for `read_many_into`'s steady state.
const STEADY_PASSES: usize = 4;

/// splitmix64: a small seeded generator, enough for noise and sampling.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Approximately N(0, 1): the sum of four uniforms, rescaled.
    fn normal(&mut self) -> f32 {
        let s = self.unit() + self.unit() + self.unit() + self.unit() - 2.0;
        (s * 3f64.sqrt()) as f32
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> R<T> {
    match arg(args, name) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| format!("{name}: not a number: {s}").into()),
    }
}

fn main() -> R<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let home = PathBuf::from(arg(&args, "--home").ok_or("--home DIR is required")?);
    match args.first().map(String::as_str) {
        Some("build") => build(
            &home,
            num(&args, "--files", 200)?,
            num(&args, "--per-file", 500)?,
            num(&args, "--threads", 2)?,
        ),
        Some("measure") => measure(
            &home,
            num(&args, "--lookups", 1000)?,
            num(&args, "--batch", 10_000)?,
            num(&args, "--seed", 7)?,
            arg(&args, "--targets-out"),
            arg(&args, "--batch-out"),
        ),
        Some("batch-call") => {
            // `read_many_into` alone, on the TARGETIDs of `measure`'s batch
            // (--batch-in, one per line), so that it can run unpinned.
            let (mut store, total, ids) = open_with_batch(&home, &args)?;
            let n = num(&args, "--batch", 10_000)?;
            println!(
                "{}",
                batch_call(&mut store, &ids, n, num(&args, "--seed", 7)?, total)?
            );
            Ok(())
        }
        Some("touch-call") => {
            let (mut store, total, ids) = open_with_batch(&home, &args)?;
            let mapped = match arg(&args, "--mode").as_deref() {
                Some("mapped") => true,
                Some("copy") => false,
                _ => return Err("--mode mapped|copy is required".into()),
            };
            let n = num(&args, "--batch", 10_000)?;
            let seed = num(&args, "--seed", 7)?;
            println!("{}", touch_call(&mut store, &ids, n, seed, total, mapped)?);
            Ok(())
        }
        Some("hot") => {
            let mut store = Store::open(&StoreConfig::sqlite(&home))?;
            let t = Instant::now();
            let files = store.spectra_files()?;
            let paths: Vec<PathBuf> = files.iter().map(|f| PathBuf::from(&f.path)).collect();
            use rayon::prelude::*;
            paths
                .par_iter()
                .map(|p| match astrolab_spectra::HotCopy::open_fresh(p) {
                    Ok(Some(_)) => Ok(()),
                    _ => astrolab_spectra::write_hot_copy(p).map(|_| ()),
                })
                .collect::<Result<Vec<()>, _>>()?;
            eprintln!(
                "hot copies of {} files in {:.1} s",
                paths.len(),
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        _ => Err(
            "usage: spectra_access (build|measure|hot|batch-call|touch-call) --home DIR ...".into(),
        ),
    }
}

/// The merged spectra of the real coadds in the shared data.
fn templates() -> R<Vec<Template>> {
    let dir = astrolab_formats::testdata::shared_data_dir()
        .ok_or("shared data not found: set ASTROLAB_SHARED_DATA")?
        .join("desi");
    let mut out = Vec::new();
    for name in [
        "coadd-sv3-dark-26065.fits",
        "coadd-special-dark-27247.fits",
        "coadd-4-80613-thru20210324.fits",
    ] {
        // Empty fibers (ivar 0 everywhere: 3 of the sv3 file's 5) are skipped.
        for m in read_desi_coadd(&dir.join(name))?.merged_all()? {
            if m.ivar.iter().filter(|&&v| v > 0.0).count() > m.ivar.len() / 2 {
                out.push((m.flux, m.ivar, m.mask));
            }
        }
    }
    Ok(out)
}

fn build(home: &Path, files: usize, per_file: usize, threads: usize) -> R<()> {
    let start = Instant::now();
    let tpl = templates()?;
    let dir = home.join("spectra");
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let threads = threads.max(1);
    // Files are written in parallel (independent), registered one by one.
    let written: Vec<R<Vec<Written>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (tpl, dir) = (&tpl, &dir);
                s.spawn(move || -> R<Vec<_>> {
                    let mut done = Vec::new();
                    for f in (t..files).step_by(threads) {
                        let mut rng = Rng(0x5eed ^ (f as u64) << 20);
                        let rows: Vec<SpectraRow> = (0..per_file)
                            .map(|i| {
                                let (flux, ivar, mask) = &tpl[(f * per_file + i) % tpl.len()];
                                let flux = flux
                                    .iter()
                                    .zip(ivar)
                                    .map(|(&v, &iv)| {
                                        if iv > 0.0 {
                                            v + rng.normal() / iv.sqrt()
                                        } else {
                                            v
                                        }
                                    })
                                    .collect();
                                SpectraRow {
                                    target_id: TARGET_BASE + (f * per_file + i) as i64,
                                    ra: rng.unit() * 360.0,
                                    dec: rng.unit() * 90.0 - 10.0,
                                    z: rng.unit() * 3.0,
                                    flux,
                                    ivar: ivar.clone(),
                                    mask: mask.clone(),
                                }
                            })
                            .collect();
                        let meta = FileMeta {
                            survey: "main".into(),
                            program: "dark".into(),
                            healpix: Some(f as i64),
                            wave_min_a: MERGED_WAVE_MIN,
                            dwave_a: MERGED_DWAVE,
                            npix: MERGED_NPIX,
                            source_files: vec![format!("synthetic-{f}.fits sha256:0")],
                            software_version: astrolab_spectra::SOFTWARE_VERSION.into(),
                        };
                        let path = dir.join(format!("spectra-main-dark-{f}.parquet"));
                        let size = write_spectra_file(&path, &meta, &rows)?;
                        let index = rows
                            .iter()
                            .enumerate()
                            .map(|(i, r)| (r.target_id, i, r.z))
                            .collect();
                        done.push((path, meta, index, size));
                    }
                    Ok(done)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread panicked"))
            .collect()
    });
    let mut store = Store::open(&StoreConfig::sqlite(home))?;
    let (mut n, mut bytes) = (0usize, 0u64);
    for part in written {
        for (path, meta, index, size) in part? {
            let rec = SpectraFileRecord {
                spectra_file_id: 0,
                path: path.display().to_string(),
                survey: meta.survey.clone(),
                program: meta.program.clone(),
                healpix: meta.healpix.unwrap_or(-1),
                n_spectra: index.len() as i64,
                size_bytes: size as i64,
                sources: serde_json::to_string(&meta.source_files)?,
                built_at: "2026-11-22T00:00:00Z".into(),
                software_version: meta.software_version.clone(),
            };
            store.register_spectra_file(&rec, &index)?;
            n += index.len();
            bytes += size;
        }
    }
    println!(
        "built {files} files x {per_file} = {n} spectra, {:.1} GB of Parquet, in {:.1} s",
        bytes as f64 / 1e9,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn measure(
    home: &Path,
    lookups: usize,
    batch: usize,
    seed: u64,
    targets_out: Option<String>,
    batch_out: Option<String>,
) -> R<()> {
    let mut store = Store::open(&StoreConfig::sqlite(home))?;
    let files = store.spectra_files()?;
    let total: i64 = files.iter().map(|f| f.n_spectra).sum();
    if total == 0 {
        return Err("the store has no spectra: run `spectra_access build` first".into());
    }
    // Warm the page cache: read every file (and hot copy) once.
    let t = Instant::now();
    let mut warm = 0u64;
    for f in &files {
        warm += std::fs::read(&f.path)?.len() as u64;
        let hot = astrolab_spectra::hot_path(Path::new(&f.path));
        if hot.exists() {
            warm += std::fs::read(&hot)?.len() as u64;
        }
    }
    eprintln!(
        "warmed the cache: {} files, {:.2} GB in {:.1} s",
        files.len(),
        warm as f64 / 1e9,
        t.elapsed().as_secs_f64()
    );
    // Synthetic TARGETIDs are TARGET_BASE + 0..total (see `build`).
    let mut rng = Rng(seed);
    let mut pick = |n: usize| -> Vec<i64> {
        (0..n)
            .map(|_| TARGET_BASE + (rng.next() % total as u64) as i64)
            .collect()
    };
    let singles = pick(lookups);
    let mut batch_ids = pick(batch);
    batch_ids.sort_unstable();
    batch_ids.dedup();
    let write_ids = |path: &Option<String>, ids: &[i64]| -> R<()> {
        if let Some(p) = path {
            let text: String = ids.iter().map(|t| format!("{t}\n")).collect();
            std::fs::write(p, text)?;
        }
        Ok(())
    };
    write_ids(&targets_out, &singles)?;
    write_ids(&batch_out, &batch_ids)?;

    // One warm-up lookup (statement cache, code paths), not counted.
    let _ = lookup(&mut store, singles[0])?;
    let mut ms = Vec::with_capacity(lookups);
    let all = Instant::now();
    for &t in &singles {
        let t0 = Instant::now();
        let row = lookup(&mut store, t)?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        if row.target_id != t || row.flux.len() != MERGED_NPIX {
            return Err(format!(
                "lookup of {t} returned {} ({} pixels)",
                row.target_id,
                row.flux.len()
            )
            .into());
        }
    }
    let all = all.elapsed().as_secs_f64();
    ms.sort_by(f64::total_cmp);

    let t0 = Instant::now();
    let locs = store.locate_spectra(&batch_ids)?;
    let t_locate = t0.elapsed().as_secs_f64();
    let mut by_file: BTreeMap<&str, Vec<(usize, i64)>> = BTreeMap::new();
    for l in &locs {
        by_file
            .entry(&l.path)
            .or_default()
            .push((l.row, l.target_id));
    }
    let mut got = 0usize;
    let mut pixels = 0usize;
    for (path, rows) in &by_file {
        let f = SpectraFile::open(Path::new(path))?;
        let idx: Vec<usize> = rows.iter().map(|r| r.0).collect();
        let read = f.read_rows(&idx)?;
        for (r, (_, t)) in read.iter().zip(rows) {
            if r.target_id != *t {
                return Err(format!("{path}: row for {t} holds {}", r.target_id).into());
            }
            pixels += r.flux.len();
        }
        got += read.len();
    }
    let t_batch = t0.elapsed().as_secs_f64();
    if got != batch_ids.len() {
        return Err(format!(
            "batch: {got} spectra read for {} TARGETIDs",
            batch_ids.len()
        )
        .into());
    }
    // The same batch through the library call for pipelines (hot copies
    // when fresh, files in parallel on rayon's pool).
    let t0 = Instant::now();
    let locs = store.locate_spectra(&batch_ids)?;
    let wanted: Vec<(&Path, usize)> = locs.iter().map(|l| (Path::new(&l.path), l.row)).collect();
    let many = astrolab_spectra::read_many(&wanted)?;
    let t_many = t0.elapsed().as_secs_f64();
    let mut checksum = 0f64;
    for (r, l) in many.iter().zip(&locs) {
        if r.target_id != l.target_id || r.flux.len() != MERGED_NPIX {
            return Err(format!("read_many: {} for {}", r.target_id, l.target_id).into());
        }
        checksum += r.flux[MERGED_NPIX / 2] as f64;
    }
    let into = batch_call(&mut store, &batch_ids, batch, seed, total)?;
    println!(
        "single: n={lookups} p50_ms={:.3} p99_ms={:.3} mean_ms={:.3} | batch: n={got} files={} s={:.3} \
         (locate {:.3} s) spectra_per_s={:.0} pixels={pixels} | read_many: n={} s={t_many:.3} many_per_s={:.0} \
         threads={} (checksum {checksum:.3e}) | {into} | store: {} files, {total} spectra",
        pct(&ms, 0.5),
        pct(&ms, 0.99),
        all * 1e3 / lookups as f64,
        by_file.len(),
        t_batch,
        t_locate,
        got as f64 / t_batch,
        many.len(),
        many.len() as f64 / t_many,
        rayon::current_num_threads(),
        files.len(),
    );
    Ok(())
}

/// Times the batch call for pipelines, `read_many_into`; returns its
/// figures as `read_many_into: first_per_s=.. steady_per_s=.. ...`.
fn batch_call(
    store: &mut Store,
    batch_ids: &[i64],
    batch: usize,
    seed: u64,
    total: i64,
) -> R<String> {
    // The batch call for pipelines: `read_many_into` refilling one
    // `SpectraBatch`. Pass 0 is the first batch (its 930 MB freshly
    // allocated and faulted in); passes 1..=STEADY_PASSES are new random
    // batches of the same size into the same memory, as in a pipeline
    // loop. Each pass includes its `locate_spectra`; every TARGETID is
    // checked, and the flux sum is printed.
    let mut into = astrolab_spectra::SpectraBatch::new();
    let mut into_per_s = Vec::new();
    let mut into_read_per_s = Vec::new();
    let mut into_checksum = 0f64;
    for pass in 0..=STEADY_PASSES {
        let ids = pass_ids(batch_ids, pass, seed, batch, total);
        let t0 = Instant::now();
        let locs = store.locate_spectra(&ids)?;
        let wanted: Vec<(&Path, usize)> =
            locs.iter().map(|l| (Path::new(&l.path), l.row)).collect();
        let t1 = Instant::now();
        astrolab_spectra::read_many_into(&wanted, &mut into)?;
        let (all, read) = (t0.elapsed().as_secs_f64(), t1.elapsed().as_secs_f64());
        if into.len() != ids.len() {
            return Err(format!(
                "read_many_into: {} spectra for {} TARGETIDs",
                into.len(),
                ids.len()
            )
            .into());
        }
        for (s, l) in into.iter().zip(&locs) {
            if s.target_id != l.target_id || s.flux.len() != MERGED_NPIX {
                return Err(format!("read_many_into: {} for {}", s.target_id, l.target_id).into());
            }
        }
        into_checksum += into.flux().iter().map(|&v| v as f64).sum::<f64>();
        into_per_s.push(ids.len() as f64 / all);
        into_read_per_s.push(ids.len() as f64 / read);
    }
    let steady = |v: &[f64]| {
        let mut s = v[1..].to_vec();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    Ok(format!(
        "read_many_into: first_per_s={:.0} (read only {:.0}) steady_per_s={:.0} (read only {:.0}; \
         median of {STEADY_PASSES} new batches, all: {}) threads={} (flux sum {into_checksum:.6e})",
        into_per_s[0],
        into_read_per_s[0],
        steady(&into_per_s),
        steady(&into_read_per_s),
        into_per_s
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(","),
        rayon::current_num_threads(),
    ))
}

/// Minor page faults of this process so far (`/proc/self/stat` field 10;
/// 0 where there is no /proc).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses.
            let rest = s.rsplit_once(')')?.1.to_owned();
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// The touch of every value: sum of flux * ivar over the pixels with mask
/// 0 (f64), one sum per spectrum on rayon's pool, added up in order (the
/// same bits whatever the threads).
fn touch<'a, F>(n: usize, get: F) -> f64
where
    F: Fn(usize) -> SpectrumView<'a> + Sync,
{
    use rayon::prelude::*;
    let sums: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(16)
        .map(|i| {
            let s = get(i);
            s.flux
                .iter()
                .zip(s.ivar)
                .zip(s.mask)
                .map(|((&f, &iv), &m)| if m == 0 { f as f64 * iv as f64 } else { 0.0 })
                .sum::<f64>()
        })
        .collect();
    sums.iter().sum()
}

/// The store at `home`, its number of spectra, and the TARGETIDs of
/// `--batch-in FILE` (one per line, as `measure --batch-out` writes them).
fn open_with_batch(home: &Path, args: &[String]) -> R<(Store, i64, Vec<i64>)> {
    let mut store = Store::open(&StoreConfig::sqlite(home))?;
    let total: i64 = store.spectra_files()?.iter().map(|f| f.n_spectra).sum();
    let path = arg(args, "--batch-in").ok_or("--batch-in FILE is required")?;
    let ids: Vec<i64> = std::fs::read_to_string(&path)?
        .lines()
        .map(|l| l.trim().parse())
        .collect::<Result<_, _>>()?;
    Ok((store, total, ids))
}

/// TARGETIDs of pass `pass` of a timing loop: the measured batch first,
/// then new random draws of the same size (the same draws in every mode,
/// so `batch-call` and `touch-call` time the same batches).
fn pass_ids(batch_ids: &[i64], pass: usize, seed: u64, batch: usize, total: i64) -> Vec<i64> {
    if pass == 0 {
        return batch_ids.to_vec();
    }
    let mut rng = Rng(seed ^ (0xba7c4 + pass as u64));
    let mut ids: Vec<i64> = (0..batch)
        .map(|_| TARGET_BASE + (rng.next() % total as u64) as i64)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Times "get the batch + touch every value" (see the module docs,
/// `touch-call`); returns `touch mode=.. first_per_s=.. ...`.
fn touch_call(
    store: &mut Store,
    batch_ids: &[i64],
    batch: usize,
    seed: u64,
    total: i64,
    mapped: bool,
) -> R<String> {
    let mut copy = SpectraBatch::new();
    let mut per_s = Vec::new();
    let mut first = String::new();
    let mut checksum = 0f64;
    for pass in 0..=STEADY_PASSES {
        let ids = pass_ids(batch_ids, pass, seed, batch, total);
        let faults0 = minor_faults();
        let t0 = Instant::now();
        let locs = store.locate_spectra(&ids)?;
        let wanted: Vec<(&Path, usize)> =
            locs.iter().map(|l| (Path::new(&l.path), l.row)).collect();
        let t1 = Instant::now();
        let maps = if mapped {
            Some(map_many(&wanted)?)
        } else {
            read_many_into(&wanted, &mut copy)?;
            None
        };
        let t2 = Instant::now();
        let view = |i: usize| {
            match &maps {
                Some(m) => m.get(i),
                None => copy.get(i),
            }
            .expect("index below len")
        };
        let n = maps.as_ref().map_or(copy.len(), |m| m.len());
        let sum = touch(n, view);
        let t3 = Instant::now();
        let faults = minor_faults() - faults0;
        if n != ids.len() {
            return Err(format!("touch-call: {n} spectra for {} TARGETIDs", ids.len()).into());
        }
        for (i, l) in locs.iter().enumerate() {
            let s = view(i);
            if (s.target_id, s.flux.len()) != (l.target_id, MERGED_NPIX) {
                return Err(format!("touch-call: {} for {}", s.target_id, l.target_id).into());
            }
        }
        let (files, mapped_files) = maps
            .as_ref()
            .map_or((0, 0), |m| (m.files(), m.mapped_files()));
        let t_drop = Instant::now();
        drop(maps);
        let drop_s = t_drop.elapsed().as_secs_f64();
        let all = (t3 - t0).as_secs_f64();
        per_s.push(ids.len() as f64 / all);
        checksum += sum;
        if pass == 0 {
            first = format!(
                "first_per_s={:.0} first_s={all:.3} (locate {:.3}, make {:.3}, touch {:.3}; drop \
                 {drop_s:.3}) first_minor_faults={faults} first_sum={sum:.9e} files={files} \
                 mapped_files={mapped_files}",
                ids.len() as f64 / all,
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                (t3 - t2).as_secs_f64(),
            );
        }
    }
    let mut steady = per_s[1..].to_vec();
    steady.sort_by(f64::total_cmp);
    Ok(format!(
        "touch: mode={} {first} steady_per_s={:.0} (median of \
         {STEADY_PASSES} new batches, all: {}) threads={} (sum of sums {checksum:.9e})",
        if mapped { "mapped" } else { "copy" },
        steady[steady.len() / 2],
        per_s
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(","),
        rayon::current_num_threads(),
    ))
}

/// One spectrum by TARGETID: index lookup, open, read one row.
fn lookup(store: &mut Store, t: i64) -> R<SpectraRow> {
    let loc = store.locate_spectra(&[t])?;
    let loc = loc
        .first()
        .ok_or_else(|| format!("TARGETID {t} not in the index"))?;
    let f = SpectraFile::open(Path::new(&loc.path))?;
    let mut rows = f.read_rows(&[loc.row])?;
    Ok(rows.pop().ok_or("no row read")?)
}
