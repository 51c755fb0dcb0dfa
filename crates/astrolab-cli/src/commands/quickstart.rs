//! `astrolab quickstart`: the whole chain on demo data, on a fresh machine,
//! with no arguments. It grows as capabilities land.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use astrolab_demo::{generate_sky, DemoConfig};
use astrolab_store::query::{Direction, XmatchMode, XmatchQuery, XmatchSide};
use astrolab_store::{ConeQuery, ResultTable};

use crate::cli::{IngestArgs, OutputArgs, OutputFormat, QuickstartArgs, SpectraBuildArgs};
use crate::config::Config;

fn csv_out(dir: &std::path::Path, name: &str) -> OutputArgs {
    OutputArgs {
        format: OutputFormat::Csv,
        output: Some(dir.join(name)),
    }
}

fn first_f64(t: &ResultTable, col: &str) -> Option<f64> {
    t.column(col)?.first().and_then(|v| v.as_f64())
}

pub fn run(cfg: &Config, args: &QuickstartArgs) -> Result<()> {
    let t0 = Instant::now();
    let demo_dir = cfg.home.join("demo");
    let out_dir = cfg.home.join("quickstart");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut done: Vec<String> = Vec::new();

    // 1. Demo data in the genuine DESI formats.
    println!(
        "[1/6] writing a synthetic DESI sky ({} galaxies, seed {}) to {}",
        args.galaxies,
        args.seed,
        demo_dir.display()
    );
    let demo = generate_sky(
        &demo_dir,
        &DemoConfig {
            seed: args.seed,
            n_galaxies: args.galaxies,
            spectra: astrolab_pipeline::demo::spectra_config(true, None),
            ..DemoConfig::default()
        },
    )
    .with_context(|| format!("writing demo data to {}", demo_dir.display()))?;
    done.push(format!(
        "demo sky: {} galaxies, {} planted voids, {} files in {}",
        demo.n_galaxies,
        demo.n_planted_voids,
        demo.files.len(),
        demo_dir.display()
    ));

    // 2. Ingest into the store.
    let sc = cfg.store();
    println!(
        "[2/6] ingesting into {} ({})",
        sc.describe(),
        if sc.database_url.is_some() {
            "PostgreSQL"
        } else {
            "embedded SQLite"
        }
    );
    // The steps' own summary lines are left out (quickstart prints its
    // own); their warnings and progress still show.
    let ctx = crate::progress::quiet_ctx(cfg)?;
    let mut store = ctx.open_store()?;
    // Catalogs and redrock files go to the catalog tables; coadds (spectra)
    // go to the spectral store in step 4.
    let paths: Vec<PathBuf> = demo
        .files
        .iter()
        .filter(|f| f.kind != "coadd")
        .map(|f| f.path.clone())
        .filter(|p| p.extension().is_some_and(|e| e == "fits"))
        .collect();
    let report = astrolab_pipeline::ingest::ingest_all(
        &ctx,
        &mut store,
        &IngestArgs {
            paths,
            new_version: true,
            json: false,
        },
        true,
    )?;
    let (outcomes, failed) = (report.outcomes, report.failed.len());
    if failed > 0 {
        anyhow::bail!("{failed} demo file(s) failed to ingest");
    }
    let unchanged = outcomes
        .iter()
        .filter(|o| matches!(o, astrolab_store::IngestOutcome::AlreadyIngested { .. }))
        .count();
    let rows: i64 = outcomes
        .iter()
        .map(|o| match o {
            astrolab_store::IngestOutcome::Loaded { file, .. } => file.rows_loaded,
            _ => 0,
        })
        .sum();
    done.push(format!(
        "ingested {} catalog files into the store: {} loaded ({rows} rows), {unchanged} unchanged (same bytes already ingested)",
        outcomes.len(),
        outcomes.len() - unchanged
    ));

    // 3. Example queries.
    println!("[3/6] example queries");
    let biggest = store.sql_readonly("SELECT ra, dec, radius_mpc_h FROM v2_voids WHERE algorithm = 'REVOLVER' ORDER BY radius_mpc_h DESC LIMIT 1")?;
    let (ra, dec) = (
        first_f64(&biggest, "ra").unwrap_or(180.0),
        first_f64(&biggest, "dec").unwrap_or(25.0),
    );
    let cone = store.cone(&ConeQuery {
        table: "fastspec".into(),
        ra_deg: ra,
        dec_deg: dec,
        radius_deg: 2.0,
        filter: Some("zwarn = 0 AND logmstar > 9".into()),
        limit: None,
        exclude_file_ids: Vec::new(),
    })?;
    crate::output::emit(&cone, &csv_out(&out_dir, "cone_search.csv"), "CONE")?;
    done.push(format!(
        "cone search: {} galaxies with log M* > 9 within 2 deg of the largest REVOLVER void (RA {ra:.3}, Dec {dec:.3}) -> quickstart/cone_search.csv",
        cone.rows.len()
    ));
    let xm = store.xmatch(&XmatchQuery {
        a: XmatchSide::Table("fastspec".into()),
        b: XmatchSide::Table("zcatalog".into()),
        radius_deg: 1.0 / 3600.0,
        direction: Direction::AToB,
        mode: XmatchMode::Nearest,
    })?;
    crate::output::emit(
        &xm,
        &csv_out(&out_dir, "xmatch_fastspec_zcatalog.csv"),
        "XMATCH",
    )?;
    done.push(format!("crossmatch: {} FastSpecFit galaxies matched to the redshift catalog within 1 arcsec -> quickstart/xmatch_fastspec_zcatalog.csv", xm.rows.len()));
    let types = store.sql_readonly("SELECT spectype, COUNT(*) AS n, AVG(z) AS mean_z FROM zcatalog GROUP BY spectype ORDER BY n DESC")?;
    crate::output::emit(&types, &csv_out(&out_dir, "spectypes.csv"), "SPECTYPES")?;
    done.push("SQL: objects per spectral type -> quickstart/spectypes.csv".to_string());

    // 4. Analyses that exist so far: void membership from the V2 catalogs.
    println!("[4/6] analyses and spectra");
    let membership = store.sql_readonly(
        "SELECT g.algorithm, COUNT(*) AS galaxies, SUM(CASE WHEN zv.void0 <> -1 THEN 1 ELSE 0 END) AS in_voids, \
         ROUND(100.0 * SUM(CASE WHEN zv.void0 <> -1 THEN 1 ELSE 0 END) / COUNT(*), 1) AS void_percent \
         FROM v2_galzone g JOIN v2_zonevoid zv ON zv.file_id = g.file_id AND zv.zone = g.zone GROUP BY g.algorithm ORDER BY g.algorithm",
    )?;
    crate::output::emit(
        &membership,
        &csv_out(&out_dir, "v2_void_membership.csv"),
        "MEMBERSHIP",
    )?;
    for r in &membership.rows {
        done.push(format!(
            "V2 void membership ({}): {} of {} galaxies in voids ({}%)",
            r[0], r[2], r[1], r[3]
        ));
    }

    // Spectra: the coadds into the spectral store, one quasar plotted.
    let built = astrolab_pipeline::run_in_process(
        &astrolab_pipeline::spectra::Build,
        &ctx,
        &SpectraBuildArgs {
            from: demo_dir.clone(),
            select: None,
            survey: None,
            program: None,
            out: None,
            keep_negative_targetids: false,
        },
    )?;
    done.push(format!(
        "spectral store: {} spectra from {} coadds in {} Parquet files ({} already built) -> {}",
        built.spectra,
        built.coadds,
        built.built,
        built.unchanged,
        cfg.home.join("spectra").display()
    ));
    let qso = store.sql_readonly("SELECT targetid, z FROM redshifts WHERE spectype = 'QSO' AND zwarn = 0 ORDER BY targetid LIMIT 1")?;
    if let Some(tid) = qso.rows.first().and_then(|r| r[0].as_i64()) {
        let fetched = astrolab_pipeline::spectra::fetch_spectra(&mut store, &[tid])?;
        if let Some(f) = fetched.first() {
            let svg = crate::plot::spectrum_svg(&crate::plot::SpectrumPlot {
                title: format!("demo quasar TARGETID {tid}  z = {:.3}", f.z),
                wavelength: &f.wavelength,
                flux: &f.row.flux,
                ivar: &f.row.ivar,
                mask: &f.row.mask,
                z: f.z.is_finite().then_some(f.z),
                rest_frame: false,
            });
            let plot = out_dir.join(format!("spectrum_{tid}.svg"));
            std::fs::write(&plot, svg).with_context(|| format!("writing {}", plot.display()))?;
            done.push(format!("spectrum: quasar {tid} read back by TARGETID and plotted -> quickstart/spectrum_{tid}.svg"));
        }
    }

    // 5. Voids: membership from the demo's DESIVAST catalogs, void-vs-wall
    // statistics, and our own VoidFinder on a demo patch with known voids.
    println!("[5/6] cosmic voids");
    done.extend(voids_steps(cfg, args, &demo_dir, &out_dir)?);

    // 6. The 21 cm line: a synthetic SDR recording through the spectrometer.
    println!("[6/6] hydrogen line");
    done.extend(hline_steps(cfg, args, &out_dir)?);

    let summary = serde_json::json!({
        "astrolab_version": env!("CARGO_PKG_VERSION"),
        "store": sc.describe(),
        "demo": demo,
        "steps": done,
        "seconds": t0.elapsed().as_secs_f64(),
    });
    let summary_path = out_dir.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("writing {}", summary_path.display()))?;

    println!();
    println!(
        "astrolab quickstart finished in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    for d in &done {
        println!("  - {d}");
    }
    println!();
    println!("Results:  {}", out_dir.display());
    println!("Database: {}", sc.describe());
    println!();
    println!("Try next:");
    println!("  astrolab query cone --ra {ra:.3} --dec {dec:.3} --radius 1deg --table fastspec --where \"logmstar > 10.5\"");
    println!("  astrolab query sql \"SELECT algorithm, COUNT(*) FROM voidfinder_holes GROUP BY algorithm\"");
    println!("  astrolab db status");
    println!("  astrolab spectra get TARGETID --plot spectrum.svg --rest-frame");
    println!("Real DESI DR1 data (zpix-main-bright.fits, fastspec-iron-main-bright-nside1-hp*.fits, DESIVAST_*.fits):");
    println!("  astrolab ingest /path/to/desi/dr1/");
    println!("  astrolab fetch desi --survey main --program dark --healpix 26065 --dest desi-dr1");
    println!(
        "  astrolab spectra build --from desi-dr1 --select \"spectype = 'QSO' AND zwarn = 0\""
    );
    println!("The web server over the same store (API, pages, run queue, metrics):");
    println!("  astrolab user add YOU --admin        # asks for a password; no defaults anywhere");
    println!("  astrolab serve --insecure-cookies    # then open http://127.0.0.1:8080 (plain HTTP on loopback only)");
    println!("PostgreSQL (with q3c for the fastest cone searches):");
    println!("  ASTROLAB_DATABASE_URL=postgres://user@host/astrolab astrolab ingest ...");
    Ok(())
}

