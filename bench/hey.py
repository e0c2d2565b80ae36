"""Runs `hey` (the pinned HTTP load generator, scripts/install-hey.sh) on the load generator's
CPU and reads its summary: requests/s, latency percentiles, status codes."""

import csv
import io
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from bench.cpus import LOADGEN_CPUS, text
from harness.system import versions

# Built by scripts/install-hey.sh (`make setup`), pinned in scripts/versions.sh.
HEY = Path(versions()["HEY_BIN"])
PERCENTILES = (10, 25, 50, 75, 90, 95, 99)
T = TypeVar("T")
Headers = dict[str, str] | None
Targets = dict[str, tuple[str, Headers]]  # name -> (url, headers)


@dataclass
class HeyResult:
    requests_per_s: float
    # Percentile (10, 25, 50, 75, 90, 95, 99) -> milliseconds.
    latency_ms: dict[int, float]
    status_codes: dict[int, int]
    errors: list[str] = field(default_factory=list)

    @property
    def ok_ratio(self) -> float:
        total = sum(self.status_codes.values()) + len(self.errors)
        return self.status_codes.get(200, 0) / total if total else 0.0


def run(
    url: str,
    *,
    seconds: float,
    concurrency: int,
    rate_per_worker: float | None = None,
    headers: dict[str, str] | None = None,
) -> HeyResult:
    """`hey -z` for `seconds` with `concurrency` workers; a fixed rate when `rate_per_worker`
    is given (hey's -q is per worker: the total is concurrency x rate_per_worker)."""
    if not HEY.exists():
        raise SystemExit(f"hey is missing ({HEY}): run `make setup`")
    command = ["taskset", "-c", text(LOADGEN_CPUS), str(HEY), "-z", f"{seconds}s", "-c", str(concurrency)]
    if rate_per_worker:
        command += ["-q", str(rate_per_worker)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    return parse(out)


def at_fixed_rate(
    url: str, *, seconds: float, rate: float, streams: int = 10, headers: dict[str, str] | None = None
) -> HeyResult:
    """`rate` requests/s arriving evenly: `streams` single-connection hey processes at rate/streams
    each, started 1/rate s apart. (One hey with many workers at -q fires all its workers on the
    same tick: bursts whose queueing would be measured instead of the path itself.)"""
    latencies, codes = _at_fixed_rate(url, headers, seconds, rate=rate, streams=streams)
    return _summary(latencies, codes, seconds)


def interleaved(targets: Targets, *, rounds: int, seconds: float, rate: float) -> dict[str, HeyResult]:
    """at_fixed_rate for several targets in turns, `rounds` times `seconds` each, every target's
    samples pooled: a VM whose speed drifts during the minute this takes slows or speeds them
    all alike, where one long run after another would not."""
    measured = _in_turns(targets, rounds, seconds, partial(_at_fixed_rate, rate=rate))
    pooled: dict[str, HeyResult] = {}
    for name, runs in measured.items():
        latencies = [latency for run_latencies, _ in runs for latency in run_latencies]
        pooled[name] = _summary(latencies, _summed(codes for _, codes in runs), rounds * seconds)
    return pooled


def saturated_in_turns(
    targets: Targets,
    *,
    rounds: int,
    seconds: float,
    concurrency: int,
    observe: Callable[[str], AbstractContextManager[object]] | None = None,
) -> dict[str, HeyResult]:
    """`run` at `concurrency` for several targets in turns, as `interleaved` does: requests/s
    over all the rounds, status codes and errors summed, each latency percentile the rounds'
    weighted by their requests (hey summarises a run; it does not list a saturating run's
    requests). `observe(name)` wraps each counted turn (the bench measures CPU with it)."""

    def turn(url: str, headers: Headers, seconds: float) -> HeyResult:
        return run(url, seconds=seconds, concurrency=concurrency, headers=headers)

    pooled: dict[str, HeyResult] = {}
    for name, runs in _in_turns(targets, rounds, seconds, turn, observe).items():
        weights = [result.requests_per_s * seconds for result in runs]
        total = sum(weights) or 1.0
        pooled[name] = HeyResult(
            requests_per_s=sum(weights) / (rounds * seconds),
            latency_ms={
                p: sum(w * r.latency_ms.get(p, 0.0) for w, r in zip(weights, runs, strict=True)) / total
                for p in PERCENTILES
            },
            status_codes=_summed(result.status_codes for result in runs),
            errors=[error for result in runs for error in result.errors],
        )
    return pooled


def _summed(counts: Iterable[dict[int, int]]) -> dict[int, int]:
    """Status code -> responses, over several runs."""
    total: dict[int, int] = {}
    for run_counts in counts:
        for code, n in run_counts.items():
            total[code] = total.get(code, 0) + n
    return total


def _in_turns(
    targets: Targets,
    rounds: int,
    seconds: float,
    measure: Callable[[str, Headers, float], T],
    observe: Callable[[str], AbstractContextManager[object]] | None = None,
) -> dict[str, list[T]]:
    """measure(url, headers, seconds) for each target in turn, `rounds` times, each turn after a
    second of the same not counted (the path warm again after the others)."""
    measured: dict[str, list[T]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, headers) in targets.items():
            measure(url, headers, 1)
            with observe(name) if observe else nullcontext():
                measured[name].append(measure(url, headers, seconds))
    return measured


def _at_fixed_rate(
    url: str, headers: Headers, seconds: float, *, rate: float, streams: int = 10
) -> tuple[list[float], dict[int, int]]:
    if not HEY.exists():
        raise SystemExit(f"hey is missing ({HEY}): run `make setup`")
    command = ["taskset", "-c", text(LOADGEN_CPUS), str(HEY), "-z", f"{seconds}s", "-c", "1"]
    command += ["-q", str(rate / streams), "-o", "csv"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    processes = []
    for _ in range(streams):
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
        time.sleep(1 / rate)
    latencies: list[float] = []
    codes: dict[int, int] = {}
    for process in processes:
        out, _ = process.communicate(timeout=seconds + 60)
        for row in csv.DictReader(io.StringIO(out)):
            latencies.append(float(row["response-time"]) * 1000)
            codes[int(row["status-code"])] = codes.get(int(row["status-code"]), 0) + 1
    return latencies, codes


def _summary(latencies: list[float], codes: dict[int, int], seconds: float) -> HeyResult:
    ordered = sorted(latencies)
    percentiles = {
        p: ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")
        for p in PERCENTILES
    }
    return HeyResult(len(ordered) / seconds, percentiles, codes)


def parse(out: str) -> HeyResult:
    """Reads hey's text summary (it has no machine-readable summary)."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"hey printed no summary:\n{out[-2000:]}")
    latency = {int(p): float(s) * 1000 for p, s in re.findall(r"(\d+)%+ in ([\d.]+) secs", out)}
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    errors_block = out.split("Error distribution:", 1)[1] if "Error distribution:" in out else ""
    errors = [line.strip() for line in errors_block.splitlines() if line.strip()]
    return HeyResult(float(rps.group(1)), latency, codes, errors)
