//! The whole fit of one quasar spectrum: rest frame, optional Galactic
//! dereddening, the pseudo-continuum ([`crate::fit::conti`]), every covered
//! line complex of the table ([`crate::fit::lines`]), the measurements
//! ([`crate::fit::measure`]) and Monte-Carlo errors, as PyQSOFit's `Fit`
//! does with `MC=True` (Shen et al. 2019, sect. 3.4): the flux is redrawn
//! `n` times from its errors, everything refitted (here starting from the
//! best fit and keeping its wing decision, so that a sample measures the
//! noise and not a different model), and an error is half the 16-84
//! percentile range of the samples.
//!
//! Spectra that cannot be fitted are skips with a reason ([`FitSkip`]),
//! never numbers.

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use thiserror::Error;

use crate::bal::C_KM_S;
use crate::fit::conti::{fit_continuum, ContiError, ContiFit, ContiSetup, Continuum};
use crate::fit::deredden::deredden;
use crate::fit::lines::{fit_complex, ComplexError, ComplexFit, LineKind, LineTable};
use crate::fit::measure::{
    kinematics, line_props, log_lambda_l, log_mbh, oiii_outflow, Kinematics, LineProps,
    OiiiOutflow, OutflowAssumptions, MBH_CIV, MBH_HBETA, MBH_MGII, OIII_5007_A,
};

/// Highest redshift fitted (the table's bluest complex, C IV, leaves the
/// optical window beyond it; above it nothing would be covered).
pub const Z_MAX: f64 = 5.0;

/// Everything a fit needs besides the spectrum.
#[derive(Debug, Clone)]
pub struct FitConfig {
    /// Continuum components.
    pub conti: ContiSetup,
    /// Line table.
    pub lines: LineTable,
    /// Monte-Carlo samples (0: none).
    pub mc: usize,
    /// Seed of the Monte-Carlo draws (combined with the object's id).
    pub seed: u64,
    /// [O III] outflow assumptions.
    pub outflow: OutflowAssumptions,
    /// Name of the line whose core and wing give the [O III] kinematics.
    pub oiii_line: String,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            conti: ContiSetup {
                balmer: true,
                ..ContiSetup::default()
            },
            lines: LineTable::default_table(),
            mc: 0,
            seed: 20_261_206,
            outflow: OutflowAssumptions::default(),
            oiii_line: "OIII5007".into(),
        }
    }
}

/// One spectrum, observed frame.
#[derive(Debug, Clone, Copy)]
pub struct SpectrumIn<'a> {
    /// Vacuum wavelengths (A), increasing.
    pub wave: &'a [f64],
    /// Flux density (1e-17 erg s^-1 cm^-2 A^-1).
    pub flux: &'a [f64],
    /// Inverse variance (0 = bad pixel).
    pub ivar: &'a [f64],
    /// Systemic redshift.
    pub z: f64,
    /// Instrumental dispersion (km/s) near [O III] 5007, if known.
    pub sigma_inst_kms: Option<f64>,
    /// Galactic E(B-V) (mag), if known.
    pub ebv: Option<f64>,
    /// Identifier mixed into the Monte-Carlo seed.
    pub id: u64,
}

/// Why a spectrum was not fitted.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FitSkip {
    #[error("redshift {0} is outside 0 < z <= {Z_MAX}")]
    Redshift(f64),
    #[error("arrays differ in length: wave {wave}, flux {flux}, ivar {ivar}")]
    Length {
        wave: usize,
        flux: usize,
        ivar: usize,
    },
    #[error("wavelengths are not increasing and finite at pixel {0}")]
    Wavelength(usize),
    #[error("pixel {0}: inverse variance is infinite or negative (zero or invalid error)")]
    ZeroError(usize),
    #[error("no pixel has a finite flux and a positive inverse variance")]
    NoGoodPixels,
    #[error("{nan} of {good} pixels with positive inverse variance have NaN or infinite flux")]
    NanFlux { nan: usize, good: usize },
    #[error("continuum: {0}")]
    Continuum(ContiError),
    #[error("no line complex is covered: {0}")]
    NoLines(String),
}

