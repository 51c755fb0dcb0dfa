//! DESI identifiers, targeting bits and the per-spectrum quantities of the
//! redshift catalog (one [`Spectrum`] per ZCATALOG row).
//!
//! - TARGETID: `RELEASE << 42 | BRICKID << 22 | BRICK_OBJID` (desitarget
//!   `encode_targetid`, bits 0-21 OBJID, 22-41 BRICKID, 42-57 RELEASE), with
//!   RELEASE 9010 (Legacy Surveys DR9 north, Dec >= 32.375 in the NGC) or
//!   9011 (DR9 south): hence DESI-like values 39627xxxxxxxxxxx and
//!   39633xxxxxxxxxxx.
//! - LS_ID: `RELEASE << 40 | BRICKID << 16 | OBJID` (Legacy Surveys).
//! - Bricks: 0.25 deg rows in Dec with about 0.25 deg in RA, numbered from 1
//!   at the south pole, like the DR9 brick table (not its exact numbering).
//! - Bits (desitarget `desi_mask`, `bgs_mask`, `mws_mask`): BGS_ANY = 2^60,
//!   MWS_ANY = 2^61; BGS_FAINT = 1, BGS_BRIGHT = 2; MWS_BROAD = 1.
//! - ZWARN bits (redrock `ZWarningMask`): SMALL_DELTA_CHI2 = 4,
//!   Z_FITLIMIT = 32, BAD_MINFLUX = 1024.

use std::collections::BTreeMap;

use rand::Rng;
use serde::Serialize;

pub const DESI_BGS_ANY: i64 = 1 << 60;
pub const DESI_MWS_ANY: i64 = 1 << 61;
pub const BGS_FAINT: i64 = 1;
pub const BGS_BRIGHT: i64 = 2;
pub const MWS_BROAD: i64 = 1;
pub const ZWARN_SMALL_DELTA_CHI2: i64 = 4;
pub const ZWARN_Z_FITLIMIT: i64 = 32;
pub const ZWARN_BAD_MINFLUX: i64 = 1024;

/// DR9 north/south boundary in the NGC (deg).
const DEC_NORTH: f64 = 32.375;
const BRICK_SIZE_DEG: f64 = 0.25;

/// Legacy Surveys brick of a position: (BRICKID, BRICKNAME).
#[derive(Debug, Clone)]
pub(crate) struct Bricks {
    /// First BRICKID of every Dec row, and how many bricks the row has.
    rows: Vec<(u32, u32)>,
}

impl Bricks {
    pub fn new() -> Self {
        // Rows are centred on multiples of 0.25 deg, poles included.
        let nrows = (180.0 / BRICK_SIZE_DEG) as usize + 1;
        let mut rows = Vec::with_capacity(nrows);
        let mut next = 1u32;
        for i in 0..nrows {
            let dec_c = -90.0 + i as f64 * BRICK_SIZE_DEG;
            let ncol = ((360.0 * dec_c.to_radians().cos() / BRICK_SIZE_DEG).round() as u32).max(1);
            rows.push((next, ncol));
            next += ncol;
        }
        Bricks { rows }
    }

    pub fn brick(&self, ra_deg: f64, dec_deg: f64) -> (i32, String) {
        let nrows = self.rows.len();
        let row = (((dec_deg + 90.0) / BRICK_SIZE_DEG).round().max(0.0) as usize).min(nrows - 1);
        let (first, ncol) = self.rows[row];
        let col = ((ra_deg.rem_euclid(360.0) / 360.0 * ncol as f64).floor() as u32).min(ncol - 1);
        let ra_c = (col as f64 + 0.5) * 360.0 / ncol as f64;
        let dec_c = -90.0 + row as f64 * BRICK_SIZE_DEG;
        let name = format!(
            "{:04}{}{:03}",
            (ra_c * 10.0).floor() as i64,
            if dec_c >= 0.0 { 'p' } else { 'm' },
            (dec_c.abs() * 10.0).floor() as i64
        );
        ((first + col) as i32, name)
    }
}

/// Hands out unique TARGETIDs: per brick, object numbers start at a random
/// offset and grow by small random steps, as in a Tractor catalogue.
#[derive(Debug, Default)]
pub(crate) struct TargetIds {
    next_objid: BTreeMap<i32, i32>,
}

/// Identity of one target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    pub targetid: i64,
    pub release: i16,
    pub brickid: i32,
    pub brickname: String,
    pub brick_objid: i32,
    pub photsys: &'static str,
}

