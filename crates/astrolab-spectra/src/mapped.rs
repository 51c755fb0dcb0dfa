//! Zero-copy batch reads: hot copies mapped read-only, spectra handed out
//! as views of the page cache (issue 3, the first batch of a fresh process).
//!
//! [`read_many_into`](crate::read_many_into) copies every spectrum of a
//! batch into the flat arrays of a [`SpectraBatch`](crate::SpectraBatch):
//! 930 MB for 10 k spectra. Reusing a batch makes that a plain copy (steady
//! state, 65-100 k spectra/s here), but the first batch of a process has to
//! bring in 930 MB of fresh anonymous memory, which costs 250-330 ms on the
//! lab's Firecracker VMs before a byte is copied
//! (`bench/notes/issue3-batch.md`, session 5). [`map_many`] copies
//! nothing: each distinct file's hot copy (see [`crate::HotCopy`]) is
//! mapped read-only, and [`MappedSpectra::get`] returns a
//! [`SpectrumView`] whose `flux`, `ivar` and `mask` slices point into the
//! map, that is into the page cache the hot copies already sit in. The
//! cost moves to the first touch of each page (a page fault maps up to 16
//! cached pages, "fault-around"), with no zeroing and no new memory.
//! Asking the kernel to map the wanted pages up front instead
//! (`MADV_POPULATE_READ` or `MADV_WILLNEED` per row, `MAP_POPULATE` per
//! file) was measured no faster, or much slower
//! (`bench/notes/issue3-batch.md`, session 6), so there is no such option.
//!
//! A file without a usable hot copy (none, or a stale one: the same checks
//! as every other hot-copy reader, [`HotCopy::open_fresh`]) has its wanted
//! rows decoded from the Parquet file and held by the [`MappedSpectra`];
//! on big-endian machines hot copies are copied (byte-swapped) the same
//! way, since their little-endian bytes cannot be viewed in place. The
//! views look the same either way; [`MappedSpectra::mapped_files`] says how
//! many files were mapped.
//!
//! Why mapping is sound (hot copies are replaced by rename, never changed
//! in place) and what breaks it is on [`map_many`], where callers see it.

use std::fmt;
use std::path::Path;

use rayon::prelude::*;

use crate::batch::{check_rows, group_by_file, Decoded, Grouped, SpectrumView};
use crate::error::SpectraStoreError;
use crate::hot::{HotCopy, HotMap};

type Result<T> = std::result::Result<T, SpectraStoreError>;

/// Where one file's spectra are in a [`MappedSpectra`].
enum Source {
    /// A fresh hot copy, mapped: rows are viewed in place.
    Mapped(HotMap),
    /// No mappable hot copy: the wanted rows, copied out once.
    Decoded(Decoded),
}

/// Many spectra viewed in place, made by [`map_many`]: spectrum `i` is
/// request `i`. Holds the maps of the files asked for (and the rows it had
/// to copy); the views borrow from it.
pub struct MappedSpectra {
    sources: Vec<Source>,
    /// (source, row) of each request, in request order.
    records: Vec<(usize, usize)>,
}

impl fmt::Debug for MappedSpectra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedSpectra")
            .field("len", &self.len())
            .field("files", &self.sources.len())
            .field("mapped_files", &self.mapped_files())
            .finish()
    }
}

impl MappedSpectra {
    /// Number of spectra (requests, repeats included).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds no spectra.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Spectrum `i`, or `None` past the end. For a mapped file the slices
    /// point into the map: the first touch of a page maps it.
    pub fn get(&self, i: usize) -> Option<SpectrumView<'_>> {
        let &(s, row) = self.records.get(i)?;
        Some(match &self.sources[s] {
            Source::Mapped(m) => m.view(row),
            Source::Decoded(d) => d.get(row).into(),
        })
    }

    /// The spectra in request order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SpectrumView<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i).expect("index below len"))
    }

    /// Number of distinct files viewed in place (the others had no fresh
    /// hot copy, or the machine is big-endian, and were copied).
    pub fn mapped_files(&self) -> usize {
        self.sources
            .iter()
            .filter(|s| matches!(s, Source::Mapped(_)))
            .count()
    }

    /// Number of distinct files asked for.
    pub fn files(&self) -> usize {
        self.sources.len()
    }
}

/// Many spectra at once without copying them: `wanted[i]` is (spectra file,
/// 0-based row) and becomes spectrum `i` (repeats and any order allowed).
/// Each distinct file's hot copy, when fresh (the same checks as
/// [`HotCopy::open_fresh`]), is mapped read-only and its spectra are
/// viewed in place: [`MappedSpectra::get`]'s slices point into the page
/// cache, nothing is copied, no memory is allocated for them. A file with
/// no hot copy or a stale one has its wanted rows decoded from the Parquet
/// file instead, and on big-endian machines hot copies are copied
/// (byte-swapped); [`MappedSpectra::mapped_files`] says how many files
/// were mapped. Pages are mapped at first touch, not here.
///
/// Errors name the file: a missing file, a damaged hot copy (bad magic,
/// wrong length), a row past the end.
///
/// # What a map assumes
/// A map is only sound while nobody changes the file under it. astrolab
/// never does: a hot copy is written under a temporary name and renamed over
/// the old one, never modified in place, so a live map keeps the bytes of
/// the file it mapped (the old inode) until the [`MappedSpectra`] is
/// dropped, even when `astrolab spectra hot` replaces the copy meanwhile.
/// Another program that truncates or rewrites a `.hot` file in place
/// breaks that: the views then show the changed bytes, and touching a page
/// past a truncated end kills the process with SIGBUS. Do not edit hot
/// copies in place (delete them, or let `spectra hot` replace them).
///
/// # Cost
/// Making the maps is cheap (one open, header check and `mmap` per
/// file); the pages are mapped at their first touch, with no new memory
/// and no copy, and unmapped when the [`MappedSpectra`] is dropped (40-80
/// ms for 10 k spectra on the lab's VMs).
pub fn map_many(wanted: &[(&Path, usize)]) -> Result<MappedSpectra> {
    let Grouped {
        files,
        file_of,
        rows_of,
    } = group_by_file(wanted);
    let sources: Vec<Source> = files
        .par_iter()
        .zip(&rows_of)
        .map(|(path, rows)| open(path, rows))
        .collect::<Result<_>>()?;
    let records = file_of
        .into_iter()
        .zip(wanted)
        .map(|(s, &(_, row))| (s, row))
        .collect();
    Ok(MappedSpectra { sources, records })
}

/// Opens one file for the rows `rows`: mapped when its hot copy is fresh
/// and the machine little-endian, else copied. Every row is checked here,
/// so that [`MappedSpectra::get`] cannot fail.
fn open(path: &Path, rows: &[usize]) -> Result<Source> {
    match HotCopy::open_fresh(path)? {
        Some(hot) if cfg!(target_endian = "little") => {
            check_rows(path, rows, hot.len())?;
            let map = hot.map()?;
            Ok(Source::Mapped(map))
        }
        Some(hot) => {
            check_rows(path, rows, hot.len())?;
            Ok(Source::Decoded(Decoded::from_hot(&hot, rows)?))
        }
        None => Ok(Source::Decoded(Decoded::from_parquet(path, rows)?)),
    }
}
