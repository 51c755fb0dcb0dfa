//! Quasar outflows (issue 19): a pure crate, text and numbers in, numbers
//! out. It reads no files and talks to no database or server: callers hand
//! over file contents (with a name for error messages) and the pipeline
//! layer does the I/O.
//!
//! * [`cloudy`]: Cloudy photoionization grids (Ferland et al. 2017, RMxAA
//!   53, 385): input decks, parsers for `.out`, `.col`, `.ovr`, `.grd` and
//!   the `vary`/`grid` outputs, a (log U, log N_H) grid of ionic columns
//!   with bilinear interpolation, and the chi-square solve for (N_H, U)
//!   from measured absorption columns.
//! * [`energetics`]: outflow distance, mass-outflow rate and kinetic
//!   luminosity from (N_H, U, n_H, v) and a monochromatic luminosity
//!   (Borguet et al. 2012, ApJ 751, 107; Dunn et al. 2010, ApJ 709, 611).

pub mod cloudy;
pub mod energetics;
