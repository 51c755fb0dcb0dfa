//! Nebular emission-line fluxes as FastSpecFit reports them
//! (`LINENAME_FLUX` in 1e-17 erg s^-1 cm^-2, inside the 1.5 arcsec fibre).
//!
//! - H-alpha luminosity from the SFR: `log SFR = log L(Halpha) - 41.27`
//!   (Kennicutt & Evans 2012, ARA&A 50, 531, Table 1, Kroupa/Chabrier IMF).
//! - Dust: A(Halpha) rising from 0.3 to 1.3 mag with mass, A(Hbeta) =
//!   1.45 A(Halpha) (Calzetti et al. 2000 k values), intrinsic Halpha/Hbeta =
//!   2.86 (case B, Osterbrock & Ferland 2006).
//! - [NII]/Halpha and [OIII]/Hbeta along the star-forming BPT locus as a
//!   function of mass, LINER-like ratios for quenched galaxies (Kauffmann
//!   et al. 2003, MNRAS 346, 1055); doublet ratios [OIII] 5007/4959 = 2.98 and
//!   [NII] 6584/6548 = 3.05 (Storey & Zeippen 2000, MNRAS 312, 813),
//!   [SII] 6716/6731 = 1.4 and [OII] 3729/3726 = 1.3 (low density).
//! - Aperture: the fibre sees 15-70 % of the light, more at higher redshift.

use rand::Rng;

use crate::population::{gauss, Physical};

/// Lines written to FASTSPEC, in wavelength order (FastSpecFit names).
pub const LINE_NAMES: [&str; 10] = [
    "OII_3726",
    "OII_3729",
    "HBETA",
    "OIII_4959",
    "OIII_5007",
    "NII_6548",
    "HALPHA",
    "NII_6584",
    "SII_6716",
    "SII_6731",
];
pub const N_LINES: usize = LINE_NAMES.len();

const MPC_CM: f64 = 3.085_677_581e24;
const FLUX_UNIT: f64 = 1e-17;

/// Noise-free fibre fluxes (1e-17 erg/s/cm^2) of [`LINE_NAMES`], and the
/// aperture fraction used (for the APERCORR column: its inverse).
pub(crate) fn true_line_fluxes<R: Rng>(
    rng: &mut R,
    g: &Physical,
    z: f64,
    d_l_mpc_h: f64,
) -> ([f64; N_LINES], f64) {
    let l_halpha = g.sfr_msun_yr * 10f64.powf(41.27);
    let a_halpha = (0.3 + (g.logmstar - 9.0).clamp(0.0, 3.0) / 3.0 + gauss(rng, 0.15)).max(0.0);
    let a_hbeta = 1.45 * a_halpha;
    let aperture = (0.15 + 1.2 * z + gauss(rng, 0.05)).clamp(0.1, 0.7);
    let d_cm = d_l_mpc_h * MPC_CM;
    let to_flux = aperture / (4.0 * std::f64::consts::PI * d_cm * d_cm) / FLUX_UNIT;

    let halpha = l_halpha * 10f64.powf(-0.4 * a_halpha) * to_flux;
    let hbeta = l_halpha / 2.86 * 10f64.powf(-0.4 * a_hbeta) * to_flux;
    let (log_n2, log_o3) = if g.quenched {
        (-0.1 + gauss(rng, 0.15), 0.1 + gauss(rng, 0.2))
    } else {
        (
            (-0.8 + 0.25 * (g.logmstar - 9.0)).clamp(-1.2, -0.3) + gauss(rng, 0.08),
            (0.6 - 0.55 * (g.logmstar - 9.0)).clamp(-0.7, 0.8) + gauss(rng, 0.12),
        )
    };
    let nii_6584 = halpha * 10f64.powf(log_n2);
    let oiii_5007 = hbeta * 10f64.powf(log_o3);
    let oii_total = halpha * 10f64.powf(-0.2 * (g.logmstar - 10.0) + gauss(rng, 0.1)) * 0.6;
    let sii_total = halpha * 10f64.powf(-0.55 + gauss(rng, 0.08));
    let fluxes = [
        oii_total / 2.3,
        oii_total * 1.3 / 2.3,
        hbeta,
        oiii_5007 / 2.98,
        oiii_5007,
        nii_6584 / 3.05,
        halpha,
        nii_6584,
        sii_total * 1.4 / 2.4,
        sii_total / 2.4,
    ];
    (fluxes, aperture)
}

/// One-sigma flux error (1e-17 erg/s/cm^2) for a spectrum of the given
/// TSNR2_BGS: about 2-4 at the typical depth, larger in the blue.
pub(crate) fn line_flux_sigma(line: usize, tsnr2_bgs: f64) -> f64 {
    let blue = if line < 2 { 2.0 } else { 1.0 };
    2.5 * blue * (1200.0 / tsnr2_bgs.max(5.0)).sqrt()
}
