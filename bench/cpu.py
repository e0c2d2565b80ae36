"""`make bench-cpu`: the two CPU figures of `make bench` alone, in about 2 minutes: CPU per
order placed and applied at a steady rate, and CPU per uncached product read, each summed over
every process of the shop and split by process; and beside them what the shop spends idle, per
second, which a steady rate's orders share. For measuring a change against the commit
before it in turns (docs/performance.md, "Comparing two commits"), where a whole `make bench`
per turn would take 5 minutes for the same two figures.

The shop runs on CPU 0 and the load generators on CPU 1, as in `make bench` (bench/cpus.py).
Knobs (environment): BENCH_CPU_RATE (orders/s offered, 12: half what one core sustains),
BENCH_CPU_SECONDS (per measurement, 20), BENCH_CPU_OUT (also append the figures as one JSON line
to this file, with BENCH_CPU_LABEL)."""

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench import hey, orders, processes
from bench.cpus import LOADGEN_CPUS, SYSTEM_CPUS, named, pinned
from harness.system import ROOT, System, stray_processes

RATE = float(os.environ.get("BENCH_CPU_RATE", "12"))
SECONDS = float(os.environ.get("BENCH_CPU_SECONDS", "20"))
CONNECTIONS = 32  # as `make bench` saturates the product page


def say(message: str) -> None:
    print(f"[bench-cpu {time.strftime('%H:%M:%S')}] {message}", flush=True)


def per_unit(spent: dict[str, float], units: int) -> dict[str, float]:
    """Milliseconds of CPU per unit (order, request) of each process, largest first."""
    return {label: round(seconds * 1000 / max(1, units), 2) for label, seconds in _steady(spent).items()}


def _steady(spent: dict[str, float]) -> dict[str, float]:
    """Leaves out a name whose CPU went down: one of its processes ended meanwhile (infrastructure
    is found by name, and a redis-server of another checkout's test may stop mid-measurement)."""
    return {label: seconds for label, seconds in spent.items() if seconds >= 0}


def summary(per: dict[str, float], top: int = 8) -> str:
    total = sum(per.values())
    return f"{total:.2f} ms: " + ", ".join(f"{label} {ms:.2f}" for label, ms in list(per.items())[:top])


def idle() -> dict[str, float]:
    """The shop doing nothing for SECONDS (health probes, name-resolution renewals, the
    scheduler's streams, metrics): milliseconds of CPU per second of each process. At a steady
    rate, each order carries this cost divided by the rate on top of its own work."""
    before, started = processes.cpu_seconds(), time.perf_counter()
    time.sleep(SECONDS)  # the measurement itself: a quiet interval
    spent = processes.cpu_spent(before, processes.cpu_seconds())
    elapsed = time.perf_counter() - started
    return {label: round(used * 1000 / elapsed, 2) for label, used in _steady(spent).items()}


def uncached_reads(url: str) -> dict[str, Any]:
    """Saturates the gateway's product page with Cache-Control: no-cache (every request through
    both sidecars to products and MariaDB); the CPU each process spent per request."""
    no_cache = {"Cache-Control": "no-cache"}
    hey.run(url, seconds=3, concurrency=CONNECTIONS, headers=no_cache)  # warm-up, uncounted
    before = processes.cpu_seconds()
    result = hey.run(url, seconds=SECONDS, concurrency=CONNECTIONS, headers=no_cache)
    spent = processes.cpu_spent(before, processes.cpu_seconds())
    requests = round(result.requests_per_s * SECONDS)
    return {"requests_per_s": round(result.requests_per_s), "cpu_ms": per_unit(spent, requests)}


def steady_orders(shoppers: orders.Shoppers) -> dict[str, Any]:
    """Orders offered at RATE for SECONDS, until the read model held every one; the CPU each
    process spent per order."""
    asyncio.run(orders.propagation(shoppers, rate=RATE, seconds=3))  # warm-up, uncounted
    before = processes.cpu_seconds()
    run = asyncio.run(orders.propagation(shoppers, rate=RATE, seconds=SECONDS))
    spent = processes.cpu_spent(before, processes.cpu_seconds())
    return {
        "orders": run["orders"],
        "failures": run["failures"],
        "propagation_p99_ms": run["propagation_p99_ms"],
        "cpu_ms": per_unit(spent, run["orders"]),
    }


def main() -> int:
    if stray_processes():
        raise SystemExit("[bench-cpu] apps or sidecars are already running: stop `make run` first.")
    os.sched_setaffinity(0, LOADGEN_CPUS)
    system = System()
    say(f"starting the shop on {named(SYSTEM_CPUS)} (scripts/run.sh; about 20 s)")
    with pinned(SYSTEM_CPUS):
        system.start()
    try:
        processes.pin(SYSTEM_CPUS)
        say("waiting for order-view's start-up rebuild")
        orders.wait_for_rebuild(timeout=180)
        shoppers = orders.Shoppers.create()
        url = f"http://127.0.0.1:8000/api/products/{shoppers.product_ids[0]}"
        say(f"the shop idle for {SECONDS:.0f} s")
        quiet = idle()
        shared = sum(quiet.values()) / RATE
        say(f"  CPU per second idle {summary(quiet)}; at {RATE:.0f}/s, {shared:.1f} ms an order")
        say(f"uncached GET /api/products/{{id}}: {CONNECTIONS} connections, {SECONDS:.0f} s")
        reads = uncached_reads(url)
        say(f"  {reads['requests_per_s']} requests/s; CPU per request {summary(reads['cpu_ms'])}")
        say(f"POST /api/orders at {RATE:.0f}/s for {SECONDS:.0f} s, until the read model holds them")
        placed = steady_orders(shoppers)
        failures = placed["failures"] or 0
        say(f"  {placed['orders']} orders (failures {failures}); CPU per order {summary(placed['cpu_ms'])}")
    finally:
        say("stopping the shop and its infrastructure")
        system.stop()
        subprocess.run(["scripts/infra.sh", "down"], cwd=ROOT, check=False, capture_output=True)
    if out := os.environ.get("BENCH_CPU_OUT"):
        figures = {"label": os.environ.get("BENCH_CPU_LABEL", str(ROOT)), "when": time.strftime("%H:%M:%S")}
        with open(out, "a") as sink:
            sink.write(
                json.dumps({**figures, "idle_ms_per_s": quiet, "reads": reads, "orders": placed}) + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
