"""The gateway's read-through cache for product pages, the hottest public read.

A product page served from here is at most `ttl_s` old. The cache belongs to one gateway
process, so changes made through this gateway show at once: product edits, orders and cancels
drop the products they touch (`invalidate`). Changes it cannot see (another gateway replica's
orders) show within `ttl_s`. Stock read here is a display figure: a reservation is always decided
by the products service on its own row, so a stale page can never oversell.

Concurrent misses for one key share one upstream call (a product going viral costs one call
per `ttl_s`, not one per shopper), and only 200 answers are kept (a 404 may be a product being
created, a 5xx is not an answer).
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from services.shared.metrics import CACHE_LOOKUPS

CacheOutcome = Literal["hit", "miss", "bypass"]


@dataclass(frozen=True)
class Answer:
    """An upstream answer as the client gets it: status and JSON body bytes."""

    status: int
    body: bytes


Loader = Callable[[], Awaitable[Answer]]


class ReadThroughCache:
    """Answers by key, kept `ttl_s` and at most `max_entries` of them (least recently read go first)."""

    def __init__(
        self,
        name: str,
        *,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        # key -> (stored at, answer), least recently used first.
        self._entries: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        # key -> the upstream call in progress for it, shared by every concurrent miss.
        self._loading: dict[str, asyncio.Task[Answer]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str, load: Loader) -> tuple[Answer, CacheOutcome]:
        """The cached answer when fresh, else `load()`'s (shared with concurrent callers)."""
        if self.ttl_s <= 0:
            return await self._count(load(), "bypass"), "bypass"
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry[0] < self.ttl_s:
            self._entries.move_to_end(key)
            CACHE_LOOKUPS.labels(self.name, "hit").inc()
            return entry[1], "hit"
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.create_task(self._fetch(key, load))
        # Shielded: a caller that goes away does not cancel the call the others wait on.
        return await self._count(asyncio.shield(task), "miss"), "miss"

    async def refresh(self, key: str, load: Loader) -> Answer:
        """Asks upstream whatever is cached (a client's `Cache-Control: no-cache`), and keeps
        the fresh answer for the next callers."""
        self.invalidate(key)
        task = self._loading[key] = asyncio.create_task(self._fetch(key, load))
        return await self._count(asyncio.shield(task), "bypass")

    def invalidate(self, key: str) -> None:
        """Forgets `key`; an upstream call already in progress for it will not be kept (it may
        have read the product before the change that invalidates it)."""
        self._entries.pop(key, None)
        self._loading.pop(key, None)

    async def _fetch(self, key: str, load: Loader) -> Answer:
        try:
            answer = await load()
        finally:
            current = self._loading.get(key) is asyncio.current_task()
            if current:
                del self._loading[key]
        if current and answer.status == 200:
            self._entries[key] = (self._clock(), answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return answer

    async def _count(self, answer: Awaitable[Answer], outcome: CacheOutcome) -> Answer:
        CACHE_LOOKUPS.labels(self.name, outcome).inc()
        return await answer
