"""The faults: each one kills (or stops) one piece of the running system and returns how to
start it again, the way an operator (or a supervisor) would."""

import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.system import ROOT, System, app_environ, stop_app
from harness.waiting import wait_until
from scripts.restart import alive, replicas

Restart = Callable[[], None]


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[System], Restart]  # breaks the piece; returns what starts it again
    # Whether an order may be refused meanwhile (a 503, or no answer in time): a piece killed
    # may cost some; a rolling restart must not cost one.
    refusals_allowed: bool = True


def kill_9(pid: int, what: str) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), timeout=10, what=f"{what} (pid {pid}) to die")


def infra(action: str, name: str) -> None:
    subprocess.run(["scripts/infra.sh", action, name], cwd=ROOT, check=True, capture_output=True)


def kill_rabbitmq(system: System) -> Restart:
    """kill -9 of RabbitMQ's Erlang VM (its pid file: scripts/infra.sh sets RABBITMQ_PID_FILE)."""
    pid = int((ROOT / ".run/rabbitmq.erlpid").read_text())
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "beam.smp", f"pid {pid} is not RabbitMQ"
    kill_9(pid, "RabbitMQ")
    return lambda: infra("start", "rabbitmq")


def kill_order_view(system: System) -> Restart:
    """kill -9 of the order-view app (every replica of it); its sidecar keeps running."""
    environ = app_environ("order-view")
    killed = stop_app("order-view")
    wait_until(lambda: not any(alive(pid) for pid in killed), timeout=10, what="order-view to die")
    return lambda: system.restart_app("order-view", environ)


def kill_order_view_sidecar(system: System) -> Restart:
    """kill -9 of order-view's daprd; `dapr run -f` does not restart it, so it is started again
    from its own command line, environment and directory, read from /proc before the kill."""
    running = replicas("order-view")
    assert running, "no daprd running for order-view"
    sidecar = running[0].sidecar
    kill_9(sidecar.pid, "order-view's daprd")
    return lambda: system.restart("order-view-daprd", sidecar.argv, sidecar.environ, sidecar.cwd)


def restart_mariadb(system: System) -> Restart:
    """MariaDB stopped (gracefully, SIGTERM) and started again."""
    infra("stop", "mariadb")
    return lambda: infra("start", "mariadb")


def kill_replica(app_id: str) -> Callable[[System], Restart]:
    """kill -9 of one replica of an app, its daprd with it (a pod lost); the other replicas go
    on. Both are started again as they were, read from /proc before the kill."""

    def inject(system: System) -> Restart:
        running = replicas(app_id)
        assert len(running) > 1, f"{app_id} runs {len(running)} replica(s): run with REPLICAS=2"
        replica = running[-1]  # the highest app port
        app, sidecar = replica.app.pid, replica.sidecar.pid
        started = [
            (f"{app_id}-daprd", replica.sidecar),
            (app_id, replica.app),
        ]
        for pid in (app, sidecar):
            os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: not alive(app) and not alive(sidecar), timeout=10, what=f"a {app_id} replica to die"
        )

        def restart() -> None:
            for name, process in started:
                system.restart(f"{name}-replica", process.argv, process.environ, process.cwd)

        return restart

    return inject


def rolling_restart(app_id: str) -> Callable[[System], Restart]:
    """`make restart APP=<app>`: every replica of the app replaced one by one, each drained
    first (scripts/restart.py), under the stream. Nothing to start again afterwards."""

    def inject(system: System) -> Restart:
        done = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "scripts/restart.py", app_id],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
        print(done.stdout, end="")
        assert done.returncode == 0, f"the rolling restart of {app_id} failed:\n{done.stdout}{done.stderr}"
        return lambda: None

    return inject


FAULTS = [
    Fault("RabbitMQ kill -9", kill_rabbitmq),
    Fault("order-view app kill -9", kill_order_view),
    Fault("order-view daprd kill -9", kill_order_view_sidecar),
    Fault("MariaDB restart", restart_mariadb),
]
# With several replicas (REPLICAS=2), one replica of each of these is lost under the stream too.
if int(os.environ.get("REPLICAS", "1")) > 1:
    FAULTS += [
        Fault(f"one {app} replica kill -9", kill_replica(app))
        for app in ("orders", "order-view", "notifications")
    ]
    FAULTS += [
        Fault(f"rolling restart {app}", rolling_restart(app), refusals_allowed=False)
        for app in ("gateway", "notifications", "auth", "customers", "products", "orders", "order-view")
    ]
