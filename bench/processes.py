"""The shop's processes on this machine, grouped: apps (the seven Python services), sidecars
(their daprd), infrastructure (RabbitMQ, MariaDB, Redis, FerretDB, Zipkin, Dapr placement and
scheduler) and the launcher (the Dapr CLI and scripts/run.sh). Their resident memory, summed
by group, and the CPU time each has used.

RSS counts a shared library once per process; PSS shares it out, so the PSS total is what the
system really occupies. Both are reported; docs/performance.md judges by PSS. Infrastructure is found
by process name: the system lock (helper rules) keeps one shop per machine."""

import os
import threading
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

from harness.system import ROOT

INFRASTRUCTURE = {
    "beam.smp", "epmd", "erl_child_setup", "inet_gethost", "mariadbd", "redis-server",
    "ferretdb", "placement", "scheduler", "mosquitto", "haproxy",
}  # fmt: skip
GROUPS = ("apps", "sidecars", "infrastructure", "launcher")


def _describe(pid: Path) -> tuple[str, str] | None:
    """(group, label) of a process of the shop, e.g. ("sidecars", "daprd gateway"); None for others."""
    try:
        name = (pid / "comm").read_text().strip()
        argv = (pid / "cmdline").read_bytes().decode(errors="replace").split("\0")
        cwd = str((pid / "cwd").resolve())
    except OSError:
        return None
    ours = cwd == str(ROOT) or any(str(ROOT) in arg for arg in argv)
    if name == "daprd" and ours:
        app_id = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--app-id"), None)
        app_id = app_id or next((a.split("=", 1)[1] for a in argv if a.startswith("--app-id=")), "?")
        return None if app_id.startswith("bench-") else ("sidecars", f"daprd {app_id}")
    if (
        name.startswith("python")
        and ours
        and (module := next((a for a in argv if a.startswith("services.")), None))
    ):
        return "apps", f"app {module.removeprefix('services.')}"
    if name in INFRASTRUCTURE:
        return "infrastructure", name
    if name == "java" and any("zipkin-server" in arg for arg in argv):
        return "infrastructure", "zipkin"
    if ours and (name == "dapr" or any(arg.endswith("scripts/run.sh") for arg in argv)):
        return "launcher", name
    return None


def _shop() -> list[tuple[Path, str, str]]:
    found = []
    for pid in Path("/proc").iterdir():
        if pid.name.isdigit() and (described := _describe(pid)) is not None:
            found.append((pid, *described))
    return found


def pin(cpus: AbstractSet[int]) -> int:
    """Moves every thread of every process of the shop to these CPUs (the infrastructure too,
    which an earlier `make run` or test run may have started on any); returns how many processes."""
    pinned = 0
    for pid, _, _ in _shop():
        try:
            for task in (pid / "task").iterdir():
                os.sched_setaffinity(int(task.name), cpus)
        except OSError:  # it ended meanwhile
            continue
        pinned += 1
    return pinned


def _kib(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


@dataclass
class Snapshot:
    rss_mb: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0.0))
    processes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0))
    pss_total_mb: float = 0.0

    @property
    def rss_total_mb(self) -> float:
        return sum(self.rss_mb.values())


def memory() -> Snapshot:
    """RSS and PSS of every process of the shop, by group."""
    result = Snapshot()
    for pid, group, _ in _shop():
        try:
            rss = _kib(pid / "status", "VmRSS:")
            pss = _kib(pid / "smaps_rollup", "Pss:")
        except OSError:  # exited meanwhile
            continue
        result.rss_mb[group] += rss / 1024
        result.processes[group] += 1
        result.pss_total_mb += pss / 1024
    return result


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) each process of the shop has used so far, by label."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for pid, _, label in _shop():
        try:
            fields = (pid / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[label] = used.get(label, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two cpu_seconds() readings, largest first."""
    spent = {label: after[label] - before.get(label, 0.0) for label in after}
    return dict(sorted(spent.items(), key=lambda kv: -kv[1]))


def cpu_shares(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Each process's share of one CPU between two cpu_seconds() readings, largest first."""
    return shares_of(cpu_spent(before, after), seconds)


def shares_of(spent: dict[str, float], seconds: float) -> dict[str, float]:
    """CPU seconds each process used over `seconds` as shares of one CPU, largest first (those
    of at least half a percent)."""
    shares = {label: used / seconds for label, used in sorted(spent.items(), key=lambda kv: -kv[1])}
    return {label: round(share, 3) for label, share in shares.items() if share >= 0.005}


class PeakSampler:
    """Samples the shop's memory once a second in the background; keeps the largest total."""

    def __init__(self) -> None:
        self.peak = Snapshot()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            current = memory()
            if current.rss_total_mb > self.peak.rss_total_mb:
                self.peak = current
            self._stop.wait(1.0)
