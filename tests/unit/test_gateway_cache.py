"""The gateway's product cache: fresh answers from memory, one upstream call per burst of
misses, nothing kept that a write may have made stale, and a bounded size."""

import asyncio

from services.gateway.cache import Answer, ReadThroughCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Upstream:
    """The products service as the cache sees it: counts calls; a call can be held open."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls = 0
        self.version = 1
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def load(self) -> Answer:
        self.calls += 1
        read = self.version  # what the database said when the call arrived
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return Answer(self.status, b'{"version": %d}' % read)


def cache(clock: Clock, *, ttl_s: float = 1.0, max_entries: int = 100) -> ReadThroughCache:
    return ReadThroughCache("products", ttl_s=ttl_s, max_entries=max_entries, clock=clock)


def test_an_answer_is_served_from_memory_until_it_is_ttl_old() -> None:
    async def scenario() -> list[tuple[bytes, str]]:
        clock, upstream = Clock(), Upstream()
        products = cache(clock)
        seen = [await products.get("p1", upstream.load)]
        upstream.version = 2
        clock.now += 0.99
        seen.append(await products.get("p1", upstream.load))
        clock.now += 0.01
        seen.append(await products.get("p1", upstream.load))
        return [(answer.body, outcome) for answer, outcome in seen]

    assert asyncio.run(scenario()) == [
        (b'{"version": 1}', "miss"),
        (b'{"version": 1}', "hit"),
        (b'{"version": 2}', "miss"),
    ]


def test_concurrent_misses_share_one_upstream_call() -> None:
    async def scenario() -> tuple[int, set[bytes]]:
        upstream = Upstream()
        upstream.gate = asyncio.Event()
        products = cache(Clock())
        readers = [asyncio.create_task(products.get("p1", upstream.load)) for _ in range(50)]
        await upstream.started.wait()
        upstream.gate.set()
        answers = await asyncio.gather(*readers)
        return upstream.calls, {answer.body for answer, _ in answers}

    assert asyncio.run(scenario()) == (1, {b'{"version": 1}'})


def test_a_read_in_flight_when_the_product_changes_is_not_kept() -> None:
    async def scenario() -> tuple[bytes, bytes, int]:
        upstream = Upstream()
        upstream.gate = asyncio.Event()
        products = cache(Clock())
        before = asyncio.create_task(products.get("p1", upstream.load))
        await upstream.started.wait()  # it has read version 1...
        upstream.version = 2  # ...then an order through this gateway changes the product
        products.invalidate("p1")
        upstream.gate.set()
        stale, _ = await before
        upstream.gate = None
        after, _ = await products.get("p1", upstream.load)
        return stale.body, after.body, upstream.calls

    assert asyncio.run(scenario()) == (b'{"version": 1}', b'{"version": 2}', 2)


def test_only_200_answers_are_kept() -> None:
    async def scenario() -> list[str]:
        upstream = Upstream(status=404)
        products = cache(Clock())
        outcomes = [(await products.get("p1", upstream.load))[1] for _ in range(2)]
        return [*outcomes, str(upstream.calls)]

    assert asyncio.run(scenario()) == ["miss", "miss", "2"]


def test_a_failed_call_reaches_every_waiter_and_is_not_kept() -> None:
    class Down(Exception):
        pass

    async def failing() -> Answer:
        raise Down

    async def scenario() -> tuple[list[bool], str]:
        products = cache(Clock())
        results = await asyncio.gather(
            *(products.get("p1", failing) for _ in range(3)), return_exceptions=True
        )
        _, outcome = await products.get("p1", Upstream().load)
        return [isinstance(result, Down) for result in results], outcome

    assert asyncio.run(scenario()) == ([True, True, True], "miss")


def test_no_cache_asks_upstream_and_keeps_the_fresh_answer() -> None:
    async def scenario() -> list[tuple[bytes, str]]:
        upstream = Upstream()
        products = cache(Clock())
        first, _ = await products.get("p1", upstream.load)
        upstream.version = 2
        fresh = await products.refresh("p1", upstream.load)
        next_read = await products.get("p1", upstream.load)
        return [(first.body, "-"), (fresh.body, "bypass"), (next_read[0].body, next_read[1])]

    assert asyncio.run(scenario()) == [
        (b'{"version": 1}', "-"),
        (b'{"version": 2}', "bypass"),
        (b'{"version": 2}', "hit"),
    ]


def test_the_least_recently_read_product_goes_first_when_full() -> None:
    async def scenario() -> tuple[int, list[str]]:
        upstream = Upstream()
        products = cache(Clock(), max_entries=2)
        for key in ("a", "b", "a", "c"):  # "a" read again, so "b" is the oldest when "c" comes
            await products.get(key, upstream.load)
        outcomes = [(await products.get(key, upstream.load))[1] for key in ("a", "c", "b")]
        return len(products), outcomes

    assert asyncio.run(scenario()) == (2, ["hit", "hit", "miss"])


def test_a_zero_ttl_turns_the_cache_off() -> None:
    async def scenario() -> tuple[int, list[str]]:
        upstream = Upstream()
        products = cache(Clock(), ttl_s=0)
        outcomes = [(await products.get("p1", upstream.load))[1] for _ in range(3)]
        return upstream.calls, outcomes

    assert asyncio.run(scenario()) == (3, ["bypass", "bypass", "bypass"])
