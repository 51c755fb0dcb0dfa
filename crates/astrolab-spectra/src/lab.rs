//! The lab's existing per-tile Parquet files (written by its Python loader):
//! columns `target_id`, `ra`, `dec`, `z`, and per row `wavelength[]`,
//! `flux[]`, `ivar[]`, `mask_array[]`.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::SpectraStoreError;

type Result<T> = std::result::Result<T, SpectraStoreError>;

/// The lab layout's column names, in file order.
pub mod lab_columns {
    pub const TARGET_ID: &str = "target_id";
    pub const RA: &str = "ra";
    pub const DEC: &str = "dec";
    pub const Z: &str = "z";
    pub const WAVELENGTH: &str = "wavelength";
    pub const FLUX: &str = "flux";
    pub const IVAR: &str = "ivar";
    pub const MASK: &str = "mask_array";
    pub const ALL: [&str; 8] = [TARGET_ID, RA, DEC, Z, WAVELENGTH, FLUX, IVAR, MASK];
}

/// One spectrum of a lab-layout file, with its own wavelength array.
#[derive(Debug, Clone, PartialEq)]
pub struct LabSpectrum {
    pub target_id: i64,
    /// Degrees.
    pub ra: f64,
    /// Degrees.
    pub dec: f64,
    pub z: f64,
    /// Angstrom, one per pixel of this row.
    pub wavelength: Vec<f64>,
    pub flux: Vec<f32>,
    pub ivar: Vec<f32>,
    pub mask: Vec<u32>,
}

