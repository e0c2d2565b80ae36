"""Replaces the replicas of an app, or of every app, one by one while the shop goes on serving:
a rolling restart, what a deploy does to a shop on a cluster every day.

    python scripts/restart.py APP [APP ...]      # make restart APP=orders
    python scripts/restart.py all                # make restart (every app, one after another)

Each replica in turn is drained before it stops, so that no request fails:
  1. gateway, notifications: HAProxy sends it no new request or WebSocket (its admin socket,
     state `maint`); the requests in flight finish.
  2. its sidecar gets SIGTERM. Started with --dapr-block-shutdown-duration (scripts/app_tokens.py),
     the patched daprd (scripts/patches/dapr-1.18.2-1-*) leaves name resolution at once, stops
     taking pub/sub deliveries (the broker gives what it held to the other replicas) and goes on
     serving: the other sidecars stop routing calls to it within their resolver's one-second
     cache, and the calls already on their way are answered.
  3. DRAIN_S later the app gets SIGTERM: uvicorn finishes the requests in flight and the app's
     shutdown stops its loops (an outbox batch cut short is published again by another replica's
     relay, and consumers deduplicate). The sidecar sees its app gone at its next health probes
     and exits.
  4. the same two command lines start again, with the same environment, in the same directory,
     each in a session of its own (pid files in .run/pids/restarted/, which scripts/run.sh stops
     with the rest; output in .run/logs/restarted/). The sidecar joins name resolution once its
     app is healthy; once both answer their health checks (and HAProxy's), the next replica goes.
With one replica of an app, its calls fail while it restarts: run with REPLICAS=2.
"""

import argparse
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
APPS = ("gateway", "notifications", "auth", "customers", "products", "orders", "order-view")
PIDS = ROOT / ".run/pids/restarted"
LOGS = ROOT / ".run/logs/restarted"
HAPROXY_CFG = ROOT / ".run/replicas/haproxy.cfg"
NAME_RESOLUTION_DB = ROOT / ".run/dapr-nameresolution.db"
# Seconds between the sidecar leaving name resolution and its app's SIGTERM: longer than the
# other sidecars keep its address (the resolver's cache, one second), so no call is routed to a
# stopped app. Calls that reached it meanwhile are finished by uvicorn's graceful shutdown.
DRAIN_S = float(os.environ.get("DRAIN_S", "2"))
# Bounds on each step; past one, the restart stops and says what it waited for.
STOP_TIMEOUT_S = 30  # the app's graceful shutdown (5 s, services/shared/server.py), then its sidecar's
READY_TIMEOUT_S = 90  # a replica started again: app and sidecar healthy, in name resolution


class RestartFailed(Exception):
    pass


