"""order-view's event handling: versions make it correct under duplicates and reordering, and it
answers SUCCESS, RETRY or DROP on purpose. A fake store and a fake sidecar stand in for
MongoDB and Dapr."""

import asyncio
import copy
from typing import Any

import httpx
from pymongo.errors import ServerSelectionTimeoutError

from services.order_view.service import handle
from services.order_view.store.listings import listed_ids
from services.shared.dapr import ServiceUnavailable

CUSTOMER = {"id": "c1", "name": "Ann", "email": "ann@example.com", "version": 1}
PRODUCT = {"id": "p1", "name": "Lamp", "seller_id": "s1", "version": 1}


class FakeStore:
    """Plays every part of the store (documents, snapshots, inbox) over dicts."""

    def __init__(self, *, down: bool = False) -> None:
        self.documents = self.snapshots = self.inbox = self
        self.down = down
        self.orders: dict[str, dict[str, Any]] = {}
        self.held: dict[str, dict[str, dict[str, Any]]] = {"customer": {}, "product": {}}
        self.events: set[str] = set()
        self.renames = self.renames_synced = 0
        self.writes = 0  # order documents written

    def _check(self) -> None:
        if self.down:
            raise ServerSelectionTimeoutError("no server")

    def record_event(self, *, event_id: str, **_: Any) -> bool:
        self._check()
        first = event_id not in self.events
        self.events.add(event_id)
        return first

    def order_version(self, order_id: str) -> int:
        return self.orders.get(order_id, {}).get("version", 0)

    def save_order(self, document: dict[str, Any], shown_versions: dict[str, int] | None = None) -> bool:
        self._check()
        if self.order_version(document["id"]) >= document["version"]:
            return False
        self.orders[document["id"]] = document
        self.writes += 1
        return True

    def recall(self, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {}  # nothing held in memory: every snapshot comes from known()

    def known(self, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.held[kind][i] for i in ids if i in self.held[kind]}

    def remember(self, kind: str, snapshot: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        known = self.held[kind].get(snapshot["id"])
        if known and known["version"] >= snapshot["version"]:
            return False, known
        self.held[kind][snapshot["id"]] = snapshot
        return True, known

    def note_rename(self) -> None:
        self.renames += 1

    def renames_since_synced(self) -> bool:
        moved, self.renames_synced = self.renames != self.renames_synced, self.renames
        return moved

    def rename_customer(self, customer: dict[str, Any]) -> int:
        for doc in self.orders.values():
            if doc["customer"]["id"] == customer["id"]:
                doc["customer"]["name"] = customer["name"]
        return 1

    def rename_product(self, product: dict[str, Any]) -> int:
        for doc in self.orders.values():
            for item in doc["items"]:
                if item["product"]["id"] == product["id"]:
                    item["product"]["name"] = product["name"]
        return 1


class FakeSidecar:
    def __init__(self, *, products_down: bool = False) -> None:
        self.products_down = products_down
        self.calls: list[str] = []

    async def invoke(self, target: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.calls.append(f"{target} {path}")
        if target == "products" and self.products_down:
            raise ServiceUnavailable("products", "ERR_DIRECT_INVOKE")
        items = [CUSTOMER] if target == "customers" else [PRODUCT]
        return httpx.Response(200, json={"items": items})


def order(version: int, status: str = "confirmed") -> dict[str, Any]:
    return {
        "id": "o1",
        "customer_id": "c1",
        "status": status,
        "items": [{"product_id": "p1", "quantity": 2, "unit_price_cents": 500}],
        "total_cents": 1000,
        "created_at": "2026-11-25T00:00:00Z",
        "updated_at": "2026-11-25T00:00:00Z",
        "version": version,
    }


def deliver(
    store: FakeStore, dapr: FakeSidecar, event_id: str, event_type: str, data: Any, topic: str = "orders"
) -> str:
    envelope = {"id": event_id, "type": event_type, "data": data}
    return asyncio.run(handle(dapr, store, topic, envelope))  # type: ignore[arg-type]


def test_an_order_event_before_its_customer_and_product_events_asks_one_batch_call_each() -> None:
    store, dapr = FakeStore(), FakeSidecar()

    assert deliver(store, dapr, "e1", "order.confirmed", order(2)) == "SUCCESS"

    document = store.orders["o1"]
    assert document["customer"] == {"id": "c1", "name": "Ann", "email": "ann@example.com"}
    assert document["items"] == [
        {
            "product": {"id": "p1", "name": "Lamp", "seller_id": "s1"},
            "quantity": 2,
            "unit_price_cents": 500,
            "line_total_cents": 1000,
        }
    ]
    assert dapr.calls == ["customers customers/batch", "products products/batch"]


def test_customers_and_products_known_from_their_events_are_not_asked_for_again() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    deliver(store, dapr, "c", "customer.registered", {**CUSTOMER, "name": "Ann B."}, topic="customers")
    deliver(store, dapr, "p", "product.created", PRODUCT, topic="products")

    assert deliver(store, dapr, "e1", "order.confirmed", order(2)) == "SUCCESS"

    assert dapr.calls == []
    assert store.orders["o1"]["customer"]["name"] == "Ann B."
    assert store.orders["o1"]["items"][0]["product"]["name"] == "Lamp"


def test_only_what_no_event_told_yet_is_asked_for() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    deliver(store, dapr, "p", "product.created", PRODUCT, topic="products")

    assert deliver(store, dapr, "e1", "order.confirmed", order(2)) == "SUCCESS"

    assert dapr.calls == ["customers customers/batch"]
    assert store.orders["o1"]["customer"]["name"] == "Ann"


def test_an_older_version_after_a_newer_one_changes_nothing() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    deliver(store, dapr, "e2", "order.cancelled", order(3, "cancelled"))

    assert deliver(store, dapr, "e1", "order.confirmed", order(2)) == "SUCCESS"
    assert store.orders["o1"]["status"] == "cancelled"


def test_a_duplicate_delivery_changes_nothing() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    deliver(store, dapr, "e1", "order.confirmed", order(2))
    document = copy.deepcopy(store.orders["o1"])

    assert deliver(store, dapr, "e1", "order.confirmed", order(2)) == "SUCCESS"
    assert (store.writes, store.orders["o1"], store.events) == (1, document, {"e1"})


def test_a_renamed_product_shows_in_existing_orders_but_an_older_rename_does_not() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    deliver(store, dapr, "e1", "order.confirmed", order(2))

    deliver(store, dapr, "e2", "product.updated", {**PRODUCT, "name": "Big lamp", "version": 3}, "products")
    deliver(store, dapr, "e3", "product.updated", {**PRODUCT, "name": "Old lamp", "version": 2}, "products")

    assert store.orders["o1"]["items"][0]["product"]["name"] == "Big lamp"
    assert store.orders["o1"]["items"][0]["unit_price_cents"] == 500


def test_a_dependency_that_is_down_asks_for_redelivery() -> None:
    assert deliver(FakeStore(), FakeSidecar(products_down=True), "e1", "order.confirmed", order(2)) == "RETRY"
    assert deliver(FakeStore(down=True), FakeSidecar(), "e1", "order.confirmed", order(2)) == "RETRY"


def test_an_event_that_can_never_apply_is_dropped_to_the_dead_letter_topic() -> None:
    store, dapr = FakeStore(), FakeSidecar()

    assert deliver(store, dapr, "e1", "order.confirmed", {"id": "o1"}) == "DROP"
    assert deliver(store, dapr, "", "order.confirmed", order(2)) == "DROP"
    assert deliver(store, dapr, "e2", "something.else", {"id": "x"}) == "DROP"
    assert store.orders == {}


def test_a_stock_change_rewrites_no_order_document() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    deliver(store, dapr, "e1", "order.confirmed", order(2))
    deliver(store, dapr, "e2", "product.updated", {**PRODUCT, "version": 2}, "products")
    renames: list[str] = []
    store.rename_product = lambda product: renames.append(product["id"]) or 0  # type: ignore[method-assign]

    deliver(store, dapr, "e3", "product.updated", {**PRODUCT, "stock": 1, "version": 3}, "products")
    deliver(store, dapr, "e4", "product.updated", {**PRODUCT, "name": "Renamed", "version": 4}, "products")

    assert renames == ["p1"]


def test_a_stock_change_applied_while_an_order_is_built_rewrites_no_other_document() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    renames: list[str] = []
    store.rename_product = lambda product: renames.append(product["id"]) or 0  # type: ignore[method-assign]
    built_from, product_lookups = store.known, []

    def stock_changed_meanwhile(kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        # The next reservation's product.updated lands after the document was built from v1.
        if kind == "product":
            product_lookups.append(ids)
            if len(product_lookups) == 2:
                store.remember("product", {**PRODUCT, "stock": 7, "version": 2})
        return built_from(kind, ids)

    store.known = stock_changed_meanwhile  # type: ignore[method-assign]
    deliver(store, dapr, "e1", "order.confirmed", order(2))

    assert "o1" in store.orders
    assert renames == []


def test_a_rename_applied_while_an_order_is_built_still_shows_in_its_document() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    store.remember("product", PRODUCT)
    built_from = store.known

    def renamed_meanwhile(kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        found = built_from(kind, ids)
        if kind == "product" and found["p1"]["version"] == 1:
            # The rename's event is applied (by this replica or another) between this lookup
            # and the document's save: its snapshot is kept, then the rename counted.
            store.remember("product", {**PRODUCT, "name": "Desk lamp", "version": 2})
            store.note_rename()
        return found

    store.known = renamed_meanwhile  # type: ignore[method-assign]
    deliver(store, dapr, "e1", "order.confirmed", order(2))

    assert store.orders["o1"]["items"][0]["product"]["name"] == "Desk lamp"


def test_a_first_seen_creation_rewrites_nothing_but_a_first_seen_later_version_does() -> None:
    store, dapr = FakeStore(), FakeSidecar()
    deliver(store, dapr, "e1", "order.confirmed", order(2))
    renames: list[str] = []
    store.rename_customer = lambda customer: renames.append(customer["id"]) or 0  # type: ignore[method-assign]

    deliver(store, dapr, "e2", "customer.registered", {**CUSTOMER, "id": "c2"}, "customers")
    assert renames == []

    deliver(store, dapr, "e3", "customer.updated", {**CUSTOMER, "id": "c3", "version": 2}, "customers")
    assert renames == ["c3"]


def test_a_listing_reads_newest_first_then_by_id_whatever_order_its_entries_were_added_in() -> None:
    added = [  # as events arrive: out of order, two orders in the same microsecond
        "2026-12-02T10:00:00.000001Z b",
        "2026-12-02T11:00:00Z c",
        "2026-12-02T10:00:00.000001Z a",
        "2026-12-02T10:00:00Z d",  # a whole second: no fraction, yet older than a and b
    ]
    assert listed_ids(added) == ["c", "a", "b", "d"]


def test_a_listing_of_the_first_format_reads_the_same_and_lists_an_order_once() -> None:
    older = [
        {"id": "a", "created_at": "2026-12-02T09:00:00Z"},
        {"id": "b", "created_at": "2026-12-02T10:00:00Z"},
    ]
    # The same order again, in the current form (a rebuild after the documents were dropped).
    assert listed_ids([*older, "2026-12-02T09:00:00Z a", "2026-12-02T11:00:00Z c"]) == ["c", "b", "a"]
