"""The transactional outbox: changes made while the broker is down are published once it is back."""

import subprocess
import time

from harness.shop import applied_events, create_product, register, view_shows
from harness.system import ROOT, System
from harness.waiting import wait_until
from tests.e2e.traffic import Ledger, reconcile, record

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

    ledger = Ledger([buyer.id])

    broker = BROKER_PROCESS[system.broker]
    infra("stop", broker)
    stopped = time.monotonic()
    try:
        for _ in range(20):
            ledger.place(buyer, product["id"])
    finally:
        infra("start", broker)
    back = time.monotonic()

    assert (len(ledger.acked), ledger.refused) == (20, {})
    order_ids = list(ledger.acked)
    wait_until(
        lambda: all(view_shows(order_id, "confirmed") for order_id in order_ids),
        timeout=30,
        what="all 20 order.confirmed events at the subscriber",
        interval=0.5,
    )
    recover_s = time.monotonic() - back
    print(f"all 20 events arrived {recover_s:.1f}s after {broker} was back")
    applied = applied_events("order.confirmed", *order_ids)
    assert sorted(event["entity_id"] for event in applied) == sorted(order_ids)  # each exactly once
    result = record(
        reconcile(f"{broker} stopped", ledger, drain_timeout=10, down_s=back - stopped, recover_s=recover_s)
    )
    assert not result.problems()
