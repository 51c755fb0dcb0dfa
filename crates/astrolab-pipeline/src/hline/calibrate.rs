//! `astrolab hline calibrate`: GBTIDL-style `getps` on a GBT SDFITS file.
//!
//! Selection as GBTIDL: a scan number (either scan of the ON/OFF pair), an
//! IF, a polarisation, a feed and optionally one integration. The result is
//! an SDFITS-style file with TSYS and DATA columns (like GBTIDL's `keep`),
//! and VELO-LSR / SPECSYS keywords when the site, time and pointing allow an
//! LSR correction.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_formats::sdfits::{write_sdfits, Sdfits, SdfitsOutRow, SdfitsRow};
use astrolab_formats::Card;
use astrolab_hline::calibrate::{
    average, getps_integration, CalSpectrum, PsIntegration, PsOptions,
};
use astrolab_hline::velocity::{lsr_correction_km_s, LsrDefinition, Site, UtcTime};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::PipelineError;
pub use crate::params::defs::CalibrateArgs;
use crate::pipeline::SinglePipeline;

/// Which scan of the pair is the signal (ON) and which the reference (OFF).
fn pair(sd: &Sdfits, a: &CalibrateArgs) -> Result<(i64, i64)> {
    let path = sd.path().display();
    let rows: Vec<&SdfitsRow> = sd.rows.iter().filter(|r| r.scan == a.scan).collect();
    if rows.is_empty() {
        let mut scans: Vec<i64> = sd.rows.iter().map(|r| r.scan).collect();
        scans.sort_unstable();
        scans.dedup();
        bail!(
            "{path}: scan {} is not in the file (SCAN column holds {scans:?})",
            a.scan
        );
    }
    let r = rows[0];
    let mode = r.obsmode.to_ascii_uppercase();
    if !mode.contains("PSWITCH") || r.procsize != 2 {
        bail!(
            "{path}: scan {} is not position-switched: OBSMODE '{}', PROCSIZE {} \
             (getps needs an OnOff or OffOn pair: OBSMODE *:PSWITCHON/PSWITCHOFF:*, PROCSIZE 2)",
            a.scan,
            r.obsmode,
            r.procsize
        );
    }
    let is_on = mode.contains("PSWITCHON");
    // The partner is the other member of the procedure: PROCSEQN 1 <-> 2.
    let partner = match r.procseqn {
        1 => a.scan + 1,
        2 => a.scan - 1,
        s => bail!("{path}: scan {}: PROCSEQN {s} is not 1 or 2", a.scan),
    };
    if !sd.rows.iter().any(|x| x.scan == partner) {
        bail!(
            "{path}: scan {} ({}) needs its partner scan {partner}, which is not in the file",
            a.scan,
            if is_on { "ON" } else { "OFF" }
        );
    }
    Ok(if is_on {
        (a.scan, partner)
    } else {
        (partner, a.scan)
    })
}

/// Table rows of one phase (scan, cal state) for the selection, by integration.
fn phase(
    sd: &Sdfits,
    a: &CalibrateArgs,
    scan: i64,
    cal_on: bool,
) -> std::collections::BTreeMap<i64, usize> {
    sd.rows
        .iter()
        .filter(|r| {
            r.scan == scan
                && r.ifnum == a.ifnum
                && r.plnum == a.plnum
                && r.fdnum == a.fdnum
                && r.cal_on == cal_on
                && r.sig
        })
        .map(|r| (r.intnum, r.row))
        .collect()
}

/// The LSR correction for a row, or why there is none.
fn lsr_of(r: &SdfitsRow) -> std::result::Result<f64, String> {
    let site = Site {
        lat_deg: r.site_lat_deg,
        lon_deg: r.site_lon_deg,
        height_m: if r.site_height_m.is_finite() {
            r.site_height_m
        } else {
            0.0
        },
    };
    if !(site.lat_deg.is_finite() && site.lon_deg.is_finite()) {
        return Err("no SITELAT/SITELONG".into());
    }
    if !r.ctype2.trim().to_ascii_uppercase().starts_with("RA") {
        return Err(format!("pointing CTYPE2 '{}' is not RA", r.ctype2));
    }
    let t = UtcTime::parse_iso(&r.date_obs).map_err(|e| e.to_string())?;
    lsr_correction_km_s(
        t,
        site,
        r.crval2_deg,
        r.crval3_deg,
        LsrDefinition::Kinematic,
    )
    .map_err(|e| e.to_string())
}

