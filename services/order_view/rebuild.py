"""Rebuilding every document from the orders, customers and products services, page by page,
while the read model keeps serving (on start-up, and when an admin asks), on one replica."""

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError
from starlette.concurrency import run_in_threadpool

from services.order_view.projection import fetch_related, shown_versions
from services.order_view.store import ReadModelStore
from services.shared.calls import OrderPage
from services.shared.dapr import DaprSidecar, ServiceUnavailable, answer_of
from services.shared.identity import Actor
from services.shared.order_document import compose

log = logging.getLogger(__name__)

# order-view reads every customer's orders: it calls the orders service as an admin.
SYSTEM = Actor(id="order-view", role="admin")


# How long a replica's claim on the rebuild lasts unless it renews it (after every page): a replica
# killed mid-rebuild hands it over after this.
LEASE_S = 30.0
# How often each replica looks whether a rebuild was asked for, or lost its runner.
WATCH_EVERY_S = 5.0
# A start-up finding a rebuild finished this recently skips its own (replicas starting together).
FRESH_S = 600.0
RUNNING, DONE, FAILED = "running", "done", "failed"


class Rebuilder:
    """Runs the rebuild on one replica at a time, and reports its progress from any replica.

    The claim and the progress are one document in the read model's own database, written by
    atomic commands only (store/rebuild_state.py): a replica takes the claim when it is free or
    its lease ran out; the holder renews it after every page and records its progress there. A
    request on any replica counts itself in the document; the holder restarts from the first
    page when it sees a count it has not served, so every request is followed by a complete pass."""

    def __init__(
        self,
        dapr: DaprSidecar,
        store: ReadModelStore,
        *,
        page_size: int = 100,
        lease_s: float = LEASE_S,
        watch_every_s: float = WATCH_EVERY_S,
    ) -> None:
        self.dapr = dapr
        self.store = store
        self.page_size = page_size
        self.lease_s = lease_s
        self.watch_every_s = watch_every_s
        self.replica = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether this replica is running the rebuild."""
        return self._task is not None and not self._task.done()

    def progress(self) -> dict[str, Any]:
        """The rebuild's state, whichever replica runs it."""
        doc = self.store.rebuild.read()
        shown = {"state": doc.get("state", "idle"), "built": doc.get("built", 0), "total": doc.get("total")}
        for field in ("started_at", "finished_at", "error"):
            if doc.get(field) is not None:
                shown[field] = doc[field]
        return shown

    async def start_up(self) -> None:
        """Rebuilds on start, unless another replica is at it or finished one lately."""
        self._watch = asyncio.create_task(self._watching(), name="read-model-rebuild-watch")
        doc = await run_in_threadpool(self.store.rebuild.read)
        finished = doc.get("finished_s", 0)
        if _held(doc):
            return
        if doc.get("state") == DONE and time.time() - finished < FRESH_S:
            return
        # A request not yet served, or one counted since that read (a replica starting
        # alongside), covers this one.
        if doc.get("requested", 0) <= doc.get("served", 0):
            await run_in_threadpool(self.store.rebuild.ask_unless_asked, doc)
        await self._run_if_claimed()

    async def request(self) -> bool:
        """Asks for a complete pass; returns whether one was already running (it restarts)."""
        before = await run_in_threadpool(self.store.rebuild.ask)
        await self._run_if_claimed()
        return _held(before)

    async def _watching(self) -> None:
        while True:
            await asyncio.sleep(self.watch_every_s)
            try:
                doc = await run_in_threadpool(self.store.rebuild.read)
                unserved = doc.get("requested", 0) > doc.get("served", 0)
                if (doc.get("state") == RUNNING or unserved) and not self.running:
                    await self._run_if_claimed()
            except PyMongoError as exc:
                log.warning("cannot look at the rebuild yet", extra={"error": str(exc)})

    async def _run_if_claimed(self) -> None:
        if self.running or not await run_in_threadpool(self._claim):
            return
        self._task = asyncio.create_task(self._run(), name="read-model-rebuild")

    def _claim(self) -> bool:
        """Takes the rebuild if it is free or its holder's lease ran out, and shows it running."""
        return self.store.rebuild.claim(self.replica, lease_s=self.lease_s, progress=_starting())

    def _renew(self, **progress: Any) -> dict[str, Any] | None:
        """Extends this replica's lease and records progress; None when it lost the claim."""
        return self.store.rebuild.renew(self.replica, lease_s=self.lease_s, **progress)

    async def stop(self) -> None:
        for task in (self._watch, self._task):
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(PyMongoError):  # hand it over at once rather than after the lease
            await run_in_threadpool(self.store.rebuild.release, self.replica)

    async def _run(self) -> None:
        while True:
            doc = await run_in_threadpool(self.store.rebuild.read)
            serving = doc.get("requested", 0)
            if await run_in_threadpool(self._renew, **_starting()) is None:
                return
            try:
                outcome = await self._pass(serving)
            except Exception as exc:
                log.warning("read model rebuild failed", extra={"error": str(exc)})
                await run_in_threadpool(
                    self._renew, state=FAILED, finished_at=_now(), error=str(exc), lease_until=0
                )
                return
            if outcome == "restart":
                continue
            if outcome == "lost":
                return
            await run_in_threadpool(
                self._renew,
                state=DONE,
                finished_at=_now(),
                finished_s=time.time(),
                served=serving,
                lease_until=0,
            )
            log.info("read model rebuilt", extra={"documents": outcome})
            return

    async def _pass(self, serving: int) -> int | str:
        """One complete pass; the documents it went through, or "restart" (asked for again
        meanwhile) or "lost" (another replica took the claim)."""
        # The sources must be ready first: failed calls would open the circuit breakers
        # the event handlers' lookups share.
        for app_id in ("orders", "customers", "products"):
            await self._with_retries(lambda app_id=app_id: self._ready(app_id))
        for failure in await run_in_threadpool(self.store.ensure_indexes):  # it may have been dropped
            log.warning("index not created", extra={"index": failure})
        offset = 0
        while True:
            page = await self._page(offset)
            # As dicts from here: documents are composed, and stored, as such.
            orders = [order.model_dump() for order in page.items]
            if not orders:
                return offset
            # Only what the view lacks or has older: a rebuild of an up-to-date view is one
            # read per page, not a rewrite of every document.
            stored = await run_in_threadpool(self.store.documents.order_versions, [o["id"] for o in orders])
            stale = [o for o in orders if stored.get(o["id"], 0) < o["version"]]
            if stale:
                customers, products = await self._with_retries(
                    lambda stale=stale: fetch_related(self.dapr, self.store.snapshots, stale)
                )
                documents = [
                    (
                        compose(o, customers.get(o["customer_id"]), products),
                        shown_versions(o, customers, products),
                    )
                    for o in stale
                ]
                await run_in_threadpool(self.store.documents.save_orders, documents)
            offset += len(orders)
            doc = await run_in_threadpool(self._renew, built=offset, total=page.total)
            if doc is None:
                return "lost"
            if doc.get("requested", 0) > serving:
                return "restart"

    async def _ready(self, app_id: str) -> None:
        response = await self.dapr.invoke(app_id, "GET", "readyz")
        if response.status_code != 200:
            raise ServiceUnavailable(app_id, "not ready yet")

    async def _page(self, offset: int) -> OrderPage:
        async def fetch() -> OrderPage:
            params = {"limit": self.page_size, "offset": offset}
            response = await self.dapr.invoke(
                "orders", "GET", "orders", params=params, headers=SYSTEM.headers()
            )
            if response.status_code != 200:
                raise ServiceUnavailable("orders", f"listing answered {response.status_code}")
            return answer_of(response, OrderPage, target="orders")

        return await self._with_retries(fetch)

    async def _with_retries(self, call: Any, attempts: int = 30) -> Any:
        """Waits out a dependency that is starting or briefly down (about a minute in all)."""
        for attempt in range(attempts):
            try:
                return await call()
            except ServiceUnavailable as exc:
                if attempt == attempts - 1:
                    raise
                log.info("rebuild waiting for a dependency", extra={"error": str(exc)})
                await asyncio.sleep(min(0.5 * 2**attempt, 5))
        raise AssertionError("unreachable")


def _starting() -> dict[str, Any]:
    """The progress of a pass about to begin."""
    return {
        "state": RUNNING,
        "built": 0,
        "total": None,
        "started_at": _now(),
        "finished_at": None,
        "error": None,
    }


def _held(doc: dict[str, Any]) -> bool:
    """Whether a replica is running the rebuild (its lease still runs)."""
    return bool(doc.get("state") == RUNNING and doc.get("lease_until", 0) > time.time())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
