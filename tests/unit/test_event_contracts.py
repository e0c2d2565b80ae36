"""Consumer contract tests: what each publisher really queues in its outbox (its own service
functions on SQLite) fits the catalogue's model of that event (services/shared/integration_events.py)
and every consumer's reading of it; and what a consumer could not apply is refused, naming the
field. No broker: the outbox row is what the relay publishes, unchanged."""

import asyncio
import logging
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from services.customers import service as customers
from services.customers.models import CustomerChanges
from services.customers.models import metadata as customers_tables
from services.customers.models import outbox as customers_outbox
from services.notifications.events import OrderNotice
from services.notifications.hub import Hub
from services.notifications.service import handle
from services.notifications.store import NotificationStore
from services.notifications.store import metadata as notifications_tables
from services.order_view.events import CustomerRead, OrderRead, ProductRead
from services.orders import service as orders
from services.orders.models import NewOrder
from services.orders.models import metadata as orders_tables
from services.orders.models import outbox as orders_outbox
from services.products import reserving
from services.products import service as products
from services.products.models import NewProduct, ProductChanges
from services.products.models import metadata as products_tables
from services.products.models import outbox as products_outbox
from services.shared.calls import NewCustomer, Reservation
from services.shared.identity import Actor
from services.shared.integration_events import (
    CATALOGUE,
    EVENTS,
    InvalidEvent,
    OrderConfirmed,
    ProductDeleted,
    model_for,
    parse,
)
from tests.unit.conftest import outbox_events

SELLER = Actor(id=str(uuid.uuid4()), role="customer")
BUYER = Actor(id=str(uuid.uuid4()), role="customer")
# topic -> event type -> the models each consumer reads that type with (beside the catalogue's).
# order-view reads every type of its three topics (services/order_view/events.py READS).
_ORDERS, _PRODUCTS, _CUSTOMERS = (
    ("order.confirmed", "order.rejected", "order.cancelled"),
    (
        "product.created",
        "product.updated",
        "product.deleted",
    ),
    ("customer.registered", "customer.updated"),
)
CONSUMERS: dict[str, dict[str, list[type[Any]]]] = {
    "orders": {
        t: [OrderRead, *([OrderNotice] if t in ("order.confirmed", "order.cancelled") else [])]
        for t in _ORDERS
    },
    "products": {t: [ProductRead] for t in _PRODUCTS},
    "customers": {t: [CustomerRead] for t in _CUSTOMERS},
}


@pytest.fixture
def published(make_db) -> dict[str, tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """event type -> (topic, data) as the publishers queue them: a product listed, renamed, sold
    in a confirmed order and an order rejected for its stock, that order cancelled, the product
    taken off sale; a customer registered and renamed."""
    shop, sales, people = make_db(products_tables), make_db(orders_tables), make_db(customers_tables)
    lamp = products.create(shop, seller=SELLER, new=NewProduct(name="Lamp", price_cents=1250, stock=3))["id"]
    products.change(shop, actor=SELLER, product_id=lamp, changes=ProductChanges(name="Desk lamp"))

    def order(quantity: int) -> dict[str, Any]:
        order_id = str(uuid.uuid4())
        new = NewOrder(items=[{"product_id": lamp, "quantity": quantity}])
        pending, _ = orders.record_pending(sales, order_id=order_id, customer_id=BUYER.id, new=new)
        answer = reserving.reserve(
            shop,
            reservation=Reservation(order_id=order_id, lines=[{"product_id": lamp, "quantity": quantity}]),
        )
        return orders.settle(sales, pending=pending, reservation=answer)

    confirmed = order(2)
    order(5)  # more than is left: rejected
    orders.mark_cancelled(sales, order_id=confirmed["id"])
    products.delete(shop, actor=SELLER, product_id=lamp)
    ann = customers.register(
        people, new=NewCustomer(id=str(uuid.uuid4()), email="ann@example.com", name="Ann")
    )
    customers.change(people, customer_id=ann["id"], changes=CustomerChanges(name="Ann Lee"))

    queued = {
        "products": outbox_events(shop, products_outbox),
        "orders": outbox_events(sales, orders_outbox),
        "customers": outbox_events(people, customers_outbox),
    }
    return {event_type: (topic, data) for topic, rows in queued.items() for event_type, data in rows}


def test_every_event_of_the_catalogue_is_published_and_nothing_else(published) -> None:  # type: ignore[no-untyped-def]
    assert {event_type: topic for event_type, (topic, _) in published.items()} == {
        event.TYPE: event.TOPIC for event in EVENTS
    }


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.TYPE)
def test_what_a_publisher_queues_is_exactly_its_model_on_the_wire(published, event) -> None:  # type: ignore[no-untyped-def]
    topic, data = published[event.TYPE]

    model = model_for(topic, event.TYPE)

    assert model is event
    # Strict: every field the publisher sends is declared, none is missing, each of its type;
    # and the model's JSON is what was queued, field for field (the wire is unchanged).
    assert model.model_validate(data).model_dump(mode="json") == data


