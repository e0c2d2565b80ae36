"""The gateway's writes keep its product cache honest: whatever a write touched through this
gateway is read fresh next time, whether the write succeeded, was refused or timed out."""

import asyncio
from typing import Any

import httpx
import pytest

from services.gateway import service
from services.gateway.admission import InFlightLimit
from services.gateway.cache import Answer, ReadThroughCache
from services.gateway.models import NewOrder
from services.shared.dapr import ServiceUnavailable
from services.shared.identity import Actor

PRODUCT = "0f8fad5b-d9cb-469f-a165-70867728950e"
ACTOR = Actor(id="6ba7b810-9dad-11d1-80b4-00c04fd430c8", role="customer")


class FakeSidecar:
    """Answers every invocation with `answer`, or raises it; records the calls."""

    def __init__(self, answer: httpx.Response | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, str]] = []

    async def invoke(self, target: str, method: str, path: str, **_: Any) -> httpx.Response:
        self.calls.append((target, method, path))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def cached_product() -> ReadThroughCache:
    """A cache holding one product page."""
    products = ReadThroughCache("products", ttl_s=60, max_entries=10)

    async def load() -> Answer:
        return Answer(200, b"{}")

    asyncio.run(products.get(PRODUCT, load))
    assert len(products) == 1
    return products


def test_cancelling_an_order_forgets_the_products_whose_stock_it_released() -> None:
    products = cached_product()
    line = {"product_id": PRODUCT.upper(), "quantity": 1, "unit_price_cents": 100}
    order = {
        "id": "o1",
        "customer_id": ACTOR.id,
        "status": "cancelled",
        "items": [line | {"product_name": "Lamp", "seller_id": "s1"}],
        "total_cents": 100,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:01Z",
        "version": 3,
    }
    dapr = FakeSidecar(httpx.Response(200, json=order))

    response = asyncio.run(service.cancel_order(dapr, products, actor=ACTOR, order_id="o1"))

    assert response.status_code == 200
    assert len(products) == 0


def test_an_order_that_times_out_still_forgets_its_products() -> None:
    products = cached_product()
    dapr = FakeSidecar(ServiceUnavailable("orders", "timeout"))
    admission = InFlightLimit("orders", 1, wait_s=0)
    order = NewOrder.model_validate({"items": [{"product_id": PRODUCT, "quantity": 1}]})

    with pytest.raises(ServiceUnavailable):
        asyncio.run(
            service.place_order(dapr, products, admission, actor=ACTOR, order=order, idempotency_key=None)
        )

    assert len(products) == 0  # it may have reserved stock before the timeout
    assert admission.in_flight == 0  # and its slot is free again


def test_the_idempotency_key_reaches_the_orders_service() -> None:
    sent: dict[str, Any] = {}

    class Recording(FakeSidecar):
        async def invoke(self, target: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
            sent.update(kwargs["headers"])
            return await super().invoke(target, method, path)

    dapr = Recording(httpx.Response(201, json={"id": "o1"}))
    admission = InFlightLimit("orders", 1, wait_s=0)
    order = NewOrder.model_validate({"items": [{"product_id": PRODUCT, "quantity": 1}]})

    response = asyncio.run(
        service.place_order(
            dapr, cached_product(), admission, actor=ACTOR, order=order, idempotency_key="k-1"
        )
    )

    assert response.status_code == 201
    assert sent["idempotency-key"] == "k-1"
