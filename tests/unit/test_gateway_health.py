"""The gateway's health aggregation, with a fake sidecar standing in for Dapr."""

import asyncio
import time
from typing import Any

import httpx
import pytest

from services.gateway.service import system_health
from services.shared.dapr import ServiceUnavailable

APPS = ("auth", "customers", "products")


class FakeSidecar:
    """Answers invocations per app: 'up' -> 200, 'down' -> ServiceUnavailable, 'hang' -> never."""

    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour

    async def invoke(self, target: str, method: str, path: str, **_: Any) -> httpx.Response:
        mode = self.behaviour[target]
        if mode == "hang":
            await asyncio.Event().wait()  # never answers
        if mode == "down":
            raise ServiceUnavailable(target, "ERR_DIRECT_INVOKE")
        if mode == "sick":
            return httpx.Response(503)
        return httpx.Response(200, json={"status": "ok"})

    async def get_states(self, store: str, keys: list[str]) -> dict[str, Any]:
        """One live replica of each app (services/shared/instances.py)."""
        return {key: {"replica-1": time.time() + 60} for key in keys}


def run(behaviour: dict[str, str], timeout_s: float = 0.2) -> dict[str, object]:
    report = asyncio.run(system_health(FakeSidecar(behaviour), APPS, timeout_s=timeout_s))  # type: ignore[arg-type]
    return report.model_dump()


def test_all_apps_answering_is_ok() -> None:
    assert run(dict.fromkeys(APPS, "up")) == {
        "status": "ok",
        "services": dict.fromkeys(APPS, "up"),
        "replicas": dict.fromkeys(("gateway", *APPS), 1),
    }


@pytest.mark.parametrize("failure", ["down", "sick", "hang"])
def test_one_failing_app_degrades_the_report_and_only_that_app_is_down(failure: str) -> None:
    report = run({"auth": "up", "customers": failure, "products": "up"})

    assert {k: report[k] for k in ("status", "services")} == {
        "status": "degraded",
        "services": {"auth": "up", "customers": "down", "products": "up"},
    }


def test_hanging_apps_cost_one_timeout_in_total_not_one_each() -> None:
    started = time.perf_counter()
    report = run(dict.fromkeys(APPS, "hang"), timeout_s=0.3)

    assert time.perf_counter() - started < 0.6
    assert report["services"] == dict.fromkeys(APPS, "down")
