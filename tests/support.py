"""Helpers shared by the test tiers (waiting for a condition is harness.waiting's)."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def elapsed(fn: Callable[[], T]) -> tuple[T, float]:
    """Calls fn() and returns (result, seconds it took)."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started
