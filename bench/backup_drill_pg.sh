#!/usr/bin/env bash
# Issue 21: the recovery drill of a PostgreSQL store, timed. A cluster of
# the script's own (initdb; as the postgres user when run as root) holds
# the demo sky's GALAXIES galaxies with their void catalogs and membership
# (about 9.6 rows a galaxy: 600000 gives ~5.4 M rows), with WAL archived by
# pgBackRest (`astrolab backup setup`, archive_timeout 60 s).
#
# Steps, each timed: `backup create --type full`; `backup verify` (restore
# to the backup's restore point in a scratch cluster, every table rehashed,
# pgbackrest verify, restic check); then, while a writer commits a
# heartbeat row every 0.2 s, the server is killed (pg_ctl -m immediate:
# the machine is lost) and `backup restore --latest` rebuilds it on an
# empty directory. RTO: the restore's start until the restored server
# answers. RPO: the last heartbeat committed before the kill minus the
# last one the restored store holds (what was lost). A restore to a
# moment (--time) is checked for the rows of that moment, and the answers
# of the latest restore are compared query by query with the lost
# server's at its last archived state.
#
# usage: bench/backup_drill_pg.sh [GALAXIES]    (default 600000)
#   Needs pgbackrest, restic and PostgreSQL's server programs
#   (scripts/lib/tools.sh installs the first two). Release build; files in
#   ASTROLAB_BENCH_DIR when set (it must be reachable by the postgres user).
set -euo pipefail
cd "$(dirname "$0")/.."
galaxies=${1:-600000}
source scripts/lib/tools.sh
ensure_restic
ensure_pgbackrest
# ASTROLAB_BENCH_BIN: an astrolab already built (scripts/test runs the
# drill with the test build); else the release build.
if [ -n "${ASTROLAB_BENCH_BIN:-}" ]; then
  bin=$ASTROLAB_BENCH_BIN
