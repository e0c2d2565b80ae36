#!/usr/bin/env bash
# Builds Prometheus and promtool from the Go module proxy (no release tarballs, no images here),
# pinned and cached by version under ~/.cache/dapr-shop (scripts/versions.sh): the server that
# MONITORING=1 starts (scripts/monitoring.sh) and the tool the alert-rule tests run.
# Only the static and file-based service discovery this machine uses is built in (the build tag
# remove_all_sd leaves out the cloud providers' SDKs and Kubernetes', about half the build).
# The web UI's assets are built with npm upstream and are not in the module: the query API and
# the /alerts and /targets JSON answer; the browser UI says its assets are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/versions.sh
source "$here/versions.sh"
log() { printf '[build-prometheus %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -x "$PROMETHEUS_HOME/prometheus" ] && [ -x "$PROMETHEUS_HOME/promtool" ]; then
  log "prometheus and promtool $PROMETHEUS_VERSION already built: $PROMETHEUS_HOME"
  exit 0
fi
command -v go >/dev/null || { log "Go is missing: install Go >= 1.26 (see README, Requirements)"; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
module=github.com/prometheus/prometheus
# 3.16.0 -> v0.316.0
IFS=. read -r major minor patch <<< "$PROMETHEUS_VERSION"
module_version=v0.$((major * 100 + minor)).$patch
# `go install` leaves the version empty; promtool --version and the build_info metric show this.
ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION -X github.com/prometheus/common/version.Branch=release"

log "building prometheus and promtool $PROMETHEUS_VERSION ($module@$module_version) from the Go module proxy (cold: about 5 min on 2 cores)"
out=$(mktemp)
trap 'rm -f "$out"; rm -rf "$PROMETHEUS_HOME.tmp"' EXIT
mkdir -p "$PROMETHEUS_HOME.tmp"
# `go install -v` prints one line per compiled package: a progress line every 30 s instead. The
# build yields to the people sharing the machine (nice).
if ! GOBIN="$PROMETHEUS_HOME.tmp" nice -n 10 go install -v -tags remove_all_sd -ldflags "$ldflags" \
    "$module/cmd/prometheus@$module_version" "$module/cmd/promtool@$module_version" 2>&1 | tee "$out" |
    awk 'BEGIN { t = systime() }
      / / { print; fflush(); next }
      { n++; if (systime() - t >= 30) { t = systime(); printf "[build-prometheus] %d packages compiled so far\n", n; fflush() } }
      END { printf "[build-prometheus] %d packages compiled\n", n }' >&2; then
  tail -n 20 "$out" >&2
  log "building Prometheus failed: check that the Go module proxy is reachable (go env GOPROXY), then run 'make setup' again"
  exit 1
fi
rm -rf "$PROMETHEUS_HOME" && mv "$PROMETHEUS_HOME.tmp" "$PROMETHEUS_HOME"
log "built $("$PROMETHEUS_HOME/promtool" --version 2>&1 | head -1) in $PROMETHEUS_HOME"
