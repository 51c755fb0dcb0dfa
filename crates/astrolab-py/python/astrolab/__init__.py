"""astrolab from Python: the lab's store, sky queries, spectra and pipelines.

The same library calls as the `astrolab` command and server (a Rust
extension, `astrolab._astrolab`), so the same parameters give the same bytes
whichever door is used, and the store applies the same access rules.

>>> import astrolab
>>> store = astrolab.Store("astrolab-data")          # or Store(database_url="postgres://...")
>>> near = store.cone(ra=150.1, dec=2.2, radius="0.5deg", table="zcatalog")
>>> near.to_pandas()                                 # a pyarrow.Table
>>> s = store.spectrum(near["targetid"][0].as_py())  # NumPy arrays
>>> astrolab.run("anomalies-score", {"shard_size": 1000}, "runs/score", home="astrolab-data")

Every call that reads or computes releases the GIL, so threads of a
notebook or of a Ray worker run side by side.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa

from . import _astrolab

__version__: str = _astrolab.__version__

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "Store",
    "Spectrum",
    "run",
    "plan",
    "run_shard",
    "reduce",
    "read_result",
    "pipelines",
    "build_id",
    "__version__",
]


def _arrow(cols: Dict[str, Any]) -> pa.Table:
    """The extension's column dictionary as an Arrow table (numbers are
    NumPy arrays handed to Arrow without a copy; nulls from the mask)."""
    arrays = []
    for name in cols["columns"]:
        kind, values, valid = cols["data"][name]
        mask = None if bool(np.all(valid)) else ~valid
        if kind == "int64":
            arrays.append(pa.array(values, type=pa.int64(), mask=mask))
        elif kind == "float64":
            arrays.append(pa.array(values, type=pa.float64(), mask=mask))
        elif kind == "bool":
            arrays.append(pa.array(values, type=pa.bool_()))
        elif kind == "string":
            arrays.append(pa.array(values, type=pa.string()))
        else:
            arrays.append(pa.nulls(len(values)))
    return pa.Table.from_arrays(arrays, names=list(cols["columns"]))


@dataclass(frozen=True)
class Spectrum:
    """One spectrum from the spectral store (observed frame)."""

    targetid: int
    z: float
    ra: float
    dec: float
    #: Angstrom, float64.
    wavelength: np.ndarray
    #: 1e-17 erg/s/cm^2/Angstrom, float32.
    flux: np.ndarray
    #: Inverse variance of the flux, float32.
    ivar: np.ndarray
    #: The pipeline's mask bits, uint32 (0 = good).
    mask: np.ndarray


class Store:
    """The lab's store: the SQLite file of a data home (default
    `$ASTROLAB_HOME`, else ./astrolab-data) or a PostgreSQL database
    (`database_url`, default `$ASTROLAB_DATABASE_URL`)."""

    def __init__(self, home: Optional[PathLike] = None, database_url: Optional[str] = None):
        self._s = _astrolab.Store(None if home is None else os.fspath(home), database_url)
        #: Remarks of the last cone search (which table was searched without
        #: `table`, why nothing was found).
        self.notes: List[str] = []

    def __repr__(self) -> str:
        return repr(self._s)

    def cone(
        self,
        ra: float,
        dec: float,
        radius: Union[str, float],
        table: Optional[str] = None,
        where: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> pa.Table:
        """Rows of a sky table within `radius` of (ra, dec) in degrees,
        nearest first, with `sep_arcsec`. `radius` with a unit ("1deg",
        "30arcmin", "5arcsec"), a bare number is degrees; `where` is a SQL
        condition on the table's columns."""
        r = radius if isinstance(radius, str) else f"{float(radius)!r}deg"
        name, notes, cols = self._s.cone(ra, dec, r, table, where, limit)
        self.notes = list(notes)
        return _arrow(cols).replace_schema_metadata({"table": name})

    def xmatch(
        self,
        a: str,
        b: str,
        radius: str = "1arcsec",
        direction: str = "a-to-b",
        all_pairs: bool = False,
    ) -> pa.Table:
        """Crossmatch two store tables or FITS/CSV files with ra/dec: the
        nearest partner of each row of `a` (`direction="b-to-a"` the other
        way), or every pair within `radius` with `all_pairs`."""
        return _arrow(self._s.xmatch(a, b, radius, direction, all_pairs))

    def sql(self, query: str) -> pa.Table:
        """One read-only SQL statement."""
        return _arrow(self._s.sql(query))

    def spectra(self, targetids: Sequence[int]) -> List[Spectrum]:
        """Spectra by TARGETID, in the order asked. Each array is a view
        into one flat buffer the batch reader filled (no copy per
        spectrum; spectra of one file share one wavelength array).
        ValueError names a TARGETID without a spectrum or asked twice."""
        b = self.spectra_batch(targetids)
        pos = {int(t): i for i, t in enumerate(b["targetid"].tolist())}
        off = b["offsets"].tolist()
        grid_of = b["grid_of"].tolist()
        ra, dec, z = b["ra"].tolist(), b["dec"].tolist(), b["z"].tolist()
        flux, ivar, mask, grids = b["flux"], b["ivar"], b["mask"], b["grids"]
        out = []
        for t in targetids:
            i = pos[int(t)]
            a, e = off[i], off[i + 1]
            out.append(Spectrum(int(t), z[i], ra[i], dec[i], grids[grid_of[i]], flux[a:e], ivar[a:e], mask[a:e]))
        return out

    def spectra_batch(self, targetids: Sequence[int]) -> Dict[str, Any]:
        """Spectra by TARGETID as the pipelines' batch reader lays them out,
        for vectorised work: `targetid`, `ra`, `dec`, `z` (one per spectrum,
        by file then row), `offsets` (spectrum i is `offsets[i]:offsets[i +
        1]` of the flat `flux`, `ivar`, `mask`), `grid_of` and `grids`
        (spectrum i's wavelength is `grids[grid_of[i]]`). NumPy arrays that
        took over the reader's buffers (no copy)."""
        return self._s.spectra_batch([int(t) for t in targetids])

    def spectrum(self, targetid: int) -> Spectrum:
        """One spectrum by TARGETID."""
        return self.spectra([targetid])[0]


