//! Ionic columns on a rectangular (log U, log N_H) grid at fixed n_H, and
//! bilinear interpolation of log N(ion) between the nodes (Press et al.,
//! Numerical Recipes 3rd ed., §3.6), as in the usual
//! outflow photoionization solutions (e.g. Arav et al. 2013, MNRAS 436,
//! 3286; Borguet et al. 2012, ApJ 751, 107).
//!
//! Interpolating the log of the column is what keeps it accurate: columns
//! change by orders of magnitude between nodes, close to power laws in U
//! and N_H.

use crate::cloudy::parse::{log_floor, ColumnDensities, Grd};
use crate::cloudy::CloudyError;

/// One Cloudy model: its parameters and its `.col` columns.
#[derive(Debug, Clone, PartialEq)]
pub struct GridModel {
    /// log10 U of the model.
    pub log_u: f64,
    /// log10 N_H (cm^-2) of the model.
    pub log_nh_cm2: f64,
    /// Its column densities.
    pub columns: ColumnDensities,
}

impl GridModel {
    /// The models of a `vary`/`grid` run: its `save grid` table (`.grd`,
    /// whose varied parameters must be `IONIZATIO` and `STOP COLU`, as
    /// Cloudy cuts `ionization parameter` and `stop column density`) and its
    /// `.col` blocks in grid order.
    pub fn from_grid_run(
        grd: &Grd,
        columns: Vec<ColumnDensities>,
    ) -> Result<Vec<GridModel>, CloudyError> {
        let find = |label: &str| {
            grd.parameters.iter().position(|p| p == label).ok_or_else(|| {
                CloudyError::Grid(format!(
                    "the .grd varies {:?}, not `{label}`: expected a grid over ionization parameter and stop column density",
                    grd.parameters
                ))
            })
        };
        let (iu, inh) = (find("IONIZATIO")?, find("STOP COLU")?);
        if grd.points.len() != columns.len() {
            return Err(CloudyError::Grid(format!(
                "{} grid points in the .grd but {} blocks in the .col",
                grd.points.len(),
                columns.len()
            )));
        }
        grd.points
            .iter()
            .zip(columns)
            .map(|(p, columns)| {
                if p.failure {
                    return Err(CloudyError::Grid(format!(
                        "grid point {} failed (`Failure?` is T); rerun it before using the grid",
                        p.index
                    )));
                }
                Ok(GridModel {
                    log_u: p.values[iu],
                    log_nh_cm2: p.values[inh],
                    columns,
                })
            })
            .collect()
    }
}

/// log N(species) on the nodes of a (log U, log N_H) grid.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnGrid {
    log_hden_cm3: f64,
    log_u: Vec<f64>,
    log_nh: Vec<f64>,
    species: Vec<String>,
    /// `[(iu * n_nh + inh) * n_species + s]`, log10 cm^-2 floored at -30.
    log_cols: Vec<f64>,
}

/// Two node values closer than this (dex) are the same node.
const SAME_NODE_DEX: f64 = 1e-6;

fn axis(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| (*a - *b).abs() < SAME_NODE_DEX);
    v
}

fn find(axis: &[f64], x: f64) -> Option<usize> {
    axis.iter().position(|a| (a - x).abs() < SAME_NODE_DEX)
}

impl ColumnGrid {
    /// Builds the grid from models that cover every (log U, log N_H) node
    /// exactly once with the same species list.
    pub fn from_models(log_hden_cm3: f64, models: &[GridModel]) -> Result<Self, CloudyError> {
        let first = models
            .first()
            .ok_or_else(|| CloudyError::Grid("no models".to_string()))?;
        let species = first.columns.species.clone();
        let log_u = axis(models.iter().map(|m| m.log_u));
        let log_nh = axis(models.iter().map(|m| m.log_nh_cm2));
        if log_u.len() < 2 || log_nh.len() < 2 {
            return Err(CloudyError::Grid(format!(
                "need at least 2 values of each parameter, found {} of log U and {} of log N_H",
                log_u.len(),
                log_nh.len()
            )));
        }
        let (nu, nn, ns) = (log_u.len(), log_nh.len(), species.len());
        let mut log_cols = vec![f64::NAN; nu * nn * ns];
        let mut seen = vec![false; nu * nn];
        for m in models {
            if m.columns.species != species {
                return Err(CloudyError::Grid(format!(
                    "model (log U {}, log N_H {}) saves other species than the first model",
                    m.log_u, m.log_nh_cm2
                )));
            }
            let (Some(iu), Some(inh)) = (find(&log_u, m.log_u), find(&log_nh, m.log_nh_cm2)) else {
                return Err(CloudyError::Grid("node lookup failed".to_string()));
            };
            let node = iu * nn + inh;
            if seen[node] {
                return Err(CloudyError::Grid(format!(
                    "two models at (log U {}, log N_H {})",
                    m.log_u, m.log_nh_cm2
                )));
            }
            seen[node] = true;
            for (s, v) in m.columns.cm2.iter().enumerate() {
                log_cols[node * ns + s] = log_floor(*v);
            }
        }
        if let Some(node) = seen.iter().position(|s| !s) {
            return Err(CloudyError::Grid(format!(
                "no model at (log U {}, log N_H {}): the grid must be rectangular",
                log_u[node / nn],
                log_nh[node % nn]
            )));
        }
        Ok(ColumnGrid {
            log_hden_cm3,
            log_u,
            log_nh,
            species,
            log_cols,
        })
    }

