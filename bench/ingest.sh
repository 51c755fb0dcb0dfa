#!/usr/bin/env bash
# Ingest benchmark: a 5 M-row zcatalog-like FITS file into SQLite and into
# PostgreSQL with `astrolab ingest`, and the same file into the same
# PostgreSQL with the lab's Python approach (astropy + psycopg COPY), in one
# run. Prints rows/s and the ratios.
#
# usage: bench/ingest.sh [ROWS]   (needs python3 with astropy, numpy, psycopg;
#                                  BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/astrolab_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-5000000}
pg=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/astrolab_bench}
data=bench/data
mkdir -p "$data"
file="$data/zcat$rows.fits"
[ -f "$file" ] || python3 bench/make_zcatalog.py --rows "$rows" --out "$file"
cargo build --release -q
bin=target/release/astrolab
# Stores are kept for bench/cone.sh and bench/xmatch.sh.
tmp="$data/run"
rm -rf "$tmp"
mkdir -p "$tmp"

secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
now() { date +%s.%N; }

# SQLite.
t0=$(now); $bin --home "$tmp/sqlite" ingest "$file" >/dev/null; t1=$(now)
sq=$(secs "$t0" "$t1")
# PostgreSQL (fresh database).
dbname=${pg##*/}
admin=${pg%/*}/postgres
psql "$admin" -qc "DROP DATABASE IF EXISTS $dbname" && psql "$admin" -qc "CREATE DATABASE $dbname"
$bin --database-url "$pg" db migrate >/dev/null
t0=$(now); $bin --database-url "$pg" ingest "$file" >/dev/null; t1=$(now)
pgs=$(secs "$t0" "$t1")
# Peer: the lab's loader shape.
peer=$(python3 bench/peer_copy_loader.py "$pg" "$file")
peer_rate=$(echo "$peer" | sed -E 's/.*= ([0-9,]+) rows\/s.*/\1/' | tr -d ,)
python3 - "$rows" "$sq" "$pgs" "$peer_rate" <<'PY'
import sys
n, sq, pg, peer = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"rows: {n}")
print(f"astrolab ingest -> SQLite:     {sq:7.2f} s  {n/sq:12,.0f} rows/s   (target >= 500,000)")
print(f"astrolab ingest -> PostgreSQL: {pg:7.2f} s  {n/pg:12,.0f} rows/s   (target >= 1,000,000)")
print(f"peer python COPY -> PostgreSQL:          {peer:12,.0f} rows/s")
print(f"ratio astrolab/peer (PostgreSQL): {n/pg/peer:.2f}x")
PY
