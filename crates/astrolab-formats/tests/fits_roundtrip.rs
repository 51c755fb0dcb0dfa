//! Write every column and image type, read it back exactly, and have astropy
//! (the field's reference reader) open the same file and agree.

use std::path::Path;
use std::process::Command;

use astrolab_formats::{
    write_fits, Card, ColumnData, ColumnOut, FitsFile, HduKind, HduOut, HeaderValue, ImageData,
};

const LONG: &str = "/global/cfs/cdirs/desi/spectro/redux/iron/healpix/sv3/dark/260/26065/coadd-sv3-dark-26065.fits, it's long";

struct Fixture {
    bools: Vec<bool>,
    u8s: Vec<u8>,
    i16s: Vec<i16>,
    i32s: Vec<i32>,
    i64s: Vec<i64>,
    u32s: Vec<u32>,
    u64s: Vec<u64>,
    f32s: Vec<f32>,
    f64s: Vec<f64>,
    strs: Vec<String>,
    f32v: Vec<f32>,
    f64v: Vec<f64>,
    i64v: Vec<i64>,
    image_u32: Vec<u32>,
    image_f32: Vec<f32>,
    image_i16: Vec<i16>,
    image_i64: Vec<i64>,
}

fn fixture() -> Fixture {
    Fixture {
        bools: vec![true, false, true],
        u8s: vec![0, 200, 255],
        i16s: vec![i16::MIN, -1, i16::MAX],
        i32s: vec![i32::MIN, 0, i32::MAX],
        i64s: vec![i64::MIN, 39627866878511337, i64::MAX],
        u32s: vec![0, 1 << 31, u32::MAX],
        u64s: vec![0, 1 << 63, u64::MAX],
        f32s: vec![1.5, -0.1, 3.4e38],
        f64s: vec![0.1, -2.5e-300, f64::NAN],
        strs: vec!["GALAXY".into(), "".into(), "O'Hara".into()],
        f32v: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5],
        f64v: (0..9).map(|i| i as f64 / 7.0).collect(),
        i64v: vec![1, -2, 3, -4, i64::MAX, i64::MIN],
        image_u32: vec![0, 1, 2, 1 << 31, u32::MAX - 1, u32::MAX],
        image_f32: (0..8).map(|i| i as f32 * 0.25 - 1.0).collect(),
        image_i16: vec![i16::MIN, 0, i16::MAX],
        image_i64: vec![-(1 << 53), 7, 1 << 53],
    }
}

fn hdus(x: &Fixture) -> Vec<HduOut> {
    use ColumnData as C;
    vec![
        HduOut::Primary {
            header: vec![
                Card::str("ORIGIN", "astrolab"),
                Card::str("LONGSTR", LONG),
                Card::float("EXPTIME", 1e-7).with_comment("seconds"),
                Card::bool("CALIB", false),
                Card::comment(&"a comment long enough to need two records. ".repeat(3)),
            ],
        },
        HduOut::Table {
            extname: Some("CATALOG".into()),
            header: vec![Card::int("NSIDE", 64)],
            columns: vec![
                ColumnOut::new("FLAG", C::Bool(x.bools.clone())),
                ColumnOut::new("U8", C::U8(x.u8s.clone())),
                ColumnOut::new("I16", C::I16(x.i16s.clone())),
                ColumnOut::new("I32", C::I32(x.i32s.clone())),
                ColumnOut::new("TARGETID", C::I64(x.i64s.clone())),
                ColumnOut::new("U32", C::U32(x.u32s.clone())),
                ColumnOut::new("U64", C::U64(x.u64s.clone())),
                ColumnOut::new("F32", C::F32(x.f32s.clone())).with_unit("mag"),
                ColumnOut::new("RA", C::F64(x.f64s.clone())).with_unit("deg"),
                ColumnOut::new(
                    "NAME",
                    C::Str {
                        width: 8,
                        values: x.strs.clone(),
                    },
                ),
                ColumnOut::new(
                    "F32V",
                    C::F32Vector {
                        repeat: 2,
                        values: x.f32v.clone(),
                    },
                ),
                ColumnOut::new(
                    "F64V",
                    C::F64Vector {
                        repeat: 3,
                        values: x.f64v.clone(),
                    },
                ),
                ColumnOut::new(
                    "I64V",
                    C::I64Vector {
                        repeat: 2,
                        values: x.i64v.clone(),
                    },
                ),
            ],
        },
        HduOut::Image {
            extname: "MASK".into(),
            header: vec![],
            shape: vec![2, 3],
            data: ImageData::U32(x.image_u32.clone()),
        },
        HduOut::Image {
            extname: "FLUX".into(),
            header: vec![Card::str("BUNIT", "1e-17 erg/(s cm2 Angstrom)")],
            shape: vec![2, 2, 2],
            data: ImageData::F32(x.image_f32.clone()),
        },
        HduOut::Image {
            extname: "WAVE".into(),
            header: vec![],
            shape: vec![3],
            data: ImageData::F64(vec![3600.0, 3600.8, 5800.0000000005]),
        },
        HduOut::Image {
            extname: "I16".into(),
            header: vec![],
            shape: vec![3],
            data: ImageData::I16(x.image_i16.clone()),
        },
        HduOut::Image {
            extname: "I32".into(),
            header: vec![],
            shape: vec![1, 3],
            data: ImageData::I32(vec![i32::MIN, 0, i32::MAX]),
        },
        HduOut::Image {
            extname: "I64".into(),
            header: vec![],
            shape: vec![3],
            data: ImageData::I64(x.image_i64.clone()),
        },
        HduOut::Image {
            extname: "U8".into(),
            header: vec![],
            shape: vec![3],
            data: ImageData::U8(vec![0, 128, 255]),
        },
    ]
}

