#!/usr/bin/env bash
# A local 3-node Apache Kafka (KRaft) cluster secured like production: clients over SASL_SSL
# (SCRAM-SHA-512), brokers and controllers over mutual TLS, the StandardAuthorizer with nothing allowed
# without an ACL, topics with 3 replicas and min.insync.replicas=2.
#
# Usage: kafka-cluster.sh start|stop|status|reset
#        kafka-cluster.sh env <intake|processing|metrics|operator|admin>   export lines for that user
#        kafka-cluster.sh provision [SUFFIX]      topics and ACLs named <name>SUFFIX (start: no suffix)
#        kafka-cluster.sh unprovision SUFFIX      delete those topics and their ACLs
#        kafka-cluster.sh pid <node-id>           the node's process id (fault tests kill it)
#
# Node n (1-3) listens on 127.0.0.1: clients on KAFKA_CLUSTER_PORT+n-1 (19092-19094), other nodes on
# +100 (19192-19194), controllers on +200 (19292-19294). Everything it generates (CA, keys, passwords,
# data, logs) stays under .run/kafka-cluster/. The jars are the ones `kafka.sh fetch` pins.
source "$(dirname "$0")/common.sh"
LIBS="$CACHE_DIR/kafka/libs"
TEMPLATES="$ROOT/deploy/kafka/cluster"
DIR="$RUN_DIR/kafka-cluster"
TLS="$DIR/tls"
SECRETS="$DIR/secrets"
BASE_PORT="${KAFKA_CLUSTER_PORT:-19092}"
PARTITIONS="${KAFKA_CLUSTER_PARTITIONS:-12}"
HEAP="${KAFKA_CLUSTER_HEAP:-384m}"
NODES=(1 2 3)
USERS=(admin intake processing metrics operator)
TOPICS=(dossier.events.v1 dossier.status.v1 dossier.events.dlq.v1 feedback.events.v1 feedback.status.v1 portal.sync.v1)
#: topics kept by key (the latest record of each), not by time
COMPACTED=(portal.sync.v1)

