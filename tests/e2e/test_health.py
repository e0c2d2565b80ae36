"""The gateway's /api/health sees every service through Dapr service invocation."""

import os
import signal

import httpx

from harness.system import GATEWAY, System, app_environ, app_pids, invoke, stop_app
from harness.waiting import wait_until
from tests.support import elapsed

ALL_APPS = {"auth", "customers", "products", "orders", "order-view", "notifications"}


def health() -> httpx.Response:
    return httpx.get(f"{GATEWAY}/api/health", timeout=5)


def test_health_reports_all_seven_services_up(system: System) -> None:
    # Polled: on a loaded machine one probe of the report can miss its 1.5 s deadline.
    response = wait_until(lambda: (r := health()).status_code == 200 and r, timeout=15, what="health 200")

    body = response.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == ALL_APPS
    assert set(body["services"].values()) == {"up"}


def test_every_app_reports_its_own_dependencies_ready_through_its_sidecar(system: System) -> None:
    expected = {
        "auth": {"sidecar", "database"},
        "customers": {"sidecar", "database"},
        "products": {"sidecar", "database"},
        "orders": {"sidecar", "database"},
        "order-view": {"sidecar", "mongodb"},
        "notifications": {"sidecar", "database"},
    }
    for app, checks in expected.items():
        status, body = invoke(app, "GET", "readyz", via=app)
        assert status == 200, (app, body)
        assert body == {"status": "ready", "checks": dict.fromkeys(checks, "ok")}


def test_a_stopped_app_is_reported_down_while_the_others_stay_up(system: System) -> None:
    environ = app_environ("customers")
    stop_app("customers")
    try:

        def customers_down() -> dict[str, str] | None:
            response = health()
            body = response.json()
            return body if response.status_code == 503 and body["services"]["customers"] == "down" else None

        body = wait_until(customers_down, timeout=15, what="customers reported down")
        assert body["status"] == "degraded"

        # The others up meanwhile: polled, since on a loaded machine one probe can miss its
        # deadline (the next test shows that a hanging app is reported down within it).
        def others_up() -> dict[str, str] | None:
            body = customers_down()
            others = {
                app: state for app, state in (body or {}).get("services", {}).items() if app != "customers"
            }
            return body if others == dict.fromkeys(ALL_APPS - {"customers"}, "up") else None

        wait_until(others_up, timeout=15, what="every other app reported up while customers is down")
    finally:
        system.restart_apps_and_wait({"customers": environ})


def test_a_hanging_app_is_reported_down_within_two_seconds(system: System) -> None:
    pids = app_pids("products")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        response, seconds = elapsed(health)

        assert seconds < 2.0
        assert response.status_code == 503
        assert response.json()["services"]["products"] == "down"
        assert response.json()["services"]["orders"] == "up"
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    wait_until(lambda: health().status_code == 200, timeout=30, what="products answering again")
