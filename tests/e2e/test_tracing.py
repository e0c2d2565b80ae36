"""Observability: one order is one trace in Zipkin and one trace id in every app's logs; each app
serves Prometheus metrics. The system runs with TRACING=1 (harness/system.py)."""

import json
import secrets
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.shop import User, api, create_product, place_order, register
from harness.system import APP_PORTS, ROOT, System, app_ports, log_dirs
from harness.waiting import WaitTimeout, wait_until

ZIPKIN = "http://127.0.0.1:9411"
# (app-id, span name) of the sidecar spans one POST /api/orders must produce: the gateway's call,
# the orders service reserving stock in products, and both subscribers receiving order.confirmed.
ORDER_SPANS = {
    ("gateway", "calllocal/orders/orders"),
    ("orders", "calllocal/orders/orders"),
    ("orders", "calllocal/products/reservations"),
    ("products", "calllocal/products/reservations"),
    ("orders", "/v1.0/publish/pubsub/orders"),
    ("order-view", "pubsub/orders"),
    ("notifications", "pubsub/orders"),
}


def new_traceparent() -> tuple[str, str]:
    """A traceparent as a traced client would send it, and its trace id."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


def zipkin_trace(trace_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{ZIPKIN}/api/v2/trace/{trace_id}", timeout=5)
    return response.json() if response.status_code == 200 else []


def spans_of(trace_id: str, expected: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The trace's spans once Zipkin holds every expected one (sidecars report in batches)."""
    seen: set[tuple[str, str]] = set()

    def complete() -> list[dict[str, Any]] | None:
        spans = zipkin_trace(trace_id)
        seen.update((s["localEndpoint"]["serviceName"], s["name"]) for s in spans)
        return spans if expected <= seen else None

    try:
        return wait_until(complete, timeout=30, what=f"the spans of trace {trace_id} in Zipkin")
    except WaitTimeout as exc:
        raise WaitTimeout(f"{exc}: missing {sorted(expected - seen)}, found {sorted(seen)}") from None


def order_something() -> tuple[User, dict[str, Any]]:
    seller, buyer = register("Seller"), register("Buyer")
    return buyer, create_product(seller, stock=10)


def test_zipkin_is_running_with_the_system(system: System) -> None:
    response = httpx.get(f"{ZIPKIN}/health", timeout=5)
    assert response.status_code == 200, "Zipkin is not up: scripts/infra.sh starts it when TRACING=1"


def test_one_order_is_one_connected_trace_across_every_service_it_touches(system: System) -> None:
    buyer, product = order_something()
    traceparent, trace_id = new_traceparent()

    response = place_order(buyer, [(product["id"], 1)], headers={"traceparent": traceparent})

    assert response.status_code == 201, response.text
    spans = spans_of(trace_id, ORDER_SPANS)
    # Connected: every span's parent is another span of the trace, or the client's own span.
    client_span = traceparent.split("-")[2]
    ids = {span["id"] for span in spans} | {client_span}
    orphans = [(s["localEndpoint"]["serviceName"], s["name"]) for s in spans if s.get("parentId") not in ids]
    assert not orphans, f"spans not linked into the trace: {orphans}"
    # The publish was relayed later from the outbox, yet it is the child of the request's span.
    by_id = {span["id"]: span for span in spans}
    publish = next(s for s in spans if s["name"] == "/v1.0/publish/pubsub/orders")
    assert by_id[publish["parentId"]]["name"] == "calllocal/orders/orders"


def test_a_request_without_trace_context_gets_one_from_the_gateway(system: System) -> None:
    buyer, product = order_something()

    response = place_order(buyer, [(product["id"], 1)])

    assert response.status_code == 201, response.text
    request_id = response.headers["x-request-id"]
    gateway_line = wait_until(
        lambda: next((e for e in log_entries("gateway") if e.get("request_id") == request_id), None),
        timeout=10,
        what=f"the gateway's log line for request {request_id}",
    )
    spans_of(gateway_line["trace_id"], ORDER_SPANS)


