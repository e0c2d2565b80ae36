"""Admission control for placing orders: a bounded number in progress, a short wait for a
slot, then a clear refusal (503 with Retry-After) instead of a queue that grows."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from services.shared.dapr import ServiceUnavailable


class InFlightLimit:
    """Admission control: at most `limit` calls of one kind in progress at once. A call beyond
    that waits for a slot, then is refused (503 with Retry-After) rather than queued further.
    Queued past the callers' and Dapr's timeouts, an overload made every call time out and
    opened the circuit breakers, and almost no order was placed.

    How long a call may wait depends on the queue (CoDel's idea, as servers at Facebook apply it
    to request queues): a burst, calls waiting for less than `overloaded_after_s`, waits up to
    `wait_s`; once calls have been waiting longer than that without a break, the shop is taking
    more than it completes, and a new call waits only `overloaded_wait_s`. A long wait then would
    not get more orders placed, only make every one placed later (docs/performance.md,
    Admission control)."""

    def __init__(
        self,
        target: str,
        limit: int,
        *,
        wait_s: float,
        overloaded_after_s: float = float("inf"),
        overloaded_wait_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.limit = limit
        self.wait_s = wait_s
        self.overloaded_after_s = overloaded_after_s
        self.overloaded_wait_s = overloaded_wait_s
        self.clock = clock
        self.in_flight = 0
        self.waiting = 0
        self._waiting_since = 0.0  # when the queue last went from empty to not empty
        self._slots = asyncio.Semaphore(limit)

    def overloaded(self) -> bool:
        """Calls have been waiting for a slot, without a break, for longer than a burst lasts."""
        return self.waiting > 0 and self.clock() - self._waiting_since > self.overloaded_after_s

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Holds one of the `limit` slots for the duration of a call; raises ServiceUnavailable
        (the client's 503) when none frees up in time."""
        if self._slots.locked():  # none free: wait a little for one
            wait_s = self.overloaded_wait_s if self.overloaded() else self.wait_s
            if self.waiting == 0:
                self._waiting_since = self.clock()
            self.waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), wait_s)
            except TimeoutError:
                raise ServiceUnavailable(
                    self.target, f"overloaded: {self.limit} calls in progress for {wait_s} s"
                ) from None
            finally:
                self.waiting -= 1
        else:
            await self._slots.acquire()  # returns at once
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._slots.release()
