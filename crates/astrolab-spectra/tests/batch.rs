//! The pipelines' batch read (`read_batch`, `read_many_into`) against the
//! Parquet path (`SpectraFile::read_rows`), bit for bit, on synthetic spectra
//! files: files with and without hot copies, a stale hot copy, different
//! grids, repeats, rows out of order, a reused batch, empty requests and bad
//! rows.

use std::path::{Path, PathBuf};

use astrolab_spectra::{
    read_batch, read_many, read_many_into, write_hot_copy, write_spectra_file, FileMeta, HotCopy,
    SpectraBatch, SpectraFile, SpectraRow, SpectrumView,
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
    let lens = [1200, 300, 250, 200];
    let mut rng = Rng(11);
    let mut wanted: Vec<(&Path, usize)> = (0..600)
        .map(|_| {
            let f = rng.below(4);
            (files[f].as_path(), rng.below(lens[f]))
        })
        .collect();
    // Repeats, neighbours out of order, both ends of every file.
    wanted.extend([
        (files[0].as_path(), 999),
        (files[0].as_path(), 1000),
        (files[0].as_path(), 998),
        (files[0].as_path(), 1000),
        (files[1].as_path(), 299),
        (files[1].as_path(), 0),
        (files[2].as_path(), 249),
        (files[3].as_path(), 0),
        (files[3].as_path(), 199),
        (files[3].as_path(), 0),
    ]);
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
