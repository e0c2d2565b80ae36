"""The transactional outbox: changes made while the broker is down are published once it is back."""

import subprocess
import time

from tests.e2e.shop import applied_events, create_product, place_order, register, view_shows
from tests.e2e.system import ROOT, System
from tests.support import wait_until

BROKER_PROCESS = {
    "rabbitmq": "rabbitmq",
    "redis": "redis",
    "mqtt": "mosquitto",
    "nats": "nats",
    "kafka": "kafka",
}


def infra(action: str, name: str) -> None:
    subprocess.run(["scripts/infra.sh", action, name], cwd=ROOT, check=True, capture_output=True)


def test_orders_placed_while_the_broker_is_down_all_arrive_once_it_is_back(system: System) -> None:
    """With RabbitMQ (and the other brokers under make test-brokers)."""
    seller, buyer = register(), register()
    product = create_product(seller, stock=100)

    broker = BROKER_PROCESS[system.broker]
    infra("stop", broker)
    try:
        responses = [place_order(buyer, [(product["id"], 1)]) for _ in range(20)]
    finally:
        infra("start", broker)
    back = time.monotonic()

    assert [r.status_code for r in responses] == [201] * 20
    order_ids = [r.json()["id"] for r in responses]
    wait_until(
        lambda: all(view_shows(order_id, "confirmed") for order_id in order_ids),
        timeout=30,
        what="all 20 order.confirmed events at the subscriber",
        interval=0.5,
    )
    print(f"all 20 events arrived {time.monotonic() - back:.1f}s after {broker} was back")
    applied = applied_events("order.confirmed", *order_ids)
    assert sorted(event["entity_id"] for event in applied) == sorted(order_ids)  # each exactly once
