"""Composition root of the orders service."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from services.orders.api import router
from services.orders.config import get_settings
from services.orders.models import outbox
from services.orders.placing import settle_stale_orders
from services.shared.dapr import DaprSidecar
from services.shared.runtime_db import database_app


@asynccontextmanager
async def settling(app: FastAPI, dapr: DaprSidecar, engine: Engine) -> AsyncIterator[None]:
    """Settles orders a request left pending (its caller gone mid-way), for as long as it runs."""
    settings = get_settings()
    settler = asyncio.create_task(
        settle_stale_orders(engine, dapr, older_than_s=settings.settle_pending_after_s), name="settle-pending"
    )
    try:
        yield
    finally:
        settler.cancel()


app = database_app(
    "Shop orders service",
    get_settings,
    [router],
    migrations=Path(__file__).parent / "migrations",
    outbox=outbox,
    extension=settling,
)
