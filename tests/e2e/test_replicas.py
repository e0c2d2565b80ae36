"""Several replicas of every app (REPLICAS=2 in CI; with one, each check holds trivially for the
one there is): every replica is counted, a WebSocket on any replica hears every notification
once, and two requests with one Idempotency-Key make one order whichever replicas take them."""

import json
import os
import threading
from typing import Any

import httpx
from websockets.sync.client import connect

from harness.shop import api, create_product, place_order, register
from harness.system import System
from harness.waiting import wait_until

REPLICAS = int(os.environ.get("REPLICAS", "1"))
APPS = ("gateway", "notifications", "auth", "customers", "products", "orders", "order-view")


def notifications_replicas() -> list[str]:
    """The WebSocket of each notifications replica, bypassing HAProxy (scripts/replicas.py)."""
    if REPLICAS == 1:
        return ["ws://127.0.0.1:8001/ws"]
    return [f"ws://127.0.0.1:{8001 + 100 * (k + 1)}/ws" for k in range(REPLICAS)]


def test_the_health_report_counts_every_replica_of_every_app(system: System) -> None:
    report = wait_until(
        lambda: (
            (body := api("GET", "/health").json()).get("replicas") == dict.fromkeys(APPS, REPLICAS) and body
        ),
        timeout=30,
        what=f"{REPLICAS} replicas of each app in /api/health",
    )
    assert report["status"] == "ok"


def test_a_client_on_any_notifications_replica_hears_each_notification_once(system: System) -> None:
    seller, buyer = register("Replica seller"), register("Replica buyer")
    product = create_product(seller, stock=100)
    sockets = []
    for url in notifications_replicas():  # the buyer on every replica at once
        ws = connect(url, open_timeout=5)
        ws.send(json.dumps({"event": "authorize", "data": {"token": buyer.token}}))
        assert json.loads(ws.recv(timeout=5)) == {"event": "authorized"}
        sockets.append(ws)
    try:
        placed = [place_order(buyer, [(product["id"], 1)]).json()["id"] for _ in range(6)]
        heard: list[list[str]] = []
        for ws in sockets:
            got: list[str] = []
            while len(got) < len(placed):
                message = json.loads(ws.recv(timeout=5))
                assert message["event"] == "notification"
                got.append(message["data"]["order_id"])
            heard.append(got)
        for ws in sockets:  # and nothing more: no notification twice on one connection
            try:
                extra = ws.recv(timeout=1)
            except TimeoutError:
                extra = None
            assert extra is None, f"a notification came twice: {extra}"
    finally:
        for ws in sockets:
            ws.close()

    assert all(sorted(got) == sorted(placed) for got in heard)


def test_one_idempotency_key_sent_to_several_replicas_at_once_makes_one_order(system: System) -> None:
    seller, buyer = register("Key seller"), register("Key buyer")
    product = create_product(seller, stock=50)
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        barrier.wait()
        answers.append(place_order(buyer, [(product["id"], 2)], headers={"Idempotency-Key": "same-click"}))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    listing: dict[str, Any] = wait_until(
        lambda: (body := buyer.call("GET", "/orders").json())["total"] >= 1 and body,
        timeout=10,
        what="the order in the buyer's listing",
    )
    assert listing["total"] == 1
    stock = api("GET", f"/products/{product['id']}").json()["stock"]
    assert stock == 48  # reserved once
