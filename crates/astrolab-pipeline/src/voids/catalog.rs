//! Void catalogs for membership: the file model of
//! [`astrolab_formats::vast::read_void_catalog`] turned into the membership
//! rule's inputs ([`astrolab_voids::membership`]).
//!
//! Cosmology: comoving distances use flat LCDM with h = 1 and the
//! catalog's `OMEGAM` primary keyword (VAST writes it). A catalog without
//! it is refused unless `--omega-m` is given: guessing would silently move
//! every galaxy (DESIVAST DR1 used 0.315, the SDSS DR7 VoidFinder run
//! 0.26), so there is no default.

use std::path::Path;

use anyhow::{bail, Context, Result};
use astrolab_formats::vast::{read_void_catalog as read_file, VoidCatalogKind};
use astrolab_voids::mask::RaDecGrid;
use astrolab_voids::membership::{norm_radii, Sphere, V2Voids, VoidFinderVoids};

/// What a void catalog holds.
pub enum CatalogKind {
    /// MAXIMALS + HOLES.
    VoidFinder(VoidFinderVoids),
    /// VOIDS + ZONEVOID + GALZONE.
    V2(V2Voids),
}

/// A void catalog read from a file.
pub struct VoidCatalog {
    /// VoidFinder, REVOLVER, VIDE or ZOBOV.
    pub algorithm: String,
    /// NGC, SGC or ALL.
    pub cap: String,
    /// OMEGAM from the primary header.
    pub omega_m: Option<f64>,
    /// DLIML/DLIMU from the primary header, Mpc/h.
    pub dist_limits_mpc_h: Option<(f64, f64)>,
    /// The MASK HDU (VAST layout), when present.
    pub mask: Option<RaDecGrid>,
    /// The voids.
    pub kind: CatalogKind,
}

/// Reads a VoidFinder or V2 catalog.
pub fn read_void_catalog(path: &Path) -> Result<VoidCatalog> {
    let file = read_file(path)?;
    let header = file.header();
    let omega_m = header.omega_m;
    let dist_limits_mpc_h = header
        .dist_limits_mpc_h
        .filter(|(a, b)| a.is_finite() && b.is_finite() && a < b);
    let mask = match file.mask() {
        Some(m) => Some(
            RaDecGrid::from_cells(usize::try_from(m.resolution).unwrap_or(0), m.cells.clone())
                .with_context(|| format!("{}: HDU MASK", path.display()))?,
        ),
        None => None,
    };
    let kind = match &file.kind {
        VoidCatalogKind::VoidFinder(v, extras) => {
            let sphere = |c: [f64; 3], r: f64| Sphere {
                center_mpc_h: c,
                radius_mpc_h: r,
            };
            let maximals: Vec<Sphere> = v
                .maximals
                .iter()
                .map(|m| sphere(m.center_mpc_h, m.radius_mpc_h))
                .collect();
            let (norm, radius_kind) = norm_radii(extras.r_eff_mpc_h.as_deref(), &maximals);
            CatalogKind::VoidFinder(VoidFinderVoids {
                holes: v
                    .holes
                    .iter()
                    .map(|h| sphere(h.center_mpc_h, h.radius_mpc_h))
                    .collect(),
                hole_void: v.holes.iter().map(|h| h.void).collect(),
                maximal_void: v.maximals.iter().map(|m| m.void).collect(),
                maximals,
                norm_radius_mpc_h: norm,
                radius_kind,
                edge: extras
                    .has_edge
                    .then(|| v.maximals.iter().map(|m| m.edge).collect()),
            })
        }
        VoidCatalogKind::V2(_, _, c) => CatalogKind::V2(V2Voids {
            zone_void: c.zone_void.clone(),
            gal_zone: c.gal_zone.clone(),
            gal_targetid: c.gal_targetid.clone(),
            gal_xyz_mpc_h: c.gal_xyz_mpc_h.clone(),
            gal_edge: c.gal_edge.clone(),
            gal_out: c.gal_out.clone(),
            voids: c
                .voids
                .iter()
                .map(|v| {
                    (
                        v.void,
                        Sphere {
                            center_mpc_h: v.center_mpc_h,
                            radius_mpc_h: v.radius_mpc_h,
                        },
                    )
                })
                .collect(),
        }),
    };
    let algorithm = match (file.algorithm, &kind) {
        (Some(a), _) => a,
        (None, CatalogKind::VoidFinder(_)) => "VoidFinder".to_string(),
        (None, CatalogKind::V2(_)) => bail!(
            "{}: which V2 algorithm is this? Neither the header (ALGORITHM/METHOD) nor the file name names REVOLVER, VIDE or ZOBOV; rename the file (DESIVAST names contain it)",
            path.display()
        ),
    };
    Ok(VoidCatalog {
        algorithm,
        cap: file.cap,
        omega_m,
        dist_limits_mpc_h,
        mask,
        kind,
    })
}
