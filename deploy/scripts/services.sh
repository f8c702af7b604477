#!/usr/bin/env bash
# Starts the three services (intake :8001, processing :8002, metrics :8003) as background processes,
# logs under .run/logs/, and returns once each answers /readyz. Usage: services.sh start|stop|status
# Environment passed through as is: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, DOSSIER_CATALOG_DIR,
# INTAKE_PORT, PROCESSING_PORT, METRICS_PORT, INTAKE_API_KEYS_FILE, PROCESSING_API_KEYS_FILE,
# METRICS_API_KEYS_FILE, …
source "$(dirname "$0")/common.sh"
PY="$ROOT/.venv/bin/python"
LOG_DIR="$RUN_DIR/logs"
KEY_DIR="$RUN_DIR/keys"
SERVICES=(intake processing metrics)
declare -A PORTS=([intake]="${INTAKE_PORT:-8001}" [processing]="${PROCESSING_PORT:-8002}" [metrics]="${METRICS_PORT:-8003}")

# Local runs get one development key per service unless the operator gave a keys file.
dev_key() {
  local service=$1 var=$2
  if [ -z "${!var:-}" ]; then
    mkdir -p "$KEY_DIR"
    if [ ! -s "$KEY_DIR/$service.key" ]; then
      "$PY" -m dossier_runtime.api_keys create --file "$KEY_DIR/$service-keys.csv" \
        --name "local-$service" --agencies '*' > "$KEY_DIR/$service.key" 2>/dev/null
      chmod 600 "$KEY_DIR/$service.key"
    fi
    export "$var=$KEY_DIR/$service-keys.csv"
  fi
}

ready() { curl -fsS -m 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }

start() {
  mkdir -p "$LOG_DIR"
  dev_key intake INTAKE_API_KEYS_FILE
  dev_key processing PROCESSING_API_KEYS_FILE
  dev_key metrics METRICS_API_KEYS_FILE
  for s in "${SERVICES[@]}"; do
    local pidfile="$RUN_DIR/$s.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then log "$s already running"; continue; fi
    log "starting $s on :${PORTS[$s]} (log: $LOG_DIR/$s.log)"
    nohup "$PY" -m "dossier_$s" >>"$LOG_DIR/$s.log" 2>&1 &
    echo $! > "$pidfile"
  done
  for s in "${SERVICES[@]}"; do
    local waited=0
    until ready "${PORTS[$s]}"; do
      sleep 1; waited=$((waited + 1))
      if ! kill -0 "$(cat "$RUN_DIR/$s.pid")" 2>/dev/null; then log "$s exited; last log lines:"; tail -20 "$LOG_DIR/$s.log" >&2; return 1; fi
      if [ "$waited" -ge 90 ]; then log "$s not ready after 90s; see $LOG_DIR/$s.log"; return 1; fi
    done
  done
  cat <<MSG

Dossier tracking is running:
  intake      http://127.0.0.1:${PORTS[intake]}/docs      (POST /v1/events, /v1/events:batch)
  processing  http://127.0.0.1:${PORTS[processing]}/docs  (GET /v1/dossiers, /v1/sync/changes)
  metrics     http://127.0.0.1:${PORTS[metrics]}/metrics  (open)  /v1/stats/live  (reader key)
  report      http://127.0.0.1:${PORTS[metrics]}/v1/reports/dossiers?period=2021-Q2  (reader key)
  prometheus  http://127.0.0.1:${PROMETHEUS_PORT:-9090}/  (when installed)
  logs        $LOG_DIR/
MSG
  if [ -s "$KEY_DIR/intake.key" ]; then
    echo "  intake key  $(cat "$KEY_DIR/intake.key")   (development key, stored in $KEY_DIR/intake.key)"
    echo "  processing key $(cat "$KEY_DIR/processing.key")   (development reader and sync key, stored in $KEY_DIR/processing.key)"
  fi
  if [ -s "$KEY_DIR/metrics.key" ]; then
    echo "  metrics key $(cat "$KEY_DIR/metrics.key")   (development reader key, stored in $KEY_DIR/metrics.key)"
    echo "  report:     curl -H \"Authorization: Bearer \$(cat $KEY_DIR/metrics.key)\" \\"
    echo "                'http://127.0.0.1:${PORTS[metrics]}/v1/reports/dossiers?period=2021-Q2'"
  fi
  echo "Stop everything with: make stop"
}

stop() {
  for s in "${SERVICES[@]}"; do
    local pidfile="$RUN_DIR/$s.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "stopping $s"
      kill -TERM "$(cat "$pidfile")"
      for _ in $(seq 1 30); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 1; done
      kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

status() {
  for s in "${SERVICES[@]}"; do
    if ready "${PORTS[$s]}"; then echo "$s: ready on :${PORTS[$s]}"; else echo "$s: not ready"; fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
