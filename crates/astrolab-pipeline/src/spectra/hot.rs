//! `spectra hot`: an uncompressed twin (`NAME.parquet.hot`) of every
//! spectra file of the store, which batch reads use while it matches its
//! Parquet file. The lab's per-tile files are read in place and get none.

use std::path::Path;

use anyhow::{Context, Result};
use astrolab_store::Store;
use serde::{Deserialize, Serialize};

use crate::context::Ctx;

/// What `spectra hot` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotReport {
    /// Hot copies written.
    pub written: usize,
    /// Hot copies already fresh.
    pub fresh: usize,
    /// Lab-layout files left as they are.
    pub lab: usize,
}

/// Writes the missing or stale hot copies, and says what it did in one
/// line.
pub fn write_hot_copies(ctx: &Ctx, store: &mut Store) -> Result<HotReport> {
    let mut r = HotReport::default();
    let files = store.spectra_files()?;
    let total = files.len() as u64;
    for (i, f) in files.into_iter().enumerate() {
        ctx.check_cancelled()?;
        let path = Path::new(&f.path);
        if super::is_lab_file(store, &f.path)? {
            r.lab += 1;
        } else if astrolab_spectra::HotCopy::open_fresh(path)
            .with_context(|| format!("checking the hot copy of {}", f.path))?
            .is_some()
        {
            r.fresh += 1;
        } else {
            astrolab_spectra::write_hot_copy(path)
                .with_context(|| format!("writing the hot copy of {}", f.path))?;
            r.written += 1;
        }
        ctx.progress("files", i as u64 + 1, total);
    }
    ctx.info(format!(
        "spectra hot: {} hot copies written, {} already fresh, {} lab-layout files left as they are",
        r.written, r.fresh, r.lab
    ));
    Ok(r)
}
