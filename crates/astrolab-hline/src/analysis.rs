//! The analysis of one calibrated spectrum, as `astrolab hline fit` does
//! it (and the server's fit of a recording, which calls the same code): a
//! polynomial baseline (order given or chosen by BIC, windows given or
//! found automatically), a Gaussian decomposition of the
//! baseline-subtracted spectrum over the fitted velocity range with the
//! narrowest Gaussian one spectral response wide, the optically thin HI
//! column density, and the deviation velocities and high-velocity-cloud
//! candidates of the components (Wakker 1991).
//!
//! Narrow-band RFI is flagged beforehand ([`crate::narrowband::flag_session`])
//! and the flagged channels are left out of baseline and fit.

use crate::baseline::{fit_baseline, fit_baseline_auto, Baseline, BaselineError, Order};
use crate::gauss::{decompose, Component, Criterion, GaussError, GaussFit, GaussOptions};
use crate::narrowband::{NarrowbandFlags, Resolution};
use crate::science::{column_density_cm2, hvc_candidates, GalaxyModel, HVC_DEVIATION_KM_S};

/// One spectrum on a v_LSR axis with its pointing (borrowed).
#[derive(Debug, Clone, Copy)]
pub struct SpectrumView<'a> {
    /// v_LSR per channel, km/s.
    pub v_lsr_km_s: &'a [f64],
    /// Temperature per channel, K (or any unit: the analysis is linear).
    pub t_k: &'a [f64],
    /// Galactic longitude, degrees (NaN when unknown: no HVC flags).
    pub l_deg: f64,
    /// Galactic latitude, degrees.
    pub b_deg: f64,
}

/// How a spectrum is analysed (the defaults are `hline fit`'s).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// Line-free velocity windows for the baseline (km/s); `None`: found
    /// automatically (channels more than 3 sigma above an iterated fit,
    /// and their neighbours, masked).
    pub baseline_windows: Option<Vec<(f64, f64)>>,
    /// Baseline polynomial order.
    pub baseline_order: Order,
    /// Velocity range fitted (km/s); `None`: the span of the baseline
    /// windows when given, else the central 80 % of the band.
    pub vrange: Option<(f64, f64)>,
    /// Most Gaussian components tried.
    pub max_components: usize,
    /// Information criterion for the number of components.
    pub criterion: Criterion,
    /// Galaxy model of the deviation velocities.
    pub galaxy: GalaxyModel,
}

impl Default for AnalysisOptions {
    fn default() -> AnalysisOptions {
        AnalysisOptions {
            baseline_windows: None,
            baseline_order: Order::Auto { max: 4 },
            vrange: None,
            max_components: 6,
            criterion: Criterion::Bic,
            galaxy: GalaxyModel::default(),
        }
    }
}