#[test]
fn every_type_round_trips_exactly() {
    let x = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.fits");
    write_fits(&path, &hdus(&x)).unwrap();
    // Whole blocks; no temporary file left behind.
    assert_eq!(std::fs::metadata(&path).unwrap().len() % 2880, 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let f = FitsFile::open(&path).unwrap();
    let kinds: Vec<_> = f.hdus().iter().map(|h| (h.name(), h.kind)).collect();
    assert_eq!(kinds[0], ("HDU 0".to_string(), HduKind::Primary));
    assert_eq!(kinds[1], ("CATALOG".to_string(), HduKind::BinTable));
    assert_eq!(kinds.len(), 9);

    let p = &f.hdus()[0].header;
    assert_eq!(p.get_bool("EXTEND"), Some(true));
    assert_eq!(p.get_str("LONGSTR"), Some(LONG));
    assert_eq!(p.get_f64("EXPTIME"), Some(1e-7));
    assert_eq!(p.get_bool("CALIB"), Some(false));
    let comments: Vec<_> = p.cards().iter().filter(|c| c.key == "COMMENT").collect();
    assert_eq!(comments.len(), 2);

    let t = f.table("CATALOG").unwrap();
    assert_eq!(t.nrows(), 3);
    assert_eq!(t.hdu().header.get("NSIDE"), Some(&HeaderValue::Int(64)));
    let bools: Vec<Option<bool>> = x.bools.iter().map(|&b| Some(b)).collect();
    assert_eq!(t.read_bool("FLAG").unwrap(), bools);
    assert_eq!(
        t.read_i64("U8").unwrap(),
        x.u8s.iter().map(|&v| v as i64).collect::<Vec<_>>()
    );
    assert_eq!(
        t.read_i64("I16").unwrap(),
        x.i16s.iter().map(|&v| v as i64).collect::<Vec<_>>()
    );
    assert_eq!(
        t.read_i64("I32").unwrap(),
        x.i32s.iter().map(|&v| v as i64).collect::<Vec<_>>()
    );
    assert_eq!(t.read_i64("TARGETID").unwrap(), x.i64s);
    assert_eq!(
        t.read_u64("U32").unwrap(),
        x.u32s.iter().map(|&v| v as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        t.read_i64("U32").unwrap(),
        x.u32s.iter().map(|&v| v as i64).collect::<Vec<_>>()
    );
    assert_eq!(t.read_u64("U64").unwrap(), x.u64s);
    assert_eq!(t.column("U64").unwrap().tzero, 9223372036854775808.0);
    assert_eq!(t.read_f32("F32").unwrap(), x.f32s);
    assert_eq!(t.column("F32").unwrap().unit.as_deref(), Some("mag"));
    let ra = t.read_f64("RA").unwrap();
    assert_eq!(ra[..2], x.f64s[..2]);
    assert!(ra[2].is_nan());
    assert_eq!(t.read_str("NAME").unwrap(), x.strs);
    assert_eq!(t.read_f32_vector("F32V").unwrap(), (x.f32v.clone(), 2));
    assert_eq!(t.read_f64_vector("F64V").unwrap(), (x.f64v.clone(), 3));
    assert_eq!(t.read_i64_vector("I64V").unwrap(), (x.i64v.clone(), 2));
    // 2^63 does not fit i64: the error names the first such row.
    let e = t.read_i64("U64").unwrap_err().to_string();
    assert!(e.contains("'U64', row 1") && e.contains("read_u64"), "{e}");

    let (mask, shape) = f.read_image_u32("MASK").unwrap();
    assert_eq!((mask, shape), (x.image_u32.clone(), vec![2, 3]));
    let (flux, shape) = f.read_image_f32("FLUX").unwrap();
    assert_eq!((flux, shape), (x.image_f32.clone(), vec![2, 2, 2]));
    assert_eq!(f.hdu("FLUX").unwrap().header.get_i64("NAXIS1"), Some(2));
    assert_eq!(
        f.read_image_f64("WAVE").unwrap().0,
        [3600.0, 3600.8, 5800.0000000005]
    );
    let (i16s, _) = f.read_image_f64("I16").unwrap();
    assert_eq!(
        i16s,
        x.image_i16.iter().map(|&v| v as f64).collect::<Vec<_>>()
    );
    assert_eq!(f.read_image_u32("U8").unwrap().0, [0, 128, 255]);
    let (i32s, shape) = f.read_image_f64("I32").unwrap();
    assert_eq!(
        (i32s, shape),
        (vec![i32::MIN as f64, 0.0, i32::MAX as f64], vec![1, 3])
    );
    let (i64s, _) = f.read_image_f64("I64").unwrap();
    assert_eq!(
        i64s,
        x.image_i64.iter().map(|&v| v as f64).collect::<Vec<_>>()
    );

    astropy_agrees(&path, &x);
}

/// Python literals for the expected values.
fn py<T: ToString>(v: &[T]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|x| match x.to_string().as_str() {
            "NaN" => "float('nan')".to_string(),
            "true" => "True".to_string(),
            "false" => "False".to_string(),
            s => s.to_string(),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn py_str(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(", "))
}

/// Opens the file with astropy and checks every value; skips (or fails under
/// CI) when python3 with astropy is not installed.
fn astropy_agrees(path: &Path, x: &Fixture) {
    let available = Command::new("python3")
        .args(["-c", "import astropy, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but python3 with astropy is missing"
        );
        eprintln!("skipping the astropy cross-check: python3 with astropy not found");
        return;
    }
    let script = format!(
        r#"
import sys
import numpy as np
from astropy.io import fits
eq = np.testing.assert_array_equal
with fits.open(sys.argv[1]) as h:
    assert [x.name for x in h] == ['PRIMARY', 'CATALOG', 'MASK', 'FLUX', 'WAVE', 'I16', 'I32', 'I64', 'U8'], [x.name for x in h]
    p = h[0].header
    assert p['LONGSTR'] == {long:?}, p['LONGSTR']
    assert p['EXPTIME'] == 1e-7 and p['CALIB'] is False and p['ORIGIN'] == 'astrolab'
    t = h['CATALOG'].data
    eq(t['FLAG'], {bools})
    eq(t['U8'], np.array({u8s}, dtype=np.uint8))
    eq(t['I16'], {i16s})
    eq(t['I32'], {i32s})
    eq(t['TARGETID'], np.array({i64s}, dtype=np.int64))
    assert t['U32'].dtype == np.uint32, t['U32'].dtype
    eq(t['U32'], np.array({u32s}, dtype=np.uint32))
    assert t['U64'].dtype == np.uint64, t['U64'].dtype
    eq(t['U64'], np.array({u64s}, dtype=np.uint64))
    eq(t['F32'], np.array({f32s}, dtype=np.float32))
    eq(t['RA'], np.array({f64s}))
    eq(t['NAME'], {strs})
    eq(t['F32V'], np.array({f32v}, dtype=np.float32).reshape(3, 2))
    eq(t['F64V'], np.array({f64v}).reshape(3, 3))
    eq(t['I64V'], np.array({i64v}, dtype=np.int64).reshape(3, 2))
    assert h['CATALOG'].columns['RA'].unit == 'deg'
    m = h['MASK'].data
    assert m.dtype == np.uint32 and m.shape == (2, 3), (m.dtype, m.shape)
    eq(m.ravel(), np.array({mask}, dtype=np.uint32))
    eq(h['FLUX'].data, np.array({flux}, dtype=np.float32).reshape(2, 2, 2))
    eq(h['WAVE'].data, [3600.0, 3600.8, 5800.0000000005])
    eq(h['I16'].data, {img16})
    eq(h['I32'].data, [[-2147483648, 0, 2147483647]])
    eq(h['I64'].data, {img64})
    eq(h['U8'].data, [0, 128, 255])
print('astropy agrees')
"#,
        long = LONG,
        bools = py(&x.bools),
        u8s = py(&x.u8s),
        i16s = py(&x.i16s),
        i32s = py(&x.i32s),
        i64s = py(&x.i64s),
        u32s = py(&x.u32s),
        u64s = py(&x.u64s),
        f32s = py(&x.f32s),
        f64s = py(&x.f64s),
        strs = py_str(&x.strs),
        f32v = py(&x.f32v),
        f64v = py(&x.f64v.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>()),
        i64v = py(&x.i64v),
        mask = py(&x.image_u32),
        flux = py(&x.image_f32),
        img16 = py(&x.image_i16),
        img64 = py(&x.image_i64),
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "astropy disagrees:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Astropy's verifier must not complain about the structure either.
    let verify = Command::new("python3")
        .args([
            "-c",
            "import sys; from astropy.io import fits; h = fits.open(sys.argv[1]); h.verify('exception'); print('ok')",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
