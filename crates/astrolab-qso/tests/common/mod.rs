//! Finding the lab's shared real data, as every crate's tests do
//! (`astrolab_formats::testdata::require_shared_data`, repeated here so
//! that this pure crate's tests do not build the FITS readers).

use std::path::{Path, PathBuf};

/// `$ASTROLAB_SHARED_DATA`, or `shared/data` found walking up from this
/// crate; `None` after printing why the test is skipped.
///
/// # Panics
/// When the data is missing and `CI` is set: CI must not skip real-data
/// tests silently.
pub fn require_shared_data(test: &str) -> Option<PathBuf> {
    let found = match std::env::var_os("ASTROLAB_SHARED_DATA") {
        Some(dir) => Some(PathBuf::from(dir)).filter(|d| d.is_dir()),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared").join("data"))
            .find(|d| d.is_dir()),
    };
    if found.is_none() {
        let why = "shared data not found: set ASTROLAB_SHARED_DATA to the directory \
                   holding cloudy/, desi/, ... (default ../shared/data next to the workspace)";
        if std::env::var_os("CI").is_some() {
            panic!("{test}: {why}");
        }
        eprintln!("skipping {test}: {why}");
    }
    found
}

/// The Cloudy grid folder, or `None` (skip; a panic under `CI`) when the
/// shared data predates it.
pub fn cloudy_dir(test: &str) -> Option<PathBuf> {
    let dir = require_shared_data(test)?
        .join("cloudy")
        .join("grid-agn-logn4");
    if !dir.is_dir() {
        let why = format!("{} is missing: update the shared data", dir.display());
        if std::env::var_os("CI").is_some() {
            panic!("{test}: {why}");
        }
        eprintln!("skipping {test}: {why}");
        return None;
    }
    Some(dir)
}

/// A file's text; panics with the path (a test fixture that must exist).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
