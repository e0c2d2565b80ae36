"""Composition root of the gateway, the only public HTTP entry (port 8000)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from limits.aio.storage import RedisStorage
from starlette.middleware import Middleware

from services.gateway import storefront
from services.gateway.admission import InFlightLimit
from services.gateway.api import router
from services.gateway.budget import BudgetMiddleware, Policy, RequestBudget
from services.gateway.cache import ReadThroughCache
from services.gateway.config import Settings, get_settings
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
        app.state.budget = request_budget(settings, app.state.jwt_key)
        yield


def request_budget(settings: Settings, jwt_key: str) -> RequestBudget:
    # Short timeouts: a Redis that does not answer leaves requests uncounted, not waiting.
    storage = RedisStorage(
        f"async+redis://{settings.redis_host}",
        implementation="redispy",
        key_prefix="shop-budget",
        socket_timeout=0.25,
        socket_connect_timeout=0.25,
    )
    window = settings.rate_limit_window_s
    return RequestBudget(
        storage,
        per_user=Policy("user", settings.rate_limit_per_user, window),
        per_address=Policy("address", settings.rate_limit_per_address, window),
        trusted_proxies=settings.trusted_proxies,
        jwt_key=jwt_key,
    )


app = create_app(
    title="Shop gateway",
    description="The public REST API of dapr-shop. Authenticate with `POST /api/auth/login`, then send "
    "`Authorization: Bearer <token>`.",
    lifespan=lifespan,
    routers=[router],
    # The public API and the storefront: browsers call the gateway directly, not through a sidecar.
    public_paths=("/api", "/docs", "/openapi.json", "/", storefront.ASSETS),
    # Inside the shared middlewares (given here, not added after): a refused request is logged,
    # counted in the metrics and carries its request id like any other answer.
    middleware=[Middleware(BudgetMiddleware)],
)
storefront.install(app)
