//! Where a quasar pipeline's spectra come from (`outflows bal`, `qso
//! fit`): the store's quasars that pass `--select`, in shards of
//! `--shard-size` TARGETIDs, or spectrum files ([`FILES_PER_SHARD`] per
//! shard), with the mode's options checked before any shard runs.

use std::path::PathBuf;

use crate::anomalies::files::{list_spectrum_files, read_redshift_tables};
use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};

/// Spectrum files per shard.
pub const FILES_PER_SHARD: usize = 50;

/// The default `--select`: the confident quasars.
pub const DEFAULT_SELECT: &str = "spectype = 'QSO' AND zwarn = 0";

/// The inputs a quasar pipeline was given.
#[derive(Debug, Clone, Copy)]
pub struct QuasarInputs<'a> {
    /// Spectrum files or directories; none: the store.
    pub paths: &'a [PathBuf],
    /// `--select` (store only).
    pub select: Option<&'a str>,
    /// `--z` for every file spectrum (files only).
    pub z: Option<f64>,
    /// `--redshifts` tables for DESI coadds (files only).
    pub redshifts: &'a [PathBuf],
    /// `--shard-size` (store only).
    pub shard_size: usize,
}

/// The shards' contents: TARGETIDs of the store, or files.
#[derive(Debug, Clone, PartialEq)]
pub enum QuasarChunks {
    Store(Vec<Vec<i64>>),
    Files(Vec<Vec<PathBuf>>),
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

/// Checks the options of the mode the inputs choose and cuts the
/// selection (or the files) into shards. `done` is what the pipeline does
/// to a spectrum ("measured", "fitted"), for the messages; `z_min` the
/// smallest `--z` it takes (`Some(0.0)` for z >= 0, `None` for z > 0).
pub fn plan_quasar_inputs(
    ctx: &Ctx,
    i: QuasarInputs<'_>,
    done: &str,
    z_min: Option<f64>,
) -> Result<QuasarChunks, PipelineError> {
    if i.shard_size == 0 {
        return Err(usage("--shard-size must be at least 1".into()));
    }
    if i.paths.is_empty() {
        if i.z.is_some() || !i.redshifts.is_empty() {
            return Err(usage(format!(
                "--z and --redshifts are for spectrum files; the store's spectra are {done} at the store's redshifts"
            )));
        }
        let select = i.select.unwrap_or(DEFAULT_SELECT);
        let mut store = ctx.open_store()?;
        let ids = store
            .select_target_ids(select, &[])
            .map_err(|e| PipelineError::Store(format!("--select {select:?}"), Box::new(e)))?;
        return Ok(QuasarChunks::Store(
            ids.chunks(i.shard_size).map(<[i64]>::to_vec).collect(),
        ));
    }
    if i.select.is_some() {
        return Err(usage(format!(
            "--select is for the store's spectra; with files, every spectrum in them is {done}"
        )));
    }
    if let Some(z) = i.z {
        let ok = match z_min {
            Some(m) => z >= m,
            None => z > 0.0,
        };
        if !z.is_finite() || !ok {
            return Err(usage(match z_min {
                Some(m) => format!("--z {z}: give a redshift >= {m}"),
                None => format!("--z {z}: give a redshift > 0"),
            }));
        }
    }
    let files = list_spectrum_files(i.paths)?;
    // Redshift tables are checked once here, not first in a shard.
    read_redshift_tables(i.redshifts)?;
    Ok(QuasarChunks::Files(
        files
            .chunks(FILES_PER_SHARD)
            .map(<[PathBuf]>::to_vec)
            .collect(),
    ))
}
