"""Zero trust between services under docker compose, as under `make run` (docs/security.md): the
sidecars talk over mutual TLS with certificates from the `sentry` container, each callee's sidecar
admits only what components/access-control.yaml allows its caller, and each sidecar reaches
RabbitMQ as its app's own user, never `guest`. The sidecars' ports are not published: the calls
start inside an app's container (tests/compose/probes.py), as that app's own would."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx

from harness.waiting import wait_until
from scripts.dapr_configs import APP_IDS
from scripts.rabbitmq_users import scopes
from tests.compose.conftest import ROOT, Compose

PROBES = (ROOT / "tests/compose/probes.py").read_text()
RABBITMQ_API = "http://127.0.0.1:15672/api"


def probe(compose: Compose, app: str, *args: str) -> dict[str, Any]:
    """tests/compose/probes.py run in `app`'s container, with the app's environment."""
    out = compose.run("exec", "-T", app, "python", "-c", PROBES, *args)
    return json.loads(out.strip().splitlines()[-1])


def invoke(compose: Compose, via: str, verb: str, target: str, body: object = "") -> dict[str, Any]:
    """A service invocation made by app `via` through its own sidecar: status and body."""
    return probe(compose, via, "invoke", verb, target, json.dumps(body) if body else "")


def test_a_call_the_callees_access_control_does_not_allow_is_refused_by_its_sidecar(compose: Compose) -> None:
    # Only orders moves stock: the gateway may not reserve any, though products serves the route.
    reserve = "products/method/reservations"
    refused = invoke(compose, "gateway", "POST", reserve, {"order_id": "x", "lines": []})
    # The same call from orders reaches products (and fails its validation there).
    from_orders = invoke(compose, "orders", "POST", reserve, {"order_id": "x"})
    # Verbs count: the gateway reads orders and places them, it never deletes one.
    delete = invoke(compose, "gateway", "DELETE", f"orders/method/orders/{uuid.uuid4()}")

    assert refused["status"] == delete["status"] == 403, (refused, delete)
    error = json.loads(refused["body"])
    assert error["errorCode"] == "ERR_DIRECT_INVOKE"
    # Decided on the caller's identity in the certificate Sentry signed it, nothing it could claim.
    denied = "access control policy has denied access to id: spiffe://public/ns/default/gateway"
    assert denied in error["message"]
    assert from_orders["status"] == 422, from_orders


def test_a_sidecars_internal_port_shows_a_certificate_from_sentry_and_refuses_a_client_without_one(
    compose: Compose,
) -> None:
    host, port = compose.registered()["products"].rsplit(":", 1)
    root = (ROOT / ".run/sentry/ca.crt").read_text()

    # From the gateway's container: a neighbour on the compose network, without a certificate.
    answer = probe(compose, "gateway", "tls", host, port, root)

    # Verified against the local root (the handshake fails otherwise), for products' app-id.
    assert answer["peer"] == ["spiffe://public/ns/default/products"]
    assert "CERTIFICATE" in answer["refused"].upper() or "reset" in answer["refused"].lower(), answer


def sidecar_messages(compose: Compose, app: str) -> list[str]:
    """What an app's sidecar has logged (daprd logs JSON lines: --log-as-json)."""
    out = compose.run("logs", "--no-color", "--no-log-prefix", f"{app}-dapr")
    return [json.loads(line).get("msg", "") for line in out.splitlines() if line.startswith("{")]


def identity_once_on_the_scheduler(compose: Compose, app: str) -> str | None:
    """The sidecar's log line about the workload certificate Sentry signed it, once its streams to
    the scheduler (which serves mTLS only) are connected."""
    messages = sidecar_messages(compose, app)
    if not any(m.startswith("Scheduler stream connected") for m in messages):
        return None
    return next((m for m in messages if m.startswith("Starting workload identity expiry watcher")), None)


def test_every_sidecar_has_a_certificate_from_sentry_and_reaches_the_scheduler_over_mtls(
    compose: Compose,
) -> None:
    for app in APP_IDS:
        identity = wait_until(
            partial(identity_once_on_the_scheduler, compose, app),
            timeout=30,
            interval=1,
            what=f"{app}'s sidecar connected to the scheduler",
        )
        expires = re.search(r"cert expires on: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", identity)
        assert expires, identity
        lifetime = datetime.fromisoformat(expires[1]).replace(tzinfo=UTC) - datetime.now(UTC)
        # Dapr's default lifetime under compose, 24 h (scripts/dapr_configs.py), not make run's 2 min.
        assert timedelta(hours=20) < lifetime <= timedelta(hours=24), identity


def rabbitmq_connections() -> list[dict[str, Any]]:
    """Every AMQP connection RabbitMQ lists, asked as the operator (`admin`, the management UI's)."""
    password = (ROOT / ".run/compose/rabbitmq-admin-password").read_text().strip()
    response = httpx.get(f"{RABBITMQ_API}/connections", auth=("admin", password), timeout=10)
    response.raise_for_status()
    return response.json()


def test_every_sidecar_reaches_rabbitmq_as_its_apps_own_user_and_there_is_no_guest(
    compose: Compose,
) -> None:
    subscribers = {app_id for app_id, topics in scopes("subscriptionScopes").items() if topics}
    # The management API refreshes its lists every few seconds: wait until every subscriber is in.
    connected = wait_until(
        lambda: users if (users := {c["user"] for c in rabbitmq_connections()}) >= subscribers else None,
        timeout=30,
        interval=1,
        what=f"a RabbitMQ connection of each subscriber ({', '.join(sorted(subscribers))})",
    )
    guest = httpx.get(f"{RABBITMQ_API}/whoami", auth=("guest", "guest"), timeout=10)

    assert connected <= set(APP_IDS), connected
    assert guest.status_code == 401
