"""The SQL of products and orders against MariaDB itself, on databases their own migrations
made: what SQLite (the unit tests) cannot show. The name search is a FULLTEXT index; two
reservations of the same stock race on row locks; an order lives through its states with its
lines, and text comes back as written."""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.orders import service as orders
from services.orders.models import NewOrder, OrderLine
from services.products import reserving
from services.products import service as products
from services.products.models import NewProduct
from services.shared.calls import Reservation, ReservationLine
from services.shared.identity import Actor
from services.shared.migrations import upgrade
from tests.integration.conftest import own_database

ROOT = Path(__file__).resolve().parents[2]
SELLER = Actor(id=str(uuid.uuid4()), role="customer")


def migrated(mariadb_root: Engine, service: str) -> Iterator[Engine]:
    """A database of its own for one service, its migrations applied."""
    with own_database(mariadb_root) as engine:
        upgrade(engine, ROOT / "services" / service / "migrations")
        yield engine


@pytest.fixture
def shop(mariadb_root: Engine) -> Iterator[Engine]:
    yield from migrated(mariadb_root, "products")


@pytest.fixture
def sales(mariadb_root: Engine) -> Iterator[Engine]:
    yield from migrated(mariadb_root, "orders")


def listed(engine: Engine, name: str, stock: int = 5) -> str:
    new = NewProduct(name=name, price_cents=250, stock=stock)
    return str(products.create(engine, seller=SELLER, new=new)["id"])


def test_the_name_search_finds_every_word_the_and_emoji_included(shop: Engine) -> None:
    lantern = listed(shop, "The Brass Lantern 🏮")
    listed(shop, "Teapot")

    def found(q: str) -> list[str]:
        return [p["id"] for p in products.page(shop, limit=10, offset=0, q=q)["items"]]

    assert found("lant") == [lantern]
    assert found("the brass") == [lantern]  # "the" is indexed: no stopword list
    assert found("teapots") == []
    assert products.get(shop, product_id=lantern)["name"] == "The Brass Lantern 🏮"


def test_two_reservations_racing_for_the_last_item_leave_one_reserved(shop: Engine) -> None:
    last = listed(shop, "Last one", stock=1)
    outcomes: list[str] = []

    def reserve() -> None:
        reservation = Reservation(
            order_id=str(uuid.uuid4()), lines=[ReservationLine(product_id=last, quantity=1)]
        )
        outcomes.append(reserving.reserve(shop, reservation=reservation).status)

    threads = [threading.Thread(target=reserve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["rejected", "reserved"]
    assert products.get(shop, product_id=last)["stock"] == 0


def test_an_order_is_recorded_settled_and_cancelled_with_its_lines(shop: Engine, sales: Engine) -> None:
    lamp, mug = listed(shop, "Lamp ☕"), listed(shop, "Mug")
    order_id = str(uuid.uuid4())
    new = NewOrder(items=[OrderLine(product_id=lamp, quantity=2), OrderLine(product_id=mug, quantity=1)])

    pending, created = orders.record_pending(sales, order_id=order_id, customer_id=SELLER.id, new=new)
    again, created_again = orders.record_pending(sales, order_id=order_id, customer_id=SELLER.id, new=new)
    reservation = Reservation(
        order_id=order_id,
        lines=[ReservationLine(product_id=i.product_id, quantity=i.quantity) for i in new.items],
    )
    confirmed = orders.settle(
        sales, pending=pending, reservation=reserving.reserve(shop, reservation=reservation)
    )
    cancelled = orders.mark_cancelled(sales, order_id=order_id)

    assert (created, created_again, again["id"]) == (True, False, order_id)
    assert confirmed["status"] == "confirmed" and confirmed["total_cents"] == 750
    assert {line["product_name"] for line in confirmed["items"]} == {"Lamp ☕", "Mug"}
    assert cancelled["status"] == "cancelled" and cancelled["version"] > confirmed["version"]
