"""Admission control at the gateway: a burst waits briefly for a slot; past that it is refused."""

import asyncio

import pytest

from services.gateway.service import InFlightLimit
from services.shared.dapr import ServiceUnavailable


async def place(limit: InFlightLimit, name: str, outcomes: list[str], release: asyncio.Event) -> None:
    try:
        async with limit.slot():
            outcomes.append(f"{name} admitted")
            await release.wait()
    except ServiceUnavailable as exc:
        outcomes.append(f"{name} refused: {exc.reason}")


def test_a_call_past_the_limit_is_refused_once_no_slot_frees_within_the_wait() -> None:
    async def scenario() -> list[str]:
        limit, release, outcomes = InFlightLimit("orders", 2, wait_s=0.05), asyncio.Event(), []
        held = [asyncio.create_task(place(limit, name, outcomes, release)) for name in ("a", "b")]
        await asyncio.sleep(0)
        await place(limit, "c", outcomes, release)
        release.set()
        await asyncio.gather(*held)
        return outcomes

    assert asyncio.run(scenario()) == [
        "a admitted",
        "b admitted",
        "c refused: overloaded: 2 calls in progress for 0.05 s",
    ]


def test_a_call_that_waits_is_admitted_when_a_slot_frees_in_time() -> None:
    async def scenario() -> list[str]:
        limit, release, outcomes = InFlightLimit("orders", 1, wait_s=5), asyncio.Event(), []
        first = asyncio.create_task(place(limit, "a", outcomes, release))
        await asyncio.sleep(0)
        second = asyncio.create_task(place(limit, "b", outcomes, release))
        await asyncio.sleep(0)  # b starts and waits: no slot until a is released
        outcomes.append("a done")
        release.set()
        await asyncio.gather(first, second)
        return outcomes

    assert asyncio.run(scenario()) == ["a admitted", "a done", "b admitted"]


def test_a_failing_call_gives_its_slot_back() -> None:
    async def scenario() -> int:
        limit = InFlightLimit("orders", 1, wait_s=0)
        with pytest.raises(RuntimeError):
            async with limit.slot():
                raise RuntimeError("orders answered garbage")
        async with limit.slot():
            return limit.in_flight

    assert asyncio.run(scenario()) == 1