/// Calibrates and returns the result row and its LSR correction (if any).
pub fn calibrate(sd: &Sdfits, a: &CalibrateArgs) -> Result<(SdfitsOutRow, Option<f64>)> {
    let path = sd.path().display().to_string();
    let (on_scan, off_scan) = pair(sd, a)?;
    let phases = [
        phase(sd, a, on_scan, true),
        phase(sd, a, on_scan, false),
        phase(sd, a, off_scan, true),
        phase(sd, a, off_scan, false),
    ];
    let names = [
        "ON scan, cal on",
        "ON scan, cal off",
        "OFF scan, cal on",
        "OFF scan, cal off",
    ];
    for (p, name) in phases.iter().zip(names) {
        if p.is_empty() {
            bail!(
                "{path}: scans {on_scan}/{off_scan}, IFNUM {}, PLNUM {}, FDNUM {}: no rows for the {name} \
                 phase (getps needs the noise diode: CAL = T and F rows in both scans)",
                a.ifnum,
                a.plnum,
                a.fdnum
            );
        }
    }
    let mut ints: Vec<i64> = phases[0].keys().copied().collect();
    ints.retain(|i| phases.iter().all(|p| p.contains_key(i)));
    if let Some(k) = a.intnum {
        if !ints.contains(&k) {
            bail!("{path}: integration {k} is not in scans {on_scan}/{off_scan} (INT values {ints:?})");
        }
        ints = vec![k];
    }
    if ints.is_empty() {
        bail!("{path}: the ON and OFF scans {on_scan}/{off_scan} share no integration number");
    }
    let opts = PsOptions {
        smooth_ref: a.smthoff,
    };
    let mut cals: Vec<CalSpectrum> = Vec::new();
    for &k in &ints {
        let idx: Vec<usize> = phases.iter().map(|p| p[&k]).collect();
        let spectra = sd.spectra(&idx)?;
        let rows: Vec<&SdfitsRow> = idx.iter().map(|&i| &sd.rows[i]).collect();
        let p = PsIntegration {
            sig_calon: &spectra[0],
            sig_caloff: &spectra[1],
            ref_calon: &spectra[2],
            ref_caloff: &spectra[3],
            tcal_k: rows[2].tcal_k,
            exposures_s: [
                rows[0].exposure_s,
                rows[1].exposure_s,
                rows[2].exposure_s,
                rows[3].exposure_s,
            ],
        };
        let c = getps_integration(&p, opts).with_context(|| {
            format!("{path}: scans {on_scan}/{off_scan}, integration {k} (rows {idx:?})")
        })?;
        cals.push(c);
    }
    let first = &sd.rows[phases[1][&ints[0]]];
    let cal = average(&cals, first.cdelt1_hz).with_context(|| format!("{path}: averaging"))?;
    let lsr = lsr_of(first);
    if let Err(why) = &lsr {
        tracing::warn!("{path}: no LSR correction written ({why})");
    }
    Ok((
        SdfitsOutRow {
            object: first.object.clone(),
            date_obs: first.date_obs.clone(),
            scan: on_scan,
            ifnum: a.ifnum,
            plnum: a.plnum,
            exposure_s: cal.exposure_s,
            tsys_k: cal.tsys_k,
            tcal_k: first.tcal_k,
            crval1_hz: first.crval1_hz,
            cdelt1_hz: first.cdelt1_hz,
            crpix1: first.crpix1,
            restfreq_hz: first.restfreq_hz,
            crval2_deg: first.crval2_deg,
            crval3_deg: first.crval3_deg,
            ctype2: first.ctype2.clone(),
            ctype3: first.ctype3.clone(),
            data_k: cal.ta_k,
        },
        lsr.ok(),
    ))
}

/// Header cards describing the result's velocity frame.
pub fn velocity_cards(lsr_km_s: Option<f64>, procedure: &str) -> Vec<Card> {
    let mut cards = vec![
        Card::str("PROCNAME", procedure).with_comment("calibration procedure (GBTIDL name)"),
        Card::str("SPECSYS", "TOPOCENT").with_comment("CRVAL1/CDELT1 are sky frequencies"),
        Card::str("VELDEF", "RADI-LSR").with_comment("velocity definition for VELO-LSR"),
    ];
    if let Some(v) = lsr_km_s {
        cards.push(
            Card::float("VELO-LSR", v)
                .with_comment("km/s, add to topocentric radio velocity for LSRK"),
        );
        cards.push(Card::str("SSYSOBS", "TOPOCENT"));
    }
    cards
}

/// What `hline calibrate` gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrateOutput {
    /// The ON scan calibrated.
    pub scan: i64,
    /// Median system temperature, K.
    pub tsys_k: f64,
    /// Total exposure, s.
    pub exposure_s: f64,
    /// Finite channels of the result.
    pub n_channels: usize,
    /// The LSR correction written (VELO-LSR), km/s.
    pub lsr_correction_km_s: Option<f64>,
    /// The SDFITS-style file written.
    pub output: PathBuf,
}

/// `astrolab hline calibrate`: GBTIDL `getps` on one position-switched pair.
#[derive(Debug, Default, Clone, Copy)]
pub struct Calibrate;

impl SinglePipeline for Calibrate {
    type Params = CalibrateArgs;
    type Output = CalibrateOutput;
    fn run(&self, ctx: &Ctx, a: &CalibrateArgs) -> Result<CalibrateOutput, PipelineError> {
        let sd = Sdfits::open(&a.sdfits).map_err(anyhow::Error::from)?;
        let (row, lsr) = calibrate(&sd, a)?;
        write(&a.output, &row, lsr)?;
        let finite = row.data_k.iter().filter(|v| v.is_finite()).count();
        ctx.info(format!(
            "{}: getps scan {} ifnum {} plnum {}: Tsys {:.4} K, exposure {:.3} s, {} channels{} -> {}",
            a.sdfits.display(),
            row.scan,
            a.ifnum,
            a.plnum,
            row.tsys_k,
            row.exposure_s,
            finite,
            lsr.map(|v| format!(", LSR correction {v:.3} km/s"))
                .unwrap_or_default(),
            a.output.display()
        ));
        Ok(CalibrateOutput {
            scan: row.scan,
            tsys_k: row.tsys_k,
            exposure_s: row.exposure_s,
            n_channels: finite,
            lsr_correction_km_s: lsr,
            output: a.output.clone(),
        })
    }
}

fn write(path: &Path, row: &SdfitsOutRow, lsr: Option<f64>) -> Result<()> {
    write_sdfits(
        path,
        std::slice::from_ref(row),
        velocity_cards(lsr, "getps"),
    )
    .with_context(|| format!("writing {}", path.display()))
}