/// Reads a whole lab-layout file.
///
/// Accepted element types: `target_id` any integer; `ra`, `dec`, `z` float
/// or double; `wavelength`, `flux`, `ivar` lists (list, large list or fixed
/// size list) of float or double (double flux and ivar are rounded to
/// `f32`); `mask_array` a list of integers: int32 values are taken as the
/// 32 mask bits (a negative int32 is bit 31 set, as numpy's uint32 -> int32
/// cast writes it), wider or unsigned types must lie in 0..=u32::MAX.
/// A null, a value out of range, or flux/ivar/mask lengths that differ from
/// the row's wavelength length is an error naming file, column and row.
pub fn read_lab_layout(path: &Path) -> Result<Vec<LabSpectrum>> {
    let file = File::open(path).map_err(|e| SpectraStoreError::io(path, "open", e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| SpectraStoreError::parquet(path, e))?;
    let schema = builder.schema().clone();
    for name in lab_columns::ALL {
        if schema.field_with_name(name).is_err() {
            return Err(SpectraStoreError::schema(
                path,
                name,
                format!(
                    "missing; a lab-layout file has columns {}; this one has {}",
                    lab_columns::ALL.join(", "),
                    schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let reader = builder
        .build()
        .map_err(|e| SpectraStoreError::parquet(path, e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|source| SpectraStoreError::Arrow {
            path: path.to_path_buf(),
            source,
        })?;
        let ctx = Ctx {
            path,
            batch: &batch,
            first_row: out.len(),
        };
        let target_id = ctx.ints(lab_columns::TARGET_ID)?;
        let ra = ctx.floats(lab_columns::RA)?;
        let dec = ctx.floats(lab_columns::DEC)?;
        let z = ctx.floats(lab_columns::Z)?;
        let wavelength = ctx.list(lab_columns::WAVELENGTH, float_values)?;
        let flux = ctx.list(lab_columns::FLUX, float_values)?;
        let ivar = ctx.list(lab_columns::IVAR, float_values)?;
        let mask = ctx.list(lab_columns::MASK, mask_values)?;
        let rows = wavelength.into_iter().zip(flux).zip(ivar).zip(mask);
        for (i, (((wavelength, flux), ivar), mask)) in rows.enumerate() {
            let row = ctx.first_row + i;
            for (column, len) in [
                (lab_columns::FLUX, flux.len()),
                (lab_columns::IVAR, ivar.len()),
                (lab_columns::MASK, mask.len()),
            ] {
                if len != wavelength.len() {
                    return Err(SpectraStoreError::bad_value(
                        path,
                        column,
                        row,
                        format!("{len} values, but wavelength has {}", wavelength.len()),
                    ));
                }
            }
            out.push(LabSpectrum {
                target_id: target_id[i],
                ra: ra[i],
                dec: dec[i],
                z: z[i],
                wavelength,
                flux: flux.into_iter().map(|v| v as f32).collect(),
                ivar: ivar.into_iter().map(|v| v as f32).collect(),
                mask,
            });
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    path: &'a Path,
    batch: &'a RecordBatch,
    first_row: usize,
}

/// Why a value could not be converted, and at which index of the values.
struct ValueError {
    index: usize,
    message: String,
}

impl Ctx<'_> {
    fn column(&self, name: &str) -> Result<&ArrayRef> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| SpectraStoreError::schema(self.path, name, "missing"))
    }

    fn first_null(&self, name: &str, a: &dyn Array) -> Result<()> {
        if a.null_count() > 0 {
            let i = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
            return Err(SpectraStoreError::bad_value(
                self.path,
                name,
                self.first_row + i,
                "null; every row needs a value",
            ));
        }
        Ok(())
    }

    fn wrong_type(&self, name: &str, t: &DataType, want: &str) -> SpectraStoreError {
        SpectraStoreError::schema(self.path, name, format!("type {t}, expected {want}"))
    }

    fn ints(&self, name: &str) -> Result<Vec<i64>> {
        let a = self.column(name)?;
        self.first_null(name, a)?;
        let out: Option<Vec<i64>> = match a.data_type() {
            DataType::Int64 => Some(a.as_primitive::<Int64Type>().values().to_vec()),
            DataType::Int32 => Some(prim_map::<Int32Type, _>(a, i64::from)),
            DataType::Int16 => Some(prim_map::<Int16Type, _>(a, i64::from)),
            DataType::UInt32 => Some(prim_map::<UInt32Type, _>(a, i64::from)),
            DataType::UInt64 => {
                let v = a.as_primitive::<UInt64Type>().values();
                if let Some(i) = v.iter().position(|&x| i64::try_from(x).is_err()) {
                    return Err(SpectraStoreError::bad_value(
                        self.path,
                        name,
                        self.first_row + i,
                        format!("{} does not fit an int64 TARGETID", v[i]),
                    ));
                }
                Some(v.iter().map(|&x| x as i64).collect())
            }
            _ => None,
        };
        out.ok_or_else(|| self.wrong_type(name, a.data_type(), "an integer type"))
    }

    fn floats(&self, name: &str) -> Result<Vec<f64>> {
        let a = self.column(name)?;
        self.first_null(name, a)?;
        match a.data_type() {
            DataType::Float64 => Ok(a.as_primitive::<Float64Type>().values().to_vec()),
            DataType::Float32 => Ok(prim_map::<Float32Type, _>(a, f64::from)),
            t => Err(self.wrong_type(name, t, "float or double")),
        }
    }

    /// A list column as one vector per row, elements converted by `convert`
    /// (which names the element type it wants when it refuses one).
    fn list<T: Clone>(
        &self,
        name: &str,
        convert: fn(&ArrayRef) -> std::result::Result<Vec<T>, Option<ValueError>>,
    ) -> Result<Vec<Vec<T>>> {
        let a = self.column(name)?;
        self.first_null(name, a)?;
        let (offsets, values): (Vec<usize>, ArrayRef) = match a.data_type() {
            DataType::List(_) => {
                let l = a.as_list::<i32>();
                let o = l.value_offsets().iter().map(|&o| o as usize).collect();
                (o, l.values().clone())
            }
            DataType::LargeList(_) => {
                let l = a.as_list::<i64>();
                let o = l.value_offsets().iter().map(|&o| o as usize).collect();
                (o, l.values().clone())
            }
            DataType::FixedSizeList(_, size) => {
                let l = a.as_fixed_size_list();
                let size = *size as usize;
                let o = (0..=l.len()).map(|i| (l.offset() + i) * size).collect();
                (o, l.values().clone())
            }
            t => return Err(self.wrong_type(name, t, "a list")),
        };
        let row_of = |index: usize| offsets.partition_point(|&o| o <= index).saturating_sub(1);
        if values.null_count() > 0 {
            let (lo, hi) = (offsets[0], offsets[offsets.len() - 1]);
            if let Some(i) = (lo..hi).find(|&i| values.is_null(i)) {
                let row = row_of(i);
                return Err(SpectraStoreError::bad_value(
                    self.path,
                    name,
                    self.first_row + row,
                    format!("element {} is null", i - offsets[row]),
                ));
            }
        }
        let flat = convert(&values).map_err(|e| match e {
            None => self.wrong_type(
                name,
                a.data_type(),
                "a list of float/double (mask_array: of integers)",
            ),
            Some(ValueError { index, message }) => {
                let row = row_of(index);
                SpectraStoreError::bad_value(
                    self.path,
                    name,
                    self.first_row + row,
                    format!("element {}: {message}", index - offsets[row]),
                )
            }
        })?;
        Ok(offsets
            .windows(2)
            .map(|w| flat[w[0]..w[1]].to_vec())
            .collect())
    }
}

fn prim_map<T: arrow_array::ArrowPrimitiveType, U>(
    a: &ArrayRef,
    f: impl Fn(T::Native) -> U,
) -> Vec<U> {
    a.as_primitive::<T>()
        .values()
        .iter()
        .map(|&v| f(v))
        .collect()
}

fn float_values(a: &ArrayRef) -> std::result::Result<Vec<f64>, Option<ValueError>> {
    match a.data_type() {
        DataType::Float64 => Ok(a.as_primitive::<Float64Type>().values().to_vec()),
        DataType::Float32 => Ok(prim_map::<Float32Type, _>(a, f64::from)),
        _ => Err(None),
    }
}

fn mask_values(a: &ArrayRef) -> std::result::Result<Vec<u32>, Option<ValueError>> {
    fn checked<T: Copy + std::fmt::Display>(
        v: &[T],
        f: impl Fn(T) -> Option<u32>,
    ) -> std::result::Result<Vec<u32>, Option<ValueError>> {
        v.iter()
            .enumerate()
            .map(|(index, &x)| {
                f(x).ok_or_else(|| {
                    Some(ValueError {
                        index,
                        message: format!("{x} is not a 32-bit mask (0..=4294967295)"),
                    })
                })
            })
            .collect()
    }
    match a.data_type() {
        DataType::UInt32 => Ok(a.as_primitive::<UInt32Type>().values().to_vec()),
        // The bits as they are: bit 31 set reads as a negative int32.
        DataType::Int32 => Ok(prim_map::<Int32Type, _>(a, |v| v as u32)),
        DataType::Int64 => checked(a.as_primitive::<Int64Type>().values(), |v| {
            u32::try_from(v).ok()
        }),
        DataType::UInt64 => checked(a.as_primitive::<UInt64Type>().values(), |v| {
            u32::try_from(v).ok()
        }),
        DataType::Int16 => checked(a.as_primitive::<Int16Type>().values(), |v| {
            u32::try_from(v).ok()
        }),
        DataType::Int8 => checked(a.as_primitive::<Int8Type>().values(), |v| {
            u32::try_from(v).ok()
        }),
        DataType::UInt16 => Ok(prim_map::<UInt16Type, _>(a, u32::from)),
        DataType::UInt8 => Ok(prim_map::<UInt8Type, _>(a, u32::from)),
        _ => Err(None),
    }
}
