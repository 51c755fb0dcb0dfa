# shellcheck shell=bash
# The Python package (crates/astrolab-py): build the abi3 wheel with maturin
# (pinned) from the test build's profile, so the workspace's compiled crates
# are reused; install it into a fresh virtual environment with what its tests
# use; run pytest. The guide's Python tutorial then runs with that
# environment (scripts/lib/book.sh).
# Sourced by scripts/test after the Rust tests (target/debug/astrolab exists).

MATURIN_VERSION=1.16.0

pypkg_log() { printf '[python] %s\n' "$*" >&2; }

python_package_test() {
  local root venv wheel
  root=$(pwd)
  venv=$root/target/py-venv
  if ! python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('maturin') != '$MATURIN_VERSION')" 2>/dev/null; then
    pypkg_log "installing maturin==$MATURIN_VERSION"
    python3 -m pip install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION" >&2 || return 1
  fi
  rm -rf target/wheels
  pypkg_log "building the wheel (dev profile, shared with the test build)"
  python3 -m maturin build --quiet -m crates/astrolab-py/Cargo.toml --profile dev -o target/wheels >&2 || return 1
  wheel=$(ls target/wheels/astrolab-*.whl) || return 1
  pypkg_log "fresh virtual environment: pip install $(basename "$wheel")"
  rm -rf "$venv"
  python3 -m venv "$venv" || return 1
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" pytest astropy >&2 || return 1
  # The guide's Python tutorial (docs/tutorials/python.md, with the README's
  # former example) runs with this environment in scripts/lib/book.sh.
  pypkg_log "pytest crates/astrolab-py/tests"
  "$venv/bin/python" -m pytest -q crates/astrolab-py/tests >&2
}
