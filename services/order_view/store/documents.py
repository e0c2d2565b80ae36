"""The order documents: each written only over an older version of itself, read one by one or a
page at a time, and renamed when a customer or product they show changes.

Every write that depends on what is stored is one atomic command with the version in its filter,
so of two replicas writing one document at once the older version changes nothing. Lookups are
by `_id` (FerretDB v1 answers `_id` from its primary key and scans the collection for any other
filter), except the two that must search: an admin's listing of every order and a product rename.
"""

import time
from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.order_view.store.listings import Listings

# The version of the customer and of each product whose names a document shows, by "customer"
# and by product id: a rename applies only to documents built from an older snapshot, so two
# replicas applying two renames at once leave the newer name.
SHOWN_VERSIONS = "shown_versions"
# Two fields are for observers, not readers. Every version written to the document, in order:
# the version guard makes a repeated one impossible, whichever replica writes, so one showing up
# means a change was applied twice (a broken guard); the fault tests count them
# (tests/e2e/traffic.py). A few integers per order: an order changes at most three times.
APPLIED = "applied_versions"
# And when this process last wrote the document (Unix time, seconds): how far the read model
# trails the orders service, readable after the fact (`make bench` reads it once the run is over
# instead of polling the collection while it measures). Both ride on the version-guarded write
# itself: a write of their own would cost FerretDB an operation per order.
PROJECTED = "projected_at"
# Fields of the stored document that are not the read model's shape.
HIDDEN = {"_id": 0, APPLIED: 0, PROJECTED: 0, SHOWN_VERSIONS: 0}
# How long a product rename may look for the orders that show the product: a scan on FerretDB v1,
# past the client's socket timeout, which is for the lookups by `_id` everywhere else.
RENAME_SCAN_TIMEOUT_S = 60
# MongoDB's error code for a collection that does not exist.
NAMESPACE_NOT_FOUND = 26


class OrderDocuments:
    """The `orders` collection (one document per order, `_id` its id) and the customers'
    listings that find them."""

    def __init__(self, collection: Collection[dict[str, Any]], listings: Listings) -> None:
        self.collection = collection
        self.listings = listings

    def order_versions(self, order_ids: list[str]) -> dict[str, int]:
        """Stored versions of some orders (absent ones are missing)."""
        return {order_id: version for order_id in order_ids if (version := self.order_version(order_id))}

    def order_version(self, order_id: str) -> int:
        found = self.collection.find_one({"_id": order_id}, {"version": 1})
        return int(found["version"]) if found else 0

    def save_order(self, document: dict[str, Any], shown_versions: dict[str, int] | None = None) -> bool:
        """Stores the document unless a newer (or the same) version is already there."""
        return self.save_orders([(document, shown_versions or {})]) == 1

    def save_orders(self, documents: list[tuple[dict[str, Any], dict[str, int]]]) -> int:
        """Stores each document newer than the stored one, with the snapshot versions it was
        built from; returns how many it stored.

        A new order joins its customer's listing before its document is written, so the view
        never holds an order its listing lacks, even if the process dies between the two writes
        (the redelivery then writes the document; the listing skips it until then)."""
        stored = {
            document["id"]: self.collection.find_one({"_id": document["id"]}, {"version": 1}) or {}
            for document, _ in documents
        }
        newer = [(d, v) for d, v in documents if stored[d["id"]].get("version", 0) < d["version"]]
        new_by_customer: dict[str, list[dict[str, Any]]] = {}
        for document, _ in newer:
            if not stored[document["id"]]:
                new_by_customer.setdefault(document["customer"]["id"], []).append(document)
        for customer_id, listed in new_by_customer.items():
            self.listings.add(customer_id, listed)
        return sum(self._write_if_newer(document, versions) for document, versions in newer)

    def _write_if_newer(self, document: dict[str, Any], shown_versions: dict[str, int]) -> bool:
        """One upsert guarded by the version: an as new or newer document stored meanwhile
        turns it into a duplicate-key refusal."""
        try:
            self.collection.update_one(
                {"_id": document["id"], "version": {"$lt": document["version"]}},
                {
                    "$set": {**document, SHOWN_VERSIONS: shown_versions, PROJECTED: time.time()},
                    "$push": {APPLIED: document["version"]},
                },
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        return self.collection.find_one({"_id": order_id}, HIDDEN)

    def list_orders(
        self, *, customer_id: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first. One customer's from their listing, each order by `_id`; all customers'
        (admins only) by a query, which FerretDB v1 answers by scanning."""
        if customer_id is not None:
            listed = self.listings.listed(customer_id)
            found = (self.collection.find_one({"_id": i}, HIDDEN) for i in listed[offset : offset + limit])
            # An order missing here was dropped with the collection and not rebuilt yet.
            return [document for document in found if document], len(listed)
        total = self.collection.count_documents({})
        cursor = self.collection.find({}, HIDDEN).sort([("created_at", DESCENDING), ("id", ASCENDING)])
        return list(cursor.skip(offset).limit(limit)), total

    def count_orders(self) -> int:
        """From the collection's statistics, not a count of its documents: FerretDB v1 counts
        by reading every one, which grows with the view; the statistics do not."""
        try:
            stats = list(self.collection.aggregate([{"$collStats": {"count": {}}}]))
        except OperationFailure as exc:
            if exc.code == NAMESPACE_NOT_FOUND:  # dropped, and nothing saved since
                return 0
            raise
        return int(stats[0]["count"]) if stats else 0

    def rename_customer(self, customer: dict[str, Any]) -> int:
        """Shows a customer's current name and email in every order of theirs built from an
        older snapshot, found through the customer's listing (by `_id`: a filter on
        `customer.id` scans every order on FerretDB)."""
        changed = 0
        for order_id in self.listings.listed(customer["id"]):
            changed += self.collection.update_one(
                {"_id": order_id, **_older(f"{SHOWN_VERSIONS}.customer", customer["version"])},
                {
                    "$set": {
                        "customer.name": customer["name"],
                        "customer.email": customer["email"],
                        f"{SHOWN_VERSIONS}.customer": customer["version"],
                    }
                },
            ).modified_count
        return changed

    def rename_product(self, product: dict[str, Any]) -> int:
        """Shows a product's current name in every order that contains it and was built from an
        older snapshot (prices stay).

        Each matching line is updated in place by its index (FerretDB v1 has neither arrayFilters
        nor the positional operator); an order's lines never change, so the indexes read hold."""
        changed = 0
        with pymongo.timeout(RENAME_SCAN_TIMEOUT_S):
            matches = list(
                self.collection.find({"items.product.id": product["id"]}, {"_id": 1, "items.product.id": 1})
            )
        version_field = f"{SHOWN_VERSIONS}.{product['id']}"
        for document in matches:
            updates: dict[str, Any] = {
                f"items.{index}.product.{field}": product.get(field)
                for index, item in enumerate(document["items"])
                if item["product"]["id"] == product["id"]
                for field in ("name", "seller_id")
            }
            if updates:
                changed += self.collection.update_one(
                    {"_id": document["_id"], **_older(version_field, product["version"])},
                    {"$set": {**updates, version_field: product["version"]}},
                ).modified_count
        return changed


def _older(field: str, version: int) -> dict[str, Any]:
    """A filter for documents whose `field` is below `version`, or missing (built before it was
    kept)."""
    return {"$or": [{field: {"$lt": version}}, {field: {"$exists": False}}]}