/// What a fit measures (also the shape of its Monte-Carlo errors).
#[derive(Debug, Clone, PartialEq)]
pub struct Measurements {
    /// `log10(lambda L_lambda)` at 1350, 3000, 5100 A (NaN where not
    /// covered).
    pub log_l1350: f64,
    pub log_l3000: f64,
    pub log_l5100: f64,
    /// Power-law slope.
    pub pl_slope: f64,
    /// Optical Fe II flux over 4435-4685 A and its FWHM (km/s).
    pub fe_op_flux: f64,
    pub fe_op_fwhm: f64,
    /// UV Fe II flux over 2200-3090 A.
    pub fe_uv_flux: f64,
    /// Per line of the fitted complexes: the whole line, and for lines
    /// with a wing `NAME_CORE` and `NAME_WING` too.
    pub lines: BTreeMap<String, LineProps>,
    /// [O III] 5007 (core + wing) non-parametric kinematics.
    pub oiii: Kinematics,
    /// [O III] 5007 core and wing centroids from systemic (km/s), wing
    /// minus core (km/s).
    pub oiii_core_v: f64,
    pub oiii_wing_v: f64,
    pub oiii_dv: f64,
    /// Single-epoch `log10(M_BH / M_sun)`.
    pub log_mbh_hb: f64,
    pub log_mbh_mgii: f64,
    pub log_mbh_civ: f64,
    /// [O III] outflow energetics (NaN without a wing).
    pub outflow: OiiiOutflow,
}

/// The result of [`fit_spectrum`].
#[derive(Debug, Clone)]
pub struct QsoFit {
    /// Redshift used.
    pub z: f64,
    /// Rest-frame spectrum fitted (dereddened when E(B-V) was given).
    pub wave: Vec<f64>,
    pub flux: Vec<f64>,
    pub ivar: Vec<f64>,
    /// The continuum.
    pub conti: ContiFit,
    /// The fitted complexes.
    pub complexes: Vec<ComplexFit>,
    /// Complexes not fitted, with the reason.
    pub skipped: Vec<(String, String)>,
    /// The measurements.
    pub values: Measurements,
    /// Monte-Carlo errors (half the 16-84 % range), when asked for.
    pub errors: Option<Measurements>,
    /// Monte-Carlo samples that converged.
    pub mc_done: usize,
    /// Instrumental sigma used for [O III] (km/s; NaN if unknown).
    pub sigma_inst_kms: f64,
}

impl QsoFit {
    /// The whole model (continuum plus every line) at rest `lambda`.
    pub fn model(&self, lambda: f64) -> f64 {
        self.conti.model.value(lambda) + self.lines_at(lambda)
    }

    /// The lines alone at rest `lambda`.
    pub fn lines_at(&self, lambda: f64) -> f64 {
        let x = lambda.ln();
        self.complexes
            .iter()
            .flat_map(|c| c.gauss_params())
            .collect::<Vec<_>>()
            .chunks_exact(3)
            .map(|g| g[0] * (-0.5 * ((x - g[1]) / g[2]).powi(2)).exp())
            .sum()
    }
}

