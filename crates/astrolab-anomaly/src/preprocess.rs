//! Rest-frame preprocessing: each quasar spectrum onto one common
//! rest-frame log-wavelength grid, with bad pixels marked missing and the
//! flux divided by a fitted scale, ready for the model ([`Dataset`]).
//!
//! # The grid
//! [`REST_NPIX`] pixels with centres at `log10(lambda / A) = REST_LOGLAM0 +
//! k REST_DLOGLAM` (653-9005.3 A). DESI observes 3600-9824 A, so quasars at
//! `0.1 <= z <= 4.5` (the default [`Preprocessor::z_min`]..[`Preprocessor::z_max`])
//! land on it in full: 3600 / 5.5 = 654.5 A and 9824 / 1.1 = 8930.9 A.
//! The step, 5e-4 dex (345 km/s), is the coarsest that still separates the
//! features the benchmark asks about: BAL troughs (>= 2000 km/s), broad-line
//! shifts (1000-5000 km/s) and strong narrow absorbers (the CIV 1548/1551
//! doublet is 500 km/s apart, MgII 2796/2804 770 km/s). It is five SDSS
//! pixels (1e-4 dex) and 5.2-14 DESI pixels (0.8 A at 3600-9824 A), so
//! every rest pixel inside the observed range gets several inputs and no
//! holes appear from sampling. Any spectrum covers about 870 of the 2280
//! pixels (log10(9824 / 3600) / 5e-4), so the model's input stays small
//! enough to train on two CPU cores; 2280 (not the 2273 the range needs)
//! is a multiple of 8, so that a convolutional encoder can halve it three
//! times.
//!
//! # Rebinning
//! Inverse-variance-weighted averaging of the input pixels whose rest
//! wavelength `lambda_obs / (1 + z)` falls in a rest pixel (nearest pixel
//! centre in log-wavelength), as picca's rebinning of quasar spectra onto a
//! log-lambda grid (du Mas des Bourboux et al. 2020, ApJ 901, 153, Sect. 3):
//! `f_k = sum(w_i f_i) / sum(w_i)`, `ivar_k = sum(w_i)` with `w_i = ivar_i`
//! (the variance of a weighted mean of independent pixels). Averaging
//! keeps the flux density (an average, not a sum, of `f_lambda`); the
//! `(1 + z)` of the rest-frame `f_lambda` is a constant per spectrum and
//! cancels in the normalisation. Overlapping arms (DESI's B/R and R/Z
//! dichroic regions) are averaged the same way.
//!
//! # Missing pixels (`ivar = 0`)
//! An input pixel carries no weight when its mask has any of
//! [`Preprocessor::bad_mask_bits`] (DESI: any bit, as desispec treats
//! `MASK != 0`; SDSS: [`SDSS_BAD_PIXEL_BITS`]), its flux, ivar or wavelength
//! is not finite, its ivar is not positive, or its observed wavelength is
//! within a bright sky line's window ([`SKY_LINES_AIR_A`], masked in the
//! observed frame before the shift to the rest frame). A rest pixel with no
//! weighted input (outside the observed range, or all inputs bad) has
//! flux 0 and ivar 0.
//!
//! # Normalisation
//! The flux is divided by a scale `s` and the ivar multiplied by `s^2`.
//! `s` is the weighted median of the ratios `r_k = f_k / m_k` of the rebinned
//! flux to a reference spectrum `m` (by default a power law `f_lambda ~
//! lambda^-1.56`, i.e. `f_nu ~ nu^-0.44`, the continuum of the SDSS
//! composite quasar of Vanden Berk et al. 2001, AJ 122, 549, normalised to
//! 1 at 3000 A), with weights `ivar_k m_k^2` (the inverse variance of
//! `r_k`), over the valid pixels redward of Ly-alpha (1216 A rest; all valid
//! pixels when none is). This is the least-absolute-deviation counterpart
//! of the chi-square scale `sum(w f m) / sum(w m m)`, chosen because the
//! least-squares scale is pulled by what the model is meant to find:
//! unflagged cosmic rays (hundreds of times the quasar flux in a few
//! pixels), BAL troughs and strong lines. The weighted median ignores any
//! feature holding less than half of the weight. A fixed window is not
//! used: no rest window is observed at every redshift in 0.1-4.5. The
//! Ly-alpha forest is left out because its absorption depends on the
//! redshift of the intervening gas, not on the quasar (the mean
//! transmission falls from ~0.9 at z = 2 to ~0.6 at z = 3.5, Faucher-Giguere
//! et al. 2008, ApJ 681, 831). For a power-law reference, `s` is the flux
//! density (input units) at rest 3000 A of the power law through the
//! spectrum, so normalised fluxes of typical quasars are about 1 at 3000 A.
//!
//! ```
//! use astrolab_anomaly::preprocess::{Observed, Preprocessor, Segment, REST_NPIX};
//!
//! // A flat spectrum on DESI's merged grid (3600-9824 A in 0.8 A steps).
//! let wave: Vec<f64> = (0..7781).map(|i| 3600.0 + 0.8 * i as f64).collect();
//! let (flux, ivar, mask) = (vec![2f32; 7781], vec![1f32; 7781], vec![0u32; 7781]);
//! let arm = Segment { wavelength_a: &wave, flux: &flux, ivar: &ivar, mask: &mask };
//! let p = Preprocessor::default();
//! let one = p.rest_frame(&[arm], 2.1)?;
//! assert_eq!(one.flux.len(), REST_NPIX);
//! let batch = p.dataset([
//!     Observed { id: 1, z: 2.1, segments: vec![arm] },
//!     Observed { id: 2, z: f64::NAN, segments: vec![arm] },
//! ]);
//! assert_eq!(batch.dataset.ids, [1]);
//! assert_eq!(batch.skipped[0].error.reason(), "redshift_nan");
//! # Ok::<(), astrolab_anomaly::preprocess::PreprocessError>(())
//! ```

