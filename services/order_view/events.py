"""What order-view consumes: the CloudEvents of the orders, customers and products topics
(components/subscriptions/order-view.yaml), and what it needs of each.

A consumer declares only the fields it reads; publishers may send more. Only their presence is
checked: an event without them can never be applied (Dapr forwards it to the dead-letter topic).
"""

from dataclasses import dataclass
from typing import Any, Literal, cast

# The topics Dapr delivers to order-view, each at POST /events/<topic>.
TOPICS = ("orders", "customers", "products")

# The entity an event is about: "order.confirmed" is about an order.
Kind = Literal["order", "customer", "product"]

# What an event about each kind must carry: an order as the orders service publishes it, a
# customer's or product's snapshot as theirs do (services/shared/order_document.py reads them).
REQUIRED: dict[str, tuple[str, ...]] = {
    "order": ("id", "customer_id", "status", "items", "version"),
    "customer": ("id", "name", "version"),
    "product": ("id", "name", "version"),
}


class Unprocessable(Exception):
    """The event can never be applied (malformed, or names what does not exist)."""


@dataclass(frozen=True)
class Delivery:
    """One delivered event, checked: its id and type, the kind of entity it is about, and the
    entity as its owner published it."""

    id: str
    type: str
    topic: str
    kind: Kind
    data: dict[str, Any]


def parse(topic: str, envelope: dict[str, Any]) -> Delivery:
    """The delivery a CloudEvent carries; Unprocessable when it lacks what order-view needs."""
    event_id, event_type = envelope.get("id"), envelope.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise Unprocessable("no id or type")
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise Unprocessable("data is not an object")
    kind, dot, _ = event_type.partition(".")
    missing = [field for field in REQUIRED.get(kind, ()) if field not in data]
    if missing:
        raise Unprocessable(f"data lacks {', '.join(missing)}")
    if kind not in REQUIRED or not dot:
        raise Unprocessable(f"unknown event type {event_type}")
    return Delivery(id=event_id, type=event_type, topic=topic, kind=cast(Kind, kind), data=data)
