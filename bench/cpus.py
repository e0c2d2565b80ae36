"""How the bench splits the machine's 2 cores: the system under test on one, the load
generators (hey, the bench's own clients, Locust) on the other, so neither steals from the other."""

import os
from collections.abc import Iterator
from contextlib import contextmanager

SYSTEM_CPU = 0
LOADGEN_CPU = 1


def split_available() -> bool:
    """Whether this process may use both CPUs (a container may allow fewer)."""
    return {SYSTEM_CPU, LOADGEN_CPU} <= os.sched_getaffinity(0)


@contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """Runs the block on one CPU: processes started inside it inherit that CPU."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
