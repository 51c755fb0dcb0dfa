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

/// The Cloudy grid folder, or `None` (skip).
pub fn cloudy_dir(test: &str) -> Option<PathBuf> {
    require_shared_data(test).map(|d| d.join("cloudy").join("grid-agn-logn4"))
}

/// A file's text; panics with the path (a test fixture that must exist).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The 9 models, log U varying slowest (the grid run's order).
pub fn models() -> Vec<(f64, f64, String)> {
    let mut v = Vec::new();
    for (u, tag) in [(-3.0, "m3"), (-2.0, "m2"), (-1.0, "m1")] {
        for n in [20.0, 21.0, 22.0] {
            v.push((u, n, format!("agn_n4_U{tag}_N{n}")));
        }
    }
    v
}
