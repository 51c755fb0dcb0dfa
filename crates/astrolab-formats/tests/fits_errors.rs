//! Bad input fails with an error that names the file, HDU, column and row,
//! and bad output never reaches the target path.

use std::path::{Path, PathBuf};

use astrolab_formats::testdata::require_shared_data;
use astrolab_formats::{
    write_fits, Card, ColumnData, ColumnOut, FitsError, FitsFile, HduOut, ImageData,
};

/// A copy of `desi/redrock-test.fits` cut to `len` bytes. Its layout
/// (astropy `fileinfo`): TSNR2 header at 43200, data 51840..52248
/// (3 rows x 136 bytes); FIBERMAP header 11520..31680, EXTNAME near its end.
fn cut_redrock(dir: &Path, len: usize) -> Option<PathBuf> {
    let src = require_shared_data("cut_redrock")?.join("desi/redrock-test.fits");
    let bytes = std::fs::read(src).unwrap();
    assert_eq!(bytes.len(), 54720);
    let path = dir.join(format!("cut-{len}.fits"));
    std::fs::write(&path, &bytes[..len]).unwrap();
    Some(path)
}

#[test]
fn truncated_files_name_the_hdu() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = cut_redrock(dir.path(), 52000) else {
        return;
    };
    match FitsFile::open(&path) {
        Err(FitsError::Truncated {
            hdu,
            expected_bytes,
            actual_bytes,
            ..
        }) => {
            assert_eq!(hdu, "HDU 4 'TSNR2'");
            assert_eq!((expected_bytes, actual_bytes), (52248, 52000));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    let e = FitsFile::open(&path).unwrap_err().to_string();
    assert!(
        e.contains("cut-52000.fits") && e.contains("TSNR2") && e.contains("fetch the file again"),
        "{e}"
    );

    // Cut inside a header, before its EXTNAME card.
    let Some(path) = cut_redrock(dir.path(), 20000) else {
        return;
    };
    match FitsFile::open(&path) {
        Err(FitsError::Truncated { hdu, .. }) => assert!(hdu.starts_with("HDU 2 "), "{hdu}"),
        other => panic!("expected Truncated, got {other:?}"),
    }
    // Losing only the final block's padding is tolerated (astropy does too)...
    let Some(path) = cut_redrock(dir.path(), 52248) else {
        return;
    };
    assert_eq!(FitsFile::open(&path).unwrap().hdus().len(), 5);
    // ...one byte of data is not.
    let Some(path) = cut_redrock(dir.path(), 52247) else {
        return;
    };
    assert!(matches!(
        FitsFile::open(&path),
        Err(FitsError::Truncated { .. })
    ));
}

#[test]
fn non_fits_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.fits");
    std::fs::write(&text, "ra,dec\n10,20\n".repeat(100)).unwrap();
    assert!(matches!(
        FitsFile::open(&text),
        Err(FitsError::NotFits { .. })
    ));
    let empty = dir.path().join("empty.fits");
    std::fs::write(&empty, "").unwrap();
    let e = FitsFile::open(&empty).unwrap_err();
    assert!(matches!(e, FitsError::NotFits { .. }));
    assert!(e.to_string().contains("empty.fits"));
    let missing = dir.path().join("missing.fits");
    let e = FitsFile::open(&missing).unwrap_err();
    assert!(matches!(e, FitsError::Io { .. }) && e.to_string().contains("missing.fits"));
}

