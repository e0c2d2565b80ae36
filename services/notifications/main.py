"""Composition root of the notifications service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import Engine

from services.notifications.api import router
from services.notifications.config import get_settings
from services.notifications.fanout import InboxFollower
from services.notifications.hub import Hub
from services.notifications.leases import LeaseKeeper, SocketLeases
from services.notifications.store import NotificationStore
from services.shared.dapr import DaprSidecar
from services.shared.runtime_db import database_app


@asynccontextmanager
async def hub_and_follower(app: FastAPI, dapr: DaprSidecar, engine: Engine) -> AsyncIterator[None]:
    """The store, the hub of this replica's WebSockets, the leases that bound them across
    replicas (leases.py), and the follower that pushes to them what other replicas stored
    (services/notifications/fanout.py)."""
    settings = get_settings()
    app.state.store, app.state.hub = NotificationStore(engine), Hub(settings.max_connections_per_user)
    # Tokens are verified here too: WebSocket clients connect to this service directly.
    app.state.jwt_key = await dapr.get_secret(settings.secret_store_name, "jwt-signing-key")
    follower = InboxFollower(
        app.state.store,
        app.state.hub,
        every_s=settings.follow_inbox_every_s,
        lookback_s=settings.follow_inbox_lookback_s,
    )
    host, _, port = settings.redis_host.partition(":")
    # Short timeouts: a Redis that does not answer leaves the bound per replica, not a wait.
    redis = Redis(host=host, port=int(port or 6379), socket_timeout=0.5, socket_connect_timeout=0.5)
    leases = SocketLeases(
        redis,
        per_user=settings.max_connections_per_user,
        per_address=settings.max_connections_per_address,
        lease_s=settings.socket_lease_s,
    )
    app.state.leases = LeaseKeeper(leases, app.state.hub.evict)
    follower.start()
    app.state.leases.start()
    try:
        yield
    finally:
        await app.state.leases.stop()
        await follower.stop()
        await redis.aclose()


# Buyers and sellers connect to the WebSocket directly; everything else comes through the sidecar.
app = database_app(
    "Shop notifications service",
    get_settings,
    [router],
    migrations=Path(__file__).parent / "migrations",
    extension=hub_and_follower,
    public_paths=("/ws",),
)
