"""Between services: only an app's own sidecar calls the app (APP_API_TOKEN), only the app calls
its sidecar (DAPR_API_TOKEN), each app with a pair of its own, so one app's token opens no other
app's sidecar nor app; a sidecar gives its app only the app's own secrets; only a topic's owner
publishes to it (topic scoping), and RabbitMQ itself refuses one app's user another's exchange
or queue; sidecars talk to each other only over mutual TLS with certificates from the local
Sentry, renewed while orders go on without failing one, and each callee's sidecar admits only
the calls components/access-control.yaml allows the caller."""

import json
import os
import socket
import sqlite3
import ssl
import subprocess
import uuid
from pathlib import Path

import httpx
import pika
import pytest

from harness.shop import api, create_product, register
from harness.system import ROOT, SIDECARS, System, api_tokens, cloud_event, invoke, publish, sidecar
from harness.waiting import wait_until
from scripts.trust_root import generate
from tests.e2e.traffic import Ledger, OrderStream, reconcile, record

PRODUCTS_APP = "http://127.0.0.1:8030"
# RabbitMQ's port mapper (scripts/infra.sh), which rabbitmqctl finds the node through.
EPMD_PORT = os.environ.get("SHOP_EPMD_PORT", "4371")


def test_an_internal_app_refuses_calls_that_bypass_its_sidecar(system: System) -> None:
    without = httpx.get(f"{PRODUCTS_APP}/products", timeout=10)
    forged = httpx.get(f"{PRODUCTS_APP}/products", headers={"dapr-api-token": "guess"}, timeout=10)
    # Another app's sidecar token: orders' sidecar calls orders, never products.
    orders_sidecars = {"dapr-api-token": api_tokens("orders")["APP_API_TOKEN"]}
    from_orders_sidecar = httpx.get(f"{PRODUCTS_APP}/products", headers=orders_sidecars, timeout=10)
    its_sidecars = {"dapr-api-token": api_tokens("products")["APP_API_TOKEN"]}
    with_token = httpx.get(f"{PRODUCTS_APP}/products", headers=its_sidecars, timeout=10)

    assert without.status_code == forged.status_code == from_orders_sidecar.status_code == 401
    assert without.json()["code"] == "unauthorized"
    assert with_token.status_code == 200
    # Health probes stay open: daprd probes them without a token.
    assert httpx.get(f"{PRODUCTS_APP}/healthz", timeout=10).status_code == 200


def test_a_sidecar_refuses_calls_without_the_dapr_api_token(system: System) -> None:
    url = f"{sidecar('products')}/v1.0/invoke/products/method/products"

    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"dapr-api-token": "guess"}, timeout=10).status_code == 401
    assert httpx.get(url, headers=token_of("products"), timeout=10).status_code == 200


def token_of(app_id: str) -> dict[str, str]:
    return {"dapr-api-token": api_tokens(app_id)["DAPR_API_TOKEN"]}


def test_an_apps_token_opens_its_own_sidecar_only(system: System) -> None:
    # What leaks with orders' environment: orders' DAPR_API_TOKEN.
    leaked = token_of("orders")
    # The same request on each sidecar: what it serves (its metadata), which needs its token.
    on_products = httpx.get(f"{sidecar('products')}/v1.0/metadata", headers=leaked, timeout=10)
    on_orders = httpx.get(f"{sidecar('orders')}/v1.0/metadata", headers=leaked, timeout=10)
    # Every pair is an app's own: no two apps share a token.
    tokens = [value for app_id in SIDECARS for value in api_tokens(app_id).values()]

    assert on_products.status_code == 401
    assert on_orders.status_code == 200, on_orders.text
    assert on_orders.json()["id"] == "orders"
    assert len(set(tokens)) == len(tokens) == 2 * len(SIDECARS)


def test_a_sidecar_gives_its_app_only_the_apps_own_secrets(system: System) -> None:
    store = f"{sidecar('gateway')}/v1.0/secrets/secretstore"
    own = httpx.get(f"{store}/jwt-signing-key", headers=token_of("gateway"), timeout=10)
    # Another service's database password: the gateway has no database.
    other = httpx.get(f"{store}/orders-db-password", headers=token_of("gateway"), timeout=10)

    assert own.status_code == 200
    assert other.status_code == 403
    assert other.json()["errorCode"] == "ERR_PERMISSION_DENIED"


