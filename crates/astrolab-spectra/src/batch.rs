//! Batches of spectra in one allocation: the pipelines' bulk read (issue 3,
//! "batch read of 10 k spectra at least 50 k spectra/s").
//!
//! [`read_many`](crate::read_many) returns one [`SpectraRow`] per spectrum,
//! three `Vec`s each: 30 k allocations for 10 k spectra, and 930 MB of
//! fresh memory that the kernel maps in one 4 KB page fault at a time
//! (`bench/RESULTS.md`, session 2: 3 k spectra/s in a fresh process, 20-40 k
//! once memory was reused). A [`SpectraBatch`] instead holds every spectrum
//! of a batch in three flat arrays (`flux`, `ivar`, `mask`) with per-row
//! offsets, and [`read_many_into`] refills a batch that a pipeline loop
//! passes back in, so that from the second batch on nothing is allocated
//! and no page is faulted: a batch costs one copy of its bytes out of the
//! page cache.
//!
//! How a batch is read:
//! 1. the distinct files are opened in parallel, each once; a file with a
//!    fresh hot copy (see [`crate::HotCopy`]) is read from it, any other
//!    (no hot copy, or a stale one) has its wanted rows decoded from the
//!    Parquet file with [`SpectraFile::read_rows`];
//! 2. every requested spectrum gets its slot in the flat arrays, in the
//!    order asked (repeats get a slot each);
//! 3. the slots are sorted by (file, row), so each file is read front to
//!    back, and filled in parallel on rayon's pool: hot rows by positioned
//!    reads (`pread`) straight into the slot's slices of the flat arrays,
//!    decoded rows by a copy.
//!
//! The values are the same bits as the Parquet reads (tested against
//! `SpectraFile::read_rows`), whatever the number of threads.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::error::SpectraStoreError;
use crate::file::{SpectraFile, SpectraRow};
use crate::hot::HotCopy;

type Result<T> = std::result::Result<T, SpectraStoreError>;

/// Slots filled per rayon task: small enough to balance two threads over a
/// few hundred files, large enough that task overhead is nothing next to
/// 64 x 93 KB of copying.
const SLOTS_PER_TASK: usize = 64;

/// Many spectra in flat arrays: spectrum `i` has pixels
/// `offsets()[i]..offsets()[i + 1]` of [`flux`](Self::flux),
/// [`ivar`](Self::ivar) and [`mask`](Self::mask).
///
/// Made by [`read_batch`], refilled by [`read_many_into`] (which keeps its
/// memory: reuse one batch across a pipeline's loop).
#[derive(Debug, Clone)]
pub struct SpectraBatch {
    target_id: Vec<i64>,
    ra: Vec<f64>,
    dec: Vec<f64>,
    z: Vec<f64>,
    /// `len() + 1` entries, the first 0.
    offsets: Vec<usize>,
    flux: Vec<f32>,
    ivar: Vec<f32>,
    mask: Vec<u32>,
}

/// One spectrum of a [`SpectraBatch`], borrowed from its arrays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrumView<'a> {
    /// DESI `TARGETID`.
    pub target_id: i64,
    /// ICRS right ascension, degrees.
    pub ra: f64,
    /// ICRS declination, degrees.
    pub dec: f64,
    /// Redshift (dimensionless); NaN when the source had no redshift.
    pub z: f64,
    /// 1e-17 erg/s/cm^2/A, one value per pixel of the file's grid.
    pub flux: &'a [f32],
    /// Inverse variance of `flux`.
    pub ivar: &'a [f32],
    /// Mask bits (DESI `specmask` plus astrolab's bits 30, 31).
    pub mask: &'a [u32],
}

impl SpectrumView<'_> {
    /// An owned copy.
    pub fn to_row(&self) -> SpectraRow {
        SpectraRow {
            target_id: self.target_id,
            ra: self.ra,
            dec: self.dec,
            z: self.z,
            flux: self.flux.to_vec(),
            ivar: self.ivar.to_vec(),
            mask: self.mask.to_vec(),
        }
    }
}

impl<'a> From<&'a SpectraRow> for SpectrumView<'a> {
    /// A view of an owned row.
    fn from(r: &'a SpectraRow) -> Self {
        SpectrumView {
            target_id: r.target_id,
            ra: r.ra,
            dec: r.dec,
            z: r.z,
            flux: &r.flux,
            ivar: &r.ivar,
            mask: &r.mask,
        }
    }
}

