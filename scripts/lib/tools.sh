# shellcheck shell=bash
# Finds, or installs with apt, the programs the server's tests drive that are
# not Rust crates: headless Chromium with chromedriver (browser tests) and
# Prometheus (the scrape test). Sourced by scripts/test; messages go to
# stderr. Each function exports the paths it found and returns 1 when the
# program is missing and cannot be installed here (not root, no apt); the
# caller decides whether that fails the run (fail_or_warn: only with CI set).
# A path already set in the environment is kept when it is executable.

tools_log() { printf '[tools] %s\n' "$*" >&2; }

# Quiet apt install of the given packages (root only). apt-get update runs
# only when the first try fails (stale or empty package lists), so a machine
# with fresh lists pays for the downloads alone.
tools_apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@")
  "${apt[@]}" >/dev/null 2>&1 && return 0
  tools_log "apt-get install $* failed; updating the package lists and retrying"
  apt-get update -qq >/dev/null 2>&1 && "${apt[@]}" >/dev/null 2>&1
}

# First executable among the arguments (names on PATH or absolute paths).
tools_first() {
  local c p
  for c in "$@"; do
    [ -n "$c" ] || continue
    if p=$(command -v "$c" 2>/dev/null) && [ -x "$p" ]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 1
}

# Headless Chromium and its WebDriver. Exports ASTROLAB_CHROMIUM and
# ASTROLAB_CHROMEDRIVER. Debian: packages chromium and chromium-driver
# (fonts-liberation too, so screenshots do not depend on whatever fonts the
# machine has; the other recommends, GL drivers and desktop helpers, are not
# needed headless).
ensure_browser() {
  local chromium driver
  chromium=$(tools_first "${ASTROLAB_CHROMIUM:-}" chromium chromium-browser google-chrome-stable google-chrome) || chromium=
  driver=$(tools_first "${ASTROLAB_CHROMEDRIVER:-}" chromedriver /usr/lib/chromium/chromedriver) || driver=
  if [ -z "$chromium" ] || [ -z "$driver" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      tools_log "installing chromium and chromium-driver with apt"
      local t0=$SECONDS
      tools_apt_install chromium chromium-driver fonts-liberation || tools_log "could not install chromium/chromium-driver"
      tools_log "chromium install took $((SECONDS - t0)) s"
      chromium=$(tools_first "${ASTROLAB_CHROMIUM:-}" chromium chromium-browser) || chromium=
      driver=$(tools_first "${ASTROLAB_CHROMEDRIVER:-}" chromedriver /usr/lib/chromium/chromedriver) || driver=
    else
      tools_log "chromium/chromedriver missing and not root: browser tests will be skipped"
    fi
  fi
  [ -n "$chromium" ] && [ -n "$driver" ] || return 1
  export ASTROLAB_CHROMIUM="$chromium" ASTROLAB_CHROMEDRIVER="$driver"
  tools_log "browser: $chromium, driver: $driver"
}

# The Prometheus server binary (Debian package prometheus, which also ships
# promtool). Exports ASTROLAB_PROMETHEUS. The package's service is not
# started in containers (policy-rc.d); the tests run their own instance on a
# free port with a temporary config, so a running system service does not
# matter either.
ensure_prometheus() {
  local prom
  prom=$(tools_first "${ASTROLAB_PROMETHEUS:-}" prometheus /usr/bin/prometheus) || prom=
  if [ -z "$prom" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      tools_log "installing prometheus with apt"
      local t0=$SECONDS
      tools_apt_install prometheus || tools_log "could not install prometheus"
      tools_log "prometheus install took $((SECONDS - t0)) s"
      prom=$(tools_first "${ASTROLAB_PROMETHEUS:-}" prometheus /usr/bin/prometheus) || prom=
    else
      tools_log "prometheus missing and not root: the scrape test will be skipped"
    fi
  fi
  [ -n "$prom" ] || return 1
  export ASTROLAB_PROMETHEUS="$prom"
  tools_log "prometheus: $prom"
}

# restic, the engine of `astrolab backup` (Debian package restic). Exports
# ASTROLAB_RESTIC.
ensure_restic() {
  local r
  r=$(tools_first "${ASTROLAB_RESTIC:-}" restic) || r=
  if [ -z "$r" ]; then
    tools_log "installing restic with apt"
    tools_apt_install restic || tools_log "could not install restic"
    r=$(tools_first "${ASTROLAB_RESTIC:-}" restic) || r=
  fi
  [ -n "$r" ] || return 1
  export ASTROLAB_RESTIC="$r"
  tools_log "restic: $r ($("$r" version 2>/dev/null | cut -d' ' -f2))"
}

# moto's S3-compatible server (PyPI moto[server], pinned), the off-site
# repository of the backup tests. Exports ASTROLAB_MOTO_SERVER.
MOTO_VERSION=5.2.1
ensure_moto() {
  local m
  m=$(tools_first "${ASTROLAB_MOTO_SERVER:-}" moto_server) || m=
  if [ -z "$m" ]; then
    tools_log "installing moto[server]==$MOTO_VERSION from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2 || tools_log "could not install moto"
    hash -r
    m=$(tools_first "${ASTROLAB_MOTO_SERVER:-}" moto_server) || m=
  fi
  [ -n "$m" ] || return 1
  export ASTROLAB_MOTO_SERVER="$m"
  tools_log "moto_server: $m"
}

# pgBackRest, the engine of a PostgreSQL store's backups (Debian package
# pgbackrest), and socat (Debian), which puts TLS in front of moto's server
# for pgBackRest, which speaks only TLS to an object store. Exports
# ASTROLAB_PGBACKREST and ASTROLAB_SOCAT.
ensure_pgbackrest() {
  local p s
  p=$(tools_first "${ASTROLAB_PGBACKREST:-}" pgbackrest) || p=
  s=$(tools_first "${ASTROLAB_SOCAT:-}" socat) || s=
  if [ -z "$p" ] || [ -z "$s" ]; then
    tools_log "installing pgbackrest and socat with apt"
    tools_apt_install pgbackrest socat || tools_log "could not install pgbackrest/socat"
    p=$(tools_first "${ASTROLAB_PGBACKREST:-}" pgbackrest) || p=
    s=$(tools_first "${ASTROLAB_SOCAT:-}" socat) || s=
  fi
  [ -n "$p" ] && [ -n "$s" ] || return 1
  export ASTROLAB_PGBACKREST="$p" ASTROLAB_SOCAT="$s"
  tools_log "pgbackrest: $p ($("$p" version 2>/dev/null)), socat: $s"
}
