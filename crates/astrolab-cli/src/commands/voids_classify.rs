//! `astrolab voids classify` and `astrolab voids members`.

pub use astrolab_pipeline::params::defs::ClassifyArgs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use astrolab_store::{MembershipKey, MembershipRows, Progress};
use astrolab_voids::membership::{
    classify_v2, classify_voidfinder, voidfinder_edge_classes, Member, VFLAG_EDGE, VFLAG_OUTSIDE,
    VFLAG_VOID, VFLAG_WALL,
};
use clap::Args;

use super::voids_io::{self, CatalogKind, Galaxies};
use crate::cli::OutputArgs;
use crate::config::Config;
use crate::UsageError;

/// Arguments of `voids members`.
#[derive(Debug, Args)]
pub struct MembersArgs {
    /// Only this algorithm (VoidFinder, REVOLVER, VIDE, ZOBOV).
    #[arg(long)]
    pub algorithm: Option<String>,
    /// Filter over the membership columns (target_id, algorithm, cap,
    /// vflag, void_id, r_void_norm, void_edge, catalog, file_id,
    /// galaxy_file_id), e.g.
    /// "vflag = 1 AND r_void_norm < 0.5".
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// At most this many rows.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the per-catalog counts (per galaxy source file) instead of
    /// the rows.
    #[arg(long)]
    pub summary: bool,
    /// Print only the TARGETIDs of --algorithm's galaxies with this vflag
    /// (one per line, ascending; the fast void-vs-wall selection).
    #[arg(long, requires = "algorithm")]
    pub vflag: Option<u8>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Writes ids one per line. Millions of them (the void-vs-wall selection)
/// are formatted into a 1 MiB buffer that is written and reused, so the
/// text never exists whole in memory (no page faults for it), by
/// [`put_id`], which writes in place (a per-id `extend_from_slice` of a
/// formatted string was a third of the selection's time: one memmove call
/// per id).
fn write_ids(mut w: impl std::io::Write, ids: &[i64]) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut buf = vec![0u8; CHUNK + 32];
    let mut pos = 0;
    for &id in ids {
        pos += put_id(&mut buf[pos..], id);
        buf[pos] = b'\n';
        pos += 1;
        if pos >= CHUNK {
            w.write_all(&buf[..pos])?;
            pos = 0;
        }
    }
    w.write_all(&buf[..pos])?;
    w.flush()
}

