#!/usr/bin/env bash
# BAL indices and speed: `astrolab outflows bal` against DESI's BAL finder
# baltools (github.com/paulmartini/baltools, `fitbal.calcbalparams` as
# DESI's catalog calls it; Filbert et al. 2024), run by
# bench/peer_baltools.py on the same spectra:
#   1. the 69 BOSS spectra of plate 3655 (qso/boss, pipeline redshifts);
#   2. spec-3655-55240-0110 again at the quasar catalog's z = 2.394
#      (--z 2.394; the pipeline's 3.388 is wrong for it);
#   3. the DESI coadds of qso/desi with the Fuji quasar catalogs
#      (QSO_cat_fuji_dark_healpix, which names all 14 rows, then _tile,
#      which names 10 of them with the same Z);
#   4. a synthetic set: `astrolab demo-data --anomaly-benchmark` DESI-format
#      coadds (redrock quasar templates, DESI noise and masks) with BAL
#      troughs injected into a sixth of the rarities, and their redrock files
#      for Z; its spectra_truth.csv says which are BAL.
# For each set it prints the spectra both measured, for BI_CIV and AI_CIV
# the fraction that agree, every disagreeing spectrum with both values,
# each side's skip reasons and the speed of each on one core (both run
# under `taskset -c 0`): ours (spectra measured / wall time of the command,
# file reading included), baltools
# (measured / the sum of its per-spectrum SECONDS, the calcbalparams calls
# alone, and / the wall time of the script with Python start-up and file
# reading), and ours for the measurement alone beside baltools' fit time
# (crates/astrolab-pipeline/examples/bal_files_speed.rs: the same files read
# first, then continuum + BI/AI + AOD timed, median of 5), and the ratios.
#
# Agreement: |ours - peer| <= sqrt(err_ours_scaled^2 + err_peer^2), or both
# zero, with err_ours_scaled = ERR_ours / sqrt(dv_kms), dv_kms = 69.0 for
# SDSS/BOSS (log-lambda pixels of 1e-4 dex: 69.0 km/s everywhere) and 58.0
# for DESI: our errors sum (s^2 + (D/m)^2) / 0.9^2 dv^2 over a trough's
# pixels (the variance of a sum of dv (1 - f/0.9) terms), baltools' the
# same with dv instead of dv^2, so ours are about sqrt(dv) times baltools'
# (see crates/astrolab-qso/src/bal.rs). DESI's pixels are 0.8 A wide, so
# their dv is 0.8 c / lambda_obs: 58 km/s at 4135 A (C IV at z = 1.67),
# 48 km/s for the C IV window at z = 2.4, 40 km/s at z = 3, 31 km/s at
# z = 4.3; one value for all keeps the test simple, and makes the scaled
# error smaller than dividing by the spectrum's own sqrt(dv) would by a
# factor 1.1 at z = 2.4, 1.2 at z = 3, 1.4 at z = 4.3.
#
# usage: bench/bal_baltools.sh [SYNTH_DIR]
#   BALTOOLS_PYTHON  a python with numpy, scipy, astropy, fitsio and
#                    matplotlib (see bench/peer_baltools.py for the install)
#   BALTOOLS_DIR     a baltools checkout (its py/ holds the package)
#   ASTROLAB         our binary (default target/release/astrolab, built with
#                    cargo build --release -p astrolab when missing)
#   ASTROLAB_SHARED_DATA  default ../shared/data: qso/boss, qso/desi,
#                    templates/PCA_Eigenvectors.fits, templates/rrtemplate-*
#   ASTROLAB_BENCH_DIR    where the CSVs are kept (default a temporary
#                    directory, printed at the end)
#   SYNTH_N (600), SYNTH_FRACTION (0.2), SYNTH_SEED (7): the synthetic set
#                    written to SYNTH_DIR (default bench/data/bal_synth) when
#                    it holds no coadd-*.fits yet.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BALTOOLS_PYTHON:-}" ]; then
  echo "bal_baltools.sh: set BALTOOLS_PYTHON to a python with baltools' dependencies (see bench/peer_baltools.py)" >&2
  exit 2
fi
if [ -z "${BALTOOLS_DIR:-}" ]; then
  echo "bal_baltools.sh: set BALTOOLS_DIR to a baltools checkout (the directory whose py/ holds baltools)" >&2
  exit 2
