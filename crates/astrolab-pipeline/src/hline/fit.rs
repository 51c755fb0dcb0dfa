//! `astrolab hline fit`: baseline, Gaussian components, HI column density and
//! high-velocity-cloud flags for calibrated spectra (SALSA FITS, our
//! SDFITS-style outputs or GBTIDL's, CSV), or for a recording in the store
//! (`--recording FILE_ID`, see [`super::recording`]).
//!
//! The science is [`astrolab_hline::analysis::analyse`]; this module reads
//! the spectra, flags narrow-band RFI across them as one session, and
//! reports, writes the table and draws the figures.

use std::ops::Deref;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use astrolab_hline::analysis::{analyse as analyse_spectrum, AnalysisOptions, SpectrumAnalysis};
use astrolab_hline::baseline::Order;
use astrolab_hline::gauss::Criterion;
use astrolab_hline::narrowband::{flag_session, NarrowbandFlags, SpectrumAxes, UserMask};
use astrolab_hline::science::GalaxyModel;
use serde::{Deserialize, Serialize};

use super::load::{load, parse_ranges, Loaded};
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::{AnalysisArgs, CriterionArg, FitArgs};
use crate::pipeline::SinglePipeline;

/// The analysis of one spectrum: the spectrum read, and the science's
/// result (its fields reachable through `Deref`).
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The spectrum as read.
    pub spectrum: Loaded,
    /// Baseline, components, column density, HVC flags, RFI flags.
    pub result: SpectrumAnalysis,
}

impl Deref for Analysis {
    type Target = SpectrumAnalysis;
    fn deref(&self) -> &SpectrumAnalysis {
        &self.result
    }
}

/// The user's `--mask-freq` (MHz) and `--mask-vel` (km/s) ranges.
pub(crate) fn user_mask(a: &AnalysisArgs) -> Result<UserMask> {
    let ranges = |s: &Option<String>, what: &str, scale: f64| -> Result<Vec<(f64, f64)>> {
        let Some(s) = s else {
            return Ok(Vec::new());
        };
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                if p.contains(':') {
                    parse_ranges(p, what).map(|r| (r[0].0 * scale, r[0].1 * scale))
                } else {
                    let x: f64 = p
                        .trim()
                        .parse()
                        .with_context(|| format!("{what}: '{p}' is not a number or lo:hi"))?;
                    Ok((x * scale, x * scale))
                }
            })
            .collect()
    };
    Ok(UserMask {
        freq_hz: ranges(&a.mask_freq, "--mask-freq", 1e6)?,
        v_km_s: ranges(&a.mask_vel, "--mask-vel", 1.0)?,
    })
}

/// The analysis options of `--baseline-windows`, `--baseline-order`,
/// `--vrange`, `--max-components`, `--criterion`, `--r0-kpc`, `--v0-km-s`.
pub fn analysis_options(a: &AnalysisArgs) -> Result<AnalysisOptions> {
    let baseline_windows = a
        .baseline_windows
        .as_deref()
        .map(|w| parse_ranges(w, "--baseline-windows"))
        .transpose()?;
    let vrange = a
        .vrange
        .as_deref()
        .map(|r| parse_ranges(r, "--vrange"))
        .transpose()?
        .and_then(|r| r.first().copied());
    Ok(AnalysisOptions {
        baseline_windows,
        baseline_order: match a.baseline_order {
            Some(o) => Order::Fixed(o),
            None => Order::Auto {
                max: a.max_baseline_order,
            },
        },
        vrange,
        max_components: a.max_components,
        criterion: match a.criterion {
            CriterionArg::Bic => Criterion::Bic,
            CriterionArg::Aic => Criterion::Aic,
        },
        galaxy: GalaxyModel {
            r0_kpc: a.r0_kpc,
            v0_km_s: a.v0_km_s,
            ..GalaxyModel::default()
        },
    })
}

