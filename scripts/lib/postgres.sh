# Finds or starts a PostgreSQL server for the tests and prints its URL.
# Sourced by scripts/test; messages go to stderr, the URL to stdout.

pg_log() { printf '[postgres] %s\n' "$*" >&2; }

# Installs q3c for the server's major version when missing (root only).
ensure_q3c() {
  local psql_cmd=("$@")
  if [ "$("${psql_cmd[@]}" -Atc "SELECT count(*) FROM pg_available_extensions WHERE name='q3c'" 2>/dev/null)" = 1 ]; then
    return 0
  fi
  local major
  major=$("${psql_cmd[@]}" -Atc "SHOW server_version_num" 2>/dev/null | cut -c1-2)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -n "$major" ]; then
    pg_log "installing postgresql-$major-q3c"
    (apt-get install -y -qq "postgresql-$major-q3c" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "postgresql-$major-q3c" >/dev/null 2>&1; }) \
      || pg_log "could not install q3c; spatial tests use the HEALPix index only"
  else
    pg_log "q3c is not installed and cannot be installed here; q3c tests will be skipped"
  fi
}

try_server() { # host port user
  psql -h "$1" -p "$2" -U "$3" -d postgres -Atc 'SELECT 1' >/dev/null 2>&1
}

make_db() { # host port user
  psql -h "$1" -p "$2" -U "$3" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname='astrolab_test'" 2>/dev/null | grep -q 1 \
    || psql -h "$1" -p "$2" -U "$3" -d postgres -qc "CREATE DATABASE astrolab_test" >/dev/null 2>&1
}

ensure_test_postgres() {
  # 1. A server already running on the standard port.
  if command -v psql >/dev/null && try_server 127.0.0.1 5432 postgres; then
    ensure_q3c psql -h 127.0.0.1 -p 5432 -U postgres -d postgres
    make_db 127.0.0.1 5432 postgres
    echo "postgres://postgres@127.0.0.1:5432/astrolab_test"
    return 0
  fi
  # 2. Installed but stopped cluster (Debian layout): start it.
  if command -v pg_ctlcluster >/dev/null && [ "$(id -u)" = 0 ]; then
    local ver
    ver=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    if [ -n "$ver" ]; then
      pg_log "starting cluster $ver/main"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
      sleep 2
      if try_server 127.0.0.1 5432 postgres; then
        ensure_q3c psql -h 127.0.0.1 -p 5432 -U postgres -d postgres
        make_db 127.0.0.1 5432 postgres
        echo "postgres://postgres@127.0.0.1:5432/astrolab_test"
        return 0
      fi
    fi
  fi
  # 3. Not installed: install with apt when root.
  if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      pg_log "installing PostgreSQL and q3c with apt"
      apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql postgresql-client >/dev/null 2>&1 || return 1
      local major
      major=$(ls /usr/lib/postgresql | sort -n | tail -1)
      apt-get install -y -qq "postgresql-$major-q3c" >/dev/null 2>&1 || pg_log "q3c not installable"
    fi
  fi
  # 4. A throwaway cluster with initdb/pg_ctl (no root needed).
  local bindir
  bindir=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
  [ -x "$bindir/initdb" ] || return 1
  local dir="$PWD/target/pgtest" port=54329 runas=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || return 1
    runas=(runuser -u postgres --)
    mkdir -p "$dir" && chown postgres "$dir"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pg_log "creating a throwaway cluster in $dir"
    "${runas[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null 2>&1 || return 1
  fi
  if ! try_server 127.0.0.1 $port postgres; then
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -w start >/dev/null 2>&1 || return 1
  fi
  ensure_q3c psql -h 127.0.0.1 -p $port -U postgres -d postgres
  make_db 127.0.0.1 $port postgres
  echo "postgres://postgres@127.0.0.1:$port/astrolab_test"
}
