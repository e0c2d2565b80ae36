"""The newest snapshot order-view has seen of each customer and product, in the database and in
memory, and the renames counter that tells every replica when what it holds may be outdated.

An order's customer and products are looked up in memory, not in FerretDB for every order. Several
replicas apply renames, so whichever applies one counts it (`read_model_meta`, `renames`) before
it rewrites the documents; a replica that sees the counter move forgets what it holds
(`renames_since_synced` says why no document keeps an old name).
"""

import threading
from collections import OrderedDict
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, OperationFailure

# Customers and products whose snapshots the process keeps in memory, each kind (a few hundred
# bytes each).
SNAPSHOTS_RECALLED = 10_000
# MongoDB's error code for a duplicate key: an upsert whose version guard did not match an
# existing document (it is as new or newer).
DUPLICATE_KEY = 11000
# The fields of a snapshot that are kept (an order document shows name, email and seller).
KEPT = ("name", "email", "seller_id", "version")


class Snapshots:
    """customers/products: `{_id, name, email | seller_id, version}`, the newest seen of each, so
    older events change nothing; meta: the shared renames counter."""

    def __init__(
        self,
        customers: Collection[dict[str, Any]],
        products: Collection[dict[str, Any]],
        meta: Collection[dict[str, Any]],
    ) -> None:
        self.collections = {"customer": customers, "product": products}
        self.meta = meta
        # The renames counter as this process last read it: the snapshots it holds show every
        # rename up to there (see renames_since_synced).
        self.renames_synced = 0
        # The snapshots read or kept lately, by kind and id. Forgotten whenever another replica
        # may have renamed one; a read begun before that is not kept (the generation moved).
        self._recalling = threading.Lock()
        self._generation = 0
        self._held: dict[str, OrderedDict[str, dict[str, Any]]] = {
            "customer": OrderedDict(),
            "product": OrderedDict(),
        }

    def remember(self, kind: str, snapshot: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        """Keeps a customer/product snapshot if it is newer than the one stored: whether it was,
        and the snapshot it replaced (None: the first one). One atomic write, guarded by version,
        so two replicas keeping two versions at once leave the newer."""
        held = self.recall(kind, [snapshot["id"]]).get(snapshot["id"])
        if held and held["version"] >= snapshot["version"]:  # memory is never ahead of the store
            return False, held
        fields: dict[str, Any] = {k: snapshot.get(k) for k in KEPT if k in snapshot}
        generation = self._generation
        try:
            previous = self.collections[kind].find_one_and_update(
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
        self._hold(kind, {"_id": snapshot["id"], **fields}, generation)
        return True, None if previous is None else {**previous, "id": previous["_id"]}

    def recall(self, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The snapshots of some customers or products held in memory; no database call, so
        the event loop asks here directly instead of through a worker thread."""
        with self._recalling:
            held = self._held[kind]
            return {entity_id: dict(held[entity_id]) for entity_id in ids if entity_id in held}

    def known(self, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The newest snapshots kept of some customers or products (unknown ones are missing):
        from memory, else from the database."""
        found = self.recall(kind, ids)
        for entity_id in ids:
            generation = self._generation
            if entity_id not in found and (doc := self.collections[kind].find_one({"_id": entity_id})):
                found[entity_id] = dict(self._hold(kind, doc, generation))
        return found

    def stored(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """The newest snapshot of one customer or product any replica has applied, from the
        database. Memory can be behind it: a replica forgets what it holds only on renames, so
        after another replica applied a price or stock change it still holds the version before
        (the same name and seller: no document it writes differs)."""
        doc = self.collections[kind].find_one({"_id": entity_id})
        return None if doc is None else {**doc, "id": doc["_id"]}

    def _hold(self, kind: str, doc: dict[str, Any], generation: int) -> dict[str, Any]:
        """Keeps a snapshot read or written in memory, unless a newer one is there already (a
        read that raced a newer write), or memory was forgotten since the read began."""
        snapshot = {**doc, "id": doc["_id"]}
        with self._recalling:
            if generation != self._generation:
                return snapshot
            held = self._held[kind]
            newer = held.get(doc["_id"])
            if newer is not None and newer.get("version", 0) > snapshot.get("version", 0):
                snapshot = newer
            held[doc["_id"]] = snapshot
            held.move_to_end(doc["_id"])
            while len(held) > SNAPSHOTS_RECALLED:
                held.popitem(last=False)
        return snapshot

    def forget(self) -> None:
        """Memory forgotten; the next lookups read the store."""
        with self._recalling:
            self._generation += 1
            for held in self._held.values():
                held.clear()

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
        self.forget()
        self.renames_synced = count
        return True
