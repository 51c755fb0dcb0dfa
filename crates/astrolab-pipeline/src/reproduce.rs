//! Checking a run against its manifest: are the inputs still the ones the
//! run read ([`check_inputs`]), and does a re-run write the same outputs,
//! byte for byte once volatile fields are neutralised ([`compare_outputs`])?
//!
//! Comparison streams both files in large blocks (FITS volatile cards are
//! blanked in place, text lines filtered one by one), so multi-gigabyte
//! outputs cost no more memory than the buffers. Only JSON outputs with
//! volatile fields are read whole, as they must be parsed.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use crate::fits;
use crate::hash::{sha256_file, HashError, HashingReader, BLOCK_SIZE};
use crate::manifest::{
    self, fits_blank_ranges, fits_error, line_is_volatile, mode, normalised_json, FileEntry,
    ManifestError, Mode, RunManifest, VolatileError, METADATA_FILE,
};

/// The first difference between a recorded run's outputs and a re-run's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The manifest lists this output but the re-run did not write it.
    Missing {
        /// Path relative to the output directory.
        path: PathBuf,
    },
    /// The re-run wrote a file the manifest does not list.
    Unexpected {
        /// Path relative to the output directory.
        path: PathBuf,
    },
    /// The contents differ.
    Content {
        /// Path relative to the output directory.
        path: PathBuf,
        /// Byte offset of the first difference in the re-run's file (for a
        /// JSON output with volatile fields: in the normalised document, as
        /// `location` says). A file that is a prefix of the other differs at
        /// the shorter one's length.
        offset: u64,
        /// Where that is in the format's terms, when known: FITS HDU and
        /// header card or data byte, text line.
        location: Option<String>,
    },
    /// The recorded run's file is gone, so only checksums could be compared.
    Checksum {
        /// Path relative to the output directory.
        path: PathBuf,
        /// SHA-256 in the manifest.
        expected: String,
        /// SHA-256 of the re-run's file.
        found: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Missing { path } => {
                write!(f, "output {} was not written by the re-run", path.display())
            }
            Difference::Unexpected { path } => write!(
                f,
                "the re-run wrote {}, which the manifest does not list",
                path.display()
            ),
            Difference::Content {
                path,
                offset,
                location,
            } => {
                write!(f, "output {} differs at byte {offset}", path.display())?;
                if let Some(l) = location {
                    write!(f, " ({l})")?;
                }
                Ok(())
            }
            Difference::Checksum {
                path,
                expected,
                found,
            } => write!(
                f,
                "output {} has SHA-256 {found}, the manifest records {expected} (the recorded file is gone, so no offset)",
                path.display()
            ),
        }
    }
}

