"""The astrolab Python package on real data (scripts/test builds the wheel,
installs it in a fresh virtual environment and runs this file).

Real inputs from $ASTROLAB_SHARED_DATA (with CI set, missing data fails):
the SDSS DR7 volume-limited galaxy catalog VAST ships (120,606 galaxies),
three DESI coadds with their redrock files. Peers: astropy for angular
separations and for reading the coadds' FITS arrays.
"""

import glob
import json
import os
import threading

import numpy as np
import pyarrow as pa
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
import astropy.units as u

import astrolab

DATA = os.environ.get("ASTROLAB_SHARED_DATA", os.path.join(os.path.dirname(__file__), "../../../../shared/data"))
DR7 = os.path.join(DATA, "voids", "vollim_dr7_cbp_102709.fits")
DESI = os.path.join(DATA, "desi")


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    if not os.path.exists(DR7):
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {DR7} is missing (ASTROLAB_SHARED_DATA)")
        pytest.skip("no shared data")
    root = tmp_path_factory.mktemp("astrolab")
    home = root / "home"
    # The same pipelines as `astrolab run`, from Python.
    r = astrolab.run("ingest", {"paths": [DR7] + sorted(glob.glob(f"{DESI}/redrock-*.fits"))}, root / "ingest", home=home)
    assert sorted((o["file"]["name"], o["file"]["rows_loaded"]) for o in r["outcomes"]) == [
        ("redrock-4-80613-thru20210324.fits", 1),
        ("redrock-special-dark-27247.fits", 1),
        ("redrock-test.fits", 3),
        ("vollim_dr7_cbp_102709.fits", 120606),
    ]
    r = astrolab.run("spectra-build", {"from": DESI}, root / "spectra", home=home)
    assert (r["built"], r["spectra"]) == (3, 5)
    return home


def test_cone_is_an_arrow_table_that_matches_astropy(home):
    store = astrolab.Store(home)
    t = store.cone(ra=180.0, dec=30.0, radius="1deg", table="galaxies")
    assert isinstance(t, pa.Table)
    assert t.schema.metadata == {b"table": b"galaxies"}
    assert t.num_rows == 66
    assert t.schema.field("ra").type == pa.float64()
    assert t.schema.field("row_index").type == pa.int64()
    # The peer: astropy's separations over the whole file.
    d = fits.getdata(DR7, 1)
    ra = np.asarray(d["ra"], dtype=np.float64)
    dec = np.asarray(d["dec"], dtype=np.float64)
    sep = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(180 * u.deg, 30 * u.deg)).arcsec
    inside = np.flatnonzero(sep <= 3600.0)
    rows = t.column("row_index").to_numpy()
    assert sorted(rows.tolist()) == sorted(inside.tolist())
    ours = t.column("sep_arcsec").to_numpy()
    assert np.all(np.diff(ours) >= 0), "nearest first"
    assert np.max(np.abs(ours - sep[rows])) < 1e-6
    # Nulls stay nulls (this catalog has no TARGETID).
    assert t.column("targetid").null_count == 66
    # With a filter, and a limit; a bare number is degrees.
    near = set(inside[np.asarray(d["z"])[inside] < 0.05].tolist())
    t2 = store.cone(180.0, 30.0, 1.0, table="galaxies", where="z < 0.05")
    assert set(t2.column("row_index").to_pylist()) == near and len(near) == 3
    t3 = store.cone(180.0, 30.0, 1.0, table="galaxies", where="z < 0.05", limit=2)
    assert t3.column("row_index").to_pylist() == t2.column("row_index").to_pylist()[:2]


def test_xmatch_and_sql(home):
    store = astrolab.Store(home)
    m = store.xmatch("galaxies", "galaxies", radius="1arcsec")
    assert m.num_rows == 120606
    assert m.column_names == ["a_id", "a_ra", "a_dec", "b_id", "b_ra", "b_dec", "sep_arcsec"]
    assert float(np.max(m.column("sep_arcsec").to_numpy())) == 0.0
    n = store.sql("SELECT COUNT(*) AS n, MIN(z) AS zmin FROM galaxies")
    assert n.to_pylist() == [{"n": 120606, "zmin": pytest.approx(float(np.min(fits.getdata(DR7, 1)["z"])), abs=1e-7)}]
    with pytest.raises(ValueError, match="only read-only statements"):
        store.sql("DELETE FROM galaxies")


