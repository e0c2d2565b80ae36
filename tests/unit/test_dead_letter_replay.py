"""Replaying dead letters: each goes to the subscriber that failed on it, and only a SUCCESS
forgets it. A fake store stands in for MongoDB; the sidecar is httpx's mock transport."""

import asyncio
from typing import Any

import httpx

from services.order_view.replay import replay
from tests.unit.test_dapr_client import sidecar


class FakeDeadLetters:
    def __init__(self, letters: list[dict[str, Any]]) -> None:
        self.letters = {letter["_id"]: letter for letter in letters}
        self.failures: list[tuple[str, str]] = []

    def dead_letters_to_replay(self, ids: list[str] | None, *, limit: int) -> list[dict[str, Any]]:
        chosen = list(self.letters) if ids is None else [i for i in ids if i in self.letters]
        return [self.letters[i] for i in chosen[:limit]]

    def forget_dead_letter(self, letter_id: str) -> None:
        del self.letters[letter_id]

    def note_failed_replay(self, letter_id: str, reason: str) -> None:
        self.failures.append((letter_id, reason))

    def count_dead_letters(self) -> int:
        return len(self.letters)


def letter(subscriber: str, event_id: str, event_type: str) -> dict[str, Any]:
    envelope = {"id": event_id, "type": event_type, "data": {"id": "x"}}
    return {"_id": f"{subscriber}:{event_id}", "subscriber": subscriber, "envelope": envelope}


def test_each_letter_goes_to_its_own_subscriber_and_only_successes_are_forgotten() -> None:
    store = FakeDeadLetters(
        [
            letter("notifications", "e1", "order.confirmed"),
            letter("order-view", "e2", "product.updated"),
            letter("order-view", "e3", "order.created"),
        ]
    )
    calls: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append((request.url.path, request.read().decode()))
        status = "RETRY" if b'"e3"' in request.content else "SUCCESS"
        return httpx.Response(200, json={"status": status})

    report = asyncio.run(replay(sidecar(httpx.MockTransport(answer)), store, None)).model_dump()

    assert [path for path, _ in calls] == [
        "/v1.0/invoke/notifications/method/events/orders",
        "/v1.0/invoke/order-view/method/events/products",
        "/v1.0/invoke/order-view/method/events/orders",
    ]
    assert report["replayed"] == ["notifications:e1", "order-view:e2"]
    assert report["failed"] == [{"id": "order-view:e3", "outcome": "RETRY"}]
    assert report["remaining"] == 1
    assert store.failures == [("order-view:e3", "RETRY")]


def test_an_unreachable_subscriber_or_an_unknown_id_loses_nothing() -> None:
    store = FakeDeadLetters([letter("notifications", "e1", "order.confirmed")])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"errorCode": "ERR_DIRECT_INVOKE", "message": "app down"})

    ids = ["notifications:e1", "nope"]
    report = asyncio.run(replay(sidecar(httpx.MockTransport(answer)), store, ids)).model_dump()

    assert report["replayed"] == []
    assert report["failed"][0]["outcome"].startswith("UNAVAILABLE")
    assert report["not_found"] == ["nope"]
    assert store.count_dead_letters() == 1


def test_a_replay_past_its_time_budget_leaves_the_rest_for_the_next() -> None:
    store = FakeDeadLetters([letter("order-view", f"e{n}", "order.created") for n in range(3)])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "SUCCESS"})

    report = asyncio.run(replay(sidecar(httpx.MockTransport(answer)), store, None, budget_s=0)).model_dump()

    assert report["replayed"] == ["order-view:e0"]  # one at least, however small the budget
    assert report["remaining"] == 2
