#!/usr/bin/env bash
# Server benchmark (issue 6): `astrolab serve` over a 5 M-row catalog, on
# the embedded store (SQLite) and on PostgreSQL, in one run. For each:
#   - start-up to ready: ms from spawning `astrolab serve` until /readyz
#     answers 200 (target < 1 s);
#   - idle memory: VmRSS of the ready server before any load (target < 100 MB);
#   - cone search over HTTP with wrk on loopback: `wrk -t2 -c16 -d20s` with
#     bench/serve_cone.lua (random 0.5-degree cones, seeded, Dec inside the
#     catalog's footprint), requests/s and p50/p99 (target >= 1,000 req/s,
#     p99 < 100 ms), plus one serial connection (-t1 -c1) for the latency of
#     a single request;
#   - the peer: q3c_radial_query over the same centres from a Python psycopg
#     loop (bench/peer_q3c_cone.py) on the same PostgreSQL table, and the
#     ratios.
#
# usage: bench/serve.sh [ROWS]
# env:   ASTROLAB_BIN   (target/release/astrolab; build it first: cargo build --release)
#        BENCH_PG_URL   (postgres://postgres@127.0.0.1:5432/astrolab_bench, a superuser
#                        URL; the database is created, and reused when it already
#                        holds ROWS rows in zcatalog)
#        BENCH_PORT     (18080), BENCH_DURATION (20s), BENCH_RADIUS (0.5),
#        BENCH_BACKENDS ("sqlite postgres")
# Needs python3 with numpy and astropy (catalog), psycopg (peer), wrk (apt
# when missing and root). The catalog is bench/data/zcatROWS.fits (made by
# bench/make_zcatalog.py when missing, shared with bench/ingest.sh); stores
# go to bench/data/serve/.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-5000000}
pg=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/astrolab_bench}
bin=${ASTROLAB_BIN:-target/release/astrolab}
port=${BENCH_PORT:-18080}
dur=${BENCH_DURATION:-20s}
radius=${BENCH_RADIUS:-0.5}
backends=${BENCH_BACKENDS:-sqlite postgres}
data=bench/data
file="$data/zcat$rows.fits"
work="$data/serve"
say() { printf '[bench/serve] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- tools and inputs ---------------------------------------------------------
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing wrk with apt"
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; } || die "could not install wrk"
  else
    die "wrk is missing (apt-get install wrk)"
  fi
fi
python3 -c 'import psycopg' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'psycopg[binary]' >&2 \
  || say "psycopg missing: the q3c peer will be skipped"
[ -x "$bin" ] || die "no astrolab binary at $bin (cargo build --release, or set ASTROLAB_BIN)"
mkdir -p "$work"
if [ ! -f "$file" ]; then
  say "making $file"
  python3 bench/make_zcatalog.py --rows "$rows" --out "$file"
fi

# --- helpers ------------------------------------------------------------------
server_pid=
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT

# Spawns `astrolab serve` (environment already set for the backend), polls
# /readyz every 2 ms until 200, prints "PID STARTUP_MS". The server keeps
# running after this returns (its own session; stop_server ends it).
start_server() { # logfile
  python3 - "$bin" "$port" "$1" <<'PY'
import socket, subprocess, sys, time
binary, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
req = f"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
def ready():
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(req)
            return s.recv(64).split(b" ", 2)[1] == b"200"
    except (OSError, IndexError):
        return False
if ready():
    sys.exit(f"something already answers on port {port}")
out = open(log, "ab")
t0 = time.perf_counter()
p = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"], stdout=out, stderr=out,
                     stdin=subprocess.DEVNULL, start_new_session=True)
while not ready():
    if p.poll() is not None:
        sys.exit(f"astrolab serve exited with {p.returncode} before it was ready (log: {log})")
    if time.perf_counter() - t0 > 60:
        p.kill()
        sys.exit(f"astrolab serve not ready after 60 s (log: {log})")
    time.sleep(0.002)
print(p.pid, f"{(time.perf_counter() - t0) * 1e3:.1f}")
PY
}

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# Catalog rows already in the store (0 when none): lets reruns skip ingest.
rows_in() { # backend
  if [ "$1" = sqlite ]; then
    sqlite3 "$work/sqlite/astrolab.db" 'SELECT count(*) FROM zcatalog' 2>/dev/null || echo 0
  else
    psql "$pg" -Atc 'SELECT count(*) FROM zcatalog' 2>/dev/null || echo 0
  fi
}

