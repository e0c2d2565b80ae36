"""The bounds at the edge that every replica shares, against a real Redis: the gateway's request
budget (services/gateway/budget.py) and the WebSocket leases (services/notifications/leases.py).
Two instances stand for two replicas; a shifted clock for time passing."""

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from limits.aio.storage import RedisStorage
from redis.asyncio import Redis

from services.gateway.budget import Policy, RequestBudget
from services.notifications.leases import LeaseKeeper, SocketLeases

LEASE_S = 4.0


def budget(redis_host: str) -> RequestBudget:
    storage = RedisStorage(f"async+redis://{redis_host}", implementation="redispy", key_prefix="it-budget")
    return RequestBudget(
        storage,
        per_user=Policy("user", 3, 60),
        per_address=Policy("address", 3, 60),
        trusted_proxies=frozenset(),
        jwt_key="k" * 32,
    )


def test_two_gateways_draw_on_one_budget(redis_host: str) -> None:
    client = f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"

    async def scenario() -> list[int | None]:
        one, two = budget(redis_host), budget(redis_host)
        return [await gateway.refusal("address", client) for gateway in (one, two, one, two)]

    waits = asyncio.run(scenario())
    assert waits[:3] == [None, None, None]
    assert waits[3] is not None and 1 <= waits[3] <= 60


class Replica:
    """One notifications replica's lease keeper, recording what it was told to evict."""

    def __init__(self, redis: Redis, *, skew_s: float = 0.0, per_user: int = 2, per_address: int = 3) -> None:
        leases = SocketLeases(
            redis,
            per_user=per_user,
            per_address=per_address,
            lease_s=LEASE_S,
            clock=lambda: time.time() + skew_s,
        )
        self.evicted: list[str] = []
        self.keeper = LeaseKeeper(leases, self.evicted.append)


@pytest.fixture
def redis(redis_host: str) -> Iterator[Redis]:
    host, _, port = redis_host.partition(":")
    yield Redis(host=host, port=int(port))


def user() -> str:
    return uuid.uuid4().hex


def test_a_newer_connection_on_another_replica_evicts_the_oldest_on_its_next_renewal(redis: Redis) -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        one, two = Replica(redis), Replica(redis)
        alice = user()
        oldest = await one.keeper.open(alice, None)
        await two.keeper.open(alice, None)
        await two.keeper.open(alice, None)  # the third: past the bound of 2
        told_before_renewal = list(one.evicted)
        await one.keeper.renew_once()
        assert oldest is not None
        return told_before_renewal, one.evicted, [oldest]

    before, after, oldest = asyncio.run(scenario())
    assert before == []
    assert after == oldest


def test_on_the_same_replica_the_oldest_is_evicted_at_once(redis: Redis) -> None:
    async def scenario() -> tuple[list[str], list[str | None]]:
        one = Replica(redis)
        alice = user()
        opened = [await one.keeper.open(alice, None) for _ in range(3)]
        return one.evicted, opened

    evicted, opened = asyncio.run(scenario())
    assert evicted == opened[:1]


def test_the_bound_per_address_holds_across_users(redis: Redis) -> None:
    async def scenario() -> tuple[list[str], list[str | None]]:
        one, two = Replica(redis), Replica(redis)
        address = f"198.51.100.{uuid.uuid4().int % 250}:{uuid.uuid4().hex[:6]}"
        opened = [await replica.keeper.open(user(), address) for replica in (one, two, one)]
        opened.append(await two.keeper.open(user(), address))  # the fourth from the address
        await one.keeper.renew_once()
        return one.evicted, opened

    evicted, opened = asyncio.run(scenario())
    assert evicted == opened[:1]


def test_a_replica_that_stops_renewing_leaves_its_connections_counted_for_one_lease_at_most(
    redis: Redis,
) -> None:
    async def scenario() -> list[str]:
        dead, later = Replica(redis), Replica(redis, skew_s=LEASE_S + 1)
        alice = user()
        for _ in range(2):
            await dead.keeper.open(alice, None)
        # A lease later, the dead replica's two places have lapsed: two new ones evict nothing.
        for _ in range(2):
            await later.keeper.open(alice, None)
        return later.evicted + dead.evicted

    assert asyncio.run(scenario()) == []


def test_a_connection_that_ends_gives_its_place_back(redis: Redis) -> None:
    async def scenario() -> list[str]:
        one = Replica(redis)
        alice = user()
        first = await one.keeper.open(alice, None)
        await one.keeper.open(alice, None)
        await one.keeper.close(first)
        await one.keeper.open(alice, None)
        await one.keeper.renew_once()
        return one.evicted

    assert asyncio.run(scenario()) == []
