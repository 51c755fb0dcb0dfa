//! Which fields of each pipeline's outputs legitimately change from one
//! run to the next (a timestamp written into a file), declared in the
//! manifest so that `astrolab reproduce` compares everything else byte for
//! byte. Anything not declared here must reproduce exactly.

use std::path::Path;

use crate::manifest::Volatile;

/// The volatile fields of `pipeline`'s output at `rel` (relative to the run
/// directory).
pub fn fields(pipeline: &str, rel: &Path) -> Vec<Volatile> {
    let ext = rel
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let is_result = rel == Path::new(crate::executor::RESULT_FILE);
    match (pipeline, ext.as_str()) {
        // The registry's record of each file says when it was loaded.
        ("ingest", _) if is_result => {
            vec![Volatile::JsonPointer("/outcomes/*/file/ingested_at".into())]
        }
        // Speed of the spectrometer (real-time factor) on this machine.
        ("hline-process", _) if is_result => {
            vec![Volatile::JsonPointer("/*/realtime_factor".into())]
        }
        // How long each catalog took.
        ("voids-classify", _) if is_result => vec![
            Volatile::JsonPointer("/catalogs/*/seconds_membership".into()),
            Volatile::JsonPointer("/catalogs/*/seconds_store".into()),
        ],
        // FITS files we write carry the writing time in the primary
        // header's DATE card (FITS standard 4.0, section 4.4.2.1).
        (_, "fits") => vec![Volatile::FitsKeyword {
            hdu: 0,
            keyword: "DATE".into(),
        }],
        _ => Vec::new(),
    }
}