client_port() { echo $((BASE_PORT + $1 - 1)); }
internal_port() { echo $((BASE_PORT + 100 + $1 - 1)); }
controller_port() { echo $((BASE_PORT + 200 + $1 - 1)); }
bootstrap() { local n out=(); for n in "${NODES[@]}"; do out+=("127.0.0.1:$(client_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
node_dir() { echo "$DIR/node-$1"; }
password() { cat "$SECRETS/$1.password"; }

# A Kafka command-line tool (class name and arguments) as the admin super user.
kafka_tool() {
  java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.level=ERROR \
    -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.properties" -Dkafka.logs.dir="$DIR/tool-logs" \
    -cp "$LIBS/*" "$@" 2> >(grep -v '^SLF4J' >&2)
}
admin_tool() { local class=$1; shift; kafka_tool "$class" --bootstrap-server "$(bootstrap)" --command-config "$DIR/admin.properties" "$@"; }

secrets() {
  mkdir -p "$SECRETS"; chmod 700 "$SECRETS"
  local user
  for user in "${USERS[@]}"; do
    [ -s "$SECRETS/$user.password" ] || (umask 077; openssl rand -hex 24 > "$SECRETS/$user.password")
  done
  (umask 077; cat > "$DIR/admin.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(password admin)";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.crt
EOF
  )
}

# A CA, and per node a key and a certificate for 127.0.0.1 / localhost signed by it, as PEM files.
certificates() {
  mkdir -p "$TLS"; chmod 700 "$TLS"
  if [ ! -s "$TLS/ca.crt" ]; then
    log "generating the cluster CA in $TLS"
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=dossier local Kafka CA" \
      -keyout "$TLS/ca.key" -out "$TLS/ca.crt" 2>/dev/null
  fi
  local n
  for n in "${NODES[@]}"; do
    [ -s "$TLS/node-$n.pem" ] && continue
    log "generating the certificate of node $n"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kafka-node-$n" \
      -keyout "$TLS/node-$n.key" -out "$TLS/node-$n.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > "$TLS/node-$n.ext"
    openssl x509 -req -in "$TLS/node-$n.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial \
      -days 825 -extfile "$TLS/node-$n.ext" -out "$TLS/node-$n.crt" 2>/dev/null
    (umask 077; cat "$TLS/node-$n.key" "$TLS/node-$n.crt" "$TLS/ca.crt" > "$TLS/node-$n.pem")
    rm -f "$TLS/node-$n.csr" "$TLS/node-$n.ext"
  done
}

render() {
  local n=$1 voters="" m
  for m in "${NODES[@]}"; do voters+="${voters:+,}$m@127.0.0.1:$(controller_port "$m")"; done
  sed -e "s|@NODE_ID@|$n|g" -e "s|@VOTERS@|$voters|g" -e "s|@CLIENT_PORT@|$(client_port "$n")|g" \
    -e "s|@INTERNAL_PORT@|$(internal_port "$n")|g" -e "s|@CONTROLLER_PORT@|$(controller_port "$n")|g" \
    -e "s|@TLS_DIR@|$TLS|g" -e "s|@DATA_DIR@|$(node_dir "$n")/data|g" -e "s|@PARTITIONS@|$PARTITIONS|g" \
    "$TEMPLATES/broker.properties" > "$(node_dir "$n")/server.properties"
}

# Every node's metadata log starts with the same cluster id and the SCRAM credentials of every user.
format() {
  local n=$1 dir cluster_id user scram=()
  dir=$(node_dir "$n")
  [ -f "$dir/data/meta.properties" ] && return 0
  [ -s "$DIR/cluster.id" ] || kafka_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 > "$DIR/cluster.id"
  cluster_id=$(cat "$DIR/cluster.id")
  for user in "${USERS[@]}"; do scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(password "$user")]"); done
  log "formatting node $n (cluster $cluster_id)"
  kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" "${scram[@]}" \
    >"$dir/logs/format.log" 2>&1
}

running_pid() { local f; f="$(node_dir "$1")/kafka.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }

launch() {
  local n=$1 dir
  dir=$(node_dir "$n")
  if running_pid "$n" >/dev/null; then log "node $n already running (pid $(running_pid "$n"))"; return 0; fi
  if port_open 127.0.0.1 "$(client_port "$n")"; then log "port $(client_port "$n") is taken by another process"; return 1; fi
  log "starting node $n: clients on 127.0.0.1:$(client_port "$n") (logs: $dir/logs)"
  nohup java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 &
  echo $! > "$dir/kafka.pid"
}

# Ready once a node answers an authenticated request and knows all three brokers.
wait_ready() {
  local waited=0
  until [ "$(admin_tool org.apache.kafka.tools.BrokerApiVersionsCommand 2>/dev/null | grep -c '(id: ')" = "${#NODES[@]}" ]; do
    sleep 1; waited=$((waited + 1))
    if [ "$waited" -ge 120 ]; then log "cluster not ready after 120s; see $DIR/node-*/logs/server.log"; return 1; fi
  done
}

# The topics and the ACLs of deploy/kafka/cluster/acls for names with SUFFIX appended. The Kafka tools
# run in parallel (each is a JVM start); adding what exists already is a no-op.
provision() {
  local suffix=${1:-} topic jobs=() pid failed=0 policy
  for topic in "${TOPICS[@]}"; do
    policy=delete
    if [[ " ${COMPACTED[*]} " == *" $topic "* ]]; then policy=compact; fi
    admin_tool org.apache.kafka.tools.TopicCommand --create --if-not-exists --topic "$topic$suffix" \
      --partitions "$PARTITIONS" --replication-factor 3 --config min.insync.replicas=2 \
      --config cleanup.policy=$policy >/dev/null &
    jobs+=($!)
  done
  while read -r user operations kind names; do
    case "$user" in ''|'#'*) continue ;; esac
    if [ "$kind" = cluster ] && [ -n "$suffix" ]; then continue; fi
    acl_args --add "$user" "$operations" "$kind" "$names" "$suffix"
    admin_tool org.apache.kafka.tools.AclCommand "${ACL_ARGS[@]}" --force >/dev/null &
    jobs+=($!)
  done < "$TEMPLATES/acls"
  for pid in "${jobs[@]}"; do wait "$pid" || failed=1; done
  if [ "$failed" = 1 ]; then log "provisioning${suffix:+ of *$suffix} failed"; return 1; fi
  log "topics ${TOPICS[*]}${suffix:+ (each +$suffix)}: $PARTITIONS partitions, RF 3, min ISR 2; ACLs of $TEMPLATES/acls"
}

# Two tool runs: one removes every ACL of the suffixed topics and groups, one deletes the topics.
unprovision() {
  local suffix=$1 resources=() names name topics pid1 pid2
  [ -n "$suffix" ] || { log "unprovision needs a suffix; the cluster's own topics stay"; return 2; }
  while read -r user operations kind names; do
    case "$user" in ''|'#'*) continue ;; esac
    [ "$kind" = cluster ] && continue
    for name in $names; do resources+=("--$kind" "$name$suffix"); done
  done < "$TEMPLATES/acls"
  admin_tool org.apache.kafka.tools.AclCommand --remove --force "${resources[@]}" >/dev/null & pid1=$!
  topics=$(IFS='|'; echo "${TOPICS[*]}")
  admin_tool org.apache.kafka.tools.TopicCommand --delete --if-exists \
    --topic "(${topics//./\\.})${suffix//./\\.}" >/dev/null & pid2=$!
  wait "$pid1" && wait "$pid2"
  log "removed the topics and ACLs of *$suffix"
}

