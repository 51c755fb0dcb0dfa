//! Hot copies: an uncompressed twin of a spectra file for
//! pipelines that read many spectra at once.
//!
//! A Parquet spectra file is the archive: compressed about 3x, readable by
//! pyarrow, but every read decodes zstd pages and list levels (about 6,000
//! spectra/s per core here, `bench/RESULTS.md`). A pipeline that pulls tens
//! of thousands of scattered spectra per second (the anomaly and outflow
//! workloads) cannot afford that, so `spectra hot` writes beside each
//! `NAME.parquet` a `NAME.parquet.hot`: the same rows, uncompressed, one
//! contiguous record per spectrum, read by byte offset (positioned reads).
//! A spectrum then costs one copy of its 93 KB out of the page cache.
//!
//! The hot copy is derived data: it can be deleted at any time and rebuilt;
//! it records the size and modification time of the Parquet file it was made
//! from and is ignored (readers fall back to the Parquet file) as soon as
//! that file changes. It is written to a temporary name and renamed, like
//! the Parquet files.
//!
//! # Layout (little-endian)
//! | bytes | what |
//! |---|---|
//! | 0..8 | magic `ASTRHOT1` |
//! | 8..12 | u32 npix |
//! | 12..16 | u32 reserved (0) |
//! | 16..24 | u64 number of rows |
//! | 24..32 | u64 size of the Parquet file it was made from |
//! | 32..40 | i64 its modification time, seconds since 1970 |
//! | 40..44 | u32 its modification time, nanoseconds |
//! | 44..64 | reserved (0) |
//! | 64.. | rows, in the Parquet file's order: i64 target_id, f64 ra, f64 dec, f64 z, npix f32 flux, npix f32 ivar, npix u32 mask |

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use memmap2::Mmap;
use rayon::prelude::*;

use crate::batch::SpectrumView;
use crate::error::SpectraStoreError;
use crate::file::{tmp_path, SpectraFile, SpectraRow};

type Result<T> = std::result::Result<T, SpectraStoreError>;

const MAGIC: &[u8; 8] = b"ASTRHOT1";
const HEADER_BYTES: usize = 64;
/// target_id, ra, dec, z.
const ROW_SCALARS_BYTES: usize = 32;

/// The hot copy's path for a spectra file: `NAME.parquet.hot`.
pub fn hot_path(parquet: &Path) -> PathBuf {
    let mut s = parquet.as_os_str().to_owned();
    s.push(".hot");
    PathBuf::from(s)
}

/// Size and modification time of the Parquet file: what a hot copy must
/// match to be used.
fn source_stamp(parquet: &Path) -> Result<(u64, i64, u32)> {
    let md = std::fs::metadata(parquet).map_err(|e| SpectraStoreError::io(parquet, "stat", e))?;
    let (secs, nanos) = match md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
    {
        Some(d) => (d.as_secs() as i64, d.subsec_nanos()),
        None => (0, 0),
    };
    Ok((md.len(), secs, nanos))
}

fn row_bytes(npix: usize) -> usize {
    ROW_SCALARS_BYTES + 12 * npix
}

fn bad(path: &Path, message: impl Into<String>) -> SpectraStoreError {
    SpectraStoreError::Metadata {
        path: path.to_path_buf(),
        key: "hot copy header".into(),
        message: message.into(),
    }
}