use std::collections::BTreeMap;

use crate::dataset::Dataset;

/// `log10` of the first rest-frame pixel centre (653.1 A).
pub const REST_LOGLAM0: f64 = 2.815;
/// Rest-frame pixel width in `log10(lambda)` (345 km/s).
pub const REST_DLOGLAM: f64 = 5e-4;
/// Pixels of the rest-frame grid (653.1-9005.3 A).
pub const REST_NPIX: usize = 2280;
/// Lowest redshift accepted by default: 9824 A (DESI's red end) / 1.1 is
/// still on the grid.
pub const Z_MIN: f64 = 0.1;
/// Highest redshift accepted by default: 3600 A (DESI's blue end) / 5.5 is
/// still on the grid.
pub const Z_MAX: f64 = 4.5;
/// Fewest valid rest pixels accepted by default: a spectrum covers about
/// 870; one with a whole DESI arm lost still has about 450.
pub const MIN_VALID_PIXELS: usize = 200;
/// Slope of the default reference: `f_lambda ~ lambda^REFERENCE_SLOPE`
/// (Vanden Berk et al. 2001: `alpha_nu = -0.44`, so `-2 - alpha_nu`).
pub const REFERENCE_SLOPE: f64 = -1.56;
/// Rest wavelength (A) where the default reference is 1.
pub const REFERENCE_PIVOT_A: f64 = 3000.0;
/// Ly-alpha (A, vacuum): the normalisation uses pixels redward of it.
pub const LYA_A: f64 = 1215.67;

/// SDSS/BOSS `and_mask` bits that make a pixel unusable: the pixel-level
/// bits of `SPPIXMASK` (16 NEARBADPIXEL to 28, see the SDSS DR17 bitmask
/// documentation, `sdss.org/dr17/algorithms/bitmasks/#SPPIXMASK`) except
/// 23 BRIGHTSKY. Bits 0-12 describe the whole fibre (e.g. MANYBADCOLUMNS,
/// set on 45 % of the pixels of `spec-0332-52367-0639`, whose flux is
/// fine) and are not reasons to drop a pixel; BRIGHTSKY marks where the sky
/// outshines the object, which the ivar already says, and the brightest sky
/// lines are masked here by wavelength.
pub const SDSS_BAD_PIXEL_BITS: u32 = 0x1FFF_0000 & !(1 << 23);

/// Bright night-sky lines masked in the observed frame: (air wavelength
/// in A, half-width of the masked window in A). [O I] 5577, Na D, [O I]
/// 6300/6364 and the strongest OH Meinel lines redward of 6800 A, with the
/// air wavelengths of the UVES/Keck sky atlas (Osterbrock et al. 1996, PASP
/// 108, 277; 1997, PASP 109, 614), converted to vacuum by
/// [`air_to_vacuum_a`]. The windows (+-3 to +-5 A) cover the residuals of
/// DESI (FWHM ~1.8 A) and SDSS (~3 A) sky subtraction; the atomic lines,
/// the brightest, get the widest.
pub const SKY_LINES_AIR_A: [(f64, f64); 21] = [
    (5577.338, 5.0),
    (5889.953, 4.0),
    (5895.923, 4.0),
    (6300.304, 5.0),
    (6363.776, 4.0),
    (6863.955, 3.0),
    (7316.282, 3.0),
    (7340.885, 3.0),
    (7750.640, 3.0),
    (7794.112, 3.0),
    (7821.503, 3.0),
    (7913.708, 3.0),
    (7993.332, 3.0),
    (8344.602, 3.0),
    (8399.170, 3.0),
    (8430.174, 3.0),
    (8827.096, 3.0),
    (8885.850, 3.0),
    (8943.395, 3.0),
    (9375.961, 3.0),
    (9439.650, 3.0),
];

/// Vacuum wavelength (A) of an air wavelength (A): `lambda_air * n` with the
/// refractive index of standard air of Morton (2000, ApJS 130, 403, Eq. 8)
/// in its inverted form (N. Piskunov, as used by VALD3), valid above 2000 A.
pub fn air_to_vacuum_a(air_a: f64) -> f64 {
    let s2 = (1e4 / air_a).powi(2);
    let n = 1.0
        + 8.336_624_212_083e-5
        + 2.408_926_869_968e-2 / (130.106_592_452_2 - s2)
        + 1.599_740_894_897e-4 / (38.925_687_932_93 - s2);
    air_a * n
}

