"""The connection hub: bounded per-connection queues, backlog first, each id once."""

import asyncio
from typing import Any

from prometheus_client import REGISTRY

from services.notifications.events import OrderNotice
from services.notifications.hub import Connection, Hub
from services.notifications.service import build


class FakeSocket:
    def __init__(self, expect: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self.expect = expect
        self.got_all = asyncio.Event()

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if len(self.sent) >= self.expect:
            self.got_all.set()


def note(i: int) -> dict[str, Any]:
    return {"id": f"n{i}", "type": "order.confirmed", "text": "", "order_id": "o", "created_at": ""}


async def pump_until_sent(connection: Connection, socket: FakeSocket) -> None:
    pump = asyncio.create_task(connection.pump())
    try:
        await asyncio.wait_for(socket.got_all.wait(), timeout=1)
    finally:
        pump.cancel()


def test_a_client_that_falls_too_far_behind_is_flagged_without_blocking_others() -> None:
    async def scenario() -> tuple[bool, bool, int]:
        hub = Hub()
        slow, fast = Connection(FakeSocket(), "u1", 2), Connection(FakeSocket(), "u1", 100)  # type: ignore[arg-type]
        for c in (slow, fast):
            c.start_with([])
            hub.add(c)
        for i in range(5):
            hub.push("u1", note(i))
        return slow.overflowed.is_set(), fast.overflowed.is_set(), fast.queue.qsize()

    assert asyncio.run(scenario()) == (True, False, 5)


def test_unread_backlog_goes_first_and_each_notification_is_sent_once() -> None:
    async def scenario() -> list[str]:
        socket = FakeSocket(expect=4)
        connection = Connection(socket, "u1", 10)  # type: ignore[arg-type]
        connection.offer(note(3))  # arrives live while the backlog is being read
        connection.offer(note(4))
        connection.start_with([note(1), note(2), note(3)])
        await pump_until_sent(connection, socket)
        return [m["data"]["id"] for m in socket.sent]

    assert asyncio.run(scenario())[:4] == ["n1", "n2", "n3", "n4"]


def test_a_sale_notifies_the_buyer_and_each_seller_with_the_product_and_quantity() -> None:
    order = OrderNotice(
        id="o-123456789",
        customer_id="buyer",
        total_cents=2500,
        items=[{"product_id": "p1", "quantity": 2}, {"product_id": "p2", "quantity": 1}],
    )
    products = {
        "p1": {"id": "p1", "name": "Lamp", "seller_id": "s1"},
        "p2": {"id": "p2", "name": "Rug", "seller_id": "s2"},
    }

    notes = build("event-1", "order.confirmed", order, products)
    again = build("event-1", "order.confirmed", order, products)

    assert [(n["user_id"], n["type"]) for n in notes] == [
        ("buyer", "order.confirmed"),
        ("s1", "product.sold"),
        ("s2", "product.sold"),
    ]
    assert "2 x Lamp" in notes[1]["text"]
    assert [n["id"] for n in notes] == [n["id"] for n in again]  # a redelivery maps to the same ids


def test_a_users_connection_beyond_the_limit_replaces_the_oldest() -> None:
    async def scenario() -> tuple[list[bool], list[bool], int]:
        hub = Hub(max_per_user=2)
        mine = [Connection(FakeSocket(), "u1", 10) for _ in range(3)]  # type: ignore[arg-type]
        other = Connection(FakeSocket(), "u2", 10)  # type: ignore[arg-type]
        replaced = [hub.add(c) for c in (mine[0], other, mine[1], mine[2])]
        hub.remove(mine[0])  # its session ends after it was replaced: nothing else changes
        return [c.replaced.is_set() for c in mine], [r == [mine[0]] for r in replaced], hub.connection_count()

    assert asyncio.run(scenario()) == ([True, False, False], [False, False, False, True], 3)


def pushed(outcome: str) -> float:
    return REGISTRY.get_sample_value("shop_notifications_pushed_total", {"outcome": outcome}) or 0.0


def test_notifications_are_counted_as_sent_once_on_the_socket_or_as_overflowed() -> None:
    before = pushed("sent"), pushed("overflowed")

    async def scenario() -> None:
        socket = FakeSocket(expect=2)
        connection = Connection(socket, "u1", 2)  # type: ignore[arg-type]
        connection.start_with([note(1), note(2), note(1)])  # the same id twice: sent once
        connection.offer(note(3))  # the queue holds two: this one overflows
        await pump_until_sent(connection, socket)

    asyncio.run(scenario())

    assert (pushed("sent") - before[0], pushed("overflowed") - before[1]) == (2, 1)


def test_a_lease_evicted_across_replicas_closes_its_connection_here() -> None:
    hub = Hub()
    mine, other = Connection(FakeSocket(), "u1", 2), Connection(FakeSocket(), "u1", 2)  # type: ignore[arg-type]
    mine.lease, other.lease = "0001|a", "0002|b"
    hub.add(mine)
    hub.add(other)
    hub.evict("0001|a")
    hub.evict("unknown|lease")  # gone already: nothing to close
    assert (mine.replaced.is_set(), other.replaced.is_set()) == (True, False)
