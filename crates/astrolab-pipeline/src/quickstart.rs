//! `astrolab quickstart`: the whole chain on demo data, on a fresh machine,
//! with no arguments: every pipeline that exists, called as the library
//! calls they are, a summary and where the results are. It grows as
//! capabilities land. Not a catalog pipeline: it writes demo data into the
//! data home and loads it into the lab's store (a first-day tutorial).
//!
//! The SQL text here is what a newcomer would type into `astrolab query
//! sql` (the store's read-only query door), shown on purpose.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use astrolab_demo::{generate_sky, DemoConfig};
use astrolab_store::query::{Direction, XmatchMode, XmatchQuery, XmatchSide};
use astrolab_store::{ConeQuery, ResultTable};
use std::sync::Arc;

use crate::context::{Ctx, Event, EventSink, Level};
use crate::params::defs::{IngestArgs, OutputArgs, OutputFormat, QuickstartArgs, SpectraBuildArgs};
use crate::params::parse_args;

/// Passes every event but info lines on (the steps' own summary lines are
/// left out: quickstart prints its own).
struct Quiet(Arc<dyn EventSink>);

impl EventSink for Quiet {
    fn emit(&self, event: Event) {
        if !matches!(
            event,
            Event::Log {
                level: Level::Info,
                ..
            }
        ) {
            self.0.emit(event);
        }
    }
}

fn csv_out(dir: &std::path::Path, name: &str) -> OutputArgs {
    OutputArgs {
        format: OutputFormat::Csv,
        output: Some(dir.join(name)),
    }
}

fn first_f64(t: &ResultTable, col: &str) -> Option<f64> {
    t.column(col)?.first().and_then(|v| v.as_f64())
}

/// The tutorial.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quickstart;

impl crate::SinglePipeline for Quickstart {
    type Params = QuickstartArgs;
    type Output = serde_json::Value;
    fn run(
        &self,
        ctx: &Ctx,
        args: &QuickstartArgs,
    ) -> Result<serde_json::Value, crate::PipelineError> {
        Ok(run(ctx, args)?)
    }
}

