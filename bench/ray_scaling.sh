#!/usr/bin/env bash
# Issue 18: strong scaling of the Ray executor on this machine, beside the
# local executor, for the two pipelines the lab runs at scale:
#   anomaly scoring   N DESI-like quasars (demo-data --anomaly-benchmark),
#                     a one-epoch model (scoring cost does not depend on
#                     how well the model is trained), shards of SHARD
#                     TARGETIDs;
#   void membership   the demo sky's G galaxies against its four DESIVAST
#                     catalogs (one shard per catalog), with the store in
#                     SQLite (the laptop: the reduce step writes every
#                     catalog, serially) and in PostgreSQL (the cluster:
#                     each shard stages its catalog's rows itself and the
#                     reduce step only publishes them): voids-classify-pg.
# Each is run with the local executor on 1 and 2 threads, and as a Ray job
# on a cluster whose head has no CPUs and whose one worker node offers 1,
# then 2, CPUs (1 and 2 worker processes). Every Ray output is compared
# byte for byte with the local one. Printed: wall seconds, the Ray
# efficiency T(1 process) / (2 T(2 processes)) (target >= 0.8), and the
# per-task overhead (Ray on 1 process minus local on 1 thread, per shard).
#
# With ASTROLAB_BENCH_PIN=1 each configuration gets only as many cores as
# it has worker processes (threads): the Ray head, the worker node, the
# astrolab processes and PostgreSQL's server are all pinned (taskset) to
# core 0 for 1 process and to cores 0-1 for 2. Unpinned, the one-process
# run also uses the second core for the head's processes and the
# database's server side (a COPY's backend runs beside its client), which
# a cluster gives every worker anyway (the head and the database are
# machines of their own there) but which this 2-core machine can give
# only once.
#
# usage: bench/ray_scaling.sh [N_QUASARS] [SHARD] [GALAXIES]
#   defaults 20000, 1000, 200000. Needs Ray (scripts/lib/ray.sh installs
#   the pinned version) and PostgreSQL (scripts/lib/postgres.sh; the
#   database astrolab_bench_ray is made afresh, or ASTROLAB_BENCH_DATABASE_URL). Stops every Ray process of this machine at the
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
source scripts/lib/postgres.sh
if [ -z "${ASTROLAB_BENCH_DATABASE_URL:-}" ]; then
  ensure_test_postgres >/dev/null
  if [ ! -f "${ASTROLAB_BENCH_DIR:-/nonexistent}/ready" ]; then # made afresh with the data
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS astrolab_bench_ray" \
      -c "CREATE DATABASE astrolab_bench_ray" >/dev/null
  fi
  ASTROLAB_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/astrolab_bench_ray
