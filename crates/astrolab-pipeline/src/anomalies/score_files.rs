//! `anomalies score-files`: spectrum files outside the store (SDSS/BOSS
//! `spec-*.fits`, DESI coadds with a redshift table; [`super::files`])
//! scored with a registered model exactly as `anomalies score` scores the
//! store's quasars: reduced chi-square, local statistic, forest score,
//! ANOMALY_SCORE (the model's calibrated rank against its held-out
//! spectra, so comparable with the store's catalog) and whether it is
//! above the model's threshold. Ranked among the files' spectra (1 = most
//! anomalous, ties by NAME) into a CSV catalog; spectra that cannot be
//! scored are listed after the ranked ones with their reason. Nothing is
//! written into the store: file spectra have no TARGETID there.
//!
//! With `--figures DIR`, one SVG per chosen spectrum: the normalised
//! rest-frame spectrum over the model's reconstruction, and the residuals
//! in sigma (the validation page's two plots).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use astrolab_spectra::plot::stack;
use serde::{Deserialize, Serialize};

use super::files::{list_spectrum_files, read_file_spectra, read_redshift_tables, FileSet};
use super::inspect::{reconstruct_row, reconstruction_plots, Reconstruction};
use super::score::{load_model, score_rows, LoadedModel, RowScore};
use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::AnomaliesScoreFilesArgs;
use crate::pipeline::SinglePipeline;

/// Figures drawn at each end: the most anomalous, and around the median.
const FIGURES_PER_GROUP: usize = 3;

/// The `anomalies-score-files` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct AnomaliesScoreFiles;

/// One ranked file spectrum (the catalog's row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRank {
    /// NAME.
    pub name: String,
    /// Rank among the scored file spectra (1 = most anomalous).
    pub rank: usize,
    /// ANOMALY_SCORE.
    pub anomaly_score: f64,
    /// Above the model's threshold?
    pub anomalous: bool,
}

/// What scoring files made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreFilesOutput {
    /// The model.
    pub model_id: String,
    /// Files read.
    pub files: usize,
    /// Spectra read from them.
    pub spectra: usize,
    /// Spectra scored.
    pub scored: usize,
    /// Spectra not scored, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Scored spectra above the model's threshold.
    pub anomalous: usize,
    /// The model's threshold.
    pub threshold: f64,
    /// The ten most anomalous, rank 1 first.
    pub top: Vec<FileRank>,
    /// The catalog.
    pub output: PathBuf,
    /// Figures written.
    pub figures: Vec<PathBuf>,
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

/// A scored row: index into the file set's spectra, its dataset row and
/// its scores.
struct Scored {
    spectrum: usize,
    row: usize,
    score: RowScore,
}

impl SinglePipeline for AnomaliesScoreFiles {
    type Params = AnomaliesScoreFilesArgs;
    type Output = ScoreFilesOutput;

    fn run(
        &self,
        ctx: &Ctx,
        a: &AnomaliesScoreFilesArgs,
    ) -> Result<ScoreFilesOutput, PipelineError> {
        let mut store = ctx.open_store()?;
        let m = load_model(&mut store, a.model.as_deref(), a.model_dir.as_deref())?;
        drop(store);
        let files = list_spectrum_files(&a.paths)?;
        if files.is_empty() {
            return Err(usage(format!(
                "no spec-*.fits or coadd-*.fits file in {:?}",
                a.paths
            )));
        }
        let redshifts = read_redshift_tables(&a.redshifts)?;
        ctx.progress("reading spectra", 0, 1);
        let set = read_file_spectra(&files, &redshifts, m.card.z_range)?;
        ctx.progress("reading spectra", 1, 1);
        ctx.check_cancelled()?;
        let threads = ctx
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let rows = score_rows(&m.card, &m.forest, &m.vae, &set.dataset, threads)?;
        let mut skipped: Vec<(usize, String)> = set.skipped.clone();
        let mut scored: Vec<Scored> = Vec::new();
        for (row, r) in rows.into_iter().enumerate() {
            let spectrum = set.dataset.ids[row] as usize;
            match r {
                Some(score) => scored.push(Scored {
                    spectrum,
                    row,
                    score,
                }),
                None => skipped.push((spectrum, "no_observed_pixels".into())),
            }
        }
        // Rank: highest score first, ties by NAME.
        scored.sort_by(|x, y| {
            y.score
                .anomaly_score
                .total_cmp(&x.score.anomaly_score)
                .then_with(|| {
                    set.spectra[x.spectrum]
                        .name
                        .cmp(&set.spectra[y.spectrum].name)
                })
        });
        skipped.sort_by(|x, y| set.spectra[x.0].name.cmp(&set.spectra[y.0].name));
        // A figure asked of a spectrum that has none fails the run before
        // anything is written.
        check_figure_names(&a.figure, &set, &scored)?;
        let threshold = m.card.calibration.threshold;
        crate::output::write_file(
            &a.output,
            catalog_csv(&set, &scored, &skipped, threshold, m.card.vae.latent_dim).as_bytes(),
        )?;
        let mut figures = Vec::new();
        if let Some(dir) = &a.figures {
            figures = write_figures(dir, &a.figure, &m, &set, &scored)?;
        }
        let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
        for (_, why) in &skipped {
            *by_reason.entry(why.clone()).or_default() += 1;
        }
        let rank_of = |k: usize, s: &Scored| FileRank {
            name: set.spectra[s.spectrum].name.clone(),
            rank: k + 1,
            anomaly_score: s.score.anomaly_score,
            anomalous: s.score.anomaly_score > threshold,
        };
        let anomalous = scored
            .iter()
            .filter(|s| s.score.anomaly_score > threshold)
            .count();
        ctx.info(format!(
            "{} spectra of {} files scored with {}: {} above the threshold {:.6}; {} not scored{}; catalog {}",
            scored.len(),
            files.len(),
            m.entry.model_id,
            anomalous,
            threshold,
            skipped.len(),
            if by_reason.is_empty() { String::new() } else { format!(" {by_reason:?}") },
            a.output.display()
        ));
        Ok(ScoreFilesOutput {
            model_id: m.entry.model_id.clone(),
            files: files.len(),
            spectra: set.spectra.len(),
            scored: scored.len(),
            skipped: by_reason,
            anomalous,
            threshold,
            top: scored
                .iter()
                .take(10)
                .enumerate()
                .map(|(k, s)| rank_of(k, s))
                .collect(),
            output: a.output.clone(),
            figures,
        })
    }
}

