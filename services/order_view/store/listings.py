"""Each customer's order ids, newest first: one listing document per customer and its archives.

FerretDB v1 scans a collection for any filter but `_id`, so "a customer's orders" is kept
addressable by `_id`: the listing is `<customer id>`, its archives `<customer id>#<n>`. Writing an
order costs the same whatever the customer's history, because a full listing moves to an archive
(FerretDB v1 reads and writes a whole document at a cost per array element: docs/performance.md,
What limits it).
"""

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

# A customer's listing document holds at most this many orders; then they move, as they are, to
# an archive document of their own and the listing starts empty again.
LISTING_MAX = 200
# Customers whose listing growth the process counts (a few dozen bytes each); one it forgot
# counts again from zero, so its listing grows to at most twice LISTING_MAX before it moves.
LISTINGS_COUNTED = 10_000


class Listings:
    """The `orders_by_customer` collection: `{_id: customer id, orders: [entry...], archived: n}`
    and the n archives before it, each entry one string, "<created_at> <order id>"."""

    def __init__(self, collection: Collection[dict[str, Any]], *, listing_max: int = LISTING_MAX) -> None:
        self.collection = collection
        self.listing_max = listing_max
        # Entries this process added to each customer's listing since it last moved to an
        # archive (or since this process started): a lower bound, read again before a move.
        self._growth: OrderedDict[str, int] = OrderedDict()
        self._counting = threading.Lock()

    def add(self, customer_id: str, documents: list[dict[str, Any]]) -> None:
        """Adds orders to a customer's listing in one write, without reading it: FerretDB v1
        spends time per array element on every read and every write of a document, so a read
        and a rewrite of a long listing would cost more the more orders the customer has.
        `$addToSet`: an order listed already (a redelivery) is not listed twice. Each entry is
        one string: FerretDB v1 reads and writes an array of strings much faster than one of
        {id, created_at} documents (the listings' first format). A listing that reached
        `listing_max` entries moves to an archive (read once, then)."""
        entries = [f"{d['created_at']} {d['id']}" for d in documents]
        self.collection.update_one(
            {"_id": customer_id},
            {"$addToSet": {"orders": {"$each": entries}}, "$setOnInsert": {"archived": 0}},
            upsert=True,
        )
        with self._counting:
            growth = self._growth.pop(customer_id, 0) + len(entries)
            self._growth[customer_id] = growth
            while len(self._growth) > LISTINGS_COUNTED:
                self._growth.popitem(last=False)
        if growth >= self.listing_max:
            self._archive(customer_id)

    def _archive(self, customer_id: str) -> None:
        """Moves a full listing's entries to the customer's next archive. Whoever inserts archive
        n (a unique `_id`) moves those entries; the listing then drops exactly them and counts
        the archive, only if no one counted it first. A replica that finds archive n written
        (by another, or by one that died before the second step) finishes that move instead.
        Entries added meanwhile stay in the listing; one in both for a moment is listed once."""
        listing = self.collection.find_one({"_id": customer_id}) or {}
        entries = listing.get("orders", [])
        with self._counting:
            self._growth[customer_id] = len(entries)  # what is there, not what was counted
        if len(entries) < self.listing_max:  # moved meanwhile, or the view rebuilt: not full yet
            return
        number = int(listing.get("archived", 0))
        try:
            self.collection.insert_one({"_id": archive_id(customer_id, number), "orders": entries})
        except DuplicateKeyError:
            entries = (self.collection.find_one({"_id": archive_id(customer_id, number)}) or {}).get(
                "orders", []
            )
        counted: dict[str, Any] = (
            {"archived": number} if "archived" in listing else {"archived": {"$exists": False}}
        )
        self.collection.update_one(
            {"_id": customer_id, **counted},
            {"$pullAll": {"orders": entries}, "$set": {"archived": number + 1}},
        )
        with self._counting:
            self._growth[customer_id] = 0

    def listed(self, customer_id: str) -> list[str]:
        """A customer's order ids, newest first: the listing's and every archive's, each by
        `_id` (an archive holds older orders mostly, not only: a rebuild lists newest first)."""
        listing = self.collection.find_one({"_id": customer_id}) or {}
        entries = list(listing.get("orders", []))
        for number in range(int(listing.get("archived", 0))):
            archive = self.collection.find_one({"_id": archive_id(customer_id, number)})
            entries += archive["orders"] if archive else []
        return listed_ids(entries)


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
