"""The notification inbox, in the service's own MariaDB database."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Engine, Index, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.exc import IntegrityError

from services.shared.db import Timestamp
from services.shared.timeutil import iso, utcnow

metadata = MetaData()

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),  # derived from the event: a redelivery collides
    Column("user_id", String(36), nullable=False),
    Column("type", String(32), nullable=False),
    Column("text", String(500), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("product_id", String(36), nullable=True),
    Column("quantity", Integer, nullable=True),
    # When the order changed (the event's own time): inbox order, oldest or newest first.
    Column("created_at", Timestamp, nullable=False),
    Column("read_at", Timestamp, nullable=True),
    # When this service stored it: what every replica's inbox follower looks for (fanout.py).
    Column("stored_at", Timestamp, nullable=True),
    Index("ix_notifications_user_stored", "user_id", "stored_at"),
)


def public(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A notification as clients see it (the recipient is implied)."""
    shown = {
        "id": row["id"],
        "type": row["type"],
        "text": row["text"],
        "order_id": row["order_id"],
        "created_at": iso(row["created_at"]),
        "read": row["read_at"] is not None,
    }
    if row["product_id"] is not None:
        shown.update(product_id=row["product_id"], quantity=row["quantity"])
    return shown


def _delivered(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A just-stored notification's recipient, and the notification as clients see it."""
    return row["user_id"], public(row)


class NotificationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_all(self, batch: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        """Stores one event's notifications in one transaction; returns those stored now (each
        as its recipient and what clients see), none when the event was stored before."""
        now = utcnow()
        rows = [
            {
                "id": n["id"],
                "user_id": n["user_id"],
                "type": n["type"],
                "text": n["text"],
                "order_id": n["order_id"],
                "product_id": n.get("product_id"),
                "quantity": n.get("quantity"),
                "created_at": n.get("created_at", now),
                "read_at": None,
                "stored_at": now,
            }
            for n in batch
        ]
        if not rows:
            return []
        try:
            with self.engine.begin() as conn:
                conn.execute(notifications.insert(), rows)
        except IntegrityError:
            # The event was delivered before: store whichever of its notifications are missing.
            return [stored for row in rows if (stored := self._add_one(row)) is not None]
        return [_delivered(row) for row in rows]

    def _add_one(self, row: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        try:
            with self.engine.begin() as conn:
                conn.execute(notifications.insert().values(**row))
        except IntegrityError:
            return None
        return _delivered(row)

    def unread(self, user_id: str) -> list[dict[str, Any]]:
        """A user's unread notifications, oldest first (what a connecting client is sent)."""
        query = (
            select(notifications)
            .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
            .order_by(notifications.c.created_at, notifications.c.id)
            .limit(1000)
        )
        with self.engine.connect() as conn:
            return [public(row._mapping) for row in conn.execute(query)]

    def stored_since(self, user_ids: list[str], since: datetime) -> list[tuple[str, dict[str, Any]]]:
        """Unread notifications stored since `since` for some users (recipient, what clients
        see), oldest first: what the inbox follower offers to this replica's connections (one
        read meanwhile is not sent again)."""
        query = (
            select(notifications)
            .where(
                notifications.c.user_id.in_(user_ids),
                notifications.c.stored_at >= since,
                notifications.c.read_at.is_(None),
            )
            .order_by(notifications.c.created_at, notifications.c.id)
            .limit(1000)
        )
        with self.engine.connect() as conn:
            return [_delivered(row._asdict()) for row in conn.execute(query)]

    def page(self, user_id: str, *, limit: int, offset: int) -> dict[str, Any]:
        mine = notifications.c.user_id == user_id
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(notifications)
                .where(mine)
                .order_by(notifications.c.created_at.desc(), notifications.c.id)
                .limit(limit)
                .offset(offset)
            ).all()
            total = conn.execute(select(func.count()).select_from(notifications).where(mine)).scalar_one()
            unread = conn.execute(
                select(func.count()).select_from(notifications).where(mine, notifications.c.read_at.is_(None))
            ).scalar_one()
        return {
            "items": [public(r._mapping) for r in rows],
            "total": total,
            "unread": unread,
            "limit": limit,
            "offset": offset,
        }

    def mark_read(self, user_id: str, notification_id: str, *, now: datetime | None = None) -> bool:
        """False when the user has no such notification (another user's is no different)."""
        with self.engine.begin() as conn:
            found = conn.execute(
                select(notifications.c.id).where(
                    notifications.c.id == notification_id, notifications.c.user_id == user_id
                )
            ).first()
            if found is None:
                return False
            conn.execute(
                update(notifications)
                .where(notifications.c.id == notification_id, notifications.c.read_at.is_(None))
                .values(read_at=now or utcnow())
            )
        return True
