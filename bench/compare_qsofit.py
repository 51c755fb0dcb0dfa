#!/usr/bin/env python3
"""Compare `astrolab qso fit` with PyQSOFit (bench/peer_pyqsofit.py) on the
same spectra: per-spectrum fit times and the ratio, and per-object
agreement of the [O III] 5007 core and wing, broad H-beta and L5100.

Used by bench/qsofit_pyqsofit.sh; runs with the peer's python (pandas).

usage:
    compare_qsofit.py OURS.csv PEER.csv [--ours-wall S] [--peer-wall S]

Rows are matched by the file name of FILE (directories dropped, so either
side may write full or relative paths). Ours: FIT_MS (milliseconds of the
fit, reading excluded); a spectrum counts as fitted when FIT_MS is a
number, a STATUS column (if any) is empty or "ok" and a SKIP or
SKIP_REASON column (if any) is empty.
PyQSOFit: SECONDS (its Fit call) and STATUS "ok".

Agreement, over the spectra both fitted with both values finite:
  * velocities (OIII5007_CORE_V, OIII5007_WING_V; km/s): |ours - peer|
    <= 100 km/s;
  * widths (OIII5007_CORE_FWHM, OIII5007_WING_FWHM, HB_BROAD_FWHM; km/s):
    |ours / peer - 1| <= 0.2;
  * LOG_L5100 (dex): |ours - peer| <= 0.1 dex (reported, not asked for).
For each: median |difference| (relative for widths), and how many agree.
Both sides define V = c (ln lambda - ln lambda0) with lambda0 = 5008.24 A
(vacuum) and FWHM = 2 sqrt(2 ln 2) sigma_ln c for one Gaussian; broad
H-beta is the FWHM of the sum of its broad Gaussians (PyQSOFit: spline
roots at half maximum, divided by 4862.68 A).

Exit status 1 when a CSV lacks a needed column or no spectrum is in both.
"""
import argparse
import os
import sys

import numpy as np
import pandas as pd

VEL = ("OIII5007_CORE_V", "OIII5007_WING_V")
WIDTH = ("OIII5007_CORE_FWHM", "OIII5007_WING_FWHM", "HB_BROAD_FWHM")
DEX = ("LOG_L5100",)
VEL_TOL_KMS = 100.0
WIDTH_TOL = 0.2
DEX_TOL = 0.1


