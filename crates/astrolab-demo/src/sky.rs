//! The in-memory synthetic sky: planted voids, galaxies (struct of
//! arrays), every redshift-catalog spectrum and the void catalogs.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::cosmo::{healpix_nested, Cosmo};
use crate::finders::{self, V2Algorithm, VoidCatalogs};
use crate::geometry::{xyz_to_radec_r, Geometry};
use crate::lines::{line_flux_sigma, true_line_fluxes, N_LINES};
use crate::population::{draw_physical, gauss};
use crate::targets::{observe, Bricks, Identity, ObjectKind, ObsInput, Spectrum, TargetIds};
use crate::voids::{density_weight, plant_voids, PlantedVoid, VoidLookup};
use crate::{DemoConfig, DemoError};

/// HEALPix resolution of the DESI HEALPIX column (NESTED).
pub const HEALPIX_NSIDE: u32 = 64;

/// The galaxies, one entry per galaxy in every vector, in the row order of
/// the FastSpecFit tables (sorted by HEALPIX, then TARGETID).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Galaxies {
    pub targetid: Vec<i64>,
    pub ra_deg: Vec<f64>,
    pub dec_deg: Vec<f64>,
    pub z: Vec<f64>,
    /// Comoving position recomputed from (RA, Dec, Z) with `astrolab_sky`.
    pub xyz_mpc_h: Vec<[f64; 3]>,
    /// HEALPix NSIDE 64 NESTED pixel.
    pub healpix: Vec<i32>,
    /// Row of the galaxy in [`SyntheticSky::zcatalog`].
    pub zcat_row: Vec<usize>,
    /// Placed as a member of a small group (the clustering component).
    pub in_group: Vec<bool>,
    /// Truth: planted void containing the galaxy (`r < R`), or -1.
    pub void_id: Vec<i64>,
    /// Truth: planted void with the smallest `r / R` (every galaxy has one
    /// when any void was planted, else -1).
    pub nearest_void_id: Vec<i64>,
    /// Truth: distance to that void's centre over its radius.
    pub r_over_void_radius: Vec<f64>,
    pub logmstar: Vec<f64>,
    pub logmstar_ivar: Vec<f64>,
    pub quenched: Vec<bool>,
    pub log_ssfr_yr: Vec<f64>,
    pub sfr_msun_yr: Vec<f64>,
    pub sfr_ivar: Vec<f64>,
    pub dn4000: Vec<f64>,
    pub dn4000_ivar: Vec<f64>,
    pub age_gyr: Vec<f64>,
    pub age_ivar: Vec<f64>,
    pub zzsun: Vec<f64>,
    pub zzsun_ivar: Vec<f64>,
    pub vdisp_km_s: Vec<f64>,
    pub vdisp_ivar: Vec<f64>,
    /// ABSMAG01_SDSS_R (h = 1).
    pub absmag_r: Vec<f64>,
    /// Apparent r (AB).
    pub mag_r: Vec<f64>,
    /// Fraction of the light inside the fibre (APERCORR is its inverse).
    pub aperture_fraction: Vec<f64>,
    /// Reduced chi2 of the continuum fit and median S/N per pixel in B, R, Z.
    pub rchi2: Vec<f64>,
    pub snr_brz: Vec<[f64; 3]>,
    /// FastSpecFit Monte Carlo seed (SPECPHOT SEED).
    pub fit_seed: Vec<i64>,
    /// Measured fluxes of [`crate::LINE_NAMES`] (1e-17 erg/s/cm^2, noisy).
    pub line_flux: Vec<[f64; N_LINES]>,
    pub line_flux_ivar: Vec<[f64; N_LINES]>,
}

impl Galaxies {
    pub fn len(&self) -> usize {
        self.targetid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targetid.is_empty()
    }
}

