#!/usr/bin/env bash
# Crossmatch benchmark: 500 k targets x the 5 M-row catalog at 1 arcsec.
# astrolab query xmatch --all-pairs on SQLite and PostgreSQL, and q3c_join on
# the same PostgreSQL, in one run; prints times, the ratio, and whether the
# pair sets are identical.
#
# usage: bench/xmatch.sh [SQLITE_HOME [PG_URL]]   (after bench/ingest.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
home=${1:-bench/data/run/sqlite}
pg=${2:-${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/astrolab_bench}}
targets=bench/data/targets500k.fits
[ -f "$targets" ] || python3 bench/make_zcatalog.py --rows 5000000 --out bench/data/zcat5000000.fits --xmatch 500000 --xmatch-out "$targets"
cargo build --release -q
bin=target/release/astrolab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
t0=$(now); $bin --home "$home" query xmatch "$targets" zcatalog --radius 1arcsec --all-pairs --format csv -o "$tmp/sqlite.csv"; t1=$(now)
t2=$(now); $bin --database-url "$pg" query xmatch "$targets" zcatalog --radius 1arcsec --all-pairs --format csv -o "$tmp/pg.csv"; t3=$(now)
peer=$(python3 bench/peer_q3c_join.py "$pg" "$targets" "$tmp/peer.csv")
python3 - "$t0" "$t1" "$t2" "$t3" "$peer" "$tmp" <<'PY'
import csv, sys
t0, t1, t2, t3 = map(float, sys.argv[1:5]); peer = sys.argv[5]; tmp = sys.argv[6]
def pairs(p):
    with open(p) as f:
        r = csv.DictReader(f)
        return {(row["a_id"], row["b_id"]) for row in r}
ps, pp, pq = pairs(f"{tmp}/sqlite.csv"), pairs(f"{tmp}/pg.csv"), pairs(f"{tmp}/peer.csv")
tq = float(peer.split("seconds=")[1])
print(f"astrolab xmatch (SQLite):     {t1-t0:7.3f} s  {len(ps)} pairs   (target <= 1.5 s)")
print(f"astrolab xmatch (PostgreSQL): {t3-t2:7.3f} s  {len(pp)} pairs")
print(f"peer q3c_join:                {tq:7.3f} s  {len(pq)} pairs")
print(f"ratio astrolab(SQLite)/q3c_join = {(t1-t0)/tq:.2f}, astrolab(PostgreSQL)/q3c_join = {(t3-t2)/tq:.2f}")
print(f"pairs identical to q3c_join: SQLite {ps == pq}, PostgreSQL {pp == pq}; only ours {len(ps - pq)}, only q3c {len(pq - ps)}")
PY
