"""The k8s tier: one control plane for the session (tests/k8s/cluster.py), torn down at the end."""

import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from tests.k8s.cluster import ROOT, ControlPlane


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so a SIGTERM (CI's timeout) still runs the teardown below


@pytest.fixture(scope="session")
def cluster() -> Iterator[ControlPlane]:
    signal.signal(signal.SIGTERM, _interrupt)
    control_plane = ControlPlane(ROOT / ".run" / "k8s")
    try:
        control_plane.start()
        yield control_plane
    finally:
        control_plane.stop()
