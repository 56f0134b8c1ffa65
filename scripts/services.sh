# Throwaway PostgreSQL, Redis and an S3-compatible store (moto) for the
# tests, on loopback and random free ports, in temp dirs that are deleted on
# exit. Meant to be sourced:
#
#   source scripts/services.sh      # from scripts/test (bash, set -euo pipefail)
#
# It installs Debian's `postgresql` and `redis-server` when they are missing
# (as root, or through sudo), starts one PostgreSQL cluster (initdb, trust
# auth, no fsync: nothing here must survive) and one Redis (no persistence),
# and one moto_server (PyPI `moto[server]`, pinned below, installed with pip
# into a venv under target/test-tools/, kept between runs: Debian's
# python3-venv is installed when the venv module is missing), waits until
# each answers (pg_isready / redis-cli ping / an HTTP GET, bounded), and exports
#
#   TEST_PG_URL       postgres://postgres@127.0.0.1:PORT/postgres
#   TEST_REDIS_URL    redis://127.0.0.1:PORT/?protocol=resp3
#   TEST_S3_ENDPOINT  http://127.0.0.1:PORT (any bucket, any credentials;
#                     unsigned requests are accepted too)
#
# An EXIT trap (chained after any EXIT trap already set) stops all three and
# deletes their directories. `services_stop` does the same by hand.
# PostgreSQL refuses to run as root: as root, the cluster runs as the
# `postgres` system user the package creates (runuser), in a temp dir it owns.

SERVICES_MOTO_VERSION=5.2.5
_svc_repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

_svc_as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
_svc_log() { printf '[services] %s\n' "$*" >&2; }

_svc_pg_bin() {
  # The newest server under /usr/lib/postgresql/*/bin (not /usr/local/bin).
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/pg_isready" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

_svc_install() {
  local missing=()
  _svc_pg_bin >/dev/null || missing+=(postgresql)
  { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; } || missing+=(redis-server)
  # moto's venv is made with Debian's python3 (its venv and ensurepip modules).
  if ! _svc_moto_installed && ! { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; }; then
    missing+=(python3 python3-venv)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  _svc_log "installing ${missing[*]} from Debian"
  # scripts/test's apt_install runs `apt-get update` once for every install;
  # alone, do it here.
  if declare -F apt_install >/dev/null; then
    apt_install "${missing[@]}"
  else
    _svc_as_root apt-get update -qq
    _svc_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # Debian's package creates and starts a cluster of its own on 5432: we do
  # not use it (ours is on a random port), and leave it as the package set it.
}

# A port nothing listens on, 20000-59999 (the kernel's ephemeral range starts
# higher, so a client socket is unlikely to take it meanwhile).
_svc_free_port() {
  local port i
  for i in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Runs a command as the user that owns the PostgreSQL cluster.
_svc_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_svc_start_postgres() {
  local bin port i
  bin=$(_svc_pg_bin) || { _svc_log "no PostgreSQL server under /usr/lib/postgresql/*/bin"; return 1; }
  SERVICES_PG_DIR=$(mktemp -d /tmp/switchboard-pg-XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { _svc_log "no 'postgres' system user (Debian's postgresql package creates it)"; return 1; }
    chown postgres: "$SERVICES_PG_DIR"
  fi
  chmod 700 "$SERVICES_PG_DIR"
  _svc_as_pg "$bin/initdb" -D "$SERVICES_PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync \
    >"$SERVICES_PG_DIR/initdb.log" 2>&1 \
    || { cat "$SERVICES_PG_DIR/initdb.log" >&2; return 1; }
  for i in 1 2 3; do
    port=$(_svc_free_port)
    # Throwaway: no fsync. Connections: every test server has a pool of up to
    # 16, several servers at once.
    _svc_as_pg "$bin/pg_ctl" -D "$SERVICES_PG_DIR/data" -l "$SERVICES_PG_DIR/postgres.log" -W \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$SERVICES_PG_DIR \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 \
          -c shared_buffers=64MB" \
      start >/dev/null
    # Readiness: poll pg_isready, 30 s at most; give up early if it died.
    for _ in $(seq 1 300); do
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
        export TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
        SERVICES_PG_BIN=$bin
        _svc_log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($SERVICES_PG_DIR)"
        return 0
      fi
      _svc_as_pg "$bin/pg_ctl" -D "$SERVICES_PG_DIR/data" status >/dev/null 2>&1 || break
      sleep 0.1
    done
    _svc_log "PostgreSQL did not start on port $port (attempt $i):"
    tail -n 20 "$SERVICES_PG_DIR/postgres.log" >&2 || true
    _svc_as_pg "$bin/pg_ctl" -D "$SERVICES_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  done
  return 1
}

_svc_start_redis() {
  local port i
  SERVICES_REDIS_DIR=$(mktemp -d /tmp/switchboard-redis-XXXXXX)
  for i in 1 2 3; do
    port=$(_svc_free_port)
    redis-server --bind 127.0.0.1 --port "$port" --dir "$SERVICES_REDIS_DIR" \
      --save '' --appendonly no --daemonize no --protected-mode yes \
      --logfile "$SERVICES_REDIS_DIR/redis.log" &
    SERVICES_REDIS_PID=$!
    for _ in $(seq 1 300); do
      if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
        export TEST_REDIS_URL="redis://127.0.0.1:$port/?protocol=resp3"
        _svc_log "Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p') on 127.0.0.1:$port ($SERVICES_REDIS_DIR)"
        return 0
      fi
      kill -0 "$SERVICES_REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    _svc_log "Redis did not start on port $port (attempt $i):"
    tail -n 20 "$SERVICES_REDIS_DIR/redis.log" >&2 || true
    kill "$SERVICES_REDIS_PID" 2>/dev/null || true
    wait "$SERVICES_REDIS_PID" 2>/dev/null || true
    SERVICES_REDIS_PID=
  done
  return 1
}

# moto's venv: target/test-tools/moto-VERSION (ignored by git; `cargo clean`
# removes it, and the next run installs it again). A marker file, written
# last, tells a complete install from one that was interrupted.
_svc_moto_venv() { echo "$_svc_repo_root/target/test-tools/moto-$SERVICES_MOTO_VERSION"; }
_svc_moto_installed() { [ -f "$(_svc_moto_venv)/.installed" ] && [ -x "$(_svc_moto_venv)/bin/moto_server" ]; }

_svc_install_moto() {
  _svc_moto_installed && return 0
  local venv
  venv=$(_svc_moto_venv)
  _svc_log "installing moto[server]==$SERVICES_MOTO_VERSION from PyPI into $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv "$venv" || return 1
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    "moto[server]==$SERVICES_MOTO_VERSION" || { rm -rf "$venv"; return 1; }
  touch "$venv/.installed"
}

# Resolves (0) once an HTTP server on 127.0.0.1:$1 answers GET $2 with a 2xx.
_svc_http_ok() {
  local line
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    IFS= read -r -t 2 line <&3 || exit 1
    case "$line" in "HTTP/1."?" 2"*) exit 0 ;; *) exit 1 ;; esac
  ) 2>/dev/null
}

