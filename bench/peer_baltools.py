#!/usr/bin/env python3
"""Run DESI's BAL finder baltools (github.com/paulmartini/baltools, BSD-3;
Guo & Martini 2019 PCA continuum; the finder of DESI's BAL catalog,
Filbert et al. 2024) on the spectra `astrolab outflows bal` measures, and
write its BAL indices as a CSV with the column names of our command.

Used by bench/bal_baltools.sh. This script only calls baltools; it is not
part of it and ships none of it. Install baltools yourself, outside this
repository, for example (what the benchmark was run with: baltools commit
d47c815, numpy 2.4.6, scipy 1.17.1, astropy 8.0.2, fitsio 1.4.2,
matplotlib 3.11.2, Python 3.11):

    git clone https://github.com/paulmartini/baltools /work/peers/baltools
    python3 -m venv /work/peers/baltools-venv
    /work/peers/baltools-venv/bin/pip install numpy scipy astropy fitsio matplotlib
    export BALTOOLS_DIR=/work/peers/baltools          # its py/ holds the package
    export BALTOOLS_PYTHON=/work/peers/baltools-venv/bin/python

(fitbal imports balconfig, which imports astropy and fitsio, and
matplotlib.pyplot; desibal needs desispec, which is not on PyPI, so this
script imports only `baltools.fitbal` and does desibal's reading itself.)

usage:
    $BALTOOLS_PYTHON bench/peer_baltools.py --pca PCA_Eigenvectors.fits \
        [--z Z] --output out.csv FILE_OR_DIR... [--redshifts TABLE...]
(--redshifts takes every name after it up to the next option, so put it
last or end its list with --; it may be repeated.)

What it does, following DESI's catalog (`baltools.desibal.desibalfinder`,
as bin/runbalfinder_hp.py calls it):
  * Inputs: SDSS/BOSS `spec-*.fits` (HDU 1: FLUX, LOGLAM, IVAR, AND_MASK;
    HDU 2 SPECOBJ: Z) and DESI `coadd-*.fits` (every FIBERMAP row). A
    directory stands for its spec-*.fits and coadd-*.fits files,
    recursively, sorted by path.
  * Redshift: --z for every spectrum; else the SDSS file's SPECOBJ Z; a
    DESI row takes Z from the first --redshifts table naming its TARGETID
    (a table is the first binary table of the file with TARGETID and Z
    columns: DESI's QSO_cat_*.fits.gz, redrock files). No redshift:
    skipped, `no_redshift`. SPECTYPE is not looked at (desibal keeps
    SPECTYPE == 'QSO' rows of its redrock file; a quasar catalog is all
    quasars).
  * Skips, each a row with SKIP_REASON and no numbers:
    `redshift_out_of_range` (outside baltools' BAL_ZMIN <= z <= BAL_ZMAX,
    1.57-5.0, desibal's cut), `civ_not_covered` (the spectrum's rest
    wavelengths do not span the whole C IV search window, -25,000 to 0 km/s
    from 1549 A, as our command requires; baltools itself only raises when
    1549 A is outside the spectrum), `baltools_error` (calcbalparams raised;
    the message goes to stderr).
  * DESI arms are merged as desibal does it: desispec.io.read_spectra
    (float64 arrays) then desispec.coaddition.coadd_cameras as of desispec
    0.60 (DESI DR1, the release of Filbert et al. 2024), reimplemented here
    because desispec is not on PyPI: the B, R, Z wavelengths concatenated
    (each arm's pixels redder than the previous arm's last by > 1e-4 A),
    flux the inverse-variance weighted mean over the arms covering a pixel
    with weights ivar * (MASK == 0), ivar their sum; flux 0 where that is 0.
    An arm whose COADD_FIBERSTATUS (or FIBERSTATUS) has a bit of desispec's
    get_all_fiberbitmask_with_amp(arm) set is left out of that row
    (use_for_coadd); a FIBERMAP without those columns leaves every arm in.
    (desispec >= 0.69 rewrote coadd_cameras and ignores MASK; in DESI coadd
    files MASK != 0 pixels already have ivar 0, so the two agree there.)
  * SDSS/BOSS spectra go through the same DESI path, not baltools' SDSS
    path (a `loglam` field makes calcbalparams compare the PCA fit with the
    pipeline MODEL and use the model instead when its chi2 is better):
    wave = 10**LOGLAM, FLUX, IVAR * (AND_MASK == 0), the same masking rule
    coadd_cameras applies to DESI's MASK (--ignore-and-mask keeps IVAR as
    it is: on spec-3655-55240-0110 at z = 2.394, 146 pixels have AND_MASK
    set and ivar > 0, and AI_CIV is 2028.99 +- 28.24 masked, 2029.60 +-
    28.27 unmasked, the same single trough).
  * The fit: the spectrum as desibal builds it, a structured array with
    big-endian float64 fields wave, flux, ivar and model (zeros), and
    `fitbal.calcbalparams(qsospec, pcaeigen, z, verbose=False)` with
    pcaeigen = fitsio.read(--pca) and calcbalparams' default maxiter=10
    (Nelder-Mead PCA fit from all-ones coefficients, AI troughs masked and
    refitted until the mask stops changing), exactly desibal's call.
  * Output columns: NAME (file stem for SDSS, STEM:TARGETID for DESI),
    TARGETID (empty for SDSS), Z, SKIP_REASON, then baltools' info
    (ERR_* = its *_ERR; arrays flattened with _k suffixes), PCA_CHI2
    (calcpcaout[-2], the reduced chi2 the catalog stores), SNR_CIV, and
    SECONDS, the wall time of the calcbalparams call (fit and indices; no
    file reading or arm merging). Floats are written with repr.
  * baltools' balconfig reads $HOME and, at import, catdir +
    'PCA_Eigenvectors.fits' (catdir 'Catalogs/' relative to the working
    directory off NERSC), and calls os.getlogin(), which raises without a
    terminal: the import runs in a temporary directory holding
    Catalogs/PCA_Eigenvectors.fits -> --pca, with HOME pointing there and
    os.getlogin falling back to getpass.getuser(); all three are restored
    after the import. baltools' own code is not changed.
"""
import argparse
import contextlib
import csv
import getpass
import glob
import os
import sys
import tempfile
import time