# ACL_ARGS: AclCommand arguments for one line of the acls file.
acl_args() {
  local action=$1 user=$2 operations=$3 kind=$4 names=$5 suffix=$6 op name
  ACL_ARGS=("$action" --allow-principal "User:$user")
  for op in ${operations//,/ }; do ACL_ARGS+=(--operation "$op"); done
  if [ "$kind" = cluster ]; then ACL_ARGS+=(--cluster); return; fi
  for name in $names; do ACL_ARGS+=("--$kind" "$name$suffix"); done
}

start() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v openssl >/dev/null || apt_install openssl
  "$ROOT/deploy/scripts/kafka.sh" fetch
  mkdir -p "$DIR"
  secrets
  certificates
  local n
  for n in "${NODES[@]}"; do
    mkdir -p "$(node_dir "$n")/data" "$(node_dir "$n")/logs"
    render "$n"
    format "$n"
  done
  for n in "${NODES[@]}"; do launch "$n"; done
  for n in "${NODES[@]}"; do wait_for_port 127.0.0.1 "$(client_port "$n")" 90 "node $n"; done
  wait_ready
  log "cluster ready on $(bootstrap)"
  # Once per cluster: a restarted node finds its topics and ACLs in the metadata log.
  [ -f "$DIR/provisioned" ] || { provision "" && touch "$DIR/provisioned"; }
  log "client settings: $0 env <intake|processing|metrics|operator>"
}

stop_node() {
  local n=$1 pid
  if pid=$(running_pid "$n"); then
    log "stopping node $n (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$(node_dir "$n")/kafka.pid"
}

# All three at once: one by one, the last nodes would wait for a quorum that is already gone.
stop() {
  local n jobs=() pid
  for n in "${NODES[@]}"; do stop_node "$n" & jobs+=($!); done
  for pid in "${jobs[@]}"; do wait "$pid"; done
}

status() {
  local n up=0
  for n in "${NODES[@]}"; do
    if running_pid "$n" >/dev/null && port_open 127.0.0.1 "$(client_port "$n")"; then
      echo "kafka-cluster node $n: up on 127.0.0.1:$(client_port "$n") (pid $(running_pid "$n"))"; up=$((up + 1))
    else
      echo "kafka-cluster node $n: down"
    fi
  done
  [ "$up" = "${#NODES[@]}" ]
}

env_of() {
  local user=${1:?usage: $0 env <intake|processing|metrics|operator|admin>}
  [ -s "$SECRETS/$user.password" ] || { log "no user $user (known: ${USERS[*]}); run $0 start first"; return 2; }
  printf 'export %s=%q\n' \
    KAFKA_BOOTSTRAP_SERVERS "$(bootstrap)" \
    KAFKA_SECURITY_PROTOCOL SASL_SSL \
    KAFKA_SASL_MECHANISM SCRAM-SHA-512 \
    KAFKA_SASL_USERNAME "$user" \
    KAFKA_SASL_PASSWORD "$(password "$user")" \
    KAFKA_SSL_CA_FILE "$TLS/ca.crt" \
    KAFKA_REPLICATION_FACTOR 3 \
    KAFKA_MIN_INSYNC_REPLICAS 2
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_of "${2:-}" ;;
  provision) provision "${2:-}" ;;
  unprovision) unprovision "${2:-}" ;;
  pid) running_pid "${2:?usage: $0 pid <node-id>}" ;;
  reset) stop; rm -rf "$DIR" ;;
  *) echo "usage: $0 start|stop|status|reset|env <user>|provision [suffix]|unprovision <suffix>|pid <node>" >&2; exit 2 ;;
esac
