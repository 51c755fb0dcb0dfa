#!/usr/bin/env python3
"""Fit SDSS spectra with PyQSOFit (github.com/legolason/PyQSOFit, GPL-3;
Guo, Shen & Wang 2018, ascl:1809.008; Shen et al. 2019, ApJS 241, 34) in
one fixed configuration, the one `astrolab qso fit` is benchmarked
against, and write what it measures as a CSV with our column names.

Used by bench/qsofit_pyqsofit.sh. This script only calls PyQSOFit as an
installed library; it is not part of it and ships none of its code,
templates or parameter files (the line and continuum tables below are
written out here, with the values of PyQSOFit's example). Install it
yourself, outside this repository, for example (what the benchmark was run
with: PyQSOFit commit 084df5a, version 2.1.6; numpy 2.4.6, scipy 1.17.1,
astropy 8.0.2, lmfit 1.3.4, PyAstronomy 0.25.0, Python 3.11):

    git clone https://github.com/legolason/PyQSOFit /work/peers/PyQSOFit
    python3 -m venv /work/peers/pyqsofit-venv
    /work/peers/pyqsofit-venv/bin/pip install -r /work/peers/PyQSOFit/requirements.txt pandas
    /work/peers/pyqsofit-venv/bin/pip install -e /work/peers/PyQSOFit
    export PYQSOFIT_PYTHON=/work/peers/pyqsofit-venv/bin/python

(The SFD dust maps in its sfddata/ are git-LFS files and are not needed:
this configuration does not deredden. Without the pip install -e,
PYQSOFIT_DIR=<checkout> makes this script import <checkout>/src/pyqsofit.)

usage:
    $PYQSOFIT_PYTHON bench/peer_pyqsofit.py [--mc N] [--seed S]
        [--hb-broad-ngauss K] [--oiii-ratio R] [--inisca S]
        [--balmer-norm START MAX] [--example-dtypes]
        --output out.csv FILE_OR_DIR...
(a directory stands for its spec-*.fits, sorted by name.)

The fit, fixed (QSOFit(...).Fit keyword arguments):
  * Input as PyQSOFit's example reads an SDSS spec file: wave = 10**loglam
    (vacuum, observed), flux, err = 1/sqrt(ivar) (ivar = 0 pixels get an
    infinite error, which PyQSOFit drops, as it drops flux == 0 pixels),
    z = HDU 2 (SPECOBJ) Z; ra, dec, plate, mjd, fiber from the header (only
    recorded). PyQSOFit moves to the rest frame itself: wave / (1 + z),
    flux and err * (1 + z).
  * nsmooth=1, and_mask=False, or_mask=False (PyQSOFit's defaults),
    reject_badpix=False (as the example; True would drop the 10 most
    outlying pixels by a GESD test, which on high-S/N spectra are the
    [O III] peaks), deredden=False (no SFD maps), wave_range=None,
    wave_mask=None, decompose_host=False, Fe_uv_op=True, poly=False,
    BC=True, rej_abs_conti=False, rej_abs_line=False, n_pix_min_conti=100,
    epsilon_jitter=0 (no random start), MCMC=False, MC=(--mc > 0),
    nsamp=--mc, linefit=True, save_result=False, plot_fig=False,
    save_fig=False, plot_corner=False, verbose=False.
  * Continuum (fitted to PyQSOFit's 20 line-free windows, 1150-8150 A rest,
    as in its example): power law PL_norm * (wave / 3000)**PL_slope (note:
    the exponent is PL_slope itself, f_lambda ~ lambda**PL_slope; bounds
    -5..3, start -1.5), the UV (1200-3500 A) and optical (3686-7484 A)
    Fe II templates PyQSOFit ships (fe_uv.txt, fe_optical.txt; Shen et al.
    2019 cite Vestergaard & Wilkes 2001 and Boroson & Green 1992), each
    norm >= 0, FWHM 1200-18000 km/s (start 3000; the template is convolved
    with a Gaussian of FWHM sqrt(FWHM^2 - 900^2), i.e. taken to be 900 km/s
    wide), shift -0.01..0.01 (the template is evaluated at
    wave * (1 + shift)), and the Balmer continuum
    of Dietrich et al. 2002 (norm >= 0, Te 10000-50000 K, tau 0.1-2, below
    3646 A). PyQSOFit fixes a component to zero when the windows hold
    <= 100 pixels in its range (UV Fe II: 1200-3500 A; optical: 3686-7484 A;
    Balmer continuum: < 3646 A).
  * The Balmer continuum norm starts at 1e-8 with bounds 0..1e-4
    (--balmer-norm START MAX), where the example's table says start 0,
    bounds 0..1e10 (the example runs BC=False). PyQSOFit's model is
    norm * 3.14 B_lambda(Te) (1 - exp(-tau)) with B_lambda in
    erg/s/cm^2/A/sr (1.7e8 at 3646 A for 15000 K), so a real spectrum needs
    norm ~ 1e-9..1e-7. lmfit maps a [0, 1e10] bound by arcsin, the start 0
    is on the bound (zero derivative) and 1e-7 is below the float64
    resolution of that map near the bound (~5e-7): on the first 10 spectra
    of qso/sdss-lowz the continuum fit stopped after 13 evaluations (one
    Jacobian, nothing moved) on all 8 whose windows reach below 3646 A,
    with chi2 60-900 times that of a BC=False fit and L5100 0.5-2.1 dex too
    low; broad H-beta then soaks up the missing continuum (sigma at its
    0.05 bound, FWHM 35,000 km/s). With 1e-8, 0..1e-4 all converged (chi2
    below the BC=False fit) but took up to 12,000 evaluations (130 s).
    BC=True also costs where no Balmer continuum is fitted: the model
    evaluates astropy's BlackBody at every call.
  * Lines: the H-beta complex only, 4640-5100 A rest, fitted to the
    continuum-subtracted flux, Gaussians in ln(lambda) (parameters: scale,
    centre ln(lambda), sigma in ln(lambda)); rows as PyQSOFit's example
    qsopar.fits (vacuum rest wavelengths):
        Hb_br      4862.68  --hb-broad-ngauss (default 2, as the example)
                             sigma 0.004-0.05 (start 0.005), voff 0.01
        Hb_na      4862.68  sigma 2.3e-4-0.00169 (start 0.001), voff 0.01
        OIII4959c  4960.30  velocity and sigma tied to Hb_na (vindex=windex=1)
        OIII5007c  5008.24  likewise
        OIII4959w  4960.30  sigma 2.3e-4-0.004 (start 0.003), voff 0.01
        OIII5007w  5008.24  velocity and sigma tied to OIII4959w (index 2)
    all scales >= 0 starting at 0 (the example's inisca; --inisca S). voff 0.01 in
    ln(lambda) bounds each velocity to +-2998 km/s; sigma 0.00169 is FWHM
    1194 km/s, 0.004 is 2824 km/s, 2.3e-4 is 162 km/s. The example ties no
    fluxes (findex 0), so the 4959/5007 ratios are free; --oiii-ratio R
    ties F(5007)/F(4959) = R for the core pair and for the wing pair.
  * The parameter table is written with float64 columns where the example
    writes float32. PyQSOFit passes the table's numbers to lmfit as they
    come (numpy float32 scalars for bounds and starts), and under numpy >= 2
    (NEP 50: float32 op Python float stays float32) lmfit's bound
    transforms then run in float32: a scale bounded to [0, 1e10] can only
    move in steps of ~600 and its start maps to the bound, where the
    gradient is zero. The lines then stay near zero and the velocities go
    to the +-2998 km/s bounds; on spec-0332-52367-0639 (PyQSOFit's own
    example spectrum) the [O III] 5007 core comes out at -2966 km/s and the
    wing at +2851 km/s with a reduced chi2 of 19.6, against -61 and -156
    km/s and 1.89 with float64. With numpy 1.26 (scipy 1.11.4, lmfit 1.2.2)
    the float32 table fits spec-0332 as the float64 one does here (core
    -61.2, wing -155.4 km/s); of the first 10 spectra 6 agree within 2 km/s
    and 4 end in other minima of an ill-constrained wing. The same happens
    with PyQSOFit's own example qsopar.fits and the example's full Fit
    options (host decomposition, poly): under numpy 2 the spec-0332 core
    lands at +2834 km/s, the wing at +2990 km/s.
    --example-dtypes writes float32 to reproduce the failure.
  * --mc N: PyQSOFit's Monte Carlo errors: N refits of the continuum to
    flux + N(0, err) boxcar-smoothed over 10 pixels (each starting from the
    previous refit), and N refits of the lines to (flux - best continuum)
    + N(0, err), each starting from the initial guesses (not the best
    fit). An error is half the 16-84 percentile range of the N values
    (PyQSOFit's get_err); the values themselves stay the best fit (but
    after MC, PyQSOFit's q.conti_fit is the last MC refit, not the best
    fit: this script reads q.conti_result, which holds the best fit).
    np.random is seeded with --seed (default 1) before each spectrum.

Output columns (one row per file; floats written with repr):
  FILE (the path as given), Z, SECONDS (wall time of the QSOFit.Fit call
  alone, time.perf_counter; file reading, table writing and what this
  script derives afterwards are not in it; the call re-reads the qsopar
  FITS table and both Fe II template text files each time, as PyQSOFit
  does), CPU_SECONDS (time.process_time over the same call: the time
  benchmarked on a busy machine; both are the same on an idle core, BLAS
  threads 1), STATUS (ok, error, no_hb = the H-beta complex was not fitted),
  ERROR (the exception, one line), then:
  HB_BROAD_FWHM, HB_BROAD_SIGMA (km/s), HB_BROAD_EW (A, rest), HB_BROAD_FLUX:
      PyQSOFit's line_prop_from_name('Hb_br', 'broad') of the Hb_br
      Gaussians together: FWHM from the spline roots at half peak, sigma the
      second moment, both divided by 4862.68 A, times c; EW against the
      power law + Balmer continuum (no Fe II); flux = trapezoid over
      min(centre - 3 sigma) .. max(centre + 3 sigma).
  HB_NARROW_*, OIII5007_CORE_*, OIII5007_WING_*, OIII4959_*_FLUX: one
      Gaussian each, from PyQSOFit's fitted parameters: _V = c (mu - ln
      lambda0) km/s with lambda0 the vacuum rest wavelength of the row
      (5008.24 for [O III] 5007, 4960.30 for 4959, 4862.68 for H-beta;
      c = 299792.458 km/s; first order in v/c, as PyQSOFit's voff);
      _FWHM = 2 sqrt(2 ln 2) sigma c km/s; _FLUX = scale sqrt(2 pi) sigma
      exp(mu + sigma^2 / 2), the integral over lambda (PyQSOFit's
      line_prop area would be 0.27 % lower, its +-3 sigma trapezoid).
  Line fluxes are in PyQSOFit's rest-frame units: 1e-17 erg/s/cm^2 times
  (1 + z) of the observed flux.
  HB_LINE_STATUS (lmfit success), HB_RED_CHI2, HB_NFEV: the complex's fit.
  AT_BOUND: the best fit's free line parameters on a bound of the table,
      ';'-separated, e.g. Hb_br_2_sigma=max (FWHM 35,300 km/s),
      OIII4959w_1_voff=min (-2998 km/s; the wings' velocity is that of
      OIII4959w, the first row of their vindex), OIII5007w_1_scale=0.
  LOG_L5100: PyQSOFit's L5100, log10(5100 L_lambda) in erg/s of the power
      law alone (no Fe II, no Balmer continuum) at 5100 A rest, flat LCDM
      H0 = 70, Om0 = 0.3; empty where 5100 A is outside the spectrum.
  PL_NORM (rest-frame 1e-17 erg/s/cm^2/A at 3000 A), PL_SLOPE,
  FE_OP_NORM, FE_OP_FWHM (km/s), FE_OP_SHIFT, FE_UV_NORM, FE_UV_FWHM,
  FE_UV_SHIFT, BALMER_NORM, BALMER_TE, BALMER_TAU (PyQSOFit's conti_fit
  parameters; Fe norms multiply its templates scaled by 1e15, so they only
  compare with a fitter using the same templates), FE_OP_FLUX_4435_4685
  (PyQSOFit's Fe_flux_4435_4685, rest-frame units), SN_RATIO_CONTI;
  CONTI_RED_CHI2, CONTI_NFEV: the continuum fit's reduced chi2 and function
  evaluations (empty with --mc; a stalled fit shows nfev = free parameters
  + 1 and a huge chi2).
  ERR_<column> for each of those when --mc is given (empty otherwise):
  PyQSOFit's own *_err for parameters and continuum results; for the
  derived line quantities the same statistic over its MC samples
  (gauss_result_all; line_prop_from_name(..., sample_index=k) for H-beta
  broad).
"""
import argparse
import contextlib
import csv
import math
import os
import sys
import tempfile
import time

