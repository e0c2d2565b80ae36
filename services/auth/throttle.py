"""Counting attempts in fixed windows, in the state store every auth replica shares.

Failed logins are counted per account and per client address, registrations per address. A
counter is one key in Redis (through the Dapr state store) holding its count and when its window
ends; it expires with the window (a TTL), so a limit reached blocks only until then: there is no
permanent lockout that one person could bring on another's account. Keys name a SHA-256 of the
subject, never an email in clear.

A fixed window, not a sliding one: one key and two sidecar calls per counted attempt, and at worst
twice the limit across a window's edge, which still leaves a guesser with a handful of tries a
minute. Concurrent attempts may all pass the check before any is counted: at most the attempts
in progress at once get past a limit, and password hashing bounds those (hashing.py).
"""

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from services.shared.errors import ApiError

# Writers racing on one counter re-read and try again this many times; beyond it the attempt
# goes uncounted rather than failing the request (many writers at once: a limit is reached anyway).
MAX_WRITE_TRIES = 5


class StateStore(Protocol):
    """What the counters need of the sidecar client (DaprSidecar)."""

    async def get_states(self, store: str, keys: list[str]) -> dict[str, Any]: ...

    async def get_state_versioned(self, store: str, key: str) -> tuple[Any, str | None]: ...

    async def save_state_if_unchanged(
        self, store: str, key: str, value: Any, *, etag: str | None, ttl_s: int | None = None
    ) -> bool: ...


@dataclass(frozen=True)
class Limit:
    """At most `attempts` counted per subject in a window of `window_s` seconds."""

    name: str
    attempts: int
    window_s: int


class TooManyAttempts(ApiError):
    """429 `too_many_requests` with Retry-After. The same words whichever limit was reached and
    whether the account exists."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            429,
            "too_many_requests",
            "too many attempts, try again later",
            headers={"Retry-After": str(retry_after_s)},
        )
        self.retry_after_s = retry_after_s


class WindowCounters:
    """Fixed-window counters in a Dapr state store."""

    def __init__(self, store: StateStore, store_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.store_name = store_name
        self.clock = clock  # wall clock: replicas share the windows' ends

    @staticmethod
    def key(limit: Limit, subject: str) -> str:
        """The counter's key; a window of another length (settings changed) counts afresh."""
        return f"throttle:{limit.name}:{limit.window_s}:{hashlib.sha256(subject.encode()).hexdigest()}"

    async def check(self, *counted: tuple[Limit, str]) -> None:
        """Raises TooManyAttempts when any (limit, subject) has used up its window, with the
        longest wait among them. One read for all of them."""
        keys = {self.key(limit, subject): limit for limit, subject in counted}
        values = await self.store.get_states(self.store_name, list(keys))
        now = self.clock()
        waits = [
            _seconds_left(value, now)
            for key, value in values.items()
            if _live(value, now) and int(value["count"]) >= keys[key].attempts
        ]
        if waits:
            raise TooManyAttempts(max(waits))

    async def add(self, limit: Limit, subject: str) -> tuple[int, int]:
        """Counts one attempt: the count in the current window after it, and the seconds left
        in that window."""
        key = self.key(limit, subject)
        count, left = 0, limit.window_s
        for _ in range(MAX_WRITE_TRIES):
            value, etag = await self.store.get_state_versioned(self.store_name, key)
            now = self.clock()
            if not _live(value, now):  # none yet, or one whose TTL Redis has not applied yet
                value = {"count": 0, "ends_at": now + limit.window_s}
            count, left = int(value["count"]) + 1, _seconds_left(value, now)
            saved = await self.store.save_state_if_unchanged(
                self.store_name, key, {"count": count, "ends_at": value["ends_at"]}, etag=etag, ttl_s=left
            )
            if saved:
                break
        return count, left

    async def hit(self, limit: Limit, subject: str) -> None:
        """Counts one attempt and refuses it (TooManyAttempts) when it is over the limit."""
        count, left = await self.add(limit, subject)
        if count > limit.attempts:
            raise TooManyAttempts(left)


def _live(value: Any, now: float) -> bool:
    return isinstance(value, dict) and float(value.get("ends_at", 0)) > now


def _seconds_left(value: Any, now: float) -> int:
    """Whole seconds until the window ends, at least 1 (Retry-After and the key's TTL)."""
    ends_at = float(value["ends_at"]) if isinstance(value, dict) else now
    return max(1, math.ceil(ends_at - now))
