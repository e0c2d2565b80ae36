#!/usr/bin/env bash
# Builds FerretDB v1 (the MongoDB wire protocol on SQLite), the local stand-in for MongoDB,
# from the Go module proxy, cached by version. `go install` alone panics on FerretDB's
# version check, so the module is copied and its build/version/version.txt written first; the
# fixes in scripts/patches/ferretdb-<version>-*.patch are applied to that copy in name order.
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
src="$DAPR_CACHE/src/ferretdb-$FERRETDB_VERSION-$FERRETDB_BUILD"
if [ ! -f "$src/go.mod" ]; then
  dir=$(go mod download -json "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [ -n "$dir" ] || { log "the Go module proxy did not serve FerretDB v$FERRETDB_VERSION"; exit 1; }
  rm -rf "$src.tmp" && mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src.tmp" && chmod -R u+w "$src.tmp"
  echo "v$FERRETDB_VERSION" > "$src.tmp/build/version/version.txt"
  for p in "$here"/patches/ferretdb-"$FERRETDB_VERSION"-*.patch; do
    [ -e "$p" ] || continue
    log "applying $(basename "$p")"
    patch -s -d "$src.tmp" -p1 < "$p"
  done
  mv "$src.tmp" "$src"
fi
cd "$src"
mkdir -p "$(dirname "$FERRETDB_BIN")"
go build -trimpath -ldflags "-s -w" -o "$FERRETDB_BIN.tmp.$$" ./cmd/ferretdb
mv "$FERRETDB_BIN.tmp.$$" "$FERRETDB_BIN"
log "built $("$FERRETDB_BIN" --version 2>&1 | head -1)"
