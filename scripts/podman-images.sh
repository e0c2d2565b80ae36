#!/usr/bin/env bash
# Builds every image docker-compose.yml uses, with podman, tagged with the exact names the file
# uses (make test-compose; scripts/setup-containers.sh first):
#   the project's own: dapr-shop/app (Dockerfile, on the local Debian base instead of python:slim)
#     and dapr-shop/daprd (Dockerfile.daprd, from the daprd `make setup` built: the same bytes
#     `make run` runs);
#   stand-ins for the upstream images (tests/compose/standins/): rabbitmq, mysql, mongo
#     (FerretDB), redis, zipkin, daprio/scheduler.
# Each image carries a label with a hash of its inputs; an image whose inputs did not change is
# not built again (warm: a few seconds for all of them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/podman-env.sh
log() { printf '[podman-images %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

podman image exists "$BASE_IMAGE" || { log "no base image $BASE_IMAGE: run 'make setup-containers'"; exit 1; }
daprd=$DAPR_RUNTIME_PATH/.dapr/bin/daprd
scheduler=$DAPR_RUNTIME_PATH/.dapr/bin/scheduler
for f in "$daprd" "$scheduler" "$FERRETDB_BIN" "$ZIPKIN_JAR"; do
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

# build NAME HASH_INPUTS... -- PODMAN_BUILD_ARGS...: builds (or keeps) image NAME.
build() {
  local name=$1; shift
  local inputs=()
  while [ "$1" != -- ]; do inputs+=("$1"); shift; done
  shift
  local hash
  hash=$( { printf '%s\n' "$BASE_IMAGE" "$*"; find "${inputs[@]}" -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16)
  local ref; ref=$(qualified "$name")
  if [ "$(podman image inspect --format '{{index .Labels "dapr-shop.inputs"}}' "$ref" 2>/dev/null)" = "$hash" ]; then
    log "$name: up to date ($(size "$ref"))"
    return
  fi
  log "building $name"
  local start=$SECONDS
  # Every step's output is shown: apt and pip say what they fetch, a failing step says why.
  nice -n 10 podman build --layers --label "dapr-shop.inputs=$hash" --build-arg "BASE=$BASE_IMAGE" -t "$ref" "$@" \
    2>&1 | sed -u 's/^/    /'
  [ "${PIPESTATUS[0]}" -eq 0 ] || { log "building $name failed; see the output above"; exit 1; }
  log "$name built in $((SECONDS - start))s ($(size "$ref"))"
}
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
build "$(image_of gateway)" Dockerfile .dockerignore pyproject.toml requirements.lock services scripts/provision_db.py -- \
  --build-arg "PYTHON_BASE=$BASE_IMAGE" -f Dockerfile .
ctx=$(context_with daprd "$daprd" daprd)
build "$(image_of gateway-dapr)" Dockerfile.daprd "$ctx" -- \
  --build-arg DAPRD_FROM=binary --build-arg "BINARY_BASE=$BASE_IMAGE" --build-context "daprd-bin=$ctx" -f Dockerfile.daprd .
standins=tests/compose/standins
build "$(image_of rabbitmq)" $standins/rabbitmq -- $standins/rabbitmq
build "$(image_of mysql)" $standins/mysql -- $standins/mysql
build "$(image_of redis)" $standins/redis -- $standins/redis
ctx=$(context_with mongo "$FERRETDB_BIN" ferretdb)
build "$(image_of mongo)" $standins/mongo "$ctx" -- -f $standins/mongo/Dockerfile "$ctx"
ctx=$(context_with zipkin "$ZIPKIN_JAR" zipkin.jar)
build "$(image_of zipkin)" $standins/zipkin "$ctx" -- -f $standins/zipkin/Dockerfile "$ctx"
ctx=$(context_with scheduler "$scheduler" scheduler)
build "$(image_of scheduler)" $standins/scheduler "$ctx" -- -f $standins/scheduler/Dockerfile "$ctx"
log "all images ready in $((SECONDS - total))s"
