# Shared helpers for the local infrastructure scripts (sourced, not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${DOSSIER_CACHE_DIR:-$ROOT/.cache}"
RUN_DIR="${DOSSIER_RUN_DIR:-$ROOT/.run}"
mkdir -p "$CACHE_DIR" "$RUN_DIR"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_for_port HOST PORT SECONDS NAME
wait_for_port() {
  local host=$1 port=$2 limit=$3 name=$4 waited=0
  until port_open "$host" "$port"; do
    sleep 1; waited=$((waited + 1))
    if [ "$waited" -ge "$limit" ]; then log "$name did not open $host:$port within ${limit}s"; return 1; fi
  done
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then log "need root to apt-get install $*"; return 1; fi
  if [ ! -f "$CACHE_DIR/.apt-updated" ]; then apt-get update -qq && touch "$CACHE_DIR/.apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
