"""Order events become notifications: the buyer hears about the order, every seller whose
product is in it hears what sold. Stored before pushed; ids derived from the event, so a
redelivered event is neither stored nor pushed twice. A notification is dated by the order
change it tells of, not by its arrival: with several consumers, events arrive out of order, and
an inbox read oldest first must follow what happened."""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from services.notifications import events
from services.notifications.events import NoticeLine, OrderNotice
from services.notifications.hub import Hub
from services.notifications.store import NotificationStore
from services.shared.dapr import DaprSidecar, ServiceUnavailable, lookup_products
from services.shared.errors import ApiError
from services.shared.events import Outcome
from services.shared.integration_events import InvalidEvent, OrderConfirmed
from services.shared.timeutil import utcnow

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("0b7c6a0e-6a55-4d0e-9f6f-3f0e5c1d2a77")


async def handle(dapr: DaprSidecar, store: NotificationStore, hub: Hub, envelope: dict[str, Any]) -> Outcome:
    """Stores and pushes the notifications of one delivery; says what Dapr should do with it."""
    context = {"event_id": envelope.get("id"), "event_type": envelope.get("type")}
    try:
        delivery = events.read(envelope)
    except InvalidEvent as exc:
        log.warning("dropping event (to the dead-letter topic)", extra={**context, "reason": str(exc)})
        return "DROP"
    if delivery is None:
        return "SUCCESS"
    event_id, event_type, order = delivery
    try:
        pushed = await notify(dapr, store, hub, event_id=event_id, event_type=event_type, order=order)
    except (ServiceUnavailable, SQLAlchemyError) as exc:
        log.warning("cannot notify yet, asking for redelivery", extra={**context, "error": str(exc)})
        return "RETRY"
    log.info("notifications sent", extra={**context, "connections": pushed})
    return "SUCCESS"


async def notify(
    dapr: DaprSidecar,
    store: NotificationStore,
    hub: Hub,
    *,
    event_id: str,
    event_type: str,
    order: OrderNotice,
) -> int:
    """Stores an order event's notifications (those not stored before) and pushes them to the
    connections on this replica; returns how many connections they went to."""
    products = await _products(dapr, order.items)
    pushed = 0
    for user_id, stored in await run_in_threadpool(
        store.add_all, build(event_id, event_type, order, products)
    ):
        pushed += hub.push(user_id, stored)
    return pushed


def _id(event_id: str, *parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join((event_id, *parts))))


def _happened_at(order: OrderNotice) -> datetime:
    """When the order changed, naive UTC as stored; now if the event does not say."""
    at = order.updated_at
    if at is None:
        return utcnow()
    return at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)


def _money(cents: int | None) -> str:
    return "?" if cents is None else f"{cents / 100:.2f}"


def build(
    event_id: str, event_type: str, order: OrderNotice, products: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The notifications one order event produces, each with its recipient in `user_id` and
    the time of the order change in `created_at`."""
    short = order.id[:8]
    at = _happened_at(order)
    confirmed = event_type == OrderConfirmed.TYPE
    buyer_text = (
        f"Your order {short} is confirmed: {_money(order.total_cents)} in total."
        if confirmed
        else f"Your order {short} was cancelled."
    )
    notifications = [
        {
            "id": _id(event_id, order.customer_id, "buyer"),
            "user_id": order.customer_id,
            "type": event_type,
            "text": buyer_text,
            "order_id": order.id,
            "created_at": at,
        }
    ]
    for line in order.items:
        product = products.get(line.product_id)
        if not product:
            continue
        name, quantity = product.get("name", "a product"), line.quantity
        notifications.append(
            {
                "id": _id(event_id, product["seller_id"], line.product_id),
                "user_id": product["seller_id"],
                "type": "product.sold" if confirmed else "order.cancelled",
                "text": f"You sold {quantity} x {name} (order {short})."
                if confirmed
                else f"Order {short} with {quantity} x {name} was cancelled.",
                "order_id": order.id,
                "product_id": line.product_id,
                "quantity": quantity,
                "created_at": at,
            }
        )
    return notifications


async def _products(dapr: DaprSidecar, lines: list[NoticeLine]) -> dict[str, dict[str, Any]]:
    """Name and seller of each product of an order: from the event's lines, which carry them
    (as sold); asked of products only for lines that do not (events from before they did)."""
    products = {
        line.product_id: {"id": line.product_id, "name": line.product_name, "seller_id": line.seller_id}
        for line in lines
        if line.product_name and line.seller_id
    }
    unknown = sorted({line.product_id for line in lines} - set(products))
    asked = await lookup_products(dapr, unknown)
    return products | {
        product.id: {"id": product.id, "name": product.name, "seller_id": product.seller_id}
        for product in asked.values()
    }


def mark_read(store: NotificationStore, user_id: str, notification_id: str) -> None:
    """Marks one of the user's notifications read; 404 for any other (another user's too)."""
    if not store.mark_read(user_id, notification_id):
        raise ApiError(404, "not_found", "notification not found")
