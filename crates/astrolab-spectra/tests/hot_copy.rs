//! Hot copies (uncompressed memory-mapped twins of spectra files) and the
//! many-spectra batch read, on the real DESI coadds of the shared data.

use std::path::{Path, PathBuf};

use astrolab_formats::testdata::require_shared_data;
use astrolab_spectra::{
    convert_coadd_with, hot_path, read_many, write_hot_copy, write_spectra_file, ConvertOptions,
    HotCopy, SpectraFile, SpectraRow,
};

fn bits32(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn same(a: &SpectraRow, b: &SpectraRow) {
    assert_eq!(a.target_id, b.target_id);
    assert_eq!(
        (a.ra.to_bits(), a.dec.to_bits(), a.z.to_bits()),
        (b.ra.to_bits(), b.dec.to_bits(), b.z.to_bits())
    );
    assert_eq!(bits32(&a.flux), bits32(&b.flux));
    assert_eq!(bits32(&a.ivar), bits32(&b.ivar));
    assert_eq!(a.mask, b.mask);
}

/// Two spectra files from the real coadds: the 5-fibre sv3 coadd (its two
/// fibres on no target kept, for five rows), and its rows repeated 300
/// times under new target ids.
fn files(dir: &Path, test: &str) -> Option<(PathBuf, PathBuf, Vec<SpectraRow>)> {
    let data = require_shared_data(test)?.join("desi");
    let keep = ConvertOptions {
        keep_negative_targetids: true,
    };
    let (meta, rows, _) =
        convert_coadd_with(&data.join("coadd-sv3-dark-26065.fits"), None, &keep, |_| {
            true
        })
        .unwrap();
    let a = dir.join("a.parquet");
    write_spectra_file(&a, &meta, &rows).unwrap();
    let many: Vec<SpectraRow> = (0..1500)
        .map(|i| SpectraRow {
            target_id: 7_000_000 + i as i64,
            ..rows[i % rows.len()].clone()
        })
        .collect();
    let b = dir.join("b.parquet");
    write_spectra_file(&b, &meta, &many).unwrap();
    Some((a, b, many))
}

#[test]
fn hot_copy_reads_the_same_bits_as_the_parquet_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some((a, b, many)) = files(dir.path(), "hot_copy_reads_the_same_bits") else {
        return;
    };
    assert!(
        HotCopy::open_fresh(&b).unwrap().is_none(),
        "no hot copy yet"
    );
    let hot = write_hot_copy(&b).unwrap();
    assert_eq!(hot, hot_path(&b));
    let h = HotCopy::open_fresh(&b).unwrap().expect("fresh hot copy");
    assert_eq!((h.len(), h.npix()), (1500, 7781));
    let pick = [1499, 0, 777, 3, 777];
    for (g, &i) in h.read_rows(&pick).unwrap().iter().zip(&pick) {
        same(g, &many[i]);
    }
    let err = h.read_rows(&[1500]).unwrap_err().to_string();
    assert!(err.contains("row 1500 (0-based) does not exist"), "{err}");

    // A batch over two files, one with a hot copy and one without, comes
    // back in the order asked, equal to the Parquet reads.
    let pa = SpectraFile::open(&a).unwrap().read_all().unwrap();
    let wanted: Vec<(&Path, usize)> = vec![
        (b.as_path(), 10),
        (a.as_path(), 4),
        (b.as_path(), 1200),
        (a.as_path(), 0),
        (b.as_path(), 10),
    ];
    let got = read_many(&wanted).unwrap();
    assert_eq!(got.len(), 5);
    same(&got[0], &many[10]);
    same(&got[1], &pa[4]);
    same(&got[2], &many[1200]);
    same(&got[3], &pa[0]);
    same(&got[4], &many[10]);
}

#[test]
fn stale_or_damaged_hot_copies_are_never_read_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let Some((a, _b, _)) = files(dir.path(), "stale_or_damaged_hot_copies") else {
        return;
    };
    write_hot_copy(&a).unwrap();
    assert!(HotCopy::open_fresh(&a).unwrap().is_some());
    // The Parquet file is rebuilt with other rows: the old hot copy is stale
    // and readers go back to the Parquet file.
    let f = SpectraFile::open(&a).unwrap();
    let mut rows = f.read_all().unwrap();
    rows.truncate(3);
    let meta = f.meta().clone();
    drop(f);
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_spectra_file(&a, &meta, &rows).unwrap();
    assert!(
        HotCopy::open_fresh(&a).unwrap().is_none(),
        "stale copy used"
    );
    let got = read_many(&[(a.as_path(), 2)]).unwrap();
    same(&got[0], &rows[2]);

    // A truncated hot copy is an error that names it.
    write_hot_copy(&a).unwrap();
    let hp = hot_path(&a);
    let bytes = std::fs::read(&hp).unwrap();
    std::fs::write(&hp, &bytes[..bytes.len() - 100]).unwrap();
    let err = HotCopy::open_fresh(&a).unwrap_err().to_string();
    assert!(
        err.contains("a.parquet.hot") && err.contains("bytes where 3 rows"),
        "{err}"
    );
    std::fs::write(
        &hp,
        b"not a hot copy at all, just some bytes of text here ......",
    )
    .unwrap();
    let err = HotCopy::open_fresh(&a).unwrap_err().to_string();
    assert!(err.contains("bad magic"), "{err}");
}