import numpy as np

C_KMS = 299792.458
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))

REST = {"Hb_na": 4862.68, "OIII4959c": 4960.30, "OIII5007c": 5008.24,
        "OIII4959w": 4960.30, "OIII5007w": 5008.24}
# Our column prefix for each single-Gaussian PyQSOFit line.
GAUSS_LINES = (("HB_NARROW", "Hb_na"), ("OIII5007_CORE", "OIII5007c"),
               ("OIII5007_WING", "OIII5007w"), ("OIII4959_CORE", "OIII4959c"),
               ("OIII4959_WING", "OIII4959w"))
CONTI = (("LOG_L5100", "L5100"), ("PL_NORM", "PL_norm"), ("PL_SLOPE", "PL_slope"),
         ("FE_OP_NORM", "Fe_op_norm"), ("FE_OP_FWHM", "Fe_op_FWHM"),
         ("FE_OP_SHIFT", "Fe_op_shift"), ("FE_UV_NORM", "Fe_uv_norm"),
         ("FE_UV_FWHM", "Fe_uv_FWHM"), ("FE_UV_SHIFT", "Fe_uv_shift"),
         ("BALMER_NORM", "Blamer_norm"),  # sic, PyQSOFit's name
         ("BALMER_TE", "Balmer_Te"), ("BALMER_TAU", "Balmer_Tau"),
         ("FE_OP_FLUX_4435_4685", "Fe_flux_4435_4685"))

