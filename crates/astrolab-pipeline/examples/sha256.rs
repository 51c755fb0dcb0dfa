//! Prints `SIZE SHA256` of each file named on the command line, computed by
//! `astrolab_pipeline::hash::sha256_file` (the run manifests' checksums).
//! Used by `bench/pipeline_hash.sh` beside `sha256sum`.
//!
//! usage: cargo run --release -p astrolab-pipeline --example sha256 -- FILE...

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: sha256 FILE...");
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for f in &files {
        match astrolab_pipeline::hash::sha256_file(Path::new(f)) {
            Ok((size, sha)) => println!("{size} {sha}"),
            Err(e) => {
                eprintln!("error: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
