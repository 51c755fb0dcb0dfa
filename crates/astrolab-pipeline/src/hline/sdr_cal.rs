//! Calibration of SDR recordings in `hline process` and `hline watch`:
//! frequency switching against a reference recording tuned off the line, or
//! a Y-factor from recordings of a hot and a cold load. Each reference goes
//! through the same spectrometer (channels, window, RFI flagging) as the
//! signal, and its mean unflagged spectrum is used; the result is the
//! recording's calibrated spectrum in kelvin, written SDFITS-style beside
//! the archive so `astrolab hline fit` reads it, with the references'
//! SHA-256 in its header.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_formats::iq::IqReader;
use astrolab_formats::sdfits::{write_sdfits, SdfitsOutRow};
use astrolab_formats::Card;
use astrolab_hline::calibrate::{apply_y_factor, fold_shift, switched_sdr_k, y_factor};
pub use astrolab_hline::mean::MeanSpectrum;
use astrolab_hline::spectrometer::Spectrometer;
use serde_json::json;

use super::process::{resolve, spectrometer_config};
use crate::params::defs::ProcessOptions;

/// A calibration reference recording's mean spectrum and identity.
struct Reference {
    path: PathBuf,
    center_freq_hz: f64,
    mean: Vec<f64>,
    sha256: String,
}

/// Streams `path` through the spectrometer configured as for the signal and
/// returns its mean spectrum; refuses a recording whose sample rate differs.
fn reference(
    path: &Path,
    o: &ProcessOptions,
    sample_rate_hz: f64,
    role: &str,
) -> Result<Reference> {
    let input = resolve(path, o).with_context(|| format!("{role} recording"))?;
    if (input.sample_rate_hz - sample_rate_hz).abs() > 1e-6 * sample_rate_hz {
        bail!(
            "{}: {role} recording: sample rate {} Hz, the signal's is {} Hz; calibration needs the same channels",
            input.data_path.display(),
            input.sample_rate_hz,
            sample_rate_hz
        );
    }
    let scfg = spectrometer_config(o, input.sample_rate_hz);
    let mut spec = Spectrometer::new(scfg).with_context(|| path.display().to_string())?;
    let mut reader = IqReader::open(&input.data_path, input.datatype, 1 << 18)?;
    let mut buf = Vec::with_capacity(2 << 18);
    let mut ints = Vec::new();
    let mut acc = MeanSpectrum::new(o.channels);
    loop {
        let k = reader.read_chunk(&mut buf)?;
        if k == 0 {
            break;
        }
        spec.push(&buf, &mut ints);
        ints.drain(..).for_each(|i| acc.add(&i));
    }
    if let Some(i) = spec.finish() {
        acc.add(&i);
    }
    if acc.n_cells == 0 {
        bail!(
            "{}: {role} recording: {} samples are less than half an integration",
            input.data_path.display(),
            reader.total_samples()
        );
    }
    let (_, sha256) = astrolab_store::file_digest(&input.data_path)?;
    Ok(Reference {
        path: input.data_path,
        center_freq_hz: input.center_freq_hz,
        mean: acc.mean(),
        sha256,
    })
}

/// A calibrated spectrum.
#[derive(Debug, Clone)]
pub struct Calibrated {
    /// `fsw` (folded or not) or `yfactor`.
    pub method: &'static str,
    /// Antenna temperature per channel, K (NaN where unusable).
    pub t_k: Vec<f64>,
    /// The system temperature spectrum the line is searched in: positive,
    /// its continuum the system temperature, the line on top, in K.
    pub search_k: Vec<f64>,
    /// Median system temperature, K.
    pub tsys_k: f64,
    /// Channels the reference was tuned above the signal (fsw).
    pub fold_shift: Option<i64>,
    /// What was done, for the summary.
    pub details: serde_json::Value,
    /// FITS header cards naming the references.
    pub cards: Vec<Card>,
}

fn median(v: &[f64]) -> f64 {
    let mut f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        return f64::NAN;
    }
    f.sort_by(f64::total_cmp);
    f[f.len() / 2]
}

