#!/usr/bin/env python3
"""Run VAST's VoidFinder (github.com/DESI-UR/VAST) on a galaxy catalog with
the settings `astrolab voids find` uses, and print its timing and figures.

Used by bench/voidfinder.sh. VAST must be installed (pip install of a local
checkout); this script only calls it.

    python3 bench/peer_vast.py CATALOG.fits --omega-m 0.26 --threads 2 --out DIR
"""
import argparse
import os
import time

import numpy as np
from astropy.io import fits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("catalog")
    ap.add_argument("--omega-m", type=float, default=0.26)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="vast-out")
    a = ap.parse_args()

    from vast.voidfinder import find_voids, filter_galaxies
    import vast.voidfinder.multizmask as multizmask
    from vast.voidfinder.multizmask import generate_mask

    # VAST 1.x calls int() on a one-element array in generate_mask, which
    # NumPy 2 refuses; hand it the scalar it means.
    _dist = multizmask.z_to_comoving_dist
    multizmask.z_to_comoving_dist = lambda z, om, h: float(np.asarray(_dist(z, om, h)).ravel()[0])
    from vast.voidfinder.preprocessing import file_preprocess

    os.makedirs(a.out, exist_ok=True)
    out_dir = a.out.rstrip("/") + "/"
    in_dir, name = os.path.split(os.path.abspath(a.catalog))
    cols = [c.name for c in fits.open(a.catalog)[1].columns]
    zname = "z" if "z" in cols else "redshift"
    t0 = time.time()
    # VAST's defaults for the redshift range: the galaxies' own.
    table, dist_limits = file_preprocess(
        name, "bench_", in_dir + "/", out_dir, mag_cut=False,
        dist_metric="comoving", Omega_M=a.omega_m, redshift_name=zname)
    mask, res = generate_mask(table, float(np.max(table["redshift"])), "bench_", out_dir,
                              dist_metric="comoving", smooth_mask=True, Omega_M=a.omega_m)
    wall, field = filter_galaxies(table, "bench_", out_dir, mag_cut=False,
                                  dist_limits=dist_limits, dist_metric="comoving")
    origin = np.min(np.concatenate([wall, field]), axis=0)
    maximals, holes = find_voids(wall, "bench_", out_dir, mask_type="ra_dec_z", mask=mask,
                                 mask_resolution=res, dist_limits=dist_limits,
                                 grid_origin=origin, num_cpus=a.threads)
    dt = time.time() - t0
    r = np.sort(np.asarray(maximals["radius"]))
    print(f"VAST_SECONDS {dt:.3f}")
    print(f"VAST_FIGURES wall={len(wall)} field={len(field)} voids={len(maximals)} "
          f"holes={len(holes)} radius_min={r[0]:.2f} radius_median={r[len(r)//2]:.2f} "
          f"radius_max={r[-1]:.2f}")


if __name__ == "__main__":
    main()
