"""A customer's order listing in order-view stays bounded: past `listing_max` entries it moves to
an archive document, and "my orders" still lists every order once, newest first; snapshots held
in memory spare their reads. An in-memory stand-in for the few MongoDB calls the store makes
(by `_id` only) replaces FerretDB."""

import copy
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from services.order_view.store import ReadModelStore, archive_id

CUSTOMER = "6a1d9a59-2b0e-4a43-9c1e-0b9a3f3c2d10"
START = datetime(2026, 12, 1, tzinfo=UTC)


class Collection:
    """What ReadModelStore uses of a pymongo collection, for filters on `_id`."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.fail_next_set = False
        self.largest_orders = 0  # the longest `orders` array ever written to one document
        self.reads = 0

    def find_one(self, query: dict[str, Any], projection: Any = None) -> dict[str, Any] | None:
        self.reads += 1
        found = self.docs.get(query["_id"])
        return copy.deepcopy(found) if found is not None else None

    def replace_one(self, query: dict[str, Any], document: dict[str, Any], upsert: bool = False) -> None:
        self._store(query["_id"], copy.deepcopy(document))

    def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> Any:
        doc = copy.deepcopy(self.docs.get(query["_id"], {"_id": query["_id"]}))
        for field, spec in update.get("$addToSet", {}).items():
            values = doc.setdefault(field, [])
            values += [v for v in spec["$each"] if v not in values]
        if "$set" in update:
            if self.fail_next_set:  # the process dies before this write
                self.fail_next_set = False
                raise ConnectionError("gone")
            for path, value in update["$set"].items():
                *parents, last = path.split(".")
                target = doc
                for name in parents:
                    target = target[int(name)] if isinstance(target, list) else target[name]
                target[last] = copy.deepcopy(value)
        self._store(query["_id"], doc)
        return SimpleNamespace(modified_count=1)

    def _store(self, key: str, doc: dict[str, Any]) -> None:
        self.docs[key] = doc
        self.largest_orders = max(self.largest_orders, len(doc.get("orders", [])))


class Database(dict[str, Collection]):
    def __missing__(self, name: str) -> Collection:
        self[name] = Collection()
        return self[name]


def order(n: int, *, customer: str = CUSTOMER) -> dict[str, Any]:
    return {
        "id": f"order-{n:04d}",
        "customer": {"id": customer, "name": "Ann", "email": "ann@example.com"},
        "created_at": (START + timedelta(minutes=n)).isoformat().replace("+00:00", "Z"),
        "status": "confirmed",
        "version": 2,
    }


def listing_of(store: ReadModelStore, customer: str = CUSTOMER) -> list[str]:
    items, total = store.list_orders(customer_id=customer, limit=10_000, offset=0)
    assert total == len(items)
    return [item["id"] for item in items]


def newest_first(numbers: range) -> list[str]:
    return [order(n)["id"] for n in reversed(numbers)]


def test_a_listing_moves_to_archives_and_still_lists_every_order_newest_first() -> None:
    db = Database()
    store = ReadModelStore(db, listing_max=10)  # type: ignore[arg-type]

    for n in range(35):
        assert store.save_order(order(n))

    listings = db["orders_by_customer"]
    assert listings.largest_orders <= 10
    assert listings.docs[CUSTOMER]["archived"] == 3
    assert [len(listings.docs[archive_id(CUSTOMER, i)]["orders"]) for i in range(3)] == [10, 10, 10]
    assert listing_of(store) == newest_first(range(35))
    page, total = store.list_orders(customer_id=CUSTOMER, limit=5, offset=8)
    assert total == 35
    assert [item["id"] for item in page] == newest_first(range(35))[8:13]


def test_a_page_of_a_rebuild_lists_a_customer_once_and_a_redelivery_adds_nothing() -> None:
    db = Database()
    store = ReadModelStore(db, listing_max=10)  # type: ignore[arg-type]

    assert store.save_orders([order(n) for n in reversed(range(25))]) == 25  # newest first
    assert not store.save_order(order(3))  # the same version again

    assert listing_of(store) == newest_first(range(25))


def test_a_move_cut_short_loses_nothing_and_lists_nothing_twice() -> None:
    db = Database()
    store = ReadModelStore(db, listing_max=10)  # type: ignore[arg-type]
    for n in range(9):
        store.save_order(order(n))

    db["orders_by_customer"].fail_next_set = True  # the archive is written, the listing not emptied
    with pytest.raises(ConnectionError):
        store.save_order(order(9))
    items, total = store.list_orders(customer_id=CUSTOMER, limit=100, offset=0)
    assert total == 10  # listed, and its document not written yet: skipped until then
    assert [item["id"] for item in items] == newest_first(range(9))

    restarted = ReadModelStore(db, listing_max=10)  # type: ignore[arg-type]
    assert restarted.save_order(order(9))  # the redelivery writes the document
    for n in range(10, 22):
        restarted.save_order(order(n))

    assert listing_of(restarted) == newest_first(range(22))
    assert db["orders_by_customer"].largest_orders <= 20


def test_a_renamed_customer_shows_the_new_name_in_archived_orders_too() -> None:
    db = Database()
    store = ReadModelStore(db, listing_max=10)  # type: ignore[arg-type]
    for n in range(25):
        store.save_order(order(n))

    changed = store.rename_customer({"id": CUSTOMER, "name": "Ann B.", "email": "annb@example.com"})

    assert changed == 25
    assert {d["customer"]["name"] for d in db["orders"].docs.values()} == {"Ann B."}


def test_a_snapshot_held_in_memory_is_compared_without_a_read_and_an_older_one_changes_nothing() -> None:
    db = Database()
    store = ReadModelStore(db, listing_max=10)  # type: ignore[arg-type]
    product = {"id": "p1", "name": "Lamp", "seller_id": "s1", "version": 3}
    assert store.remember("product", product)  # unknown: looked up once
    reads = db["products"].reads

    assert not store.remember("product", {**product, "name": "Old lamp", "version": 2})
    assert store.remember("product", {**product, "name": "Desk lamp", "version": 4})

    assert db["products"].reads == reads
    assert db["products"].docs["p1"]["name"] == "Desk lamp"
    restarted = ReadModelStore(db, listing_max=10)  # type: ignore[arg-type]
    assert not restarted.remember("product", {**product, "version": 4})  # nothing held: read
    assert db["products"].reads == reads + 1
