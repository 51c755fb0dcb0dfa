//! Files this crate writes, only at paths its caller hands it: training
//! checkpoints and trained models.
//!
//! One container format for both: the magic line [`MAGIC`], the kind
//! (checkpoint or model), a JSON header (configs, epoch, RNG state...), then
//! length-prefixed binary blobs (burn records in named MessagePack at full
//! f32 precision), then an FNV-1a 64 checksum of everything before it, so a
//! truncated or damaged file is refused with an error rather than loaded.
//! Integers are little-endian. Files are written atomically: to a temporary
//! file in the same directory, flushed to disk, then renamed over the target
//! (and the directory synced), so a crash mid-write leaves the previous file
//! whole.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use burn::tensor::backend::Backend;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::{Vae, VaeConfig};

/// First bytes of every file this crate writes.
pub const MAGIC: &[u8; 16] = b"astrolab-anomaly";

/// Version of the container layout.
pub const FORMAT_VERSION: u32 = 1;

/// The burn version whose record layout the blobs use (pinned in Cargo.toml).
pub const BURN_VERSION: &str = "0.20.1";

/// What a container holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A training checkpoint ([`crate::train`]).
    Checkpoint = 1,
    /// A trained model ([`save_model`]).
    Model = 2,
}

/// Reading or writing a checkpoint or model file failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not one this crate wrote, or is damaged.
    #[error("{path}: {why}; it cannot be loaded (delete it to start afresh)")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The file is whole but was written for another model or run.
    #[error(
        "{path}: written for a different {what}: {field} is {found} in the file but {expected} here; \
         use the config the file was written with, or a fresh checkpoint directory"
    )]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// "model" or "training run".
        what: &'static str,
        /// The first field that differs.
        field: &'static str,
        /// Its value in the file.
        found: String,
        /// Its value asked for.
        expected: String,
    },
}

