#!/usr/bin/env bash
# Builds every image docker-compose.yml uses, with podman, tagged with the exact names the file
# uses (make test-compose; scripts/setup-containers.sh first):
#   the project's own: dapr-shop/app (Dockerfile, on the local Debian base instead of python:slim)
#     and dapr-shop/daprd (Dockerfile.daprd, from the daprd `make setup` built: the same bytes
#     `make run` runs);
#   stand-ins for the upstream images (tests/compose/standins/): rabbitmq, mysql, mongo
#     (FerretDB), redis, zipkin, daprio/scheduler, daprio/sentry.
# An image whose inputs (Dockerfile, context, base) did not change is not built again (warm: a
# few seconds for all of them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/podman-env.sh
log() { printf '[podman-images %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

podman image exists "$BASE_IMAGE" || { log "no base image $BASE_IMAGE: run 'make setup-containers'"; exit 1; }
daprd=$DAPR_RUNTIME_PATH/.dapr/bin/daprd
scheduler=$DAPR_RUNTIME_PATH/.dapr/bin/scheduler
sentry=$DAPR_RUNTIME_PATH/.dapr/bin/sentry
for f in "$daprd" "$scheduler" "$sentry" "$FERRETDB_BIN" "$ZIPKIN_JAR"; do
  [ -s "$f" ] || { log "$f is missing: run 'make setup'"; exit 1; }
done

# The name a compose service's `image:` means, as Docker resolves it (docker.io/library/...).
qualified() {
  case $1 in
    */*/*) echo "$1" ;;
    */*) echo "docker.io/$1" ;;
    *) echo "docker.io/library/$1" ;;
  esac
}
# image_of SERVICE: the image docker-compose.yml names for a service.
image_of() { "$COMPOSE_BIN" -f docker-compose.yml config --format json | python3 -c "import json, sys; print(json.load(sys.stdin)['services']['$1']['image'])"; }

# build NAME HASH_INPUTS... -- BUILD_COMMAND...: builds image NAME with BUILD_COMMAND, unless
# the image built last time from the same inputs is still there (a stamp file records which).
stamps=$CONTAINERS_HOME/stamps
build() {
  local name=$1; shift
  local inputs=()
  while [ "$1" != -- ]; do inputs+=("$1"); shift; done
  shift
  local hash ref stamp start
  hash=$( { printf '%s\n' "$BASE_IMAGE" "$*"; find "${inputs[@]}" -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16)
  ref=$(qualified "$name")
  stamp=$stamps/$(echo "$name" | tr '/:' '__')
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash $(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null)" ]; then
    log "$name: up to date ($(size "$ref"))"
    return
  fi
  log "building $name"
  start=$SECONDS
  # Every step's output is shown: apt and pip say what they fetch, a failing step says why.
  nice -n 10 "$@" 2>&1 | sed -u 's/^/    /'
  [ "${PIPESTATUS[0]}" -eq 0 ] || { log "building $name failed; see the output above"; exit 1; }
  mkdir -p "$stamps"
  echo "$hash $(podman image inspect --format '{{.Id}}' "$ref")" > "$stamp"
  log "$name built in $((SECONDS - start))s ($(size "$ref"))"
}
pbuild=(podman build --layers --build-arg "BASE=$BASE_IMAGE")
size() { podman image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'; }

# A build context of one file, for the binaries and the jar `make setup` left in the cache.
contexts=$CONTAINERS_HOME/contexts
context_with() {
  local dir=$contexts/$1 file=$2 as=$3
  mkdir -p "$dir"
  cp -f "$file" "$dir/$as.tmp" && mv -f "$dir/$as.tmp" "$dir/$as"
  echo "$dir"
}

total=$SECONDS
app=$(image_of gateway)
# The app image the way users build it, `docker compose build` (through podman's Docker API),
# with the local base in place of python:slim.
podman_service_up || { log "podman's API is not running (scripts/test-compose.sh starts it)"; exit 1; }
build "$app" Dockerfile .dockerignore pyproject.toml requirements.lock services scripts/provision_db.py -- \
  "$COMPOSE_BIN" -f docker-compose.yml build --build-arg "PYTHON_BASE=$BASE_IMAGE" gateway
ctx=$(context_with daprd "$daprd" daprd)
build "$(image_of gateway-dapr)" Dockerfile.daprd "$ctx" -- "${pbuild[@]}" -t "$(qualified "$(image_of gateway-dapr)")" \
  --build-arg DAPRD_FROM=binary --build-arg "BINARY_BASE=$BASE_IMAGE" --build-context "daprd-bin=$ctx" -f Dockerfile.daprd .
standins=tests/compose/standins
for service in rabbitmq mysql redis; do
  build "$(image_of $service)" $standins/$service -- "${pbuild[@]}" -t "$(qualified "$(image_of $service)")" $standins/$service
done
ctx=$(context_with mongo "$FERRETDB_BIN" ferretdb)
build "$(image_of mongo)" $standins/mongo "$ctx" -- "${pbuild[@]}" -t "$(qualified "$(image_of mongo)")" -f $standins/mongo/Dockerfile "$ctx"
ctx=$(context_with zipkin "$ZIPKIN_JAR" zipkin.jar)
build "$(image_of zipkin)" $standins/zipkin "$ctx" -- "${pbuild[@]}" -t "$(qualified "$(image_of zipkin)")" -f $standins/zipkin/Dockerfile "$ctx"
ctx=$(context_with scheduler "$scheduler" scheduler)
build "$(image_of scheduler)" $standins/scheduler "$ctx" -- "${pbuild[@]}" -t "$(qualified "$(image_of scheduler)")" -f $standins/scheduler/Dockerfile "$ctx"
ctx=$(context_with sentry "$sentry" sentry)
build "$(image_of sentry)" $standins/sentry "$ctx" -- "${pbuild[@]}" -t "$(qualified "$(image_of sentry)")" -f $standins/sentry/Dockerfile "$ctx"
log "all images ready in $((SECONDS - total))s"
