"""Figure 2 of `make bench`, the sidecar overhead, on the bench's own small system (alone:
`make bench-sidecars`, about 2 minutes; it starts no shop, but one running beside it would
share its CPU and skew what it measures): the bare hello app (bench/hello.py) and two pairs of
daprd built by `make setup` in front of it, one plain and one with mTLS between its two
sidecars. In each pair one daprd fronts the app (B) and one has no app (A), through which
callers invoke it: client -> daprd A -> daprd B -> app. The mTLS pair gets its workload
certificates from a Sentry of its own, signed by the issuer of the trust root `make setup` made
in .run/sentry, as the shop's sidecars do (scripts/infra.sh, scripts/run.sh).

Ports stay below 32768 and clear of the shop's (80xx, 35xx, 65xx, 91xx, 50001, 50005/6, 28083,
29093) and of the other benches' (bench/limiter_cost.py: 7220-7223, 7300)."""

import copy
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import hey
from bench.cpus import LOADGEN_CPUS, SYSTEM_CPUS, named, pinned, split, split_available
from bench.report import sidecar_table, write_results
from harness.system import ROOT, versions
from harness.waiting import wait_until

SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
WARMUP_S = 3
# The rate the overhead is judged at, and one that keeps the sidecars' CPU mostly idle: what the
# two hops add by themselves, where 500 req/s (a third of one core for the two daprd) adds their
# queueing.
RPS = int(os.environ.get("BENCH_SIDECAR_RPS", "500"))
LOW_RPS = int(os.environ.get("BENCH_SIDECAR_LOW_RPS", "100"))
# A W3C trace context with the sampled flag, as the gateway sends with every request it forwards.
SAMPLED = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}

HELLO_PORT = 7100
DIRECT_URL = f"http://127.0.0.1:{HELLO_PORT}/hello"
# Sentry for the mTLS pair: its gRPC port (where daprd asks for certificates), healthz, metrics.
SENTRY = {"port": 7260, "healthz": 7261, "metrics": 7262}
TRUST_ROOT = ROOT / ".run/sentry"
# Dapr's defaults (a workload certificate lives 24 h), so no sidecar renews one during a run:
# what is measured is the steady cost of the encrypted hop. The shop's 2 minutes are for its
# rotation tests (scripts/dapr_configs.py).
SENTRY_MTLS = {"enabled": True, "workloadCertTTL": "24h", "allowedClockSkew": "15m"}
WORK = ROOT / ".run/bench"


@dataclass(frozen=True)
class Sidecar:
    """One daprd: its app-id and ports."""

    app_id: str
    http: int
    grpc: int
    internal: int
    metrics: int


@dataclass(frozen=True)
class Pair:
    """daprd A (the caller's, no app) and daprd B (the hello app's)."""

    name: str
    caller: Sidecar
    callee: Sidecar
    mtls: bool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.caller.http}/v1.0/invoke/{self.callee.app_id}/method/hello"


PLAIN = Pair(
    "plain",
    caller=Sidecar("bench-caller", http=7200, grpc=7201, internal=7202, metrics=7203),
    callee=Sidecar("bench-hello", http=7210, grpc=7211, internal=7212, metrics=7213),
    mtls=False,
)
MTLS = Pair(
    "mtls",
    caller=Sidecar("bench-caller-mtls", http=7240, grpc=7241, internal=7242, metrics=7243),
    callee=Sidecar("bench-hello-mtls", http=7250, grpc=7251, internal=7252, metrics=7253),
    mtls=True,
)


def say(message: str) -> None:
    print(f"[bench-sidecars {time.strftime('%H:%M:%S')}] {message}", flush=True)


def configuration(base: dict[str, Any], *, nameresolution: Path, mtls: bool, traced: bool) -> dict[str, Any]:
    """The shop's Configuration (components/config.yaml: tracing, metrics, sqlite name
    resolution) for one pair: a name-resolution file of its own, so that the bench's app-ids
    never mix with a running shop's, and mTLS on or off."""
    config = copy.deepcopy(base)
    config["metadata"]["name"] = f"bench-{'mtls' if mtls else 'plain'}"
    config["spec"]["nameResolution"]["configuration"]["connectionString"] = str(nameresolution)
    config["spec"]["mtls"] = {"enabled": mtls}
    if not traced:  # BENCH_SIDECAR_TRACING=off: to see what tracing costs
        config["spec"]["tracing"]["samplingRate"] = "0"
    return config


def sentry_configuration() -> dict[str, Any]:
    """Sentry's Configuration: it reads the `mtls` section only (the certificates' lifetime)."""
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Configuration",
        "metadata": {"name": "bench-sentry"},
        "spec": {"mtls": dict(SENTRY_MTLS)},
    }


