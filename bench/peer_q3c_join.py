#!/usr/bin/env python3
"""Peer of `astrolab query xmatch --all-pairs`: loads the target list into
PostgreSQL (not timed), then times q3c_join against the catalog table and
writes the pairs (target id, catalog targetid) as CSV.

usage: peer_q3c_join.py URL TARGETS.fits OUT.csv [RADIUS_ARCSEC] [TABLE]
"""
import sys
import time

import psycopg
from astropy.io import fits

url, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
radius = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
table = sys.argv[5] if len(sys.argv) > 5 else "zcatalog"
d = fits.getdata(path, 1)
with psycopg.connect(url) as conn:
    conn.execute("DROP TABLE IF EXISTS bench_targets")
    conn.execute("CREATE TABLE bench_targets (id BIGINT, ra DOUBLE PRECISION, dec DOUBLE PRECISION)")
    with conn.cursor().copy("COPY bench_targets FROM STDIN") as cp:
        for row in zip(d["ID"].tolist(), d["RA"].tolist(), d["DEC"].tolist()):
            cp.write_row(row)
    conn.execute("CREATE INDEX ON bench_targets (q3c_ang2ipix(ra, dec))")
    conn.execute("ANALYZE bench_targets")
    conn.commit()
    t = time.perf_counter()
    rows = conn.execute(
        f"SELECT t.id, c.targetid FROM bench_targets t, {table} c WHERE q3c_join(t.ra, t.dec, c.ra, c.dec, %s)",
        (radius / 3600.0,),
    ).fetchall()
    dt = time.perf_counter() - t
with open(out, "w") as f:
    f.write("a_id,b_id\n")
    for a, b in rows:
        f.write(f"{a},{b}\n")
print(f"peer=q3c_join pairs={len(rows)} seconds={dt:.3f}")
