"""`make bench`: the shop's performance figures, each beside what it is compared with, in one
bounded run (about 5 minutes) on this machine. Starts what it measures and stops it all again.

1. Gateway GET /api/products/{id} requests/s at saturation / a bare FastAPI app's (same hey,
   same concurrency, same uvicorn settings, saturated in turns with the shop up): as served (the
   gateway's 1 s product cache), and with Cache-Control: no-cache (every request through Dapr
   to products and MariaDB).
2. Sidecar overhead: the bare app called directly and through two daprd, plain and with mTLS,
   at a fixed rate (bench/sidecars.py; alone: `make bench-sidecars`).
3. POST /api/orders: sustained orders/s; at a steady rate, order 201 -> read-model propagation,
   and the highest rate tried at which it stays within the target.
4. Resident memory of the whole system, idle and at its peak under load.
5. Scaling: orders/s sustained and CPU per order with 1 and with 2 replicas of every app, the
   shop on every CPU (bench/scaling.py; BENCH_SCALING=0 leaves it out).
6. Another client's product list, idle and during a 64-client login flood (bench/flood.py;
   BENCH_FLOOD=0 leaves it out; alone: `make bench-flood`).
7. Only with BENCH_SDK=1 (about 2 minutes more; alone: `make bench-sdk`): the shop's sidecar
   client against the Dapr SDK's, CPU and latency per call (bench/sdk.py).

The system runs on CPU 0, every load generator on CPU 1 (bench/cpus.py). Prints a Markdown
table and writes bench/results/bench.json. Knobs (environment): BENCH_SECONDS,
BENCH_CONCURRENCY, BENCH_SIDECAR_RPS, BENCH_SIDECAR_LOW_RPS, BENCH_ORDER_CONCURRENCY, BENCH_ORDER_RATE,
BENCH_SYSTEM_CPUS, BENCH_LOADGEN_CPUS."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from bench import flood, hey, orders, processes, scaling, sdk, sidecars
from bench.cpus import LOADGEN_CPUS, SYSTEM_CPUS, named, pinned, split, split_available
from bench.report import cpu_lines, table, write_results
from harness.system import GATEWAY, ROOT, System, missing_infrastructure, stray_processes

SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
# Buyers placing orders one after the other: as many as the gateway admits at once
# (SHOP_ORDERS_IN_FLIGHT_LIMIT), so the closed loop measures what the shop completes, not how
# it sheds a standing queue (with 16, a third of the orders were refused at once and retried).
ORDER_CONCURRENCY = int(os.environ.get("BENCH_ORDER_CONCURRENCY", "8"))
ORDER_RATE = float(os.environ.get("BENCH_ORDER_RATE", "50"))
# Rates tried between half the sustained rate and ORDER_RATE, as shares of the sustained rate.
SLO_STEPS = (0.7, 0.85, 1.0)
RESULTS = ROOT / "bench/results/bench.json"
T = TypeVar("T")


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def preflight() -> None:
    """Refuses to start on a machine that lacks what the bench needs, saying what to do."""
    problems = [f"missing {m}" for m in missing_infrastructure()]
    if not hey.HEY.exists():
        problems.append(f"missing hey ({hey.HEY})")
    if problems:
        raise SystemExit("[bench] " + "; ".join(problems) + ". Run `make setup` first.")
    if stray_processes():
        raise SystemExit("[bench] apps or sidecars are already running: stop `make run` first.")
    if not split_available():
        raise SystemExit(
            f"[bench] this process may not use {named(SYSTEM_CPUS | LOADGEN_CPUS)}: "
            "set BENCH_SYSTEM_CPUS and BENCH_LOADGEN_CPUS to CPUs it may use (bench/cpus.py)."
        )


def shop_figures() -> dict[str, Any]:
    """Everything measured on the running shop."""
    system = System()
    say("starting the shop (scripts/run.sh, as `make run`; about 20 s)")
    with pinned(SYSTEM_CPUS):
        system.start()
    try:
        pinned_count = processes.pin(SYSTEM_CPUS)
        say(f"  {pinned_count} processes of the system on {named(SYSTEM_CPUS)}, infrastructure included")
        say("shop up; waiting for order-view's start-up rebuild (it reads every order once)")
        settled = orders.wait_for_rebuild(timeout=180)
        say(f"  rebuilt in {settled:.0f} s; letting it settle 5 s, then measuring idle memory")
        time.sleep(5)
        idle = processes.memory()
        say(f"  idle: {idle.rss_total_mb:.0f} MB resident")
        say("creating 20 buyers and 10 products with stock (admin from .run/secrets.json)")
        shoppers = orders.Shoppers.create()
        with processes.PeakSampler() as sampler:
            saturated, saturated_cpu = gateway_and_bare_app(
                f"{GATEWAY}/api/products/{shoppers.product_ids[0]}"
            )
            say(f"POST /api/orders as fast as taken: {SECONDS:.0f} s, {ORDER_CONCURRENCY} buyers at once")
            (sustained, sustained_ids), orders_cpu = _with_cpu_shares(
                lambda: asyncio.run(
                    orders.sustained(shoppers, seconds=SECONDS, concurrency=ORDER_CONCURRENCY)
                )
            )
            say(f"  {sustained['orders_per_s']} orders/s, p99 {sustained['p99_ms']} ms")
        # The overload leaves order-view a backlog: the steady runs start once it is applied.
        say(f"waiting for the read model to apply those {len(sustained_ids)} orders")
        sustained["read_model_drained_s"] = round(orders.drain(sustained_ids, timeout=180)[0], 1)
        say(f"  applied {sustained['read_model_drained_s']} s after the last one was acknowledged")
        # Half what the shop just sustained (its propagation when not overloaded), then the target rate.
        half = max(1.0, round(sustained["orders_per_s"] / 2))
        steady = [steady_run(shoppers, half)]
        # Between the two: the highest rate at which the read model keeps within 300 ms at p99,
        # a step up at a time from half, stopping at the first rate that misses it.
        within = [steady[0]]
        for share in SLO_STEPS:
            rate = max(half + 1, round(sustained["orders_per_s"] * share))
            if not orders.within(within[-1]) or rate >= ORDER_RATE:
                break
            within.append(steady_run(shoppers, rate))
        steady.append(steady_run(shoppers, ORDER_RATE))
    finally:
        say("stopping the shop")
        system.stop()
        processes.pin(set(range(os.cpu_count() or 1)))  # infrastructure left running: any CPU again
    return {
        **saturated,
        "orders_sustained": sustained,
        "orders_steady": steady,
        "orders_within_slo": within,
        "cpu_shares_products": saturated_cpu["product"],
        "cpu_shares_products_uncached": saturated_cpu["product_uncached"],
        "cpu_shares_orders": orders_cpu,
        "memory_idle": idle,
        "memory_peak": sampler.peak,
    }


def gateway_and_bare_app(product_url: str) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Figure 1: the bare app (started beside the shop, on its CPUs), the gateway's product page
    as served and with Cache-Control: no-cache (every request one Dapr hop + MariaDB), each
    saturated in turns, and the CPU each shop process spent on the gateway's turns. In turns, as
    figure 2: the bare app measured alone before the shop started, and the gateway minutes
    later, gave ratios of 0.24 to 0.38 as the VM's speed drifted between the two."""
    targets: hey.Targets = {
        "hello_saturated": (sidecars.DIRECT_URL, None),
        "product": (product_url, None),
        "product_uncached": (product_url, {"Cache-Control": "no-cache"}),
    }
    spent: dict[str, dict[str, float]] = {name: {} for name in targets}
    measured_s = dict.fromkeys(targets, 0.0)

    @contextmanager
    def cpu_of(name: str) -> Iterator[None]:
        before, started = processes.cpu_seconds(), time.perf_counter()
        yield
        measured_s[name] += time.perf_counter() - started
        for label, seconds in processes.cpu_spent(before, processes.cpu_seconds()).items():
            spent[name][label] = spent[name].get(label, 0.0) + seconds

    rounds = 3
    say(
        f"the bare hello app and the gateway's GET /api/products/{{id}}, as served and no-cache: "
        f"saturated ({CONCURRENCY} connections) in turns, {rounds} x {SECONDS / rounds:.0f} s each"
    )
    with sidecars.running(with_sidecars=False):
        results = hey.saturated_in_turns(
            targets, rounds=rounds, seconds=SECONDS / rounds, concurrency=CONCURRENCY, observe=cpu_of
        )
    for name, result in results.items():
        say(f"  {name}: {result.requests_per_s:.0f} requests/s, {result.ok_ratio:.1%} answered 200")
    shares = {name: processes.shares_of(used, measured_s[name]) for name, used in spent.items()}
    return dict(results), shares


