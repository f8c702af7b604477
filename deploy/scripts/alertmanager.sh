#!/usr/bin/env bash
# Alertmanager from Debian's packages (prometheus-alertmanager), routing the alerts Prometheus sends it
# to the receivers of deploy/alertmanager/alertmanager.yml, its data and log under .run/alertmanager.
# Usage: alertmanager.sh install|start|reload|stop|status   (idempotent)
#   start/reload write .run/alertmanager/alertmanager.yml from the repo's file and this environment
#   (ALERTMANAGER_WEBHOOK_URL[_FILE], ALERTMANAGER_SMTP_*, ALERTMANAGER_<RECEIVER>_EMAIL_TO; see
#   deploy/alertmanager/configure.py and docs/operations.md), check it with amtool, then start the
#   server or make the running one read it again.
# It listens on 127.0.0.1:ALERTMANAGER_PORT (9095; deploy/prometheus/prometheus.yml sends there): the
# package's default :9093 is the local Kafka's controller port and :9094 its cluster port, which stays
# off here (one instance, no gossip).
source "$(dirname "$0")/common.sh"
AM_PORT="${ALERTMANAGER_PORT:-9095}"
AM_DIR="$RUN_DIR/alertmanager"
CONFIG="$AM_DIR/alertmanager.yml"
PIDFILE="$AM_DIR/alertmanager.pid"
PY="$ROOT/.venv/bin/python"

install() {
  command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null && return 0
  log "installing Alertmanager from Debian's packages"
  apt_install prometheus-alertmanager
  # The package enables a system service on :9093 (Kafka's controller here); this script runs its own.
  if command -v systemctl >/dev/null && systemctl is-enabled --quiet prometheus-alertmanager 2>/dev/null; then
    log "disabling the package's system service (it would listen on :9093)"
    systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  fi
}

configure() {
  mkdir -p "$AM_DIR/data"
  local summary checked
  summary=$("$PY" "$ROOT/deploy/alertmanager/configure.py" "$CONFIG")
  while read -r line; do log "receiver $line"; done <<<"$summary"
  if ! checked=$(amtool check-config "$CONFIG" 2>&1); then echo "$checked" >&2; return 1; fi
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
  install
  if port_open 127.0.0.1 "$AM_PORT"; then log "Alertmanager already answering on :$AM_PORT"; return 0; fi
  configure
  log "starting Alertmanager on :$AM_PORT (log: $AM_DIR/alertmanager.log)"
  nohup prometheus-alertmanager --config.file="$CONFIG" --storage.path="$AM_DIR/data" \
    --web.listen-address="127.0.0.1:$AM_PORT" --web.external-url="http://127.0.0.1:$AM_PORT/" \
    --cluster.listen-address= >"$AM_DIR/alertmanager.log" 2>&1 &
  echo $! > "$PIDFILE"
  wait_for_port 127.0.0.1 "$AM_PORT" 30 Alertmanager
}

reload() {
  running || { log "Alertmanager is not running (start it with: $0 start)"; return 1; }
  configure
  kill -HUP "$(cat "$PIDFILE")"
  log "Alertmanager reloads $CONFIG"
}

stop() {
  if running; then kill "$(cat "$PIDFILE")"; fi
  rm -f "$PIDFILE"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  reload) reload ;;
  stop) stop ;;
  status) if port_open 127.0.0.1 "$AM_PORT"; then echo "alertmanager: up on :$AM_PORT"; else echo "alertmanager: down"; exit 1; fi ;;
  *) echo "usage: $0 install|start|reload|stop|status" >&2; exit 2 ;;
esac
