//! Galaxy void membership for VoidFinder and V2 void catalogs, following
//! DESIVAST (Rincon et al. 2025, the DESI DR1 void VAC; VAST: Douglass et
//! al. 2023, JOSS 8, 4812).
//!
//! **vflag** (VAST `vast/voidfinder/vflag.py::determine_vflag`):
//! `1` void, `0` wall, `2` edge (not in a void, but within
//! [`EDGE_BUFFER_MPC_H`] = 10 Mpc/h of the survey boundary along one of the
//! six Cartesian directions, so its environment cannot be decided), `9`
//! outside the survey (angular mask or radial limits).
//!
//! - VoidFinder: a galaxy is a void galaxy when it lies strictly inside any
//!   hole of the HOLES table (`|x - c| < R`, as VAST); its void id is the
//!   VOID of the first such hole in table order. VAST tests void membership
//!   before the mask, so a galaxy inside a hole is `1` even near the edge.
//! - V2 (REVOLVER, VIDE, ZOBOV): a galaxy is a void galaxy when its zone's
//!   `VOID0 != -1` (GALZONE gives the zone, ZONEVOID zone -> VOID0/VOID1);
//!   its void id is VOID0 (for ZOBOV the smallest void holding the zone).
//!   A galaxy of the void catalog's own input is found by TARGETID; any
//!   other point takes the zone of its nearest GALZONE galaxy (3-D k-d
//!   tree). Catalog galaxies flagged OUT are `9`, EDGE `2` when not in a
//!   void; other points follow the footprint as for VoidFinder.
//!
//! **R_VOID_NORM** = distance to the void centre / the void radius, for
//! void galaxies. VoidFinder: the centre is the void's maximal sphere
//! (MAXIMALS row with the same VOID), the radius its effective radius
//! `R_EFF` (radius of the sphere with the volume of the union of the
//! void's holes, the size DESIVAST quotes) when the catalog has it, else the
//! maximal sphere's radius (VAST's own output has no R_EFF); which one was
//! used is [`VoidFinderVoids::radius_kind`]. V2: the VOIDS centre and
//! RADIUS (an effective radius already).
//!
//! **Void edge class** (DESIVAST MAXIMALS `EDGE`): 1 when a hole of the void
//! crosses the survey boundary, 2 when the maximal centre is within 10 Mpc/h
//! of it, 0 otherwise; carried through as [`Member::void_edge`] so that
//! analyses can drop edge voids. Computed with
//! [`voidfinder_edge_classes`] when the file lacks the column.

use std::collections::HashMap;

use astrolab_sky::KdTree3;
use rayon::prelude::*;

/// Wall galaxy.
pub const VFLAG_WALL: u8 = 0;
/// Void galaxy.
pub const VFLAG_VOID: u8 = 1;
/// Too close to the survey boundary to decide.
pub const VFLAG_EDGE: u8 = 2;
/// Outside the survey footprint.
pub const VFLAG_OUTSIDE: u8 = 9;

/// VAST's edge buffer (Mpc/h): a galaxy whose six axis-offset points at this
/// distance are not all in the survey is an edge galaxy.
pub const EDGE_BUFFER_MPC_H: f64 = 10.0;

/// Errors of membership: what in the catalog is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MembershipError {
    /// A sphere or point is not finite or has a non-positive radius.
    #[error("{table} row {row}: {message}")]
    BadRow {
        /// HOLES, MAXIMALS, VOIDS, GALZONE or the galaxy input.
        table: &'static str,
        /// Row (0-based).
        row: usize,
        /// What is wrong.
        message: String,
    },
    /// The catalog cannot place the galaxies (no TARGETID matches and no
    /// positions in GALZONE).
    #[error("{0}")]
    Unplaceable(String),
}

/// A sphere in comoving coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sphere {
    /// Centre, Mpc/h.
    pub center_mpc_h: [f64; 3],
    /// Radius, Mpc/h.
    pub radius_mpc_h: f64,
}

/// Which radius normalises R_VOID_NORM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadiusKind {
    /// DESIVAST's effective radius R_EFF.
    Effective,
    /// The maximal sphere's radius (VAST output without R_EFF).
    Maximal,
}

