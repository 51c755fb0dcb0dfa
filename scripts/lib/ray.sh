# shellcheck shell=bash
# A real Ray cluster on 127.0.0.1 for the Ray executor's tests
# (crates/astrolab-cli/tests/ray_executor.rs): Ray from PyPI at a pinned
# version, a head with no CPUs (only the jobs' drivers run there) and two
# worker nodes of one CPU each, so shards really run on two workers and a
# test can kill one. Port 6379 is Redis's on the lab's machines: the head
# listens on 6390, its dashboard (the Job Submission API) on 8275. Sourced
# by scripts/test, which calls ray_cluster_stop on exit.
#
# Exports ASTROLAB_TEST_RAY_ADDRESS (dashboard URL) and ASTROLAB_TEST_RAY_GCS
# (the head's address, to add a worker node back): test-only names, because
# a server or worker that sees ASTROLAB_RAY_ADDRESS sends its runs to Ray,
# and the other tests' servers must keep their subprocess executor.

RAY_VERSION=2.60.0
RAY_PORT=6390
RAY_DASHBOARD_PORT=8275
# Sessions and sockets of this cluster, apart from any other on the machine.
RAY_TEMP_DIR=${RAY_TEMP_DIR:-/tmp/ray-astrolab-test}

ray_log() { printf '[ray] %s\n' "$*" >&2; }

ensure_ray() {
  if ! python3 -c "import ray, sys; sys.exit(ray.__version__ != '$RAY_VERSION')" 2>/dev/null; then
    ray_log "installing ray[default]==$RAY_VERSION from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check "ray[default]==$RAY_VERSION" >&2 || return 1
  fi
  command -v ray >/dev/null || return 1
}

ray_cluster_start() {
  export RAY_USAGE_STATS_ENABLED=0
  local addr="127.0.0.1:$RAY_PORT"
  ray_log "starting a head on $addr (dashboard $RAY_DASHBOARD_PORT) and two one-CPU workers"
  ray start --head --node-ip-address 127.0.0.1 --port "$RAY_PORT" \
    --dashboard-host 127.0.0.1 --dashboard-port "$RAY_DASHBOARD_PORT" \
    --include-dashboard true --num-cpus 0 --temp-dir "$RAY_TEMP_DIR" \
    --disable-usage-stats >/dev/null 2>&1 || return 1
  local i
  for i in 1 2; do
    ray start --address "$addr" --node-ip-address 127.0.0.1 --num-cpus 1 \
      --disable-usage-stats >/dev/null 2>&1 || return 1
  done
  # The Job API answers once the dashboard is up.
  for i in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$RAY_DASHBOARD_PORT/api/version" >/dev/null 2>&1; then
      export ASTROLAB_TEST_RAY_ADDRESS="http://127.0.0.1:$RAY_DASHBOARD_PORT"
      export ASTROLAB_TEST_RAY_GCS="$addr"
      return 0
    fi
    sleep 1
  done
  return 1
}

ray_cluster_stop() {
  command -v ray >/dev/null && ray stop --force >/dev/null 2>&1 || true
}
