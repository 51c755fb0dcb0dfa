//! Synthetic DESI coadded spectra (galaxies and quasars) with injected
//! rarities, on DESI's B, R, Z wavelength grids.
//!
//! Units as DESI: flux density in 1e-17 erg s^-1 cm^-2 A^-1, vacuum
//! wavelengths in A, grids 3600-5800 (B), 5760-7620 (R), 7520-9824 A (Z) in
//! 0.8 A steps (desispec coadds; Guy et al. 2023, AJ 165, 144).
//!
//! - Galaxies: a stellar continuum `f_lambda ~ (lambda / 5500)^beta` times a
//!   smooth 4000 A break (a tanh step 15 A wide at 3975 A) whose height is
//!   solved for so that the model's Dn4000 (Balogh et al. 1999, ApJ 527, 54:
//!   <f_nu>(4000-4100) / <f_nu>(3850-3950)) equals the catalog DN4000; the
//!   slope `beta = 2 (Dn4000 - 1.5)` reddens with it, scaled to the fibre r flux of the catalog; plus Gaussian
//!   emission lines at their vacuum rest wavelengths with the FASTSPEC line
//!   fluxes of the catalog, widths from the velocity dispersion VDISP and the
//!   instrumental resolution added in quadrature; redshifted by Z.
//! - Quasars: the redrock QSO PCA templates (`rrtemplate-QSO-LOZ-v1.1.fits`
//!   for z < 1.6, `-HIZ-` above; basis vectors in the primary HDU on a
//!   log10-wavelength rest grid `CRVAL1 + i CDELT1`) with the first
//!   (mean-like) vector plus small random coefficients on the others, floored
//!   to stay positive. Without templates: a power law `f_nu ~ nu^-0.5`
//!   (Vanden Berk et al. 2001, AJ 122, 549: alpha_nu = -0.44) with broad
//!   Lya, CIV, CIII], MgII, Hbeta, Halpha and narrow [OIII] at about the
//!   equivalent widths of that composite (its Table 2), and for z > 2 a
//!   Lya forest of random Gaussian absorbers whose mean optical depth
//!   follows `tau_eff = 0.0018 (1 + z)^3.92` (Faucher-Giguere et al. 2008,
//!   ApJ 681, 831).
//! - Noise: per-pixel variance `sigma^2 ~ (sky + object + read^2) / T^2`
//!   with a throughput T falling at the blue end of B and the red end of Z
//!   and at the dichroic edges, a sky continuum and sky lines (OI 5579,
//!   NaD, OI 6302/6366 and a schematic OH forest redward of 6800 A, after
//!   the positions in Hanuschik 2003, A&A 407, 1157; strengths schematic);
//!   `flux = model + N(0, sigma)`, `ivar = 1 / sigma^2`. A few pixels per
//!   spectrum are masked (desispec `specmask` COSMIC = 2^2) with flux and
//!   ivar 0.
//! - Resolution: a Gaussian line-spread function of 0.8-1.1 pixel sigma
//!   stored as DESI's 11 diagonals (offsets +5..-5), each column summing
//!   to 1.
//! - Rarities (a fraction [`crate::SpectraConfig::rarity_fraction`] of the
//!   spectra, recorded in `spectra_truth.json`): broad absorption line
//!   troughs in CIV 1549.06, SiIV 1396.76 (and MgII 2798.75 for LoBALs) with
//!   balnicity index > 0 (Weymann et al. 1991, ApJ 373, 23: `BI = int_3000^
//!   25000 (1 - f(v) / 0.9) C dv`, C = 1 after 2000 km/s of contiguous
//!   absorption below 90 %); blueshifted broad [OIII] wings (Zakamska &
//!   Greene 2014, MNRAS 442, 784); reddened continua with the Calzetti et
//!   al. 2000 (ApJ 533, 682, Eqs. 4) attenuation curve; a sharp step in the
//!   continuum; instrumental artefacts (a dead column of zeros with ivar 0,
//!   an unflagged cosmic-ray spike, an arm dropped with flux and ivar 0).
//!   Artefacts are left unflagged in MASK on purpose: they are there to be
//!   found.
//! - With a [`crate::RarityMix`] (the anomaly benchmark, see
//!   [`crate::DemoConfig::anomaly_benchmark`]) the quasars' rarities are
//!   allotted exactly and may also be intervening narrow absorbers (Mg II,
//!   C IV, DLA), shifted or double-peaked broad lines, arm-junction steps,
//!   stars or galaxies written as quasars, and BALs of varied strength;
//!   their models are in `rarities.rs`, with references.
//!
//! Deterministic: every spectrum draws from its own ChaCha8 streams seeded
//! by the config seed and its TARGETID (one stream for the model, one for
//! the rarity, one for the noise), so the model of a spectrum does not
//! depend on whether a rarity was injected into it. The writer simulates
//! one HEALPix group at a time, so memory stays at one file's spectra
//! whatever the number of quasars.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::population::gauss;
use crate::sky::SyntheticSky;
use crate::targets::ObjectKind;
use crate::DemoError;

/// Speed of light (km/s).
pub(crate) const C_KM_S: f64 = 299_792.458;
/// Speed of light (A/s), for f_nu -> f_lambda.
const C_A_S: f64 = 2.997_924_58e18;
/// Pixel step of every arm (A).
pub const WAVE_STEP_A: f64 = 0.8;
/// Diagonals of the DESI resolution matrix.
pub const RESOLUTION_NDIAG: usize = 11;

/// One spectrograph arm: its letter and wavelength grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arm {
    /// `B`, `R` or `Z` (the HDU prefix).
    pub name: &'static str,
    pub wave_min_a: f64,
    pub n_pix: usize,
}

impl Arm {
    /// Pixel centres (A), `wave_min_a + i * 0.8`.
    pub fn wavelength_a(&self) -> Vec<f64> {
        (0..self.n_pix)
            .map(|i| self.wave_min_a + i as f64 * WAVE_STEP_A)
            .collect()
    }
}

/// DESI's three arms, exactly the coadd grids.
pub const ARMS: [Arm; 3] = [
    Arm {
        name: "B",
        wave_min_a: 3600.0,
        n_pix: 2751,
    },
    Arm {
        name: "R",
        wave_min_a: 5760.0,
        n_pix: 2326,
    },
    Arm {
        name: "Z",
        wave_min_a: 7520.0,
        n_pix: 2881,
    },
];

/// desispec `specmask` bits used here.
pub const MASK_COSMIC: u32 = 1 << 2;

/// Vacuum rest wavelengths (A) of [`crate::LINE_NAMES`], in that order.
pub const LINE_REST_A: [f64; crate::N_LINES] = [
    3727.09, 3729.88, 4862.68, 4960.30, 5008.24, 6549.86, 6564.61, 6585.27, 6718.29, 6732.67,
];

pub(crate) const LYA_A: f64 = 1215.67;
pub(crate) const SIIV_A: f64 = 1396.76;
pub(crate) const CIV_A: f64 = 1549.06;
pub(crate) const CIII_A: f64 = 1908.73;
pub(crate) const MGII_A: f64 = 2798.75;
pub(crate) const HBETA_A: f64 = 4862.68;
pub(crate) const HALPHA_A: f64 = 6564.61;
const OIII_5007_A: f64 = 5008.24;
const OIII_4959_A: f64 = 4960.30;

