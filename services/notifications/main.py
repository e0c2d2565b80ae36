"""Composition root of the notifications service."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pymongo.errors import PyMongoError
from starlette.concurrency import run_in_threadpool

from services.notifications.api import router
from services.notifications.config import get_settings
from services.notifications.hub import Hub
from services.notifications.store import NotificationStore
from services.shared.app import create_app
from services.shared.runtime import open_sidecar

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    store = NotificationStore.connect(
        settings.mongo_url, settings.mongo_db, timeout_ms=settings.mongo_timeout_ms
    )

    async def mongo_ready() -> None:
        await run_in_threadpool(store.ping)

    app.state.readiness_checks["mongodb"] = mongo_ready
    try:
        for failure in await run_in_threadpool(store.ensure_indexes):
            log.warning("index not created", extra={"index": failure})
    except PyMongoError as exc:
        log.warning("indexes not ensured, MongoDB unavailable", extra={"error": str(exc)})
    app.state.store, app.state.hub = store, Hub()
    try:
        async with open_sidecar(app, settings) as dapr:
            app.state.dapr = dapr
            # Tokens are verified here too: WebSocket clients connect to this service directly.
            app.state.jwt_key = await dapr.get_secret(settings.secret_store_name, "jwt-signing-key")
            yield
    finally:
        store.close()


app = create_app(title="Shop notifications service", lifespan=lifespan, routers=[router])