def sentry_command(sentry: Path, *, config: Path, trust_root: Path) -> list[str]:
    """Sentry signing with the issuer in `trust_root`, on the bench's ports, loopback only (the
    flags scripts/infra.sh starts the shop's with)."""
    return [
        str(sentry),
        "--mode=standalone",
        f"--config={config}",
        f"--issuer-credentials={trust_root}",
        "--trust-domain=localhost",
        f"--port={SENTRY['port']}",
        "--listen-address=127.0.0.1",
        f"--healthz-port={SENTRY['healthz']}",
        "--healthz-listen-address=127.0.0.1",
        f"--metrics-port={SENTRY['metrics']}",
        "--metrics-listen-address=127.0.0.1",
        "--log-level=warn",
    ]


def daprd_command(
    daprd: Path, sidecar: Sidecar, *, config: Path, resources: Path, app_port: int | None, mtls: bool
) -> list[str]:
    command = [
        str(daprd),
        f"--app-id={sidecar.app_id}",
        f"--dapr-http-port={sidecar.http}",
        f"--dapr-grpc-port={sidecar.grpc}",
        f"--dapr-internal-grpc-port={sidecar.internal}",
        f"--metrics-port={sidecar.metrics}",
        "--dapr-listen-addresses=127.0.0.1",
        "--dapr-internal-grpc-listen-address=127.0.0.1",
        "--metrics-listen-address=127.0.0.1",
        f"--config={config}",
        f"--resources-path={resources}",
        # No actors, no jobs: the overhead measured is service invocation alone.
        "--placement-host-address=",
        "--scheduler-host-address=",
        "--log-level=warn",
    ]
    if mtls:
        command += ["--enable-mtls", f"--sentry-address=127.0.0.1:{SENTRY['port']}"]
    if app_port is not None:
        command += [f"--app-port={app_port}", "--app-protocol=http"]
    return command


def _ready(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code < 300


def _write_configs() -> dict[str, Path]:
    """Each pair's Configuration and Sentry's, written under WORK; name -> path."""
    base = yaml.safe_load((ROOT / "components/config.yaml").read_text())
    traced = os.environ.get("BENCH_SIDECAR_TRACING", "on") != "off"
    paths = {}
    for pair in (PLAIN, MTLS):
        nameresolution = WORK / f"dapr-nameresolution-{pair.name}.db"
        nameresolution.unlink(missing_ok=True)
        config = configuration(base, nameresolution=nameresolution, mtls=pair.mtls, traced=traced)
        paths[pair.name] = WORK / f"config-{pair.name}.yaml"
        paths[pair.name].write_text(yaml.safe_dump(config))
    paths["sentry"] = WORK / "sentry.yaml"
    paths["sentry"].write_text(yaml.safe_dump(sentry_configuration()))
    return paths


def _wait(what: str, url: str) -> None:
    say(f"waiting for {what}")
    wait_until(partial(_ready, url), timeout=30, what=f"{what} (logs: .run/logs/bench-*.log)")


@contextmanager
def running(*, with_sidecars: bool = True) -> Iterator[None]:
    """Starts the hello app and, with_sidecars, both pairs and the mTLS pair's Sentry, on the
    system's CPUs; stops them on exit."""
    (WORK / "resources").mkdir(parents=True, exist_ok=True)
    (ROOT / ".run/logs").mkdir(parents=True, exist_ok=True)
    pinned_versions = versions()
    bin_dir = Path(pinned_versions["DAPR_RUNTIME_PATH"]) / ".dapr/bin"
    if with_sidecars and not all((bin_dir / name).exists() for name in ("daprd", "sentry")):
        raise SystemExit(f"[bench] daprd or sentry is missing in {bin_dir}: run `make setup` first")
    env = {
        **os.environ,
        "APP_PORT": str(HELLO_PORT),
        "SHOP_LOG_LEVEL": "WARNING",
        # The sidecars' GOGC as the shop runs them (scripts/run.sh).
        "GOGC": pinned_versions["DAPR_SIDECAR_GOGC"],
    }
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, command: list[str]) -> None:
        log = (ROOT / f".run/logs/bench-{name}.log").open("ab")
        with pinned(SYSTEM_CPUS):
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )

    try:
        start("hello", [str(ROOT / ".venv/bin/python"), "-m", "bench.hello"])
        _wait("the hello app", DIRECT_URL)
        if with_sidecars:
            if not (TRUST_ROOT / "issuer.key").is_file():
                raise SystemExit(f"[bench] no trust root in {TRUST_ROOT}: run `make setup` first")
            configs = _write_configs()
            start(
                "sentry", sentry_command(bin_dir / "sentry", config=configs["sentry"], trust_root=TRUST_ROOT)
            )
            _wait("Sentry (the mTLS pair's certificates)", f"http://127.0.0.1:{SENTRY['healthz']}/healthz")
            # Every daprd trusts certificates that chain up to the local root, as the shop's do
            # (only the mTLS pair asks Sentry for one).
            env["DAPR_TRUST_ANCHORS"] = (TRUST_ROOT / "ca.crt").read_text()
            for pair in (PLAIN, MTLS):
                for sidecar, app_port in ((pair.callee, HELLO_PORT), (pair.caller, None)):
                    command = daprd_command(
                        bin_dir / "daprd",
                        sidecar,
                        config=configs[pair.name],
                        resources=WORK / "resources",
                        app_port=app_port,
                        mtls=pair.mtls,
                    )
                    start(f"daprd-{sidecar.app_id.removeprefix('bench-')}", command)
            for pair in (PLAIN, MTLS):
                for sidecar in (pair.callee, pair.caller):
                    _wait(f"daprd {sidecar.app_id}", f"http://127.0.0.1:{sidecar.http}/v1.0/healthz")
                _wait(f"an invocation through the {pair.name} pair", pair.url)
        yield
    finally:
        stop(list(reversed(processes)))


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Ends processes this bench started: TERM, then KILL after 15 s."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=5)


