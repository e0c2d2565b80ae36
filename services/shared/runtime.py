"""Lifespan building block every app uses: the client for its sidecar, registering the
readiness check for it, and this replica's entry in the list of running replicas. The database
blocks live in runtime_db.py, so the apps without a MariaDB database (gateway, order-view) never
import SQLAlchemy and Alembic (about 28 MB per process)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.shared.dapr import DaprSidecar
from services.shared.instances import InstanceRegistry
from services.shared.settings import ServiceSettings


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
        registry = InstanceRegistry(dapr, settings.app_id)
        registry.start()
        try:
            yield dapr
        finally:
            await registry.stop()
    finally:
        await dapr.aclose()
