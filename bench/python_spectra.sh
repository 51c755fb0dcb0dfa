#!/usr/bin/env bash
# Issue 18: reading 10 k spectra by TARGETID into NumPy from the Python
# package, against the Rust batch readers, on the same store and the same
# TARGETIDs in one run (target: Python within 1.2x of Rust).
#
# The store: 100 k spectra in 200 Parquet files (bench/spectra_access.sh's
# builder, crates/astrolab-store/examples/spectra_access.rs build), kept in
# bench/data/spectra_store. Rust: crates/astrolab-pipeline/examples/
# fetch_spectra.rs (fetch_spectra, what the package calls, and the flat
# read_many_into batch reader). Python: astrolab.Store.spectra(ids) from the
# release wheel in a virtual environment (target/bench-venv). Both page-cache
# warm (one untimed pass), median of REPEATS passes, one process each.
#
# usage: bench/python_spectra.sh [N=10000] [REPEATS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
repeats=${2:-5}
home=bench/data/spectra_store
cargo build --release -q -p astrolab-store --example spectra_access
cargo build --release -q -p astrolab-pipeline --example fetch_spectra
target=${CARGO_TARGET_DIR:-$PWD/target}
[ -f "$home/astrolab.db" ] || "$target/release/examples/spectra_access" build --home "$home"
python3 -m pip install --quiet --disable-pip-version-check maturin==1.16.0
python3 -m maturin build --quiet --release -m crates/astrolab-py/Cargo.toml -o "$target/bench-wheels" >&2
venv=$target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall "$target"/bench-wheels/astrolab-*.whl
ids=$(mktemp)
"$venv/bin/python" - "$home" "$n" "$ids" <<'PY'
import random, sys, astrolab
home, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
all_ids = astrolab.Store(home).sql("SELECT target_id FROM spectra_index").column(0).to_pylist()
random.seed(18)
open(out, "w").write("\n".join(str(t) for t in random.sample(all_ids, n)) + "\n")
PY
rust=$("$target/release/examples/fetch_spectra" "$home" "$ids" "$repeats")
py=$("$venv/bin/python" - "$home" "$ids" "$repeats" <<'PY'
import statistics, sys, time, astrolab
home, ids_file, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
ids = [int(l) for l in open(ids_file)]
store = astrolab.Store(home)
times = []
for p in range(repeats + 1):
    t0 = time.perf_counter()
    got = store.spectra(ids)
    dt = time.perf_counter() - t0
    assert len(got) == len(ids) and got[0].flux.dtype.name == "float32"
    if p > 0:
        times.append(dt)
print(f"{statistics.median(times):.4f}")
PY
)
echo "rust: $rust"
echo "python: $py"
python3 - "$rust" "$py" <<'PY'
import sys
r = sys.argv[1].split()
fetch, batch, py = float(r[1]), float(r[3]), float(sys.argv[2])
print(f"{r[5]} spectra: Rust fetch_spectra {fetch:.3f} s, Rust read_many_into {batch:.3f} s, Python Store.spectra {py:.3f} s")
print(f"ratio Python / Rust fetch_spectra = {py / fetch:.2f}; Python / read_many_into = {py / batch:.2f} (target <= 1.2)")
PY
rm -f "$ids"