def log_entries(app_id: str) -> list[dict[str, Any]]:
    """Every JSON line an app logged in this run (`dapr run` writes them to a new
    .dapr/logs/<app-id>_app_<time>.log each run, each prefixed with '== APP - <app-id> == '; an
    app an earlier test restarted logs to .run/logs/e2e-restarted-<app-id>.log)."""
    entries = []
    paths = [
        *(path for logs in log_dirs() for path in sorted(logs.glob(f"{app_id}_app_*.log"))[-1:]),
        *(ROOT / ".run/logs").glob(f"e2e-restarted-{app_id}-*.log"),
    ]
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            start = line.find("{")
            if start >= 0:
                try:
                    entries.append(json.loads(line[start:]))
                except ValueError:
                    continue
    return entries


def test_the_logs_of_one_order_share_its_trace_id_across_services(system: System) -> None:
    buyer, product = order_something()
    traceparent, trace_id = new_traceparent()

    response = place_order(buyer, [(product["id"], 1)], headers={"traceparent": traceparent})
    assert response.status_code == 201, response.text

    def lines_by_app() -> dict[str, list[dict[str, Any]]] | None:
        found = {
            app_id: [e for e in log_entries(app_id) if e.get("trace_id") == trace_id]
            for app_id in ("gateway", "orders", "products", "order-view", "notifications")
        }
        return found if all(found.values()) else None

    found = wait_until(lines_by_app, timeout=15, what=f"log lines with trace id {trace_id} in every app")
    for app_id, entries in found.items():
        for entry in entries:
            assert entry["service"] == app_id
            assert {"time", "level", "message", "trace_id"} <= set(entry)
        assert any(e.get("request_id") for e in entries), app_id
    # The request id travels with the synchronous calls: gateway, orders and products share it.
    request_id = response.headers["x-request-id"]
    for app_id in ("gateway", "orders", "products"):
        assert any(e.get("request_id") == request_id for e in found[app_id]), app_id


def scrape(app_id: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """An app's /metrics, summed over its replicas, as {(sample name, labels): value}."""
    summed: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for port in app_ports(app_id, APP_PORTS[app_id]):
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert response.status_code == 200
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                summed[key] = summed.get(key, 0.0) + sample.value
    return summed


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_apps_serve_prometheus_metrics_that_move_with_traffic(system: System) -> None:
    buyer, product = order_something()
    reads = {"method": "GET", "route": "/products/{product_id}", "status": "200"}
    confirmed = {"topic": "orders", "type": "order.confirmed", "outcome": "SUCCESS"}
    before_reads = sample(scrape("products"), "shop_http_requests_total", **reads)
    before_events = sample(scrape("order-view"), "shop_events_handled_total", **confirmed)
    bypass = {"cache": "products", "result": "bypass"}
    before_bypasses = sample(scrape("gateway"), "shop_cache_lookups_total", **bypass)

    # no-cache: past the gateway's product cache (which counts it), so that products serves it.
    assert api("GET", f"/products/{product['id']}", headers={"Cache-Control": "no-cache"}).status_code == 200
    assert sample(scrape("gateway"), "shop_cache_lookups_total", **bypass) == before_bypasses + 1
    assert place_order(buyer, [(product["id"], 1)]).status_code == 201

    # products counts the read under its route template, never under the product's own path.
    after = scrape("products")
    assert sample(after, "shop_http_requests_total", **reads) >= before_reads + 1
    assert not [labels for _, labels in after if any(product["id"] in value for _, value in labels)]
    wait_until(
        lambda: sample(scrape("order-view"), "shop_events_handled_total", **confirmed) > before_events,
        timeout=15,
        what="order-view to count the order.confirmed delivery",
    )
    assert ("shop_outbox_backlog", frozenset()) in scrape("orders")
    gateway = scrape("gateway")
    assert sample(gateway, "shop_http_requests_total", method="POST", route="/api/orders", status="201") >= 1