/// Calibrates the signal's mean spectrum `sig` (centre `center_freq_hz`,
/// `sample_rate_hz`) as `cal` asks; None when no calibration was asked for.
pub fn calibrate(
    sig: &[f64],
    center_freq_hz: f64,
    sample_rate_hz: f64,
    o: &ProcessOptions,
) -> Result<Option<Calibrated>> {
    let cal = &o.calibration;
    let n = sig.len();
    let channel_width_hz = sample_rate_hz / n as f64;
    if let Some(rp) = &cal.fsw_ref {
        let Some(tsys) = o.tsys_k else {
            bail!(
                "--fsw-ref {}: frequency switching needs --tsys-k (the system temperature that scales (sig - ref) / ref to kelvin; a Y-factor measures it)",
                rp.display()
            );
        };
        let r = reference(rp, o, sample_rate_hz, "frequency-switching reference")?;
        let shift_ch = (r.center_freq_hz - center_freq_hz) / channel_width_hz;
        let fold = fold_shift(shift_ch, n);
        if shift_ch.abs() < 0.5 {
            bail!(
                "{}: frequency-switching reference tuned to {} Hz, the signal's tuning: no frequency throw",
                r.path.display(),
                r.center_freq_hz
            );
        }
        let t = switched_sdr_k(sig, &r.mean, tsys, fold)
            .with_context(|| format!("frequency switching against {}", r.path.display()))?;
        let search = t.iter().map(|x| tsys + x).collect();
        let note = match fold {
            Some(s) => format!("folded: reference tuned {s} channels higher; negative half-height ghosts one throw either side of each line"),
            None => format!(
                "not folded: the frequency throw is {shift_ch:.3} channels, not a whole number below half the band; the negative image stays"
            ),
        };
        return Ok(Some(Calibrated {
            method: "fsw",
            t_k: t,
            search_k: search,
            tsys_k: tsys,
            fold_shift: fold,
            details: json!({
                "method": "frequency switching", "tsys_k": tsys,
                "reference": r.path.display().to_string(), "reference_sha256": r.sha256,
                "throw_hz": r.center_freq_hz - center_freq_hz, "fold_shift_channels": fold,
                "note": note,
            }),
            cards: vec![
                Card::str("CALMETH", "FSW").with_comment("frequency switched against CALREF1"),
                Card::str("CALREF1", &file_name(&r.path)),
                Card::str("CALSHA1", &r.sha256),
                Card::float("FSWTHROW", r.center_freq_hz - center_freq_hz)
                    .with_comment("Hz, reference minus signal tuning"),
            ],
        }));
    }
    let (Some(hp), Some(cp)) = (&cal.yfactor_hot, &cal.yfactor_cold) else {
        return Ok(None);
    };
    let hot = reference(hp, o, sample_rate_hz, "hot load")?;
    let cold = reference(cp, o, sample_rate_hz, "cold load")?;
    for r in [&hot, &cold] {
        if (r.center_freq_hz - center_freq_hz).abs() > 0.01 * channel_width_hz {
            bail!(
                "{}: load recording tuned to {} Hz, the signal to {} Hz: a Y-factor needs the same tuning",
                r.path.display(),
                r.center_freq_hz,
                center_freq_hz
            );
        }
    }
    let (trx, gain) =
        y_factor(&hot.mean, &cold.mean, cal.t_hot_k, cal.t_cold_k).with_context(|| {
            format!(
                "Y-factor from {} and {}",
                hot.path.display(),
                cold.path.display()
            )
        })?;
    let y_med = median(
        &hot.mean
            .iter()
            .zip(&cold.mean)
            .map(|(h, c)| h / c)
            .collect::<Vec<_>>(),
    );
    if y_med.is_nan() || y_med <= 1.0 {
        bail!(
            "{} and {}: median Y = P_hot / P_cold = {y_med:.4}, not above 1: the hot load is not hotter at the receiver (swapped files, or an automatic gain control levelled them)",
            hot.path.display(),
            cold.path.display()
        );
    }
    let t = apply_y_factor(sig, &trx, &gain);
    // System temperature spectrum: P / g = Trx + T_sky.
    let search: Vec<f64> = sig.iter().zip(&gain).map(|(p, g)| p / g).collect();
    let tsys = median(&search);
    let trx_med = median(&trx);
    Ok(Some(Calibrated {
        method: "yfactor",
        t_k: t,
        search_k: search,
        tsys_k: tsys,
        fold_shift: None,
        details: json!({
            "method": "Y-factor", "t_hot_k": cal.t_hot_k, "t_cold_k": cal.t_cold_k,
            "y_median": y_med, "trx_k": trx_med, "tsys_k": tsys,
            "hot": hot.path.display().to_string(), "hot_sha256": hot.sha256,
            "cold": cold.path.display().to_string(), "cold_sha256": cold.sha256,
        }),
        cards: vec![
            Card::str("CALMETH", "YFACTOR").with_comment("hot CALREF1, cold CALREF2"),
            Card::str("CALREF1", &file_name(&hot.path)),
            Card::str("CALSHA1", &hot.sha256),
            Card::str("CALREF2", &file_name(&cold.path)),
            Card::str("CALSHA2", &cold.sha256),
            Card::float("THOT", cal.t_hot_k).with_comment("K"),
            Card::float("TCOLD", cal.t_cold_k).with_comment("K"),
            Card::float("TRX", trx_med).with_comment("K, median receiver temperature"),
        ],
    }))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Where the calibrated spectrum is written and what describes it.
pub struct CalibratedOut<'a> {
    pub path: &'a Path,
    pub object: &'a str,
    pub date_obs: String,
    pub exposure_s: f64,
    pub first_channel_freq_hz: f64,
    pub channel_width_hz: f64,
    pub ra_dec_deg: Option<(f64, f64)>,
    pub lsr_km_s: Option<f64>,
}

/// Writes the calibrated spectrum as a one-row SDFITS-style table (TSYS,
/// DATA in K, VELO-LSR when known, the references in CALREF/CALSHA cards).
pub fn write_calibrated(c: &Calibrated, out: &CalibratedOut<'_>) -> Result<()> {
    let (ra, dec) = out.ra_dec_deg.unwrap_or((f64::NAN, f64::NAN));
    let row = SdfitsOutRow {
        object: out.object.to_string(),
        date_obs: out.date_obs.clone(),
        scan: 0,
        ifnum: 0,
        plnum: 0,
        exposure_s: out.exposure_s,
        tsys_k: c.tsys_k,
        tcal_k: f64::NAN,
        crval1_hz: out.first_channel_freq_hz,
        cdelt1_hz: out.channel_width_hz,
        crpix1: 1.0,
        restfreq_hz: astrolab_hline::linefind::HI_REST_FREQ_HZ,
        crval2_deg: ra,
        crval3_deg: dec,
        ctype2: "RA".into(),
        ctype3: "DEC".into(),
        data_k: c.t_k.clone(),
    };
    let mut cards = super::calibrate::velocity_cards(out.lsr_km_s, c.method);
    cards.extend(c.cards.iter().cloned());
    write_sdfits(out.path, std::slice::from_ref(&row), cards)
        .with_context(|| format!("writing {}", out.path.display()))
}
