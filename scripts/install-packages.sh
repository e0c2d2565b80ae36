#!/usr/bin/env bash
# Installs the Debian packages the local infrastructure runs on, once. Services are started by
# scripts/infra.sh as plain processes, so the packages' own init scripts are kept from starting.
set -euo pipefail
log() { printf '[packages %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
missing=()
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
[ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v nats-server >/dev/null || missing+=(nats-server)
# Kafka (scripts/fetch-kafka.sh) and the Zipkin server (TRACING=1, scripts/fetch-zipkin.sh) run
# from their jars on Maven Central: a Java 17 runtime runs them, Maven fetches them.
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v curl >/dev/null || missing+=(curl)
# The browser tests (tests/browser) drive Debian's Chromium through Playwright: no browser download.
command -v chromium >/dev/null || missing+=(chromium)
command -v patch >/dev/null || missing+=(patch)
# HAProxy keeps the public ports in front of the replicas when REPLICAS > 1 (scripts/replicas.py).
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -eq 0 ]; then
  log "rabbitmq, mariadb, redis, mosquitto, nats-server, java, maven, haproxy and chromium are installed"
  exit 0
fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
log "installing ${missing[*]} from Debian (1-3 min)"
# Keep the packages' init scripts from starting system-wide daemons on their default ports.
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
[ "$policy_added" -eq 0 ] || $sudo rm -f /usr/sbin/policy-rc.d
log "installed ${missing[*]}"