/// The radii normalising R_VOID_NORM: DESIVAST's effective radius R_EFF
/// where the catalog has one that is finite and positive (rows without
/// fall back to the maximal sphere's radius), else every maximal radius.
pub fn norm_radii(r_eff_mpc_h: Option<&[f64]>, maximals: &[Sphere]) -> (Vec<f64>, RadiusKind) {
    match r_eff_mpc_h {
        Some(r) => (
            r.iter()
                .zip(maximals)
                .map(|(r, s)| {
                    if r.is_finite() && *r > 0.0 {
                        *r
                    } else {
                        s.radius_mpc_h
                    }
                })
                .collect(),
            RadiusKind::Effective,
        ),
        None => (
            maximals.iter().map(|s| s.radius_mpc_h).collect(),
            RadiusKind::Maximal,
        ),
    }
}

/// A VoidFinder catalog: holes with their void, and one maximal per void.
#[derive(Debug, Clone)]
pub struct VoidFinderVoids {
    /// HOLES rows.
    pub holes: Vec<Sphere>,
    /// VOID of each hole.
    pub hole_void: Vec<i64>,
    /// VOID of each MAXIMALS row.
    pub maximal_void: Vec<i64>,
    /// Maximal spheres.
    pub maximals: Vec<Sphere>,
    /// Radius normalising R_VOID_NORM for each maximal (R_EFF or RADIUS).
    pub norm_radius_mpc_h: Vec<f64>,
    /// Which radius `norm_radius_mpc_h` holds.
    pub radius_kind: RadiusKind,
    /// DESIVAST EDGE class per maximal (0, 1, 2), when known.
    pub edge: Option<Vec<i64>>,
}

