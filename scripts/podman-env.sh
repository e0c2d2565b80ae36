# Podman for `make test-compose`, sourced by scripts/setup-containers.sh, podman-images.sh and
# test-compose.sh. Its configuration, storage and API socket live under the project's cache, so
# nothing system-wide changes: every podman/docker command these scripts run sees only this.
# shellcheck source=scripts/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

# The real `docker compose` (the v2 plugin users run), built from its Go module.
COMPOSE_VERSION=5.6.0
# The Debian release every local image is built on (debootstrap), and the tag it gets.
BASE_SUITE=bookworm
# CONTAINERS_HOME=DIR: another podman home (a cold run from nothing, say).
CONTAINERS_HOME=${CONTAINERS_HOME:-$DAPR_CACHE/containers}
BASE_IMAGE=localhost/dapr-shop/debian:$BASE_SUITE-minbase
export COMPOSE_VERSION BASE_SUITE CONTAINERS_HOME BASE_IMAGE

export CONTAINERS_CONF=$CONTAINERS_HOME/containers.conf
export CONTAINERS_STORAGE_CONF=$CONTAINERS_HOME/storage.conf
export CONTAINERS_REGISTRIES_CONF=$CONTAINERS_HOME/registries.conf
# The Docker API podman serves (podman system service), for docker compose and the docker CLI.
PODMAN_SOCKET=$CONTAINERS_HOME/run/podman.sock
export DOCKER_HOST=unix://$PODMAN_SOCKET
# Where `docker` looks for its plugins (cli-plugins/docker-compose) and keeps its config.
export DOCKER_CONFIG=$CONTAINERS_HOME/docker
COMPOSE_BIN=$DOCKER_CONFIG/cli-plugins/docker-compose
export PODMAN_SOCKET COMPOSE_BIN

# podman_service_start / podman_service_stop: the Docker API on $PODMAN_SOCKET, started once
# and stopped by its pid file (never by name: another checkout may run its own).
PODMAN_SERVICE_PID=$CONTAINERS_HOME/run/podman-service.pid
podman_service_up() { curl -sf --max-time 2 --unix-socket "$PODMAN_SOCKET" http://d/_ping >/dev/null 2>&1; }
podman_service_start() {
  podman_service_up && return 0
  mkdir -p "$(dirname "$PODMAN_SOCKET")"
  rm -f "$PODMAN_SOCKET"
  # Niced: image builds through the API (docker compose build) and the stack's containers run
  # under it, on a machine whose 2 cores are shared.
  setsid nice -n 10 podman system service --time=0 "unix://$PODMAN_SOCKET" >>"$CONTAINERS_HOME/run/podman-service.log" 2>&1 < /dev/null &
  echo $! > "$PODMAN_SERVICE_PID"
  local i
  for i in $(seq 1 100); do podman_service_up && return 0; sleep 0.1; done
  echo "podman system service did not answer on $PODMAN_SOCKET; see $CONTAINERS_HOME/run/podman-service.log" >&2
  return 1
}
podman_service_stop() {
  [ -f "$PODMAN_SERVICE_PID" ] || return 0
  local pid
  pid=$(cat "$PODMAN_SERVICE_PID")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PODMAN_SERVICE_PID" "$PODMAN_SOCKET"
}
