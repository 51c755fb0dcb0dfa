//! `spectra index-lab`: the lab's existing per-tile Parquet files (columns
//! target_id, ra, dec, z, wavelength[], flux[], ivar[], mask_array[])
//! indexed in place, so spectra are read from them without conversion.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_store::{SpectraFileRecord, Store};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;

/// What `spectra index-lab` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexLabReport {
    /// Files indexed.
    pub indexed: usize,
    /// Files already indexed from the same bytes.
    pub unchanged: usize,
    /// Spectra indexed.
    pub spectra: usize,
}

fn find_parquet(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            find_parquet(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// Indexes the lab's per-tile Parquet files under `dir` in place (survey
/// `lab`, program `tile`), and says what it did in one line.
pub fn index_lab(ctx: &Ctx, store: &mut Store, dir: &Path) -> Result<IndexLabReport> {
    let mut files = Vec::new();
    find_parquet(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        bail!("no .parquet files under {}", dir.display());
    }
    let (mut indexed, mut unchanged, mut spectra) = (0, 0, 0);
    let total = files.len() as u64;
    for (i, path) in files.into_iter().enumerate() {
        ctx.check_cancelled()?;
        ctx.progress("files", i as u64 + 1, total);
        let key = path
            .canonicalize()
            .unwrap_or(path.clone())
            .display()
            .to_string();
        let (size, sha) = astrolab_store::file_digest(&path)?;
        if store
            .spectra_file_by_path(&key)?
            .is_some_and(|r| r.sources.contains(&sha))
        {
            unchanged += 1;
            continue;
        }
        let rows = astrolab_spectra::read_lab_layout(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let index: Vec<(i64, usize, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.target_id, i, r.z))
            .collect();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        store.register_spectra_file(
            &SpectraFileRecord {
                spectra_file_id: 0,
                path: key,
                survey: "lab".into(),
                program: "tile".into(),
                healpix: -1,
                n_spectra: index.len() as i64,
                size_bytes: size as i64,
                sources: serde_json::to_string(&[format!("{name} sha256:{sha}")])?,
                built_at: super::now_rfc3339(),
                software_version: env!("CARGO_PKG_VERSION").to_string(),
            },
            &index,
        )?;
        indexed += 1;
        spectra += index.len();
    }
    ctx.info(format!(
        "spectra index-lab: {indexed} files indexed ({spectra} spectra), {unchanged} already indexed"
    ));
    Ok(IndexLabReport {
        indexed,
        unchanged,
        spectra,
    })
}
