"""Events published through one app's sidecar reach the subscriber declared in
components/subscriptions/, through the broker the component files select."""

import uuid

import pytest

from harness.system import System, SystemManager, invoke, publish
from harness.waiting import wait_until


def publish_customer_event(
    event_id: str, *, customer_id: str | None = None, name: str = "Pub Sub", version: int = 1
) -> None:
    """Publishes through the customers app's own sidecar, as the customers service's relay does:
    retrying while the broker refuses. Kafka's client, for one, refuses a topic for about 10 s
    after a broker outage (its producer's own circuit breaker), and an earlier test stops the
    broker. A retried publish is harmless: the event id is the same, the subscriber deduplicates."""
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": "customers",
        "type": "customer.registered",
        "datacontenttype": "application/json",
        "data": {
            "id": customer_id or str(uuid.uuid4()),
            "email": "pubsub@example.com",
            "name": name,
            "version": version,
        },
    }
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


def known_customer(customer_id: str) -> dict[str, object] | None:
    status, body = invoke("order-view", "GET", f"known/customer/{customer_id}", via="order-view")
    return body if status == 200 else None


def test_a_redelivered_event_is_applied_once(system: System) -> None:
    """The second delivery of an event id carries a newer version of the customer: applied, it
    would rename the snapshot (the version guard alone would let it through). Only the inbox,
    keyed by event id, keeps it out."""
    event_id, customer_id = f"e2e-{uuid.uuid4()}", str(uuid.uuid4())
    publish_customer_event(event_id, customer_id=customer_id, name="First", version=1)
    wait_until(lambda: known_customer(customer_id), timeout=20, what="the first delivery applied")

    publish_customer_event(event_id, customer_id=customer_id, name="Second", version=2)
    marker = f"e2e-{uuid.uuid4()}"
    publish_customer_event(marker)  # same queue: once it is applied, the redelivery was handled
    wait_until(lambda: processed_by_order_view(marker), timeout=20, what="the later event applied")

    snapshot = known_customer(customer_id)
    assert snapshot is not None
    assert (snapshot["name"], snapshot["version"]) == ("First", 1)


@pytest.mark.broker_swap
@pytest.mark.parametrize("broker", ["redis", "mqtt"])
def test_the_same_event_flow_works_on_another_broker_by_swapping_component_files(
    systems: SystemManager, broker: str
) -> None:
    systems.ensure(broker)
    assert_event_flows_to_order_view()
