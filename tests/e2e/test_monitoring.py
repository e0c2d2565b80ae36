"""The operator's view on the real system: the Prometheus that MONITORING=1 starts (the e2e suite
always does) scrapes every app, every sidecar and RabbitMQ (when it is the broker); every query
of the Grafana dashboard (monitoring/dashboard.json) answers after some traffic (RabbitMQ's
panels only on RabbitMQ).

The alerts of monitoring/alerts.yaml, with the `for:` they ship with, on real faults: an app
stopped, RabbitMQ stopped (each alert resolves once it is back), an event that can never apply.
They wait minutes, so they run once, in the default suite (marker `alerts`: make test-e2e on
RabbitMQ with one replica; REPLICAS=2 and make test-brokers leave them out), and the session's
summary prints how long each alert took."""

import json
import subprocess
import time
import uuid

import pytest

from harness.shop import admin, create_product, place_order, register, view_shows
from harness.system import ROOT, System, app_environ, cloud_event, publish, stop_app
from harness.waiting import wait_until
from tests.e2e.alerts import firing, prometheus, record_timing, targets_up

APPS = {"gateway", "notifications", "auth", "customers", "products", "orders", "order-view"}


def infra(action: str, name: str) -> None:
    subprocess.run(["scripts/infra.sh", action, name], cwd=ROOT, check=True, capture_output=True)


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


@pytest.mark.alerts
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

    record_timing(f"order-view stopped: AppDown fired in {fired:.0f}s; back: resolved in {resolved:.0f}s")


@pytest.mark.alerts
def test_a_stopped_rabbitmq_fires_rabbitmq_down_and_its_restart_resolves_it(system: System) -> None:
    assert system.broker == "rabbitmq", (
        "RabbitMQDown watches RabbitMQ as the broker: run the alert tests with BROKER=rabbitmq "
        "(make test-e2e leaves them out on other brokers: -m 'not alerts')"
    )
    wait_until(lambda: ("rabbitmq", "") in targets_up(), timeout=60, what="RabbitMQ scraped")
    infra("stop", "rabbitmq")
    stopped = time.monotonic()
    try:
        # RabbitMQDown waits a minute (for: 1m) after a failed scrape (every 10 s).
        wait_until(lambda: firing("RabbitMQDown"), timeout=180, what="RabbitMQDown firing", interval=1)
        fired = time.monotonic() - stopped
    finally:
        infra("start", "rabbitmq")
    restarted = time.monotonic()
    wait_until(lambda: not firing("RabbitMQDown"), timeout=60, what="RabbitMQDown resolved", interval=1)
    resolved = time.monotonic() - restarted

    # The sidecars are back on the broker before the next test: an order reaches the read model.
    seller, buyer = admin(), register("Broker Back Buyer")
    product = create_product(seller, stock=1)
    order = place_order(buyer, [(product["id"], 1)])
    assert order.status_code == 201, order.text
    wait_until(
        lambda: view_shows(order.json()["id"], "confirmed"),
        timeout=60,
        what="an order placed after RabbitMQ's restart in the read model",
        interval=0.5,
    )
    record_timing(f"RabbitMQ stopped: RabbitMQDown fired in {fired:.0f}s; back: resolved in {resolved:.0f}s")


@pytest.mark.alerts
def test_an_event_that_can_never_apply_fires_events_dead_lettered(system: System) -> None:
    """An orders event order-view cannot read: it answers DROP, its sidecar forwards the event to
    order-view-deadletters, order-view keeps it, and EventsDeadLettered names its type (one no
    other test publishes, so this alert is this test's)."""
    envelope = cloud_event(
        "orders",
        "order.monitoring_probe",
        {"id": str(uuid.uuid4()), "note": "no customer, no items: never applies"},
    )
    response = publish("orders", "orders", envelope)
    assert response.status_code == 204, response.text
    published = time.monotonic()

    alerts = wait_until(
        lambda: firing("EventsDeadLettered", topic="order-view-deadletters", type="order.monitoring_probe"),
        timeout=120,
        what="EventsDeadLettered firing for order.monitoring_probe",
        interval=1,
    )
    fired = time.monotonic() - published
    summary = alerts[0]["annotations"]["summary"]
    assert "order.monitoring_probe events landed on order-view-deadletters" in summary
    record_timing(f"an event order-view cannot apply published: EventsDeadLettered fired in {fired:.0f}s")


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
