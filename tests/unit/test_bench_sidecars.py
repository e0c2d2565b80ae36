"""The bench's sidecar-overhead system runs one pair of daprd plain and one with mTLS from a
Sentry of its own, on ports of its own; the report sets what each pair adds side by side."""

import json
import time
from pathlib import Path

import yaml

from bench import sidecars
from bench.hey import HeyResult
from bench.processes import Snapshot
from bench.report import sidecar_rows, sidecar_table, table, write_results
from harness.system import ROOT

BASE = yaml.safe_load((ROOT / "components/config.yaml").read_text())
DAPRD = Path("/opt/dapr/daprd")


def command(pair: sidecars.Pair, sidecar: sidecars.Sidecar, app_port: int | None) -> list[str]:
    return sidecars.daprd_command(
        DAPRD, sidecar, config=Path("c.yaml"), resources=Path("r"), app_port=app_port, mtls=pair.mtls
    )


def test_only_the_mtls_pair_asks_the_benchs_sentry_for_certificates() -> None:
    mtls = command(sidecars.MTLS, sidecars.MTLS.caller, None)
    plain = command(sidecars.PLAIN, sidecars.PLAIN.caller, None)

    assert "--enable-mtls" in mtls
    assert f"--sentry-address=127.0.0.1:{sidecars.SENTRY['port']}" in mtls
    assert not [flag for flag in plain if "mtls" in flag or "sentry" in flag]


def test_daprd_b_fronts_the_hello_app_and_daprd_a_has_none() -> None:
    callee = command(sidecars.MTLS, sidecars.MTLS.callee, sidecars.HELLO_PORT)
    caller = command(sidecars.MTLS, sidecars.MTLS.caller, None)

    assert f"--app-port={sidecars.HELLO_PORT}" in callee
    assert not [flag for flag in caller if flag.startswith("--app-port")]
    assert sidecars.MTLS.url.endswith(
        f":{sidecars.MTLS.caller.http}/v1.0/invoke/bench-hello-mtls/method/hello"
    )


def test_each_pairs_configuration_is_the_shops_with_mtls_on_or_off_and_a_name_resolution_of_its_own() -> None:
    mtls = sidecars.configuration(BASE, nameresolution=Path("/x/mtls.db"), mtls=True, traced=True)
    plain = sidecars.configuration(BASE, nameresolution=Path("/x/plain.db"), mtls=False, traced=False)

    assert mtls["spec"]["mtls"] == {"enabled": True} and plain["spec"]["mtls"] == {"enabled": False}
    assert mtls["spec"]["nameResolution"]["configuration"]["connectionString"] == "/x/mtls.db"
    assert mtls["spec"]["tracing"] == BASE["spec"]["tracing"]
    assert plain["spec"]["tracing"]["samplingRate"] == "0"
    assert "mtls" not in BASE["spec"]  # the shop's own, read from components/, left as it was
    assert (
        BASE["spec"]["nameResolution"]["configuration"]["connectionString"] == ".run/dapr-nameresolution.db"
    )


def test_sentry_signs_with_the_trust_root_setup_made_for_daprs_default_day() -> None:
    command = sidecars.sentry_command(Path("sentry"), config=Path("s.yaml"), trust_root=Path(".run/sentry"))

    assert "--issuer-credentials=.run/sentry" in command
    assert f"--port={sidecars.SENTRY['port']}" in command
    assert sidecars.sentry_configuration()["spec"]["mtls"]["workloadCertTTL"] == "24h"


def test_the_benchs_ports_are_its_own() -> None:
    sidecar_ports = [
        port
        for pair in (sidecars.PLAIN, sidecars.MTLS)
        for sidecar in (pair.caller, pair.callee)
        for port in (sidecar.http, sidecar.grpc, sidecar.internal, sidecar.metrics)
    ]
    ports = [sidecars.HELLO_PORT, *sidecar_ports, *sidecars.SENTRY.values()]
    # The shop's Sentry, its healthz and metrics; bench/limiter_cost.py's daprd and Redis.
    others = {50001, 28083, 29093, 7220, 7221, 7222, 7223, 7300}

    assert len(set(ports)) == len(ports)
    assert not set(ports) & others
    assert max(ports) < 32768  # below the kernel's ephemeral range: no outgoing connection takes one


