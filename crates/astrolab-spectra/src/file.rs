//! astrolab's own spectra file: one Parquet file per source (a healpix or
//! tile coadd), spectra on one shared wavelength grid.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int64Type, UInt32Type};
use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch,
    UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::SpectraStoreError;

type Result<T> = std::result::Result<T, SpectraStoreError>;

/// Spectra per Parquet row group: reading one spectrum touches one row group
/// (about 1000 x 7781 x 12 bytes = 93 MB before compression), and the
/// offset index lets the reader skip that group's pages before the row.
pub const ROW_GROUP_SPECTRA: usize = 1000;

/// Value of the `astrolab_format` key: the layout version of these files.
pub const FORMAT_VERSION: &str = "astrolab-spectra/1";

/// The columns, declared once for the writer, the reader and the tests.
pub mod columns {
    pub const TARGET_ID: &str = "target_id";
    pub const RA: &str = "ra";
    pub const DEC: &str = "dec";
    pub const Z: &str = "z";
    pub const FLUX: &str = "flux";
    pub const IVAR: &str = "ivar";
    pub const MASK: &str = "mask";
    /// Name of the element field of the list columns (the Parquet spec's).
    pub const ELEMENT: &str = "element";
}

/// The file key-value metadata keys (plain names, readable from pyarrow as
/// `pq.read_metadata(path).metadata[b"wave_min_a"]`).
pub mod keys {
    pub const FORMAT: &str = "astrolab_format";
    pub const SURVEY: &str = "survey";
    pub const PROGRAM: &str = "program";
    pub const HEALPIX: &str = "healpix";
    pub const WAVE_MIN_A: &str = "wave_min_a";
    pub const DWAVE_A: &str = "dwave_a";
    pub const NPIX: &str = "npix";
    pub const SOURCE_FILES: &str = "source_files";
    pub const SOFTWARE_VERSION: &str = "software_version";
}

/// One spectrum: a target, its redshift and its pixels on the file's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectraRow {
    /// DESI `TARGETID`.
    pub target_id: i64,
    /// ICRS right ascension, degrees.
    pub ra: f64,
    /// ICRS declination, degrees.
    pub dec: f64,
    /// Redshift (dimensionless); NaN when the source had no redshift.
    pub z: f64,
    /// 1e-17 erg/s/cm^2/A, `npix` values.
    pub flux: Vec<f32>,
    /// Inverse variance of `flux`, `npix` values.
    pub ivar: Vec<f32>,
    /// Mask bits (DESI `specmask` plus astrolab's bits 30, 31), `npix` values.
    pub mask: Vec<u32>,
}

/// What a spectra file says about itself (stored as Parquet key-value
/// metadata, so it is read without decoding any column).
#[derive(Debug, Clone, PartialEq)]
pub struct FileMeta {
    /// `sv3`, `main`, `special`, ...; empty when the source did not say.
    pub survey: String,
    /// `dark`, `bright`, ...; empty when the source did not say.
    pub program: String,
    /// HEALPix pixel (nside 64, nested) of a healpix coadd; `None` for a
    /// tile-based coadd (`coadd-PETAL-TILE-thruNIGHT.fits`), which has none.
    pub healpix: Option<i64>,
    /// Wavelength of pixel 0, Angstrom (vacuum).
    pub wave_min_a: f64,
    /// Pixel width, Angstrom: pixel `k` is at `wave_min_a + dwave_a * k`.
    pub dwave_a: f64,
    /// Pixels per spectrum.
    pub npix: usize,
    /// The files the spectra came from, one `"NAME sha256:HEX"` each.
    pub source_files: Vec<String>,
    /// The software that wrote the file, e.g. `astrolab-spectra 0.1.0`.
    pub software_version: String,
}

impl FileMeta {
    /// The wavelength grid, Angstrom: `wave_min_a + dwave_a * k`, computed as
    /// `astrolab_formats::spectra::merged_wavelength` does, so it is bitwise
    /// equal to it for the merged DESI grid.
    pub fn wavelength(&self) -> Vec<f64> {
        (0..self.npix)
            .map(|k| self.wave_min_a + self.dwave_a * k as f64)
            .collect()
    }