VALUES = (["HB_BROAD_FWHM", "HB_BROAD_SIGMA", "HB_BROAD_EW", "HB_BROAD_FLUX",
           "HB_NARROW_V", "HB_NARROW_FWHM", "HB_NARROW_FLUX",
           "OIII5007_CORE_V", "OIII5007_CORE_FWHM", "OIII5007_CORE_FLUX",
           "OIII5007_WING_V", "OIII5007_WING_FWHM", "OIII5007_WING_FLUX",
           "OIII4959_CORE_FLUX", "OIII4959_WING_FLUX"]
          + [ours for ours, _ in CONTI])
COLUMNS = (["FILE", "Z", "SECONDS", "CPU_SECONDS", "STATUS", "ERROR"] + VALUES
           + ["HB_LINE_STATUS", "HB_RED_CHI2", "HB_NFEV", "AT_BOUND", "CONTI_RED_CHI2",
              "CONTI_NFEV", "SN_RATIO_CONTI", "MC_SAMPLES"]
           + ["ERR_" + v for v in VALUES])


def die(msg):
    print(f"peer_pyqsofit: {msg}", file=sys.stderr)
    sys.exit(2)


def import_pyqsofit():
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        from pyqsofit import PyQSOFit as mod
    except ImportError as e:
        root = os.environ.get("PYQSOFIT_DIR")
        if not root or not os.path.isfile(os.path.join(root, "src", "pyqsofit", "PyQSOFit.py")):
            die(f"cannot import pyqsofit ({e}); pip install -e a PyQSOFit checkout into this "
                "python, or set PYQSOFIT_DIR to one (see this script's header)")
        sys.path.insert(0, os.path.join(root, "src"))
        from pyqsofit import PyQSOFit as mod
    return mod


