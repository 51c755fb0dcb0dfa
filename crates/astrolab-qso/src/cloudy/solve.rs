//! The photoionization solution: the (log U, log N_H) whose interpolated
//! columns best match the measured ones, in the chi-square sense used for
//! quasar outflows (Borguet et al. 2012, ApJ 751, 107, §5; Arav et al.
//! 2013, MNRAS 436, 3286, §5.1).
//!
//! For measured log columns m_i ± σ_i and model columns p_i(U, N_H):
//! χ² = Σ ((m_i − p_i)/σ_i)² over detections; a lower limit (a saturated
//! trough: the true column is at least m_i) adds a term only when
//! p_i < m_i, an upper limit only when p_i > m_i.
//!
//! The minimum is found by an exhaustive search on a fine mesh over the
//! grid's whole domain (χ² on interpolated grids is often multi-modal, so a
//! local method alone is not safe), then refined by a compass (pattern)
//! search from the best mesh point (Kolda, Lewis & Torczon 2003, SIAM
//! Review 45, 385). The uncertainties are the extent of the joint region
//! χ² ≤ χ²_min + 2.30, the 68.3 % region for two parameters (Press et al.,
//! Numerical Recipes 3rd ed., §15.6, Table 15.6.1; Avni 1976, ApJ 210, 642),
//! mapped on a second mesh over that region.

use crate::cloudy::grid::ColumnGrid;

/// How a measured column constrains the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Constraint {
    /// A measurement with a symmetric error.
    Measured,
    /// A lower limit (saturated absorption): the column is at least this.
    LowerLimit,
    /// An upper limit (non-detection): the column is at most this.
    UpperLimit,
}

/// One measured ionic column.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnMeasurement {
    /// Cloudy species label (`C+3` for C IV; see
    /// [`crate::cloudy::parse::species_label`]).
    pub species: String,
    /// log10 column (cm^-2).
    pub log_cm2: f64,
    /// 1σ error in dex (> 0); for limits, the softness of the limit.
    pub sigma_dex: f64,
    /// Detection, lower or upper limit.
    pub constraint: Constraint,
}

/// Search settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolveOptions {
    /// Mesh points per axis of the exhaustive search and of the mapping of
    /// the Δχ² region.
    pub mesh: usize,
    /// Δχ² defining the reported region (2.30: 68.3 % for 2 parameters).
    pub delta_chi2: f64,
    /// Stop the pattern search when its step falls below this (dex).
    pub tolerance_dex: f64,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            mesh: 201,
            delta_chi2: 2.30,
            tolerance_dex: 1e-6,
        }
    }
}

/// The best (log U, log N_H) and its uncertainty region.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Solution {
    /// Best-fitting log10 U.
    pub log_u: f64,
    /// Best-fitting log10 N_H (cm^-2).
    pub log_nh_cm2: f64,
    /// χ² at the minimum.
    pub chi2_min: f64,
    /// Detections minus the 2 parameters (limits do not count).
    pub dof: i64,
    /// (min, max) of log U over the region χ² ≤ χ²_min + Δχ².
    pub log_u_range: (f64, f64),
    /// (min, max) of log N_H over that region.
    pub log_nh_range: (f64, f64),
    /// The minimum lies on the grid's boundary: the true solution may be
    /// outside the grid (extend the grid before trusting it).
    pub at_edge: bool,
    /// The Δχ² region reaches the grid's boundary: the range is cut there
    /// and is then a bound, not a measured error.
    pub region_at_edge: bool,
}

/// Why a solve could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// No measurements.
    #[error("no measured columns to fit")]
    Empty,
    /// A species the grid does not have.
    #[error("measurement {index} ({species}): the grid has no such species (it has: {have})")]
    UnknownSpecies {
        /// Index in the measurement list.
        index: usize,
        /// The label asked for.
        species: String,
        /// The grid's labels.
        have: String,
    },
    /// A non-finite value or a non-positive error.
    #[error("measurement {index} ({species}): log column {log_cm2} ± {sigma_dex} dex must be finite with σ > 0")]
    BadValue {
        /// Index in the measurement list.
        index: usize,
        /// The species.
        species: String,
        /// The log column given.
        log_cm2: f64,
        /// The error given.
        sigma_dex: f64,
    },
}

