//! A derived cache of void-vs-wall selections: per algorithm and vflag, the
//! ascending TARGETIDs as one flat little-endian file in
//! `$ASTROLAB_HOME/cache/membership/`.
//!
//! The lab's target for "void vs field selection" on 6.4 M galaxies is
//! 200 ms. Millions of ids out of a database cost seconds (row decoding on
//! SQLite, 1 us per id through `array_agg` on PostgreSQL); the same ids from
//! a flat file cost tens of milliseconds. Like the positions cache this is
//! only an accelerator, never the record:
//!
//! - a file is named by a stamp: the SHA-256 of the algorithm's rows in
//!   `void_membership_summary` (catalog, file id, cap, vflag, galaxy
//!   source, count and the nanosecond time of the write). The summary is written in the same
//!   transaction as the membership rows, so any new membership of the
//!   algorithm, in any cap, changes the stamp and the old file is never
//!   read again (it is deleted when a new one is written);
//! - the file carries its id count, checked against the summary's count;
//! - it is written to a temporary name, synced and renamed; anything
//!   missing, short or malformed is rebuilt from the database.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::voids_membership::MembershipSummary;

const MAGIC: &[u8; 8] = b"ALVSEL1\0";

/// What a selection's cache file must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// Hex SHA-256 of the algorithm's summary rows.
    pub digest: String,
    /// Galaxies with the vflag, summed over the algorithm's catalogs.
    pub count: u64,
}

/// The stamp of (algorithm, vflag) from the summary rows of every catalog;
/// None when the algorithm has no membership.
pub(crate) fn stamp(summary: &[MembershipSummary], algorithm: &str, vflag: u8) -> Option<Stamp> {
    let mut rows: Vec<&MembershipSummary> = summary
        .iter()
        .filter(|r| r.algorithm == algorithm)
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| {
        (
            &a.catalog,
            &a.cap,
            a.vflag,
            a.galaxy_file_id,
            &a.classified_at,
        )
            .cmp(&(
                &b.catalog,
                &b.cap,
                b.vflag,
                b.galaxy_file_id,
                &b.classified_at,
            ))
    });
    let mut h = Sha256::new();
    h.update(algorithm.as_bytes());
    h.update([0, vflag]);
    for r in &rows {
        // Field separators keep ("ab","c") and ("a","bc") apart.
        for part in [
            r.catalog.as_str(),
            &r.file_id.map_or("-".to_string(), |f| f.to_string()),
            &r.cap,
            &r.vflag.to_string(),
            &r.galaxy_file_id.map_or("-".to_string(), |f| f.to_string()),
            &r.n_galaxies.to_string(),
            &r.classified_at,
        ] {
            h.update(part.as_bytes());
            h.update([0x1f]);
        }
        h.update([0x1e]);
    }
    let count = rows
        .iter()
        .filter(|r| r.vflag == i64::from(vflag))
        .map(|r| r.n_galaxies.max(0) as u64)
        .sum();
    Some(Stamp {
        digest: hex::encode(h.finalize()),
        count,
    })
}

fn dir(home: &Path) -> PathBuf {
    home.join("cache")
        .join("membership")
        .join(env!("CARGO_PKG_VERSION"))
}

/// Which database a cache file belongs to: 16 hex digits of the SHA-256 of
/// the SQLite file's path or of the PostgreSQL URL and schema. One home may
/// serve several databases (a laptop's SQLite file and the cluster's
/// PostgreSQL); without this their selections would replace each other's
/// files on every call. A hash, so no URL (or password) lands in a name.
pub(crate) fn scope(database: &str) -> String {
    hex::encode(&Sha256::digest(database.as_bytes())[..8])
}

/// File-name prefix of one (database, algorithm, vflag): the algorithm
/// reduced to safe characters (the stamp keeps algorithms that reduce
/// alike apart).
fn prefix(scope: &str, algorithm: &str, vflag: u8) -> String {
    let safe: String = algorithm
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{scope}-{safe}-v{vflag}-")
}

/// One selection's cache: the database scope, the algorithm and the vflag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selection<'a> {
    pub scope: &'a str,
    pub algorithm: &'a str,
    pub vflag: u8,
}

impl Selection<'_> {
    fn prefix(&self) -> String {
        prefix(self.scope, self.algorithm, self.vflag)
    }

    pub(crate) fn path(&self, home: &Path, s: &Stamp) -> PathBuf {
        dir(home).join(format!("{}{}.ids", self.prefix(), &s.digest[..32]))
    }
}

