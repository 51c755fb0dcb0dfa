//! The pipelines' batch reads (`read_batch`, `read_many_into`, and the
//! zero-copy `map_many`) against the Parquet path (`SpectraFile::read_rows`),
//! bit for bit, on synthetic spectra files: files with and without hot
//! copies, a stale hot copy, different grids, repeats, rows out of order, a
//! reused batch, empty requests, bad rows and damaged hot copies.

use std::path::{Path, PathBuf};

use astrolab_spectra::{
    hot_path, map_many, read_batch, read_many, read_many_into, write_hot_copy, write_spectra_file,
    FileMeta, HotCopy, MappedSpectra, SpectraBatch, SpectraFile, SpectraRow, SpectrumView,
};

/// splitmix64: seeded, reproducible picks and values.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 20.0 - 10.0
    }
}

fn meta(npix: usize, healpix: i64) -> FileMeta {
    FileMeta {
        survey: "main".into(),
        program: "dark".into(),
        healpix: Some(healpix),
        wave_min_a: 3600.0,
        dwave_a: 0.8,
        npix,
        source_files: vec![format!("synthetic-{healpix}.fits sha256:0")],
        software_version: astrolab_spectra::SOFTWARE_VERSION.into(),
    }
}

/// `n` spectra of `npix` pixels with arbitrary bits (NaN redshifts and
/// zero ivar included), target ids from `first_id`.
fn rows(rng: &mut Rng, n: usize, npix: usize, first_id: i64) -> Vec<SpectraRow> {
    (0..n)
        .map(|i| SpectraRow {
            target_id: first_id + i as i64,
            ra: rng.next() as f64 / u64::MAX as f64 * 360.0,
            dec: rng.next() as f64 / u64::MAX as f64 * 180.0 - 90.0,
            z: if i % 7 == 3 {
                f64::NAN
            } else {
                rng.next() as f64 / u64::MAX as f64 * 4.0
            },
            flux: (0..npix).map(|_| rng.f32()).collect(),
            ivar: (0..npix)
                .map(|k| if k % 11 == 0 { 0.0 } else { rng.f32().abs() })
                .collect(),
            mask: (0..npix).map(|_| rng.next() as u32).collect(),
        })
        .collect()
}

fn write(dir: &Path, name: &str, npix: usize, rows: &[SpectraRow]) -> PathBuf {
    let p = dir.join(name);
    write_spectra_file(&p, &meta(npix, rows.len() as i64), rows).unwrap();
    p
}

fn bits32(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn same(got: &SpectrumView<'_>, want: &SpectraRow, what: &str) {
    assert_eq!(got.target_id, want.target_id, "{what}");
    assert_eq!(
        (got.ra.to_bits(), got.dec.to_bits(), got.z.to_bits()),
        (want.ra.to_bits(), want.dec.to_bits(), want.z.to_bits()),
        "{what}"
    );
    assert_eq!(bits32(got.flux), bits32(&want.flux), "{what}: flux");
    assert_eq!(bits32(got.ivar), bits32(&want.ivar), "{what}: ivar");
    assert_eq!(got.mask, &want.mask[..], "{what}: mask");
}

/// Checks `batch` against one `SpectraFile::read_rows` per file of `wanted`.
fn check(batch: &SpectraBatch, wanted: &[(&Path, usize)]) {
    assert_eq!(batch.len(), wanted.len());
    assert_eq!(batch.offsets().len(), wanted.len() + 1);
    let mut px = 0;
    for (i, &(path, row)) in wanted.iter().enumerate() {
        let want = SpectraFile::open(path).unwrap().read_rows(&[row]).unwrap();
        let got = batch.get(i).unwrap();
        assert_eq!(batch.offsets()[i], px);
        px += want[0].flux.len();
        same(
            &got,
            &want[0],
            &format!("request {i}: {} row {row}", path.display()),
        );
    }
    assert_eq!(batch.flux().len(), px);
    assert_eq!((batch.ivar().len(), batch.mask().len()), (px, px));
    assert!(batch.get(wanted.len()).is_none());
}

/// Four files: `a` (1200 spectra, two row groups) and `b` (another grid)
/// with fresh hot copies, `c` without one, `d` whose hot copy is stale
/// (the Parquet file was rewritten with other values after it was made).
fn store(dir: &Path) -> [PathBuf; 4] {
    let mut rng = Rng(3);
    let a = write(dir, "a.parquet", 37, &rows(&mut rng, 1200, 37, 1_000_000));
    let b = write(dir, "b.parquet", 53, &rows(&mut rng, 300, 53, 2_000_000));
    let c = write(dir, "c.parquet", 37, &rows(&mut rng, 250, 37, 3_000_000));
    let d = write(dir, "d.parquet", 37, &rows(&mut rng, 200, 37, 4_000_000));
    for p in [&a, &b, &d] {
        write_hot_copy(p).unwrap();
    }
    // Rewrite d: same shape and ids, other values; its hot copy now holds
    // the old ones and must not be read.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(dir, "d.parquet", 37, &rows(&mut rng, 200, 37, 4_000_000));
    assert!(HotCopy::open_fresh(&a).unwrap().is_some());
    assert!(HotCopy::open_fresh(&c).unwrap().is_none());
    assert!(
        HotCopy::open_fresh(&d).unwrap().is_none(),
        "stale copy used"
    );
    [a, b, c, d]
}

#[test]
fn a_random_batch_is_the_parquet_rows_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let files = store(dir.path());
    let wanted = random_request(&files, 11, 600);
    let batch = read_batch(&wanted).unwrap();
    check(&batch, &wanted);
    // The per-spectrum call agrees.
    for (r, s) in read_many(&wanted).unwrap().iter().zip(batch.iter()) {
        same(&s, r, "read_many");
    }
    assert_eq!(batch.to_rows().len(), wanted.len());
}

