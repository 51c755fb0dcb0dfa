#!/usr/bin/env bash
# Quasar spectral fits, speed and agreement: astrolab's fit (`qso fit`) against
# PyQSOFit (github.com/legolason/PyQSOFit; Guo, Shen & Wang 2018, ascl
# 1809.008; Shen et al. 2019, ApJS 241, 34), run by bench/peer_pyqsofit.py
# in a fixed configuration (power law + UV and optical Fe II + Balmer
# continuum, no host decomposition, no dereddening, the H-beta/[O III]
# complex only: broad H-beta, narrow H-beta, [O III] 4959/5007 core and
# wing; see that script's header), on the same first N spectra (by name) of
# qso/sdss-lowz/spectra, SDSS spec-*.fits at their pipeline redshifts.
#
# PyQSOFit takes 0.1 s to minutes per spectrum (the Balmer continuum's
# astropy BlackBody is evaluated at every continuum model call), more than
# 40 s each with MC 50: N = 20 runs for some minutes.
#
# Both run on one core (`taskset -c 0`, BLAS threads 1). Printed: for each
# spectrum our FIT_MS, PyQSOFit's Fit-call time in ms and their ratio
# (PyQSOFit / ours); median, p10 and p90 of each and of the ratio; the ratio
# of the summed fit times and of the whole commands' wall times (Python
# start-up, imports and file reading included); then, per object, the
# agreement of the [O III] 5007 core and wing velocity (|diff| <= 100 km/s)
# and FWHM (within 20 %), broad H-beta FWHM (within 20 %) and LOG_L5100
# (<= 0.1 dex), with median |difference| (bench/compare_qsofit.py, run by
# the peer's python: it needs pandas).
#
# usage: bench/qsofit_pyqsofit.sh [N [MC]]
#   N   spectra (default 20; the directory holds 119)
#   MC  Monte Carlo samples for both (our --mc, PyQSOFit's MC=True,
#       nsamp=MC); none when absent
#   PYQSOFIT_PYTHON  a python with PyQSOFit installed (default
#                    /work/peers/pyqsofit-venv/bin/python; see
#                    bench/peer_pyqsofit.py for the install)
#   PYQSOFIT_DIR     a PyQSOFit checkout, used only when that python cannot
#                    import pyqsofit itself
#   PYQSOFIT_ARGS    extra options for bench/peer_pyqsofit.py (e.g.
#                    "--hb-broad-ngauss 3", "--oiii-ratio 2.98", or
#                    "--balmer-norm 0 1e10" for the example's Balmer prior,
#                    with which PyQSOFit's continuum fit stalls wherever it
#                    covers < 3646 A; see that script's header)
#   ASTROLAB_QSOFIT_SPEED  our fit-time example (default
#                    target/release/examples/qsofit_speed, built with cargo
#                    build --release -p astrolab-qso --example qsofit_speed
#                    when missing): the same fit as `astrolab qso fit`, each
#                    spectrum's fit timed alone (FIT_MS), PyQSOFit's Fe II
#                    templates from the shared data
#   QSOFIT_BENCH_FILES  space-separated spectrum file names to use instead
#                    of the first N (e.g. PyQSOFit's fastest ones for an MC
#                    run, whose ratio is then the least favourable to us:
#                    its time per sample is about its fit time)
#   ASTROLAB_SHARED_DATA  default ../shared/data: qso/sdss-lowz/spectra
#   ASTROLAB_BENCH_DIR    where the CSVs and logs are kept (default a
#                    temporary directory, printed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
mc=${2:-}
case $n in '' | *[!0-9]*) echo "qsofit_pyqsofit.sh: N must be a positive integer" >&2; exit 2 ;; esac
if [ -n "$mc" ]; then
  case $mc in *[!0-9]*) echo "qsofit_pyqsofit.sh: MC must be a positive integer" >&2; exit 2 ;; esac
fi
PYQSOFIT_PYTHON=${PYQSOFIT_PYTHON:-/work/peers/pyqsofit-venv/bin/python}
if [ ! -x "$PYQSOFIT_PYTHON" ] || ! "$PYQSOFIT_PYTHON" -c 'import pandas' 2>/dev/null; then
  cat >&2 <<EOF