/// Why a run could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    /// An input cannot be read (usually: it was moved or deleted).
    #[error("input {path} cannot be checked: {source}; restore it (the manifest records its SHA-256) or run the pipeline anew")]
    InputUnreadable {
        /// The input's path as recorded.
        path: PathBuf,
        /// The hashing error.
        source: HashError,
    },
    /// An input's content is not what the run read.
    #[error("input {path} changed since the run: the manifest records {expected_size} bytes with SHA-256 {expected_sha256}, the file now has {found_size} bytes with SHA-256 {found_sha256}; the input changed since the run: restore it or run the pipeline anew")]
    InputChanged {
        /// The input's path as recorded.
        path: PathBuf,
        /// Size in the manifest.
        expected_size: u64,
        /// Size now.
        found_size: u64,
        /// SHA-256 in the manifest.
        expected_sha256: String,
        /// SHA-256 now.
        found_sha256: String,
    },
    /// The re-run's outputs differ from the recorded run's.
    #[error("{0}; the re-run does not reproduce the recorded run: compare the two files there (software, parameters or inputs changed, or the field should be declared volatile)")]
    OutputsDiffer(Difference),
    /// A recorded output no longer matches its own manifest, so it cannot
    /// serve as the reference.
    #[error("the recorded output {path} has SHA-256 {found} but its manifest records {expected}: it was modified after the run; restore it from the archive before comparing")]
    ReferenceChanged {
        /// The recorded file.
        path: PathBuf,
        /// SHA-256 in the manifest.
        expected: String,
        /// SHA-256 now.
        found: String,
    },
    /// A recorded output with volatile fields is gone: without it the
    /// normalised contents cannot be compared.
    #[error("the recorded output {path} is gone and it has volatile fields, so the re-run's file cannot be compared with it; restore the run's outputs from the archive")]
    ReferenceMissing {
        /// The recorded file.
        path: PathBuf,
    },
    /// A file could not be read during the comparison.
    #[error("cannot read {path} while comparing outputs: {source}; check that it is readable")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Volatile fields could not be located.
    #[error(transparent)]
    Volatile(#[from] VolatileError),
    /// The manifest itself is unusable (e.g. an output path outside the
    /// output directory).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Checks that every input of `m` still exists with the recorded size and
/// SHA-256; the error names the first one that does not.
pub fn check_inputs(m: &RunManifest) -> Result<(), ReproduceError> {
    for input in &m.inputs {
        let (size, sha) =
            sha256_file(&input.path).map_err(|source| ReproduceError::InputUnreadable {
                path: input.path.clone(),
                source,
            })?;
        if size != input.size_bytes || sha != input.sha256 {
            return Err(ReproduceError::InputChanged {
                path: input.path.clone(),
                expected_size: input.size_bytes,
                found_size: size,
                expected_sha256: input.sha256.clone(),
                found_sha256: sha,
            });
        }
    }
    Ok(())
}

/// Compares the outputs of the run recorded in `m` (its files under
/// `run_dir`, the directory holding the manifest) with a re-run's under
/// `new_dir`: the same set of files (the manifest file itself aside), and
/// each byte for byte after volatile normalisation. The recorded files are
/// verified against the manifest's checksums while they are read, so a
/// modified reference is reported rather than trusted. When a recorded file
/// without volatile fields is gone, its checksum stands in for it.
///
/// Returns the first difference as [`ReproduceError::OutputsDiffer`]:
/// missing and unexpected files first, then contents in manifest order.
pub fn compare_outputs(
    m: &RunManifest,
    run_dir: &Path,
    new_dir: &Path,
) -> Result<(), ReproduceError> {
    let mut listed = BTreeSet::new();
    for o in &m.outputs {
        // Rejects absolute paths and '..' before anything is opened.
        manifest::output_id(&o.path)?;
        listed.insert(normal(&o.path));
    }
    for o in &m.outputs {
        if !new_dir.join(&o.path).is_file() {
            return Err(ReproduceError::OutputsDiffer(Difference::Missing {
                path: o.path.clone(),
            }));
        }
    }
    let mut found = Vec::new();
    walk(new_dir, Path::new(""), &mut found)?;
    found.sort();
    for rel in found {
        if rel != Path::new(METADATA_FILE) && !listed.contains(&rel) {
            return Err(ReproduceError::OutputsDiffer(Difference::Unexpected {
                path: rel,
            }));
        }
    }
    for o in &m.outputs {
        if let Some(d) = compare_file(o, &run_dir.join(&o.path), &new_dir.join(&o.path))? {
            return Err(ReproduceError::OutputsDiffer(d));
        }
    }
    Ok(())
}

/// `path` without `.` components, for set membership.
fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// Every file under `dir` (recursively), relative to the walk's root.
/// Symbolic links to directories are not followed (no cycles).
fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReproduceError> {
    let read_err = |source| ReproduceError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let kind = entry.file_type().map_err(read_err)?;
        let rel = rel.join(entry.file_name());
        if kind.is_dir() {
            walk(&entry.path(), &rel, out)?;
        } else if kind.is_file() || (kind.is_symlink() && entry.path().is_file()) {
            out.push(rel);
        }
    }
    Ok(())
}