/// Summary statistics of the injected signal as realised in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuredEffects {
    pub n_void_galaxies: usize,
    pub n_wall_galaxies: usize,
    pub median_logmstar_void: f64,
    pub median_logmstar_wall: f64,
    /// Mean over void galaxies of log M minus the median log M of wall
    /// galaxies at the same redshift (bins of 0.01): the mass difference at
    /// fixed redshift, free of the flux-limit trend.
    pub logmstar_offset_at_fixed_z_dex: f64,
    /// Quenched fraction of void galaxies over the one expected from wall
    /// galaxies of the same stellar mass (bins of 0.1 dex).
    pub quenched_fraction_ratio_at_fixed_mass: f64,
    /// Fraction with log sSFR < -11.
    pub quenched_fraction_void: f64,
    pub quenched_fraction_wall: f64,
    pub median_dn4000_void: f64,
    pub median_dn4000_wall: f64,
    /// Galaxy number density in void interiors over the mean density.
    pub void_density_over_mean: f64,
}

/// Everything [`crate::generate_sky`] writes, in memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyntheticSky {
    pub config: DemoConfig,
    pub footprint_volume_mpc3_h3: f64,
    pub footprint_solid_angle_sr: f64,
    pub r_min_mpc_h: f64,
    pub r_max_mpc_h: f64,
    /// Fraction of the footprint volume inside planted voids.
    pub void_volume_fraction_achieved: f64,
    pub voids: Vec<PlantedVoid>,
    pub galaxies: Galaxies,
    /// Redshift catalog rows (galaxies, QSOs, stars), sorted by HEALPIX
    /// then TARGETID as in the zpix files.
    pub zcatalog: Vec<Spectrum>,
    pub void_catalogs: VoidCatalogs,
    pub measured: MeasuredEffects,
}

