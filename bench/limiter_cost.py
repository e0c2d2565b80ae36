"""`make bench-limiter`: what one rate-limit decision costs, counted in Redis two ways
(docs/decisions/0010-rate-limits-in-redis.md):

- through the Dapr state store, as auth's login throttling counts (services/auth/throttle.py:
  a read with its ETag, then a write only if unchanged: two calls to the sidecar);
- straight to Redis with the `limits` library (redis-py), in each of its window strategies: one
  Lua script per decision.

Sequential decisions, so the figures are the cost of one, not of a queue: the wall time of each
(p50, p99) and the CPU it took, summed over this process (the client), daprd and Redis. Starts
its own Redis and daprd on ports of its own (below 32768, clear of the shop's and of
bench/sidecars.py's): it runs beside `make run`, without the machine's lock. About 30 s."""

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench.sidecars import stop
from bench.stats import percentile
from harness.system import ROOT, versions
from harness.waiting import wait_until

REDIS_PORT = 7300
DAPRD = {"app_id": "bench-limiter", "http": 7220, "grpc": 7221, "internal": 7222, "metrics": 7223}
WORK = ROOT / ".run/bench/limiter"
DECISIONS = int(os.environ.get("BENCH_LIMITER_DECISIONS", "3000"))
STATE_STORE = f"""apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: 127.0.0.1:{REDIS_PORT}
    - name: redisPassword
      value: ""
"""


def say(message: str) -> None:
    print(f"[bench-limiter {time.strftime('%H:%M:%S')}] {message}", flush=True)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def redis_and_daprd() -> Iterator[dict[str, int]]:
    """Its own Redis and one daprd (no app) with a state store on it; their pids."""
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "resources").mkdir(parents=True)
    (WORK / "resources/statestore.yaml").write_text(STATE_STORE)
    daprd = Path(versions()["DAPR_RUNTIME_PATH"]) / ".dapr/bin/daprd"
    commands = {
        "redis": ["redis-server", "--bind", "127.0.0.1", "--port", str(REDIS_PORT), "--save", "",
                  "--appendonly", "no", "--dir", str(WORK)],
        "daprd": [str(daprd), f"--app-id={DAPRD['app_id']}", f"--dapr-http-port={DAPRD['http']}",
                  f"--dapr-grpc-port={DAPRD['grpc']}", f"--dapr-internal-grpc-port={DAPRD['internal']}",
                  f"--metrics-port={DAPRD['metrics']}", "--dapr-listen-addresses=127.0.0.1",
                  "--dapr-internal-grpc-listen-address=127.0.0.1", "--metrics-listen-address=127.0.0.1",
                  f"--resources-path={WORK / 'resources'}", "--placement-host-address=",
                  "--scheduler-host-address=", "--log-level=warn"],
    }  # fmt: skip
    env = {**os.environ, "GOGC": versions()["DAPR_SIDECAR_GOGC"]}
    processes = {}
    try:
        for name, command in commands.items():
            log = (WORK / f"{name}.log").open("ab")
            processes[name] = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        say(f"waiting for Redis on :{REDIS_PORT} and daprd on :{DAPRD['http']} (logs: {WORK})")
        healthz = f"http://127.0.0.1:{DAPRD['http']}/v1.0/healthz"
        wait_until(partial(_answers, healthz), timeout=30, what=f"daprd (log: {WORK / 'daprd.log'})")
        yield {name: process.pid for name, process in processes.items()}
    finally:
        stop(list(processes.values()))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 300
    except httpx.TransportError:
        return False


async def measure(decide: Callable[[int], Awaitable[object]], pids: dict[str, int]) -> dict[str, float]:
    """DECISIONS decisions one after the other, for 100 clients in turn."""
    for i in range(100):  # warm up: connections, scripts loaded, keys created
        await decide(i)
    watched = {"client": os.getpid(), **pids}
    before = {name: cpu_s(pid) for name, pid in watched.items()}
    wall: list[float] = []
    for i in range(DECISIONS):
        started = time.perf_counter()
        await decide(i % 100)
        wall.append((time.perf_counter() - started) * 1000)
    spent = {name: (cpu_s(pid) - before[name]) * 1000 / DECISIONS for name, pid in watched.items()}
    return {
        "p50_ms": percentile(wall, 50) or 0.0,
        "p99_ms": percentile(wall, 99) or 0.0,
        **{f"cpu_{name}_ms": ms for name, ms in spent.items()},
        "cpu_total_ms": sum(spent.values()),
    }


async def figures(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    # dapr.conf reads the sidecar's port when first imported: point it at this daprd first.
    os.environ["DAPR_HTTP_PORT"] = str(DAPRD["http"])
    os.environ.pop("DAPR_API_TOKEN", None)
    from limits import RateLimitItemPerMinute
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import (
        FixedWindowRateLimiter,
        MovingWindowRateLimiter,
        SlidingWindowCounterRateLimiter,
    )

    from services.auth.throttle import Limit, WindowCounters
    from services.shared.dapr import DaprSidecar

    results = {}
    dapr = DaprSidecar(app_id="bench-limiter", timeout_s=5)
    counters, limit = WindowCounters(dapr, "statestore"), Limit("bench", 10**9, 60)
    say(f"{DECISIONS} decisions through the Dapr state store (read with ETag, write if unchanged)")
    results["dapr_state_store"] = await measure(lambda i: counters.add(limit, f"client-{i}"), pids)
    await dapr.aclose()

    storage = RedisStorage(f"async+redis://127.0.0.1:{REDIS_PORT}", implementation="redispy")
    item = RateLimitItemPerMinute(10**9)
    for name, strategy in (
        ("limits_fixed_window", FixedWindowRateLimiter),
        ("limits_sliding_window_counter", SlidingWindowCounterRateLimiter),
        ("limits_moving_window", MovingWindowRateLimiter),
    ):
        limiter = strategy(storage)
        say(f"{DECISIONS} decisions straight to Redis: limits, {name.removeprefix('limits_')}")

        def decide(i: int, limiter: Any = limiter, name: str = name) -> Awaitable[object]:
            return limiter.hit(item, name, f"client-{i}")

        results[name] = await measure(decide, pids)
    return results


def main() -> int:
    with redis_and_daprd() as pids:
        results = asyncio.run(figures(pids))
    print(f"\nOne rate-limit decision, {DECISIONS} in a row (CPU in ms per decision)\n")
    print("| counted | p50 ms | p99 ms | CPU client | CPU daprd | CPU Redis | CPU total |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        cpu = [r.get(f"cpu_{who}_ms", 0.0) for who in ("client", "daprd", "redis")]
        print(
            f"| {name} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            + " | ".join(f"{ms:.3f}" for ms in cpu)
            + f" | {r['cpu_total_ms']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
