"""What the gateway does beyond forwarding a request: product pages through its cache, writes
that keep the cache honest, orders placed under admission control, the caller's profile, and
the health of the whole system. Plain forwards live in forwarding.py, order reads in
order_reads.py."""

import asyncio
from collections.abc import Awaitable, Iterable, Iterator
from contextlib import contextmanager
from typing import Literal

from fastapi import Response

from services.gateway.admission import InFlightLimit
from services.gateway.answers import Profile
from services.gateway.cache import Answer, CacheOutcome, ReadThroughCache
from services.gateway.contract import HealthReport
from services.gateway.forwarding import call, fetch, forward, relay, respond
from services.gateway.models import NewOrder, ProductChanges, ProfileChanges
from services.shared import instances
from services.shared.calls import Customer, Order
from services.shared.dapr import DaprSidecar, ServiceUnavailable, answer_of
from services.shared.identity import Actor

# --- products and orders: the cache sees every change made through this gateway ------------


async def product_page(
    dapr: DaprSidecar, products: ReadThroughCache, product_id: str, *, fresh: bool
) -> tuple[Answer, CacheOutcome]:
    """One product as the client gets it, from the cache unless `fresh` is asked for."""

    def load() -> Awaitable[Answer]:
        return fetch(dapr, "products", f"products/{product_id}")

    if fresh:
        return await products.refresh(product_id, load), "bypass"
    return await products.get(product_id, load)


@contextmanager
def changing(products: ReadThroughCache, product_ids: Iterable[str]) -> Iterator[None]:
    """Drops the products a write touches from the gateway's cache once it is done, or has
    failed (a timed-out order may still have reserved stock)."""
    try:
        yield
    finally:
        for product_id in product_ids:
            products.invalidate(product_id.lower())


async def change_product(
    dapr: DaprSidecar, products: ReadThroughCache, *, actor: Actor, product_id: str, changes: ProductChanges
) -> Response:
    with changing(products, [product_id]):
        body = changes.model_dump(exclude_unset=True)
        return await forward(dapr, "products", "PATCH", f"products/{product_id}", actor=actor, json=body)


async def delete_product(
    dapr: DaprSidecar, products: ReadThroughCache, *, actor: Actor, product_id: str
) -> Response:
    with changing(products, [product_id]):
        return await forward(dapr, "products", "DELETE", f"products/{product_id}", actor=actor)


async def place_order(
    dapr: DaprSidecar,
    products: ReadThroughCache,
    admission: InFlightLimit,
    *,
    actor: Actor,
    order: NewOrder,
    idempotency_key: str | None,
) -> Response:
    """Places an order once a slot is free (admission.py), then forgets the products it reserved."""
    headers = {"idempotency-key": idempotency_key} if idempotency_key else None
    body = order.model_dump(mode="json")
    async with admission.slot():
        with changing(products, [line["product_id"] for line in body["items"]]):
            return await forward(dapr, "orders", "POST", "orders", actor=actor, json=body, headers=headers)


async def cancel_order(
    dapr: DaprSidecar, products: ReadThroughCache, *, actor: Actor, order_id: str
) -> Response:
    """Cancels an order, then forgets the products whose stock it released."""
    response = await call(dapr, "orders", "POST", f"orders/{order_id}/cancel", actor=actor)
    cancelled = answer_of(response, Order, target="orders") if response.status_code == 200 else None
    with changing(products, [line.product_id for line in cancelled.items] if cancelled else []):
        return relay(response)


# --- the caller's profile -------------------------------------------------------------------


async def profile(dapr: DaprSidecar, actor: Actor, changes: ProfileChanges | None = None) -> Response:
    """The caller's customer record (read, or changed), with the role their token carries."""
    if changes is None:
        response = await call(dapr, "customers", "GET", f"customers/{actor.id}")
    else:
        response = await call(dapr, "customers", "PATCH", f"customers/{actor.id}", json=changes.model_dump())
    if response.status_code != 200:
        return relay(response)
    customer = answer_of(response, Customer, target="customers")
    return respond(Profile(**customer.model_dump(), role=actor.role))


# --- health ----------------------------------------------------------------------------------


async def probe(dapr: DaprSidecar, app_id: str, *, timeout_s: float) -> Literal["up", "down"]:
    """'up' when the app answers its liveness endpoint through Dapr in time, else 'down'."""
    try:
        response = await asyncio.wait_for(
            dapr.invoke(app_id, "GET", "healthz", timeout_s=timeout_s), timeout_s
        )
    except (ServiceUnavailable, TimeoutError):
        return "down"
    return "up" if response.status_code == 200 else "down"


async def system_health(dapr: DaprSidecar, apps: tuple[str, ...], *, timeout_s: float) -> HealthReport:
    """Probes every app at once, and counts each app's running replicas (the gateway's too);
    the whole report takes at most one probe timeout."""
    states, replicas = await asyncio.gather(
        asyncio.gather(*(probe(dapr, app, timeout_s=timeout_s) for app in apps)),
        _replicas(dapr, ("gateway", *apps), timeout_s=timeout_s),
    )
    services = dict(zip(apps, states, strict=True))
    up = all(state == "up" for state in states)
    return HealthReport(status="ok" if up else "degraded", services=services, replicas=replicas)


async def _replicas(dapr: DaprSidecar, apps: tuple[str, ...], *, timeout_s: float) -> dict[str, int] | None:
    """Running replicas by app; None when the list cannot be read (health does not depend on it)."""
    try:
        return await asyncio.wait_for(instances.count(dapr, apps), timeout_s)
    except (ServiceUnavailable, TimeoutError):
        return None