/// One BAL trough, in outflow velocity (positive = towards us).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BalTrough {
    pub line: &'static str,
    pub rest_wavelength_a: f64,
    pub v_min_km_s: f64,
    pub v_max_km_s: f64,
    /// Fractional depth of the flat trough bottom (1 - transmission).
    pub depth: f64,
    /// Observed wavelengths of the trough bottom (A): [v_max, v_min] edges.
    pub observed_min_a: f64,
    pub observed_max_a: f64,
}

/// An injected rarity and its parameters (what the truth table records).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rarity {
    /// Broad absorption troughs; the same outflow in every listed line
    /// (those whose trough falls on the observed grid).
    Bal {
        troughs: Vec<BalTrough>,
        /// Weymann et al. (1991) balnicity index of the CIV trough (km/s),
        /// of the first listed trough when CIV is off the grid.
        balnicity_km_s: f64,
    },
    /// A broad blueshifted [OIII] 4959/5007 component.
    OiiiOutflow {
        velocity_km_s: f64,
        fwhm_km_s: f64,
        /// Flux of the wing over the narrow line flux.
        flux_fraction: f64,
    },
    /// Calzetti et al. (2000) attenuation applied in the rest frame.
    Reddened { ebv_mag: f64 },
    /// Flux blueward of `observed_wavelength_a` multiplied by `factor`.
    SharpBreak {
        observed_wavelength_a: f64,
        factor: f64,
    },
    /// `n_pixels` pixels of flux 0 and ivar 0 (MASK left 0).
    DeadColumn {
        arm: &'static str,
        first_pixel: usize,
        n_pixels: usize,
    },
    /// Unflagged cosmic-ray hits: flux raised by `amplitude` (1e-17 units).
    CosmicSpike {
        arm: &'static str,
        first_pixel: usize,
        n_pixels: usize,
        amplitude: f64,
    },
    /// A whole arm with flux 0 and ivar 0 (MASK left 0).
    DroppedArm { arm: &'static str },
    /// An intervening absorption system below the quasar's redshift: a
    /// strong Mg II or C IV doublet, or a damped Ly-alpha system (DLA).
    NarrowAbsorber {
        /// `MgII`, `CIV` or `DLA`.
        system: &'static str,
        z_abs: f64,
        /// Doppler parameter `b = sqrt(2) sigma_v` (km/s).
        b_km_s: f64,
        /// `log10 N(HI) / cm^-2` (DLA only).
        #[serde(skip_serializing_if = "Option::is_none")]
        log_n_hi: Option<f64>,
        /// Rest equivalent width of the whole system (A): less than the
        /// sum of the lines' when a wide doublet blends.
        total_rest_ew_a: f64,
        lines: Vec<AbsorberLine>,
    },
    /// Every broad emission line on the grid moved by `velocity_km_s`
    /// (positive: redshifted) against the systemic redshift Z.
    ShiftedLines {
        velocity_km_s: f64,
        lines: Vec<&'static str>,
    },
    /// Broad lines split into a blue and a red peak at `-+ half_separation`.
    DoublePeakedLines {
        half_separation_km_s: f64,
        /// Share of the line flux in the blue peak.
        blue_fraction: f64,
        lines: Vec<&'static str>,
    },
    /// A flux-calibration step: every arm redward of the `junction` (`B/R`
    /// or `R/Z` dichroic) multiplied by `factor`, its ivar by `1/factor^2`.
    ArmStep { junction: &'static str, factor: f64 },
    /// A star (schematic model) written as a quasar at the catalog's Z.
    StarAsQso { teff_k: f64, velocity_km_s: f64 },
    /// A galaxy at `z_galaxy` written as a quasar at the catalog's Z.
    GalaxyAsQso {
        z_galaxy: f64,
        dn4000: f64,
        vdisp_km_s: f64,
        /// Rest-frame equivalent width of its H-alpha emission (A).
        halpha_rest_ew_a: f64,
    },
}

/// One absorption line of a [`Rarity::NarrowAbsorber`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbsorberLine {
    pub line: &'static str,
    /// Vacuum rest wavelength (A).
    pub rest_wavelength_a: f64,
    /// `rest_wavelength_a * (1 + z_abs)`.
    pub observed_wavelength_a: f64,
    pub oscillator_strength: f64,
    /// Optical depth at the line centre (before the instrument).
    pub tau0: f64,
    /// Rest-frame equivalent width of this line alone (A).
    pub rest_ew_a: f64,
}

impl Rarity {
    /// The `kind` name used in the truth table.
    pub fn kind(&self) -> &'static str {
        match self {
            Rarity::Bal { .. } => "bal",
            Rarity::OiiiOutflow { .. } => "oiii_outflow",
            Rarity::Reddened { .. } => "reddened",
            Rarity::SharpBreak { .. } => "sharp_break",
            Rarity::DeadColumn { .. } => "dead_column",
            Rarity::CosmicSpike { .. } => "cosmic_spike",
            Rarity::DroppedArm { .. } => "dropped_arm",
            Rarity::NarrowAbsorber { .. } => "narrow_absorber",
            Rarity::ShiftedLines { .. } => "shifted_lines",
            Rarity::DoublePeakedLines { .. } => "double_peaked_lines",
            Rarity::ArmStep { .. } => "arm_step",
            Rarity::StarAsQso { .. } => "star_as_qso",
            Rarity::GalaxyAsQso { .. } => "galaxy_as_qso",
        }
    }

    /// The class of issue 17 the rarity belongs to: `bal`,
    /// `narrow_absorber`, `line_kinematics`, `odd_continuum`, `artefact`
    /// or `not_a_quasar`.
    pub fn class(&self) -> &'static str {
        match self {
            Rarity::Bal { .. } => "bal",
            Rarity::NarrowAbsorber { .. } => "narrow_absorber",
            Rarity::OiiiOutflow { .. }
            | Rarity::ShiftedLines { .. }
            | Rarity::DoublePeakedLines { .. } => "line_kinematics",
            Rarity::Reddened { .. } | Rarity::SharpBreak { .. } => "odd_continuum",
            Rarity::DeadColumn { .. }
            | Rarity::CosmicSpike { .. }
            | Rarity::DroppedArm { .. }
            | Rarity::ArmStep { .. } => "artefact",
            Rarity::StarAsQso { .. } | Rarity::GalaxyAsQso { .. } => "not_a_quasar",
        }
    }

    /// Artefacts (not astrophysical): the model is untouched, the data are.
    pub fn is_artefact(&self) -> bool {
        self.class() == "artefact"
    }
}

/// One simulated coadded spectrum; per-arm vectors in [`ARMS`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSpectrum {
    pub targetid: i64,
    pub kind: ObjectKind,
    /// Row in [`SyntheticSky::zcatalog`].
    pub zcat_row: usize,
    pub healpix: i32,
    pub z: f64,
    pub flux: [Vec<f32>; 3],
    pub ivar: [Vec<f32>; 3],
    pub mask: [Vec<u32>; 3],
    /// The noiseless model (rarities included, artefacts excluded).
    pub model: [Vec<f32>; 3],
    /// Redrock-like COEFF (template coefficients, zero padded to 10).
    pub coeff: [f64; 10],
    pub rarity: Option<Rarity>,
    /// How visible the rarity is in this spectrum's noise: `sum ivar (E -
    /// E0)^2` over the pixels, with `E` the expected flux with the rarity
    /// (artefacts included) and `E0` without, `ivar` as written. About 25
    /// is a 5 sigma feature; 0 for what has ivar 0 (dead columns, dropped
    /// arms). `None` without a rarity.
    pub rarity_delta_chi2: Option<f64>,
}