impl TargetIds {
    pub fn assign<R: Rng>(
        &mut self,
        rng: &mut R,
        bricks: &Bricks,
        ra_deg: f64,
        dec_deg: f64,
    ) -> Identity {
        let (brickid, brickname) = bricks.brick(ra_deg, dec_deg);
        let next = self
            .next_objid
            .entry(brickid)
            .or_insert_with(|| rng.gen_range(0..3000));
        let brick_objid = *next;
        *next += rng.gen_range(1..6);
        let north = dec_deg >= DEC_NORTH;
        let release: i16 = if north { 9010 } else { 9011 };
        let targetid =
            (i64::from(release) << 42) | (i64::from(brickid) << 22) | i64::from(brick_objid);
        Identity {
            targetid,
            release,
            brickid,
            brickname,
            brick_objid,
            photsys: if north { "N" } else { "S" },
        }
    }
}

/// Legacy Surveys LS_ID of a target.
pub(crate) fn ls_id(id: &Identity) -> i64 {
    (i64::from(id.release) << 40) | (i64::from(id.brickid) << 16) | i64::from(id.brick_objid)
}

/// DESINAME: `DESI JRRR.rrrr+DD.dddd`, coordinates truncated (not rounded)
/// to 4 decimals, as desiutil.names.radec_to_desiname.
pub(crate) fn desiname(ra_deg: f64, dec_deg: f64) -> String {
    let ra = (ra_deg * 1e4).floor() / 1e4;
    let dec = (dec_deg.abs() * 1e4).floor() / 1e4;
    let sign = if dec_deg < 0.0 { '-' } else { '+' };
    format!("DESI J{ra:08.4}{sign}{dec:07.4}")
}

/// What kind of object a ZCATALOG row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ObjectKind {
    Galaxy,
    Qso,
    Star,
}

/// One row of the redshift catalog (zpix ZCATALOG, zcatalog v1 model).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spectrum {
    pub kind: ObjectKind,
    /// Row of this object in [`crate::Galaxies`] (galaxies only).
    pub galaxy_row: Option<usize>,
    pub targetid: i64,
    pub healpix: i32,
    pub target_ra_deg: f64,
    pub target_dec_deg: f64,
    pub z: f64,
    pub zerr: f64,
    pub zwarn: i64,
    pub chi2: f64,
    pub npixels: i64,
    pub spectype: &'static str,
    pub subtype: &'static str,
    pub ncoeff: i64,
    pub deltachi2: f64,
    pub coadd_fiberstatus: i32,
    pub pmra_mas_yr: f32,
    pub pmdec_mas_yr: f32,
    pub ref_epoch_yr: f32,
    pub subpriority: f64,
    pub release: i16,
    pub brickname: String,
    pub brickid: i32,
    pub brick_objid: i32,
    pub ls_id: i64,
    pub morphtype: &'static str,
    pub ebv_mag: f32,
    /// Total fluxes g, r, z, W1, W2 (nanomaggies, not extinction corrected).
    pub flux_nmgy: [f32; 5],
    pub flux_ivar: [f32; 5],
    /// Fibre fluxes g, r, z (nanomaggies).
    pub fiberflux_nmgy: [f32; 3],
    pub photsys: &'static str,
    pub desi_target: i64,
    pub bgs_target: i64,
    pub mws_target: i64,
    pub scnd_target: i64,
    pub coadd_numexp: i16,
    pub coadd_exptime_s: f32,
    pub coadd_numnight: i16,
    pub coadd_numtile: i16,
    pub min_mjd: f64,
    pub mean_mjd: f64,
    pub max_mjd: f64,
    pub tsnr2_bgs: f32,
    pub tsnr2_lrg: f32,
    pub main_nspec: i16,
    pub main_primary: bool,
    pub zcat_nspec: i16,
    pub zcat_primary: bool,
    pub desiname: String,
}

/// DESI main survey DR1 dates: 2021-05-14 to 2022-06-13.
const MJD_FIRST: f64 = 59_348.0;
const MJD_LAST: f64 = 59_743.0;

/// Galactic reddening: a smooth made-up map, 0.01-0.05 mag over the NGC.
pub(crate) fn ebv(ra_deg: f64, dec_deg: f64) -> f64 {
    0.025
        + 0.012 * (ra_deg.to_radians() * 3.0).sin() * (dec_deg.to_radians() * 2.0).cos()
        + 0.008 * (dec_deg / 50.0)
}

/// Flux (nanomaggies) of an AB magnitude.
pub(crate) fn nmgy(mag: f64) -> f64 {
    10f64.powf((22.5 - mag) / 2.5)
}

