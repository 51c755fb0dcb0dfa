//! Spectra files from the real DESI coadds in `$ASTROLAB_SHARED_DATA/desi`,
//! read back by us and by pyarrow; the lab's per-tile layout; bad files.
//!
//! The pyarrow tests run `python3` with pyarrow and numpy; they are skipped
//! when those are missing, unless `CI` is set (then they fail).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::types::{Float64Type, Int32Type};
use arrow_array::{ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use astrolab_formats::spectra::{merged_wavelength, read_desi_coadd, read_redrock, MERGED_NPIX};
use astrolab_formats::testdata::require_shared_data;
use astrolab_spectra::{
    convert_coadd, convert_coadd_counted, convert_coadd_with, read_lab_layout, write_spectra_file,
    ConvertCounts, ConvertOptions, SpectraFile, SpectraRow,
};
use parquet::arrow::ArrowWriter;
use sha2::{Digest, Sha256};

/// (coadd, redrock, spectra, of which without a redrock entry)
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

fn desi(test: &str) -> Option<PathBuf> {
    Some(require_shared_data(test)?.join("desi"))
}

fn bits32(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn bits64(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Converts and writes one case; returns the file written and the rows.
fn convert_to(
    dir: &Path,
    data: &Path,
    coadd: &str,
    redrock: Option<&str>,
) -> (PathBuf, Vec<SpectraRow>) {
    let rr = redrock.map(|r| data.join(r));
    let (meta, rows) =
        convert_coadd(&data.join(coadd), rr.as_deref(), |_| true).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join(coadd.replace(".fits", ".parquet"));
    let bytes = write_spectra_file(&out, &meta, &rows).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bytes, std::fs::metadata(&out).unwrap().len());
    (out, rows)
}

#[test]
fn real_coadds_round_trip_bitwise() {
    let Some(data) = desi("real_coadds_round_trip_bitwise") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // (survey, program, healpix, spectra, kept) as the coadds' headers and
    // redrock files give them (checked with astropy 8 on the same files).
    let expect = [
        ("special", "dark", Some(27247), 1, 1),
        // A tile coadd: its header has TILEID and NIGHT, no SURVEY, PROGRAM.
        ("", "", None, 1, 1),
        // Two of its five fibres are on no target (negative TARGETID).
        ("sv3", "dark", Some(26065), 5, 3),
    ];
    for ((coadd, redrock), (survey, program, healpix, n_spectra, kept)) in CASES.iter().zip(expect)
    {
        let rr_path = redrock.map(|r| data.join(r));
        let (meta, rows, counts) =
            convert_coadd_counted(&data.join(coadd), rr_path.as_deref(), |_| true).unwrap();
        eprintln!("{coadd}: {meta:?} {counts:?}");
        assert_eq!(
            (meta.survey.as_str(), meta.program.as_str(), meta.healpix),
            (survey, program, healpix),
            "{coadd}"
        );
        assert_eq!(
            (counts.n_spectra, counts.kept),
            (n_spectra, kept),
            "{coadd}"
        );
        assert_eq!(
            counts.kept + counts.not_targets + counts.no_redshift + counts.rejected,
            counts.n_spectra
        );
        // Without a redrock file no spectrum has a redshift (issue 14: the
        // build reported "0 without redshift" for them).
        assert_eq!(
            counts.kept_without_redshift,
            if redrock.is_some() { 0 } else { kept },
            "{coadd}"
        );
        assert_eq!(meta.npix, MERGED_NPIX);
        assert_eq!(meta.source_files.len(), 1 + usize::from(redrock.is_some()));
        assert!(
            meta.source_files[0].starts_with(&format!("{coadd} sha256:")),
            "{:?}",
            meta.source_files
        );

        let out = dir.path().join("x.parquet");
        write_spectra_file(&out, &meta, &rows).unwrap();
        let f = SpectraFile::open(&out).unwrap();
        assert_eq!(f.meta(), &meta);
        assert_eq!(bits64(&f.wavelength()), bits64(&merged_wavelength()));
        assert_eq!(f.len(), kept);

        // Independently: the coadd merged by astrolab-formats, by TARGETID.
        let c = read_desi_coadd(&data.join(coadd)).unwrap();
        let merged = c.merged_all().unwrap();
        let z_of: HashMap<i64, f64> = match &rr_path {
            Some(p) => {
                let r = read_redrock(p).unwrap();
                r.targetid
                    .iter()
                    .rev()
                    .copied()
                    .zip(r.z.iter().rev().copied())
                    .collect()
            }
            None => HashMap::new(),
        };
        let back = f.read_all().unwrap();
        let ids = f.target_ids().unwrap();
        assert_eq!(ids, back.iter().map(|r| r.target_id).collect::<Vec<_>>());
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{coadd}: not sorted by target_id"
        );
        for r in &back {
            let i = c.row_of(r.target_id).unwrap();
            assert_eq!(
                bits32(&r.flux),
                bits32(&merged[i].flux),
                "{coadd} {}",
                r.target_id
            );
            assert_eq!(
                bits32(&r.ivar),
                bits32(&merged[i].ivar),
                "{coadd} {}",
                r.target_id
            );
            assert_eq!(r.mask, merged[i].mask, "{coadd} {}", r.target_id);
            assert_eq!(r.ra.to_bits(), c.fibermap.target_ra[i].to_bits());
            assert_eq!(r.dec.to_bits(), c.fibermap.target_dec[i].to_bits());
            match z_of.get(&r.target_id) {
                Some(z) => assert_eq!(r.z.to_bits(), z.to_bits()),
                None => assert!(rr_path.is_none() && r.z.is_nan()),
            }
        }
        // What was written is what the converter returned (NaN z included).
        assert_eq!(back.len(), rows.len());
        for (a, b) in back.iter().zip(&rows) {
            assert_eq!((a.target_id, a.z.to_bits()), (b.target_id, b.z.to_bits()));
        }
    }
}

#[test]
fn selections_and_missing_redshifts_are_counted() {
    let Some(data) = desi("selections_and_missing_redshifts_are_counted") else {
        return;
    };
    // Both redrock files hold one GALAXY with ZWARN 0 (astropy).
    for (coadd, redrock) in &CASES[..2] {
        let rr = data.join(redrock.unwrap());
        let coadd = data.join(coadd);
        let (_, rows, counts) =
            convert_coadd_counted(&coadd, Some(&rr), |r| r.spectype == "QSO").unwrap();
        assert!(rows.is_empty());
        assert_eq!(
            (counts.kept, counts.rejected, counts.no_redshift),
            (0, 1, 0)
        );
        let (_, rows, counts) = convert_coadd_counted(&coadd, Some(&rr), |r| {
            r.spectype == "GALAXY" && r.zwarn == 0 && r.z > 0.0
        })
        .unwrap();
        assert_eq!(
            (counts.kept, counts.rejected, counts.no_redshift),
            (1, 0, 0)
        );
        let r = read_redrock(&rr).unwrap();
        assert_eq!(
            (rows[0].target_id, rows[0].z.to_bits()),
            (r.targetid[0], r.z[0].to_bits())
        );
    }
    // redrock-test.fits holds none of sv3-dark-26065's three targets (its
    // other two fibres are on no target).
    let (_, rows, counts) = convert_coadd_counted(
        &data.join(CASES[2].0),
        Some(&data.join("redrock-test.fits")),
        |_| true,
    )
    .unwrap();
    assert!(rows.is_empty());
    assert_eq!(
        (counts.n_spectra, counts.not_targets, counts.no_redshift),
        (5, 2, 3)
    );
}

/// Issue 14 (9c): fibres on no target (negative TARGETID) are skipped and
/// counted, unless asked for. The real sv3 coadd has two of its five
/// (TARGETID -2713437 and -2713415, empty: ivar 0 everywhere).
#[test]
fn negative_targetids_are_skipped_unless_kept() {
    let Some(data) = desi("negative_targetids_are_skipped_unless_kept") else {
        return;
    };
    let coadd = data.join("coadd-sv3-dark-26065.fits");
    let ids = read_desi_coadd(&coadd).unwrap().fibermap.targetid;
    assert_eq!(ids[..2], [-2713437, -2713415]);
    let (_, rows, counts) = convert_coadd_counted(&coadd, None, |_| true).unwrap();
    assert_eq!(
        counts,
        ConvertCounts {
            n_spectra: 5,
            kept: 3,
            kept_without_redshift: 3,
            not_targets: 2,
            no_redshift: 0,
            rejected: 0,
        }
    );
    let mut want = ids[2..].to_vec();
    want.sort();
    assert_eq!(rows.iter().map(|r| r.target_id).collect::<Vec<_>>(), want);
    let keep = ConvertOptions {
        keep_negative_targetids: true,
    };
    let (_, rows, counts) = convert_coadd_with(&coadd, None, &keep, |_| true).unwrap();
    assert_eq!((counts.kept, counts.not_targets), (5, 0));
    let mut want = ids.clone();
    want.sort();
    assert_eq!(rows.iter().map(|r| r.target_id).collect::<Vec<_>>(), want);
}

#[test]
fn read_rows_of_a_subset_matches_read_all() {
    let Some(data) = desi("read_rows_of_a_subset_matches_read_all") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (coadd, redrock) = CASES[2];
    let (out, rows) = convert_to(dir.path(), &data, coadd, redrock);
    let f = SpectraFile::open(&out).unwrap();
    let n = f.len();
    assert_eq!(n, 3);
    let pick = [2, 0, 1, 2, 1];
    let got = f.read_rows(&pick).unwrap();
    for (g, &i) in got.iter().zip(&pick) {
        assert_eq!(g.target_id, rows[i].target_id);
        assert_eq!(bits32(&g.flux), bits32(&rows[i].flux));
        assert_eq!(bits32(&g.ivar), bits32(&rows[i].ivar));
        assert_eq!(g.mask, rows[i].mask);
    }
    let err = f.read_rows(&[n]).unwrap_err().to_string();
    assert!(
        err.contains(&format!("row {n} (0-based) does not exist")),
        "{err}"
    );

    // The real spectra repeated under new target ids: 2100 rows, three row
    // groups; reads that cross them return exactly the rows written.
    let many: Vec<SpectraRow> = (0..2100)
        .map(|i| SpectraRow {
            target_id: 1_000_000 + i as i64,
            ..rows[i % rows.len()].clone()
        })
        .collect();
    let big = dir.path().join("big.parquet");
    write_spectra_file(&big, f.meta(), &many).unwrap();
    let f = SpectraFile::open(&big).unwrap();
    assert_eq!((f.len(), f.n_row_groups()), (2100, 3));
    let pick = [2099, 0, 1000, 999, 1500, 2000];
    for (g, &i) in f.read_rows(&pick).unwrap().iter().zip(&pick) {
        assert_eq!(g.target_id, many[i].target_id);
        assert_eq!(bits32(&g.flux), bits32(&many[i].flux));
        assert_eq!(bits32(&g.ivar), bits32(&many[i].ivar));
        assert_eq!(g.mask, many[i].mask);
    }
}

/// `python3` with pyarrow and numpy, or `None` (skip) when CI is unset.
fn python(test: &str) -> Option<()> {
    let ok = Command::new("python3")
        .args(["-c", "import pyarrow, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(());
    }
    let why = "python3 with pyarrow and numpy not found (pip install pyarrow numpy)";
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why}");
    }
    eprintln!("skipping {test}: {why}");
    None
}

