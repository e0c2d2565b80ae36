#!/usr/bin/env bash
# Builds `hey`, the HTTP load generator `make bench` drives (Locust, for `make load`, is too slow
# to saturate an app), from the Go module proxy, pinned and cached by version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
log() { printf '[install-hey %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ -x "$HEY_BIN" ]; then
  log "hey $HEY_VERSION already built: $HEY_BIN"
  exit 0
fi
command -v go >/dev/null || { log "Go is missing: install Go >= 1.26 (see README, Requirements)"; exit 1; }
log "building hey $HEY_VERSION from the Go module proxy (a few seconds)"
mkdir -p "$(dirname "$HEY_BIN")"
if ! GOBIN="$(dirname "$HEY_BIN")" GOTOOLCHAIN=local CGO_ENABLED=0 go install "github.com/rakyll/hey@v$HEY_VERSION"; then
  log "building hey failed: check that the Go module proxy is reachable (go env GOPROXY), then run 'make setup' again"
  exit 1
fi
log "built $HEY_BIN"
