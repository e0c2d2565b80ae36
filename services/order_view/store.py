"""order-view's MongoDB collections, behind a small repository (works on MongoDB and FerretDB)."""

from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError


class ReadModelStore:
    """Owns the `processed_events` inbox: one document per CloudEvent id applied."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.db = db
        self.processed = db["processed_events"]

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

    def record_event(self, *, event_id: str, topic: str, event_type: str, entity_id: str | None) -> bool:
        """Stores the event id; False when it was already there (a redelivery)."""
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

    def find_events(self, *, event_type: str, entity_id: str | None, limit: int) -> list[dict[str, Any]]:
        """Applied events of one type (for one entity), oldest first."""
        query: dict[str, Any] = {"type": event_type}
        if entity_id is not None:
            query["entity_id"] = entity_id
        return list(self.processed.find(query).sort("received_at", 1).limit(limit))

    def ensure_indexes(self) -> None:
        self.processed.create_index([("type", 1), ("entity_id", 1)])