/// Independent random streams, one per stage, so that changing one stage
/// does not reshuffle the others.
mod stream {
    pub const VOIDS: u64 = 1;
    pub const POSITIONS: u64 = 2;
    pub const IDENTITY: u64 = 3;
    pub const PHYSICAL: u64 = 4;
    pub const OBSERVATION: u64 = 5;
    pub const OTHERS: u64 = 6;
    pub const VOIDFINDER: u64 = 7;
    pub const V2: u64 = 8;
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Group sizes and widths of the clustering component.
const GROUP_MEAN_EXTRA_MEMBERS: f64 = 3.0;
const GROUP_SIGMA_MPC_H: f64 = 1.5;

/// Galaxy positions: a Poisson field thinned by the void profile, plus
/// groups outside void interiors. Returns (position, in_group).
fn place_galaxies<R: Rng>(
    rng: &mut R,
    cfg: &DemoConfig,
    geom: &Geometry,
    lookup: &VoidLookup,
) -> Vec<([f64; 3], bool)> {
    let n = cfg.n_galaxies;
    let n_field = n - ((cfg.group_fraction * n as f64).round() as usize).min(n);
    let w_max = cfg.wall_density_contrast.max(1.0);
    let mut out = Vec::with_capacity(n);
    while out.len() < n_field {
        let p = geom.sample_point(rng);
        let w = density_weight(&lookup.environment(p), cfg);
        if rng.gen::<f64>() * w_max < w {
            out.push((p, false));
        }
    }
    let extra = rand_distr::Poisson::new(GROUP_MEAN_EXTRA_MEMBERS).ok();
    while out.len() < n {
        let c = geom.sample_point(rng);
        let env = lookup.environment(c);
        let w = density_weight(&env, cfg);
        if env.in_void() || rng.gen::<f64>() * w_max >= w {
            continue;
        }
        let members = 1 + extra.map_or(3, |d| rng.sample(d) as usize);
        for m in 0..members {
            if out.len() >= n {
                break;
            }
            let p = if m == 0 {
                c
            } else {
                let d = [0, 1, 2].map(|_| gauss(rng, GROUP_SIGMA_MPC_H));
                [c[0] + d[0], c[1] + d[1], c[2] + d[2]]
            };
            if geom.contains(p) && !lookup.environment(p).in_void() {
                out.push((p, true));
            }
        }
    }
    out
}

struct GalaxyDraft {
    id: Identity,
    healpix: i32,
    ra: f64,
    dec: f64,
    z: f64,
    xyz: [f64; 3],
    in_group: bool,
    void_id: i64,
    nearest: i64,
    ratio: f64,
}

struct OtherDraft {
    id: Identity,
    kind: ObjectKind,
    healpix: i32,
    ra: f64,
    dec: f64,
    z: f64,
    mag_r: f64,
    g_minus_r: f64,
    r_minus_z: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn measure(g: &Galaxies, voids: &[PlantedVoid], volume: f64) -> MeasuredEffects {
    let pick = |in_void: bool, col: &[f64]| -> Vec<f64> {
        (0..g.len())
            .filter(|&i| (g.void_id[i] >= 0) == in_void)
            .map(|i| col[i])
            .collect()
    };
    let qfrac = |in_void: bool| {
        let v = pick(in_void, &g.log_ssfr_yr);
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().filter(|&&s| s < -11.0).count() as f64 / v.len() as f64
        }
    };
    let n_void = g.void_id.iter().filter(|&&v| v >= 0).count();
    let void_volume: f64 = voids
        .iter()
        .map(|v| 4.0 / 3.0 * std::f64::consts::PI * v.radius_mpc_h.powi(3))
        .fold(0.0, |a, b| a + b);
    let mean_density = g.len() as f64 / volume;
    // Wall medians of log M per redshift bin, wall quenched fractions per
    // mass bin; bins are keyed by integers in sorted maps (deterministic).
    let zbin = |z: f64| (z / 0.01).floor() as i64;
    let mbin = |m: f64| (m / 0.1).floor() as i64;
    let mut wall_m_by_z: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    let mut wall_q_by_m: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for i in (0..g.len()).filter(|&i| g.void_id[i] < 0) {
        wall_m_by_z
            .entry(zbin(g.z[i]))
            .or_default()
            .push(g.logmstar[i]);
        let e = wall_q_by_m.entry(mbin(g.logmstar[i])).or_default();
        e.0 += usize::from(g.log_ssfr_yr[i] < -11.0);
        e.1 += 1;
    }
    let wall_median_by_z: BTreeMap<i64, f64> = wall_m_by_z
        .into_iter()
        .map(|(k, v)| (k, median(v)))
        .collect();
    let (mut offset_sum, mut offset_n) = (0.0, 0usize);
    let (mut q_obs, mut q_exp) = (0.0, 0.0);
    for i in (0..g.len()).filter(|&i| g.void_id[i] >= 0) {
        if let Some(m) = wall_median_by_z.get(&zbin(g.z[i])) {
            offset_sum += g.logmstar[i] - m;
            offset_n += 1;
        }
        if let Some(&(q, n)) = wall_q_by_m.get(&mbin(g.logmstar[i])) {
            q_obs += f64::from(u8::from(g.log_ssfr_yr[i] < -11.0));
            q_exp += q as f64 / n as f64;
        }
    }
    MeasuredEffects {
        logmstar_offset_at_fixed_z_dex: if offset_n > 0 {
            offset_sum / offset_n as f64
        } else {
            f64::NAN
        },
        quenched_fraction_ratio_at_fixed_mass: if q_exp > 0.0 { q_obs / q_exp } else { f64::NAN },
        n_void_galaxies: n_void,
        n_wall_galaxies: g.len() - n_void,
        median_logmstar_void: median(pick(true, &g.logmstar)),
        median_logmstar_wall: median(pick(false, &g.logmstar)),
        quenched_fraction_void: qfrac(true),
        quenched_fraction_wall: qfrac(false),
        median_dn4000_void: median(pick(true, &g.dn4000)),
        median_dn4000_wall: median(pick(false, &g.dn4000)),
        void_density_over_mean: if void_volume > 0.0 {
            n_void as f64 / void_volume / mean_density
        } else {
            f64::NAN
        },
    }
}

/// Generate the synthetic sky in memory (no I/O). Deterministic: the same
/// config gives the same sky.
pub fn generate_catalog(cfg: &DemoConfig) -> Result<SyntheticSky, DemoError> {
    cfg.validate()?;
    let cosmo = Cosmo::new(cfg.omega_m, cfg.footprint.z_max)?;
    let geom = Geometry::new(&cfg.footprint, &cosmo)?;
    let volume = geom.volume_mpc3_h3();

    let voids = plant_voids(&mut rng_for(cfg.seed, stream::VOIDS), cfg, &geom, &cosmo)?;
    let reach = (1.0 + cfg.wall_thickness_frac).max(2.0);
    let lookup = VoidLookup::new(&voids, &geom, reach);

    // Positions, then redshifts and the positions the lab will recompute
    // from (RA, Dec, Z); the truth is taken from the latter.
    let placed = place_galaxies(
        &mut rng_for(cfg.seed, stream::POSITIONS),
        cfg,
        &geom,
        &lookup,
    );
    let bricks = Bricks::new();
    let mut ids = TargetIds::default();
    let mut id_rng = rng_for(cfg.seed, stream::IDENTITY);
    let mut drafts = Vec::with_capacity(placed.len());
    for (p, in_group) in placed {
        let (ra, dec, r) = xyz_to_radec_r(p);
        let z = cosmo.redshift_at(r)?;
        let xyz = cosmo.xyz(ra, dec, z)?;
        let (void_id, nearest, ratio) = match lookup.nearest_anywhere(xyz) {
            Some((j, x)) => (if x < 1.0 { j as i64 } else { -1 }, j as i64, x),
            None => (-1, -1, f64::INFINITY),
        };
        drafts.push(GalaxyDraft {
            id: ids.assign(&mut id_rng, &bricks, ra, dec),
            healpix: healpix_nested(HEALPIX_NSIDE, ra, dec)? as i32,
            ra,
            dec,
            z,
            xyz,
            in_group,
            void_id,
            nearest,
            ratio,
        });
    }

    // QSOs and stars: in the redshift catalog only.
    let mut other_rng = rng_for(cfg.seed, stream::OTHERS);
    let n_qso = (cfg.qso_fraction * cfg.n_galaxies as f64).round() as usize;
    let n_star = (cfg.star_fraction * cfg.n_galaxies as f64).round() as usize;
    let mut others = Vec::with_capacity(n_qso + n_star);
    for k in 0..n_qso + n_star {
        let kind = if k < n_qso {
            ObjectKind::Qso
        } else {
            ObjectKind::Star
        };
        let (ra, dec) = geom.sample_radec(&mut other_rng);
        let (z, mag_r, g_minus_r, r_minus_z) = match (kind, &cfg.qso_population) {
            (ObjectKind::Qso, None) => (
                (gauss(&mut other_rng, 0.35).exp()).clamp(0.3, 3.5),
                other_rng.gen_range(17.5..20.0),
                0.15 + gauss(&mut other_rng, 0.1),
                0.25 + gauss(&mut other_rng, 0.1),
            ),
            (ObjectKind::Qso, Some(q)) => (
                other_rng.gen_range(q.z_min..q.z_max),
                other_rng.gen_range(q.mag_r_min..q.mag_r_max),
                0.15 + gauss(&mut other_rng, 0.1),
                0.25 + gauss(&mut other_rng, 0.1),
            ),
            _ => (
                gauss(&mut other_rng, 1e-4),
                other_rng.gen_range(14.0..20.0),
                other_rng.gen_range(0.3..1.4),
                other_rng.gen_range(0.1..0.9),
            ),
        };
        others.push(OtherDraft {
            id: ids.assign(&mut id_rng, &bricks, ra, dec),
            kind,
            healpix: healpix_nested(HEALPIX_NSIDE, ra, dec)? as i32,
            ra,
            dec,
            z,
            mag_r,
            g_minus_r,
            r_minus_z,
        });
    }

    drafts.sort_by_key(|d| (d.healpix, d.id.targetid));
    others.sort_by_key(|d| (d.healpix, d.id.targetid));

    // Physical properties and observations, galaxy by galaxy in row order.
    let mut phys_rng = rng_for(cfg.seed, stream::PHYSICAL);
    let mut obs_rng = rng_for(cfg.seed, stream::OBSERVATION);
    let mut g = Galaxies::default();
    let mut galaxy_spectra = Vec::with_capacity(drafts.len());
    for (row, d) in drafts.iter().enumerate() {
        let d_l = (1.0 + d.z) * cosmo.distance_mpc_h(d.z)?;
        let ph = draw_physical(&mut phys_rng, d.z, d_l, d.void_id >= 0, &cfg.effects);
        let (true_flux, aperture) = true_line_fluxes(&mut phys_rng, &ph, d.z, d_l);
        let spec = observe(
            &mut obs_rng,
            &ObsInput {
                kind: ObjectKind::Galaxy,
                galaxy_row: Some(row),
                id: &d.id,
                healpix: d.healpix,
                ra_deg: d.ra,
                dec_deg: d.dec,
                z: d.z,
                mag_r: ph.mag_r,
                g_minus_r: ph.g_minus_r,
                r_minus_z: ph.r_minus_z,
                quenched: ph.quenched,
                aperture,
                zwarn_fraction: cfg.zwarn_fraction,
            },
        );
        let tsnr2 = f64::from(spec.tsnr2_bgs);
        let depth = (tsnr2 / 1200.0).max(0.01).sqrt();
        let mut flux = [0.0; N_LINES];
        let mut ivar = [0.0; N_LINES];
        for k in 0..N_LINES {
            let s = line_flux_sigma(k, tsnr2);
            flux[k] = true_flux[k] + gauss(&mut obs_rng, s);
            ivar[k] = 1.0 / (s * s);
        }
        let rel = |sd: f64| 1.0 / (sd * sd);
        g.targetid.push(d.id.targetid);
        g.ra_deg.push(d.ra);
        g.dec_deg.push(d.dec);
        g.z.push(d.z);
        g.xyz_mpc_h.push(d.xyz);
        g.healpix.push(d.healpix);
        g.zcat_row.push(0);
        g.in_group.push(d.in_group);
        g.void_id.push(d.void_id);
        g.nearest_void_id.push(d.nearest);
        g.r_over_void_radius.push(d.ratio);
        g.logmstar.push(ph.logmstar);
        g.logmstar_ivar.push(rel(0.08 / depth.min(2.0)));
        g.quenched.push(ph.quenched);
        g.log_ssfr_yr.push(ph.log_ssfr);
        g.sfr_msun_yr.push(ph.sfr_msun_yr);
        g.sfr_ivar.push(rel(0.25 * ph.sfr_msun_yr + 0.02));
        g.dn4000.push(ph.dn4000);
        g.dn4000_ivar.push(rel(0.04 / depth.min(2.0)));
        g.age_gyr.push(ph.age_gyr);
        g.age_ivar.push(rel(0.15 * ph.age_gyr + 0.2));
        g.zzsun.push(ph.zzsun);
        g.zzsun_ivar.push(rel(0.12));
        g.vdisp_km_s.push(ph.vdisp_km_s);
        g.vdisp_ivar.push(rel(0.1 * ph.vdisp_km_s + 5.0));
        g.absmag_r.push(ph.absmag_r);
        g.mag_r.push(ph.mag_r);
        g.aperture_fraction.push(aperture);
        g.rchi2.push((1.0 + gauss(&mut obs_rng, 0.05)).max(0.5));
        let snr_r = 10f64.powf(0.4 * (20.5 - ph.mag_r)) * depth;
        g.snr_brz.push([0.6 * snr_r, snr_r, 1.3 * snr_r]);
        g.fit_seed.push(obs_rng.gen_range(0..i64::from(i32::MAX)));
        g.line_flux.push(flux);
        g.line_flux_ivar.push(ivar);
        galaxy_spectra.push(spec);
    }
    let mut other_spectra = Vec::with_capacity(others.len());
    for o in &others {
        other_spectra.push(observe(
            &mut obs_rng,
            &ObsInput {
                kind: o.kind,
                galaxy_row: None,
                id: &o.id,
                healpix: o.healpix,
                ra_deg: o.ra,
                dec_deg: o.dec,
                z: o.z,
                mag_r: o.mag_r,
                g_minus_r: o.g_minus_r,
                r_minus_z: o.r_minus_z,
                quenched: false,
                aperture: 0.6,
                zwarn_fraction: cfg.zwarn_fraction,
            },
        ));
    }

    // Merge the two sorted lists into the zcatalog order.
    let mut zcatalog = Vec::with_capacity(galaxy_spectra.len() + other_spectra.len());
    let mut a = galaxy_spectra.into_iter().peekable();
    let mut b = other_spectra.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (x.healpix, x.targetid) <= (y.healpix, y.targetid),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let s = if take_a { a.next() } else { b.next() };
        if let Some(s) = s {
            if let Some(row) = s.galaxy_row {
                g.zcat_row[row] = zcatalog.len();
            }
            zcatalog.push(s);
        }
    }

