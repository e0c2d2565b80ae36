#!/usr/bin/env bash
# What `make test-compose` needs, installed once and cached by version (make setup-containers):
#   - podman, runc, netavark/aardvark-dns (DNS between containers), debootstrap, from Debian;
#   - podman's configuration and storage under ~/.cache/dapr-shop/containers (not system-wide);
#   - the real `docker compose` v2 plugin, built from its Go module (no Docker engine here);
#   - a Debian base image made by debootstrap (no registry here to pull one from).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/podman-env.sh"
log() { printf '[setup-containers %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

# --- packages -------------------------------------------------------------------------------
missing=()
for cmd in podman runc debootstrap iptables; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
[ -x /usr/lib/podman/netavark ] || missing+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} from Debian (about 30 s)"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" conmon
fi

# --- configuration --------------------------------------------------------------------------
mkdir -p "$CONTAINERS_HOME/run" "$CONTAINERS_HOME/storage" "$DOCKER_CONFIG/cli-plugins"
# No registry credentials: podman reads this (through DOCKER_CONFIG) and fails without it.
[ -f "$DOCKER_CONFIG/config.json" ] || echo '{}' > "$DOCKER_CONFIG/config.json"
# runc: crun refuses this host's cgroup layout (v1 with an empty v2 mount). The ulimits: podman's
# default (nofile 1048576) is above what these machines let a container set.
cat > "$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$CONTAINERS_HOME/run/events.log"
tmp_dir = "$CONTAINERS_HOME/run/tmp"

[network]
network_backend = "netavark"
network_config_dir = "$CONTAINERS_HOME/networks"
CONF
cat > "$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
graphroot = "$CONTAINERS_HOME/storage"
runroot = "$CONTAINERS_HOME/run/storage"
CONF
# Short names (rabbitmq:3.13-management) mean Docker Hub's, as they do for Docker users; nothing
# is pulled here (the stand-ins carry those exact names), but the names must resolve the same.
cat > "$CONTAINERS_REGISTRIES_CONF" <<CONF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
CONF

log "$(podman --version), runc $(runc --version | head -1 | awk '{print $3}')"

# --- docker compose -------------------------------------------------------------------------
if [ -x "$COMPOSE_BIN" ] && "$COMPOSE_BIN" version 2>/dev/null | grep -q "v$COMPOSE_VERSION"; then
  log "docker compose $COMPOSE_VERSION already built"
else
  log "building docker compose $COMPOSE_VERSION from the Go module proxy (cold: about 3 min on 2 cores)"
  # `go install` refuses the module (it has exclude directives): build from a writable copy.
  src="$DAPR_CACHE/src/compose-$COMPOSE_VERSION"
  if [ ! -f "$src/go.mod" ]; then
    dir=$(GOTOOLCHAIN=local go mod download -json "github.com/docker/compose/v5@v$COMPOSE_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    [ -n "$dir" ] || { log "the Go module proxy did not serve github.com/docker/compose/v5@v$COMPOSE_VERSION"; exit 1; }
    rm -rf "$src.tmp" && mkdir -p "$(dirname "$src")"
    cp -r "$dir" "$src.tmp" && chmod -R u+w "$src.tmp" && mv "$src.tmp" "$src"
  fi
  ( while sleep 30; do log "  still compiling docker compose"; done ) &
  ticker=$!
  trap 'kill $ticker 2>/dev/null || true' EXIT
  (cd "$src" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false nice -n 10 go build -trimpath \
     -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=v$COMPOSE_VERSION" -o "$COMPOSE_BIN.tmp" ./cmd) \
    || { log "building docker compose failed; see the output above"; exit 1; }
  kill $ticker 2>/dev/null || true
  mv "$COMPOSE_BIN.tmp" "$COMPOSE_BIN"
  log "built $("$COMPOSE_BIN" version)"
fi

# --- the Debian base image ------------------------------------------------------------------
# The rootfs is cached as a tarball, so a wiped podman storage re-imports it in seconds. It trusts
# the certificate authorities this machine trusts (an egress proxy's, here), so apt and pip work
# inside image builds.
rootfs_tar=$CONTAINERS_HOME/debian-$BASE_SUITE-minbase.tar
if [ ! -s "$rootfs_tar" ]; then
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /debian$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  mirror=${mirror:-http://deb.debian.org/debian}
  dir=$CONTAINERS_HOME/rootfs.tmp
  rm -rf "$dir"
  log "debootstrap $BASE_SUITE (minbase) from $mirror (about 1 min)"
  nice -n 10 debootstrap --variant=minbase --include=ca-certificates "$BASE_SUITE" "$dir" "$mirror" \
    | awk '/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) / { n++; if (n % 40 == 0) { print "[setup-containers]   debootstrap: " $0; fflush() } }
           /^[EW]:/ { print; fflush() }'
  [ "${PIPESTATUS[0]}" -eq 0 ] || { log "debootstrap failed; see the output above"; exit 1; }
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
    chroot "$dir" update-ca-certificates >/dev/null
  fi
  # Smaller and reproducible: no apt lists or caches in the image.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
  tar -C "$dir" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$dir"
fi
if ! podman image exists "$BASE_IMAGE"; then
  log "importing the base image as $BASE_IMAGE"
  podman import --quiet "$rootfs_tar" "$BASE_IMAGE" >/dev/null
fi
log "base image $BASE_IMAGE: $(podman image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