/// Rest wavelength (A) of every pixel centre of the grid.
pub fn rest_wavelength_a() -> Vec<f64> {
    (0..REST_NPIX)
        .map(|k| 10f64.powf(REST_LOGLAM0 + REST_DLOGLAM * k as f64))
        .collect()
}

/// The default reference spectrum on the grid: `(lambda / 3000 A)^-1.56`.
pub fn power_law_reference() -> Vec<f64> {
    rest_wavelength_a()
        .into_iter()
        .map(|l| (l / REFERENCE_PIVOT_A).powf(REFERENCE_SLOPE))
        .collect()
}

/// One contiguous piece of an observed spectrum: a DESI arm (B, R or Z), a
/// merged DESI spectrum, or a whole SDSS spectrum (`10^loglam`).
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Vacuum wavelength of each pixel (A, observed frame).
    pub wavelength_a: &'a [f64],
    /// Flux density (any unit, e.g. 1e-17 erg/s/cm^2/A).
    pub flux: &'a [f32],
    /// Inverse variance of `flux`; `<= 0` = no information.
    pub ivar: &'a [f32],
    /// Pipeline mask bits per pixel (DESI `MASK`, SDSS `and_mask`); a pixel
    /// with any of [`Preprocessor::bad_mask_bits`] is dropped.
    pub mask: &'a [u32],
}

/// One spectrum on the rest-frame grid.
#[derive(Debug, Clone, PartialEq)]
pub struct RestSpectrum {
    /// Flux divided by `scale`; 0 where missing ([`REST_NPIX`] pixels).
    pub flux: Vec<f32>,
    /// Inverse variance of `flux` (input ivar times `scale^2`); 0 = missing.
    pub ivar: Vec<f32>,
    /// The fitted scale (input flux units); see the module docs.
    pub scale: f64,
    /// Pixels with `ivar > 0`.
    pub n_valid: usize,
}

/// Why a spectrum was not preprocessed. [`PreprocessError::reason`] gives a
/// short fixed name per variant, for counting skips.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PreprocessError {
    /// A segment's flux, ivar or mask has another length than its wavelength.
    #[error(
        "segment {segment}: {array} has {got} pixels but the wavelength has {expected}; \
         pass arrays of one spectrum (or arm) together"
    )]
    LengthMismatch {
        segment: usize,
        array: &'static str,
        expected: usize,
        got: usize,
    },
    /// The redshift is NaN or infinite.
    #[error("redshift is {z}: no rest frame; check the redshift catalog join")]
    RedshiftNotFinite { z: f64 },
    /// The redshift is outside the range the grid was built for.
    #[error("redshift {z} is outside {min}..={max}, the range the rest-frame grid covers in full")]
    RedshiftOutOfRange { z: f64, min: f64, max: f64 },
    /// No pixel survived masking (or the spectrum has no pixels).
    #[error("every pixel is masked, off the rest-frame grid, or has ivar <= 0")]
    AllMasked,
    /// Some pixels survived, too few to describe the spectrum.
    #[error("only {valid} valid rest-frame pixels, at least {required} needed")]
    TooFewPixels { valid: usize, required: usize },
    /// The fitted flux scale is zero or negative (a spectrum with no
    /// positive signal, e.g. pure noise around a sky-subtraction error).
    #[error("fitted flux scale {scale} is not positive: the spectrum has no usable signal")]
    NonPositiveScale { scale: f64 },
}

impl PreprocessError {
    /// A fixed short name per variant (`length_mismatch`, `redshift_nan`,
    /// `redshift_out_of_range`, `all_masked`, `too_few_pixels`,
    /// `non_positive_scale`).
    pub fn reason(&self) -> &'static str {
        match self {
            PreprocessError::LengthMismatch { .. } => "length_mismatch",
            PreprocessError::RedshiftNotFinite { .. } => "redshift_nan",
            PreprocessError::RedshiftOutOfRange { .. } => "redshift_out_of_range",
            PreprocessError::AllMasked => "all_masked",
            PreprocessError::TooFewPixels { .. } => "too_few_pixels",
            PreprocessError::NonPositiveScale { .. } => "non_positive_scale",
        }
    }
}

/// Settings of the preprocessing; [`Preprocessor::default`] is the
/// configuration described in the module docs, for DESI spectra, and
/// [`Preprocessor::sdss`] the same for SDSS/BOSS. The public fields may be
/// changed after construction.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    /// Lowest accepted redshift.
    pub z_min: f64,
    /// Highest accepted redshift.
    pub z_max: f64,
    /// Fewest valid rest pixels for a spectrum to be kept.
    pub min_valid_pixels: usize,
    /// Mask bits that drop a pixel (default: any bit, DESI's rule).
    pub bad_mask_bits: u32,
    /// Observed-frame windows (vacuum A, sorted, disjoint) dropped as sky.
    sky_windows_a: Vec<(f64, f64)>,
    /// Reference spectrum on the grid for the scale fit.
    reference: Vec<f64>,
}