/// Compares one output; `Ok(None)` when equal.
fn compare_file(
    entry: &FileEntry,
    reference: &Path,
    new: &Path,
) -> Result<Option<Difference>, ReproduceError> {
    let m = mode(&entry.path, &entry.volatile)?;
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReproduceError::Read { path, source }
    };
    let ref_file = match File::open(reference) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !matches!(m, Mode::Raw) {
                return Err(ReproduceError::ReferenceMissing {
                    path: reference.to_path_buf(),
                });
            }
            let (_, sha) = sha256_file(new).map_err(|e| match e {
                HashError::Open { path, source } | HashError::Read { path, source, .. } => {
                    ReproduceError::Read { path, source }
                }
            })?;
            return Ok((sha != entry.sha256).then(|| Difference::Checksum {
                path: entry.path.clone(),
                expected: entry.sha256.clone(),
                found: sha,
            }));
        }
        Err(e) => return Err(read_err(reference)(e)),
    };
    let new_file = File::open(new).map_err(read_err(new))?;
    let content = |offset, location| Difference::Content {
        path: entry.path.clone(),
        offset,
        location,
    };
    let mut reference_reader = HashingReader::new(ref_file);
    let diff = match m {
        Mode::Raw | Mode::Fits(_) => {
            let cards = match &m {
                Mode::Fits(c) => c.as_slice(),
                _ => &[],
            };
            compare_blocks(&mut reference_reader, reference, new_file, new, cards)?
                .map(|(offset, location)| content(offset, location))
        }
        Mode::Lines(prefixes) => {
            compare_lines(&mut reference_reader, new_file, &prefixes, reference, new)?
                .map(|(offset, line)| content(offset, Some(format!("line {line}"))))
        }
        Mode::Json(pointers) => {
            let mut a = Vec::new();
            reference_reader
                .read_to_end(&mut a)
                .map_err(read_err(reference))?;
            let b = fs::read(new).map_err(read_err(new))?;
            let va = normalised_json(reference, &a, &pointers)?;
            let vb = normalised_json(new, &b, &pointers)?;
            if va == vb {
                None
            } else {
                let ta = serde_json::to_vec_pretty(&va).unwrap_or_default();
                let tb = serde_json::to_vec_pretty(&vb).unwrap_or_default();
                let at = first_mismatch(&ta, &tb).unwrap_or(ta.len().min(tb.len()));
                let line = tb[..at.min(tb.len())]
                    .iter()
                    .filter(|&&c| c == b'\n')
                    .count()
                    + 1;
                Some(content(
                    at as u64,
                    Some(format!(
                        "line {line} of the normalised JSON (volatile fields removed, pretty-printed)"
                    )),
                ))
            }
        }
    };
    // The reference is trusted only if it still is what the run wrote.
    let sha = reference_reader.finish().map_err(read_err(reference))?;
    if sha != entry.sha256 {
        return Err(ReproduceError::ReferenceChanged {
            path: reference.to_path_buf(),
            expected: entry.sha256.clone(),
            found: sha,
        });
    }
    Ok(diff)
}

