//! `astrolab demo-data DIR`.

use anyhow::{Context, Result};
use astrolab_demo::{generate_sky, DemoConfig};

use crate::cli::DemoDataArgs;

pub fn run(args: &DemoDataArgs) -> Result<()> {
    let cfg = DemoConfig {
        seed: args.seed,
        n_galaxies: args.galaxies,
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
