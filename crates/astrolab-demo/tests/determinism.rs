//! Same seed and config, same bytes; another seed, other bytes.

use std::collections::BTreeMap;
use std::path::Path;

use astrolab_demo::{generate_sky, DemoConfig, SpectraConfig};

fn small(seed: u64) -> DemoConfig {
    DemoConfig {
        seed,
        n_galaxies: 4000,
        spectra: SpectraConfig {
            enabled: true,
            max_galaxies: 80,
            n_qso: 20,
            ..SpectraConfig::default()
        },
        ..DemoConfig::default()
    }
}

/// File name -> bytes for every file in `dir`.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read output dir")
        .map(|e| {
            let e = e.expect("dir entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read file"),
            )
        })
        .collect()
}

#[test]
fn same_seed_gives_byte_identical_files() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sa = generate_sky(a.path(), &small(11)).expect("first run");
    let sb = generate_sky(b.path(), &small(11)).expect("second run");
    let (ca, cb) = (contents(a.path()), contents(b.path()));
    let n_spectra_files = ca
        .keys()
        .filter(|n| n.starts_with("coadd-") || n.starts_with("redrock-"))
        .count();
    assert!(
        n_spectra_files >= 4,
        "files: {:?}",
        ca.keys().collect::<Vec<_>>()
    );
    // 8 catalog and truth files, the spectra truth (JSON, CSV) and the
    // coadd/redrock pairs.
    assert_eq!(ca.len(), 10 + n_spectra_files);
    assert_eq!(ca.keys().collect::<Vec<_>>(), cb.keys().collect::<Vec<_>>());
    for (name, bytes) in &ca {
        assert!(
            bytes == &cb[name],
            "{name} differs between two runs with the same seed"
        );
    }
    // The summaries agree apart from the directory.
    let rows = |s: &astrolab_demo::DemoSummary| {
        s.files.iter().map(|f| (f.kind, f.rows)).collect::<Vec<_>>()
    };
    assert_eq!(rows(&sa), rows(&sb));
    // Rewriting into the same directory replaces the files with the same bytes.
    generate_sky(a.path(), &small(11)).expect("third run");
    assert_eq!(contents(a.path()), ca);
}

#[test]
fn different_seeds_give_different_files() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate_sky(a.path(), &small(1)).expect("seed 1");
    generate_sky(b.path(), &small(2)).expect("seed 2");
    let (ca, cb) = (contents(a.path()), contents(b.path()));
    // Spectra files are named by HEALPix pixel, which differ with the seed;
    // files present in both runs must differ.
    let common: Vec<&String> = ca.keys().filter(|n| cb.contains_key(*n)).collect();
    assert!(common.len() >= 10);
    for name in common {
        assert!(
            ca[name] != cb[name],
            "{name} is identical for seeds 1 and 2"
        );
    }
}
