#!/usr/bin/env python3
"""Peer of cone_bench: q3c_radial_query over the same centres on the same
PostgreSQL table, fetching the same columns, timed per query in-process
(psycopg). Prints p50/p99 in ms.

usage: peer_q3c_cone.py URL CENTRES_FILE [RADIUS_DEG] [TABLE]
"""
import sys
import time

import numpy as np
import psycopg

url, path = sys.argv[1], sys.argv[2]
radius = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
table = sys.argv[4] if len(sys.argv) > 4 else "zcatalog"
centres = [tuple(map(float, l.split())) for l in open(path) if l.strip()]
with psycopg.connect(url) as conn:
    cur = conn.cursor()
    sql = f"SELECT * FROM {table} WHERE q3c_radial_query(ra, dec, %s, %s, %s)"
    cur.execute(sql, (centres[0][0], centres[0][1], radius)).fetchall()
    ms, rows = [], 0
    for ra, dec in centres:
        t = time.perf_counter()
        rows += len(cur.execute(sql, (ra, dec, radius)).fetchall())
        ms.append((time.perf_counter() - t) * 1e3)
ms = np.array(ms)
print(f"peer=q3c_radial_query queries={len(ms)} p50_ms={np.percentile(ms, 50):.3f} p99_ms={np.percentile(ms, 99):.3f} mean_rows={rows/len(ms):.1f}")
