"""Transactional outbox: an event is written in the same DB transaction as the change it
describes, and a relay publishes it through the sidecar after commit.

Each service adds `outbox_table(metadata)` to its schema, calls `queue_event(conn, outbox, event)`
with an event of the catalogue (services/shared/integration_events.py) inside its write
transaction, and runs one `OutboxRelay` in its lifespan. The relay publishes rows in
insertion order, marks each sent only after the broker confirmed it, and backs off while the
broker (or the sidecar) is down, so an outage delays events but never loses them. The CloudEvent
id is the row's id: a consumer that sees it twice knows it is a redelivery. Each row keeps the
W3C traceparent of the request that wrote it, so its publish, though later and from a background
task, joins that request's trace.

Several replicas of a service each run a relay. A batch (read, publish, mark sent) is published
under the database's named lock, so batches never overlap: a row is published by one relay, and
rows go out in the order they were written (per entity too), as with one relay. Every replica's
relay is woken by its own commits and takes its turn; one killed mid-batch releases the lock
with its connection, and its unmarked rows are published again by the next (consumers
deduplicate by event id). Claiming rows instead (SELECT ... FOR UPDATE SKIP LOCKED) would let
two relays publish one entity's events out of order. So would Dapr's bulk publish API, which
guarantees no order within a request (and on brokers without a bulk publisher, RabbitMQ among
them, daprd sends a request's messages concurrently): rows go out one publish each, in order.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    event,
    func,
    select,
    update,
)
from starlette.concurrency import run_in_threadpool

from services.shared.dapr import DaprSidecar, ServiceUnavailable
from services.shared.db import Timestamp, release_named_lock, take_named_lock
from services.shared.integration_events import IntegrationEvent
from services.shared.metrics import OUTBOX_LAST_PUBLISHED, track_outbox_backlog
from services.shared.timeutil import utcnow
from services.shared.tracing import TRACEPARENT_LENGTH, continued, current_traceparent

log = logging.getLogger(__name__)


# Set on a connection whose transaction queued an event; the commit hook takes it off.
_QUEUED = "outbox_event_queued"
# The named lock a relay holds while it publishes a batch (services.shared.db.take_named_lock).
RELAY_LOCK = "outbox-relay"


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table, added to a service's own schema."""
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(64), nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("payload", JSON, nullable=False),
        Column("created_at", Timestamp, nullable=False),
        Column("sent_at", Timestamp, nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("traceparent", String(TRACEPARENT_LENGTH), nullable=True),
        Index("ix_outbox_unsent", "sent_at", "seq"),
    )


def add_event(conn: Connection, outbox: Table, *, topic: str, event_type: str, data: dict[str, Any]) -> str:
    """Queues one event, any payload, inside the caller's transaction; returns its event id.
    Services queue events of the catalogue with `queue_event`; this is its raw form."""
    event_id = str(uuid.uuid4())
    conn.info[_QUEUED] = True  # the relay looks when this transaction commits
    conn.execute(
        outbox.insert().values(
            event_id=event_id,
            topic=topic,
            event_type=event_type,
            payload=data,
            created_at=utcnow(),
            attempts=0,
            traceparent=current_traceparent(),
        )
    )
    return event_id


def queue_event(conn: Connection, outbox: Table, event: IntegrationEvent) -> str:
    """Queues one event of the catalogue inside the caller's transaction, on its topic, with its
    type, its data the model's JSON; returns its event id."""
    return add_event(
        conn, outbox, topic=event.TOPIC, event_type=event.TYPE, data=event.model_dump(mode="json")
    )


