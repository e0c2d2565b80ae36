"""The WebSocket bound across replicas: at most so many connections per user and per client
address, whichever replica each is on.

Each open connection holds a lease in Redis, in one sorted set per user and one per address
(`ws:user:<id>`, `ws:address:<address>`): the member names the connection and when it opened,
the score is when the lease runs out. A replica renews the leases of its connections every few
seconds (LeaseKeeper), so a replica that dies leaves its connections counted for one lease at
most (`socket_lease_s`), never forever: the next connection of that user or address drops the
lapsed ones first.

A new connection beyond a bound takes the place of the oldest (the hub's rule, hub.py): the
oldest is taken out of the set at once; its replica learns it on its next renewal and closes it
with TOO_MANY_CONNECTIONS (4429), or at once when it is on the same replica. Each step is one
Lua script, so replicas racing for the last place cannot both take it.

When Redis cannot be reached the hub's bound per replica still holds; leases are taken again
(not treated as evicted) once it answers."""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS: the sets the connection counts in; ARGV: now, lease end, member, the sets' TTL, then
# each set's bound. Drops lapsed leases, adds this one, and evicts the oldest beyond the bound.
# Members start with the time they opened (fixed width): sorted, oldest first.
_OPEN = """
local evicted = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  redis.call('ZADD', key, ARGV[2], ARGV[3])
  redis.call('EXPIRE', key, ARGV[4])
  local members = redis.call('ZRANGE', key, 0, -1)
  local over = #members - tonumber(ARGV[4 + i])
  if over > 0 then
    table.sort(members)
    for j = 1, over do
      redis.call('ZREM', key, members[j])
      table.insert(evicted, members[j])
    end
  end
end
return evicted
"""
# KEYS: sets; ARGV: lease end, the sets' TTL, then the member held in each set. Extends each
# lease still there; returns the members that are not (evicted by a newer connection).
_RENEW = """
local gone = {}
for i, key in ipairs(KEYS) do
  local member = ARGV[2 + i]
  if redis.call('ZSCORE', key, member) then
    redis.call('ZADD', key, ARGV[1], member)
    redis.call('EXPIRE', key, ARGV[2])
  else
    table.insert(gone, member)
  end
end
return gone
"""


@dataclass(frozen=True)
class Lease:
    """One connection's place in the sets of its user and its address."""

    member: str
    keys: tuple[str, ...]


class SocketLeases:
    def __init__(
        self,
        redis: Redis,
        *,
        per_user: int,
        per_address: int,
        lease_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.per_user = per_user
        self.per_address = per_address
        self.lease_s = lease_s
        self.clock = clock  # wall clock: every replica's leases end on the same time line
        self._open = redis.register_script(_OPEN)
        self._renew = redis.register_script(_RENEW)

    def lease(self, user_id: str, address: str | None) -> Lease:
        member = f"{self.clock():017.6f}|{uuid.uuid4().hex}"
        keys = (f"ws:user:{user_id}", *([f"ws:address:{address}"] if address else []))
        return Lease(member, keys)

    def _bounds(self, lease: Lease) -> list[int]:
        return [self.per_user, self.per_address][: len(lease.keys)]

    async def take(self, lease: Lease) -> list[str]:
        """Takes the lease; returns the members it evicted (on any replica)."""
        now = self.clock()
        args: list[str | float] = [now, now + self.lease_s, lease.member, self._ttl(), *self._bounds(lease)]
        evicted = await self._open(keys=list(lease.keys), args=args)
        return [_text(member) for member in evicted]

    async def renew(self, leases: list[Lease]) -> set[str]:
        """Extends these leases; returns the members no longer held (evicted since)."""
        if not leases:
            return set()
        keys = [key for lease in leases for key in lease.keys]
        members = [lease.member for lease in leases for _ in lease.keys]
        gone = await self._renew(keys=keys, args=[self.clock() + self.lease_s, self._ttl(), *members])
        return {_text(member) for member in gone}

    async def give_back(self, lease: Lease) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in lease.keys:
                pipe.zrem(key, lease.member)
            await pipe.execute()

    def _ttl(self) -> int:
        """A set outlives its longest lease, then goes with it."""
        return int(self.lease_s) + 1


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else member


class LeaseKeeper:
    """Holds this replica's leases: takes one per new connection, renews them all every
    `lease_s / 4`, gives one back when its connection ends, and calls `evict` for each of
    this replica's connections a newer one took the place of."""

    def __init__(self, leases: SocketLeases, evict: Callable[[str], None]) -> None:
        self.leases = leases
        self.evict = evict
        self.held: dict[str, Lease] = {}
        self._task: asyncio.Task[None] | None = None
        self._lapsed = False  # Redis failed for longer than a lease: take leases afresh
        self._renewed_at = leases.clock()
        self._warned_at = 0.0

    async def open(self, user_id: str, address: str | None) -> str | None:
        """Takes a lease for a new connection: its member, None when Redis is unreachable."""
        lease = self.leases.lease(user_id, address)
        try:
            evicted = await self.leases.take(lease)
        except RedisError as exc:
            self._warn(exc)
            return None
        self.held[lease.member] = lease
        for member in evicted:
            self._evict(member)
        return lease.member

    async def close(self, member: str | None) -> None:
        lease = self.held.pop(member, None) if member else None
        if lease is not None:
            with contextlib.suppress(RedisError):
                await self.leases.give_back(lease)

    def _evict(self, member: str) -> None:
        if self.held.pop(member, None) is not None:
            self.evict(member)

    async def renew_once(self) -> None:
        leases = list(self.held.values())
        now = self.leases.clock()
        try:
            if self._lapsed:  # after an outage longer than a lease: the sets may have lost them
                for lease in leases:
                    for member in await self.leases.take(lease):
                        self._evict(member)
                self._lapsed = False
            else:
                for member in await self.leases.renew(leases):
                    self._evict(member)
            self._renewed_at = now
        except RedisError as exc:
            self._warn(exc)
            self._lapsed = now - self._renewed_at > self.leases.lease_s

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.leases.lease_s / 4)
            await self.renew_once()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for member in list(self.held):
            await self.close(member)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 10:
            self._warned_at = now
            log.warning(
                "WebSocket leases not shared: Redis unreachable (the bound per replica holds)",
                extra={"error_type": type(exc).__name__},
            )
