#!/usr/bin/env python3
"""Open every file astrolab-demo wrote with astropy, the way the lab's
Python code reads the real DESI files, and check HDU names, columns, dtypes
and cross-file consistency.

Usage: check_astropy.py DIR      (exit status 0 when every check passes)
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.units import UnitsWarning

# DESI's own units (nanomaggy, 1e-17 erg / (cm2 s), Msun) are not FITS
# standard; astropy warns on the real files too.
warnings.simplefilter("ignore", UnitsWarning)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def kind_size(table, col):
    dt = table[col].dtype
    return dt.kind, dt.itemsize


def expect_dtype(table, name, cols, kind, size=None):
    for col in cols:
        if col not in table.colnames:
            failures.append(f"{name}: column {col} missing")
            continue
        k, s = kind_size(table, col)
        ok = k == kind and (size is None or s == size)
        check(ok, f"{name}: {col} has dtype {table[col].dtype}, expected kind {kind!r} size {size}")


def hdu_names(path):
    with fits.open(path) as hdul:
        return [h.name for h in hdul]


def check_fitsio(d):
    """The same files through fitsio (cfitsio, as DESI's own desispec reads
    them): every table HDU reads whole and equals what astropy read."""
    import os
    try:
        import fitsio
    except ImportError:
        if os.environ.get("CI"):
            failures.append("fitsio is not installed (CI is set; scripts/test installs it)")
        else:
            print("note: fitsio not installed, fitsio check skipped")
        return
    for path in sorted(d.glob("*.fits")):
        with fitsio.FITS(str(path)) as f, fits.open(path) as a:
            check([h.get_extname() or "PRIMARY" for h in f] == [h.name for h in a], f"{path.name}: fitsio HDU names")
            for h in f[1:]:
                if h.get_exttype() != "BINARY_TBL":
                    continue
                name = h.get_extname()
                data = h.read()
                ref = a[name].data
                check(len(data) == len(ref), f"{path.name}[{name}]: fitsio row count")
                for col in ref.columns.names:
                    x, y = np.asarray(data[col]), np.asarray(ref[col])
                    if x.dtype.kind in "SU":
                        x = np.char.rstrip(x.astype(str))
                        y = np.char.rstrip(y.astype(str))
                        same = np.array_equal(x, y)
                    else:
                        same = np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
                    check(same, f"{path.name}[{name}].{col}: fitsio and astropy differ")


ARMS = {"B": (3600.0, 5800.0, 2751), "R": (5760.0, 7620.0, 2326), "Z": (7520.0, 9824.0, 2881)}


def check_spectra(d, z):
    """Coadd and redrock files as desispec writes them, read the way the
    lab's spectra loader reads real healpix coadds."""
    coadds = sorted(d.glob("coadd-main-*-*.fits"))
    check(len(coadds) > 0, "no coadd files")
    zrow = {int(t): i for i, t in enumerate(np.asarray(z["TARGETID"]))}
    expected = ["PRIMARY", "FIBERMAP", "EXP_FIBERMAP"]
    for a in ARMS:
        expected += [f"{a}_{w}" for w in ("WAVELENGTH", "FLUX", "IVAR", "MASK", "RESOLUTION")]
    expected.append("SCORES")
    nspec_total = 0
    for path in coadds:
        program, pix = path.stem.split("-")[2:4]
        with fits.open(path) as h:
            check([x.name for x in h] == expected, f"{path.name}: HDUs {[x.name for x in h]}")
            p = h[0].header
            check(p.get("HPXPIXEL") == int(pix) and p.get("HPXNSIDE") == 64, f"{path.name}: HPX keys")
            check(p.get("SPGRP") == "healpix" and p.get("SURVEY") == "main"
                  and p.get("PROGRAM") == program, f"{path.name}: SPGRP/SURVEY/PROGRAM")
            fm = Table.read(h["FIBERMAP"])
            n = len(fm)
            nspec_total += n
            expect_dtype(fm, "FIBERMAP", ["TARGETID"], "i", 8)
            expect_dtype(fm, "FIBERMAP", ["TARGET_RA", "TARGET_DEC"], "f", 8)
            for a, (lo, hi, npix) in ARMS.items():
                w = h[f"{a}_WAVELENGTH"].data
                check(w.dtype.kind == "f" and w.dtype.itemsize == 8 and w.shape == (npix,),
                      f"{path.name}: {a}_WAVELENGTH {w.dtype} {w.shape}")
                check(w[0] == lo and abs(w[-1] - hi) < 1e-9 and np.allclose(np.diff(w), 0.8),
                      f"{path.name}: {a} grid")
                for what, kind, size in (("FLUX", "f", 4), ("IVAR", "f", 4), ("MASK", "u", 4)):
                    x = h[f"{a}_{what}"].data
                    check(x.dtype.kind == kind and x.dtype.itemsize == size and x.shape == (n, npix),
                          f"{path.name}: {a}_{what} {x.dtype} {x.shape}")
                check(h[f"{a}_FLUX"].header.get("BUNIT") == "10**-17 erg/(s cm2 Angstrom)",
                      f"{path.name}: {a}_FLUX BUNIT")
                r = h[f"{a}_RESOLUTION"].data
                check(r.dtype.kind == "f" and r.dtype.itemsize == 4 and r.shape == (n, 11, npix),
                      f"{path.name}: {a}_RESOLUTION {r.dtype} {r.shape}")
                check(bool(np.allclose(r.sum(axis=1), 1.0, atol=1e-4)),
                      f"{path.name}: {a}_RESOLUTION columns do not sum to 1")
                iv = h[f"{a}_IVAR"].data
                m = h[f"{a}_MASK"].data
                check(bool(np.all(iv[m != 0] == 0)), f"{path.name}: masked pixels with ivar > 0")
            sc = Table.read(h["SCORES"])
            check(np.array_equal(sc["TARGETID"], fm["TARGETID"]), f"{path.name}: SCORES rows")
        rr = Table.read(path.with_name(path.name.replace("coadd", "redrock", 1)), hdu="REDSHIFTS")
        check(rr.colnames == ["TARGETID", "Z", "ZERR", "ZWARN", "CHI2", "COEFF", "NPIXELS",
                              "SPECTYPE", "SUBTYPE", "NCOEFF", "DELTACHI2"],
              f"{path.name}: REDSHIFTS columns {rr.colnames}")
        check(rr["COEFF"].shape == (n, 10), f"{path.name}: COEFF shape {rr['COEFF'].shape}")
        expect_dtype(rr, "REDSHIFTS", ["TARGETID", "ZWARN", "NPIXELS", "NCOEFF"], "i", 8)
        expect_dtype(rr, "REDSHIFTS", ["Z", "ZERR", "CHI2", "DELTACHI2"], "f", 8)
        expect_dtype(rr, "REDSHIFTS", ["SPECTYPE"], "S", 6)
        check(np.array_equal(rr["TARGETID"], fm["TARGETID"]), f"{path.name}: redrock rows")
        rows = [zrow[int(t)] for t in rr["TARGETID"]]
        check(np.array_equal(np.asarray(rr["Z"]), np.asarray(z["Z"])[rows]),
              f"{path.name}: redrock Z differs from the zcatalog")
        want = "GALAXY" if program == "bright" else "QSO"
        st = set(np.char.strip(np.asarray(rr["SPECTYPE"]).astype(str)))
        check(st == {want}, f"{path.name}: SPECTYPE {st}")
    truth = json.loads((d / "spectra_truth.json").read_text())
    check(truth["n_spectra"] == nspec_total, "spectra_truth n_spectra")
    for r in truth["rarities"]:
        path = d / r["file"]
        if not path.exists():
            failures.append(f"spectra truth points at missing {r['file']}")
            continue
        with fits.open(path) as h:
            check(int(h["FIBERMAP"].data["TARGETID"][r["row"]]) == r["targetid"],
                  f"spectra truth {r['targetid']}: wrong row")
    return nspec_total