impl Default for SpectraBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl SpectraBatch {
    /// An empty batch (no memory held yet).
    pub fn new() -> Self {
        SpectraBatch {
            target_id: Vec::new(),
            ra: Vec::new(),
            dec: Vec::new(),
            z: Vec::new(),
            offsets: vec![0],
            flux: Vec::new(),
            ivar: Vec::new(),
            mask: Vec::new(),
        }
    }

    /// The batch's arrays, taken whole (a binding hands them to NumPy
    /// without copying): TARGETID, RA, Dec, z, offsets (`len() + 1`), flux,
    /// ivar, mask.
    #[allow(clippy::type_complexity)]
    pub fn into_parts(
        self,
    ) -> (
        Vec<i64>,
        Vec<f64>,
        Vec<f64>,
        Vec<f64>,
        Vec<usize>,
        Vec<f32>,
        Vec<f32>,
        Vec<u32>,
    ) {
        (
            self.target_id,
            self.ra,
            self.dec,
            self.z,
            self.offsets,
            self.flux,
            self.ivar,
            self.mask,
        )
    }

    /// Appends one spectrum (a reader of rows filling the flat layout).
    pub fn push(&mut self, row: &SpectraRow) {
        self.target_id.push(row.target_id);
        self.ra.push(row.ra);
        self.dec.push(row.dec);
        self.z.push(row.z);
        self.flux.extend_from_slice(&row.flux);
        self.ivar.extend_from_slice(&row.ivar);
        self.mask.extend_from_slice(&row.mask);
        self.offsets.push(self.flux.len());
    }

    /// Number of spectra.
    pub fn len(&self) -> usize {
        self.target_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.target_id.is_empty()
    }

    /// Spectrum `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<SpectrumView<'_>> {
        if i >= self.len() {
            return None;
        }
        let px = self.offsets[i]..self.offsets[i + 1];
        Some(SpectrumView {
            target_id: self.target_id[i],
            ra: self.ra[i],
            dec: self.dec[i],
            z: self.z[i],
            flux: &self.flux[px.clone()],
            ivar: &self.ivar[px.clone()],
            mask: &self.mask[px],
        })
    }

    /// The spectra in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SpectrumView<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i).expect("index below len"))
    }

    /// TARGETID of each spectrum.
    pub fn target_ids(&self) -> &[i64] {
        &self.target_id
    }

    /// Pixel offsets: spectrum `i` is `offsets()[i]..offsets()[i + 1]` of
    /// the flat arrays (`len() + 1` entries). When every file of the batch
    /// has the same grid (the store's files do), spectrum `i` starts at
    /// `i * npix` and the arrays reshape to `len() x npix`.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// All fluxes, 1e-17 erg/s/cm^2/A, spectrum after spectrum.
    pub fn flux(&self) -> &[f32] {
        &self.flux
    }

    /// All inverse variances, aligned with [`flux`](Self::flux).
    pub fn ivar(&self) -> &[f32] {
        &self.ivar
    }

    /// All mask words, aligned with [`flux`](Self::flux).
    pub fn mask(&self) -> &[u32] {
        &self.mask
    }

    /// Owned rows, one per spectrum (copies everything).
    pub fn to_rows(&self) -> Vec<SpectraRow> {
        self.iter().map(|s| s.to_row()).collect()
    }

    /// Empties the batch and keeps its memory.
    pub fn clear(&mut self) {
        self.target_id.clear();
        self.ra.clear();
        self.dec.clear();
        self.z.clear();
        self.offsets.clear();
        self.offsets.push(0);
        self.flux.clear();
        self.ivar.clear();
        self.mask.clear();
    }
}

/// The wanted rows of one file without a usable hot copy, decoded once
/// (each distinct row once, however often it is asked for). Shared by the
/// batch reader and [`crate::map_many`].
#[derive(Debug)]
pub(crate) struct Decoded {
    npix: usize,
    /// The rows decoded, sorted and distinct.
    rows: Vec<usize>,
    /// `spectra[k]` is row `rows[k]`.
    spectra: Vec<SpectraRow>,
}

