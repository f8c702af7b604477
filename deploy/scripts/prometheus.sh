#!/usr/bin/env bash
# Prometheus from Debian's packages, scraping the three services with deploy/prometheus/prometheus.yml.
# Usage: prometheus.sh install|start|stop|status   (idempotent)
source "$(dirname "$0")/common.sh"
PROM_PORT="${PROMETHEUS_PORT:-9090}"
PIDFILE="$RUN_DIR/prometheus/prometheus.pid"

install() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
  log "installing Prometheus from Debian's packages"
  apt_install prometheus
}

start() {
  install
  if port_open 127.0.0.1 "$PROM_PORT"; then log "Prometheus already answering on :$PROM_PORT"; return 0; fi
  mkdir -p "$RUN_DIR/prometheus/data"
  log "starting Prometheus on :$PROM_PORT"
  nohup prometheus --config.file="$ROOT/deploy/prometheus/prometheus.yml" \
    --storage.tsdb.path="$RUN_DIR/prometheus/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
    >"$RUN_DIR/prometheus/prometheus.log" 2>&1 &
  echo $! > "$PIDFILE"
  wait_for_port 127.0.0.1 "$PROM_PORT" 60 Prometheus
}

stop() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then kill "$(cat "$PIDFILE")"; fi
  rm -f "$PIDFILE"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) if port_open 127.0.0.1 "$PROM_PORT"; then echo "prometheus: up on :$PROM_PORT"; else echo "prometheus: down"; exit 1; fi ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
