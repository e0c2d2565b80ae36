"""Order reads: order documents from the read model (order-view) first, aggregated live from
orders, customers and products when the read model is unavailable or has not seen an order yet.
Either way the client gets the same document (services/shared/order_document.py)."""

import asyncio
from typing import Any

from services.gateway.forwarding import call
from services.shared.dapr import DaprSidecar, ServiceUnavailable, batch_lookup
from services.shared.identity import Actor
from services.shared.order_document import compose

# Where an answer came from, for the client's X-Read-Model header.
VIEW, LIVE = "view", "live"


async def read_orders(
    dapr: DaprSidecar, actor: Actor, path: str, params: dict[str, Any] | None
) -> tuple[int, dict[str, Any] | None, str]:
    """Reads order documents from order-view; when it is down (or its circuit is open), or has
    not seen an order yet, aggregates the same documents live. Returns (status, body, source)."""
    try:
        status, body = await call(dapr, "order-view", "GET", path, actor=actor, params=params)
        if status < 500 and not (status == 404 and path != "orders"):
            return status, body, VIEW
    except ServiceUnavailable:
        pass
    status, body = await _live(dapr, actor, path, params)
    return status, body, LIVE


async def _live(
    dapr: DaprSidecar, actor: Actor, path: str, params: dict[str, Any] | None
) -> tuple[int, dict[str, Any] | None]:
    status, body = await call(dapr, "orders", "GET", path, actor=actor, params=params)
    if status != 200 or body is None:
        return status, body
    orders = body["items"] if path == "orders" else [body]
    customers, products = await _related(dapr, orders)
    documents = [compose(order, customers.get(order["customer_id"]), products) for order in orders]
    return 200, ({**body, "items": documents} if path == "orders" else documents[0])


async def _related(
    dapr: DaprSidecar, orders: list[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Customers and products of some orders, one batch call each. A lookup that fails leaves
    names empty rather than failing the read: orders stay readable when customers is down."""
    customer_ids = sorted({o["customer_id"] for o in orders})
    product_ids = sorted({line["product_id"] for o in orders for line in o["items"]})
    customers, products = await asyncio.gather(
        _names(dapr, "customers", customer_ids),
        _names(dapr, "products", product_ids),
    )
    return customers, products


async def _names(dapr: DaprSidecar, app_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    try:
        return await batch_lookup(dapr, app_id, ids)
    except ServiceUnavailable:
        return {}
