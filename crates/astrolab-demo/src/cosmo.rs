//! The one place that talks to `astrolab_sky`'s cosmology and HEALPix, so
//! that every distance, redshift and pixel in the demo comes from the same
//! code the lab's pipeline uses to read the files back.

use astrolab_sky::{DistanceTable, FlatLcdm};

use crate::DemoError;

/// Flat LCDM with h = 1 (distances in Mpc/h), with an interpolating table
/// for the many redshift <-> distance conversions (1e-12 Mpc/h accurate;
/// outside the table `astrolab_sky` falls back to direct quadrature).
#[derive(Debug, Clone)]
pub(crate) struct Cosmo {
    table: DistanceTable,
}

fn bad(context: String) -> DemoError {
    DemoError::Cosmology { context }
}

impl Cosmo {
    /// `z_max`: the largest redshift converted often (the table's end).
    pub fn new(omega_m: f64, z_max: f64) -> Result<Self, DemoError> {
        let lcdm = FlatLcdm::new(omega_m).map_err(|source| DemoError::Sky {
            context: format!("omega_m = {omega_m}"),
            source,
        })?;
        Ok(Cosmo {
            table: lcdm.distance_table(z_max * 1.05),
        })
    }

    /// Line-of-sight comoving distance (Mpc/h) to redshift `z`.
    pub fn distance_mpc_h(&self, z: f64) -> Result<f64, DemoError> {
        let d = self.table.comoving_distance_mpc_h(z);
        if d.is_finite() {
            Ok(d)
        } else {
            Err(bad(format!("no comoving distance for z = {z}")))
        }
    }

    /// Redshift at comoving distance `d` (Mpc/h).
    pub fn redshift_at(&self, d_mpc_h: f64) -> Result<f64, DemoError> {
        let z = self.table.redshift_at_distance(d_mpc_h);
        if z.is_finite() {
            Ok(z)
        } else {
            Err(bad(format!(
                "no redshift for a distance of {d_mpc_h} Mpc/h"
            )))
        }
    }

    /// Comoving position of (RA, Dec, z) exactly as the lab computes it
    /// when it reads the catalogs back.
    pub fn xyz(&self, ra_deg: f64, dec_deg: f64, z: f64) -> Result<[f64; 3], DemoError> {
        Ok(astrolab_sky::radec_z_to_xyz(
            ra_deg,
            dec_deg,
            self.distance_mpc_h(z)?,
        ))
    }
}

/// HEALPix index (NESTED) of (RA, Dec) at `nside` (a power of two), as
/// DESI's HEALPIX column.
pub(crate) fn healpix_nested(nside: u32, ra_deg: f64, dec_deg: f64) -> Result<i64, DemoError> {
    let depth = nside.trailing_zeros() as u8;
    astrolab_sky::hpx_index_at_checked(depth, ra_deg, dec_deg)
        .map(|i| i as i64)
        .map_err(|source| DemoError::Sky {
            context: format!("HEALPix of ({ra_deg}, {dec_deg})"),
            source,
        })
}
