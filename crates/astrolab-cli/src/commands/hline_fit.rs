//! `astrolab hline fit`: baseline, Gaussian components, HI column density and
//! high-velocity-cloud flags for calibrated spectra (SALSA FITS, our
//! SDFITS-style outputs or GBTIDL's, CSV).

pub use astrolab_pipeline::params::defs::{AnalysisArgs, CriterionArg, FitArgs, LsrArg};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_formats::salsa::SalsaSpectrum;
use astrolab_formats::sdfits::Sdfits;
use astrolab_formats::{write_fits, ColumnData, ColumnOut, HduOut};
use astrolab_hline::baseline::{fit_baseline, fit_baseline_auto, Baseline, Order};
use astrolab_hline::gauss::{decompose, Component, Criterion, GaussFit, GaussOptions};
use astrolab_hline::narrowband::{
    flag_session, NarrowbandFlags, Resolution, SpectrumAxes, UserMask,
};
use astrolab_hline::science::{
    column_density_cm2, hvc_candidates, GalaxyModel, HVC_DEVIATION_KM_S,
};
use astrolab_hline::velocity::{
    lsr_correction_km_s, radio_velocity_km_s, LsrDefinition, Site, UtcTime,
};

use crate::config::Config;

/// A spectrum on a v_LSR axis with its pointing.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub name: String,
    pub v_lsr_km_s: Vec<f64>,
    pub t_k: Vec<f64>,
    pub l_deg: f64,
    pub b_deg: f64,
    /// Where the LSR correction came from.
    pub lsr_source: String,
    /// Topocentric sky frequency per channel, Hz (None for CSV without a
    /// freq_hz column).
    pub freq_hz: Option<Vec<f64>>,
}

fn parse_ranges(s: &str, what: &str) -> Result<Vec<(f64, f64)>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (a, b) = p
                .split_once(':')
                .with_context(|| format!("{what}: '{p}' is not lo:hi"))?;
            let a: f64 = a
                .trim()
                .parse()
                .with_context(|| format!("{what}: '{a}' is not a number"))?;
            let b: f64 = b
                .trim()
                .parse()
                .with_context(|| format!("{what}: '{b}' is not a number"))?;
            Ok((a, b))
        })
        .collect()
}

fn lsr_def(a: LsrArg) -> LsrDefinition {
    match a {
        LsrArg::Kinematic => LsrDefinition::Kinematic,
        LsrArg::Schoenrich => LsrDefinition::Schoenrich2010,
    }
}

fn is_fits(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 9];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(n == 9 && &head == b"SIMPLE  =")
}