    fn to_key_values(&self) -> Vec<KeyValue> {
        let mut kv = vec![
            KeyValue::new(keys::FORMAT.into(), FORMAT_VERSION.to_string()),
            KeyValue::new(keys::SURVEY.into(), self.survey.clone()),
            KeyValue::new(keys::PROGRAM.into(), self.program.clone()),
            // `{}` of an f64 is the shortest string that parses back to the
            // same bits, so readers rebuild the grid exactly.
            KeyValue::new(keys::WAVE_MIN_A.into(), format!("{}", self.wave_min_a)),
            KeyValue::new(keys::DWAVE_A.into(), format!("{}", self.dwave_a)),
            KeyValue::new(keys::NPIX.into(), self.npix.to_string()),
            KeyValue::new(
                keys::SOURCE_FILES.into(),
                serde_json::Value::from(self.source_files.clone()).to_string(),
            ),
            KeyValue::new(keys::SOFTWARE_VERSION.into(), self.software_version.clone()),
        ];
        if let Some(pix) = self.healpix {
            kv.push(KeyValue::new(keys::HEALPIX.into(), pix.to_string()));
        }
        kv
    }

    fn from_key_values(path: &Path, kv: Option<&Vec<KeyValue>>) -> Result<Self> {
        let empty = Vec::new();
        let kv = kv.unwrap_or(&empty);
        let get = |key: &str| {
            kv.iter()
                .find(|e| e.key == key)
                .and_then(|e| e.value.as_deref())
        };
        let bad = |key: &str, message: String| SpectraStoreError::Metadata {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let require = |key: &str| {
            get(key).ok_or_else(|| {
                bad(
                    key,
                    format!(
                        "missing; this is not an astrolab spectra file ({FORMAT_VERSION}); \
                         for the lab's per-tile files use read_lab_layout"
                    ),
                )
            })
        };
        let format = require(keys::FORMAT)?;
        if format != FORMAT_VERSION {
            return Err(bad(
                keys::FORMAT,
                format!("'{format}' is not '{FORMAT_VERSION}'; a newer astrolab may read it"),
            ));
        }
        let parse_f64 = |key: &str| -> Result<f64> {
            let s = require(key)?;
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(key, format!("'{s}' is not a finite number")))
        };
        let npix_s = require(keys::NPIX)?;
        let npix = npix_s
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0 && i32::try_from(n).is_ok())
            .ok_or_else(|| bad(keys::NPIX, format!("'{npix_s}' is not a pixel count")))?;
        let healpix = match get(keys::HEALPIX) {
            None => None,
            Some(s) => Some(
                s.parse::<i64>()
                    .map_err(|_| bad(keys::HEALPIX, format!("'{s}' is not an integer")))?,
            ),
        };
        let sources_s = require(keys::SOURCE_FILES)?;
        let source_files = serde_json::from_str::<Vec<String>>(sources_s).map_err(|e| {
            bad(
                keys::SOURCE_FILES,
                format!("not a JSON array of strings: {e}"),
            )
        })?;
        Ok(FileMeta {
            survey: require(keys::SURVEY)?.to_string(),
            program: require(keys::PROGRAM)?.to_string(),
            healpix,
            wave_min_a: parse_f64(keys::WAVE_MIN_A)?,
            dwave_a: parse_f64(keys::DWAVE_A)?,
            npix,
            source_files,
            software_version: require(keys::SOFTWARE_VERSION)?.to_string(),
        })
    }
}

/// The Arrow schema of a file with `npix` pixels per spectrum.
///
/// `flux`, `ivar` and `mask` are `FixedSizeList<_, npix>` with non-null
/// elements: the type itself says every row has `npix` pixels (a reader can
/// reshape the flat values to `(rows, npix)` without looking at offsets, as
/// `pyarrow`'s `.flatten().to_numpy().reshape(-1, npix)`), and no offsets are
/// stored. In Parquet it is an ordinary LIST, so any reader can read it.
pub fn arrow_schema(npix: usize) -> Result<SchemaRef> {
    let size = i32::try_from(npix).map_err(|_| {
        SpectraStoreError::schema(
            PathBuf::new(),
            columns::FLUX,
            format!("npix {npix} too large"),
        )
    })?;
    let list = |name: &str, item: DataType| {
        Field::new(
            name,
            DataType::FixedSizeList(Arc::new(Field::new(columns::ELEMENT, item, false)), size),
            false,
        )
    };
    Ok(Arc::new(Schema::new(vec![
        Field::new(columns::TARGET_ID, DataType::Int64, false),
        Field::new(columns::RA, DataType::Float64, false),
        Field::new(columns::DEC, DataType::Float64, false),
        Field::new(columns::Z, DataType::Float64, false),
        list(columns::FLUX, DataType::Float32),
        list(columns::IVAR, DataType::Float32),
        list(columns::MASK, DataType::UInt32),
    ])))
}

