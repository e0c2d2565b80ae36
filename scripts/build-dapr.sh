#!/usr/bin/env bash
# Builds the real Dapr runtime (daprd with the components this project uses, placement,
# scheduler, and Sentry, the certificate authority behind the sidecars' mTLS) and the Dapr CLI from the Go module proxy, cached by version outside the repository.
# GitHub releases and container images are out of reach on these machines, so `dapr init`
# cannot fetch them; this produces the same layout `dapr init` would (<runtime>/.dapr/bin).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/versions.sh
source "$here/versions.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
bin="$DAPR_RUNTIME_PATH/.dapr/bin"
mkdir -p "$bin"
log() { printf '[build-dapr %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

have() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "$2"; }

# Official binaries the user already has are used as they are.
if [ ! -x "$bin/daprd" ] && have "$HOME/.dapr/bin/daprd" "$DAPR_VERSION"; then
  log "using the official daprd in $HOME/.dapr/bin"
  for b in daprd placement scheduler sentry; do
    if [ -x "$HOME/.dapr/bin/$b" ]; then ln -sf "$HOME/.dapr/bin/$b" "$bin/$b"; fi
  done
fi

# module_copy MODULE VERSION: a writable copy of the module's source, where its own go.mod
# (replace directives included) applies; prints its path. `go install` ignores replaces.
module_copy() {
  local module=$1 version=$2 dest="$DAPR_CACHE/src/${1##*/}-$2" dir
  if [ ! -f "$dest/go.mod" ]; then
    log "downloading $module@v$version"
    dir=$(go mod download -json "$module@v$version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    [ -n "$dir" ] || { log "the Go module proxy did not serve $module@v$version"; exit 1; }
    rm -rf "$dest.tmp" && mkdir -p "$(dirname "$dest")"
    cp -r "$dir" "$dest.tmp" && chmod -R u+w "$dest.tmp" && mv "$dest.tmp" "$dest"
  fi
  echo "$dest"
}

# patched_copy MODULE VERSION: a copy of the module with the fixes in
# scripts/patches/<name>-<version>-*.patch applied in name order (each patch's header says what
# it fixes and how it was found); prints its path.
patched_copy() {
  local module=$1 version=$2 name=${1##*/} patched original p
  patched="$DAPR_CACHE/src/$name-$version-$DAPR_BUILD"
  if [ ! -f "$patched/go.mod" ]; then
    original=$(module_copy "$module" "$version")
    rm -rf "$patched.tmp" && cp -r "$original" "$patched.tmp"
    for p in "$here"/patches/"$name"-"$version"-*.patch; do
      [ -e "$p" ] || continue
      log "applying $(basename "$p")"
      patch -s -d "$patched.tmp" -p1 < "$p"
    done
    mv "$patched.tmp" "$patched"
  fi
  echo "$patched"
}

# use_patched_contrib DAPR_SRC: builds daprd against its components-contrib version, patched.
use_patched_contrib() {
  local dapr_src=$1 version patched
  version=$(awk '$1 == "github.com/dapr/components-contrib" { sub(/^v/, "", $2); print $2; exit }' "$dapr_src/go.mod")
  patched=$(patched_copy github.com/dapr/components-contrib "$version")
  (cd "$dapr_src" && go mod edit -replace "github.com/dapr/components-contrib=$patched")
}

# The components daprd is built with. Each is one registration file in the dapr module's
# cmd/daprd/components/ (<kind>_<name>.go); every other file there is left out of the build, so
# daprd neither links nor initialises the other ~130 components (cloud SDKs and all): a smaller
# binary and about half the memory per sidecar. Included:
#   pubsub rabbitmq, redis, mqtt3     components/brokers/ (BROKER=rabbitmq|redis|mqtt)
#   pubsub jetstream, kafka           the brokers a component file alone can switch to
#   state redis                       components/statestore.yaml
#   secretstores local.file           components/secretstore.yaml; local.env for env-only setups
#   nameresolution sqlite             components/config.yaml; mdns is daprd's default without one
# To add a component: add its file name here, bump DAPR_BUILD in scripts/versions.sh (so a cached
# daprd without it is never reused), run `make setup`. A daprd without it exits at start-up,
# naming the type ("couldn't find message bus pubsub.<name>/v1", "... state store ...").
DAPRD_COMPONENTS=(
  pubsub_rabbitmq pubsub_redis pubsub_mqtt3 pubsub_jetstream pubsub_kafka
  state_redis
  secretstores_local_file secretstores_local_env
  nameresolution_sqlite nameresolution_mdns
)

# components_overlay DAPR_SRC: a `go build -overlay` file that hides every registration file
# not in DAPRD_COMPONENTS, leaving the module copy itself untouched.
components_overlay() {
  local dir=$1/cmd/daprd/components overlay=$1/../daprd-components-$DAPR_BUILD.json f name sep=
  for name in "${DAPRD_COMPONENTS[@]}"; do
    [ -f "$dir/$name.go" ] || { log "no component file $dir/$name.go: fix DAPRD_COMPONENTS in $0"; exit 1; }
  done
  {
    printf '{"Replace": {'
    for f in "$dir"/*.go; do
      name=$(basename "$f" .go)
      [[ " ${DAPRD_COMPONENTS[*]} " == *" $name "* || $name == zz_notag ]] && continue
      printf '%s\n  "%s": ""' "$sep" "$f"
      sep=,
    done
    printf '\n}}\n'
  } > "$overlay"
  echo "$overlay"
}

# go build -v prints one line per compiled package (an import path, no spaces); turn those into
# a progress line every 30 s. Any other line (a module download, a compile error) passes through.
progress() {
  awk -v what="$1" 'BEGIN { t = systime() }
    / / { print; fflush(); next }
    { n++; if (systime() - t >= 30) { t = systime(); printf "[build-dapr] %s: %d packages compiled so far\n", what, n; fflush() } }
    END { printf "[build-dapr] %s: %d packages compiled\n", what, n }'
}

# ticking WHAT [cache]: says every 30 s that WHAT is still going (with "cache": and how big the
# module cache has grown). `go` prints nothing while it downloads modules or links a large binary.
ticker=""
ticking() {
  local what=$1 cache=${2:-} since=$SECONDS
  # One-second sleeps: a stopped ticker leaves no sleep behind holding the output open.
  ( while :; do
      for _ in $(seq 30); do sleep 1; done
      log "  $what: still going after $((SECONDS - since))s${cache:+ (module cache $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1))}"
    done ) &
  ticker=$!
}
stop_ticking() { [ -z "$ticker" ] || kill "$ticker" 2>/dev/null || true; ticker=""; }
trap stop_ticking EXIT

# DAPR_BINARIES and DAPR_SKIP_CLI=1 narrow the build (Dockerfile.daprd: daprd only, no CLI).
runtime_missing=()
for b in ${DAPR_BINARIES:-daprd placement scheduler sentry}; do
  [ -x "$bin/$b" ] || runtime_missing+=("$b")
done
if [ ${#runtime_missing[@]} -gt 0 ]; then
  log "building ${runtime_missing[*]} $DAPR_VERSION from the Go module proxy (cold: about 6 min on 2 cores, more on a cold module cache)"
  src=$(patched_copy github.com/dapr/dapr "$DAPR_VERSION")
  use_patched_contrib "$src"
  cd "$src"
  log "downloading dapr's dependencies (several hundred modules, about 2 GB on a cold cache)"
  ticking "downloading dapr's dependencies" cache
  go mod download
  stop_ticking
  ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION -X github.com/dapr/kit/logger.DaprVersion=$DAPR_VERSION"
  overlay=$(components_overlay "$src")
  log "daprd components: ${DAPRD_COMPONENTS[*]}"
  for b in "${runtime_missing[@]}"; do
    log "compiling $b"
    ticking "compiling $b"
    # allcomponents enables every registration file the overlay leaves in (daprd's; the other
    # binaries have none). Niced: the machine's other work stays responsive.
    nice -n 10 go build -v -tags allcomponents -overlay "$overlay" -ldflags "$ldflags" -o "$bin/$b.tmp.$$" "./cmd/$b" 2>&1 | progress "$b"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { log "building $b failed; see the output above"; exit 1; }
    stop_ticking
    mv "$bin/$b.tmp.$$" "$bin/$b"
  done
fi

if [ "${DAPR_SKIP_CLI:-0}" != 1 ] && [ ! -x "$DAPR_CLI" ]; then
  # Built from a copy too: `go install ...@version` asks the proxy for the module's version
  # list, which it refuses for dapr/cli.
  log "building the Dapr CLI $DAPR_CLI_VERSION (cold: about 2.5 min on 2 cores, longer when they are busy)"
  cli_src=$(module_copy github.com/dapr/cli "$DAPR_CLI_VERSION")
  mkdir -p "$(dirname "$DAPR_CLI")"
  # The CLI pins components-contrib v1.16.3, which the proxy does not serve; the CLI only uses
  # its metadata types, identical in v1.16.1.
  (cd "$cli_src" && go mod edit -replace=github.com/dapr/components-contrib=github.com/dapr/components-contrib@v1.16.1)
  log "downloading the Dapr CLI's dependencies"
  ticking "downloading the Dapr CLI's dependencies" cache
  (cd "$cli_src" && go mod download) || { log "the Go module proxy did not serve the Dapr CLI's dependencies; see the output above"; exit 1; }
  stop_ticking
  log "compiling the Dapr CLI"
  ticking "compiling the Dapr CLI"
  if ! (cd "$cli_src" \
    && nice -n 10 go build -v -mod=mod -ldflags "-s -w -X main.version=$DAPR_CLI_VERSION" -o "$DAPR_CLI.tmp.$$" .) 2>&1 \
    | progress "Dapr CLI"; then
    log "building the Dapr CLI failed; see the output above"
    exit 1
  fi
  stop_ticking
  mv "$DAPR_CLI.tmp.$$" "$DAPR_CLI"
fi

log "daprd: $("$bin/daprd" --version)  CLI: $("$DAPR_CLI" version --runtime-path "$DAPR_RUNTIME_PATH" 2>/dev/null | head -1 || echo "not built")"
