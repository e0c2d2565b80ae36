"""order-view's MongoDB collections behind a small repository. Only what both MongoDB and
FerretDB v1 support: no transactions, no arrayFilters, no pipeline updates.

Several replicas write the same documents at once, so every write that depends on what is
stored is one atomic command guarded by a version in its filter (MongoDB applies a write to one
document atomically; the FerretDB build here does too, scripts/patches/ferretdb-*-2-*), and an
insert of a unique `_id` decides the rest. Customers' and products' snapshots are held in
memory; a counter of renames, bumped by whichever replica applies one, tells every replica when
what it holds may show an outdated name.
"""

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure

# Every version written to an order's document, in order. The version guard in save_orders makes
# a repeated version impossible, whichever replica writes; one showing up means a change was
# applied twice (a broken guard). The fault tests count them (tests/e2e/traffic.py). A few
# integers per order: an order changes at most three times.
APPLIED = "applied_versions"
# The version of the customer and of each product whose names a document shows, by "customer"
# and by product id: a rename applies only to documents built from an older snapshot, so two
# replicas applying two renames at once leave the newer name.
SHOWN_VERSIONS = "shown_versions"
# When this process last wrote the document (Unix time, seconds): how far the read model trails
# the orders service, readable after the fact (`make bench` measures propagation from it
# instead of polling the collection while it measures).
PROJECTED = "projected_at"
# Customers and products whose snapshots the process keeps in memory, each kind (a few hundred
# bytes each).
SNAPSHOTS_RECALLED = 10_000
# A customer's listing document holds at most this many orders; then they move, as they are, to
# an archive document of their own ("<customer id>#<n>") and the listing starts empty again. So
# writing an order costs the same whatever the customer's history (FerretDB v1 reads and writes
# a whole document at a cost per array element: docs/performance.md, What limits it).
LISTING_MAX = 200
# Customers whose listing growth the process counts (a few dozen bytes each); one it forgot
# counts again from zero, so its listing grows to at most twice LISTING_MAX before it moves.
LISTINGS_COUNTED = 10_000
# How long a product rename may look for the orders that show the product.
RENAME_SCAN_TIMEOUT_S = 60
# MongoDB's error code for a collection that does not exist.
NAMESPACE_NOT_FOUND = 26
# Fields of the stored document that are not the read model's shape.
HIDDEN = {"_id": 0, APPLIED: 0, PROJECTED: 0, SHOWN_VERSIONS: 0}
# MongoDB's error code for a duplicate key: an upsert whose version guard did not match an
# existing document (it is as new or newer).
DUPLICATE_KEY = 11000


