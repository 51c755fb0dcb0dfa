//! Streaming SHA-256 of files: the checksums in run manifests.
//!
//! Files are read in large blocks into one buffer reused for the whole file,
//! so hashing a multi-gigabyte input costs one allocation and no more memory
//! than the buffer. `sha2` picks the CPU's SHA extensions (SHA-NI on x86-64)
//! at run time, which is what makes >= 1 GB/s per core reachable.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Size of the read buffer. Large enough that the per-`read` system call cost
/// is negligible, small enough to stay mostly in the CPU's L2/L3 cache between
/// the kernel's copy and the hash.
pub const BLOCK_SIZE: usize = 1 << 20;

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The file could not be opened.
    #[error("cannot open {path} to compute its SHA-256: {source}; check that the file exists and is readable")]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Reading failed part-way.
    #[error("cannot read {path} (after {offset} bytes) to compute its SHA-256: {source}; check the disk and that the file is not being truncated")]
    Read {
        /// The file.
        path: PathBuf,
        /// Bytes read successfully before the error.
        offset: u64,
        /// The operating system's error.
        source: io::Error,
    },
}

/// Size in bytes and lower-case hexadecimal SHA-256 of the file at `path`,
/// read once from start to end in [`BLOCK_SIZE`] blocks.
pub fn sha256_file(path: &Path) -> Result<(u64, String), HashError> {
    let mut file = File::open(path).map_err(|source| HashError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut hasher = Sha256::new();
    let size = hash_reader(&mut file, &mut hasher).map_err(|(offset, source)| HashError::Read {
        path: path.to_path_buf(),
        offset,
        source,
    })?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Lower-case hexadecimal SHA-256 of `bytes`.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Feeds everything `reader` yields into `hasher`; returns the byte count, or
/// the count reached and the error.
pub(crate) fn hash_reader(
    reader: &mut impl Read,
    hasher: &mut Sha256,
) -> Result<u64, (u64, io::Error)> {
    let mut buf = vec![0u8; BLOCK_SIZE];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((total, e)),
        }
    }
}

/// A reader that hashes everything read through it: lets a comparison read a
/// reference file once and still verify its checksum.
pub(crate) struct HashingReader<R> {
    /// The wrapped reader.
    pub inner: R,
    /// SHA-256 of every byte returned so far.
    pub hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Reads the rest of the input (hashing it) and returns the hex digest.
    pub fn finish(mut self) -> io::Result<String> {
        let mut buf = vec![0u8; BLOCK_SIZE];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn known_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            (
                3,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string()
            )
        );
        let e = dir.path().join("empty");
        std::fs::write(&e, b"").unwrap();
        assert_eq!(
            sha256_file(&e).unwrap().1,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn multi_block_matches_one_shot() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        // 2.5 blocks of non-repeating bytes, so a block boundary bug shows.
        let n = BLOCK_SIZE * 5 / 2 + 7;
        let data: Vec<u8> = (0..n)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8)
            .collect();
        std::fs::File::create(&p).unwrap().write_all(&data).unwrap();
        let (size, hex_sum) = sha256_file(&p).unwrap();
        assert_eq!(size, n as u64);
        assert_eq!(hex_sum, hex::encode(Sha256::digest(&data)));
    }

    #[test]
    fn missing_file_names_it() {
        let e = sha256_file(Path::new("/nonexistent/astrolab/x.fits")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/astrolab/x.fits"), "{msg}");
        assert!(msg.contains("check that the file exists"), "{msg}");
    }
}
