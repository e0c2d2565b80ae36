"""Composition root of the notifications service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.notifications.api import router
from services.notifications.config import get_settings
from services.notifications.fanout import InboxFollower
from services.notifications.hub import Hub
from services.notifications.store import NotificationStore
from services.shared.app import create_app
from services.shared.db import DATABASE_UNAVAILABLE
from services.shared.runtime import open_sidecar
from services.shared.runtime_db import open_database

MIGRATIONS = Path(__file__).parent / "migrations"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    async with (
        open_sidecar(app, settings) as dapr,
        open_database(app, dapr, settings, migrations=MIGRATIONS) as engine,
    ):
        app.state.dapr, app.state.store, app.state.hub = dapr, NotificationStore(engine), Hub()
        # Tokens are verified here too: WebSocket clients connect to this service directly.
        app.state.jwt_key = await dapr.get_secret(settings.secret_store_name, "jwt-signing-key")
        follower = InboxFollower(
            app.state.store,
            app.state.hub,
            every_s=settings.follow_inbox_every_s,
            lookback_s=settings.follow_inbox_lookback_s,
        )
        follower.start()
        try:
            yield
        finally:
            await follower.stop()


# Buyers and sellers connect to the WebSocket directly; everything else comes through the sidecar.
app = create_app(
    title="Shop notifications service",
    lifespan=lifespan,
    routers=[router],
    public_paths=("/ws",),
    unavailable_errors=DATABASE_UNAVAILABLE,
)
