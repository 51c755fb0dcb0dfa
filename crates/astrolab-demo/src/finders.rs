//! Void catalogs in the DESIVAST layouts, made from the planted voids as if
//! the four DESIVAST void finders had run on the synthetic galaxies.
//!
//! Nothing here runs a void finder: each catalog is the planted truth seen
//! through an algorithm-shaped lens, with small documented differences so
//! that comparisons across algorithms are meaningful.
//!
//! - VoidFinder (Hoyle & Vogeley 2002, ApJ 566, 641; VAST, Douglass et al.
//!   2023, JOSS 8, 4902): per planted void a maximal sphere of 85-95 % of
//!   the radius (a maximal sphere is bounded by the void's own few galaxies)
//!   plus 10-16 smaller holes, each with its centre inside the maximal
//!   sphere, reaching out to 1.05 R. Membership: inside any hole. EDGE: 1
//!   when a hole crosses the survey boundary, 2 when the centre is within
//!   10 Mpc/h of it, 0 otherwise.
//! - V2 (Voronoi watershed, Neyrinck 2008; VAST V2): zones are groups of
//!   galaxies. A planted void is captured out to `scale * R` around a
//!   slightly displaced centre and split into 2-4 zones by direction; wall
//!   galaxies are grouped into zones by 25 Mpc/h cells with VOID0 = VOID1 =
//!   -1. Membership: the galaxy's zone has VOID0 != -1.
//!   - REVOLVER (Nadathur et al. 2019): scale 1.05, plus spurious voids made
//!     of the 3 % emptiest wall cells (every underdense zone is a void).
//!   - VIDE (Sutter et al. 2015): scale 1.12 (voids grow to the ridge), the
//!     smallest voids (R < 14 Mpc/h) pruned by its central-density cut.
//!   - ZOBOV (Neyrinck 2008): scale 0.95 and a hierarchy: voids of R >= 22
//!     Mpc/h with 3 or more zones get one zone as a sub-void (VOID0 = the
//!     sub-void, VOID1 = the parent, as VAST's `zvoid`).
//!
//! Void ids are 0-based rows of each catalog's VOIDS/MAXIMALS table.

use std::collections::BTreeMap;

use rand::Rng;
use serde::Serialize;

use crate::cosmo::Cosmo;
use crate::geometry::{dist, xyz_to_radec_r, Geometry};
use crate::population::gauss;
use crate::voids::{PlantedVoid, VoidLookup};
use crate::DemoError;

/// One VoidFinder void: its maximal sphere (MAXIMALS row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Maximal {
    pub void: i64,
    pub center_mpc_h: [f64; 3],
    pub radius_mpc_h: f64,
    pub edge: i64,
    /// Comoving distance of the centre (the MAXIMALS `R` column).
    pub r_mpc_h: f64,
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// Radius of the sphere with the volume of the union of the holes.
    pub r_eff_mpc_h: f64,
    pub r_eff_uncert_mpc_h: f64,
}

/// One VoidFinder hole (HOLES row); the first hole of a void is its
/// maximal sphere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hole {
    pub void: i64,
    pub center_mpc_h: [f64; 3],
    pub radius_mpc_h: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoidFinderCatalog {
    pub maximals: Vec<Maximal>,
    pub holes: Vec<Hole>,
}

/// The three V2 pruning methods DESIVAST publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum V2Algorithm {
    Revolver,
    Vide,
    Zobov,
}

impl V2Algorithm {
    pub const ALL: [V2Algorithm; 3] =
        [V2Algorithm::Revolver, V2Algorithm::Vide, V2Algorithm::Zobov];

