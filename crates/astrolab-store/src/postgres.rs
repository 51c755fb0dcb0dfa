//! PostgreSQL loading by binary COPY, and row decoding.

use bytes::BytesMut;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::batch::{Batch, Values};
use crate::error::{Result, StoreError};
use crate::ingest::Progress;
use crate::schema::ColType;
use crate::sqlite::PROGRESS_EVERY;
use crate::value::Value;

/// One cell on its way into COPY, borrowing from the batch.
#[derive(Debug)]
enum Cell<'a> {
    I(Option<i64>),
    F(Option<f64>),
    T(Option<&'a str>),
    B(Option<bool>),
}

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Cell::I(v) => v.to_sql(ty, out),
            Cell::F(v) => v.to_sql(ty, out),
            Cell::T(v) => v.to_sql(ty, out),
            Cell::B(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn pg_type(ty: ColType) -> Type {
    match ty {
        ColType::I64 => Type::INT8,
        ColType::F64 => Type::FLOAT8,
        ColType::Text => Type::TEXT,
        ColType::Bool => Type::BOOL,
    }
}

fn cell(values: &Values, row: usize) -> Cell<'_> {
    match values {
        Values::I64(v) => Cell::I(v[row]),
        Values::F64(v) => Cell::F(if v[row].is_nan() { None } else { Some(v[row]) }),
        Values::TextDict { dict, codes } => Cell::T(Some(dict[codes[row] as usize].as_str())),
        Values::Bool(v) => Cell::B(v[row]),
        Values::ConstI64(x) => Cell::I(Some(*x)),
        Values::ConstText(s) => Cell::T(Some(s.as_str())),
        Values::Null => Cell::I(None),
    }
}

/// Streams every row of `batch` into its table with `COPY ... (FORMAT binary)`.
pub(crate) fn load_batch(
    tx: &mut postgres::Transaction<'_>,
    batch: &Batch,
    progress: &mut Progress<'_>,
) -> Result<u64> {
    let names = batch.table.column_names();
    let types: Vec<Type> = batch.table.columns.iter().map(|c| pg_type(c.ty)).collect();
    let sql = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        batch.table.name,
        names.join(", ")
    );
    let sink = tx.copy_in(&sql)?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(names.len());
    for row in 0..batch.nrows {
        cells.clear();
        cells.extend(batch.columns.iter().map(|v| cell(v, row)));
        writer.write_raw(cells.iter())?;
        if (row + 1) % PROGRESS_EVERY == 0 {
            progress.rows(PROGRESS_EVERY as u64)?;
        }
    }
    let n = writer.finish()?;
    progress.rows((batch.nrows % PROGRESS_EVERY) as u64)?;
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