    let voidfinder = finders::voidfinder(&mut rng_for(cfg.seed, stream::VOIDFINDER), &voids, &geom);
    let mut v2 = Vec::new();
    for algo in V2Algorithm::ALL {
        let mut rng = rng_for(cfg.seed, stream::V2 + algo.rng_stream());
        v2.push(finders::v2_catalog(
            &mut rng,
            algo,
            &voids,
            &g.xyz_mpc_h,
            &g.targetid,
            &geom,
            &cosmo,
        )?);
    }

    let void_volume: f64 = voids
        .iter()
        .map(|v| 4.0 / 3.0 * std::f64::consts::PI * v.radius_mpc_h.powi(3))
        .fold(0.0, |a, b| a + b);
    let measured = measure(&g, &voids, volume);
    Ok(SyntheticSky {
        config: cfg.clone(),
        footprint_volume_mpc3_h3: volume,
        footprint_solid_angle_sr: geom.solid_angle_sr(),
        r_min_mpc_h: geom.r_min_mpc_h,
        r_max_mpc_h: geom.r_max_mpc_h,
        void_volume_fraction_achieved: void_volume / volume,
        voids,
        galaxies: g,
        zcatalog,
        void_catalogs: VoidCatalogs { voidfinder, v2 },
        measured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::radec_r_to_xyz;

    fn small() -> DemoConfig {
        DemoConfig {
            n_galaxies: 3000,
            ..DemoConfig::default()
        }
    }

    #[test]
    fn positions_round_trip_through_the_sky_convention() {
        let p = radec_r_to_xyz(150.0, 20.0, 300.0);
        let (ra, dec, r) = xyz_to_radec_r(p);
        assert!((ra - 150.0).abs() < 1e-9 && (dec - 20.0).abs() < 1e-9 && (r - 300.0).abs() < 1e-9);
    }

    #[test]
    fn catalog_has_requested_galaxies_and_sorted_rows() {
        let sky = generate_catalog(&small()).expect("generate");
        assert_eq!(sky.galaxies.len(), 3000);
        assert!(sky.zcatalog.len() > 3000);
        for w in sky.zcatalog.windows(2) {
            assert!((w[0].healpix, w[0].targetid) < (w[1].healpix, w[1].targetid));
        }
        for (i, &row) in sky.galaxies.zcat_row.iter().enumerate() {
            assert_eq!(sky.zcatalog[row].targetid, sky.galaxies.targetid[i]);
            assert_eq!(sky.zcatalog[row].galaxy_row, Some(i));
        }
    }

    #[test]
    fn a_sky_without_voids_is_all_wall() {
        let cfg = DemoConfig {
            n_galaxies: 800,
            void_volume_fraction: 0.0,
            ..DemoConfig::default()
        };
        let sky = generate_catalog(&cfg).expect("generate");
        assert!(sky.voids.is_empty());
        assert_eq!(
            sky.void_volume_fraction_achieved.to_bits(),
            0.0f64.to_bits()
        );
        assert!(sky.galaxies.void_id.iter().all(|&v| v == -1));
        assert!(sky.galaxies.nearest_void_id.iter().all(|&v| v == -1));
        for c in &sky.void_catalogs.v2 {
            assert!(
                c.voids.iter().all(|v| v.radius_mpc_h < 20.0),
                "only spurious voids"
            );
        }
        assert!(sky.void_catalogs.voidfinder.maximals.is_empty());
    }

    #[test]
    fn invalid_config_is_refused_with_the_field_name() {
        let cfg = DemoConfig {
            omega_m: -1.0,
            ..DemoConfig::default()
        };
        let err = generate_catalog(&cfg).unwrap_err().to_string();
        assert!(err.contains("omega_m"), "{err}");
    }
}
