//! Write a synthetic sky: `cargo run --release -p astrolab-demo --example
//! generate_demo_sky -- OUT_DIR [N_GALAXIES [SEED]]`; prints the summary as
//! JSON. Writes the synthetic spectra too (500 galaxies, the catalog's
//! quasars, about 0.35 GB); quasar spectra use the redrock templates in
//! `$ASTROLAB_SHARED_DATA/templates` when that directory exists.

use std::path::PathBuf;
use std::time::Instant;

use astrolab_demo::{generate_sky, DemoConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: generate_demo_sky OUT_DIR [N_GALAXIES [SEED]]")?,
    );
    let mut cfg = DemoConfig::default();
    cfg.spectra.enabled = true;
    if let Some(n) = args.next() {
        cfg.n_galaxies = n.parse()?;
    }
    if let Some(s) = args.next() {
        cfg.seed = s.parse()?;
    }
    if let Some(shared) = std::env::var_os("ASTROLAB_SHARED_DATA") {
        let dir = PathBuf::from(shared).join("templates");
        if dir.is_dir() {
            cfg.spectra.templates_dir = Some(dir);
        }
    }
    let t = Instant::now();
    let summary = generate_sky(&dir, &cfg)?;
    eprintln!("generated and wrote in {:.2} s", t.elapsed().as_secs_f64());
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
