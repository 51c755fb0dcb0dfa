#!/usr/bin/env python3
"""The peer of `astrolab ingest` on PostgreSQL: the lab's Python approach
(read the FITS with astropy, TRUNCATE, COPY with psycopg), loading the same
columns into a table of the same shape. Prints rows/s.

usage: peer_copy_loader.py URL FILE.fits
"""
import sys
import time

import numpy as np
import psycopg
from astropy.io import fits

COLS = ["TARGETID", "SURVEY", "PROGRAM", "HEALPIX", "TARGET_RA", "TARGET_DEC", "Z", "ZERR", "ZWARN", "CHI2",
        "SPECTYPE", "SUBTYPE", "DELTACHI2", "COADD_FIBERSTATUS", "DESI_TARGET", "BGS_TARGET", "MWS_TARGET",
        "SCND_TARGET", "ZCAT_PRIMARY", "ZCAT_NSPEC", "TSNR2_BGS"]


def main():
    url, path = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    d = fits.getdata(path, "ZCATALOG")
    arrays = [d[c] for c in COLS]
    arrays = [a.astype(str) if a.dtype.kind in "SU" else a.tolist() for a in arrays]
    arrays = [list(a) if isinstance(a, np.ndarray) else a for a in arrays]
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS peer_zcatalog")
        conn.execute("""CREATE TABLE peer_zcatalog (targetid BIGINT, survey TEXT, program TEXT, healpix BIGINT,
            ra DOUBLE PRECISION, dec DOUBLE PRECISION, z DOUBLE PRECISION, zerr DOUBLE PRECISION, zwarn BIGINT,
            chi2 DOUBLE PRECISION, spectype TEXT, subtype TEXT, deltachi2 DOUBLE PRECISION, coadd_fiberstatus BIGINT,
            desi_target BIGINT, bgs_target BIGINT, mws_target BIGINT, scnd_target BIGINT, zcat_primary BOOLEAN,
            zcat_nspec BIGINT, tsnr2_bgs DOUBLE PRECISION)""")
        conn.execute("TRUNCATE peer_zcatalog")
        with conn.cursor().copy("COPY peer_zcatalog FROM STDIN") as cp:
            for row in zip(*arrays):
                cp.write_row(row)
        conn.execute("CREATE INDEX ON peer_zcatalog (q3c_ang2ipix(ra, dec))")
    dt = time.perf_counter() - t0
    n = len(d)
    print(f"peer python COPY: {n} rows in {dt:.2f} s = {n / dt:,.0f} rows/s (including q3c index build)")


if __name__ == "__main__":
    main()
