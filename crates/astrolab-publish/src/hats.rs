//! HATS catalogs (Hierarchical Adaptive Tiling Scheme; Caplar et al.,
//! LINCC Frameworks; the format and the `hats` library are documented at
//! <https://hats.readthedocs.io>), as hats 0.11 reads and validates them:
//!
//! ```text
//! TABLE/
//!   properties                Java-properties: obs_collection, dataproduct_type=object,
//!                             hats_nrows, hats_col_ra/dec, hats_col_healpix(_order), ...
//!   partition_info.csv        Norder,Npix of every partition
//!   dataset/_common_metadata  the Parquet schema (no rows)
//!   dataset/_metadata         footer-only Parquet: every partition's row groups,
//!                             file_path relative to dataset/
//!   dataset/Norder=K/Dir=D/Npix=P.parquet   D = (P // 10000) * 10000
//! ```
//!
//! Every row carries `_healpix_29`, the nested HEALPix index of its
//! position at order 29 (Górski et al. 2005, ApJ 622, 759; computed by
//! `astrolab_sky::hpx_index_at`, i.e. cdshealpix, in 64-bit integers), and
//! rows are sorted by it. Partitions are at one order K (`--hats-order`,
//! default [`DEFAULT_ORDER`]): the partition of a row is
//! `_healpix_29 >> 2 (29 - K)`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use parquet::file::metadata::{FileMetaData, ParquetMetaData, ParquetMetaDataWriter};

use crate::columns::ColumnDoc;
use crate::error::{PublishError, Result};
use crate::parquet_out::{record_batch, write_parquet};
use crate::table::Table;

/// The spatial-index column's name (hats' `SPATIAL_INDEX_COLUMN`).
pub const HEALPIX_COLUMN: &str = "_healpix_29";
/// Its order (hats' `SPATIAL_INDEX_ORDER`).
pub const HEALPIX_ORDER: u8 = 29;
/// Default partition order: 768 pixels of 53.7 deg^2. A lab catalog of up
/// to a few million rows over a survey footprint then has partitions of
/// some thousands to tens of thousands of rows, which LSDB reads quickly
/// and a cone search prunes well; larger catalogs pass `--hats-order`.
pub const DEFAULT_ORDER: u8 = 3;

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HatsSummary {
    /// Partition order.
    pub order: u8,
    /// Rows per partition pixel, by pixel.
    pub partitions: BTreeMap<u64, usize>,
}

/// Options of one HATS catalog.
#[derive(Debug, Clone)]
pub struct HatsOptions<'a> {
    /// `obs_collection`: the catalog's name.
    pub name: &'a str,
    /// Partition order (0 to 29).
    pub order: u8,
    /// `hats_builder`, e.g. `astrolab 0.1.0`.
    pub builder: &'a str,
    /// `hats_creation_date`, as hats writes it (`%Y-%m-%dT%H:%M%Z`).
    pub creation_date: &'a str,
}

/// The order-29 index of every row of `table`, from its RA/DEC columns; an
/// error names the first row without a valid position.
pub fn healpix29(table: &Table) -> Result<Vec<u64>> {
    let (ra_c, dec_c) = table.radec().ok_or_else(|| {
        PublishError::Options(format!(
            "{} HDU {}: no RA/DEC columns, so no HATS catalog",
            table.file.display(),
            table.hdu
        ))
    })?;
    let (ra, dec) = (ra_c.values.as_f64(), dec_c.values.as_f64());
    let mut out = Vec::with_capacity(ra.len());
    for (row, (&r, &d)) in ra.iter().zip(&dec).enumerate() {
        let h = astrolab_sky::hpx_index_at_checked(HEALPIX_ORDER, r, d).map_err(|e| {
            PublishError::Unsupported {
                file: table.file.clone(),
                hdu: table.hdu.clone(),
                column: format!("{}/{}", ra_c.name, dec_c.name),
                reason: format!("row {row} (RA {r}, DEC {d}) has no sky position ({e}); a HATS catalog needs one for every row: drop or fix the row"),
            }
        })?;
        out.push(h);
    }
    Ok(out)
}

