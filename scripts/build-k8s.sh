#!/usr/bin/env bash
# Builds the Kubernetes tools the chart in deploy/helm is tested with, from the Go module proxy,
# cached by version under ~/.cache/dapr-shop (versions in scripts/versions.sh). No release
# binaries, images or schemas are downloaded from anywhere else.
#   scripts/build-k8s.sh tools    helm, kubeconform and the offline JSON schemas (make setup;
#                                 2-6 min cold on 2 cores, mostly helm; 85 MB)
#   scripts/build-k8s.sh cluster  etcd, kube-apiserver, -controller-manager, -scheduler, kubectl,
#                                 KWOK, Dapr's injector, Sentry and operator (make test-k8s;
#                                 about 15 min cold on 2 cores, 2 GB of memory at the peak; 610 MB)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/versions.sh
source "$here/versions.sh"

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
log() { printf '[build-k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# Long compiles yield to the people sharing the machine.
GO=$(command -v go)
go() { nice -n 10 "$GO" "$@"; }

# compile WHAT COMMAND...: runs a `go build -v`/`go install -v`, which prints one line per
# compiled package, as a progress line every 30 s; on failure, the end of its output.
compile() {
  local what=$1 out
  shift
  out=$(mktemp)
  if ! "$@" 2>&1 | tee "$out" | awk -v what="$what" 'BEGIN { t = systime() }
      { n++; if (systime() - t >= 30) { t = systime(); printf "[build-k8s] %s: %d packages compiled so far\n", what, n; fflush() } }
      END { printf "[build-k8s] %s: %d packages compiled\n", what, n }' >&2; then
    tail -n 20 "$out" >&2
    rm -f "$out"
    log "building $what failed; see the output above"
    exit 1
  fi
  rm -f "$out"
}

# module_dir MODULE VERSION: the module's read-only directory in the Go module cache.
module_dir() {
  local json dir
  json=$(go mod download -json "$1@v$2" || true)
  dir=$(sed -n 's/.*"Dir": "\(.*\)",/\1/p' <<< "$json")
  [ -n "$dir" ] || { log "the Go module proxy did not serve $1@v$2: $(sed -n 's/.*"Error": //p' <<< "$json")"; exit 1; }
  echo "$dir"
}

# install BIN_DIR NAME PACKAGE@VERSION [LDFLAGS]: `go install` for modules without replace directives.
install() {
  local dir=$1 name=$2 pkg=$3 ldflags=${4:-}
  [ -x "$dir/$name" ] && return
  log "building $name (${pkg##*@})"
  mkdir -p "$dir"
  GOBIN="$dir/.tmp" compile "$name" go install -v -ldflags "-s -w $ldflags" "$pkg"
  mv "$dir/.tmp/$name" "$dir/$name" && rmdir "$dir/.tmp"
}

tools() {
  # The version variables `go install` leaves at "development" and "v4.3".
  CGO_ENABLED=0 install "$K8S_TOOLS" kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@v$KUBECONFORM_VERSION" \
    "-X main.version=v$KUBECONFORM_VERSION"
  CGO_ENABLED=0 install "$K8S_TOOLS" helm "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION" \
    "-X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION"
  if [ ! -f "$K8S_SCHEMAS/.complete" ]; then
    log "generating JSON schemas: Kubernetes $K8S_VERSION's OpenAPI document, Dapr's and KEDA's CRDs"
    local k8s dapr keda
    k8s=$(module_dir k8s.io/kubernetes "$K8S_VERSION")
    dapr=$(module_dir github.com/dapr/dapr "$DAPR_VERSION")
    keda=$(module_dir github.com/kedacore/keda/v2 "$KEDA_VERSION")
    rm -rf "$K8S_SCHEMAS.tmp"
    "${PYTHON:-python3}" "$here/k8s_schemas.py" --out "$K8S_SCHEMAS.tmp" \
      --openapi "$k8s/api/openapi-spec/swagger.json" \
      --crds "$dapr/charts/dapr/crds" --crds "$keda/config/crd/bases"
    touch "$K8S_SCHEMAS.tmp/.complete"
    rm -rf "$K8S_SCHEMAS" && mv "$K8S_SCHEMAS.tmp" "$K8S_SCHEMAS"
  fi
  log "helm $("$K8S_TOOLS/helm" version --short), kubeconform $("$K8S_TOOLS/kubeconform" -v), schemas in $K8S_SCHEMAS"
}

# The control-plane binaries live in k8s.io/kubernetes, whose go.mod points its 27 staging
# modules (k8s.io/api, k8s.io/apiserver, ...) at ./staging, which `go install` refuses. A wrapper
# module requires k8s.io/kubernetes and points each staging module at its published v0.X.Y.
kubernetes() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=() b
  for b in "${want[@]}"; do [ -x "$K8S_BIN/$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return
  local wrapper="$DAPR_CACHE/src/k8s-wrapper-$K8S_VERSION" k8s minor
  k8s=$(module_dir k8s.io/kubernetes "$K8S_VERSION")
  minor=${K8S_VERSION#1.}
  if [ ! -f "$wrapper/go.sum" ]; then
    log "preparing a wrapper module for k8s.io/kubernetes v$K8S_VERSION (downloads its dependencies)"
    rm -rf "$wrapper.tmp" && mkdir -p "$wrapper.tmp"
    {
      echo "module shop.local/k8s-wrapper"
      echo
      sed -n 's/^go \(.*\)/go \1/p; /^godebug/p' "$k8s/go.mod"
      echo
      echo "require k8s.io/kubernetes v$K8S_VERSION"
      echo
      awk -v v="v0.$minor" '/=> \.\/staging\/src\// { print "replace " $1 " => " $1 " " v }' "$k8s/go.mod"
    } > "$wrapper.tmp/go.mod"
    printf 'package wrapper\n' > "$wrapper.tmp/doc.go"
    # @version on each: a bare `go get` would move k8s.io/kubernetes to its latest release.
    local pkgs=() b
    for b in "${want[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b@v$K8S_VERSION"); done
    (cd "$wrapper.tmp" && go get "${pkgs[@]}")
    rm -rf "$wrapper" && mv "$wrapper.tmp" "$wrapper"
  fi
  log "compiling ${missing[*]} $K8S_VERSION (cold: about 10 min on 2 cores, 2 GB of memory)"
  mkdir -p "$K8S_BIN/.tmp"
  (cd "$wrapper" && compile "${missing[*]}" go build -v -o "$K8S_BIN/.tmp/" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
    "${missing[@]/#/k8s.io/kubernetes/cmd/}")
  for b in "${missing[@]}"; do mv "$K8S_BIN/.tmp/$b" "$K8S_BIN/$b"; done
  rmdir "$K8S_BIN/.tmp"
}

# etcd's main module has replace directives too (its sibling modules): the same wrapper trick.
etcd() {
  [ -x "$K8S_BIN/etcd" ] && return
  local wrapper="$DAPR_CACHE/src/etcd-wrapper-$ETCD_VERSION"
  if [ ! -f "$wrapper/go.sum" ]; then
    log "preparing a wrapper module for etcd v$ETCD_VERSION"
    rm -rf "$wrapper.tmp" && mkdir -p "$wrapper.tmp"
    printf 'module shop.local/etcd-wrapper\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > "$wrapper.tmp/go.mod"
    printf 'package wrapper\n' > "$wrapper.tmp/doc.go"
    (cd "$wrapper.tmp" && go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION")
    rm -rf "$wrapper" && mv "$wrapper.tmp" "$wrapper"
  fi
  log "compiling etcd $ETCD_VERSION"
  mkdir -p "$K8S_BIN"
  (cd "$wrapper" && CGO_ENABLED=0 compile etcd go build -v -o "$K8S_BIN/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$K8S_BIN/etcd.tmp" "$K8S_BIN/etcd"
}

# KWOK's simulated nodes: the binary, and its stage files (node and pod lifecycles) joined into
# the one --config it needs.
kwok() {
  CGO_ENABLED=0 install "$K8S_BIN" kwok "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  if [ ! -f "$K8S_BIN/kwok-stages.yaml" ]; then
    local src f
    src=$(module_dir sigs.k8s.io/kwok "$KWOK_VERSION")/kustomize/stage
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      [ -f "$src/$f" ] || { log "no stage file $f in kwok $KWOK_VERSION"; exit 1; }
      echo "---"; cat "$src/$f"
    done > "$K8S_BIN/kwok-stages.yaml"
  fi
}

# Dapr's sidecar injector, Sentry (the CA that signs the injector's and sidecars' certificates)
# and operator, from the same module copy scripts/build-dapr.sh builds daprd from.
dapr_control_plane() {
  local missing=() b src="$DAPR_CACHE/src/dapr-$DAPR_VERSION"
  for b in injector sentry operator; do [ -x "$K8S_BIN/dapr-$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return
  [ -f "$src/go.mod" ] || { log "no dapr source in $src: run 'make setup' (scripts/build-dapr.sh) first"; exit 1; }
  log "compiling Dapr's ${missing[*]} $DAPR_VERSION"
  for b in "${missing[@]}"; do
    (cd "$src" && CGO_ENABLED=0 compile "dapr $b" go build -v -o "$K8S_BIN/dapr-$b.tmp" \
      -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION" "./cmd/$b")
    mv "$K8S_BIN/dapr-$b.tmp" "$K8S_BIN/dapr-$b"
  done
}

cluster() {
  etcd
  kwok
  dapr_control_plane
  kubernetes
  log "control plane in $K8S_BIN: $("$K8S_BIN/kube-apiserver" --version), etcd $("$K8S_BIN/etcd" --version | head -1 | awk '{print $NF}'), kwok $KWOK_VERSION, dapr $DAPR_VERSION"
}

case "${1:-}" in
  tools) tools ;;
  cluster) tools; cluster ;;
  *) echo "usage: $0 tools|cluster" >&2; exit 2 ;;
esac