/// Writes the hot copy of the spectra file `parquet` (see the module
/// documentation); returns its path. Replaces an older hot copy atomically.
pub fn write_hot_copy(parquet: &Path) -> Result<PathBuf> {
    let stamp = source_stamp(parquet)?;
    let file = SpectraFile::open(parquet)?;
    let npix = file.meta().npix;
    let npix_u32 = u32::try_from(npix).map_err(|_| bad(parquet, "npix does not fit 32 bits"))?;
    let rows = file.read_all()?;
    let out = hot_path(parquet);
    let tmp = tmp_path(&out);
    let write = |w: &mut BufWriter<File>| -> std::io::Result<()> {
        let mut header = [0u8; HEADER_BYTES];
        header[0..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&npix_u32.to_le_bytes());
        header[16..24].copy_from_slice(&(rows.len() as u64).to_le_bytes());
        header[24..32].copy_from_slice(&stamp.0.to_le_bytes());
        header[32..40].copy_from_slice(&stamp.1.to_le_bytes());
        header[40..44].copy_from_slice(&stamp.2.to_le_bytes());
        w.write_all(&header)?;
        let mut buf = Vec::with_capacity(row_bytes(npix));
        for r in &rows {
            buf.clear();
            buf.extend_from_slice(&r.target_id.to_le_bytes());
            buf.extend_from_slice(&r.ra.to_le_bytes());
            buf.extend_from_slice(&r.dec.to_le_bytes());
            buf.extend_from_slice(&r.z.to_le_bytes());
            buf.extend(r.flux.iter().flat_map(|v| v.to_le_bytes()));
            buf.extend(r.ivar.iter().flat_map(|v| v.to_le_bytes()));
            buf.extend(r.mask.iter().flat_map(|v| v.to_le_bytes()));
            w.write_all(&buf)?;
        }
        Ok(())
    };
    astrolab_formats::atomic::write_via(&tmp, &out, write)
        .map_err(|e| SpectraStoreError::io(&tmp, "write the hot copy", e))?;
    Ok(out)
}

/// An open hot copy.
///
/// Rows are read with positioned reads (`pread`) straight into the
/// returned arrays: one copy out of the page cache per array, no page faults
/// on a memory map, and the file is never modified in place (hot copies are
/// only replaced by rename), so concurrent readers are safe.
#[derive(Debug)]
pub struct HotCopy {
    path: PathBuf,
    file: File,
    npix: usize,
    nrows: usize,
}

