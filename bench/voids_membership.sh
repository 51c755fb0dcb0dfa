#!/usr/bin/env bash
# Void membership at DESIVAST scale (issue 4 benchmarks):
#   1. classify N galaxies (default 6.4 M) against 10,752 synthetic voids
#      (VoidFinder layout: one maximal + 4 holes per void), target <= 10 s;
#   2. store selections on the N membership rows, both backends:
#      void-vs-field selection (TARGETIDs of vflag = 1) < 200 ms,
#      summary statistics (counts per vflag, mean R_VOID_NORM) < 1 s.
# The peer (when python3 with numpy + scipy is present) applies the same
# rule (inside any hole) with scipy's cKDTree on the same files.
#
# Usage: bench/voids_membership.sh [N_GALAXIES]   (PostgreSQL part uses
# ASTROLAB_BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/astrolab_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-6400000}
WORK=${ASTROLAB_BENCH_DIR:-target/bench-voids-membership}
PG=${ASTROLAB_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/astrolab_bench}
mkdir -p "$WORK"
cargo build --release -q -p astrolab
A=$PWD/target/release/astrolab
now() { date +%s.%N; }

python3 - "$N" "$WORK" <<'PY'
import sys, numpy as np
from astropy.io import fits
n, work = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(2026)
om = 0.315
# Comoving distance by trapezoid on a fine grid (h = 1, Mpc/h).
zg = np.linspace(0, 0.3, 30001)
ez = np.sqrt(om * (1 + zg) ** 3 + 1 - om)
dc = np.concatenate([[0], np.cumsum((1 / ez[1:] + 1 / ez[:-1]) / 2 * np.diff(zg))]) * 2997.92458
rmin, rmax = 10.0, 480.0
# Galaxies uniform in volume over the northern hemisphere shell.
r = (rmin**3 + rng.random(n) * (rmax**3 - rmin**3)) ** (1 / 3)
ra = rng.random(n) * 360
dec = np.degrees(np.arcsin(rng.random(n)))
z = np.interp(r, dc, zg)
fits.BinTableHDU.from_columns([
    fits.Column("TARGETID", "K", array=np.arange(n, dtype=np.int64) + 39627000000000000),
    fits.Column("RA", "D", array=ra), fits.Column("DEC", "D", array=dec), fits.Column("Z", "D", array=z),
], name="GALAXIES").writeto(f"{work}/galaxies.fits", overwrite=True)
# 10,752 voids: maximal sphere + 4 holes each.
nv = 10752
rv = (rmin**3 + rng.random(nv) * (rmax**3 - rmin**3)) ** (1 / 3)
rav, decv = rng.random(nv) * 2 * np.pi, np.arcsin(rng.random(nv))
c = np.stack([rv * np.cos(decv) * np.cos(rav), rv * np.cos(decv) * np.sin(rav), rv * np.sin(decv)], 1)
R = rng.uniform(10, 25, nv)
hx, hr, hv = [c], [R], [np.arange(nv)]
for _ in range(4):
    u = rng.normal(size=(nv, 3)); u /= np.linalg.norm(u, axis=1)[:, None]
    hx.append(c + u * (0.6 * R)[:, None]); hr.append(0.6 * R); hv.append(np.arange(nv))
hx, hr, hv = np.concatenate(hx), np.concatenate(hr), np.concatenate(hv)
cols = lambda p, rr, v: [fits.Column("X", "D", array=p[:, 0]), fits.Column("Y", "D", array=p[:, 1]),
                         fits.Column("Z", "D", array=p[:, 2]), fits.Column("RADIUS", "D", array=rr),
                         fits.Column("VOID", "K", array=v)]
prim = fits.PrimaryHDU()
for k, v in [("OMEGAM", om), ("HP", 1.0), ("DLIML", rmin), ("DLIMU", rmax), ("CAP", "ALL")]:
    prim.header[k] = v
fits.HDUList([prim, fits.BinTableHDU.from_columns(cols(c, R, np.arange(nv)), name="MAXIMALS"),
              fits.BinTableHDU.from_columns(cols(hx, hr, hv), name="HOLES")]).writeto(
    f"{work}/DESIVAST_synthetic_VoidFinder.fits", overwrite=True)
