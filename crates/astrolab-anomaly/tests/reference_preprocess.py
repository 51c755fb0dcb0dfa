#!/usr/bin/env python3
"""An independent numpy implementation of the rest-frame preprocessing of
astrolab_anomaly::preprocess (module docs): rebinning by inverse-variance
weighted averaging onto the 5e-4 dex rest grid, sky-line and mask
handling, and the weighted-median scale against the power-law reference.
It prints the numbers that tests/preprocess_real.rs pins.

Usage: reference_preprocess.py [SHARED_DATA]   (default $ASTROLAB_SHARED_DATA)
"""
import os
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

LOGLAM0, DLOGLAM, NPIX = 2.815, 5e-4, 2280
SKY_AIR = [
    (5577.338, 5), (5889.953, 4), (5895.923, 4), (6300.304, 5), (6363.776, 4),
    (6863.955, 3), (7316.282, 3), (7340.885, 3), (7750.640, 3), (7794.112, 3),
    (7821.503, 3), (7913.708, 3), (7993.332, 3), (8344.602, 3), (8399.170, 3),
    (8430.174, 3), (8827.096, 3), (8885.850, 3), (8943.395, 3), (9375.961, 3),
    (9439.650, 3),
]
SDSS_BAD = sum(1 << b for b in range(16, 29) if b != 23)


def air_to_vac(a):
    s2 = (1e4 / a) ** 2
    return a * (1 + 8.336624212083e-5 + 2.408926869968e-2 / (130.1065924522 - s2)
                + 1.599740894897e-4 / (38.92568793293 - s2))


def preprocess(wave, flux, ivar, mask, z, bad_bits=0xFFFFFFFF):
    wave = np.asarray(wave, float)
    flux = np.asarray(flux, float)
    ivar = np.asarray(ivar, float)
    mask = np.asarray(mask, np.int64)
    good = ((mask & bad_bits) == 0) & np.isfinite(flux) & np.isfinite(ivar) & (ivar > 0)
    for a, h in SKY_AIR:
        c = air_to_vac(a)
        good &= ~((wave >= c - h) & (wave <= c + h))
    k = np.round((np.log10(wave) - np.log10(1 + z) - LOGLAM0) / DLOGLAM)
    good &= (k >= 0) & (k < NPIX)
    k = k[good].astype(int)
    sw = np.bincount(k, ivar[good], NPIX)
    swf = np.bincount(k, ivar[good] * flux[good], NPIX)
    f = np.where(sw > 0, swf / np.where(sw > 0, sw, 1), 0)
    lam = 10 ** (LOGLAM0 + DLOGLAM * np.arange(NPIX))
    ref = (lam / 3000) ** -1.56
    use = (sw > 0) & (lam >= 1215.67)
    r, w = f[use] / ref[use], sw[use] * ref[use] ** 2
    o = np.argsort(r, kind="stable")
    cw = np.cumsum(w[o])
    s = r[o][np.searchsorted(cw, 0.5 * cw[-1])]
    return f / s, sw * s * s, s, int((sw > 0).sum())


def pix(rest):
    return int(round((np.log10(rest) - LOGLAM0) / DLOGLAM))


def mean_flux(f, iv, lo, hi):
    sl = slice(pix(lo), pix(hi) + 1)
    return (iv[sl] * f[sl]).sum() / iv[sl].sum()


def sdss(path):
    with fits.open(path) as h:
        d = h[1].data
        return (10 ** d["loglam"].astype(float), d["flux"], d["ivar"],
                d["and_mask"].astype(np.int64) & 0xFFFFFFFF, float(h[2].data["Z"][0]))


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ASTROLAB_SHARED_DATA", "../shared/data"))
    w, f, iv, m, z = sdss(root / "sdss/spec-0332-52367-0639.fits")
    nf, niv, s, n = preprocess(w, f, iv, m, z, SDSS_BAD)
    print("sdss 0332-52367-0639: n_valid", n, "scale", repr(s))
    print("  H-alpha", repr(mean_flux(nf, niv, 6540, 6590)), "continuum", repr(mean_flux(nf, niv, 6000, 6200)))
    print("  any-bit n_valid", preprocess(w, f, iv, m, z)[3])

    w, f, iv, m, _ = sdss(root / "qso/boss/spec-3655-55240-0110.fits")
    z = 2.393542062409986
    nf, niv, s, n = preprocess(w, f, iv, m, z, SDSS_BAD)
    print("boss 3655-55240-0110: n_valid", n, "scale", repr(s))
    print("  C IV trough", repr(mean_flux(nf, niv, 1530, 1555)), "Si IV trough", repr(mean_flux(nf, niv, 1395, 1415)),
          "1600-1700", repr(mean_flux(nf, niv, 1600, 1700)))

    with fits.open(root / "qso/desi/coadd-1-80693-thru20210204.fits") as h:
        row = list(h["FIBERMAP"].data["TARGETID"]).index(39633559467591522)
        parts = [(h[f"{a}_WAVELENGTH"].data, h[f"{a}_FLUX"].data[row], h[f"{a}_IVAR"].data[row],
                  h[f"{a}_MASK"].data[row].astype(np.int64)) for a in "BRZ"]
    w, f, iv, m = (np.concatenate([p[i] for p in parts]) for i in range(4))
    nf, niv, s, n = preprocess(w, f, iv, m, 2.2250172468615065)
    print("desi 39633559467591522: n_valid", n, "scale", repr(s))
    print("  C IV", repr(mean_flux(nf, niv, 1535, 1565)), "Mg II", repr(mean_flux(nf, niv, 2780, 2820)),
          "2150-2250", repr(mean_flux(nf, niv, 2150, 2250)))

    kept, valid, skipped = 0, 0, 0
    for p in sorted((root / "qso/sdss-lowz/spectra").glob("*.fits")):
        w, f, iv, m, z = sdss(p)
        if not 0.1 <= z <= 4.5:
            skipped += 1
            continue
        kept += 1
        valid += preprocess(w, f, iv, m, z, SDSS_BAD)[3]
    print("sdss-lowz: kept", kept, "skipped", skipped, "valid pixels", valid)


if __name__ == "__main__":
    main()
