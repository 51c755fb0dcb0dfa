"""Checks a release folder written by `astrolab publish` with the field's
own readers (called by tests/publish.rs; every check asserts exact values).

    python publish_check.py RELEASE EXPECT.json

EXPECT.json (written by the Rust test):
    table          the sky table's name (catalog.fits EXTNAME in lower case)
    nrows          its rows
    id_column      the row id column (e.g. TARGETID)
    fits_units     {column: unit string astropy gives for the FITS catalog}
    cds_units      {column: CDS unit string, "---" for none}
    header         {keyword: value} of catalog.fits' primary header
    cone           {"ra", "dec", "radius_arcsec", "ids"}: astrolab's own cone search
    zenodo_schema  path of Zenodo's legacy deposit JSON schema
    other_tables   [name, ...] tables without sky positions (no HATS)
"""

import copy
import json
import sys
import warnings
from pathlib import Path

import numpy as np


def check_fits(rel, e):
    from astropy.io import fits
    from astropy.table import Table

    hdr = fits.getheader(rel / "catalog.fits", 0)
    for k, v in e["header"].items():
        assert hdr[k] == v, f"catalog.fits PRIMARY {k}: {hdr[k]!r} != {v!r}"
    with warnings.catch_warnings():
        # log(solMass) is a FITS 4.0 unit that astropy's FITS parser does not know.
        warnings.simplefilter("ignore")
        t = Table.read(rel / "catalog.fits", hdu=e["table"].upper())
    assert len(t) == e["nrows"], (len(t), e["nrows"])
    for c, u in e["fits_units"].items():
        got = "" if t[c].unit is None else t[c].unit.to_string()
        assert got == u, f"FITS {c}: unit {got!r} != {u!r}"
    th = fits.getheader(rel / "catalog.fits", e["table"].upper())
    for i, c in enumerate(t.colnames, start=1):
        assert th[f"TTYPE{i}"] == c and th.get(f"TCOMM{i}"), f"FITS {c}: no description (TCOMM{i})"
    print(f"fits: {len(t)} rows, units and header ok")
    return t


def check_cds(rel, e, t):
    from astropy.io import ascii
    import astropy.units as u

    cds = ascii.read(
        str(rel / "cds" / f"{e['table']}.dat"),
        format="cds",
        readme=str(rel / "cds" / "ReadMe"),
    )
    assert cds.colnames == t.colnames, (cds.colnames, t.colnames)
    assert len(cds) == len(t)
    for c in t.colnames:
        want = e["cds_units"][c]
        got = cds[c].unit
        if want == "---":
            assert got is None, f"CDS {c}: unit {got} for ---"
        else:
            assert got == u.Unit(want, format="cds"), f"CDS {c}: {got} != {want}"
        a, b = np.asarray(t[c]), cds[c]
        if a.dtype.kind == "f":
            bf = np.ma.filled(b.astype(float), np.nan)
            assert np.array_equal(a.astype(float), bf, equal_nan=True), f"CDS {c}: values differ"
        elif a.dtype.kind == "b":
            assert np.array_equal(a.astype(int), np.asarray(b)), f"CDS {c}: values differ"
        elif a.dtype.kind in "US":
            # FITS text reads as bytes (dtype S) padded with blanks, which
            # are not significant (FITS 4.0 Sect. 7.3.3.1); the CDS table's as str.
            # A blank CDS field is a null (masked): the empty text.
            text = lambda v: [
                "" if x is np.ma.masked else (x.decode() if isinstance(x, bytes) else str(x)).rstrip(" ")
                for x in v
            ]
            assert text(a) == text(b), f"CDS {c}: values differ"
        else:
            assert np.array_equal(a, np.asarray(b)), f"CDS {c}: values differ"
    print(f"cds: {len(cds)} rows, {len(cds.colnames)} columns equal to the FITS catalog, units ok")
    for other in e["other_tables"]:
        o = ascii.read(str(rel / "cds" / f"{other}.dat"), format="cds", readme=str(rel / "cds" / "ReadMe"))
        from astropy.table import Table
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = Table.read(rel / "catalog.fits", hdu=other.upper())
        assert o.colnames == f.colnames and len(o) == len(f), other
        print(f"cds: {other}: {len(o)} rows")


