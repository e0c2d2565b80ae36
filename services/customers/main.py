"""Composition root of the customers service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.customers.config import get_settings
from services.shared.app import create_app
from services.shared.runtime import open_database, open_sidecar


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    async with open_sidecar(app, settings) as dapr, open_database(app, dapr, settings) as engine:
        app.state.dapr = dapr
        app.state.engine = engine
        yield


app = create_app(title="Shop customers service", lifespan=lifespan)