fn run_python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sha_hex(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut h = Sha256::new();
    h.update(bytes.into_iter().collect::<Vec<u8>>());
    hex::encode(h.finalize())
}

const PY_READ: &str = r#"
import sys, json, hashlib
import numpy as np, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
md = {k.decode(): v.decode() for k, v in t.schema.metadata.items() if not k.startswith(b"ARROW")}
npix = int(md["npix"])
def flat(c, dt):
    a = t[c].combine_chunks().flatten().to_numpy().astype(dt, copy=False)
    assert a.size == t.num_rows * npix, (c, a.size)
    return hashlib.sha256(a.astype(dt.newbyteorder("<")).tobytes()).hexdigest()
wave = float(md["wave_min_a"]) + float(md["dwave_a"]) * np.arange(npix, dtype=np.float64)
print(json.dumps({
    "rows": t.num_rows,
    "types": {f.name: str(f.type) for f in t.schema},
    "meta": md,
    "target_id": t["target_id"].to_pylist(),
    "z": [repr(z) for z in t["z"].to_pylist()],
    "flux": flat("flux", np.dtype(np.float32)),
    "ivar": flat("ivar", np.dtype(np.float32)),
    "mask": flat("mask", np.dtype(np.uint32)),
    "wave": hashlib.sha256(wave.astype("<f8").tobytes()).hexdigest(),
    "row_groups": pq.ParquetFile(sys.argv[1]).metadata.num_row_groups,
}))
"#;

