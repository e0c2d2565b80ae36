"""Order rules on the orders service's own tables (SQLite, no server)."""

import uuid

import pytest

from services.orders import service
from services.orders.models import NewOrder, metadata, outbox
from services.shared.calls import ReservationOutcome
from services.shared.errors import ApiError
from services.shared.identity import Actor
from tests.unit.conftest import outbox_events

BUYER = Actor(id=str(uuid.uuid4()), role="customer")
OTHER = Actor(id=str(uuid.uuid4()), role="customer")
ADMIN = Actor(id=str(uuid.uuid4()), role="admin")
P1, P2 = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def db(make_db):  # type: ignore[no-untyped-def]
    return make_db(metadata)


def pending(db) -> str:  # type: ignore[no-untyped-def]
    order_id = str(uuid.uuid4())
    new = NewOrder(items=[{"product_id": P2, "quantity": 1}, {"product_id": P1, "quantity": 2}])
    service.record_pending(db, order_id=order_id, customer_id=BUYER.id, new=new)
    return order_id


def settle(db, order_id: str, status: str = "reserved") -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Settles a pending order as placing does: from the order as recorded."""
    recorded = service.find(db, order_id=order_id)
    return service.settle(db, pending=recorded, reservation=reserved(order_id, status))


def reserved(order_id: str, status: str = "reserved") -> ReservationOutcome:
    lines = [
        {"product_id": P1, "quantity": 2, "unit_price_cents": 300, "name": "Kettle", "seller_id": "s1"},
        {"product_id": P2, "quantity": 1, "unit_price_cents": 1000, "name": "Teapot", "seller_id": "s2"},
    ]
    return ReservationOutcome.model_validate({"order_id": order_id, "status": status, "lines": lines})


def test_a_reserved_order_is_confirmed_with_its_prices_and_total(db) -> None:  # type: ignore[no-untyped-def]
    order_id = str(uuid.uuid4())
    new = NewOrder(items=[{"product_id": P2, "quantity": 1}, {"product_id": P1, "quantity": 2}])
    recorded, created = service.record_pending(db, order_id=order_id, customer_id=BUYER.id, new=new)
    assert created and recorded == service.find(db, order_id=order_id)

    order = service.settle(db, pending=recorded, reservation=reserved(order_id))

    assert (order["status"], order["total_cents"], order["version"]) == ("confirmed", 1600, 2)
    sold = {
        i["product_id"]: (i["product_name"], i["seller_id"], i["unit_price_cents"]) for i in order["items"]
    }
    assert sold == {P1: ("Kettle", "s1", 300), P2: ("Teapot", "s2", 1000)}
    # What is answered and published is the order as stored, though settle reads nothing.
    assert order == service.find(db, order_id=order_id)
    assert outbox_events(db, outbox) == [("order.confirmed", order)]


def test_a_short_reservation_rejects_the_order(db) -> None:  # type: ignore[no-untyped-def]
    order_id = pending(db)

    order = settle(db, order_id, "rejected")

    assert order["status"] == "rejected"
    assert [t for t, _ in outbox_events(db, outbox)] == ["order.rejected"]


def test_settling_twice_publishes_once(db) -> None:  # type: ignore[no-untyped-def]
    order_id = pending(db)
    settle(db, order_id)
    settle(db, order_id)

    assert len(outbox_events(db, outbox)) == 1


def test_only_a_confirmed_order_can_be_cancelled_and_only_once(db) -> None:  # type: ignore[no-untyped-def]
    order_id = pending(db)
    with pytest.raises(ApiError):
        service.mark_cancelled(db, order_id=order_id)
    settle(db, order_id)

    assert service.mark_cancelled(db, order_id=order_id)["status"] == "cancelled"
    with pytest.raises(ApiError) as again:
        service.mark_cancelled(db, order_id=order_id)
    assert again.value.code == "not_cancellable"


def test_another_customers_order_looks_like_no_order(db) -> None:  # type: ignore[no-untyped-def]
    order_id = pending(db)

    assert service.visible(db, actor=BUYER, order_id=order_id)["id"] == order_id
    assert service.visible(db, actor=ADMIN, order_id=order_id)["id"] == order_id
    with pytest.raises(ApiError) as hidden:
        service.visible(db, actor=OTHER, order_id=order_id)
    assert (hidden.value.status, hidden.value.code) == (404, "not_found")


def test_an_idempotency_key_maps_to_one_order_id_per_customer() -> None:
    assert service.order_id_for(BUYER.id, "k") == service.order_id_for(BUYER.id, "k")
    assert service.order_id_for(BUYER.id, "k") != service.order_id_for(OTHER.id, "k")
    assert service.order_id_for(BUYER.id, None) != service.order_id_for(BUYER.id, None)


def test_an_order_names_each_product_once() -> None:
    with pytest.raises(ValueError):
        NewOrder(items=[{"product_id": P1, "quantity": 1}, {"product_id": P1, "quantity": 2}])


def test_a_page_shows_each_order_as_it_is_read_alone_newest_first(db) -> None:  # type: ignore[no-untyped-def]
    first, second, third = pending(db), pending(db), pending(db)
    settle(db, second)
    settle(db, third, "rejected")

    page = service.page(db, customer_id=None, limit=2, offset=0)
    rest = service.page(db, customer_id=BUYER.id, limit=2, offset=2)

    alone = {order_id: service.find(db, order_id=order_id) for order_id in (first, second, third)}
    assert page["items"] == [alone[third], alone[second]]
    assert rest["items"] == [alone[first]]
    assert (page["total"], rest["total"]) == (3, 3)
    assert [len(order["items"]) for order in page["items"] + rest["items"]] == [2, 2, 2]