/// χ² of the measurements against the grid at (log U, log N_H).
fn chi2(grid: &ColumnGrid, idx: &[usize], m: &[ColumnMeasurement], u: f64, n: f64) -> f64 {
    idx.iter()
        .zip(m)
        .map(|(&s, m)| {
            let p = grid.interpolate_index(s, u, n);
            let r = (m.log_cm2 - p) / m.sigma_dex;
            match m.constraint {
                Constraint::Measured => r * r,
                Constraint::LowerLimit if p < m.log_cm2 => r * r,
                Constraint::UpperLimit if p > m.log_cm2 => r * r,
                _ => 0.0,
            }
        })
        .sum()
}

/// Finds the (log U, log N_H) that best reproduces `measured` on `grid`.
pub fn solve(
    grid: &ColumnGrid,
    measured: &[ColumnMeasurement],
    options: &SolveOptions,
) -> Result<Solution, SolveError> {
    if measured.is_empty() {
        return Err(SolveError::Empty);
    }
    let mut idx = Vec::with_capacity(measured.len());
    for (index, m) in measured.iter().enumerate() {
        if !(m.log_cm2.is_finite() && m.sigma_dex.is_finite() && m.sigma_dex > 0.0) {
            return Err(SolveError::BadValue {
                index,
                species: m.species.clone(),
                log_cm2: m.log_cm2,
                sigma_dex: m.sigma_dex,
            });
        }
        idx.push(
            grid.species_index(&m.species)
                .ok_or_else(|| SolveError::UnknownSpecies {
                    index,
                    species: m.species.clone(),
                    have: grid.species().join(" "),
                })?,
        );
    }
    let f = |u: f64, n: f64| chi2(grid, &idx, measured, u, n);
    let (u_nodes, n_nodes) = (grid.log_u_nodes(), grid.log_nh_nodes());
    let (u_lo, u_hi) = (u_nodes[0], u_nodes[u_nodes.len() - 1]);
    let (n_lo, n_hi) = (n_nodes[0], n_nodes[n_nodes.len() - 1]);
    let mesh = options.mesh.max(3);
    let at = |lo: f64, hi: f64, i: usize| lo + (hi - lo) * i as f64 / (mesh - 1) as f64;

    // Exhaustive mesh search.
    let (mut bu, mut bn, mut best) = (u_lo, n_lo, f64::INFINITY);
    for i in 0..mesh {
        for j in 0..mesh {
            let (u, n) = (at(u_lo, u_hi, i), at(n_lo, n_hi, j));
            let c = f(u, n);
            if c < best {
                (bu, bn, best) = (u, n, c);
            }
        }
    }

    // Compass search inside the domain, starting with the mesh spacing.
    let mut step_u = (u_hi - u_lo) / (mesh - 1) as f64;
    let mut step_n = (n_hi - n_lo) / (mesh - 1) as f64;
    while step_u.max(step_n) > options.tolerance_dex {
        let mut moved = false;
        for (du, dn) in [(step_u, 0.0), (-step_u, 0.0), (0.0, step_n), (0.0, -step_n)] {
            let (u, n) = ((bu + du).clamp(u_lo, u_hi), (bn + dn).clamp(n_lo, n_hi));
            let c = f(u, n);
            if c < best {
                (bu, bn, best) = (u, n, c);
                moved = true;
            }
        }
        if !moved {
            step_u *= 0.5;
            step_n *= 0.5;
        }
    }

    // Map the Δχ² region: first on the whole domain, then on a mesh over
    // the region's bounding box widened by one coarse cell.
    let limit = best + options.delta_chi2;
    let region = |ulo: f64, uhi: f64, nlo: f64, nhi: f64| {
        let (mut r_u, mut r_n) = ((bu, bu), (bn, bn));
        for i in 0..mesh {
            for j in 0..mesh {
                let (u, n) = (at(ulo, uhi, i), at(nlo, nhi, j));
                if f(u, n) <= limit {
                    r_u = (r_u.0.min(u), r_u.1.max(u));
                    r_n = (r_n.0.min(n), r_n.1.max(n));
                }
            }
        }
        (r_u, r_n)
    };
    let (cu, cn) = (
        (u_hi - u_lo) / (mesh - 1) as f64,
        (n_hi - n_lo) / (mesh - 1) as f64,
    );
    let (r_u, r_n) = region(u_lo, u_hi, n_lo, n_hi);
    let (r_u, r_n) = region(
        (r_u.0 - cu).max(u_lo),
        (r_u.1 + cu).min(u_hi),
        (r_n.0 - cn).max(n_lo),
        (r_n.1 + cn).min(n_hi),
    );

    let edge = 1e-6;
    let on = |x: f64, lo: f64, hi: f64| (x - lo).abs() < edge || (hi - x).abs() < edge;
    let detections = measured
        .iter()
        .filter(|m| m.constraint == Constraint::Measured)
        .count() as i64;
    Ok(Solution {
        log_u: bu,
        log_nh_cm2: bn,
        chi2_min: best,
        dof: detections - 2,
        log_u_range: r_u,
        log_nh_range: r_n,
        at_edge: on(bu, u_lo, u_hi) || on(bn, n_lo, n_hi),
        region_at_edge: on(r_u.0, u_lo, u_hi)
            || on(r_u.1, u_lo, u_hi)
            || on(r_n.0, n_lo, n_hi)
            || on(r_n.1, n_lo, n_hi),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudy::grid::tests::plane_grid;

    fn meas(species: &str, log_cm2: f64, constraint: Constraint) -> ColumnMeasurement {
        ColumnMeasurement {
            species: species.into(),
            log_cm2,
            sigma_dex: 0.1,
            constraint,
        }
    }

    #[test]
    fn recovers_a_plane_point_with_the_analytic_region() {
        // X = 2u + n - 5, Y = n - u: (u, n) = (-1.73, 21.21) exactly.
        let (u, n) = (-1.73, 21.21);
        let m = [
            meas("X", 2.0 * u + n - 5.0, Constraint::Measured),
            meas("Y", n - u, Constraint::Measured),
        ];
        let s = solve(&plane_grid(), &m, &SolveOptions::default()).expect("solvable");
        assert!(
            (s.log_u - u).abs() < 1e-5 && (s.log_nh_cm2 - n).abs() < 1e-5,
            "{s:?}"
        );
        assert!(s.chi2_min < 1e-8 && !s.at_edge && !s.region_at_edge);
        // Linear model: the Δχ²=2.30 ellipse's half-extent in u is
        // sqrt(2.30 C_uu) with C = (JᵀWJ)⁻¹, J = [[2,1],[-1,1]], W = 100.
        // det(JᵀJ) = 9, (JᵀJ)⁻¹_uu = 2/9, _nn = 5/9.
        let half_u = (2.30 * 2.0 / 9.0 / 100.0f64).sqrt();
        let half_n = (2.30 * 5.0 / 9.0 / 100.0f64).sqrt();
        let mesh_step = 2.0 / 200.0;
        assert!(
            ((s.log_u_range.1 - s.log_u_range.0) / 2.0 - half_u).abs() < mesh_step,
            "{s:?}"
        );
        assert!(
            ((s.log_nh_range.1 - s.log_nh_range.0) / 2.0 - half_n).abs() < mesh_step,
            "{s:?}"
        );
    }

    #[test]
    fn limits_only_bind_on_the_wrong_side() {
        let g = plane_grid();
        let m = [
            meas("X", 2.0 * -2.0 + 21.0 - 5.0, Constraint::Measured),
            meas("Y", 23.0 - 0.5, Constraint::Measured),
            // Satisfied at the truth (Y = 23 there): adds nothing.
            meas("Y", 22.0, Constraint::LowerLimit),
        ];
        let with = solve(&g, &m, &SolveOptions::default()).expect("solvable");
        let without = solve(&g, &m[..2], &SolveOptions::default()).expect("solvable");
        assert!((with.log_u - without.log_u).abs() < 1e-6);
        assert_eq!(with.dof, 0);
    }

    #[test]
    fn off_grid_is_flagged() {
        // Y = n - u = 26 needs n - u beyond the grid's maximum 25.
        let m = [
            meas("Y", 26.0, Constraint::Measured),
            meas("X", 10.0, Constraint::Measured),
        ];
        let s = solve(&plane_grid(), &m, &SolveOptions::default()).expect("solvable");
        assert!(s.at_edge && s.region_at_edge, "{s:?}");
    }

    #[test]
    fn bad_input_is_named() {
        let g = plane_grid();
        let e = solve(
            &g,
            &[meas("C+3", 14.0, Constraint::Measured)],
            &SolveOptions::default(),
        );
        assert!(matches!(
            e,
            Err(SolveError::UnknownSpecies { index: 0, .. })
        ));
        let mut m = meas("X", 14.0, Constraint::Measured);
        m.sigma_dex = 0.0;
        let e = solve(&g, &[m], &SolveOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("measurement 0 (X)"), "{e}");
        assert_eq!(
            solve(&g, &[], &SolveOptions::default()),
            Err(SolveError::Empty)
        );
    }
}
