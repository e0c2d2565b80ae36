"""What the orders service publishes, on the `orders` topic: the order after each change of
status (services/shared/integration_events.py), queued in the transaction that made it."""

from typing import Any

from sqlalchemy import Connection

from services.orders.models import outbox
from services.shared.integration_events import OrderCancelled, OrderConfirmed, OrderEvent, OrderRejected
from services.shared.outbox import queue_event

PUBLISHED = (OrderConfirmed, OrderRejected, OrderCancelled)
# The event that tells of an order reaching a status (a pending order is no event yet).
BY_STATUS: dict[str, type[OrderEvent]] = {
    "confirmed": OrderConfirmed,
    "rejected": OrderRejected,
    "cancelled": OrderCancelled,
}


def publish(conn: Connection, order: dict[str, Any]) -> None:
    """Queues the event of the order's new status, with the order as shown (`service.snapshot`)."""
    queue_event(conn, outbox, BY_STATUS[order["status"]].model_validate(order))
