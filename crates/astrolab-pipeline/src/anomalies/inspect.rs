//! What people look at when they validate anomalies by eye: one scored
//! quasar's rest-frame spectrum beside the model's reconstruction and the
//! residuals, the ranked list with everyone's labels, and the labelled
//! catalog (`anomalies export`, the page's and the API's export). The
//! validation page, the API and the CLI all call these functions, so they
//! show the same numbers.

use std::collections::BTreeMap;

use astrolab_anomaly::preprocess::{rest_wavelength_a, Preprocessor};
use astrolab_anomaly::CpuBackend;
use astrolab_spectra::plot::{line_plot, Series};
use astrolab_store::{
    AnomalyFilter, AnomalyLabelRow, AnomalyModel, AnomalyScore, ResultTable, Store, Value,
};
use serde::Serialize;

use super::read::read_rest_frame;
use super::score::model_dir_of;
use crate::error::{PipelineError, UsageError};

/// One quasar on the model's rest-frame grid with its reconstruction.
/// Arrays cover the grid from the first to the last observed pixel;
/// missing pixels are `None` (JSON `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconstruction {
    /// The model.
    pub model_id: String,
    /// TARGETID.
    pub target_id: i64,
    /// Redshift the spectrum was brought to the rest frame with.
    pub z: f64,
    /// Rest-frame wavelength of each pixel, Angstrom (vacuum).
    pub rest_wavelength_a: Vec<f64>,
    /// Normalised flux (the model's input).
    pub flux: Vec<Option<f32>>,
    /// Its inverse variance.
    pub ivar: Vec<Option<f32>>,
    /// The decoded latent mean: what the model expects this quasar to look like.
    pub reconstruction: Vec<f32>,
    /// `(flux - reconstruction) * sqrt(ivar_eff)` on observed pixels, with
    /// the model's noise model (its fractional model error added to the
    /// noise: astrolab_anomaly::score::NoiseModel).
    pub residual: Vec<Option<f32>>,
    /// Reduced chi-square of the reconstruction, recomputed here (equals
    /// the stored RECON_CHI2: same spectrum, same model).
    pub recon_chi2: f64,
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

/// Reads `row`'s spectrum from the store, brings it onto `model`'s grid and
/// reconstructs it. The caller has already checked that it may read `row`
/// (it came from [`Store::anomaly_scores`] with the caller's rules).
pub fn reconstruct(
    store: &mut Store,
    model: &AnomalyModel,
    row: &AnomalyScore,
) -> Result<Reconstruction, PipelineError> {
    let (card, _, vae) = model_dir_of(model)?.load()?;
    let mut pre = Preprocessor::default();
    pre.z_min = card.z_range[0];
    pre.z_max = card.z_range[1];
    let shard = read_rest_frame(store, &[row.target_id], &pre)?;
    if let Some((_, _, why)) = shard.skipped.first() {
        return Err(usage(format!(
            "TARGETID {}: its spectrum cannot be put on the model's grid ({why})",
            row.target_id
        )));
    }
    if shard.dataset.n() == 0 {
        return Err(usage(format!(
            "TARGETID {}: no spectrum in the store (was `spectra build` undone?)",
            row.target_id
        )));
    }
    Ok(reconstruct_row(
        &card,
        &vae,
        &shard.dataset,
        0,
        &model.model_id,
        row.target_id,
        shard.z[0],
    ))
}

/// Row `i` of `data` (on `card`'s grid) reconstructed by `vae`, with the
/// residuals and the reduced chi-square of the model's noise model;
/// `target_id` and `z` label it.
pub fn reconstruct_row(
    card: &super::model_dir::ModelCard,
    vae: &astrolab_anomaly::model::Vae<CpuBackend>,
    data: &astrolab_anomaly::dataset::Dataset,
    i: usize,
    model_id: &str,
    target_id: i64,
    z: f64,
) -> Reconstruction {
    let device = Default::default();
    let (_, recon) = astrolab_anomaly::score::encode_decode::<CpuBackend>(vae, data, &[i], &device);
    let (f, v) = data.row(i);
    let seen: Vec<bool> = f
        .iter()
        .zip(v)
        .map(|(&f, &v)| astrolab_anomaly::model::observed(f, v))
        .collect();
    let first = seen.iter().position(|&s| s).unwrap_or(0);
    let last = seen.iter().rposition(|&s| s).unwrap_or(0);
    let grid = rest_wavelength_a();
    let (mut chi2, mut n) = (0.0f64, 0usize);
    let mut out = Reconstruction {
        model_id: model_id.to_string(),
        target_id,
        z,
        rest_wavelength_a: grid[first..=last].to_vec(),
        flux: Vec::with_capacity(last + 1 - first),
        ivar: Vec::with_capacity(last + 1 - first),
        reconstruction: recon[first..=last].to_vec(),
        residual: Vec::with_capacity(last + 1 - first),
        recon_chi2: f64::NAN,
    };
    // The model's noise model: the chi-square is the scored one.
    let eps = card.calibration.noise.model_error;
    for j in first..=last {
        if seen[j] {
            let d = f64::from(f[j]) - f64::from(recon[j]);
            let ivar_eff = astrolab_anomaly::score::NoiseModel::effective_ivar(v[j], recon[j], eps);
            chi2 += ivar_eff * (d * d);
            n += 1;
            out.flux.push(Some(f[j]));
            out.ivar.push(Some(v[j]));
            out.residual.push(Some((d * ivar_eff.sqrt()) as f32));
        } else {
            out.flux.push(None);
            out.ivar.push(None);
            out.residual.push(None);
        }
    }
    out.recon_chi2 = if n > 0 { chi2 / n as f64 } else { f64::NAN };
    out
}

