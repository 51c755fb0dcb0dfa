//! The survey a void finder or a membership rule works in: the radial cut
//! of the galaxies, the angular footprint, the galactic caps.
//!
//! * Radial cut: VAST's `filter_galaxies` (Douglass et al. 2023, JOSS 8,
//!   4812; `vast/voidfinder/preprocessing.py`) keeps the galaxies whose
//!   comoving distance lies in `[dist_min, dist_max]`, both ends included;
//!   without limits, those of the lowest and highest redshift.
//! * Footprint for VoidFinder: a given MASK, VAST's RA/Dec grid of the
//!   galaxies (`generate_mask`, smoothed as `smooth_mask` does), or the
//!   HEALPix cells holding galaxies (an astrolab option), each at the
//!   resolution VAST picks for the far edge of the survey.
//! * Footprint for membership: the catalog's MASK with its distance limits,
//!   else the HEALPix cells occupied by the galaxies between their own
//!   distance limits.
//! * Caps: DESIVAST publishes NGC and SGC catalogs separately; a galaxy
//!   belongs to the NGC when its galactic latitude is >= 0.

use astrolab_sky::cosmology::FlatLcdm;

use crate::geometry::{comoving_distances_mpc_h, GeometryError};
use crate::mask::{Footprint, HealpixFootprint, MaskError, RaDecGrid, SurveyMask};

/// Why a survey cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    /// Positions or distances cannot be computed.
    #[error(transparent)]
    Geometry(#[from] GeometryError),
    /// The footprint or the survey volume cannot be built.
    #[error(transparent)]
    Mask(#[from] MaskError),
    /// Distance limits that are not finite and increasing.
    #[error("distance limits [{r_min}, {r_max}] Mpc/h are not increasing")]
    Limits { r_min: f64, r_max: f64 },
    /// No galaxy between the limits.
    #[error("no galaxy between {r_min:.2} and {r_max:.2} Mpc/h")]
    NoGalaxy { r_min: f64, r_max: f64 },
    /// No finite redshift to take the limits from.
    #[error("no galaxy with a finite redshift to set the radial limits from")]
    NoRedshift,
    /// Omega_m not usable.
    #[error("Omega_m = {0}: {1}")]
    OmegaM(f64, String),
}

/// The galaxies VAST's `filter_galaxies` keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct RadialCut {
    /// Lower and upper comoving distance limits, Mpc/h.
    pub r_min: f64,
    pub r_max: f64,
    /// Lowest and highest redshift of the whole input.
    pub z_min: f64,
    pub z_max: f64,
    /// Rows kept, ascending.
    pub keep: Vec<usize>,
}

impl RadialCut {
    /// Rows dropped.
    pub fn dropped(&self, n: usize) -> usize {
        n - self.keep.len()
    }
}

/// Keeps the galaxies whose comoving distance (flat LCDM, h = 1, matter
/// density `omega_m`) lies in `[r_min, r_max]`; a limit not given is the
/// distance of the lowest (highest) redshift. Refuses limits that are not
/// increasing and a cut that keeps nothing.
pub fn radial_cut(
    z: &[f64],
    omega_m: f64,
    min_dist: Option<f64>,
    max_dist: Option<f64>,
) -> Result<RadialCut, SurveyError> {
    let r_all = comoving_distances_mpc_h(z, omega_m)?;
    let z_min = z.iter().copied().fold(f64::INFINITY, f64::min);
    let z_max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lim = comoving_distances_mpc_h(&[z_min, z_max], omega_m)?;
    let r_min = min_dist.unwrap_or(lim[0]);
    let r_max = max_dist.unwrap_or(lim[1]);
    if !(r_min.is_finite() && r_max.is_finite() && r_min < r_max) {
        return Err(SurveyError::Limits { r_min, r_max });
    }
    let keep: Vec<usize> = (0..r_all.len())
        .filter(|&i| r_all[i] >= r_min && r_all[i] <= r_max)
        .collect();
    if keep.is_empty() {
        return Err(SurveyError::NoGalaxy { r_min, r_max });
    }
    Ok(RadialCut {
        r_min,
        r_max,
        z_min,
        z_max,
        keep,
    })
}