@pytest.mark.parametrize(
    ("topic", "event_type", "reader"),
    [(t, e, reader) for t, types in CONSUMERS.items() for e, readers in types.items() for reader in readers],
)
def test_what_a_publisher_queues_parses_as_each_consumer_reads_it(
    published, topic, event_type, reader
) -> None:  # type: ignore[no-untyped-def]
    assert published[event_type][0] == topic

    parse(reader, published[event_type][1])


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.TYPE)
@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (lambda data: data.pop("id"), "id"),
        (lambda data: data.update(version="two"), "version"),
        (lambda data: data.update(created_at="yesterday"), "created_at"),
    ],
    ids=["missing id", "version not a number", "created_at not a time"],
)
def test_a_model_refuses_what_no_consumer_could_apply_naming_the_field(
    published, event, spoil, field
) -> None:  # type: ignore[no-untyped-def]
    data = dict(published[event.TYPE][1])
    spoil(data)

    with pytest.raises(InvalidEvent, match=rf"^{field}: "):
        parse(event, data)


def test_an_event_type_must_agree_with_the_state_it_carries(published) -> None:  # type: ignore[no-untyped-def]
    cancelled = published["order.cancelled"][1]
    deleted = published["product.deleted"][1]

    with pytest.raises(InvalidEvent, match="status"):
        parse(OrderConfirmed, cancelled)
    with pytest.raises(InvalidEvent, match="deleted"):
        parse(ProductDeleted, {**deleted, "deleted": False})


def test_a_publisher_cannot_send_a_field_the_catalogue_does_not_declare(published) -> None:  # type: ignore[no-untyped-def]
    data = published["order.confirmed"][1]

    with pytest.raises(ValidationError, match="coupon"):
        OrderConfirmed.model_validate({**data, "coupon": "FREE"})
    # A consumer reading with `parse` ignores it: a publisher ahead of its consumers breaks none.
    assert parse(OrderConfirmed, {**data, "coupon": "FREE"}).id == data["id"]


def test_every_topic_of_the_catalogue_names_its_events_by_their_prefix() -> None:
    prefixes = {"orders": "order.", "products": "product.", "customers": "customer."}

    assert {topic: sorted(types) for topic, types in CATALOGUE.items()} == {
        topic: sorted(e.TYPE for e in EVENTS if e.TYPE.startswith(prefixes[topic])) for topic in prefixes
    }


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (lambda order: order.pop("id"), "id"),
        (lambda order: order.update(customer_id=7), "customer_id"),
        (lambda order: order["items"][0].update(quantity="two"), "items.0.quantity"),
        (lambda order: order.update(items="none"), "items"),
    ],
    ids=["missing id", "customer id not text", "quantity not a number", "items not a list"],
)
def test_notifications_drops_an_order_event_it_cannot_apply_and_says_which_field(  # type: ignore[no-untyped-def]
    published, make_db, caplog, spoil, field
) -> None:
    order = {**published["order.confirmed"][1], "items": [dict(published["order.confirmed"][1]["items"][0])]}
    spoil(order)
    store = NotificationStore(make_db(notifications_tables))

    with caplog.at_level(logging.WARNING, logger="services.notifications.service"):
        outcome = asyncio.run(
            handle(None, store, Hub(), {"id": "e1", "type": "order.confirmed", "data": order})  # type: ignore[arg-type]
        )

    assert outcome == "DROP"
    [record] = [r for r in caplog.records if r.getMessage().startswith("dropping event")]
    assert record.reason.startswith(f"{field}: ")  # type: ignore[attr-defined]
    assert store.page(BUYER.id, limit=10, offset=0)["total"] == 0