/// The two plots people validate a score by (SVG, [`line_plot`]): the
/// normalised rest-frame spectrum over the reconstruction, titled
/// `title`, and the residuals in sigma. Missing pixels are gaps.
pub fn reconstruction_plots(title: &str, r: &Reconstruction) -> [String; 2] {
    let pts = |y: &dyn Fn(usize) -> Option<f64>| -> Vec<(f64, f64)> {
        r.rest_wavelength_a
            .iter()
            .enumerate()
            .map(|(j, &w)| (w, y(j).unwrap_or(f64::NAN)))
            .collect()
    };
    let spectrum = line_plot(
        title,
        "Rest wavelength (Å)",
        "Normalised flux",
        &[
            Series {
                label: "spectrum",
                colour: "#4a4a4a",
                points: pts(&|j| r.flux[j].map(f64::from)),
                markers: false,
            },
            Series {
                label: "reconstruction",
                colour: "#d1495b",
                points: pts(&|j| Some(f64::from(r.reconstruction[j]))),
                markers: false,
            },
        ],
    );
    let residual = line_plot(
        "Residual (flux − reconstruction) / σ",
        "Rest wavelength (Å)",
        "σ",
        &[Series {
            label: "residual",
            colour: "#2e86ab",
            points: pts(&|j| r.residual[j].map(f64::from)),
            markers: false,
        }],
    );
    [spectrum, residual]
}

/// One row of the ranked list, with everyone's labels of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedRow {
    /// The scores.
    #[serde(flatten)]
    pub score: AnomalyScore,
    /// Above the model's threshold?
    pub anomalous: bool,
    /// Labels, by user.
    pub labels: Vec<AnomalyLabelRow>,
}

/// The model's threshold, from its registry entry.
pub fn threshold_of(model: &AnomalyModel) -> f64 {
    model
        .calibration
        .get("threshold")
        .and_then(|v| v.as_f64())
        .unwrap_or(f64::INFINITY)
}

/// The ranked rows of `model` that pass `filter`, each with its labels;
/// `forbidden` as in [`Store::anomaly_scores`].
pub fn ranked(
    store: &mut Store,
    model: &AnomalyModel,
    filter: &AnomalyFilter,
    forbidden: &[i64],
) -> Result<Vec<RankedRow>, PipelineError> {
    let err = |what: &str| {
        let what = what.to_string();
        move |e| PipelineError::Store(what, Box::new(e))
    };
    let rows = store
        .anomaly_scores(&model.model_id, filter, forbidden)
        .map_err(err("reading the anomaly scores"))?;
    let mut labels = labels_by_target(
        store
            .anomaly_labels(&model.model_id, forbidden)
            .map_err(err("reading the labels"))?,
    );
    let threshold = threshold_of(model);
    Ok(rows
        .into_iter()
        .map(|score| RankedRow {
            anomalous: score.anomaly_score > threshold,
            labels: labels.remove(&score.target_id).unwrap_or_default(),
            score,
        })
        .collect())
}

fn labels_by_target(rows: Vec<AnomalyLabelRow>) -> BTreeMap<i64, Vec<AnomalyLabelRow>> {
    let mut by: BTreeMap<i64, Vec<AnomalyLabelRow>> = BTreeMap::new();
    for l in rows {
        by.entry(l.target_id).or_default().push(l);
    }
    by
}

/// The labelled anomaly catalog of `model`: one row per scored quasar that
/// someone labelled (every scored quasar with `all`), rank 1 first, with
/// its scores, whether it is above the threshold, and its latest label
/// (who and when; ties by user name) and how many labels it has.
pub fn labelled_catalog(
    store: &mut Store,
    model: &AnomalyModel,
    forbidden: &[i64],
    all: bool,
) -> Result<ResultTable, PipelineError> {
    let rows = ranked(store, model, &AnomalyFilter::default(), forbidden)?;
    let columns = [
        "target_id",
        "z",
        "rank",
        "anomaly_score",
        "recon_chi2",
        "iso_score",
        "anomalous",
        "label",
        "labelled_by",
        "labelled_at",
        "n_labels",
        "model_id",
    ];
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_string()));
    Ok(ResultTable {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .iter()
            .filter(|r| all || !r.labels.is_empty())
            .map(|r| {
                let latest = r.labels.iter().max_by(|a, b| {
                    a.labelled_at
                        .cmp(&b.labelled_at)
                        .then(a.username.cmp(&b.username))
                });
                vec![
                    Value::Int(r.score.target_id),
                    Value::Float(r.score.z),
                    Value::Int(r.score.rank),
                    Value::Float(r.score.anomaly_score),
                    Value::Float(r.score.recon_chi2),
                    Value::Float(r.score.iso_score),
                    Value::Bool(r.anomalous),
                    text(latest.map(|l| l.label.as_str())),
                    text(latest.map(|l| l.username.as_str())),
                    text(latest.map(|l| l.labelled_at.as_str())),
                    Value::Int(r.labels.len() as i64),
                    Value::Text(model.model_id.clone()),
                ]
            })
            .collect(),
    })
}