fn writer_properties(meta: &FileMeta) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(3).map_err(|e| SpectraStoreError::parquet(PathBuf::new(), e))?;
    let element = |c: &str| ColumnPath::new(vec![c.into(), "list".into(), columns::ELEMENT.into()]);
    let mut props = WriterProperties::builder()
        .set_max_row_group_size(ROW_GROUP_SPECTRA)
        .set_compression(Compression::ZSTD(level))
        .set_key_value_metadata(Some(meta.to_key_values()))
        .set_created_by(meta.software_version.clone());
    // Floats: byte-stream split makes zstd see the exponent bytes together
    // (smaller and faster than a dictionary of almost-unique values);
    // min/max statistics of pixels help no query.
    for c in [columns::FLUX, columns::IVAR] {
        props = props
            .set_column_dictionary_enabled(element(c), false)
            .set_column_encoding(element(c), Encoding::BYTE_STREAM_SPLIT)
            .set_column_statistics_enabled(element(c), EnabledStatistics::None);
    }
    // Masks are mostly 0: the default dictionary + RLE suits them.
    props = props.set_column_statistics_enabled(element(columns::MASK), EnabledStatistics::None);
    Ok(props.build())
}

/// A row group with at least 1/DENSE_GROUP_DIVISOR of its rows wanted is
/// decoded whole (see `read_rows`).
const DENSE_GROUP_DIVISOR: usize = 40;

/// `path` with `.tmp` appended: where [`write_spectra_file`] writes before
/// the rename.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Writes `rows` to one Parquet file at `path`, sorted by `target_id`, in
/// row groups of [`ROW_GROUP_SPECTRA`], with `meta` as key-value metadata.
/// Returns the file's size in bytes.
///
/// The file is written to `path.tmp`, fsynced, then renamed to `path` (and
/// the directory fsynced): a killed writer never leaves a partial file under
/// `path`, and an existing `path` is replaced only by a complete file. On an
/// error the temporary file is removed.
///
/// Every row must have `meta.npix` flux, ivar and mask values, and target
/// ids must be unique (the spectra index maps one TARGETID to one row);
/// otherwise nothing is written and the error names the row.
pub fn write_spectra_file(path: &Path, meta: &FileMeta, rows: &[SpectraRow]) -> Result<u64> {
    let tmp = write_tmp(path, meta, rows)?;
    commit(&tmp, path)
}

/// Writes and fsyncs `path.tmp`; the first half of [`write_spectra_file`].
pub(crate) fn write_tmp(path: &Path, meta: &FileMeta, rows: &[SpectraRow]) -> Result<PathBuf> {
    let order = check_rows(path, meta, rows)?;
    let tmp = tmp_path(path);
    let result = write_parquet(&tmp, meta, rows, &order);
    if result.is_err() {
        // Best effort: the error being returned matters more than this one.
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| tmp)
}

/// Renames a complete `tmp` to `path` and fsyncs the directory
/// (`astrolab_formats::atomic::commit`).
pub(crate) fn commit(tmp: &Path, path: &Path) -> Result<u64> {
    astrolab_formats::atomic::commit(tmp, path)
        .map_err(|e| SpectraStoreError::io(path, "rename the .tmp file to", e))?;
    let len = std::fs::metadata(path)
        .map_err(|e| SpectraStoreError::io(path, "stat", e))?
        .len();
    Ok(len)
}

