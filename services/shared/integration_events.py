"""The catalogue of integration events: every event the system publishes, one model per event
type, and which topic carries it.

Publishers build their events from these models (`services.shared.outbox.queue_event` takes
nothing else), so a field left out, misspelt or of the wrong type fails at the publisher, in its
unit tests, instead of at a consumer at run time. The models are `Strict`: a field the catalogue
does not declare cannot be published. The wire format is the model's JSON (`model_dump(mode=
"json")`): the field names and values consumers have always read.

Consumers read with `parse`, which ignores fields they do not know (a publisher may add a field
before its consumers are redeployed; a reader tolerant of that never dead-letters an event it
could apply). A consumer that reads a few fields declares only those (see
`services.notifications.events.OrderNotice`); one that keeps the whole snapshot parses the
model itself. tests/unit/test_event_contracts.py checks both sides against what each publisher
really writes to its outbox.

Each event's data is the entity's snapshot after the change, with its `version`: consumers
apply it only when newer than what they hold, so redeliveries and out-of-order deliveries are
harmless. The event type names the contract: a change a consumer could not read (a field
removed, renamed or retyped) is published as a new type, never as a new shape of an old one.
"""

from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

# Id is imported from here by the events' consumers too.
from services.shared.calls.products import Product
from services.shared.contracts import Cents, Id, IsoTime, Strict, Version, describe


class IntegrationEvent(Strict):
    """An event one service publishes for the others: its topic and CloudEvent type, and as
    fields its data."""

    TOPIC: ClassVar[str]
    TYPE: ClassVar[str]


# --- orders: the order after each change of status --------------------------------------------


class SoldLine(Strict):
    """An order line as sold. Price, name and seller are fixed by the stock reservation; events
    from before orders kept names and sellers carry them as null."""

    product_id: Id
    quantity: int = Field(ge=1)
    unit_price_cents: Cents | None
    product_name: str | None
    seller_id: Id | None


class OrderEvent(IntegrationEvent):
    """The order as the orders service shows it (services/orders/service.py `snapshot`)."""

    TOPIC: ClassVar[str] = "orders"

    id: Id
    customer_id: Id
    status: str
    items: list[SoldLine]
    total_cents: Cents
    created_at: IsoTime
    updated_at: IsoTime
    version: Version


class OrderConfirmed(OrderEvent):
    """Its stock is reserved and its prices fixed."""

    TYPE: ClassVar[str] = "order.confirmed"
    status: Literal["confirmed"]


class OrderRejected(OrderEvent):
    """Not enough stock for one of its lines: nothing was reserved."""

    TYPE: ClassVar[str] = "order.rejected"
    status: Literal["rejected"]


class OrderCancelled(OrderEvent):
    """Cancelled after it was confirmed: its stock went back to the products."""

    TYPE: ClassVar[str] = "order.cancelled"
    status: Literal["cancelled"]


# --- products: a seller's change (stock an order takes is told by the order's events) ---------


# The fields are those of products' answers (services/shared/calls/products.py): one snapshot.
class ProductEvent(IntegrationEvent, Product):
    """The product as the products service shows it (services/products/service.py `snapshot`)."""

    TOPIC: ClassVar[str] = "products"


class ProductCreated(ProductEvent):
    TYPE: ClassVar[str] = "product.created"
    deleted: Literal[False]


class ProductUpdated(ProductEvent):
    """Renamed, described, priced or restocked by its seller (or an admin)."""

    TYPE: ClassVar[str] = "product.updated"
    deleted: Literal[False]


class ProductDeleted(ProductEvent):
    """Taken off sale; kept, so past orders still name it."""

    TYPE: ClassVar[str] = "product.deleted"
    deleted: Literal[True]


# --- customers ----------------------------------------------------------------------------------


class CustomerEvent(IntegrationEvent):
    """The customer as the customers service shows it (services/customers/service.py `snapshot`)."""

    TOPIC: ClassVar[str] = "customers"

    id: Id
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(min_length=1)
    created_at: IsoTime
    updated_at: IsoTime
    version: Version


class CustomerRegistered(CustomerEvent):
    TYPE: ClassVar[str] = "customer.registered"


class CustomerUpdated(CustomerEvent):
    """Renamed."""

    TYPE: ClassVar[str] = "customer.updated"


EVENTS: tuple[type[IntegrationEvent], ...] = (
    OrderConfirmed,
    OrderRejected,
    OrderCancelled,
    ProductCreated,
    ProductUpdated,
    ProductDeleted,
    CustomerRegistered,
    CustomerUpdated,
)
# topic -> event type -> model: what a subscriber to a topic can receive.
CATALOGUE: dict[str, dict[str, type[IntegrationEvent]]] = {}
for _event in EVENTS:
    CATALOGUE.setdefault(_event.TOPIC, {})[_event.TYPE] = _event


def model_for(topic: str, event_type: str) -> type[IntegrationEvent] | None:
    """The model of an event type on a topic; None for a type the catalogue does not know."""
    return CATALOGUE.get(topic, {}).get(event_type)


class InvalidEvent(ValueError):
    """An event's data does not fit the model its consumer reads it with: it can never be
    applied, and its consumer answers DROP (Dapr dead-letters it). The message names the
    fields at fault."""


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """An event's data as `model`, ignoring fields the model does not declare; InvalidEvent
    naming the fields at fault when it does not fit."""
    try:
        return model.model_validate(data, extra="ignore")
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from exc