fi
export BALTOOLS_DIR
shared=${ASTROLAB_SHARED_DATA:-../shared/data}
synth=${1:-bench/data/bal_synth}
ASTROLAB=${ASTROLAB:-target/release/astrolab}
pca=$shared/templates/PCA_Eigenvectors.fits
for f in "$pca" "$shared/qso/boss/spec-3655-55240-0110.fits" "$shared/qso/desi/QSO_cat_fuji_dark_healpix.fits.gz"; do
  [ -e "$f" ] || { echo "bal_baltools.sh: missing $f (set ASTROLAB_SHARED_DATA)" >&2; exit 2; }
done
if [ ! -x "$ASTROLAB" ]; then
  cargo build --release -q -p astrolab
fi
# The measurement alone (files read first, untimed), to set beside
# baltools' calcbalparams time.
cargo build --release -q -p astrolab-pipeline --example bal_files_speed
speed=${CARGO_TARGET_DIR:-target}/release/examples/bal_files_speed
work=${ASTROLAB_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
# Our command needs no store; keep whatever it creates out of the tree.
export ASTROLAB_HOME=${ASTROLAB_HOME:-$work/home}
# One core for the peer too (NumPy's BLAS would otherwise start threads).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

if ! compgen -G "$synth/coadd-*.fits" >/dev/null; then
  mkdir -p "$synth"
  "$ASTROLAB" demo-data "$synth" --anomaly-benchmark "${SYNTH_N:-600}" \
    --rarity-fraction "${SYNTH_FRACTION:-0.2}" --seed "${SYNTH_SEED:-7}" \
    --templates "$shared/templates" >/dev/null
fi

now() { date +%s.%N; }
failed() {
  echo "bal_baltools.sh: $2 failed on the $1 set; the end of $3:" >&2
  tail -n 20 "$3" >&2
  exit 1
}

# run NAME [args...]: both tools on the same inputs, then the comparison.
run() {
  local name=$1
  shift
  local t0 t1 t2 t3
  t0=$(now)
  taskset -c 0 "$ASTROLAB" outflows bal --pca "$pca" --output "$work/$name.ours.csv" "$@" \
    2>"$work/$name.ours.log" || failed "$name" astrolab "$work/$name.ours.log"
  t1=$(now)
  t2=$(now)
  taskset -c 0 "$BALTOOLS_PYTHON" bench/peer_baltools.py --pca "$pca" --output "$work/$name.peer.csv" "$@" \
    2>"$work/$name.peer.log" || failed "$name" baltools "$work/$name.peer.log"
  t3=$(now)
  local alone
  alone=$(taskset -c 0 "$speed" "$@") || failed "$name" bal_files_speed /dev/null
  local truth=""
  case $name in synth) truth=$synth/spectra_truth.csv ;; esac
  python3 - "$name" "$work/$name.ours.csv" "$work/$name.peer.csv" \
    "$(python3 -c "print($t1 - $t0)")" "$(python3 -c "print($t3 - $t2)")" "$truth" "$alone" <<'PY'
import csv, math, sys
name, ours_path, peer_path, ours_wall, peer_wall, truth_path, alone = sys.argv[1:8]
ours_wall, peer_wall = float(ours_wall), float(peer_wall)

def load(path):
    with open(path, newline="") as fh:
        return {r["NAME"]: r for r in csv.DictReader(fh)}

def num(r, c):
    v = (r.get(c) or "").strip()
    return float(v) if v else None

ours, peer = load(ours_path), load(peer_path)
print(f"== {name}: {len(ours)} spectra ours, {len(peer)} baltools")
meas = lambda rows: {k for k, r in rows.items() if not (r.get("SKIP_REASON") or "").strip()}
mo, mp = meas(ours), meas(peer)
both = sorted(mo & mp)
print(f"   both measured {len(both)}; ours only {len(mo - mp)}, baltools only {len(mp - mo)}")
for k in sorted(mo - mp):
    print(f"     ours only: {k} (baltools: {peer[k]['SKIP_REASON'] if k in peer else 'absent'})")
for k in sorted(mp - mo):
    print(f"     baltools only: {k} (ours: {ours[k]['SKIP_REASON'] if k in ours else 'absent'})")
for side, rows in (("ours", ours), ("baltools", peer)):
    reasons = {}
    for r in rows.values():
        s = (r.get("SKIP_REASON") or "").strip()
        if s:
            reasons[s] = reasons.get(s, 0) + 1
    print(f"   skipped {side}: " + (", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"))

def dv_kms(key, r):
    # DESI rows are STEM:TARGETID (and carry a TARGETID); SDSS rows not.
    return 58.0 if (":" in key or (r.get("TARGETID") or "").strip()) else 69.0

for index in ("BI_CIV", "AI_CIV"):
    agree, bad = 0, []
    for k in both:
        o, p = ours[k], peer[k]
        vo, vp = num(o, index), num(p, index)
        eo, ep = num(o, "ERR_" + index) or 0.0, num(p, "ERR_" + index) or 0.0
        eo_s = eo / math.sqrt(dv_kms(k, o))
        ok = (vo == 0.0 and vp == 0.0) or abs(vo - vp) <= math.hypot(eo_s, ep)
        if ok:
            agree += 1
        else:
            bad.append((k, vo, eo, eo_s, vp, ep))
    frac = agree / len(both) if both else float("nan")
    print(f"   {index}: {agree}/{len(both)} agree ({100 * frac:.1f} %)")
    for k, vo, eo, eo_s, vp, ep in bad:
        print(f"     {k}: ours {vo:.2f} +- {eo:.2f} (scaled {eo_s:.2f}), baltools {vp:.2f} +- {ep:.2f}")

if truth_path:
    # Injected BAL troughs (KIND bal) against what each side finds.
    with open(truth_path, newline="") as fh:
        bal = {r["TARGETID"] for r in csv.DictReader(fh) if r["KIND"] == "bal"}
    for side, rows, m in (("ours", ours, mo), ("baltools", peer, mp)):
        tid = lambda k: k.rsplit(":", 1)[-1]
        inj = [k for k in both if tid(k) in bal]
        rest = [k for k in both if tid(k) not in bal]
        for index in ("BI_CIV", "AI_CIV"):
            hit = sum(1 for k in inj if (num(rows[k], index) or 0) > 0)
            fp = sum(1 for k in rest if (num(rows[k], index) or 0) > 0)
            print(f"   truth {side} {index} > 0: {hit}/{len(inj)} injected BALs, "
                  f"{fp}/{len(rest)} others")

secs = sum(num(peer[k], "SECONDS") or 0.0 for k in mp)
nan = float("nan")
r_ours = len(mo) / ours_wall if ours_wall > 0 else nan
r_fit = len(mp) / secs if secs > 0 else nan
r_wall = len(mp) / peer_wall if peer_wall > 0 and mp else nan
print(f"   speed ours (one core): {len(mo)} in {ours_wall:.3f} s wall = {r_ours:.2f} spectra/s/core")
print(f"   speed baltools: {len(mp)} in {secs:.3f} s of calcbalparams = {r_fit:.2f} spectra/s/core; "
      f"{peer_wall:.3f} s wall = {r_wall:.2f} spectra/s/core")
a = alone.split()
r_alone = float(a[a.index("rate") + 1])
print(f"   speed ours, measurement alone (continuum + BI/AI + AOD, files read first): "
      f"{a[a.index('measured') + 1]} in {float(a[a.index('seconds') + 1]):.4f} s = {r_alone:.1f} spectra/s/core")
print(f"   ratio ours/baltools: {r_alone / r_fit:.0f}x (measurement alone vs calcbalparams), "
      f"{r_ours / r_wall:.1f}x (whole command vs whole script)")
PY
}

boss=$shared/qso/boss
desi=$shared/qso/desi
run boss "$boss"
run boss_0110_z2394 "$boss/spec-3655-55240-0110.fits" --z 2.394
run desi "$desi"/coadd-*.fits \
  --redshifts "$desi/QSO_cat_fuji_dark_healpix.fits.gz" "$desi/QSO_cat_fuji_dark_tile.fits.gz"
run synth "$synth"/coadd-*.fits --redshifts "$synth"/redrock-*.fits
echo "CSVs and logs in $work"