#[test]
fn pyarrow_reads_the_file_with_the_same_values_and_metadata() {
    let Some(data) = desi("pyarrow_reads_the_file") else {
        return;
    };
    if python("pyarrow_reads_the_file").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (coadd, redrock) in [CASES[0], CASES[2]] {
        let (out, rows) = convert_to(dir.path(), &data, coadd, redrock);
        let f = SpectraFile::open(&out).unwrap();
        let py: serde_json::Value = serde_json::from_str(&run_python(PY_READ, &[&out])).unwrap();
        assert_eq!(py["rows"], rows.len());
        assert_eq!(py["row_groups"], 1);
        let t = &py["types"];
        assert_eq!(t["target_id"], "int64");
        assert_eq!(t["z"], "double");
        assert_eq!(
            t["flux"],
            format!("fixed_size_list<element: float not null>[{MERGED_NPIX}]")
        );
        assert_eq!(
            t["mask"],
            format!("fixed_size_list<element: uint32 not null>[{MERGED_NPIX}]")
        );
        let m = &py["meta"];
        assert_eq!(m["npix"], "7781");
        assert_eq!(m["wave_min_a"], "3600");
        assert_eq!(m["dwave_a"], "0.8");
        assert_eq!(m["astrolab_format"], "astrolab-spectra/1");
        assert_eq!(m["survey"], f.meta().survey.as_str());
        let sources: Vec<String> =
            serde_json::from_str(m["source_files"].as_str().unwrap()).unwrap();
        assert_eq!(sources, f.meta().source_files);
        let ids: Vec<i64> = rows.iter().map(|r| r.target_id).collect();
        assert_eq!(py["target_id"], serde_json::json!(ids));
        // Python's repr of a float is its shortest round-trip form, as Rust's `{:?}`
        // ("nan" in Python, "NaN" in Rust).
        let zs: Vec<String> = rows
            .iter()
            .map(|r| {
                if r.z.is_nan() {
                    "nan".into()
                } else {
                    format!("{:?}", r.z)
                }
            })
            .collect();
        assert_eq!(py["z"], serde_json::json!(zs));
        let le32 = |f: &dyn Fn(&SpectraRow) -> &Vec<f32>| {
            sha_hex(
                rows.iter()
                    .flat_map(|r| f(r).iter().flat_map(|v| v.to_le_bytes())),
            )
        };
        assert_eq!(
            py["flux"],
            le32(&|r| &r.flux),
            "{coadd}: flux differs in pyarrow"
        );
        assert_eq!(
            py["ivar"],
            le32(&|r| &r.ivar),
            "{coadd}: ivar differs in pyarrow"
        );
        let mask = sha_hex(
            rows.iter()
                .flat_map(|r| r.mask.iter().flat_map(|v| v.to_le_bytes())),
        );
        assert_eq!(py["mask"], mask);
        let wave = sha_hex(merged_wavelength().iter().flat_map(|v| v.to_le_bytes()));
        assert_eq!(py["wave"], wave, "numpy rebuilds a different grid");
    }
}