def write_qsopar(path, hb_broad_ngauss, oiii_ratio, inisca=0.0, float_type="float64",
                 balmer_norm=(1e-8, 1e-4)):
    """PyQSOFit's parameter file (its documented qsopar.fits layout:
    LINE_PRIORS, CONTI_WINDOWS, CONTI_PRIORS, MEASURE_INFO), with the values
    of its example, H-beta complex only, its float columns of float_type
    (the example writes float32; see the module doc for why float64)."""
    from astropy.io import fits
    from astropy.table import Table

    # findex/fvalue: when --oiii-ratio is given, the 4959 and 5007 rows of a
    # pair share a findex and PyQSOFit fixes scale(5007) / scale(4959) =
    # fvalue(5007) / fvalue(4959); with a common velocity and sigma the flux
    # ratio is the scale ratio times 5008.24 / 4960.30.
    if oiii_ratio is None:
        f_core = f_wing = 0
        fv4959c, fv5007c, fv4959w, fv5007w = 0.002, 0.004, 0.001, 0.002
    else:
        f_core, f_wing = 1, 2
        scale_ratio = oiii_ratio * 4960.30 / 5008.24
        fv4959c = fv4959w = 1.0
        fv5007c = fv5007w = scale_ratio
    rows = [
        # lambda, compname, minwav, maxwav, linename, ngauss, inisca, minsca, maxsca,
        # inisig, minsig, maxsig, voff, vindex, windex, findex, fvalue, vary
        (4862.68, "Hb", 4640, 5100, "Hb_br", hb_broad_ngauss, inisca, 0.0, 1e10,
         5e-3, 0.004, 0.05, 0.01, 0, 0, 0, 0.01, 1),
        (4862.68, "Hb", 4640, 5100, "Hb_na", 1, inisca, 0.0, 1e10,
         1e-3, 2.3e-4, 0.00169, 0.01, 1, 1, 0, 0.002, 1),
        (4960.30, "Hb", 4640, 5100, "OIII4959c", 1, inisca, 0.0, 1e10,
         1e-3, 2.3e-4, 0.00169, 0.01, 1, 1, f_core, fv4959c, 1),
        (5008.24, "Hb", 4640, 5100, "OIII5007c", 1, inisca, 0.0, 1e10,
         1e-3, 2.3e-4, 0.00169, 0.01, 1, 1, f_core, fv5007c, 1),
        (4960.30, "Hb", 4640, 5100, "OIII4959w", 1, inisca, 0.0, 1e10,
         3e-3, 2.3e-4, 0.004, 0.01, 2, 2, f_wing, fv4959w, 1),
        (5008.24, "Hb", 4640, 5100, "OIII5007w", 1, inisca, 0.0, 1e10,
         3e-3, 2.3e-4, 0.004, 0.01, 2, 2, f_wing, fv5007w, 1),
    ]
    lines = np.rec.array(
        rows,
        formats="F,a20,F,F,a20,int32,F,F,F,F,F,F,F,int32,int32,int32,F,int32".replace(
            "F", float_type),
        names="lambda,compname,minwav,maxwav,linename,ngauss,inisca,minsca,maxsca,"
              "inisig,minsig,maxsig,voff,vindex,windex,findex,fvalue,vary")
    windows = np.rec.array(
        [(1150., 1170.), (1275., 1290.), (1350., 1360.), (1445., 1465.), (1690., 1705.),
         (1770., 1810.), (1970., 2400.), (2480., 2675.), (2925., 3400.), (3775., 3832.),
         (4000., 4050.), (4200., 4230.), (4435., 4640.), (5100., 5535.), (6005., 6035.),
         (6110., 6250.), (6800., 7000.), (7160., 7180.), (7500., 7800.), (8050., 8150.)],
        formats=f"{float_type},{float_type}", names="min,max")
    # Order matters: PyQSOFit reads these rows by position.
    conti = np.rec.array(
        [("Fe_uv_norm", 0.0, 0.0, 1e10, 1), ("Fe_uv_FWHM", 3000, 1200, 18000, 1),
         ("Fe_uv_shift", 0.0, -0.01, 0.01, 1), ("Fe_op_norm", 0.0, 0.0, 1e10, 1),
         ("Fe_op_FWHM", 3000, 1200, 18000, 1), ("Fe_op_shift", 0.0, -0.01, 0.01, 1),
         ("PL_norm", 1.0, 0.0, 1e10, 1), ("PL_slope", -1.5, -5.0, 3.0, 1),
         ("Blamer_norm", balmer_norm[0], 0.0, balmer_norm[1], 1),
         ("Balmer_Te", 15000, 10000, 50000, 1),
         ("Balmer_Tau", 0.5, 0.1, 2.0, 1), ("conti_a_0", 0.0, np.nan, np.nan, 1),
         ("conti_a_1", 0.0, np.nan, np.nan, 1), ("conti_a_2", 0.0, np.nan, np.nan, 1)],
        formats=f"a20,{float_type},{float_type},{float_type},int32",
        names="parname,initial,min,max,vary")
    measure = Table([[[1350, 1450, 3000, 4200, 5100]], [[[4435, 4685]]]],
                    names=("cont_loc", "Fe_flux_range"), dtype=(float_type, float_type))
    fits.HDUList([
        fits.PrimaryHDU(),
        fits.BinTableHDU(data=lines, name="line_priors"),
        fits.BinTableHDU(data=windows, name="conti_windows"),
        fits.BinTableHDU(data=conti, name="conti_priors"),
        fits.BinTableHDU(data=measure, name="measure_info"),
    ]).writeto(path, overwrite=True)


