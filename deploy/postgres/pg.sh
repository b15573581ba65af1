#!/usr/bin/env bash
# A local PostgreSQL for the desk tests and benchmarks, from Debian's packages.
#
#   deploy/postgres/pg.sh install      apt-get install postgresql if no server binaries exist
#   deploy/postgres/pg.sh up [PORT]    install if needed, initdb once, start, create the
#                                      database; prints its SQLAlchemy URL on stdout
#   deploy/postgres/pg.sh url          prints the URL of the running server
#   deploy/postgres/pg.sh down         stops the server (the data stays)
#
# The cluster lives in $EXCHANGE_PG_DIR (default var/postgres), listens on 127.0.0.1 only
# (trust authentication: a test server, never exposed) and keeps its socket in its own
# directory. PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres`
# user of the Debian package. The port is PORT, $EXCHANGE_PG_PORT, or a free one; it is kept
# in the data directory so a second `up` is quick and answers the same URL.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${EXCHANGE_PG_DIR:-$ROOT/var/postgres}"
DB="${EXCHANGE_PG_DB:-exchange}"
USER_NAME="exchange"

log() { echo "pg.sh: $*" >&2; }

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; fi
}

install() {
  if [[ -n "$(bindir)" ]]; then return 0; fi
  log "installing PostgreSQL from Debian's packages"
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  # the package starts nothing we use: our cluster is our own
  [[ -n "$(bindir)" ]] || { log "no PostgreSQL server binaries after install"; exit 1; }
}

as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url() {
  echo "postgresql+psycopg://$USER_NAME@127.0.0.1:$(cat "$DIR/port")/$DB"
}

running() {
  [[ -f "$DIR/PG_VERSION" ]] && as_owner "$(bindir)/pg_ctl" -D "$DIR" status >/dev/null 2>&1
}

psql_su() {
  as_owner /usr/bin/env PGCONNECT_TIMEOUT=5 "$(bindir)/psql" -h 127.0.0.1 -p "$(cat "$DIR/port")" \
    -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

up() {
  install
  local bin port
  bin="$(bindir)"
  mkdir -p "$DIR"
  if [[ "$(id -u)" == 0 ]]; then chown postgres:postgres "$DIR"; chmod 700 "$DIR"; fi
  if [[ ! -f "$DIR/PG_VERSION" ]]; then
    log "initdb $DIR"
    as_owner "$bin/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
  fi
  if ! running; then
    port="${1:-${EXCHANGE_PG_PORT:-}}"
    if [[ -z "$port" ]]; then
      port="$(cat "$DIR/port" 2>/dev/null || true)"
      if [[ -z "$port" ]] || ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))" "$port" 2>/dev/null; then
        port="$(free_port)"
      fi
    fi
    echo "$port" | as_owner tee "$DIR/port" >/dev/null
    log "starting on 127.0.0.1:$port"
    as_owner "$bin/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR -c fsync=${EXCHANGE_PG_FSYNC:-on}" \
      start >&2
  fi
  if [[ -z "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = '$USER_NAME'")" ]]; then
    psql_su -c "CREATE ROLE $USER_NAME LOGIN CREATEDB"
  fi
  if [[ -z "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
    psql_su -c "CREATE DATABASE $DB OWNER $USER_NAME"
  fi
  url
}

down() {
  if running; then as_owner "$(bindir)/pg_ctl" -D "$DIR" -m fast -w stop >&2; fi
}

case "${1:-}" in
  install) install ;;
  up) shift; up "$@" ;;
  url) running || { log "not running"; exit 1; }; url ;;
  down) down ;;
  *) echo "usage: $0 install|up [PORT]|url|down" >&2; exit 2 ;;
esac