impl Decoded {
    /// Decodes the rows `rows` (any order, repeats allowed) of the Parquet
    /// file `path`; a row past the end is an error naming the file.
    pub(crate) fn from_parquet(path: &Path, rows: &[usize]) -> Result<Decoded> {
        let file = SpectraFile::open(path)?;
        let rows = sorted_distinct(rows);
        let spectra = file.read_rows(&rows)?;
        Ok(Decoded {
            npix: file.meta().npix,
            rows,
            spectra,
        })
    }

    /// Copies the rows `rows` out of a hot copy (the mapped reader's path on
    /// big-endian machines, where the little-endian bytes cannot be viewed
    /// in place).
    pub(crate) fn from_hot(hot: &HotCopy, rows: &[usize]) -> Result<Decoded> {
        let rows = sorted_distinct(rows);
        let spectra = hot.read_rows(&rows)?;
        Ok(Decoded {
            npix: hot.npix(),
            rows,
            spectra,
        })
    }

    pub(crate) fn npix(&self) -> usize {
        self.npix
    }

    /// Row `row`, which must be one of the rows it was made for.
    pub(crate) fn get(&self, row: usize) -> &SpectraRow {
        let k = self.rows.partition_point(|&w| w < row);
        debug_assert_eq!(self.rows.get(k), Some(&row), "row not decoded");
        &self.spectra[k]
    }
}

fn sorted_distinct(rows: &[usize]) -> Vec<usize> {
    let mut rows = rows.to_vec();
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// An error naming `path` when a row of `rows` is not below `len`.
pub(crate) fn check_rows(path: &Path, rows: &[usize], len: usize) -> Result<()> {
    match rows.iter().find(|&&r| r >= len) {
        Some(&row) => Err(SpectraStoreError::RowOutOfRange {
            path: path.to_path_buf(),
            row,
            len,
        }),
        None => Ok(()),
    }
}

/// A request list grouped by file: the distinct files in order of first
/// appearance, the file index of each request, and each file's requested
/// rows (in request order, repeats kept).
pub(crate) struct Grouped<'p> {
    pub files: Vec<&'p Path>,
    pub file_of: Vec<usize>,
    pub rows_of: Vec<Vec<usize>>,
}

pub(crate) fn group_by_file<'p>(wanted: &[(&'p Path, usize)]) -> Grouped<'p> {
    let mut files: Vec<&Path> = Vec::new();
    let mut index: HashMap<&Path, usize> = HashMap::new();
    let file_of: Vec<usize> = wanted
        .iter()
        .map(|&(path, _)| {
            *index.entry(path).or_insert_with(|| {
                files.push(path);
                files.len() - 1
            })
        })
        .collect();
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (&f, &(_, row)) in file_of.iter().zip(wanted) {
        rows_of[f].push(row);
    }
    Grouped {
        files,
        file_of,
        rows_of,
    }
}

/// Where one file's spectra come from in a batch.
enum Source {
    /// A fresh hot copy: rows are read straight into the batch.
    Hot(HotCopy),
    /// No usable hot copy: the wanted rows, decoded from the Parquet file.
    Decoded(Decoded),
}

impl Source {
    /// Opens `path` for the rows `rows` (any order, repeats allowed); checks
    /// that every row exists before anything is read into the batch.
    fn open(path: &Path, rows: &[usize]) -> Result<Source> {
        if let Some(hot) = HotCopy::open_fresh(path)? {
            check_rows(path, rows, hot.len())?;
            return Ok(Source::Hot(hot));
        }
        Ok(Source::Decoded(Decoded::from_parquet(path, rows)?))
    }

    fn npix(&self) -> usize {
        match self {
            Source::Hot(h) => h.npix(),
            Source::Decoded(d) => d.npix(),
        }
    }
}

/// One requested spectrum's place in the batch.
struct Slot<'a> {
    source: usize,
    row: usize,
    target_id: &'a mut i64,
    ra: &'a mut f64,
    dec: &'a mut f64,
    z: &'a mut f64,
    flux: &'a mut [f32],
    ivar: &'a mut [f32],
    mask: &'a mut [u32],
}

impl Slot<'_> {
    fn fill(&mut self, sources: &[Source]) -> Result<()> {
        match &sources[self.source] {
            Source::Hot(hot) => {
                let s = hot.read_row_into(self.row, self.flux, self.ivar, self.mask)?;
                (*self.target_id, *self.ra, *self.dec, *self.z) = (s.target_id, s.ra, s.dec, s.z);
            }
            Source::Decoded(d) => {
                // `d` holds every row asked of this file (Source::open).
                let r = d.get(self.row);
                (*self.target_id, *self.ra, *self.dec, *self.z) = (r.target_id, r.ra, r.dec, r.z);
                self.flux.copy_from_slice(&r.flux);
                self.ivar.copy_from_slice(&r.ivar);
                self.mask.copy_from_slice(&r.mask);
            }
        }
        Ok(())
    }
}

