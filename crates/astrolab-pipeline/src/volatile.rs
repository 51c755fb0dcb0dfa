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
    match (pipeline, ext.as_str()) {
        // FITS files we write carry the writing time in the primary
        // header's DATE card (FITS standard 4.0, section 4.4.2.1).
        (_, "fits") => vec![Volatile::FitsKeyword {
            hdu: 0,
            keyword: "DATE".into(),
        }],
        _ => Vec::new(),
    }
}