fi
pgurl=$ASTROLAB_BENCH_DATABASE_URL
pin=${ASTROLAB_BENCH_PIN:-0}
all_cores=0-$(($(nproc) - 1))
cores=$all_cores
pinned() { if [ "$pin" = 1 ]; then taskset -c "$cores" "$@"; else "$@"; fi; }
pin_postgres() { # pin_postgres CORES: the server and every backend it forks
  [ "$pin" = 1 ] || [ "$1" = "$all_cores" ] || return 0
  local pid
  for pid in $(pgrep -x postgres); do taskset -a -p -c "$1" "$pid" >/dev/null 2>&1 || true; done
}
cargo build --release -q -p astrolab
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/astrolab
work=${ASTROLAB_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
home=$work/home
a() { "$bin" --home "$home" "$@"; }
pg() { ASTROLAB_DATABASE_URL=$pgurl "$bin" --home "$work/pghome" "$@"; }
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
  pg ingest "$work"/sky >/dev/null
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
  pinned ray start --head --node-ip-address 127.0.0.1 --port "$RAY_PORT" --dashboard-host 127.0.0.1 \
    --dashboard-port "$RAY_DASHBOARD_PORT" --include-dashboard true --num-cpus 0 \
    --temp-dir "$RAY_TEMP_DIR" --disable-usage-stats >/dev/null 2>&1
  pinned ray start --address "127.0.0.1:$RAY_PORT" --node-ip-address 127.0.0.1 --num-cpus "$1" \
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
  local t0 t1 p=$1 cmd=(env "$bin" --home "$home")
  if [ "$p" = voids-classify-pg ]; then
    cmd=(env "ASTROLAB_DATABASE_URL=$pgurl" "$bin" --home "$work/pghome")
    shift; set -- voids-classify "$@"
  fi
  t0=$(now)
  pinned "${cmd[@]}" run "$@" --out-dir "$out" >/dev/null 2>"$out.log" || { cat "$out.log" >&2; return 1; }
  t1=$(now)
  # The PostgreSQL membership, as a digest of every row in order (untimed).
  if [ "$p" = voids-classify-pg ]; then
    pg query sql "SELECT md5(string_agg(concat_ws(',', catalog, target_id, vflag, void_id, r_void_norm, void_edge), ';' ORDER BY catalog, target_id)) FROM void_membership" --format csv >"$out.rows"
  fi
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
same() { cmp -s "$1/$3" "$2/$3" || { echo "DIFFERENT: $1/$3 $2/$3" >&2; exit 1; }; }

pipelines="anomalies-score voids-classify voids-classify-pg"
declare -A T
for p in $pipelines; do
  params=$work/score.json
  [ "$p" != anomalies-score ] && params=$work/classify.json
  cores=0; pin_postgres 0
  T[$p,local1]=$(timed "$work/$p-local1" "$p" --params "$params" --threads 1)
  cores=0-1; pin_postgres 0-1
  T[$p,local2]=$(timed "$work/$p-local2" "$p" --params "$params" --threads 2)
done
for cpus in 1 2; do
  cores=0-$((cpus - 1)); pin_postgres "$cores"
  cluster "$cpus"
  for p in $pipelines; do
    params=$work/score.json
    [ "$p" != anomalies-score ] && params=$work/classify.json
    T[$p,ray$cpus]=$(timed "$work/$p-ray$cpus" "$p" --params "$params" --executor ray \
      --ray-address "$dash" --ray-program "$bin")
  done
  T[fixed,ray$cpus]=$(timed "$work/empty-ray$cpus" anomalies-score --params "$work/empty.json" \
    --executor ray --ray-address "$dash" --ray-program "$bin")
done
cores=0; pin_postgres 0
T[fixed,local1]=$(timed "$work/empty-local1" anomalies-score --params "$work/empty.json" --threads 1)
ray stop --force >/dev/null 2>&1 || true
pin_postgres "$all_cores"
same "$work/anomalies-score-local1" "$work/anomalies-score-ray1" anomalies.csv
same "$work/anomalies-score-local1" "$work/anomalies-score-ray2" anomalies.csv
same "$work/anomalies-score-local1" "$work/anomalies-score-local2" anomalies.csv
for m in local2 ray1 ray2; do
  cmp -s "$work/voids-classify-pg-local1.rows" "$work/voids-classify-pg-$m.rows" ||
    { echo "DIFFERENT: PostgreSQL membership after voids-classify-pg-$m" >&2; exit 1; }
done

shards_score=$(( (n + shard - 1) / shard ))
python3 - "$shards_score" "${T[fixed,ray1]}" "${T[fixed,ray2]}" "${T[fixed,local1]}" <<PY
import sys
k = int(sys.argv[1])
f1, f2, fl = (float(x) for x in sys.argv[2:5])
T = {
$(for p in $pipelines; do for m in local1 local2 ray1 ray2; do echo "  ('$p','$m'): ${T[$p,$m]},"; done; done)
}
shards = {"anomalies-score": k, "voids-classify": 4, "voids-classify-pg": 4}
print(f"{'pipeline':<18} {'local 1':>8} {'local 2':>8} {'Ray 1':>8} {'Ray 2':>8} {'Ray eff.':>9} {'local eff.':>10} {'overhead/task':>14}")
for p in ["anomalies-score", "voids-classify", "voids-classify-pg"]:
    l1, l2, r1, r2 = (T[(p, m)] for m in ["local1", "local2", "ray1", "ray2"])
    print(f"{p:<18} {l1:8.2f} {l2:8.2f} {r1:8.2f} {r2:8.2f} {r1 / (2 * r2):9.2f} {l1 / (2 * l2):10.2f} {(r1 - l1) / shards[p]:13.3f}s")
print(f"(seconds; {k} scoring shards, 4 membership shards; outputs of every run identical)")
print(f"a run with nothing selected: Ray {f1:.2f} s (1 process), {f2:.2f} s (2 processes), local {fl:.2f} s")
l1, r1, r2 = T[("anomalies-score", "local1")], T[("anomalies-score", "ray1")], T[("anomalies-score", "ray2")]
print(f"anomalies-score without the job's fixed cost: Ray efficiency {(r1 - f1) / (2 * (r2 - f2)):.2f}; per-shard time {(r1 - f1) / k:.3f} s on 1 process")
PY