impl HotCopy {
    /// Opens the hot copy of `parquet` when there is one and it was made from
    /// the Parquet file as it is now; `Ok(None)` when there is none or it is
    /// stale (the caller then reads the Parquet file). A hot copy that exists
    /// but is damaged (wrong magic, wrong length) is an error naming it.
    pub fn open_fresh(parquet: &Path) -> Result<Option<HotCopy>> {
        let path = hot_path(parquet);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SpectraStoreError::io(&path, "open", e)),
        };
        let len = file
            .metadata()
            .map_err(|e| SpectraStoreError::io(&path, "stat", e))?
            .len();
        let mut header = [0u8; HEADER_BYTES];
        if len < HEADER_BYTES as u64
            || read_exact_at(&file, &mut header, 0).is_err()
            || &header[0..8] != MAGIC
        {
            return Err(bad(&path, "not an astrolab hot copy (bad magic); delete it and run `astrolab spectra hot` again"));
        }
        let u32_at =
            |o: usize| u32::from_le_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]);
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&header[o..o + 8]);
            u64::from_le_bytes(b)
        };
        let npix = u32_at(8) as usize;
        let nrows = u64_at(16) as usize;
        let stamp = (u64_at(24), u64_at(32) as i64, u32_at(40));
        let expected = HEADER_BYTES as u64 + nrows as u64 * row_bytes(npix) as u64;
        if len != expected {
            return Err(bad(
                &path,
                format!(
                    "{len} bytes where {nrows} rows of {npix} pixels need {expected}; delete it and run `astrolab spectra hot` again"
                ),
            ));
        }
        if stamp != source_stamp(parquet)? {
            tracing::debug!(path = %path.display(), "hot copy is stale; reading the Parquet file");
            return Ok(None);
        }
        Ok(Some(HotCopy {
            path,
            file,
            npix,
            nrows,
        }))
    }

    /// Maps this hot copy read-only (the zero-copy reader,
    /// [`crate::map_many`]). Pages are mapped at first touch: asking for
    /// them up front (`MAP_POPULATE`, `MADV_POPULATE_READ` or
    /// `MADV_WILLNEED` per wanted row) was measured no faster, or much
    /// slower (`bench/notes/issue3-batch.md`, session 6).
    ///
    /// The map is of the file this `HotCopy` opened and checked (same open
    /// file, so the same inode even if the name was replaced since), and its
    /// length is checked again against the header: the views
    /// [`HotMap::view`] hands out never reach past the end.
    ///
    /// Refused on big-endian machines: the bytes are little-endian and are
    /// viewed in place (callers copy with [`HotCopy::read_rows`] there).
    pub(crate) fn map(&self) -> Result<HotMap> {
        if cfg!(target_endian = "big") {
            return Err(bad(
                &self.path,
                "a hot copy is little-endian and cannot be viewed in place on this machine",
            ));
        }
        // SAFETY: `Mmap` hands out `&[u8]` over the file, which is sound
        // only while nobody changes the file under the map. astrolab never
        // does: a hot copy is written under a temporary name and renamed
        // over the old one (`write_hot_copy`), never written in place, so a
        // live map keeps the old inode's bytes unchanged until it is dropped
        // (the same guarantee the positioned reads rely on). What the type
        // system cannot rule out is another program truncating or
        // rewriting the file in place: the process then reads changed
        // bytes, or dies of SIGBUS on a page past the new end. Documented
        // on `map_many`.
        let map = unsafe { Mmap::map(&self.file) }
            .map_err(|e| SpectraStoreError::io(&self.path, "map", e))?;
        let expected = HEADER_BYTES + self.nrows * row_bytes(self.npix);
        if map.len() != expected {
            return Err(bad(
                &self.path,
                format!(
                    "{} bytes mapped where the header needs {expected}: the file changed while \
                     it was opened; run the read again",
                    map.len()
                ),
            ));
        }
        // Every array starts 4-byte aligned in the file (64-byte header,
        // rows of 32 + 12 npix bytes, scalars 32 bytes); a map starts on a
        // page, so the f32/u32 views below are aligned. Checked once here
        // so that `view` cannot panic.
        if !map.as_ptr().cast::<f32>().is_aligned() {
            return Err(bad(&self.path, "the map is not 4-byte aligned"));
        }
        Ok(HotMap {
            map,
            npix: self.npix,
            nrows: self.nrows,
        })
    }

    /// Number of spectra.
    pub fn len(&self) -> usize {
        self.nrows
    }

    /// Whether the copy holds no spectra.
    pub fn is_empty(&self) -> bool {
        self.nrows == 0
    }

    /// Pixels per spectrum.
    pub fn npix(&self) -> usize {
        self.npix
    }

    /// The rows at `rows` (0-based, in the Parquet file's order), in the
    /// order asked.
    pub fn read_rows(&self, rows: &[usize]) -> Result<Vec<SpectraRow>> {
        rows.iter().map(|&r| self.read_row(r)).collect()
    }

    fn read_row(&self, row: usize) -> Result<SpectraRow> {
        let n = self.npix;
        let mut flux = vec![0f32; n];
        let mut ivar = vec![0f32; n];
        let mut mask = vec![0u32; n];
        let s = self.read_row_into(row, &mut flux, &mut ivar, &mut mask)?;
        Ok(SpectraRow {
            target_id: s.target_id,
            ra: s.ra,
            dec: s.dec,
            z: s.z,
            flux,
            ivar,
            mask,
        })
    }

    /// Reads row `row` straight into `flux`, `ivar` and `mask` (each `npix`
    /// long: one positioned read per array, no intermediate buffer) and
    /// returns its scalars. Used by [`HotCopy::read_rows`] and by the batch
    /// reader, which passes slices of its own flat arrays.
    pub(crate) fn read_row_into(
        &self,
        row: usize,
        flux: &mut [f32],
        ivar: &mut [f32],
        mask: &mut [u32],
    ) -> Result<RowScalars> {
        if row >= self.nrows {
            return Err(SpectraStoreError::RowOutOfRange {
                path: self.path.clone(),
                row,
                len: self.nrows,
            });
        }
        let n = self.npix;
        debug_assert!(flux.len() == n && ivar.len() == n && mask.len() == n);
        let start = (HEADER_BYTES + row * row_bytes(n)) as u64;
        let io = |e| SpectraStoreError::io(&self.path, "read", e);
        let mut scalars = [0u8; ROW_SCALARS_BYTES];
        read_exact_at(&self.file, &mut scalars, start).map_err(io)?;
        let mut off = start + ROW_SCALARS_BYTES as u64;
        for bytes in [
            bytemuck::cast_slice_mut::<f32, u8>(flux),
            bytemuck::cast_slice_mut::<f32, u8>(ivar),
            bytemuck::cast_slice_mut::<u32, u8>(mask),
        ] {
            read_exact_at(&self.file, bytes, off).map_err(io)?;
            off += bytes.len() as u64;
        }
        // The file is little-endian; on a big-endian machine swap in place.
        // (Behind `cfg!`: LLVM does not remove the no-op loop over the
        // chained iterators, which took 30 % of a batch read in a profile.)
        if cfg!(target_endian = "big") {
            for v in flux.iter_mut().chain(ivar.iter_mut()) {
                *v = f32::from_bits(u32::from_le(v.to_bits()));
            }
            for v in mask.iter_mut() {
                *v = u32::from_le(*v);
            }
        }
        Ok(RowScalars::from_le(&scalars))
    }
}