/// Reads a spectrum and puts it on a v_LSR axis; refuses to guess a velocity.
pub fn load(path: &Path, lsr: LsrArg) -> Result<Loaded> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !is_fits(path)? {
        return load_csv(path, name);
    }
    let fits = astrolab_formats::FitsFile::open(path)?;
    if fits
        .hdus()
        .iter()
        .any(|h| h.extname.as_deref() == Some("SINGLE DISH"))
    {
        let sd = Sdfits::open(path)?;
        let Some(r) = sd.rows.first() else {
            bail!("{}: the SINGLE DISH table has no rows", path.display());
        };
        if sd.rows.len() > 1 {
            tracing::warn!(
                "{}: {} rows, fitting the first",
                path.display(),
                sd.rows.len()
            );
        }
        let header = &fits.hdu("SINGLE DISH")?.header;
        let (corr, source) = match header.get_f64("VELO-LSR") {
            Some(v) => (v, "VELO-LSR keyword".to_string()),
            None => {
                let site = Site {
                    lat_deg: r.site_lat_deg,
                    lon_deg: r.site_lon_deg,
                    height_m: if r.site_height_m.is_finite() {
                        r.site_height_m
                    } else {
                        0.0
                    },
                };
                let t = UtcTime::parse_iso(&r.date_obs)
                    .with_context(|| format!("{}: row 0, column DATE-OBS", path.display()))?;
                let v = lsr_correction_km_s(t, site, r.crval2_deg, r.crval3_deg, lsr_def(lsr))
                    .with_context(|| {
                        format!(
                            "{}: no VELO-LSR keyword and no usable SITELAT/SITELONG/CRVAL2/CRVAL3 \
                             for computing the LSR correction",
                            path.display()
                        )
                    })?;
                (v, "computed (site, DATE-OBS, RA/Dec)".to_string())
            }
        };
        if r.restfreq_hz.is_nan() || r.restfreq_hz <= 0.0 {
            bail!(
                "{}: row 0: RESTFREQ is missing or not positive",
                path.display()
            );
        }
        let t_k = sd.spectra(&[0])?.remove(0);
        let freq: Vec<f64> = (0..t_k.len()).map(|i| r.freq_hz(i)).collect();
        let v = freq
            .iter()
            .map(|&f| radio_velocity_km_s(f, r.restfreq_hz) + corr)
            .collect();
        let (l, b) = astrolab_sky::galactic::icrs_to_galactic(r.crval2_deg, r.crval3_deg);
        return Ok(Loaded {
            path: path.to_path_buf(),
            name,
            v_lsr_km_s: v,
            t_k,
            l_deg: l,
            b_deg: b,
            lsr_source: source,
            freq_hz: Some(freq),
        });
    }
    let s = SalsaSpectrum::open(path)?;
    let corr = s.lsr_correction_km_s();
    Ok(Loaded {
        path: path.to_path_buf(),
        name,
        v_lsr_km_s: (0..s.data_k.len())
            .map(|i| radio_velocity_km_s(s.freq_hz(i), s.restfreq_hz) + corr)
            .collect(),
        t_k: s.data_k.clone(),
        l_deg: s.glon_deg,
        b_deg: s.glat_deg,
        lsr_source: "SALSA VELO-LSR (minus the correction)".into(),
        freq_hz: Some((0..s.data_k.len()).map(|i| s.freq_hz(i)).collect()),
    })
}

fn load_csv(path: &Path, name: String) -> Result<Loaded> {
    let cols = astrolab_formats::read_csv_columns(path)
        .with_context(|| format!("reading {} as CSV", path.display()))?;
    let col =
        |names: &[&str]| -> Option<Vec<f64>> { names.iter().find_map(|n| cols.column_f64(n).ok()) };
    let v = col(&["v_lsr_km_s", "velocity_km_s", "v_km_s"]).with_context(|| {
        format!(
            "{}: no v_lsr_km_s column (a CSV spectrum needs v_lsr_km_s and t_k)",
            path.display()
        )
    })?;
    let t = col(&["t_k", "ta_k", "temperature_k"]).with_context(|| {
        format!(
            "{}: no t_k column (a CSV spectrum needs v_lsr_km_s and t_k)",
            path.display()
        )
    })?;
    let l = col(&["glon_deg", "l_deg"])
        .and_then(|c| c.first().copied())
        .unwrap_or(f64::NAN);
    let b = col(&["glat_deg", "b_deg"])
        .and_then(|c| c.first().copied())
        .unwrap_or(f64::NAN);
    Ok(Loaded {
        path: path.to_path_buf(),
        name,
        v_lsr_km_s: v,
        t_k: t,
        l_deg: l,
        b_deg: b,
        lsr_source: "CSV v_lsr_km_s column".into(),
        freq_hz: col(&["freq_hz"]),
    })
}

/// The analysis of one spectrum.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub spectrum: Loaded,
    pub baseline: Baseline,
    /// Baseline-subtracted temperature, K.
    pub t_sub_k: Vec<f64>,
    pub fit: GaussFit,
    /// Column density from the baseline-subtracted spectrum over the fitted range.
    pub n_hi_cm2: f64,
    /// (component index, deviation velocity) of HVC candidates.
    pub hvc: Vec<(usize, f64)>,
    /// Deviation velocity of every component.
    pub deviation_km_s: Vec<f64>,
    /// Narrow-band RFI and user-masked channels, left out of baseline and fit.
    pub flags: NarrowbandFlags,
    /// Channel width and the narrowest resolved Gaussian.
    pub resolution: Resolution,
}

