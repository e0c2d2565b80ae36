"""The bench's results as a Markdown table (each figure, what it is compared with, its target),
and as the JSON document under bench/results/."""

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cpus import SYSTEM_CPUS, machine, named, split
from bench.hey import HeyResult
from bench.orders import PROPAGATION_P99_MS, within
from bench.processes import Snapshot

# Issue #27's targets: CPU per order placed and applied at the half-rate step, and per uncached
# product read, each summed over every process of the shop.
ORDER_CPU_TARGET_MS = 30.0
UNCACHED_READ_CPU_TARGET_MS = 2.5
# What this architecture (Python apps, a daprd beside each, MariaDB, FerretDB, RabbitMQ) needs at
# the least, from the decomposition in docs/performance.md ("The floor"): the infrastructure as
# measured, the sidecars at their own cost per request, the apps at a bare FastAPI app's per
# request plus their SQL. Printed beside the measured figures.
ORDER_CPU_FLOOR_MS = (28.0, 34.0)
UNCACHED_READ_CPU_FLOOR_MS = (2.2, 2.5)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _saturated(result: HeyResult) -> str:
    return (
        f"{result.requests_per_s:,.0f} req/s (p50 {result.latency_ms[50]:.1f} ms, "
        f"p99 {result.latency_ms[99]:.1f} ms, {result.ok_ratio:.1%} 200)"
    )


def _spread(result: HeyResult) -> str:
    p = result.latency_ms
    return f"p50 {p[50]:.2f} / p90 {p[90]:.2f} / p99 {p[99]:.2f} ms"


def _memory(snapshot: Snapshot) -> str:
    groups = ", ".join(
        f"{group} {mb:,.0f} MB ({snapshot.processes[group]})" for group, mb in snapshot.rss_mb.items()
    )
    # PSS counts each physical page once, shared ones split between their processes: its sum is
    # what the system holds. Summed RSS counts a shared page once per process mapping it (the
    # daprd binary 7 times, libpython 7 times): shown for comparison, not the system's footprint.
    return f"{snapshot.pss_total_mb:,.0f} MB PSS; summed RSS {snapshot.rss_total_mb:,.0f} MB ({groups})"


def _steady_rows(steady: dict[str, Any], *, target: float) -> list[tuple[str, str, str, str]]:
    rate, p99 = steady["offered_per_s"], steady["propagation_p99_ms"]
    per_order = steady.get("cpu_ms_per_order", {})
    # What one order may cost for the system's CPUs to keep up with the target rate at all.
    budget_ms = 1000 * len(SYSTEM_CPUS) / target
    cpu_row = (
        "3",
        f"CPU per order at {rate:.0f}/s, placed and applied",
        f"{sum(per_order.values()):.0f} ms in all: "
        + ", ".join(f"{label} {ms:.1f}" for label, ms in list(per_order.items())[:6]),
        f"{target:.0f}/s on {named(SYSTEM_CPUS)} needs <= {budget_ms:.0f} ms: "
        f"{_verdict(sum(per_order.values()) <= budget_ms)}"
        if rate != target
        else "",
    )
    total = sum(per_order.values())
    floor_row = (
        "3",
        f"the same: target and the floor of this architecture ({_floor(ORDER_CPU_FLOOR_MS)})",
        f"{total:.0f} ms",
        f"<= {ORDER_CPU_TARGET_MS:.0f} ms at the half-rate step: {_verdict(total <= ORDER_CPU_TARGET_MS)}",
    )
    return [
        (
            "3",
            f"POST /api/orders offered at {rate:.0f}/s",
            f"{steady['orders_per_s']} orders/s answered (p50 {_ms(steady['p50_ms'])}, "
            f"p99 {_ms(steady['p99_ms'])}, failures {steady['failures'] or 0})",
            "",
        ),
        (
            "3",
            f"order 201 -> in the read model, at {rate:.0f}/s offered",
            f"p50 {_ms(steady['propagation_p50_ms'])}, p99 {_ms(p99)} "
            f"({steady['propagated']} written; all {steady['read_model_drained_s']} s after the last 201)",
            # Met only if the shop placed every order offered: orders refused never reach it.
            f"all placed, p99 < {PROPAGATION_P99_MS} ms: {_verdict(within(steady))}"
            if rate == target
            else "",
        ),
        *([cpu_row, floor_row] if per_order and rate != target else []),
    ]


def _floor(bounds: tuple[float, float]) -> str:
    return f"floor ~{bounds[0]:g}-{bounds[1]:g} ms"


