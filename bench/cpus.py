"""How the bench splits the machine's CPUs: the system under test on some, the load generators
(hey, the bench's own clients, Locust) on others, so neither steals from the other.

On this 2-core machine: the system on CPU 0, the load generators on CPU 1. Elsewhere, or to
see the system on both cores, set BENCH_SYSTEM_CPUS and BENCH_LOADGEN_CPUS (taskset lists:
"0", "0-5", "0,2"); the two may overlap (BENCH_SYSTEM_CPUS=0,1: the system on both cores, the
load generators sharing one of them), and the run says which split it measured."""

import os
import platform
import re
from collections.abc import Iterator
from contextlib import contextmanager


def parse(cpu_list: str) -> frozenset[int]:
    """A taskset-style CPU list ("0", "0-3", "0,2-3") as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in filter(None, cpu_list.replace(" ", "").split(",")):
        found = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if found is None:
            raise ValueError(f"not a CPU list: {cpu_list!r} (say e.g. 0 or 0-3 or 0,2)")
        first, last = found.groups()
        cpus.update(range(int(first), int(last or first) + 1))
    if not cpus:
        raise ValueError(f"no CPU in {cpu_list!r}")
    return frozenset(cpus)


def text(cpus: frozenset[int]) -> str:
    """A CPU set as taskset reads it: "0", "0,1"."""
    return ",".join(str(cpu) for cpu in sorted(cpus))


def named(cpus: frozenset[int]) -> str:
    """A CPU set as people read it: "CPU 0", "CPUs 0,1"."""
    return f"{'CPUs' if len(cpus) > 1 else 'CPU'} {text(cpus)}"


SYSTEM_CPUS = parse(os.environ.get("BENCH_SYSTEM_CPUS", "0"))
LOADGEN_CPUS = parse(os.environ.get("BENCH_LOADGEN_CPUS", "1"))


def split() -> str:
    """The split measured, for the report."""
    shared = ", shared" if SYSTEM_CPUS & LOADGEN_CPUS else ""
    return f"system on {named(SYSTEM_CPUS)}, load generators on {named(LOADGEN_CPUS)}{shared}"


def machine() -> str:
    """The machine measured, for the results' JSON."""
    return f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), {platform.system()}"


def split_available() -> bool:
    """Whether this process may use every CPU of the split (a container may allow fewer)."""
    return (SYSTEM_CPUS | LOADGEN_CPUS).issubset(os.sched_getaffinity(0))


@contextmanager
def pinned(cpus: frozenset[int]) -> Iterator[None]:
    """Runs the block on these CPUs: processes started inside it inherit them."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