print(f"synthetic: {n} galaxies, {nv} voids, {len(hr)} holes")
PY

echo "== membership: $N galaxies vs 10752 voids (ours)"
rm -rf "$WORK/home"
t0=$(now)
"$A" --home "$WORK/home" voids classify --catalog "$WORK/DESIVAST_synthetic_VoidFinder.fits" \
    --galaxies "$WORK/galaxies.fits" --json > "$WORK/classify.json"
t1=$(now)
python3 -c "
import json; c = json.load(open('$WORK/classify.json'))[0]
print(f\"ours: membership rule {c['seconds_membership']:.2f} s, store write (SQLite) {c['seconds_store']:.2f} s, command total $(echo "$t1 - $t0" | bc) s; void {c['void']} wall {c['wall']} edge {c['edge']} out {c['outside']}\")"

if python3 -c "import scipy" 2>/dev/null; then
python3 - "$WORK" <<'PY'
import sys, time, numpy as np
from astropy.io import fits
from scipy.spatial import cKDTree
work = sys.argv[1]
g = fits.getdata(f"{work}/galaxies.fits"); h = fits.getdata(f"{work}/DESIVAST_synthetic_VoidFinder.fits", "HOLES")
t0 = time.perf_counter()
om = 0.315
zg = np.linspace(0, 0.3, 30001); ez = np.sqrt(om * (1 + zg) ** 3 + 1 - om)
dc = np.concatenate([[0], np.cumsum((1 / ez[1:] + 1 / ez[:-1]) / 2 * np.diff(zg))]) * 2997.92458
r = np.interp(g["Z"], zg, dc); ra, dec = np.radians(g["RA"]), np.radians(g["DEC"])
p = np.stack([r * np.cos(dec) * np.cos(ra), r * np.cos(dec) * np.sin(ra), r * np.sin(dec)], 1)
hc = np.stack([h["X"], h["Y"], h["Z"]], 1); hr = h["RADIUS"]
tree = cKDTree(p)
inside = np.zeros(len(p), bool)
for i in range(len(hr)):
    idx = tree.query_ball_point(hc[i], hr[i])
    inside[idx] = True
print(f"peer (numpy + scipy cKDTree, same rule, no edge test): {time.perf_counter() - t0:.2f} s; void {inside.sum()}")
PY
fi

select_bench() {  # $1 label, $2 extra args; 5 runs each, median and range
    local t0 t1 sel=() sum=()
    for _ in 1 2 3 4 5; do
        t0=$(now); "$A" "${@:2}" voids members --algorithm VoidFinder --vflag 1 -o "$WORK/ids.txt"; t1=$(now)
        sel+=("$(echo "($t1 - $t0) * 1000" | bc)")
        t0=$(now); "$A" "${@:2}" voids members --summary > /dev/null; t1=$(now)
        sum+=("$(echo "($t1 - $t0) * 1000" | bc)")
    done
    stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "median %.0f ms (%.0f-%.0f)", a[3], a[1], a[5]}'; }
    echo "$1: void-vs-field selection $(wc -l < "$WORK/ids.txt") ids to a text file: $(stats "${sel[@]}"); summary $(stats "${sum[@]}") (whole commands, process start included, 5 runs)"
}
echo "== store selections on $N membership rows"
select_bench SQLite --home "$WORK/home"
if psql "${PG%/*}/postgres" -qc "DROP DATABASE IF EXISTS ${PG##*/}" 2>/dev/null && psql "${PG%/*}/postgres" -qc "CREATE DATABASE ${PG##*/}"; then
    "$A" --home "$WORK/home" --database-url "$PG" voids classify --catalog "$WORK/DESIVAST_synthetic_VoidFinder.fits" \
        --galaxies "$WORK/galaxies.fits" --json > "$WORK/classify_pg.json"
    python3 -c "import json; c = json.load(open('$WORK/classify_pg.json'))[0]; print(f\"PostgreSQL store write {c['seconds_store']:.2f} s\")"
    select_bench PostgreSQL --home "$WORK/home" --database-url "$PG"
else
    echo "PostgreSQL: not reachable at $PG (skipped)"
fi