const PY_LAB: &str = r#"
import sys
import pyarrow as pa, pyarrow.parquet as pq
w = [[3600.0, 3600.8, 3601.6], [5000.5], [9000.0, 9000.25]]
a = pa.table({
    "target_id": pa.array([39627866878511337, -2713437, 7], pa.int64()),
    "ra": pa.array([150.25, 10.5, 0.0], pa.float64()),
    "dec": pa.array([2.5, -1.25, 89.0], pa.float64()),
    "z": pa.array([2.125, 0.5, 1.0], pa.float64()),
    "wavelength": pa.array(w, pa.list_(pa.float64())),
    "flux": pa.array([[1.5, -2.25, 3.0], [0.125], [7.0, 8.0]], pa.list_(pa.float32())),
    "ivar": pa.array([[4.0, 0.0, 1.0], [2.0], [0.5, 0.25]], pa.list_(pa.float32())),
    "mask_array": pa.array([[0, -2147483648, 1], [0], [2, 0]], pa.list_(pa.int32())),
})
pq.write_table(a, sys.argv[1], row_group_size=2)
b = pa.table({
    "target_id": pa.array([11], pa.int32()),
    "ra": pa.array([1.5], pa.float32()),
    "dec": pa.array([-3.0], pa.float32()),
    "z": pa.array([0.25], pa.float32()),
    "wavelength": pa.array([[4000.0, 4000.8]], pa.list_(pa.float64())),
    "flux": pa.array([[0.1, 1e40]], pa.list_(pa.float64())),
    "ivar": pa.array([[1.0, 2.0]], pa.large_list(pa.float64())),
    "mask_array": pa.array([[4294967295, 3]], pa.list_(pa.int64())),
})
pq.write_table(b, sys.argv[2])
"#;

