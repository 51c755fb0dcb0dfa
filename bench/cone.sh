#!/usr/bin/env bash
# Cone-search benchmark: 200 random centres, 1 degree, on the 5 M-row
# catalog loaded by bench/ingest.sh: astrolab on SQLite, astrolab on
# PostgreSQL (q3c path and HEALPix path), and q3c_radial_query from Python
# on the same PostgreSQL table, in one run. Prints p50/p99 and ratios.
#
# usage: bench/cone.sh [SQLITE_HOME [PG_URL]]   (run bench/ingest.sh first: it leaves
#        the SQLite home in bench/data/run/sqlite and the PostgreSQL database loaded)
set -euo pipefail
cd "$(dirname "$0")/.."
home=${1:-bench/data/run/sqlite}
pg=${2:-${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/astrolab_bench}}
cargo build --release -q --example cone_bench -p astrolab-store
ex=target/release/examples/cone_bench
centres=$(mktemp)
python3 -c "
import numpy as np
r = np.random.default_rng(7)
ra = r.uniform(0, 360, 200); dec = np.degrees(np.arcsin(r.uniform(np.sin(np.radians(-24)), np.sin(np.radians(89)), 200)))
print('\n'.join(f'{a:.6f} {d:.6f}' for a, d in zip(ra, dec)))" > "$centres"
a=$($ex --home "$home" --centres "$centres")
b=$($ex --database-url "$pg" --centres "$centres")
c=$($ex --database-url "$pg" --centres "$centres" --no-q3c)
p=$(python3 bench/peer_q3c_cone.py "$pg" "$centres")
echo "astrolab sqlite:          $a"
echo "astrolab postgres (q3c):  $b"
echo "astrolab postgres (hpx):  $c"
echo "peer:                     $p"
python3 - "$a" "$b" "$c" "$p" <<'PY'
import sys
def p50(s): return float(s.split('p50_ms=')[1].split()[0])
a, b, c, p = (p50(x) for x in sys.argv[1:])
print(f"p50 ratio astrolab-postgres(q3c)/peer = {b/p:.2f}  (target <= 1.2)")
print(f"p50 ratio astrolab-postgres(hpx)/peer = {c/p:.2f}")
print(f"p50 astrolab sqlite = {a:.2f} ms (target <= 20 ms)")
PY
rm -f "$centres"
