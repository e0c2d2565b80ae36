"""The compose subset of the e2e suite: docker-compose.yml, as users run it, brought up by
scripts/test-compose.sh (make test-compose) through podman; these tests only use the ports the
file publishes (gateway 8000, WebSocket 8001) and the `docker compose` the script points at."""

import json
import os
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "http://127.0.0.1:8000"


@dataclass
class Compose:
    """`docker compose` on the running project (the same binary and podman socket as the script)."""

    binary: str
    project: str

    def run(self, *args: str, file: Path | None = None) -> str:
        files = ["--project-directory", str(ROOT), "-f", str(file)] if file else []
        result = subprocess.run(
            [self.binary, "-p", self.project, *files, *args], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, f"docker compose {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout

    def containers(self) -> list[dict[str, Any]]:
        """One dict per container (`docker compose ps --format json`: one object a line)."""
        out = self.run("ps", "--format", "json").strip()
        return [json.loads(line) for line in out.splitlines() if line]

    def registered(self) -> dict[str, str]:
        """app-id -> the address (host:port of its internal gRPC port) where its sidecar registered
        itself in the name-resolution database every sidecar shares, in the `run` volume; the
        latest, if a sidecar started again."""
        with docker_api() as api:
            volume = api.get(f"/volumes/{self.project}_run").raise_for_status().json()["Mountpoint"]
        with closing(sqlite3.connect(f"file:{volume}/dapr-nameresolution.db?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT app_id, address FROM hosts ORDER BY last_update").fetchall()
        return dict(rows)


@pytest.fixture(scope="session")
def compose() -> Compose:
    binary, project = os.environ.get("COMPOSE_BIN"), os.environ.get("COMPOSE_PROJECT")
    if not binary or not project:
        pytest.fail(
            "run these through `make test-compose` (scripts/test-compose.sh starts the stack)", pytrace=False
        )
    return Compose(binary, project)


def healthy() -> dict[str, Any] | None:
    response = httpx.get(f"{GATEWAY}/api/health", timeout=5)
    return response.json() if response.status_code == 200 else None


def wait_healthy(what: str) -> dict[str, Any]:
    return wait_until(healthy, timeout=180, interval=1, what=what)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The broker swap recreates every sidecar: it runs last.
    items.sort(key=lambda item: item.get_closest_marker("broker_swap") is not None)


def docker_api() -> httpx.Client:
    """The Docker API compose talks to (podman's, here: DOCKER_HOST, a unix socket)."""
    socket_path = os.environ["DOCKER_HOST"].removeprefix("unix://")
    return httpx.Client(transport=httpx.HTTPTransport(uds=socket_path), base_url="http://docker", timeout=10)
