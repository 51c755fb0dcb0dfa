//! Write the labelled anomaly benchmark (issue 17): `cargo run --release
//! -p astrolab-demo --example anomaly_benchmark -- OUT_DIR [N_QUASARS
//! [RARITY_FRACTION [SEED]]]` (defaults 20000, 0.015, 42); prints the
//! summary as JSON. Quasars use the redrock templates in
//! `$ASTROLAB_SHARED_DATA/templates` (or `../shared/data/templates`) when
//! that directory exists, a power law otherwise.

use std::path::PathBuf;
use std::time::Instant;

use astrolab_demo::{generate_sky, DemoConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: anomaly_benchmark OUT_DIR [N_QUASARS [RARITY_FRACTION [SEED]]]";
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    let n: usize = args.next().map_or(Ok(20_000), |s| s.parse())?;
    let fraction: f64 = args.next().map_or(Ok(0.015), |s| s.parse())?;
    let seed: u64 = args.next().map_or(Ok(42), |s| s.parse())?;
    let mut cfg = DemoConfig::anomaly_benchmark(n, fraction, seed);
    let shared = std::env::var_os("ASTROLAB_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let templates = shared.join("templates");
    if templates.join("rrtemplate-QSO-LOZ-v1.1.fits").is_file() {
        cfg.spectra.templates_dir = Some(templates);
    } else {
        eprintln!(
            "no redrock templates under {}: power-law quasars",
            templates.display()
        );
    }
    let t = Instant::now();
    let summary = generate_sky(&dir, &cfg)?;
    eprintln!("generated and wrote in {:.2} s", t.elapsed().as_secs_f64());
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
