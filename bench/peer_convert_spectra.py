#!/usr/bin/env python3
"""Peer for the spectra conversion benchmark (issue 3): the lab's Python
pipeline shape, fitsio + numpy + pyarrow, one process (= one core).

For each coadd-*.fits in DATA_DIR: read FIBERMAP (TARGETID, TARGET_RA,
TARGET_DEC) and each arm's WAVELENGTH, FLUX, IVAR, MASK with fitsio; merge
B/R/Z onto the 3600..=9824 A, 0.8 A grid (7781 pixels) with inverse-variance
weighting, masked / non-finite / ivar <= 0 pixels weight 0 (the rule of
astrolab_formats::spectra and bench/reference_merge.py, vectorised over all
spectra of the file); sort by TARGETID; write one Parquet file with pyarrow
with astrolab's columns (target_id int64, ra, dec, z float64 (NaN: no
redrock), flux, ivar fixed_size_list<float32, 7781>, mask
fixed_size_list<uint32, 7781>), zstd level 3, row groups of 1000, the same
key-value metadata (including each source's sha256, as astrolab records it).

Prints one line: files, MB of FITS, seconds, MB/s, spectra/s.

usage: python3 bench/peer_convert_spectra.py DATA_DIR [OUT_DIR] [REPEAT]
"""

import glob
import hashlib
import json
import os
import sys
import tempfile
import time

import fitsio
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WAVE_MIN = 3600.0
DWAVE = 0.8
NPIX = 7781
NODATA = np.uint32(1 << 31)
BADVALUE = np.uint32(1 << 30)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def merge(fits, nspec):
    sw = np.zeros((nspec, NPIX))
    swf = np.zeros((nspec, NPIX))
    ormask = np.zeros((nspec, NPIX), dtype=np.uint32)
    covered = np.zeros(NPIX, dtype=bool)
    for arm in ["B", "R", "Z"]:
        if f"{arm}_WAVELENGTH" not in fits:
            continue
        w = fits[f"{arm}_WAVELENGTH"].read().astype(np.float64)
        f = fits[f"{arm}_FLUX"].read().astype(np.float64)
        iv = fits[f"{arm}_IVAR"].read().astype(np.float64)
        m = fits[f"{arm}_MASK"].read().astype(np.uint32)
        k = np.rint((w - WAVE_MIN) / DWAVE).astype(np.int64)
        off = np.abs(WAVE_MIN + DWAVE * k - w)
        if off.max() > 1e-3 or k.min() < 0 or k.max() >= NPIX:
            raise ValueError(f"arm {arm} is off the 0.8 A lattice")
        finite = np.isfinite(f) & np.isfinite(iv)
        good = (m == 0) & finite & (iv > 0)
        wt = np.where(good, iv, 0.0)
        # k is strictly increasing within an arm: plain fancy-index adds.
        sw[:, k] += wt
        swf[:, k] += np.where(good, wt * f, 0.0)
        ormask[:, k] |= m | np.where(finite, 0, BADVALUE).astype(np.uint32)
        covered[k] = True
    has = sw > 0
    flux = np.zeros((nspec, NPIX))
    np.divide(swf, sw, out=flux, where=has)
    mask = np.where(has, np.uint32(0), ormask).astype(np.uint32)
    mask[:, ~covered] = NODATA
    return flux.astype(np.float32), sw.astype(np.float32), mask


def fixed(values, typ):
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel(), type=typ), NPIX)


def convert(path, out):
    with fitsio.FITS(path) as fits:
        hdr = fits[0].read_header()
        fm = fits["FIBERMAP"].read(columns=["TARGETID", "TARGET_RA", "TARGET_DEC"])
        nspec = len(fm)
        flux, ivar, mask = merge(fits, nspec)
    order = np.argsort(fm["TARGETID"], kind="stable")
    table = pa.table({
        "target_id": pa.array(fm["TARGETID"][order].astype(np.int64)),
        "ra": pa.array(fm["TARGET_RA"][order].astype(np.float64)),
        "dec": pa.array(fm["TARGET_DEC"][order].astype(np.float64)),
        "z": pa.array(np.full(nspec, np.nan)),
        "flux": fixed(flux[order], pa.float32()),
        "ivar": fixed(ivar[order], pa.float32()),
        "mask": fixed(mask[order], pa.uint32()),
    })
    meta = {
        "survey": str(hdr.get("SURVEY", "")).strip(),
        "program": str(hdr.get("PROGRAM", "")).strip(),
        "healpix": str(hdr.get("HPXPIXEL", "")),
        "wave_min_a": repr(WAVE_MIN),
        "dwave_a": repr(DWAVE),
        "npix": str(NPIX),
        "source_files": json.dumps([f"{os.path.basename(path)} sha256:{sha256(path)}"]),
        "software_version": "peer_convert_spectra.py",
        "astrolab_format": "astrolab-spectra/1",
    }
    table = table.replace_schema_metadata(meta)
    tmp = out + ".tmp"
    pq.write_table(table, tmp, compression="zstd", compression_level=3,
                   row_group_size=1000, use_byte_stream_split=["flux", "ivar"])
    os.replace(tmp, out)
    return nspec, os.path.getsize(out)


def main():
    data = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else tempfile.mkdtemp()
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    files = sorted(glob.glob(os.path.join(data, "coadd-*.fits")))
    if not files:
        sys.exit(f"no coadd-*.fits in {data}")
    in_bytes = out_bytes = spectra = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i in range(repeat):
        for p in files:
            n, size = convert(p, os.path.join(out_dir, f"{i}-{os.path.basename(p)[:-5]}.parquet"))
            in_bytes += os.path.getsize(p)
            out_bytes += size
            spectra += n
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    mb = in_bytes / 1e6
    print(f"{repeat} x {len(files)} files: {mb:.1f} MB of FITS in {secs:.3f} s = {mb / secs:.1f} MB/s; "
          f"{spectra} spectra ({spectra / secs:.0f}/s); Parquet out {out_bytes / 1e6:.1f} MB "
          f"({100 * out_bytes / in_bytes:.1f}% of input); CPU {cpu:.3f} s")


if __name__ == "__main__":
    main()