def figures() -> dict[str, hey.HeyResult]:
    """The hello app directly and through each pair at RPS, in turns; the same directly and
    through the plain pair at LOW_RPS; then through the plain pair with every request traced."""
    say("starting the bare hello app, Sentry and two pairs of daprd (bench/sidecars.py)")
    with running():
        targets: hey.Targets = {
            "direct": (DIRECT_URL, None),
            "via_sidecars": (PLAIN.url, None),
            "via_sidecars_mtls": (MTLS.url, None),
        }
        rounds, each = 3, SECONDS / 3
        say(
            f"the hello app directly, through daprd A -> daprd B, and the same with mTLS: {RPS} "
            f"requests/s arriving evenly, in turns, {rounds} x {each:.0f} s each"
        )
        for url, headers in targets.values():
            hey.at_fixed_rate(url, seconds=WARMUP_S, rate=RPS, headers=headers)
        measured = hey.interleaved(targets, rounds=rounds, seconds=each, rate=RPS)
        # At the low rate without the mTLS pair: what encryption adds is read at the rate the
        # overhead is judged at, and the run stays short.
        low_targets = {name: targets[name] for name in ("direct", "via_sidecars")}
        say(f"the hello app directly and through the plain pair at {LOW_RPS} requests/s, in turns")
        low = hey.interleaved(low_targets, rounds=rounds, seconds=each, rate=LOW_RPS)
        measured.update({f"{name}_low": result for name, result in low.items()})
        # As every request entering through the gateway is: part of a sampled trace, so both
        # sidecars record and export a span for it (Zipkin is not up here: what it costs daprd).
        # Last, on its own: the sidecars' exporters keep retrying after it, which would load
        # whatever ran next.
        say(f"the same through the plain pair, each request in a sampled trace, {SECONDS:.0f} s")
        hey.at_fixed_rate(PLAIN.url, seconds=WARMUP_S, rate=RPS, headers=SAMPLED)
        measured["via_sidecars_traced"] = hey.at_fixed_rate(
            PLAIN.url, seconds=SECONDS, rate=RPS, headers=SAMPLED
        )
        for name, result in measured.items():
            p, ok = result.latency_ms, result.ok_ratio
            say(f"  {name}: p50 {p[50]:.2f} ms, p90 {p[90]:.2f} ms, p99 {p[99]:.2f} ms ({ok:.1%} 200)")
    return measured


def main() -> int:
    """Figure 2 alone: its rows of `make bench`'s table, and bench/results/sidecars.json."""
    if not split_available():
        raise SystemExit(
            f"[bench-sidecars] this process may not use {named(SYSTEM_CPUS | LOADGEN_CPUS)}: "
            "set BENCH_SYSTEM_CPUS and BENCH_LOADGEN_CPUS to CPUs it may use (bench/cpus.py)."
        )
    started = time.perf_counter()
    say(split())
    os.sched_setaffinity(0, LOADGEN_CPUS)  # this process and the hey it runs
    results = figures()
    print(sidecar_table(results, sidecar_rps=RPS, sidecar_low_rps=LOW_RPS))
    path = ROOT / "bench/results/sidecars.json"
    document = write_results(path, dict(results), seconds=SECONDS, started=started)
    say(f"whole run {document['run_seconds']} s; written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
