"""Login and registration throttling (services/auth/throttle.py, guard.py), against an in-memory
state store that keeps ETags and TTLs as Redis does through Dapr."""

import asyncio
from typing import Any

import pytest

from services.auth.config import Settings
from services.auth.guard import SignInGuard
from services.auth.hashing import HashingBusy, HashingSlots
from services.auth.throttle import Limit, TooManyAttempts, WindowCounters
from services.shared.errors import ApiError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class MemoryStore:
    """Values with an ETag and an expiry, like Dapr's Redis state store."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.items: dict[str, tuple[Any, int, float]] = {}  # value, etag, expires at
        self.ttls: list[int] = []
        self.conflicts = 0  # saves to fail with a conflict, as a concurrent writer would cause

    def _live(self, key: str) -> tuple[Any, int, float] | None:
        item = self.items.get(key)
        return item if item and item[2] > self.clock() else None

    async def get_states(self, store: str, keys: list[str]) -> dict[str, Any]:
        return {key: item[0] for key in keys if (item := self._live(key))}

    async def get_state_versioned(self, store: str, key: str) -> tuple[Any, str | None]:
        item = self._live(key)
        return (item[0], str(item[1])) if item else (None, None)

    async def save_state_if_unchanged(
        self, store: str, key: str, value: Any, *, etag: str | None, ttl_s: int | None = None
    ) -> bool:
        item = self._live(key)
        if self.conflicts or (str(item[1]) if item else None) != etag:
            self.conflicts = max(0, self.conflicts - 1)
            return False
        assert ttl_s is not None
        self.ttls.append(ttl_s)
        self.items[key] = (value, (item[1] + 1) if item else 1, self.clock() + ttl_s)
        return True


LIMIT = Limit("login-account", attempts=3, window_s=60)


def counters() -> tuple[WindowCounters, MemoryStore, Clock]:
    clock = Clock()
    store = MemoryStore(clock)
    return WindowCounters(store, "statestore", clock=clock), store, clock


def test_a_subject_is_refused_once_its_window_holds_the_limit_with_the_seconds_left() -> None:
    async def scenario() -> int:
        window, _, clock = counters()
        for _ in range(3):
            await window.check((LIMIT, "a@example.com"))
            await window.add(LIMIT, "a@example.com")
        clock.now += 20.5
        with pytest.raises(TooManyAttempts) as refused:
            await window.check((LIMIT, "a@example.com"))
        await window.check((LIMIT, "b@example.com"))  # another subject is not affected
        return refused.value.retry_after_s

    assert asyncio.run(scenario()) == 40  # 39.5 s left, rounded up


def test_the_window_ends_and_counting_starts_afresh_no_lockout_lasts() -> None:
    async def scenario() -> tuple[int, int]:
        window, _, clock = counters()
        for _ in range(5):
            await window.add(LIMIT, "a@example.com")
        clock.now += 60
        await window.check((LIMIT, "a@example.com"))
        return await window.add(LIMIT, "a@example.com")

    assert asyncio.run(scenario()) == (1, 60)


def test_each_count_keeps_the_key_until_the_window_ends_not_longer() -> None:
    async def scenario() -> list[int]:
        window, store, clock = counters()
        await window.add(LIMIT, "a@example.com")
        clock.now += 59.2
        await window.add(LIMIT, "a@example.com")
        return store.ttls

    assert asyncio.run(scenario()) == [60, 1]


def test_a_count_lost_to_a_concurrent_writer_is_read_again_and_made() -> None:
    async def scenario() -> int:
        window, store, _ = counters()
        await window.add(LIMIT, "a@example.com")
        store.conflicts = 2
        count, _ = await window.add(LIMIT, "a@example.com")
        return count

    assert asyncio.run(scenario()) == 2


def test_keys_name_no_email_and_change_with_the_window() -> None:
    key = WindowCounters.key(LIMIT, "a@example.com")
    assert "example" not in key
    assert key != WindowCounters.key(Limit("login-account", 3, 61), "a@example.com")


def test_hit_counts_the_attempt_and_refuses_the_one_over_the_limit() -> None:
    async def scenario() -> int:
        window, _, _ = counters()
        for _ in range(3):
            await window.hit(LIMIT, "203.0.113.7")
        with pytest.raises(TooManyAttempts) as refused:
            await window.hit(LIMIT, "203.0.113.7")
        return refused.value.status

    assert asyncio.run(scenario()) == 429


# --- the guard: what counts, and the same answer for any account --------------------------


def guard(slots: int = 2) -> SignInGuard:
    settings = Settings.model_construct(
        login_failures_per_account=2,
        login_failures_per_address=3,
        login_window_s=60,
        registrations_per_address=1,
        registration_window_s=60,
    )
    window, _, _ = counters()
    return SignInGuard(window, HashingSlots(slots), settings)


async def wrong_password() -> dict[str, str]:
    raise ApiError(401, "invalid_credentials", "wrong email or password")


async def right_password() -> dict[str, str]:
    return {"access_token": "t"}


async def answers(g: SignInGuard, email: str, address: str | None, attempt: Any, times: int) -> list[int]:
    codes = []
    for _ in range(times):
        try:
            await g.login(email, address, attempt)
            codes.append(200)
        except ApiError as exc:
            codes.append(exc.status)
    return codes


def test_failed_logins_for_an_account_end_in_429_for_every_address_and_password() -> None:
    async def scenario() -> list[int]:
        g = guard()
        codes = await answers(g, "A@example.com", "198.51.100.1", wrong_password, 2)
        codes += await answers(g, "a@example.com", "198.51.100.2", right_password, 1)
        return codes

    assert asyncio.run(scenario()) == [401, 401, 429]


def test_failed_logins_from_an_address_end_in_429_for_every_account() -> None:
    async def scenario() -> list[int]:
        g = guard()
        codes = []
        for n in range(4):
            codes += await answers(g, f"u{n}@example.com", "198.51.100.1", wrong_password, 1)
        codes += await answers(g, "new@example.com", "198.51.100.9", right_password, 1)
        return codes

    assert asyncio.run(scenario()) == [401, 401, 401, 429, 200]


def test_only_wrong_credentials_count() -> None:
    async def unavailable() -> dict[str, str]:
        raise ApiError(503, "service_unavailable", "database down")

    async def scenario() -> list[int]:
        g = guard()
        return await answers(g, "a@example.com", None, unavailable, 3) + await answers(
            g, "a@example.com", None, right_password, 1
        )

    assert asyncio.run(scenario()) == [503, 503, 503, 200]


def test_registrations_are_limited_per_address_only() -> None:
    async def scenario() -> list[str]:
        g = guard()
        outcomes = []
        for address in ("198.51.100.1", "198.51.100.1", "198.51.100.2", None, None):
            try:
                await g.register(address)
                outcomes.append("ok")
            except TooManyAttempts:
                outcomes.append("429")
        return outcomes

    assert asyncio.run(scenario()) == ["ok", "429", "ok", "ok", "ok"]


def test_hashing_beyond_its_slots_is_refused_at_once_with_503_and_retry_after() -> None:
    slots = HashingSlots(1)
    with slots.slot(), pytest.raises(HashingBusy) as busy, slots.slot():
        pass
    with slots.slot():  # freed again
        pass

    assert (busy.value.status, busy.value.headers) == (503, {"Retry-After": "1", "x-shop-shed": "1"})


def test_a_login_while_every_hashing_slot_is_taken_is_refused_and_not_counted() -> None:
    async def scenario() -> list[int]:
        g = guard(slots=1)
        with g.slots.slot():
            busy = await answers(g, "a@example.com", None, wrong_password, 3)
        return busy + await answers(g, "a@example.com", None, right_password, 1)

    assert asyncio.run(scenario()) == [503, 503, 503, 200]
