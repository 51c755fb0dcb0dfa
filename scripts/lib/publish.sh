# shellcheck shell=bash
# The Python peers of `astrolab publish`'s test (crates/astrolab-cli/tests/
# publish.rs and publish_check.py): LSDB and hats open and validate the HATS
# catalog, astropy reads the FITS catalog and the CDS ReadMe + ASCII table,
# jsonschema validates the Zenodo deposit JSON. Pinned, in their own virtual
# environment under target/ (lsdb pulls dask and a newer pyarrow than the
# system Python's cross-checks may pin). Sourced by scripts/test; messages go
# to stderr. Exports ASTROLAB_PUBLISH_PYTHON; returns 1 when the environment
# cannot be made (the caller decides whether that fails the run).

PUBLISH_PY_PACKAGES=(hats==0.11.1 lsdb==0.11.1 astropy==7.2.3 jsonschema==4.25.1)

publish_log() { printf '[publish] %s\n' "$*" >&2; }

ensure_publish_python() {
  local venv=${1:-$(pwd)/target/publish-venv} stamp want
  want="${PUBLISH_PY_PACKAGES[*]}"
  stamp=$venv/.astrolab-packages
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    export ASTROLAB_PUBLISH_PYTHON=$venv/bin/python
    return 0
  fi
  publish_log "virtual environment $venv: pip install $want"
  rm -rf "$venv"
  python3 -m venv "$venv" || return 1
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${PUBLISH_PY_PACKAGES[@]}" >&2 || return 1
  "$venv/bin/python" -c 'import hats, lsdb, astropy, jsonschema' || return 1
  printf '%s\n' "$want" >"$stamp"
  export ASTROLAB_PUBLISH_PYTHON=$venv/bin/python
  publish_log "python: $ASTROLAB_PUBLISH_PYTHON"
}
