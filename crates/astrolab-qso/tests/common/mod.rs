//! Finding the lab's shared real data for the Cloudy tests, through the
//! workspace's one helper (`astrolab_formats::testdata`).

use std::path::{Path, PathBuf};

use astrolab_formats::testdata::require_shared_data;

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
