"""The bench's own small system for the sidecar-overhead and ceiling figures: the bare hello app
(bench/hello.py) and two daprd built by `make setup`, one in front of the app (B) and one
without an app (A) that callers invoke it through: client -> daprd A -> daprd B -> app.

Ports stay below 32768 and clear of the shop's (80xx, 35xx, 65xx, 91xx, 50005/6)."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path

import httpx
import yaml

from bench.cpus import SYSTEM_CPUS, pinned
from harness.system import ROOT, versions
from harness.waiting import wait_until

HELLO_PORT = 7100
CALLER = {"app_id": "bench-caller", "http": 7200, "grpc": 7201, "internal": 7202, "metrics": 7203}
CALLEE = {"app_id": "bench-hello", "http": 7210, "grpc": 7211, "internal": 7212, "metrics": 7213}
PORTS = [HELLO_PORT, *CALLER.values(), *CALLEE.values()]
DIRECT_URL = f"http://127.0.0.1:{HELLO_PORT}/hello"
VIA_SIDECARS_URL = f"http://127.0.0.1:{CALLER['http']}/v1.0/invoke/{CALLEE['app_id']}/method/hello"
WORK = ROOT / ".run/bench"


def _config() -> Path:
    """The shop's own Dapr Configuration (tracing, metrics, sqlite name resolution), with a name
    resolution file of its own so the bench's app-ids never mix with a running shop's."""
    config = yaml.safe_load((ROOT / "components/config.yaml").read_text())
    nameresolution = WORK / "dapr-nameresolution.db"
    nameresolution.unlink(missing_ok=True)
    config["spec"]["nameResolution"]["configuration"]["connectionString"] = str(nameresolution)
    if os.environ.get("BENCH_SIDECAR_TRACING", "on") == "off":  # to see what tracing costs
        config["spec"]["tracing"]["samplingRate"] = "0"
    path = WORK / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _daprd(ports: dict[str, object], config: Path, app_port: int | None) -> list[str]:
    daprd = Path(versions()["DAPR_RUNTIME_PATH"]) / ".dapr/bin/daprd"
    command = [
        str(daprd),
        f"--app-id={ports['app_id']}",
        f"--dapr-http-port={ports['http']}",
        f"--dapr-grpc-port={ports['grpc']}",
        f"--dapr-internal-grpc-port={ports['internal']}",
        f"--metrics-port={ports['metrics']}",
        "--dapr-listen-addresses=127.0.0.1",
        "--dapr-internal-grpc-listen-address=127.0.0.1",
        "--metrics-listen-address=127.0.0.1",
        f"--config={config}",
        f"--resources-path={WORK / 'resources'}",
        # No actors, no jobs: the overhead measured is service invocation alone.
        "--placement-host-address=",
        "--scheduler-host-address=",
        "--log-level=warn",
    ]
    if app_port is not None:
        command += [f"--app-port={app_port}", "--app-protocol=http"]
    return command


def _ready(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code < 300


@contextmanager
def running(*, with_sidecars: bool = True) -> Iterator[None]:
    """Starts the hello app and both sidecars (or the app alone) on the system's CPUs; stops
    them on exit."""
    (WORK / "resources").mkdir(parents=True, exist_ok=True)
    (ROOT / ".run/logs").mkdir(parents=True, exist_ok=True)
    config = _config()
    # The sidecars' GOGC as the shop runs them (scripts/run.sh).
    gogc = versions()["DAPR_SIDECAR_GOGC"]
    env = {**os.environ, "APP_PORT": str(HELLO_PORT), "SHOP_LOG_LEVEL": "WARNING", "GOGC": gogc}
    commands = {"hello": [str(ROOT / ".venv/bin/python"), "-m", "bench.hello"]}
    waits = [("the hello app", DIRECT_URL)]
    if with_sidecars:
        commands["daprd-hello"] = _daprd(CALLEE, config, HELLO_PORT)
        commands["daprd-caller"] = _daprd(CALLER, config, None)
        waits += [
            ("daprd B (in front of the hello app)", f"http://127.0.0.1:{CALLEE['http']}/v1.0/healthz"),
            ("daprd A (the caller's)", f"http://127.0.0.1:{CALLER['http']}/v1.0/healthz"),
            ("an invocation through both sidecars", VIA_SIDECARS_URL),
        ]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with pinned(SYSTEM_CPUS):
            for name, command in commands.items():
                log = (ROOT / f".run/logs/bench-{name}.log").open("ab")
                processes.append(
                    subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                )
        for what, url in waits:
            print(f"[bench] waiting for {what}", flush=True)
            wait_until(partial(_ready, url), timeout=30, what=f"{what} (logs: .run/logs/bench-*.log)")
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