def expand(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            out.extend(sorted(os.path.join(p, f) for f in os.listdir(p)
                              if f.startswith("spec-") and f.endswith(".fits")))
        elif os.path.isfile(p):
            out.append(p)
        else:
            die(f"{p}: no such file or directory")
    return out


def read_sdss(path):
    from astropy.io import fits
    with fits.open(path, memmap=False) as h:
        d = h[1].data
        lam = 10.0 ** np.asarray(d["loglam"], dtype=np.float64)
        flux = np.asarray(d["flux"], dtype=np.float64)
        ivar = np.asarray(d["ivar"], dtype=np.float64)
        z = float(h[2].data["z"][0])
        hdr = h[0].header
        meta = dict(ra=float(hdr.get("PLUG_RA", -999)), dec=float(hdr.get("PLUG_DEC", -999)),
                    plateid=hdr.get("PLATEID"), mjd=hdr.get("MJD"), fiberid=hdr.get("FIBERID"))
    with np.errstate(divide="ignore"):
        err = 1.0 / np.sqrt(ivar)
    return lam, flux, err, z, meta


def fmt(x):
    if x is None:
        return ""
    x = float(x)
    return repr(x) if math.isfinite(x) else ""


def gauss_derived(rest, scale, mu, sig):
    """(velocity km/s, FWHM km/s, flux) of one Gaussian in ln(lambda)."""
    v = C_KMS * (mu - math.log(rest))
    fwhm = FWHM_PER_SIGMA * sig * C_KMS
    flux = scale * math.sqrt(2.0 * math.pi) * sig * math.exp(mu + 0.5 * sig * sig)
    return v, fwhm, flux


def at_bounds(q, par):
    """The free Gaussian parameters of the best fit that sit on a bound of
    the line table: NAME_K_sigma=min|max, NAME_K_voff=min|max (the centre
    offset c (mu - ln lambda0) against +-voff), NAME_K_scale=0. Parameters
    tied to another line's (vindex, windex) are left out: they sit where
    that line's do."""
    out = []
    lines = q.linelist
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in lines["linename"]]
    seen_v, seen_w = set(), set()
    for i, name in enumerate(names):
        vi, wi = int(lines["vindex"][i]), int(lines["windex"][i])
        free_v = vi == 0 or vi not in seen_v
        free_w = wi == 0 or wi not in seen_w
        seen_v.add(vi)
        seen_w.add(wi)
        lam0, voff = float(lines["lambda"][i]), float(lines["voff"][i])
        smin, smax = float(lines["minsig"][i]), float(lines["maxsig"][i])
        for k in range(1, int(lines["ngauss"][i]) + 1):
            g = f"{name}_{k}"
            try:
                sc = par(name, "scale", k)
                dmu = par(name, "centerwave", k) - math.log(lam0)
                sg = par(name, "sigma", k)
            except ValueError:
                continue
            if sc <= 1e-5:
                out.append(f"{g}_scale=0")
            if free_v and abs(dmu) >= voff * (1 - 1e-4):
                out.append(f"{g}_voff={'max' if dmu > 0 else 'min'}")
            if free_w and sg <= smin + 1e-4 * (smax - smin):
                out.append(f"{g}_sigma=min")
            elif free_w and sg >= smax - 1e-4 * (smax - smin):
                out.append(f"{g}_sigma=max")
    return out


