#!/usr/bin/env bash
# VAE training-step benchmark (issue 17): one step (forward, backward, Adam
# update) of astrolab-anomaly's VAE on burn's ndarray CPU backend, and of the
# same network in PyTorch (bench/peer_vae_step.py), same batch, grid length
# and thread count. Prints both lines and the ratio of the medians.
#
# usage: bench/vae_step.sh [BATCH] [LEN] [STEPS] [TORCH_THREADS]
#   TORCH_THREADS defaults to 1: the Rust backend is single-threaded by
#   design (bit-reproducible training), so 1 is the like-for-like setting.
#   Without torch (`python3 -c 'import torch'` fails) only ours runs.
#   TORCH_PYTHON names the Python with torch (default python3).
#
# The peer runs twice: as installed, and with glibc's malloc set the way
# `anomalies train` sets it for itself (mmap threshold 32 MiB, no trimming:
# see crates/astrolab-anomaly/src/ops/alloc.rs), since PyTorch's CPU
# allocator page-faults its buffers back in every step the same way. The
# second ratio is the like-for-like one.
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-64}
len=${2:-3000}
steps=${3:-20}
threads=${4:-1}
cargo build --release -q -p astrolab-anomaly --example train_step
dir=${CARGO_TARGET_DIR:-target}
ours=$("$dir/release/examples/train_step" "$batch" "$len" "$steps")
echo "$ours"
py=${TORCH_PYTHON:-python3}
if "$py" -c 'import torch' 2>/dev/null; then
  peer=$("$py" bench/peer_vae_step.py "$batch" "$len" "$steps" "$threads" 2>/dev/null)
  echo "$peer (glibc malloc defaults)"
  tuned=$(GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647 \
    "$py" bench/peer_vae_step.py "$batch" "$len" "$steps" "$threads" 2>/dev/null)
  echo "$tuned (glibc malloc as anomalies train sets it)"
  python3 - "$ours" "$peer" "$tuned" <<'PY'
import re, sys
med = [float(re.search(r"median=([0-9.]+)", s).group(1)) for s in sys.argv[1:]]
print(f"ratio astrolab / pytorch (median ms/step): {med[0] / med[1]:.2f} against the defaults, "
      f"{med[0] / med[2]:.2f} against the same malloc settings")
PY
else
  echo "torch not importable: peer skipped"
fi
