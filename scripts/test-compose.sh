#!/usr/bin/env bash
# make test-compose: docker-compose.yml, unchanged, run by the real `docker compose` through
# podman: builds the images (scripts/podman-images.sh), `up`, waits for every service, runs
# tests/compose against the published ports, then `down -v` (always, by project name), checking
# that no container, volume or network of the project is left.
# The stack publishes the shop's ports (8000, 8001, 9411, 15672): run it under the machine lock.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/podman-env.sh
log() { printf '[test-compose %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
READY_TIMEOUT=${READY_TIMEOUT:-300}
project=dapr-shop  # docker-compose.yml's `name:`
logs=.run/logs/compose.log

[ -x "$COMPOSE_BIN" ] || { log "docker compose is not built: run 'make setup-containers'"; exit 1; }
[ -s .run/secrets.json ] && [ -s .run/api-tokens/gateway.env ] && [ -s .run/compose/sidecars/gateway.env ] \
  || { log "no .run/secrets.json or .run/compose/ (scripts/compose_files.py): run 'make setup'"; exit 1; }
[ -x .venv/bin/python ] || { log "no .venv: run 'make setup'"; exit 1; }
for port in 8000 8001 9411 15672; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is taken (make run, or another stack?): stop it first"; exit 1
  fi
done
compose() { "$COMPOSE_BIN" -p "$project" "$@"; }
mkdir -p "$(dirname "$logs")"

# Docker runs each container's health check itself; podman 4.3 leaves it to systemd timers,
# and there is no systemd here. So this loop runs them, every 2 s (the file's checks say 5 s;
# only how soon `healthy` is seen changes), for the project's containers that have one.
health_ticker() {
  while sleep 2; do
    for id in $(podman ps -q --filter "label=com.docker.compose.project=$project" --filter health=starting) \
              $(podman ps -q --filter "label=com.docker.compose.project=$project" --filter health=unhealthy); do
      podman healthcheck run "$id" >/dev/null 2>&1 || true
    done
  done
}

started_service=0
podman_service_up || { podman_service_start; started_service=1; }
cleanup() {
  rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ]; then
    compose logs --no-color --timestamps > "$logs" 2>&1 || true
    log "failed: every container's log is in $logs (before the broker swap recreated the sidecars: ${logs%.log}-before-swap.log)"
  fi
  # Podman refuses to remove an app while its sidecar (in the app's network namespace) exists,
  # and compose may remove both at once: what is left after one pass goes in the next.
  for pass in 1 2 3; do
    log "docker compose down -v (project $project)"
    compose down -v --remove-orphans --timeout 10 2>&1 | awk '!seen[$0]++ { print "    " $0; fflush() }' || true
    left=$(podman ps -aq --filter "label=com.docker.compose.project=$project"; \
           podman volume ls -q --filter "label=com.docker.compose.project=$project"; \
           podman network ls -q --filter "label=com.docker.compose.project=$project")
    [ -n "$left" ] || break
    log "  $(echo "$left" | wc -l) containers, volumes or networks still there after pass $pass"
  done
  if [ -n "$left" ]; then log "left behind after down -v: $(echo $left)"; rc=1; else log "nothing of project $project left"; fi
  [ -z "${ticker:-}" ] || kill "$ticker" 2>/dev/null || true
  [ "$started_service" -eq 0 ] || podman_service_stop
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
scripts/podman-images.sh
images=$((SECONDS - start))

# A stack left by an interrupted run would keep old containers: start from nothing.
compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
health_ticker &
ticker=$!
log "docker compose up (images are the ones just built; --no-build: nothing is pulled or built here)"
up=$SECONDS
# (compose without a terminal prints most events twice: each is shown once)
compose up -d --no-build 2>&1 | awk '!seen[$0]++ { print "    " $0; fflush() }'
[ "${PIPESTATUS[0]}" -eq 0 ] || { log "docker compose up failed; see the output above"; exit 1; }

next=0
until body=$(curl -s --max-time 3 http://127.0.0.1:8000/api/health) && [[ $body == *'"status":"ok"'* ]]; do
  if (( SECONDS - up >= READY_TIMEOUT )); then
    log "not all services up after ${READY_TIMEOUT}s: ${body:-gateway not answering}"; exit 1
  fi
  if (( SECONDS - up >= next )); then
    down=$(printf '%s' "$body" | python3 -c 'import json, sys
try: print(", ".join(k for k, v in json.load(sys.stdin)["services"].items() if v != "up") or "gateway")
except Exception: print("gateway")' 2>/dev/null || echo gateway)
    log "  waiting for: $down ($((SECONDS - up))s; $(compose ps -a --format '{{.Service}} {{.State}}' | awk '$2 != "running" { printf "%s %s, ", $1, $2 }')...)"
    next=$((next + 10))
  fi
  sleep 1
done
log "all services up $((SECONDS - up))s after up (images: ${images}s)"

tests=$SECONDS
COMPOSE_PROJECT=$project .venv/bin/python -m pytest tests/compose -v -p no:cacheprovider
log "tests passed in $((SECONDS - tests))s; total so far $((SECONDS - start))s"
