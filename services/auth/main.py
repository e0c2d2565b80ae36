"""Composition root of the auth service."""

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from services.auth import service
from services.auth.api import router
from services.auth.config import get_settings
from services.auth.guard import SignInGuard
from services.auth.hashing import HashingSlots
from services.auth.throttle import WindowCounters
from services.shared.dapr import DaprSidecar
from services.shared.runtime_db import database_app
from services.shared.tokens import TokenIssuer


@asynccontextmanager
async def keys_and_admin(app: FastAPI, dapr: DaprSidecar, engine: Engine) -> AsyncIterator[None]:
    """The token signing key, and the admin account made on first start (from the secret store)."""
    settings = get_settings()
    store = settings.secret_store_name
    key = await dapr.get_secret(store, "jwt-signing-key")
    admin_email = await dapr.get_secret(store, "admin-email")
    admin_password = await dapr.get_secret(store, "admin-password")
    app.state.tokens = TokenIssuer(key=key, ttl_s=settings.token_ttl_s)
    app.state.customer_id_key = hashlib.sha256(b"customer-id:" + key.encode()).digest()
    slots = HashingSlots(settings.hashing_slots or os.cpu_count() or 1)
    counters = WindowCounters(dapr, settings.state_store_name)
    app.state.guard = SignInGuard(counters, slots, settings)
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


app = database_app(
    "Shop auth service",
    get_settings,
    [router],
    migrations=Path(__file__).parent / "migrations",
    extension=keys_and_admin,
)