/// How VoidFinder's angular footprint is made.
#[derive(Debug, Clone, PartialEq)]
pub enum FootprintChoice {
    /// A given RA/Dec grid (the MASK HDU of a VoidFinder file).
    Grid(RaDecGrid),
    /// The HEALPix cells at this depth that hold galaxies.
    Healpix(u8),
    /// VAST's RA/Dec grid of the galaxies, one-cell gaps filled when
    /// `smooth` (VAST's `smooth_mask`).
    Galaxies { smooth: bool },
}

/// A footprint and the RA/Dec grid a VoidFinder file records for it (with
/// whether it was smoothed).
#[derive(Debug, Clone)]
pub struct ChosenFootprint {
    /// The footprint holes are tested against.
    pub footprint: Footprint,
    /// The MASK HDU to write.
    pub grid: RaDecGrid,
    /// SMMSK of the MASK HDU.
    pub smoothed: bool,
}

/// Builds the footprint `choice` asks for from the galaxies' directions;
/// grids built here use the resolution VAST picks for a survey reaching
/// `r_max` Mpc/h and voids of at least 10 Mpc/h.
pub fn choose_footprint(
    choice: FootprintChoice,
    ra_deg: &[f64],
    dec_deg: &[f64],
    r_max: f64,
) -> Result<ChosenFootprint, MaskError> {
    Ok(match choice {
        FootprintChoice::Grid(grid) => ChosenFootprint {
            footprint: Footprint::RaDec(grid.clone()),
            grid,
            smoothed: false,
        },
        FootprintChoice::Healpix(depth) => {
            let h = HealpixFootprint::from_galaxies(ra_deg, dec_deg, depth)?;
            let res = RaDecGrid::resolution_for(r_max, 10.0);
            let grid = h.to_radec_grid(res)?;
            ChosenFootprint {
                footprint: Footprint::Healpix(h),
                grid,
                smoothed: false,
            }
        }
        FootprintChoice::Galaxies { smooth } => {
            let res = RaDecGrid::resolution_for(r_max, 10.0);
            let grid = RaDecGrid::from_galaxies(ra_deg, dec_deg, res, smooth)?;
            ChosenFootprint {
                footprint: Footprint::RaDec(grid.clone()),
                grid,
                smoothed: smooth,
            }
        }
    })
}

/// Galaxies whose direction lies outside `footprint` (VAST keeps them:
/// they still bound holes).
pub fn count_outside(footprint: &Footprint, ra_deg: &[f64], dec_deg: &[f64]) -> usize {
    ra_deg
        .iter()
        .zip(dec_deg)
        .filter(|(&a, &d)| !footprint.contains_radec(a, d))
        .count()
}

/// Whether a galaxy at (`ra`, `dec`) belongs to `cap`: NGC at galactic
/// latitude >= 0, SGC below, any other cap (ALL) everything. Unknown
/// positions belong to every cap (they are then classified as outside).
pub fn in_cap(cap: &str, ra_deg: f64, dec_deg: f64) -> bool {
    if !(ra_deg.is_finite() && dec_deg.is_finite()) {
        return true;
    }
    let (_, b) = astrolab_sky::icrs_to_galactic(ra_deg, dec_deg);
    match cap {
        "NGC" => b >= 0.0,
        "SGC" => b < 0.0,
        _ => true,
    }
}

/// Comoving distances and positions of galaxies for membership: flat LCDM
/// (h = 1) with `omega_m`, through a distance table up to the largest
/// finite redshift; a galaxy without a finite, non-negative redshift or
/// position gets NaN (it is then outside every survey).
pub fn membership_positions(
    ra_deg: &[f64],
    dec_deg: &[f64],
    z: &[f64],
    omega_m: f64,
) -> Result<(Vec<f64>, Vec<[f64; 3]>), SurveyError> {
    let cosmo = FlatLcdm::new(omega_m).map_err(|e| SurveyError::OmegaM(omega_m, e.to_string()))?;
    let z_max = z
        .iter()
        .copied()
        .filter(|z| z.is_finite())
        .fold(0.0, f64::max);
    let table = cosmo.distance_table(z_max.max(1e-3));
    let dist: Vec<f64> = z
        .iter()
        .map(|&z| {
            if z.is_finite() && z >= 0.0 {
                table.comoving_distance_mpc_h(z)
            } else {
                f64::NAN
            }
        })
        .collect();
    let points = (0..dist.len())
        .map(|k| {
            if dist[k].is_finite() && ra_deg[k].is_finite() && dec_deg[k].is_finite() {
                astrolab_sky::radec_z_to_xyz(ra_deg[k], dec_deg[k], dist[k])
            } else {
                [f64::NAN; 3]
            }
        })
        .collect();
    Ok((dist, points))
}

