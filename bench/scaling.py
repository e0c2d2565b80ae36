"""The scaling figure: orders sustained and CPU per order with one and with two replicas of every
app (`make run REPLICAS=N`), the shop and the load generator on every CPU of the machine.

Scaling efficiency = (orders/s with 2 / orders/s with 1) / 2: 1.0 when a second replica of
everything doubles what the shop takes, 0.5 when it adds nothing. On a machine whose cores the
one-replica shop already fills, a second replica can only add its own overhead (more processes
sharing the same cores); the figure says what the code costs to scale, and the CPU per order
says what each replica set spends on an order."""

import asyncio
import os
import time
from typing import Any

from bench import orders, processes
from harness.system import System


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def one(replicas: int, *, seconds: float, concurrency: int) -> dict[str, Any]:
    """Starts the shop with `replicas` of every app, saturates POST /api/orders, stops it."""
    os.environ["REPLICAS"] = str(replicas)
    system = System()
    say(f"starting the shop with {replicas} replica(s) of every app, on every CPU")
    system.start()
    try:
        orders.wait_for_rebuild(timeout=180)
        shoppers = orders.Shoppers.create()
        asyncio.run(orders.sustained(shoppers, seconds=3, concurrency=concurrency))  # warm-up
        before, started = processes.cpu_seconds(), time.perf_counter()
        run, placed = asyncio.run(
            orders.sustained(shoppers, seconds=seconds, concurrency=concurrency * replicas)
        )
        elapsed = time.perf_counter() - started
        spent = sum(processes.cpu_spent(before, processes.cpu_seconds()).values())
        row = {
            "replicas": replicas,
            "orders_per_s": run["orders_per_s"],
            "p99_ms": run["p99_ms"],
            "cpu_ms_per_order": round(spent * 1000 / max(1, len(placed)), 1),
            "cpu_busy": round(spent / elapsed, 2),  # CPUs' worth the shop used meanwhile
        }
        say(
            f"  {replicas} replica(s): {row['orders_per_s']} orders/s,"
            f" {row['cpu_ms_per_order']} ms of CPU an order"
        )
        return row
    finally:
        system.stop()
        os.environ.pop("REPLICAS", None)


def figures(*, seconds: float, concurrency: int) -> dict[str, Any]:
    rows = [one(n, seconds=seconds, concurrency=concurrency) for n in (1, 2)]
    single, double = rows
    efficiency = (double["orders_per_s"] / single["orders_per_s"]) / 2 if single["orders_per_s"] else None
    return {"rows": rows, "efficiency": None if efficiency is None else round(efficiency, 2)}


def lines(result: dict[str, Any]) -> str:
    out = [
        "| replicas of every app | orders/s sustained | p99 ms | CPU ms an order | CPUs busy |",
        "|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        out.append(
            f"| {row['replicas']} | {row['orders_per_s']} | {row['p99_ms']} | {row['cpu_ms_per_order']}"
            f" | {row['cpu_busy']} |"
        )
    out.append(f"\nScaling efficiency (throughput ratio / replica ratio): {result['efficiency']}")
    return "\n".join(out)