/// The spectra of one HEALPix pixel and program (one coadd + redrock file).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectraGroup {
    /// `bright` (galaxies) or `dark` (quasars).
    pub program: &'static str,
    pub healpix: i32,
    pub spectra: Vec<SimSpectrum>,
}

impl SpectraGroup {
    pub fn coadd_file(&self) -> String {
        format!("coadd-main-{}-{}.fits", self.program, self.healpix)
    }
    pub fn redrock_file(&self) -> String {
        format!("redrock-main-{}-{}.fits", self.program, self.healpix)
    }
}

/// All simulated spectra, grouped as DESI healpix coadds.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpectra {
    /// Bright (galaxy) groups first, then dark (quasar) groups, each sorted
    /// by HEALPix pixel; spectra in TARGETID order inside a group.
    pub groups: Vec<SpectraGroup>,
    /// `redrock-templates` or `power-law` (the QSO model used).
    pub qso_model: &'static str,
}

/// The redrock QSO PCA basis of one template file.
#[derive(Debug, Clone)]
struct QsoTemplate {
    loglam0: f64,
    dloglam: f64,
    /// Basis vectors, each on the log-lambda grid.
    basis: Vec<Vec<f64>>,
}

impl QsoTemplate {
    fn load(path: &Path) -> Result<Self, DemoError> {
        let err = |reason: String| DemoError::Template {
            path: path.to_path_buf(),
            reason,
        };
        let f = astrolab_formats::FitsFile::open(path).map_err(|e| err(e.to_string()))?;
        let hdu = f.hdu_at(0).map_err(|e| err(e.to_string()))?;
        let h = &hdu.header;
        let (Some(loglam0), Some(dloglam)) = (h.get_f64("CRVAL1"), h.get_f64("CDELT1")) else {
            return Err(err("primary header lacks CRVAL1/CDELT1".into()));
        };
        if h.get_i64("LOGLAM") != Some(1) {
            return Err(err("expected LOGLAM = 1 (a log10-wavelength grid)".into()));
        }
        let (data, shape) = f.read_image_f64_at(0).map_err(|e| err(e.to_string()))?;
        if shape.len() != 2 || shape[0] == 0 || shape[1] < 10 {
            return Err(err(format!(
                "basis image has shape {shape:?}, expected (n, npix)"
            )));
        }
        let basis = data.chunks(shape[1]).map(<[f64]>::to_vec).collect();
        Ok(QsoTemplate {
            loglam0,
            dloglam,
            basis,
        })
    }

    fn rest_range_a(&self) -> (f64, f64) {
        let n = self.basis[0].len();
        (
            10f64.powf(self.loglam0),
            10f64.powf(self.loglam0 + (n - 1) as f64 * self.dloglam),
        )
    }

    /// Linear interpolation of `sum c_k v_k` at a rest wavelength (edge
    /// values outside the grid).
    fn eval(&self, coeff: &[f64], rest_a: f64) -> f64 {
        let n = self.basis[0].len();
        let x = ((rest_a.log10() - self.loglam0) / self.dloglam).clamp(0.0, (n - 1) as f64);
        let i = (x.floor() as usize).min(n - 2);
        let t = x - i as f64;
        coeff
            .iter()
            .zip(&self.basis)
            .map(|(c, v)| c * (v[i] * (1.0 - t) + v[i + 1] * t))
            .sum()
    }
}

/// The two redrock QSO templates (LOZ for z < 1.6, HIZ above).
#[derive(Debug, Clone)]
struct QsoTemplates {
    loz: QsoTemplate,
    hiz: QsoTemplate,
}

const QSO_TEMPLATE_Z_SPLIT: f64 = 1.6;

fn template_paths(dir: &Path) -> [PathBuf; 2] {
    [
        dir.join("rrtemplate-QSO-LOZ-v1.1.fits"),
        dir.join("rrtemplate-QSO-HIZ-v1.1.fits"),
    ]
}

fn load_templates(dir: Option<&Path>) -> Result<Option<QsoTemplates>, DemoError> {
    let Some(dir) = dir else { return Ok(None) };
    let [loz, hiz] = template_paths(dir);
    if !(loz.is_file() && hiz.is_file()) {
        return Ok(None);
    }
    Ok(Some(QsoTemplates {
        loz: QsoTemplate::load(&loz)?,
        hiz: QsoTemplate::load(&hiz)?,
    }))
}

