# Pinned versions and cache locations, sourced by every script.
# Runtime minor = Python SDK minor (1.18). The Go module proxy serves no dapr/cli release newer
# than 1.16.5; the CLI only launches daprd with flags 1.18 still accepts, so that pairing is safe.
DAPR_VERSION=1.18.2
DAPR_CLI_VERSION=1.16.5
FERRETDB_VERSION=1.24.2
# The Zipkin server (a Java 17 jar from Maven Central), started by scripts/infra.sh when TRACING=1.
ZIPKIN_VERSION=3.5.1
DAPR_CACHE=${DAPR_CACHE:-$HOME/.cache/dapr-shop}
# Bumped whenever scripts/patches/ or the component list in scripts/build-dapr.sh changes, so a
# cached build without them is never reused. shop6-slim: daprd with only the project's components,
# the RabbitMQ patches and the SQLite name-resolution cache; shop7-slim: the resolver picks among
# every live replica of an app for each call; shop8-slim: a sidecar leaves name resolution when
# its block-shutdown period starts (make restart).
DAPR_BUILD=shop8-slim
DAPR_RUNTIME_PATH=$DAPR_CACHE/runtime-$DAPR_VERSION-$DAPR_BUILD
DAPR_CLI=$DAPR_CACHE/cli-$DAPR_CLI_VERSION/dapr
# Bumped whenever scripts/patches/ferretdb-* changes. fix2: _id lookups use the _id index; writes are atomic.
FERRETDB_BUILD=shop-fix2
FERRETDB_BIN=$DAPR_CACHE/ferretdb-$FERRETDB_VERSION-$FERRETDB_BUILD/ferretdb
ZIPKIN_JAR=$DAPR_CACHE/zipkin-$ZIPKIN_VERSION/zipkin-server-$ZIPKIN_VERSION-exec.jar
export DAPR_VERSION DAPR_BUILD DAPR_CLI_VERSION FERRETDB_VERSION FERRETDB_BUILD DAPR_CACHE DAPR_RUNTIME_PATH DAPR_CLI FERRETDB_BIN ZIPKIN_VERSION ZIPKIN_JAR
# Apache Kafka (broker+controller in KRaft mode) from its jars on Maven Central, for BROKER=kafka.
KAFKA_VERSION=4.1.1
KAFKA_HOME=$DAPR_CACHE/kafka-$KAFKA_VERSION
export KAFKA_VERSION KAFKA_HOME
# The HTTP load generator of `make bench` (requests/s at saturation and at a fixed rate).
HEY_VERSION=0.1.5
HEY_BIN=$DAPR_CACHE/hey-$HEY_VERSION/hey
export HEY_VERSION HEY_BIN
# Go's garbage-collector target for every daprd (scripts/run.sh, docker-compose.yml, the bench's
# sidecars). At Go's default (100) a sidecar relaying a few hundred requests a second collects
# often enough to show in its latency (the A/B that chose 200: docs/performance-history.md).
# 200 lets a sidecar's heap grow to 3x its live data (a few MB).
DAPR_SIDECAR_GOGC=200
export DAPR_SIDECAR_GOGC
# Kubernetes tools for the Helm chart in deploy/helm (scripts/build-k8s.sh): helm and kubeconform
# for `make test`'s offline chart checks; a control plane (etcd, kube-apiserver, controller-manager,
# scheduler, kubectl, KWOK's simulated nodes) for `make test-k8s`. Dapr's own control plane
# (injector, Sentry, operator) comes from the dapr module above.
K8S_VERSION=1.34.2
ETCD_VERSION=3.6.4
KWOK_VERSION=0.8.0
HELM_VERSION=4.3.2
KUBECONFORM_VERSION=0.8.0
# 2.21 needs Go 1.27 (only its CRDs are used).
KEDA_VERSION=2.20.2
K8S_TOOLS=$DAPR_CACHE/k8s-tools-helm$HELM_VERSION-kubeconform$KUBECONFORM_VERSION
K8S_SCHEMAS=$DAPR_CACHE/k8s-schemas-$K8S_VERSION-dapr$DAPR_VERSION-keda$KEDA_VERSION
K8S_BIN=$DAPR_CACHE/k8s-$K8S_VERSION-etcd$ETCD_VERSION-kwok$KWOK_VERSION/bin
export K8S_VERSION ETCD_VERSION KWOK_VERSION HELM_VERSION KUBECONFORM_VERSION KEDA_VERSION K8S_TOOLS K8S_SCHEMAS K8S_BIN
# Prometheus and promtool (MONITORING=1, the alert-rule tests), built from the Go module proxy by
# scripts/build-prometheus.sh. Prometheus 3.x publishes its Go module as v0.3xx.y: 3.16.0 is
# v0.316.0.
PROMETHEUS_VERSION=3.16.0
PROMETHEUS_HOME=$DAPR_CACHE/prometheus-$PROMETHEUS_VERSION
export PROMETHEUS_VERSION PROMETHEUS_HOME