def log(message: str) -> None:
    print(f"[restart {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Process:
    pid: int
    argv: list[str]
    environ: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class Replica:
    app_id: str
    app_port: int
    http_port: int
    sidecar: Process
    app: Process

    @property
    def name(self) -> str:
        return f"{self.app_id}-{self.app_port}"


def read_process(pid: int) -> Process | None:
    """A process of this checkout (its directory in it), or None."""
    proc = Path(f"/proc/{pid}")
    try:
        cwd = Path(os.readlink(proc / "cwd"))
        argv = (proc / "cmdline").read_bytes().decode().rstrip("\0").split("\0")
        raw = (proc / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    if cwd != ROOT and ROOT not in cwd.parents:
        return None
    environ = dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)
    return Process(pid, argv, environ, cwd)


def flag(argv: list[str], name: str) -> str | None:
    """The value of `--name value` in a command line."""
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


def replicas(app_id: str) -> list[Replica]:
    """The running replicas of an app, by app port: each sidecar (daprd --app-id APP) and the
    app process it serves (the one whose APP_PORT is the sidecar's --app-port)."""
    sidecars: dict[int, Process] = {}
    apps: dict[int, Process] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (process := read_process(int(entry.name))) is None:
            continue
        if not alive(process.pid):
            continue
        argv = process.argv
        if argv[0].endswith("/daprd") and flag(argv, "--app-id") == app_id:
            sidecars[int(flag(argv, "--app-port") or 0)] = process
        elif "-m" in argv and process.environ.get("APP_ID") == app_id and "APP_PORT" in process.environ:
            apps[int(process.environ["APP_PORT"])] = process
    found = []
    for port in sorted(sidecars):
        if port not in apps:
            raise RestartFailed(f"{app_id}'s sidecar on app port {port} runs without its app")
        http_port = int(flag(sidecars[port].argv, "--dapr-http-port") or 0)
        found.append(Replica(app_id, port, http_port, sidecars[port], apps[port]))
    return found


def alive(pid: int) -> bool:
    """Whether a process still runs (a zombie waiting for its parent does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RestartFailed(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class HAProxy:
    """HAProxy's admin socket (its configuration names it: scripts/replicas.py), for the public
    apps' replicas."""

    def __init__(self) -> None:
        self.servers: dict[int, str] = {}  # app port -> "backend/server"
        self.socket = Path()
        if not HAPROXY_CFG.exists():
            return
        backend, servers = "", {}
        for line in HAPROXY_CFG.read_text().splitlines():
            words = line.split()
            if words[:2] == ["stats", "socket"]:
                self.socket = Path(words[2])
            elif words[:1] == ["backend"]:
                backend = words[1]
            elif words[:1] == ["server"]:
                servers[int(words[2].rsplit(":", 1)[1])] = f"{backend}/{words[1]}"
        if self.socket.is_socket():  # HAProxy runs (scripts/run.sh started it)
            self.servers = servers

    def command(self, line: str) -> str:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(str(self.socket))
                s.sendall(line.encode() + b"\n")
                answer = b""
                while chunk := s.recv(65536):
                    answer += chunk
        except OSError as error:
            raise RestartFailed(f"HAProxy's admin socket {self.socket} does not answer ({error})") from error
        return answer.decode()

    def status(self, server: str) -> str:
        """UP, DOWN, MAINT, ...: the server's state in `show stat`."""
        backend, name = server.split("/")
        for row in self.command("show stat").splitlines():
            fields = row.split(",")
            if fields[:2] == [backend, name]:
                return fields[17]
        return "unknown"

    def set_state(self, server: str, state: str) -> None:
        answer = self.command(f"set server {server} state {state}").strip()
        if answer:
            raise RestartFailed(f"HAProxy refused 'set server {server} state {state}': {answer}")


def sidecar_ready(replica: Replica) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{replica.http_port}/v1.0/healthz", timeout=2).status_code == 204
    except httpx.HTTPError:
        return False


def app_ready(replica: Replica) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{replica.app_port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def update_interval_s() -> int:
    """The name resolver's updateInterval (components/config.yaml): a registration not renewed
    within it is no longer resolved."""
    config = yaml.safe_load((ROOT / "components/config.yaml").read_text())
    interval = str(config["spec"]["nameResolution"]["configuration"]["updateInterval"])
    if not interval.endswith("s") or not interval[:-1].isdigit():
        raise RestartFailed(f"components/config.yaml: updateInterval {interval!r} is not whole seconds")
    return int(interval[:-1])


def healthy(replica: Replica) -> bool:
    return app_ready(replica) and sidecar_ready(replica)


def registered(app_id: str) -> int:
    """How many of an app's sidecars name resolution lists: the SQLite resolver's own query
    (components-contrib nameresolution/sqlite), over the table every sidecar shares."""
    with contextlib.closing(sqlite3.connect(f"file:{NAME_RESOLUTION_DB}?mode=ro", uri=True, timeout=5)) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM hosts WHERE app_id = ? AND unixepoch() - last_update < ?",
            (app_id, update_interval_s()),
        ).fetchone()
    return int(count)


def start(process: Process, name: str) -> int:
    """Starts a process again as it was started; returns its pid (its own session's leader)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"{name}.log").open("ab") as out:
        started = subprocess.Popen(
            process.argv,
            cwd=process.cwd,
            env=process.environ,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (PIDS / f"{name}.pid").write_text(f"{started.pid}\n")
    return started.pid


def restart_replica(replica: Replica, edge: HAProxy, others: int) -> None:
    name, server = replica.name, edge.servers.get(replica.app_port)
    log(f"  {name}: draining ({'out of HAProxy, ' if server else ''}its sidecar leaving name resolution)")
    began = time.monotonic()
    if server:  # 1. No new request or WebSocket from the edge.
        edge.set_state(server, "maint")
    try:
        # 2. The sidecar leaves name resolution and stops its subscriptions; it serves on.
        os.kill(replica.sidecar.pid, signal.SIGTERM)
        wait_for(lambda: registered(replica.app_id) <= others, 10, f"{name} to leave name resolution")
        time.sleep(DRAIN_S)  # the other sidecars' resolver caches let go of its address
        # 3. The app finishes what it has and stops; its sidecar follows.
        os.kill(replica.app.pid, signal.SIGTERM)
        wait_for(lambda: not alive(replica.app.pid), STOP_TIMEOUT_S, f"{name}'s app to stop")
        wait_for(lambda: not alive(replica.sidecar.pid), STOP_TIMEOUT_S, f"{name}'s sidecar to stop")
        stopped = time.monotonic()
        # 4. The same processes again, the sidecar first as `dapr run` does.
        start(replica.sidecar, f"{name}-daprd")
        start(replica.app, f"{name}-app")
        wait_for(lambda: healthy(replica), READY_TIMEOUT_S, f"{name}'s app and sidecar to be healthy")
        wait_for(lambda: registered(replica.app_id) > others, READY_TIMEOUT_S, f"{name} in name resolution")
    finally:
        if server:  # back in HAProxy, even after a failure: its health check decides from there
            edge.set_state(server, "ready")
    if server:
        wait_for(lambda: edge.status(server) == "UP", READY_TIMEOUT_S, f"HAProxy to take {server} back")
    serving = time.monotonic() - stopped
    log(f"  {name}: drained and stopped in {stopped - began:.1f} s, serving again {serving:.1f} s later")


def restart_app(app_id: str, edge: HAProxy) -> None:
    found = replicas(app_id)
    if not found:
        raise RestartFailed(f"no replica of {app_id} is running: start the shop first (make run)")
    if len(found) == 1:
        log(f"{app_id} runs one replica: its calls fail while it restarts (REPLICAS=2 make run avoids that)")
    log(f"{app_id}: replacing {len(found)} replica(s) one by one")
    for replica in found:
        restart_replica(replica, edge, others=len(found) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("apps", nargs="+", help=f"app ids, or all: {', '.join(APPS)}")
    names = parser.parse_args().apps
    chosen = list(APPS) if names == ["all"] else names
    unknown = [name for name in chosen if name not in APPS]
    if unknown:
        sys.exit(f"unknown app(s): {', '.join(unknown)}; choose from {', '.join(APPS)} or all")
    if not NAME_RESOLUTION_DB.exists():
        sys.exit("the shop is not running here: start it first (REPLICAS=2 make run)")
    edge = HAProxy()
    began = time.monotonic()
    try:
        for app_id in chosen:
            restart_app(app_id, edge)
    except RestartFailed as failure:
        log(f"stopped: {failure}. The logs: .dapr/logs/, .run/logs/restarted/")
        sys.exit(1)
    log(f"restarted {', '.join(chosen)} in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
