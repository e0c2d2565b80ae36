"""Product and reservation rules, on the products service's own tables (SQLite, no server)."""

import uuid

import pytest

from services.products import reserving, service
from services.products.models import NewProduct, ProductChanges, metadata, outbox
from services.shared.calls import Reservation
from services.shared.errors import ApiError
from services.shared.identity import Actor
from tests.unit.conftest import outbox_events

SELLER = Actor(id=str(uuid.uuid4()), role="customer")
OTHER = Actor(id=str(uuid.uuid4()), role="customer")
ADMIN = Actor(id=str(uuid.uuid4()), role="admin")


@pytest.fixture
def db(make_db):  # type: ignore[no-untyped-def]
    return make_db(metadata)


def listed(db, *, stock: int, price: int = 500) -> str:  # type: ignore[no-untyped-def]
    return service.create(db, seller=SELLER, new=NewProduct(name="p", price_cents=price, stock=stock))["id"]


def reservation(order_id: str, *lines: tuple[str, int]) -> Reservation:
    return Reservation(order_id=order_id, lines=[{"product_id": p, "quantity": q} for p, q in lines])


def new_order_id() -> str:
    return str(uuid.uuid4())


def test_a_reservation_takes_every_line_or_nothing(db) -> None:  # type: ignore[no-untyped-def]
    plenty, scarce = listed(db, stock=10), listed(db, stock=1)

    result = reserving.reserve(db, reservation=reservation(new_order_id(), (plenty, 3), (scarce, 2)))

    assert result.status == "rejected"
    assert service.get(db, product_id=plenty)["stock"] == 10
    assert service.get(db, product_id=scarce)["stock"] == 1


def test_a_reservation_fixes_the_current_prices_and_names_who_sold_what(db) -> None:  # type: ignore[no-untyped-def]
    product = listed(db, stock=5, price=1234)

    result = reserving.reserve(db, reservation=reservation(new_order_id(), (product, 2)))

    assert result.status == "reserved"
    assert result.model_dump()["lines"] == [
        {"product_id": product, "quantity": 2, "unit_price_cents": 1234, "name": "p", "seller_id": SELLER.id}
    ]
    assert service.get(db, product_id=product)["stock"] == 3


def test_the_same_order_never_reserves_twice(db) -> None:  # type: ignore[no-untyped-def]
    product, order_id = listed(db, stock=5), new_order_id()

    first = reserving.reserve(db, reservation=reservation(order_id, (product, 2)))
    again = reserving.reserve(db, reservation=reservation(order_id, (product, 2)))

    assert again == first
    assert service.get(db, product_id=product)["stock"] == 3


def test_a_rejection_is_remembered_for_its_order(db) -> None:  # type: ignore[no-untyped-def]
    product, order_id = listed(db, stock=1), new_order_id()
    reserving.reserve(db, reservation=reservation(order_id, (product, 2)))
    service.change(db, actor=SELLER, product_id=product, changes=ProductChanges(stock=10))

    assert reserving.reserve(db, reservation=reservation(order_id, (product, 2))).status == "rejected"


def test_a_retry_after_the_product_was_deleted_still_gets_the_first_answer(db) -> None:  # type: ignore[no-untyped-def]
    """The orders service retries a reservation whose answer it lost: refusing it now as unknown
    would make it drop its pending order while the stock stays reserved."""
    product, order_id = listed(db, stock=5), new_order_id()
    first = reserving.reserve(db, reservation=reservation(order_id, (product, 2)))
    service.delete(db, actor=SELLER, product_id=product)

    assert reserving.reserve(db, reservation=reservation(order_id, (product, 2))) == first


def test_an_unknown_or_deleted_product_is_refused_and_nothing_is_recorded(db) -> None:  # type: ignore[no-untyped-def]
    product, gone = listed(db, stock=5), listed(db, stock=5)
    service.delete(db, actor=SELLER, product_id=gone)

    for missing in (str(uuid.uuid4()), gone):
        with pytest.raises(ApiError) as refused:
            reserving.reserve(db, reservation=reservation(new_order_id(), (product, 1), (missing, 1)))
        assert refused.value.code == "unknown_product"
    assert service.get(db, product_id=product)["stock"] == 5


def test_releasing_gives_the_stock_back_once(db) -> None:  # type: ignore[no-untyped-def]
    product, order_id = listed(db, stock=5), new_order_id()
    reserving.reserve(db, reservation=reservation(order_id, (product, 4)))

    reserving.release(db, order_id=order_id)
    reserving.release(db, order_id=order_id)

    assert service.get(db, product_id=product)["stock"] == 5


def test_only_the_seller_or_an_admin_changes_a_product(db) -> None:  # type: ignore[no-untyped-def]
    product = listed(db, stock=5)

    with pytest.raises(ApiError) as refused:
        service.change(db, actor=OTHER, product_id=product, changes=ProductChanges(price_cents=1))
    assert refused.value.status == 403
    assert (
        service.change(db, actor=ADMIN, product_id=product, changes=ProductChanges(price_cents=2))[
            "price_cents"
        ]
        == 2
    )


def test_every_seller_change_is_versioned_and_queued_as_an_event(db) -> None:  # type: ignore[no-untyped-def]
    product = listed(db, stock=5)
    service.change(db, actor=SELLER, product_id=product, changes=ProductChanges(name="renamed"))
    service.change(db, actor=SELLER, product_id=product, changes=ProductChanges(stock=4))

    events = outbox_events(db, outbox)

    assert [t for t, _ in events] == ["product.created", "product.updated", "product.updated"]
    assert [payload["version"] for _, payload in events] == [1, 2, 3]
    assert events[-1][1]["stock"] == 4


def test_stock_an_order_takes_or_gives_back_is_no_product_event(db) -> None:  # type: ignore[no-untyped-def]
    product, order_id = listed(db, stock=5), new_order_id()
    reserving.reserve(db, reservation=reservation(order_id, (product, 2)))
    reserving.release(db, order_id=order_id)

    assert [t for t, _ in outbox_events(db, outbox)] == ["product.created"]
    assert service.get(db, product_id=product)["stock"] == 5


def test_changes_must_name_something_to_change() -> None:
    with pytest.raises(ValueError):
        ProductChanges()
    with pytest.raises(ValueError):
        ProductChanges(name=None)


def test_a_sellers_listing_holds_their_products_alone(db) -> None:  # type: ignore[no-untyped-def]
    mine = listed(db, stock=1)
    service.create(db, seller=OTHER, new=NewProduct(name="theirs", price_cents=100, stock=1))

    page = service.page(db, limit=20, offset=0, seller_id=SELLER.id)

    assert [item["id"] for item in page["items"]] == [mine]
    assert page["total"] == 1


@pytest.mark.parametrize("q", ["tv", "a b c", "__", "!!"])
def test_a_search_without_a_word_the_index_holds_is_refused(q: str) -> None:
    with pytest.raises(ApiError) as refused:
        service.name_search(q)

    assert (refused.value.status, refused.value.code) == (422, "search_too_short")


def test_a_search_passes_words_alone_to_the_index_never_its_operators() -> None:
    match, *short = service.name_search('Brass -lamp* "tv" @+x')

    assert match.right.value == "+brass* +lamp*"  # type: ignore[attr-defined]
    assert len(short) == 2  # "tv" and "x" narrow down what the index found
