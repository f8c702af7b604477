#!/usr/bin/env bash
# PostgreSQL from Debian's packages: installs it when absent, starts the cluster, creates the role and
# the database the services use (each service keeps its own schema inside it, created by its migrations).
# Usage: postgres.sh start|stop|status|restart   (idempotent)
source "$(dirname "$0")/common.sh"
PGPORT="${PGPORT:-5432}"
DB_USER="${DOSSIER_DB_USER:-dossier}"
DB_PASSWORD="${DOSSIER_DB_PASSWORD:-dossier}"
DB_NAME="${DOSSIER_DB_NAME:-dossier}"

cluster() { pg_lsclusters --no-header 2>/dev/null | awk -v p="$PGPORT" '$3 == p {print $1, $2; exit}'; }

ensure_installed() {
  if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    log "installing PostgreSQL from Debian's packages"
    apt_install postgresql
  fi
  if [ -z "$(cluster)" ]; then
    local version
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    log "creating cluster $version/main on port $PGPORT"
    pg_createcluster "$version" main --port "$PGPORT" >/dev/null
  fi
}

psql_admin() { runuser -u postgres -- psql -p "$PGPORT" -v ON_ERROR_STOP=1 -qAt "$@"; }

start() {
  ensure_installed
  read -r version name <<<"$(cluster)"
  if ! pg_ctlcluster "$version" "$name" status >/dev/null 2>&1; then
    log "starting PostgreSQL $version/$name on port $PGPORT"
    pg_ctlcluster "$version" "$name" start
  fi
  wait_for_port 127.0.0.1 "$PGPORT" 60 PostgreSQL
  for _ in $(seq 1 30); do psql_admin -c 'select 1' >/dev/null 2>&1 && break; sleep 1; done
  if [ "$(psql_admin -c "select 1 from pg_roles where rolname = '$DB_USER'")" != 1 ]; then
    psql_admin -c "create role $DB_USER login createdb password '$DB_PASSWORD'"
  fi
  if [ "$(psql_admin -c "select 1 from pg_database where datname = '$DB_NAME'")" != 1 ]; then
    psql_admin -c "create database $DB_NAME owner $DB_USER"
  fi
  log "PostgreSQL ready: postgresql://$DB_USER:***@127.0.0.1:$PGPORT/$DB_NAME"
}

stop() {
  local c; c=$(cluster)
  [ -n "$c" ] || return 0
  read -r version name <<<"$c"
  pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if port_open 127.0.0.1 "$PGPORT"; then echo "postgres: up on $PGPORT"; else echo "postgres: down"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
