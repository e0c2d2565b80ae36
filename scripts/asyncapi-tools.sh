#!/usr/bin/env bash
# The official AsyncAPI parser (npm: @asyncapi/parser), which validates the event catalogue
# docs/asyncapi.yaml (scripts/asyncapi.py writes it; tests/unit/test_asyncapi.py runs this).
#   scripts/asyncapi-tools.sh install        npm ci from tools/asyncapi/package-lock.json, cached
#   scripts/asyncapi-tools.sh validate FILE  exit 0 when FILE is a valid AsyncAPI document
# The cache is keyed by the lock file's hash, so a bumped lock installs afresh and an unchanged
# one is never installed twice; node_modules never lands in the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/versions.sh
source "$here/versions.sh"
tools=$(cd "$here/../tools/asyncapi" && pwd)
log() { printf '[asyncapi-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

lock_hash=$(sha256sum "$tools/package-lock.json" | cut -c1-12)
home=$DAPR_CACHE/asyncapi-tools-$lock_hash
installed=$home/node_modules/@asyncapi/parser/package.json

install() {
  if [ -f "$installed" ]; then
    log "the AsyncAPI parser is already installed: $home"
    return
  fi
  command -v npm >/dev/null || { log "npm is missing: install Node.js 20 with npm (Debian: apt-get install nodejs npm), then run 'make setup' again"; exit 1; }
  log "installing the AsyncAPI parser with npm ci from tools/asyncapi/package-lock.json into $home (cold: about 10 s)"
  rm -rf "$home.tmp" && mkdir -p "$home.tmp"
  trap 'rm -rf "$home.tmp"' EXIT
  cp "$tools/package.json" "$tools/package-lock.json" "$home.tmp/"
  # --ignore-scripts: no dependency runs code at install (one would only send usage analytics).
  if ! (cd "$home.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
    log "npm ci failed: check that the npm registry is reachable (npm view @asyncapi/parser version), then run 'make setup' again"
    exit 1
  fi
  rm -rf "$home" && mv "$home.tmp" "$home"
  log "installed @asyncapi/parser $(node -p "require('$installed').version") in $home"
}

validate() {
  if [ ! -f "$installed" ]; then
    log "the AsyncAPI parser is missing ($home): run 'make setup' (or 'make asyncapi-tools')"
    exit 3
  fi
  NODE_PATH=$home/node_modules node "$tools/validate.cjs" "$@"
}

case "${1:-}" in
  install) install ;;
  validate) shift; validate "$@" ;;
  *) echo "usage: $0 install | validate FILE" >&2; exit 2 ;;
esac
