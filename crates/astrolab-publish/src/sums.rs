//! `SHA256SUMS` (GNU coreutils `sha256sum` format: lower-case hex, two
//! spaces, the path relative to the release folder, one line per file in
//! byte order of the paths), and SHA-256 of files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{PublishError, Result};

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(PublishError::io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(PublishError::io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Every file under `dir`, as paths relative to it with `/` separators,
/// sorted.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(d).map_err(PublishError::io(d))? {
            let e = e.map_err(PublishError::io(d))?;
            let p: PathBuf = e.path();
            if e.file_type().map_err(PublishError::io(&p))?.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p.strip_prefix(root).unwrap_or(&p);
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Writes `dir/SHA256SUMS` over every other file of `dir`; returns the
/// (path, sha256) lines written.
pub fn write_sums(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut lines = Vec::new();
    let mut text = String::new();
    for rel in list_files(dir)? {
        if rel == "SHA256SUMS" {
            continue;
        }
        let sum = sha256_file(&dir.join(&rel))?;
        text.push_str(&format!("{sum}  {rel}\n"));
        lines.push((rel, sum));
    }
    let p = dir.join("SHA256SUMS");
    std::fs::write(&p, text).map_err(PublishError::io(&p))?;
    Ok(lines)
}