/// Inputs for the observation layer of one object.
pub(crate) struct ObsInput<'a> {
    pub kind: ObjectKind,
    pub galaxy_row: Option<usize>,
    pub id: &'a Identity,
    pub healpix: i32,
    pub ra_deg: f64,
    pub dec_deg: f64,
    pub z: f64,
    /// Apparent r (AB, before Galactic extinction).
    pub mag_r: f64,
    pub g_minus_r: f64,
    pub r_minus_z: f64,
    pub quenched: bool,
    pub aperture: f64,
    pub zwarn_fraction: f64,
}

/// Per-spectrum observation quantities (redshift fit, photometry, coadd).
pub(crate) fn observe<R: Rng>(rng: &mut R, o: &ObsInput<'_>) -> Spectrum {
    use crate::population::gauss;
    let ebv_mag = ebv(o.ra_deg, o.dec_deg);
    // Observed (reddened) magnitudes; R_g, R_r, R_z, R_W1, R_W2 of DR9.
    let a = [3.214, 2.165, 1.211, 0.184, 0.113].map(|r| r * ebv_mag);
    let g = o.mag_r + o.g_minus_r;
    let zmag = o.mag_r - o.r_minus_z;
    let w1 = zmag - if o.kind == ObjectKind::Star { 0.0 } else { 0.4 };
    let w2 = w1 + if o.kind == ObjectKind::Qso { -0.6 } else { 0.3 };
    let mags = [g, o.mag_r, zmag, w1, w2];
    let depth_ivar = [300.0, 150.0, 40.0, 2.5, 0.6];
    let mut flux = [0f32; 5];
    let mut ivar = [0f32; 5];
    for k in 0..5 {
        let sigma = (1.0f64 / depth_ivar[k]).sqrt();
        flux[k] = (nmgy(mags[k] + a[k]) + gauss(rng, sigma)) as f32;
        ivar[k] = (depth_ivar[k] * rng.gen_range(0.7..1.3)) as f32;
    }
    let fiberflux = [0, 1, 2].map(|k| (f64::from(flux[k]).max(0.0) * o.aperture) as f32);

    let tsnr2_bgs = if rng.gen::<f64>() < 0.01 {
        rng.gen_range(0.5..10.0)
    } else {
        10f64.powf(3.1 + gauss(rng, 0.25))
    };
    let flagged = rng.gen::<f64>() < o.zwarn_fraction;
    let (zwarn, deltachi2) = if flagged {
        let u: f64 = rng.gen();
        let bits = if u < 0.8 {
            ZWARN_SMALL_DELTA_CHI2
        } else if u < 0.9 {
            ZWARN_SMALL_DELTA_CHI2 | ZWARN_Z_FITLIMIT
        } else {
            ZWARN_SMALL_DELTA_CHI2 | ZWARN_BAD_MINFLUX
        };
        (bits, rng.gen_range(0.2..9.0))
    } else {
        (
            0,
            10f64.powf(crate::population::truncated_normal(
                rng, 3.0, 0.6, 0.96, 5.5,
            )),
        )
    };
    let (spectype, subtype, ncoeff, zerr_scale) = match o.kind {
        ObjectKind::Galaxy => ("GALAXY", "", 10, 1.5e-5),
        ObjectKind::Qso => ("QSO", "", 4, 2.0e-4),
        ObjectKind::Star => {
            let u: f64 = rng.gen();
            let sub = if u < 0.35 {
                "K"
            } else if u < 0.65 {
                "G"
            } else if u < 0.85 {
                "F"
            } else {
                "M"
            };
            ("STAR", sub, 5, 5.0e-6)
        }
    };
    let zerr = zerr_scale * (1.0 + o.z.max(0.0)) * 10f64.powf(gauss(rng, 0.2));
    let npixels = 7_800 - rng.gen_range(0..120);
    let chi2 = npixels as f64 * (1.0 + gauss(rng, 0.04)).max(0.5);
    let coadd_fiberstatus = {
        let u: f64 = rng.gen();
        if u < 0.015 {
            16 // POORPOSITION
        } else if u < 0.02 {
            8 // BADPOSITION
        } else {
            0
        }
    };
    let (desi_target, bgs_target, mws_target) = match o.kind {
        ObjectKind::Star => (DESI_MWS_ANY, 0, MWS_BROAD),
        _ => {
            let bgs = if o.mag_r < crate::population::R_MAG_BRIGHT {
                BGS_BRIGHT
            } else {
                BGS_FAINT
            };
            (DESI_BGS_ANY, bgs, 0)
        }
    };
    let morphtype = match o.kind {
        ObjectKind::Star | ObjectKind::Qso => "PSF",
        ObjectKind::Galaxy => {
            let u: f64 = rng.gen();
            match (o.quenched, u) {
                (true, u) if u < 0.55 => "DEV",
                (true, u) if u < 0.85 => "SER",
                (false, u) if u < 0.55 => "EXP",
                (false, u) if u < 0.75 => "REX",
                (false, u) if u < 0.9 => "SER",
                _ => "DEV",
            }
        }
    };
    let (pmra, pmdec, ref_epoch) = if o.kind == ObjectKind::Star {
        (gauss(rng, 8.0) as f32, gauss(rng, 8.0) as f32, 2016.0f32)
    } else {
        (0.0, 0.0, 0.0)
    };
    let numexp: i16 = if rng.gen::<f64>() < 0.75 {
        1
    } else {
        rng.gen_range(2..4)
    };
    let numnight: i16 = if numexp == 1 {
        1
    } else {
        rng.gen_range(1..=numexp)
    };
    let exptime = (0..numexp)
        .map(|_| rng.gen_range(180.0..420.0))
        .sum::<f64>();
    let min_mjd = rng.gen_range(MJD_FIRST..MJD_LAST - 30.0);
    let max_mjd = if numnight == 1 {
        min_mjd + rng.gen_range(0.0..0.05)
    } else {
        min_mjd + rng.gen_range(1.0..30.0)
    };
    let main_nspec: i16 = if rng.gen::<f64>() < 0.03 { 2 } else { 1 };
    let main_primary = main_nspec == 1 || rng.gen::<bool>();
    Spectrum {
        kind: o.kind,
        galaxy_row: o.galaxy_row,
        targetid: o.id.targetid,
        healpix: o.healpix,
        target_ra_deg: o.ra_deg,
        target_dec_deg: o.dec_deg,
        z: o.z,
        zerr,
        zwarn,
        chi2,
        npixels,
        spectype,
        subtype,
        ncoeff,
        deltachi2,
        coadd_fiberstatus,
        pmra_mas_yr: pmra,
        pmdec_mas_yr: pmdec,
        ref_epoch_yr: ref_epoch,
        subpriority: rng.gen(),
        release: o.id.release,
        brickname: o.id.brickname.clone(),
        brickid: o.id.brickid,
        brick_objid: o.id.brick_objid,
        ls_id: ls_id(o.id),
        morphtype,
        ebv_mag: ebv_mag as f32,
        flux_nmgy: flux,
        flux_ivar: ivar,
        fiberflux_nmgy: fiberflux,
        photsys: o.id.photsys,
        desi_target,
        bgs_target,
        mws_target,
        scnd_target: 0,
        coadd_numexp: numexp,
        coadd_exptime_s: exptime as f32,
        coadd_numnight: numnight,
        coadd_numtile: numexp,
        min_mjd,
        mean_mjd: 0.5 * (min_mjd + max_mjd),
        max_mjd,
        tsnr2_bgs: tsnr2_bgs as f32,
        tsnr2_lrg: (tsnr2_bgs * 0.45 * 10f64.powf(gauss(rng, 0.05))) as f32,
        main_nspec,
        main_primary,
        zcat_nspec: 1,
        zcat_primary: true,
        desiname: desiname(o.ra_deg, o.dec_deg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targetids_look_like_desi_and_decode() {
        let bricks = Bricks::new();
        let mut ids = TargetIds::default();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let south = ids.assign(&mut rng, &bricks, 150.0, 2.0);
        let north = ids.assign(&mut rng, &bricks, 150.0, 40.0);
        // 17 digits starting 3962-3963, as DESI main-survey TARGETIDs.
        for t in [south.targetid, north.targetid] {
            assert!(
                (39_620_000_000_000_000..39_640_000_000_000_000).contains(&t),
                "{t}"
            );
        }
        assert_eq!(south.targetid >> 42, 9011);
        assert_eq!(north.targetid >> 42, 9010);
        assert_eq!(
            (south.targetid >> 22) & ((1 << 20) - 1),
            i64::from(south.brickid)
        );
        assert_eq!(
            south.targetid & ((1 << 22) - 1),
            i64::from(south.brick_objid)
        );
        let again = ids.assign(&mut rng, &bricks, 150.0, 2.0);
        assert!(again.targetid > south.targetid);
        assert!(south.brickname.ends_with("p020"), "{}", south.brickname);
        assert_eq!(&south.brickname[..3], "149");
    }

    #[test]
    fn bricks_cover_the_sky_like_dr9() {
        let b = Bricks::new();
        let (last, _) = b.brick(359.99, 89.99);
        // DR9 has 662,174 bricks; this tiling has the same density.
        assert!((650_000..675_000).contains(&last), "{last}");
    }

    #[test]
    fn desiname_truncates() {
        assert_eq!(desiname(150.123_456, 2.345_678), "DESI J150.1234+02.3456");
        assert_eq!(desiname(5.5, -0.25), "DESI J005.5000-00.2500");
    }
}