def check_hats(rel, e, t):
    import hats
    from hats.io.validation import is_valid_catalog
    from hats.pixel_math.spatial_index import compute_spatial_index

    path = rel / "hats" / e["table"]
    assert is_valid_catalog(path, strict=True), f"hats: {path} is not a valid catalog (strict)"
    cat = hats.read_hats(path)
    assert cat.catalog_info.total_rows == e["nrows"]
    import pyarrow.parquet as pq

    data = pq.read_table(path / "dataset").to_pandas()
    assert len(data) == e["nrows"]
    # The position columns as the catalog's properties name them (RA/DEC in
    # a FITS VAC, ra/dec in a CSV table).
    ra_col, dec_col = cat.catalog_info.ra_column, cat.catalog_info.dec_column
    want = compute_spatial_index(data[ra_col].to_numpy(), data[dec_col].to_numpy())
    assert np.array_equal(data["_healpix_29"].to_numpy().astype(np.int64), want.astype(np.int64)), "hats: _healpix_29 differs from hats' own"
    for f in sorted((path / "dataset").rglob("Npix=*.parquet")):
        h = pq.read_table(f, columns=["_healpix_29"])["_healpix_29"].to_numpy()
        assert np.all(np.diff(h.astype(np.int64)) >= 0), f"{f}: not sorted by _healpix_29"
    for other in e["other_tables"]:
        assert not (rel / "hats" / other).exists(), f"hats/{other} written for a table without RA/DEC"
    print(f"hats: valid (strict), {len(cat.get_healpix_pixels())} partitions, _healpix_29 equal to hats'")


def check_lsdb(rel, e):
    import lsdb

    path = rel / "hats" / e["table"]
    opener = getattr(lsdb, "open_catalog", None) or lsdb.read_hats
    cat = opener(path)
    full = cat.compute()
    assert len(full) == e["nrows"], (len(full), e["nrows"])
    c = e["cone"]
    res = cat.cone_search(c["ra"], c["dec"], c["radius_arcsec"]).compute()
    got = sorted(int(x) for x in res[e["id_column"]])
    assert got == sorted(c["ids"]), f"lsdb cone: {got} != astrolab {sorted(c['ids'])}"
    print(f"lsdb: {opener.__name__} {len(full)} rows; cone search {len(got)} rows, the same ids as astrolab")


def repaired_zenodo_schema(path):
    schema = json.loads(Path(path).read_text())
    s = copy.deepcopy(schema)
    for k in ("upload_type", "publication_type", "image_type"):
        p = s["properties"][k]
        if isinstance(p.get("type"), dict):
            inner = p.pop("type")
            p["enum"] = inner["enum"]
            p["type"] = inner["type"]
        p.pop("additionalProperties", None)
    s["properties"]["version"] = {"type": "string", "description": "Version of the resource."}
    return s


def check_zenodo(rel, e):
    import jsonschema

    doc = json.loads((rel / "zenodo.json").read_text())
    assert set(doc) == {"metadata"}, set(doc)
    m = doc["metadata"]
    schema = repaired_zenodo_schema(e["zenodo_schema"])
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(m)
    # Required by the deposit API (Zenodo REST API docs, "Deposit metadata").
    for k in ("upload_type", "publication_date", "title", "creators", "description", "access_right"):
        assert m.get(k), f"zenodo: {k} missing"
    assert m["upload_type"] == "dataset" and m["access_right"] == "open"
    for c in m["creators"]:
        assert c["name"]
    # A document the schema must refuse: an unknown key.
    bad = dict(m, not_a_zenodo_field="x")
    try:
        jsonschema.Draft4Validator(schema).validate(bad)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the Zenodo schema accepted an unknown field")
    print("zenodo: valid against the legacy deposit schema")


def main():
    rel = Path(sys.argv[1])
    e = json.loads(Path(sys.argv[2]).read_text())
    t = check_fits(rel, e)
    check_cds(rel, e, t)
    check_hats(rel, e, t)
    check_lsdb(rel, e)
    check_zenodo(rel, e)
    print("publish_check: all ok")


if __name__ == "__main__":
    main()
