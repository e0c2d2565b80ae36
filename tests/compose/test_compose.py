"""The whole shop under `docker compose`: every app healthy behind the gateway, a customer
registers, a seller sells, an order is confirmed, reaches the read model and is announced over
the WebSocket; then the broker is swapped by the one-line change docker-compose.yml documents."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from harness.shop import User, create_product, place_order, register
from harness.waiting import wait_until
from tests.compose.conftest import GATEWAY, ROOT, Compose, docker_api, wait_healthy

WS = "ws://127.0.0.1:8001/ws"
APPS = {"gateway", "notifications", "auth", "customers", "products", "orders", "order-view"}
SIDECARS = sorted(f"{app}-dapr" for app in APPS)
BROKER_LINE = "    - ./components/brokers/rabbitmq:/shop/broker:ro\n"


@contextmanager
def socket(user: User) -> Iterator[ClientConnection]:
    with connect(f"{WS}?token={user.token}", open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"event": "authorized"}
        yield ws


def notification(ws: ClientConnection, timeout: float) -> dict[str, Any]:
    message = json.loads(ws.recv(timeout=timeout))
    assert message["event"] == "notification"
    return message["data"]


def read_model_has(buyer: User, order_id: str) -> dict[str, Any] | None:
    """The order as the read model serves it (X-Read-Model: view), once it is there."""
    response = buyer.call("GET", f"/orders/{order_id}")
    if response.status_code == 200 and response.headers.get("x-read-model") == "view":
        return response.json()
    return None


def sell_and_order() -> tuple[User, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A seller lists a product, a buyer orders two while connected to the WebSocket: returns
    the buyer, the order as placed, as notified, and as the read model has it."""
    seller, buyer = register("Compose Seller"), register("Compose Buyer")
    product = create_product(seller, name="Container Lamp", price_cents=2500, stock=5)
    with socket(buyer) as ws:
        response = place_order(buyer, [(product["id"], 2)])
        assert response.status_code == 201, response.text
        order = response.json()
        heard = notification(ws, timeout=10)
    in_view = wait_until(
        lambda: read_model_has(buyer, order["id"]), timeout=20, what="the order in the read model"
    )
    return buyer, order, heard, in_view


def test_every_app_is_up_behind_the_gateway(compose: Compose) -> None:
    body = httpx.get(f"{GATEWAY}/api/health", timeout=5).json()

    assert body["status"] == "ok"
    assert body["services"] == dict.fromkeys(APPS - {"gateway"}, "up")


def test_every_app_runs_beside_the_projects_daprd(compose: Compose) -> None:
    running = {c["Service"]: c for c in compose.containers() if c["State"] == "running"}

    assert APPS | set(SIDECARS) <= set(running)
    # The sidecars run the patched daprd (Dockerfile.daprd), not the upstream daprio/daprd.
    # (docker.io/: how the API names an image given by a short name)
    images = {running[f"{app}-dapr"]["Image"].removeprefix("docker.io/") for app in APPS}
    assert images == {daprd_image()}


def test_each_sidecar_is_found_at_its_own_containers_address(compose: Compose) -> None:
    """Name resolution is one SQLite file in the `run` volume that every sidecar shares; each
    registers the address of its app's container on the compose network, which the other
    containers' network namespaces reach (the health and order tests call through it)."""
    with docker_api() as api:
        addresses = {}
        for container in compose.containers():
            if container["Service"] in APPS:
                inspected = api.get(f"/containers/{container['Name']}/json").raise_for_status().json()
                networks = inspected["NetworkSettings"]["Networks"].values()
                addresses[container["Service"]] = {network["IPAddress"] for network in networks}
    registered = compose.registered()

    assert set(registered) == APPS
    hosts = {app: address.rsplit(":", 1)[0] for app, address in registered.items()}
    assert all(hosts[app] in addresses[app] for app in APPS), (hosts, addresses)
    assert len(set(hosts.values())) == len(APPS)


