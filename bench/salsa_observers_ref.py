#!/usr/bin/env python3
"""The SALSA observers' own reductions, reproduced and completed with numpy/scipy.

The observers reduced each spectrum with the SALSA MATLAB class
SalsaSpectrum (version 2.2, Onsala) by running their Analysis-N/spectrum_*.m:

    spec = SalsaSpectrum('Observe-1/spectrum_11007.fits')
    spec.fitBaseline([v1 v2 v3 v4 ...],'vel',order)   % polyfit over pixel index
    spec.subtractBaseline()
    spec.fitGaussians()                                % automatic peak guesses
    spec.fitGaussians([amp v sigma ...],'dummy')       % ADDS these to the fit
    spec.gaussParVel(2:3:end)                          % -> OUT.txt (l, b, velocities)

So the observers' final components are the automatic ones plus the added
ones, refitted together (at most five), and OUT.txt holds their final
velocities; the .m file alone does not say which component is strongest.

This script, for every .m file with an OUT.txt row at the same (l, b):
  1. builds the class's velocity axis: f = CRVAL1 + (i - CRPIX1 - 2) CDELT1
     (i = 1..N), v = -(f - CRVAL1)/CRVAL1 c - VELO-LSR: the class takes CRVAL1
     (1420.4 MHz here) as the rest frequency and CRPIX1 + 2 as the reference
     pixel, so its velocities sit 0.85 km/s above a standard FITS reading with
     the HI rest frequency (which astrolab uses);
  2. reproduces the .m procedure (baseline in pixel index; findpeaks on the
     3-channel smoothed, 3x decimated spectrum with height 8 K, distance
     ceil(10 km/s / dv), threshold 0.3; sigma guesses 7 pixels; bounded
     least squares amp >= 0, sigma >= 0 over all channels, as lsqcurvefit),
     and records whether it gives OUT.txt's velocities (all within 0.1 km/s);
  3. recovers the observers' amplitudes by fitting amplitude and width of
     Gaussians held at OUT.txt's centres (their baseline), and so their
     strongest component: its centre as a (1-based) pixel, which a test maps
     onto any velocity axis; and their whole final fit (amplitude K / centre
     pixel / sigma in pixels for each component), so that a test can apply
     its own definition of the strongest component to their fit as to ours.

usage: python3 bench/salsa_observers_ref.py [SHARED_DATA] > crates/astrolab-hline/tests/fixtures/salsa_observers.csv
"""
import glob
import os
import re
import sys

import numpy as np
from astropy.io import fits
from scipy.optimize import least_squares

C = 2.99792458e8


def class_axis(h, n):
    i = np.arange(1, n + 1)
    f = h["CRVAL1"] + (i - (h["CRPIX1"] + 2)) * h["CDELT1"]
    return -(f - h["CRVAL1"]) / h["CRVAL1"] * C / 1000.0 - h["VELO-LSR"]


def vel_to_pix(vel, v):
    """MATLAB interp1(vel, index, v); NaN outside."""
    idx = np.arange(1, len(vel) + 1, dtype=float)
    o = np.argsort(vel)
    return np.interp(v, vel[o], idx[o], left=np.nan, right=np.nan)


def smooth_span3(y):
    """MATLAB smooth(y, 4): an even span drops to 3; spans shrink at the ends."""
    out = np.empty(len(y))
    for i in range(len(y)):
        h = min(1, i, len(y) - 1 - i)
        out[i] = y[i - h : i + h + 1].mean()
    return out


def findpeaks(y, min_height, min_distance, threshold):
    """MATLAB findpeaks with MinPeakHeight, MinPeakDistance, Threshold; 1-based."""
    pk = [
        i
        for i in range(1, len(y) - 1)
        if y[i] - y[i - 1] >= threshold and y[i] - y[i + 1] >= threshold and y[i] >= min_height
    ]
    keep = []
    for i in sorted(pk, key=lambda i: -y[i]):
        if all(abs(i - j) >= min_distance for j in keep):
            keep.append(i)
    keep.sort()
    return [y[i] for i in keep], [i + 1 for i in keep]


def model(p, x):
    m = np.zeros_like(x, dtype=float)
    for k in range(0, len(p), 3):
        m += p[k] * np.exp(-0.5 * (x - p[k + 1]) ** 2 / p[k + 2] ** 2)
    return m


