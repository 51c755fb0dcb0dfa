//! The one place that talks to `astrolab_sky`'s cosmology and HEALPix, so
//! that every distance, redshift and pixel in the demo comes from the same
//! code the lab's pipeline uses to read the files back.

use astrolab_sky::FlatLcdm;

use crate::DemoError;

/// Speed of light (km/s), for the velocity scale of redshift errors.
pub(crate) const C_KM_S: f64 = 299_792.458;

/// Flat LCDM with h = 1 (distances in Mpc/h).
#[derive(Debug, Clone)]
pub(crate) struct Cosmo {
    inner: FlatLcdm,
}

fn sky_err(context: String) -> impl FnOnce(astrolab_sky::SkyError) -> DemoError {
    move |source| DemoError::Sky { context, source }
}

impl Cosmo {
    pub fn new(omega_m: f64) -> Result<Self, DemoError> {
        let inner = FlatLcdm::new(omega_m).map_err(sky_err(format!("omega_m = {omega_m}")))?;
        Ok(Cosmo { inner })
    }

    /// Line-of-sight comoving distance (Mpc/h) to redshift `z`.
    pub fn distance_mpc_h(&self, z: f64) -> Result<f64, DemoError> {
        self.inner
            .comoving_distance_mpc_h(z)
            .map_err(sky_err(format!("comoving distance at z = {z}")))
    }

    /// Redshift at comoving distance `d` (Mpc/h).
    pub fn redshift_at(&self, d_mpc_h: f64) -> Result<f64, DemoError> {
        self.inner
            .redshift_at_distance(d_mpc_h)
            .map_err(sky_err(format!("redshift at distance {d_mpc_h} Mpc/h")))
    }

    /// Comoving position of (RA, Dec, z) exactly as the lab computes it
    /// when it reads the catalogs back.
    pub fn xyz(&self, ra_deg: f64, dec_deg: f64, z: f64) -> Result<[f64; 3], DemoError> {
        astrolab_sky::radec_z_to_xyz(&self.inner, ra_deg, dec_deg, z)
            .map_err(sky_err(format!("position of ({ra_deg}, {dec_deg}, z = {z})")))
    }
}

/// HEALPix index (NESTED) of (RA, Dec) at `nside`, as DESI's HEALPIX column.
pub(crate) fn healpix_nested(nside: u32, ra_deg: f64, dec_deg: f64) -> Result<i64, DemoError> {
    let depth = nside.trailing_zeros() as u8;
    astrolab_sky::hpx_index(depth, ra_deg, dec_deg)
        .map(|i| i as i64)
        .map_err(sky_err(format!("HEALPix of ({ra_deg}, {dec_deg})")))
}
