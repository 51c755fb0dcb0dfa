//! Free space under the destination, and the published checksums.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Bytes available to an unprivileged user on the file system holding
/// `path` (`statvfs`: `f_bavail * f_frsize`).
pub fn free_space_bytes(path: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(path)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Parses a `sha256sum` file: `HEX  NAME` or `HEX *NAME` lines; blank
/// lines and malformed lines are skipped. Returns (name, lowercase hex).
pub(crate) fn parse_sha256sum(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end();
            let (hex, rest) = line.split_once(char::is_whitespace)?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let name = rest.trim_start();
            let name = name.strip_prefix('*').unwrap_or(name);
            let name = name.rsplit('/').next().unwrap_or(name);
            (!name.is_empty()).then(|| (name.to_string(), hex.to_ascii_lowercase()))
        })
        .collect()
}

/// Feeds a whole file to `hasher`; returns its length.
pub(crate) fn hash_into(path: &Path, hasher: &mut Sha256) -> io::Result<u64> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(n_total);
        }
        hasher.update(&buf[..n]);
        n_total += n as u64;
    }
}

/// sha256 (lowercase hex) and length of a file.
pub(crate) fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let n = hash_into(path, &mut h)?;
    Ok((hex::encode(h.finalize()), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sha256sum_lines() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let text =
            format!("{a}  coadd-main-dark-1.fits\n\n{b} *redrock-main-dark-1.fits\nnot a line\n");
        let got = parse_sha256sum(&text);
        assert_eq!(
            got,
            vec![
                ("coadd-main-dark-1.fits".to_string(), a),
                ("redrock-main-dark-1.fits".to_string(), "b".repeat(64)),
            ]
        );
    }

    #[test]
    fn free_space_of_temp_dir_is_readable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_space_bytes(dir.path()).is_ok());
    }

    #[test]
    fn hashes_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"abc").unwrap();
        let (h, n) = sha256_file(&p).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