/// FNV-1a, 64 bits (Fowler, Noll & Vo; IETF draft-eastlake-fnv): the
/// container checksum and the weight fingerprints.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Encodes a container.
pub(crate) fn encode<H: Serialize>(kind: Kind, header: &H, blobs: &[&[u8]]) -> Vec<u8> {
    let header = serde_json::to_vec(header).expect("headers are plain data");
    let mut out =
        Vec::with_capacity(64 + header.len() + blobs.iter().map(|b| b.len() + 8).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(kind as u32).to_le_bytes());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for b in blobs {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    }
    let sum = fnv1a64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Decodes a container of the expected kind: its header and blobs.
pub(crate) fn decode<H: DeserializeOwned>(
    path: &Path,
    kind: Kind,
    bytes: &[u8],
) -> Result<(H, Vec<Vec<u8>>), CheckpointError> {
    let invalid = |why: &str| CheckpointError::Invalid {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(invalid("not an astrolab-anomaly file (bad magic)"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if fnv1a64(body).to_le_bytes() != sum {
        return Err(invalid("checksum mismatch (truncated or damaged)"));
    }
    let mut r = Reader {
        bytes: body,
        pos: MAGIC.len(),
    };
    let short = || invalid("truncated");
    let version = r.u32().ok_or_else(short)?;
    if version != FORMAT_VERSION {
        return Err(invalid(&format!(
            "container format {version}, this build reads {FORMAT_VERSION}"
        )));
    }
    let found = r.u32().ok_or_else(short)?;
    if found != kind as u32 {
        return Err(invalid(&format!(
            "holds kind {found}, expected {kind:?} ({})",
            kind as u32
        )));
    }
    let header_len = r.u64().ok_or_else(short)? as usize;
    let header = r.take(header_len).ok_or_else(short)?;
    let header: H =
        serde_json::from_slice(header).map_err(|e| invalid(&format!("unreadable header ({e})")))?;
    let n = r.u32().ok_or_else(short)?;
    let mut blobs = Vec::new();
    for _ in 0..n {
        let len = r.u64().ok_or_else(short)? as usize;
        blobs.push(r.take(len).ok_or_else(short)?.to_vec());
    }
    if r.pos != body.len() {
        return Err(invalid("trailing bytes"));
    }
    Ok((header, blobs))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename,
/// directory fsync).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Reads a whole file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A burn record as bytes (named MessagePack, full precision).
pub(crate) fn record_bytes<B: Backend, R: Record<B>>(record: R) -> Vec<u8> {
    Recorder::<B>::record(
        &NamedMpkBytesRecorder::<FullPrecisionSettings>::default(),
        record,
        (),
    )
    .expect("records of plain tensors serialise")
}

/// A burn record from bytes written by [`record_bytes`].
pub(crate) fn record_from<B: Backend, R: Record<B>>(
    path: &Path,
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<R, CheckpointError> {
    Recorder::<B>::load(
        &NamedMpkBytesRecorder::<FullPrecisionSettings>::default(),
        bytes,
        device,
    )
    .map_err(|e| CheckpointError::Invalid {
        path: path.to_path_buf(),
        why: format!("unreadable record ({e:?})"),
    })
}

/// Compares two model configs field by field; the first difference is a
/// [`CheckpointError::Mismatch`].
pub(crate) fn check_model_config(
    path: &Path,
    found: &VaeConfig,
    expected: &VaeConfig,
) -> Result<(), CheckpointError> {
    let fields: [(&'static str, String, String); 6] = [
        ("len", found.len.to_string(), expected.len.to_string()),
        (
            "latent_dim",
            found.latent_dim.to_string(),
            expected.latent_dim.to_string(),
        ),
        (
            "conv_channels",
            format!("{:?}", found.conv_channels),
            format!("{:?}", expected.conv_channels),
        ),
        (
            "kernel_size",
            found.kernel_size.to_string(),
            expected.kernel_size.to_string(),
        ),
        (
            "enc_hidden",
            found.enc_hidden.to_string(),
            expected.enc_hidden.to_string(),
        ),
        (
            "dec_hidden",
            format!("{:?}", found.dec_hidden),
            format!("{:?}", expected.dec_hidden),
        ),
    ];
    mismatch(path, "model", fields)
}

/// The first `(field, found, expected)` with `found != expected`, as an error.
pub(crate) fn mismatch<const N: usize>(
    path: &Path,
    what: &'static str,
    fields: [(&'static str, String, String); N],
) -> Result<(), CheckpointError> {
    match fields.into_iter().find(|(_, f, e)| f != e) {
        None => Ok(()),
        Some((field, found, expected)) => Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            what,
            field,
            found,
            expected,
        }),
    }
}

#[derive(Serialize, Deserialize)]
struct ModelHeader {
    crate_version: String,
    burn_version: String,
    config: VaeConfig,
}

/// Writes a trained model to `path` (atomically).
pub fn save_model<B: Backend>(path: &Path, model: &Vae<B>) -> Result<(), CheckpointError> {
    let header = ModelHeader {
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        burn_version: BURN_VERSION.to_string(),
        config: model.config().clone(),
    };
    let blob = record_bytes::<B, _>(model.clone().into_record());
    write_atomic(path, &encode(Kind::Model, &header, &[&blob]))
}

/// Reads a model written by [`save_model`]. With `expected` given, a model
/// of another shape is a [`CheckpointError::Mismatch`].
pub fn load_model<B: Backend>(
    path: &Path,
    expected: Option<&VaeConfig>,
    device: &B::Device,
) -> Result<Vae<B>, CheckpointError> {
    let bytes = read(path)?;
    let (header, mut blobs): (ModelHeader, _) = decode(path, Kind::Model, &bytes)?;
    if let Some(expected) = expected {
        check_model_config(path, &header.config, expected)?;
    }
    if blobs.len() != 1 {
        return Err(CheckpointError::Invalid {
            path: path.to_path_buf(),
            why: format!("{} blobs, a model file has 1", blobs.len()),
        });
    }
    let model = Vae::<B>::new(&header.config, 0, device).map_err(|e| CheckpointError::Invalid {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    let record = record_from::<B, _>(path, blobs.remove(0), device)?;
    Ok(model.load_record(record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    #[test]
    fn fnv_reference_values() {
        // Test vectors of the FNV reference code.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn container_round_trip_and_damage() {
        let bytes = encode(Kind::Model, &vec![1, 2, 3], &[b"abc", b""]);
        let p = Path::new("x");
        let (h, blobs): (Vec<i32>, _) = decode(p, Kind::Model, &bytes).unwrap();
        assert_eq!(h, vec![1, 2, 3]);
        assert_eq!(blobs, vec![b"abc".to_vec(), vec![]]);
        // Wrong kind, truncation, a flipped bit, foreign file.
        let e = decode::<Vec<i32>>(p, Kind::Checkpoint, &bytes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x: holds kind 2, expected Checkpoint (1); it cannot be loaded (delete it to start afresh)"
        );
        let e = decode::<Vec<i32>>(p, Kind::Model, &bytes[..bytes.len() - 3]).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        let mut flipped = bytes.clone();
        flipped[30] ^= 1;
        assert!(decode::<Vec<i32>>(p, Kind::Model, &flipped).is_err());
        let e = decode::<Vec<i32>>(p, Kind::Model, b"PK\x03\x04 a zip file").unwrap_err();
        assert!(e.to_string().contains("bad magic"), "{e}");
    }

    #[test]
    fn model_file_round_trip_and_mismatch() {
        let dir =
            std::env::temp_dir().join(format!("astrolab-anomaly-model-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vae.bin");
        let device = Default::default();
        let cfg = VaeConfig::new(64).with_latent_dim(3);
        let m = Vae::<CpuBackend>::new(&cfg, 11, &device).unwrap();
        save_model(&path, &m).unwrap();
        let back = load_model::<CpuBackend>(&path, Some(&cfg), &device).unwrap();
        assert_eq!(back.weights(), m.weights());
        assert_eq!(back.config(), &cfg);
        let other = VaeConfig::new(64).with_latent_dim(4);
        let e = load_model::<CpuBackend>(&path, Some(&other), &device).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: written for a different model: latent_dim is 3 in the file but 4 here; \
                 use the config the file was written with, or a fresh checkpoint directory",
                path.display()
            )
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
