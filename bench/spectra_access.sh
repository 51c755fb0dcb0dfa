#!/usr/bin/env bash
# Issue 3 benchmark 2: spectrum by TARGETID from a store of 100 k spectra.
# Builds (once) 200 spectra Parquet files x 500 spectra registered in a
# SQLite store (crates/astrolab-store/examples/spectra_access.rs build), then
# in one run: astrolab's 1000 random single lookups (locate_spectra + open +
# read_rows of one row; p50/p99) and one batch of 10 k random TARGETIDs
# (locate_spectra, one open and one read_rows per file; spectra/s), and the
# peer on the same TARGETIDs: python sqlite3 on the same index for the file,
# then pq.read_table(path, filters=[("target_id", "=", t)]) (and, for the
# batch, one filtered read_table per file with "in"). Page cache warm for
# both (every file read before timing).
#
# The peer decodes a whole 500-spectra row group per lookup (~0.15 s), so it
# times the first PEER_LOOKUPS (default 200) of the same 1000 TARGETIDs.
#
# Both sides are pinned to one CPU with taskset (when present; PIN=0 turns
# that off): astrolab reads on one thread, and pyarrow would otherwise decode
# columns on both cores of this machine.
#
# The batch call for pipelines, read_many_into (one SpectraBatch refilled
# by each batch), is timed twice: inside `measure` (pinned, one core, one
# thread) and again unpinned in a fresh process (`batch-call`, rayon on both
# cores) on the same batch; each time the first batch (fresh memory) and the
# median of 4 new random batches into the same memory (steady state). The
# load average is printed with the figures.
#
# Then the zero-copy read, map_many (hot copies mapped read-only, views into
# the page cache), against the copy, each in its own fresh process,
# unpinned (`touch-call`): the same batch made and then every value touched
# (per spectrum the sum of flux * ivar where mask is 0), since a mapped
# batch pays its page faults at the first touch.
#
# usage: bench/spectra_access.sh [HOME]   (default bench/data/spectra_store;
#        delete it to rebuild)
set -euo pipefail
cd "$(dirname "$0")/.."
home=${1:-bench/data/spectra_store}
peer_n=${PEER_LOOKUPS:-200}
cargo build --release -q -p astrolab-store --example spectra_access
ex=target/release/examples/spectra_access
pin=""
if [ "${PIN:-1}" != 0 ] && command -v taskset > /dev/null; then pin="taskset -c 1"; fi

if [ ! -f "$home/astrolab.db" ]; then
    $ex build --home "$home" --files 200 --per-file 500 --threads 2
fi
# Hot copies (uncompressed, memory-mapped; 3.2x the Parquet bytes) for the
# read_many batch; rebuilt when a Parquet file changed.
$ex hot --home "$home"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
a=$($pin $ex measure --home "$home" --lookups 1000 --batch 10000 --seed 7 \
    --targets-out "$tmp/singles.txt" --batch-out "$tmp/batch.txt")