    /// log10 n_H (cm^-3) of every model.
    pub fn log_hden_cm3(&self) -> f64 {
        self.log_hden_cm3
    }

    /// The log U nodes, ascending.
    pub fn log_u_nodes(&self) -> &[f64] {
        &self.log_u
    }

    /// The log N_H (cm^-2) nodes, ascending.
    pub fn log_nh_nodes(&self) -> &[f64] {
        &self.log_nh
    }

    /// Cloudy labels of the species on the grid.
    pub fn species(&self) -> &[String] {
        &self.species
    }

    /// Index of a species label.
    pub fn species_index(&self, species: &str) -> Option<usize> {
        self.species.iter().position(|s| s == species)
    }

    /// log N of species `s` at node (iu, inh).
    pub fn node(&self, s: usize, iu: usize, inh: usize) -> f64 {
        self.log_cols[(iu * self.log_nh.len() + inh) * self.species.len() + s]
    }

    /// Whether (log U, log N_H) lies inside the grid (edges included).
    pub fn contains(&self, log_u: f64, log_nh_cm2: f64) -> bool {
        let inside = |a: &[f64], x: f64| x >= a[0] - 1e-12 && x <= a[a.len() - 1] + 1e-12;
        inside(&self.log_u, log_u) && inside(&self.log_nh, log_nh_cm2)
    }

    /// Bilinear interpolation of log N(species) at (log U, log N_H); `None`
    /// outside the grid or for an unknown species (no extrapolation).
    pub fn interpolate(&self, species: &str, log_u: f64, log_nh_cm2: f64) -> Option<f64> {
        let s = self.species_index(species)?;
        self.contains(log_u, log_nh_cm2)
            .then(|| self.interpolate_index(s, log_u, log_nh_cm2))
    }

    /// Bilinear interpolation by species index; the point is clamped into
    /// the grid.
    pub(crate) fn interpolate_index(&self, s: usize, log_u: f64, log_nh_cm2: f64) -> f64 {
        let (iu, tu) = cell(&self.log_u, log_u);
        let (inh, tn) = cell(&self.log_nh, log_nh_cm2);
        let f00 = self.node(s, iu, inh);
        let f10 = self.node(s, iu + 1, inh);
        let f01 = self.node(s, iu, inh + 1);
        let f11 = self.node(s, iu + 1, inh + 1);
        (1.0 - tu) * (1.0 - tn) * f00
            + tu * (1.0 - tn) * f10
            + (1.0 - tu) * tn * f01
            + tu * tn * f11
    }
}

/// The cell `i` with `axis[i] <= x <= axis[i+1]` and the fraction across it,
/// clamped to the axis.
fn cell(axis: &[f64], x: f64) -> (usize, f64) {
    let last = axis.len() - 2;
    let i = axis[1..=last].iter().take_while(|a| **a <= x).count();
    let t = (x - axis[i]) / (axis[i + 1] - axis[i]);
    (i, t.clamp(0.0, 1.0))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A synthetic grid where log N(X) = 2 log U + log N_H - 5 exactly
    /// (bilinear interpolation is exact for it).
    pub(crate) fn plane_grid() -> ColumnGrid {
        let mut models = Vec::new();
        for u in [-3.0, -2.0, -1.0] {
            for n in [20.0, 21.0, 22.0] {
                let x = 2.0 * u + n - 5.0;
                models.push(GridModel {
                    log_u: u,
                    log_nh_cm2: n,
                    columns: ColumnDensities {
                        species: vec!["X".into(), "Y".into()],
                        cm2: vec![10f64.powf(x), 10f64.powf(n - u)],
                    },
                });
            }
        }
        ColumnGrid::from_models(4.0, &models).expect("rectangular")
    }

    #[test]
    fn bilinear_is_exact_on_planes() {
        let g = plane_grid();
        let v = g.interpolate("X", -1.7, 21.3).expect("inside");
        assert!((v - (2.0 * -1.7 + 21.3 - 5.0)).abs() < 1e-9, "{v}");
        assert_eq!(g.interpolate("X", -0.5, 21.0), None);
        assert_eq!(g.interpolate("Z", -2.0, 21.0), None);
        assert!((g.interpolate("Y", -1.0, 22.0).expect("corner") - 23.0).abs() < 1e-9);
    }

    #[test]
    fn holes_are_rejected() {
        let g = plane_grid();
        let mut models: Vec<GridModel> = Vec::new();
        for u in [-3.0, -2.0] {
            for n in [20.0, 21.0] {
                models.push(GridModel {
                    log_u: u,
                    log_nh_cm2: n,
                    columns: ColumnDensities {
                        species: g.species().to_vec(),
                        cm2: vec![1.0, 1.0],
                    },
                });
            }
        }
        models.pop();
        let e = ColumnGrid::from_models(4.0, &models)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no model at (log U -2, log N_H 21)"), "{e}");
    }
}
