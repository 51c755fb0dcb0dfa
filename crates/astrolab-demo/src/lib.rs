//! Synthetic DESI-like skies for testing the lab's pipelines end to end.
//!
//! [`generate_sky`] writes, into one directory, the files the lab downloads
//! from DESI DR1 (same names, HDUs, column names and types), filled with a
//! synthetic BGS-like galaxy sample in which spherical voids were planted:
//!
//! | file | model |
//! |---|---|
//! | `zpix-main-bright.fits` | zcatalog v1 (PRIMARY, ZCATALOG), galaxies plus a few QSOs and stars |
//! | `fastspec-iron-main-bright-nside1-hp00.fits` | FastSpecFit v3.0 (PRIMARY, METADATA, SPECPHOT, FASTSPEC) |
//! | `DESIVAST_BGS_VOLLIM_VoidFinder_NGC.fits` | VAST VoidFinder (PRIMARY, MAXIMALS, HOLES) |
//! | `DESIVAST_BGS_VOLLIM_V2_{REVOLVER,VIDE,ZOBOV}_NGC.fits` | VAST V2 (PRIMARY, VOIDS, ZONEVOID, GALZONE) |
//! | `coadd-main-bright-PIX.fits`, `coadd-main-dark-PIX.fits` | healpix coadds (PRIMARY, FIBERMAP, EXP_FIBERMAP, B/R/Z WAVELENGTH, FLUX, IVAR, MASK, RESOLUTION, SCORES): galaxies (bright) and quasars (dark) per NSIDE 64 pixel |
//! | `redrock-main-{bright,dark}-PIX.fits` | redrock (PRIMARY, REDSHIFTS, FIBERMAP, EXP_FIBERMAP, TSNR2), Z equal to the catalog's |
//! | `spectra_truth.json`, `spectra_truth.csv` | rarities injected into the spectra (BAL troughs, [OIII] outflows, odd continua, artefacts; for the anomaly benchmark also narrow absorbers, shifted and double-peaked lines, arm steps, stars and galaxies as QSOs, with their class and visibility) |
//! | `truth.json`, `truth_galaxies.csv` | planted voids, per-galaxy membership, injected effects |
//!
//! The sky: galaxies uniform in comoving volume (flat LCDM, h = 1) over an
//! RA/Dec box and a redshift shell, thinned inside planted voids (12 % of
//! the mean density by default) and thickened in a wall just outside them,
//! with a group component for mild clustering. Galaxy properties follow
//! published scaling relations (double Schechter mass function through the
//! BGS flux limit, star-forming main sequence plus a quenched population,
//! Dn4000, ages, metallicities, Kennicutt H-alpha line fluxes; each source
//! is cited in the module that implements it). Void galaxies are made
//! slightly less massive and bluer on purpose ([`VoidEffects`]); the
//! injected and the realised effect sizes are written to `truth.json`.
//!
//! The void catalogs are the planted truth seen through each DESIVAST
//! algorithm (no void finder runs here): VoidFinder holes that fill each
//! planted sphere, V2 zones of galaxies with per-algorithm differences
//! (VIDE voids larger and fewer, REVOLVER with spurious small voids, ZOBOV
//! with a sub-void hierarchy). Membership rules are those of DESIVAST:
//! inside any hole (VoidFinder); zone with `VOID0 != -1` (V2).
//!
//! Deterministic: ChaCha8 streams seeded from [`DemoConfig::seed`], no
//! hash-map iteration, no time stamps; the same config gives the same bytes.
//!
//! ```no_run
//! use astrolab_demo::{generate_sky, DemoConfig};
//! # fn main() -> Result<(), astrolab_demo::DemoError> {
//! let cfg = DemoConfig { n_galaxies: 50_000, ..DemoConfig::default() };
//! let summary = generate_sky("demo-data".as_ref(), &cfg)?;
//! for f in &summary.files {
//!     println!("{} {} rows", f.path.display(), f.rows);
//! }
//! # Ok(()) }
//! ```
//!
//! [`DemoConfig::anomaly_benchmark`] is the labelled quasar set for
//! anomaly detection (issue 17): N quasars at z 0.5-3.5 in DESI coadd and
//! redrock files, a given fraction with injected rarities spread evenly
//! over six classes, the labels in `spectra_truth.json`.
//!
//! [`generate_catalog`] gives the same sky in memory ([`SyntheticSky`]),
//! [`simulate_spectra`] its spectra ([`SyntheticSpectra`]; whether and
//! which ones is set by [`SpectraConfig`], off by default: the coadd,
//! redrock and spectra truth files are written only with
//! `spectra.enabled = true`).

mod config;
mod cosmo;
mod error;
mod finders;
mod geometry;
mod lines;
mod output;
mod population;
mod rarities;
mod sky;
mod spectra;
mod spectra_out;
mod targets;
mod voids;

use std::path::Path;

pub use config::{
    DemoConfig, Footprint, QsoPopulation, RarityMix, SpectraConfig, VoidEffects,
    BENCHMARK_QSO_PER_DEG2,
};
pub use error::DemoError;
pub use finders::{
    GalZone, Hole, Maximal, V2Algorithm, V2Catalog, V2Void, VoidCatalogs, VoidFinderCatalog,
    ZoneVoid,
};
pub use lines::{LINE_NAMES, N_LINES};
pub use output::{
    desivast_file, write_sky, DemoFile, DemoSummary, FASTSPEC_FILE, TRUTH_CSV, TRUTH_JSON,
    ZCATALOG_FILE,
};
pub use sky::{generate_catalog, Galaxies, MeasuredEffects, SyntheticSky, HEALPIX_NSIDE};
pub use spectra::{
    balnicity_km_s, calzetti_k, dn4000_of, outflow_wavelength_a, resolution_data, simulate_spectra,
    AbsorberLine, Arm, BalTrough, Rarity, SimSpectrum, SpectraGroup, SyntheticSpectra, ARMS,
    LINE_REST_A, MASK_COSMIC, RESOLUTION_NDIAG, WAVE_STEP_A,
};
pub use spectra_out::{SPECTRA_TRUTH_CSV, SPECTRA_TRUTH_JSON};
pub use targets::{ObjectKind, Spectrum};
pub use voids::PlantedVoid;

/// Generate the synthetic sky of `cfg` and write all its files into `dir`
/// (created if missing; files are replaced atomically).
pub fn generate_sky(dir: &Path, cfg: &DemoConfig) -> Result<DemoSummary, DemoError> {
    let sky = generate_catalog(cfg)?;
    write_sky(dir, &sky)
}
