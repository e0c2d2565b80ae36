"""Prometheus metrics: requests by route template, deliveries by outcome, the outbox backlog."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from services.shared import metrics
from services.shared.app import create_app
from services.shared.errors import ApiError

router = APIRouter()


@router.get("/items/{item_id}")
async def item(item_id: str) -> dict[str, str]:
    if item_id == "missing":
        raise ApiError(404, "not_found", "no such item")
    return {"id": item_id}


@router.get("/crash")
async def crash() -> None:
    raise RuntimeError("boom")


@asynccontextmanager
async def nothing_to_open(_: FastAPI) -> AsyncIterator[None]:
    yield


def client() -> TestClient:
    app = create_app(title="test", lifespan=nothing_to_open, routers=[router])
    return TestClient(app, raise_server_exceptions=False)


def requests(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("shop_http_requests_total", labels) or 0.0


def test_requests_are_counted_by_route_template_not_raw_path() -> None:
    before = requests("GET", "/items/{item_id}", "200")
    with client() as http:
        http.get("/items/a")
        http.get("/items/b")

    assert requests("GET", "/items/{item_id}", "200") == before + 2
    assert (
        REGISTRY.get_sample_value(
            "shop_http_requests_total", {"method": "GET", "route": "/items/a", "status": "200"}
        )
        is None
    )


def test_latency_is_observed_for_each_request() -> None:
    labels = {"method": "GET", "route": "/items/{item_id}", "status": "200"}
    before = REGISTRY.get_sample_value("shop_http_request_duration_seconds_count", labels) or 0.0
    with client() as http:
        http.get("/items/a")

    assert REGISTRY.get_sample_value("shop_http_request_duration_seconds_count", labels) == before + 1


def test_unknown_paths_share_one_series_and_failures_count_as_their_status() -> None:
    before = (requests("GET", "unmatched", "404"), requests("GET", "/crash", "500"))
    with client() as http:
        for n in range(3):
            http.get(f"/no/such/path/{n}")
        http.get("/crash")

    assert requests("GET", "unmatched", "404") == before[0] + 3
    assert requests("GET", "/crash", "500") == before[1] + 1


def test_a_4xx_to_another_service_is_counted_as_itself_not_as_the_200_dapr_sees() -> None:
    before = requests("GET", "/items/{item_id}", "404")
    with client() as http:
        response = http.get("/items/missing", headers={"dapr-caller-app-id": "gateway"})

    assert response.status_code == 200  # carried past Dapr's circuit breakers (shared/app.py)
    assert requests("GET", "/items/{item_id}", "404") == before + 1


def test_the_metrics_endpoint_serves_the_prometheus_text_format_and_is_not_logged(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="request")
    with client() as http:
        http.get("/items/a")
        response = http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'shop_http_requests_total{method="GET",route="/items/{item_id}",status="200"}' in response.text
    assert "_created" not in response.text
    logged = [getattr(r, "path", None) for r in caplog.records]
    assert "/items/a" in logged
    assert "/metrics" not in logged


def events(topic: str, event_type: str, outcome: str) -> float:
    labels = {"topic": topic, "type": event_type, "outcome": outcome}
    return REGISTRY.get_sample_value("shop_events_handled_total", labels) or 0.0


def test_deliveries_are_counted_by_type_and_outcome_with_bounded_labels() -> None:
    before = (events("orders", "order.confirmed", "RETRY"), events("orders", "other", "DROP"))

    metrics.record_event("orders", "order.confirmed", "RETRY")
    metrics.record_event("orders", "<script>" * 10, "DROP")
    metrics.record_event("orders", None, "DROP")

    assert events("orders", "order.confirmed", "RETRY") == before[0] + 1
    assert events("orders", "other", "DROP") == before[1] + 2


def test_the_outbox_backlog_is_read_at_scrape_time_and_never_breaks_a_scrape() -> None:
    backlog = [7]
    metrics.track_outbox_backlog(lambda: backlog[0])
    assert REGISTRY.get_sample_value("shop_outbox_backlog") == 7
    backlog[0] = 0
    assert REGISTRY.get_sample_value("shop_outbox_backlog") == 0

    def database_down() -> int:
        raise ConnectionError("refused")

    metrics.track_outbox_backlog(database_down)
    with client() as http:
        response = http.get("/metrics")
    assert response.status_code == 200
    assert "shop_outbox_backlog NaN" in response.text