def steady_run(shoppers: orders.Shoppers, rate: float) -> dict[str, Any]:
    """Orders offered at `rate` for SECONDS, then when each reached the read model, and the CPU
    each cost the system (every order of the run placed and applied), process by process."""
    say(f"POST /api/orders at {rate:.0f}/s for {SECONDS:.0f} s; then when each reached the read model")
    before = processes.cpu_seconds()
    run = asyncio.run(orders.propagation(shoppers, rate=rate, seconds=SECONDS))
    spent = processes.cpu_spent(before, processes.cpu_seconds())
    per_order = {label: seconds * 1000 / max(1, run["orders"]) for label, seconds in spent.items()}
    run["cpu_ms_per_order"] = {label: round(ms, 1) for label, ms in per_order.items() if ms >= 0.5}
    lag = (run["propagation_p50_ms"], run["propagation_p99_ms"])
    say(f"  {run['orders_per_s']} orders/s answered; to the read model p50 {lag[0]}, p99 {lag[1]} ms")
    return run


def _with_cpu_shares(measure: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """Runs a measurement and returns, beside its result, each shop process's share of a CPU."""
    before, started = processes.cpu_seconds(), time.perf_counter()
    result = measure()
    return result, processes.cpu_shares(before, processes.cpu_seconds(), time.perf_counter() - started)


def infrastructure_running() -> bool:
    status = subprocess.run(["scripts/infra.sh", "status"], cwd=ROOT, capture_output=True, text=True)
    return "rabbitmq: running" in status.stdout


def main() -> int:
    preflight()
    started = time.perf_counter()
    infra_was_running = infrastructure_running()
    # This process and everything it runs itself (hey, the order clients) stay on the load
    # generators' CPUs.
    say(split())
    os.sched_setaffinity(0, LOADGEN_CPUS)
    try:
        # The sidecar overhead first, before the shop starts (a quiet CPU 0).
        results = {**sidecars.figures(), **shop_figures()}
        if os.environ.get("BENCH_SCALING", "1") != "0":
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
            results["scaling"] = scaling.figures(seconds=SECONDS, concurrency=ORDER_CONCURRENCY)
        if os.environ.get("BENCH_FLOOD", "1") != "0":
            results["flood"] = flood.figures()
        if os.environ.get("BENCH_SDK", "0") == "1":
            results["sdk"] = sdk.figures()
    finally:
        if not infra_was_running:
            say("stopping the infrastructure (scripts/infra.sh down)")
            subprocess.run(["scripts/infra.sh", "down"], cwd=ROOT, check=False, capture_output=True)
    report = table(
        results,
        sidecar_rps=sidecars.RPS,
        sidecar_low_rps=sidecars.LOW_RPS,
        concurrency=CONCURRENCY,
        order_rate=ORDER_RATE,
    )
    print(report)
    print(cpu_lines("CPU during gateway GET /api/products/{id}", results["cpu_shares_products"]))
    print(cpu_lines("CPU during the same, no-cache", results["cpu_shares_products_uncached"]))
    print(cpu_lines("CPU during POST /api/orders", results["cpu_shares_orders"]))
    if "scaling" in results:
        print(scaling.lines(results["scaling"]))
    if "flood" in results:
        print(flood.lines(results["flood"]))
    if "sdk" in results:
        print(sdk.table(results["sdk"]["rows"]))
    document = write_results(RESULTS, results, seconds=SECONDS, started=started)
    say(f"whole run {document['run_seconds']} s; written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
