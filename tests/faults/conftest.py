"""The fault tests run on the e2e suite's system (its session fixture: one system at a time),
always on RabbitMQ: one fault kills it. Run them on their own (`make test-faults`), not in the
same pytest run as tests/e2e, which would start a second system manager."""

import pytest

from harness.system import System, SystemManager

# The e2e session fixture, and its summary of every reconciliation recorded (one row per fault).
from tests.e2e.conftest import pytest_terminal_summary, systems

__all__ = ["pytest_terminal_summary", "systems"]


@pytest.fixture(scope="session")
def system(systems: SystemManager) -> System:
    return systems.ensure("rabbitmq")