#[test]
fn lab_layout_written_by_pyarrow_reads_back() {
    if python("lab_layout_written_by_pyarrow").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    run_python(PY_LAB, &[&a, &b]);
    let rows = read_lab_layout(&a).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].target_id, 39627866878511337);
    assert_eq!((rows[0].ra, rows[0].dec, rows[0].z), (150.25, 2.5, 2.125));
    assert_eq!(rows[0].wavelength, vec![3600.0, 3600.8, 3601.6]);
    assert_eq!(rows[0].flux, vec![1.5, -2.25, 3.0]);
    assert_eq!(rows[0].ivar, vec![4.0, 0.0, 1.0]);
    assert_eq!(rows[0].mask, vec![0, 1 << 31, 1]);
    assert_eq!(rows[1].target_id, -2713437);
    assert_eq!(
        (rows[1].wavelength.clone(), rows[1].flux.clone()),
        (vec![5000.5], vec![0.125])
    );
    // Row 2 is in the second row group.
    assert_eq!(rows[2].target_id, 7);
    assert_eq!(rows[2].wavelength, vec![9000.0, 9000.25]);
    assert_eq!(rows[2].ivar, vec![0.5, 0.25]);
    assert_eq!(rows[2].mask, vec![2, 0]);

    let rows = read_lab_layout(&b).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].target_id, rows[0].ra, rows[0].dec, rows[0].z),
        (11, 1.5, -3.0, 0.25)
    );
    // Doubles are rounded to f32 (1e40 overflows to infinity, as numpy's cast).
    assert_eq!(rows[0].flux, vec![0.1f64 as f32, f32::INFINITY]);
    assert_eq!(rows[0].ivar, vec![1.0, 2.0]);
    assert_eq!(rows[0].mask, vec![u32::MAX, 3]);
}