else
  cargo build --release -q -p astrolab
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/astrolab
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=${ASTROLAB_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work" && chmod 755 "$work"
owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
give() { if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$@"; fi; }
now() { date +%s.%N; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pg=$work/pg; sock=$pg/sock
rm -rf "$pg" "$work/repo" "$work/home-restored" "$work/home-time" "$work/scratch" "$work"/cfg-*.toml
mkdir -p "$sock" "$work/scratch" && give "$pg" "$sock" "$work/scratch"
key=$work/backup.key
printf 'drill-key-%s-0123456789\n' "$(date +%s)" >"$key" && chmod 600 "$key" && give "$key"
export ASTROLAB_BACKUP_KEY_FILE=$key
start() { # data port
  owner "$pgbin/pg_ctl" start -D "$1" -l "$sock/server-$2.log" -w -o "-p $2 -k $sock -c listen_addresses=127.0.0.1" >/dev/null
}
sql() { psql -h 127.0.0.1 -p "$1" -U postgres -Atq -d astrolab -c "$2"; }
config() { # name data port
  cat >"$work/cfg-$1.toml" <<EOF
database_url = "postgres://postgres@127.0.0.1:$3/astrolab"
[backup]
repository = "$work/repo"
pg_data = "$2"
pg_socket = "$sock"
pg_bin = "$pgbin"
EOF
}
owner "$pgbin/initdb" -A trust -U postgres --no-sync -D "$pg/a" >/dev/null
start "$pg/a" "$port"
psql -h 127.0.0.1 -p "$port" -U postgres -Atq -c "CREATE DATABASE astrolab"
config a "$pg/a" "$port"
home=$work/home
a() { "$bin" --config "$work/cfg-a.toml" --home "$home" "$@"; }
a backup setup >/dev/null
owner "$pgbin/pg_ctl" stop -D "$pg/a" -m fast -w >/dev/null
start "$pg/a" "$port"
a backup setup >/dev/null

t0=$(now)
a demo-data "$work/sky" --galaxies "$galaxies" --no-spectra --seed 1 >/dev/null
a ingest "$work"/sky >/dev/null 2>&1
python3 - "$work" <<'PY'
import glob, json, sys
w = sys.argv[1]
json.dump({"catalogs": sorted(glob.glob(f"{w}/sky/DESIVAST_*.fits"))}, open(f"{w}/classify.json", "w"))
PY
a run voids-classify --params "$work/classify.json" --out-dir "$work/classify" >/dev/null 2>&1
echo "store loaded in $(python3 -c "print(round($(now) - $t0))") s" >&2
dbbytes=$(sql "$port" "SELECT pg_database_size('astrolab')")
# SUM(z::numeric): a sum of doubles depends on the order rows are added in
# (a parallel plan on the restored server can differ), the numeric one not.
answers() { # cfg home: what a reader sees
  "$bin" --config "$1" --home "$2" db status | grep ' rows$'
  "$bin" --config "$1" --home "$2" query cone --ra 180 --dec 30 --radius 1 --format csv | md5sum
  "$bin" --config "$1" --home "$2" voids members --algorithm VoidFinder --vflag 1 | md5sum
  "$bin" --config "$1" --home "$2" query sql "SELECT COUNT(*), SUM(z::numeric), MIN(targetid), MAX(targetid) FROM zcatalog" --format csv
}

t1=$(now); a backup create --type full --json >"$work/create.json"; t2=$(now)
t3=$(now); a backup verify --scratch "$work/scratch" --read-data-subset 100% --json >"$work/verify.json"; t4=$(now)
# A moment between two writes, for the point-in-time restore.
printf 'ra,dec,z\n180.1,30.1,0.1\n180.2,30.2,0.2\n' >"$work/w1.csv"; a ingest "$work/w1.csv" >/dev/null
sleep 1.5; moment=$(date -u '+%Y-%m-%d %H:%M:%S+00'); rows_moment=$(sql "$port" "SELECT COUNT(*) FROM galaxies"); sleep 1.5
printf 'ra,dec,z\n181.0,29.0,0.3\n' >"$work/w2.csv"; a ingest "$work/w2.csv" >/dev/null
# A writer's heartbeat, then the machine is lost in the middle of it.
answers "$work/cfg-a.toml" "$home" >"$work/answers-lost"
sql "$port" "CREATE TABLE drill_heartbeat (n bigint PRIMARY KEY, t timestamptz NOT NULL DEFAULT clock_timestamp())"
# The table and its first row reach the archive now; what follows only by
# the server's own switches (archive_timeout).
sql "$port" "INSERT INTO drill_heartbeat (n) VALUES (0)"
sql "$port" "SELECT pg_switch_wal()" >/dev/null
( n=0; while :; do n=$((n + 1)); sql "$port" "INSERT INTO drill_heartbeat (n) VALUES ($n)" 2>/dev/null || exit 0; sleep 0.2; done ) &
writer=$!
sleep "${ASTROLAB_DRILL_WRITE_S:-75}"
last_written=$(sql "$port" "SELECT EXTRACT(EPOCH FROM MAX(t)) FROM drill_heartbeat")
owner "$pgbin/pg_ctl" stop -D "$pg/a" -m immediate -w >/dev/null
wait "$writer" || true

port_b=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
config b "$pg/b" "$port_b"
t5=$(now)
"$bin" --config "$work/cfg-b.toml" --home "$work/home-restored" backup restore --latest --no-archive --json >"$work/restore.json"
start "$pg/b" "$port_b"
last_restored=$(sql "$port_b" "SELECT EXTRACT(EPOCH FROM MAX(t)) FROM drill_heartbeat")
t6=$(now)
sql "$port_b" "DROP TABLE drill_heartbeat"
answers "$work/cfg-b.toml" "$work/home-restored" >"$work/answers-restored"
owner "$pgbin/pg_ctl" stop -D "$pg/b" -m fast -w >/dev/null
# The answers (galaxies included) hold the writes made after the backup.
cmp -s "$work/answers-lost" "$work/answers-restored" || { echo "DIFFERENT answers after the restore" >&2; diff "$work/answers-lost" "$work/answers-restored" >&2; exit 1; }

port_c=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
config c "$pg/c" "$port_c"
t7=$(now)
"$bin" --config "$work/cfg-c.toml" --home "$work/home-time" backup restore --time "$moment" --no-archive --json >"$work/restore-time.json"
t8=$(now)
start "$pg/c" "$port_c"
got_moment=$(sql "$port_c" "SELECT COUNT(*) FROM galaxies")
owner "$pgbin/pg_ctl" stop -D "$pg/c" -m fast -w >/dev/null
[ "$rows_moment" = 2 ] && [ "$got_moment" = "$rows_moment" ] || { echo "restore to $moment: $got_moment galaxies rows, $rows_moment then" >&2; exit 1; }

python3 - "$work" "$dbbytes" "$t1" "$t2" "$t3" "$t4" "$t5" "$t6" "$t7" "$t8" "$last_written" "$last_restored" <<'PY'
import json, sys
w, dbbytes = sys.argv[1], int(sys.argv[2])
t1, t2, t3, t4, t5, t6, t7, t8, lw, lr = (float(x) for x in sys.argv[3:])
c = json.load(open(f"{w}/create.json")); v = json.load(open(f"{w}/verify.json")); r = json.load(open(f"{w}/restore.json"))
rows = sum(t["rows"] for t in c["manifest"]["tables"].values())
mb = dbbytes / 1e6
print(f"store: {rows:,} rows in {len(c['manifest']['tables'])} tables, database {mb:.0f} MB; pgBackRest set {c['manifest']['postgres']['repository_bytes']/1e6:.0f} MB in the repository")
print(f"{'step':<46} {'seconds':>8} {'rows/s':>12} {'MB/s':>8}")
for name, s in [("backup create --type full", t2 - t1), ("verify (scratch cluster + checks 100%)", t4 - t3),
                ("  of which restore to the restore point", v["seconds_restore"]),
                ("restore --latest until the server answers", t6 - t5), ("restore --time (recovered, stopped)", t8 - t7)]:
    print(f"{name:<46} {s:8.2f} {rows / s:12,.0f} {mb / s:8.1f}")
print(f"RTO: {t6 - t5:.1f} s (restore --latest to a server that answers; astrolab's own recovery check {r['rto_s']:.1f} s)")
print(f"RPO: {lw - lr:.1f} s of heartbeats lost (last written {lw:.1f}, last restored {lr:.1f}; archive_timeout 60 s)")
print("answers after the latest restore: identical to the lost server's; the restore to a moment holds that moment's rows")
PY
