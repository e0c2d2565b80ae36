"""Fail fast, recover by itself: Dapr's resiliency policies (components/resiliency.yaml) at work.

A hanging app costs its callers the 3 s timeout only until Dapr knows better: the circuit breaker
(10 consecutive failures) or the target sidecar's app health check (2 failed probes, 2 s apart),
whichever comes first, turns further calls into immediate 503s."""

import os
import signal
import statistics

from harness.shop import api, create_product, register
from harness.system import System, app_pids
from harness.waiting import wait_until
from tests.support import elapsed

# Past the gateway's product cache: every call below needs the products service.
FRESH = {"Cache-Control": "no-cache"}


def test_a_hanging_service_trips_its_circuit_then_fails_fast_and_recovers_by_itself(system: System) -> None:
    seller = register()
    path = f"/products/{create_product(seller)['id']}"
    assert api("GET", path).status_code == 200
    pids = app_pids("products")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        timed_out = [elapsed(lambda: api("GET", path, headers=FRESH)) for _ in range(3)]
        failing_fast = [elapsed(lambda: api("GET", path, headers=FRESH)) for _ in range(10)]
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    for response, _ in timed_out + failing_fast:
        assert (response.status_code, response.json()["code"]) == (503, "service_unavailable")
    assert timed_out[0][1] >= 2.5, "the first call waits for the 3 s timeout"
    fast = statistics.median(seconds for _, seconds in failing_fast)
    print(f"timeouts: {[round(s, 2) for _, s in timed_out]} s; open circuit: median {fast * 1000:.1f} ms")
    assert fast < 0.25, "with the circuit open, calls fail at once instead of waiting for the timeout"

    recovered, seconds = elapsed(
        lambda: wait_until(
            lambda: api("GET", path, headers=FRESH).status_code == 200,
            timeout=30,
            what="the circuit to close",
        )
    )
    print(f"back to 200 {seconds:.1f} s after the service resumed")
    assert recovered
    # Every replica back too (each sidecar marks its app healthy on its next probe), before the
    # next test: ten uncached reads in a row, spread over the replicas, all answered.
    wait_until(
        lambda: all(api("GET", path, headers=FRESH).status_code == 200 for _ in range(10)),
        timeout=30,
        what="every products replica answering again",
    )