def collect(q, mod, mc, row):
    """Fill row from a fitted QSOFit."""
    cnames = [str(n) for n in q.conti_result_name]
    cval = {n: q.conti_result[i] for i, n in enumerate(cnames)}

    def conti(name):
        v = cval.get(name)
        return None if v is None else float(v)

    for ours, theirs in CONTI:
        v = conti(theirs)
        if ours == "LOG_L5100" and v is not None and v == -1.0:
            v = None  # PyQSOFit's "not covered"
        row[ours] = fmt(v)
        if mc:
            e = conti(theirs + "_err")
            row["ERR_" + ours] = fmt(e) if v is not None else ""
    row["SN_RATIO_CONTI"] = fmt(conti("SN_ratio_conti"))
    if not mc:  # after MC, q.conti_fit is the last MC refit
        row["CONTI_RED_CHI2"] = fmt(q.conti_fit.redchi)
        row["CONTI_NFEV"] = str(int(q.conti_fit.nfev))

    lnames = [str(n) for n in q.line_result_name]
    if "1_complex_name" not in lnames:
        row["STATUS"] = "no_hb"
        return
    lval = dict(zip(lnames, q.line_result))
    row["HB_LINE_STATUS"] = str(int(float(lval["1_line_status"])))
    row["HB_RED_CHI2"] = fmt(lval["1_line_red_chi2"])
    row["HB_NFEV"] = str(int(float(lval["1_niter"])))

    gnames = [str(n) for n in q.gauss_result_name]
    gres = np.asarray(q.gauss_result, dtype=np.float64)
    samples = np.asarray(q.gauss_result_all, dtype=np.float64) if mc else None

    def par(line, what, k=1):
        return gres[gnames.index(f"{line}_{k}_{what}")]

    def sample_col(line, what):
        # With MC, names come as value/err pairs: index // 2 is the column
        # of gauss_result_all (PyQSOFit's own line_prop_from_name does this).
        return samples[:, gnames.index(f"{line}_1_{what}") // 2]

    for prefix, line in GAUSS_LINES:
        v, fwhm, flux = gauss_derived(REST[line], par(line, "scale"), par(line, "centerwave"),
                                      par(line, "sigma"))
        out = {"V": v, "FWHM": fwhm, "FLUX": flux}
        errs = {}
        if mc:
            s_sc, s_mu, s_sig = (sample_col(line, w) for w in ("scale", "centerwave", "sigma"))
            d = np.array([gauss_derived(REST[line], a, b, c) for a, b, c in zip(s_sc, s_mu, s_sig)])
            errs = {"V": mod.get_err(d[:, 0]), "FWHM": mod.get_err(d[:, 1]),
                    "FLUX": mod.get_err(d[:, 2])}
        for k in ("V", "FWHM", "FLUX"):
            col = f"{prefix}_{k}"
            if col in row:
                row[col] = fmt(out[k])
                if mc:
                    row["ERR_" + col] = fmt(errs[k])

    row["AT_BOUND"] = ";".join(at_bounds(q, par))

    fwhm, sigma, ew, _peak, area, _snr = q.line_prop_from_name("Hb_br", "broad")
    for k, v in (("FWHM", fwhm), ("SIGMA", sigma), ("EW", ew), ("FLUX", area)):
        row[f"HB_BROAD_{k}"] = fmt(v)
    if mc:
        props = np.array([q.line_prop_from_name("Hb_br", "broad", sample_index=k)
                          for k in range(samples.shape[0])], dtype=np.float64)
        for k, j in (("FWHM", 0), ("SIGMA", 1), ("EW", 2), ("FLUX", 4)):
            row[f"ERR_HB_BROAD_{k}"] = fmt(mod.get_err(props[:, j]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", required=True, help="output CSV")
    ap.add_argument("--mc", type=int, default=0, metavar="N",
                    help="PyQSOFit's Monte Carlo errors with N samples (default: none)")
    ap.add_argument("--seed", type=int, default=1, help="np.random seed before each spectrum")
    ap.add_argument("--hb-broad-ngauss", type=int, default=2, choices=(1, 2, 3),
                    help="Gaussians of broad H-beta (default 2, PyQSOFit's example)")
    ap.add_argument("--oiii-ratio", type=float, default=None, metavar="R",
                    help="tie F(5007)/F(4959) = R for core and wing (default: free, as the example)")
    ap.add_argument("--inisca", type=float, default=0.0,
                    help="start of every line scale (default 0, the example's; PyQSOFit's "
                         "packaged qsopar.fits has 0.1)")
    ap.add_argument("--balmer-norm", type=float, nargs=2, default=(1e-8, 1e-4),
                    metavar=("START", "MAX"),
                    help="Balmer continuum norm start and upper bound (default 1e-8 1e-4; "
                         "the example's 0 1e10 stalls the continuum fit, see the module doc)")
    ap.add_argument("--example-dtypes", action="store_true",
                    help="write the parameter table with float32 columns as PyQSOFit's example "
                         "does (under numpy >= 2 this breaks its fits; see the module doc)")
    ap.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    a = ap.parse_args()
    if a.mc < 0:
        die("--mc must be >= 0")

    mod = import_pyqsofit()
    files = expand(a.paths)
    if not files:
        die("no spec-*.fits among the inputs")

    counts, fit_seconds = {}, 0.0
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pyqsofit-par-") as tmp, \
            open(a.output, "w", newline="") as fh:
        write_qsopar(os.path.join(tmp, "qsopar.fits"), a.hb_broad_ngauss, a.oiii_ratio, a.inisca,
                     "float32" if a.example_dtypes else "float64", tuple(a.balmer_norm))
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for path in files:
            row = {c: "" for c in COLUMNS}
            row["FILE"] = path
            try:
                lam, flux, err, z, meta = read_sdss(path)
            except Exception as e:  # noqa: BLE001
                row.update(STATUS="error", ERROR=f"read: {type(e).__name__}: {e}")
            else:
                row["Z"] = fmt(z)
                np.random.seed(a.seed)
                q = mod.QSOFit(lam, flux, err, z, path=tmp, **meta)
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    # PyQSOFit prints its notes ("No line to fit!") to stdout.
                    with contextlib.redirect_stdout(sys.stderr):
                        q.Fit(name=None, nsmooth=1, and_mask=False, or_mask=False,
                              reject_badpix=False, deredden=False, wave_range=None,
                              wave_mask=None, decompose_host=False, Fe_uv_op=True, poly=False,
                              BC=True, rej_abs_conti=False, rej_abs_line=False,
                              initial_guess=None, n_pix_min_conti=100,
                              param_file_name="qsopar.fits", MC=a.mc > 0, MCMC=False,
                              nsamp=a.mc if a.mc > 0 else 200, epsilon_jitter=0.0,
                              linefit=True, save_result=False, plot_fig=False, save_fig=False,
                              plot_corner=False, verbose=False)
                    dt = time.perf_counter() - t0
                    row["CPU_SECONDS"] = fmt(time.process_time() - c0)
                    row["SECONDS"] = fmt(dt)
                    fit_seconds += dt
                    row["STATUS"] = "ok"
                    if a.mc > 0:
                        row["MC_SAMPLES"] = str(a.mc)
                    collect(q, mod, a.mc > 0, row)
                except Exception as e:  # noqa: BLE001 - any PyQSOFit failure is recorded
                    if not row["SECONDS"]:
                        row["SECONDS"] = fmt(time.perf_counter() - t0)
                    row["STATUS"] = "error"
                    row["ERROR"] = f"{type(e).__name__}: {e}".replace("\n", " ")[:300]
            counts[row["STATUS"]] = counts.get(row["STATUS"], 0) + 1
            if row["STATUS"] != "ok":
                print(f"peer_pyqsofit: {os.path.basename(path)}: {row['STATUS']} {row['ERROR']}",
                      file=sys.stderr)
            w.writerow(row)
            fh.flush()
    wall = time.perf_counter() - t_start
    print(f"peer_pyqsofit: {len(files)} files: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; Fit seconds {fit_seconds:.2f}, wall {wall:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