/// Index of the first differing byte of the common prefix, if any.
fn first_mismatch(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Blanks the parts of `ranges` that fall in the block at `pos`.
fn blank(buf: &mut [u8], pos: u64, ranges: &[(u64, u64)]) {
    let end = pos + buf.len() as u64;
    for &(a, b) in ranges {
        if b <= pos || a >= end {
            continue;
        }
        let (a, b) = (a.max(pos) - pos, b.min(end) - pos);
        buf[a as usize..b as usize].fill(b' ');
    }
}

/// Layout of a FITS file, or `None` for other files.
fn fits_layout(
    file: &mut File,
    path: &Path,
    required: bool,
) -> Result<Option<Vec<fits::Hdu>>, ReproduceError> {
    let read_err = |source| ReproduceError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = file.metadata().map_err(read_err)?.len();
    let mut head = [0u8; 9];
    let n = fill(file, &mut head).map_err(read_err)?;
    let result = if fits::looks_like_fits(&head[..n]) || required {
        match fits::scan(file, len) {
            Ok(h) => Some(h),
            Err(e) if required => return Err(fits_error(path, e).into()),
            // Only for naming the place of a difference: a damaged FITS
            // file is still compared byte for byte.
            Err(_) => None,
        }
    } else {
        None
    };
    io::Seek::rewind(file).map_err(read_err)?;
    Ok(result)
}

/// Block-by-block comparison with FITS cards blanked; the first difference's
/// offset in the new file and its FITS location.
fn compare_blocks(
    reference: &mut HashingReader<File>,
    ref_path: &Path,
    mut new: File,
    new_path: &Path,
    cards: &[(usize, &str)],
) -> Result<Option<(u64, Option<String>)>, ReproduceError> {
    let required = !cards.is_empty();
    let ref_hdus = fits_layout(&mut reference.inner, ref_path, required)?;
    let new_hdus = fits_layout(&mut new, new_path, required)?;
    let ref_blank = ref_hdus
        .as_deref()
        .map(|h| fits_blank_ranges(h, cards))
        .unwrap_or_default();
    let new_blank = new_hdus
        .as_deref()
        .map(|h| fits_blank_ranges(h, cards))
        .unwrap_or_default();
    let mut a = vec![0u8; BLOCK_SIZE];
    let mut b = vec![0u8; BLOCK_SIZE];
    let mut pos = 0u64;
    loop {
        let na = fill(reference, &mut a).map_err(|source| ReproduceError::Read {
            path: ref_path.to_path_buf(),
            source,
        })?;
        let nb = fill(&mut new, &mut b).map_err(|source| ReproduceError::Read {
            path: new_path.to_path_buf(),
            source,
        })?;
        blank(&mut a[..na], pos, &ref_blank);
        blank(&mut b[..nb], pos, &new_blank);
        let n = na.min(nb);
        let at = if a[..n] != b[..n] {
            first_mismatch(&a[..n], &b[..n])
        } else if na != nb {
            Some(n)
        } else {
            None
        };
        if let Some(i) = at {
            let offset = pos + i as u64;
            let location = new_hdus.as_deref().map(|h| fits::locate(h, offset));
            return Ok(Some((offset, location)));
        }
        if na == 0 {
            return Ok(None);
        }
        pos += n as u64;
    }
}

/// Next non-volatile line: its 1-based number and start offset; the line
/// (with its newline) is left in `buf`.
fn next_line(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    line: &mut usize,
    offset: &mut u64,
    prefixes: &[&str],
) -> io::Result<Option<(usize, u64)>> {
    loop {
        buf.clear();
        let n = r.read_until(b'\n', buf)?;
        if n == 0 {
            return Ok(None);
        }
        *line += 1;
        let start = *offset;
        *offset += n as u64;
        if !line_is_volatile(buf, prefixes) {
            return Ok(Some((*line, start)));
        }
    }
}

/// Line-by-line comparison without volatile lines; the first difference's
/// offset and line number in the new file.
fn compare_lines(
    reference: &mut HashingReader<File>,
    new: File,
    prefixes: &[&str],
    ref_path: &Path,
    new_path: &Path,
) -> Result<Option<(u64, usize)>, ReproduceError> {
    let mut ra = BufReader::with_capacity(BLOCK_SIZE, reference);
    let mut rb = BufReader::with_capacity(BLOCK_SIZE, new);
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    let (mut na, mut nb, mut oa, mut ob) = (0usize, 0usize, 0u64, 0u64);
    loop {
        let a = next_line(&mut ra, &mut la, &mut na, &mut oa, prefixes).map_err(|source| {
            ReproduceError::Read {
                path: ref_path.to_path_buf(),
                source,
            }
        })?;
        let b = next_line(&mut rb, &mut lb, &mut nb, &mut ob, prefixes).map_err(|source| {
            ReproduceError::Read {
                path: new_path.to_path_buf(),
                source,
            }
        })?;
        match (a, b) {
            (None, None) => return Ok(None),
            // The re-run has a line too many: it starts the difference.
            (None, Some((line, start))) => return Ok(Some((start, line))),
            // The re-run ends early: the difference is at its end.
            (Some(_), None) => return Ok(Some((ob, nb + 1))),
            (Some(_), Some((line, start))) => {
                if la != lb {
                    let i = first_mismatch(&la, &lb).unwrap_or(la.len().min(lb.len()));
                    return Ok(Some((start + i as u64, line)));
                }
            }
        }
    }
}
