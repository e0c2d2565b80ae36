"""Events published through one app's sidecar reach the subscriber declared in
components/subscriptions/, through the broker the component files select."""

import uuid

import pytest

from harness.shop import User, applied_events, create_product, place_order, register
from harness.system import REPLICAS, System, SystemManager, cloud_event, invoke, publish
from harness.waiting import wait_until


def publish_customer_event(event_id: str) -> None:
    """Publishes through the customers app's own sidecar, as the customers service's relay does:
    retrying while the broker refuses. Kafka's client, for one, refuses a topic for about 10 s
    after a broker outage (its producer's own circuit breaker), and an earlier test stops the
    broker. A retried publish is harmless: the event id is the same, the subscriber deduplicates."""
    event = cloud_event(
        "customers",
        "customer.registered",
        {"id": str(uuid.uuid4()), "email": "pubsub@example.com", "name": "Pub Sub", "version": 1},
        event_id,
    )
    wait_until(
        lambda: publish("customers", "customers", event).status_code == 204,
        timeout=30,
        interval=0.5,
        what="the broker to accept a publish through the customers sidecar",
    )


def processed_by_order_view(event_id: str) -> dict[str, object] | None:
    """Asks order-view, through Dapr service invocation, whether it applied the event."""
    status, body = invoke("order-view", "GET", f"events/{event_id}", via="order-view")
    return body if status == 200 else None


def assert_event_flows_to_order_view() -> None:
    event_id = f"e2e-{uuid.uuid4()}"
    publish_customer_event(event_id)

    record = wait_until(
        lambda: processed_by_order_view(event_id), timeout=20, what="order-view to apply the event"
    )

    assert record["topic"] == "customers"
    assert record["type"] == "customer.registered"


def test_an_event_reaches_the_declared_subscriber_through_the_broker(system: System) -> None:
    assert_event_flows_to_order_view()


def test_a_redelivered_event_is_applied_once(system: System) -> None:
    """An order's confirmation delivered again, exactly as it was (same id, same data): applied
    twice, notifications would store a second notification for the buyer. A later order of the
    same buyer, on the same topic, says when the redelivery has been handled."""
    seller, buyer = register(), register()
    product = create_product(seller, stock=5)
    first = place_order(buyer, [(product["id"], 1)]).json()
    wait_until(lambda: mentions(buyer, first["id"]) == 1, timeout=20, what="the first notification")
    [applied] = applied_events("order.confirmed", first["id"])
    status, snapshot = invoke(
        "orders",
        "GET",
        f"orders/{first['id']}",
        via="orders",
        headers={"x-shop-user-id": buyer.id, "x-shop-user-role": "customer"},
    )
    assert status == 200, snapshot

    redelivery = cloud_event("orders", "order.confirmed", snapshot, applied["id"])
    assert publish("orders", "orders", redelivery).status_code == 204
    later = place_order(buyer, [(product["id"], 1)]).json()
    wait_until(lambda: mentions(buyer, later["id"]) == 1, timeout=20, what="the later order's notification")

    assert mentions(buyer, first["id"]) == 1


def mentions(user: User, order_id: str) -> int:
    items = user.call("GET", "/notifications", params={"limit": 100}).json()["items"]
    return sum(item.get("order_id") == order_id for item in items)


# MQTT 3 has no consumer groups: Dapr connects every replica of an app with one client id, so the
# shop runs one replica per app on it (docs/operations.md, Brokers and replicas).
SWAPPED_TO = ["redis", "mqtt"] if REPLICAS == 1 else ["redis"]


@pytest.mark.broker_swap
@pytest.mark.parametrize("broker", SWAPPED_TO)
def test_the_same_event_flow_works_on_another_broker_by_swapping_component_files(
    systems: SystemManager, broker: str
) -> None:
    systems.ensure(broker)
    assert_event_flows_to_order_view()