p=$($pin python3 - "$home/astrolab.db" "$tmp/singles.txt" "$tmp/batch.txt" "$peer_n" <<'PY'
import sqlite3, sys, time
from collections import defaultdict
import numpy as np
import pyarrow.parquet as pq
db, singles, batch = sys.argv[1:4]
con = sqlite3.connect(db)
sql = ("SELECT f.path, i.row_index FROM spectra_index i JOIN spectra_files f "
       "ON f.spectra_file_id = i.spectra_file_id WHERE i.target_id = ?")
paths = [r[0] for r in con.execute("SELECT path FROM spectra_files")]
for p in paths:  # page cache warm, as on astrolab's side
    with open(p, "rb") as fh:
        while fh.read(1 << 24):
            pass
def one(t):
    path, _ = con.execute(sql, (t,)).fetchone()
    tab = pq.read_table(path, filters=[("target_id", "=", t)])
    assert tab.num_rows == 1 and tab["target_id"][0].as_py() == t
    return tab["flux"].combine_chunks().flatten().to_numpy()
ids = [int(x) for x in open(singles)][: int(sys.argv[4])]
one(ids[0])  # warm-up, not counted
ms = []
for t in ids:
    t0 = time.perf_counter()
    one(t)
    ms.append((time.perf_counter() - t0) * 1e3)
ms.sort()
pc = lambda q: ms[round((len(ms) - 1) * q)]
bids = [int(x) for x in open(batch)]
t0 = time.perf_counter()
by_file = defaultdict(list)
for i in range(0, len(bids), 500):
    chunk = bids[i:i + 500]
    q = ("SELECT f.path, i.target_id FROM spectra_index i JOIN spectra_files f ON "
         "f.spectra_file_id = i.spectra_file_id WHERE i.target_id IN (%s)" % ",".join("?" * len(chunk)))
    for path, t in con.execute(q, chunk):
        by_file[path].append(t)
got = 0
for path, ts in by_file.items():
    tab = pq.read_table(path, filters=[("target_id", "in", ts)])
    tab["flux"].combine_chunks().flatten().to_numpy()
    got += tab.num_rows
secs = time.perf_counter() - t0
assert got == len(bids), (got, len(bids))
print(f"single: n={len(ids)} p50_ms={pc(0.5):.3f} p99_ms={pc(0.99):.3f} mean_ms={sum(ms) / len(ms):.3f} | "
      f"batch: n={got} files={len(by_file)} s={secs:.3f} spectra_per_s={got / secs:.0f}")
PY
)
u=$($ex batch-call --home "$home" --batch 10000 --seed 7 --batch-in "$tmp/batch.txt")
tc=$($ex touch-call --home "$home" --batch 10000 --seed 7 --batch-in "$tmp/batch.txt" --mode copy)
tm=$($ex touch-call --home "$home" --batch 10000 --seed 7 --batch-in "$tmp/batch.txt" --mode mapped)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pinned with: ${pin:-nothing}"
echo "astrolab: $a"
echo "peer (sqlite3 + pq.read_table filters): $p"
echo "astrolab read_many_into, unpinned: $u"
echo "astrolab read_many_into + touch, unpinned: $tc"
echo "astrolab map_many + touch, unpinned: $tm"
python3 - "$a" "$p" "$u" "$tc" "$tm" <<'PY'
import sys
def f(s, k): return float(s.split(k + "=")[1].split()[0])
a, p, u, tc, tm = sys.argv[1:6]
print(f"single p50: astrolab {f(a, 'p50_ms'):.2f} ms, peer {f(p, 'p50_ms'):.2f} ms, ratio astrolab/peer = {f(a, 'p50_ms') / f(p, 'p50_ms'):.3f} "
      f"(target <= 5 ms: {'met' if f(a, 'p50_ms') <= 5 else 'MISSED'})")
print(f"single p99: astrolab {f(a, 'p99_ms'):.2f} ms, peer {f(p, 'p99_ms'):.2f} ms")
print(f"batch 10k, read_many (hot copies, one core): astrolab {f(a, 'many_per_s'):.0f}/s, peer {f(p, 'spectra_per_s'):.0f}/s, ratio astrolab/peer = "
      f"{f(a, 'many_per_s') / f(p, 'spectra_per_s'):.1f}x (target >= 50000/s: {'met' if f(a, 'many_per_s') >= 50000 else 'MISSED'})")
for name, s in (("pinned, one core", a), ("unpinned, both cores", u)):
    part = s[s.index("read_many_into:"):]
    for k in ("first_per_s", "steady_per_s"):
        v = f(part, k)
        print(f"batch 10k, read_many_into {k.split('_')[0]} ({name}, {f(part, 'threads'):.0f} threads): "
              f"astrolab {v:.0f}/s, peer {f(p, 'spectra_per_s'):.0f}/s, ratio astrolab/peer = {v / f(p, 'spectra_per_s'):.1f}x "
              f"(target >= 50000/s: {'met' if v >= 50000 else 'MISSED'})")
if f(tc, "first_sum") != f(tm, "first_sum"):
    sys.exit(f"map_many and read_many_into disagree: sums {f(tm, 'first_sum')} and {f(tc, 'first_sum')}")
for name, s in (("read_many_into + touch", tc), ("map_many + touch (zero-copy)", tm)):
    for k in ("first_per_s", "steady_per_s"):
        v = f(s, k)
        print(f"batch 10k, {name} {k.split('_')[0]} (unpinned, fresh process, {f(s, 'threads'):.0f} threads): "
              f"astrolab {v:.0f}/s, peer {f(p, 'spectra_per_s'):.0f}/s, ratio astrolab/peer = {v / f(p, 'spectra_per_s'):.1f}x "
              f"(target >= 50000/s: {'met' if v >= 50000 else 'MISSED'})")
print(f"batch 10k, Parquet only: astrolab {f(a, 'spectra_per_s'):.0f}/s, peer {f(p, 'spectra_per_s'):.0f}/s, ratio astrolab/peer = "
      f"{f(a, 'spectra_per_s') / f(p, 'spectra_per_s'):.1f}x (target >= 50000/s: {'met' if f(a, 'spectra_per_s') >= 50000 else 'MISSED'})")
PY