def result(p50: float, p90: float, p99: float) -> HeyResult:
    return HeyResult(requests_per_s=500, latency_ms={50: p50, 90: p90, 99: p99}, status_codes={200: 1})


# Figure 2 at 500 req/s as `make bench` measures it: direct, through each pair, then traced.
FIGURE_2 = {
    "direct": result(0.3, 0.5, 1.3),
    "via_sidecars": result(1.1, 2.2, 7.4),
    "via_sidecars_mtls": result(1.3, 2.9, 8.0),
    "via_sidecars_traced": result(1.3, 2.5, 15.5),
}


def test_the_overhead_with_mtls_is_reported_beside_the_plain_one_and_daprs_published_figure() -> None:
    rows = sidecar_rows(FIGURE_2, sidecar_rps=500, sidecar_low_rps=100)

    assert rows[0][1] == "hello app called directly, 500 req/s (in turns with the next two)"
    assert [row[1] for row in rows[1:3]] == [
        "same through daprd A -> daprd B",
        "same through daprd A -> daprd B with mTLS (certificates from Sentry)",
    ]
    plain, mtls = rows[3], rows[4]
    assert plain[1:] == ("added by the two sidecars", "p50 0.80 / p90 1.70 / p99 6.10 ms", "p90 <= 2 ms: met")
    assert (
        mtls[1] == "added by the two sidecars with mTLS (Dapr's published, mTLS on: p90 1.40 / p99 2.10 ms)"
    )
    assert mtls[2:] == ("p50 1.00 / p90 2.40 / p99 6.70 ms", "p90 <= 2 ms: **missed**")
    assert rows[-1][1] == "added by the two sidecars recording the trace"


def test_figure_2_alone_prints_as_its_rows_of_the_benchs_table() -> None:
    results = {name: result(1.0, 2.0, 3.0) for name in ("direct", "via_sidecars", "via_sidecars_traced")}

    lines = sidecar_table(results, sidecar_rps=500, sidecar_low_rps=100).splitlines()

    assert lines[:2] == ["| # | figure | measured | target |", "|---|---|---|---|"]
    assert lines[2].startswith(
        "| 2 | hello app called directly, 500 req/s (in turns with the next) | p50 1.00 / "
    )
    assert len(lines) == 2 + 3 + 2


def test_make_bench_prints_figure_2_with_mtls_between_figures_1_and_3() -> None:
    results = {
        **{name: result(1.0, 2.0, 3.0) for name in ("hello_saturated", "product", "product_uncached")},
        **FIGURE_2,
        "orders_sustained": {
            "concurrency": 8,
            "orders_per_s": 20.0,
            "p50_ms": 300.0,
            "p99_ms": 800.0,
            "failures": {},
        },
        "orders_steady": [],
        "memory_idle": Snapshot(),
        "memory_peak": Snapshot(),
    }

    rows = table(results, sidecar_rps=500, sidecar_low_rps=100, concurrency=32, order_rate=50).splitlines()[
        2:
    ]

    figures = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    assert figures == sorted(figures)
    assert any("added by the two sidecars with mTLS" in row for row in rows)


def test_the_results_are_written_as_json_beside_when_and_where_they_were_measured(tmp_path: Path) -> None:
    path = tmp_path / "results/sidecars.json"

    write_results(path, {"direct": result(0.3, 0.5, 1.3)}, seconds=15, started=time.perf_counter())

    document = json.loads(path.read_text())
    assert {"when", "machine", "cpu_split", "seconds_per_measurement", "run_seconds"} < set(document)
    assert document["results"]["direct"]["latency_ms"] == {"50": 0.3, "90": 0.5, "99": 1.3}
