"""The bench's report names the highest rate at which the read model kept within its target;
its saturating measurements are taken in turns and pooled."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import hey
from bench.hey import HeyResult
from bench.report import _sidecar_rows, _steady_rows, _within_row


def run(rate: float, p99_ms: float | None, *, lost: int = 0, refused: int = 0) -> dict[str, Any]:
    placed = int(rate * 15) - refused
    return {
        "offered_per_s": rate,
        "orders": placed,
        "failures": {"503": refused} if refused else {},
        "propagated": placed - lost,
        "propagation_p99_ms": p99_ms,
    }


def test_the_highest_rate_within_the_target_and_the_first_beyond_it() -> None:
    row = _within_row([run(10, 120.0), run(14, 250.0), run(17, 480.0)], target=50, p99_ms=300)

    assert row[2] == "14/s (p99 250.0 ms); at 17/s p99 480.0 ms"
    assert row[3] == "50/s: **missed**"


def test_a_rate_whose_orders_did_not_all_reach_the_read_model_is_not_within() -> None:
    row = _within_row([run(10, 120.0, lost=1)], target=10, p99_ms=300)

    assert row[2].startswith("none; at 10/s")
    assert row[3] == "10/s: **missed**"


def test_a_rate_partly_refused_is_not_within_however_fast_the_rest() -> None:
    assert _within_row([run(50, 200.0, refused=400)], target=50, p99_ms=300)[2].startswith("none")


def test_the_target_rate_reached_is_met() -> None:
    assert _within_row([run(50, 200.0)], target=50, p99_ms=300)[3] == "50/s: met"


def test_the_target_rate_is_missed_when_orders_were_refused_however_fast_the_rest() -> None:
    steady = {
        **run(50, 272.8, refused=493),
        "orders_per_s": 16.6,
        "p50_ms": 683.9,
        "p99_ms": 2327.2,
        "propagation_p50_ms": 65.7,
        "read_model_drained_s": 0.5,
    }

    propagation_row = _steady_rows(steady, target=50)[1]

    assert propagation_row[3] == "all placed, p99 < 300 ms: **missed**"


def test_the_sidecar_overhead_is_reported_at_both_rates_each_against_the_target() -> None:
    def hey(p50: float, p90: float, p99: float) -> HeyResult:
        return HeyResult(requests_per_s=100, latency_ms={50: p50, 90: p90, 99: p99}, status_codes={200: 1})

    results = {
        "direct_low": hey(0.5, 0.8, 1.5),
        "via_sidecars_low": hey(1.6, 2.5, 4.0),
        "direct": hey(0.9, 2.1, 5.6),
        "via_sidecars": hey(2.6, 6.2, 14.8),
    }

    low, loaded = _sidecar_rows(results, 100, "_low"), _sidecar_rows(results, 500, "")

    assert low[0][1].startswith("hello app called directly, 100 req/s")
    assert low[2][2:] == ("p50 1.10 / p90 1.70 / p99 2.50 ms", "p90 <= 2 ms: met")
    assert loaded[2][2:] == ("p50 1.70 / p90 4.10 / p99 9.20 ms", "p90 <= 2 ms: **missed**")


def test_saturating_in_turns_alternates_the_targets_and_pools_each_ones_turns(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The VM slows down halfway: both targets' second turns are half as fast as their first.
    speeds = {"bare": [1000.0, 1000.0, 500.0, 500.0], "gateway": [400.0, 400.0, 200.0, 200.0]}
    calls: list[tuple[str, float]] = []

    def run(url: str, *, seconds: float, concurrency: int, headers: Any = None) -> HeyResult:
        calls.append((url, seconds))
        rps = speeds[url].pop(0)
        return HeyResult(rps, {p: 1000 / rps for p in hey.PERCENTILES}, {200: int(rps * seconds)})

    observed: list[str] = []

    @contextmanager
    def observe(name: str) -> Iterator[None]:
        observed.append(name)
        yield

    monkeypatch.setattr(hey, "run", run)
    targets: hey.Targets = {"hello": ("bare", None), "product": ("gateway", None)}

    pooled = hey.saturated_in_turns(targets, rounds=2, seconds=5, concurrency=32, observe=observe)

    assert [url for url, _ in calls] == ["bare", "bare", "gateway", "gateway"] * 2  # a warm-up second first
    assert [seconds for _, seconds in calls] == [1, 5, 1, 5] * 2
    assert observed == ["hello", "product", "hello", "product"]  # the counted turns only
    # Counted turns: bare 1000 then 500, gateway 400 then 200 (the warm-ups took the others).
    assert pooled["hello"].requests_per_s == 750 and pooled["product"].requests_per_s == 300
    assert pooled["product"].requests_per_s / pooled["hello"].requests_per_s == 0.4
    assert pooled["hello"].status_codes == {200: 7500}
    # Each percentile weighted by the turns' requests: (5000 x 1 ms + 2500 x 2 ms) / 7500.
    assert round(pooled["hello"].latency_ms[50], 3) == round((5000 * 1 + 2500 * 2) / 7500, 3)