    /// Name as in the DESIVAST file names.
    pub fn name(self) -> &'static str {
        match self {
            V2Algorithm::Revolver => "REVOLVER",
            V2Algorithm::Vide => "VIDE",
            V2Algorithm::Zobov => "ZOBOV",
        }
    }

    /// Capture radius over the planted radius.
    pub fn radius_scale(self) -> f64 {
        match self {
            V2Algorithm::Revolver => 1.05,
            V2Algorithm::Vide => 1.12,
            V2Algorithm::Zobov => 0.95,
        }
    }

    /// RNG stream offset of this algorithm (one independent stream each).
    pub(crate) fn rng_stream(self) -> u64 {
        match self {
            V2Algorithm::Revolver => 0,
            V2Algorithm::Vide => 1,
            V2Algorithm::Zobov => 2,
        }
    }
}

/// A V2 void (VOIDS row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V2Void {
    pub void: i64,
    pub center_mpc_h: [f64; 3],
    pub redshift: f64,
    pub ra_deg: f64,
    pub dec_deg: f64,
    pub radius_mpc_h: f64,
    /// Semi-axis vectors of the best-fit ellipsoid, longest first (Mpc/h).
    pub axes_mpc_h: [[f64; 3]; 3],
    pub tot_area_mpc2_h2: f64,
    pub edge_area_mpc2_h2: f64,
}

/// A ZONEVOID row: the smallest (VOID0) and largest (VOID1) void containing
/// the zone, -1 for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ZoneVoid {
    pub zone: i64,
    pub void0: i64,
    pub void1: i64,
}

