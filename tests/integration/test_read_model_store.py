"""order-view's store against FerretDB: listings move to archives and list every order once,
and two replicas writing at once leave what one would (versions guard every write)."""

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pymongo
from pymongo.database import Database

from services.order_view.service import handle, known_snapshot
from services.order_view.store import ReadModelStore
from services.order_view.store.documents import APPLIED
from services.order_view.store.listings import archive_id

CUSTOMER = "6a1d9a59-2b0e-4a43-9c1e-0b9a3f3c2d10"
START = datetime(2026, 12, 1, tzinfo=UTC)


def order(n: int, *, version: int = 2, customer: str = CUSTOMER) -> dict[str, Any]:
    return {
        "id": f"order-{n:04d}",
        "customer": {"id": customer, "name": "Ann", "email": "ann@example.com"},
        "items": [],
        "created_at": (START + timedelta(minutes=n)).isoformat().replace("+00:00", "Z"),
        "status": {1: "pending", 2: "confirmed", 3: "cancelled"}.get(version, "confirmed"),
        "version": version,
    }


def listing_of(store: ReadModelStore, customer: str = CUSTOMER) -> list[str]:
    items, total = store.documents.list_orders(customer_id=customer, limit=10_000, offset=0)
    assert total == len(items)
    return [item["id"] for item in items]


def newest_first(numbers: range) -> list[str]:
    return [order(n)["id"] for n in reversed(numbers)]


