#!/usr/bin/env bash
# Starts, stops and checks the local infrastructure as plain processes (no systemd), all bound
# to 127.0.0.1, data under .run/data (git-ignored):
#   RabbitMQ :5672 (its Prometheus metrics :15692)   MariaDB :3306   Redis :6379   FerretDB (MongoDB wire) :27017
#   Dapr scheduler :50006 (no placement: no app hosts actors)
#   Dapr Sentry :50001 (the CA behind the sidecars' mTLS; healthz :28083, metrics :29093)
#   and only for their BROKER: Mosquitto :1883 (mqtt), NATS with JetStream :4222 (nats),
#   Kafka in KRaft mode :9092, its controller :9093 (kafka)
#   Zipkin :9411 (only for TRACING=1: the sidecars' spans, in memory)
# Usage: scripts/infra.sh up|down|status|start NAME|stop NAME
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/versions.sh"
run="$root/.run"
data="$run/data"
logs="$run/logs"
pids="$run/pids"
mkdir -p "$data" "$logs" "$pids"
log() { printf '[infra %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds, saying what it waits for.
wait_for() {
  local name=$1 limit=$2; shift 2
  local start=$SECONDS next=5
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= limit )); then
      die "$name not ready after ${limit}s; see $logs/$name.log"
    fi
    if (( SECONDS - start >= next )); then log "  waiting for $name ($((SECONDS - start))s)"; next=$((next + 5)); fi
    sleep 0.5
  done
  log "$name ready after $((SECONDS - start))s"
}

running() { local f="$pids/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# spawn NAME COMMAND...: starts COMMAND in its own session, output to .run/logs/NAME.log.
spawn() {
  local name=$1; shift
  # The process writes its own pid: setsid may fork, so $! is not always the right one.
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pids/$name.pid" "$@" >>"$logs/$name.log" 2>&1 < /dev/null &
  for _ in $(seq 1 20); do [ -s "$pids/$name.pid" ] && return; sleep 0.05; done
}

need() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || die "$1 is missing: run 'make setup' first"; }

# The holder of a local port, for an error message: "name (pid N)".
holder() { ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -1 | sed 's/users:(("//; s/",pid=/ (pid /; s/$/)/'; }

# RabbitMQ's Erlang port mapper, on a port of its own (EPMD_PORT), started and stopped here by
# its pid: the machine's default epmd (4369) may serve another Erlang node, not ours to stop.
EPMD_PORT=${SHOP_EPMD_PORT:-4371}