/// Analyses already-read spectra as one session: narrow-band RFI is
/// flagged in each ([`flag_session`]: spikes narrower than the resolution,
/// the user's ranges, then the frequencies recurring across the spectra);
/// returns the analyses and the recurring frequencies (Hz).
pub fn analyse_loaded(loaded: Vec<Loaded>, a: &AnalysisArgs) -> Result<(Vec<Analysis>, Vec<f64>)> {
    let user = user_mask(a)?;
    let opts = analysis_options(a)?;
    for s in &loaded {
        if s.t_k.len() != s.v_lsr_km_s.len() {
            bail!(
                "{}: {} velocities but {} temperatures",
                s.path.display(),
                s.v_lsr_km_s.len(),
                s.t_k.len()
            );
        }
    }
    let axes: Vec<SpectrumAxes> = loaded
        .iter()
        .map(|s| SpectrumAxes {
            freq_hz: s.freq_hz.as_deref().filter(|f| f.len() == s.t_k.len()),
            v_km_s: &s.v_lsr_km_s,
            t_k: &s.t_k,
            response_channels: 1.0,
        })
        .collect();
    let (flags, persistent) = flag_session(&axes, &user);
    let out = loaded
        .into_iter()
        .zip(flags)
        .map(|(s, f)| analyse(s, f, &opts))
        .collect::<Result<_>>()?;
    Ok((out, persistent))
}

/// Loads `paths` and analyses them as one session ([`analyse_loaded`]).
pub fn analyse_all(
    ctx: &Ctx,
    paths: &[PathBuf],
    a: &AnalysisArgs,
) -> Result<(Vec<Analysis>, Vec<f64>)> {
    // The ranges are checked before any file is read.
    user_mask(a)?;
    analysis_options(a)?;
    let mut loaded = Vec::with_capacity(paths.len());
    for p in paths {
        ctx.check_cancelled()?;
        loaded.push(load(p, a.lsr)?);
    }
    analyse_loaded(loaded, a)
}

/// Baseline, decomposition, column density and HVC flags of one spectrum,
/// the channels in `flags` left out ([`astrolab_hline::analysis::analyse`]).
pub fn analyse(s: Loaded, flags: NarrowbandFlags, o: &AnalysisOptions) -> Result<Analysis> {
    let result =
        analyse_spectrum(s.view(), flags, o).with_context(|| s.path.display().to_string())?;
    Ok(Analysis {
        spectrum: s,
        result,
    })
}

/// The strongest resolved component, and any larger unresolved one, in words.
pub fn strongest_words(r: &Analysis) -> String {
    let mut out = r
        .strongest_resolved()
        .map(|c| {
            format!(
                "strongest {:.2} K at {:.2} ± {:.2} km/s",
                c.amp_k, c.center_km_s, c.center_err_km_s
            )
        })
        .unwrap_or_else(|| "no significant resolved emission".into());
    if let Some(c) = r
        .fit
        .strongest()
        .filter(|c| r.resolution.is_unresolved(c.sigma_km_s))
    {
        out += &format!(
            " (larger: an unresolved component, {:.2} K at {:.2} km/s, at the minimum width)",
            c.amp_k, c.center_km_s
        );
    }
    out
}

/// The flagged channels of one spectrum in words.
pub fn flags_words(r: &Analysis) -> String {
    if r.flags.flagged.is_empty() {
        return String::new();
    }
    let list: Vec<String> = r
        .flags
        .flagged
        .iter()
        .map(|f| {
            let (hz, v, amp) = super::table::flag_point(r, f);
            let mut w = String::new();
            if hz.is_finite() {
                w += &format!("{:.4} MHz ", hz / 1e6);
            }
            w += &format!("{v:+.1} km/s");
            if amp.is_finite() {
                w += &format!(" {amp:+.2} K");
            }
            if f.width_channels > 1 {
                w += &format!(" ({} channels)", f.width_channels);
            }
            format!("{w} [{}]", f.source.name())
        })
        .collect();
    format!(
        "\n  flagged (left out of baseline and fit): {}",
        list.join("; ")
    )
}

