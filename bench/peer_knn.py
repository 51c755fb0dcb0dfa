"""Peer of `knn_query` (issue 17's similarity benchmark): NumPy brute force
k nearest neighbours on the same table and the same query rows.

usage: python3 bench/peer_knn.py TABLE.f32 N DIM K
Reads the raw f32 table and TABLE.f32.queries written by the example;
prints `numpy knn ... ms/query p50=... p95=... mean=... first-neighbour-sum=...`
(the checksum equals ours when both find the same nearest rows).
"""
import sys
import time

import numpy as np

path, n, dim, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
x = np.fromfile(path, dtype="<f4").reshape(n, dim)
rows = [int(r) for r in open(path + ".queries").read().split()]
ms, checksum = [], 0
for r in rows:
    q = x[r]
    t = time.perf_counter()
    d2 = np.einsum("ij,ij->i", x - q, x - q)
    d2[r] = np.inf  # the query's own row is not its neighbour
    idx = np.argpartition(d2, k)[:k]
    idx = idx[np.lexsort((idx, d2[idx]))]
    ms.append((time.perf_counter() - t) * 1e3)
    checksum += int(idx[0])
ms.sort()
p = lambda f: ms[round((len(ms) - 1) * f)]
print(f"numpy knn n={n} dim={dim} k={k} ms/query p50={p(0.5):.3f} p95={p(0.95):.3f} "
      f"mean={sum(ms) / len(ms):.3f} first-neighbour-sum={checksum}")
