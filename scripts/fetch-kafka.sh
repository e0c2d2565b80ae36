#!/usr/bin/env bash
# Fetches Apache Kafka's server jars and their dependencies from Maven Central into
# ~/.cache/dapr-shop/kafka-<version>/libs (only BROKER=kafka needs them). There is no Debian
# package of Kafka and the release tarball is not on a registry, but every jar in it is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
log() { printf '[fetch-kafka %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ -f "$KAFKA_HOME/libs/.complete" ]; then
  log "Kafka $KAFKA_VERSION already fetched: $KAFKA_HOME/libs"
  exit 0
fi
command -v mvn >/dev/null && command -v java >/dev/null || {
  log "ERROR: Kafka needs java (17+) and mvn: apt-get install openjdk-17-jre-headless maven"; exit 1; }
log "fetching Kafka $KAFKA_VERSION jars from Maven Central with mvn (cold: about a minute)"
mkdir -p "$KAFKA_HOME"
# Kafka's own pom leaves the logging backend to the distribution: the tarball ships log4j 2
# behind slf4j 1.7, so the same is added here.
cat > "$KAFKA_HOME/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dapr-shop</groupId>
  <artifactId>kafka-server</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
rm -rf "$KAFKA_HOME/libs"
if ! mvn -q -B -f "$KAFKA_HOME/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_HOME/libs" > "$KAFKA_HOME/mvn.log" 2>&1; then
  log "ERROR: mvn could not fetch the jars; see $KAFKA_HOME/mvn.log (is Maven Central reachable?)"
  exit 1
fi
touch "$KAFKA_HOME/libs/.complete"
log "fetched $(ls "$KAFKA_HOME/libs" | wc -l) jars ($(du -sh "$KAFKA_HOME/libs" | cut -f1)) into $KAFKA_HOME/libs"