def test_only_the_owning_service_may_publish_to_its_topic(system: System) -> None:
    event = cloud_event("products", "order.confirmed", {"id": str(uuid.uuid4())}, f"e2e-{uuid.uuid4()}")

    forged = publish("products", "orders", event)
    from_gateway = publish("gateway", "orders", event)

    assert forged.status_code == from_gateway.status_code == 403
    assert forged.json()["errorCode"] == "ERR_PUBSUB_FORBIDDEN"


def test_the_public_api_needs_no_sidecar_token(system: System) -> None:
    assert api("GET", "/products").status_code == 200


def test_a_call_the_callees_access_control_does_not_allow_is_refused_by_its_sidecar(system: System) -> None:
    # Only orders moves stock: the gateway may not reserve any, though products serves the route.
    status, body = invoke("products", "POST", "reservations", json={"order_id": "x", "lines": []})
    # The same call from orders reaches products (and fails its validation there).
    from_orders, _ = invoke("products", "POST", "reservations", json={"order_id": "x"}, via="orders")
    # Verbs count: the gateway reads orders and places them, it never deletes one.
    delete, _ = invoke("orders", "DELETE", f"orders/{uuid.uuid4()}")

    assert status == delete == 403
    assert body["errorCode"] == "ERR_DIRECT_INVOKE"
    # Decided on the caller's identity from its certificate, not on anything it could claim.
    assert (
        "access control policy has denied access to id: spiffe://public/ns/default/gateway" in body["message"]
    )
    assert from_orders == 422


def internal_address(app_id: str) -> tuple[str, int]:
    """Where other sidecars reach an app's sidecar (its internal gRPC port): what it registered
    in the name-resolution table (components/config.yaml), most recently (a sidecar of an
    earlier run may have left its row)."""
    with sqlite3.connect(f"file:{ROOT / '.run/dapr-nameresolution.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT address FROM hosts WHERE app_id = ? ORDER BY last_update DESC LIMIT 1", (app_id,)
        ).fetchone()
    assert row, f"{app_id}'s sidecar is not registered for name resolution"
    host, port = row[0].rsplit(":", 1)
    return host, int(port)


# What a plain-text gRPC client sends first: the HTTP/2 connection preface and an empty SETTINGS frame.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def test_a_plain_text_connection_to_a_sidecars_internal_port_gets_no_answer(system: System) -> None:
    with socket.create_connection(internal_address("products"), timeout=5) as conn:
        conn.sendall(HTTP2_PREFACE)
        try:
            answer = conn.recv(64)
        except ConnectionResetError:  # closed with our bytes unread
            answer = b""

    # A plain-text gRPC server answers with its own SETTINGS frame (type 4); this one, expecting
    # a TLS handshake, closes the connection or answers with a TLS alert record (type 21).
    assert answer == b"" or answer[0] == 21, answer


def tls_context(tmp_path: Path, client_certificate: dict[str, bytes] | None) -> ssl.SSLContext:
    """A TLS client that trusts the local root, with a client certificate or without one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # sidecars are named by SPIFFE id, not by host name
    context.load_verify_locations(ROOT / ".run/sentry/ca.crt")
    if client_certificate:
        (tmp_path / "client.crt").write_bytes(client_certificate["issuer.crt"])
        (tmp_path / "client.key").write_bytes(client_certificate["issuer.key"])
        context.load_cert_chain(tmp_path / "client.crt", tmp_path / "client.key")
    return context


@pytest.mark.parametrize("client", ["no certificate", "a certificate from another root"])
def test_a_tls_connection_without_a_certificate_from_sentry_is_refused(
    system: System, tmp_path: Path, client: str
) -> None:
    context = tls_context(tmp_path, generate() if client != "no certificate" else None)
    # TLS 1.3: the client's side of the handshake completes before the sidecar checks the client's
    # certificate; its refusal arrives as an alert on the first read. Accepted, the second read
    # would wait for data that never comes, and time out.
    with (
        socket.create_connection(internal_address("products"), timeout=5) as raw,
        pytest.raises((ssl.SSLError, ConnectionResetError)) as refused,
        context.wrap_socket(raw) as conn,
    ):
        # The sidecar proves who it is: a certificate from the local root, for its app-id.
        uris = [value for kind, value in conn.getpeercert().get("subjectAltName", ()) if kind == "URI"]
        assert uris == ["spiffe://public/ns/default/products"]
        conn.sendall(HTTP2_PREFACE)
        conn.recv(64)
        conn.recv(64)
    assert "CERTIFICATE" in str(refused.value).upper() or isinstance(refused.value, ConnectionResetError)


def certificate_serial(app_id: str, context: ssl.SSLContext) -> int:
    """The serial number of the workload certificate an app's sidecar shows a new connection."""
    # The handshake completes on the client's side before the sidecar refuses a client without a
    # certificate: enough to read the sidecar's.
    with (
        socket.create_connection(internal_address(app_id), timeout=5) as raw,
        context.wrap_socket(raw) as conn,
    ):
        return int(str(conn.getpeercert()["serialNumber"]), 16)


