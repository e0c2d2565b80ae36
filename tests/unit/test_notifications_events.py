"""Order events become notifications: stored once per event, pushed to whoever is connected,
and named from the event itself (products asked only for lines that do not say)."""

import asyncio
from typing import Any

import httpx
import pytest

from services.notifications.hub import Hub
from services.notifications.service import handle
from services.notifications.store import NotificationStore, metadata

BUYER, SELLER = "b1", "s1"


class CountingSidecar:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def invoke(self, target: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.calls.append(kwargs["json"])
        # As products answers (services/shared/calls/products.py ProductsFound).
        items = [
            {"id": i, "name": "Old lamp", "seller_id": SELLER, "version": 3} for i in kwargs["json"]["ids"]
        ]
        return httpx.Response(200, json={"items": items})


@pytest.fixture
def store(make_db) -> NotificationStore:  # type: ignore[no-untyped-def]
    return NotificationStore(make_db(metadata))


def confirmed(event_id: str, **line: Any) -> dict[str, Any]:
    order = {
        "id": "0123456789",
        "customer_id": BUYER,
        "total_cents": 1250,
        "items": [{"product_id": "p1", "quantity": 2, "unit_price_cents": 625, **line}],
    }
    return {"id": event_id, "type": "order.confirmed", "data": order}


def deliver(store: NotificationStore, dapr: CountingSidecar, envelope: dict[str, Any]) -> str:
    return asyncio.run(handle(dapr, store, Hub(), envelope))  # type: ignore[arg-type]


def test_an_event_naming_its_products_notifies_buyer_and_seller_without_asking_products(store) -> None:  # type: ignore[no-untyped-def]
    dapr = CountingSidecar()

    outcome = deliver(store, dapr, confirmed("e1", product_name="Lamp", seller_id=SELLER))

    assert outcome == "SUCCESS"
    assert dapr.calls == []
    assert [n["text"] for n in store.page(BUYER, limit=10, offset=0)["items"]] == [
        "Your order 01234567 is confirmed: 12.50 in total."
    ]
    assert [n["text"] for n in store.page(SELLER, limit=10, offset=0)["items"]] == [
        "You sold 2 x Lamp (order 01234567)."
    ]


def test_an_older_event_without_names_asks_products_for_them(store) -> None:  # type: ignore[no-untyped-def]
    dapr = CountingSidecar()

    deliver(store, dapr, confirmed("e1"))

    assert dapr.calls == [{"ids": ["p1"]}]
    assert (
        store.page(SELLER, limit=10, offset=0)["items"][0]["text"]
        == "You sold 2 x Old lamp (order 01234567)."
    )


def test_a_redelivered_event_stores_nothing_twice(store) -> None:  # type: ignore[no-untyped-def]
    dapr = CountingSidecar()
    event = confirmed("e1", product_name="Lamp", seller_id=SELLER)

    assert (deliver(store, dapr, event), deliver(store, dapr, event)) == ("SUCCESS", "SUCCESS")

    assert store.page(BUYER, limit=10, offset=0)["total"] == 1
    assert store.page(SELLER, limit=10, offset=0)["total"] == 1