/// Writes a cache file atomically and removes the same selection's older
/// files; errors are only logged by callers.
pub(crate) fn write(
    home: &Path,
    sel: Selection<'_>,
    s: &Stamp,
    ids: &[i64],
) -> std::io::Result<()> {
    let path = sel.path(home, s);
    let dir = dir(home);
    std::fs::create_dir_all(&dir)?;
    let mut buf = Vec::with_capacity(16 + ids.len() * 8);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    for id in ids {
        buf.extend_from_slice(&id.to_le_bytes());
    }
    astrolab_formats::atomic::write(&path, &buf)?;
    let own = sel.prefix();
    for e in std::fs::read_dir(&dir)?.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p != path && name.starts_with(&own) && name.ends_with(".ids") {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(())
}

/// Reads a cache file; None when missing, malformed or not of `s.count` ids.
pub(crate) fn read(home: &Path, sel: Selection<'_>, s: &Stamp) -> Option<Vec<i64>> {
    use std::io::Read;
    let mut f = std::fs::File::open(sel.path(home, s)).ok()?;
    let mut head = [0u8; 16];
    f.read_exact(&mut head).ok()?;
    if &head[..8] != MAGIC {
        return None;
    }
    let n = u64::from_le_bytes(head[8..16].try_into().ok()?);
    if n != s.count || f.metadata().ok()?.len() != 16 + n.checked_mul(8)? {
        return None;
    }
    // Through a small buffer: millions of ids are read into their final
    // vector only (one allocation, no second copy of the file in memory).
    let mut ids = Vec::with_capacity(usize::try_from(n).ok()?);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = n as usize * 8;
    while left > 0 {
        let take = left.min(buf.len());
        f.read_exact(&mut buf[..take]).ok()?;
        ids.extend(
            buf[..take]
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
        );
        left -= take;
    }
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cap: &str, vflag: i64, n: i64, at: &str) -> MembershipSummary {
        MembershipSummary {
            catalog: "cat.fits".into(),
            file_id: Some(3),
            algorithm: "VoidFinder".into(),
            cap: cap.into(),
            vflag,
            galaxy_file_id: Some(4),
            n_galaxies: n,
            n_r_void_norm: 0,
            r_void_norm_mean: None,
            classified_at: at.into(),
        }
    }

    #[test]
    fn stamp_changes_with_any_write_and_counts_one_vflag() {
        let a = vec![
            row("NGC", 0, 5, "t1"),
            row("NGC", 1, 3, "t1"),
            row("SGC", 1, 4, "t2"),
        ];
        let s = stamp(&a, "VoidFinder", 1).unwrap();
        assert_eq!(s.count, 7);
        assert_eq!(stamp(&a, "VoidFinder", 0).unwrap().count, 5);
        assert!(stamp(&a, "VIDE", 1).is_none());
        // Row order does not matter; a rewrite of one cap does.
        let mut b = a.clone();
        b.reverse();
        assert_eq!(stamp(&b, "VoidFinder", 1), Some(s.clone()));
        b[0].classified_at = "t3".into();
        assert_ne!(stamp(&b, "VoidFinder", 1).unwrap().digest, s.digest);
    }

    #[test]
    fn round_trip_rejects_wrong_counts_and_replaces_old_files() {
        let home = tempfile::tempdir().unwrap();
        let sel = Selection {
            scope: &scope("/data/astrolab.db"),
            algorithm: "VoidFinder",
            vflag: 1,
        };
        let s1 = stamp(&[row("NGC", 1, 3, "t1")], "VoidFinder", 1).unwrap();
        write(home.path(), sel, &s1, &[1, 5, 9]).unwrap();
        assert_eq!(read(home.path(), sel, &s1), Some(vec![1, 5, 9]));
        let wrong = Stamp {
            count: 4,
            ..s1.clone()
        };
        assert_eq!(read(home.path(), sel, &wrong), None);
        let s2 = stamp(&[row("NGC", 1, 2, "t2")], "VoidFinder", 1).unwrap();
        write(home.path(), sel, &s2, &[2, 4]).unwrap();
        assert_eq!(read(home.path(), sel, &s1), None, "old file removed");
        assert_eq!(read(home.path(), sel, &s2), Some(vec![2, 4]));
        // A truncated file is rebuilt, never half read.
        let p = sel.path(home.path(), &s2);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(read(home.path(), sel, &s2), None);
        // Another database's file under the same home is left alone.
        let other = Selection {
            scope: &scope("postgres://lab/astro"),
            ..sel
        };
        let one = Stamp {
            count: 1,
            ..s1.clone()
        };
        write(home.path(), other, &one, &[7]).unwrap();
        write(home.path(), sel, &s2, &[2, 4]).unwrap();
        assert_eq!(read(home.path(), other, &one), Some(vec![7]));
        assert_eq!(read(home.path(), sel, &s2), Some(vec![2, 4]));
    }
}