# The sidecars an order passes through: the gateway's calls orders', which calls products'.
ORDER_PATH = ("gateway", "orders", "products")


def test_certificates_rotate_during_a_stream_of_orders_without_a_failed_request(
    system: System, tmp_path: Path
) -> None:
    seller, buyers = register(), [register() for _ in range(3)]
    product = create_product(seller, stock=10_000)
    ledger = Ledger([buyer.id for buyer in buyers])
    context = tls_context(tmp_path, None)
    first = {app_id: certificate_serial(app_id, context) for app_id in ORDER_PATH}

    with OrderStream(ledger, buyers, [product["id"]], rate=4, limit_s=120):
        # Each renews every 30 s (scripts/dapr_configs.py).
        wait_until(
            lambda: all(certificate_serial(app_id, context) != first[app_id] for app_id in ORDER_PATH),
            timeout=75,
            what="the gateway's, orders' and products' sidecars to show renewed certificates",
            interval=1,
        )
        # Orders keep flowing on the new certificates for a while.
        renewed = ledger.sent
        wait_until(lambda: ledger.sent >= renewed + 20, timeout=15, what="20 more orders sent")
    result = record(reconcile("certificate rotation", ledger, drain_timeout=30, down_s=0.0, recover_s=0.0))

    assert ledger.refused == {}, ledger.refused
    assert len(ledger.acked) == ledger.sent
    assert not result.problems(), result.problems()


def broker_user(app_id: str) -> pika.BlockingConnection:
    """A connection to RabbitMQ as an app's own user, as its sidecar connects."""
    password = json.loads((ROOT / ".run/rabbitmq-users.json").read_text())[app_id]
    credentials = pika.PlainCredentials(app_id, password)
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672, credentials=credentials))


@pytest.mark.parametrize(
    ("app_id", "attempt"),
    [
        ("products", "publish to orders"),
        ("gateway", "publish to orders"),
        ("notifications", "read order-view-orders"),
    ],
)
def test_an_apps_rabbitmq_user_is_refused_another_apps_exchange_or_queue(
    system: System, app_id: str, attempt: str
) -> None:
    # Whatever the suite's broker: RabbitMQ always runs, with every app's user.
    action, name = attempt.split(" ", 1)
    with broker_user(app_id) as connection:
        channel = connection.channel()
        channel.confirm_delivery()  # a publish waits for the broker's answer
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            if action == "publish":
                channel.basic_publish(exchange=name.removeprefix("to "), routing_key="", body=b"{}")
            else:
                channel.basic_get(queue=name)

    assert refused.value.reply_code == 403
    assert f"access to {'exchange' if action == 'publish' else 'queue'} '{name.removeprefix('to ')}'" in (
        refused.value.reply_text
    )
    assert f"refused for user '{app_id}'" in refused.value.reply_text


def test_every_sidecar_connects_to_rabbitmq_as_its_apps_own_user(system: System) -> None:
    users = subprocess.run(
        # Not Debian's /usr/sbin/rabbitmqctl, which runs as the rabbitmq user, with another
        # Erlang cookie than the node scripts/infra.sh starts as this user.
        ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "list_connections", "user"],
        env={**os.environ, "RABBITMQ_NODENAME": "rabbit@localhost", "ERL_EPMD_PORT": EPMD_PORT},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1:]  # under the header "user"

    if system.broker != "rabbitmq":  # make test-brokers: no sidecar uses RabbitMQ then
        assert users == []
        return
    # Only the apps' own users, never guest. The subscribers are always connected; a sidecar
    # that neither publishes nor subscribes (gateway, auth) connects when it starts and not
    # again after RabbitMQ restarts (test_outbox.py stops it), so it may be missing.
    assert set(users) <= set(SIDECARS), users
    assert {"order-view", "notifications"} <= set(users), users
