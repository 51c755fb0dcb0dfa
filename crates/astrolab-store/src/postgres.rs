//! PostgreSQL loading by binary COPY, and row decoding.

use postgres::types::Type;

use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::ingest::Progress;
use crate::sqlite::PROGRESS_EVERY;
use crate::value::Value;

/// Appends one row in PostgreSQL's binary COPY format (PostgreSQL docs,
/// "COPY: Binary Format"): a 16-bit field count, then per field a 32-bit
/// length (-1 for NULL) and the value in network byte order. Encoded by
/// hand into one buffer: the generic per-cell ToSql path cost as much CPU
/// as the server's side of the load on a two-core machine.
fn encode_row(buf: &mut Vec<u8>, batch: &Batch, row: usize) {
    buf.extend_from_slice(&(batch.columns.len() as i16).to_be_bytes());
    let null = |buf: &mut Vec<u8>| buf.extend_from_slice(&(-1i32).to_be_bytes());
    let int = |buf: &mut Vec<u8>, v: i64| {
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&v.to_be_bytes());
    };
    let text = |buf: &mut Vec<u8>, s: &str| {
        buf.extend_from_slice(&(s.len() as i32).to_be_bytes());
        buf.extend_from_slice(s.as_bytes());
    };
    for values in &batch.columns {
        match values {
            Values::I64(v) => match v[row] {
                Some(x) => int(buf, x),
                None => null(buf),
            },
            Values::F64(v) => {
                let x = v[row];
                if x.is_nan() {
                    null(buf);
                } else {
                    buf.extend_from_slice(&8i32.to_be_bytes());
                    buf.extend_from_slice(&x.to_be_bytes());
                }
            }
            Values::TextDict { dict, codes } => text(buf, &dict[codes[row] as usize]),
            Values::Bool(v) => match v[row] {
                Some(b) => {
                    buf.extend_from_slice(&1i32.to_be_bytes());
                    buf.push(b as u8);
                }
                None => null(buf),
            },
            Values::ConstI64(x) => int(buf, *x),
            Values::ConstText(s) => text(buf, s),
            Values::Null => null(buf),
        }
    }
}

/// Streams every row of `batch` into its table with `COPY ... (FORMAT binary)`.
pub(crate) fn load_batch(
    tx: &mut postgres::Transaction<'_>,
    batch: &Batch,
    progress: &mut Progress<'_>,
) -> Result<u64> {
    load_batch_into(tx, batch, batch.table.name, progress)
}

/// [`load_batch`] into `table`, a table with the batch's columns (a
/// staging table beside the batch's own; the name is the caller's, never
/// user input).
pub(crate) fn load_batch_into(
    tx: &mut postgres::Transaction<'_>,
    batch: &Batch,
    table: &str,
    progress: &mut Progress<'_>,
) -> Result<u64> {
    use std::io::Write;
    let names = batch.table.column_names();
    let sql = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table,
        names.join(", ")
    );
    let mut sink = tx.copy_in(&sql)?;
    let io = |e: std::io::Error| {
        StoreError::BadInput(format!("PostgreSQL: COPY into {table} failed: {e}"))
    };
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    let mut since = 0usize;
    for row in 0..batch.nrows {
        encode_row(&mut buf, batch, row);
        if buf.len() >= (1 << 20) {
            sink.write_all(&buf).map_err(io)?;
            buf.clear();
        }
        since += 1;
        if since == PROGRESS_EVERY {
            progress.rows(since as u64)?;
            since = 0;
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    sink.write_all(&buf).map_err(io)?;
    let n = sink.finish()?;
    progress.rows(since as u64)?;
    Ok(n)
}

/// Decodes a row whose columns have the common scalar types.
pub(crate) fn row_values(row: &postgres::Row) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|x| Value::Int(x.into())),
            Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(|x| Value::Int(x.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Float),
            Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map(|x| Value::Float(x.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                row.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            ref other => {
                return Err(StoreError::BadInput(format!(
                    "column {} has type {other}, which astrolab cannot decode here; cast it (e.g. {}::text)",
                    col.name(),
                    col.name()
                )))
            }
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(out)
}
