"""Composition root of order-view, the read model of orders joined with customers and products."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pymongo.errors import PyMongoError
from starlette.concurrency import run_in_threadpool

from services.order_view import metrics
from services.order_view.api import router
from services.order_view.config import get_settings
from services.order_view.events import TOPICS
from services.order_view.rebuild import Rebuilder
from services.order_view.service import LastApplied
from services.order_view.store import ReadModelStore
from services.shared.app import create_app
from services.shared.runtime import open_sidecar

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    store = ReadModelStore.connect(
        settings.mongo_url, settings.mongo_db, timeout_ms=settings.mongo_timeout_ms
    )

    async def mongo_ready() -> None:
        await run_in_threadpool(store.ping)

    app.state.readiness_checks["mongodb"] = mongo_ready
    try:
        for failure in await run_in_threadpool(store.ensure_indexes):
            log.warning("index not created", extra={"index": failure})
    except PyMongoError as exc:  # start anyway: readiness reports MongoDB, handlers answer RETRY
        log.warning("indexes not ensured, MongoDB unavailable", extra={"error": str(exc)})
    app.state.store = store
    app.state.last_applied = LastApplied()
    metrics.started(TOPICS, store.dead_letters.count_dead_letters)
    try:
        async with open_sidecar(app, settings) as dapr:
            app.state.dapr = dapr
            # The read model rebuilds itself on start (once, whichever replica starts first);
            # reads are served meanwhile.
            app.state.rebuilder = Rebuilder(dapr, store)
            await app.state.rebuilder.start_up()
            try:
                yield
            finally:
                await app.state.rebuilder.stop()
    finally:
        store.close()


app = create_app(title="Shop order-view service", lifespan=lifespan, routers=[router])