#[test]
fn a_reused_batch_is_refilled_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let files = store(dir.path());
    let mut batch = SpectraBatch::new();
    let mut rng = Rng(5);
    // Big, smaller (dirty memory left beyond it), bigger again, other grid
    // mixes, then empty.
    for n in [300, 40, 500, 1, 0, 120] {
        let wanted: Vec<(&Path, usize)> = (0..n)
            .map(|_| {
                let f = rng.below(4);
                (files[f].as_path(), rng.below(200))
            })
            .collect();
        read_many_into(&wanted, &mut batch).unwrap();
        check(&batch, &wanted);
    }
}

#[test]
fn an_empty_request_is_an_empty_batch() {
    let batch = read_batch(&[]).unwrap();
    assert!(batch.is_empty());
    assert_eq!(batch.offsets(), &[0]);
    assert!(batch.flux().is_empty() && batch.get(0).is_none());
    assert_eq!(batch.iter().count(), 0);
}

#[test]
fn a_row_past_the_end_is_an_error_naming_the_file_and_empties_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let files = store(dir.path());
    let mut batch = read_batch(&[(files[0].as_path(), 3)]).unwrap();
    for (f, len) in [(0, 1200), (2, 250), (3, 200)] {
        let err = read_many_into(
            &[(files[1].as_path(), 5), (files[f].as_path(), len)],
            &mut batch,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(&format!("row {len} (0-based) does not exist"))
                && err.contains(files[f].file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
        assert!(batch.is_empty());
    }
    let err = read_batch(&[(dir.path().join("missing.parquet").as_path(), 0)]).unwrap_err();
    assert!(err.to_string().contains("missing.parquet"), "{err}");
}

/// `wanted` drawn at random over the four files of `store`, plus repeats,
/// neighbours out of order and both ends of every file.
fn random_request(files: &[PathBuf; 4], seed: u64, n: usize) -> Vec<(&Path, usize)> {
    let lens = [1200, 300, 250, 200];
    let mut rng = Rng(seed);
    let mut wanted: Vec<(&Path, usize)> = (0..n)
        .map(|_| {
            let f = rng.below(4);
            (files[f].as_path(), rng.below(lens[f]))
        })
        .collect();
    wanted.extend([
        (files[0].as_path(), 1199),
        (files[0].as_path(), 1000),
        (files[0].as_path(), 0),
        (files[0].as_path(), 1000),
        (files[1].as_path(), 299),
        (files[1].as_path(), 0),
        (files[2].as_path(), 249),
        (files[3].as_path(), 199),
        (files[3].as_path(), 0),
        (files[3].as_path(), 199),
    ]);
    wanted
}

/// Checks every view of `mapped` against the same request read by
/// `read_many_into`.
fn check_mapped(mapped: &MappedSpectra, wanted: &[(&Path, usize)]) {
    let batch = read_batch(wanted).unwrap();
    assert_eq!(mapped.len(), wanted.len());
    assert_eq!(mapped.iter().len(), wanted.len());
    for (i, (got, want)) in mapped.iter().zip(batch.iter()).enumerate() {
        let (path, row) = wanted[i];
        same(
            &got,
            &want.to_row(),
            &format!("mapped request {i}: {} row {row}", path.display()),
        );
    }
    assert!(mapped.get(wanted.len()).is_none());
}

#[test]
fn mapped_views_are_the_batch_read_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let files = store(dir.path());
    let wanted = random_request(&files, 17, 700);
    let mapped = map_many(&wanted).unwrap();
    // a and b are mapped; c (no hot copy) and d (stale) are decoded.
    assert_eq!((mapped.files(), mapped.mapped_files()), (4, 2));
    check_mapped(&mapped, &wanted);
    // One file only, every row once in reverse order.
    let one: Vec<(&Path, usize)> = (0..300).rev().map(|r| (files[1].as_path(), r)).collect();
    let mapped = map_many(&one).unwrap();
    assert_eq!(mapped.mapped_files(), 1);
    check_mapped(&mapped, &one);
    // Views can be read from several threads.
    let sums: Vec<f64> = std::thread::scope(|s| {
        let m = &mapped;
        let h: Vec<_> = (0..2)
            .map(|t| s.spawn(move || m.iter().skip(t).step_by(2).map(|v| v.flux[0] as f64).sum()))
            .collect();
        h.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: f64 = mapped.iter().map(|v| v.flux[0] as f64).sum();
    assert_eq!(sums[0] + sums[1], all);

    let empty = map_many(&[]).unwrap();
    assert!(empty.is_empty() && empty.get(0).is_none() && empty.files() == 0);
}

#[test]
fn mapped_reads_decode_stale_and_missing_hot_copies_and_survive_a_replaced_copy() {
    let dir = tempfile::tempdir().unwrap();
    let files = store(dir.path());
    // c has no hot copy and d a stale one: their views are the Parquet rows
    // (d's new values, not the old ones its hot copy holds).
    let wanted: Vec<(&Path, usize)> = (0..200)
        .flat_map(|r| [(files[3].as_path(), r), (files[2].as_path(), 249 - r)])
        .collect();
    let mapped = map_many(&wanted).unwrap();
    assert_eq!((mapped.files(), mapped.mapped_files()), (2, 0));
    for (i, &(path, row)) in wanted.iter().enumerate() {
        let want = SpectraFile::open(path).unwrap().read_rows(&[row]).unwrap();
        same(
            &mapped.get(i).unwrap(),
            &want[0],
            &format!("{} row {row}", path.display()),
        );
    }

    // A live map keeps the bytes it mapped when the hot copy is replaced
    // (write to a temporary name, rename), as `spectra hot` does.
    let wanted: Vec<(&Path, usize)> = (0..50).map(|r| (files[1].as_path(), r * 6)).collect();
    let mapped = map_many(&wanted).unwrap();
    assert_eq!(mapped.mapped_files(), 1);
    let before: Vec<SpectraRow> = SpectraFile::open(&files[1])
        .unwrap()
        .read_rows(&(0..50).map(|r| r * 6).collect::<Vec<_>>())
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let new_rows = rows(&mut Rng(99), 300, 53, 2_000_000);
    write(dir.path(), "b.parquet", 53, &new_rows);
    write_hot_copy(&files[1]).unwrap();
    for (i, want) in before.iter().enumerate() {
        same(
            &mapped.get(i).unwrap(),
            want,
            &format!("old map, request {i}"),
        );
    }
    // A new map sees the new copy.
    let again = map_many(&wanted).unwrap();
    assert_eq!(again.mapped_files(), 1);
    same(&again.get(3).unwrap(), &new_rows[18], "new map, request 3");
}

#[test]
fn mapped_reads_refuse_damaged_hot_copies_and_bad_rows_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = store(dir.path());
    // Rows past the end, of a mapped file and of a decoded one.
    for (f, len) in [(0, 1200), (2, 250)] {
        let err = map_many(&[(files[1].as_path(), 5), (files[f].as_path(), len)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("row {len} (0-based) does not exist"))
                && err.contains(files[f].file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
    }
    // A hot copy cut short, then one with a bad header: refused, named.
    let hp = hot_path(&files[0]);
    let bytes = std::fs::read(&hp).unwrap();
    std::fs::write(&hp, &bytes[..bytes.len() - 8]).unwrap();
    let err = map_many(&[(files[1].as_path(), 0), (files[0].as_path(), 0)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a.parquet.hot") && err.contains("bytes where 1200 rows"),
        "{err}"
    );
    let mut bad = bytes.clone();
    bad[0..8].copy_from_slice(b"NOTAHOT!");
    std::fs::write(&hp, &bad).unwrap();
    let err = map_many(&[(files[0].as_path(), 0)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a.parquet.hot") && err.contains("bad magic"),
        "{err}"
    );
    let err = map_many(&[(dir.path().join("missing.parquet").as_path(), 0)]).unwrap_err();
    assert!(err.to_string().contains("missing.parquet"), "{err}");
}