def test_a_customer_registers_and_logs_in(compose: Compose) -> None:
    user = register("Compose Customer")

    me = user.call("GET", "/me")

    assert me.status_code == 200
    assert (me.json()["email"], me.json()["role"]) == (user.email, "customer")


def test_an_order_is_confirmed_reaches_the_read_model_and_is_announced(compose: Compose) -> None:
    buyer, order, heard, in_view = sell_and_order()

    assert order["status"] == "confirmed"
    assert order["total_cents"] == 5000
    assert (heard["type"], heard["order_id"]) == ("order.confirmed", order["id"])
    assert in_view["status"] == "confirmed"
    # Joined with the customer's and the product's own events, which came through the broker too.
    assert in_view["customer"]["id"] == buyer.id
    (line,) = in_view["items"]
    assert (line["product"]["name"], line["quantity"]) == ("Container Lamp", 2)
    assert line["line_total_cents"] == 5000


@pytest.mark.broker_swap
def test_the_documented_one_line_change_swaps_the_broker_to_redis(compose: Compose) -> None:
    original = (ROOT / "docker-compose.yml").read_text()
    assert original.count(BROKER_LINE) == 1, "the broker line docker-compose.yml documents changed"
    swapped = ROOT / ".run/docker-compose.redis.yml"
    swapped.write_text(original.replace(BROKER_LINE, BROKER_LINE.replace("rabbitmq", "redis")))
    streams_before = redis_stream_length(compose, "orders")

    # The change touches the sidecars only; with Docker, `docker compose up -d` recreates just
    # them. Through podman 4.3's API compose also sees every app's network as changed (podman
    # reports it differently) and would recreate the apps, which podman refuses while their
    # sidecars share their network namespace: so name the sidecars, as Docker would recreate.
    # Recreated, the sidecars lose their logs on RabbitMQ: kept for whoever reads a failure.
    before = compose.run("logs", "--no-color", "--timestamps")
    (ROOT / ".run/logs/compose-before-swap.log").write_text(before)
    compose.run("up", "-d", "--no-build", "--no-deps", *SIDECARS, file=swapped)
    recreated_at = time.monotonic()
    wait_healthy("every app up again on Redis Streams")
    print(f"healthy on Redis {time.monotonic() - recreated_at:.1f} s after up")
    _, order, heard, in_view = sell_and_order()

    redis = str(ROOT / "components/brokers/redis")
    assert {broker_mounted(compose, sidecar) for sidecar in SIDECARS} == {redis}
    assert (heard["type"], heard["order_id"]) == ("order.confirmed", order["id"])
    assert in_view["status"] == "confirmed"
    # The event went through Redis: the orders topic is a stream there now.
    assert redis_stream_length(compose, "orders") > streams_before


def redis_stream_length(compose: Compose, stream: str) -> int:
    """XLEN, asked by a one-off redis-cli container on the compose network (removed after)."""
    out = compose.run("run", "--rm", "--no-deps", "-T", "redis", "redis-cli", "-h", "redis", "XLEN", stream)
    return int(out.strip().splitlines()[-1])


def broker_mounted(compose: Compose, service: str) -> str:
    """Where a container's /shop/broker comes from, as the Docker API reports it."""
    (container,) = [c["Name"] for c in compose.containers() if c["Service"] == service]
    with docker_api() as api:
        mounts = api.get(f"/containers/{container}/json").raise_for_status().json()["Mounts"]
    (source,) = [m["Source"] for m in mounts if m["Destination"] == "/shop/broker"]
    return str(Path(source))


def daprd_image() -> str:
    """The daprd image's name: DAPR_VERSION-DAPR_BUILD of scripts/versions.sh as its tag."""
    lines = (ROOT / "scripts/versions.sh").read_text().splitlines()
    versions = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return f"dapr-shop/daprd:{versions['DAPR_VERSION']}-{versions['DAPR_BUILD']}"
