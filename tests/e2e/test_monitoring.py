"""The operator's view on the real system: the Prometheus that MONITORING=1 starts (the e2e suite
always does) scrapes every app, every sidecar and RabbitMQ (when it is the broker); an app that
stops fires its alert, and the alert resolves once the app is back (monitoring/alerts.yaml, with
the `for:` it ships with); every query of the Grafana dashboard (monitoring/dashboard.json)
answers after some traffic (RabbitMQ's panels only on RabbitMQ)."""

import json
import time
from typing import Any

import httpx

from harness.shop import admin, create_product, place_order, register
from harness.system import ROOT, System, app_environ, stop_app
from harness.waiting import wait_until

PROMETHEUS = "http://127.0.0.1:9095"  # scripts/monitoring.sh
APPS = {"gateway", "notifications", "auth", "customers", "products", "orders", "order-view"}


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


def broker_queries_apply(system: System) -> bool:
    """RabbitMQ's own metrics exist only when it is the broker (scripts/prometheus_targets.py)."""
    return system.broker == "rabbitmq"


def test_prometheus_scrapes_every_app_every_sidecar_and_rabbitmq(system: System) -> None:
    expected = {(job, app) for job in ("apps", "sidecars") for app in APPS}
    if broker_queries_apply(system):
        expected |= {("rabbitmq", ""), ("rabbitmq-queues", "")}

    wait_until(
        lambda: expected <= targets_up(),
        timeout=60,
        what="every app, sidecar and RabbitMQ target up in Prometheus (http://127.0.0.1:9095/targets)",
    )


def test_a_stopped_app_fires_app_down_and_its_restart_resolves_it(system: System) -> None:
    wait_until(lambda: ("apps", "order-view") in targets_up(), timeout=60, what="order-view scraped")
    environ = app_environ("order-view")
    stop_app("order-view")
    stopped = time.monotonic()
    try:
        # AppDown waits a minute (for: 1m) after a failed scrape (every 10 s).
        wait_until(
            lambda: firing("AppDown", app="order-view"), timeout=180, what="AppDown firing for order-view"
        )
        fired = time.monotonic() - stopped
        assert not firing("AppDown", app="orders"), "only the stopped app is down"
    finally:
        system.restart_apps_and_wait({"order-view": environ})
    restarted = time.monotonic()
    wait_until(lambda: not firing("AppDown", app="order-view"), timeout=60, what="AppDown resolved")
    resolved = time.monotonic() - restarted

    print(
        f"[monitoring] order-view stopped: AppDown fired in {fired:.0f}s; back: resolved in {resolved:.0f}s"
    )


def test_every_dashboard_query_answers_after_some_traffic(system: System) -> None:
    seller, buyer = admin(), register("Dashboard Buyer")
    product = create_product(seller, stock=1)
    assert place_order(buyer, [(product["id"], 1)]).status_code == 201
    assert place_order(buyer, [(product["id"], 1)]).status_code == 409  # out of stock: rejected
    dashboard = json.loads((ROOT / "monitoring/dashboard.json").read_text())
    queries = {
        f"{panel['title']} ({target['legendFormat']})": target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if broker_queries_apply(system) or 'job="rabbitmq' not in target["expr"]
    }

    def silent() -> dict[str, str]:
        return {
            name: expr
            for name, expr in queries.items()
            if not prometheus("/api/v1/query", query=expr)["result"]
        }

    # Rates need two scrapes after the traffic; the ratios of the recording rules one evaluation.
    try:
        wait_until(lambda: not silent(), timeout=90, what="every dashboard query to return a series")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still empty: {json.dumps(silent(), indent=2)}") from None