/// GALZONE, one row per galaxy in [`crate::Galaxies`] order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct GalZone {
    /// Row of the galaxy in the input catalog (the galaxy arrays).
    pub gal: Vec<i64>,
    pub target: Vec<i64>,
    pub xyz_mpc_h: Vec<[f64; 3]>,
    pub zone: Vec<i64>,
    /// Layers of zone membership counted from the zone's edge (synthetic:
    /// 0 for wall zones, 1-3 inside voids, deeper towards the centre).
    pub depth: Vec<i64>,
    /// 1 when the galaxy lies within 5 Mpc/h of the survey boundary.
    pub edge: Vec<i64>,
    /// 1 when the galaxy is outside the survey mask (never, here).
    pub out: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V2Catalog {
    pub algorithm: V2Algorithm,
    pub voids: Vec<V2Void>,
    pub zonevoid: Vec<ZoneVoid>,
    pub galzone: GalZone,
    /// For every planted void, its row in `voids` (None when pruned or
    /// when no galaxy fell in it).
    pub planted_to_void: Vec<Option<i64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoidCatalogs {
    pub voidfinder: VoidFinderCatalog,
    pub v2: Vec<V2Catalog>,
}

fn random_unit<R: Rng>(rng: &mut R) -> [f64; 3] {
    loop {
        let v = [gauss(rng, 1.0), gauss(rng, 1.0), gauss(rng, 1.0)];
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if n > 1e-6 {
            return [v[0] / n, v[1] / n, v[2] / n];
        }
    }
}

fn add_scaled(c: [f64; 3], u: [f64; 3], s: f64) -> [f64; 3] {
    [c[0] + u[0] * s, c[1] + u[1] * s, c[2] + u[2] * s]
}

/// VoidFinder MAXIMALS and HOLES for the planted voids.
pub(crate) fn voidfinder<R: Rng>(
    rng: &mut R,
    voids: &[PlantedVoid],
    geom: &Geometry,
) -> VoidFinderCatalog {
    let mut maximals = Vec::with_capacity(voids.len());
    let mut holes = Vec::new();
    for v in voids {
        let r = v.radius_mpc_h;
        let jitter = [0, 1, 2].map(|_| gauss(rng, 0.03 * r));
        let c = add_scaled(v.center_mpc_h, jitter, 1.0);
        let r_max = r * rng.gen_range(0.85..0.95);
        let mut mine = vec![Hole {
            void: v.id,
            center_mpc_h: c,
            radius_mpc_h: r_max,
        }];
        let n_holes = 10 + (r / 5.0).floor() as usize;
        for _ in 0..n_holes {
            let u = random_unit(rng);
            let rh = r * rng.gen_range(0.45..0.7);
            let reach = 1.05 * r * rng.gen_range(0.93..1.0);
            mine.push(Hole {
                void: v.id,
                center_mpc_h: add_scaled(c, u, reach - rh),
                radius_mpc_h: rh,
            });
        }
        let crosses = mine
            .iter()
            .any(|h| geom.boundary_distance(h.center_mpc_h) < h.radius_mpc_h);
        let edge = if crosses {
            1
        } else if geom.boundary_distance(c) < 10.0 {
            2
        } else {
            0
        };
        // Volume of the union of the holes by Monte Carlo in the ball of
        // radius 1.1 R about the maximal centre (all holes lie inside it).
        let big = 1.1 * r;
        let n_mc = 4000usize;
        let mut inside = 0usize;
        for _ in 0..n_mc {
            let p = loop {
                let q = [0, 1, 2].map(|_| rng.gen_range(-1.0..1.0));
                if q[0] * q[0] + q[1] * q[1] + q[2] * q[2] <= 1.0 {
                    break add_scaled(c, q, big);
                }
            };
            if mine
                .iter()
                .any(|h| dist(p, h.center_mpc_h) < h.radius_mpc_h)
            {
                inside += 1;
            }
        }
        let frac = inside as f64 / n_mc as f64;
        let vol = frac * 4.0 / 3.0 * std::f64::consts::PI * big.powi(3);
        let r_eff = (3.0 * vol / (4.0 * std::f64::consts::PI)).cbrt();
        let frac_err = (frac * (1.0 - frac) / n_mc as f64).sqrt();
        let r_eff_uncert = if frac > 0.0 {
            r_eff / 3.0 * frac_err / frac
        } else {
            0.0
        };
        let (ra, dec, d) = xyz_to_radec_r(c);
        maximals.push(Maximal {
            void: v.id,
            center_mpc_h: c,
            radius_mpc_h: r_max,
            edge,
            r_mpc_h: d,
            ra_deg: ra,
            dec_deg: dec,
            r_eff_mpc_h: r_eff,
            r_eff_uncert_mpc_h: r_eff_uncert,
        });
        holes.extend(mine);
    }
    VoidFinderCatalog { maximals, holes }
}

/// Ellipsoid axes: a random orthonormal frame scaled by lengths near `r`.
fn ellipsoid_axes<R: Rng>(rng: &mut R, r: f64) -> [[f64; 3]; 3] {
    let a = random_unit(rng);
    let t = random_unit(rng);
    // b: t made orthogonal to a; c = a x b.
    let dot = a[0] * t[0] + a[1] * t[1] + a[2] * t[2];
    let mut b = [t[0] - dot * a[0], t[1] - dot * a[1], t[2] - dot * a[2]];
    let nb = (b[0] * b[0] + b[1] * b[1] + b[2] * b[2]).sqrt().max(1e-9);
    b = b.map(|x| x / nb);
    let c = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    let mut lens = [0, 1, 2].map(|_| r * (1.0 + gauss(rng, 0.1)).clamp(0.6, 1.5));
    lens.sort_by(|x, y| y.total_cmp(x));
    [
        a.map(|x| x * lens[0]),
        b.map(|x| x * lens[1]),
        c.map(|x| x * lens[2]),
    ]
}

/// Fraction of a sphere's surface outside the footprint (256 directions).
fn surface_fraction_outside<R: Rng>(rng: &mut R, geom: &Geometry, c: [f64; 3], r: f64) -> f64 {
    let n = 256;
    let out = (0..n)
        .filter(|_| !geom.contains(add_scaled(c, random_unit(rng), r)))
        .count();
    out as f64 / n as f64
}

struct V2Builder<'a> {
    geom: &'a Geometry,
    cosmo: &'a Cosmo,
    voids: Vec<V2Void>,
}

