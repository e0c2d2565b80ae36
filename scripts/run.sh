#!/usr/bin/env bash
# Starts the whole system: infrastructure, then every app with its own daprd (dapr run -f .).
# REPLICAS=N runs N replicas of every app, each with its own sidecar, behind HAProxy on the
# public ports (scripts/replicas.py writes the run file and HAProxy's configuration). EDGE=1 puts
# HAProxy in front of one replica too: the edge that refuses a flood (docs/security.md).
# Prints the gateway URL once /api/health reports every service up. Ctrl-C (or SIGTERM) stops
# every app and sidecar it started, and HAProxy; the infrastructure keeps running (make infra-down).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/versions.sh
source scripts/env.sh
BROKER=${BROKER:-rabbitmq}
READY_TIMEOUT=${READY_TIMEOUT:-180}
REPLICAS=${REPLICAS:-1}
log() { printf '[run %(%H:%M:%S)T] %s\n' -1 "$*"; }  # no $(date): a subshell per line, and bash 5.2 once failed to parse the TERM trap while one ran

[ -d "components/brokers/$BROKER" ] || { log "unknown BROKER=$BROKER; choose one of: $(ls components/brokers | tr '\n' ' ')"; exit 2; }
[ -x "$DAPR_CLI" ] && [ -x "$DAPR_RUNTIME_PATH/.dapr/bin/daprd" ] || { log "Dapr is not built yet: run 'make setup'"; exit 1; }
[ -x .venv/bin/python ] || { log "the Python environment is missing: run 'make setup'"; exit 1; }
[[ "$REPLICAS" =~ ^[1-9]$ ]] || { log "REPLICAS=$REPLICAS: choose 1 to 9"; exit 2; }
# HAProxy holds the public ports: always with more than one replica, with one when EDGE=1.
edge=${EDGE:-0}
if [ "$REPLICAS" -gt 1 ]; then edge=1; fi
if [ "$edge" = 1 ]; then command -v haproxy >/dev/null || { log "HAProxy is missing: run 'make setup'"; exit 1; }; fi
MONITORING=${MONITORING:-0}
if [ "$MONITORING" = 1 ]; then [ -x "$PROMETHEUS_HOME/prometheus" ] || { log "Prometheus is not built yet: run 'make setup'"; exit 1; }; fi

# The run file: dapr.yaml itself for one replica without HAProxy, else one written for N.
runfile=dapr.yaml
mkdir -p .run/pids .run/logs
if [ "$edge" = 1 ]; then
  .venv/bin/python scripts/replicas.py "$REPLICAS" .run/replicas
  runfile=.run/replicas/dapr.yaml
fi
# Every port the apps, their sidecars and HAProxy will take must be free: name what holds one.
busy=$(.venv/bin/python - "$runfile" "$edge" <<'PY'
import socket, sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
ports = {a[k] for a in spec["apps"] for k in ("appPort", "daprHTTPPort", "daprGRPCPort", "metricsPort")}
if sys.argv[2] == "1":
    ports |= {8000, 8001}
for port in sorted(ports):
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            print(port)
PY
)
if [ -n "$busy" ]; then
  for port in $busy; do
    log "port $port is taken by: $(ss -ltnpH "sport = :$port" 2>/dev/null | sed -E 's/.*users:\(\(("[^"]*",pid=[0-9]+).*/\1/' | head -1)"
  done
  log "stop what holds them (another 'make run'?) and try again"
  exit 1
fi

# What an earlier run's rolling restarts started has stopped (its ports are free): forget it.
rm -rf .run/pids/restarted
ln -sfn "../components/brokers/$BROKER" .run/broker
log "broker: $BROKER (components/brokers/$BROKER)"
BROKER=$BROKER TRACING=${TRACING:-0} scripts/infra.sh up

# The tokens between each app and its own sidecar (made by make setup), a pair per app: the run
# file `dapr run` reads gets them (scripts/app_tokens.py says how), so none is in this environment.
[ -d .run/api-tokens ] || { log "no .run/api-tokens/: run 'make setup'"; exit 1; }
.venv/bin/python scripts/app_tokens.py "$runfile" "$DAPR_RUNTIME_PATH/.dapr/bin/daprd" .run/run.yaml
runfile=.run/run.yaml
# mTLS between sidecars: every daprd trusts certificates that chain up to the local root (its
# workload certificate comes from Sentry, which scripts/infra.sh started).
DAPR_TRUST_ANCHORS=$(cat .run/sentry/ca.crt)
export DAPR_TRUST_ANCHORS

