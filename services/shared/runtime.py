"""Lifespan building blocks: the sidecar client and the service's own database, each
registering the readiness check for what it opened."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine, Table
from starlette.concurrency import run_in_threadpool

from services.shared.dapr import DaprSidecar
from services.shared.db import mysql_engine, ping
from services.shared.migrations import upgrade
from services.shared.outbox import OutboxRelay
from services.shared.settings import DatabaseSettings, ServiceSettings


@asynccontextmanager
async def open_sidecar(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[DaprSidecar]:
    """Waits for this app's sidecar, then yields the client for it."""
    dapr = DaprSidecar(
        app_id=settings.app_id, timeout_s=settings.invoke_timeout_s, pubsub_name=settings.pubsub_name
    )
    try:
        await dapr.wait_until_ready(settings.sidecar_wait_s)

        async def sidecar_ready() -> None:
            if not await dapr.outbound_ready():
                raise RuntimeError("sidecar not ready")

        app.state.readiness_checks["sidecar"] = sidecar_ready
        yield dapr
    finally:
        await dapr.aclose()


@asynccontextmanager
async def open_database(
    app: FastAPI, dapr: DaprSidecar, settings: DatabaseSettings, *, migrations: Path | None = None
) -> AsyncIterator[Engine]:
    """Builds the engine for the service's own database (password from the secret store) and
    applies the service's migrations before it takes traffic."""
    password = await dapr.get_secret(settings.secret_store_name, f"{settings.db_name}-db-password")
    engine = mysql_engine(
        user=settings.db_user or settings.db_name,
        password=password,
        host=settings.db_host,
        port=settings.db_port,
        database=settings.db_name,
        pool_size=settings.db_pool_size,
    )

    async def database_ready() -> None:
        await run_in_threadpool(ping, engine)

    app.state.readiness_checks["database"] = database_ready
    try:
        if migrations is not None:
            await run_in_threadpool(upgrade, engine, migrations)
        yield engine
    finally:
        engine.dispose()


@asynccontextmanager
async def run_outbox_relay(engine: Engine, outbox: Table, dapr: DaprSidecar) -> AsyncIterator[OutboxRelay]:
    """Publishes the service's outbox for as long as the app runs."""
    relay = OutboxRelay(engine, outbox, dapr)
    relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