/// The survey a void catalog's membership is decided in: its MASK (`grid`)
/// between its distance limits, else the HEALPix cells (depth `depth`)
/// occupied by the galaxies; limits not given (or not finite and
/// increasing) are the galaxies' own.
pub fn membership_survey(
    grid: Option<RaDecGrid>,
    dist_limits_mpc_h: Option<(f64, f64)>,
    ra_deg: &[f64],
    dec_deg: &[f64],
    dist_mpc_h: &[f64],
    depth: u8,
) -> Result<SurveyMask, SurveyError> {
    let limits = match dist_limits_mpc_h {
        Some((a, b)) if a.is_finite() && b.is_finite() && a < b => (a, b),
        _ => {
            let (lo, hi) = dist_mpc_h
                .iter()
                .filter(|d| d.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &d| {
                    (a.min(d), b.max(d))
                });
            if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                return Err(SurveyError::NoRedshift);
            }
            (lo, hi)
        }
    };
    let fp = match grid {
        Some(grid) => Footprint::RaDec(grid),
        None => Footprint::Healpix(HealpixFootprint::from_galaxies(ra_deg, dec_deg, depth)?),
    };
    Ok(SurveyMask::sky(fp, limits.0, limits.1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radial_cut_keeps_both_ends() {
        let z = [0.01, 0.02, 0.03, 0.04];
        let r = comoving_distances_mpc_h(&z, 0.3).unwrap();
        let c = radial_cut(&z, 0.3, Some(r[1]), Some(r[2])).unwrap();
        assert_eq!(c.keep, [1, 2]);
        assert_eq!(c.dropped(4), 2);
        assert_eq!((c.z_min, c.z_max), (0.01, 0.04));
        let all = radial_cut(&z, 0.3, None, None).unwrap();
        assert_eq!(all.keep, [0, 1, 2, 3]);
        assert_eq!((all.r_min, all.r_max), (r[0], r[3]));
        assert!(matches!(
            radial_cut(&z, 0.3, Some(50.0), Some(40.0)),
            Err(SurveyError::Limits { .. })
        ));
        assert!(matches!(
            radial_cut(&z, 0.3, Some(500.0), Some(600.0)),
            Err(SurveyError::NoGalaxy { .. })
        ));
    }

    #[test]
    fn caps_split_at_the_galactic_equator() {
        // The north galactic pole (RA 192.86, Dec 27.13) and the south one.
        assert!(in_cap("NGC", 192.86, 27.13) && !in_cap("SGC", 192.86, 27.13));
        assert!(in_cap("SGC", 12.86, -27.13) && !in_cap("NGC", 12.86, -27.13));
        assert!(in_cap("ALL", 12.86, -27.13));
        assert!(in_cap("NGC", f64::NAN, 0.0) && in_cap("SGC", f64::NAN, 0.0));
    }

    #[test]
    fn membership_limits_come_from_the_galaxies_without_a_header() {
        let (ra, dec) = ([10.0, 11.0, 12.0], [5.0, 6.0, 7.0]);
        let (dist, p) = membership_positions(&ra, &dec, &[0.02, 0.03, f64::NAN], 0.3).unwrap();
        assert!(dist[2].is_nan() && p[2][0].is_nan());
        assert!(dist[0] < dist[1]);
        // Limits that are not increasing are ignored: the galaxies' own.
        let s = membership_survey(None, Some((5.0, 1.0)), &ra, &dec, &dist, 6).unwrap();
        assert!(s.contains(p[0]) && s.contains(p[1]));
        // One finite distance gives no range.
        assert!(matches!(
            membership_survey(None, None, &ra, &dec, &[1.0, f64::NAN, f64::NAN], 6),
            Err(SurveyError::NoRedshift)
        ));
    }
}
