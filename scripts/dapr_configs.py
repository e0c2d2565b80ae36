"""Writes each app's Dapr Configuration, and Sentry's, into OUT_DIR (.run/config/ for make run).

    python scripts/dapr_configs.py OUT_DIR    # OUT_DIR/<app-id>.yaml for every app, OUT_DIR/sentry.yaml

Every sidecar runs with components/config.yaml (name resolution, tracing, metrics) plus:
  - mTLS between sidecars, with workload certificates from Sentry (scripts/infra.sh starts it);
    `dapr run` sees `mtls.enabled` and gives daprd --enable-mtls --sentry-address localhost:50001;
  - its own access control: who may call this app, with which verbs and paths
    (components/access-control.yaml). Access control is enforced by the callee's sidecar, so
    each app needs a Configuration of its own;
  - the secrets it may read (SECRETS below).
Sentry reads the `mtls` section only (the workload certificates' lifetime).
docker-compose's sidecars get the same from components/compose/config.yaml, with certificates of
Dapr's default lifetime (COMPOSE below; scripts/compose_files.py writes them).
"""

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_IDS = tuple(app["appID"] for app in yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"])

# Self-hosted identities: Sentry signs spiffe://public/ns/default/<app-id> (daprd's defaults: trust
# domain "public", namespace "default" when NAMESPACE is unset).
TRUST_DOMAIN, NAMESPACE = "public", "default"

# Workload certificates live 2 minutes here, so every sidecar renews its own every 30 s while
# calls go on, and tests/e2e/test_security.py sees gateway's, orders' and products' renewed
# during a stream of orders within a minute. Sentry dates a certificate back by the clock skew
# allowed (a minute: every process here shares one clock), so it is valid from 1 minute before
# it is signed to 2 minutes after, and daprd renews it halfway through (dapr/kit
# crypto/spiffe: "Successfully renewed workload identity" in its log): 30 s after it got it.
# Dapr's default is 24 h; a renewal costs a sidecar and Sentry a key pair and a signature.
MTLS = {"enabled": True, "workloadCertTTL": "2m", "allowedClockSkew": "1m"}

# docker-compose's sidecars keep Dapr's defaults: certificates of 24 h, 15 minutes of clock skew
# allowed. Compose is what someone runs for hours or days to use the shop, where nothing waits to
# see a renewal (the e2e suite checks rotation under make run), and a day is what Dapr ships with
# and what a production deployment starts from (docs/security.md): every sidecar renews its own
# at about 12 h, without restarting.
COMPOSE_MTLS = {"enabled": True, "workloadCertTTL": "24h", "allowedClockSkew": "15m"}


@dataclass(frozen=True)
class Variant:
    """Where a set of sidecars runs: the Configuration they share, and their certificates' lifetime."""

    base: str  # relative to the repository
    mtls: dict[str, Any]


RUN = Variant("components/config.yaml", MTLS)
COMPOSE = Variant("components/compose/config.yaml", COMPOSE_MTLS)


# The secrets each app's sidecar may read from the secret store (what the app reads when it
# starts: the JWT key, its database password, auth the first admin); any other is refused, 403
# ERR_PERMISSION_DENIED. Without this every app could read every secret in .run/secrets.json.
# The Helm chart lets each app's ServiceAccount read the same Secrets (its "shop.uses"), and
# renders the same scopes: tests/unit/test_helm_chart.py compares them.
SECRETS = {
    "gateway": ["jwt-signing-key"],
    "notifications": ["jwt-signing-key", "notifications-db-password"],
    "auth": ["jwt-signing-key", "admin-email", "admin-password", "auth-db-password"],
    "customers": ["customers-db-password"],
    "products": ["products-db-password"],
    "orders": ["orders-db-password"],
    "order-view": [],
}


def secret_scopes(app_id: str) -> dict[str, Any]:
    """The `secrets` section of `app_id`'s sidecar: its own secrets, none other."""
    return {
        "scopes": [{"storeName": "secretstore", "defaultAccess": "deny", "allowedSecrets": SECRETS[app_id]}]
    }


def access_control(app_id: str, callees: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The `accessControl` section of `app_id`'s sidecar: deny, except what its callers may do."""
    return {
        "defaultAction": "deny",
        "trustDomain": TRUST_DOMAIN,
        "policies": [
            {
                "appId": caller["appId"],
                "defaultAction": "deny",
                "trustDomain": TRUST_DOMAIN,
                "namespace": NAMESPACE,
                "operations": [
                    {"name": op["name"], "httpVerb": list(op["httpVerb"]), "action": "allow"}
                    for op in caller["operations"]
                ],
            }
            for caller in callees.get(app_id, [])
        ],
    }


def configurations(variant: Variant = RUN) -> dict[str, dict[str, Any]]:
    """File name -> Configuration: one per app-id, and sentry's."""
    base = yaml.safe_load((ROOT / variant.base).read_text())
    callees = yaml.safe_load((ROOT / "components/access-control.yaml").read_text())["callees"]
    unknown = set(callees) - set(APP_IDS) | {c["appId"] for cs in callees.values() for c in cs} - set(APP_IDS)
    if unknown:
        sys.exit(f"components/access-control.yaml names app-ids dapr.yaml does not run: {sorted(unknown)}")
    made = {}
    for app_id in APP_IDS:
        config = copy.deepcopy(base)
        config["metadata"]["name"] = f"shop-{app_id}"
        config["spec"]["mtls"] = dict(variant.mtls)
        config["spec"]["accessControl"] = access_control(app_id, callees)
        config["spec"]["secrets"] = secret_scopes(app_id)
        made[f"{app_id}.yaml"] = config
    made["sentry.yaml"] = {
        "apiVersion": base["apiVersion"],
        "kind": "Configuration",
        "metadata": {"name": "sentry"},
        "spec": {"mtls": dict(variant.mtls)},
    }
    return made


def write(out: Path, variant: Variant = RUN) -> None:
    """Writes every Configuration of `variant` into directory `out` (no secrets: readable by all)."""
    out.mkdir(parents=True, exist_ok=True)
    header = f"# Written by scripts/dapr_configs.py from {variant.base} and components/access-control.yaml.\n"
    for name, config in configurations(variant).items():
        (out / name).write_text(header + yaml.safe_dump(config, sort_keys=False))


if __name__ == "__main__":
    write(Path(sys.argv[1]))
