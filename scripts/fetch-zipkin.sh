#!/usr/bin/env bash
# Fetches the Zipkin server (the `exec` jar of io.zipkin:zipkin-server from Maven Central, through
# Maven) into the cache, once per version. scripts/infra.sh runs it with Java 17 when TRACING=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
log() { printf '[fetch-zipkin %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ -s "$ZIPKIN_JAR" ]; then
  log "Zipkin $ZIPKIN_VERSION already fetched: $ZIPKIN_JAR"
  exit 0
fi
command -v java >/dev/null && command -v mvn >/dev/null \
  || { log "java and mvn are needed: run 'make packages' (or apt-get install openjdk-17-jre-headless maven)"; exit 1; }
artifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec"
log "downloading $artifact (about 130 MB) with Maven"
# Maven keeps its own copy in ~/.m2; the cache gets a hard link (or a copy across filesystems).
if ! mvn -B dependency:get -Dartifact="$artifact" -Dtransitive=false; then
  log "Maven could not fetch $artifact: check the network to Maven Central, then run 'make setup' again"
  exit 1
fi
fetched="$HOME/.m2/repository/io/zipkin/zipkin-server/$ZIPKIN_VERSION/zipkin-server-$ZIPKIN_VERSION-exec.jar"
[ -s "$fetched" ] || { log "Maven reported success but $fetched is missing (a custom localRepository?)"; exit 1; }
mkdir -p "$(dirname "$ZIPKIN_JAR")"
ln -f "$fetched" "$ZIPKIN_JAR.tmp.$$" 2>/dev/null || cp "$fetched" "$ZIPKIN_JAR.tmp.$$"
mv "$ZIPKIN_JAR.tmp.$$" "$ZIPKIN_JAR"
log "fetched $ZIPKIN_JAR ($(du -h "$ZIPKIN_JAR" | cut -f1))"
