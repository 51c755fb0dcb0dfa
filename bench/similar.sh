#!/usr/bin/env bash
# Similarity-query benchmark (issue 17: p50 <= 10 ms over 1.6 M latents):
# exact k-NN of astrolab_anomaly::knn over N seeded 16-D latents, and NumPy's
# brute force (bench/peer_knn.py) on the same table and query rows. Prints
# both lines, whether the answers agree, and the ratio of the medians.
#
# usage: bench/similar.sh [N] [QUERIES] [K] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1600000}
queries=${2:-200}
k=${3:-20}
threads=${4:-2}
cargo build --release -q -p astrolab-anomaly --example knn_query
dir=${CARGO_TARGET_DIR:-target}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ours=$("$dir/release/examples/knn_query" "$n" 16 "$queries" "$k" "$threads" "$tmp/latents.f32")
echo "$ours"
peer=$(python3 bench/peer_knn.py "$tmp/latents.f32" "$n" 16 "$k")
echo "$peer"
python3 - "$ours" "$peer" <<'PY'
import re, sys
med = [float(re.search(r"p50=([0-9.]+)", s).group(1)) for s in sys.argv[1:]]
chk = [re.search(r"first-neighbour-sum=(\d+)", s).group(1) for s in sys.argv[1:]]
print("same nearest neighbours:", "yes" if chk[0] == chk[1] else "NO")
print(f"ratio astrolab / numpy (p50 ms/query): {med[0] / med[1]:.3f}")
PY
