"""Rebuilding every document from the orders, customers and products services, page by page,
while the read model keeps serving (on start-up, and when an admin asks)."""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from services.order_view.events import fetch_related
from services.order_view.store import ReadModelStore
from services.shared.dapr import DaprSidecar, ServiceUnavailable
from services.shared.identity import Actor
from services.shared.order_document import compose

log = logging.getLogger(__name__)

# order-view reads every customer's orders: it calls the orders service as an admin.
SYSTEM = Actor(id="order-view", role="admin")


class Rebuilder:
    """Runs at most one rebuild at a time and reports its progress."""

    def __init__(self, dapr: DaprSidecar, store: ReadModelStore, *, page_size: int = 100) -> None:
        self.dapr = dapr
        self.store = store
        self.page_size = page_size
        self.progress: dict[str, Any] = {"state": "idle", "built": 0, "total": None}
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> bool:
        """Starts a full rebuild in the background. One already running is restarted, so every
        request is followed by a complete pass; returns whether one was restarted."""
        restarted = self.running
        if self._task is not None:
            self._task.cancel()
        self.progress = {
            "state": "running",
            "built": 0,
            "total": None,
            "started_at": _now(),
            "finished_at": None,
        }
        self._task = asyncio.create_task(self._run(), name="read-model-rebuild")
        return restarted

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        offset = 0
        try:
            # The sources must be ready first: failed calls would open the circuit breakers
            # the event handlers' lookups share.
            for app_id in ("orders", "customers", "products"):
                await self._with_retries(lambda app_id=app_id: self._ready(app_id))
            for failure in await run_in_threadpool(self.store.ensure_indexes):  # it may have been dropped
                log.warning("index not created", extra={"index": failure})
            while True:
                page = await self._page(offset)
                self.progress["total"] = page["total"]
                orders = page["items"]
                if not orders:
                    break
                # Only what the view lacks or has older: a rebuild of an up-to-date view is one
                # read per page, not a rewrite of every document.
                stored = await run_in_threadpool(self.store.order_versions, [o["id"] for o in orders])
                stale = [o for o in orders if stored.get(o["id"], 0) < o["version"]]
                if stale:
                    customers, products = await self._with_retries(
                        lambda stale=stale: fetch_related(self.dapr, self.store, stale)
                    )
                    documents = [compose(o, customers.get(o["customer_id"]), products) for o in stale]
                    await run_in_threadpool(self.store.save_orders, documents)
                offset += len(orders)
                self.progress["built"] = offset
            self.progress.update(state="done", finished_at=_now())
            log.info("read model rebuilt", extra={"documents": offset})
        except Exception as exc:
            self.progress.update(state="failed", finished_at=_now(), error=str(exc))
            log.warning("read model rebuild failed", extra={"error": str(exc)})

    async def _ready(self, app_id: str) -> None:
        response = await self.dapr.invoke(app_id, "GET", "readyz")
        if response.status_code != 200:
            raise ServiceUnavailable(app_id, "not ready yet")

    async def _page(self, offset: int) -> dict[str, Any]:
        async def fetch() -> dict[str, Any]:
            params = {"limit": self.page_size, "offset": offset}
            response = await self.dapr.invoke(
                "orders", "GET", "orders", params=params, headers=SYSTEM.headers()
            )
            if response.status_code != 200:
                raise ServiceUnavailable("orders", f"listing answered {response.status_code}")
            return response.json()

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