impl Default for Preprocessor {
    fn default() -> Self {
        Preprocessor {
            z_min: Z_MIN,
            z_max: Z_MAX,
            min_valid_pixels: MIN_VALID_PIXELS,
            bad_mask_bits: u32::MAX,
            sky_windows_a: sky_windows(&SKY_LINES_AIR_A),
            reference: power_law_reference(),
        }
    }
}

/// Vacuum windows of sky lines given in air, merged where they overlap
/// (Na D's two lines) and sorted.
fn sky_windows(lines: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut w: Vec<(f64, f64)> = lines
        .iter()
        .map(|&(air, half)| {
            let c = air_to_vacuum_a(air);
            (c - half, c + half)
        })
        .collect();
    w.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(w.len());
    for (lo, hi) in w {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Input spectrum of a batch: an id, its redshift and its segments.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    /// TARGETID (or any caller's id); the [`Dataset`] row keeps it.
    pub id: i64,
    /// Redshift (the quasar's systemic redshift).
    pub z: f64,
    /// The arms (DESI B, R, Z) or the one SDSS array.
    pub segments: Vec<Segment<'a>>,
}

/// A spectrum left out of a batch and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub id: i64,
    pub error: PreprocessError,
}

/// What [`Preprocessor::dataset`] made of a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The spectra that passed, in input order.
    pub dataset: Dataset,
    /// The fitted scale of each row of `dataset`.
    pub scales: Vec<f64>,
    /// The spectra that did not, in input order.
    pub skipped: Vec<Skipped>,
}

impl Batch {
    /// Skipped spectra per [`PreprocessError::reason`].
    pub fn skip_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for s in &self.skipped {
            *out.entry(s.error.reason()).or_insert(0) += 1;
        }
        out
    }
}

impl Preprocessor {
    /// The default settings for SDSS/BOSS `spec-*.fits` spectra: a pixel is
    /// dropped for the [`SDSS_BAD_PIXEL_BITS`] of its `and_mask` only.
    pub fn sdss() -> Self {
        Preprocessor {
            bad_mask_bits: SDSS_BAD_PIXEL_BITS,
            ..Preprocessor::default()
        }
    }

    /// The default settings with another reference spectrum for the scale
    /// fit (e.g. the mean of a first pass over the training set); it must
    /// have [`REST_NPIX`] values, positive where the fit should use them
    /// (pixels where it is `<= 0` or not finite are left out of the fit).
    ///
    /// # Panics
    /// When `reference` does not have [`REST_NPIX`] values.
    pub fn with_reference(mut self, reference: &[f32]) -> Self {
        assert_eq!(reference.len(), REST_NPIX, "reference length");
        self.reference = reference.iter().map(|&x| f64::from(x)).collect();
        self
    }

    /// The observed-frame windows (vacuum A) dropped as sky lines.
    pub fn sky_windows_a(&self) -> &[(f64, f64)] {
        &self.sky_windows_a
    }

    /// Whether an observed (vacuum) wavelength is on a masked sky line.
    pub fn on_sky_line(&self, wave_a: f64) -> bool {
        let i = self.sky_windows_a.partition_point(|w| w.1 < wave_a);
        self.sky_windows_a
            .get(i)
            .is_some_and(|&(lo, hi)| lo <= wave_a && wave_a <= hi)
    }

