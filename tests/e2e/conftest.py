"""The e2e session: the whole system under real daprd sidecars, RabbitMQ, MariaDB, FerretDB."""

import os
import subprocess
from collections.abc import Iterator

import pytest

from harness.system import ROOT, System, SystemManager, missing_infrastructure, stray_processes
from tests.e2e.alerts import TIMINGS
from tests.e2e.traffic import summary_lines


@pytest.fixture(scope="session")
def systems() -> Iterator[SystemManager]:
    missing = missing_infrastructure()
    if missing:
        pytest.fail(
            "e2e infrastructure missing: " + "; ".join(missing) + ". Run `make setup`.", pytrace=False
        )
    leftovers = stray_processes()
    if leftovers:
        pytest.fail(
            "apps or sidecars already running (stop `make run` first): " + "; ".join(leftovers), pytrace=False
        )
    status = subprocess.run(["scripts/infra.sh", "status"], cwd=ROOT, capture_output=True, text=True).stdout
    infra_was_running = "rabbitmq: running" in status
    manager = SystemManager()
    yield manager
    manager.shutdown()
    if not infra_was_running:  # leave the machine as we found it
        subprocess.run(["scripts/infra.sh", "down"], cwd=ROOT, check=True)
    assert not stray_processes(), "processes left behind after the e2e session"


# The broker the suite runs on: RabbitMQ unless BROKER says otherwise (make test-brokers).
BROKER = os.environ.get("BROKER", "rabbitmq")


@pytest.fixture
def system(systems: SystemManager) -> System:
    """The system on the suite's broker."""
    return systems.ensure(BROKER)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that swap the broker restart the system: run them last, after the default-broker tests.
    items.sort(key=lambda item: item.get_closest_marker("broker_swap") is not None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Reconciliations recorded by outage tests (test_outbox.py): one row per broker run.
    lines = summary_lines()
    if lines:
        terminalreporter.write_sep("-", "reconciliation (tests/e2e/traffic.py)")
        for line in lines:
            terminalreporter.write_line(line)
    # How long each alert took on the real system (test_monitoring.py, marker `alerts`).
    if TIMINGS:
        terminalreporter.write_sep("-", "alerts on the real system (tests/e2e/test_monitoring.py)")
        for line in TIMINGS:
            terminalreporter.write_line(line)
