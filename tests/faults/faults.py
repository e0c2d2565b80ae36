"""The faults: each one kills (or stops) one piece of the running system and returns how to
start it again, the way an operator (or a supervisor) would."""

import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.system import ROOT, System, app_environ, app_pids, process_environ, stop_app
from harness.waiting import wait_until

Restart = Callable[[], None]


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[System], Restart]  # breaks the piece; returns what starts it again


def alive(pid: int) -> bool:
    """Whether a process still runs (a zombie waiting for its parent does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


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


def sidecar_pid(app_id: str) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if argv[0].endswith("/daprd") and "--app-id" in argv and argv[argv.index("--app-id") + 1] == app_id:
            return int(entry.name)
    raise AssertionError(f"no daprd running for {app_id}")


def kill_order_view_sidecar(system: System) -> Restart:
    """kill -9 of order-view's daprd; `dapr run -f` does not restart it, so it is started again
    from its own command line, environment and directory, read from /proc before the kill."""
    pid = sidecar_pid("order-view")
    argv = (Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0")).split("\0")
    environ = process_environ(pid)
    cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    kill_9(pid, "order-view's daprd")
    return lambda: system.restart("order-view-daprd", argv, environ, cwd)


def restart_mariadb(system: System) -> Restart:
    """MariaDB stopped (gracefully, SIGTERM) and started again."""
    infra("stop", "mariadb")
    return lambda: infra("start", "mariadb")


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def last_replica(app_id: str) -> tuple[int, int]:
    """The app process and the daprd of an app's last replica (the highest app port)."""
    sidecars = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = _cmdline(int(entry.name))
        except OSError:
            continue
        if argv[0].endswith("/daprd") and "--app-id" in argv and argv[argv.index("--app-id") + 1] == app_id:
            sidecars[int(argv[argv.index("--app-port") + 1])] = int(entry.name)
    assert len(sidecars) > 1, f"{app_id} runs {len(sidecars)} replica(s): run with REPLICAS=2"
    port = max(sidecars)
    apps = [pid for pid in app_pids(app_id) if process_environ(pid).get("APP_PORT") == str(port)]
    assert len(apps) == 1, f"no single app process of {app_id} on port {port}: {apps}"
    return apps[0], sidecars[port]


def kill_replica(app_id: str) -> Callable[[System], Restart]:
    """kill -9 of one replica of an app, its daprd with it (a pod lost); the other replicas go
    on. Both are started again as they were, read from /proc before the kill."""

    def inject(system: System) -> Restart:
        app, sidecar = last_replica(app_id)
        started = [
            (name, _cmdline(pid), process_environ(pid), Path(os.readlink(f"/proc/{pid}/cwd")))
            for name, pid in ((f"{app_id}-daprd", sidecar), (app_id, app))
        ]
        for pid in (app, sidecar):
            os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: not alive(app) and not alive(sidecar), timeout=10, what=f"a {app_id} replica to die"
        )

        def restart() -> None:
            for name, argv, environ, cwd in started:
                system.restart(f"{name}-replica", argv, environ, cwd)

        return restart

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
