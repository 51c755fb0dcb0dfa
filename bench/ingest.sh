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

# SQLite: BENCH_REPEATS fresh stores (default 3; the machine is noisy),
# median reported, all printed; the last store is kept.
sq_all=()
for _ in $(seq "${BENCH_REPEATS:-3}"); do
  rm -rf "$tmp/sqlite"
  t0=$(now); $bin --home "$tmp/sqlite" ingest "$file" >/dev/null; t1=$(now)
  sq_all+=("$(secs "$t0" "$t1")")
done
echo "astrolab ingest -> SQLite, each run: ${sq_all[*]} s"
sq=$(printf '%s\n' "${sq_all[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
# SQLite's own ceiling on this machine: the engine copying the same rows
# table to table inside the same database file (no client, no binding, no
# FITS), then building the same indexes, in one transaction with the same
# settings our bulk load uses (16 KiB pages, rollback journal, 8 MiB page
# cache during the load, 2 sort threads).
sqdb="$tmp/sqlite/astrolab.db"
sq_index_sql=$(sqlite3 "$sqdb" "SELECT replace(replace(sql, ' ON zcatalog', ' ON ceiling_zcatalog'), 'INDEX ', 'INDEX ceiling_') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'zcatalog' AND sql IS NOT NULL" | sed 's/$/;/')
sqlite3 "$sqdb" "CREATE TABLE ceiling_zcatalog AS SELECT * FROM zcatalog WHERE 0"
cat "$sqdb" >/dev/null # page cache warm, as our ingest's input was
t0=$(now)
sqlite3 "$sqdb" <<SQL >/dev/null
PRAGMA journal_mode=DELETE; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8192; PRAGMA threads=2;
BEGIN;
INSERT INTO ceiling_zcatalog SELECT * FROM zcatalog;
$sq_index_sql
COMMIT;
PRAGMA journal_mode=WAL;
SQL
t1=$(now)
sq_ceil=$(secs "$t0" "$t1")
sqlite3 "$sqdb" "DROP TABLE ceiling_zcatalog"
# PostgreSQL (fresh database).
dbname=${pg##*/}
admin=${pg%/*}/postgres
psql "$admin" -qc "DROP DATABASE IF EXISTS $dbname" && psql "$admin" -qc "CREATE DATABASE $dbname"
$bin --database-url "$pg" db migrate >/dev/null
t0=$(now); $bin --database-url "$pg" ingest "$file" >/dev/null; t1=$(now)
pgs=$(secs "$t0" "$t1")
# The server's own ceiling on this machine: PostgreSQL reading the same rows
# from a local binary COPY file, no client involved (needs a superuser URL
# and a server on this machine), into a bare table and into one with the
# HEALPix index.
ceiling_file=/tmp/astrolab-bench-ceiling.bin
psql "$pg" -qc "COPY (SELECT * FROM zcatalog) TO '$ceiling_file' (FORMAT binary)"
ceil() { # $1 = 1: with the hpx index
  psql "$pg" -qc "DROP TABLE IF EXISTS bench_ceiling" -c "CREATE TABLE bench_ceiling (LIKE zcatalog)" >/dev/null
  if [ "$1" = 1 ]; then psql "$pg" -qc "CREATE INDEX ON bench_ceiling (hpx)" >/dev/null; fi
  local t0 t1
  t0=$(now); psql "$pg" -qc "COPY bench_ceiling FROM '$ceiling_file' (FORMAT binary)" >/dev/null; t1=$(now)
  secs "$t0" "$t1"
}
ceil_bare=$(ceil 0)
ceil_idx=$(ceil 1)
psql "$pg" -qc "DROP TABLE IF EXISTS bench_ceiling"
rm -f "$ceiling_file"
# Peer: the lab's loader shape.
peer=$(python3 bench/peer_copy_loader.py "$pg" "$file")
peer_rate=$(echo "$peer" | sed -E 's/.*= ([0-9,]+) rows\/s.*/\1/' | tr -d ,)
python3 - "$rows" "$sq" "$pgs" "$peer_rate" "$ceil_bare" "$ceil_idx" "$sq_ceil" <<'PY'
import sys
n, sq, pg, peer = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
cb, ci, sc = float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
print(f"rows: {n}")
print(f"astrolab ingest -> SQLite (median): {sq:7.2f} s  {n/sq:12,.0f} rows/s   (target >= 500,000)")
print(f"astrolab ingest -> PostgreSQL: {pg:7.2f} s  {n/pg:12,.0f} rows/s   (target >= 1,000,000)")
print(f"peer python COPY -> PostgreSQL:          {peer:12,.0f} rows/s")
print(f"ratio astrolab/peer (PostgreSQL): {n/pg/peer:.2f}x")
print(f"ceiling: server-side COPY of the same rows, no client: {n/cb:12,.0f} rows/s bare table, {n/ci:12,.0f} rows/s with the hpx index")
print(f"ceiling: SQLite copying the same rows table to table and building the same indexes, no client: {n/sc:12,.0f} rows/s ({sc:.2f} s; ours / ceiling = {sc/sq:.2f})")
PY
