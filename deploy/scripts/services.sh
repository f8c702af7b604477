#!/usr/bin/env bash
# Starts the three services (intake :8001, processing :8002, metrics :8003) as background processes,
# logs under .run/logs/, and returns once each answers /readyz. Usage: services.sh start|stop|status
# Environment passed through as is: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, DOSSIER_CATALOG_DIR,
# INTAKE_PORT, PROCESSING_PORT, METRICS_PORT, INTAKE_API_KEYS_FILE, PROCESSING_API_KEYS_FILE,
# METRICS_API_KEYS_FILE, …
# PROCESSING_INSTANCES (default 2, one per core of a 2-core machine) starts that many processing
# processes in one consumer group; instance i > 0 listens on PROCESSING_PORT + 10·i (8012, 8022, …),
# logs to processing-i.log and stands by for the outbox relay's leader lock.
source "$(dirname "$0")/common.sh"
PY="$ROOT/.venv/bin/python"
LOG_DIR="$RUN_DIR/logs"
KEY_DIR="$RUN_DIR/keys"
PROCESSING_INSTANCES="${PROCESSING_INSTANCES:-2}"
declare -A PORTS=([intake]="${INTAKE_PORT:-8001}" [processing]="${PROCESSING_PORT:-8002}" [metrics]="${METRICS_PORT:-8003}")
declare -A MODULES=([intake]=intake [processing]=processing [metrics]=metrics)
SERVICES=(intake processing)
for ((i = 1; i < PROCESSING_INSTANCES; i++)); do
  SERVICES+=("processing-$i")
  PORTS[processing-$i]=$((${PORTS[processing]} + 10 * i))
  MODULES[processing-$i]=processing
done
SERVICES+=(metrics)

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

# Applicant data (personal data, docs/security.md): intake seals it with the public key, processing
# opens it with the private key. Local runs get one key pair under .run/keys/ unless both are given.
applicant_keys() {
  if [ -z "${INTAKE_APPLICANT_PUBLIC_KEY:-}" ] && [ -z "${PROCESSING_APPLICANT_PRIVATE_KEY:-}" ]; then
    mkdir -p "$KEY_DIR"
    if [ ! -s "$KEY_DIR/applicant-private.key" ] || [ ! -s "$KEY_DIR/applicant-public.key" ]; then
      "$PY" -m dossier_processing applicant-keys --private-file "$KEY_DIR/applicant-private.key" \
        --public-file "$KEY_DIR/applicant-public.key" >/dev/null
    fi
    INTAKE_APPLICANT_PUBLIC_KEY="$(cat "$KEY_DIR/applicant-public.key")"
    PROCESSING_APPLICANT_PRIVATE_KEY="$(cat "$KEY_DIR/applicant-private.key")"
    export INTAKE_APPLICANT_PUBLIC_KEY PROCESSING_APPLICANT_PRIVATE_KEY
  fi
}

ready() { curl -fsS -m 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }

start() {
  mkdir -p "$LOG_DIR"
  dev_key intake INTAKE_API_KEYS_FILE
  dev_key processing PROCESSING_API_KEYS_FILE
  dev_key metrics METRICS_API_KEYS_FILE
  applicant_keys
  for s in "${SERVICES[@]}"; do
    local pidfile="$RUN_DIR/$s.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then log "$s already running"; continue; fi
    log "starting $s on :${PORTS[$s]} (log: $LOG_DIR/$s.log)"
    if [ "${MODULES[$s]}" = processing ]; then
      PROCESSING_PORT="${PORTS[$s]}" nohup "$PY" -m dossier_processing >>"$LOG_DIR/$s.log" 2>&1 &
    else
      nohup "$PY" -m "dossier_${MODULES[$s]}" >>"$LOG_DIR/$s.log" 2>&1 &
    fi
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
  console     http://127.0.0.1:${PORTS[metrics]}/  (Vietnamese web console: log in with the metrics key below)
  intake      http://127.0.0.1:${PORTS[intake]}/docs      (POST /v1/events, /v1/events:batch)
  processing  http://127.0.0.1:${PORTS[processing]}/docs  (GET /v1/dossiers, /v1/sync/changes; $PROCESSING_INSTANCES instance(s))
  metrics     http://127.0.0.1:${PORTS[metrics]}/metrics  (open)  /v1/stats/live  (reader key)
  report      http://127.0.0.1:${PORTS[metrics]}/v1/reports/dossiers?period=2021-Q2  (reader key)
  prometheus  http://127.0.0.1:${PROMETHEUS_PORT:-9090}/  (when installed)
  alertmanager http://127.0.0.1:${ALERTMANAGER_PORT:-9095}/  (when installed: amtool --alertmanager.url=… alert query; receivers: docs/operations.md)
  logs        $LOG_DIR/
MSG
  if [ -s "$KEY_DIR/intake.key" ]; then
    echo "  intake key  $(cat "$KEY_DIR/intake.key")   (development key, stored in $KEY_DIR/intake.key)"
    echo "  processing key $(cat "$KEY_DIR/processing.key")   (development reader and sync key, stored in $KEY_DIR/processing.key)"
  fi
  if [ -s "$KEY_DIR/metrics.key" ]; then
    echo "  metrics key $(cat "$KEY_DIR/metrics.key")   (development reader key, stored in $KEY_DIR/metrics.key; the console's login)"
    echo "  report:     curl -H \"Authorization: Bearer \$(cat $KEY_DIR/metrics.key)\" \\"
    echo "                'http://127.0.0.1:${PORTS[metrics]}/v1/reports/dossiers?period=2021-Q2'"
  fi
  echo "Stop everything with: make stop"
}

stop() {
  # every instance that has a pid file, whatever PROCESSING_INSTANCES says now
  local started=("${SERVICES[@]}") f
  for f in "$RUN_DIR"/processing-*.pid; do
    [ -e "$f" ] || continue
    f=$(basename "$f" .pid)
    [[ " ${started[*]} " == *" $f "* ]] || started+=("$f")
  done
  for s in "${started[@]}"; do
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
