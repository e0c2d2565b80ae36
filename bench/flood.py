"""`make bench-flood` (and the last section of `make bench`): another client's product list,
idle and during a login flood, side by side (issue 28's target: p50 during the flood within 2x
of idle).

The flood: hey's 64 workers POST /api/auth/login with a wrong password from 127.0.0.1, each
sending its next as soon as the last is answered (BENCH_FLOOD_CONCURRENCY). The other client
reads GET /api/products at a fixed rate (BENCH_FLOOD_PROBE_RPS) from 127.0.0.2, another
address, so that the flood's address budget is not its own; it runs at a higher priority than
hey on the load generators' CPU, so that what it measures is the shop, not its own wait for a CPU.

The shop runs with its own defaults for every limit at the edge (the login throttle, the
request budget), not the raised ones the e2e suite and the rest of the bench run with: what is
measured is what a deployment gets. And, as a deployment has, with an edge proxy in front:
HAProxy (`EDGE=1`, scripts/replicas.py), which refuses an address far past the gateway's budget
itself, before a Python process sees the request, holding each refusal a second (EDGE_HOLD_S=0
answers at once). BENCH_FLOOD_EDGE=0 measures the gateway alone on the public port. The shop
(HAProxy included) on the system CPUs, hey on the load generators' (bench/cpus.py), as the rest
of the bench. Starts the shop and stops it again; about 1 minute."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import processes
from bench.cpus import LOADGEN_CPUS, SYSTEM_CPUS, named, pinned, text
from bench.hey import HEY, parse
from bench.stats import percentile
from harness.system import GATEWAY, System, stray_processes

SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
CONCURRENCY = int(os.environ.get("BENCH_FLOOD_CONCURRENCY", "64"))
PROBE_RPS = float(os.environ.get("BENCH_FLOOD_PROBE_RPS", "15"))
EDGE = os.environ.get("BENCH_FLOOD_EDGE", "1") == "1"
PROBE_ADDRESS = "127.0.0.2"
TARGET_RATIO = 2.0
WARMUP_S = 3
CPU_SHARES_SHOWN = 6  # the processes busiest during the flood, in the report


def say(message: str) -> None:
    print(f"[bench-flood {time.strftime('%H:%M:%S')}] {message}", flush=True)


def shop_defaults() -> dict[str, str]:
    """The limits at the edge as a deployment has them: harness/system.py raises these for the
    suite, unless the environment already sets them."""
    from services.auth.config import Settings as Auth
    from services.gateway.config import Settings as Gateway
    from services.notifications.config import Settings as Notifications

    fields = {
        "SHOP_LOGIN_FAILURES_PER_ADDRESS": Auth.model_fields["login_failures_per_address"],
        "SHOP_REGISTRATIONS_PER_ADDRESS": Auth.model_fields["registrations_per_address"],
        "SHOP_RATE_LIMIT_PER_USER": Gateway.model_fields["rate_limit_per_user"],
        "SHOP_RATE_LIMIT_PER_ADDRESS": Gateway.model_fields["rate_limit_per_address"],
        "SHOP_MAX_CONNECTIONS_PER_ADDRESS": Notifications.model_fields["max_connections_per_address"],
    }
    return {name: str(field.default) for name, field in fields.items()}


def front(edge: bool) -> str:
    return "HAProxy in front (EDGE=1)" if edge else "no proxy in front (BENCH_FLOOD_EDGE=0)"


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def probe(seconds: float) -> tuple[list[float], dict[int, int]]:
    """GET /api/products from PROBE_ADDRESS, PROBE_RPS a second arriving evenly (each request
    started on time, whether or not the one before was answered)."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    transport = httpx.AsyncHTTPTransport(local_address=PROBE_ADDRESS)
    async with httpx.AsyncClient(base_url=GATEWAY, transport=transport, timeout=10) as client:

        async def one() -> None:
            started = time.perf_counter()
            try:
                status = (await client.get("/api/products?limit=20")).status_code
            except httpx.HTTPError:
                status = 0
            latencies.append((time.perf_counter() - started) * 1000)
            codes[status] = codes.get(status, 0) + 1

        tasks = []
        start = time.perf_counter()
        for i in range(int(seconds * PROBE_RPS)):
            await asyncio.sleep(max(0.0, start + i / PROBE_RPS - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies, codes


def cpu_ticks() -> dict[int, list[int]]:
    """Each CPU's time so far by kind, in ticks (/proc/stat: user, nice, system, idle, iowait,
    irq, softirq, steal)."""
    ticks = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks[int(name[3:])] = [int(f) for f in fields[:8]]
    return ticks


def cpu_use(
    before: dict[int, list[int]], after: dict[int, list[int]], cpus: frozenset[int]
) -> dict[str, float]:
    """How busy `cpus` were between two cpu_ticks() readings: busy (all but idle and iowait) and
    softirq (the kernel's packet processing, loopback included, which no process is charged
    for) as shares of their time."""
    spent = [sum(after[c][k] - before[c][k] for c in cpus) for k in range(8)]
    total = sum(spent) or 1
    return {"busy": round((total - spent[3] - spent[4]) / total, 2), "softirq": round(spent[6] / total, 2)}


def summary(latencies: list[float], codes: dict[int, int]) -> dict[str, Any]:
    return {
        "p50_ms": round(percentile(latencies, 50) or 0.0, 1),
        "p99_ms": round(percentile(latencies, 99) or 0.0, 1),
        "requests": len(latencies),
        "status_codes": codes,
    }


def flood(seconds: float) -> subprocess.Popen[str]:
    """hey's login flood on the load generators' CPUs, for `seconds`."""
    body = '{"email": "flood-victim@example.com", "password": "not-the-password"}'
    command = ["taskset", "-c", text(LOADGEN_CPUS), str(HEY), "-z", f"{seconds}s", "-c", str(CONCURRENCY)]
    command += ["-m", "POST", "-T", "application/json", "-d", body, f"{GATEWAY}/api/auth/login"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def figures() -> dict[str, Any]:
    if not HEY.exists():
        raise SystemExit(f"[bench-flood] hey is missing ({HEY}): run `make setup`")
    # On the load generators' CPU, ahead of hey there (root may raise a priority).
    os.sched_setaffinity(0, LOADGEN_CPUS)
    os.setpriority(os.PRIO_PROCESS, 0, -10)
    system = System()
    say(f"starting the shop with its default limits at the edge, {front(EDGE)} (scripts/run.sh; about 20 s)")
    with environment({**shop_defaults(), "EDGE": "1" if EDGE else "0"}), pinned(SYSTEM_CPUS):
        system.start()
    try:
        say(f"  {processes.pin(SYSTEM_CPUS)} processes of the system on {named(SYSTEM_CPUS)}")
        asyncio.run(probe(WARMUP_S))
        say(f"idle: GET /api/products from {PROBE_ADDRESS}, {PROBE_RPS:.0f}/s for {SECONDS:.0f} s")
        idle = summary(*asyncio.run(probe(SECONDS)))
        say(f"  p50 {idle['p50_ms']} ms, p99 {idle['p99_ms']} ms")
        say(
            f"flood: {CONCURRENCY} clients POST /api/auth/login from 127.0.0.1 (hey), "
            f"the same reads {WARMUP_S} s into it, for {SECONDS:.0f} s"
        )
        hey = flood(SECONDS + WARMUP_S + 1)
        time.sleep(WARMUP_S)
        # Where the system's CPUs go meanwhile: what the probe's requests wait behind.
        before, ticks, started = processes.cpu_seconds(), cpu_ticks(), time.monotonic()
        flooded = summary(*asyncio.run(probe(SECONDS)))
        busy = processes.cpu_shares(before, processes.cpu_seconds(), time.monotonic() - started)
        ticks_after = cpu_ticks()
        cpus = {
            "system": cpu_use(ticks, ticks_after, SYSTEM_CPUS),
            "loadgen": cpu_use(ticks, ticks_after, LOADGEN_CPUS),
        }
        out, _ = hey.communicate(timeout=SECONDS + 120)
        logins = parse(out)
        say(f"  p50 {flooded['p50_ms']} ms, p99 {flooded['p99_ms']} ms")
    finally:
        say("stopping the shop")
        system.stop()
        processes.pin(set(range(os.cpu_count() or 1)))
    ratio = flooded["p50_ms"] / idle["p50_ms"] if idle["p50_ms"] else float("inf")
    return {
        "idle": idle,
        "flood": flooded,
        "p50_ratio": round(ratio, 2),
        "target_met": ratio <= TARGET_RATIO,
        "logins_per_s": round(logins.requests_per_s),
        "login_status_codes": logins.status_codes,
        "concurrency": CONCURRENCY,
        "edge": EDGE,
        "flood_cpu_shares": dict(list(busy.items())[:CPU_SHARES_SHOWN]),
        "flood_cpus": cpus,
    }


def cpus_line(cpus: dict[str, dict[str, float]]) -> str:
    if not cpus:
        return ""
    system, loadgen = cpus["system"], cpus["loadgen"]
    return (
        f"CPUs during the flood: the system's {system['busy']:.0%} busy ({system['softirq']:.0%} softirq), "
        f"the load generators' {loadgen['busy']:.0%} ({loadgen['softirq']:.0%} softirq)"
    )


def lines(result: dict[str, Any]) -> str:
    idle, flooded = result["idle"], result["flood"]
    verdict = "met" if result["target_met"] else "MISSED"
    answered = ", ".join(f"{n} x {code}" for code, n in sorted(result["login_status_codes"].items()))
    busiest = ", ".join(f"{label} {share:.2f}" for label, share in result.get("flood_cpu_shares", {}).items())
    return "\n".join(
        [
            f"\nGET /api/products from another client, idle and during a "
            f"{result['concurrency']}-client login flood, {front(result.get('edge', False))}",
            "",
            "| | p50 ms | p99 ms | answers |",
            "|---|---:|---:|---|",
            f"| idle | {idle['p50_ms']} | {idle['p99_ms']} | {idle['status_codes']} |",
            f"| during the flood | {flooded['p50_ms']} | {flooded['p99_ms']} | {flooded['status_codes']} |",
            "",
            f"p50 during / idle: {result['p50_ratio']}x (target <= {TARGET_RATIO}x: {verdict}); "
            f"the flood: {result['logins_per_s']} logins/s answered ({answered})",
            f"busiest during the flood (share of one CPU): {busiest}",
            cpus_line(result.get("flood_cpus", {})),
        ]
    )


def main() -> int:
    if stray_processes():
        raise SystemExit("[bench-flood] apps or sidecars are already running: stop `make run` first.")
    result = figures()
    print(lines(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
