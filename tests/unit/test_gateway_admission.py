"""Admission control at the gateway: past its limit a call is refused at once, not queued."""

import asyncio

import pytest

from services.gateway.service import InFlightLimit
from services.shared.dapr import ServiceUnavailable


def test_calls_past_the_limit_are_refused_at_once_and_admitted_again_when_one_ends() -> None:
    async def scenario() -> list[str]:
        limit = InFlightLimit("orders", 2)
        release = asyncio.Event()
        outcomes: list[str] = []

        async def place(name: str) -> None:
            try:
                async with limit.slot():
                    outcomes.append(f"{name} admitted")
                    await release.wait()
            except ServiceUnavailable as exc:
                outcomes.append(f"{name} refused: {exc.reason}")

        first, second = asyncio.create_task(place("a")), asyncio.create_task(place("b"))
        await asyncio.sleep(0)
        await place("c")  # returns at once: refused, nothing waited for a slot
        release.set()
        await asyncio.gather(first, second)
        release.clear()
        late = asyncio.create_task(place("d"))
        await asyncio.sleep(0)
        release.set()
        await late
        return outcomes

    assert asyncio.run(scenario()) == [
        "a admitted",
        "b admitted",
        "c refused: overloaded: 2 calls already in progress",
        "d admitted",
    ]


def test_a_failing_call_gives_its_slot_back() -> None:
    async def scenario() -> int:
        limit = InFlightLimit("orders", 1)
        with pytest.raises(RuntimeError):
            async with limit.slot():
                raise RuntimeError("orders answered garbage")
        return limit.in_flight

    assert asyncio.run(scenario()) == 0