def die(msg):
    print(f"compare_qsofit: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path, time_col, side):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    need = ["FILE", time_col, *VEL, *WIDTH, *DEX]
    missing = [c for c in need if c not in df.columns]
    if missing:
        die(f"{path} ({side}): missing columns {', '.join(missing)}")
    df["KEY"] = df["FILE"].map(os.path.basename)
    if df["KEY"].duplicated().any():
        die(f"{path} ({side}): a file name appears twice")
    for c in [time_col, "Z", *VEL, *WIDTH, *DEX]:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    status = df["STATUS"].str.strip() if "STATUS" in df.columns else pd.Series("", index=df.index)
    df["FITTED"] = df[time_col].notna() & status.isin(["", "ok"])
    for c in ("SKIP", "SKIP_REASON"):  # our side's reason for not fitting
        if c in df.columns:
            df["FITTED"] &= df[c].str.strip() == ""
            df["STATUS"] = df[c].str.strip().where(~df["FITTED"], status)
    return df.set_index("KEY")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ours")
    ap.add_argument("peer")
    ap.add_argument("--ours-wall", type=float, help="wall seconds of our whole command")
    ap.add_argument("--peer-wall", type=float, help="wall seconds of the whole peer script")
    a = ap.parse_args()

    ours = load(a.ours, "FIT_MS", "ours")
    peer = load(a.peer, "SECONDS", "PyQSOFit")
    peer["FIT_MS"] = peer["SECONDS"] * 1e3
    keys = [k for k in peer.index if k in ours.index]  # the peer's (sorted) order
    if not keys:
        die("no spectrum in both CSVs")
    only_o = sorted(set(ours.index) - set(peer.index))
    only_p = sorted(set(peer.index) - set(ours.index))
    print(f"== {len(keys)} spectra in both; ours only {len(only_o)}, PyQSOFit only {len(only_p)}")

    for side, df in (("ours", ours), ("PyQSOFit", peer)):
        bad = df.loc[keys][~df.loc[keys, "FITTED"]]
        if len(bad):
            why = {}
            for k, r in bad.iterrows():
                s = (r.get("STATUS") or "").strip() or "no FIT time"
                if side == "PyQSOFit" and (r.get("ERROR") or "").strip():
                    s += ": " + r["ERROR"].strip()[:80]
                why.setdefault(s, []).append(k)
            for s, ks in sorted(why.items()):
                print(f"   not fitted by {side}: {len(ks)} ({s}): {', '.join(ks[:5])}"
                      + (" ..." if len(ks) > 5 else ""))

    both = [k for k in keys if ours.at[k, "FITTED"] and peer.at[k, "FITTED"]]
    print(f"   both fitted: {len(both)}")

    # Speed, per spectrum and overall.
    print(f"\n   {'file':32s} {'z':>7s} {'ours ms':>10s} {'PyQSOFit ms':>12s} {'ratio':>8s}")
    ratios = []
    for k in keys:
        o, p = ours.at[k, "FIT_MS"], peer.at[k, "FIT_MS"]
        z = peer.at[k, "Z"] if "Z" in peer.columns else np.nan
        r = p / o if (np.isfinite(o) and np.isfinite(p) and o > 0) else np.nan
        if k in both and np.isfinite(r):
            ratios.append(r)
        fo = f"{o:10.2f}" if np.isfinite(o) else f"{'-':>10s}"
        fp = f"{p:12.1f}" if np.isfinite(p) else f"{'-':>12s}"
        fr = f"{r:8.1f}" if np.isfinite(r) else f"{'-':>8s}"
        print(f"   {k:32s} {z:7.4f} {fo} {fp} {fr}")
    o_ms = ours.loc[both, "FIT_MS"].to_numpy(float)
    p_ms = peer.loc[both, "FIT_MS"].to_numpy(float)
    if len(both):
        q = lambda v: np.percentile(v, [50, 10, 90])  # noqa: E731
        mo, po, rq = q(o_ms), q(p_ms), q(np.array(ratios)) if ratios else [np.nan] * 3
        print(f"   fit ms per spectrum, median (p10-p90): ours {mo[0]:.2f} ({mo[1]:.2f}-{mo[2]:.2f}), "
              f"PyQSOFit {po[0]:.1f} ({po[1]:.1f}-{po[2]:.1f})")
        print(f"   ratio PyQSOFit/ours per spectrum: median {rq[0]:.1f} (p10 {rq[1]:.1f}, p90 {rq[2]:.1f}); "
              f"sum of fit times: {p_ms.sum() / o_ms.sum():.1f}x "
              f"({o_ms.sum() / 1e3:.3f} s vs {p_ms.sum() / 1e3:.2f} s)")
    if "CPU_SECONDS" in peer.columns and len(both):
        cpu = pd.to_numeric(peer.loc[both, "CPU_SECONDS"], errors="coerce").to_numpy(float) * 1e3
        print(f"   PyQSOFit CPU ms per spectrum (process_time; wall/CPU {np.nansum(p_ms) / np.nansum(cpu):.2f}): "
              f"median {np.nanmedian(cpu):.1f}; ratio to ours by CPU: median "
              f"{np.nanmedian(cpu / o_ms):.1f}, sums {np.nansum(cpu) / o_ms.sum():.1f}x")
    if a.ours_wall and a.peer_wall:
        print(f"   whole commands (one core, reading and start-up included): ours {a.ours_wall:.2f} s, "
              f"PyQSOFit {a.peer_wall:.2f} s, ratio {a.peer_wall / a.ours_wall:.1f}x")

    # PyQSOFit's fits that sit on bounds of its line table (AT_BOUND).
    flags = {}
    if "AT_BOUND" in peer.columns:
        for k in both:
            for f in filter(None, str(peer.at[k, "AT_BOUND"]).split(";")):
                flags.setdefault(f, []).append(k)
        groups = (("broad H-beta Gaussian at sigma max (FWHM 35,300 km/s)", "Hb_br_", "_sigma=max"),
                  ("[O III] wing velocity at +-2998 km/s", "OIII4959w_1_voff", ""),
                  ("[O III] wing sigma at a bound", "OIII4959w_1_sigma", ""),
                  ("narrow (H-beta, [O III] core) velocity at +-2998 km/s", "Hb_na_1_voff", ""),
                  ("narrow sigma at a bound", "Hb_na_1_sigma", ""))
        print("\n   PyQSOFit fits on a bound of its line table (of the both-fitted):")
        for label, pre, post in groups:
            ks = {k for f, v in flags.items() if f.startswith(pre) and f.endswith(post) for k in v}
            print(f"      {label}: {len(ks)}")

    def bound_note(k, c):
        if "AT_BOUND" not in peer.columns:
            return ""
        line = {"OIII5007_CORE": "Hb_na_1", "OIII5007_WING": "OIII4959w_1",
                "HB_BROAD": "Hb_br_"}.get(c.rsplit("_", 1)[0], None)
        if line is None:
            return ""
        f = [x for x in str(peer.at[k, "AT_BOUND"]).split(";") if x.startswith(line)]
        return f" (PyQSOFit on bound: {', '.join(f)})" if f else ""

    # Agreement.
    print("\n   quantity              n   median|diff|   agree")
    for c in (*VEL, *WIDTH, *DEX):
        o = ours.loc[both, c].to_numpy(float)
        p = peer.loc[both, c].to_numpy(float)
        ok = np.isfinite(o) & np.isfinite(p)
        if c in WIDTH:
            ok &= p > 0
        o, p = o[ok], p[ok]
        if c in VEL:
            d = np.abs(o - p)
            agree, med, tol = d <= VEL_TOL_KMS, f"{np.median(d):9.1f} km/s" if len(d) else "", \
                f"<= {VEL_TOL_KMS:.0f} km/s"
        elif c in WIDTH:
            d = np.abs(o / p - 1.0)
            agree, med, tol = d <= WIDTH_TOL, f"{100 * np.median(d):9.1f} %   " if len(d) else "", \
                f"within {100 * WIDTH_TOL:.0f} %"
        else:
            d = np.abs(o - p)
            agree, med, tol = d <= DEX_TOL, f"{np.median(d):9.3f} dex " if len(d) else "", \
                f"<= {DEX_TOL} dex"
        print(f"   {c:20s} {len(d):3d} {med:>15s}   {int(agree.sum())}/{len(d)} {tol}")
        worst = np.argsort(-d)[:5] if len(d) else []
        names = np.array(both)[ok]
        for i in worst:
            if not agree[i]:
                print(f"      {names[i]}: ours {o[i]:.4g}, PyQSOFit {p[i]:.4g}{bound_note(names[i], c)}")


if __name__ == "__main__":
    main()
