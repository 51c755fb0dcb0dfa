#!/usr/bin/env python3
"""Realistic-size DESI healpix coadds for the conversion benchmark (issue 3).

The real coadds in the shared data hold 1-5 spectra; a DESI DR1 healpix coadd
holds ~500 (150-250 MB). This writes NFILES coadds of NSPEC spectra each,
copying the HDU layout, headers and dtypes of a real file
(coadd-sv3-dark-26065.fits): FIBERMAP, EXP_FIBERMAP, {B,R,Z}_{WAVELENGTH,
FLUX, IVAR, MASK (uint32 through BZERO 2^31), RESOLUTION (float32, 11
diagonals)}, SCORES. Spectrum i is a copy of real spectrum i % 4 (the four of the shared coadds
that have data) with
Gaussian noise of the pixel's own sigma (1/sqrt(ivar)) added to its flux;
ivar, mask and resolution are the real ones; TARGETIDs are new and unique.
Seeded: the same arguments give the same bytes.

usage: python3 bench/make_coadds.py [--nfiles 3] [--nspec 500] [--out bench/data/coadds]
                                    [--source ../shared/data/desi/coadd-sv3-dark-26065.fits]
"""

import argparse
import os

import numpy as np
from astropy.io import fits

ARMS = ["B", "R", "Z"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.environ.get("ASTROLAB_SHARED_DATA", os.path.join(here, "..", "..", "shared", "data"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--nfiles", type=int, default=3)
    ap.add_argument("--nspec", type=int, default=500)
    ap.add_argument("--out", default=os.path.join(here, "data", "coadds"))
    ap.add_argument("--source", default=os.path.join(shared, "desi", "coadd-sv3-dark-26065.fits"))
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    with fits.open(a.source, memmap=False) as src:
        prim_hdr = src[0].header.copy()
        fm = src["FIBERMAP"]
        efm = src["EXP_FIBERMAP"]
        sc = src["SCORES"]
        arms = {}
        for arm in ARMS:
            arms[arm] = {
                part: (src[f"{arm}_{part}"].data.copy(), src[f"{arm}_{part}"].header.copy())
                for part in ["WAVELENGTH", "FLUX", "IVAR", "MASK", "RESOLUTION"]
            }
        nreal = len(fm.data)
        fm_data, fm_hdr = fm.data.copy(), fm.header.copy()
        efm_data, efm_hdr = efm.data.copy(), efm.header.copy()
        sc_data, sc_hdr = sc.data.copy(), sc.header.copy()

    # Spectral templates: every real spectrum with data (ivar > 0 somewhere
    # in every arm) of the shared coadds; they share DESI's arm grids. (Three
    # of the five spectra of the sv3 file are empty fibers: ivar 0 everywhere.)
    pool = {arm: {part: [] for part in ["FLUX", "IVAR", "MASK", "RESOLUTION"]} for arm in ARMS}
    for other in [a.source] + [os.path.join(os.path.dirname(a.source), n) for n in
                               ["coadd-special-dark-27247.fits", "coadd-4-80613-thru20210324.fits"]]:
        if not os.path.exists(other) or (other != a.source and os.path.samefile(other, a.source)):
            continue
        with fits.open(other, memmap=False) as o:
            good = np.all([(o[f"{arm}_IVAR"].data > 0).any(axis=1) for arm in ARMS], axis=0)
            if any(o[f"{arm}_FLUX"].data.shape[1] != arms[arm]["FLUX"][0].shape[1] for arm in ARMS):
                continue
            for arm in ARMS:
                for part in pool[arm]:
                    pool[arm][part].append(o[f"{arm}_{part}"].data[good])
    for arm in ARMS:
        for part in pool[arm]:
            arms[arm][part] = (np.concatenate(pool[arm][part]), arms[arm][part][1])
    ntpl = len(arms["B"]["FLUX"][0])
    print(f"{ntpl} template spectra with data")

    base_pix = int(prim_hdr.get("HPXPIXEL", 26065))
    for f in range(a.nfiles):
        rng = np.random.default_rng(a.seed * 1000 + f)
        pix = base_pix + 1 + f
        name = os.path.join(a.out, f"coadd-sv3-dark-{pix}.fits")
        src_row = np.arange(a.nspec) % nreal
        tpl_row = np.arange(a.nspec) % ntpl
        # Unique per file and across files, in DESI's TARGETID range.
        tids = (39627000000000000 + pix * 100000 + np.arange(a.nspec)).astype(np.int64)

        hdr = prim_hdr.copy()
        hdr["HPXPIXEL"] = pix
        hdus = [fits.PrimaryHDU(header=hdr)]

        t = fits.FITS_rec.from_columns(fm_data.columns, nrows=a.nspec)
        for c in fm_data.columns.names:
            t[c] = fm_data[c][src_row]
        t["TARGETID"] = tids
        hdus.append(fits.BinTableHDU(t, header=fm_hdr, name="FIBERMAP"))

        # Two exposures per target, as in a typical healpix coadd.
        erow = np.repeat(np.arange(a.nspec), 2)
        e = fits.FITS_rec.from_columns(efm_data.columns, nrows=len(erow))
        for c in efm_data.columns.names:
            e[c] = efm_data[c][erow % len(efm_data)]
        e["TARGETID"] = tids[erow]
        hdus.append(fits.BinTableHDU(e, header=efm_hdr, name="EXP_FIBERMAP"))

        for arm in ARMS:
            d = arms[arm]
            wave, whdr = d["WAVELENGTH"]
            hdus.append(fits.ImageHDU(wave, header=whdr, name=f"{arm}_WAVELENGTH"))
            flux0, fhdr = d["FLUX"]
            ivar0, ihdr = d["IVAR"]
            ivar = ivar0[tpl_row].astype(np.float32)
            sigma = np.where(ivar > 0, 1.0 / np.sqrt(np.where(ivar > 0, ivar, 1.0)), 0.0)
            flux = (flux0[tpl_row] + rng.standard_normal(ivar.shape) * sigma).astype(np.float32)
            hdus.append(fits.ImageHDU(flux, header=fhdr, name=f"{arm}_FLUX"))
            hdus.append(fits.ImageHDU(ivar, header=ihdr, name=f"{arm}_IVAR"))
            mask0, mhdr = d["MASK"]
            mhdr = mhdr.copy()
            for k in ("BZERO", "BSCALE"):
                mhdr.remove(k, ignore_missing=True)
            # astropy writes uint32 as int32 with BZERO = 2^31, as DESI does.
            hdus.append(fits.ImageHDU(mask0[tpl_row].astype(np.uint32), header=mhdr,
                                      name=f"{arm}_MASK", uint=True))
            res0, rhdr = d["RESOLUTION"]
            hdus.append(fits.ImageHDU(res0[tpl_row].astype(np.float32), header=rhdr,
                                      name=f"{arm}_RESOLUTION"))

        s = fits.FITS_rec.from_columns(sc_data.columns, nrows=a.nspec)
        for c in sc_data.columns.names:
            s[c] = sc_data[c][src_row]
        s["TARGETID"] = tids
        hdus.append(fits.BinTableHDU(s, header=sc_hdr, name="SCORES"))

        tmp = name + ".tmp"
        fits.HDUList(hdus).writeto(tmp, overwrite=True)
        os.replace(tmp, name)
        print(f"{name}: {a.nspec} spectra, {os.path.getsize(name) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
