//! `astrolab ingest PATH...`: one transaction per file; a failed file
//! leaves nothing behind and the others still load. Exit code 1 when any
//! file failed.

use anyhow::{bail, Result};
use astrolab_store::{expand_paths, IngestOptions, IngestOutcome, Progress, Store};

use crate::cli::IngestArgs;
use crate::config::Config;

/// Ingests files into an open store, printing one line per file; returns
/// the outcomes of the files that did not fail and the number that failed.
pub fn ingest_all(
    store: &mut Store,
    args: &IngestArgs,
    quiet: bool,
) -> Result<(Vec<IngestOutcome>, usize)> {
    let files = expand_paths(&args.paths)?;
    // Files met while walking a directory that are not catalogs (a README
    // table, a truth file) are skipped with a note; a file named on the
    // command line must ingest or fail.
    let named: Vec<std::path::PathBuf> =
        args.paths.iter().filter(|p| p.is_file()).cloned().collect();
    if files.is_empty() {
        bail!("no .fits or .csv files found in {:?}", args.paths);
    }
    let opts = IngestOptions {
        new_version: args.new_version,
    };
    let mut outcomes = Vec::new();
    let mut failed = 0;
    for (i, path) in files.iter().enumerate() {
        crate::progress::fraction(i, files.len());
        let pb = crate::progress::rows(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let mut cb = |n: u64| -> std::result::Result<(), String> {
            pb.inc(n);
            Ok(())
        };
        let result = store.ingest_file(path, &opts, &mut Progress::new(&mut cb));
        pb.finish_and_clear();
        match result {
            Ok(outcome) => {
                if args.json {
                    println!("{}", serde_json::to_string(&outcome)?);
                } else if !quiet {
                    match &outcome {
                        IngestOutcome::Loaded { file, tables } => {
                            let t: Vec<String> = tables.iter().map(|(t, n)| format!("{n} rows -> {t}")).collect();
                            println!(
                                "loaded    {} [{}] v{} file_id {}: {}",
                                path.display(),
                                file.format,
                                file.version,
                                file.file_id,
                                t.join(", ")
                            );
                        }
                        IngestOutcome::AlreadyIngested { file } => println!(
                            "unchanged {}: these bytes are already ingested as {} (file_id {}, sha256 {}); nothing to do",
                            path.display(),
                            file.name,
                            file.file_id,
                            &file.sha256[..16]
                        ),
                    }
                }
                outcomes.push(outcome);
            }
            Err(e @ astrolab_store::StoreError::UnknownFormat { .. }) if !named.contains(path) => {
                eprintln!("skipped   {}: {e}", path.display());
            }
            Err(e) => {
                failed += 1;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"outcome": "failed", "path": path, "error": e.to_string()})
                    );
                }
                eprintln!("failed    {}: {e}", path.display());
            }
        }
    }
    Ok((outcomes, failed))
}

pub fn run(cfg: &Config, args: &IngestArgs) -> Result<()> {
    let mut store = super::open_store(cfg)?;
    let (_, failed) = ingest_all(&mut store, args, false)?;
    if failed > 0 {
        bail!("{failed} file(s) failed to ingest; nothing of those files was loaded");
    }
    Ok(())
}
