#!/usr/bin/env bash
# Spectrometer speed (issue 5 benchmarks): `astrolab hline process` beside a
# NumPy implementation of the same spectrometer (bench/peer_hline_spectrometer.py)
# on the same raw captures, in the same run, one core each:
#   1. 8-bit I/Q at 2.4 MS/s (RTL-SDR), target >= 50x real time;
#   2. 16-bit I/Q at 10 MS/s (Airspy), target >= 10x real time;
#   3. memory: peak RSS of ours on a long 8-bit capture (default 2 GB), target
#      < 200 MB; the capture is deleted afterwards.
# Spectra of ours and the peer are compared (max relative difference).
#
# Usage: bench/hline_spectrometer.sh [SECONDS_8BIT] [SECONDS_16BIT] [LONG_GB]
set -euo pipefail
cd "$(dirname "$0")/.."
S8=${1:-60}
S16=${2:-20}
LONG_GB=${3:-2}
WORK=${ASTROLAB_BENCH_DIR:-/tmp/astrolab-bench-hline}
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
cargo build --release -q -p astrolab
A=$PWD/target/release/astrolab
PEER="python3 bench/peer_hline_spectrometer.py"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
N=1024
T=1.0

ours() { # file rate datatype -> JSON line
  local t0 t1
  t0=$(date +%s.%N)
  taskset -c 0 "$A" --home "$WORK/home" hline process "$1" --no-store --sample-rate-hz "$2" \
    --center-freq-hz 1420400000 --datatype "$3" --channels $N --integration-s $T \
    --out-dir "$WORK/out" --json > "$WORK/ours.json"
  t1=$(date +%s.%N)
  python3 - "$WORK/ours.json" "$t0" "$t1" "$4" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[0])
wall = float(sys.argv[3]) - float(sys.argv[2])
rate = float(sys.argv[4])
print(json.dumps({"seconds": wall, "realtime_factor": s["n_samples"] / rate / wall,
                  "integrations": s["n_integrations"], "flagged_fraction": s["flagged_fraction"]}))
PY
}

case_run() { # label seconds rate datatype peer_dtype
  local label=$1 secs=$2 rate=$3 dt=$4 pdt=$5
  local f="$WORK/$label.bin"
  local n
  n=$(python3 -c "print(int($secs*$rate))")
  $PEER make "$f" "$n" "$pdt"
  cat "$f" > /dev/null  # page cache warm for both
  local o p
  o=$(ours "$f" "$rate" "$dt" "$rate")
  p=$(taskset -c 0 $PEER run "$f" "$rate" "$pdt" $N $T "$WORK/peer.npy")
  local cmp
  cmp=$($PEER compare "$WORK/out/$label.bin.spectra.sigmf-data" "$WORK/peer.npy" $N)
  python3 - "$label" "$secs" "$o" "$p" "$cmp" "$(du -h "$f" | cut -f1)" <<'PY'
import json, sys
label, secs, o, p, c, size = sys.argv[1], sys.argv[2], *map(json.loads, sys.argv[3:6]), sys.argv[6]
print(f"{label}: {secs} s of I/Q ({size}): astrolab {o['realtime_factor']:.1f}x real time ({o['seconds']:.2f} s), "
      f"numpy {p['realtime_factor']:.1f}x ({p['seconds']:.2f} s); ratio {o['realtime_factor']/p['realtime_factor']:.2f}; "
      f"spectra max rel diff {c['max_rel_diff']:.2e} over {c['integrations_compared']} integrations")
PY
  rm -f "$f"
}

case_run rtl8 "$S8" 2400000 cu8 cu8
case_run airspy16 "$S16" 10000000 ci16-le ci16_le

# Memory: a long capture.
LONG="$WORK/long.bin"
NL=$(python3 -c "print(int($LONG_GB*1e9/2))")
$PEER make "$LONG" "$NL" cu8
/usr/bin/time -v taskset -c 0 "$A" --home "$WORK/home" hline process "$LONG" --no-store \
  --sample-rate-hz 2400000 --center-freq-hz 1420400000 --channels $N --integration-s $T \
  --out-dir "$WORK/out" --json > /dev/null 2> "$WORK/time.txt"
RSS=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/time.txt")
WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")
echo "memory: $(du -h "$LONG" | cut -f1) 8-bit capture ($(python3 -c "print(round($NL/2.4e6))") s at 2.4 MS/s): peak RSS $((RSS / 1024)) MB, wall $WALL"
rm -f "$LONG"
