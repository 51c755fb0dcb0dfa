//! Cloudy photoionization grids for quasar outflows (issue 19, point 4).
//!
//! Cloudy (Ferland et al. 2017, RMxAA 53, 385; the runs in the lab's data
//! are a 2019 development snapshot between C17 and C23) is run elsewhere: no
//! binary can be installed here, so this module writes its input decks and
//! reads its outputs as text.
//!
//! * [`deck`]: input decks for a grid in (log U, log N_H) at fixed log n_H
//!   with the Mathews & Ferland (1987, ApJ 323, 456) AGN continuum
//!   (`table AGN`), one deck per model (`agn_n4_Um1_N20.in`) or one deck
//!   with Cloudy's `vary`/`grid` commands; and [`deck::parse_deck`] to read a
//!   deck back.
//! * [`parse`]: the main output `.out` (version, input echo, stop reasons,
//!   cautions and warnings, U, the final column-density table, how the run
//!   ended), `save species column density` (`.col`), `save overview`
//!   (`.ovr`), `save grid` (`.grd`), and the `vary`/`grid` run's outputs
//!   split per grid point.
//! * [`grid`]: log N(ion) on the (log U, log N_H) grid, bilinear
//!   interpolation between nodes.
//! * [`solve`]: the (log U, log N_H) that minimises chi-square against
//!   measured log columns (detections, lower limits for saturated troughs,
//!   upper limits), with the 68 % joint region Δχ² ≤ 2.30 (two parameters;
//!   Press et al., Numerical Recipes 3rd ed., §15.6, Table 15.6.1) and a flag
//!   when the solution sits on the grid's edge.
//!
//! Running Cloudy itself (when `CLOUDY_EXE` is set) belongs to the pipeline
//! layer's executor; [`deck::NamedDeck::cloudy_args`] gives the command line
//! it runs (`cloudy.exe -r STEM` in the deck's folder).
//!
//! ```
//! use astrolab_qso::cloudy::deck::ModelDeck;
//! use astrolab_qso::cloudy::grid::{ColumnGrid, GridModel};
//! use astrolab_qso::cloudy::parse::parse_col;
//! use astrolab_qso::cloudy::solve::{solve, ColumnMeasurement, Constraint, SolveOptions};
//!
//! // The deck of one model, named as in the lab's data.
//! assert_eq!(ModelDeck::new(4.0, -1.0, 20.0).stem(), "agn_n4_Um1_N20");
//!
//! // `.col` texts of a 3 x 3 grid (made up here: log N(C IV) = log N_H + log U - 6,
//! // log N(H I) = log N_H + 2 log U).
//! let mut models = Vec::new();
//! for u in [-3.0, -2.0, -1.0] {
//!     for n in [20.0, 21.0, 22.0] {
//!         let text = format!(
//!             "#column density C+3\tH\n{:e}\t{:e}\n",
//!             10f64.powf(n + u - 6.0),
//!             10f64.powf(n + 2.0 * u)
//!         );
//!         let columns = parse_col(&text, "model.col")?;
//!         models.push(GridModel { log_u: u, log_nh_cm2: n, columns });
//!     }
//! }
//! let grid = ColumnGrid::from_models(4.0, &models)?;
//! let m = |species: &str, log_cm2| ColumnMeasurement {
//!     species: species.into(),
//!     log_cm2,
//!     sigma_dex: 0.05,
//!     constraint: Constraint::Measured,
//! };
//! let s = solve(&grid, &[m("C+3", 13.0), m("H", 17.5)], &SolveOptions::default())?;
//! assert!((s.log_u + 1.5).abs() < 1e-4 && (s.log_nh_cm2 - 20.5).abs() < 1e-4);
//! assert!(!s.at_edge);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod deck;
pub mod grid;
pub mod parse;
pub mod solve;

/// Cloudy's convention for the log of a zero column density or abundance
/// (its `.out` tables print -30.000 for zero); used as the floor of every
/// log column here so that interpolation stays finite.
pub const LOG_ZERO: f64 = -30.0;

/// What went wrong reading or assembling Cloudy data: the file (as named by
/// the caller), the 1-based line where known, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum CloudyError {
    /// A line could not be read as the format says it should be.
    #[error("{file}:{line}: {what}")]
    Parse {
        /// The name the caller gave the text (usually its file name).
        file: String,
        /// 1-based line number.
        line: usize,
        /// The field or structure that is wrong, and what was found.
        what: String,
    },
    /// Something the format requires is absent from the whole text.
    #[error("{file}: {what}; is this a complete Cloudy output of the expected kind?")]
    Missing {
        /// The name the caller gave the text.
        file: String,
        /// What was looked for.
        what: String,
    },
    /// Models that do not form a rectangular (log U, log N_H) grid.
    #[error("grid: {0}")]
    Grid(String),
}

impl CloudyError {
    pub(crate) fn parse(file: &str, line: usize, what: impl Into<String>) -> Self {
        CloudyError::Parse {
            file: file.to_string(),
            line,
            what: what.into(),
        }
    }

    pub(crate) fn missing(file: &str, what: impl Into<String>) -> Self {
        CloudyError::Missing {
            file: file.to_string(),
            what: what.into(),
        }
    }
}