import numpy as np

# baltools' trough slots per line (balconfig.NBI, NAI; checked at import).
NBI = 5
NAI = 17

COLUMNS = (
    ["NAME", "TARGETID", "Z", "SKIP_REASON",
     "BI_CIV", "ERR_BI_CIV", "NCIV_2000", "AI_CIV", "ERR_AI_CIV", "NCIV_450",
     "BI_SIIV", "ERR_BI_SIIV", "NSIIV_2000", "AI_SIIV", "ERR_AI_SIIV", "NSIIV_450"]
    + [f"VMIN_CIV_2000_{k}" for k in range(NBI)]
    + [f"VMAX_CIV_2000_{k}" for k in range(NBI)]
    + [f"VMIN_CIV_450_{k}" for k in range(NAI)]
    + [f"VMAX_CIV_450_{k}" for k in range(NAI)]
    + ["PCA_CHI2", "SNR_CIV", "SECONDS"]
)

# desispec.maskbits fibermask bits (desispec 0.60): BROKENFIBER 2,
# MISSINGPOSITION 8, BADPOSITION 9, BADFIBER 16, BADTRACE 17, BADFLAT 18,
# BADARC 19, MANYBADCOL 20, MANYREJECTED 21 (get_all_nonamp_fiberbitmask_val)
# and BADAMPB 22 / BADAMPR 23 / BADAMPZ 24 for the arm.
_NONAMP_BITS = sum(1 << b for b in (2, 8, 9, 16, 17, 18, 19, 20, 21))
_AMP_BIT = {"B": 1 << 22, "R": 1 << 23, "Z": 1 << 24}