def main(d):
    d = Path(d)
    truth = json.loads((d / "truth.json").read_text())
    rows = {f["file"]: f["rows"] for f in truth["files"]}

    # zpix: PRIMARY + ZCATALOG, zcatalog v1 dtypes.
    zpath = d / "zpix-main-bright.fits"
    check(hdu_names(zpath) == ["PRIMARY", "ZCATALOG"], f"zpix HDUs {hdu_names(zpath)}")
    z = Table.read(zpath, hdu="ZCATALOG")
    check(len(z) == rows["zpix-main-bright.fits"], "zpix row count")
    expect_dtype(z, "ZCATALOG", ["TARGETID", "ZWARN", "NPIXELS", "NCOEFF", "DESI_TARGET",
                                 "BGS_TARGET", "MWS_TARGET", "SCND_TARGET"], "i", 8)
    expect_dtype(z, "ZCATALOG", ["Z", "ZERR", "CHI2", "DELTACHI2", "TARGET_RA", "TARGET_DEC",
                                 "SUBPRIORITY", "MIN_MJD", "MEAN_MJD", "MAX_MJD"], "f", 8)
    expect_dtype(z, "ZCATALOG", ["HEALPIX", "SPGRPVAL", "COADD_FIBERSTATUS", "BRICKID",
                                 "BRICK_OBJID"], "i", 4)
    expect_dtype(z, "ZCATALOG", ["RELEASE", "COADD_NUMEXP", "ZCAT_NSPEC", "MAIN_NSPEC"], "i", 2)
    expect_dtype(z, "ZCATALOG", ["TSNR2_BGS", "EBV", "FLUX_R", "FLUX_IVAR_R"], "f", 4)
    expect_dtype(z, "ZCATALOG", ["ZCAT_PRIMARY", "MAIN_PRIMARY"], "b")
    expect_dtype(z, "ZCATALOG", ["SPECTYPE"], "S", 6)
    expect_dtype(z, "ZCATALOG", ["SURVEY"], "S", 7)
    expect_dtype(z, "ZCATALOG", ["PROGRAM"], "S", 6)
    expect_dtype(z, "ZCATALOG", ["SUBTYPE"], "S", 20)
    expect_dtype(z, "ZCATALOG", ["DESINAME"], "S", 22)
    spectype = np.char.strip(np.asarray(z["SPECTYPE"]).astype(str))
    check(set(spectype) == {"GALAXY", "QSO", "STAR"}, f"SPECTYPE values {set(spectype)}")
    check(len(np.unique(z["TARGETID"])) == len(z), "zpix TARGETID not unique")
    check(bool(np.all(z["ZCAT_PRIMARY"])), "ZCAT_PRIMARY should be True in a zpix file")
    survey = set(np.char.strip(np.asarray(z["SURVEY"]).astype(str)))
    check(survey == {"main"}, f"SURVEY values {survey}")
    with fits.open(zpath) as hdul:
        h = hdul["ZCATALOG"].header
        check(h.get("HPXNSIDE") == 64 and h.get("HPXNEST") is True, "ZCATALOG HEALPix keywords")
        check(h.get("SPGRP") == "healpix", "ZCATALOG SPGRP")
        check(hdul[0].header.get("ZCATVER") == "v1", "ZCATVER")

    # FastSpecFit v3.0: METADATA, SPECPHOT, FASTSPEC with the same rows.
    fnames = sorted(f for f in rows if f.startswith("fastspec-iron-main-bright-nside1-hp"))
    check(len(fnames) >= 1, "no FastSpecFit file")
    gal_ids = []
    for name in fnames:
        path = d / name
        check(hdu_names(path) == ["PRIMARY", "METADATA", "SPECPHOT", "FASTSPEC"],
              f"{name} HDUs {hdu_names(path)}")
        meta = Table.read(path, hdu="METADATA")
        phot = Table.read(path, hdu="SPECPHOT")
        spec = Table.read(path, hdu="FASTSPEC")
        check(len(meta) == len(phot) == len(spec) == rows[name], f"{name} row counts")
        for t in (phot, spec):
            check(np.array_equal(meta["TARGETID"], t["TARGETID"]), f"{name}: row order differs")
        expect_dtype(meta, "METADATA", ["TARGETID", "DESI_TARGET", "BGS_TARGET", "LS_ID",
                                        "COADD_FIBERSTATUS"], "i", 8)
        expect_dtype(meta, "METADATA", ["RA", "DEC", "Z", "DELTACHI2"], "f", 8)
        expect_dtype(meta, "METADATA", ["HEALPIX"], "i", 4)
        expect_dtype(meta, "METADATA", ["SPECTYPE"], "S", 6)
        expect_dtype(phot, "SPECPHOT", ["LOGMSTAR", "LOGMSTAR_IVAR", "SFR", "SFR_IVAR", "AGE",
                                        "ZZSUN", "DN4000", "DN4000_IVAR", "VDISP"], "f", 4)
        expect_dtype(spec, "FASTSPEC", ["OIII_5007_FLUX", "OIII_5007_FLUX_IVAR", "HALPHA_FLUX",
                                        "HBETA_FLUX", "NII_6584_FLUX"], "f", 4)
        mtype = set(np.char.strip(np.asarray(meta["SPECTYPE"]).astype(str)))
        check(mtype == {"GALAXY"}, f"{name}: SPECTYPE {mtype}")
        lm = np.asarray(phot["LOGMSTAR"])
        check(bool(np.all((lm >= 6) & (lm <= 13))), f"{name}: LOGMSTAR outside [6, 13]")
        d4 = np.asarray(phot["DN4000"])
        check(bool(np.all((d4 >= 0.5) & (d4 <= 5))), f"{name}: DN4000 outside [0.5, 5]")
        check(bool(np.all((np.asarray(meta["BGS_TARGET"]) & 3) > 0)), f"{name}: BGS bits")
        gal_ids.append(np.asarray(meta["TARGETID"]))
    gal_ids = np.concatenate(gal_ids)
    zgal = np.asarray(z["TARGETID"])[spectype == "GALAXY"]
    check(np.array_equal(np.sort(gal_ids), np.sort(zgal)),
          "FastSpecFit TARGETIDs are not the zpix galaxies")

    # DESIVAST VoidFinder.
    cap = truth["footprint"]["galactic_cap"]
    vf = d / f"DESIVAST_BGS_VOLLIM_VoidFinder_{cap}.fits"
    check(hdu_names(vf) == ["PRIMARY", "MAXIMALS", "HOLES"], f"VoidFinder HDUs {hdu_names(vf)}")
    mx = Table.read(vf, hdu="MAXIMALS")
    ho = Table.read(vf, hdu="HOLES")
    check(mx.colnames == ["X", "Y", "Z", "RADIUS", "VOID", "EDGE", "R", "RA", "DEC", "R_EFF",
                          "R_EFF_UNCERT"], f"MAXIMALS columns {mx.colnames}")
    check(ho.colnames == ["X", "Y", "Z", "RADIUS", "VOID"], f"HOLES columns {ho.colnames}")
    expect_dtype(mx, "MAXIMALS", ["VOID", "EDGE"], "i", 8)
    expect_dtype(mx, "MAXIMALS", ["X", "Y", "Z", "RADIUS", "R", "RA", "DEC"], "f", 8)
    check(set(np.asarray(ho["VOID"])) <= set(np.asarray(mx["VOID"])), "HOLES.VOID not in MAXIMALS")
    with fits.open(vf) as hdul:
        check(abs(hdul[0].header["OMEGAM"] - truth["config"]["omega_m"]) < 1e-12, "OMEGAM")

    # DESIVAST V2.
    for alg in ("REVOLVER", "VIDE", "ZOBOV"):
        path = d / f"DESIVAST_BGS_VOLLIM_V2_{alg}_{cap}.fits"
        check(hdu_names(path) == ["PRIMARY", "VOIDS", "ZONEVOID", "GALZONE"],
              f"{alg} HDUs {hdu_names(path)}")
        voids = Table.read(path, hdu="VOIDS")
        zv = Table.read(path, hdu="ZONEVOID")
        gz = Table.read(path, hdu="GALZONE")
        check(len(voids.colnames) == 19, f"{alg}: VOIDS has {len(voids.colnames)} columns")
        check(zv.colnames == ["ZONE", "VOID0", "VOID1"], f"{alg}: ZONEVOID {zv.colnames}")
        check(gz.colnames == ["GAL", "TARGET", "X", "Y", "Z", "ZONE", "DEPTH", "EDGE", "OUT"],
              f"{alg}: GALZONE {gz.colnames}")
        expect_dtype(gz, "GALZONE", ["GAL", "TARGET", "ZONE"], "i", 8)
        expect_dtype(voids, "VOIDS", ["RADIUS", "REDSHIFT", "RA", "DEC"], "f", 8)
        check(np.array_equal(np.asarray(zv["ZONE"]), np.arange(len(zv))), f"{alg}: ZONE ids")
        check(np.array_equal(np.sort(gz["TARGET"]), np.sort(gal_ids)), f"{alg}: GALZONE targets")
        v0 = np.asarray(zv["VOID0"])
        check(bool(np.all((v0 == -1) | ((v0 >= 0) & (v0 < len(voids))))), f"{alg}: VOID0 range")

    nspec = check_spectra(d, z)
    check_fitsio(d)

    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    print(f"astropy check passed: {len(z)} zcatalog rows, {len(gal_ids)} galaxies, "
          f"{nspec} spectra")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