/// Fit one spectrum.
pub fn fit_spectrum(input: &SpectrumIn<'_>, config: &FitConfig) -> Result<QsoFit, FitSkip> {
    let z = input.z;
    if !(z > 0.0 && z <= Z_MAX) {
        return Err(FitSkip::Redshift(z));
    }
    let n = input.wave.len();
    if input.flux.len() != n || input.ivar.len() != n {
        return Err(FitSkip::Length {
            wave: n,
            flux: input.flux.len(),
            ivar: input.ivar.len(),
        });
    }
    for i in 0..n {
        if !input.wave[i].is_finite() || (i > 0 && !(input.wave[i] > input.wave[i - 1])) {
            return Err(FitSkip::Wavelength(i));
        }
        let iv = input.ivar[i];
        if iv.is_infinite() || iv < 0.0 {
            return Err(FitSkip::ZeroError(i));
        }
    }
    let good = (0..n).filter(|&i| input.ivar[i] > 0.0).count();
    let nan = (0..n)
        .filter(|&i| input.ivar[i] > 0.0 && !input.flux[i].is_finite())
        .count();
    if good == 0 || good == nan {
        return Err(FitSkip::NoGoodPixels);
    }
    if 2 * nan > good {
        return Err(FitSkip::NanFlux { nan, good });
    }
    // Rest frame; NaN pixels masked.
    let mut flux: Vec<f64> = input.flux.to_vec();
    let mut ivar: Vec<f64> = input
        .ivar
        .iter()
        .zip(input.flux)
        .map(|(&iv, f)| {
            if f.is_finite() && iv.is_finite() {
                iv
            } else {
                0.0
            }
        })
        .collect();
    flux.iter_mut().for_each(|f| {
        if !f.is_finite() {
            *f = 0.0
        }
    });
    if let Some(ebv) = input.ebv {
        deredden(input.wave, &mut flux, &mut ivar, ebv);
    }
    let zp1 = 1.0 + z;
    let wave: Vec<f64> = input.wave.iter().map(|w| w / zp1).collect();
    flux.iter_mut().for_each(|f| *f *= zp1);
    ivar.iter_mut().for_each(|v| *v /= zp1 * zp1);

    let conti =
        fit_continuum(&wave, &flux, &ivar, &config.conti, None).map_err(FitSkip::Continuum)?;
    let mut complexes = Vec::new();
    let mut skipped = Vec::new();
    let line_flux = subtract(&wave, &flux, &conti.model);
    for k in 0..config.lines.complex.len() {
        match fit_complex(&config.lines, k, &wave, &line_flux, &ivar, None) {
            Ok(c) => complexes.push(c),
            Err(e @ ComplexError::NotCovered { .. }) => {
                skipped.push((config.lines.complex[k].name.clone(), e.to_string()))
            }
            Err(e) => skipped.push((config.lines.complex[k].name.clone(), e.to_string())),
        }
    }
    if complexes.is_empty() {
        return Err(FitSkip::NoLines(
            skipped
                .iter()
                .map(|(_, r)| r.clone())
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let sigma_inst = input.sigma_inst_kms.unwrap_or(f64::NAN);
    let values = measure(&wave, z, &conti.model, &complexes, config, sigma_inst);

    let mut errors = None;
    let mut mc_done = 0;
    if config.mc > 0 {
        let mut rng =
            ChaCha8Rng::seed_from_u64(config.seed ^ input.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut samples = Vec::with_capacity(config.mc);
        let mut redrawn = vec![0.0; flux.len()];
        for _ in 0..config.mc {
            for i in 0..flux.len() {
                let e: f64 = StandardNormal.sample(&mut rng);
                redrawn[i] = if ivar[i] > 0.0 {
                    flux[i] + e / ivar[i].sqrt()
                } else {
                    flux[i]
                };
            }
            let Ok(c) = fit_continuum(&wave, &redrawn, &ivar, &config.conti, Some(&conti)) else {
                continue;
            };
            let lf = subtract(&wave, &redrawn, &c.model);
            let mut cs = Vec::with_capacity(complexes.len());
            for best in &complexes {
                if let Ok(f) = fit_complex(
                    &config.lines,
                    best.complex,
                    &wave,
                    &lf,
                    &ivar,
                    Some((&best.result.params, best.wings)),
                ) {
                    cs.push(f);
                }
            }
            if cs.len() != complexes.len() {
                continue;
            }
            samples.push(measure(&wave, z, &c.model, &cs, config, sigma_inst));
        }
        mc_done = samples.len();
        if mc_done >= 2 {
            errors = Some(spread(&values, &samples));
        }
    }
    Ok(QsoFit {
        z,
        wave,
        flux,
        ivar,
        conti,
        complexes,
        skipped,
        values,
        errors,
        mc_done,
        sigma_inst_kms: sigma_inst,
    })
}

fn subtract(wave: &[f64], flux: &[f64], model: &Continuum) -> Vec<f64> {
    let mut out = model.values(wave);
    for (o, f) in out.iter_mut().zip(flux) {
        *o = f - *o;
    }
    out
}

/// Every measurement from a continuum and the complexes.
fn measure(
    wave: &[f64],
    z: f64,
    conti: &Continuum,
    complexes: &[ComplexFit],
    config: &FitConfig,
    sigma_inst_kms: f64,
) -> Measurements {
    let (wmin, wmax) = (wave[0], wave[wave.len() - 1]);
    let lum = |l: f64| {
        if l > wmin && l < wmax {
            log_lambda_l(
                l,
                conti.component(crate::fit::conti::Component::PowerLaw, l),
                z,
            )
        } else {
            f64::NAN
        }
    };
    let smooth = |l: f64| conti.smooth(l);
    let p = &conti.params;
    let mut m = Measurements {
        log_l1350: lum(1350.0),
        log_l3000: lum(3000.0),
        log_l5100: lum(5100.0),
        pl_slope: p[crate::fit::conti::idx::PL_SLOPE],
        fe_op_flux: conti_fe(conti, crate::fit::conti::idx::FE_OP, 4435.0, 4685.0),
        fe_op_fwhm: if p[crate::fit::conti::idx::FE_OP] > 0.0 {
            p[crate::fit::conti::idx::FE_OP + 1]
        } else {
            f64::NAN
        },
        fe_uv_flux: conti_fe(conti, crate::fit::conti::idx::FE_UV, 2200.0, 3090.0),
        lines: BTreeMap::new(),
        oiii: Kinematics::nan(),
        oiii_core_v: f64::NAN,
        oiii_wing_v: f64::NAN,
        oiii_dv: f64::NAN,
        log_mbh_hb: f64::NAN,
        log_mbh_mgii: f64::NAN,
        log_mbh_civ: f64::NAN,
        outflow: OiiiOutflow::nan(),
    };
    for c in complexes {
        let spec = &config.lines.complex[c.complex];
        let g = c.gauss_params();
        for (li, l) in spec.line.iter().enumerate() {
            let pick = |wing: Option<bool>| -> Vec<f64> {
                c.layout
                    .gaussians
                    .iter()
                    .zip(g.chunks_exact(3))
                    .filter(|(gs, _)| gs.line == li && wing.is_none_or(|w| gs.wing == w))
                    .flat_map(|(_, v)| v.iter().copied())
                    .collect()
            };
            let all = pick(None);
            m.lines
                .insert(l.name.clone(), line_props(&all, l.rest, &smooth));
            if l.wing {
                let core = pick(Some(false));
                let wing = pick(Some(true));
                let cp = line_props(&core, l.rest, &smooth);
                let wp = if c.wings {
                    line_props(&wing, l.rest, &smooth)
                } else {
                    LineProps::nan()
                };
                m.lines.insert(format!("{}_CORE", l.name), cp);
                m.lines.insert(format!("{}_WING", l.name), wp);
                if l.name == config.oiii_line {
                    let centre = |v: &[f64]| {
                        if v.len() == 3 {
                            (v[1] - OIII_5007_A.ln()) * C_KM_S
                        } else {
                            f64::NAN
                        }
                    };
                    m.oiii = kinematics(
                        &all,
                        l.rest,
                        if sigma_inst_kms.is_finite() {
                            sigma_inst_kms
                        } else {
                            0.0
                        },
                    );
                    m.oiii_core_v = centre(&core);
                    if c.wings && wing.len() == 3 {
                        m.oiii_wing_v = centre(&wing);
                        m.oiii_dv = m.oiii_wing_v - m.oiii_core_v;
                        let sigma_wing = wing[2] * C_KM_S;
                        m.outflow =
                            oiii_outflow(wp.flux, m.oiii_wing_v, sigma_wing, z, &config.outflow);
                    }
                }
            }
            if l.kind == LineKind::Broad {
                let fwhm = m.lines[&l.name].fwhm_kms;
                if l.name == MBH_HBETA.line {
                    m.log_mbh_hb = log_mbh(&MBH_HBETA, fwhm, m.log_l5100);
                } else if l.name == MBH_MGII.line {
                    m.log_mbh_mgii = log_mbh(&MBH_MGII, fwhm, m.log_l3000);
                } else if l.name == MBH_CIV.line {
                    m.log_mbh_civ = log_mbh(&MBH_CIV, fwhm, m.log_l1350);
                }
            }
        }
    }
    m
}

fn conti_fe(conti: &Continuum, k: usize, lo: f64, hi: f64) -> f64 {
    if conti.params[k] == 0.0 {
        return 0.0;
    }
    let mut only = conti.clone();
    let other = if k == crate::fit::conti::idx::FE_OP {
        crate::fit::conti::idx::FE_UV
    } else {
        crate::fit::conti::idx::FE_OP
    };
    only.params[other] = 0.0;
    only.fe_flux(lo, hi)
}

impl Measurements {
    /// Every value as `(column name, value)`, in a fixed order: the
    /// catalog's columns (line names upper-cased, e.g. `HB_BR_FWHM`,
    /// `OIII5007_WING_FLUX`).
    pub fn columns(&self) -> Vec<(String, f64)> {
        let mut c: Vec<(String, f64)> = vec![
            ("LOG_L1350".into(), self.log_l1350),
            ("LOG_L3000".into(), self.log_l3000),
            ("LOG_L5100".into(), self.log_l5100),
            ("PL_SLOPE".into(), self.pl_slope),
            ("FE_OP_FLUX".into(), self.fe_op_flux),
            ("FE_OP_FWHM".into(), self.fe_op_fwhm),
            ("FE_UV_FLUX".into(), self.fe_uv_flux),
        ];
        for (name, p) in &self.lines {
            let n = name.to_uppercase();
            c.push((format!("{n}_FWHM"), p.fwhm_kms));
            c.push((format!("{n}_SIGMA"), p.sigma_kms));
            c.push((format!("{n}_EW"), p.ew_a));
            c.push((format!("{n}_PEAK"), p.peak_a));
            c.push((format!("{n}_PEAK_V"), p.peak_v_kms));
            c.push((format!("{n}_FLUX"), p.flux));
        }
        c.extend([
            ("OIII_V10".into(), self.oiii.v10),
            ("OIII_V50".into(), self.oiii.v50),
            ("OIII_V90".into(), self.oiii.v90),
            ("OIII_W80".into(), self.oiii.w80),
            ("OIII_CORE_V".into(), self.oiii_core_v),
            ("OIII_WING_V".into(), self.oiii_wing_v),
            ("OIII_DV".into(), self.oiii_dv),
            ("LOG_MBH_HB".into(), self.log_mbh_hb),
            ("LOG_MBH_MGII".into(), self.log_mbh_mgii),
            ("LOG_MBH_CIV".into(), self.log_mbh_civ),
            ("LOG_L_OIII_WING".into(), self.outflow.log_l_wing),
            ("OUTFLOW_V".into(), self.outflow.v_out_kms),
            ("OUTFLOW_MASS".into(), self.outflow.mass_msun),
            ("OUTFLOW_MDOT".into(), self.outflow.mdot_msun_yr),
            ("OUTFLOW_EKIN".into(), self.outflow.e_kin_erg_s),
        ]);
        c
    }
}

/// Half the 16-84 % range of each column over the samples (finite values
/// only; NaN when fewer than two are finite), in the shape of `best`.
fn spread(best: &Measurements, samples: &[Measurements]) -> Measurements {
    let cols: Vec<Vec<(String, f64)>> = samples.iter().map(|s| s.columns()).collect();
    let names = best.columns();
    let mut errs: BTreeMap<String, f64> = BTreeMap::new();
    for (j, (name, _)) in names.iter().enumerate() {
        let mut v: Vec<f64> = cols
            .iter()
            .filter_map(|c| c.get(j).filter(|(n, _)| n == name).map(|(_, x)| *x))
            .filter(|x| x.is_finite())
            .collect();
        let e = if v.len() >= 2 {
            v.sort_by(f64::total_cmp);
            0.5 * (percentile(&v, 0.84) - percentile(&v, 0.16))
        } else {
            f64::NAN
        };
        errs.insert(name.clone(), e);
    }
    let get = |k: &str| errs.get(k).copied().unwrap_or(f64::NAN);
    Measurements::from_columns(best.lines.keys(), get)
}

impl Measurements {
    /// The measurements named as in [`Measurements::columns`], with lines
    /// `line_names`, each value `get(column name)`.
    fn from_columns<'a>(
        line_names: impl IntoIterator<Item = &'a String>,
        get: impl Fn(&str) -> f64,
    ) -> Measurements {
        let mut lines = BTreeMap::new();
        for name in line_names {
            let n = name.to_uppercase();
            lines.insert(
                name.clone(),
                LineProps {
                    fwhm_kms: get(&format!("{n}_FWHM")),
                    sigma_kms: get(&format!("{n}_SIGMA")),
                    ew_a: get(&format!("{n}_EW")),
                    peak_a: get(&format!("{n}_PEAK")),
                    peak_v_kms: get(&format!("{n}_PEAK_V")),
                    flux: get(&format!("{n}_FLUX")),
                },
            );
        }
        Measurements {
            log_l1350: get("LOG_L1350"),
            log_l3000: get("LOG_L3000"),
            log_l5100: get("LOG_L5100"),
            pl_slope: get("PL_SLOPE"),
            fe_op_flux: get("FE_OP_FLUX"),
            fe_op_fwhm: get("FE_OP_FWHM"),
            fe_uv_flux: get("FE_UV_FLUX"),
            lines,
            oiii: Kinematics {
                v10: get("OIII_V10"),
                v50: get("OIII_V50"),
                v90: get("OIII_V90"),
                w80: get("OIII_W80"),
                unresolved: false,
            },
            oiii_core_v: get("OIII_CORE_V"),
            oiii_wing_v: get("OIII_WING_V"),
            oiii_dv: get("OIII_DV"),
            log_mbh_hb: get("LOG_MBH_HB"),
            log_mbh_mgii: get("LOG_MBH_MGII"),
            log_mbh_civ: get("LOG_MBH_CIV"),
            outflow: OiiiOutflow {
                log_l_wing: get("LOG_L_OIII_WING"),
                v_out_kms: get("OUTFLOW_V"),
                mass_msun: get("OUTFLOW_MASS"),
                mdot_msun_yr: get("OUTFLOW_MDOT"),
                e_kin_erg_s: get("OUTFLOW_EKIN"),
            },
        }
    }
}

/// The union of the catalog columns of fits whose measured lines are
/// `line_names` (rows of one catalog fit different complexes at different
/// redshifts), in [`Measurements::columns`]'s order.
pub fn catalog_columns<'a>(line_names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    Measurements::from_columns(line_names, |_| f64::NAN)
        .columns()
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// Linear-interpolated percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (pos - i as f64) * (sorted[j] - sorted[i])
}
