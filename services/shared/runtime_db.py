"""Lifespan building blocks for the services with their own MariaDB database: the engine (with
its migrations applied and its readiness check registered) and the outbox relay."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import Engine, Table
from starlette.concurrency import run_in_threadpool

from services.shared.dapr import DaprSidecar
from services.shared.db import mysql_engine, ping
from services.shared.migrations import upgrade_in_child
from services.shared.outbox import OutboxRelay
from services.shared.settings import DatabaseSettings


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

    # Sync routes run in anyio's worker threads (40 by default). More threads than connections
    # only queue on the pool while contending for the GIL: one thread per pooled connection.
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
    app.state.readiness_checks["database"] = database_ready
    try:
        if migrations is not None:
            await upgrade_in_child(engine.url, migrations)
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