#[test]
fn missing_hdus_and_columns_list_what_exists() {
    let Some(dir) = require_shared_data("missing_hdus_and_columns_list_what_exists") else {
        return;
    };
    let f = FitsFile::open(&dir.join("desi/redrock-test.fits")).unwrap();
    assert!(f.has_hdu("redshifts") && !f.has_hdu("SPECTRA"));
    match f.table("SPECTRA") {
        Err(FitsError::MissingHdu {
            extname, available, ..
        }) => {
            assert_eq!(extname, "SPECTRA");
            assert_eq!(
                available,
                ["PRIMARY", "REDSHIFTS", "FIBERMAP", "EXP_FIBERMAP", "TSNR2"]
            );
        }
        other => panic!("expected MissingHdu, got {other:?}"),
    }
    let t = f.table("REDSHIFTS").unwrap();
    assert!(!t.has_column("REDSHIFT"));
    let e = t.read_f64("REDSHIFT").unwrap_err();
    match &e {
        FitsError::MissingColumn {
            hdu,
            column,
            available,
            ..
        } => {
            assert_eq!(
                (hdu.as_str(), column.as_str()),
                ("HDU 1 'REDSHIFTS'", "REDSHIFT")
            );
            assert_eq!(available.len(), 11);
            assert_eq!(available[1], "Z");
        }
        other => panic!("expected MissingColumn, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("redrock-test.fits") && msg.contains("ZERR"),
        "{msg}"
    );

    // Wrong types say which column and TFORM.
    match t.read_f64("SPECTYPE") {
        Err(FitsError::WrongType { column, tform, .. }) => {
            assert_eq!((column.as_str(), tform.as_str()), ("SPECTYPE", "6A"))
        }
        other => panic!("expected WrongType, got {other:?}"),
    }
    assert!(matches!(t.read_i64("Z"), Err(FitsError::WrongType { .. })));
    assert!(matches!(t.read_str("Z"), Err(FitsError::WrongType { .. })));
    assert!(matches!(
        t.read_bool("ZWARN"),
        Err(FitsError::WrongType { .. })
    ));
    assert!(matches!(
        f.read_image_f64("REDSHIFTS"),
        Err(FitsError::Unsupported { .. })
    ));
    assert!(matches!(
        f.read_image_f64("PRIMARY"),
        Err(FitsError::Unsupported { .. })
    ));
    assert!(matches!(f.table_at(9), Err(FitsError::MissingHdu { .. })));
}

#[test]
fn tnull_on_a_written_integer_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nulls.fits");
    let hdus = [HduOut::Table {
        extname: Some("OBJ".into()),
        header: vec![Card::int("TNULL2", -999)],
        columns: vec![
            ColumnOut::new("ID", ColumnData::I64(vec![10, 11, 12, 13])),
            ColumnOut::new("NOBS", ColumnData::I32(vec![3, -999, 0, -999])),
        ],
    }];
    write_fits(&path, &hdus).unwrap();
    let f = FitsFile::open(&path).unwrap();
    let t = f.table("OBJ").unwrap();
    assert_eq!(t.column("NOBS").unwrap().tnull, Some(-999));
    assert_eq!(
        t.read_i64_opt("NOBS").unwrap(),
        [Some(3), None, Some(0), None]
    );
    let f64s = t.read_f64("NOBS").unwrap();
    assert_eq!((f64s[0], f64s[2]), (3.0, 0.0));
    assert!(f64s[1].is_nan() && f64s[3].is_nan());
    match t.read_i64("NOBS") {
        Err(FitsError::BadValue { column, row, .. }) => {
            assert_eq!((column.as_str(), row), ("NOBS", 1))
        }
        other => panic!("expected BadValue, got {other:?}"),
    }
    // A column without TNULL keeps -999 as an ordinary value.
    assert_eq!(t.read_i64("ID").unwrap(), [10, 11, 12, 13]);

    // TNULL must point at an integer column.
    let bad = [HduOut::Table {
        extname: None,
        header: vec![Card::int("TNULL1", 0)],
        columns: vec![ColumnOut::new("X", ColumnData::F64(vec![1.0]))],
    }];
    assert!(matches!(
        write_fits(&dir.path().join("b.fits"), &bad),
        Err(FitsError::InvalidOutput { .. })
    ));
}