/// Why a spectrum could not be analysed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// Velocity and temperature arrays differ in length.
    #[error("{velocities} velocities but {values} temperatures")]
    LengthMismatch { velocities: usize, values: usize },
    /// Fewer than 8 finite channels.
    #[error(
        "{finite} finite channels of {total}: the spectrum is empty or all NaN, nothing to fit"
    )]
    Empty { finite: usize, total: usize },
    /// The baseline fit failed.
    #[error("baseline")]
    Baseline(#[source] BaselineError),
    /// The Gaussian decomposition failed.
    #[error("Gaussian decomposition")]
    Gauss(#[source] GaussError),
}

/// The analysis of one spectrum.
#[derive(Debug, Clone)]
pub struct SpectrumAnalysis {
    /// The fitted baseline.
    pub baseline: Baseline,
    /// Baseline-subtracted temperature, K (flagged channels NaN).
    pub t_sub_k: Vec<f64>,
    /// The Gaussian decomposition over the fitted range.
    pub fit: GaussFit,
    /// Column density from the baseline-subtracted spectrum over the fitted
    /// range, cm^-2.
    pub n_hi_cm2: f64,
    /// (component index, deviation velocity) of HVC candidates.
    pub hvc: Vec<(usize, f64)>,
    /// Deviation velocity of every component (NaN without a pointing).
    pub deviation_km_s: Vec<f64>,
    /// Narrow-band RFI and user-masked channels, left out of baseline and fit.
    pub flags: NarrowbandFlags,
    /// Channel width and the narrowest resolved Gaussian.
    pub resolution: Resolution,
    /// The velocity range fitted, when one applied.
    pub fitted_range_km_s: Option<(f64, f64)>,
    /// Channels that entered the decomposition (finite, inside the range).
    pub channels_fitted: usize,
}

impl SpectrumAnalysis {
    /// The strongest component that is resolved (wider than the minimum).
    pub fn strongest_resolved(&self) -> Option<&Component> {
        self.fit
            .components
            .iter()
            .find(|c| !self.resolution.is_unresolved(c.sigma_km_s))
    }
    /// Index of [`Self::strongest_resolved`] among the components.
    pub fn strongest_resolved_index(&self) -> Option<usize> {
        self.fit
            .components
            .iter()
            .position(|c| !self.resolution.is_unresolved(c.sigma_km_s))
    }
}

/// The default fitted range: the span of the baseline windows when given,
/// else the central 80 % of the band (the bandpass rolls off there and
/// leaves edge artefacts).
fn default_range(v: &[f64], windows: Option<&[(f64, f64)]>) -> Option<(f64, f64)> {
    match windows {
        Some(w) => {
            let lo = w.iter().map(|p| p.0.min(p.1)).fold(f64::INFINITY, f64::min);
            let hi = w
                .iter()
                .map(|p| p.0.max(p.1))
                .fold(f64::NEG_INFINITY, f64::max);
            lo.is_finite().then_some((lo, hi))
        }
        None => {
            let n = v.len();
            let edge = n / 10;
            let (a0, b0) = (v.get(edge)?, v.get(n.saturating_sub(edge + 1))?);
            Some((a0.min(*b0), a0.max(*b0)))
        }
    }
}

/// Baseline, decomposition, column density and HVC flags of one spectrum,
/// the channels in `flags` left out.
pub fn analyse(
    s: SpectrumView<'_>,
    flags: NarrowbandFlags,
    o: &AnalysisOptions,
) -> Result<SpectrumAnalysis, AnalysisError> {
    if s.t_k.len() != s.v_lsr_km_s.len() {
        return Err(AnalysisError::LengthMismatch {
            velocities: s.v_lsr_km_s.len(),
            values: s.t_k.len(),
        });
    }
    let finite = s.t_k.iter().filter(|v| v.is_finite()).count();
    if finite < 8 {
        return Err(AnalysisError::Empty {
            finite,
            total: s.t_k.len(),
        });
    }
    let t_k = flags.apply(s.t_k);
    let baseline = match &o.baseline_windows {
        Some(w) => fit_baseline(s.v_lsr_km_s, &t_k, w, o.baseline_order),
        None => fit_baseline_auto(s.v_lsr_km_s, &t_k, o.baseline_order, 3.0, 3).map(|(b, _)| b),
    }
    .map_err(AnalysisError::Baseline)?;
    let t_sub = baseline.subtract(s.v_lsr_km_s, &t_k);
    let range = o
        .vrange
        .or_else(|| default_range(s.v_lsr_km_s, o.baseline_windows.as_deref()));
    let (v_fit, t_fit): (Vec<f64>, Vec<f64>) = s
        .v_lsr_km_s
        .iter()
        .zip(&t_sub)
        .filter(|(v, _)| range.is_none_or(|(lo, hi)| **v >= lo.min(hi) && **v <= lo.max(hi)))
        .map(|(v, t)| (*v, *t))
        .unzip();
    let channels_fitted = v_fit
        .iter()
        .zip(&t_fit)
        .filter(|(v, t)| v.is_finite() && t.is_finite())
        .count();
    let resolution = Resolution::from_axis(s.v_lsr_km_s, 1.0);
    let dv = resolution.channel_width_km_s;
    let opts = GaussOptions {
        max_components: o.max_components,
        criterion: o.criterion,
        min_sigma_km_s: resolution.min_sigma_km_s(),
        max_sigma_km_s: 60.0_f64.max(3.0 * dv),
        min_snr: 3.0,
    };
    let fit = decompose(&v_fit, &t_fit, &opts).map_err(AnalysisError::Gauss)?;
    let n_hi = column_density_cm2(&v_fit, &t_fit, None);
    let model = o.galaxy;
    let (deviation, hvc) = if s.l_deg.is_finite() && s.b_deg.is_finite() {
        let dev = fit
            .components
            .iter()
            .map(|c| model.deviation_velocity_km_s(s.l_deg, s.b_deg, c.center_km_s))
            .collect();
        let flagged = hvc_candidates(
            &model,
            s.l_deg,
            s.b_deg,
            &fit.components,
            HVC_DEVIATION_KM_S,
        )
        .into_iter()
        .filter_map(|h| {
            fit.components
                .iter()
                .position(|c| c == &h.component)
                .map(|i| (i, h.deviation_km_s))
        })
        .collect();
        (dev, flagged)
    } else {
        (vec![f64::NAN; fit.components.len()], Vec::new())
    };
    Ok(SpectrumAnalysis {
        baseline,
        t_sub_k: t_sub,
        fit,
        n_hi_cm2: n_hi,
        hvc,
        deviation_km_s: deviation,
        flags,
        resolution,
        fitted_range_km_s: range,
        channels_fitted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::narrowband::{flag_session, SpectrumAxes, UserMask};

    /// A Gaussian line on a sloped baseline is found where it was put,
    /// with the default options.
    #[test]
    fn a_line_on_a_slope_is_found() {
        let v: Vec<f64> = (0..512).map(|i| -200.0 + 0.8 * i as f64).collect();
        let t: Vec<f64> = v
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let noise = 0.02 * ((i * 7919 % 101) as f64 / 50.0 - 1.0);
                1.0 + 0.002 * x + 20.0 * (-0.5 * ((x - 12.0) / 8.0).powi(2)).exp() + noise
            })
            .collect();
        let axes = [SpectrumAxes {
            freq_hz: None,
            v_km_s: &v,
            t_k: &t,
            response_channels: 1.0,
        }];
        let (mut flags, _) = flag_session(&axes, &UserMask::default());
        let a = analyse(
            SpectrumView {
                v_lsr_km_s: &v,
                t_k: &t,
                l_deg: 30.0,
                b_deg: 0.0,
            },
            flags.remove(0),
            &AnalysisOptions::default(),
        )
        .unwrap();
        let c = a.strongest_resolved().unwrap();
        assert!((c.center_km_s - 12.0).abs() < 0.3, "{c:?}");
        assert!((c.amp_k - 20.0).abs() < 0.5, "{c:?}");
        assert!(a.n_hi_cm2 > 0.0);
        assert_eq!(a.deviation_km_s.len(), a.fit.components.len());
        assert!(a.channels_fitted > 400 && a.channels_fitted < 512);
    }

    #[test]
    fn an_empty_spectrum_is_refused() {
        let v = vec![0.0; 10];
        let t = vec![f64::NAN; 10];
        let e = analyse(
            SpectrumView {
                v_lsr_km_s: &v,
                t_k: &t,
                l_deg: f64::NAN,
                b_deg: f64::NAN,
            },
            NarrowbandFlags {
                excluded: vec![false; 10],
                flagged: Vec::new(),
                noise_k: f64::NAN,
            },
            &AnalysisOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("0 finite channels of 10"), "{e}");
    }
}
