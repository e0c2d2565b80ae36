"""Composition root of the gateway, the only public HTTP entry (port 8000)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.gateway import storefront
from services.gateway.admission import InFlightLimit
from services.gateway.api import router
from services.gateway.cache import ReadThroughCache
from services.gateway.config import get_settings
from services.shared.app import create_app
from services.shared.runtime import open_sidecar


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    async with open_sidecar(app, settings) as dapr:
        app.state.dapr = dapr
        app.state.placing_orders = InFlightLimit(
            "orders",
            settings.orders_in_flight_limit,
            wait_s=settings.orders_admission_wait_s,
            overloaded_after_s=settings.orders_overloaded_after_s,
            overloaded_wait_s=settings.orders_overloaded_wait_s,
        )
        app.state.products = ReadThroughCache(
            "products",
            ttl_s=settings.product_cache_ttl_s,
            max_entries=settings.product_cache_max_entries,
        )
        # Tokens are verified here, at the edge, with the key auth signs them with.
        app.state.jwt_key = await dapr.get_secret(settings.secret_store_name, "jwt-signing-key")
        yield


app = create_app(
    title="Shop gateway",
    description="The public REST API of dapr-shop. Authenticate with `POST /api/auth/login`, then send "
    "`Authorization: Bearer <token>`.",
    lifespan=lifespan,
    routers=[router],
    # The public API and the storefront: browsers call the gateway directly, not through a sidecar.
    public_paths=("/api", "/docs", "/openapi.json", "/", storefront.ASSETS),
)
storefront.install(app)
