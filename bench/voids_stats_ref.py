#!/usr/bin/env python3
"""Reference numbers for astrolab's two-sample statistics, from scipy.

Writes crates/astrolab-voids/tests/data/stats_scipy_ref.json: for each case
the recipe of its samples and scipy's results for

  scipy.stats.ks_2samp(a, b)                       (method='auto')
  scipy.stats.anderson_ksamp(samples, midrank=True)

The samples are generated from a 64-bit LCG with only +, *, / and sqrt
(correctly rounded in IEEE 754), so Rust regenerates them bit for bit;
tests/stats_scipy.rs compares astrolab's numbers with these.

Usage: python3 bench/voids_stats_ref.py [OUT.json]
"""
import json
import math
import sys
import warnings

import numpy as np
import scipy
from scipy import stats

MASK = (1 << 64) - 1


def lcg_uniforms(seed, n):
    s = (seed * 0x9E3779B97F4A7C15 + 1) & MASK
    out = []
    for _ in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) & MASK
        out.append((s >> 32) / 4294967296.0)
    return out


def sample(n, seed, kind, shift, scale):
    u = lcg_uniforms(seed, 2 * n)
    if kind == "uniform":
        v = [u[i] * scale + shift for i in range(n)]
    elif kind == "tri":
        v = [(u[i] + u[n + i]) * scale + shift for i in range(n)]
    elif kind == "sqrt":
        v = [math.sqrt(u[i]) * scale + shift for i in range(n)]
    elif kind == "ties":
        v = [float(int(u[i] * 10.0)) / 10.0 * scale + shift for i in range(n)]
    else:
        raise ValueError(kind)
    return np.array(v)


CASES = [
    ("exact_small", [(20, 1, "uniform", 0.0, 1.0), (30, 2, "uniform", 0.2, 1.0)]),
    ("exact_equal_n", [(50, 3, "tri", 0.0, 1.0), (50, 4, "tri", 0.1, 1.0)]),
    ("exact_ties", [(200, 5, "ties", 0.0, 1.0), (150, 6, "ties", 0.0, 1.0)]),
    ("exact_medium", [(3000, 7, "sqrt", 0.0, 1.0), (5000, 8, "tri", 0.0, 0.5)]),
    ("exact_null", [(4000, 9, "uniform", 0.0, 1.0), (2500, 10, "uniform", 0.0, 1.0)]),
    ("asymp_shift", [(12000, 11, "tri", 0.0, 1.0), (9000, 12, "tri", 0.02, 1.0)]),
    ("asymp_null", [(20000, 13, "uniform", 0.0, 1.0), (15000, 14, "uniform", 0.0, 1.0)]),
    ("asymp_unbalanced", [(15000, 15, "uniform", 0.0, 1.0), (300, 16, "uniform", 0.05, 1.0)]),
    ("ad_three", [(400, 17, "tri", 0.0, 1.0), (500, 18, "tri", 0.03, 1.0), (300, 19, "tri", 0.0, 1.0)]),
    ("ad_capped_low", [(1000, 20, "uniform", 0.0, 1.0), (1000, 21, "uniform", 0.0, 1.0)]),
    ("ad_capped_high", [(1000, 22, "uniform", 0.0, 1.0), (1000, 23, "uniform", 0.3, 1.0)]),
]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "crates/astrolab-voids/tests/data/stats_scipy_ref.json"
    cases = []
    for name, specs in CASES:
        samples = [sample(*s) for s in specs]
        case = {
            "name": name,
            "samples": [dict(n=s[0], seed=s[1], kind=s[2], shift=s[3], scale=s[4]) for s in specs],
        }
        if len(samples) == 2:
            ks = stats.ks_2samp(samples[0], samples[1])
            n1, n2 = len(samples[0]), len(samples[1])
            case["ks"] = {
                "statistic": float(ks.statistic),
                "pvalue": float(ks.pvalue),
                "method": "exact" if max(n1, n2) <= 10000 else "asymp",
            }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ad = stats.anderson_ksamp(samples, midrank=True)
        case["ad"] = {
            "statistic": float(ad.statistic),
            "pvalue": float(ad.pvalue),
            "critical_values": [float(c) for c in ad.critical_values],
        }
        cases.append(case)
    doc = {
        "generator": "bench/voids_stats_ref.py",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {out_path}: {len(cases)} cases (scipy {scipy.__version__})")


if __name__ == "__main__":
    main()