centres="$tmp/centres"
declare -A result

bench_backend() { # sqlite|postgres
  local b=$1 t0 t1
  if [ "$b" = sqlite ]; then
    export ASTROLAB_HOME="$work/sqlite"
    unset ASTROLAB_DATABASE_URL
  else
    export ASTROLAB_HOME="$work/pg-home"
    export ASTROLAB_DATABASE_URL="$pg"
  fi
  mkdir -p "$ASTROLAB_HOME"
  # Ingest (skipped when the store already holds this catalog).
  if [ "$(rows_in "$b")" != "$rows" ]; then
    if [ "$b" = sqlite ]; then
      rm -rf "$work/sqlite" && mkdir -p "$work/sqlite"
    else
      local dbname=${pg##*/} admin=${pg%/*}/postgres
      psql "$admin" -qc "DROP DATABASE IF EXISTS $dbname" && psql "$admin" -qc "CREATE DATABASE $dbname"
      "$bin" db migrate >/dev/null
    fi
    say "$b: ingesting $file"
    t0=$(date +%s.%N)
    "$bin" ingest "$file" >/dev/null
    t1=$(date +%s.%N)
    say "$b: ingest took $(python3 -c "print(f'{$t1 - $t0:.1f}')") s"
  else
    say "$b: reusing the store ($rows rows in zcatalog)"
    "$bin" db migrate >/dev/null
  fi
  # A viewer account and token (the account survives reruns).
  ASTROLAB_NEW_PASSWORD="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" \
    "$bin" user add bench --role viewer >/dev/null 2>&1 || true
  local token
  token=$("$bin" token create --user bench --role viewer --expires-days 1 | tail -n 1)
  [[ $token == alab_* ]] || die "$b: could not create a token (got: $token)"
  # Start-up and idle memory. The page cache holds the store (ingest just
  # read or wrote it); the first start of each backend is measured.
  local started pid ms rss
  started=$(start_server "$tmp/serve-$b.log") || { cat "$tmp/serve-$b.log" >&2; die "$b: server did not start"; }
  read -r pid ms <<<"$started"
  server_pid=$pid
  sleep 1
  rss=$(rss_mb "$pid")
  say "$b: ready in $ms ms, idle RSS $rss MB (pid $pid)"
  # One request by hand: the route answers 200 with rows.
  local probe
  probe=$(curl -fsS -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/cone?table=zcatalog&ra=150&dec=2&radius=$radius&limit=1000") \
    || die "$b: GET /api/v1/cone failed"
  say "$b: probe cone (150, 2): $(python3 -c 'import json,sys; print(json.load(sys.stdin)["count"], "rows")' <<<"$probe")"
  # Load: 2 threads, 16 connections; then one connection for serial latency.
  local url="http://127.0.0.1:$port"
  export BENCH_TOKEN="$token" BENCH_RADIUS="$radius" BENCH_TABLE=zcatalog
  BENCH_LABEL="$b-c16" BENCH_CENTRES_OUT="$centres" \
    wrk -t2 -c16 -d"$dur" --latency -s bench/serve_cone.lua "$url" > "$tmp/wrk-$b.txt"
  BENCH_LABEL="$b-c1" wrk -t1 -c1 -d10s -s bench/serve_cone.lua "$url" > "$tmp/wrk1-$b.txt"
  result[$b-load]=$(grep '^wrk_result' "$tmp/wrk-$b.txt")
  result[$b-serial]=$(grep '^wrk_result' "$tmp/wrk1-$b.txt")
  local rss_after
  rss_after=$(rss_mb "$pid")
  result[$b-startup]="startup_ms=$ms idle_rss_mb=$rss rss_after_load_mb=$rss_after"
  stop_server
  unset BENCH_TOKEN
}

for b in $backends; do
  bench_backend "$b"
done

# --- peer: q3c_radial_query from psycopg on the same PostgreSQL table -------
peer=
if [[ " $backends " == *" postgres "* ]]; then
  if [ "$(psql "$pg" -Atc "SELECT count(*) FROM pg_extension WHERE extname = 'q3c'" 2>/dev/null)" = 1 ]; then
    head -n 500 "$centres.0" > "$tmp/peer-centres"
    peer=$(python3 bench/peer_q3c_cone.py "$pg" "$tmp/peer-centres" "$radius" zcatalog) || peer=
  else
    say "q3c is not installed in $pg: no peer figures (scripts/lib/postgres.sh ensure_q3c installs it)"
  fi
fi

# --- ceiling: PostgreSQL alone, the same query from 16 pgbench clients -------
# No HTTP, JSON or authentication: what the database itself answers on this
# machine, the bound for our PostgreSQL figure measured in the same run.
ceiling=
if [[ " $backends " == *" postgres "* ]] && command -v pgbench >/dev/null \
   && [ "$(psql "$pg" -Atc "SELECT count(*) FROM pg_extension WHERE extname = 'q3c'" 2>/dev/null)" = 1 ]; then
  cat > "$tmp/ceiling.sql" <<SQL
\\set ra random(0, 359999)
\\set dec random(-20000, 80000)
SELECT * FROM zcatalog WHERE q3c_radial_query(ra, dec, :ra / 1000.0, :dec / 1000.0, $radius);
SQL
  ceiling=$(pgbench -n -c16 -j2 -T15 -f "$tmp/ceiling.sql" "$pg" 2>/dev/null \
    | awk '/^tps = / { tps = $3 } /^latency average/ { lat = $4 } END { if (tps) printf "ceiling_qps=%.1f ceiling_latency_ms=%.2f", tps, lat }')
  say "PostgreSQL alone (pgbench, 16 clients, same query): $ceiling"
fi

# --- report -------------------------------------------------------------------
echo "catalog: $file ($rows rows), cone radius $radius deg, wrk -t2 -c16 -d$dur and -t1 -c1 -d10s, port $port, $(nproc) cores"
for b in $backends; do
  echo "astrolab $b: ${result[$b-startup]}"
  echo "  ${result[$b-load]}"
  echo "  ${result[$b-serial]}"
done
[ -n "$peer" ] && echo "peer (500 centres of the same list, one connection): $peer"
[ -n "$ceiling" ] && echo "PostgreSQL alone, pgbench -c16 -T15, same query (q3c_radial_query, SELECT *): $ceiling"
python3 - "$peer" "${result[sqlite-load]:-}" "${result[sqlite-serial]:-}" "${result[sqlite-startup]:-}" \
  "${result[postgres-load]:-}" "${result[postgres-serial]:-}" "${result[postgres-startup]:-}" "$ceiling" <<'PY'
import sys
def kv(s):
    return {k: v for k, v in (t.split("=", 1) for t in s.split() if "=" in t)}
peer, sl, ss, su, pl, ps, pu = (kv(x) for x in sys.argv[1:8])
for name, load, serial, start in (("sqlite", sl, ss, su), ("postgres", pl, ps, pu)):
    if not load:
        continue
    rps, p99 = float(load["rps"]), float(load["p99_ms"])
    print(f"{name}: {rps:,.0f} req/s (target >= 1,000: {'met' if rps >= 1000 else 'missed'}), "
          f"p50 {float(load['p50_ms']):.2f} ms, p99 {p99:.2f} ms (target < 100: {'met' if p99 < 100 else 'missed'}); "
          f"start-up {float(start['startup_ms']):.0f} ms (target < 1000: {'met' if float(start['startup_ms']) < 1000 else 'missed'}), "
          f"idle RSS {float(start['idle_rss_mb']):.1f} MB (target < 100: {'met' if float(start['idle_rss_mb']) < 100 else 'missed'})")
    if int(load.get("http_errors", 0)) or int(load.get("timeouts", 0)):
        print(f"  WARNING: {load['http_errors']} HTTP errors, {load['timeouts']} timeouts under load")
ceiling = kv(sys.argv[8]) if len(sys.argv) > 8 else {}
if ceiling and pl:
    print(f"ratio astrolab-postgres req/s (16 connections) / PostgreSQL alone queries/s (16 clients) = "
          f"{float(pl['rps']) / float(ceiling['ceiling_qps']):.2f}")
if peer and ps:
    pp50 = float(peer["p50_ms"])
    print(f"ratio astrolab-postgres over HTTP, one connection, p50 / peer q3c p50 = {float(ps['p50_ms']) / pp50:.2f} "
          f"(peer {pp50:.2f} ms in-process, no HTTP or JSON)")
    print(f"ratio astrolab-postgres req/s (16 connections) / peer serial queries/s = "
          f"{float(pl['rps']) / (1000.0 / pp50):.2f}")
PY
