"""Connected WebSocket clients: per-user sets of connections, each with a bounded send queue.

A push never waits on a client: it only enqueues. Each connection drains its own queue, so one
slow or dead client holds back nobody else; one that falls `send_queue_size` messages behind is
disconnected (close code 1013) and catches up from the inbox when it reconnects.

A user has at most `max_per_user` connections on one replica: a new one beyond that replaces the
oldest, which is closed with TOO_MANY_CONNECTIONS (a browser's forgotten tab gives way to the tab
in use; a script opening hundreds holds no more than the limit). The same bound holds across
replicas, per user and per address, through leases in Redis (leases.py), which evict a
connection here by its lease (`evict`).

A notification can be offered to a connection more than once (the replica that stored it pushes
it, and every replica's inbox follower offers what was stored lately): each connection takes an
id once.
"""

import asyncio
import logging
from collections import OrderedDict, defaultdict
from typing import Any

from prometheus_client import Counter
from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

# What reached the WebSockets (beside services/shared/metrics.py's events handled): sent, or
# refused by a client too slow to keep up (it is disconnected and reads them from its inbox).
PUSHED = Counter(
    "shop_notifications_pushed",
    "Notifications pushed to a WebSocket (sent), or refused by a client too far behind (overflowed)",
    ["outcome"],
)
for _outcome in ("sent", "overflowed"):  # both series from the start: a rate answers 0, not nothing
    PUSHED.labels(_outcome)

TOO_SLOW = 1013  # "try again later": reconnect, the inbox has everything
# The application's own code (4000-4999), after HTTP's 429: a newer connection of the same user
# took this one's place. A client should not reconnect on it (it would close the newer one).
TOO_MANY_CONNECTIONS = 4429
# Ids a connection remembers having taken: far more than the inbox follower can offer again
# within its look-back window.
REMEMBERED = 4096


class Connection:
    def __init__(self, websocket: WebSocket, user_id: str, queue_size: int) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)
        self._taken: OrderedDict[str, None] = OrderedDict()
        # Live notifications wait here until the unread backlog is queued, so the client
        # gets its inbox oldest first, then what happened since.
        self._early: list[dict[str, Any]] | None = []
        self.overflowed = asyncio.Event()
        self.replaced = asyncio.Event()  # a newer connection of the user took its place
        self.lease: str | None = None  # its place across replicas (leases.py), once taken

    def offer(self, notification: dict[str, Any]) -> None:
        if self._early is not None:
            self._early.append(notification)
            return
        if notification["id"] in self._taken:
            return
        try:
            self.queue.put_nowait(notification)
        except asyncio.QueueFull:
            self.overflowed.set()
            PUSHED.labels("overflowed").inc()
            return
        self._taken[notification["id"]] = None
        if len(self._taken) > REMEMBERED:
            self._taken.popitem(last=False)

    def start_with(self, backlog: list[dict[str, Any]]) -> None:
        """Queues the unread backlog, then whatever arrived while it was being read."""
        early, self._early = self._early or [], None
        for notification in [*backlog, *early]:
            self.offer(notification)

    async def pump(self) -> None:
        """Sends queued notifications in the order they were queued."""
        while True:
            notification = await self.queue.get()
            await self.websocket.send_json({"event": "notification", "data": notification})
            PUSHED.labels("sent").inc()


class Hub:
    def __init__(self, max_per_user: int = 5) -> None:
        self.max_per_user = max_per_user
        # Each user's connections oldest first (a dict keeps the order they were added in).
        self._by_user: dict[str, dict[Connection, None]] = defaultdict(dict)

    def add(self, connection: Connection) -> list[Connection]:
        """Adds a connection; returns the user's oldest ones it replaced (their `replaced` set),
        for the caller to close."""
        connections = self._by_user[connection.user_id]
        connections[connection] = None
        replaced = list(connections)[: max(0, len(connections) - self.max_per_user)]
        for old in replaced:
            del connections[old]
            old.replaced.set()
        return replaced

    def evict(self, lease: str) -> None:
        """A newer connection, here or on another replica, took the place of the one holding
        this lease (leases.LeaseKeeper): it is closed like one replaced here."""
        for connections in self._by_user.values():
            for connection in connections:
                if connection.lease == lease:
                    connection.replaced.set()
                    return

    def remove(self, connection: Connection) -> None:
        connections = self._by_user.get(connection.user_id)
        if connections is not None:
            connections.pop(connection, None)
            if not connections:
                del self._by_user[connection.user_id]

    def push(self, user_id: str, notification: dict[str, Any]) -> int:
        """Offers a notification to every connection of a user; returns how many there are."""
        connections = list(self._by_user.get(user_id, ()))
        for connection in connections:
            connection.offer(notification)
        return len(connections)

    def users(self) -> list[str]:
        """Users with at least one connection here."""
        return list(self._by_user)

    def connection_count(self) -> int:
        return sum(len(c) for c in self._by_user.values())