/// A hot copy mapped read-only into memory (see [`HotCopy::map`] for
/// why that is sound and what it assumes): rows are viewed in place.
#[derive(Debug)]
pub(crate) struct HotMap {
    map: Mmap,
    npix: usize,
    nrows: usize,
}

impl HotMap {
    /// Byte range of row `row` in the file.
    fn row_range(&self, row: usize) -> std::ops::Range<usize> {
        let start = HEADER_BYTES + row * row_bytes(self.npix);
        start..start + row_bytes(self.npix)
    }

    /// Row `row` in place; panics past the end (callers check rows when
    /// they build their request list).
    pub(crate) fn view(&self, row: usize) -> SpectrumView<'_> {
        assert!(row < self.nrows, "row {row} of {} rows", self.nrows);
        let bytes = &self.map[self.row_range(row)];
        let s = RowScalars::from_le(&bytes[..ROW_SCALARS_BYTES]);
        let n4 = 4 * self.npix;
        let arrays = &bytes[ROW_SCALARS_BYTES..];
        // Aligned and a multiple of 4 long (checked in `HotCopy::map`), so
        // these casts do not fail.
        SpectrumView {
            target_id: s.target_id,
            ra: s.ra,
            dec: s.dec,
            z: s.z,
            flux: bytemuck::cast_slice(&arrays[..n4]),
            ivar: bytemuck::cast_slice(&arrays[n4..2 * n4]),
            mask: bytemuck::cast_slice(&arrays[2 * n4..3 * n4]),
        }
    }
}

/// The scalars of one hot-copy row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowScalars {
    pub target_id: i64,
    pub ra: f64,
    pub dec: f64,
    pub z: f64,
}

impl RowScalars {
    /// From the first 32 bytes of a row (little-endian).
    fn from_le(b: &[u8]) -> RowScalars {
        let word = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[o..o + 8]);
            w
        };
        RowScalars {
            target_id: i64::from_le_bytes(word(0)),
            ra: f64::from_le_bytes(word(8)),
            dec: f64::from_le_bytes(word(16)),
            z: f64::from_le_bytes(word(24)),
        }
    }
}

/// A positioned read of exactly `buf.len()` bytes at `offset`.
#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// A positioned read of exactly `buf.len()` bytes at `offset`.
#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Many spectra at once, for pipelines: `wanted[i]` is (spectra file, row);
/// the result holds the same spectra in the same order.
///
/// Rows are grouped by file (each file opened once, never once per
/// spectrum); files are read in parallel on rayon's pool; a file with a
/// fresh hot copy is read from it, any other from its Parquet file. The
/// result does not depend on the number of threads.
pub fn read_many(wanted: &[(&Path, usize)]) -> Result<Vec<SpectraRow>> {
    let mut groups: Vec<(&Path, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<&Path, usize> = HashMap::new();
    for (i, (path, _)) in wanted.iter().enumerate() {
        let g = *group_of.entry(path).or_insert_with(|| {
            groups.push((path, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    let read: Vec<Vec<SpectraRow>> = groups
        .par_iter()
        .map(|(path, idx)| {
            let rows: Vec<usize> = idx.iter().map(|&i| wanted[i].1).collect();
            match HotCopy::open_fresh(path)? {
                Some(hot) => hot.read_rows(&rows),
                None => SpectraFile::open(path)?.read_rows(&rows),
            }
        })
        .collect::<Result<_>>()?;
    let mut out: Vec<Option<SpectraRow>> = (0..wanted.len()).map(|_| None).collect();
    for ((_, idx), rows) in groups.iter().zip(read) {
        for (&i, r) in idx.iter().zip(rows) {
            out[i] = Some(r);
        }
    }
    Ok(out.into_iter().flatten().collect())
}