def fit(guess, x, y):
    g = np.array(guess[:15], dtype=float)
    n = len(g) // 3
    lb = np.array([0.0, -np.inf, 0.0] * n)
    g = np.maximum(g, lb + 1e-9)
    return least_squares(lambda p: model(p, x) - y, g, bounds=(lb, np.inf), method="trf").x


def main():
    root = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "../shared/data", "hline/salsa")
    print("# file,n_components,their_velocities,strongest_pixel,strongest_v_class,reproduced,their_components")
    print("# written by bench/salsa_observers_ref.py (numpy/scipy); velocities on the SALSA class axis")
    for s in range(1, 7):
        d = f"{root}/Analysis-{s}"
        out = [list(map(float, l.split())) for l in open(f"{d}/OUT.txt") if l.strip()]
        for m in sorted(glob.glob(f"{d}/*.m")):
            t = open(m).read()
            fn = re.search(r"SalsaSpectrum\('([^']+)'", t)
            bl = re.search(r"fitBaseline\(\[([^\]]*)\],'vel',(\d+)", t)
            if not fn or not bl or not os.path.exists(f"{root}/{fn.group(1)}"):
                continue
            h = fits.getheader(f"{root}/{fn.group(1)}")
            y = fits.getdata(f"{root}/{fn.group(1)}").astype(float).ravel()
            n = len(y)
            idx = np.arange(1, n + 1, dtype=float)
            vel = class_axis(h, n)
            rows = [r for r in out if abs(r[0] - h["CRVAL2"]) < 0.01 and abs(r[1] - h["CRVAL3"]) < 0.01]
            if not rows:
                continue
            theirs = rows[0][2:]
            # Baseline exactly as fitBaseline: windows to rounded pixels, polyfit over index.
            ind = np.sort(np.round(vel_to_pix(vel, np.array(list(map(float, bl.group(1).split()))))).astype(int))
            win = np.concatenate([np.arange(ind[k], ind[k + 1] + 1) for k in range(0, len(ind), 2)])
            y = y - np.polyval(np.polyfit(idx[win - 1], y[win - 1], int(bl.group(2))), idx)
            # 1. The .m procedure.
            sub = np.arange(1, n + 1, 3)
            ds = smooth_span3(y)[sub - 1]
            dist = max(2, int(np.ceil(abs(10.0 / np.diff(np.interp(sub, idx, vel))[0]))))
            hp, ip = findpeaks(ds, 8.0, dist, 0.3)
            par = fit(sum(([a, 3 * i, 7.0] for a, i in zip(hp, ip)), []), idx, y) if hp else None
            for dd in re.findall(r"fitGaussians\(\[([^\]]*)\],'dummy'\)", t):
                g = list(map(float, dd.split()))
                pc = vel_to_pix(vel, np.array(g[1::3]))
                ps = np.abs(np.array(g[2::3]) / np.min(np.abs(np.diff(vel))))
                add = sum(([g[3 * k], pc[k], ps[k]] for k in range(len(pc))), [])
                par = fit((list(par) if par is not None else []) + add, idx, y)
            reproduced = False
            if par is not None:
                ours = np.interp(par[1::3], idx, vel)
                reproduced = len(ours) == len(theirs) and np.allclose(sorted(ours), sorted(theirs), atol=0.1)
            # 2. Their amplitudes at their centres.
            tc = vel_to_pix(vel, np.array(theirs))
            if not np.all(np.isfinite(tc)):
                continue
            k = len(tc)

            def resid(q):
                return model(sum(([q[2 * j], tc[j], q[2 * j + 1]] for j in range(k)), []), idx) - y

            q0 = sum(([max(1e-3, float(np.interp(tc[j], idx, y))), 5.0] for j in range(k)), [])
            q = least_squares(resid, q0, bounds=([0.0, 0.3] * k, np.inf)).x
            j = int(np.argmax(q[0::2]))
            vs = " ".join(f"{v:.2f}" for v in theirs)
            comps = " ".join(f"{q[2 * i]:.3f}/{tc[i]:.4f}/{q[2 * i + 1]:.4f}" for i in range(k))
            print(f"{fn.group(1)},{k},{vs},{tc[j]:.4f},{theirs[j]:.2f},{int(reproduced)},{comps}")


if __name__ == "__main__":
    main()
