"""Order reads: order documents from the read model (order-view) first, aggregated live from
orders, customers and products when the read model is unavailable or has not seen an order yet.
Either way the client gets the same document (services/shared/order_document.py), as
OrderDocument(Page) declares it (services/shared/calls/order_view.py)."""

import asyncio
from typing import Any

from fastapi import Response

from services.gateway.forwarding import call, relay, respond
from services.shared.calls import Order, OrderDocument, OrderDocumentPage, OrderPage
from services.shared.dapr import DaprSidecar, ServiceUnavailable, answer_of, batch_lookup
from services.shared.identity import Actor
from services.shared.order_document import compose

# Where an answer came from, for the client's X-Read-Model header.
VIEW, LIVE = "view", "live"


async def read_orders(
    dapr: DaprSidecar, actor: Actor, path: str, params: dict[str, str | int] | None
) -> Response:
    """Reads order documents from order-view (forwarded as they come); when it is down (or its
    circuit is open), or has not seen an order yet, aggregates the same documents live. The
    answer's X-Read-Model header says which."""
    try:
        response = await call(dapr, "order-view", "GET", path, actor=actor, params=params)
        if response.status_code < 500 and not (response.status_code == 404 and path != "orders"):
            return _from(VIEW, relay(response))
    except ServiceUnavailable:
        pass
    return _from(LIVE, await _live(dapr, actor, path, params))


def _from(source: str, answer: Response) -> Response:
    answer.headers["X-Read-Model"] = source
    return answer


async def _live(dapr: DaprSidecar, actor: Actor, path: str, params: dict[str, str | int] | None) -> Response:
    response = await call(dapr, "orders", "GET", path, actor=actor, params=params)
    if response.status_code != 200:
        return relay(response)
    if path != "orders":
        [document] = await _documents(dapr, [answer_of(response, Order, target="orders")])
        return respond(OrderDocument.model_validate(document))
    page = answer_of(response, OrderPage, target="orders")
    documents = await _documents(dapr, page.items)
    return respond(
        OrderDocumentPage.model_validate(
            {"items": documents, "total": page.total, "limit": page.limit, "offset": page.offset}
        )
    )


async def _documents(dapr: DaprSidecar, orders: list[Order]) -> list[dict[str, Any]]:
    """The documents of some orders, with their customers and products: one batch call each. A
    lookup that fails leaves names empty rather than failing the read: orders stay readable
    when customers is down."""
    customer_ids = sorted({order.customer_id for order in orders})
    product_ids = sorted({line.product_id for order in orders for line in order.items})
    customers, products = await asyncio.gather(
        _names(dapr, "customers", customer_ids),
        _names(dapr, "products", product_ids),
    )
    return [compose(order.model_dump(), customers.get(order.customer_id), products) for order in orders]


async def _names(dapr: DaprSidecar, app_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Customers or products by id, each checked by its lookup's model (CustomerSnapshot,
    ProductSnapshot) and handed on as the dict `compose` reads, as order-view's are."""
    try:
        return await batch_lookup(dapr, app_id, ids)
    except ServiceUnavailable:
        return {}
