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
//!
//! A file without a usable hot copy (none, or a stale one: the same checks
//! as every other hot-copy reader, [`HotCopy::open_fresh`]) has its wanted
//! rows decoded from the Parquet file and held by the [`MappedSpectra`];
//! on big-endian machines hot copies are copied (byte-swapped) the same
//! way, since their little-endian bytes cannot be viewed in place. The
//! views look the same either way; [`MappedSpectra::mapped_files`] says how
//! many files were mapped.
//!
//! # Safety of the maps
//! A map is only sound while nobody changes the file under it. astrolab
//! never does: a hot copy is written under a temporary name and renamed over
//! the old one, never modified in place, so a live map keeps the bytes of
//! the file it mapped (the old inode) until the [`MappedSpectra`] is
//! dropped, even when `astrolab spectra hot` replaces the copy meanwhile.
//! Another program that truncates or rewrites a `.hot` file in place
//! breaks that: the views then show the changed bytes, and touching a page
//! past a truncated end kills the process with SIGBUS. Do not edit hot
//! copies in place (delete them or let `spectra hot` replace them).

use std::fmt;
use std::path::Path;

use rayon::prelude::*;

use crate::batch::{check_rows, group_by_file, Decoded, Grouped, SpectrumView};
use crate::error::SpectraStoreError;
use crate::hot::{HotCopy, HotMap};

type Result<T> = std::result::Result<T, SpectraStoreError>;

/// How [`map_many_with`] readies the pages of the wanted rows before it
/// returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Prefault {
    /// Nothing: each page is mapped at its first touch (one fault per up
    /// to 16 cached pages).
    #[default]
    Lazy,
    /// `MADV_POPULATE_READ` over each wanted row (Linux 5.14+; rows in
    /// parallel on rayon's pool): the pages are mapped in one call per row
    /// instead of faults at first touch.
    Rows,
    /// `MADV_WILLNEED` over each wanted row: readahead of pages that are not
    /// in the page cache (it maps nothing).
    WillNeed,
    /// `MAP_POPULATE`: every page of every file mapped when the file is
    /// mapped, wanted or not.
    Files,
}

/// Where one file's spectra are in a [`MappedSpectra`].
enum Source {
    /// A fresh hot copy, mapped: rows are viewed in place.
    Mapped(HotMap),
    /// No mappable hot copy: the wanted rows, copied out once.
    Decoded(Decoded),
}

/// Many spectra viewed in place (see the module documentation): spectrum
/// `i` is request `i` of [`map_many`]. Holds the maps of the files asked
/// for; the views borrow from it.
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
/// Files with a fresh hot copy are mapped, others decoded (see the module
/// documentation, and its safety section on what a map assumes). Pages are
/// mapped at first touch ([`Prefault::Lazy`]); see [`map_many_with`].
///
/// Errors name the file: a missing file, a damaged hot copy (bad magic,
/// wrong length), a row past the end.
pub fn map_many(wanted: &[(&Path, usize)]) -> Result<MappedSpectra> {
    map_many_with(wanted, Prefault::default())
}

/// [`map_many`], readying the wanted pages as `prefault` says.
pub fn map_many_with(wanted: &[(&Path, usize)], prefault: Prefault) -> Result<MappedSpectra> {
    let Grouped {
        files,
        file_of,
        rows_of,
    } = group_by_file(wanted);
    let sources: Vec<Source> = files
        .par_iter()
        .zip(&rows_of)
        .map(|(path, rows)| open(path, rows, prefault == Prefault::Files))
        .collect::<Result<_>>()?;

    if matches!(prefault, Prefault::Rows | Prefault::WillNeed) {
        // Each distinct mapped row once, in file order.
        let mut todo: Vec<(usize, usize)> = rows_of
            .iter()
            .enumerate()
            .filter(|&(s, _)| matches!(sources[s], Source::Mapped(_)))
            .flat_map(|(s, rows)| rows.iter().map(move |&r| (s, r)))
            .collect();
        todo.sort_unstable();
        todo.dedup();
        todo.par_chunks(64).try_for_each(|chunk| {
            chunk.iter().try_for_each(|&(s, row)| {
                let Source::Mapped(m) = &sources[s] else {
                    unreachable!("only mapped sources were listed")
                };
                let done = if prefault == Prefault::Rows {
                    m.populate_row(row)
                } else {
                    m.will_need_row(row)
                };
                done.map_err(|e| SpectraStoreError::io(m.path(), "prefault the map", e))
            })
        })?;
    }

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
fn open(path: &Path, rows: &[usize], populate: bool) -> Result<Source> {
    match HotCopy::open_fresh(path)? {
        Some(hot) if cfg!(target_endian = "little") => {
            check_rows(path, rows, hot.len())?;
            let map = hot.map(populate)?;
            debug_assert_eq!(map.len(), hot.len());
            Ok(Source::Mapped(map))
        }
        Some(hot) => {
            check_rows(path, rows, hot.len())?;
            Ok(Source::Decoded(Decoded::from_hot(&hot, rows)?))
        }
        None => Ok(Source::Decoded(Decoded::from_parquet(path, rows)?)),
    }
}
