"""The rebuild's one shared document (`read_model_meta`, `rebuild`): who runs it and until when
(the lease), how many passes were asked for and served, and the progress every replica reports.
Written by atomic commands only, so the replicas need no lock of their own
(services/order_view/rebuild.py tells how they use it)."""

import time
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

REBUILD = {"_id": "rebuild"}


class RebuildState:
    """The rebuild's document in `read_model_meta`."""

    def __init__(self, meta: Collection[dict[str, Any]]) -> None:
        self.meta = meta

    def read(self) -> dict[str, Any]:
        return self.meta.find_one(REBUILD) or {}

    def ask(self) -> dict[str, Any]:
        """Counts a request for a complete pass; the document as it was before."""
        before = self.meta.find_one_and_update(
            REBUILD, {"$inc": {"requested": 1}}, upsert=True, return_document=ReturnDocument.BEFORE
        )
        return before or {}

    def ask_unless_asked(self, seen: dict[str, Any]) -> bool:
        """Counts a request only if none was counted since `seen` was read (compare and set on
        the count): replicas starting together ask once between them. Whether it counted."""
        requested = seen.get("requested")
        unchanged = {"requested": requested} if requested is not None else {"requested": {"$exists": False}}
        try:
            counted = self.meta.update_one({**REBUILD, **unchanged}, {"$inc": {"requested": 1}}, upsert=True)
        except DuplicateKeyError:  # another replica created the document first: it asked
            return False
        return counted.modified_count == 1 or counted.upserted_id is not None

    def claim(self, owner: str, *, lease_s: float, progress: dict[str, Any]) -> bool:
        """Takes the rebuild if it is free or its holder's lease ran out, and records `progress`
        in the same write (so no replica reports the last pass's "done" meanwhile)."""
        now = time.time()
        taken = self.meta.update_one(
            {**REBUILD, "$or": [{"lease_until": {"$lt": now}}, {"lease_until": {"$exists": False}}]},
            {"$set": {"owner": owner, "lease_until": now + lease_s, **progress}},
        )
        return taken.modified_count == 1

    def renew(self, owner: str, *, lease_s: float, **progress: Any) -> dict[str, Any] | None:
        """Extends the owner's lease and records progress (a `lease_until` among it wins); the
        document after, or None when the owner lost the claim."""
        return self.meta.find_one_and_update(
            {**REBUILD, "owner": owner},
            {"$set": {"lease_until": time.time() + lease_s, **progress}},
            return_document=ReturnDocument.AFTER,
        )

    def release(self, owner: str) -> None:
        """Ends the owner's lease now, so another replica takes over at once."""
        self.meta.update_one({**REBUILD, "owner": owner}, {"$set": {"lease_until": 0}})
