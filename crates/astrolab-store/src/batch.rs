//! Column-oriented rows on their way into a table.

use crate::schema::{ColType, TableSpec};

/// The values of one column of a [`Batch`]. `None` and NaN load as SQL NULL
/// on both backends (SQLite cannot store NaN, so we make PostgreSQL agree).
#[derive(Debug, Clone)]
pub enum Values {
    /// 64-bit integers.
    I64(Vec<Option<i64>>),
    /// Floats; NaN is NULL.
    F64(Vec<f64>),
    /// Text as a dictionary and one code per row (few distinct values).
    TextDict {
        /// Distinct values.
        dict: Vec<String>,
        /// Index into `dict` for each row.
        codes: Vec<u32>,
    },
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// The same integer on every row (file id, void id offsets, ...).
    ConstI64(i64),
    /// The same text on every row (algorithm, galactic cap).
    ConstText(String),
    /// NULL on every row (optional column absent from the file).
    Null,
}

impl Values {
    /// Number of rows, or None for constant columns.
    pub fn len(&self) -> Option<usize> {
        match self {
            Values::I64(v) => Some(v.len()),
            Values::F64(v) => Some(v.len()),
            Values::TextDict { codes, .. } => Some(codes.len()),
            Values::Bool(v) => Some(v.len()),
            Values::ConstI64(_) | Values::ConstText(_) | Values::Null => None,
        }
    }

    /// Whether the values fit the column type.
    pub fn fits(&self, ty: ColType) -> bool {
        matches!(
            (self, ty),
            (Values::Null, _)
                | (Values::I64(_) | Values::ConstI64(_), ColType::I64)
                | (Values::F64(_), ColType::F64)
                | (
                    Values::TextDict { .. } | Values::ConstText(_),
                    ColType::Text
                )
                | (Values::Bool(_), ColType::Bool)
        )
    }
}

/// A set of rows for one table, one [`Values`] per column of the spec.
#[derive(Debug)]
pub struct Batch {
    /// Target table.
    pub table: &'static TableSpec,
    /// One entry per column of `table`, in the spec's order.
    pub columns: Vec<Values>,
    /// Number of rows.
    pub nrows: usize,
}

impl Batch {
    /// Starts an empty batch for `table` with every column NULL.
    pub fn new(table: &'static TableSpec, nrows: usize) -> Batch {
        Batch {
            table,
            columns: table.columns.iter().map(|_| Values::Null).collect(),
            nrows,
        }
    }

    /// Reorders the rows by the values of an integer column (stable; NULLs
    /// first). Sky tables are loaded in HEALPix order so that the rows of a
    /// cone sit together on disk and index builds append in order.
    pub fn sort_by(&mut self, name: &str) {
        let Some(idx) = self.table.columns.iter().position(|c| c.name == name) else {
            return;
        };
        let Values::I64(keys) = &self.columns[idx] else {
            return;
        };
        use rayon::prelude::*;
        // Sort (key, row) pairs: contiguous, and unique, so an unstable
        // sort is deterministic and keeps equal keys in row order. Without
        // NULLs (the computed HEALPix column) the pairs are 16 bytes, not 24.
        let order: Vec<u32> = if keys.iter().all(Option::is_some) {
            let mut pairs: Vec<(i64, u32)> = keys
                .iter()
                .map(|k| k.unwrap_or(i64::MIN))
                .zip(0..self.nrows as u32)
                .collect();
            pairs.par_sort_unstable();
            pairs.into_iter().map(|(_, i)| i).collect()
        } else {
            let mut pairs: Vec<(Option<i64>, u32)> =
                keys.iter().copied().zip(0..self.nrows as u32).collect();
            pairs.par_sort_unstable();
            pairs.into_iter().map(|(_, i)| i).collect()
        };
        if order.windows(2).all(|w| w[0] < w[1]) {
            return;
        }
        // Gather each column into a scratch buffer and swap it in; the
        // column's old buffer becomes the scratch for the next column of its
        // type on the same thread. New memory is slow to fault in (on the
        // lab's VMs more than the gather itself), so this touches two
        // buffers per type and thread instead of one per column.
        let per_thread = self
            .columns
            .len()
            .div_ceil(rayon::current_num_threads().max(1));
        self.columns
            .par_chunks_mut(per_thread.max(1))
            .for_each(|chunk| {
                let mut scratch = Scratch::default();
                for col in chunk {
                    scratch.permute(col, &order);
                }
            });
    }

    /// Sets a column's values by name.
    ///
    /// # Panics
    /// On an unknown column name, a wrong type or a wrong length: these are
    /// programming errors in the ingest code, never caused by input files.
    pub fn set(&mut self, name: &str, values: Values) {
        let idx = self
            .table
            .columns
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("table {} has no column {name}", self.table.name));
        let spec = &self.table.columns[idx];
        assert!(
            values.fits(spec.ty),
            "column {}.{name}: values do not fit {:?}",
            self.table.name,
            spec.ty
        );
        if let Some(n) = values.len() {
            assert_eq!(n, self.nrows, "column {}.{name}: length", self.table.name);
        }
        self.columns[idx] = values;
    }
}

/// Reusable gather buffers of [`Batch::sort_by`], one per value type.
#[derive(Default)]
struct Scratch {
    i64s: Vec<Option<i64>>,
    f64s: Vec<f64>,
    codes: Vec<u32>,
    bools: Vec<Option<bool>>,
}

impl Scratch {
    /// Reorders `col` so that row `k` becomes its old row `order[k]`.
    fn permute(&mut self, col: &mut Values, order: &[u32]) {
        fn gather<T: Copy>(v: &mut Vec<T>, scratch: &mut Vec<T>, order: &[u32]) {
            scratch.clear();
            scratch.extend(order.iter().map(|&i| v[i as usize]));
            std::mem::swap(v, scratch);
        }
        match col {
            Values::I64(v) => gather(v, &mut self.i64s, order),
            Values::F64(v) => gather(v, &mut self.f64s, order),
            Values::TextDict { codes, .. } => gather(codes, &mut self.codes, order),
            Values::Bool(v) => gather(v, &mut self.bools, order),
            Values::ConstI64(_) | Values::ConstText(_) | Values::Null => {}
        }
    }
}