def die(msg):
    print(f"peer_baltools: {msg}", file=sys.stderr)
    sys.exit(2)


def import_fitbal(pca_path):
    """Import baltools.fitbal from $BALTOOLS_DIR/py (see the module doc for
    what balconfig needs at import)."""
    root = os.environ.get("BALTOOLS_DIR")
    if not root:
        die("BALTOOLS_DIR is not set: point it at a baltools checkout "
            "(the directory whose py/ holds the baltools package; see this "
            "script's header for the install commands)")
    pkg = os.path.join(root, "py")
    if not os.path.isfile(os.path.join(pkg, "baltools", "fitbal.py")):
        die(f"BALTOOLS_DIR={root}: no py/baltools/fitbal.py there")
    if not os.path.isfile(pca_path):
        die(f"--pca {pca_path}: no such file")
    sys.path.insert(0, pkg)
    # fitbal imports pyplot; import it first, under the real HOME, so that
    # matplotlib keeps its font cache where it always does.
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot  # noqa: F401
    cwd, home, getlogin = os.getcwd(), os.environ.get("HOME"), os.getlogin
    with tempfile.TemporaryDirectory(prefix="baltools-home-") as tmp:
        os.makedirs(os.path.join(tmp, "Catalogs"))
        os.symlink(os.path.abspath(pca_path),
                   os.path.join(tmp, "Catalogs", "PCA_Eigenvectors.fits"))

        def _getlogin():
            try:
                return getlogin()
            except OSError:
                return getpass.getuser()

        try:
            os.chdir(tmp)
            os.environ["HOME"] = tmp
            os.getlogin = _getlogin
            from baltools import balconfig, fitbal
        finally:
            os.getlogin = getlogin
            if home is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = home
            os.chdir(cwd)
    assert balconfig.NBI == NBI and balconfig.NAI == NAI
    return fitbal, balconfig


