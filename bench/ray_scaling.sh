#!/usr/bin/env bash
# Issue 18: strong scaling of the Ray executor on this machine, beside the
# local executor, for the two pipelines the lab runs at scale:
#   anomaly scoring   N DESI-like quasars (demo-data --anomaly-benchmark),
#                     a one-epoch model (scoring cost does not depend on
#                     how well the model is trained), shards of SHARD
#                     TARGETIDs;
#   void membership   the demo sky's G galaxies against its four DESIVAST
#                     catalogs (one shard per catalog).
# Each is run with the local executor on 1 and 2 threads, and as a Ray job
# on a cluster whose head has no CPUs and whose one worker node offers 1,
# then 2, CPUs (1 and 2 worker processes). Every Ray output is compared
# byte for byte with the local one. Printed: wall seconds, the Ray
# efficiency T(1 process) / (2 T(2 processes)) (target >= 0.8), and the
# per-task overhead (Ray on 1 process minus local on 1 thread, per shard).
#
# usage: bench/ray_scaling.sh [N_QUASARS] [SHARD] [GALAXIES]
#   defaults 20000, 1000, 200000. Needs Ray (scripts/lib/ray.sh installs
#   the pinned version). Stops every Ray process of this machine at the
#   start and the end (`ray stop`). Release build (CARGO_TARGET_DIR
#   honoured); files kept in ASTROLAB_BENCH_DIR when set.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
shard=${2:-1000}
galaxies=${3:-200000}
shared=${ASTROLAB_SHARED_DATA:-../shared/data}
source scripts/lib/ray.sh
ensure_ray
cargo build --release -q -p astrolab
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/astrolab
work=${ASTROLAB_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
home=$work/home
a() { "$bin" --home "$home" "$@"; }
now() { date +%s.%N; }
export RAY_USAGE_STATS_ENABLED=0
dash=http://127.0.0.1:$RAY_DASHBOARD_PORT

if [ ! -f "$work/ready" ]; then
  a demo-data "$work/qso" --anomaly-benchmark "$n" --rarity-fraction 0.01 --seed 1 --templates "$shared/templates" >/dev/null
  a ingest "$work"/qso/redrock-*.fits >/dev/null
  a spectra build --from "$work/qso" >/dev/null
  a anomalies train --output "$work/model" --max-epochs 1 --seed 1 >/dev/null 2>&1
  a demo-data "$work/sky" --galaxies "$galaxies" --no-spectra --seed 1 >/dev/null
  a ingest "$work"/sky >/dev/null
  touch "$work/ready"
fi
printf '{"shard_size": %d, "no_store": true}\n' "$shard" >"$work/score.json"
# The job's fixed cost (submit, driver start, ray.init, plan, reduce): the
# same pipeline with nothing selected.
printf '{"select": "z < -1", "no_store": true}\n' >"$work/empty.json"
python3 - "$work" <<'PY'
import glob, json, sys
w = sys.argv[1]
cats = sorted(glob.glob(f"{w}/sky/DESIVAST_*.fits"))
json.dump({"catalogs": cats}, open(f"{w}/classify.json", "w"))
PY

cluster() { # cluster CPUS: a head with no CPUs, one worker node with CPUS
  ray stop --force >/dev/null 2>&1 || true
  ray start --head --node-ip-address 127.0.0.1 --port "$RAY_PORT" --dashboard-host 127.0.0.1 \
    --dashboard-port "$RAY_DASHBOARD_PORT" --include-dashboard true --num-cpus 0 \
    --temp-dir "$RAY_TEMP_DIR" --disable-usage-stats >/dev/null 2>&1
  ray start --address "127.0.0.1:$RAY_PORT" --node-ip-address 127.0.0.1 --num-cpus "$1" \
    --disable-usage-stats >/dev/null 2>&1
  for _ in $(seq 1 60); do
    curl -fsS "$dash/api/version" >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "the Ray dashboard did not come up" >&2
  return 1
}
timed() { # timed OUT_DIR ARGS...: wall seconds of `astrolab run ARGS`
  local out=$1; shift
  rm -rf "$out"
  local t0 t1
  t0=$(now)
  a run "$@" --out-dir "$out" >/dev/null 2>"$out.log" || { cat "$out.log" >&2; return 1; }
  t1=$(now)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
same() { cmp -s "$1/$3" "$2/$3" || { echo "DIFFERENT: $1/$3 $2/$3" >&2; exit 1; }; }

declare -A T
for p in anomalies-score voids-classify; do
  params=$work/score.json
  [ "$p" = voids-classify ] && params=$work/classify.json
  T[$p,local1]=$(timed "$work/$p-local1" "$p" --params "$params" --threads 1)
  T[$p,local2]=$(timed "$work/$p-local2" "$p" --params "$params" --threads 2)
done
for cpus in 1 2; do
  cluster "$cpus"
  for p in anomalies-score voids-classify; do
    params=$work/score.json
    [ "$p" = voids-classify ] && params=$work/classify.json
    T[$p,ray$cpus]=$(timed "$work/$p-ray$cpus" "$p" --params "$params" --executor ray \
      --ray-address "$dash" --ray-program "$bin")
  done
  T[fixed,ray$cpus]=$(timed "$work/empty-ray$cpus" anomalies-score --params "$work/empty.json" \
    --executor ray --ray-address "$dash" --ray-program "$bin")
done
T[fixed,local1]=$(timed "$work/empty-local1" anomalies-score --params "$work/empty.json" --threads 1)
ray stop --force >/dev/null 2>&1 || true
same "$work/anomalies-score-local1" "$work/anomalies-score-ray1" anomalies.csv
same "$work/anomalies-score-local1" "$work/anomalies-score-ray2" anomalies.csv
same "$work/anomalies-score-local1" "$work/anomalies-score-local2" anomalies.csv

shards_score=$(( (n + shard - 1) / shard ))
python3 - "$shards_score" "${T[fixed,ray1]}" "${T[fixed,ray2]}" "${T[fixed,local1]}" <<PY
import sys
k = int(sys.argv[1])
f1, f2, fl = (float(x) for x in sys.argv[2:5])
T = {
$(for p in anomalies-score voids-classify; do for m in local1 local2 ray1 ray2; do echo "  ('$p','$m'): ${T[$p,$m]},"; done; done)
}
shards = {"anomalies-score": k, "voids-classify": 4}
print(f"{'pipeline':<16} {'local 1':>8} {'local 2':>8} {'Ray 1':>8} {'Ray 2':>8} {'Ray eff.':>9} {'local eff.':>10} {'overhead/task':>14}")
for p in ["anomalies-score", "voids-classify"]:
    l1, l2, r1, r2 = (T[(p, m)] for m in ["local1", "local2", "ray1", "ray2"])
    print(f"{p:<16} {l1:8.2f} {l2:8.2f} {r1:8.2f} {r2:8.2f} {r1 / (2 * r2):9.2f} {l1 / (2 * l2):10.2f} {(r1 - l1) / shards[p]:13.3f}s")
print(f"(seconds; {k} scoring shards, 4 membership shards; outputs of every run identical)")
print(f"a run with nothing selected: Ray {f1:.2f} s (1 process), {f2:.2f} s (2 processes), local {fl:.2f} s")
l1, r1, r2 = T[("anomalies-score", "local1")], T[("anomalies-score", "ray1")], T[("anomalies-score", "ray2")]
print(f"anomalies-score without the job's fixed cost: Ray efficiency {(r1 - f1) / (2 * (r2 - f2)):.2f}; per-shard time {(r1 - f1) / k:.3f} s on 1 process")
PY