    /// One spectrum onto the rest-frame grid, normalised.
    pub fn rest_frame(
        &self,
        segments: &[Segment<'_>],
        z: f64,
    ) -> Result<RestSpectrum, PreprocessError> {
        for (i, s) in segments.iter().enumerate() {
            let n = s.wavelength_a.len();
            for (array, got) in [
                ("flux", s.flux.len()),
                ("ivar", s.ivar.len()),
                ("mask", s.mask.len()),
            ] {
                if got != n {
                    return Err(PreprocessError::LengthMismatch {
                        segment: i,
                        array,
                        expected: n,
                        got,
                    });
                }
            }
        }
        if !z.is_finite() {
            return Err(PreprocessError::RedshiftNotFinite { z });
        }
        if !(self.z_min..=self.z_max).contains(&z) {
            return Err(PreprocessError::RedshiftOutOfRange {
                z,
                min: self.z_min,
                max: self.z_max,
            });
        }
        let (sum_w, sum_wf) = self.rebin(segments, z);
        let n_valid = sum_w.iter().filter(|&&w| w > 0.0).count();
        if n_valid == 0 {
            return Err(PreprocessError::AllMasked);
        }
        if n_valid < self.min_valid_pixels {
            return Err(PreprocessError::TooFewPixels {
                valid: n_valid,
                required: self.min_valid_pixels,
            });
        }
        let flux: Vec<f64> = sum_w
            .iter()
            .zip(&sum_wf)
            .map(|(&w, &wf)| if w > 0.0 { wf / w } else { 0.0 })
            .collect();
        let scale = self.scale(&flux, &sum_w);
        // NaN (no pixel to fit) fails too.
        if scale.is_nan() || scale <= 0.0 {
            return Err(PreprocessError::NonPositiveScale { scale });
        }
        Ok(RestSpectrum {
            flux: flux
                .iter()
                .zip(&sum_w)
                .map(|(&f, &w)| if w > 0.0 { (f / scale) as f32 } else { 0.0 })
                .collect(),
            ivar: sum_w.iter().map(|&w| (w * scale * scale) as f32).collect(),
            scale,
            n_valid,
        })
    }

    /// Sums of weights and weighted fluxes per rest pixel.
    fn rebin(&self, segments: &[Segment<'_>], z: f64) -> (Vec<f64>, Vec<f64>) {
        let mut sum_w = vec![0f64; REST_NPIX];
        let mut sum_wf = vec![0f64; REST_NPIX];
        let shift = (1.0 + z).log10();
        for s in segments {
            for i in 0..s.wavelength_a.len() {
                let (w_a, f, iv, m) = (s.wavelength_a[i], s.flux[i], s.ivar[i], s.mask[i]);
                if m & self.bad_mask_bits != 0
                    || !(f.is_finite() && iv.is_finite() && iv > 0.0)
                    || !(w_a.is_finite() && w_a > 0.0)
                    || self.on_sky_line(w_a)
                {
                    continue;
                }
                let x = ((w_a.log10() - shift - REST_LOGLAM0) / REST_DLOGLAM).round();
                if !(0.0..REST_NPIX as f64).contains(&x) {
                    continue;
                }
                let k = x as usize;
                sum_w[k] += f64::from(iv);
                sum_wf[k] += f64::from(iv) * f64::from(f);
            }
        }
        (sum_w, sum_wf)
    }

    /// Weighted median of `flux / reference` (see the module docs).
    fn scale(&self, flux: &[f64], ivar: &[f64]) -> f64 {
        let lya_k = ((LYA_A.log10() - REST_LOGLAM0) / REST_DLOGLAM).ceil() as usize;
        let usable =
            |k: usize| ivar[k] > 0.0 && self.reference[k].is_finite() && self.reference[k] > 0.0;
        let mut picked: Vec<usize> = (lya_k..REST_NPIX).filter(|&k| usable(k)).collect();
        if picked.is_empty() {
            picked = (0..REST_NPIX).filter(|&k| usable(k)).collect();
        }
        let mut pairs: Vec<(f64, f64)> = picked
            .into_iter()
            .map(|k| {
                let m = self.reference[k];
                (flux[k] / m, ivar[k] * m * m)
            })
            .collect();
        weighted_median(&mut pairs)
    }

    /// A batch of spectra into a [`Dataset`]; spectra that fail are listed
    /// in [`Batch::skipped`] with the reason, the others kept in order.
    pub fn dataset<'a>(&self, spectra: impl IntoIterator<Item = Observed<'a>>) -> Batch {
        let mut out = Batch {
            dataset: Dataset::new(REST_NPIX),
            ..Batch::default()
        };
        for s in spectra {
            match self.rest_frame(&s.segments, s.z) {
                Ok(r) => {
                    out.dataset.push(s.id, &r.flux, &r.ivar);
                    out.scales.push(r.scale);
                }
                Err(error) => out.skipped.push(Skipped { id: s.id, error }),
            }
        }
        out
    }
}

impl Preprocessor {
    /// [`Self::dataset`] on `threads` threads, each bringing a contiguous
    /// share of the spectra onto the grid; the batch is the same for any
    /// thread count (each spectrum is processed alone).
    pub fn dataset_threads(&self, spectra: &[Observed<'_>], threads: usize) -> Batch {
        let threads = threads.clamp(1, spectra.len().max(1));
        let per = spectra.len().div_ceil(threads).max(1);
        type Done = Vec<(i64, Result<RestSpectrum, PreprocessError>)>;
        let parts: Vec<Done> = std::thread::scope(|s| {
            let handles: Vec<_> = spectra
                .chunks(per)
                .map(|c| {
                    s.spawn(move || {
                        c.iter()
                            .map(|o| (o.id, self.rest_frame(&o.segments, o.z)))
                            .collect::<Done>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a preprocessing thread panicked"))
                .collect()
        });
        let mut out = Batch {
            dataset: Dataset::new(REST_NPIX),
            ..Batch::default()
        };
        for (id, r) in parts.into_iter().flatten() {
            match r {
                Ok(r) => {
                    out.dataset.push(id, &r.flux, &r.ivar);
                    out.scales.push(r.scale);
                }
                Err(error) => out.skipped.push(Skipped { id, error }),
            }
        }
        out
    }
}

/// The lower weighted median of `(value, weight)` pairs: the smallest value
/// at which the cumulative weight reaches half the total. NaN for no pairs.
fn weighted_median(pairs: &mut [(f64, f64)]) -> f64 {
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let mut acc = 0.0;
    for &(v, w) in pairs.iter() {
        acc += w;
        if acc >= 0.5 * total {
            return v;
        }
    }
    f64::NAN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DESI-like observed grid (0.8 A steps from 3600 A).
    fn desi_wave() -> Vec<f64> {
        (0..7781).map(|i| 3600.0 + 0.8 * i as f64).collect()
    }

    /// A power-law quasar `a (lambda_rest / 3000)^-1.56` observed at `z`.
    fn power_law(wave: &[f64], z: f64, a: f32) -> Vec<f32> {
        wave.iter()
            .map(|w| a * ((w / (1.0 + z) / 3000.0).powf(REFERENCE_SLOPE) as f32))
            .collect()
    }

    fn seg<'a>(w: &'a [f64], f: &'a [f32], iv: &'a [f32], m: &'a [u32]) -> Segment<'a> {
        Segment {
            wavelength_a: w,
            flux: f,
            ivar: iv,
            mask: m,
        }
    }

    #[test]
    fn grid_covers_desi_at_the_redshift_limits() {
        let w = rest_wavelength_a();
        assert_eq!(w.len(), REST_NPIX);
        // Pixel edges, half a step outside the centres.
        let lo = 10f64.powf(REST_LOGLAM0 - 0.5 * REST_DLOGLAM);
        let hi = 10f64.powf(REST_LOGLAM0 + (REST_NPIX as f64 - 0.5) * REST_DLOGLAM);
        assert!(lo <= 3600.0 / (1.0 + Z_MAX), "{lo}");
        assert!(hi >= 9824.0 / (1.0 + Z_MIN), "{hi}");
        assert_eq!(REST_NPIX % 8, 0);
        assert_eq!(format!("{:.2}", w[0]), "653.13");
        assert_eq!(format!("{:.1}", w[REST_NPIX - 1]), "9005.3");
    }

    #[test]
    fn air_to_vacuum_matches_the_known_sky_lines() {
        // [O I] 5577.338 A air is 5578.887 A in vacuum; Na D2 5889.953 ->
        // 5891.583 (the vacuum values in DESI's sky model line lists).
        assert_eq!(format!("{:.3}", air_to_vacuum_a(5577.338)), "5578.887");
        assert_eq!(format!("{:.3}", air_to_vacuum_a(5889.953)), "5891.585");
        assert_eq!(format!("{:.3}", air_to_vacuum_a(8344.602)), "8346.896");
    }

    #[test]
    fn sky_windows_merge_na_d_and_are_sorted() {
        let p = Preprocessor::default();
        let w = p.sky_windows_a();
        // 21 lines, Na D's two windows merged into one.
        assert_eq!(w.len(), 20);
        assert!(w.windows(2).all(|x| x[0].1 < x[1].0));
        let nad = w.iter().find(|x| x.0 < 5891.6 && x.1 > 5891.6).unwrap();
        assert_eq!(format!("{:.3}-{:.3}", nad.0, nad.1), "5887.585-5901.557");
        assert!(p.on_sky_line(5578.887));
        assert!(p.on_sky_line(5583.8));
        assert!(!p.on_sky_line(5584.0));
        assert!(!p.on_sky_line(5000.0));
        assert!(p.on_sky_line(9442.24));
        assert!(!p.on_sky_line(9824.0));
    }

    #[test]
    fn a_power_law_quasar_gets_its_amplitude_as_scale() {
        let w = desi_wave();
        let z = 1.7;
        let f = power_law(&w, z, 4.0);
        let iv = vec![25f32; w.len()];
        let m = vec![0u32; w.len()];
        let r = Preprocessor::default()
            .rest_frame(&[seg(&w, &f, &iv, &m)], z)
            .unwrap();
        assert!((r.scale - 4.0).abs() < 2e-3, "{}", r.scale);
        // Rest 3000 A is pixel round((log10 3000 - 2.815) / 5e-4) = 324.
        let k = ((3000f64.log10() - REST_LOGLAM0) / REST_DLOGLAM).round() as usize;
        assert!((r.flux[k] - 1.0).abs() < 2e-3, "{}", r.flux[k]);
        // ivar of a pixel: the sum of its inputs' ivar times scale^2.
        let n_in = (0..w.len())
            .filter(|&i| {
                ((w[i].log10() - (1.0 + z).log10() - REST_LOGLAM0) / REST_DLOGLAM).round() as usize
                    == k
            })
            .count();
        let want = 25.0 * n_in as f64 * r.scale * r.scale;
        assert!((f64::from(r.ivar[k]) / want - 1.0).abs() < 1e-6);
        // Covered pixels: log10(9824 / 3600) / 5e-4 = 872, less the sky.
        assert!((840..=873).contains(&r.n_valid), "{}", r.n_valid);
    }

    #[test]
    fn masked_bad_and_sky_pixels_carry_no_weight() {
        let w = desi_wave();
        let z = 1.0;
        let mut f = power_law(&w, z, 2.0);
        let mut iv = vec![4f32; w.len()];
        let mut m = vec![0u32; w.len()];
        let pix =
            |obs: f64| (((obs / (1.0 + z)).log10() - REST_LOGLAM0) / REST_DLOGLAM).round() as usize;
        // Every input of rest pixel `k` bad in a different way.
        let inputs =
            |k: usize| -> Vec<usize> { (0..w.len()).filter(|&i| pix(w[i]) == k).collect() };
        let (k_mask, k_nan, k_ivar) = (pix(4500.0), pix(5000.0), pix(7000.0));
        for i in inputs(k_mask) {
            m[i] = 1 << 2;
        }
        for (n, i) in inputs(k_nan).into_iter().enumerate() {
            if n % 2 == 0 {
                f[i] = f32::NAN;
            } else {
                iv[i] = f32::INFINITY;
            }
        }
        for i in inputs(k_ivar) {
            iv[i] = if i % 2 == 0 { 0.0 } else { -1.0 };
        }
        let r = Preprocessor::default()
            .rest_frame(&[seg(&w, &f, &iv, &m)], z)
            .unwrap();
        for k in [k_mask, k_nan, k_ivar] {
            assert_eq!((r.flux[k], r.ivar[k]), (0.0, 0.0), "pixel {k}");
            assert!(
                r.ivar[k - 1] > 0.0 && r.ivar[k + 1] > 0.0,
                "neighbours of {k}"
            );
        }
        // [O I] 5578.887 A, masked +-5 A: its rest pixel (6.4 A wide in the
        // observed frame at z = 1) lies inside the window and is missing.
        let k_sky = pix(5578.887);
        assert_eq!((r.flux[k_sky], r.ivar[k_sky]), (0.0, 0.0));
        // OH 6865.849 A, masked +-3 A, in a 7.9 A pixel: the pixel keeps
        // exactly the inputs outside the window.
        let k_oh = pix(6865.849);
        let outside = inputs(k_oh)
            .into_iter()
            .filter(|&i| (w[i] - 6865.849).abs() > 3.0)
            .count();
        assert!(outside > 0 && outside < inputs(k_oh).len());
        let want = 4.0 * outside as f64 * r.scale * r.scale;
        assert!((f64::from(r.ivar[k_oh]) / want - 1.0).abs() < 1e-6);
        // A huge flux on the sky lines does not reach the output.
        let mut spiked = f.clone();
        for i in 0..w.len() {
            if Preprocessor::default().on_sky_line(w[i]) {
                spiked[i] = 1e6;
            }
        }
        let r2 = Preprocessor::default()
            .rest_frame(&[seg(&w, &spiked, &iv, &m)], z)
            .unwrap();
        assert_eq!(r2, r);
        // Outside the observed range: nothing.
        assert_eq!(r.ivar[pix(3590.0)], 0.0);
        assert_eq!(r.ivar[pix(9840.0)], 0.0);
        // A mask bit not in bad_mask_bits keeps the pixel.
        let only_bit_4 = Preprocessor {
            bad_mask_bits: 1 << 4,
            ..Preprocessor::default()
        };
        let r = only_bit_4.rest_frame(&[seg(&w, &f, &iv, &m)], z).unwrap();
        assert!(r.ivar[k_mask] > 0.0);
    }

    #[test]
    fn overlapping_arms_average_by_inverse_variance() {
        // Two "arms" over the same wavelengths, fluxes 1 and 4, ivar 3 and 1.
        let w: Vec<f64> = (0..3000).map(|i| 4000.0 + 0.8 * i as f64).collect();
        let (f1, f2) = (vec![1f32; w.len()], vec![4f32; w.len()]);
        let (i1, i2) = (vec![3f32; w.len()], vec![1f32; w.len()]);
        let m = vec![0u32; w.len()];
        let p = Preprocessor::default();
        let z = 0.5;
        let r = p
            .rest_frame(&[seg(&w, &f1, &i1, &m), seg(&w, &f2, &i2, &m)], z)
            .unwrap();
        // Mean (3 * 1 + 1 * 4) / 4 = 1.75 everywhere, so the ratios to the
        // reference give scale = 1.75 / m at the weighted median pixel.
        let k = (0..REST_NPIX).find(|&k| r.ivar[k] > 0.0).unwrap();
        let ratio = f64::from(r.flux[k]) * r.scale;
        assert!((ratio - 1.75).abs() < 1e-5, "{ratio}");
    }

    #[test]
    fn errors_name_their_reason() {
        let w = desi_wave();
        let f = power_law(&w, 2.0, 1.0);
        let iv = vec![1f32; w.len()];
        let m = vec![0u32; w.len()];
        let p = Preprocessor::default();
        let ok = [seg(&w, &f, &iv, &m)];
        let e = p.rest_frame(&ok, f64::NAN).unwrap_err();
        assert_eq!(e.reason(), "redshift_nan");
        for z in [0.05, 4.6, -1.0] {
            let e = p.rest_frame(&ok, z).unwrap_err();
            assert_eq!(
                e,
                PreprocessError::RedshiftOutOfRange {
                    z,
                    min: 0.1,
                    max: 4.5
                }
            );
            assert_eq!(e.reason(), "redshift_out_of_range");
        }
        let short = &iv[..10];
        let e = p.rest_frame(&[seg(&w, &f, short, &m)], 2.0).unwrap_err();
        assert_eq!(
            e,
            PreprocessError::LengthMismatch {
                segment: 0,
                array: "ivar",
                expected: 7781,
                got: 10
            }
        );
        assert_eq!(e.reason(), "length_mismatch");
        let all_bad = vec![1u32; w.len()];
        let e = p
            .rest_frame(&[seg(&w, &f, &iv, &all_bad)], 2.0)
            .unwrap_err();
        assert_eq!(e, PreprocessError::AllMasked);
        assert_eq!(p.rest_frame(&[], 2.0).unwrap_err().reason(), "all_masked");
        // 400 good input pixels, 6000-6319.2 A: log10(6319.2 / 6000) / 5e-4
        // = 45 rest pixels wide, 46 pixel centres touched.
        let mut few = vec![1u32; w.len()];
        few[3000..3400].iter_mut().for_each(|x| *x = 0);
        let e = p.rest_frame(&[seg(&w, &f, &iv, &few)], 2.0).unwrap_err();
        let PreprocessError::TooFewPixels { valid, required } = e else {
            panic!("{e:?}");
        };
        assert_eq!((valid, required), (46, 200));
        let negative: Vec<f32> = f.iter().map(|x| -x).collect();
        let e = p
            .rest_frame(&[seg(&w, &negative, &iv, &m)], 2.0)
            .unwrap_err();
        assert_eq!(e.reason(), "non_positive_scale");
    }

    #[test]
    fn the_scale_ignores_a_cosmic_ray_and_a_trough() {
        let w = desi_wave();
        let z = 2.2;
        let clean = power_law(&w, z, 3.0);
        let mut f = clean.clone();
        // A 40-pixel unflagged spike at 1000 times the flux, and a BAL-like
        // trough removing 80 % of the flux over 300 A.
        f[6000..6040].iter_mut().for_each(|x| *x *= 1000.0);
        f[1500..1875].iter_mut().for_each(|x| *x *= 0.2);
        let iv = vec![9f32; w.len()];
        let m = vec![0u32; w.len()];
        let p = Preprocessor::default();
        let a = p.rest_frame(&[seg(&w, &clean, &iv, &m)], z).unwrap();
        let b = p.rest_frame(&[seg(&w, &f, &iv, &m)], z).unwrap();
        assert!(
            (b.scale / a.scale - 1.0).abs() < 0.01,
            "{} {}",
            a.scale,
            b.scale
        );
    }

    #[test]
    fn a_batch_keeps_good_rows_and_counts_skips() {
        let w = desi_wave();
        let f = power_law(&w, 1.5, 2.0);
        let iv = vec![1f32; w.len()];
        let m = vec![0u32; w.len()];
        let bad = vec![1u32; w.len()];
        let input = [
            (1, 1.5, &m),
            (2, f64::NAN, &m),
            (3, 1.5, &bad),
            (4, 7.0, &m),
            (5, 1.4, &m),
        ];
        let b = Preprocessor::default().dataset(input.iter().map(|&(id, z, mask)| Observed {
            id,
            z,
            segments: vec![seg(&w, &f, &iv, mask)],
        }));
        assert_eq!(b.dataset.ids, vec![1, 5]);
        assert_eq!(b.dataset.len, REST_NPIX);
        assert_eq!(b.scales.len(), 2);
        let counts: Vec<(&str, usize)> = b.skip_counts().into_iter().collect();
        assert_eq!(
            counts,
            [
                ("all_masked", 1),
                ("redshift_nan", 1),
                ("redshift_out_of_range", 1)
            ]
        );
        assert_eq!(
            b.skipped.iter().map(|s| s.id).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        // The same batch on any number of threads.
        let observed: Vec<Observed<'_>> = input
            .iter()
            .map(|&(id, z, mask)| Observed {
                id,
                z,
                segments: vec![seg(&w, &f, &iv, mask)],
            })
            .collect();
        for t in [1, 2, 3, 8] {
            let bt = Preprocessor::default().dataset_threads(&observed, t);
            assert_eq!(bt.dataset.ids, b.dataset.ids, "{t} threads");
            assert_eq!(bt.dataset.flux, b.dataset.flux, "{t} threads");
            assert_eq!(bt.dataset.ivar, b.dataset.ivar, "{t} threads");
            assert_eq!(bt.scales, b.scales, "{t} threads");
            assert_eq!(bt.skip_counts(), b.skip_counts(), "{t} threads");
        }
    }

    #[test]
    fn weighted_median_is_the_lower_median() {
        assert_eq!(
            weighted_median(&mut [(3.0, 1.0), (1.0, 1.0), (2.0, 1.0)]),
            2.0
        );
        assert_eq!(weighted_median(&mut [(1.0, 1.0), (2.0, 1.0)]), 1.0);
        assert_eq!(weighted_median(&mut [(1.0, 1.0), (5.0, 3.0)]), 5.0);
        assert!(weighted_median(&mut []).is_nan());
    }
}
