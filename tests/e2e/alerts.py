"""Reading the Prometheus that MONITORING=1 starts (scripts/monitoring.sh; the e2e suite always
does): its targets and its alerts, and the times the alert tests measured, which the session's
summary prints (tests/e2e/conftest.py) and docs/operations.md quotes."""

from typing import Any

import httpx

PROMETHEUS = "http://127.0.0.1:9095"  # scripts/monitoring.sh

TIMINGS: list[str] = []  # one line per alert test: what was done, when the alert fired and resolved


def prometheus(path: str, **params: str) -> Any:
    response = httpx.get(f"{PROMETHEUS}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def targets_up() -> set[tuple[str, str]]:
    """(job, app) of every target whose last scrape succeeded."""
    return {
        (target["labels"]["job"], target["labels"].get("app", ""))
        for target in prometheus("/api/v1/targets")["activeTargets"]
        if target["health"] == "up"
    }


def firing(alertname: str, **labels: str) -> list[dict[str, Any]]:
    return [
        alert
        for alert in prometheus("/api/v1/alerts")["alerts"]
        if alert["labels"]["alertname"] == alertname
        and alert["state"] == "firing"
        and all(alert["labels"].get(k) == v for k, v in labels.items())
    ]


def record_timing(line: str) -> None:
    print(f"[monitoring] {line}")
    TIMINGS.append(line)
