"""What notifications consumes: order events on the `orders` topic
(components/subscriptions/notifications.yaml), `order.confirmed` and `order.cancelled`.

It declares only the fields it reads of them (`OrderNotice`), and ignores the rest, so the
orders service may add a field without notifications being redeployed first;
tests/unit/test_event_contracts.py checks that what orders publishes parses as this. A delivery
whose data does not fit can never be applied: service.handle answers it DROP (Dapr dead-letters
it), with a log line naming the fields at fault.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.shared.integration_events import Id, InvalidEvent, OrderCancelled, OrderConfirmed, parse

# Other order events (order.rejected) notify nobody.
HANDLED = (OrderConfirmed.TYPE, OrderCancelled.TYPE)


class NoticeLine(BaseModel):
    """An order line as notifications reads it. Name and seller are null in events from before
    orders kept them: products is asked then."""

    product_id: Id
    quantity: int = Field(ge=1)
    product_name: str | None = None
    seller_id: Id | None = None


class OrderNotice(BaseModel):
    """What notifications reads of an order event (OrderConfirmed, OrderCancelled)."""

    id: Id
    customer_id: Id
    items: list[NoticeLine]
    total_cents: int | None = None
    # When the order changed: a notification is dated by it, not by its arrival.
    updated_at: datetime | None = None


def read(envelope: dict[str, Any]) -> tuple[str, str, OrderNotice] | None:
    """The event id, type and order of a delivery; None for an event notifications ignores.
    Raises InvalidEvent, naming the fields at fault, for one it can never apply."""
    event_id, event_type = envelope.get("id"), envelope.get("type")
    if event_type not in HANDLED:
        return None
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEvent("the event has no id")
    return event_id, event_type, parse(OrderNotice, envelope.get("data"))