/// Makes `v` exactly `n` long, keeping its allocation (and the pages already
/// faulted in) when it is big enough. A new allocation is zeroed lazily by
/// the allocator (`calloc`: untouched pages cost nothing until written).
fn fit<T: Copy + Default>(v: &mut Vec<T>, n: usize) {
    if n <= v.capacity() {
        v.truncate(n);
        v.resize(n, T::default());
    } else {
        // Free the old memory before taking the new.
        *v = Vec::new();
        *v = vec![T::default(); n];
    }
}

/// Many spectra at once into one [`SpectraBatch`]: `wanted[i]` is (spectra
/// file, 0-based row) and becomes spectrum `i` of the batch. See
/// [`read_many_into`], which refills a batch instead of making one.
pub fn read_batch(wanted: &[(&Path, usize)]) -> Result<SpectraBatch> {
    let mut batch = SpectraBatch::new();
    read_many_into(wanted, &mut batch)?;
    Ok(batch)
}

/// Refills `batch` with the spectra `wanted` (`wanted[i]` = (spectra file,
/// 0-based row) becomes spectrum `i`; repeats and any order allowed), reusing
/// its memory. Files with a fresh hot copy are read from it, others from the
/// Parquet file (see the module documentation). On error the batch is left
/// empty.
pub fn read_many_into(wanted: &[(&Path, usize)], batch: &mut SpectraBatch) -> Result<()> {
    let result = fill_batch(wanted, batch);
    if result.is_err() {
        batch.clear();
    }
    result
}

fn fill_batch(wanted: &[(&Path, usize)], batch: &mut SpectraBatch) -> Result<()> {
    let Grouped {
        files,
        file_of: source_of,
        rows_of,
    } = group_by_file(wanted);
    let sources: Vec<Source> = files
        .par_iter()
        .zip(&rows_of)
        .map(|(path, rows)| Source::open(path, rows))
        .collect::<Result<_>>()?;

    let n = wanted.len();
    batch.offsets.clear();
    batch.offsets.reserve(n + 1);
    batch.offsets.push(0);
    let mut total = 0;
    for &s in &source_of {
        total += sources[s].npix();
        batch.offsets.push(total);
    }
    fit(&mut batch.target_id, n);
    fit(&mut batch.ra, n);
    fit(&mut batch.dec, n);
    fit(&mut batch.z, n);
    fit(&mut batch.flux, total);
    fit(&mut batch.ivar, total);
    fit(&mut batch.mask, total);

    // Each request's slot, in request order, then sorted by (file, row).
    let mut slots: Vec<Slot<'_>> = Vec::with_capacity(n);
    let (mut flux, mut ivar, mut mask) = (
        batch.flux.as_mut_slice(),
        batch.ivar.as_mut_slice(),
        batch.mask.as_mut_slice(),
    );
    let scalars = batch
        .target_id
        .iter_mut()
        .zip(batch.ra.iter_mut())
        .zip(batch.dec.iter_mut())
        .zip(batch.z.iter_mut());
    for (i, (((target_id, ra), dec), z)) in scalars.enumerate() {
        let npix = batch.offsets[i + 1] - batch.offsets[i];
        let (f, rest) = std::mem::take(&mut flux).split_at_mut(npix);
        flux = rest;
        let (v, rest) = std::mem::take(&mut ivar).split_at_mut(npix);
        ivar = rest;
        let (m, rest) = std::mem::take(&mut mask).split_at_mut(npix);
        mask = rest;
        slots.push(Slot {
            source: source_of[i],
            row: wanted[i].1,
            target_id,
            ra,
            dec,
            z,
            flux: f,
            ivar: v,
            mask: m,
        });
    }
    slots.sort_unstable_by_key(|s| (s.source, s.row));
    slots
        .par_chunks_mut(SLOTS_PER_TASK)
        .try_for_each(|chunk| chunk.iter_mut().try_for_each(|s| s.fill(&sources)))
}