/// Runs every step; the summary (also written to `quickstart/summary.json`).
pub fn run(outer: &Ctx, args: &QuickstartArgs) -> Result<serde_json::Value> {
    let home = outer.home();
    let t0 = Instant::now();
    let demo_dir = home.join("demo");
    let out_dir = home.join("quickstart");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut done: Vec<String> = Vec::new();

    // 1. Demo data in the genuine DESI formats.
    outer.info(format!(
        "[1/8] writing a synthetic DESI sky ({} galaxies, seed {}) to {}",
        args.galaxies,
        args.seed,
        demo_dir.display()
    ));
    let demo = generate_sky(
        &demo_dir,
        &DemoConfig {
            seed: args.seed,
            n_galaxies: args.galaxies,
            spectra: quickstart_spectra(),
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
    let sc = outer.store.clone();
    outer.info(format!(
        "[2/8] ingesting into {} ({})",
        sc.describe(),
        if sc.database_url.is_some() {
            "PostgreSQL"
        } else {
            "embedded SQLite"
        }
    ));
    // The steps' own summary lines are left out (quickstart prints its
    // own); their warnings and progress still show.
    let mut ctx = outer.clone();
    ctx.events = Arc::new(Quiet(outer.events.clone()));
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
    let report = crate::ingest::ingest_all(
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
    outer.info("[3/8] example queries");
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
    crate::output::emit(&ctx, &cone, &csv_out(&out_dir, "cone_search.csv"), "CONE")?;
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
        &ctx,
        &xm,
        &csv_out(&out_dir, "xmatch_fastspec_zcatalog.csv"),
        "XMATCH",
    )?;
    done.push(format!("crossmatch: {} FastSpecFit galaxies matched to the redshift catalog within 1 arcsec -> quickstart/xmatch_fastspec_zcatalog.csv", xm.rows.len()));
    let types = store.sql_readonly("SELECT spectype, COUNT(*) AS n, AVG(z) AS mean_z FROM zcatalog GROUP BY spectype ORDER BY n DESC")?;
    crate::output::emit(
        &ctx,
        &types,
        &csv_out(&out_dir, "spectypes.csv"),
        "SPECTYPES",
    )?;
    done.push("SQL: objects per spectral type -> quickstart/spectypes.csv".to_string());

    // 4. Analyses that exist so far: void membership from the V2 catalogs.
    outer.info("[4/8] analyses and spectra");
    let membership = store.sql_readonly(
        "SELECT g.algorithm, COUNT(*) AS galaxies, SUM(CASE WHEN zv.void0 <> -1 THEN 1 ELSE 0 END) AS in_voids, \
         ROUND(100.0 * SUM(CASE WHEN zv.void0 <> -1 THEN 1 ELSE 0 END) / COUNT(*), 1) AS void_percent \
         FROM v2_galzone g JOIN v2_zonevoid zv ON zv.file_id = g.file_id AND zv.zone = g.zone GROUP BY g.algorithm ORDER BY g.algorithm",
    )?;
    crate::output::emit(
        &ctx,
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
    let built = build_spectra(&ctx, &demo_dir)?;
    done.push(format!(
        "spectral store: {} spectra from {} coadds in {} Parquet files ({} already built) -> {}",
        built.spectra,
        built.coadds,
        built.built,
        built.unchanged,
        home.join("spectra").display()
    ));
    let qso = store.sql_readonly("SELECT targetid, z FROM redshifts WHERE spectype = 'QSO' AND zwarn = 0 ORDER BY targetid LIMIT 1")?;
    if let Some(tid) = qso.rows.first().and_then(|r| r[0].as_i64()) {
        let fetched = crate::spectra::fetch_spectra(&mut store, &[tid])?;
        if let Some(f) = fetched.first() {
            let svg = crate::render::spectrum_svg(&crate::render::SpectrumPlot {
                title: format!("demo quasar TARGETID {tid}  z = {:.3}", f.z),
                wavelength: &f.wavelength,
                flux: &f.row.flux,
                ivar: &f.row.ivar,
                mask: &f.row.mask,
                z: f.z.is_finite().then_some(f.z),
                rest_frame: false,
            });
            let plot = out_dir.join(format!("spectrum_{tid}.svg"));
            crate::output::write_file(&plot, svg.as_bytes())?;
            done.push(format!("spectrum: quasar {tid} read back by TARGETID and plotted -> quickstart/spectrum_{tid}.svg"));
        }
    }

    // 5. Voids: membership from the demo's DESIVAST catalogs, void-vs-wall
    // statistics, and our own VoidFinder on a demo patch with known voids.
    outer.info("[5/8] cosmic voids");
    done.extend(voids_steps(outer, args, &demo_dir, &out_dir)?);

    // 6. The 21 cm line: a synthetic SDR recording through the spectrometer.
    outer.info("[6/8] hydrogen line");
    done.extend(hline_steps(outer, args, &out_dir)?);

    // 7. Anomalous quasars: a small VAE trained on demo quasars, scored.
    outer.info("[7/8] anomalous quasars");
    done.extend(anomaly_steps(&ctx, args, &out_dir)?);

    // 8. Quasar outflows: BAL troughs and spectral fits of every
    // confident quasar.
    outer.info("[8/8] quasar outflows and spectral fits");
    done.extend(outflow_steps(&ctx, &out_dir)?);
    done.extend(qso_fit_steps(&ctx, &out_dir)?);

    let summary = serde_json::json!({
        "astrolab_version": env!("CARGO_PKG_VERSION"),
        "store": sc.describe(),
        "demo": demo,
        "steps": done,
        "seconds": t0.elapsed().as_secs_f64(),
    });
    let summary_path = out_dir.join("summary.json");
    crate::output::write_file(
        &summary_path,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;

    outer.info("");
    outer.info(format!(
        "astrolab quickstart finished in {:.1} s",
        t0.elapsed().as_secs_f64()
    ));
    for d in &done {
        outer.info(format!("  - {d}"));
    }
    outer.info("");
    outer.info(format!("Results:  {}", out_dir.display()));
    outer.info(format!("Database: {}", sc.describe()));
    outer.info("");
    outer.info("Try next:");
    outer.info(format!("  astrolab query cone --ra {ra:.3} --dec {dec:.3} --radius 1deg --table fastspec --where \"logmstar > 10.5\""));
    outer.info("  astrolab query sql \"SELECT algorithm, COUNT(*) FROM voidfinder_holes GROUP BY algorithm\"");
    outer.info("  astrolab db status");
    outer.info("  astrolab spectra get TARGETID --plot spectrum.svg --rest-frame");
    outer.info("  astrolab anomalies export --all --format csv   # the ranked quasars; label them on the server's /anomalies page");
    outer.info("  astrolab qso fit spec-*.fits --fe-optical fe_optical.txt --fe-uv fe_uv.txt -o fits.fits --qa qa/   # quasar spectral fits of SDSS/DESI files");
    outer.info("Real DESI DR1 data (zpix-main-bright.fits, fastspec-iron-main-bright-nside1-hp*.fits, DESIVAST_*.fits):");
    outer.info("  astrolab ingest /path/to/desi/dr1/");
    outer
        .info("  astrolab fetch desi --survey main --program dark --healpix 26065 --dest desi-dr1");
    outer.info(
        "  astrolab spectra build --from desi-dr1 --select \"spectype = 'QSO' AND zwarn = 0\"",
    );
    outer.info("The web server over the same store (API, pages, run queue, metrics):");
    outer
        .info("  astrolab user add YOU --admin        # asks for a password; no defaults anywhere");
    outer.info("  astrolab serve --insecure-cookies    # then open http://127.0.0.1:8080 (plain HTTP on loopback only)");
    outer.info("PostgreSQL (with q3c for the fastest cone searches):");
    outer.info("  ASTROLAB_DATABASE_URL=postgres://user@host/astrolab astrolab ingest ...");
    Ok(summary)
}

/// BAL troughs (DESI's catalog definitions) of the store's confident
/// quasars, into the store and a CSV catalog, and how many of the anomaly
/// step's injected BAL quasars with C IV in the measurable range show an
/// AI trough.
fn outflow_steps(ctx: &Ctx, out_dir: &std::path::Path) -> Result<Vec<String>> {
    use crate::outflows::OutflowsBal;
    use crate::params::defs::OutflowsBalArgs;
    let catalog = out_dir.join("outflows").join("bal.csv");
    let bal = crate::run_in_process(
        &OutflowsBal,
        ctx,
        &OutflowsBalArgs {
            paths: Vec::new(),
            select: None,
            z: None,
            redshifts: Vec::new(),
            pca: None,
            shard_size: 2000,
            output: catalog.clone(),
            no_store: false,
        },
    )?;
    let truth_path = ctx.home().join("demo-quasars").join("spectra_truth.json");
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&truth_path).with_context(|| format!("reading {}", truth_path.display()))?,
    )?;
    // Injected BAL quasars whose C IV window the measurement covers.
    let injected: std::collections::HashSet<i64> = truth["rarities"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["kind"] == "bal")
                .filter(|r| {
                    r["z"].as_f64().is_some_and(|z| {
                        (astrolab_qso::bal::Z_MIN..=astrolab_qso::bal::Z_MAX).contains(&z)
                    })
                })
                .filter_map(|r| r["targetid"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    let mut store = ctx.open_store()?;
    let rows = store.bal_records(Some(&bal.catalog_id), None, &[])?;
    let found = rows
        .iter()
        .filter(|(_, r)| injected.contains(&r.target_id))
        .filter(|(_, r)| {
            serde_json::from_str::<serde_json::Value>(&r.row_json)
                .ok()
                .and_then(|v| v["AI_CIV"].as_f64())
                .is_some_and(|ai| ai > 0.0)
        })
        .count();
    Ok(vec![format!(
        "quasar outflows: BAL catalog {} of {} quasars, {} measured ({} with BI_CIV > 0, {} with AI_CIV > 0; {} outside z 1.57-5.0 or not measurable, reasons in SKIP_REASON); {found} of the {} injected BAL quasars at z 1.57-5.0 show a C IV trough -> {} (astrolab outflows bal FILE... measures SDSS/DESI spectrum files)",
        bal.catalog_id,
        bal.spectra,
        bal.measured,
        bal.bi_civ_positive,
        bal.ai_civ_positive,
        bal.spectra - bal.measured,
        injected.len(),
        catalog.display()
    )])
}

/// Spectral fits (continuum, lines, [O III] kinematics, black-hole
/// masses) of the store's confident quasars, into the store and a CSV
/// catalog. Without Fe II templates: PyQSOFit's are GPL-3 and not
/// distributed; `--fe-optical`/`--fe-uv` add them.
fn qso_fit_steps(ctx: &Ctx, out_dir: &std::path::Path) -> Result<Vec<String>> {
    use crate::params::defs::QsoFitArgs;
    use crate::qso::fit::QsoFitPipeline;
    let catalog = out_dir.join("quasars").join("fits.csv");
    // The command's defaults, through the pipeline catalog's checker.
    let def = crate::catalog::find("qso-fit").context("qso-fit is in the catalog")?;
    let checked = (def.check)(&serde_json::json!({ "output": catalog }))
        .map_err(|e| anyhow::anyhow!("the quickstart's qso fit arguments: {e}"))?;
    let args: QsoFitArgs =
        serde_json::from_value(checked.resolved).context("the quickstart's qso fit arguments")?;
    let fit = crate::run_in_process(&QsoFitPipeline, ctx, &args)?;
    let mut store = ctx.open_store()?;
    let rows = store.qso_fit_records(Some(&fit.catalog_id), None, &[])?;
    let median_of = |name: &str| {
        let mut v: Vec<f64> = rows
            .iter()
            .filter_map(|(_, r)| {
                serde_json::from_str::<serde_json::Value>(&r.row_json)
                    .ok()
                    .and_then(|j| j[name].as_f64())
            })
            .collect();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => "none".to_string(),
            n => format!("{:.2} ({n})", v[n / 2]),
        }
    };
    let skips: Vec<String> = fit
        .skipped
        .iter()
        .map(|(r, n)| format!("{n} {r}"))
        .collect();
    Ok(vec![format!(
        "quasar spectral fits: catalog {} of {} quasars, {} fitted ({} with an [O III] wing), {} skipped{}; median log M_BH from H-beta {}, Mg II {}, C IV {} -> {} (no Fe II templates: add --fe-optical/--fe-uv with astrolab qso fit)",
        fit.catalog_id,
        fit.spectra,
        fit.fitted,
        fit.with_oiii_wing,
        fit.spectra - fit.fitted,
        if skips.is_empty() { String::new() } else { format!(" ({})", skips.join(", ")) },
        median_of("LOG_MBH_HB"),
        median_of("LOG_MBH_MGII"),
        median_of("LOG_MBH_CIV"),
        catalog.display()
    )])
}

/// `spectra build --from DIR`: every coadd of a demo directory into the
/// spectral store.
fn build_spectra(ctx: &Ctx, from: &std::path::Path) -> Result<crate::spectra::build::BuildReport> {
    Ok(crate::run_in_process(
        &crate::spectra::Build,
        ctx,
        &SpectraBuildArgs {
            from: from.to_path_buf(),
            select: None,
            survey: None,
            program: None,
            out: None,
            keep_negative_targetids: false,
        },
    )?)
}

/// Runs one step from the arguments a user would type after the
/// command's words (same declaration, same parsing), in this process.
fn run_step<P: crate::Pipeline>(ctx: &Ctx, pipeline: &P, args: &[String]) -> Result<()> {
    let params: P::Params =
        parse_args(args).map_err(|e| anyhow::anyhow!("quickstart step {}: {e}", args.join(" ")))?;
    crate::run_in_process(pipeline, ctx, &params)?;
    Ok(())
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Void membership, statistics and VoidFinder on demo skies.
fn voids_steps(
    ctx: &Ctx,
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
    let mut cmd: Vec<String> = Vec::new();
    for c in &catalogs {
        cmd.push("--catalog".into());
        cmd.push(s(c));
    }
    run_step(ctx, &crate::voids::Classify, &cmd)?;
    done.push(format!(
        "void membership: every demo galaxy classified against {} DESIVAST catalogs (try: astrolab voids members --summary)",
        catalogs.len()
    ));
    let stats_dir = out_dir.join("voids");
    run_step(
        ctx,
        &crate::voids::Compare,
        &[
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
    crate::output::write_file(&csv_path, text.as_bytes())?;
    let vf_path = out_dir.join("voidfinder_patch_VoidFinder_Output.fits");
    run_step(
        ctx,
        &crate::voids::Find,
        &[
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
fn hline_steps(ctx: &Ctx, args: &QuickstartArgs, out_dir: &std::path::Path) -> Result<Vec<String>> {
    let dir = out_dir.join("hline");
    let meta = crate::hline::process::write_demo_recording(&dir, args.seed)?;
    run_step(
        ctx,
        &crate::hline::Process,
        &[
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
        ctx.home().join("hline").display()
    )])
}

/// The demo spectra of the quickstart: always the built-in power-law
/// quasar model, never redrock templates found on the machine, so a
/// newcomer's quickstart gives the same numbers everywhere (the templates
/// are not part of the repository).
fn quickstart_spectra() -> astrolab_demo::SpectraConfig {
    let mut c = crate::demo::spectra_config(true, None);
    c.templates_dir = None;
    c
}

/// Quasars of the quickstart's anomaly step: enough for the ranks and the
/// threshold (80 held out) and a model that separates its rarities.
const QUICKSTART_QUASARS: usize = 400;
/// Their rarity fraction: 20 rarities to find among 400.
const QUICKSTART_RARITIES: f64 = 0.05;

/// A labelled set of demo quasars (the power-law quasar model) east of the
/// demo sky, ingested and built, a small VAE
/// trained on every confident quasar of the store (reused when the same
/// model is already there), every quasar scored, and the ranking measured
/// against the injected rarities.
fn anomaly_steps(
    ctx: &Ctx,
    args: &QuickstartArgs,
    out_dir: &std::path::Path,
) -> Result<Vec<String>> {
    use crate::anomalies::{AnomaliesScore, AnomaliesTrain, ModelDir};
    use crate::params::defs::{AnomaliesScoreArgs, AnomaliesTrainArgs};
    let home = ctx.home();
    let dir = home.join("demo-quasars");
    let mut cfg = DemoConfig::anomaly_benchmark(QUICKSTART_QUASARS, QUICKSTART_RARITIES, args.seed);
    // East of the demo sky (RA 140-220), so no TARGETID or file is shared.
    let span = cfg.footprint.ra_max_deg - cfg.footprint.ra_min_deg;
    cfg.footprint.ra_min_deg = 230.0;
    cfg.footprint.ra_max_deg = 230.0 + span;
    cfg.spectra.templates_dir = None;
    let quasars = generate_sky(&dir, &cfg)
        .with_context(|| format!("writing demo quasars to {}", dir.display()))?;
    let redrock: Vec<PathBuf> = quasars
        .files
        .iter()
        .filter(|f| f.kind == "redrock")
        .map(|f| f.path.clone())
        .collect();
    let mut store = ctx.open_store()?;
    let report = crate::ingest::ingest_all(
        ctx,
        &mut store,
        &IngestArgs {
            paths: redrock,
            new_version: true,
            json: false,
        },
        true,
    )?;
    if !report.failed.is_empty() {
        anyhow::bail!(
            "{} demo quasar file(s) failed to ingest",
            report.failed.len()
        );
    }
    build_spectra(ctx, &dir)?;
    let model_dir = out_dir.join("anomalies").join("model");
    let train: AnomaliesTrainArgs = parse_args(&[
        "--output".into(),
        s(&model_dir),
        "--max-epochs".into(),
        "12".into(),
        "--batch-size".into(),
        "32".into(),
        "--seed".into(),
        args.seed.to_string(),
    ])
    .map_err(|e| anyhow::anyhow!("quickstart anomalies train: {e}"))?;
    let model_id = match ModelDir(model_dir.clone()).load() {
        // Trained by an earlier quickstart: the same seed and spectra
        // give the same weights, so it is not trained again.
        Ok((card, _, _)) => {
            crate::anomalies::train::register(&mut store, &ModelDir(model_dir.clone()), &card)?;
            card.model_id
        }
        Err(_) => crate::run_in_process(&AnomaliesTrain, ctx, &train)?.model_id,
    };
    let catalog = out_dir.join("anomalies").join("anomalies.csv");
    let scored = crate::run_in_process(
        &AnomaliesScore,
        ctx,
        &AnomaliesScoreArgs {
            model: Some(model_id.clone()),
            model_dir: None,
            select: train.select.clone(),
            shard_size: 5000,
            output: catalog.clone(),
            no_store: false,
        },
    )?;
    // How well the ranking finds the injected rarities.
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("spectra_truth.json"))
            .with_context(|| format!("reading {}", dir.join("spectra_truth.json").display()))?,
    )?;
    let rare: std::collections::HashSet<i64> = truth["rarities"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["targetid"].as_i64()).collect())
        .unwrap_or_default();
    let rows = store.anomaly_scores(&model_id, &Default::default(), &[])?;
    let scores: Vec<f64> = rows.iter().map(|r| r.anomaly_score).collect();
    let positive: Vec<bool> = rows.iter().map(|r| rare.contains(&r.target_id)).collect();
    let auc = astrolab_anomaly::calibrate::roc_auc(&scores, &positive);
    let top20 = positive.iter().take(20).filter(|p| **p).count();
    Ok(vec![format!(
        "anomalous quasars: model {model_id} trained on the store's confident quasars, {} scored ({} above its 1 % threshold); among {} injected rarities the ROC AUC is {} and the top 20 hold {top20} -> {} (browse and label them on the server's /anomalies page)",
        scored.scored,
        scored.anomalous,
        rare.len(),
        auc.map_or("n/a".to_string(), |a| format!("{a:.3}")),
        catalog.display()
    )])
}