/// Validates lengths and uniqueness; returns row indices sorted by target id.
fn check_rows(path: &Path, meta: &FileMeta, rows: &[SpectraRow]) -> Result<Vec<usize>> {
    if meta.npix == 0 {
        return Err(SpectraStoreError::Metadata {
            path: path.to_path_buf(),
            key: keys::NPIX.into(),
            message: "npix is 0; a spectrum needs at least one pixel".into(),
        });
    }
    for (i, r) in rows.iter().enumerate() {
        for (column, len) in [
            (columns::FLUX, r.flux.len()),
            (columns::IVAR, r.ivar.len()),
            (columns::MASK, r.mask.len()),
        ] {
            if len != meta.npix {
                return Err(SpectraStoreError::bad_value(
                    path,
                    column,
                    i,
                    format!(
                        "target_id {}: {len} values, but the file's grid has npix = {}",
                        r.target_id, meta.npix
                    ),
                ));
            }
        }
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| rows[i].target_id);
    for w in order.windows(2) {
        if rows[w[0]].target_id == rows[w[1]].target_id {
            return Err(SpectraStoreError::bad_value(
                path,
                columns::TARGET_ID,
                w[1],
                format!(
                    "target_id {} also in row {}; a file holds each target once",
                    rows[w[1]].target_id, w[0]
                ),
            ));
        }
    }
    Ok(order)
}

fn write_parquet(tmp: &Path, meta: &FileMeta, rows: &[SpectraRow], order: &[usize]) -> Result<()> {
    // The metadata also goes into the Arrow schema: pyarrow takes a table's
    // `schema.metadata` from the embedded Arrow schema.
    let schema = Arc::new(
        arrow_schema(meta.npix)?.as_ref().clone().with_metadata(
            meta.to_key_values()
                .into_iter()
                .filter_map(|kv| Some((kv.key, kv.value?)))
                .collect(),
        ),
    );
    let props = writer_properties(meta)?;
    let file = File::create(tmp).map_err(|e| SpectraStoreError::io(tmp, "create", e))?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
        .map_err(|e| SpectraStoreError::parquet(tmp, e))?;
    for chunk in order.chunks(ROW_GROUP_SPECTRA) {
        let batch = record_batch(&schema, meta.npix, rows, chunk).map_err(|source| {
            SpectraStoreError::Arrow {
                path: tmp.to_path_buf(),
                source,
            }
        })?;
        writer
            .write(&batch)
            .map_err(|e| SpectraStoreError::parquet(tmp, e))?;
        // One batch = one row group.
        writer
            .flush()
            .map_err(|e| SpectraStoreError::parquet(tmp, e))?;
    }
    let mut file = writer
        .into_inner()
        .map_err(|e| SpectraStoreError::parquet(tmp, e))?;
    file.flush()
        .map_err(|e| SpectraStoreError::io(tmp, "write", e))?;
    file.sync_all()
        .map_err(|e| SpectraStoreError::io(tmp, "fsync", e))?;
    Ok(())
}

fn record_batch(
    schema: &SchemaRef,
    npix: usize,
    rows: &[SpectraRow],
    chunk: &[usize],
) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
    let size = npix as i32; // checked by arrow_schema()
    let pick = |f: &dyn Fn(&SpectraRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            chunk.iter().map(|&i| f(&rows[i])),
        ))
    };
    let element = |item: DataType| Arc::new(Field::new(columns::ELEMENT, item, false));
    let mut flux = Vec::with_capacity(chunk.len() * npix);
    let mut ivar = Vec::with_capacity(chunk.len() * npix);
    let mut mask = Vec::with_capacity(chunk.len() * npix);
    for &i in chunk {
        flux.extend_from_slice(&rows[i].flux);
        ivar.extend_from_slice(&rows[i].ivar);
        mask.extend_from_slice(&rows[i].mask);
    }
    let flux = FixedSizeListArray::try_new(
        element(DataType::Float32),
        size,
        Arc::new(Float32Array::from(flux)),
        None,
    )?;
    let ivar = FixedSizeListArray::try_new(
        element(DataType::Float32),
        size,
        Arc::new(Float32Array::from(ivar)),
        None,
    )?;
    let mask = FixedSizeListArray::try_new(
        element(DataType::UInt32),
        size,
        Arc::new(UInt32Array::from(mask)),
        None,
    )?;
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(
                chunk.iter().map(|&i| rows[i].target_id),
            )),
            pick(&|r| r.ra),
            pick(&|r| r.dec),
            pick(&|r| r.z),
            Arc::new(flux),
            Arc::new(ivar),
            Arc::new(mask),
        ],
    )
}

/// An open spectra file: metadata parsed once, rows read on demand.
///
/// The file handle stays open; each read duplicates it (no new `open`) and
/// decodes only the row groups (and, through the page index, the pages) it
/// needs.
#[derive(Debug)]
pub struct SpectraFile {
    path: PathBuf,
    file: File,
    reader_meta: ArrowReaderMetadata,
    meta: FileMeta,
    /// First row of each row group, plus the row count at the end.
    group_starts: Vec<usize>,
}