/// Runs one `astrolab ...` command line in-process, exactly as a user would
/// type it (same parsing, same output).
fn run_command(cfg: &Config, args: &[String]) -> Result<()> {
    use clap::Parser;
    let cli = crate::cli::Cli::try_parse_from(
        std::iter::once("astrolab".to_string()).chain(args.iter().cloned()),
    )
    .with_context(|| format!("astrolab {}", args.join(" ")))?;
    match cli.command {
        crate::cli::Command::Voids(c) => super::voids::run(cfg, &c),
        crate::cli::Command::Hline(c) => super::hline::run(cfg, &c),
        _ => anyhow::bail!("quickstart runs only voids and hline commands this way"),
    }
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Void membership, statistics and VoidFinder on demo skies.
fn voids_steps(
    cfg: &Config,
    args: &QuickstartArgs,
    demo_dir: &std::path::Path,
    out_dir: &std::path::Path,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    // Membership of every demo galaxy in the demo's DESIVAST catalogs
    // (VoidFinder and V2, both caps), stored and queryable.
    let mut catalogs: Vec<PathBuf> = std::fs::read_dir(demo_dir)
        .with_context(|| format!("listing {}", demo_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("DESIVAST") && n.ends_with(".fits"))
        })
        .collect();
    catalogs.sort();
    let mut cmd = vec!["voids".to_string(), "classify".to_string()];
    for c in &catalogs {
        cmd.push("--catalog".into());
        cmd.push(s(c));
    }
    run_command(cfg, &cmd)?;
    done.push(format!(
        "void membership: every demo galaxy classified against {} DESIVAST catalogs (try: astrolab voids members --summary)",
        catalogs.len()
    ));
    let stats_dir = out_dir.join("voids");
    run_command(
        cfg,
        &[
            "voids".into(),
            "compare".into(),
            "--out".into(),
            s(&stats_dir),
            "--replicates".into(),
            "200".into(),
        ],
    )?;
    done.push(format!(
        "void vs wall statistics (KS, AD, bootstrap CIs, CDF figures) -> {}",
        stats_dir.join("summary.txt").display()
    ));

    // VoidFinder on a compact demo patch dense enough to resolve its
    // planted voids (a DR7-like density; interiors at 5 % of the mean, as
    // Hoyle & Vogeley 2004 measure in real voids).
    let patch = astrolab_demo::generate_catalog(&DemoConfig {
        seed: args.seed,
        n_galaxies: 40_000,
        footprint: astrolab_demo::Footprint {
            ra_min_deg: 150.0,
            ra_max_deg: 200.0,
            dec_min_deg: 0.0,
            dec_max_deg: 35.0,
            z_min: 0.02,
            z_max: 0.11,
        },
        void_density_contrast: 0.05,
        spectra: astrolab_demo::SpectraConfig {
            enabled: false,
            ..astrolab_demo::SpectraConfig::default()
        },
        ..DemoConfig::default()
    })
    .context("generating the VoidFinder demo patch")?;
    let g = &patch.galaxies;
    let csv_path = out_dir.join("voidfinder_patch_galaxies.csv");
    let mut text = String::from("ra,dec,z\n");
    for i in 0..g.ra_deg.len() {
        text.push_str(&format!("{},{},{}\n", g.ra_deg[i], g.dec_deg[i], g.z[i]));
    }
    std::fs::write(&csv_path, text).with_context(|| format!("writing {}", csv_path.display()))?;
    let vf_path = out_dir.join("voidfinder_patch_VoidFinder_Output.fits");
    run_command(
        cfg,
        &[
            "voids".into(),
            "find".into(),
            s(&csv_path),
            "--omega-m".into(),
            patch.config.omega_m.to_string(),
            "--output".into(),
            s(&vf_path),
        ],
    )?;
    let found = astrolab_formats::vast::read_vast_voidfinder(&vf_path)
        .with_context(|| format!("reading {}", vf_path.display()))?;
    let big: Vec<_> = patch
        .voids
        .iter()
        .filter(|v| v.radius_mpc_h > 15.0)
        .collect();
    let recovered = big
        .iter()
        .filter(|v| {
            found.maximals.iter().any(|m| {
                let d = (0..3)
                    .map(|a| (m.center_mpc_h[a] - v.center_mpc_h[a]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                d <= 0.2 * v.radius_mpc_h
                    && (m.radius_mpc_h - v.radius_mpc_h).abs() <= 0.15 * v.radius_mpc_h
            })
        })
        .count();
    done.push(format!(
        "VoidFinder: {} voids in a {}-galaxy demo patch; {recovered} of {} planted voids with R > 15 Mpc/h recovered (centre within 0.2 R, radius within 15 %) -> {}",
        found.maximals.len(),
        g.ra_deg.len(),
        big.len(),
        vf_path.display()
    ));
    Ok(done)
}

/// One synthetic SDR recording through `hline process`, with its truth.
fn hline_steps(
    cfg: &Config,
    args: &QuickstartArgs,
    out_dir: &std::path::Path,
) -> Result<Vec<String>> {
    let dir = out_dir.join("hline");
    let meta = astrolab_pipeline::hline::process::write_demo_recording(&dir, args.seed)?;
    run_command(
        cfg,
        &[
            "hline".into(),
            "process".into(),
            s(&meta),
            // 12 integrations of 0.25 s (the recording is 3 s long), and the
            // demo receiver's system temperature to put the line in kelvin.
            "--integration-s".into(),
            "0.25".into(),
            "--tsys-k".into(),
            "120".into(),
            "--waterfall".into(),
            "svg".into(),
        ],
    )?;
    Ok(vec![format!(
        "hydrogen line: synthetic 8-bit SDR recording (RFI, DC spike, bandpass ripple; truth in {}) -> flagged spectra, the line's LSR velocity and a waterfall in {}",
        meta.with_extension("").with_extension("truth.json").display(),
        cfg.home.join("hline").display()
    )])
}
