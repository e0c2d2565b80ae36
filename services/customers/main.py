"""Composition root of the customers service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.customers.api import router
from services.customers.config import get_settings
from services.customers.models import outbox
from services.shared.app import create_app
from services.shared.db import DATABASE_UNAVAILABLE
from services.shared.runtime import open_sidecar
from services.shared.runtime_db import open_database, run_outbox_relay

MIGRATIONS = Path(__file__).parent / "migrations"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    async with (
        open_sidecar(app, settings) as dapr,
        open_database(app, dapr, settings, migrations=MIGRATIONS) as engine,
        run_outbox_relay(engine, outbox, dapr) as relay,
    ):
        app.state.dapr, app.state.engine, app.state.relay = dapr, engine, relay
        yield


app = create_app(
    title="Shop customers service",
    lifespan=lifespan,
    routers=[router],
    unavailable_errors=DATABASE_UNAVAILABLE,
)
