#!/usr/bin/env bash
# Overhead of the pipeline layer per run (issue 16 benchmark, target < 20 ms
# each), on the same small cone search, in one run:
#   direct      `astrolab query cone ... --format csv -o F` (the command)
#   in-process  `astrolab run query-cone --params P --out-dir D`: parameters
#               checked through the declaration, inputs and outputs hashed,
#               result.json and the RO-Crate manifest written
#   subprocess  the same with `--executor subprocess`: a child `astrolab run
#               --events json` whose typed events come back over a pipe
# Overheads: in-process minus direct, subprocess minus in-process (medians
# over REPEATS runs of each, interleaved so drift hits all three alike).
#
# usage: bench/pipeline_overhead.sh [REPEATS]   (default 40; release build)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-40}
cargo build --release -q -p astrolab
bin=$PWD/target/release/astrolab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
home=$work/home
"$bin" --home "$home" demo-data "$work/demo" --galaxies 2000 --no-spectra --seed 1 >/dev/null
"$bin" --home "$home" ingest "$work/demo" >/dev/null
echo '{"ra": 150.0, "dec": 2.0, "radius": "2deg", "table": "zcatalog"}' >"$work/p.json"
python3 - "$bin" "$home" "$work" "$repeats" <<'PY'
import statistics, subprocess, sys, time
bin, home, work, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def direct(i):
    return [bin, "--home", home, "query", "cone", "--ra", "150", "--dec", "2", "--radius", "2deg",
            "--table", "zcatalog", "--format", "csv", "-o", f"{work}/d{i}.csv"]
def run(i, ex):
    return [bin, "--home", home, "run", "query-cone", "--params", f"{work}/p.json",
            "--out-dir", f"{work}/{ex}{i}", "--executor", ex]
t = {"direct": [], "in-process": [], "subprocess": []}
for i in range(n + 2):
    for name, cmd in (("direct", direct(i)), ("in-process", run(i, "in-process")),
                      ("subprocess", run(i, "subprocess"))):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i >= 2:  # two warm-up rounds
            t[name].append(time.perf_counter() - t0)
# Same bytes from both doors.
a = open(f"{work}/d2.csv", "rb").read()
b = open(f"{work}/in-process2/cone.csv", "rb").read()
c = open(f"{work}/subprocess2/cone.csv", "rb").read()
assert a == b == c, "outputs differ"
med = {k: statistics.median(v) * 1000 for k, v in t.items()}
for k, v in med.items():
    print(f"{k:11s} median {v:7.2f} ms over {n} runs ({len(open(f'{work}/d2.csv').readlines()) - 1} rows)")
print(f"in-process overhead  {med['in-process'] - med['direct']:6.2f} ms (target < 20)")
print(f"subprocess overhead  {med['subprocess'] - med['in-process']:6.2f} ms (target < 20)")
PY