/// A CSV field: quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The catalog: ranked spectra, then the unscored ones.
fn catalog_csv(
    set: &FileSet,
    scored: &[Scored],
    skipped: &[(usize, String)],
    threshold: f64,
    dim: usize,
) -> String {
    let mut s = String::from(
        "NAME,SURVEY,FILE,TARGETID,CLASS,ZWARNING,Z,RECON_CHI2,LOCAL,ISO_SCORE,ANOMALY_SCORE,RANK,ANOMALOUS,SKIPPED",
    );
    for j in 0..dim {
        let _ = write!(s, ",LATENT_{j}");
    }
    s.push('\n');
    let head = |s: &mut String, i: usize| {
        let f = &set.spectra[i];
        let opt = |v: Option<String>| v.unwrap_or_default();
        let _ = write!(
            s,
            "{},{},{},{},{},{},{}",
            csv_field(&f.name),
            f.survey.as_str(),
            csv_field(&f.path.display().to_string()),
            opt(f.target_id.map(|t| t.to_string())),
            csv_field(&opt(f.class.clone())),
            opt(f.zwarning.map(|t| t.to_string())),
            opt(f.z.map(|z| z.to_string())),
        );
    };
    for (k, r) in scored.iter().enumerate() {
        head(&mut s, r.spectrum);
        let sc = &r.score;
        let _ = write!(
            s,
            ",{},{},{},{},{},{},",
            sc.recon_chi2,
            sc.local,
            sc.iso_score,
            sc.anomaly_score,
            k + 1,
            u8::from(sc.anomaly_score > threshold)
        );
        for v in &sc.latent {
            let _ = write!(s, ",{v}");
        }
        s.push('\n');
    }
    for (i, why) in skipped {
        head(&mut s, *i);
        let _ = write!(s, ",,,,,,,{why}");
        s.push_str(&",".repeat(dim));
        s.push('\n');
    }
    s
}

/// Which scored spectra get a figure: the most anomalous, those around
/// the median rank, and the named ones (in that order, each once).
fn figure_choice(names: &[String], set: &FileSet, scored: &[Scored]) -> Vec<usize> {
    let n = scored.len();
    let mut out: Vec<usize> = (0..n.min(FIGURES_PER_GROUP)).collect();
    let mid = n / 2;
    let lo = mid.saturating_sub(FIGURES_PER_GROUP / 2);
    out.extend(lo..(lo + FIGURES_PER_GROUP).min(n));
    for name in names {
        if let Some(k) = scored
            .iter()
            .position(|s| &set.spectra[s.spectrum].name == name)
        {
            out.push(k);
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|k| seen.insert(*k));
    out
}

fn check_figure_names(
    names: &[String],
    set: &FileSet,
    scored: &[Scored],
) -> Result<(), PipelineError> {
    for name in names {
        let known = scored.iter().any(|s| &set.spectra[s.spectrum].name == name);
        if !known {
            let why = set
                .spectra
                .iter()
                .position(|f| &f.name == name)
                .and_then(|i| set.skipped.iter().find(|s| s.0 == i))
                .map(|s| format!("it was not scored ({})", s.1))
                .unwrap_or_else(|| "no spectrum has that NAME".to_string());
            return Err(usage(format!("--figure {name}: {why}")));
        }
    }
    Ok(())
}

fn write_figures(
    dir: &std::path::Path,
    names: &[String],
    m: &LoadedModel,
    set: &FileSet,
    scored: &[Scored],
) -> Result<Vec<PathBuf>, PipelineError> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for k in figure_choice(names, set, scored) {
        let s = &scored[k];
        let f = &set.spectra[s.spectrum];
        let r = reconstruct_row(
            &m.card,
            &m.vae,
            &set.dataset,
            s.row,
            &m.entry.model_id,
            f.target_id.unwrap_or(0),
            f.z.unwrap_or(f64::NAN),
        );
        let svg = figure_svg(&f.name, k + 1, s.score.anomaly_score, &r);
        let path = dir.join(format!(
            "rank-{:03}-{}.svg",
            k + 1,
            f.name.replace(':', "-")
        ));
        crate::output::write_file(&path, svg.as_bytes())?;
        out.push(path);
    }
    Ok(out)
}

/// The two plots of one spectrum, stacked.
fn figure_svg(name: &str, rank: usize, score: f64, r: &Reconstruction) -> String {
    stack(&reconstruction_plots(
        &format!(
            "{name}, z = {:.4}: rank {rank}, ANOMALY_SCORE {score:.4}, reduced chi-square {:.3}",
            r.z, r.recon_chi2
        ),
        r,
    ))
}