impl SpectraFile {
    /// Opens a file written by [`write_spectra_file`], checking its metadata
    /// keys and that every column has the expected type.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| SpectraStoreError::io(path, "open", e))?;
        let reader_meta =
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::new().with_page_index(true))
                .map_err(|e| SpectraStoreError::parquet(path, e))?;
        let pq = reader_meta.metadata();
        let meta = FileMeta::from_key_values(path, pq.file_metadata().key_value_metadata())?;
        let expected = arrow_schema(meta.npix)?;
        let found = reader_meta.schema();
        for want in expected.fields() {
            let name = want.name();
            let Ok(have) = found.field_with_name(name) else {
                return Err(SpectraStoreError::schema(
                    path,
                    name,
                    format!(
                        "missing; the file has {}",
                        found
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            if have.data_type() != want.data_type() {
                return Err(SpectraStoreError::schema(
                    path,
                    name,
                    format!(
                        "type {} where {} was expected",
                        have.data_type(),
                        want.data_type()
                    ),
                ));
            }
        }
        let mut group_starts = vec![0usize];
        for rg in pq.row_groups() {
            let last = group_starts[group_starts.len() - 1];
            group_starts.push(last + usize::try_from(rg.num_rows()).unwrap_or(0));
        }
        Ok(SpectraFile {
            path: path.to_path_buf(),
            file,
            reader_meta,
            meta,
            group_starts,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn meta(&self) -> &FileMeta {
        &self.meta
    }

    /// The shared wavelength grid, Angstrom (see [`FileMeta::wavelength`]).
    pub fn wavelength(&self) -> Vec<f64> {
        self.meta.wavelength()
    }

    /// Number of spectra.
    pub fn len(&self) -> usize {
        self.group_starts[self.group_starts.len() - 1]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of Parquet row groups.
    pub fn n_row_groups(&self) -> usize {
        self.group_starts.len() - 1
    }

    fn builder(&self) -> Result<ParquetRecordBatchReaderBuilder<File>> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| SpectraStoreError::io(&self.path, "duplicate the handle of", e))?;
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            file,
            self.reader_meta.clone(),
        ))
    }

    fn decode_err(&self, e: arrow_schema::ArrowError) -> SpectraStoreError {
        SpectraStoreError::Arrow {
            path: self.path.clone(),
            source: e,
        }
    }

    /// Every `target_id`, in row order (ascending), decoding that column only.
    pub fn target_ids(&self) -> Result<Vec<i64>> {
        let builder = self.builder()?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [0]);
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(|e| SpectraStoreError::parquet(&self.path, e))?;
        let mut ids = Vec::with_capacity(self.len());
        for batch in reader {
            let batch = batch.map_err(|e| self.decode_err(e))?;
            let col = batch
                .column(0)
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| {
                    SpectraStoreError::schema(&self.path, columns::TARGET_ID, "not Int64")
                })?;
            ids.extend_from_slice(col.values());
        }
        Ok(ids)
    }

    /// The spectra at these row indices (0-based), in the order asked
    /// (repeats allowed), through the already open handle. Reads only the
    /// row groups holding them, with a row selection so that pages without
    /// a selected row are skipped.
    pub fn read_rows(&self, rows: &[usize]) -> Result<Vec<SpectraRow>> {
        let len = self.len();
        if let Some(&row) = rows.iter().find(|&&r| r >= len) {
            return Err(SpectraStoreError::RowOutOfRange {
                path: self.path.clone(),
                row,
                len,
            });
        }
        let mut wanted: Vec<usize> = rows.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // Row groups holding wanted rows, and a selection relative to them.
        // A group where many rows are wanted is decoded whole: skipping
        // between scattered rows costs more than decoding the pages in
        // between (measured with examples/read_profile.rs: 48 scattered rows
        // of 500 took 100-138 ms, the whole 500 83-89 ms).
        let mut groups = Vec::new();
        let mut selectors = Vec::new();
        let mut decoded_rows: Vec<usize> = Vec::with_capacity(wanted.len());
        let mut next = 0;
        for g in 0..self.n_row_groups() {
            let (start, end) = (self.group_starts[g], self.group_starts[g + 1]);
            let first = next;
            while next < wanted.len() && wanted[next] < end {
                next += 1;
            }
            if first == next {
                continue;
            }
            groups.push(g);
            let in_group = &wanted[first..next];
            if in_group.len() * DENSE_GROUP_DIVISOR >= end - start {
                selectors.push(RowSelector::select(end - start));
                decoded_rows.extend(start..end);
                continue;
            }
            let mut pos = start;
            for &r in in_group {
                if r > pos {
                    selectors.push(RowSelector::skip(r - pos));
                }
                selectors.push(RowSelector::select(1));
                pos = r + 1;
            }
            if end > pos {
                selectors.push(RowSelector::skip(end - pos));
            }
            decoded_rows.extend_from_slice(in_group);
        }
        let reader = self
            .builder()?
            .with_row_groups(groups)
            .with_row_selection(RowSelection::from(selectors))
            .build()
            .map_err(|e| SpectraStoreError::parquet(&self.path, e))?;
        let decoded = self.collect(reader, &decoded_rows)?;
        Ok(rows
            .iter()
            .map(|r| {
                // `decoded_rows` is sorted and holds every requested row.
                let i = decoded_rows.partition_point(|&w| w < *r);
                decoded[i].clone()
            })
            .collect())
    }

    /// Every spectrum, in file order (ascending `target_id`).
    pub fn read_all(&self) -> Result<Vec<SpectraRow>> {
        let reader = self
            .builder()?
            .build()
            .map_err(|e| SpectraStoreError::parquet(&self.path, e))?;
        let all: Vec<usize> = (0..self.len()).collect();
        self.collect(reader, &all)
    }

    /// Decodes batches into rows; `file_rows[i]` is the file row of the i-th
    /// row produced (for error messages).
    fn collect(
        &self,
        reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
        file_rows: &[usize],
    ) -> Result<Vec<SpectraRow>> {
        let npix = self.meta.npix;
        let mut out = Vec::with_capacity(file_rows.len());
        for batch in reader {
            let batch = batch.map_err(|e| self.decode_err(e))?;
            let col = |name: &str| {
                batch.column_by_name(name).ok_or_else(|| {
                    SpectraStoreError::schema(&self.path, name, "missing from a record batch")
                })
            };
            let wrong = |name: &str| SpectraStoreError::schema(&self.path, name, "unexpected type");
            let ids = col(columns::TARGET_ID)?
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| wrong(columns::TARGET_ID))?;
            let f64_col = |name: &str| -> Result<&[f64]> {
                Ok(col(name)?
                    .as_primitive_opt::<Float64Type>()
                    .ok_or_else(|| wrong(name))?
                    .values())
            };
            let (ra, dec, z) = (
                f64_col(columns::RA)?,
                f64_col(columns::DEC)?,
                f64_col(columns::Z)?,
            );
            let values = |name: &str| -> Result<ArrayRef> {
                let list = col(name)?
                    .as_fixed_size_list_opt()
                    .ok_or_else(|| wrong(name))?;
                // A sliced list starts at offset * npix in its values.
                Ok(list.values().slice(list.offset() * npix, list.len() * npix))
            };
            let flux = values(columns::FLUX)?;
            let ivar = values(columns::IVAR)?;
            let mask = values(columns::MASK)?;
            let flux = flux
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(|| wrong(columns::FLUX))?
                .values();
            let ivar = ivar
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(|| wrong(columns::IVAR))?
                .values();
            let mask = mask
                .as_primitive_opt::<UInt32Type>()
                .ok_or_else(|| wrong(columns::MASK))?
                .values();
            for i in 0..batch.num_rows() {
                let px = i * npix..(i + 1) * npix;
                out.push(SpectraRow {
                    target_id: ids.value(i),
                    ra: ra[i],
                    dec: dec[i],
                    z: z[i],
                    flux: flux[px.clone()].to_vec(),
                    ivar: ivar[px.clone()].to_vec(),
                    mask: mask[px].to_vec(),
                });
            }
        }
        if out.len() != file_rows.len() {
            let row = file_rows.get(out.len()).copied().unwrap_or(self.len());
            return Err(SpectraStoreError::bad_value(
                &self.path,
                columns::TARGET_ID,
                row,
                format!(
                    "decoded {} rows where {} were expected; the file is inconsistent",
                    out.len(),
                    file_rows.len()
                ),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(npix: usize) -> FileMeta {
        FileMeta {
            survey: "sv3".into(),
            program: "dark".into(),
            healpix: Some(26065),
            wave_min_a: 3600.0,
            dwave_a: 0.8,
            npix,
            source_files: vec!["coadd-x.fits sha256:00".into()],
            software_version: "test".into(),
        }
    }

    fn row(target_id: i64, npix: usize) -> SpectraRow {
        let t = target_id as f32;
        SpectraRow {
            target_id,
            ra: 10.0 + target_id as f64,
            dec: -5.0,
            z: 0.5,
            flux: (0..npix).map(|k| t + k as f32 * 0.25).collect(),
            ivar: (0..npix).map(|k| 1.0 / (1.0 + k as f32)).collect(),
            mask: (0..npix)
                .map(|k| if k % 7 == 0 { 1 << 31 } else { 0 })
                .collect(),
        }
    }

    #[test]
    fn a_writer_killed_before_the_rename_leaves_no_file_at_the_final_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        let rows = vec![row(3, 5), row(1, 5)];
        // The first half of a write, then the process "dies".
        let tmp = write_tmp(&path, &meta(5), &rows).unwrap();
        assert_eq!(tmp, dir.path().join("s.parquet.tmp"));
        assert!(tmp.is_file());
        assert!(!path.exists());
        let err = SpectraFile::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("s.parquet") && err.contains("cannot open"),
            "{err}"
        );
        // A later complete write replaces the stale .tmp and lands.
        let bytes = write_spectra_file(&path, &meta(5), &rows).unwrap();
        assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
        assert!(!tmp.exists());
        let f = SpectraFile::open(&path).unwrap();
        assert_eq!(f.target_ids().unwrap(), vec![1, 3]);
        // Deterministic: the same rows, in any order, give the same bytes.
        let again = dir.path().join("again.parquet");
        write_spectra_file(&again, &meta(5), &[row(1, 5), row(3, 5)]).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&again).unwrap()
        );
    }

    #[test]
    fn bad_rows_are_refused_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        let mut short = row(2, 5);
        short.ivar.pop();
        let err = write_spectra_file(&path, &meta(5), &[row(1, 5), short])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column 'ivar', row 1") && err.contains("npix = 5"),
            "{err}"
        );
        let err = write_spectra_file(&path, &meta(5), &[row(1, 5), row(2, 5), row(1, 5)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("target_id 1 also in row"), "{err}");
        assert!(!path.exists() && !tmp_path(&path).exists());
    }

    #[test]
    fn row_groups_of_1000_and_reads_across_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        let npix = 3;
        // Written in reverse order: the file sorts by target_id.
        let rows: Vec<SpectraRow> = (0..2500).rev().map(|t| row(t, npix)).collect();
        write_spectra_file(&path, &meta(npix), &rows).unwrap();
        let f = SpectraFile::open(&path).unwrap();
        assert_eq!(f.len(), 2500);
        assert_eq!(f.n_row_groups(), 3);
        assert_eq!(f.meta(), &meta(npix));
        let got = f.read_rows(&[2499, 0, 1000, 999, 0]).unwrap();
        let ids: Vec<i64> = got.iter().map(|r| r.target_id).collect();
        assert_eq!(ids, vec![2499, 0, 1000, 999, 0]);
        assert_eq!(got[2], row(1000, npix));
        assert!(f.read_rows(&[]).unwrap().is_empty());
        let err = f.read_rows(&[5, 2500]).unwrap_err().to_string();
        assert!(
            err.contains("row 2500") && err.contains("2500 rows"),
            "{err}"
        );
        let all = f.read_all().unwrap();
        assert_eq!(all.len(), 2500);
        assert_eq!(all[1234], row(1234, npix));
    }

    #[test]
    fn metadata_round_trips_including_no_healpix_and_awkward_floats() {
        let mut m = meta(4);
        m.healpix = None;
        m.wave_min_a = 0.1 + 0.2;
        m.dwave_a = 1.0 / 3.0;
        m.survey = String::new();
        let back = FileMeta::from_key_values(Path::new("x"), Some(&m.to_key_values())).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.wavelength()[3].to_bits(),
            (m.wave_min_a + m.dwave_a * 3.0).to_bits()
        );
        let err = FileMeta::from_key_values(Path::new("x.parquet"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.parquet: metadata key 'astrolab_format': missing"),
            "{err}"
        );
    }
}