/// Writes `id` in decimal at the start of `out` (at least 20 bytes) and
/// returns its length.
fn put_id(out: &mut [u8], id: i64) -> usize {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";
    let (sign, mut n) = if id < 0 {
        out[0] = b'-';
        (1, id.unsigned_abs())
    } else {
        (0, id as u64)
    };
    let len = sign + n.checked_ilog10().unwrap_or(0) as usize + 1;
    let o = &mut out[..len];
    let mut i = len;
    // The low eight digits of long ids in u32 arithmetic (cheaper than
    // u64 division), then the rest.
    if n >= 100_000_000 {
        let mut lo = (n % 100_000_000) as u32;
        n /= 100_000_000;
        for _ in 0..4 {
            let d = (lo % 100) as usize * 2;
            lo /= 100;
            i -= 2;
            o[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
        }
    }
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        o[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if n >= 10 {
        let d = n as usize * 2;
        o[i - 2..i].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        o[i - 1] = b'0' + n as u8;
    }
    len
}

/// Counts of one classified catalog.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogCounts {
    pub catalog: String,
    pub algorithm: String,
    pub cap: String,
    pub galaxies: usize,
    pub wall: usize,
    pub void: usize,
    pub edge: usize,
    pub outside: usize,
    pub omega_m: f64,
    pub footprint: String,
    /// Seconds spent in the membership rule itself (all galaxies).
    pub seconds_membership: f64,
    /// Seconds spent writing the rows to the store.
    pub seconds_store: f64,
}

fn in_cap(cap: &str, ra: f64, dec: f64) -> bool {
    if !(ra.is_finite() && dec.is_finite()) {
        // Unknown positions are classified (as outside) in every cap.
        return true;
    }
    let (_, b) = astrolab_sky::icrs_to_galactic(ra, dec);
    match cap {
        "NGC" => b >= 0.0,
        "SGC" => b < 0.0,
        _ => true,
    }
}

/// Classifies `g` against one catalog file; returns the rows and counts.
pub fn classify_file(
    path: &std::path::Path,
    g: &Galaxies,
    args: &ClassifyArgs,
) -> Result<(MembershipKey, MembershipRows, CatalogCounts, Vec<Member>)> {
    let cat = voids_io::read_void_catalog(path)?;
    let omega_m = match (args.omega_m, cat.omega_m) {
        (Some(o), _) => o,
        (None, Some(o)) => o,
        (None, None) => bail!(
            "{}: the primary header has no OMEGAM keyword, so the distances of the galaxies are unknown; pass --omega-m (DESIVAST DR1: 0.315, SDSS DR7 VoidFinder: 0.26)",
            path.display()
        ),
    };
    let cosmo = astrolab_sky::FlatLcdm::new(omega_m)
        .with_context(|| format!("--omega-m / OMEGAM = {omega_m}"))?;
    let rows: Vec<usize> = (0..g.ra_deg.len())
        .filter(|&i| in_cap(&cat.cap, g.ra_deg[i], g.dec_deg[i]))
        .collect();
    let z_max = rows
        .iter()
        .map(|&i| g.z[i])
        .filter(|z| z.is_finite())
        .fold(0.0, f64::max);
    let table = cosmo.distance_table(z_max.max(1e-3));
    let ra: Vec<f64> = rows.iter().map(|&i| g.ra_deg[i]).collect();
    let dec: Vec<f64> = rows.iter().map(|&i| g.dec_deg[i]).collect();
    let dist: Vec<f64> = rows
        .iter()
        .map(|&i| {
            let z = g.z[i];
            if z.is_finite() && z >= 0.0 {
                table.comoving_distance_mpc_h(z)
            } else {
                f64::NAN
            }
        })
        .collect();
    let points: Vec<[f64; 3]> = (0..rows.len())
        .map(|k| {
            if dist[k].is_finite() && ra[k].is_finite() && dec[k].is_finite() {
                astrolab_sky::radec_z_to_xyz(ra[k], dec[k], dist[k])
            } else {
                [f64::NAN; 3]
            }
        })
        .collect();
    let footprint = voids_io::footprint(&cat, &ra, &dec, &dist, args.mask_depth)?;
    let fp_name = if cat.mask.is_some() {
        "MASK HDU".to_string()
    } else {
        format!("HEALPix depth {} from the galaxies", args.mask_depth)
    };
    let ids: Vec<i64> = rows.iter().map(|&i| g.target_id[i]).collect();
    let galaxy_file_id = rows.iter().map(|&i| g.file_id[i]).collect();
    let t0 = std::time::Instant::now();
    let members = match &cat.kind {
        CatalogKind::VoidFinder(v) if v.edge.is_none() => {
            // No EDGE column (VAST's own output): DESIVAST's edge classes
            // from the holes and the footprint.
            let mut v = v.clone();
            v.edge = Some(voidfinder_edge_classes(&v, &footprint, args.edge_buffer));
            classify_voidfinder(&points, &v, &footprint, args.edge_buffer)
                .with_context(|| format!("{}", path.display()))?
        }
        CatalogKind::VoidFinder(v) => classify_voidfinder(&points, v, &footprint, args.edge_buffer)
            .with_context(|| format!("{}", path.display()))?,
        CatalogKind::V2(v) => classify_v2(&points, Some(&ids), v, &footprint, args.edge_buffer)
            .with_context(|| format!("{}", path.display()))?,
    };
    let seconds_membership = t0.elapsed().as_secs_f64();
    let count = |f: u8| members.iter().filter(|m| m.vflag == f).count();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("catalog")
        .to_string();
    let counts = CatalogCounts {
        catalog: name.clone(),
        algorithm: cat.algorithm.clone(),
        cap: cat.cap.clone(),
        galaxies: members.len(),
        wall: count(VFLAG_WALL),
        void: count(VFLAG_VOID),
        edge: count(VFLAG_EDGE),
        outside: count(VFLAG_OUTSIDE),
        omega_m,
        footprint: fp_name,
        seconds_membership,
        seconds_store: 0.0,
    };
    let out = MembershipRows {
        target_id: ids,
        vflag: members.iter().map(|m| m.vflag).collect(),
        void_id: members.iter().map(|m| m.void_id).collect(),
        r_void_norm: members
            .iter()
            .map(|m| m.r_void_norm.unwrap_or(f64::NAN))
            .collect(),
        void_edge: members.iter().map(|m| m.void_edge).collect(),
        galaxy_file_id,
    };
    let key = MembershipKey {
        catalog: name,
        file_id: None,
        algorithm: cat.algorithm,
        cap: cat.cap,
    };
    Ok((key, out, counts, members))
}

/// The registry id of the file with the bytes of `path`, if any (any
/// version: access follows the file's name, so a superseded version's id
/// is as good as the live one's).
fn registered_id(files: &[astrolab_store::RawFile], path: &std::path::Path) -> Result<Option<i64>> {
    let (_, sha) =
        astrolab_store::file_digest(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(files.iter().find(|f| f.sha256 == sha).map(|f| f.file_id))
}

fn load_galaxies(
    store: &mut astrolab_store::Store,
    files: &[astrolab_store::RawFile],
    args: &ClassifyArgs,
) -> Result<Galaxies> {
    if let Some(p) = &args.galaxies {
        return voids_io::read_galaxy_file(p, registered_id(files, p)?);
    }
    if let Some(t) = &args.galaxies_table {
        return voids_io::read_galaxy_table(store, t);
    }
    for t in ["fastspec", "zcatalog", "galaxies"] {
        if store.count_rows(t)? > 0 {
            return voids_io::read_galaxy_table(store, t);
        }
    }
    bail!("no galaxies: the store's fastspec, zcatalog and galaxies tables are empty; ingest a catalog or pass --galaxies FILE")
}

pub fn run_classify(cfg: &Config, args: &ClassifyArgs) -> Result<()> {
    if args.catalogs.is_empty() && args.runs.is_empty() {
        return Err(
            UsageError("voids classify: give --catalog FILE or --run FILE_ID".into()).into(),
        );
    }
    let mut store = crate::commands::open_store(cfg)?;
    let mut paths: Vec<(PathBuf, Option<i64>)> = Vec::new();
    let files = store.raw_files()?;
    for p in &args.catalogs {
        paths.push((p.clone(), registered_id(&files, p)?));
    }
    for &id in &args.runs {
        let Some(f) = files.iter().find(|f| f.file_id == id) else {
            bail!("--run {id}: no file with this id in the registry (see astrolab files list)");
        };
        if !f.format.starts_with("desivast") {
            bail!(
                "--run {id}: {} is a {} file, not a void catalog",
                f.name,
                f.format
            );
        }
        let p = PathBuf::from(&f.source);
        let (_, sha) = astrolab_store::file_digest(&p).with_context(|| {
            format!(
                "--run {id}: the registered source {} cannot be read; pass --catalog with the file",
                p.display()
            )
        })?;
        if sha != f.sha256 {
            bail!("--run {id}: {} has changed since it was ingested (sha256 {sha}, registered {}); pass --catalog", p.display(), f.sha256);
        }
        paths.push((p, Some(id)));
    }
    let g = load_galaxies(&mut store, &files, args)?;
    if g.target_id.is_empty() {
        bail!("{}: no galaxies to classify (empty catalog)", g.source);
    }
    let mut all = Vec::new();
    for (p, file_id) in &paths {
        let (mut key, rows, mut counts, _) = classify_file(p, &g, args)?;
        key.file_id = *file_id;
        let t0 = std::time::Instant::now();
        store.write_void_membership(&key, &rows, &mut Progress::none())?;
        counts.seconds_store = t0.elapsed().as_secs_f64();
        all.push(counts);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        println!("galaxies: {} ({})", g.target_id.len(), g.source);
        println!(
            "{:<11} {:<4} {:>9} {:>9} {:>9} {:>9} {:>9}  catalog",
            "algorithm", "cap", "galaxies", "wall(0)", "void(1)", "edge(2)", "out(9)"
        );
        for c in &all {
            println!(
                "{:<11} {:<4} {:>9} {:>9} {:>9} {:>9} {:>9}  {} (Omega_m {}, footprint: {})",
                c.algorithm,
                c.cap,
                c.galaxies,
                c.wall,
                c.void,
                c.edge,
                c.outside,
                c.catalog,
                c.omega_m,
                c.footprint
            );
        }
    }
    Ok(())
}

pub fn run_members(cfg: &Config, args: &MembersArgs) -> Result<()> {
    let mut store = crate::commands::open_store(cfg)?;
    if args.summary {
        let s = store.void_membership_summary()?;
        let t = astrolab_store::ResultTable {
            columns: [
                "algorithm",
                "cap",
                "catalog",
                "vflag",
                "galaxy_file_id",
                "n_galaxies",
                "r_void_norm_mean",
            ]
            .iter()
            .map(|c| c.to_string())
            .collect(),
            rows: s
                .into_iter()
                .filter(|r| {
                    args.algorithm
                        .as_ref()
                        .is_none_or(|a| a.eq_ignore_ascii_case(&r.algorithm))
                })
                .map(|r| {
                    use astrolab_store::Value;
                    vec![
                        Value::Text(r.algorithm),
                        Value::Text(r.cap),
                        Value::Text(r.catalog),
                        Value::Int(r.vflag),
                        r.galaxy_file_id.map_or(Value::Null, Value::Int),
                        Value::Int(r.n_galaxies),
                        r.r_void_norm_mean.map_or(Value::Null, Value::Float),
                    ]
                })
                .collect(),
        };
        return crate::output::emit(&t, &args.out, "SUMMARY");
    }
    if let (Some(v), Some(a)) = (args.vflag, &args.algorithm) {
        let ids = store.void_membership_targets(a, v)?;
        match &args.out.output {
            Some(p) => {
                let f =
                    std::fs::File::create(p).with_context(|| format!("writing {}", p.display()))?;
                write_ids(f, &ids).with_context(|| format!("writing {}", p.display()))?;
            }
            None => write_ids(std::io::stdout().lock(), &ids)?,
        }
        return Ok(());
    }
    let filter = match (&args.algorithm, &args.filter) {
        (Some(a), Some(f)) => Some(format!("algorithm = '{}' AND ({f})", a.replace('\'', "''"))),
        (Some(a), None) => Some(format!("algorithm = '{}'", a.replace('\'', "''"))),
        (None, f) => f.clone(),
    };
    let t = store.void_membership_select(filter.as_deref(), args.limit)?;
    crate::output::emit(&t, &args.out, "MEMBERS")
}

#[cfg(test)]
mod id_text_tests {
    use super::{put_id, write_ids};

    #[test]
    fn ids_are_written_as_rust_formats_them() {
        let mut ids = vec![
            0,
            7,
            9,
            10,
            99,
            100,
            101,
            39627000000000000,
            i64::MAX,
            i64::MIN,
            -1,
            -10,
            -12345,
        ];
        // Every length and a crossing of the 1 MiB chunk boundary.
        ids.extend((0..19).map(|k| 10i64.pow(k) - 1));
        ids.extend((0..120_000).map(|k| 39_627_000_000_000_000 + k * 7919));
        let mut out = Vec::new();
        write_ids(&mut out, &ids).unwrap();
        let want: String = ids.iter().map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let mut b = [0u8; 24];
        assert_eq!(put_id(&mut b, -5), 2);
        assert_eq!(&b[..2], b"-5");
    }
}