/// Per-spectrum random stream (`purpose` 0 model, 1 rarity, 2 noise).
fn spectrum_rng(seed: u64, targetid: i64, purpose: u64) -> ChaCha8Rng {
    let mixed = seed ^ (targetid as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = ChaCha8Rng::seed_from_u64(mixed);
    rng.set_stream(100 + purpose);
    rng
}

/// Wavelength of every pixel of the three arms, concatenated.
fn all_wavelengths() -> Vec<f64> {
    ARMS.iter().flat_map(Arm::wavelength_a).collect()
}

/// Instrumental Gaussian sigma in pixels at fraction `t` across an arm.
fn lsf_sigma_px(t: f64) -> f64 {
    0.8 + 0.3 * t
}

/// Instrumental sigma (A) at an observed wavelength.
pub(crate) fn lsf_sigma_a(wave_a: f64) -> f64 {
    let arm = ARMS
        .iter()
        .rev()
        .find(|a| wave_a >= a.wave_min_a)
        .unwrap_or(&ARMS[0]);
    let t = ((wave_a - arm.wave_min_a) / (arm.n_pix as f64 * WAVE_STEP_A)).clamp(0.0, 1.0);
    lsf_sigma_px(t) * WAVE_STEP_A
}

/// DESI resolution data of one arm, shape (11, n_pix), offsets +5..-5.
pub fn resolution_data(arm: &Arm) -> Vec<f32> {
    let n = arm.n_pix;
    let half = (RESOLUTION_NDIAG / 2) as i64;
    let mut out = vec![0f32; RESOLUTION_NDIAG * n];
    for j in 0..n {
        let s = lsf_sigma_px(j as f64 / n as f64);
        let w: Vec<f64> = (0..RESOLUTION_NDIAG as i64)
            .map(|k| {
                let o = (half - k) as f64;
                (-0.5 * (o / s).powi(2)).exp()
            })
            .collect();
        let sum: f64 = w.iter().sum();
        for (k, wk) in w.iter().enumerate() {
            out[k * n + j] = (wk / sum) as f32;
        }
    }
    out
}

/// Add a Gaussian line of integrated `flux` at `center_a`, sigma `sigma_a`
/// (observed frame) to `model` on `wave`.
fn add_gaussian(model: &mut [f64], wave: &[f64], center_a: f64, sigma_a: f64, flux: f64) {
    if !(flux.is_finite() && flux != 0.0 && sigma_a > 0.0) {
        return;
    }
    let lo = center_a - 6.0 * sigma_a;
    let hi = center_a + 6.0 * sigma_a;
    let norm = flux / (sigma_a * (2.0 * std::f64::consts::PI).sqrt());
    let first = wave.partition_point(|&w| w < lo);
    for (m, &w) in model[first..]
        .iter_mut()
        .zip(&wave[first..])
        .take_while(|(_, &w)| w <= hi)
    {
        *m += norm * (-0.5 * ((w - center_a) / sigma_a).powi(2)).exp();
    }
}

/// f_lambda (1e-17 erg/s/cm2/A) of a flux in nanomaggies at `wave_a`.
fn nmgy_to_flam(nmgy: f64, wave_a: f64) -> f64 {
    nmgy * 3.631e-29 * C_A_S / (wave_a * wave_a) / 1e-17
}

/// Effective wavelength of the r band used to normalise models (A).
pub(crate) const R_BAND_A: f64 = 6200.0;

/// Calzetti et al. (2000) k(lambda), lambda in A (Eq. 4, R_V = 4.05),
/// extrapolated linearly below 1200 A.
pub fn calzetti_k(rest_a: f64) -> f64 {
    let l = (rest_a / 1e4).max(0.09);
    if l < 0.63 {
        2.659 * (-2.156 + 1.509 / l - 0.198 / (l * l) + 0.011 / (l * l * l)) + 4.05
    } else {
        2.659 * (-1.857 + 1.040 / l) + 4.05
    }
}

/// Observed wavelength of a line at rest `rest_a` emitted by gas moving
/// towards us at `v_km_s` in a source at redshift `z` (relativistic).
pub fn outflow_wavelength_a(rest_a: f64, z: f64, v_km_s: f64) -> f64 {
    let b = v_km_s / C_KM_S;
    rest_a * (1.0 + z) * ((1.0 - b) / (1.0 + b)).sqrt()
}

/// Outflow velocity (km/s) of an observed wavelength for a line (inverse
/// of [`outflow_wavelength_a`]).
fn outflow_velocity_km_s(rest_a: f64, z: f64, wave_a: f64) -> f64 {
    let l0 = rest_a * (1.0 + z);
    C_KM_S * (l0 * l0 - wave_a * wave_a) / (l0 * l0 + wave_a * wave_a)
}

/// Transmission of a BAL trough at `wave_a`: flat `1 - depth` between the
/// velocity limits, cosine tapers 500 km/s wide outside them.
fn bal_transmission(t: &BalTrough, z: f64, wave_a: f64) -> f64 {
    const TAPER: f64 = 500.0;
    let v = outflow_velocity_km_s(t.rest_wavelength_a, z, wave_a);
    let d = if v < t.v_min_km_s {
        t.v_min_km_s - v
    } else if v > t.v_max_km_s {
        v - t.v_max_km_s
    } else {
        0.0
    };
    if d >= TAPER {
        1.0
    } else {
        1.0 - t.depth * 0.5 * (1.0 + (std::f64::consts::PI * d / TAPER).cos())
    }
}

/// Weymann et al. (1991) balnicity of a flat trough (km/s).
pub fn balnicity_km_s(depth: f64, v_min_km_s: f64, v_max_km_s: f64) -> f64 {
    if depth <= 0.1 {
        return 0.0;
    }
    let lo = v_min_km_s.max(3000.0);
    let hi = v_max_km_s.min(25_000.0);
    (depth - 0.1) / 0.9 * (hi - lo - 2000.0).max(0.0)
}

/// Inputs of one spectrum taken from the catalogs.
pub(crate) struct Target {
    pub targetid: i64,
    pub kind: ObjectKind,
    pub zcat_row: usize,
    pub healpix: i32,
    pub z: f64,
    /// Fibre r flux (nanomaggies).
    pub fiber_r_nmgy: f64,
    pub tsnr2_bgs: f64,
    pub galaxy: Option<GalaxyInputs>,
    /// How this spectrum's rarity is chosen.
    pub planned: Planned,
}

/// How a spectrum's rarity is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Planned {
    /// With this probability, of a kind drawn from the default weights.
    Draw(f64),
    /// Allotted in advance (`SpectraConfig::rarity_mix`): this kind, or none.
    Kind(Option<&'static str>),
}

pub(crate) struct GalaxyInputs {
    pub dn4000: f64,
    pub vdisp_km_s: f64,
    pub line_flux: [f64; crate::N_LINES],
}

/// Galaxy continuum shape (rest frame, arbitrary units): a power law of
/// slope `beta` times a break of height `step` centred at 3975 A.
pub(crate) fn galaxy_continuum(rest_a: f64, beta: f64, step: f64) -> f64 {
    let s = 1.0 / step + (1.0 - 1.0 / step) * 0.5 * (1.0 + ((rest_a - 3975.0) / 15.0).tanh());
    (rest_a / 5500.0).powf(beta) * s
}

/// Dn4000 (Balogh et al. 1999): mean f_nu over 4000-4100 A over the mean
/// over 3850-3950 A, here of a rest-frame f_lambda function.
pub fn dn4000_of(f_lambda: impl Fn(f64) -> f64) -> f64 {
    let mean_fnu = |lo: f64| {
        (0..100)
            .map(|i| {
                let l = lo + i as f64 + 0.5;
                f_lambda(l) * l * l
            })
            .sum::<f64>()
    };
    mean_fnu(4000.0) / mean_fnu(3850.0)
}

/// Slope and break height of the continuum of a galaxy of the given
/// Dn4000: the slope reddens with Dn4000, the height is solved for so that
/// the model's own Dn4000 is the catalog's.
pub(crate) fn galaxy_continuum_params(dn4000: f64) -> (f64, f64) {
    let beta = (2.0 * (dn4000 - 1.5)).clamp(-1.5, 1.5);
    let target = dn4000.clamp(0.8, 4.0);
    let mut step = target;
    for _ in 0..20 {
        let got = dn4000_of(|l| galaxy_continuum(l, beta, step));
        step = (step * target / got).clamp(0.3, 10.0);
    }
    (beta, step)
}

/// Rest-frame equivalent widths (A) and FWHM (km/s) of the fallback QSO
/// lines (after Vanden Berk et al. 2001, Table 2).
const QSO_LINES: [(f64, f64, f64); 8] = [
    (LYA_A, 93.0, 4500.0),
    (CIV_A, 24.0, 5000.0),
    (CIII_A, 21.0, 5000.0),
    (MGII_A, 32.0, 4500.0),
    (HBETA_A, 46.0, 4000.0),
    (HALPHA_A, 195.0, 3500.0),
    (OIII_5007_A, 13.0, 500.0),
    (OIII_4959_A, 4.4, 500.0),
];

/// Rest-frame f_lambda of the fallback QSO (power law at 1 at 3000 A).
fn powerlaw_qso(rest: &[f64]) -> Vec<f64> {
    let mut f: Vec<f64> = rest.iter().map(|&l| (l / 3000.0).powf(-1.5)).collect();
    for &(l0, ew, fwhm) in &QSO_LINES {
        let cont = (l0 / 3000.0).powf(-1.5);
        let sigma = l0 * fwhm / C_KM_S / 2.354_82;
        add_gaussian(&mut f, rest, l0, sigma, ew * cont);
    }
    f
}

/// Lya forest transmission (observed frame) for a QSO at `z`.
fn lya_forest<R: Rng>(rng: &mut R, wave: &[f64], z: f64) -> Vec<f64> {
    const DENSITY_PER_A: f64 = 0.3;
    const SIGMA_A: f64 = 0.6;
    let mut tau = vec![0.0; wave.len()];
    let lo = (1040.0 * (1.0 + z)).max(wave[0] - 5.0);
    let hi = LYA_A * (1.0 + z);
    if hi <= lo {
        return vec![1.0; wave.len()];
    }
    let n = rng_poisson(rng, DENSITY_PER_A * (hi - lo));
    for _ in 0..n {
        let c: f64 = rng.gen_range(lo..hi);
        let z_abs = c / LYA_A - 1.0;
        let tau_eff = 0.0018 * (1.0 + z_abs).powf(3.92);
        let mean = tau_eff / (DENSITY_PER_A * SIGMA_A * (2.0 * std::f64::consts::PI).sqrt());
        let t0 = -mean * (1.0 - rng.gen::<f64>()).ln();
        add_gaussian(
            &mut tau,
            wave,
            c,
            SIGMA_A,
            t0 * SIGMA_A * (2.0 * std::f64::consts::PI).sqrt(),
        );
    }
    tau.iter().map(|t| (-t).exp()).collect()
}

/// Noiseless galaxy spectrum at redshift `z` on `wave` with the r-band
/// flux density `target_flam`, and the continuum normalisation used.
pub(crate) fn galaxy_model(
    wave: &[f64],
    z: f64,
    g: &GalaxyInputs,
    target_flam: f64,
) -> (Vec<f64>, f64) {
    let (beta, step) = galaxy_continuum_params(g.dn4000);
    let norm = target_flam / galaxy_continuum(R_BAND_A / (1.0 + z), beta, step);
    let mut m: Vec<f64> = wave
        .iter()
        .map(|w| galaxy_continuum(w / (1.0 + z), beta, step) * norm)
        .collect();
    for (k, &l0) in LINE_REST_A.iter().enumerate() {
        let obs = l0 * (1.0 + z);
        let sigma_v = obs * g.vdisp_km_s / C_KM_S;
        let sigma = (sigma_v * sigma_v + lsf_sigma_a(obs).powi(2)).sqrt();
        add_gaussian(&mut m, wave, obs, sigma, g.line_flux[k].max(0.0));
    }
    (m, norm)
}

/// The r-band flux density (1e-17 erg/s/cm^2/A) a target's model is
/// scaled to.
pub(crate) fn target_flam(t: &Target) -> f64 {
    nmgy_to_flam(t.fiber_r_nmgy.max(0.05), R_BAND_A)
}

/// The noiseless model (no rarity) and the COEFF of one target.
fn base_model(
    t: &Target,
    wave: &[f64],
    templates: Option<&QsoTemplates>,
    rng: &mut ChaCha8Rng,
) -> (Vec<f64>, [f64; 10]) {
    let z = t.z.max(0.0);
    let rest: Vec<f64> = wave.iter().map(|w| w / (1.0 + z)).collect();
    let mut coeff = [0.0; 10];
    let target_flam = target_flam(t);
    let mut model = match (&t.galaxy, templates) {
        (Some(g), _) => {
            let (m, norm) = galaxy_model(wave, z, g, target_flam);
            for (i, c) in coeff.iter_mut().enumerate() {
                *c = norm * gauss(rng, 1.0) / (1.0 + i as f64);
            }
            m
        }
        (None, Some(tpl)) => {
            let tp = if z < QSO_TEMPLATE_Z_SPLIT {
                &tpl.loz
            } else {
                &tpl.hiz
            };
            let rms = |v: &[f64]| (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
            let r0 = rms(&tp.basis[0]);
            let mut c = vec![1.0];
            for v in &tp.basis[1..] {
                c.push(0.08 * gauss(rng, 1.0) * r0 / rms(v).max(1e-12));
            }
            let raw: Vec<f64> = rest.iter().map(|&l| tp.eval(&c, l)).collect();
            let mut sorted: Vec<f64> = raw.iter().map(|x| x.abs()).collect();
            sorted.sort_by(f64::total_cmp);
            let floor = 0.02 * sorted[sorted.len() / 2];
            let (lo, hi) = tp.rest_range_a();
            let at_r = tp.eval(&c, (R_BAND_A / (1.0 + z)).clamp(lo, hi)).max(floor);
            let norm = target_flam / at_r;
            for (k, ck) in c.iter().enumerate().take(10) {
                coeff[k] = ck * norm;
            }
            raw.iter().map(|x| x.max(floor) * norm).collect()
        }
        (None, None) => {
            let shape = powerlaw_qso(&rest);
            let r = powerlaw_qso(&[R_BAND_A / (1.0 + z)])[0];
            let norm = target_flam / r;
            coeff[0] = norm;
            let mut m: Vec<f64> = shape.iter().map(|s| s * norm).collect();
            if z > 2.0 {
                let tr = lya_forest(rng, wave, z);
                for (x, t) in m.iter_mut().zip(tr) {
                    *x *= t;
                }
            }
            m
        }
    };
    for x in &mut model {
        *x = x.max(0.0);
    }
    (model, coeff)
}

/// Kinds of rarity available for a target, drawn by weight.
fn draw_rarity(rng: &mut ChaCha8Rng, t: &Target) -> Rarity {
    let arm = ARMS[rng.gen_range(0..3)];
    let u: f64 = rng.gen();
    let is_qso = t.kind == ObjectKind::Qso;
    // QSOs: 50 % BAL; galaxies: 40 % [OIII] outflow; then continua and
    // artefacts.
    let astro_cut = if is_qso { 0.5 } else { 0.4 };
    if u < astro_cut {
        if is_qso {
            if let Some(b) = draw_bal(rng, t.z) {
                return b;
            }
        } else {
            return Rarity::OiiiOutflow {
                velocity_km_s: -rng.gen_range(500.0..1500.0),
                fwhm_km_s: rng.gen_range(800.0..1600.0),
                flux_fraction: rng.gen_range(0.5..1.0),
            };
        }
    }
    if u < astro_cut + 0.2 {
        return Rarity::Reddened {
            ebv_mag: rng.gen_range(0.3..0.8),
        };
    }
    if u < astro_cut + 0.3 {
        return Rarity::SharpBreak {
            observed_wavelength_a: rng.gen_range(4500.0..8500.0),
            factor: rng.gen_range(0.2..0.5),
        };
    }
    match rng.gen_range(0..3) {
        0 => Rarity::DeadColumn {
            arm: arm.name,
            first_pixel: rng.gen_range(100..arm.n_pix - 200),
            n_pixels: rng.gen_range(5..40),
        },
        1 => Rarity::CosmicSpike {
            arm: arm.name,
            first_pixel: rng.gen_range(100..arm.n_pix - 200),
            n_pixels: rng.gen_range(1..4),
            amplitude: rng.gen_range(50.0..500.0),
        },
        _ => Rarity::DroppedArm { arm: arm.name },
    }
}

/// A BAL outflow whose trough falls on the grid in at least one line.
fn draw_bal(rng: &mut ChaCha8Rng, z: f64) -> Option<Rarity> {
    let v_min: f64 = rng.gen_range(3000.0..15_000.0);
    let v_max = (v_min + rng.gen_range(3000.0..10_000.0f64)).min(25_000.0);
    let depth = rng.gen_range(0.3..0.9);
    let lobal = rng.gen::<f64>() < 0.3;
    let (wmin, wmax) = (
        ARMS[0].wave_min_a,
        ARMS[2].wave_min_a + 2880.0 * WAVE_STEP_A,
    );
    bal_rarity(z, v_min, v_max, depth, lobal, (wmin, wmax))
}

/// The BAL rarity of an outflow at `v_min..v_max` (km/s) with a trough of
/// `depth`: SiIV and CIV (HiBAL), with MgII too for LoBALs or when the
/// high-ionisation troughs fall blueward of the grid; only the troughs
/// inside `grid` (observed A) are kept, and None when none is.
pub(crate) fn bal_rarity(
    z: f64,
    v_min: f64,
    v_max: f64,
    depth: f64,
    lobal: bool,
    grid: (f64, f64),
) -> Option<Rarity> {
    let mut troughs = Vec::new();
    for (line, rest) in [("SiIV", SIIV_A), ("CIV", CIV_A), ("MgII", MGII_A)] {
        if line == "MgII" && !(lobal || troughs.is_empty()) {
            continue;
        }
        let lo = outflow_wavelength_a(rest, z, v_max);
        let hi = outflow_wavelength_a(rest, z, v_min);
        if lo >= grid.0 && hi <= grid.1 {
            troughs.push(BalTrough {
                line,
                rest_wavelength_a: rest,
                v_min_km_s: v_min,
                v_max_km_s: v_max,
                depth,
                observed_min_a: lo,
                observed_max_a: hi,
            });
        }
    }
    if troughs.is_empty() {
        return None;
    }
    Some(Rarity::Bal {
        balnicity_km_s: balnicity_km_s(depth, v_min, v_max),
        troughs,
    })
}

/// Apply an astrophysical rarity to the model (artefacts come later).
fn apply_to_model(model: &mut [f64], wave: &[f64], t: &Target, r: &Rarity) {
    let z = t.z.max(0.0);
    match r {
        Rarity::Bal { troughs, .. } => {
            for tr in troughs {
                for (m, &w) in model.iter_mut().zip(wave) {
                    if w > tr.observed_min_a - 50.0 && w < tr.observed_max_a + 50.0 {
                        *m *= bal_transmission(tr, z, w);
                    }
                }
            }
        }
        Rarity::OiiiOutflow {
            velocity_km_s,
            fwhm_km_s,
            flux_fraction,
        } => {
            let narrow = t
                .galaxy
                .as_ref()
                .map_or([0.0, 0.0], |g| [g.line_flux[4], g.line_flux[3]]);
            for (rest, f) in [(OIII_5007_A, narrow[0]), (OIII_4959_A, narrow[1])] {
                let c = outflow_wavelength_a(rest, z, -velocity_km_s);
                let sigma = c * fwhm_km_s / C_KM_S / 2.354_82;
                add_gaussian(model, wave, c, sigma, f.max(0.0) * flux_fraction);
            }
        }
        Rarity::Reddened { ebv_mag } => {
            for (m, &w) in model.iter_mut().zip(wave) {
                *m *= 10f64.powf(-0.4 * ebv_mag * calzetti_k(w / (1.0 + z)));
            }
        }
        Rarity::SharpBreak {
            observed_wavelength_a,
            factor,
        } => {
            for (m, &w) in model.iter_mut().zip(wave) {
                if w < *observed_wavelength_a {
                    *m *= factor;
                }
            }
        }
        _ => {}
    }
}

/// Sky lines (vacuum A, relative strength): atomic lines plus a schematic
/// OH forest redward of 6800 A.
fn sky_lines() -> Vec<(f64, f64)> {
    let mut lines = vec![
        (5578.9, 8.0),
        (5891.6, 2.0),
        (5897.6, 2.0),
        (6302.0, 4.0),
        (6365.5, 1.5),
    ];
    // Fixed generator (not the config seed): the sky is the same every night.
    let mut rng = ChaCha8Rng::seed_from_u64(0x05ca_1e55);
    let mut w = 6800.0;
    while w < 9900.0 {
        w += rng.gen_range(8.0..30.0);
        let strength = (0.5 + 3.0 * (w - 6800.0) / 3000.0) * rng.gen_range(0.3..2.0);
        lines.push((w, strength));
    }
    lines
}

/// Sky background (1e-17 erg/s/cm2/A in the fibre) on the grid.
fn sky_spectrum(wave: &[f64]) -> Vec<f64> {
    let mut sky: Vec<f64> = wave.iter().map(|w| 0.6 + 0.4 * (w / 6000.0)).collect();
    for (c, s) in sky_lines() {
        let sigma = lsf_sigma_a(c);
        add_gaussian(&mut sky, wave, c, sigma, s * 4.0);
    }
    sky
}

/// Total throughput: broad optical response, low at the ends of B and Z,
/// with dips at the dichroic edges.
fn throughput(wave: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(wave.len());
    for arm in &ARMS {
        let lo = arm.wave_min_a;
        let hi = lo + (arm.n_pix - 1) as f64 * WAVE_STEP_A;
        for w in arm.wavelength_a() {
            let broad = (-0.5 * ((w - 6500.0) / 2000.0).powi(2)).exp();
            let edge = 1.0 - 0.5 * (-(w - lo) / 30.0).exp() - 0.5 * (-(hi - w) / 30.0).exp();
            out.push(0.35 * broad * edge);
        }
    }
    debug_assert_eq!(out.len(), wave.len());
    out
}

/// Shared per-grid quantities of the noise model.
struct NoiseModel {
    sky: Vec<f64>,
    throughput: Vec<f64>,
}

const READ_NOISE2: f64 = 0.5;

impl NoiseModel {
    fn new(wave: &[f64]) -> Self {
        NoiseModel {
            sky: sky_spectrum(wave),
            throughput: throughput(wave),
        }
    }

    /// One-sigma noise per pixel for a model and a depth scale.
    fn sigma(&self, model: &[f64], depth_scale: f64) -> Vec<f64> {
        model
            .iter()
            .zip(&self.sky)
            .zip(&self.throughput)
            .map(|((m, s), t)| {
                depth_scale * 0.105 * (s + 0.3 * m.max(0.0) + READ_NOISE2).sqrt() / t.max(0.01)
            })
            .collect()
    }
}

pub(crate) fn arm_offset(k: usize) -> usize {
    ARMS[..k].iter().map(|a| a.n_pix).sum()
}

fn arm_index(name: &str) -> usize {
    ARMS.iter().position(|a| a.name == name).unwrap_or(0)
}

fn split3<T: Clone>(v: &[T]) -> [Vec<T>; 3] {
    [0, 1, 2].map(|k| v[arm_offset(k)..arm_offset(k) + ARMS[k].n_pix].to_vec())
}

fn simulate_one(
    seed: u64,
    t: &Target,
    wave: &[f64],
    noise: &NoiseModel,
    templates: Option<&QsoTemplates>,
) -> SimSpectrum {
    let mut model_rng = spectrum_rng(seed, t.targetid, 0);
    // The model stream as it starts, to evaluate the same object again at
    // other wavelengths (shifted and double-peaked lines).
    let model_rng_start = model_rng.clone();
    let mut rarity_rng = spectrum_rng(seed, t.targetid, 1);
    let mut noise_rng = spectrum_rng(seed, t.targetid, 2);
    let (mut model, coeff) = base_model(t, wave, templates, &mut model_rng);
    let rarity = match t.planned {
        Planned::Draw(fraction) => {
            (rarity_rng.gen::<f64>() < fraction).then(|| draw_rarity(&mut rarity_rng, t))
        }
        Planned::Kind(kind) => kind.map(|k| crate::rarities::draw_kind(&mut rarity_rng, t, k)),
    };
    let plain_model = rarity.is_some().then(|| model.clone());
    if let Some(r) = &rarity {
        apply_to_model(&mut model, wave, t, r);
        // The base model at wavelengths times `factor`: the same object
        // with every feature moved by 1 / factor.
        let base_at = |factor: f64| {
            let scaled: Vec<f64> = wave.iter().map(|w| w * factor).collect();
            base_model(t, &scaled, templates, &mut model_rng_start.clone()).0
        };
        crate::rarities::apply_to_model(&mut model, wave, t, r, &base_at);
    }
    let depth_scale = match t.kind {
        ObjectKind::Galaxy => (1000.0 / t.tsnr2_bgs.max(1.0)).sqrt().clamp(0.5, 5.0),
        _ => 1.0,
    };
    let sigma = noise.sigma(&model, depth_scale);
    let n = wave.len();
    let mut flux = vec![0f32; n];
    let mut ivar = vec![0f32; n];
    let mut mask = vec![0u32; n];
    for i in 0..n {
        let s = sigma[i];
        flux[i] = (model[i] + gauss(&mut noise_rng, s)) as f32;
        ivar[i] = (1.0 / (s * s)) as f32;
    }
    // A few flagged cosmic-ray pixels, as in every real coadd.
    let n_masked = rng_poisson(&mut noise_rng, 2.0);
    for _ in 0..n_masked {
        let i = noise_rng.gen_range(0..n);
        flux[i] = 0.0;
        ivar[i] = 0.0;
        mask[i] = MASK_COSMIC;
    }
    if let Some(r) = &rarity {
        match r {
            Rarity::DeadColumn {
                arm,
                first_pixel,
                n_pixels,
            } => {
                let o = arm_offset(arm_index(arm)) + first_pixel;
                for i in o..o + n_pixels {
                    flux[i] = 0.0;
                    ivar[i] = 0.0;
                    mask[i] = 0;
                }
            }
            Rarity::CosmicSpike {
                arm,
                first_pixel,
                n_pixels,
                amplitude,
            } => {
                let o = arm_offset(arm_index(arm)) + first_pixel;
                for i in o..o + n_pixels {
                    flux[i] += *amplitude as f32;
                    if ivar[i] == 0.0 {
                        ivar[i] = (1.0 / (sigma[i] * sigma[i])) as f32;
                    }
                    mask[i] = 0;
                }
            }
            Rarity::DroppedArm { arm } => {
                let k = arm_index(arm);
                let o = arm_offset(k);
                for i in o..o + ARMS[k].n_pix {
                    flux[i] = 0.0;
                    ivar[i] = 0.0;
                    mask[i] = 0;
                }
            }
            Rarity::ArmStep { junction, factor } => {
                // The arms redward of the junction: R and Z, or Z.
                let first = if *junction == "B/R" { 1 } else { 2 };
                for i in arm_offset(first)..n {
                    flux[i] *= *factor as f32;
                    ivar[i] /= (*factor * *factor) as f32;
                }
            }
            _ => {}
        }
    }
    let rarity_delta_chi2 = plain_model.map(|plain| {
        let mut expected = model.clone();
        match &rarity {
            Some(Rarity::ArmStep { junction, factor }) => {
                let first = if *junction == "B/R" { 1 } else { 2 };
                expected[arm_offset(first)..]
                    .iter_mut()
                    .for_each(|e| *e *= factor);
            }
            Some(Rarity::CosmicSpike {
                arm,
                first_pixel,
                n_pixels,
                amplitude,
            }) => {
                let o = arm_offset(arm_index(arm)) + first_pixel;
                expected[o..o + n_pixels]
                    .iter_mut()
                    .for_each(|e| *e += amplitude);
            }
            _ => {}
        }
        expected
            .iter()
            .zip(&plain)
            .zip(&ivar)
            .map(|((e, p), &iv)| f64::from(iv) * (e - p).powi(2))
            .sum()
    });
    let model32: Vec<f32> = model.iter().map(|&x| x as f32).collect();
    SimSpectrum {
        targetid: t.targetid,
        kind: t.kind,
        zcat_row: t.zcat_row,
        healpix: t.healpix,
        z: t.z,
        flux: split3(&flux),
        ivar: split3(&ivar),
        mask: split3(&mask),
        model: split3(&model32),
        coeff,
        rarity,
        rarity_delta_chi2,
    }
}

fn rng_poisson<R: Rng>(rng: &mut R, mean: f64) -> usize {
    rand_distr::Poisson::new(mean).map_or(0, |d| rng.sample(d) as usize)
}

/// Random stream of the target selection.
const SELECTION_STREAM: u64 = 9;
/// Random stream of the allotment of rarities ([`crate::RarityMix`]).
const RARITY_MIX_STREAM: u64 = 10;

/// Choose the targets: whole HEALPix pixels of galaxies (in a seeded random
/// order, while they fit under `max_galaxies`) and up to `n_qso` quasars.
fn select_targets(sky: &SyntheticSky) -> (Vec<Target>, Vec<Target>) {
    let cfg = &sky.config.spectra;
    let mut rng = ChaCha8Rng::seed_from_u64(sky.config.seed);
    rng.set_stream(SELECTION_STREAM);
    let g = &sky.galaxies;
    // Galaxy rows are sorted by HEALPIX: contiguous runs per pixel.
    let mut runs: Vec<(i32, usize, usize)> = Vec::new();
    for (i, &p) in g.healpix.iter().enumerate() {
        match runs.last_mut() {
            Some((q, _, end)) if *q == p => *end = i + 1,
            _ => runs.push((p, i, i + 1)),
        }
    }
    runs.shuffle(&mut rng);
    let mut chosen = Vec::new();
    let mut total = 0;
    for (_, a, b) in runs {
        if total + (b - a) <= cfg.max_galaxies {
            total += b - a;
            chosen.extend(a..b);
        }
    }
    chosen.sort_unstable();
    let galaxies = chosen
        .into_iter()
        .map(|i| {
            let s = &sky.zcatalog[g.zcat_row[i]];
            Target {
                targetid: g.targetid[i],
                kind: ObjectKind::Galaxy,
                zcat_row: g.zcat_row[i],
                healpix: g.healpix[i],
                z: g.z[i],
                fiber_r_nmgy: f64::from(s.fiberflux_nmgy[1]),
                tsnr2_bgs: f64::from(s.tsnr2_bgs),
                galaxy: Some(GalaxyInputs {
                    dn4000: g.dn4000[i],
                    vdisp_km_s: g.vdisp_km_s[i],
                    line_flux: g.line_flux[i],
                }),
                planned: Planned::Draw(cfg.rarity_fraction),
            }
        })
        .collect();
    let mut qso_rows: Vec<usize> = (0..sky.zcatalog.len())
        .filter(|&r| sky.zcatalog[r].kind == ObjectKind::Qso)
        .collect();
    qso_rows.shuffle(&mut rng);
    qso_rows.truncate(cfg.n_qso);
    qso_rows.sort_unstable();
    let planned: Vec<Planned> = match &cfg.rarity_mix {
        None => vec![Planned::Draw(cfg.rarity_fraction); qso_rows.len()],
        Some(mix) => {
            let mut mix_rng = ChaCha8Rng::seed_from_u64(sky.config.seed);
            mix_rng.set_stream(RARITY_MIX_STREAM);
            crate::rarities::allot_kinds(&mut mix_rng, qso_rows.len(), cfg.rarity_fraction, mix)
                .into_iter()
                .map(Planned::Kind)
                .collect()
        }
    };
    let qsos = qso_rows
        .into_iter()
        .zip(planned)
        .map(|(r, planned)| {
            let s = &sky.zcatalog[r];
            Target {
                targetid: s.targetid,
                kind: ObjectKind::Qso,
                zcat_row: r,
                healpix: s.healpix,
                z: s.z,
                // Point sources: the fibre sees about 78 % of the light.
                fiber_r_nmgy: 0.78 * f64::from(s.flux_nmgy[1]),
                tsnr2_bgs: f64::from(s.tsnr2_bgs),
                galaxy: None,
                planned,
            }
        })
        .collect();
    (galaxies, qsos)
}

/// Targets of consecutive equal HEALPix pixels, one group each.
fn group_targets(program: &'static str, targets: Vec<Target>) -> Vec<PlannedGroup> {
    let mut groups: Vec<PlannedGroup> = Vec::new();
    for t in targets {
        match groups.last_mut() {
            Some(g) if g.healpix == t.healpix => g.targets.push(t),
            _ => groups.push(PlannedGroup {
                program,
                healpix: t.healpix,
                targets: vec![t],
            }),
        }
    }
    groups
}

/// The targets of one coadd file, before simulation.
struct PlannedGroup {
    program: &'static str,
    healpix: i32,
    targets: Vec<Target>,
}

/// Everything needed to simulate the spectra of a sky one group at a time,
/// so that writing a large set holds one file's spectra in memory, not all.
pub(crate) struct SpectraPlan {
    seed: u64,
    templates: Option<QsoTemplates>,
    qso_model: &'static str,
    wave: Vec<f64>,
    noise: NoiseModel,
    /// Bright (galaxy) groups first, then dark (quasar) groups.
    groups: Vec<PlannedGroup>,
}

impl SpectraPlan {
    /// Load the templates and choose the targets of `sky` (none when the
    /// spectra are disabled).
    pub(crate) fn new(sky: &SyntheticSky) -> Result<Self, DemoError> {
        let cfg = &sky.config.spectra;
        let templates = load_templates(cfg.templates_dir.as_deref())?;
        let qso_model = if templates.is_some() {
            "redrock-templates"
        } else {
            "power-law"
        };
        let wave = all_wavelengths();
        let noise = NoiseModel::new(&wave);
        let groups = if cfg.enabled {
            let (galaxies, qsos) = select_targets(sky);
            // Targets are in zcatalog order (HEALPIX, then TARGETID).
            let mut g = group_targets("bright", galaxies);
            g.extend(group_targets("dark", qsos));
            g
        } else {
            Vec::new()
        };
        Ok(SpectraPlan {
            seed: sky.config.seed,
            templates,
            qso_model,
            wave,
            noise,
            groups,
        })
    }

    /// `redrock-templates` or `power-law`.
    pub(crate) fn qso_model(&self) -> &'static str {
        self.qso_model
    }

    pub(crate) fn n_groups(&self) -> usize {
        self.groups.len()
    }

    /// Simulate group `i` (0-based, in file order).
    pub(crate) fn group(&self, i: usize) -> SpectraGroup {
        let g = &self.groups[i];
        SpectraGroup {
            program: g.program,
            healpix: g.healpix,
            spectra: g
                .targets
                .iter()
                .map(|t| {
                    simulate_one(
                        self.seed,
                        t,
                        &self.wave,
                        &self.noise,
                        self.templates.as_ref(),
                    )
                })
                .collect(),
        }
    }
}

/// Simulate the spectra of `sky` as configured by
/// [`crate::DemoConfig::spectra`] (an empty set when disabled), all in
/// memory (about 0.13 MB a spectrum; [`crate::generate_sky`] writes them
/// one file at a time instead).
pub fn simulate_spectra(sky: &SyntheticSky) -> Result<SyntheticSpectra, DemoError> {
    let plan = SpectraPlan::new(sky)?;
    Ok(SyntheticSpectra {
        groups: (0..plan.n_groups()).map(|i| plan.group(i)).collect(),
        qso_model: plan.qso_model(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_are_desi_coadd_grids() {
        let last = |a: &Arm| a.wavelength_a()[a.n_pix - 1];
        assert_eq!(last(&ARMS[0]), 5800.0);
        assert!((last(&ARMS[1]) - 7620.0).abs() < 1e-9);
        assert!((last(&ARMS[2]) - 9824.0).abs() < 1e-9);
    }

    #[test]
    fn resolution_columns_sum_to_one() {
        let r = resolution_data(&ARMS[1]);
        let n = ARMS[1].n_pix;
        for j in [0, n / 2, n - 1] {
            let s: f32 = (0..RESOLUTION_NDIAG).map(|k| r[k * n + j]).sum();
            assert!((s - 1.0).abs() < 1e-5, "{s}");
            assert!(r[5 * n + j] > r[4 * n + j], "peak on the diagonal");
        }
    }

    #[test]
    fn continuum_break_has_the_requested_dn4000() {
        for d in [1.1, 1.3, 1.6, 1.9, 2.2] {
            let (beta, step) = galaxy_continuum_params(d);
            let got = dn4000_of(|l| galaxy_continuum(l, beta, step));
            assert!((got - d).abs() < 1e-3 * d, "{d}: {got}");
        }
    }

    #[test]
    fn balnicity_of_a_flat_trough() {
        // 5000 km/s wide, fully inside 3000-25000: (0.5 - 0.1)/0.9 * 3000.
        let bi = balnicity_km_s(0.5, 5000.0, 10_000.0);
        assert!((bi - 0.4 / 0.9 * 3000.0).abs() < 1e-6, "{bi}");
        assert_eq!(balnicity_km_s(0.05, 5000.0, 10_000.0), 0.0);
    }

    #[test]
    fn outflow_velocity_round_trips() {
        let w = outflow_wavelength_a(CIV_A, 2.0, 8000.0);
        assert!(w < CIV_A * 3.0);
        assert!((outflow_velocity_km_s(CIV_A, 2.0, w) - 8000.0).abs() < 1e-6);
    }

    #[test]
    fn calzetti_matches_published_values() {
        // k(V = 5500 A) = R_V - ~0.0 near 4.05 x ~1; k(1500) ~ 10.3.
        assert!((calzetti_k(5500.0) - 4.05).abs() < 0.4);
        assert!((calzetti_k(1500.0) - 10.3).abs() < 0.5);
    }
}