class ReadModelStore:
    """orders: the documents; orders_by_customer: each customer's order ids (a listing and its
    archives); customers/products: the newest snapshot seen of each (with its version), so older
    events change nothing; processed_events: ids of events applied."""

    def __init__(self, db: Database[dict[str, Any]], *, listing_max: int = LISTING_MAX) -> None:
        self.db = db
        self.listing_max = listing_max
        # The renames counter as this process last read it: the snapshots it holds show every
        # rename up to there (see renames_since).
        self.renames_synced = 0
        # The snapshots read or kept lately, by kind and id, so an order's customer and products
        # are looked up in FerretDB once, not for every order. Forgotten whenever another
        # replica may have renamed one; a read begun before that is not kept (generation).
        self._recalling = threading.Lock()
        self._generation = 0
        self._snapshots: dict[str, OrderedDict[str, dict[str, Any]]] = {
            "customer": OrderedDict(),
            "product": OrderedDict(),
        }
        self.orders = db["orders"]
        self.customers = db["customers"]
        self.products = db["products"]
        self.processed = db["processed_events"]
        self.dead_letters = db["dead_letters"]
        # Small documents shared by the replicas: the renames counter, the rebuild's lease.
        self.meta = db["read_model_meta"]
        # One document per customer listing their order ids, and its archives: FerretDB v1 scans
        # a collection for any filter but `_id`, so "a customer's orders, newest first" is kept
        # addressable by _id.
        self.by_customer = db["orders_by_customer"]
        # Entries this process added to each customer's listing since it last moved to an
        # archive (or since this process started): a lower bound, read again before a move.
        self._listing_growth: OrderedDict[str, int] = OrderedDict()
        self._counting = threading.Lock()

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
        wanted = [
            (self.orders, [("customer.id", ASCENDING), ("created_at", DESCENDING)]),
            (self.orders, [("created_at", DESCENDING)]),
            (self.orders, [("items.product.id", ASCENDING)]),
            (self.processed, [("type", ASCENDING), ("entity_id", ASCENDING)]),
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

    # --- orders -------------------------------------------------------------------------------

    def order_versions(self, order_ids: list[str]) -> dict[str, int]:
        """Stored versions of some orders (absent ones are missing)."""
        return {order_id: version for order_id in order_ids if (version := self.order_version(order_id))}

    def order_version(self, order_id: str) -> int:
        found = self.orders.find_one({"_id": order_id}, {"version": 1})
        return int(found["version"]) if found else 0

    def save_order(self, document: dict[str, Any], shown_versions: dict[str, int] | None = None) -> bool:
        """Stores the document unless a newer (or the same) version is already there."""
        return self.save_orders([(document, shown_versions or {})]) == 1

    def save_orders(self, documents: list[tuple[dict[str, Any], dict[str, int]]]) -> int:
        """Stores each document newer than the stored one, with the snapshot versions it was
        built from; returns how many it stored.

        Each by `_id` (FerretDB v1 answers `_id` lookups from its primary key but scans the
        collection for any other filter). A new order joins its customer's listing before its
        document is written, so the view never holds an order its listing lacks, even if the
        process dies between the two writes (the redelivery then writes the document; the
        listing skips it until then). The write itself is guarded by the version: of two
        replicas writing one order at once, the older version changes nothing."""
        stored = {
            document["id"]: self.orders.find_one({"_id": document["id"]}, {"version": 1}) or {}
            for document, _ in documents
        }
        newer = [(d, v) for d, v in documents if stored[d["id"]].get("version", 0) < d["version"]]
        new_by_customer: dict[str, list[dict[str, Any]]] = {}
        for document, _ in newer:
            if not stored[document["id"]]:
                new_by_customer.setdefault(document["customer"]["id"], []).append(document)
        for customer_id, listed in new_by_customer.items():
            self._list_for_customer(customer_id, listed)
        return sum(self._write_if_newer(document, versions) for document, versions in newer)

    def _write_if_newer(self, document: dict[str, Any], shown_versions: dict[str, int]) -> bool:
        try:
            self.orders.update_one(
                {"_id": document["id"], "version": {"$lt": document["version"]}},
                {
                    "$set": {**document, SHOWN_VERSIONS: shown_versions, PROJECTED: time.time()},
                    "$push": {APPLIED: document["version"]},
                },
                upsert=True,
            )
        except DuplicateKeyError:  # stored meanwhile, as new or newer
            return False
        return True

    def _list_for_customer(self, customer_id: str, documents: list[dict[str, Any]]) -> None:
        """Adds orders to a customer's listing in one write, without reading it: FerretDB v1
        spends ~50 us per array element on every read and every write of a document, so a
        read and a rewrite of the listing cost a customer with 200 orders ~20 ms per order.
        `$addToSet`: an order listed already (a redelivery) is not listed twice. Each entry is
        one string, "<created_at> <id>": FerretDB v1 reads and writes an array of strings ~2.5
        times faster than one of {id, created_at} documents (the listings' first format). A
        listing that reached `listing_max` entries moves to an archive (read once, then)."""
        entries = [f"{d['created_at']} {d['id']}" for d in documents]
        self.by_customer.update_one(
            {"_id": customer_id},
            {"$addToSet": {"orders": {"$each": entries}}, "$setOnInsert": {"archived": 0}},
            upsert=True,
        )
        with self._counting:
            growth = self._listing_growth.pop(customer_id, 0) + len(entries)
            self._listing_growth[customer_id] = growth
            while len(self._listing_growth) > LISTINGS_COUNTED:
                self._listing_growth.popitem(last=False)
        if growth >= self.listing_max:
            self._archive_listing(customer_id)

    def _archive_listing(self, customer_id: str) -> None:
        """Moves a full listing's entries to the customer's next archive. Whoever inserts archive
        n (a unique `_id`) moves those entries; the listing then drops exactly them and counts
        the archive, only if no one counted it first. A replica that finds archive n written
        (by another, or by one that died before the second step) finishes that move instead.
        Entries added meanwhile stay in the listing; one in both for a moment is listed once."""
        listing = self.by_customer.find_one({"_id": customer_id}) or {}
        entries = listing.get("orders", [])
        with self._counting:
            self._listing_growth[customer_id] = len(entries)  # what is there, not what was counted
        if len(entries) < self.listing_max:  # moved meanwhile, or the view rebuilt: not full yet
            return
        number = int(listing.get("archived", 0))
        try:
            self.by_customer.insert_one({"_id": archive_id(customer_id, number), "orders": entries})
        except DuplicateKeyError:
            entries = (self.by_customer.find_one({"_id": archive_id(customer_id, number)}) or {}).get(
                "orders", []
            )
        counted: dict[str, Any] = (
            {"archived": number} if "archived" in listing else {"archived": {"$exists": False}}
        )
        self.by_customer.update_one(
            {"_id": customer_id, **counted},
            {"$pullAll": {"orders": entries}, "$set": {"archived": number + 1}},
        )
        with self._counting:
            self._listing_growth[customer_id] = 0

    def _listed(self, customer_id: str) -> list[str]:
        """A customer's order ids, newest first: the listing's and every archive's, each by
        `_id` (an archive holds older orders mostly, not only: a rebuild lists newest first)."""
        listing = self.by_customer.find_one({"_id": customer_id}) or {}
        entries = list(listing.get("orders", []))
        for number in range(int(listing.get("archived", 0))):
            archive = self.by_customer.find_one({"_id": archive_id(customer_id, number)})
            entries += archive["orders"] if archive else []
        return listed_ids(entries)

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        return self.orders.find_one({"_id": order_id}, HIDDEN)

    def list_orders(
        self, *, customer_id: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first. One customer's from their listing document, each order by `_id`; all
        customers' (admins only) by a query, which FerretDB v1 answers by scanning."""
        if customer_id is not None:
            listed = self._listed(customer_id)
            found = (self.orders.find_one({"_id": i}, HIDDEN) for i in listed[offset : offset + limit])
            # An order missing here was dropped with the collection and not rebuilt yet.
            return [document for document in found if document], len(listed)
        total = self.orders.count_documents({})
        cursor = self.orders.find({}, HIDDEN).sort([("created_at", DESCENDING), ("id", ASCENDING)])
        return list(cursor.skip(offset).limit(limit)), total

    def count_orders(self) -> int:
        """From the collection's statistics, not a count of its documents: FerretDB v1 counts
        by reading every one, which grows with the view; the statistics do not."""
        try:
            stats = list(self.orders.aggregate([{"$collStats": {"count": {}}}]))
        except OperationFailure as exc:
            if exc.code == NAMESPACE_NOT_FOUND:  # dropped, and nothing saved since
                return 0
            raise
        return int(stats[0]["count"]) if stats else 0

    # --- customers and products: newest snapshot wins ----------------------------------------

    def remember(self, kind: str, snapshot: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        """Keeps a customer/product snapshot if it is newer than the one stored: whether it was,
        and the snapshot it replaced (None: the first one). One atomic write, guarded by version,
        so two replicas keeping two versions at once leave the newer."""
        held = self.recall(kind, [snapshot["id"]]).get(snapshot["id"])
        if held and held["version"] >= snapshot["version"]:  # memory is never ahead of the store
            return False, held
        collection = self.customers if kind == "customer" else self.products
        fields: dict[str, Any] = {
            k: snapshot.get(k) for k in ("name", "email", "seller_id", "version") if k in snapshot
        }
        generation = self._generation
        try:
            previous = collection.find_one_and_update(
                {"_id": snapshot["id"], "version": {"$lt": snapshot["version"]}},
                {"$set": fields},
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        except DuplicateKeyError:
            return False, None
        except OperationFailure as exc:  # some servers report the upsert's duplicate key so
            if exc.code == DUPLICATE_KEY:
                return False, None
            raise
        self._recall(kind, {"_id": snapshot["id"], **fields}, generation)
        return True, None if previous is None else {**previous, "id": previous["_id"]}

    def recall(self, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The snapshots of some customers or products held in memory; no database call, so
        the event loop asks here directly instead of through a worker thread."""
        with self._recalling:
            held = self._snapshots[kind]
            return {entity_id: dict(held[entity_id]) for entity_id in ids if entity_id in held}

    def known(self, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The newest snapshots kept of some customers or products (unknown ones are missing):
        from memory, else from the database."""
        collection = self.customers if kind == "customer" else self.products
        found = self.recall(kind, ids)
        for entity_id in ids:
            generation = self._generation
            if entity_id not in found and (doc := collection.find_one({"_id": entity_id})):
                found[entity_id] = dict(self._recall(kind, doc, generation))
        return found

    def _recall(self, kind: str, doc: dict[str, Any], generation: int) -> dict[str, Any]:
        """Keeps a snapshot read or written in memory, unless a newer one is there already (a
        read that raced a newer write), or memory was forgotten since the read began."""
        snapshot = {**doc, "id": doc["_id"]}
        with self._recalling:
            if generation != self._generation:
                return snapshot
            snapshots = self._snapshots[kind]
            held = snapshots.get(doc["_id"])
            if held is not None and held.get("version", 0) > snapshot.get("version", 0):
                snapshot = held
            snapshots[doc["_id"]] = snapshot
            snapshots.move_to_end(doc["_id"])
            while len(snapshots) > SNAPSHOTS_RECALLED:
                snapshots.popitem(last=False)
        return snapshot

    def note_rename(self) -> None:
        """Counts a rename, before the documents are rewritten: every replica that reads the
        counter after this knows its snapshots in memory may be outdated."""
        self.meta.update_one({"_id": "renames"}, {"$inc": {"n": 1}}, upsert=True)

    def renames_since_synced(self) -> bool:
        """Whether any replica counted a rename since this one last looked; if so, forgets the
        snapshots held in memory (they are read again from the store when next needed).

        A document written and then followed by this check cannot keep an outdated name: the
        rename's snapshot was stored before the counter moved, and its documents are rewritten
        after. Either the check sees the counter moved (and the writer renames its document
        from the stored snapshot), or the write came before the move, and so before the rename
        rewrote the customer's (or product's) documents, this one among them."""
        found = self.meta.find_one({"_id": "renames"}) or {}
        count = int(found.get("n", 0))
        if count == self.renames_synced:
            return False
        self.forget_snapshots()
        self.renames_synced = count
        return True

    def rename_customer(self, customer: dict[str, Any]) -> int:
        """Shows a customer's current name and email in every order of theirs built from an
        older snapshot, found through the customer's listing (by `_id`: a filter on
        `customer.id` scans every order on FerretDB)."""
        changed = 0
        for order_id in self._listed(customer["id"]):
            changed += self.orders.update_one(
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
        # A scan on FerretDB v1 (seconds on a large view): past the client's socket timeout,
        # which is for the lookups by `_id` everywhere else.
        with pymongo.timeout(RENAME_SCAN_TIMEOUT_S):
            matches = list(
                self.orders.find({"items.product.id": product["id"]}, {"_id": 1, "items.product.id": 1})
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
                changed += self.orders.update_one(
                    {"_id": document["_id"], **_older(version_field, product["version"])},
                    {"$set": {**updates, version_field: product["version"]}},
                ).modified_count
        return changed

    def forget_snapshots(self) -> None:
        """Memory forgotten; the next lookups read the store (tests, and the rebuild)."""
        with self._recalling:
            self._generation += 1
            for held in self._snapshots.values():
                held.clear()

    # --- inbox and progress --------------------------------------------------------------------

    def record_event(self, *, event_id: str, topic: str, event_type: str, entity_id: str | None) -> bool:
        """Stores an applied event's id; False when it was already there (a redelivery)."""
        try:
            self.processed.insert_one(
                {
                    "_id": event_id,
                    "topic": topic,
                    "type": event_type,
                    "entity_id": entity_id,
                    "received_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    def find_event(self, event_id: str) -> dict[str, Any] | None:
        return self.processed.find_one({"_id": event_id})

    def find_events(self, *, event_type: str, entity_ids: list[str], limit: int) -> list[dict[str, Any]]:
        """Applied events of one type (for some entities), oldest first."""
        query: dict[str, Any] = {"type": event_type}
        if entity_ids:
            query["entity_id"] = {"$in": entity_ids}
        return list(self.processed.find(query).sort("received_at", 1).limit(limit))

    def keep_dead_letter(self, envelope: dict[str, Any], *, subscriber: str) -> bool:
        """Keeps an event a subscriber could not apply (once per subscriber and event id)."""
        try:
            self.dead_letters.insert_one(
                {
                    "_id": dead_letter_id(subscriber, str(envelope.get("id"))),
                    "subscriber": subscriber,
                    "envelope": envelope,
                    "received_at": datetime.now(UTC),
                    "replays": 0,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    def list_dead_letters(self, *, limit: int, offset: int) -> dict[str, Any]:
        total = self.dead_letters.count_documents({})
        found = self.dead_letters.find({}).sort("received_at", DESCENDING).skip(offset).limit(limit)
        return {"items": [_summary(d) for d in found], "total": total, "limit": limit, "offset": offset}

    def dead_letters_to_replay(self, ids: list[str] | None, *, limit: int) -> list[dict[str, Any]]:
        """Some dead letters by id, or the oldest ones: what a replay works through."""
        if ids is not None:
            return list(self.dead_letters.find({"_id": {"$in": ids}}))
        return list(self.dead_letters.find({}).sort("received_at", ASCENDING).limit(limit))

    def count_dead_letters(self) -> int:
        return self.dead_letters.count_documents({})

    def forget_dead_letter(self, letter_id: str) -> None:
        """The subscriber applied it on replay: nothing left to keep."""
        self.dead_letters.delete_one({"_id": letter_id})

    def note_failed_replay(self, letter_id: str, reason: str) -> None:
        self.dead_letters.update_one(
            {"_id": letter_id},
            {"$inc": {"replays": 1}, "$set": {"last_replay": {"at": datetime.now(UTC), "outcome": reason}}},
        )


def _older(field: str, version: int) -> dict[str, Any]:
    """A filter for documents whose `field` is below `version`, or missing (built before it was
    kept)."""
    return {"$or": [{field: {"$lt": version}}, {field: {"$exists": False}}]}


def listed_ids(entries: list[str | dict[str, str]]) -> list[str]:
    """The orders of a listing, each once, as the orders service pages them: newest first, then
    by id. Entries are "<created_at> <id>" strings, or {id, created_at} documents in listings
    written before those (an order can then be listed in both forms)."""
    created: dict[str, datetime] = {}
    for entry in entries:
        if isinstance(entry, dict):
            at, order_id = entry["created_at"], entry["id"]
        else:
            at, _, order_id = entry.partition(" ")
        # Parsed: "...:00Z" sorts after "...:00.000001Z" as text (isoformat drops a zero fraction).
        created[order_id] = datetime.fromisoformat(at.removesuffix("Z"))
    return sorted(sorted(created), key=created.__getitem__, reverse=True)


def archive_id(customer_id: str, number: int) -> str:
    """A customer's listing archive: "<customer id>#<n>", n from 0 (customer ids are UUIDs)."""
    return f"{customer_id}#{number}"


def dead_letter_id(subscriber: str, event_id: str) -> str:
    return f"{subscriber}:{event_id}"


def _summary(letter: dict[str, Any]) -> dict[str, Any]:
    envelope = letter["envelope"]
    return {
        "id": letter["_id"],
        "subscriber": letter.get("subscriber", "order-view"),
        "event_id": envelope.get("id"),
        "type": envelope.get("type"),
        "source": envelope.get("source"),
        "time": envelope.get("time"),
        "data": envelope.get("data"),
        "received_at": letter["received_at"],
        "replays": letter.get("replays", 0),
        "last_replay": letter.get("last_replay"),
    }