start_rabbitmq() {
  running rabbitmq && port_open 5672 && { log "rabbitmq already running"; return; }
  need /usr/lib/rabbitmq/bin/rabbitmq-server
  port_open 5672 && die "port 5672 is taken by $(holder 5672): stop it (another checkout's 'make infra-down'?) and try again"
  if ! running epmd; then
    spawn epmd epmd -address 127.0.0.1 -port "$EPMD_PORT"
    wait_for epmd 10 port_open "$EPMD_PORT"
  fi
  mkdir -p "$data/rabbitmq"
  cat > "$run/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:5672
loopback_users = none
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = 15692
CONF
  # Its own Prometheus endpoint (:15692/metrics, per queue at /metrics/detailed), read by
  # MONITORING=1's Prometheus (monitoring/prometheus.yml). Always on: the infrastructure outlives
  # a `make run`, and a broker started without it could not be watched by the next one.
  echo '[rabbitmq_prometheus].' > "$run/rabbitmq-plugins"
  [ -f "$HOME/.erlang.cookie" ] || { head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$HOME/.erlang.cookie"; chmod 400 "$HOME/.erlang.cookie"; }
  log "starting rabbitmq"
  # Erlang process limit 65536 instead of RabbitMQ's 1M: the table is allocated up front (12 MB
  # resident); this system runs a few hundred processes (one per queue, a handful per connection).
  RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=25672 \
  ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$EPMD_PORT" RABBITMQ_MNESIA_BASE="$data/rabbitmq" RABBITMQ_LOG_BASE="$logs" \
  RABBITMQ_CONFIG_FILE="$run/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$run/rabbitmq-plugins" \
  RABBITMQ_PID_FILE="$run/rabbitmq.erlpid" HOME="$HOME" \
  RABBITMQ_MAX_NUMBER_OF_PROCESSES=65536 \
    spawn rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
}

# Each app's own RabbitMQ user (scripts/rabbitmq_users.py: permissions for that app's exchanges
# and queues only), imported once into the broker's data: they stay across restarts, and come
# again when the passwords, the topic scoping or the script change (a stamp in the data dir).
rabbitmq_users() {
  local defs="$run/rabbitmq-definitions.json" stamp="$data/rabbitmq/users-imported"
  local source
  for source in "$run/rabbitmq-users.json" "$root/components/brokers/rabbitmq/pubsub.yaml" "$root/scripts/rabbitmq_users.py"; do
    [ -f "$source" ] || die "no $source: run 'make setup' first"
    [ "$defs" -nt "$source" ] || { rm -f "$defs"; break; }
  done
  [ -f "$defs" ] || "$root/.venv/bin/python" "$root/scripts/rabbitmq_users.py" "$defs" \
    || die "could not write RabbitMQ's users (scripts/rabbitmq_users.py); see the message above"
  [ "$stamp" -nt "$defs" ] && return
  # The CLI itself, not Debian's /usr/sbin wrapper: that one runs it as the rabbitmq user, whose
  # Erlang cookie is not this node's (started as this user, with this $HOME's cookie).
  RABBITMQ_NODENAME=rabbit@localhost ERL_EPMD_PORT="$EPMD_PORT" HOME="$HOME" \
    /usr/lib/rabbitmq/bin/rabbitmqctl -q import_definitions "$defs" >>"$logs/rabbitmq.log" 2>&1 \
    || die "could not create the apps' RabbitMQ users; see $logs/rabbitmq.log"
  touch "$stamp"
  log "rabbitmq: a user per app (scripts/rabbitmq_users.py)"
}

start_mariadb() {
  running mariadb && port_open 3306 && { log "mariadb already running"; return; }
  need mariadbd 2>/dev/null || need /usr/sbin/mariadbd
  if [ ! -d "$data/mariadb/mysql" ]; then
    log "initialising the mariadb data directory"
    mariadb-install-db --user=root --datadir="$data/mariadb" --auth-root-authentication-method=socket \
      --skip-test-db >>"$logs/mariadb.log" 2>&1 || die "mariadb-install-db failed; see $logs/mariadb.log"
  fi
  log "starting mariadb"
  # Every table is InnoDB: MyISAM's key cache and Aria's page cache (128 MB each by default) only
  # serve system and internal temporary tables. Transactions here are a few KB, so a 4 MB redo log
  # buffer never fills. Together about 40 MB less resident; the buffer pool stays at 128 MB (only
  # the pages in use are resident).
  spawn mariadb /usr/sbin/mariadbd --no-defaults --user=root --datadir="$data/mariadb" \
    --bind-address=127.0.0.1 --port=3306 --socket="$run/mariadb.sock" --pid-file="$run/mariadb.pid" \
    --skip-name-resolve --innodb-buffer-pool-size=128M --max-connections=500 --log-error="$logs/mariadb.err" \
    --key-buffer-size=1M --aria-pagecache-buffer-size=8M --innodb-log-buffer-size=4M \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_520_ci
}

start_redis() {
  running redis && port_open 6379 && { log "redis already running"; return; }
  need redis-server
  mkdir -p "$data/redis"
  log "starting redis"
  spawn redis redis-server --bind 127.0.0.1 --port 6379 --dir "$data/redis" --appendonly yes \
    --protected-mode yes --save ""
}

# PONG, not merely an answer: while Redis loads its append-only file it answers LOADING.
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

start_ferretdb() {
  running ferretdb && port_open 27017 && { log "ferretdb already running"; return; }
  need "$FERRETDB_BIN"
  mkdir -p "$data/ferretdb"
  log "starting ferretdb (MongoDB wire protocol on SQLite)"
  spawn ferretdb "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$data/ferretdb/" \
    --listen-addr=127.0.0.1:27017 --debug-addr=127.0.0.1:27018 --telemetry=disable --log-level=warn \
    --state-dir="$data/ferretdb"
}

start_mosquitto() {
  running mosquitto && port_open 1883 && { log "mosquitto already running"; return; }
  need mosquitto
  mkdir -p "$data/mosquitto"
  cat > "$run/mosquitto.conf" <<CONF
listener 1883 127.0.0.1
allow_anonymous true
# Stay the invoking user (as root, mosquitto would switch to its own user and fail to save).
user $(id -un)
persistence true
persistence_location $data/mosquitto/
CONF
  log "starting mosquitto"
  spawn mosquitto mosquitto -c "$run/mosquitto.conf"
}

# Zipkin keeps spans in memory (lost on stop: it is for reading traces now, not for history),
# bounded so a long test run cannot outgrow its small heap.
start_zipkin() {
  running zipkin && port_open 9411 && { log "zipkin already running"; return; }
  [ -s "$ZIPKIN_JAR" ] || die "the Zipkin server jar is missing ($ZIPKIN_JAR): run 'make setup' first"
  need java
  log "starting zipkin $ZIPKIN_VERSION (in-memory storage)"
  # Zipkin's server (Armeria) closes a connection idle for 15 s; the sidecars' exporters (Go)
  # keep one for 90 s, so a sidecar that reported nothing for a while could send its next batch
  # on a connection being closed: "Post .../api/v2/spans: EOF", and those spans were lost (a
  # subscriber's delivery span, seen in the e2e trace test). The server now waits longer than
  # the clients, which close their idle connections first.
  # Bounded for a dev machine: the newest 20,000 spans (~1,300 orders' traces) in a 128 MB heap,
  # the client JIT only; about 250 MB resident once full (with 50,000 spans and 256 MB: 450).
  STORAGE_TYPE=mem MEM_MAX_SPANS=20000 \
    spawn zipkin java -Xms32m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -XX:ReservedCodeCacheSize=32m -Xss512k \
      -Dcom.linecorp.armeria.defaultServerIdleTimeoutMillis=120000 -jar "$ZIPKIN_JAR" \
      '--armeria.ports[0].ip=127.0.0.1' '--armeria.ports[0].port=9411' '--armeria.ports[0].protocols[0]=http'
}

start_nats() {
  running nats && port_open 4222 && { log "nats already running"; return; }
  need nats-server
  mkdir -p "$data/nats"
  log "starting nats-server with JetStream (store in $data/nats)"
  spawn nats nats-server --addr 127.0.0.1 --port 4222 --server_name shop --jetstream --store_dir "$data/nats"
}

# Streams are created after the server answers; Dapr's JetStream component needs one per topic.
nats_streams() {
  "$root/.venv/bin/python" "$root/scripts/nats_streams.py" --url 127.0.0.1:4222 >>"$logs/nats.log" 2>&1 \
    || die "could not create the JetStream streams; see $logs/nats.log"
  log "JetStream streams ready: $(tail -1 "$logs/nats.log" | sed 's/.*: //')"
}

# Kafka runs from the jars scripts/fetch-kafka.sh put in the cache: one JVM that is both broker
# and KRaft controller, with a single partition per topic (one node, nothing to spread).
start_kafka() {
  running kafka && port_open 9092 && { log "kafka already running"; return; }
  need java
  [ -f "$KAFKA_HOME/libs/.complete" ] || die "Kafka $KAFKA_VERSION is not fetched: run 'make setup' (scripts/fetch-kafka.sh)"
  mkdir -p "$data/kafka"
  cat > "$run/kafka.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://127.0.0.1:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data/kafka
num.partitions=1
# One node: every internal topic has one replica, and one partition is plenty for the offsets.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A consumer group forms at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
CONF
  cat > "$run/kafka-log4j2.properties" <<CONF
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
# Keeps the "Kafka Server started" line that tells infra.sh the broker is ready.
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
CONF
  local java=(java -Xms256m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$run/kafka-log4j2.properties" -cp "$KAFKA_HOME/libs/*")
  if [ ! -f "$data/kafka/meta.properties" ]; then
    log "formatting the kafka log directory (KRaft)"
    local cluster_id; cluster_id=$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
    "${java[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$run/kafka.properties" \
      >>"$logs/kafka.log" 2>&1 || die "could not format the kafka log directory; see $logs/kafka.log"
  fi
  # Readiness is the start line written after this point, not one from an earlier run.
  kafka_log_from=$(( $(stat -c %s "$logs/kafka.log" 2>/dev/null || echo 0) + 1 ))
  log "starting kafka $KAFKA_VERSION (KRaft, broker+controller, 256 MB heap)"
  spawn kafka "${java[@]}" kafka.Kafka "$run/kafka.properties"
}

kafka_ready() { port_open 9092 && tail -c "+${kafka_log_from:-1}" "$logs/kafka.log" | grep -q "Kafka Server started"; }

# The scheduler only: no app hosts actors, so no placement (dapr.yaml says why). An app that
# adds actors starts it here again: $DAPR_RUNTIME_PATH/.dapr/bin/placement --port 50005.
# With TLS, its certificate from Sentry: every daprd here runs with mTLS and dials the scheduler
# with it. A plain scheduler refuses the handshake, and each daprd dialled again every second for
# as long as it ran (healthz 500, an error logged a second), about 8 ms of CPU a second per daprd
# and 3 in the scheduler; connected, about 0.5 and 0.6 (docs/performance.md, "The idle sidecar").
start_dapr_control_plane() {
  if ! (running scheduler && port_open 50006); then
    mkdir -p "$data/scheduler"
    log "starting dapr scheduler"
    spawn scheduler "$DAPR_RUNTIME_PATH/.dapr/bin/scheduler" --port 50006 --listen-address 127.0.0.1 \
      --healthz-port 28081 --healthz-listen-address 127.0.0.1 --metrics-port 29091 --metrics-listen-address 127.0.0.1 \
      --etcd-data-dir "$data/scheduler" --etcd-client-port 2379 --etcd-client-listen-address 127.0.0.1 \
      --etcd-initial-cluster "dapr-scheduler-server-0=http://127.0.0.1:2380" --id dapr-scheduler-server-0 \
      --tls-enabled --sentry-address localhost:50001 --trust-anchors-file "$run/sentry/ca.crt" --trust-domain localhost
  fi
}

# Sentry, Dapr's certificate authority: signs each sidecar's workload certificate (its SPIFFE
# identity, which the callee's access control checks) with the issuer of the trust root that
# setup generated (.run/sentry/, scripts/trust_root.py). On :50001, where `dapr run` points every
# daprd whose Configuration enables mTLS. Its own Configuration (.run/config/sentry.yaml) sets the
# certificates' lifetime; scripts/dapr_configs.py writes it with every app's.
start_sentry() {
  [ -f "$run/sentry/issuer.key" ] || die "no trust root in $run/sentry: run 'make setup' first"
  "$root/.venv/bin/python" "$root/scripts/dapr_configs.py" "$run/config" \
    || die "could not write the Dapr Configurations (scripts/dapr_configs.py); see the message above"
  running sentry && port_open 50001 && { log "sentry already running"; return; }
  need "$DAPR_RUNTIME_PATH/.dapr/bin/sentry"
  port_open 50001 && die "port 50001 is taken by $(holder 50001): stop it (another checkout's 'make infra-down'?) and try again"
  log "starting dapr sentry (mTLS certificates)"
  spawn sentry "$DAPR_RUNTIME_PATH/.dapr/bin/sentry" --mode standalone --config "$run/config/sentry.yaml" \
    --issuer-credentials "$run/sentry" --trust-domain localhost --port 50001 --listen-address 127.0.0.1 \
    --healthz-port 28083 --healthz-listen-address 127.0.0.1 --metrics-port 29093 --metrics-listen-address 127.0.0.1
}

# Each service owns its database and user; passwords come from the secrets file setup generated.
provision_mariadb() {
  [ -f "$run/secrets.json" ] || die "$run/secrets.json is missing: run 'make setup' first"
  "$root/.venv/bin/python" "$root/scripts/provision_db.py" --secrets "$run/secrets.json" \
    --socket "$run/mariadb.sock" >>"$logs/mariadb.log" 2>&1 || die "could not provision the service databases; see $logs/mariadb.log"
  log "mariadb databases and users provisioned (auth, customers, products, orders, notifications)"
}

# The broker process a BROKER value needs beside the ones always started ("" for none).
extra_broker() {
  case "${BROKER:-rabbitmq}" in
    mqtt) echo mosquitto ;;
    nats|kafka) echo "$BROKER" ;;
  esac
}

wait_for_broker() {
  case "$1" in
    rabbitmq) wait_for rabbitmq 120 port_open 5672 ;;
    redis) wait_for redis 30 redis_ready ;;
    mosquitto) wait_for mosquitto 30 port_open 1883 ;;
    nats) wait_for nats 30 port_open 4222; nats_streams ;;
    kafka) wait_for kafka 120 kafka_ready ;;
  esac
}

up() {
  local extra; extra=$(extra_broker)
  # Sentry before the scheduler, which asks it for its certificate.
  start_rabbitmq; start_mariadb; start_redis; start_ferretdb; start_sentry; start_dapr_control_plane
  [ -z "$extra" ] || "start_$extra"
  [ "${TRACING:-0}" = 1 ] && start_zipkin
  wait_for mariadb 60 mariadb-admin --no-defaults --socket="$run/mariadb.sock" -uroot ping
  provision_mariadb
  wait_for redis 30 redis_ready
  wait_for ferretdb 30 port_open 27017
  wait_for scheduler 60 curl -sf http://127.0.0.1:28081/healthz
  wait_for sentry 30 curl -sf http://127.0.0.1:28083/healthz
  [ -z "$extra" ] || wait_for_broker "$extra"
  wait_for_broker rabbitmq
  rabbitmq_users
  [ "${TRACING:-0}" = 1 ] && wait_for zipkin 90 curl -sf http://127.0.0.1:9411/health
  log "infrastructure up (logs in $logs)"
}

stop_one() {
  local name=$1 f="$pids/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "stopped $name"
  fi
  rm -f "$f"
}

down() {
  # RabbitMQ's port mapper last: it outlives the node.
  for name in zipkin sentry scheduler placement kafka nats mosquitto ferretdb redis mariadb rabbitmq epmd; do stop_one "$name"; done
}

status() {
  for name in rabbitmq mariadb redis ferretdb mosquitto nats kafka placement scheduler sentry zipkin; do
    if running "$name"; then echo "$name: running (pid $(cat "$pids/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

# start/stop one piece (fault tests, or to see what the system does without it).
one() {
  local action=$1 name=${2:-}
  case "$name" in
    rabbitmq|mariadb|redis|ferretdb|mosquitto|nats|kafka|zipkin) ;;
    *) die "usage: $0 $action rabbitmq|mariadb|redis|ferretdb|mosquitto|nats|kafka|zipkin" ;;
  esac
  if [ "$action" = stop ]; then stop_one "$name"; return; fi
  "start_$name"
  case "$name" in
    mariadb) wait_for mariadb 60 mariadb-admin --no-defaults --socket="$run/mariadb.sock" -uroot ping ;;
    ferretdb) wait_for ferretdb 30 port_open 27017 ;;
    zipkin) wait_for zipkin 90 curl -sf http://127.0.0.1:9411/health ;;
    *) wait_for_broker "$name" ;;
  esac
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  start|stop) one "$1" "${2:-}" ;;
  *) echo "usage: $0 up|down|status|start NAME|stop NAME" >&2; exit 2 ;;
esac
