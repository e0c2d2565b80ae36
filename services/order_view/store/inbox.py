"""What order-view received: the ids of the events it applied (the inbox), and the events a
subscriber could not apply (dead letters), kept until a replay applies them.

Both are written by one insert of a unique `_id`, so a redelivery, on any replica, is told
apart without a read first.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError


class Inbox:
    """processed_events: `{_id: event id, topic, type, entity_id, received_at}`."""

    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self.collection = collection

    def record_event(self, *, event_id: str, topic: str, event_type: str, entity_id: str | None) -> bool:
        """Stores an applied event's id; False when it was already there (a redelivery)."""
        try:
            self.collection.insert_one(
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
        return self.collection.find_one({"_id": event_id})

    def find_events(self, *, event_type: str, entity_ids: list[str], limit: int) -> list[dict[str, Any]]:
        """Applied events of one type (for some entities), oldest first."""
        query: dict[str, Any] = {"type": event_type}
        if entity_ids:
            query["entity_id"] = {"$in": entity_ids}
        return list(self.collection.find(query).sort("received_at", 1).limit(limit))


class DeadLetters:
    """dead_letters: `{_id: "<subscriber>:<event id>", subscriber, envelope, received_at,
    replays, last_replay}`."""

    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self.collection = collection

    def keep_dead_letter(self, envelope: dict[str, Any], *, subscriber: str) -> bool:
        """Keeps an event a subscriber could not apply (once per subscriber and event id)."""
        try:
            self.collection.insert_one(
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
        total = self.collection.count_documents({})
        found = self.collection.find({}).sort("received_at", DESCENDING).skip(offset).limit(limit)
        return {"items": [_summary(d) for d in found], "total": total, "limit": limit, "offset": offset}

    def dead_letters_to_replay(self, ids: list[str] | None, *, limit: int) -> list[dict[str, Any]]:
        """Some dead letters by id, or the oldest ones: what a replay works through."""
        if ids is not None:
            return list(self.collection.find({"_id": {"$in": ids}}))
        return list(self.collection.find({}).sort("received_at", ASCENDING).limit(limit))

    def count_dead_letters(self) -> int:
        return self.collection.count_documents({})

    def forget_dead_letter(self, letter_id: str) -> None:
        """The subscriber applied it on replay: nothing left to keep."""
        self.collection.delete_one({"_id": letter_id})

    def note_failed_replay(self, letter_id: str, reason: str) -> None:
        self.collection.update_one(
            {"_id": letter_id},
            {"$inc": {"replays": 1}, "$set": {"last_replay": {"at": datetime.now(UTC), "outcome": reason}}},
        )


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