def _home(home: Optional[PathLike]) -> Optional[str]:
    return None if home is None else os.fspath(home)


def run(
    pipeline: str,
    params: Dict[str, Any],
    out_dir: PathLike,
    home: Optional[PathLike] = None,
    database_url: Optional[str] = None,
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Runs a pipeline (`pipelines()` lists them; `params` as for `astrolab
    run`) in this process: outputs, result.json and the provenance manifest
    (ro-crate-metadata.json) in `out_dir`, new or empty. Returns the typed
    result."""
    out = _astrolab.run(pipeline, json.dumps(params), os.fspath(out_dir), _home(home), database_url, threads)
    return json.loads(out)


def plan(
    pipeline: str,
    params: Dict[str, Any],
    out_dir: PathLike,
    plan_path: PathLike,
    home: Optional[PathLike] = None,
    database_url: Optional[str] = None,
) -> int:
    """Plans a run as shards for a cluster (`params` resolved, fixed output
    paths included, as `astrolab shard plan` takes them); returns the number
    of shards."""
    return _astrolab.plan(pipeline, json.dumps(params), os.fspath(out_dir), os.fspath(plan_path), _home(home), database_url)


def run_shard(
    pipeline: str,
    plan_path: PathLike,
    index: int,
    parts_dir: PathLike,
    home: Optional[PathLike] = None,
    database_url: Optional[str] = None,
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Runs one shard of a plan; its result goes to `parts_dir` (temporary
    name, then renamed). Returns the receipt: index, path, bytes, sha256."""
    out = _astrolab.run_shard(pipeline, os.fspath(plan_path), index, os.fspath(parts_dir), _home(home), database_url, threads)
    return json.loads(out)


def reduce(
    pipeline: str,
    plan_path: PathLike,
    receipts: Sequence[Dict[str, Any]],
    home: Optional[PathLike] = None,
    database_url: Optional[str] = None,
    executor: str = "python",
) -> Dict[str, Any]:
    """Checks every shard's result against its receipt and writes the run's
    outputs and manifest into the plan's output directory. Returns the
    typed result."""
    out = _astrolab.reduce(pipeline, os.fspath(plan_path), json.dumps(list(receipts)), _home(home), database_url, executor)
    return json.loads(out)


def read_result(out_dir: PathLike) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """A finished run's typed result (result.json) and its manifest
    (astrolab's own record inside ro-crate-metadata.json)."""
    d = os.fspath(out_dir)
    with open(os.path.join(d, "result.json")) as f:
        result = json.load(f)
    with open(os.path.join(d, "ro-crate-metadata.json")) as f:
        crate = json.load(f)
    run = next(e for e in crate["@graph"] if e.get("@type") == "CreateAction")
    return result, json.loads(run["astrolabManifest"])


def pipelines() -> List[Dict[str, Any]]:
    """The pipelines a run can name, with their parameters."""
    return json.loads(_astrolab.pipelines_json())


def build_id() -> str:
    """This build's identity (version, commit, profile)."""
    return _astrolab.build_id()
