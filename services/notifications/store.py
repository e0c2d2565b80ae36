"""The notification inbox in the service's own MongoDB database (FerretDB locally)."""

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure


class NotificationStore:
    """One document per notification: `_id` is derived from the event, so a redelivered event
    maps to the same ids and is stored (and pushed) once."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.db = db
        self.notifications = db["notifications"]

    @classmethod
    def connect(cls, url: str, database: str, *, timeout_ms: int) -> "NotificationStore":
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
        failed = []
        for keys in (
            [("user_id", ASCENDING), ("created_at", DESCENDING)],
            [("user_id", ASCENDING), ("read", ASCENDING)],
        ):
            try:
                self.notifications.create_index(keys)
            except OperationFailure as exc:
                failed.append(f"{keys}: {exc}")
        return failed

    def add(self, notification: dict[str, Any]) -> bool:
        """Stores a notification; False when it was stored before (a redelivered event)."""
        try:
            self.notifications.insert_one({"_id": notification["id"], **notification, "read": False})
        except DuplicateKeyError:
            return False
        return True

    def unread(self, user_id: str) -> list[dict[str, Any]]:
        """A user's unread notifications, oldest first (what a connecting client is sent)."""
        cursor = self.notifications.find(
            {"user_id": user_id, "read": False}, {"_id": 0, "user_id": 0, "read": 0}
        )
        return list(cursor.sort([("created_at", ASCENDING), ("id", ASCENDING)]))

    def page(self, user_id: str, *, limit: int, offset: int) -> dict[str, Any]:
        query = {"user_id": user_id}
        items = list(
            self.notifications.find(query, {"_id": 0, "user_id": 0})
            .sort([("created_at", DESCENDING), ("id", ASCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return {
            "items": items,
            "total": self.notifications.count_documents(query),
            "unread": self.notifications.count_documents({"user_id": user_id, "read": False}),
            "limit": limit,
            "offset": offset,
        }

    def mark_read(self, user_id: str, notification_id: str) -> bool:
        """False when the user has no such notification (another user's is no different)."""
        result = self.notifications.update_one(
            {"_id": notification_id, "user_id": user_id}, {"$set": {"read": True, "read_at": _now()}}
        )
        return result.matched_count == 1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