impl Analysis {
    /// The strongest component that is resolved (wider than the minimum).
    pub fn strongest_resolved(&self) -> Option<&Component> {
        self.fit
            .components
            .iter()
            .find(|c| !self.resolution.is_unresolved(c.sigma_km_s))
    }
}

/// The user's `--mask-freq` (MHz) and `--mask-vel` (km/s) ranges.
fn user_mask(a: &AnalysisArgs) -> Result<UserMask> {
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

/// Loads `paths` and analyses them as one session: narrow-band RFI is
/// flagged in each ([`flag_session`]: spikes narrower than the resolution,
/// the user's ranges, then the frequencies recurring across the spectra);
/// returns the analyses and the recurring frequencies (Hz).
pub fn analyse_all(paths: &[PathBuf], a: &AnalysisArgs) -> Result<(Vec<Analysis>, Vec<f64>)> {
    let user = user_mask(a)?;
    let loaded: Vec<Loaded> = paths
        .iter()
        .map(|p| load(p, a.lsr))
        .collect::<Result<_>>()?;
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
        .map(|(s, f)| analyse(s, f, a))
        .collect::<Result<_>>()?;
    Ok((out, persistent))
}

/// Baseline, decomposition, column density and HVC flags of one spectrum,
/// the channels in `flags` left out.
pub fn analyse(s: Loaded, flags: NarrowbandFlags, a: &AnalysisArgs) -> Result<Analysis> {
    let finite = s.t_k.iter().filter(|v| v.is_finite()).count();
    if finite < 8 {
        bail!(
            "{}: {finite} finite channels of {}: the spectrum is empty or all NaN, nothing to fit",
            s.path.display(),
            s.t_k.len()
        );
    }
    let order = match a.baseline_order {
        Some(o) => Order::Fixed(o),
        None => Order::Auto {
            max: a.max_baseline_order,
        },
    };
    let t_k = flags.apply(&s.t_k);
    let baseline = match &a.baseline_windows {
        Some(w) => fit_baseline(
            &s.v_lsr_km_s,
            &t_k,
            &parse_ranges(w, "--baseline-windows")?,
            order,
        ),
        None => fit_baseline_auto(&s.v_lsr_km_s, &t_k, order, 3.0, 3).map(|(b, _)| b),
    }
    .with_context(|| format!("{}: baseline", s.path.display()))?;
    let t_sub = baseline.subtract(&s.v_lsr_km_s, &t_k);
    let range = a
        .vrange
        .as_deref()
        .map(|r| parse_ranges(r, "--vrange"))
        .transpose()?;
    // Default fitted range: the span of the baseline windows when given,
    // else the central 80 % of the band (the bandpass rolls off
    // there and leaves edge artefacts).
    let range = range
        .and_then(|r| r.first().copied())
        .or_else(|| match &a.baseline_windows {
            Some(w) => {
                let w = parse_ranges(w, "--baseline-windows").ok()?;
                let lo = w.iter().map(|p| p.0.min(p.1)).fold(f64::INFINITY, f64::min);
                let hi = w
                    .iter()
                    .map(|p| p.0.max(p.1))
                    .fold(f64::NEG_INFINITY, f64::max);
                lo.is_finite().then_some((lo, hi))
            }
            None => {
                let n = s.v_lsr_km_s.len();
                let edge = n / 10;
                let (a0, b0) = (
                    s.v_lsr_km_s.get(edge)?,
                    s.v_lsr_km_s.get(n.saturating_sub(edge + 1))?,
                );
                Some((a0.min(*b0), a0.max(*b0)))
            }
        });
    let (v_fit, t_fit): (Vec<f64>, Vec<f64>) = s
        .v_lsr_km_s
        .iter()
        .zip(&t_sub)
        .filter(|(v, _)| range.is_none_or(|(lo, hi)| **v >= lo.min(hi) && **v <= lo.max(hi)))
        .map(|(v, t)| (*v, *t))
        .unzip();
    let resolution = Resolution::from_axis(&s.v_lsr_km_s, 1.0);
    let dv = resolution.channel_width_km_s;
    let opts = GaussOptions {
        max_components: a.max_components,
        criterion: match a.criterion {
            CriterionArg::Bic => Criterion::Bic,
            CriterionArg::Aic => Criterion::Aic,
        },
        min_sigma_km_s: resolution.min_sigma_km_s(),
        max_sigma_km_s: 60.0_f64.max(3.0 * dv),
        min_snr: 3.0,
    };
    let fit = decompose(&v_fit, &t_fit, &opts)
        .with_context(|| format!("{}: Gaussian decomposition", s.path.display()))?;
    let n_hi = column_density_cm2(&v_fit, &t_fit, None);
    let model = GalaxyModel {
        r0_kpc: a.r0_kpc,
        v0_km_s: a.v0_km_s,
        ..GalaxyModel::default()
    };
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
    Ok(Analysis {
        spectrum: s,
        baseline,
        t_sub_k: t_sub,
        fit,
        n_hi_cm2: n_hi,
        hvc,
        deviation_km_s: deviation,
        flags,
        resolution,
    })
}

/// One output row per component (a spectrum without components gets one row
/// with empty component fields).
struct Row<'a> {
    a: &'a Analysis,
    index: Option<usize>,
}