def test_spectra_are_numpy_views_of_the_readers_buffers(home):
    store = astrolab.Store(home)
    ids = [39633345008634465, 39089837499744649, 39627866878511337, 616088619186127404, 39627866878514741]
    got = store.spectra(ids)
    assert [s.targetid for s in got] == ids
    for s in got:
        assert s.flux.dtype == np.float32 and s.ivar.dtype == np.float32 and s.mask.dtype == np.uint32
        assert s.wavelength.dtype == np.float64 and s.wavelength.shape == s.flux.shape == (7781,)
        # No copy: a view into the flat buffer the Rust reader filled.
        assert not s.flux.flags["OWNDATA"] and s.flux.base is not None
    # The peer: the coadd's own B arm, below where the R arm starts, is
    # the spectrum's first pixels exactly.
    for name, tid in [("coadd-4-80613-thru20210324.fits", ids[0]), ("coadd-sv3-dark-26065.fits", ids[2])]:
        with fits.open(os.path.join(DESI, name)) as h:
            row = list(h["FIBERMAP"].data["TARGETID"]).index(tid)
            bw = h["B_WAVELENGTH"].data
            k = int(np.sum(bw < h["R_WAVELENGTH"].data[0]))
            s = got[ids.index(tid)]
            # The store keeps DESI's nominal grid (3600 + 0.8 i Angstrom);
            # the file's float64 values carry its own rounding (5e-10 A).
            np.testing.assert_allclose(s.wavelength[:k], bw[:k], rtol=1e-12, atol=0)
            np.testing.assert_array_equal(s.flux[:k], h["B_FLUX"].data[row, :k].astype(np.float32))
            np.testing.assert_array_equal(s.ivar[:k], h["B_IVAR"].data[row, :k].astype(np.float32))
    assert store.spectrum(ids[1]).z == pytest.approx(0.007269671851219614, abs=0)
    # The flat layout: five spectra of 7781 pixels in one buffer each.
    b = store.spectra_batch(ids)
    assert b["flux"].shape == (5 * 7781,) and b["offsets"].tolist() == [i * 7781 for i in range(6)]
    assert b["flux"].base is not None  # the Rust buffer, not a copy
    assert sorted(b["targetid"].tolist()) == sorted(ids)
    assert len(b["grids"]) == 3 and sorted(set(b["grid_of"].tolist())) == [0, 1, 2]
    with pytest.raises(ValueError, match="no spectrum in the store for TARGETID 42"):
        store.spectra([ids[0], 42])
    with pytest.raises(ValueError, match="twice"):
        store.spectra([ids[0], ids[0]])


def test_long_calls_release_the_gil(home):
    # Two threads reading at once finish; with the GIL held by the first,
    # the second would only start after it (both still finish, so check the
    # calls overlap in time instead).
    store = astrolab.Store(home)
    spans = []

    def work():
        import time
        t0 = time.perf_counter()
        store.xmatch("galaxies", "galaxies", radius="1arcsec")
        spans.append((t0, time.perf_counter()))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    (a0, a1), (b0, b1) = sorted(spans)
    assert b0 < a1, "the second call started only after the first ended"


def test_a_pipeline_and_its_shards_give_the_same_bytes(home, tmp_path):
    params = {"ra": 180.0, "dec": 30.0, "radius": "2deg", "table": "galaxies"}
    whole = tmp_path / "whole"
    r = astrolab.run("query-cone", params, whole, home=home)
    assert r["rows"] == 187
    # The same run as plan + one shard + reduce (what a Ray task calls).
    steps = tmp_path / "steps"
    resolved = dict(params, output=str(steps / "cone.csv"), format="csv")
    n = astrolab.plan("query-cone", resolved, steps, tmp_path / "plan.json", home=home)
    assert n == 1
    receipt = astrolab.run_shard("query-cone", tmp_path / "plan.json", 0, tmp_path / "parts", home=home, threads=1)
    assert receipt["index"] == 0 and len(receipt["sha256"]) == 64
    r2 = astrolab.reduce("query-cone", tmp_path / "plan.json", [receipt], home=home)
    assert r2["rows"] == 187
    assert (whole / "cone.csv").read_bytes() == (steps / "cone.csv").read_bytes()
    result, manifest = astrolab.read_result(steps)
    assert result["rows"] == 187 and manifest["executor"] == "python"
    assert astrolab.read_result(whole)[1]["executor"] == "in-process"


def test_bad_input_is_named(home, tmp_path):
    with pytest.raises(ValueError, match="unknown pipeline"):
        astrolab.run("no-such-pipeline", {}, tmp_path / "x", home=home)
    with pytest.raises(ValueError, match="radius"):
        astrolab.Store(home).cone(180.0, 30.0, "1 parsec", table="galaxies")
    names = [p["name"] for p in astrolab.pipelines()]
    assert "anomalies-score" in names and "voids-classify" in names
    assert astrolab.build_id().startswith("astrolab ")