#[test]
fn invalid_output_never_reaches_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.fits");
    std::fs::write(&path, "previous content").unwrap();
    let table = |columns: Vec<ColumnOut>, header: Vec<Card>| {
        vec![HduOut::Table {
            extname: Some("T".into()),
            header,
            columns,
        }]
    };
    let cases: Vec<(Vec<HduOut>, &str)> = vec![
        (
            table(
                vec![
                    ColumnOut::new("RA", ColumnData::F64(vec![1.0, 2.0])),
                    ColumnOut::new("DEC", ColumnData::F64(vec![1.0])),
                ],
                vec![],
            ),
            "column 'DEC' has 1 rows but column 'RA' has 2",
        ),
        (
            table(
                vec![ColumnOut::new(
                    "NAME",
                    ColumnData::Str {
                        width: 3,
                        values: vec!["toolong".into()],
                    },
                )],
                vec![],
            ),
            "column 'NAME', row 0",
        ),
        (
            table(
                vec![ColumnOut::new(
                    "V",
                    ColumnData::F32Vector {
                        repeat: 2,
                        values: vec![1.0, 2.0, 3.0],
                    },
                )],
                vec![],
            ),
            "column 'V' has 3 values, not a multiple of its repeat 2",
        ),
        (
            table(
                vec![ColumnOut::new("A", ColumnData::U8(vec![1]))],
                vec![Card::int("NAXIS2", 5)],
            ),
            "keyword NAXIS2 is written from the data",
        ),
        (
            table(
                vec![
                    ColumnOut::new("A", ColumnData::U8(vec![1])),
                    ColumnOut::new("a", ColumnData::U8(vec![1])),
                ],
                vec![],
            ),
            "column name 'a' is used twice",
        ),
        (
            vec![HduOut::Image {
                extname: "IM".into(),
                header: vec![],
                shape: vec![2, 2],
                data: ImageData::F32(vec![1.0; 3]),
            }],
            "shape [2, 2] holds 4 pixels but 3 values were given",
        ),
        (
            vec![HduOut::Image {
                extname: "IM".into(),
                header: vec![Card::float("BAD", f64::NAN)],
                shape: vec![1],
                data: ImageData::F32(vec![1.0]),
            }],
            "BAD = NaN is not finite",
        ),
    ];
    for (hdus, expected) in cases {
        let e = write_fits(&path, &hdus).unwrap_err();
        assert!(matches!(e, FitsError::InvalidOutput { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(expected) && msg.contains("out.fits"), "{msg}");
        // The old file is untouched and no temporary file is left behind.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous content");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
    // A valid write replaces it.
    write_fits(
        &path,
        &table(vec![ColumnOut::new("A", ColumnData::U8(vec![7]))], vec![]),
    )
    .unwrap();
    let f = FitsFile::open(&path).unwrap();
    assert_eq!(f.table("T").unwrap().read_i64("A").unwrap(), [7]);
    // Writing into a directory that does not exist is an Io error naming the path.
    let e = write_fits(&dir.path().join("no/such/dir.fits"), &[]).unwrap_err();
    assert!(
        matches!(e, FitsError::Io { .. }) && e.to_string().contains("dir.fits"),
        "{e}"
    );
}

#[test]
fn inconsistent_headers_are_bad_header_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.fits");
    let hdus = [HduOut::Table {
        extname: Some("T".into()),
        header: vec![],
        columns: vec![ColumnOut::new("X", ColumnData::F64(vec![1.0, 2.0]))],
    }];
    write_fits(&path, &hdus).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let corrupt = |from: &str, to: &str| {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(text.contains(from), "{from}");
        assert_eq!(from.len(), to.len());
        let p = dir.path().join("corrupt.fits");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
        p
    };
    // An unknown TFORM code: the table cannot be laid out.
    let p = corrupt("TFORM1  = 'D       '", "TFORM1  = 'Z       '");
    let f = FitsFile::open(&p).unwrap();
    match f.table("T") {
        Err(FitsError::BadHeader { key, hdu, .. }) => {
            assert_eq!((key.as_str(), hdu.as_str()), ("TFORM1", "HDU 1 'T'"))
        }
        other => panic!("expected BadHeader, got {other:?}"),
    }
    // TFORMs that do not add up to NAXIS1.
    let p = corrupt("TFORM1  = 'D       '", "TFORM1  = 'E       '");
    let f = FitsFile::open(&p).unwrap();
    assert!(matches!(f.table("T"), Err(FitsError::BadHeader { key, .. }) if key == "NAXIS1"));
    // A missing mandatory keyword fails at open.
    let p = corrupt(
        "BITPIX  =                    8",
        "BITPIX  =                  'x'",
    );
    assert!(matches!(FitsFile::open(&p), Err(FitsError::BadHeader { key, .. }) if key == "BITPIX"));
}

/// A gzip file whose compressed stream is cut short is refused with an
/// error naming it, never read as a shorter FITS file.
#[test]
fn a_truncated_gzip_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut fits = Vec::new();
    let mut card = |s: &str| fits.extend_from_slice(format!("{s:<80}").as_bytes());
    card("SIMPLE  =                    T");
    card("BITPIX  =                    8");
    card("NAXIS   =                    0");
    card("END");
    fits.resize(2880, b' ');
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
        e.write_all(&fits).unwrap();
        e.finish().unwrap();
    }
    let whole = dir.path().join("whole.fits.gz");
    std::fs::write(&whole, &gz).unwrap();
    assert_eq!(FitsFile::open(&whole).unwrap().hdus().len(), 1);
    let cut = dir.path().join("cut.fits.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let e = FitsFile::open(&cut).unwrap_err();
    assert!(matches!(e, FitsError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("cut.fits.gz"), "{e}");
}