def expand(paths):
    """Files in order: a directory's spec-*.fits and coadd-*.fits,
    recursively, sorted by path; a file as given."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            found = [f for f in glob.glob(os.path.join(p, "**", "*.fits"), recursive=True)
                     if os.path.basename(f).startswith(("spec-", "coadd-"))]
            out.extend(sorted(found))
        elif os.path.isfile(p):
            if not os.path.basename(p).startswith(("spec-", "coadd-")):
                die(f"{p}: not a spec-*.fits or coadd-*.fits file")
            out.append(p)
        else:
            die(f"{p}: no such file or directory")
    return out


def stem(path):
    b = os.path.basename(path)
    for ext in (".fits.gz", ".fits"):
        if b.endswith(ext):
            return b[: -len(ext)]
    return b


def read_redshifts(paths, fitsio):
    """TARGETID -> Z, the first table naming a TARGETID winning."""
    z = {}
    for p in paths:
        with fitsio.FITS(p) as f:
            for hdu in f:
                if hdu.get_exttype() != "BINARY_TBL":
                    continue
                names = {c.upper(): c for c in hdu.get_colnames()}
                if "TARGETID" in names and "Z" in names:
                    t = hdu.read(columns=[names["TARGETID"], names["Z"]])
                    for tid, zz in zip(t[names["TARGETID"]], t[names["Z"]]):
                        z.setdefault(int(tid), float(zz))
                    break
            else:
                die(f"{p}: no binary table with TARGETID and Z columns")
    return z


def col(table, name):
    for c in table.dtype.names:
        if c.upper() == name:
            return table[c]
    raise KeyError(name)


def read_sdss(path, fitsio, use_and_mask=True):
    with fitsio.FITS(path) as f:
        t = f[1].read()
        z = float(col(f[2].read(), "Z")[0])
    wave = 10.0 ** col(t, "LOGLAM").astype(np.float64)
    flux = col(t, "FLUX").astype(np.float64)
    ivar = col(t, "IVAR").astype(np.float64)
    if use_and_mask:
        ivar = ivar * (col(t, "AND_MASK") == 0)
    return wave, flux, ivar, z


def read_coadd(path, fitsio):
    """(TARGETIDs, wave, flux[nrow, nwave], ivar[nrow, nwave]): desispec
    0.60 read_spectra + coadd_cameras (see the module doc)."""
    with fitsio.FITS(path) as f:
        fm = f["FIBERMAP"].read()
        arms = []
        for b in "BRZ":
            if f"{b}_WAVELENGTH" not in f:
                continue
            arms.append((b,
                         f[f"{b}_WAVELENGTH"].read().astype(np.float64),
                         f[f"{b}_FLUX"].read().astype(np.float64),
                         f[f"{b}_IVAR"].read().astype(np.float64),
                         f[f"{b}_MASK"].read() if f"{b}_MASK" in f else None))
    if not arms:
        raise ValueError(f"{path}: no B/R/Z arms")
    names = {c.upper(): c for c in fm.dtype.names}
    tids = fm[names["TARGETID"]].astype(np.int64)
    status = None
    for c in ("FIBERSTATUS", "COADD_FIBERSTATUS"):
        if c in names:
            status = fm[names[c]].astype(np.int64)
            break
    tol = 1e-4
    arms.sort(key=lambda a: np.mean(a[1]))
    wave = None
    for _, w, _, _, _ in arms:
        wave = w if wave is None else np.append(wave, w[w > wave[-1] + tol])
    nrow = len(tids)
    flux = np.zeros((nrow, wave.size))
    ivar = np.zeros((nrow, wave.size))
    for b, w, fl, iv, m in arms:
        imin = int(np.argmin(np.abs(w[0] - wave)))
        idx = np.arange(imin, imin + len(w))
        if idx[-1] >= wave.size or np.any(np.abs(w - wave[idx]) > tol):
            raise ValueError(f"{path}: arm {b} is not on the merged wavelength grid")
        good = np.ones(nrow, dtype=bool)
        if status is not None:
            good = (status & (_NONAMP_BITS | _AMP_BIT[b])) == 0
        ivm = iv * (m == 0) if m is not None else iv
        ivar[np.ix_(good, idx)] += ivm[good]
        flux[np.ix_(good, idx)] += ivm[good] * fl[good]
    ok = ivar > 0
    flux[ok] /= ivar[ok]
    return tids, wave, flux, ivar


def civ_covered(wave, z, bc):
    rest = wave / (1.0 + z)
    lo = bc.lambdaCIV * (1.0 + bc.VMIN_BAL / bc.c)
    return rest[0] <= lo and rest[-1] >= bc.lambdaCIV


def fmt(x):
    return repr(float(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pca", required=True, help="baltools' PCA_Eigenvectors.fits")
    ap.add_argument("--z", type=float, help="redshift for every spectrum")
    ap.add_argument("--redshifts", nargs="+", action="extend", default=[], metavar="TABLE",
                    help="tables with TARGETID and Z for DESI rows (first naming a TARGETID wins)")
    ap.add_argument("--ignore-and-mask", action="store_true",
                    help="SDSS/BOSS: keep IVAR where AND_MASK != 0 (default: ivar 0 there)")
    ap.add_argument("--output", required=True, help="output CSV")
    ap.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    a = ap.parse_args()

    fitbal, bc = import_fitbal(a.pca)
    import fitsio

    pcaeigen = fitsio.read(a.pca)  # as desibal: fitsio.read(bc.pcaeigenfile)
    files = expand(a.paths)
    if not files:
        die("no spec-*.fits or coadd-*.fits among the inputs")
    zmap = read_redshifts(a.redshifts, fitsio) if a.z is None else {}

    rows, skipped, fit_seconds = [], {}, 0.0
    t_start = time.perf_counter()

    def measure(name, tid, wave, flux, ivar, z):
        nonlocal fit_seconds
        row = {c: "" for c in COLUMNS}
        row.update(NAME=name, TARGETID="" if tid is None else str(tid),
                   Z="" if z is None else fmt(z))
        reason = None
        if z is None:
            reason = "no_redshift"
        elif not (bc.BAL_ZMIN <= z <= bc.BAL_ZMAX):
            reason = "redshift_out_of_range"
        elif not civ_covered(wave, z, bc):
            reason = "civ_not_covered"
        if reason is None:
            # desibal's spectrum: big-endian float64 wave, flux, ivar, model.
            qsospec = np.zeros(len(wave), dtype={"names": ("wave", "flux", "ivar", "model"),
                                                 "formats": (">f8", ">f8", ">f8", ">f8")})
            qsospec["wave"] = wave
            qsospec["flux"] = flux
            qsospec["ivar"] = ivar
            qsospec["model"] = np.zeros(len(wave))
            try:
                with contextlib.redirect_stdout(sys.stderr):
                    t0 = time.perf_counter()
                    info, pcaout, _mask = fitbal.calcbalparams(qsospec, pcaeigen, z, verbose=False)
                    dt = time.perf_counter() - t0
            except Exception as e:  # noqa: BLE001 - any baltools failure is a skip
                print(f"peer_baltools: {name}: baltools raised {type(e).__name__}: {e}",
                      file=sys.stderr)
                reason = "baltools_error"
        if reason is not None:
            row["SKIP_REASON"] = reason
            skipped[reason] = skipped.get(reason, 0) + 1
            rows.append(row)
            return
        fit_seconds += dt
        for ours, theirs in (("BI_CIV", "BI_CIV"), ("ERR_BI_CIV", "BI_CIV_ERR"),
                             ("AI_CIV", "AI_CIV"), ("ERR_AI_CIV", "AI_CIV_ERR"),
                             ("BI_SIIV", "BI_SIIV"), ("ERR_BI_SIIV", "BI_SIIV_ERR"),
                             ("AI_SIIV", "AI_SIIV"), ("ERR_AI_SIIV", "AI_SIIV_ERR"),
                             ("SNR_CIV", "SNR_CIV")):
            row[ours] = fmt(info[theirs])
        for c in ("NCIV_2000", "NCIV_450", "NSIIV_2000", "NSIIV_450"):
            row[c] = str(int(info[c]))
        for c, n in (("VMIN_CIV_2000", NBI), ("VMAX_CIV_2000", NBI),
                     ("VMIN_CIV_450", NAI), ("VMAX_CIV_450", NAI)):
            for k in range(n):
                row[f"{c}_{k}"] = fmt(info[c][k])
        row["PCA_CHI2"] = fmt(pcaout[-2])
        row["SECONDS"] = fmt(dt)
        rows.append(row)

    for path in files:
        base = os.path.basename(path)
        if base.startswith("spec-"):
            wave, flux, ivar, zfile = read_sdss(path, fitsio, not a.ignore_and_mask)
            measure(stem(path), None, wave, flux, ivar, a.z if a.z is not None else zfile)
        else:
            tids, wave, flux, ivar = read_coadd(path, fitsio)
            for i, tid in enumerate(tids):
                z = a.z if a.z is not None else zmap.get(int(tid))
                measure(f"{stem(path)}:{tid}", int(tid), wave, flux[i], ivar[i], z)
    wall = time.perf_counter() - t_start

    with open(a.output, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    n = sum(1 for r in rows if not r["SKIP_REASON"])
    rate = n / fit_seconds if fit_seconds > 0 else float("nan")
    print(f"peer_baltools: {len(rows)} spectra from {len(files)} files; measured {n}; "
          f"skipped {sum(skipped.values())}"
          + "".join(f", {k} {v}" for k, v in sorted(skipped.items())), file=sys.stderr)
    print(f"peer_baltools: fit seconds {fit_seconds:.3f} ({rate:.3f} spectra/s, one core); "
          f"wall {wall:.3f} s with reading", file=sys.stderr)


if __name__ == "__main__":
    main()
