#!/usr/bin/env python3
"""Writes a zcatalog-like FITS file (HDU ZCATALOG, DESI zcatalog v1 column
names and dtypes) with N rows for benchmarks: positions uniform over the
DESI-like sky (Dec > -25), seeded. Also writes a crossmatch partner file of M
rows: a random subset of the catalog moved by up to 0.7 arcsec plus as many
again at random positions.

usage: make_zcatalog.py --rows 5000000 --out zcat.fits [--xmatch 500000 --xmatch-out a.fits] [--seed 1]
"""
import argparse

import numpy as np
from astropy.io import fits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--xmatch", type=int, default=0)
    ap.add_argument("--xmatch-out")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n = a.rows
    ra = rng.uniform(0, 360, n)
    smin = np.sin(np.radians(-25.0))
    dec = np.degrees(np.arcsin(rng.uniform(smin, 1.0, n)))
    tid = 39627000000000000 + np.arange(n, dtype=np.int64)
    spectype = rng.choice(np.array(["GALAXY", "QSO", "STAR"]), n, p=[0.8, 0.12, 0.08])
    cols = [
        fits.Column("TARGETID", "K", array=tid),
        fits.Column("SURVEY", "7A", array=np.full(n, "main")),
        fits.Column("PROGRAM", "6A", array=np.full(n, "dark")),
        fits.Column("HEALPIX", "J", array=rng.integers(0, 49152, n).astype(np.int32)),
        fits.Column("TARGET_RA", "D", array=ra),
        fits.Column("TARGET_DEC", "D", array=dec),
        fits.Column("Z", "D", array=rng.gamma(2.0, 0.4, n)),
        fits.Column("ZERR", "D", array=rng.uniform(1e-5, 1e-3, n)),
        fits.Column("ZWARN", "K", array=np.where(rng.uniform(size=n) < 0.05, 4, 0).astype(np.int64)),
        fits.Column("CHI2", "D", array=rng.uniform(7000, 9000, n)),
        fits.Column("SPECTYPE", "6A", array=spectype),
        fits.Column("SUBTYPE", "20A", array=np.full(n, "")),
        fits.Column("DELTACHI2", "D", array=rng.exponential(500, n)),
        fits.Column("COADD_FIBERSTATUS", "J", array=np.zeros(n, np.int32)),
        fits.Column("DESI_TARGET", "K", array=rng.integers(0, 2**40, n)),
        fits.Column("BGS_TARGET", "K", array=rng.integers(0, 8, n)),
        fits.Column("MWS_TARGET", "K", array=np.zeros(n, np.int64)),
        fits.Column("SCND_TARGET", "K", array=np.zeros(n, np.int64)),
        fits.Column("ZCAT_PRIMARY", "L", array=rng.uniform(size=n) < 0.95),
        fits.Column("ZCAT_NSPEC", "I", array=np.ones(n, np.int16)),
        fits.Column("TSNR2_BGS", "E", array=rng.uniform(0, 3000, n).astype(np.float32)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="ZCATALOG")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(a.out, overwrite=True)
    if a.xmatch:
        m = a.xmatch
        half = m // 2
        pick = rng.choice(n, half, replace=False)
        off = np.radians(rng.uniform(0, 0.7, half) / 3600.0)
        ang = rng.uniform(0, 2 * np.pi, half)
        d2 = dec[pick] + np.degrees(off) * np.sin(ang)
        r2 = (ra[pick] + np.degrees(off) * np.cos(ang) / np.cos(np.radians(dec[pick]))) % 360.0
        rr = rng.uniform(0, 360, m - half)
        dd = np.degrees(np.arcsin(rng.uniform(smin, 1.0, m - half)))
        xra = np.concatenate([r2, rr])
        xdec = np.clip(np.concatenate([d2, dd]), -90, 90)
        cols = [
            fits.Column("ID", "K", array=np.arange(m, dtype=np.int64)),
            fits.Column("RA", "D", array=xra),
            fits.Column("DEC", "D", array=xdec),
        ]
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="TARGETS")]).writeto(a.xmatch_out, overwrite=True)


if __name__ == "__main__":
    main()
