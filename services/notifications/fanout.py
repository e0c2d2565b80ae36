"""Fan-out between replicas: a WebSocket lives on one replica, while the event that notifies its
user may be consumed by another. Every replica follows the inbox for the users connected to it.

The replica that consumes an event stores the notifications, then pushes them to its own
connections at once. Every replica also looks, a few times a second, for notifications stored
lately for the users connected to it, and offers them to their connections (which take an id
once, hub.Connection). The inbox is the backplane: the same database that makes a notification
durable tells the other replicas about it, with no broker-specific per-replica queues (the
broker stays a component swap), and a replica that dies after storing loses no push.

A look covers `lookback_s`, not just the time since the previous one: a row is dated when its
transaction writes it but seen only once that commits, so a look from "last look" would miss
rows committed late. After looks that failed (the database restarting), the next one reaches
back from the last look that succeeded, so an outage longer than `lookback_s` hides nothing. A
look costs one indexed query, and none when nobody is connected here.
"""

from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from services.notifications.hub import Hub
from services.notifications.store import NotificationStore
from services.shared.periodic import Periodic
from services.shared.timeutil import utcnow


class InboxFollower:
    """Offers what any replica stored lately to this replica's connections."""

    def __init__(self, store: NotificationStore, hub: Hub, *, every_s: float, lookback_s: float) -> None:
        self.store = store
        self.hub = hub
        self.lookback = timedelta(seconds=lookback_s)
        self._last_seen: datetime | None = None  # when the last successful look started
        # A database restarting fails a look; the next one catches up (it looks back).
        self._loop = Periodic("inbox follower", self.look, every_s=every_s, transient=(SQLAlchemyError,))

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def look(self) -> int:
        """Offers the notifications stored within the look-back window; returns how many."""
        started = utcnow()
        users = self.hub.users()
        if not users:
            self._last_seen = started
            return 0
        since = min(started, self._last_seen or started) - self.lookback
        found = await run_in_threadpool(self.store.stored_since, users, since)
        self._last_seen = started
        for user_id, notification in found:
            self.hub.push(user_id, notification)
        return len(found)
