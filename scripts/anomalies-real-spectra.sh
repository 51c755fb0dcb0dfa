#!/usr/bin/env bash
# Real quasar spectra through the anomaly model (issue 17): a model trained
# on 2,000 synthetic benchmark quasars (seed 3) plus the real SDSS, BOSS
# and DESI quasars of a qso/ directory, then every spectrum file there
# scored as files, with figures. Makes docs/figures/anomalies-real/ (the
# catalog and the SVG figures of docs/anomalies-real-spectra.md); the test
# `cargo nextest run -p astrolab --test anomalies_real` runs the same
# commands and pins the same values.
#
# usage: scripts/anomalies-real-spectra.sh DATA_DIR [OUT_DIR]
#   DATA_DIR holds qso/ (sdss-lowz/spectra, boss, desi with its
#   QSO_cat_fuji_dark_*.fits.gz) and templates/ (redrock's quasar
#   templates); OUT_DIR defaults to docs/figures/anomalies-real.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(cd "${1:?usage: $0 DATA_DIR [OUT_DIR]}" && pwd)
out=$(mkdir -p "${2:-docs/figures/anomalies-real}" && cd "${2:-docs/figures/anomalies-real}" && pwd)
# The test's build (dev profile): the same binary gives the same numbers.
cargo build -q -p astrolab
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/astrolab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
a() { "$bin" --home "$work/home" "$@"; }
a demo-data "$work/bench" --anomaly-benchmark 2000 --seed 3 --templates "$data/templates" >/dev/null
a ingest "$work"/bench/redrock-*.fits >/dev/null
a spectra build --from "$work/bench" >/dev/null
# Relative paths from DATA_DIR, so the catalog names files as qso/...
cd "$data"
cats=(qso/desi/QSO_cat_fuji_dark_healpix.fits.gz qso/desi/QSO_cat_fuji_dark_tile.fits.gz)
a anomalies train --output "$work/model" --max-epochs 12 --seed 1 \
  --with-files qso/sdss-lowz/spectra qso/boss qso/desi --redshifts "${cats[@]}" 2>&1 | grep -v '^epoch' | tail -4
rm -f "$out"/*.svg "$out/catalog.csv"
a anomalies score-files qso --redshifts "${cats[@]}" --output "$out/catalog.csv" \
  --figures "$out" --figure spec-3655-55240-0110 2>&1 | tail -1
ls "$out"
