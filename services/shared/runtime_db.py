"""The services with their own MariaDB database: building one takes one call (database_app),
from these lifespan blocks: the engine (its migrations applied, its readiness check registered)
and the outbox relay."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine, Table
from starlette.concurrency import run_in_threadpool

from services.shared.app import create_app
from services.shared.dapr import DaprSidecar
from services.shared.db import DATABASE_UNAVAILABLE, autocommit_engine, mysql_engine, ping
from services.shared.migrations import upgrade_in_child
from services.shared.outbox import OutboxRelay
from services.shared.runtime import open_sidecar
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
    turns = autocommit_engine(engine)
    relay = OutboxRelay(engine, outbox, dapr, autocommit=turns)
    relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
        turns.dispose()


# What a service adds to the common start-up, for as long as it runs: secrets it reads, its own
# state on app.state, a background task. Entered once the sidecar and the database are ready.
Extension = Callable[[FastAPI, DaprSidecar, Engine], AbstractAsyncContextManager[None]]


def database_app(
    title: str,
    settings: Callable[[], DatabaseSettings],
    routers: Sequence[APIRouter],
    *,
    migrations: Path,
    outbox: Table | None = None,
    extension: Extension | None = None,
    public_paths: Sequence[str] = (),
) -> FastAPI:
    """A service with its own database: the sidecar's client (app.state.dapr), the engine with
    the migrations applied (app.state.engine), the outbox relay when the service publishes
    (app.state.relay), then the service's own extension; a lost database answers 503."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = settings()
        async with (
            open_sidecar(app, config) as dapr,
            open_database(app, dapr, config, migrations=migrations) as engine,
            AsyncExitStack() as stack,
        ):
            app.state.dapr, app.state.engine = dapr, engine
            if outbox is not None:
                app.state.relay = await stack.enter_async_context(run_outbox_relay(engine, outbox, dapr))
            if extension is not None:
                await stack.enter_async_context(extension(app, dapr, engine))
            yield

    return create_app(
        title=title,
        lifespan=lifespan,
        routers=routers,
        public_paths=public_paths,
        unavailable_errors=DATABASE_UNAVAILABLE,
    )