impl V2Builder<'_> {
    fn push_void<R: Rng>(
        &mut self,
        rng: &mut R,
        c: [f64; 3],
        radius: f64,
    ) -> Result<i64, DemoError> {
        let (ra, dec, d) = xyz_to_radec_r(c);
        let tot_area =
            4.0 * std::f64::consts::PI * radius * radius * 1.35 * rng.gen_range(0.9..1.1);
        let edge_frac = surface_fraction_outside(rng, self.geom, c, radius);
        let id = self.voids.len() as i64;
        self.voids.push(V2Void {
            void: id,
            center_mpc_h: c,
            redshift: self.cosmo.redshift_at(d)?,
            ra_deg: ra,
            dec_deg: dec,
            radius_mpc_h: radius,
            axes_mpc_h: ellipsoid_axes(rng, radius),
            tot_area_mpc2_h2: tot_area,
            edge_area_mpc2_h2: tot_area * edge_frac,
        });
        Ok(id)
    }
}

/// Cell size of wall zones (Mpc/h).
const WALL_CELL: f64 = 25.0;

/// One V2 catalog for `algo`. `xyz` and `targetid` are the galaxies in
/// [`crate::Galaxies`] order.
pub(crate) fn v2_catalog<R: Rng>(
    rng: &mut R,
    algo: V2Algorithm,
    planted: &[PlantedVoid],
    xyz: &[[f64; 3]],
    targetid: &[i64],
    geom: &Geometry,
    cosmo: &Cosmo,
) -> Result<V2Catalog, DemoError> {
    let scale = algo.radius_scale();
    // The algorithm's view of each planted void: kept or pruned, centre
    // displaced by a few per cent of the radius, capture radius scaled.
    let kept: Vec<bool> = planted
        .iter()
        .map(|v| !(algo == V2Algorithm::Vide && v.radius_mpc_h < 14.0))
        .collect();
    let seen: Vec<PlantedVoid> = planted
        .iter()
        .map(|v| {
            let jitter = [0, 1, 2].map(|_| gauss(rng, 0.04 * v.radius_mpc_h));
            PlantedVoid {
                center_mpc_h: add_scaled(v.center_mpc_h, jitter, 1.0),
                radius_mpc_h: scale * v.radius_mpc_h * (1.0 + gauss(rng, 0.03)).clamp(0.9, 1.1),
                ..v.clone()
            }
        })
        .collect();
    let zone_dirs: Vec<Vec<[f64; 3]>> = planted
        .iter()
        .map(|v| {
            let k = 1 + (v.radius_mpc_h / 10.0).floor() as usize;
            (0..k.clamp(2, 4)).map(|_| random_unit(rng)).collect()
        })
        .collect();
    let lookup = VoidLookup::new(&seen, geom, 1.0);

    // Members of each (void, sub-zone), and wall galaxies by cell.
    let mut void_members: Vec<Vec<Vec<usize>>> = zone_dirs
        .iter()
        .map(|d| vec![Vec::new(); d.len()])
        .collect();
    let mut wall_cells: BTreeMap<(i64, i64, i64), Vec<usize>> = BTreeMap::new();
    let mut depth = vec![0i64; xyz.len()];
    for (i, &p) in xyz.iter().enumerate() {
        match lookup.environment(p).nearest {
            Some((j, x)) if x < 1.0 && kept[j] => {
                let c = seen[j].center_mpc_h;
                let d = dist(p, c).max(1e-9);
                let u = [(p[0] - c[0]) / d, (p[1] - c[1]) / d, (p[2] - c[2]) / d];
                let (best, _) =
                    zone_dirs[j]
                        .iter()
                        .enumerate()
                        .fold((0, f64::NEG_INFINITY), |acc, (k, s)| {
                            let dot = u[0] * s[0] + u[1] * s[1] + u[2] * s[2];
                            if dot > acc.1 {
                                (k, dot)
                            } else {
                                acc
                            }
                        });
                void_members[j][best].push(i);
                depth[i] = 1 + (3.0 * (1.0 - x)).floor().min(2.0) as i64;
            }
            _ => {
                let key = p.map(|v| (v / WALL_CELL).floor() as i64);
                wall_cells
                    .entry((key[0], key[1], key[2]))
                    .or_default()
                    .push(i);
            }
        }
    }

    let mut builder = V2Builder {
        geom,
        cosmo,
        voids: Vec::new(),
    };
    let mut zone_of = vec![-1i64; xyz.len()];
    let mut zonevoid = Vec::new();
    let mut planted_to_void = vec![None; planted.len()];
    let mut pending_children = Vec::new();
    for (j, zones) in void_members.iter().enumerate() {
        if zones.iter().all(|z| z.is_empty()) {
            continue;
        }
        let id = builder.push_void(rng, seen[j].center_mpc_h, seen[j].radius_mpc_h)?;
        planted_to_void[j] = Some(id);
        let split =
            algo == V2Algorithm::Zobov && planted[j].radius_mpc_h >= 22.0 && zones.len() >= 3;
        for (k, members) in zones.iter().enumerate() {
            if members.is_empty() {
                continue;
            }
            let zone = zonevoid.len() as i64;
            for &i in members {
                zone_of[i] = zone;
            }
            zonevoid.push(ZoneVoid {
                zone,
                void0: id,
                void1: id,
            });
            if split && k == 0 {
                pending_children.push((zonevoid.len() - 1, j, members.clone(), zones.len()));
            }
        }
    }
    // ZOBOV sub-voids: one zone of a large void, listed after the parents.
    for (zv, j, members, nzones) in pending_children {
        let n = members.len() as f64;
        let mut c = [0.0; 3];
        for &i in &members {
            for k in 0..3 {
                c[k] += xyz[i][k] / n;
            }
        }
        let r = seen[j].radius_mpc_h * (1.0 / nzones as f64).cbrt();
        let child = builder.push_void(rng, c, r)?;
        zonevoid[zv].void0 = child;
    }
    // Wall zones, in cell order; REVOLVER calls the emptiest of them voids.
    let mut spurious: Vec<(usize, (i64, i64, i64))> = Vec::new();
    if algo == V2Algorithm::Revolver {
        let mut candidates: Vec<(usize, (i64, i64, i64))> = wall_cells
            .iter()
            .filter(|(key, members)| {
                let centre = [key.0, key.1, key.2].map(|v| (v as f64 + 0.5) * WALL_CELL);
                members.len() >= 2 && geom.boundary_distance(centre) > 0.5 * WALL_CELL
            })
            .map(|(key, members)| (members.len(), *key))
            .collect();
        candidates.sort();
        let n = (0.03 * wall_cells.len() as f64).round() as usize;
        spurious = candidates.into_iter().take(n).collect();
        spurious.sort_by_key(|&(_, key)| key);
    }
    for (key, members) in &wall_cells {
        let zone = zonevoid.len() as i64;
        for &i in members {
            zone_of[i] = zone;
        }
        let void = if spurious.iter().any(|(_, k)| k == key) {
            let n = members.len() as f64;
            let mut c = [0.0; 3];
            for &i in members {
                for k in 0..3 {
                    c[k] += xyz[i][k] / n;
                }
            }
            let r = (3.0 * WALL_CELL.powi(3) / (4.0 * std::f64::consts::PI)).cbrt()
                * rng.gen_range(0.8..1.0);
            builder.push_void(rng, c, r)?
        } else {
            -1
        };
        zonevoid.push(ZoneVoid {
            zone,
            void0: void,
            void1: void,
        });
    }

    let galzone = GalZone {
        gal: (0..xyz.len() as i64).collect(),
        target: targetid.to_vec(),
        xyz_mpc_h: xyz.to_vec(),
        zone: zone_of,
        depth,
        edge: xyz
            .iter()
            .map(|&p| i64::from(geom.boundary_distance(p) < 5.0))
            .collect(),
        out: vec![0; xyz.len()],
    };
    Ok(V2Catalog {
        algorithm: algo,
        voids: builder.voids,
        zonevoid,
        galzone,
        planted_to_void,
    })
}
