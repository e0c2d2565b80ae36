"""order-view's event handling answers SUCCESS, RETRY or DROP on purpose."""

from typing import Any

from pymongo.errors import ServerSelectionTimeoutError

from services.order_view.events import handle


class FakeStore:
    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.seen: dict[str, dict[str, str]] = {}

    def record_event(self, *, event_id: str, topic: str, event_type: str, entity_id: str | None) -> bool:
        if self.down:
            raise ServerSelectionTimeoutError("no server")
        if event_id in self.seen:
            return False
        self.seen[event_id] = {"topic": topic, "type": event_type}
        return True


def envelope(**overrides: Any) -> dict[str, Any]:
    return {"id": "ev-1", "type": "customer.registered", "source": "customers", "data": {}, **overrides}


def test_a_new_event_is_recorded_and_acknowledged() -> None:
    store = FakeStore()

    assert handle(store, "customers", envelope()) == "SUCCESS"  # type: ignore[arg-type]
    assert store.seen == {"ev-1": {"topic": "customers", "type": "customer.registered"}}


def test_a_redelivered_event_is_acknowledged_without_applying_it_again() -> None:
    store = FakeStore()
    handle(store, "customers", envelope())  # type: ignore[arg-type]

    assert handle(store, "customers", envelope(type="changed")) == "SUCCESS"  # type: ignore[arg-type]
    assert store.seen["ev-1"]["type"] == "customer.registered"


def test_a_database_outage_asks_dapr_to_redeliver() -> None:
    assert handle(FakeStore(down=True), "orders", envelope()) == "RETRY"  # type: ignore[arg-type]


def test_an_event_without_id_is_dropped() -> None:
    assert handle(FakeStore(), "orders", envelope(id=None)) == "DROP"  # type: ignore[arg-type]