def _uncached_cpu_row(uncached: HeyResult, shares: dict[str, float]) -> tuple[str, str, str, str]:
    """CPU per uncached product read: every process's share of a CPU over the requests served."""
    per_request = {label: share * 1000 / uncached.requests_per_s for label, share in shares.items()}
    total = sum(per_request.values())
    top = ", ".join(f"{label} {ms:.2f}" for label, ms in list(per_request.items())[:5])
    return (
        "1",
        f"CPU per uncached product read ({_floor(UNCACHED_READ_CPU_FLOOR_MS)})",
        f"{total:.2f} ms in all: {top}",
        f"<= {UNCACHED_READ_CPU_TARGET_MS} ms: {_verdict(total <= UNCACHED_READ_CPU_TARGET_MS)}",
    )


def _within_row(runs: list[dict[str, Any]], *, target: float, p99_ms: float) -> tuple[str, str, str, str]:
    """The highest rate tried at which the read model kept up within p99_ms, and the next one."""
    met = [run for run in runs if within(run, p99_ms)]
    missed = [run for run in runs if not within(run, p99_ms)]
    tried = ", ".join(f"{run['offered_per_s']:.0f}" for run in runs)
    best = f"{met[-1]['offered_per_s']:.0f}/s (p99 {_ms(met[-1]['propagation_p99_ms'])})" if met else "none"
    over = (
        f"; at {missed[0]['offered_per_s']:.0f}/s p99 {_ms(missed[0]['propagation_p99_ms'])}"
        if missed
        else ""
    )
    reached = bool(met) and met[-1]["offered_per_s"] >= target
    return (
        "3",
        f"highest rate offered with the read model within {p99_ms:.0f} ms at p99 (tried {tried}/s)",
        best + over,
        f"{target:.0f}/s: {_verdict(reached)}",
    )


def _ratio_row(what: str, ratio: float) -> tuple[str, str, str, str]:
    return ("1", what, f"{ratio:.2f}", f">= 0.30: {_verdict(ratio >= 0.30)}")


def _added_row(what: str, added: dict[int, float]) -> tuple[str, str, str, str]:
    spread = f"p50 {added[50]:.2f} / p90 {added[90]:.2f} / p99 {added[99]:.2f} ms"
    return ("2", what, spread, f"p90 <= 2 ms: {_verdict(added[90] <= 2.0)}")


def cpu_lines(title: str, shares: dict[str, float], top: int = 8) -> str:
    """Where the system's CPU went during one measurement (1.00 = one whole core)."""
    total = sum(shares.values())
    parts = ", ".join(f"{label} {share:.2f}" for label, share in list(shares.items())[:top])
    return f"{title}: {total:.2f} CPU in all; {parts}"


# Dapr's published sidecar overhead (docs.dapr.io, "Service invocation performance", the v1.0
# summary): what the caller's and the callee's daprd added together at p90 and p99, at 1,000
# requests/s, each daprd limited to half a vCPU on nodes of its own, mTLS on, 10% of requests
# traced, a 1 KB payload.
DAPR_PUBLISHED_ADDED = "p90 1.40 / p99 2.10 ms"
# The paths through the sidecars figure 2 measures (the results' keys): the path, what it adds.
SIDECAR_PATHS = {
    "via_sidecars": ("daprd A -> daprd B", "added by the two sidecars"),
    "via_sidecars_mtls": (
        "daprd A -> daprd B with mTLS (certificates from Sentry)",
        f"added by the two sidecars with mTLS (Dapr's published, mTLS on: {DAPR_PUBLISHED_ADDED})",
    ),
}
Row = tuple[str, str, str, str]


def _sidecar_rows(results: dict[str, Any], rate: int, suffix: str) -> list[Row]:
    """The hello app called directly and through each pair of sidecars measured at one rate (in
    turns), then what each pair adds over the direct call, side by side."""
    direct: HeyResult = results[f"direct{suffix}"]
    paths = {name: labels for name, labels in SIDECAR_PATHS.items() if f"{name}{suffix}" in results}
    others = {1: "the next", 2: "the next two"}.get(len(paths), f"the next {len(paths)}")
    rows: list[Row] = [
        ("2", f"hello app called directly, {rate} req/s (in turns with {others})", _spread(direct), "")
    ]
    rows += [
        ("2", f"same through {path}", _spread(results[f"{name}{suffix}"]), "")
        for name, (path, _) in paths.items()
    ]
    rows += [
        _added_row(added, _added(results[f"{name}{suffix}"], direct)) for name, (_, added) in paths.items()
    ]
    return rows


