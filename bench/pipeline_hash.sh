#!/usr/bin/env bash
# Issue 16 benchmark: SHA-256 of files for run manifests, MB/s on one core.
# astrolab (crates/astrolab-pipeline/examples/sha256.rs, i.e.
# astrolab_pipeline::hash::sha256_file) and the peer (coreutils sha256sum)
# hash the same >= 1 GiB file in the same run, with the page cache warm for
# both (the file is read twice before timing), so both measure hashing, not
# the disk. Order: astrolab, sha256sum, astrolab, sha256sum, astrolab,
# sha256sum; the best run of each is reported, the checksums must agree.
#
# Both sides are pinned to one CPU with taskset (when present) so "per core"
# is literal. Target: astrolab >= 1 GB/s per core.
#
# usage: bench/pipeline_hash.sh [FILE]
#   FILE: the file to hash; default: a 1 GiB random file, made once under
#   ${TMPDIR:-/tmp}/astrolab-pipeline-hash and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p astrolab-pipeline --example sha256
ex=${CARGO_TARGET_DIR:-target}/release/examples/sha256
pin=""
if command -v taskset > /dev/null; then pin="taskset -c 1"; fi

if [ $# -ge 1 ]; then
    file=$1
else
    dir=${TMPDIR:-/tmp}/astrolab-pipeline-hash
    file=$dir/random-1GiB.bin
    size=$((1024 * 1024 * 1024))
    if [ "$(stat -c %s "$file" 2>/dev/null || echo 0)" -ne "$size" ]; then
        mkdir -p "$dir"
        echo "making $file (1 GiB of random bytes)"
        head -c "$size" /dev/urandom > "$file.part" && mv "$file.part" "$file"
    fi
fi
bytes=$(stat -L -c %s "$file")
if [ "$bytes" -lt $((1024 * 1024 * 1024)) ]; then
    echo "note: $file has $bytes bytes, less than the 1 GiB this benchmark asks for" >&2
fi

# Warm the page cache for both sides: read the file twice.
for _ in 1 2; do cat "$file" > /dev/null; done
echo "file: $file, $bytes bytes (page cache warm: read twice before timing)"
echo "pinned with: ${pin:-nothing (no taskset)}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Runs a command, prints "SECONDS OUTPUT".
timed() {
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$("$@")
    t1=$(date +%s.%N)
    echo "$(awk "BEGIN { print $t1 - $t0 }") $out"
}

ours=() peer=()
for round in 1 2 3; do
    o=$(timed $pin "$ex" "$file")
    p=$(timed $pin sha256sum "$file")
    ours+=("$o") peer+=("$p")
    echo "round $round: astrolab $(echo "$o" | cut -d' ' -f1) s, sha256sum $(echo "$p" | cut -d' ' -f1) s"
done

python3 - "$bytes" "${ours[@]}" -- "${peer[@]}" <<'PY'
import sys
args = sys.argv[2:]
cut = args.index("--")
ours, peer = args[:cut], args[cut + 1:]
nbytes = int(sys.argv[1])
# ours: "SECONDS SIZE SHA"; peer: "SECONDS SHA FILE"
o_sha = {r.split()[2] for r in ours}
p_sha = {r.split()[1] for r in peer}
assert len(o_sha) == 1 and o_sha == p_sha, f"checksums differ: astrolab {o_sha}, sha256sum {p_sha}"
assert all(int(r.split()[1]) == nbytes for r in ours), "astrolab reported another size"
o = nbytes / min(float(r.split()[0]) for r in ours) / 1e6
p = nbytes / min(float(r.split()[0]) for r in peer) / 1e6
print(f"checksums agree: {o_sha.pop()}")
print(f"astrolab sha256_file {o:.0f} MB/s per core (best of {len(ours)}); sha256sum {p:.0f} MB/s per core (best of {len(peer)})")
print(f"ratio astrolab / sha256sum = {o / p:.2f}x   (target: astrolab >= 1000 MB/s per core: {'met' if o >= 1000 else 'MISSED'})")
PY
