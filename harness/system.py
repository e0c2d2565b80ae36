"""Starts and stops the whole system the way `make run` does (scripts/run.sh), for the test
tiers and the bench, and reaches its apps and sidecars the way the services do. One module:
starting, restarting one app, and reaching a replica share the same view of the processes."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from harness.waiting import GiveUp, WaitTimeout, wait_until

ROOT = Path(__file__).resolve().parents[1]  # the checkout
GATEWAY = "http://127.0.0.1:8000"
# Replicas of every app (make ... REPLICAS=N; scripts/replicas.py gives each its ports).
REPLICAS = int(os.environ.get("REPLICAS", "1"))
# HAProxy holds the public ports (scripts/run.sh): with more than one replica, or with EDGE=1.
EDGE = REPLICAS > 1 or os.environ.get("EDGE") == "1"
# Dapr HTTP ports from dapr.yaml, by app-id.
SIDECARS = {
    "gateway": 3500,
    "notifications": 3501,
    "auth": 3510,
    "customers": 3520,
    "products": 3530,
    "orders": 3540,
    "order-view": 3550,
}
APP_MODULES = {app: f"services.{app.replace('-', '_')}" for app in SIDECARS}


def versions() -> dict[str, str]:
    """The pinned versions and install paths scripts/versions.sh sets (DAPR_*, FERRETDB_*, ...)."""
    out = subprocess.run(
        ["bash", "-c", "source scripts/versions.sh && env | grep -E '^(DAPR|FERRETDB|ZIPKIN|HEY)_'"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def missing_infrastructure() -> list[str]:
    """What running the system needs and this machine lacks (each says how to get it)."""
    v = versions()
    needed = {
        "daprd": Path(v["DAPR_RUNTIME_PATH"]) / ".dapr/bin/daprd",
        "Dapr placement": Path(v["DAPR_RUNTIME_PATH"]) / ".dapr/bin/placement",
        "Dapr scheduler": Path(v["DAPR_RUNTIME_PATH"]) / ".dapr/bin/scheduler",
        "Dapr CLI": Path(v["DAPR_CLI"]),
        "FerretDB": Path(v["FERRETDB_BIN"]),
        "the Zipkin server jar": Path(v["ZIPKIN_JAR"]),
        "RabbitMQ": Path("/usr/lib/rabbitmq/bin/rabbitmq-server"),
        "MariaDB": Path("/usr/sbin/mariadbd"),
    }
    missing = [f"{name} ({path})" for name, path in needed.items() if not path.exists()]
    if not shutil.which("redis-server"):
        missing.append("Redis (redis-server)")
    if not shutil.which("java"):
        missing.append("Java 17 (java), which runs Zipkin")
    return missing


def app_pids(app_id: str) -> list[int]:
    """PIDs of the app process (not its sidecar) for an app-id, found by its command line."""
    module = APP_MODULES[app_id].encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-m" in argv and module in argv:
            pids.append(int(entry.name))
    return pids


def stray_processes() -> list[str]:
    """Apps or sidecars of this checkout still running."""
    return [f"{pid}: {cmd[:120]}" for pid, cmd in _strays()]


def _strays() -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        # `dapr run -f .` starts apps and sidecars in the checkout; other checkouts' are not ours.
        if cwd != ROOT and ROOT not in cwd.parents:
            continue
        sidecar = "daprd" in cmd and "--app-id" in cmd
        app = " -m services." in cmd and ".venv/bin/python" in cmd
        if sidecar or app or "dapr run -f ." in cmd:
            found.append((int(entry.name), cmd))
    return found


def _end_strays() -> None:
    """Ends what scripts/run.sh should have stopped and did not (TERM, then KILL)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, _ in _strays():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(WaitTimeout):
            wait_until(lambda: not _strays(), timeout=10, what="stray apps and sidecars to exit")
            return