class OutboxRelay:
    """Publishes committed outbox rows through the sidecar, oldest first."""

    def __init__(
        self,
        engine: Engine,
        outbox: Table,
        dapr: DaprSidecar,
        *,
        batch_size: int = 100,
        idle_poll_s: float = 0.5,
        max_idle_poll_s: float = 4.0,
        max_backoff_s: float = 10.0,
        turn_wait_s: float = 2.0,
        autocommit: Engine | None = None,
    ) -> None:
        self.engine = engine
        # The turns run on `autocommit` (services.shared.db.autocommit_engine) when given: each
        # statement commits as it runs, so marking rows sent costs the UPDATE alone. Else on
        # `engine`, committing the marks (SQLite in the unit tests).
        self.turns = autocommit or engine
        self._commits = autocommit is None
        self.outbox = outbox
        self.dapr = dapr
        self.batch_size = batch_size
        # Without commits of its own, a relay still looks now and then (rows another replica's
        # relay left when it died): every idle_poll_s after activity, then half as often after
        # each look that found nothing, down to every max_idle_poll_s. Most of a publishing
        # service's idle CPU was its relay looking twice a second.
        self.idle_poll_s = idle_poll_s
        self.max_idle_poll_s = max(idle_poll_s, max_idle_poll_s)
        self.max_backoff_s = max_backoff_s
        # How long a relay waits for another replica's batch to finish. Past it, it leaves its
        # rows to that relay (or to its own next look): waiting longer only holds a connection.
        self.turn_wait_s = turn_wait_s
        self._unsent = (
            select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.seq).limit(batch_size)
        )
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.watch_commits()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")
        track_outbox_backlog(self.backlog)

    def watch_commits(self) -> None:
        """A commit that queued an event wakes the relay (from any thread); other commits, most
        of them, do not: each would cost a query finding nothing."""
        event.listen(self.engine, "commit", self._committed)
        event.listen(self.engine, "rollback", self._rolled_back)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _committed(self, conn: Connection) -> None:
        if conn.info.pop(_QUEUED, False):
            self.notify()

    @staticmethod
    def _rolled_back(conn: Connection) -> None:
        # A connection lost mid-transaction (the database restarting) is invalidated, and its
        # info went with it; touching it would raise over the error that says what happened.
        if not conn.invalidated:
            conn.info.pop(_QUEUED, None)

    def notify(self) -> None:
        """Wakes the relay after a commit (callable from worker threads)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def backlog(self) -> int:
        """Rows not yet published."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(self.outbox.c.sent_at.is_(None))).scalar_one())

    async def _run(self) -> None:
        backoff = 0.0
        idle_wait = self.idle_poll_s
        while True:
            try:
                # Cleared before looking, not after: a commit while this batch is published
                # leaves the flag set, and the relay looks again at once.
                self._wake.clear()
                published = await self.publish_pending()
                backoff = 0.0
                if published:
                    idle_wait = self.idle_poll_s
                if published < self.batch_size:  # nothing more was there: wait for a commit
                    try:
                        await asyncio.wait_for(self._wake.wait(), idle_wait)
                        idle_wait = self.idle_poll_s
                    except TimeoutError:  # no commit meanwhile: the next look waits longer
                        idle_wait = min(self.max_idle_poll_s, idle_wait * 2)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker, sidecar or database down: wait and retry
                backoff = min(self.max_backoff_s, max(0.2, backoff * 2))
                log.warning(
                    "outbox relay cannot publish yet", extra={"error": str(exc), "retry_in_s": backoff}
                )
                await asyncio.sleep(backoff)

    async def publish_pending(self) -> int:
        """Publishes one batch of unsent rows in order, in this relay's turn; returns how many
        rows the batch held (0 when another replica's relay kept its turn).

        Two trips to a worker thread a batch, one connection throughout: the first takes the
        turn and reads the batch, the second marks what went out and gives the turn back. (Each
        step on its own trip, and a connection for each, cost a third of the orders app's CPU
        per order.)"""
        turn = await run_in_threadpool(self._take_turn)
        if turn is None:
            return 0
        holder, rows = turn
        sent: list[int] = []
        failed: int | None = None
        try:
            for row in rows:
                with continued(row.traceparent):
                    # Before the publish: the event's own time (its CloudEvent's) is never earlier.
                    publishing_at = time.time()
                    try:
                        await self.dapr.publish(
                            row.topic, event_id=row.event_id, event_type=row.event_type, data=row.payload
                        )
                    except ServiceUnavailable:
                        failed = row.seq
                        raise
                    sent.append(row.seq)
                    OUTBOX_LAST_PUBLISHED.labels(row.topic).set(publishing_at)
                    log.debug(
                        "event published", extra={"event_id": row.event_id, "event_type": row.event_type}
                    )
        finally:
            # One write for the batch, before the turn is given back. Should it fail (or the
            # process die first), the rows are published again: consumers deduplicate by event id.
            await run_in_threadpool(self._end_turn, holder, sent, failed)
        return len(rows)

    def _take_turn(self) -> tuple[Connection, list[Any]] | None:
        """This relay's turn and the batch of rows to publish in it, on the connection that holds
        the turn; None when another relay kept the turn or nothing is waiting."""
        holder = self.turns.connect()
        try:
            if not take_named_lock(holder, RELAY_LOCK, wait_s=self.turn_wait_s):
                holder.close()
                return None
            rows = list(holder.execute(self._unsent))
        except BaseException:
            _drop(holder)
            raise
        if not rows:
            self._end_turn(holder, [], None)
            return None
        return holder, rows

    def _end_turn(self, holder: Connection, sent: list[int], failed: int | None) -> None:
        """Marks the rows published (and counts an attempt at the one that failed), then gives the
        turn back: the next relay reads only after these marks are committed."""
        try:
            if sent:
                holder.execute(
                    update(self.outbox).where(self.outbox.c.seq.in_(sent)).values(sent_at=utcnow())
                )
            if failed is not None:
                holder.execute(
                    update(self.outbox)
                    .where(self.outbox.c.seq == failed)
                    .values(attempts=self.outbox.c.attempts + 1)
                )
            if self._commits and (sent or failed is not None):
                holder.commit()
            release_named_lock(holder, RELAY_LOCK)
        except BaseException:
            _drop(holder)
            raise
        holder.close()


def _drop(holder: Connection) -> None:
    """Closes the connection itself rather than returning it to the pool: the named lock belongs
    to its session, and a pooled session would keep holding it (every other relay shut out)."""
    with contextlib.suppress(Exception):
        holder.invalidate()
    holder.close()
