//! `astrolab demo-data DIR`.

use anyhow::{Context, Result};
use std::path::PathBuf;

use astrolab_demo::{generate_sky, DemoConfig, SpectraConfig};

use crate::cli::DemoDataArgs;

pub fn run(args: &DemoDataArgs) -> Result<()> {
    let cfg = DemoConfig {
        seed: args.seed,
        n_galaxies: args.galaxies,
        spectra: spectra_config(!args.no_spectra, args.templates.clone()),
        ..DemoConfig::default()
    };
    let summary = generate_sky(&args.dir, &cfg)
        .with_context(|| format!("writing demo data to {}", args.dir.display()))?;
    for f in &summary.files {
        println!("wrote {} ({}, {} rows)", f.path.display(), f.kind, f.rows);
    }
    println!(
        "{} galaxies around {} planted voids; truth table: {}",
        summary.n_galaxies,
        summary.n_planted_voids,
        summary.truth_path.display()
    );
    Ok(())
}

/// The QSO templates directory: the flag, else the shared data's
/// `templates/` when it exists.
pub fn templates_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        let shared = std::env::var_os("ASTROLAB_SHARED_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../shared/data"));
        let t = shared.join("templates");
        t.join("rrtemplate-QSO-LOZ-v1.1.fits").exists().then_some(t)
    })
}

/// Spectra settings for the demo sky.
pub fn spectra_config(enabled: bool, templates: Option<PathBuf>) -> SpectraConfig {
    SpectraConfig {
        enabled,
        templates_dir: templates_dir(templates),
        ..SpectraConfig::default()
    }
}