@dataclass
class System:
    """One running instance of the whole system, started by scripts/run.sh."""

    broker: str = "rabbitmq"
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: ROOT / ".run/logs/e2e-run.log")
    # Apps a test restarted by hand: not children of `dapr run`, so stop() ends them itself.
    restarted: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _log_from: int = 0

    def start(self, timeout: float = 240) -> None:
        # Always with Zipkin: the tracing tests read the sidecars' spans from it.
        env = {**os.environ, "BROKER": self.broker, "TRACING": "1", "READY_TIMEOUT": str(int(timeout))}
        env["MONITORING"] = "1"  # and Prometheus: the monitoring tests read its targets and alerts
        # Every test signs in from 127.0.0.1, the contract fuzzer alone with many wrong passwords:
        # the per-address login limit (services/auth/config.py) is tested with its own settings
        # in tests/e2e/test_abuse.py, and would otherwise refuse the rest of the suite.
        env.setdefault("SHOP_LOGIN_FAILURES_PER_ADDRESS", "100000")
        env.setdefault("SHOP_REGISTRATIONS_PER_ADDRESS", "100000")
        # The same for the gateway's request budget (services/gateway/budget.py): the suite and
        # the bench make thousands of requests a minute from 127.0.0.1. test_abuse.py restarts
        # the gateway with a small one; counted all the same, so the bench measures its cost.
        env.setdefault("SHOP_RATE_LIMIT_PER_USER", "100000000")
        env.setdefault("SHOP_RATE_LIMIT_PER_ADDRESS", "100000000")
        # And the bound on WebSockets per address (services/notifications/leases.py): every test's
        # sockets come from 127.0.0.1, whoever's they are.
        env.setdefault("SHOP_MAX_CONNECTIONS_PER_ADDRESS", "100000")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for earlier in self.log_path.parent.glob("e2e-restarted-*.log"):  # an earlier run's
            earlier.unlink()
        self._log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["scripts/run.sh"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            self._healthy,
            timeout=timeout + 10,
            what=f"all seven services up (broker {self.broker})",
            interval=1,
        )

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            # This start's own lines: a CI run keeps only what the test printed.
            with self.log_path.open("rb") as log:
                log.seek(self._log_from)
                said = log.read().decode(errors="replace").splitlines()[-25:]
            raise GiveUp(
                f"scripts/run.sh exited with {self.process.returncode}; see {self.log_path}; it said:\n"
                + "\n".join(said)
            )
        response = httpx.get(f"{GATEWAY}/api/health", timeout=3)
        if response.status_code != 200:
            return False
        # Every replica of every app up, not only one of each.
        return REPLICAS == 1 or set((response.json().get("replicas") or {"?": 0}).values()) == {REPLICAS}

    def restart_app(self, app_id: str, environs: list[dict[str, str]]) -> None:
        """Starts an app's processes (one per replica) again, each with the environment
        `dapr run` gave it (app_environ)."""
        argv = [str(ROOT / ".venv/bin/python"), "-m", APP_MODULES[app_id]]
        for k, environ in enumerate(environs):
            self.restart(f"{app_id}-{k}", argv, environ, ROOT)

    def restart_apps_and_wait(self, environs: dict[str, list[dict[str, str]]]) -> None:
        """restart_app for each app (app-id -> app_environ), then waits until every replica of
        each is ready and the health report is ok again."""
        for app_id, app_environs in environs.items():
            self.restart_app(app_id, app_environs)
        for app_id in environs:
            wait_until(partial(replicas_ready, app_id), timeout=60, what=f"every {app_id} replica ready")
        wait_until(
            lambda: httpx.get(f"{GATEWAY}/api/health", timeout=5).status_code == 200,
            timeout=30,
            what="the health report ok again",
        )
        # Each replica's sidecar takes its app back on its next health probe (2 s apart), and
        # until then refuses calls for it (the gateway's liveness probe: access control allows it
        # on every app).
        for app_id in environs:
            wait_until(
                partial(taking_calls, app_id),
                timeout=30,
                what=f"every {app_id} replica taking calls through Dapr",
            )

    def restart(self, name: str, argv: list[str], environ: dict[str, str], cwd: Path) -> None:
        """Starts a process `dapr run` had started (an app, a sidecar) again, as it was started;
        stop() ends it. Output goes to .run/logs/e2e-restarted-<name>.log."""
        log = (ROOT / f".run/logs/e2e-restarted-{name}.log").open("ab")
        self.restarted.append(
            subprocess.Popen(
                argv, cwd=cwd, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def stop(self) -> None:
        for proc in self.restarted:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.restarted.clear()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        try:
            wait_until(lambda: not stray_processes(), timeout=30, what="every app and sidecar to exit")
        except WaitTimeout:
            # Seen once in many runs: bash 5.2 failed to parse run.sh's TERM trap ("unexpected
            # EOF while looking for matching `)'") and exited without stopping `dapr run`.
            print(f"[e2e] scripts/run.sh left {len(_strays())} processes running; ending them", flush=True)
            _end_strays()


class SystemManager:
    """Keeps at most one system running; switches broker by restarting it."""

    def __init__(self) -> None:
        self.current: System | None = None

    def ensure(self, broker: str = "rabbitmq") -> System:
        if self.current is not None and self.current.broker == broker:
            return self.current
        self.shutdown()
        system = System(broker=broker)
        try:
            system.start()
        except BaseException:
            system.stop()
            raise
        self.current = system
        return system

    def shutdown(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


def app_ports(app_id: str, base: int) -> list[int]:
    """The app port of each replica of an app whose dapr.yaml port is `base`: the public apps'
    replicas all move off their public port when HAProxy holds it (scripts/replicas.py)."""
    if not EDGE:
        return [base]
    if app_id in ("gateway", "notifications"):
        return [base + 100 * (k + 1) for k in range(REPLICAS)]
    return [base + 100 * k for k in range(REPLICAS)]


# App ports from dapr.yaml, by app-id (replica 0's, HAProxy's for the public apps).
APP_PORTS = {
    "gateway": 8000,
    "notifications": 8001,
    "auth": 8010,
    "customers": 8020,
    "products": 8030,
    "orders": 8040,
    "order-view": 8050,
}


def replicas_ready(app_id: str) -> bool:
    """Whether every replica of an app answers its readiness probe (a restarted one is not
    ready at once, and the health report needs only one replica of each app)."""
    for port in app_ports(app_id, APP_PORTS[app_id]):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


def taking_calls(app_id: str) -> bool:
    """Whether ten calls in a row through Dapr to an app, spread over its replicas by name
    resolution, are all answered (its liveness probe, which every app's access control allows
    the gateway)."""
    return all(invoke(app_id, "GET", "healthz")[0] == 200 for _ in range(10))


def one_gateway() -> str:
    """The base URL of one gateway replica (not HAProxy's): what one replica caches."""
    return f"http://127.0.0.1:{app_ports('gateway', 8000)[0]}"


def log_dirs() -> list[Path]:
    """Where `dapr run` writes the apps' and sidecars' logs: replica 0's and every other's."""
    return [ROOT / ".dapr/logs", *(ROOT / f".run/replicas/{k}/.dapr/logs" for k in range(1, REPLICAS))]


def sidecar(app_id: str) -> str:
    """Base URL of an app's Dapr sidecar HTTP API."""
    return f"http://127.0.0.1:{SIDECARS[app_id]}"


def secret(name: str) -> str:
    """A value from the local secrets file (scripts/gen_secrets.py)."""
    return str(json.loads((ROOT / ".run/secrets.json").read_text())[name])


def api_tokens(app_id: str) -> dict[str, str]:
    """An app's own pair of API tokens, DAPR_API_TOKEN and APP_API_TOKEN (scripts/gen_secrets.py)."""
    lines = (ROOT / f".run/api-tokens/{app_id}.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def sidecar_headers(app_id: str) -> dict[str, str]:
    """What an app sends its own sidecar: without that app's DAPR_API_TOKEN the sidecar refuses."""
    return {"dapr-api-token": api_tokens(app_id)["DAPR_API_TOKEN"]}


def invoke(app_id: str, method: str, path: str, *, via: str = "gateway", **kwargs: Any) -> tuple[int, Any]:
    """Calls an app through Dapr service invocation as the app `via` does, through its sidecar
    (the callee's sidecar admits only what components/access-control.yaml allows `via`; an app's
    own sidecar calls it directly, without that check: how the tests read an app's own state).
    A 4xx arrives as 200 plus x-shop-status (services/shared/app.py), restored here."""
    headers = {**sidecar_headers(via), **kwargs.pop("headers", {})}
    response = httpx.request(
        method,
        f"{sidecar(via)}/v1.0/invoke/{app_id}/method/{path}",
        timeout=10,
        headers=headers,
        **kwargs,
    )
    status = int(response.headers.get("x-shop-status", response.status_code))
    return status, response.json() if response.content else None


def cloud_event(
    source: str, event_type: str, data: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    """A structured CloudEvent as the shop's relays publish one: our id (consumers deduplicate
    by it) and type, JSON data."""
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "datacontenttype": "application/json",
        "data": data,
    }


def publish(app_id: str, topic: str, event: dict[str, Any]) -> httpx.Response:
    """Publishes a CloudEvent through an app's sidecar, as that app would (topic scoping in the
    pub/sub component decides which app may publish to which topic)."""
    return httpx.post(
        f"{sidecar(app_id)}/v1.0/publish/pubsub/{topic}",
        content=json.dumps(event),
        headers={"content-type": "application/cloudevents+json", **sidecar_headers(app_id)},
        timeout=10,
    )


def stop_app(app_id: str) -> list[int]:
    """SIGKILLs an app's process (its sidecar keeps running); returns the killed PIDs."""
    pids = app_pids(app_id)
    assert pids, f"no running process for {app_id}"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def app_environ(app_id: str) -> list[dict[str, str]]:
    """The environment of each running process of an app, one per replica (what `dapr run`
    passed it), for restart_app."""
    return [process_environ(pid) for pid in app_pids(app_id)]


def process_environ(pid: int) -> dict[str, str]:
    """The environment a running process was started with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)