_svc_start_moto() {
  local port i
  _svc_install_moto || { _svc_log "cannot install moto[server]==$SERVICES_MOTO_VERSION"; return 1; }
  SERVICES_MOTO_DIR=$(mktemp -d /tmp/switchboard-moto-XXXXXX)
  for i in 1 2 3; do
    port=$(_svc_free_port)
    # Its own working dir (moto writes nothing there, but nothing of ours leaks either).
    (cd "$SERVICES_MOTO_DIR" && exec "$(_svc_moto_venv)/bin/moto_server" -H 127.0.0.1 -p "$port") \
      >"$SERVICES_MOTO_DIR/moto.log" 2>&1 &
    SERVICES_MOTO_PID=$!
    # Readiness: its HTTP port answers, 30 s at most; give up early if it died.
    for _ in $(seq 1 300); do
      if _svc_http_ok "$port" /moto-api/; then
        export TEST_S3_ENDPOINT="http://127.0.0.1:$port"
        _svc_log "moto $SERVICES_MOTO_VERSION (S3) on 127.0.0.1:$port ($SERVICES_MOTO_DIR)"
        return 0
      fi
      kill -0 "$SERVICES_MOTO_PID" 2>/dev/null || break
      sleep 0.1
    done
    _svc_log "moto did not start on port $port (attempt $i):"
    tail -n 20 "$SERVICES_MOTO_DIR/moto.log" >&2 || true
    kill "$SERVICES_MOTO_PID" 2>/dev/null || true
    wait "$SERVICES_MOTO_PID" 2>/dev/null || true
    SERVICES_MOTO_PID=
  done
  return 1
}

services_stop() {
  if [ -n "${SERVICES_MOTO_PID:-}" ]; then
    kill "$SERVICES_MOTO_PID" 2>/dev/null || true
    wait "$SERVICES_MOTO_PID" 2>/dev/null || true
    SERVICES_MOTO_PID=
  fi
  if [ -n "${SERVICES_MOTO_DIR:-}" ]; then
    rm -rf "$SERVICES_MOTO_DIR"
    SERVICES_MOTO_DIR=
  fi
  if [ -n "${SERVICES_REDIS_PID:-}" ]; then
    kill "$SERVICES_REDIS_PID" 2>/dev/null || true
    wait "$SERVICES_REDIS_PID" 2>/dev/null || true
    SERVICES_REDIS_PID=
  fi
  if [ -n "${SERVICES_PG_DIR:-}" ]; then
    if [ -n "${SERVICES_PG_BIN:-}" ] && [ -f "$SERVICES_PG_DIR/data/postmaster.pid" ]; then
      _svc_as_pg "$SERVICES_PG_BIN/pg_ctl" -D "$SERVICES_PG_DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1 \
        || _svc_as_pg "$SERVICES_PG_BIN/pg_ctl" -D "$SERVICES_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 \
        || true
    fi
    rm -rf "$SERVICES_PG_DIR"
    SERVICES_PG_DIR=
  fi
  if [ -n "${SERVICES_REDIS_DIR:-}" ]; then
    rm -rf "$SERVICES_REDIS_DIR"
    SERVICES_REDIS_DIR=
  fi
  unset TEST_PG_URL TEST_REDIS_URL TEST_S3_ENDPOINT
}

_svc_install
# Chain our clean-up after whatever EXIT trap the caller already has.
_svc_previous_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
trap "services_stop; ${_svc_previous_trap:-:}" EXIT
# A shell killed by an untrapped signal skips its EXIT trap: turn INT and TERM
# into an exit, unless the caller handles them itself.
[ -n "$(trap -p INT)" ] || trap 'exit 130' INT
[ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM
_svc_start_postgres
_svc_start_redis
_svc_start_moto
if ! redis-server --version | grep -Eq 'v=([7-9]|[1-9][0-9])\.'; then
  _svc_log "warning: $(redis-server --version): the Redis adapter needs Redis >= 7 (RESP3)"
fi