const HEADER: [&str; 23] = [
    "file",
    "glon_deg",
    "glat_deg",
    "lsr_source",
    "baseline_order",
    "baseline_rms_k",
    "residual_rms_k",
    "n_components",
    "component",
    "amp_k",
    "amp_err_k",
    "v_lsr_km_s",
    "v_lsr_err_km_s",
    "sigma_km_s",
    "sigma_err_km_s",
    "fwhm_km_s",
    "integral_k_km_s",
    "n_hi_cm2",
    "deviation_km_s",
    "hvc_candidate",
    "unresolved",
    "min_sigma_km_s",
    "n_flagged_channels",
];

fn rows(all: &[Analysis]) -> Vec<Row<'_>> {
    all.iter()
        .flat_map(|a| {
            let n = a.fit.components.len();
            if n == 0 {
                vec![Row { a, index: None }]
            } else {
                (0..n).map(|i| Row { a, index: Some(i) }).collect()
            }
        })
        .collect()
}

impl Row<'_> {
    fn comp(&self) -> Option<&Component> {
        self.index.map(|i| &self.a.fit.components[i])
    }
    fn values(&self) -> Vec<f64> {
        let c = self.comp();
        let g = |f: fn(&Component) -> f64| c.map_or(f64::NAN, f);
        vec![
            g(|c| c.amp_k),
            g(|c| c.amp_err_k),
            g(|c| c.center_km_s),
            g(|c| c.center_err_km_s),
            g(|c| c.sigma_km_s),
            g(|c| c.sigma_err_km_s),
            g(|c| c.fwhm_km_s()),
            g(|c| c.integral_k_km_s()),
        ]
    }
    fn deviation(&self) -> f64 {
        self.index.map_or(f64::NAN, |i| self.a.deviation_km_s[i])
    }
    fn hvc(&self) -> bool {
        self.index
            .is_some_and(|i| self.a.hvc.iter().any(|h| h.0 == i))
    }
    fn unresolved(&self) -> bool {
        self.comp()
            .is_some_and(|c| self.a.resolution.is_unresolved(c.sigma_km_s))
    }
}

/// One flagged channel run of a spectrum: (frequency Hz, v_LSR km/s,
/// signed excess K) at its peak channel.
fn flag_point(a: &Analysis, f: &astrolab_hline::narrowband::Flagged) -> (f64, f64, f64) {
    let c = f.peak_channel;
    (
        a.spectrum
            .freq_hz
            .as_ref()
            .and_then(|x| x.get(c).copied())
            .unwrap_or(f64::NAN),
        a.spectrum.v_lsr_km_s.get(c).copied().unwrap_or(f64::NAN),
        f.amp_k,
    )
}

