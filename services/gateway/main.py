"""Composition root of the gateway, the only public HTTP entry (port 8000)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.gateway.api import router
from services.gateway.config import get_settings
from services.shared.app import create_app
from services.shared.runtime import open_sidecar


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with open_sidecar(app, get_settings()) as dapr:
        app.state.dapr = dapr
        yield


app = create_app(title="Shop gateway", lifespan=lifespan, routers=[router])