/// A lab-layout file built here, with `mask_array` given as int64 lists.
fn write_lab(
    path: &Path,
    cols: &[&str],
    flux: Vec<Option<Vec<Option<f64>>>>,
    mask: Vec<Option<Vec<Option<i64>>>>,
) {
    let n = flux.len();
    let list_f64 = |v: Vec<Option<Vec<Option<f64>>>>| -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(v))
    };
    let wave: Vec<Option<Vec<Option<f64>>>> = flux
        .iter()
        .map(|f| {
            Some(
                (0..f.as_ref().map_or(0, |f| f.len()))
                    .map(|k| Some(3600.0 + k as f64))
                    .collect(),
            )
        })
        .collect();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for &c in cols {
        let a: ArrayRef = match c {
            "target_id" => Arc::new(Int64Array::from_iter_values(0..n as i64)),
            "ra" | "dec" | "z" => Arc::new(Float64Array::from(vec![1.0; n])),
            "wavelength" => list_f64(wave.clone()),
            "flux" => list_f64(flux.clone()),
            "ivar" => list_f64(wave.clone()),
            "mask_array" => Arc::new(ListArray::from_iter_primitive::<
                arrow_array::types::Int64Type,
                _,
                _,
            >(mask.clone())),
            _ => unreachable!(),
        };
        fields.push(Field::new(c, a.data_type().clone(), true));
        arrays.push(a);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

const LAB: [&str; 8] = [
    "target_id",
    "ra",
    "dec",
    "z",
    "wavelength",
    "flux",
    "ivar",
    "mask_array",
];

fn lab_err(path: &Path) -> String {
    match read_lab_layout(path) {
        Ok(rows) => panic!("{} read {} rows", path.display(), rows.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn lab_layout_errors_name_file_column_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tile-1.parquet");
    let ok_flux = || Some(vec![Some(1.0), Some(2.0)]);
    let ok_mask = || Some(vec![Some(0), Some(1)]);

    write_lab(&p, &LAB[..7], vec![ok_flux()], vec![ok_mask()]);
    let e = lab_err(&p);
    assert!(
        e.contains("tile-1.parquet: column 'mask_array': missing"),
        "{e}"
    );

    write_lab(
        &p,
        &LAB,
        vec![ok_flux(), Some(vec![Some(1.0), None])],
        vec![ok_mask(), ok_mask()],
    );
    let e = lab_err(&p);
    assert!(
        e.contains("tile-1.parquet: column 'flux', row 1 (0-based): element 1 is null"),
        "{e}"
    );

    write_lab(
        &p,
        &LAB,
        vec![ok_flux(), ok_flux()],
        vec![ok_mask(), Some(vec![Some(0)])],
    );
    let e = lab_err(&p);
    assert!(
        e.contains("column 'mask_array', row 1") && e.contains("1 values, but wavelength has 2"),
        "{e}"
    );

    write_lab(
        &p,
        &LAB,
        vec![ok_flux(), ok_flux(), ok_flux()],
        vec![ok_mask(), ok_mask(), Some(vec![Some(0), Some(-1)])],
    );
    let e = lab_err(&p);
    assert!(
        e.contains("column 'mask_array', row 2")
            && e.contains("element 1: -1 is not a 32-bit mask"),
        "{e}"
    );

    write_lab(&p, &LAB, vec![ok_flux(), None], vec![ok_mask(), ok_mask()]);
    let e = lab_err(&p);
    assert!(e.contains("column 'flux', row 1 (0-based): null"), "{e}");

    // A spectra file is not a lab file, and the other way round.
    let e = match SpectraFile::open(&p) {
        Ok(_) => panic!("opened a lab file as a spectra file"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("metadata key 'astrolab_format': missing") && e.contains("read_lab_layout"),
        "{e}"
    );
}

#[test]
fn truncated_files_and_missing_columns_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<SpectraRow> = (0..3)
        .map(|t| SpectraRow {
            target_id: t,
            ra: 1.0,
            dec: 2.0,
            z: 0.5,
            flux: vec![1.0; 4],
            ivar: vec![2.0; 4],
            mask: vec![0; 4],
        })
        .collect();
    let meta = astrolab_spectra::FileMeta {
        survey: "sv3".into(),
        program: "dark".into(),
        healpix: Some(1),
        wave_min_a: 3600.0,
        dwave_a: 0.8,
        npix: 4,
        source_files: vec![],
        software_version: "test".into(),
    };
    let good = dir.path().join("good.parquet");
    write_spectra_file(&good, &meta, &rows).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for keep in [bytes.len() / 2, bytes.len() - 3, 5] {
        let cut = dir.path().join("cut.parquet");
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let e = SpectraFile::open(&cut).unwrap_err().to_string();
        assert!(
            e.contains("cut.parquet: not a readable Parquet file") && e.contains("complete"),
            "{e}"
        );
        let e = lab_err(&cut);
        assert!(
            e.contains("cut.parquet: not a readable Parquet file"),
            "{e}"
        );
    }

    // Same metadata, no `mask` column.
    let src = SpectraFile::open(&good).unwrap();
    let all = src.read_all().unwrap();
    assert_eq!(all, rows);
    let schema = astrolab_spectra::arrow_schema(4).unwrap();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .take(6)
        .map(|f| f.as_ref().clone())
        .collect();
    // Re-read the good file as raw batches to drop a column.
    let full = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        File::open(&good).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap()
    .next()
    .unwrap()
    .unwrap();
    let kv = parquet::file::reader::FileReader::metadata(
        &parquet::file::serialized_reader::SerializedFileReader::new(File::open(&good).unwrap())
            .unwrap(),
    )
    .file_metadata()
    .key_value_metadata()
    .cloned();
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), full.columns()[..6].to_vec()).unwrap();
    let no_mask = dir.path().join("no-mask.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(kv)
        .build();
    let mut w =
        ArrowWriter::try_new(File::create(&no_mask).unwrap(), batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let e = SpectraFile::open(&no_mask).unwrap_err().to_string();
    assert!(
        e.contains("no-mask.parquet: column 'mask': missing; the file has target_id, ra"),
        "{e}"
    );

    // A column of the wrong type.
    let ids32: ArrayRef = Arc::new(arrow_array::PrimitiveArray::<Int32Type>::from(vec![
        0, 1, 2,
    ]));
    let mut cols = full.columns().to_vec();
    cols[0] = ids32;
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[0] = Field::new("target_id", DataType::Int32, false);
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let kv = parquet::file::reader::FileReader::metadata(
        &parquet::file::serialized_reader::SerializedFileReader::new(File::open(&good).unwrap())
            .unwrap(),
    )
    .file_metadata()
    .key_value_metadata()
    .cloned();
    let bad_type = dir.path().join("bad-type.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(kv)
        .build();
    let mut w = ArrowWriter::try_new(
        File::create(&bad_type).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let e = SpectraFile::open(&bad_type).unwrap_err().to_string();
    assert!(
        e.contains("bad-type.parquet: column 'target_id': type Int32 where Int64 was expected"),
        "{e}"
    );
}

/// A trimmed coadd (its FIBERMAP keeps only TARGETID, as the quasar
/// coadds of `qso/desi`) reads, but cannot go into the store, which
/// indexes positions: the error names the file, the columns and the row.
#[test]
fn a_coadd_without_positions_is_refused_naming_the_columns() {
    let Some(root) = require_shared_data("a_coadd_without_positions_is_refused_naming_the_columns")
    else {
        return;
    };
    let path = root.join("qso/desi/coadd-main-dark-9144.fits");
    let c = read_desi_coadd(&path).unwrap();
    assert_eq!(c.fibermap.targetid, [39632936152072660, 39632936152073654]);
    assert!(c.fibermap.target_ra.iter().all(|x| x.is_nan()));
    let e = convert_coadd(&path, None, |_| true)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("coadd-main-dark-9144.fits: column 'FIBERMAP TARGET_RA/TARGET_DEC', row 0"),
        "{e}"
    );
}