# `dapr run` starts a new log file per app and per sidecar each time: keep the last runs' only
# (a day of test runs left 2,700 files, 790 MB).
keep=${KEEP_LOG_RUNS:-10}
for logs in .dapr/logs .run/replicas/*/.dapr/logs; do
  [ -d "$logs" ] || continue
  for group in $(ls "$logs" | sed -nE 's/_[0-9]{14}\.log$//p' | sort -u); do
    ls -1 "$logs/$group"_*.log | sort -r | tail -n +$((keep + 1)) | xargs -r rm -f
  done
done
haproxy_pid=""
if [ "$edge" = 1 ]; then
  # HAProxy in the foreground (-db) of its own session, so stop() ends exactly it.
  setsid haproxy -db -f .run/replicas/haproxy.cfg >> .run/logs/haproxy.log 2>&1 < /dev/null &
  haproxy_pid=$!
  echo "$haproxy_pid" > .run/pids/haproxy.pid
  log "HAProxy on 127.0.0.1:8000 (gateway) and :8001 (notifications), $REPLICAS replica(s) behind each; log .run/logs/haproxy.log"
fi
if [ "$REPLICAS" -gt 1 ]; then
  log "starting $REPLICAS replicas of each of the 7 apps with their Dapr sidecars; logs in .dapr/logs/ (replica 0) and .run/replicas/<k>/.dapr/logs/ (the last $keep runs)"
else
  log "starting 7 apps with their Dapr sidecars (dapr run -f .); logs in .dapr/logs/ (the last $keep runs)"
fi
# The CLI starts each daprd with its own environment: GOGC reaches the sidecars (versions.sh).
GOGC=$DAPR_SIDECAR_GOGC setsid "$DAPR_CLI" run -f "$runfile" --runtime-path "$DAPR_RUNTIME_PATH" > .run/logs/dapr-run.log 2>&1 &
cli=$!
stop() {
  trap - INT TERM
  log "stopping every app and sidecar"
  kill -INT "$cli" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$cli" 2>/dev/null || break; sleep 0.25; done
  # Anything the CLI left behind in its session goes too.
  kill -KILL -- "-$cli" 2>/dev/null || true
  # And the replicas a rolling restart started again (scripts/restart.py), each leading a
  # session of its own: stopped as the CLI stops its own, if the pid is still one of ours.
  for f in .run/pids/restarted/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    case $(readlink /proc/"$pid"/cwd 2>/dev/null) in
      "$root" | "$root"/*) kill -KILL -- "-$pid" 2>/dev/null || true ;;
    esac
    rm -f "$f"
  done
  if [ "$MONITORING" = 1 ]; then scripts/monitoring.sh down || true; fi
  if [ -n "$haproxy_pid" ]; then kill -TERM "$haproxy_pid" 2>/dev/null || true; rm -f .run/pids/haproxy.pid; fi
  log "stopped"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

start=$SECONDS next=0
# Up: /api/health answers 200 (every app has a ready replica) and counts REPLICAS of each.
ready() {
  body=$(curl -s --max-time 3 -w '\n%{http_code}' http://127.0.0.1:8000/api/health) && [ "${body##*$'\n'}" = 200 ] || return 1
  [ "$REPLICAS" -eq 1 ] || printf '%s' "${body%$'\n'*}" | .venv/bin/python -c 'import json,sys
counts = json.load(sys.stdin).get("replicas") or {}
sys.exit(0 if counts and set(counts.values()) == {int(sys.argv[1])} else 1)' "$REPLICAS"
}
until ready; do
  if ! kill -0 "$cli" 2>/dev/null; then
    log "dapr run exited; its last words (all in .run/logs/dapr-run.log, and .dapr/logs/):"
    tail -n 15 .run/logs/dapr-run.log | sed 's/^/    /'
    exit 1
  fi
  if (( SECONDS - start >= READY_TIMEOUT )); then
    log "not all services up after ${READY_TIMEOUT}s: ${body%$'\n'*}"
    log "see .dapr/logs/ (one app and one daprd log per app-id) and .run/logs/dapr-run.log"
    stop; exit 1
  fi
  if (( SECONDS - start >= next )); then
    down=$(printf '%s' "${body%$'\n'*}" | .venv/bin/python -c 'import json,sys
try:
    report = json.load(sys.stdin)
    down = [k for k, v in report["services"].items() if v != "up"]
    short = [f"{k} replicas ({n}/{sys.argv[1]})" for k, n in (report.get("replicas") or {}).items() if n < int(sys.argv[1])]
    print(", ".join(down + short) or "gateway")
except Exception: print("gateway")' "$REPLICAS" 2>/dev/null || echo gateway)
    log "  waiting for: $down ($((SECONDS - start))s)"
    next=$((next + 5))
  fi
  sleep 1
done
log "all services up after $((SECONDS - start))s"
# Prometheus once every app is up: started earlier, it would see the apps still starting as down.
if [ "$MONITORING" = 1 ]; then scripts/monitoring.sh up "$runfile" || { stop; exit 1; }; fi
log "the shop in a browser: http://127.0.0.1:8000/"
log "gateway: http://127.0.0.1:8000  (health: /api/health, API docs: /docs)  notifications: ws://127.0.0.1:8001/ws"
if [ "${TRACING:-0}" = 1 ]; then log "traces: http://127.0.0.1:9411 (Zipkin)"; else log "traces: off (TRACING=1 make run starts Zipkin)"; fi
if [ "$MONITORING" = 1 ]; then log "metrics and alerts: http://127.0.0.1:${PROMETHEUS_PORT:-9095} (Prometheus)"; else log "monitoring: off (MONITORING=1 make run starts Prometheus)"; fi
log "press Ctrl-C to stop"
wait "$cli"
