"""What order-view consumes: the CloudEvents of the orders, customers and products topics
(components/subscriptions/order-view.yaml), and what it needs of each.

A consumer declares only the fields it reads, as models (publishers may send more, and the rest
of a snapshot is kept as published); tests/unit/test_event_contracts.py checks that what each
publisher sends parses as these. An event that does not fit can never be applied: order-view
answers DROP, naming the field, and Dapr forwards it to the dead-letter topic.
"""

from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import BaseModel, Field

from services.shared.contracts import Cents, Id, IsoTime, Version
from services.shared.integration_events import InvalidEvent
from services.shared.integration_events import parse as parse_data

# The topics Dapr delivers to order-view, each at POST /events/<topic>.
TOPICS = ("orders", "customers", "products")

# The entity an event is about: "order.confirmed" is about an order.
Kind = Literal["order", "customer", "product"]

# What order-view reads of an event about each kind: an order as the orders service publishes it,
# a customer's or product's snapshot as theirs do (services/shared/order_document.py reads them).


class OrderLineRead(BaseModel):
    product_id: Id
    quantity: int = Field(ge=1)
    unit_price_cents: Cents | None = None


class OrderRead(BaseModel):
    id: Id
    customer_id: Id
    status: str
    items: list[OrderLineRead]
    total_cents: Cents
    created_at: IsoTime
    updated_at: IsoTime
    version: Version


class CustomerRead(BaseModel):
    id: Id
    name: str
    version: Version


class ProductRead(BaseModel):
    id: Id
    name: str
    version: Version


READS: dict[str, type[BaseModel]] = {"order": OrderRead, "customer": CustomerRead, "product": ProductRead}


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
    if kind not in READS or not dot:
        raise Unprocessable(f"unknown event type {event_type}")
    try:
        parse_data(READS[kind], data)
    except InvalidEvent as exc:
        raise Unprocessable(str(exc)) from None
    return Delivery(id=event_id, type=event_type, topic=topic, kind=cast(Kind, kind), data=data)
