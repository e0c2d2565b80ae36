"""Polling for a condition with a deadline: what tests and the bench use instead of sleeping."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline."""


class GiveUp(AssertionError):
    """Raised by a condition that can no longer become true: stops the wait at once."""


def wait_until(condition: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Polls `condition` until it returns something truthy; fails saying what it waited for."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except GiveUp:
            raise
        except Exception as exc:  # keep polling; report the last failure if time runs out
            last_error = exc
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{suffix}")
        time.sleep(interval)