def _added(via: HeyResult, direct: HeyResult) -> dict[int, float]:
    return {p: via.latency_ms[p] - direct.latency_ms[p] for p in (50, 90, 99)}


def sidecar_rows(results: dict[str, Any], *, sidecar_rps: int, sidecar_low_rps: int) -> list[Row]:
    """Figure 2's rows: the sidecar overhead at the low rate (if measured) and at the judged
    rate, then with every request traced."""
    traced: HeyResult = results["via_sidecars_traced"]
    return [
        *(_sidecar_rows(results, sidecar_low_rps, "_low") if "direct_low" in results else []),
        *_sidecar_rows(results, sidecar_rps, ""),
        ("2", "same, each request in a sampled trace (as the shop's)", _spread(traced), ""),
        _added_row("added by the two sidecars recording the trace", _added(traced, results["direct"])),
    ]


def _markdown(rows: list[Row]) -> str:
    lines = ["| # | figure | measured | target |", "|---|---|---|---|"]
    lines += [f"| {n} | {what} | {measured} | {target} |" for n, what, measured, target in rows]
    return "\n".join(lines)


def sidecar_table(results: dict[str, Any], *, sidecar_rps: int, sidecar_low_rps: int) -> str:
    """Figure 2 alone (`make bench-sidecars`), as its rows of `make bench`'s table."""
    return _markdown(sidecar_rows(results, sidecar_rps=sidecar_rps, sidecar_low_rps=sidecar_low_rps))


def table(
    results: dict[str, Any], *, sidecar_rps: int, sidecar_low_rps: int, concurrency: int, order_rate: float
) -> str:
    hello: HeyResult = results["hello_saturated"]
    product: HeyResult = results["product"]
    uncached: HeyResult = results["product_uncached"]
    ratio, uncached_ratio = (
        (result.requests_per_s / hello.requests_per_s if hello.requests_per_s else 0.0)
        for result in (product, uncached)
    )
    sustained = results["orders_sustained"]
    steady_rows = [_steady_rows(steady, target=order_rate) for steady in results["orders_steady"]]
    idle: Snapshot = results["memory_idle"]
    rows = [
        (
            "1",
            f"bare FastAPI hello app, saturated ({concurrency} connections; in turns with the next two)",
            _saturated(hello),
            "",
        ),
        ("1", "gateway GET /api/products/{id}, same load, from its 1 s cache", _saturated(product), ""),
        _ratio_row("gateway / bare app requests/s, as served", ratio),
        ("1", "the same with Cache-Control: no-cache (Dapr hop + MariaDB)", _saturated(uncached), ""),
        _ratio_row("gateway / bare app requests/s, no-cache", uncached_ratio),
        *(
            [_uncached_cpu_row(uncached, results["cpu_shares_products_uncached"])]
            if uncached.requests_per_s and results.get("cpu_shares_products_uncached")
            else []
        ),
        *sidecar_rows(results, sidecar_rps=sidecar_rps, sidecar_low_rps=sidecar_low_rps),
        (
            "3",
            f"POST /api/orders, {sustained['concurrency']} buyers at once",
            f"{sustained['orders_per_s']} orders/s (p50 {_ms(sustained['p50_ms'])}, "
            f"p99 {_ms(sustained['p99_ms'])}, failures {sustained['failures'] or 0}); read model "
            f"caught up {sustained.get('read_model_drained_s', '?')} s after the last",
            "",
        ),
        *(row for rows in steady_rows for row in rows),
        *(
            [_within_row(results["orders_within_slo"], target=order_rate, p99_ms=PROPAGATION_P99_MS)]
            if results.get("orders_within_slo")
            else []
        ),
        ("4", "resident memory, idle", _memory(idle), f"< 1.5 GB: {_verdict(idle.pss_total_mb < 1536)}"),
        ("4", "resident memory, peak under load", _memory(results["memory_peak"]), ""),
    ]
    return _markdown(rows)


def write_results(path: Path, results: dict[str, Any], *, seconds: float, started: float) -> dict[str, Any]:
    """Writes `results` to `path` with when, on what machine and CPU split, and how long the run
    took since `started` (time.perf_counter); returns the document written."""
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "cpu_split": split(),
        "seconds_per_measurement": seconds,
        "run_seconds": round(time.perf_counter() - started),
        "results": results,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=_plain) + "\n")
    return document


def _plain(value: Any) -> Any:
    """JSON for the result dataclasses."""
    if isinstance(value, Snapshot):
        return {**value.__dict__, "rss_total_mb": value.rss_total_mb}
    if hasattr(value, "__dataclass_fields__"):
        return value.__dict__
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value))
