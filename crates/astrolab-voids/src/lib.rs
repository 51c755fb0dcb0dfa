//! Cosmic voids: VoidFinder (Hoyle & Vogeley 2002, as in VAST), galaxy void
//! membership for VoidFinder and V2 catalogs, and void-versus-wall statistics.
//!
//! Pure science: arrays in, arrays and tables out; no database, no HTTP.

pub mod compare;
pub mod finder;
pub mod geometry;
pub mod mask;
pub mod membership;
pub mod stats;
pub mod survey;
