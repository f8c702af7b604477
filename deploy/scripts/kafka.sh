#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) on 127.0.0.1:9092 from the official jars on Maven Central.
# Usage: kafka.sh start|stop|status|fetch   (idempotent)
# If KAFKA_BOOTSTRAP_SERVERS already points at a live broker, `start` uses it and starts nothing.
# A second, private broker (used by fault tests) runs with KAFKA_INSTANCE=name KAFKA_PORT=p
# KAFKA_CONTROLLER_PORT=q: its own data, logs and ports under .run/<name>.
source "$(dirname "$0")/common.sh"
KAFKA_DIR="$CACHE_DIR/kafka"
LIBS="$KAFKA_DIR/libs"
INSTANCE="${KAFKA_INSTANCE:-kafka}"
INSTANCE_DIR="$RUN_DIR/$INSTANCE"
DATA="$INSTANCE_DIR/data"
LOGS="$INSTANCE_DIR/logs"
PIDFILE="$INSTANCE_DIR/kafka.pid"
if [ -n "${KAFKA_PORT:-}" ]; then
  BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
else
  BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"
fi
HOST="${BOOTSTRAP%%:*}"; PORT="${BOOTSTRAP##*:}"; PORT="${PORT%%,*}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"

fetch() {
  local stamp="$LIBS/.pom.sha256" want
  want=$(sha256sum "$ROOT/deploy/kafka/pom.xml" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "fetching Kafka jars from Maven Central (pinned in deploy/kafka/pom.xml)"
  rm -rf "$LIBS"; mkdir -p "$LIBS"
  (cd "$ROOT/deploy/kafka" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS")
  echo "$want" > "$stamp"
}

running_pid() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && cat "$PIDFILE"; }

wait_ready() {
  # The port opens before the broker can serve metadata; ask it for the API versions to be sure.
  local waited=0
  until java -cp "$LIBS/*" -Dlog4j2.level=ERROR org.apache.kafka.tools.BrokerApiVersionsCommand \
          --bootstrap-server "$BOOTSTRAP" >/dev/null 2>&1; do
    sleep 1; waited=$((waited + 1))
    if [ "$waited" -ge 90 ]; then log "broker not ready after 90s; see $LOGS/server.log"; return 1; fi
  done
}

start() {
  if port_open "$HOST" "$PORT"; then log "Kafka already answering on $BOOTSTRAP"; return 0; fi
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  fetch
  mkdir -p "$DATA" "$LOGS"
  # The pinned properties with this instance's ports and data directory.
  sed -e "s/127.0.0.1:9092/127.0.0.1:$PORT/g" -e "s/127.0.0.1:9093/127.0.0.1:$CONTROLLER_PORT/g" \
    "$ROOT/deploy/kafka/server.properties" > "$INSTANCE_DIR/server.properties"
  echo "log.dirs=$DATA" >> "$INSTANCE_DIR/server.properties"
  if [ ! -f "$DATA/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java -cp "$LIBS/*" -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.properties" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$INSTANCE_DIR/server.properties" \
      >"$LOGS/format.log" 2>&1
  fi
  log "starting Kafka on $BOOTSTRAP (logs: $LOGS)"
  nohup java -Xms256m -Xmx${KAFKA_HEAP:-768m} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$INSTANCE_DIR/server.properties" \
    >"$LOGS/stdout.log" 2>&1 &
  echo $! > "$PIDFILE"
  wait_for_port "$HOST" "$PORT" 90 Kafka
  wait_ready
  log "Kafka ready on $BOOTSTRAP"
}

stop() {
  local pid
  if pid=$(running_pid); then
    log "stopping Kafka (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  fetch) fetch ;;
  status) if port_open "$HOST" "$PORT"; then echo "kafka: up on $BOOTSTRAP"; else echo "kafka: down"; exit 1; fi ;;
  reset) stop; rm -rf "$INSTANCE_DIR" ;;
  *) echo "usage: $0 start|stop|status|fetch|reset" >&2; exit 2 ;;
esac
