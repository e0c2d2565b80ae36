"""Composition root of the auth service."""

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.auth import service
from services.auth.api import router
from services.auth.config import get_settings
from services.shared.app import create_app
from services.shared.db import DATABASE_UNAVAILABLE
from services.shared.runtime import open_sidecar
from services.shared.runtime_db import open_database
from services.shared.tokens import TokenIssuer

MIGRATIONS = Path(__file__).parent / "migrations"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    async with (
        open_sidecar(app, settings) as dapr,
        open_database(app, dapr, settings, migrations=MIGRATIONS) as engine,
    ):
        store = settings.secret_store_name
        key = await dapr.get_secret(store, "jwt-signing-key")
        admin_email = await dapr.get_secret(store, "admin-email")
        admin_password = await dapr.get_secret(store, "admin-password")
        app.state.dapr, app.state.engine = dapr, engine
        app.state.tokens = TokenIssuer(key=key, ttl_s=settings.token_ttl_s)
        app.state.customer_id_key = hashlib.sha256(b"customer-id:" + key.encode()).digest()
        # Every replica runs it; customer ids derived from the email make them create one admin.
        bootstrap = asyncio.create_task(
            service.ensure_admin(
                engine, dapr, email=admin_email, password=admin_password, id_key=app.state.customer_id_key
            ),
            name="admin-bootstrap",
        )
        try:
            yield
        finally:
            bootstrap.cancel()


app = create_app(
    title="Shop auth service", lifespan=lifespan, routers=[router], unavailable_errors=DATABASE_UNAVAILABLE
)
