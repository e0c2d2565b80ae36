"""Resident memory of the running shop, summed over its processes and grouped: apps (the seven
Python services), sidecars (their daprd), infrastructure (RabbitMQ, MariaDB, Redis, FerretDB,
Dapr placement and scheduler) and the launcher (the Dapr CLI and scripts/run.sh).

RSS counts a shared library once per process; PSS shares it out, so the PSS total is what the
system really occupies. Both are reported; the README's figure is RSS."""

import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.system import ROOT

INFRASTRUCTURE = {
    "beam.smp", "epmd", "erl_child_setup", "inet_gethost", "mariadbd", "redis-server",
    "ferretdb", "placement", "scheduler", "mosquitto",
}  # fmt: skip
GROUPS = ("apps", "sidecars", "infrastructure", "launcher")


def _group(pid: Path) -> str | None:
    try:
        name = (pid / "comm").read_text().strip()
        argv = (pid / "cmdline").read_bytes().split(b"\0")
        cwd = str((pid / "cwd").resolve())
    except OSError:
        return None
    ours = cwd == str(ROOT) or any(str(ROOT).encode() in arg for arg in argv)
    if name == "daprd" and ours and not any(b"--app-id=bench-" in arg for arg in argv):
        return "sidecars"
    if name.startswith("python") and ours and any(arg.startswith(b"services.") for arg in argv):
        return "apps"
    if name in INFRASTRUCTURE:
        return "infrastructure"
    if ours and (name == "dapr" or any(arg.endswith(b"scripts/run.sh") for arg in argv)):
        return "launcher"
    return None


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


def snapshot() -> Snapshot:
    """RSS and PSS of every process of the shop on this machine, by group."""
    result = Snapshot()
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit() or (group := _group(pid)) is None:
            continue
        try:
            rss = _kib(pid / "status", "VmRSS:")
            pss = _kib(pid / "smaps_rollup", "Pss:")
        except OSError:  # exited meanwhile
            continue
        result.rss_mb[group] += rss / 1024
        result.processes[group] += 1
        result.pss_total_mb += pss / 1024
    return result


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
            current = snapshot()
            if current.rss_total_mb > self.peak.rss_total_mb:
                self.peak = current
            self._stop.wait(1.0)