/// The line naming the recurring RFI frequencies learned across the
/// spectra, when there are any.
pub fn recurring_words(persistent_hz: &[f64]) -> Option<String> {
    if persistent_hz.is_empty() {
        return None;
    }
    let mhz: Vec<String> = persistent_hz
        .iter()
        .map(|f| format!("{:.4}", f / 1e6))
        .collect();
    Some(format!(
        "recurring RFI frequencies in these spectra (MHz, topocentric): {}",
        mhz.join(", ")
    ))
}

/// What `hline fit` gives: one entry per spectrum as in its JSON table,
/// the recurring RFI frequencies, and the files written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FitOutput {
    /// Per spectrum: as the `.json` table writes it ([`super::table::analysis_json`]).
    pub spectra: Vec<serde_json::Value>,
    /// Recurring RFI frequencies learned across the spectra, Hz.
    pub recurring_rfi_hz: Vec<f64>,
    /// The result table, when asked for.
    pub output: Option<PathBuf>,
    /// Figures written.
    pub plots: Vec<PathBuf>,
}

/// `astrolab hline fit`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fit;

impl SinglePipeline for Fit {
    type Params = FitArgs;
    type Output = FitOutput;
    fn run(&self, ctx: &Ctx, a: &FitArgs) -> Result<FitOutput, PipelineError> {
        let (all, persistent) = match a.recording {
            Some(file_id) => {
                let mut store = ctx.open_store()?;
                let r =
                    super::recording::analyse_stored_recording(&mut store, file_id, &a.analysis)?;
                (vec![r.analysis], r.recurring_rfi_hz)
            }
            None => analyse_all(ctx, &a.spectra, &a.analysis)?,
        };
        report(ctx, a, &all, &persistent)
    }
}

/// Prints the analyses as `hline fit` does, writes the figures and the
/// table.
fn report(
    ctx: &Ctx,
    a: &FitArgs,
    all: &[Analysis],
    persistent: &[f64],
) -> Result<FitOutput, PipelineError> {
    if let Some(line) = recurring_words(persistent) {
        ctx.info(line);
    }
    if let Some(r) = all.first() {
        ctx.info(format!(
            "channel width {:.3} km/s: narrowest Gaussian sigma {:.3} km/s (FWHM {:.2} km/s); \
             components at that width are marked unresolved",
            r.resolution.channel_width_km_s,
            r.resolution.min_sigma_km_s(),
            r.resolution.min_fwhm_km_s()
        ));
    }
    let mut plots = Vec::new();
    for r in all {
        ctx.check_cancelled()?;
        let p = &r.spectrum.path;
        let strongest = strongest_words(r);
        ctx.info(format!(
            "{}: l {:.2} b {:.2}: baseline order {}, {} components, {strongest}, N_HI {:.3e} cm^-2{}",
            p.display(),
            r.spectrum.l_deg,
            r.spectrum.b_deg,
            r.baseline.order,
            r.fit.components.len(),
            r.n_hi_cm2,
            if r.hvc.is_empty() { String::new() } else { format!(", {} HVC candidate(s)", r.hvc.len()) },
        ));
        let flagged = flags_words(r);
        if !flagged.is_empty() {
            ctx.info(flagged.trim_start_matches('\n'));
        }
        if let Some(dir) = &a.plot_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let svg = super::plots::spectrum_components_svg(r);
            let out = dir.join(format!("{}.{}", r.spectrum.name, a.plot_format.ext()));
            crate::render::write_plot(&svg, &out)?;
            plots.push(out);
        }
    }
    if let Some(out) = &a.output {
        super::table::write_table(out, all)?;
        ctx.info(format!("wrote {}", out.display()));
    }
    Ok(FitOutput {
        spectra: all.iter().map(super::table::analysis_json).collect(),
        recurring_rfi_hz: persistent.to_vec(),
        output: a.output.clone(),
        plots,
    })
}
