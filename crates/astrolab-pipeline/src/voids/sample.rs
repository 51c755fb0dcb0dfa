//! One algorithm's classified galaxies with their FastSpecFit values, read
//! from the store (`Store::void_membership_with_fastspec`) into the
//! compare statistics' sample ([`astrolab_voids::compare::AlgorithmSample`]).

use anyhow::Result;
use astrolab_store::{ResultTable, Store, Value};
use astrolab_voids::compare::{AlgorithmSample, GalaxyProperties};

/// The rows of `Store::void_membership_with_fastspec` (columns target_id,
/// cap, vflag, z, logmstar, sfr, dn4000, age, zzsun, ...) as typed
/// galaxies; NULL reads as NaN (values) or -1 (ids, vflag).
pub fn galaxy_properties(t: &ResultTable) -> Vec<GalaxyProperties> {
    let f = |r: &[Value], i: usize| r[i].as_f64().unwrap_or(f64::NAN);
    t.rows
        .iter()
        .map(|r| GalaxyProperties {
            target_id: r[0].as_i64().unwrap_or(-1),
            vflag: r[2].as_i64().unwrap_or(-1),
            z: f(r, 3),
            logmstar: f(r, 4),
            sfr: f(r, 5),
            dn4000: f(r, 6),
            age: f(r, 7),
            zzsun: f(r, 8),
        })
        .collect()
}

/// Reads one algorithm's membership joined with FastSpecFit (inside a run,
/// the store leaves out what its submitter may not read) and matches the
/// control sample (mass and redshift, without replacement).
pub fn load_sample(store: &mut Store, algorithm: &str) -> Result<AlgorithmSample> {
    let t = store.void_membership_with_fastspec(algorithm, &[])?;
    let mut s = AlgorithmSample::from_galaxies(&galaxy_properties(&t));
    s.match_control();
    Ok(s)
}
