#!/usr/bin/env bash
# Builds FerretDB v1 (the MongoDB wire protocol on SQLite), the local stand-in for MongoDB,
# from the Go module proxy, cached by version. `go install` alone panics on FerretDB's
# version check, so the module is copied and its build/version/version.txt written first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
log() { printf '[build-ferretdb %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ -x "$FERRETDB_BIN" ]; then
  log "FerretDB $FERRETDB_VERSION already built: $FERRETDB_BIN"
  exit 0
fi
log "building FerretDB $FERRETDB_VERSION from the Go module proxy (cold: 3-6 min)"
src="$DAPR_CACHE/src/ferretdb-$FERRETDB_VERSION"
if [ ! -f "$src/go.mod" ]; then
  dir=$(go mod download -json "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  rm -rf "$src.tmp" && mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src.tmp" && chmod -R u+w "$src.tmp"
  echo "v$FERRETDB_VERSION" > "$src.tmp/build/version/version.txt"
  mv "$src.tmp" "$src"
fi
cd "$src"
mkdir -p "$(dirname "$FERRETDB_BIN")"
go build -trimpath -ldflags "-s -w" -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb
mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
log "built $("$FERRETDB_BIN" --version 2>&1 | head -1)"
