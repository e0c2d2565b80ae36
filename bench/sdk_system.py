"""The small system `python -m bench.sdk` measures its clients against, started and stopped
again by process group (even on failure): redis-server on 6390 (state store and pub/sub, Redis
streams), the bench's hello app (bench/hello.py) on 7190, and the daprd `make setup` built (HTTP
3590, gRPC 6590, internal gRPC 6591, metrics 9190) with an API token, as the shop's sidecars run.
None of these ports is the shop's (nor the other bench sidecars'), so it runs beside `make run`
and needs no machine lock."""

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.cpus import SYSTEM_CPUS, pinned, split_available
from harness.system import ROOT, versions
from harness.waiting import wait_until

APP_ID = "bench-sdk"
PORTS = {"http": 3590, "grpc": 6590, "internal": 6591, "metrics": 9190, "app": 7190, "redis": 6390}
WORK = ROOT / ".run/bench-sdk"
STORE, SECRETS, PUBSUB, SECRET = "statestore", "secretstore", "pubsub", "bench-secret"


def say(message: str) -> None:
    print(f"[bench-sdk {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _components(redis: str) -> list[dict[str, Any]]:
    def component(name: str, kind: str, metadata: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name},
            "spec": {
                "type": kind,
                "version": "v1",
                "metadata": [{"name": k, "value": v} for k, v in metadata.items()],
            },
        }

    return [
        component(STORE, "state.redis", {"redisHost": redis, "redisPassword": ""}),
        component(PUBSUB, "pubsub.redis", {"redisHost": redis, "redisPassword": "", "maxLenApprox": "10000"}),
        component(SECRETS, "secretstores.local.file", {"secretsFile": str(WORK / "secrets.json")}),
    ]


def _write_resources() -> Path:
    """daprd's components and its Configuration: the shop's, with a name-resolution file of its own
    and nothing sampled for tracing (no Zipkin here)."""
    resources = WORK / "resources"
    resources.mkdir(parents=True, exist_ok=True)
    for stale in resources.glob("*.yaml"):
        stale.unlink()
    for component in _components(f"127.0.0.1:{PORTS['redis']}"):
        (resources / f"{component['metadata']['name']}.yaml").write_text(yaml.safe_dump(component))
    (WORK / "secrets.json").write_text(json.dumps({SECRET: secrets.token_hex(16)}))
    config = yaml.safe_load((ROOT / "components/config.yaml").read_text())
    config["spec"]["nameResolution"]["configuration"]["connectionString"] = str(WORK / "nameresolution.db")
    config["spec"]["tracing"]["samplingRate"] = "0"
    path = WORK / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running(token: str) -> Iterator[int]:
    """redis-server, the hello app and daprd, each in its own process group, stopped on exit.
    Yields daprd's pid (its CPU is measured)."""
    daprd = Path(versions()["DAPR_RUNTIME_PATH"]) / ".dapr/bin/daprd"
    if not daprd.exists():
        raise SystemExit(f"[bench-sdk] missing daprd ({daprd}): run `make setup` first.")
    taken = [f"{name} {port}" for name, port in PORTS.items() if _in_use(port)]
    if taken:
        raise SystemExit(f"[bench-sdk] ports in use: {', '.join(taken)}; is another bench-sdk running?")
    config = _write_resources()
    (ROOT / ".run/logs").mkdir(parents=True, exist_ok=True)
    commands = {
        "redis": ["redis-server", "--port", str(PORTS["redis"]), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", str(WORK)],
        "hello": [str(ROOT / ".venv/bin/python"), "-m", "bench.hello"],
        "daprd": [
            str(daprd), f"--app-id={APP_ID}", f"--app-port={PORTS['app']}", "--app-protocol=http",
            f"--dapr-http-port={PORTS['http']}", f"--dapr-grpc-port={PORTS['grpc']}",
            f"--dapr-internal-grpc-port={PORTS['internal']}", f"--metrics-port={PORTS['metrics']}",
            "--dapr-listen-addresses=127.0.0.1", "--dapr-internal-grpc-listen-address=127.0.0.1",
            "--metrics-listen-address=127.0.0.1", f"--config={config}",
            f"--resources-path={WORK / 'resources'}",
            "--placement-host-address=", "--scheduler-host-address=", "--log-level=warn",
        ],
    }  # fmt: skip
    env = {
        **os.environ,
        "APP_PORT": str(PORTS["app"]),
        "SHOP_LOG_LEVEL": "WARNING",
        "DAPR_API_TOKEN": token,
        "GOGC": versions()["DAPR_SIDECAR_GOGC"],
    }
    started: list[subprocess.Popen[bytes]] = []
    try:
        with pinned(SYSTEM_CPUS) if split_available() else nullcontext():
            for name, command in commands.items():
                say(f"starting {name} (log .run/logs/bench-sdk-{name}.log)")
                with (ROOT / f".run/logs/bench-sdk-{name}.log").open("ab") as log:
                    started.append(
                        subprocess.Popen(
                            command,
                            cwd=ROOT,
                            env=env,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
        url = f"http://127.0.0.1:{PORTS['http']}/v1.0"
        for what, check in [
            ("daprd's components (healthz/outbound)", f"{url}/healthz/outbound"),
            ("daprd to see the hello app (an invocation)", f"{url}/invoke/{APP_ID}/method/hello"),
        ]:
            say(f"waiting for {what}")
            wait_until(
                partial(_answers, check, token), timeout=60, what=f"{what} (logs: .run/logs/bench-sdk-*.log)"
            )
        yield started[-1].pid
    finally:
        for process in reversed(started):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        say("stopped what it started")


def _answers(url: str, token: str) -> bool:
    return httpx.get(url, headers={"dapr-api-token": token}, timeout=2).status_code < 300


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of a process, at nanosecond resolution (/proc/<pid>/stat counts
    10 ms ticks, coarse beside the few hundred ms a measurement costs daprd)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(FileNotFoundError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9
