"""order-view's MongoDB database, one part per concern: the order documents and the customers'
listings (documents.py, listings.py), the customer and product snapshots with their memory
(snapshots.py), the inbox and dead letters (inbox.py), the rebuild's shared state
(rebuild_state.py).

Only what both MongoDB and FerretDB v1 support: no transactions, no arrayFilters, no pipeline
updates. Several replicas write the same documents at once, so every write that depends on what
is stored is one atomic command guarded by a version in its filter (MongoDB applies a write to one
document atomically; the FerretDB build here does too, scripts/patches/ferretdb-*-2-*), and an
insert of a unique `_id` decides the rest.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import OperationFailure

from services.order_view.store.documents import OrderDocuments
from services.order_view.store.inbox import DeadLetters, Inbox
from services.order_view.store.listings import LISTING_MAX, Listings
from services.order_view.store.rebuild_state import RebuildState
from services.order_view.store.snapshots import Snapshots


class ReadModelStore:
    """The database and its parts: `documents` (orders and orders_by_customer), `snapshots`
    (customers and products), `inbox` (processed_events), `dead_letters`, and `rebuild`.
    `snapshots` and `rebuild` each keep a small document every replica reads in
    `read_model_meta` (the renames counter, the rebuild's lease)."""

    def __init__(self, db: Database[dict[str, Any]], *, listing_max: int = LISTING_MAX) -> None:
        self.db = db
        meta = db["read_model_meta"]
        listings = Listings(db["orders_by_customer"], listing_max=listing_max)
        self.documents = OrderDocuments(db["orders"], listings)
        self.snapshots = Snapshots(db["customers"], db["products"], meta)
        self.inbox = Inbox(db["processed_events"])
        self.dead_letters = DeadLetters(db["dead_letters"])
        self.rebuild = RebuildState(meta)

    @classmethod
    def connect(cls, url: str, database: str, *, timeout_ms: int) -> "ReadModelStore":
        client: MongoClient[dict[str, Any]] = MongoClient(
            url,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms * 2,
        )
        return cls(client[database])

    def close(self) -> None:
        self.db.client.close()

    def ping(self) -> None:
        self.db.command("ping")

    def ensure_indexes(self) -> list[str]:
        """Indexes on what the reads and the event handlers query; returns those that failed.

        A failure is not fatal (the queries still work, only slower): FerretDB v1 refuses to
        re-create an index on a collection that was dropped and created again."""
        orders, processed = self.documents.collection, self.inbox.collection
        wanted = [
            (orders, [("customer.id", ASCENDING), ("created_at", DESCENDING)]),
            (orders, [("created_at", DESCENDING)]),
            (orders, [("items.product.id", ASCENDING)]),
            (processed, [("type", ASCENDING), ("entity_id", ASCENDING)]),
        ]
        failed = []
        for collection, keys in wanted:
            try:
                collection.create_index(keys)
            except OperationFailure as exc:
                failed.append(
                    f"{collection.name} {keys}: {exc.details.get('errmsg', exc) if exc.details else exc}"
                )
        return failed
