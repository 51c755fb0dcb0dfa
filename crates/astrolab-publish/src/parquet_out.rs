//! Tables as Apache Parquet through the Arrow layer: the flat
//! `parquet/TABLE.parquet` files and the HATS partitions.
//!
//! Types are kept as the FITS file stores them (TFORM B/I/J/K/E/D/L/A ->
//! UInt8/Int16/Int32/Int64/Float32/Float64/Boolean/Utf8; unsigned TZERO
//! columns -> UInt32/UInt64); integer TNULL and logical nulls are Arrow
//! nulls, float NaN stays NaN. Each field's metadata carries `unit` (the
//! CDS unit) and `description`. The Arrow schema is embedded (parquet's
//! default), so pyarrow sees the types exactly. Compression: zstd.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    RecordBatch, StringArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;

use crate::columns::ColumnDoc;
use crate::error::{PublishError, Result};
use crate::table::{IntKind, Table, Values};

/// The Arrow array of one column's values.
fn array(v: &Values) -> (DataType, ArrayRef) {
    match v {
        Values::Bool(b) => (DataType::Boolean, Arc::new(BooleanArray::from(b.clone()))),
        Values::Int { kind, values } => match kind {
            IntKind::U8 => (
                DataType::UInt8,
                Arc::new(
                    values
                        .iter()
                        .map(|v| v.map(|v| v as u8))
                        .collect::<UInt8Array>(),
                ),
            ),
            IntKind::I16 => (
                DataType::Int16,
                Arc::new(
                    values
                        .iter()
                        .map(|v| v.map(|v| v as i16))
                        .collect::<Int16Array>(),
                ),
            ),
            IntKind::I32 => (
                DataType::Int32,
                Arc::new(
                    values
                        .iter()
                        .map(|v| v.map(|v| v as i32))
                        .collect::<Int32Array>(),
                ),
            ),
            IntKind::U32 => (
                DataType::UInt32,
                Arc::new(
                    values
                        .iter()
                        .map(|v| v.map(|v| v as u32))
                        .collect::<UInt32Array>(),
                ),
            ),
            IntKind::I64 => (DataType::Int64, Arc::new(Int64Array::from(values.clone()))),
        },
        Values::U64(v) => (DataType::UInt64, Arc::new(UInt64Array::from(v.clone()))),
        Values::F32(v) => (DataType::Float32, Arc::new(Float32Array::from(v.clone()))),
        Values::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
        Values::Str { values, .. } => (
            DataType::Utf8,
            Arc::new(StringArray::from_iter_values(values.iter())),
        ),
    }
}

/// A table (rows in `order`, or file order) as one Arrow record batch,
/// with an extra leading-or-trailing column `extra` (name, values) when
/// given (the HATS spatial index goes last).
pub fn record_batch(
    table: &Table,
    docs: &[ColumnDoc],
    order: Option<&[usize]>,
    extra: Option<(&str, &[u64], &str)>,
) -> Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    for (c, doc) in table.columns.iter().zip(docs) {
        let values = match order {
            Some(o) => c.values.take(o),
            None => c.values.clone(),
        };
        let (dt, arr) = array(&values);
        let nullable = arr.null_count() > 0 || matches!(dt, DataType::Boolean | DataType::Utf8);
        let meta = HashMap::from([
            ("unit".to_string(), doc.unit.clone()),
            ("description".to_string(), doc.description.clone()),
        ]);
        fields.push(Field::new(&c.name, dt, nullable).with_metadata(meta));
        arrays.push(arr);
    }
    if let Some((name, values, description)) = extra {
        let meta = HashMap::from([
            ("unit".to_string(), "---".to_string()),
            ("description".to_string(), description.to_string()),
        ]);
        fields.push(Field::new(name, DataType::UInt64, false).with_metadata(meta));
        arrays.push(Arc::new(UInt64Array::from(values.to_vec())));
    }
    let schema = Arc::new(Schema::new(fields));
    RecordBatch::try_new(schema, arrays).map_err(|e| PublishError::Parquet {
        path: table.file.clone(),
        reason: e.to_string(),
    })
}

/// The writer settings of every Parquet file of a release.
fn props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by(format!("astrolab {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Writes `batches` (all of one schema; none for a schema-only file such
/// as HATS's `_common_metadata`) to `path`, returning the file's metadata.
pub fn write_parquet(
    path: &Path,
    schema: Arc<Schema>,
    batches: &[RecordBatch],
) -> Result<ParquetMetaData> {
    let perr = |e: parquet::errors::ParquetError| PublishError::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let file = File::create(path).map_err(PublishError::io(path))?;
    let mut w = ArrowWriter::try_new(file, schema, Some(props())).map_err(perr)?;
    for b in batches {
        w.write(b).map_err(perr)?;
    }
    w.close().map_err(perr)
}