impl VoidFinderVoids {
    /// Checks every row (finite centres, positive radii, consistent lengths).
    pub fn validate(&self) -> Result<(), MembershipError> {
        let bad = |table, row, message: String| MembershipError::BadRow {
            table,
            row,
            message,
        };
        if self.holes.len() != self.hole_void.len() {
            return Err(bad(
                "HOLES",
                0,
                "VOID column length differs from X/Y/Z".into(),
            ));
        }
        if self.maximals.len() != self.maximal_void.len()
            || self.maximals.len() != self.norm_radius_mpc_h.len()
        {
            return Err(bad("MAXIMALS", 0, "column lengths differ".into()));
        }
        for (table, spheres) in [("HOLES", &self.holes), ("MAXIMALS", &self.maximals)] {
            for (i, s) in spheres.iter().enumerate() {
                let radius_ok = s.radius_mpc_h.is_finite() && s.radius_mpc_h > 0.0;
                if !(s.center_mpc_h.iter().all(|c| c.is_finite()) && radius_ok) {
                    return Err(bad(
                        table,
                        i,
                        format!(
                            "centre {:?}, radius {} (need finite X/Y/Z and RADIUS > 0)",
                            s.center_mpc_h, s.radius_mpc_h
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The survey region: which comoving positions were observed. Implemented
/// for [`crate::mask::SurveyMask`] (VAST's MASK grid or a HEALPix footprint
/// built from the galaxies, with radial limits; or a periodic box).
pub trait Footprint: Sync {
    /// Whether `p` (Mpc/h, observer at the origin) is inside the survey.
    fn contains(&self, p: [f64; 3]) -> bool;
}

/// No boundary (a simulation box): everything is inside, nothing is edge.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unbounded;

impl Footprint for Unbounded {
    fn contains(&self, p: [f64; 3]) -> bool {
        p.iter().all(|c| c.is_finite())
    }
}

impl Footprint for crate::mask::SurveyMask {
    fn contains(&self, p: [f64; 3]) -> bool {
        p.iter().all(|c| c.is_finite()) && crate::mask::SurveyMask::contains(self, p)
    }
}

/// Membership of one galaxy in one catalog.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member {
    /// 0 wall, 1 void, 2 edge, 9 outside.
    pub vflag: u8,
    /// The void (for void galaxies).
    pub void_id: Option<i64>,
    /// Distance to the void centre over the void radius (void galaxies).
    pub r_void_norm: Option<f64>,
    /// The void's DESIVAST edge class (void galaxies, when known).
    pub void_edge: Option<i64>,
}

impl Member {
    fn flag(vflag: u8) -> Member {
        Member {
            vflag,
            void_id: None,
            r_void_norm: None,
            void_edge: None,
        }
    }
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// VAST's wall/edge/outside decision for a galaxy in no void.
fn environment(p: [f64; 3], footprint: &dyn Footprint, buffer: f64) -> u8 {
    if !footprint.contains(p) {
        return VFLAG_OUTSIDE;
    }
    for axis in 0..3 {
        for sign in [-1.0, 1.0] {
            let mut q = p;
            q[axis] += sign * buffer;
            if !footprint.contains(q) {
                return VFLAG_EDGE;
            }
        }
    }
    VFLAG_WALL
}

/// A uniform grid over the holes: each cell lists the holes whose bounding
/// box touches it (compressed rows), so a point tests only nearby holes.
struct HoleGrid {
    lo: [f64; 3],
    cell: f64,
    dims: [usize; 3],
    start: Vec<u32>,
    items: Vec<u32>,
}

impl HoleGrid {
    fn build(holes: &[Sphere]) -> HoleGrid {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        let mut rsum = 0.0;
        for h in holes {
            for k in 0..3 {
                lo[k] = lo[k].min(h.center_mpc_h[k] - h.radius_mpc_h);
                hi[k] = hi[k].max(h.center_mpc_h[k] + h.radius_mpc_h);
            }
            rsum += h.radius_mpc_h;
        }
        if holes.is_empty() {
            return HoleGrid {
                lo: [0.0; 3],
                cell: 1.0,
                dims: [0; 3],
                start: vec![0],
                items: Vec::new(),
            };
        }
        // Cells about the mean hole radius: a hole spans ~3 cells a side,
        // a point tests the few holes of one cell. At most 2^24 cells.
        let mut cell = (rsum / holes.len() as f64).max(1e-3);
        let dims = loop {
            let d = [0, 1, 2].map(|k| (((hi[k] - lo[k]) / cell).ceil() as usize).max(1));
            if d[0] * d[1] * d[2] <= 1 << 24 {
                break d;
            }
            cell *= 1.5;
        };
        let ncell = dims[0] * dims[1] * dims[2];
        let range = |h: &Sphere, k: usize| {
            let a = ((h.center_mpc_h[k] - h.radius_mpc_h - lo[k]) / cell).floor() as isize;
            let b = ((h.center_mpc_h[k] + h.radius_mpc_h - lo[k]) / cell).floor() as isize;
            (a.max(0) as usize, (b.max(0) as usize).min(dims[k] - 1))
        };
        let mut count = vec![0u32; ncell + 1];
        let visit = |h: &Sphere, f: &mut dyn FnMut(usize)| {
            let (x0, x1) = range(h, 0);
            let (y0, y1) = range(h, 1);
            let (z0, z1) = range(h, 2);
            for x in x0..=x1 {
                for y in y0..=y1 {
                    for z in z0..=z1 {
                        f((x * dims[1] + y) * dims[2] + z);
                    }
                }
            }
        };
        for h in holes {
            visit(h, &mut |c| count[c + 1] += 1);
        }
        for i in 0..ncell {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut items = vec![0u32; count[ncell] as usize];
        for (i, h) in holes.iter().enumerate() {
            visit(h, &mut |c| {
                items[fill[c] as usize] = i as u32;
                fill[c] += 1;
            });
        }
        HoleGrid {
            lo,
            cell,
            dims,
            start: count,
            items,
        }
    }

    /// Holes whose bounding box holds `p` (in increasing hole order).
    fn candidates(&self, p: [f64; 3]) -> &[u32] {
        let mut idx = [0usize; 3];
        for k in 0..3 {
            let f = (p[k] - self.lo[k]) / self.cell;
            if !(f >= 0.0 && (f as usize) < self.dims[k]) {
                return &[];
            }
            idx[k] = f as usize;
        }
        let c = (idx[0] * self.dims[1] + idx[1]) * self.dims[2] + idx[2];
        &self.items[self.start[c] as usize..self.start[c + 1] as usize]
    }
}

/// Classifies `points` (comoving Mpc/h) against a VoidFinder catalog.
/// Non-finite points (e.g. NaN redshifts) are `9`. Parallel over points;
/// the result does not depend on the number of threads.
pub fn classify_voidfinder(
    points: &[[f64; 3]],
    voids: &VoidFinderVoids,
    footprint: &dyn Footprint,
    edge_buffer_mpc_h: f64,
) -> Result<Vec<Member>, MembershipError> {
    voids.validate()?;
    let grid = HoleGrid::build(&voids.holes);
    let by_void: HashMap<i64, usize> = voids
        .maximal_void
        .iter()
        .enumerate()
        .map(|(i, &v)| (v, i))
        .collect();
    Ok(points
        .par_iter()
        .with_min_len(4096)
        .map(|&p| {
            if !p.iter().all(|c| c.is_finite()) {
                return Member::flag(VFLAG_OUTSIDE);
            }
            let hit = grid.candidates(p).iter().find(|&&h| {
                let s = &voids.holes[h as usize];
                dist(p, s.center_mpc_h) < s.radius_mpc_h
            });
            match hit {
                Some(&h) => {
                    let v = voids.hole_void[h as usize];
                    let m = by_void.get(&v).copied();
                    Member {
                        vflag: VFLAG_VOID,
                        void_id: Some(v),
                        r_void_norm: m.map(|m| {
                            dist(p, voids.maximals[m].center_mpc_h) / voids.norm_radius_mpc_h[m]
                        }),
                        void_edge: m.and_then(|m| voids.edge.as_ref().map(|e| e[m])),
                    }
                }
                None => Member::flag(environment(p, footprint, edge_buffer_mpc_h)),
            }
        })
        .collect())
}

/// DESIVAST's void edge classes computed from the holes: 1 when a hole of
/// the void reaches outside the footprint (tested at the six axis points and
/// the eight diagonal points of its surface), 2 when the maximal centre is
/// within `buffer` of the boundary (VAST's six-point test), else 0.
pub fn voidfinder_edge_classes(
    voids: &VoidFinderVoids,
    footprint: &dyn Footprint,
    buffer_mpc_h: f64,
) -> Vec<i64> {
    let mut crosses: HashMap<i64, bool> = HashMap::new();
    let s3 = 1.0 / 3f64.sqrt();
    let mut dirs: Vec<[f64; 3]> = Vec::new();
    for k in 0..3 {
        for s in [-1.0, 1.0] {
            let mut d = [0.0; 3];
            d[k] = s;
            dirs.push(d);
        }
    }
    for sx in [-s3, s3] {
        for sy in [-s3, s3] {
            for sz in [-s3, s3] {
                dirs.push([sx, sy, sz]);
            }
        }
    }
    for (h, &v) in voids.holes.iter().zip(&voids.hole_void) {
        let out = dirs.iter().any(|d| {
            let q = [0, 1, 2].map(|k| h.center_mpc_h[k] + d[k] * h.radius_mpc_h);
            !footprint.contains(q)
        });
        *crosses.entry(v).or_insert(false) |= out;
    }
    voids
        .maximals
        .iter()
        .zip(&voids.maximal_void)
        .map(|(m, v)| {
            if crosses.get(v).copied().unwrap_or(false) {
                1
            } else if environment(m.center_mpc_h, footprint, buffer_mpc_h) != VFLAG_WALL {
                2
            } else {
                0
            }
        })
        .collect()
}

/// A V2 catalog (one algorithm, one cap).
#[derive(Debug, Clone, Default)]
pub struct V2Voids {
    /// ZONEVOID: zone -> (VOID0, VOID1).
    pub zone_void: Vec<(i64, i64, i64)>,
    /// GALZONE zone per row.
    pub gal_zone: Vec<i64>,
    /// GALZONE TARGETID per row (when the file has it).
    pub gal_targetid: Option<Vec<i64>>,
    /// GALZONE X/Y/Z per row (when the file has them).
    pub gal_xyz_mpc_h: Option<Vec<[f64; 3]>>,
    /// GALZONE EDGE per row (when present).
    pub gal_edge: Option<Vec<i64>>,
    /// GALZONE OUT per row (when present).
    pub gal_out: Option<Vec<i64>>,
    /// VOIDS: id, centre and radius.
    pub voids: Vec<(i64, Sphere)>,
}

/// Classifies galaxies against a V2 catalog. `targetid` (when given) finds
/// catalog galaxies by id; the others take their nearest GALZONE galaxy's
/// zone (needs GALZONE X/Y/Z) after passing the footprint.
pub fn classify_v2(
    points: &[[f64; 3]],
    targetid: Option<&[i64]>,
    cat: &V2Voids,
    footprint: &dyn Footprint,
    edge_buffer_mpc_h: f64,
) -> Result<Vec<Member>, MembershipError> {
    let zone_void0: HashMap<i64, i64> = cat.zone_void.iter().map(|&(z, v0, _)| (z, v0)).collect();
    let by_target: HashMap<i64, usize> = cat
        .gal_targetid
        .as_ref()
        .map(|t| t.iter().enumerate().map(|(i, &id)| (id, i)).collect())
        .unwrap_or_default();
    let void_sphere: HashMap<i64, Sphere> = cat.voids.iter().copied().collect();
    for (row, (_, s)) in cat.voids.iter().enumerate() {
        let radius_ok = s.radius_mpc_h.is_finite() && s.radius_mpc_h > 0.0;
        if !(s.center_mpc_h.iter().all(|c| c.is_finite()) && radius_ok) {
            return Err(MembershipError::BadRow {
                table: "VOIDS",
                row,
                message: format!("centre {:?}, radius {}", s.center_mpc_h, s.radius_mpc_h),
            });
        }
    }
    let tree = cat.gal_xyz_mpc_h.as_ref().map(|xyz| KdTree3::build(xyz));
    if tree.is_none() && by_target.is_empty() && !points.is_empty() {
        return Err(MembershipError::Unplaceable(
            "GALZONE has neither TARGETID nor X/Y/Z columns: cannot tell which zone a galaxy is in"
                .into(),
        ));
    }
    let flag_of = |col: &Option<Vec<i64>>, row: usize| col.as_ref().map_or(0, |c| c[row]);
    let classify = |i: usize, p: [f64; 3]| -> Member {
        let own = targetid.and_then(|t| by_target.get(&t[i]).copied());
        let row = match own {
            Some(r) => r,
            None => {
                if !p.iter().all(|c| c.is_finite()) || !footprint.contains(p) {
                    return Member::flag(VFLAG_OUTSIDE);
                }
                match tree.as_ref().and_then(|t| t.nearest(p)) {
                    Some((r, _)) => r,
                    None => return Member::flag(VFLAG_OUTSIDE),
                }
            }
        };
        let zone = cat.gal_zone[row];
        let v0 = zone_void0.get(&zone).copied().unwrap_or(-1);
        if v0 != -1 {
            return Member {
                vflag: VFLAG_VOID,
                void_id: Some(v0),
                r_void_norm: void_sphere
                    .get(&v0)
                    .filter(|_| p.iter().all(|c| c.is_finite()))
                    .map(|s| dist(p, s.center_mpc_h) / s.radius_mpc_h),
                void_edge: None,
            };
        }
        if flag_of(&cat.gal_out, row) != 0 {
            return Member::flag(VFLAG_OUTSIDE);
        }
        if own.is_some() && flag_of(&cat.gal_edge, row) != 0 {
            return Member::flag(VFLAG_EDGE);
        }
        if !p.iter().all(|c| c.is_finite()) {
            return Member::flag(VFLAG_OUTSIDE);
        }
        Member::flag(environment(p, footprint, edge_buffer_mpc_h))
    };
    Ok(points
        .par_iter()
        .enumerate()
        .with_min_len(4096)
        .map(|(i, &p)| classify(i, p))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sphere(c: [f64; 3], r: f64) -> Sphere {
        Sphere {
            center_mpc_h: c,
            radius_mpc_h: r,
        }
    }

    struct Ball(f64);
    impl Footprint for Ball {
        fn contains(&self, p: [f64; 3]) -> bool {
            dist(p, [0.0; 3]) <= self.0
        }
    }

    fn catalog() -> VoidFinderVoids {
        VoidFinderVoids {
            holes: vec![
                sphere([0.0, 0.0, 0.0], 20.0),
                sphere([25.0, 0.0, 0.0], 10.0),
                sphere([100.0, 0.0, 0.0], 15.0),
            ],
            hole_void: vec![0, 0, 1],
            maximal_void: vec![0, 1],
            maximals: vec![
                sphere([0.0, 0.0, 0.0], 20.0),
                sphere([100.0, 0.0, 0.0], 15.0),
            ],
            norm_radius_mpc_h: vec![20.0, 15.0],
            radius_kind: RadiusKind::Maximal,
            edge: Some(vec![0, 2]),
        }
    }

    #[test]
    fn voidfinder_rules() {
        let cat = catalog();
        let pts = [
            [10.0, 0.0, 0.0],  // void 0, r/R = 0.5
            [30.0, 0.0, 0.0],  // second hole of void 0
            [50.0, 0.0, 0.0],  // wall
            [100.0, 5.0, 0.0], // void 1 (edge class 2)
            [150.0, 0.0, 0.0], // outside the ball of 155? no: inside, edge (160 > 155)
            [200.0, 0.0, 0.0], // outside
            [f64::NAN, 0.0, 0.0],
            [20.0, 0.0, 0.0], // on hole 0's surface: strictly-inside rule -> hole 1 holds it
        ];
        let m = classify_voidfinder(&pts, &cat, &Ball(155.0), EDGE_BUFFER_MPC_H).unwrap();
        let flags: Vec<u8> = m.iter().map(|m| m.vflag).collect();
        assert_eq!(flags, vec![1, 1, 0, 1, 2, 9, 9, 1]);
        assert_eq!(m[0].void_id, Some(0));
        assert!((m[0].r_void_norm.unwrap() - 0.5).abs() < 1e-15);
        assert!((m[1].r_void_norm.unwrap() - 1.5).abs() < 1e-15);
        assert_eq!(m[3].void_edge, Some(2));
        assert_eq!(m[2].void_id, None);
    }

    #[test]
    fn edge_classes_from_holes() {
        let cat = catalog();
        // Ball of 155: void 1's holes reach x = 115, its centre is 55 Mpc/h
        // from the boundary: both voids are interior.
        assert_eq!(
            voidfinder_edge_classes(&cat, &Ball(155.0), 10.0),
            vec![0, 0]
        );
        // Ball of 112: void 1's hole (reaching 115) crosses the boundary.
        assert_eq!(
            voidfinder_edge_classes(&cat, &Ball(112.0), 10.0),
            vec![0, 1]
        );
        // Class 2: the hole surfaces stay inside, but the centre is within
        // 10 Mpc/h of the boundary: a small excluded notch (a masked star,
        // say) 10 Mpc/h below void 1's centre, inside its maximal sphere,
        // which the surface test of the holes does not see.
        struct Notch;
        impl Footprint for Notch {
            fn contains(&self, p: [f64; 3]) -> bool {
                let notch =
                    (p[0] - 100.0).abs() < 1.0 && p[1].abs() < 1.0 && p[2] < -9.0 && p[2] > -11.0;
                dist(p, [0.0; 3]) <= 155.0 && !notch
            }
        }
        assert_eq!(voidfinder_edge_classes(&cat, &Notch, 10.0), vec![0, 2]);
    }

    #[test]
    fn bad_holes_are_named() {
        let mut cat = catalog();
        cat.holes[1].radius_mpc_h = -1.0;
        let e = classify_voidfinder(&[[0.0; 3]], &cat, &Unbounded, 10.0).unwrap_err();
        assert!(e.to_string().contains("HOLES row 1"), "{e}");
    }

    #[test]
    fn v2_rules() {
        let cat = V2Voids {
            zone_void: vec![(0, 5, 5), (1, -1, -1)],
            gal_zone: vec![0, 1, 1],
            gal_targetid: Some(vec![100, 101, 102]),
            gal_xyz_mpc_h: Some(vec![[10.0, 0.0, 0.0], [60.0, 0.0, 0.0], [90.0, 0.0, 0.0]]),
            gal_edge: Some(vec![0, 0, 1]),
            gal_out: Some(vec![0, 0, 0]),
            voids: vec![(5, sphere([0.0, 0.0, 0.0], 20.0))],
        };
        let pts = [
            [10.0, 0.0, 0.0],
            [60.0, 0.0, 0.0],
            [90.0, 0.0, 0.0],
            [12.0, 0.0, 0.0],
            [500.0, 0.0, 0.0],
        ];
        let ids = [100, 101, 102, 7, 8];
        let m = classify_v2(&pts, Some(&ids), &cat, &Ball(155.0), 10.0).unwrap();
        let flags: Vec<u8> = m.iter().map(|m| m.vflag).collect();
        assert_eq!(flags, vec![1, 0, 2, 1, 9]);
        assert_eq!(m[3].void_id, Some(5));
        assert!((m[3].r_void_norm.unwrap() - 0.6).abs() < 1e-15);
    }
}