qsofit_pyqsofit.sh: no usable PyQSOFit python at PYQSOFIT_PYTHON=$PYQSOFIT_PYTHON
Install PyQSOFit outside this repository, for example:
    git clone https://github.com/legolason/PyQSOFit /work/peers/PyQSOFit
    python3 -m venv /work/peers/pyqsofit-venv
    /work/peers/pyqsofit-venv/bin/pip install -r /work/peers/PyQSOFit/requirements.txt pandas
    /work/peers/pyqsofit-venv/bin/pip install -e /work/peers/PyQSOFit
and set PYQSOFIT_PYTHON=/work/peers/pyqsofit-venv/bin/python (see bench/peer_pyqsofit.py).
EOF
  exit 2
fi
if ! "$PYQSOFIT_PYTHON" -c 'import pyqsofit.PyQSOFit' 2>/dev/null \
  && [ ! -f "${PYQSOFIT_DIR:-/nonexistent}/src/pyqsofit/PyQSOFit.py" ]; then
  echo "qsofit_pyqsofit.sh: $PYQSOFIT_PYTHON cannot import pyqsofit and PYQSOFIT_DIR is not a PyQSOFit checkout;" \
    "pip install -e /work/peers/PyQSOFit into it (see bench/peer_pyqsofit.py)" >&2
  exit 2
fi
export PYQSOFIT_DIR=${PYQSOFIT_DIR:-}
shared=${ASTROLAB_SHARED_DATA:-../shared/data}
spectra=$shared/qso/sdss-lowz/spectra
[ -d "$spectra" ] || { echo "qsofit_pyqsofit.sh: missing $spectra (set ASTROLAB_SHARED_DATA)" >&2; exit 2; }
# Our side: the fit-time example (the fit of each spectrum timed alone,
# files read first; the H-beta/[O III] complex, continuum and Fe II, as the
# peer is configured), built in release.
SPEED=${ASTROLAB_QSOFIT_SPEED:-target/release/examples/qsofit_speed}
if [ ! -x "$SPEED" ]; then
  cargo build --release -q -p astrolab-qso --example qsofit_speed
fi
fe_op=$shared/templates/fe_optical.txt
fe_uv=$shared/templates/fe_uv.txt
files=()
if [ -n "${QSOFIT_BENCH_FILES:-}" ]; then
  # Named spectra (file names in the spectra directory), N ignored.
  for f in $QSOFIT_BENCH_FILES; do
    [ -f "$spectra/$f" ] || { echo "qsofit_pyqsofit.sh: QSOFIT_BENCH_FILES: no $spectra/$f" >&2; exit 2; }
    files+=("$spectra/$f")
  done
else
  while IFS= read -r f; do files+=("$f"); done < <(find "$spectra" -maxdepth 1 -name 'spec-*.fits' | LC_ALL=C sort | head -n "$n")
fi
[ "${#files[@]}" -gt 0 ] || { echo "qsofit_pyqsofit.sh: no spec-*.fits in $spectra" >&2; exit 2; }
work=${ASTROLAB_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
# Our command needs no store; keep whatever it creates out of the tree.
export ASTROLAB_HOME=${ASTROLAB_HOME:-$work/home}
# One core for the peer too (NumPy's BLAS would otherwise start threads).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
mc_args=()
[ -n "$mc" ] && mc_args=(--mc "$mc")
read -r -a peer_extra <<<"${PYQSOFIT_ARGS:-}"

now() { date +%s.%N; }
failed() {
  echo "qsofit_pyqsofit.sh: $1 failed; the end of $2:" >&2
  tail -n 20 "$2" >&2
  exit 1
}

echo "== ${#files[@]} spectra of $spectra${mc:+, MC $mc samples}"
t0=$(now)
taskset -c 0 "$SPEED" "$fe_op" "$fe_uv" "${mc:-0}" "${files[@]}" >"$work/ours.csv" \
  2>"$work/ours.log" || failed qsofit_speed "$work/ours.log"
tail -n 1 "$work/ours.log"
t1=$(now)
taskset -c 0 "$PYQSOFIT_PYTHON" bench/peer_pyqsofit.py --output "$work/peer.csv" "${mc_args[@]}" \
  "${peer_extra[@]}" "${files[@]}" 2>"$work/peer.log" || failed PyQSOFit "$work/peer.log"
t2=$(now)
tail -n 1 "$work/peer.log"
"$PYQSOFIT_PYTHON" bench/compare_qsofit.py "$work/ours.csv" "$work/peer.csv" \
  --ours-wall "$(python3 -c "print($t1 - $t0)")" --peer-wall "$(python3 -c "print($t2 - $t1)")"
echo "CSVs and logs in $work"
