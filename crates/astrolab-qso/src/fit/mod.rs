//! The fitting engine of the quasar spectral fits (issue 20): a bounded
//! Levenberg-Marquardt least-squares solver with fixed and tied parameters
//! ([`lm`]) and PyQSOFit's emission-line model, Gaussians in
//! `ln(lambda)` with an analytic Jacobian ([`gauss`]).
//!
//! ```
//! use astrolab_qso::fit::gauss::{self, LineFit};
//! use astrolab_qso::fit::lm::{fit, LmOptions, Param};
//!
//! // [O III] 5007 at +100 km/s with FWHM 400 km/s on SDSS-like pixels.
//! let ln_wave: Vec<f64> = (0..400).map(|i| (4900.0f64).ln() + 2.3e-4 * i as f64).collect();
//! let truth = [2.0, gauss::ln_centre(5008.24, 100.0), gauss::sigma_ln(400.0)];
//! let mut flux = vec![0.0; ln_wave.len()];
//! gauss::evaluate(&ln_wave, &truth, &mut flux);
//! let ivar = vec![100.0; ln_wave.len()];
//! let lines = LineFit::new(&ln_wave, &flux, &ivar, 1)?;
//! let start = [
//!     Param::bounded(1.0, 0.0, 10.0),
//!     Param::bounded(gauss::ln_centre(5008.24, 0.0), gauss::ln_centre(5008.24, -500.0), gauss::ln_centre(5008.24, 500.0)),
//!     Param::bounded(gauss::sigma_ln(600.0), gauss::sigma_ln(100.0), gauss::sigma_ln(2000.0)),
//! ];
//! let best = fit(&lines, &start, &LmOptions::default())?;
//! assert!((gauss::velocity_kms(5008.24, best.params[1]) - 100.0).abs() < 1e-6);
//! assert!((gauss::fwhm_kms(best.params[2]) - 400.0).abs() < 1e-6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod conti;
pub mod deredden;
pub mod gauss;
pub mod lines;
pub mod lm;
pub mod measure;
pub mod spectrum;
pub mod template;