/// Writes `table` as a HATS catalog into `dir` (created).
pub fn write_hats(
    dir: &Path,
    table: &Table,
    docs: &[ColumnDoc],
    opts: &HatsOptions<'_>,
) -> Result<HatsSummary> {
    if opts.order > HEALPIX_ORDER {
        return Err(PublishError::Options(format!(
            "--hats-order {} is beyond HEALPix order {HEALPIX_ORDER}; choose 0 to 29 (default {DEFAULT_ORDER})",
            opts.order
        )));
    }
    let h29 = healpix29(table)?;
    let (ra_c, dec_c) = table.radec().expect("checked by healpix29");
    // Rows sorted by the spatial index (stable: ties keep file order).
    let mut order: Vec<usize> = (0..h29.len()).collect();
    order.sort_by_key(|&i| h29[i]);
    let shift = 2 * u32::from(HEALPIX_ORDER - opts.order);
    let mut groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for &i in &order {
        groups.entry(h29[i] >> shift).or_default().push(i);
    }
    let dataset = dir.join("dataset");
    fs::create_dir_all(&dataset).map_err(PublishError::io(&dataset))?;
    let desc = "Nested HEALPix index of (RA, DEC) at order 29 (HATS spatial index)";
    let no_rows: &[usize] = &[];
    let no_idx: &[u64] = &[];
    let schema_batch = record_batch(
        table,
        docs,
        Some(no_rows),
        Some((HEALPIX_COLUMN, no_idx, desc)),
    )?;
    let schema = schema_batch.schema();
    let mut row_groups = Vec::new();
    let mut first: Option<ParquetMetaData> = None;
    let mut partitions = BTreeMap::new();
    let mut max_rows = 0usize;
    for (&pix, rows) in &groups {
        let dir_n = (pix / 10_000) * 10_000;
        let rel = format!("Norder={}/Dir={dir_n}/Npix={pix}.parquet", opts.order);
        let path = dataset.join(&rel);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(PublishError::io(p))?;
        }
        let idx: Vec<u64> = rows.iter().map(|&i| h29[i]).collect();
        let batch = record_batch(table, docs, Some(rows), Some((HEALPIX_COLUMN, &idx, desc)))?;
        let meta = write_parquet(&path, Arc::clone(&schema), &[batch])?;
        for rg in meta.row_groups() {
            let mut b = rg.clone().into_builder();
            let cols = b
                .take_columns()
                .into_iter()
                .map(|c| c.into_builder().set_file_path(rel.clone()).build())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| PublishError::Parquet {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            row_groups.push(b.set_column_metadata(cols).build().map_err(|e| {
                PublishError::Parquet {
                    path: path.clone(),
                    reason: e.to_string(),
                }
            })?);
        }
        first.get_or_insert(meta);
        partitions.insert(pix, rows.len());
        max_rows = max_rows.max(rows.len());
    }
    // _common_metadata: the schema alone.
    let common = dataset.join("_common_metadata");
    let common_meta = write_parquet(&common, Arc::clone(&schema), &[])?;
    // _metadata: every partition's row groups, footer only.
    let fm = first
        .as_ref()
        .map_or(common_meta.file_metadata(), |m| m.file_metadata());
    let file_meta = FileMetaData::new(
        fm.version(),
        table.nrows as i64,
        fm.created_by().map(str::to_string),
        fm.key_value_metadata().cloned(),
        fm.schema_descr_ptr(),
        fm.column_orders().cloned(),
    );
    let all = ParquetMetaData::new(file_meta, row_groups);
    let mut bytes = b"PAR1".to_vec();
    ParquetMetaDataWriter::new(&mut bytes, &all)
        .finish()
        .map_err(|e| PublishError::Parquet {
            path: dataset.join("_metadata"),
            reason: e.to_string(),
        })?;
    let md = dataset.join("_metadata");
    fs::write(&md, &bytes).map_err(PublishError::io(&md))?;
    // partition_info.csv.
    let mut csv = String::from("Norder,Npix\n");
    for pix in partitions.keys() {
        let _ = writeln!(csv, "{},{pix}", opts.order);
    }
    let pi = dir.join("partition_info.csv");
    fs::write(&pi, csv).map_err(PublishError::io(&pi))?;
    // properties, last: hats_estsize is the size of everything else (KiB).
    let est_kib = dir_size(dir)? / 1024;
    let sky_fraction = partitions.len() as f64 / astrolab_sky::healpix_n_cells(opts.order) as f64;
    let props = [
        ("obs_collection", opts.name.to_string()),
        ("dataproduct_type", "object".to_string()),
        ("hats_nrows", table.nrows.to_string()),
        ("hats_col_ra", ra_c.name.clone()),
        ("hats_col_dec", dec_c.name.clone()),
        ("hats_col_healpix", HEALPIX_COLUMN.to_string()),
        ("hats_col_healpix_order", HEALPIX_ORDER.to_string()),
        ("hats_npix_suffix", ".parquet".to_string()),
        ("hats_max_rows", max_rows.to_string()),
        ("hats_order", opts.order.to_string()),
        ("moc_sky_fraction", format!("{sky_fraction:.5}")),
        ("hats_builder", opts.builder.to_string()),
        ("hats_creation_date", opts.creation_date.to_string()),
        ("hats_estsize", est_kib.to_string()),
        ("hats_release_date", "2025-08-22".to_string()),
        ("hats_version", "v1.0".to_string()),
    ];
    let mut text = String::from("#HATS catalog\n");
    for (k, v) in props {
        let _ = writeln!(text, "{k}={}", escape_property(&v));
    }
    let pf = dir.join("properties");
    fs::write(&pf, text).map_err(PublishError::io(&pf))?;
    Ok(HatsSummary {
        order: opts.order,
        partitions,
    })
}

/// A value in Java-properties form: backslash, newline and leading
/// space escaped (what jproperties, hats' reader, expects).
fn escape_property(v: &str) -> String {
    let mut out = String::new();
    for (i, c) in v.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            ' ' if i == 0 => out.push_str("\\ "),
            c => out.push(c),
        }
    }
    out
}

fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in fs::read_dir(dir).map_err(PublishError::io(dir))? {
        let e = e.map_err(PublishError::io(dir))?;
        let md = e.metadata().map_err(PublishError::io(e.path()))?;
        total += if md.is_dir() {
            dir_size(&e.path())?
        } else {
            md.len()
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Górski et al. 2005: at order k the nested index of a point is its
    /// order-29 index shifted right by 2 (29 - k); base pixels 0-11.
    #[test]
    fn order29_index_nests() {
        let h = astrolab_sky::hpx_index_at(29, 150.0, 2.0);
        assert_eq!(h >> 58, astrolab_sky::hpx_index_at(0, 150.0, 2.0));
        assert_eq!(h >> (2 * 26), astrolab_sky::hpx_index_at(3, 150.0, 2.0));
        assert!(h < 12 << 58);
        // The north pole lies in base pixels 0-3, the south pole in 8-11.
        assert!(astrolab_sky::hpx_index_at(0, 10.0, 89.9) < 4);
        assert!(astrolab_sky::hpx_index_at(0, 10.0, -89.9) >= 8);
    }

    #[test]
    fn property_escapes() {
        assert_eq!(escape_property(" a\\b"), "\\ a\\\\b");
    }
}
