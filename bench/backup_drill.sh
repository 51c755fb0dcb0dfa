#!/usr/bin/env bash
# Issue 21: backup, verification and recovery of a data home with the
# embedded database, timed: `astrolab backup create`, `verify` (a restore
# into scratch, every table checked against the manifest, restic check)
# and `restore` onto an empty home, with the store compared query by query
# after the restore. Prints rows/s and MB/s of each step, the recovery time
# (RTO: restore to a store that answers) and the recovery point (RPO: the
# writes made after the backup, which a restore loses).
#
# usage: bench/backup_drill.sh [GALAXIES]    (default 1000000)
#   The store: the demo sky's GALAXIES galaxies (zcatalog and fastspec
#   rows), its void catalogs (v2_galzone: 3 rows a galaxy) and their
#   membership (4 rows a galaxy): about 9.6 rows a galaxy. Needs restic
#   (scripts/lib/tools.sh installs it). Release build (or ASTROLAB_BENCH_BIN);
#   files kept in ASTROLAB_BENCH_DIR when set.
set -euo pipefail
cd "$(dirname "$0")/.."
galaxies=${1:-1000000}
source scripts/lib/tools.sh
ensure_restic
# ASTROLAB_BENCH_BIN: an astrolab already built (scripts/test runs the
# drill with the test build); else the release build.
if [ -n "${ASTROLAB_BENCH_BIN:-}" ]; then
  bin=$ASTROLAB_BENCH_BIN
else
  cargo build --release -q -p astrolab
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/astrolab
fi
work=${ASTROLAB_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
home=$work/home
a() { "$bin" --home "$home" "$@"; }
now() { date +%s.%N; }
export ASTROLAB_BACKUP_KEY=${ASTROLAB_BACKUP_KEY:-bench-key-$(date +%s)-0123456789}

if [ ! -f "$work/ready" ]; then
  a demo-data "$work/sky" --galaxies "$galaxies" --no-spectra --seed 1 >/dev/null
  a ingest "$work"/sky >/dev/null 2>&1
  python3 - "$work" <<'PY'
import glob, json, sys
w = sys.argv[1]
json.dump({"catalogs": sorted(glob.glob(f"{w}/sky/DESIVAST_*.fits"))}, open(f"{w}/classify.json", "w"))
PY
  a run voids-classify --params "$work/classify.json" --out-dir "$work/classify" >/dev/null 2>&1
  touch "$work/ready"
fi
rm -rf "$work/repo" "$work/restored" "$work/scratch" && mkdir -p "$work/scratch"
dbbytes=$(stat -c %s "$home/astrolab.db")
answers() { # what a reader sees: row counts, a cone, a void selection, an aggregate
  "$bin" --home "$1" db status | grep ' rows$'
  "$bin" --home "$1" query cone --ra 180 --dec 30 --radius 1 --format csv | md5sum
  "$bin" --home "$1" voids members --algorithm VoidFinder --vflag 1 | md5sum
  "$bin" --home "$1" query sql "SELECT COUNT(*), SUM(z), MIN(targetid), MAX(targetid) FROM zcatalog" --format csv
}
answers "$home" >"$work/answers-backup"

t0=$(now); a backup create --to "$work/repo" --json >"$work/create.json"; t1=$(now)
tb=$(python3 -c "print($t1 - $t0)")
# Writes after the backup: lost by a restore of it (the RPO is their age).
extra=$work/extra.csv
printf 'ra,dec,z\n180.1,30.1,0.1\n180.2,30.2,0.2\n' >"$extra"
a ingest "$extra" >/dev/null
t2=$(now); a backup verify --from "$work/repo" --scratch "$work/scratch" --read-data-subset 100% --json >"$work/verify.json"; t3=$(now)
t4=$(now); "$bin" --home "$work/restored" backup restore --from "$work/repo" --json >"$work/restore.json"
"$bin" --home "$work/restored" query sql "SELECT COUNT(*) FROM zcatalog" --format csv >/dev/null; t5=$(now)
answers "$work/restored" >"$work/answers-restored"
cmp -s "$work/answers-backup" "$work/answers-restored" || { echo "DIFFERENT answers after the restore" >&2; diff "$work/answers-backup" "$work/answers-restored" >&2; exit 1; }
python3 - "$work" "$dbbytes" "$tb" "$t2" "$t3" "$t4" "$t5" <<'PY'
import json, sys
w, dbbytes = sys.argv[1], int(sys.argv[2])
tb, t2, t3, t4, t5 = (float(x) for x in sys.argv[3:])
c = json.load(open(f"{w}/create.json")); v = json.load(open(f"{w}/verify.json")); r = json.load(open(f"{w}/restore.json"))
rows = sum(t["rows"] for t in c["manifest"]["tables"].values())
mb = c["bytes"] / 1e6  # the database copy and the home's files
print(f"store: {rows:,} rows in {len(c['manifest']['tables'])} tables, database {dbbytes/1e6:.0f} MB; {mb:.0f} MB backed up with the home's files")
print(f"{'step':<34} {'seconds':>8} {'rows/s':>12} {'MB/s':>8}")
for name, s in [("backup create", tb), ("verify (restore + check 100%)", t3 - t2),
                ("  of which the restore", v["seconds_restore"]), ("restore onto an empty home", t5 - t4)]:
    print(f"{name:<34} {s:8.2f} {rows / s:12,.0f} {mb / s:8.1f}")
print(f"RTO (restore to a store that answers): {t5 - t4:.1f} s; RPO: the writes after the backup, {v['rpo_s']:.1f} s old at the verification")
print("answers after the restore: identical to those at backup time")
PY
