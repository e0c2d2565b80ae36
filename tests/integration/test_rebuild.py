"""The read model's rebuild on two replicas against FerretDB: start-up rebuilds once, a request on
either replica is followed by a complete pass, and both report the same progress."""

import asyncio
from typing import Any

import httpx
from pymongo.database import Database

from harness.waiting import wait_until
from services.order_view.rebuild import Rebuilder
from services.order_view.store import ReadModelStore
from tests.integration.test_read_model_store import replica

CUSTOMER = {"id": "c1", "name": "Ann", "email": "ann@example.com", "version": 1}
PRODUCT = {"id": "p1", "name": "Lamp", "seller_id": "s1", "version": 1}


def orders(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"o{i:03d}",
            "customer_id": "c1",
            "status": "confirmed",
            "items": [
                {
                    "product_id": "p1",
                    "quantity": 1,
                    "unit_price_cents": 100,
                    "product_name": "Lamp",
                    "seller_id": "s1",
                }
            ],
            "total_cents": 100,
            "created_at": f"2026-12-01T00:{i // 60:02d}:{i % 60:02d}Z",
            "updated_at": f"2026-12-01T00:{i // 60:02d}:{i % 60:02d}Z",
            "version": 2,
        }
        for i in range(n)
    ]


class Sources:
    """The orders, customers and products services as the rebuild calls them, answering as
    they do (services/shared/calls/: OrderPage, CustomersFound, ProductsFound)."""

    def __init__(self, all_orders: list[dict[str, Any]]) -> None:
        self.orders = all_orders
        self.pages = 0

    async def invoke(self, target: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if path == "readyz":
            return httpx.Response(200, json={"status": "ready"})
        if path == "orders":
            self.pages += 1
            offset, limit = kwargs["params"]["offset"], kwargs["params"]["limit"]
            page = self.orders[offset : offset + limit]
            answer = {"items": page, "total": len(self.orders), "limit": limit, "offset": offset}
            return httpx.Response(200, json=answer)
        items = [CUSTOMER] if target == "customers" else [PRODUCT]
        return httpx.Response(200, json={"items": items})


async def done(rebuilder: Rebuilder) -> dict[str, Any]:
    """The progress once this replica's pass is over and the shared progress says done."""

    def finished() -> dict[str, Any] | None:
        progress = rebuilder.progress()
        return progress if progress["state"] == "done" and not rebuilder.running else None

    return await asyncio.to_thread(
        wait_until, finished, timeout=10, what="the rebuild to finish", interval=0.05
    )


def test_two_replicas_starting_rebuild_once_and_a_request_on_either_gets_a_complete_pass(
    mongo_db: Database,  # type: ignore[type-arg]
) -> None:
    sources = Sources(orders(250))
    stores: list[ReadModelStore] = [replica(mongo_db), replica(mongo_db)]

    async def scenario() -> tuple[int, dict[str, Any], dict[str, Any], int, int]:
        a, b = (Rebuilder(sources, store, page_size=100, watch_every_s=0.1) for store in stores)  # type: ignore[arg-type]
        try:
            await asyncio.gather(a.start_up(), b.start_up())
            first = await done(a)
            pages_at_start = sources.pages
            mongo_db["orders"].drop()
            assert (await b.request()) is False  # nothing running: b starts one
            assert (await asyncio.to_thread(a.progress))["state"] == "running"  # seen from a at once
            second = await done(b)
            return pages_at_start, first, second, sources.pages, mongo_db["orders"].count_documents({})
        finally:
            await a.stop()
            await b.stop()

    pages_at_start, first, second, pages, documents = asyncio.run(scenario())

    assert pages_at_start == 3 + 1  # one pass: 3 pages and the empty one that ends it
    assert first["built"] == second["built"] == 250
    assert pages == 2 * (3 + 1)
    assert documents == 250


def test_a_start_up_after_another_replica_asked_joins_its_pass(
    mongo_db: Database,  # type: ignore[type-arg]
) -> None:
    """Replicas starting together: b's request is counted but b has not claimed the rebuild yet
    when a starts; a asks for no second pass (the race that once made two passes at start)."""
    sources = Sources(orders(150))
    stores: list[ReadModelStore] = [replica(mongo_db), replica(mongo_db)]

    async def scenario() -> tuple[dict[str, Any], int]:
        a = Rebuilder(sources, stores[0], page_size=100, watch_every_s=0.1)  # type: ignore[arg-type]
        try:
            stores[1].rebuild.ask()  # b, between its ask and its claim
            await a.start_up()
            return await done(a), sources.pages
        finally:
            await a.stop()

    progress, pages = asyncio.run(scenario())

    assert progress["built"] == 150
    assert pages == 2 + 1
    assert stores[0].rebuild.read()["requested"] == stores[0].rebuild.read()["served"] == 1


def test_asking_unless_asked_counts_once_between_replicas_that_read_the_same_count(
    mongo_db: Database,  # type: ignore[type-arg]
) -> None:
    a, b = replica(mongo_db).rebuild, replica(mongo_db).rebuild

    empty = a.read()
    assert a.ask_unless_asked(empty) is True
    assert b.ask_unless_asked(empty) is False  # the document exists now: b's insert is refused

    once = a.read()
    assert b.ask_unless_asked(once) is True
    assert a.ask_unless_asked(once) is False
    assert a.read()["requested"] == 2
