# Pinned versions and cache locations, sourced by every script.
# Runtime minor = Python SDK minor (1.18). The Go module proxy serves no dapr/cli release newer
# than 1.16.5; the CLI only launches daprd with flags 1.18 still accepts, so that pairing is safe.
DAPR_VERSION=1.18.2
DAPR_CLI_VERSION=1.16.5
FERRETDB_VERSION=1.24.2
DAPR_CACHE=${DAPR_CACHE:-$HOME/.cache/dapr-shop}
# Bumped whenever scripts/patches/ changes, so a cached unpatched build is never reused.
DAPR_BUILD=shop1
DAPR_RUNTIME_PATH=$DAPR_CACHE/runtime-$DAPR_VERSION-$DAPR_BUILD
DAPR_CLI=$DAPR_CACHE/cli-$DAPR_CLI_VERSION/dapr
FERRETDB_BIN=$DAPR_CACHE/ferretdb-$FERRETDB_VERSION/ferretdb
export DAPR_VERSION DAPR_BUILD DAPR_CLI_VERSION FERRETDB_VERSION DAPR_CACHE DAPR_RUNTIME_PATH DAPR_CLI FERRETDB_BIN
# The HTTP load generator of `make bench` (requests/s at saturation and at a fixed rate).
HEY_VERSION=0.1.5
HEY_BIN=$DAPR_CACHE/hey-$HEY_VERSION/hey
export HEY_VERSION HEY_BIN
