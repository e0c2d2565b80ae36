"""Admission control at the gateway: a burst waits briefly for a slot; past that it is refused."""

import asyncio

import pytest

from services.gateway.admission import InFlightLimit
from services.shared.dapr import ServiceUnavailable


class Call:
    """One order placement: `asking` is set as it asks for a slot, `admitted` once it has one;
    it then holds the slot until `release` is set."""

    def __init__(self, name: str, release: asyncio.Event) -> None:
        self.name = name
        self.release = release
        self.asking = asyncio.Event()
        self.admitted = asyncio.Event()

    async def place(self, limit: InFlightLimit, outcomes: list[str]) -> None:
        self.asking.set()
        try:
            async with limit.slot():
                outcomes.append(f"{self.name} admitted")
                self.admitted.set()
                await self.release.wait()
        except ServiceUnavailable as exc:
            outcomes.append(f"{self.name} refused: {exc.reason}")


def test_a_call_past_the_limit_is_refused_once_no_slot_frees_within_the_wait() -> None:
    async def scenario() -> list[str]:
        limit, release, outcomes = InFlightLimit("orders", 2, wait_s=0.05), asyncio.Event(), []
        a, b, c = (Call(name, release) for name in "abc")
        held = [asyncio.create_task(call.place(limit, outcomes)) for call in (a, b)]
        await a.admitted.wait()
        await b.admitted.wait()
        await c.place(limit, outcomes)
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
        a, b = Call("a", release), Call("b", release)
        first = asyncio.create_task(a.place(limit, outcomes))
        await a.admitted.wait()
        second = asyncio.create_task(b.place(limit, outcomes))
        await b.asking.wait()  # b found no free slot and waits for one
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


def test_under_sustained_overload_a_new_call_waits_briefly_and_a_burst_waits_long() -> None:
    async def scenario() -> list[str]:
        now = [0.0]
        limit = InFlightLimit(
            "orders", 1, wait_s=5, overloaded_after_s=1, overloaded_wait_s=0.01, clock=lambda: now[0]
        )
        release, outcomes = asyncio.Event(), []
        holder, burst, late = Call("holder", release), Call("burst", release), Call("late", release)
        held = asyncio.create_task(holder.place(limit, outcomes))
        await holder.admitted.wait()
        waiting = asyncio.create_task(burst.place(limit, outcomes))  # the queue starts now: a burst
        await burst.asking.wait()
        assert limit.waiting == 1  # for the slot
        now[0] = 0.5
        outcomes.append(f"overloaded at 0.5 s: {limit.overloaded()}")
        now[0] = 1.5  # still waiting, without a break, past a burst
        outcomes.append(f"overloaded at 1.5 s: {limit.overloaded()}")
        await late.place(limit, outcomes)  # refused after the short wait, not after 5 s
        release.set()
        await asyncio.gather(held, waiting)
        outcomes.append(f"overloaded once the queue is empty: {limit.overloaded()}")
        return outcomes

    assert asyncio.run(asyncio.wait_for(scenario(), 2)) == [
        "holder admitted",
        "overloaded at 0.5 s: False",
        "overloaded at 1.5 s: True",
        "late refused: overloaded: 1 calls in progress for 0.01 s",
        "burst admitted",
        "overloaded once the queue is empty: False",
    ]