/// The flagged channels of every spectrum as CSV.
fn rfi_csv(all: &[Analysis]) -> String {
    let mut s = String::from(
        "file,first_channel,width_channels,peak_channel,freq_hz,v_lsr_km_s,amp_k,source\n",
    );
    for a in all {
        for f in &a.flags.flagged {
            let (hz, v, amp) = flag_point(a, f);
            s += &format!(
                "{},{},{},{},{},{},{},{}\n",
                a.spectrum.path.display().to_string().replace(',', "_"),
                f.first_channel,
                f.width_channels,
                f.peak_channel,
                fmt(hz),
                fmt(v),
                fmt(amp),
                f.source.name()
            );
        }
    }
    s
}

/// Where the flagged-channel table of a .csv `output` goes: `NAME_rfi.csv`.
pub fn rfi_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!("{stem}_rfi.csv"))
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        String::new()
    }
}

/// Writes the component table as CSV, JSON or FITS (by extension).
pub fn write_table(path: &Path, all: &[Analysis]) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let rs = rows(all);
    match ext.as_str() {
        "csv" => {
            let mut s = HEADER.join(",") + "\n";
            for r in &rs {
                let a = r.a;
                let mut f = vec![
                    a.spectrum.path.display().to_string().replace(',', "_"),
                    fmt(a.spectrum.l_deg),
                    fmt(a.spectrum.b_deg),
                    a.spectrum.lsr_source.replace(',', ";"),
                    a.baseline.order.to_string(),
                    fmt(a.baseline.rms),
                    fmt(a.fit.residual_rms_k),
                    a.fit.components.len().to_string(),
                    r.index.map(|i| i.to_string()).unwrap_or_default(),
                ];
                f.extend(r.values().into_iter().map(fmt));
                f.push(format!("{:.6e}", a.n_hi_cm2));
                f.push(fmt(r.deviation()));
                f.push(r.hvc().to_string());
                f.push(r.unresolved().to_string());
                f.push(fmt(a.resolution.min_sigma_km_s()));
                f.push(a.flags.excluded.iter().filter(|x| **x).count().to_string());
                s += &(f.join(",") + "\n");
            }
            write_atomic(path, s.as_bytes())?;
            write_atomic(&rfi_path(path), rfi_csv(all).as_bytes())
        }
        "json" => {
            let list: Vec<serde_json::Value> = all
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "file": a.spectrum.path.display().to_string(),
                        "glon_deg": finite(a.spectrum.l_deg),
                        "glat_deg": finite(a.spectrum.b_deg),
                        "lsr_source": a.spectrum.lsr_source,
                        "baseline_order": a.baseline.order,
                        "baseline_rms_k": finite(a.baseline.rms),
                        "residual_rms_k": finite(a.fit.residual_rms_k),
                        "bic": finite(a.fit.bic),
                        "n_hi_cm2": finite(a.n_hi_cm2),
                        "channel_width_km_s": finite(a.resolution.channel_width_km_s),
                        "min_sigma_km_s": finite(a.resolution.min_sigma_km_s()),
                        "min_fwhm_km_s": finite(a.resolution.min_fwhm_km_s()),
                        "strongest_resolved": a.strongest_resolved().and_then(|s| a.fit.components.iter().position(|c| c == s)),
                        "flagged_channels": a.flags.flagged.iter().map(|f| {
                            let (hz, v, amp) = flag_point(a, f);
                            serde_json::json!({
                                "first_channel": f.first_channel, "width_channels": f.width_channels,
                                "peak_channel": f.peak_channel, "freq_hz": finite(hz),
                                "v_lsr_km_s": finite(v), "amp_k": finite(amp), "source": f.source.name(),
                            })
                        }).collect::<Vec<_>>(),
                        "components": a.fit.components.iter().enumerate().map(|(i, c)| serde_json::json!({
                            "amp_k": finite(c.amp_k), "amp_err_k": finite(c.amp_err_k),
                            "v_lsr_km_s": finite(c.center_km_s), "v_lsr_err_km_s": finite(c.center_err_km_s),
                            "sigma_km_s": finite(c.sigma_km_s), "sigma_err_km_s": finite(c.sigma_err_km_s),
                            "fwhm_km_s": finite(c.fwhm_km_s()), "integral_k_km_s": finite(c.integral_k_km_s()),
                            "deviation_km_s": finite(a.deviation_km_s[i]),
                            "hvc_candidate": a.hvc.iter().any(|h| h.0 == i),
                            "unresolved": a.resolution.is_unresolved(c.sigma_km_s),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let text = serde_json::to_string_pretty(&list)?;
            write_atomic(path, text.as_bytes())
        }
        "fits" | "fit" => {
            let col = |k: usize| ColumnData::F64(rs.iter().map(|r| r.values()[k]).collect());
            let columns = vec![
                ColumnOut::new(
                    "FILE",
                    ColumnData::Str {
                        width: rs
                            .iter()
                            .map(|r| r.a.spectrum.name.len())
                            .max()
                            .unwrap_or(1)
                            .max(1),
                        values: rs.iter().map(|r| r.a.spectrum.name.clone()).collect(),
                    },
                ),
                ColumnOut::new(
                    "GLON",
                    ColumnData::F64(rs.iter().map(|r| r.a.spectrum.l_deg).collect()),
                )
                .with_unit("deg"),
                ColumnOut::new(
                    "GLAT",
                    ColumnData::F64(rs.iter().map(|r| r.a.spectrum.b_deg).collect()),
                )
                .with_unit("deg"),
                ColumnOut::new(
                    "N_COMPONENTS",
                    ColumnData::I32(rs.iter().map(|r| r.a.fit.components.len() as i32).collect()),
                ),
                ColumnOut::new(
                    "COMPONENT",
                    ColumnData::I32(
                        rs.iter()
                            .map(|r| r.index.map_or(-1, |i| i as i32))
                            .collect(),
                    ),
                ),
                ColumnOut::new("AMP", col(0)).with_unit("K"),
                ColumnOut::new("AMP_ERR", col(1)).with_unit("K"),
                ColumnOut::new("VELO_LSR", col(2)).with_unit("km/s"),
                ColumnOut::new("VELO_LSR_ERR", col(3)).with_unit("km/s"),
                ColumnOut::new("SIGMA", col(4)).with_unit("km/s"),
                ColumnOut::new("SIGMA_ERR", col(5)).with_unit("km/s"),
                ColumnOut::new("FWHM", col(6)).with_unit("km/s"),
                ColumnOut::new("INTEGRAL", col(7)).with_unit("K km/s"),
                ColumnOut::new(
                    "N_HI",
                    ColumnData::F64(rs.iter().map(|r| r.a.n_hi_cm2).collect()),
                )
                .with_unit("cm-2"),
                ColumnOut::new(
                    "DEVIATION",
                    ColumnData::F64(rs.iter().map(|r| r.deviation()).collect()),
                )
                .with_unit("km/s"),
                ColumnOut::new(
                    "HVC",
                    ColumnData::Bool(rs.iter().map(|r| r.hvc()).collect()),
                ),
                ColumnOut::new(
                    "UNRESOLVED",
                    ColumnData::Bool(rs.iter().map(|r| r.unresolved()).collect()),
                ),
                ColumnOut::new(
                    "MIN_SIGMA",
                    ColumnData::F64(rs.iter().map(|r| r.a.resolution.min_sigma_km_s()).collect()),
                )
                .with_unit("km/s"),
            ];
            let flags: Vec<(&Analysis, (f64, f64, f64), &str)> = all
                .iter()
                .flat_map(|a| {
                    a.flags
                        .flagged
                        .iter()
                        .map(move |f| (a, flag_point(a, f), f.source.name()))
                })
                .collect();
            let rfi = vec![
                ColumnOut::new(
                    "FILE",
                    ColumnData::Str {
                        width: flags
                            .iter()
                            .map(|f| f.0.spectrum.name.len())
                            .max()
                            .unwrap_or(1)
                            .max(1),
                        values: flags.iter().map(|f| f.0.spectrum.name.clone()).collect(),
                    },
                ),
                ColumnOut::new(
                    "FREQ",
                    ColumnData::F64(flags.iter().map(|f| f.1 .0).collect()),
                )
                .with_unit("Hz"),
                ColumnOut::new(
                    "VELO_LSR",
                    ColumnData::F64(flags.iter().map(|f| f.1 .1).collect()),
                )
                .with_unit("km/s"),
                ColumnOut::new(
                    "AMP",
                    ColumnData::F64(flags.iter().map(|f| f.1 .2).collect()),
                )
                .with_unit("K"),
                ColumnOut::new(
                    "SOURCE",
                    ColumnData::Str {
                        width: 10,
                        values: flags.iter().map(|f| f.2.to_string()).collect(),
                    },
                ),
            ];
            write_fits(
                path,
                &[
                    HduOut::Table {
                        extname: Some("HI_COMPONENTS".into()),
                        header: vec![astrolab_formats::Card::str("SPECSYS", "LSRK")],
                        columns,
                    },
                    HduOut::Table {
                        extname: Some("RFI_FLAGS".into()),
                        header: Vec::new(),
                        columns: rfi,
                    },
                ],
            )
            .with_context(|| format!("writing {}", path.display()))
        }
        other => bail!(
            "{}: unknown output format '{other}' (use .csv, .json or .fits)",
            path.display()
        ),
    }
}

fn finite(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// Writes `bytes` to a temporary name beside `path`, then renames.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
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
            let (hz, v, amp) = flag_point(r, f);
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

/// Prints the recurring RFI frequencies learned across the spectra.
pub fn print_recurring(persistent_hz: &[f64]) {
    if !persistent_hz.is_empty() {
        let mhz: Vec<String> = persistent_hz
            .iter()
            .map(|f| format!("{:.4}", f / 1e6))
            .collect();
        println!(
            "recurring RFI frequencies in these spectra (MHz, topocentric): {}",
            mhz.join(", ")
        );
    }
}

pub fn run(_cfg: &Config, a: &FitArgs) -> Result<()> {
    let (all, persistent) = analyse_all(&a.spectra, &a.analysis)?;
    print_recurring(&persistent);
    if let Some(r) = all.first() {
        println!(
            "channel width {:.3} km/s: narrowest Gaussian sigma {:.3} km/s (FWHM {:.2} km/s); \
             components at that width are marked unresolved",
            r.resolution.channel_width_km_s,
            r.resolution.min_sigma_km_s(),
            r.resolution.min_fwhm_km_s()
        );
    }
    for r in &all {
        let p = &r.spectrum.path;
        let strongest = strongest_words(r);
        println!(
            "{}: l {:.2} b {:.2}: baseline order {}, {} components, {strongest}, N_HI {:.3e} cm^-2{}",
            p.display(),
            r.spectrum.l_deg,
            r.spectrum.b_deg,
            r.baseline.order,
            r.fit.components.len(),
            r.n_hi_cm2,
            if r.hvc.is_empty() { String::new() } else { format!(", {} HVC candidate(s)", r.hvc.len()) },
        );
        let flagged = flags_words(r);
        if !flagged.is_empty() {
            println!("{}", flagged.trim_start_matches('\n'));
        }
        if let Some(dir) = &a.plot_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let svg = super::hline_plots::spectrum_components_svg(r);
            let out = dir.join(format!("{}.{}", r.spectrum.name, a.plot_format.ext()));
            crate::plot::write_plot(&svg, &out)?;
        }
    }
    if let Some(out) = &a.output {
        write_table(out, &all)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