def replica(db: Database[dict[str, Any]], **options: Any) -> ReadModelStore:
    """A store with a client of its own, as another replica of order-view has."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        "mongodb://127.0.0.1:27017", serverSelectionTimeoutMS=5000
    )
    return ReadModelStore(client[db.name], **options)


def at_once(*calls: Callable[[], Any]) -> None:
    """Runs the calls in threads released together; re-raises the first failure."""
    barrier, failures = threading.Barrier(len(calls)), []

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            call()
        except Exception as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures


def test_a_listing_moves_to_archives_and_still_lists_every_order_newest_first(mongo_db: Database) -> None:  # type: ignore[type-arg]
    store = ReadModelStore(mongo_db, listing_max=10)

    for n in range(35):
        assert store.documents.save_order(order(n))

    listings = mongo_db["orders_by_customer"]
    listing = listings.find_one({"_id": CUSTOMER})
    assert (listing["archived"], len(listing["orders"])) == (3, 5)
    sizes = [len(listings.find_one({"_id": archive_id(CUSTOMER, i)})["orders"]) for i in range(3)]
    assert sizes == [10, 10, 10]
    assert listing_of(store) == newest_first(range(35))
    page, total = store.documents.list_orders(customer_id=CUSTOMER, limit=5, offset=8)
    assert total == 35
    assert [item["id"] for item in page] == newest_first(range(35))[8:13]


def test_a_page_of_a_rebuild_lists_a_customer_once_and_a_redelivery_adds_nothing(mongo_db: Database) -> None:  # type: ignore[type-arg]
    store = ReadModelStore(mongo_db, listing_max=10)

    assert store.documents.save_orders([(order(n), {}) for n in reversed(range(25))]) == 25  # newest first
    assert not store.documents.save_order(order(3))  # the same version again

    assert listing_of(store) == newest_first(range(25))
    assert mongo_db["orders"].find_one({"_id": order(3)["id"]})[APPLIED] == [2]


def test_a_move_cut_short_by_a_dying_replica_is_finished_by_the_next(mongo_db: Database) -> None:  # type: ignore[type-arg]
    store = ReadModelStore(mongo_db, listing_max=10)
    for n in range(9):
        store.documents.save_order(order(n))
    # A replica wrote archive 0 from the listing and died before the listing dropped its entries.
    entries = mongo_db["orders_by_customer"].find_one({"_id": CUSTOMER})["orders"]
    mongo_db["orders_by_customer"].insert_one({"_id": archive_id(CUSTOMER, 0), "orders": entries})
    assert listing_of(store) == newest_first(range(9))  # in both places, listed once

    restarted = ReadModelStore(mongo_db, listing_max=10)
    for n in range(9, 32):
        restarted.documents.save_order(order(n))

    assert listing_of(restarted) == newest_first(range(32))
    listing = mongo_db["orders_by_customer"].find_one({"_id": CUSTOMER})
    assert listing["archived"] >= 2
    assert len(listing["orders"]) <= 20


def test_two_replicas_writing_versions_of_the_same_orders_at_once_leave_the_newest_once(
    mongo_db: Database,  # type: ignore[type-arg]
) -> None:
    a, b = replica(mongo_db), replica(mongo_db)
    numbers = range(30)

    for n in numbers:  # a takes the first and last change of each order, b the one between
        at_once(
            lambda n=n: (
                a.documents.save_order(order(n, version=1)),
                a.documents.save_order(order(n, version=3)),
            ),
            lambda n=n: b.documents.save_order(order(n, version=2)),
        )

    documents = {d["_id"]: d for d in mongo_db["orders"].find({})}
    assert {d["version"] for d in documents.values()} == {3}
    assert all(len(d[APPLIED]) == len(set(d[APPLIED])) for d in documents.values())  # none twice
    assert all(d["status"] == "cancelled" for d in documents.values())
    assert listing_of(a) == newest_first(numbers)


def test_two_replicas_moving_one_customers_listing_at_once_lose_no_order(mongo_db: Database) -> None:  # type: ignore[type-arg]
    a, b = replica(mongo_db, listing_max=10), replica(mongo_db, listing_max=10)

    at_once(
        lambda: [a.documents.save_order(order(n)) for n in range(0, 80, 2)],
        lambda: [b.documents.save_order(order(n)) for n in range(1, 80, 2)],
    )

    assert listing_of(a) == newest_first(range(80))
    assert listing_of(b) == newest_first(range(80))


class NoSidecar:
    """Every snapshot an event needs is known to the store: nothing is asked of other services."""

    async def invoke(self, *args: Any, **kwargs: Any) -> httpx.Response:
        raise AssertionError(f"unexpected call {args}")


def deliver(store: ReadModelStore, topic: str, event_type: str, data: dict[str, Any], event_id: str) -> str:
    envelope = {"id": event_id, "type": event_type, "data": data}
    return asyncio.run(handle(NoSidecar(), store, topic, envelope))  # type: ignore[arg-type]


def test_a_replica_holding_an_old_name_in_memory_does_not_write_it_over_a_rename(
    mongo_db: Database,  # type: ignore[type-arg]
) -> None:
    a, b = replica(mongo_db), replica(mongo_db)
    ann = {"id": CUSTOMER, "name": "Ann", "email": "ann@example.com", "version": 1}
    lamp = {"id": "p1", "name": "Lamp", "seller_id": "s1", "version": 1}
    assert deliver(a, "customers", "customer.registered", ann, "e1") == "SUCCESS"
    assert deliver(a, "products", "product.created", lamp, "e2") == "SUCCESS"
    placed = {
        "id": "o1",
        "customer_id": CUSTOMER,
        "status": "pending",
        "items": [{"product_id": "p1", "quantity": 1, "unit_price_cents": 100}],
        "total_cents": 100,
        "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z",
        "version": 1,
    }
    assert deliver(a, "orders", "order.created", placed, "e3") == "SUCCESS"  # a holds "Ann"

    # The rename goes to the other replica, which rewrites the documents there are.
    renamed = {**ann, "name": "Bea", "version": 2}
    assert deliver(b, "customers", "customer.updated", renamed, "e4") == "SUCCESS"
    confirmed = {**placed, "status": "confirmed", "version": 2, "updated_at": "2026-12-01T00:00:01Z"}
    assert deliver(a, "orders", "order.confirmed", confirmed, "e5") == "SUCCESS"
    second = {**placed, "id": "o2", "created_at": "2026-12-01T00:01:00Z"}
    assert deliver(a, "orders", "order.created", second, "e6") == "SUCCESS"

    shown = {d["_id"]: d["customer"]["name"] for d in mongo_db["orders"].find({})}
    assert shown == {"o1": "Bea", "o2": "Bea"}


def test_of_two_renames_applied_at_once_by_two_replicas_the_newer_shows(mongo_db: Database) -> None:  # type: ignore[type-arg]
    a, b = replica(mongo_db), replica(mongo_db)
    for n in range(40):
        a.documents.save_order(order(n), {"customer": 1})

    at_once(
        lambda: a.documents.rename_customer(
            {"id": CUSTOMER, "name": "Bea", "email": "bea@example.com", "version": 3}
        ),
        lambda: b.documents.rename_customer(
            {"id": CUSTOMER, "name": "Cat", "email": "cat@example.com", "version": 2}
        ),
    )

    assert {d["customer"]["name"] for d in mongo_db["orders"].find({})} == {"Bea"}


def test_the_known_version_is_the_newest_any_replica_applied(mongo_db: Database) -> None:  # type: ignore[type-arg]
    """A price change applied by the other replica moves no renames counter, so a replica keeps
    the version before in memory (its name is still right); what it reports as known is the
    newest stored."""
    a, b = replica(mongo_db), replica(mongo_db)
    lamp = {"id": "p1", "name": "Lamp", "seller_id": "s1", "version": 1}
    assert deliver(a, "products", "product.created", lamp, "e1") == "SUCCESS"
    assert deliver(b, "products", "product.updated", {**lamp, "version": 2}, "e2") == "SUCCESS"

    assert a.snapshots.recall("product", ["p1"])["p1"]["version"] == 1
    assert asyncio.run(known_snapshot(a.snapshots, kind="product", entity_id="p1")).version == 2
