//! Galaxy positions for void finding: (RA, Dec, z) to comoving Cartesian
//! coordinates in Mpc/h.
//!
//! Convention of VAST (Douglass et al. 2023, JOSS 8, 4812;
//! `vast/voidfinder/voidfinder.py::ra_dec_to_xyz`) and of the DESIVAST
//! catalogues: flat LambdaCDM with `h = 1`, comoving line-of-sight distance
//! `r(z)` (Hogg 1999, eq. 15) and
//! `x = r cos(dec) cos(ra)`, `y = r cos(dec) sin(ra)`, `z = r sin(dec)`.
//! Distances come from [`astrolab_sky::cosmology`] (f64 quadrature; VAST
//! integrates in f32, a difference of about 1e-5 Mpc/h at z = 0.1).

use astrolab_sky::cosmology::{radec_z_to_xyz, FlatLcdm};

/// Why a galaxy list cannot be turned into positions.
#[derive(Debug, thiserror::Error)]
pub enum GeometryError {
    /// The three input columns differ in length.
    #[error("ra, dec and redshift have different lengths ({ra}, {dec}, {z})")]
    LengthMismatch { ra: usize, dec: usize, z: usize },
    /// A row holds NaN or infinity, or a redshift at or below -1.
    #[error("row {row}: {column} = {value} is not a usable value (galaxies need finite ra, dec and a redshift > -1)")]
    BadValue {
        row: usize,
        column: &'static str,
        value: f64,
    },
    /// Omega_m outside [0, 1].
    #[error("Omega_m = {0} is not in [0, 1]")]
    OmegaM(f64),
}

/// Comoving distances (Mpc/h, h = 1) of `z` for a flat LambdaCDM with
/// matter density `omega_m`.
pub fn comoving_distances_mpc_h(z: &[f64], omega_m: f64) -> Result<Vec<f64>, GeometryError> {
    let cosmo = FlatLcdm::new(omega_m).map_err(|_| GeometryError::OmegaM(omega_m))?;
    let z_max = z
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let table = cosmo.distance_table(z_max);
    Ok(table.comoving_distances_mpc_h(z))
}

/// Comoving Cartesian positions (Mpc/h) of galaxies at `ra_deg`, `dec_deg`,
/// redshift `z`, with the VAST axes convention.
///
/// Every row must be finite (a NaN redshift is an error naming its row: a
/// galaxy without a distance cannot be placed, and silently dropping it
/// would change the wall/field split).
pub fn radec_z_to_comoving_xyz(
    ra_deg: &[f64],
    dec_deg: &[f64],
    z: &[f64],
    omega_m: f64,
) -> Result<Vec<[f64; 3]>, GeometryError> {
    if ra_deg.len() != dec_deg.len() || ra_deg.len() != z.len() {
        return Err(GeometryError::LengthMismatch {
            ra: ra_deg.len(),
            dec: dec_deg.len(),
            z: z.len(),
        });
    }
    for (row, ((&ra, &dec), &zz)) in ra_deg.iter().zip(dec_deg).zip(z).enumerate() {
        let bad = |column, value| GeometryError::BadValue { row, column, value };
        if !ra.is_finite() {
            return Err(bad("ra", ra));
        }
        if !dec.is_finite() || dec.abs() > 90.0 {
            return Err(bad("dec", dec));
        }
        if !zz.is_finite() || zz <= -1.0 {
            return Err(bad("redshift", zz));
        }
    }
    let r = comoving_distances_mpc_h(z, omega_m)?;
    Ok(ra_deg
        .iter()
        .zip(dec_deg)
        .zip(&r)
        .map(|((&ra, &dec), &r)| radec_z_to_xyz(ra, dec, r))
        .collect())
}

/// `(ra_deg in [0, 360), dec_deg, r)` of a comoving position, the inverse
/// of the convention above (VAST's `xyz_to_radecz` without the redshift).
pub fn xyz_to_radec_r(xyz: [f64; 3]) -> (f64, f64, f64) {
    astrolab_sky::cosmology::xyz_to_radec_r(xyz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_follow_vast() {
        let p = radec_z_to_comoving_xyz(&[90.0], &[0.0], &[0.05], 0.3).unwrap();
        let r = comoving_distances_mpc_h(&[0.05], 0.3).unwrap()[0];
        // astropy FlatLambdaCDM(H0=100, Om0=0.3, Tcmb0=0).comoving_distance(0.05) = 148.19270311 Mpc
        assert!((r - 148.192_703_11).abs() < 1e-6, "{r}");
        assert!(p[0][0].abs() < 1e-9 && (p[0][1] - r).abs() < 1e-9 && p[0][2].abs() < 1e-9);
        let (ra, dec, rr) = xyz_to_radec_r(p[0]);
        assert!((ra - 90.0).abs() < 1e-9 && dec.abs() < 1e-9 && (rr - r).abs() < 1e-9);
    }

    #[test]
    fn nan_redshift_names_its_row() {
        let e = radec_z_to_comoving_xyz(&[1.0, 2.0], &[0.0, 0.0], &[0.1, f64::NAN], 0.3);
        match e {
            Err(GeometryError::BadValue {
                row: 1,
                column: "redshift",
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
