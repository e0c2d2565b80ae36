#!/usr/bin/env bash
# Prometheus for a running shop (MONITORING=1 make run, and the e2e suite), on loopback only:
#   scripts/monitoring.sh up RUN_FILE   writes the scrape targets of RUN_FILE's apps and sidecars,
#                                       starts Prometheus (monitoring/prometheus.yml, the rules in
#                                       monitoring/alerts.yaml), waits until it is ready
#   scripts/monitoring.sh down          stops the Prometheus this checkout started (pid file)
# Its data lives as long as it runs (.run/data/prometheus, emptied at each start): it is for
# watching this run, not an archive. PROMETHEUS_PORT (default 9095) moves it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/versions.sh
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9095}
pidfile=.run/pids/prometheus.pid
data=.run/data/prometheus
log() { printf '[monitoring %(%H:%M:%S)T] %s\n' -1 "$*"; }

down() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  # Only if that pid is still our Prometheus: a pid file left by a crash may name another process now.
  if [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = prometheus ]; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    log "Prometheus stopped"
  fi
  rm -f "$pidfile"
}

up() {
  local runfile=$1
  [ -x "$PROMETHEUS_HOME/prometheus" ] || { log "Prometheus is not built yet: run 'make setup'"; exit 1; }
  down  # a Prometheus this checkout left running (its run was killed) gives way to this run's
  if (exec 3<>"/dev/tcp/127.0.0.1/$PROMETHEUS_PORT") 2>/dev/null; then
    log "port $PROMETHEUS_PORT is taken by: $(ss -ltnpH "sport = :$PROMETHEUS_PORT" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -1)"
    log "stop it, or choose another port: PROMETHEUS_PORT=9096"
    exit 1
  fi
  .venv/bin/python scripts/prometheus_targets.py "$runfile" "${BROKER:-rabbitmq}" .run/monitoring
  rm -rf "$data" && mkdir -p "$data" .run/pids .run/logs
  # Its own session, so a Ctrl-C meant for the apps does not reach it; it writes its own pid
  # (setsid may fork, so $! is not always Prometheus).
  rm -f "$pidfile"
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pidfile" \
    "$PROMETHEUS_HOME/prometheus" --config.file=monitoring/prometheus.yml \
    --storage.tsdb.path="$data" --storage.tsdb.retention.time=1d \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
    >> .run/logs/prometheus.log 2>&1 < /dev/null &
  for _ in $(seq 1 20); do [ -s "$pidfile" ] && break; sleep 0.05; done
  local start=$SECONDS
  until curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "Prometheus exited; the end of .run/logs/prometheus.log:"
      tail -n 10 .run/logs/prometheus.log | sed 's/^/    /'
      rm -f "$pidfile"
      exit 1
    fi
    (( SECONDS - start < 30 )) || { log "Prometheus not ready after 30s; see .run/logs/prometheus.log"; down; exit 1; }
    sleep 0.5
  done
  log "Prometheus: http://127.0.0.1:$PROMETHEUS_PORT (alerts: /api/v1/alerts, targets: /api/v1/targets; log .run/logs/prometheus.log)"
}

case "${1:-}" in
  up) [ $# -eq 2 ] || { echo "usage: $0 up RUN_FILE" >&2; exit 2; }; up "$2" ;;
  down) down ;;
  *) echo "usage: $0 up RUN_FILE | down" >&2; exit 2 ;;
esac
